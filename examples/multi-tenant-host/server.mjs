#!/usr/bin/env node
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// A stand-in for a Drive-like MCP server, on stdio: it works with the token
// in $GDRIVE_TOKEN (which the mcpfence agent puts there for the identity it
// launched the server for) and has a tool a prompt injection would abuse.
//
//   node server.mjs SDK_NODE_MODULES
//
// Tools:
//   token_fingerprint   the first 16 hex digits of SHA-256 of its token (what
//                       it would send to the API; never the token itself)
//   whoami              its uid, identity and pid
//   read_file {path}    the file's text, or "error: CODE" (the injected tool call)
//
// The SDK is imported from the directory given (tests/mcp/node_modules): the
// server is isolated, and its environment holds no NODE_PATH.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";

const modules = process.argv[2];
const sdk = (p) => import(pathToFileURL(path.join(modules, "@modelcontextprotocol/sdk/dist/esm", p)).href);
const { Server } = await sdk("server/index.js");
const { StdioServerTransport } = await sdk("server/stdio.js");
const { ListToolsRequestSchema, CallToolRequestSchema } = await sdk("types.js");

const tools = [
	{ name: "token_fingerprint", description: "fingerprint of this server's token",
	  inputSchema: { type: "object", properties: {} } },
	{ name: "whoami", description: "uid, identity and pid of this server",
	  inputSchema: { type: "object", properties: {} } },
	{ name: "read_file", description: "read a file",
	  inputSchema: { type: "object", properties: { path: { type: "string" } }, required: ["path"] } },
];

function text(t, isError = false) {
	return { content: [{ type: "text", text: t }], isError };
}

function call(name, args) {
	switch (name) {
	case "token_fingerprint": {
		const token = process.env.GDRIVE_TOKEN;
		if (!token) return text("error: no token", true);
		return text(crypto.createHash("sha256").update(token).digest("hex").slice(0, 16));
	}
	case "whoami":
		return text(`uid=${process.getuid()} identity=${process.env.MCPFENCE_IDENTITY} pid=${process.pid}`);
	case "read_file":
		try {
			return text(fs.readFileSync(String(args?.path ?? ""), "utf8"));
		} catch (e) {
			return text(`error: ${e.code ?? e.message}`, true);
		}
	default:
		return text(`error: unknown tool ${name}`, true);
	}
}

const server = new Server({ name: "drive-standin", version: "0.1.0" }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools }));
server.setRequestHandler(CallToolRequestSchema, async (req) => call(req.params.name, req.params.arguments));
await server.connect(new StdioServerTransport());
