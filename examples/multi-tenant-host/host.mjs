#!/usr/bin/env node
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// A small multi-tenant MCP host: many users, one machine, one isolated MCP
// server per user, each started through mcpfence for that user alone.
//
//   node host.mjs --port N --users FILE --server NAME [--mcpfence PATH] -- CMD ARGS...
//
// FILE maps bearer tokens to identities ({"tok-a": "alice", ...}): a stand-in
// for SSO. A request
//
//   POST /call  Authorization: Bearer TOKEN  {"name": TOOL, "arguments": {...}}
//
// is served by that user's session: an MCP client (the SDK's Client over
// stdio) of CMD, started on the first request as
//
//   mcpfence ticket --identity ID --server NAME      (the host may: root or a
//                                                      policy launcher)
//   mcpfence run --ticket-env MCPFENCE_TICKET -- CMD ARGS...
//
// The ticket binds this one launch to ID; the agent starts CMD under ID's own
// uid with ID's credential, which the host never sees. (--ticket-env rather
// than --ticket-fd: the SDK's stdio transport passes no extra descriptor.)
// The reply is the tool result as JSON. The host prints "listening PORT"
// once it accepts requests; SIGTERM closes every session.

import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { pathToFileURL } from "node:url";

const argv = process.argv.slice(2);
const opt = { port: 0, users: null, server: null, mcpfence: "mcpfence", modules: null };
let cmd = null;
for (let i = 0; i < argv.length; i++) {
	const k = argv[i];
	if (k === "--") { cmd = argv.slice(i + 1); break; }
	if (!k.startsWith("--") || i + 1 >= argv.length) throw new Error(`host.mjs: bad argument ${k}`);
	opt[k.slice(2)] = argv[++i];
}
if (!opt.users || !opt.server || !cmd?.length || !opt.modules)
	throw new Error("usage: host.mjs --port N --users FILE --server NAME --modules DIR [--mcpfence PATH] -- CMD...");

const sdk = (p) => import(pathToFileURL(path.join(opt.modules, "@modelcontextprotocol/sdk/dist/esm", p)).href);
const { Client } = await sdk("client/index.js");
const { StdioClientTransport } = await sdk("client/stdio.js");

const users = JSON.parse(fs.readFileSync(opt.users, "utf8"));
const sessions = new Map(); // identity -> Promise<Client>

async function session(identity) {
	if (!sessions.has(identity)) {
		sessions.set(identity, (async () => {
			const { stdout } = await promisify(execFile)(opt.mcpfence,
				["ticket", "--identity", identity, "--server", opt.server]);
			const transport = new StdioClientTransport({
				command: opt.mcpfence,
				args: ["run", "--ticket-env", "MCPFENCE_TICKET", "--", ...cmd],
				env: { PATH: process.env.PATH, MCPFENCE_SOCKET: process.env.MCPFENCE_SOCKET ?? "",
				       MCPFENCE_TICKET: stdout.trim() },
				stderr: "inherit",
			});
			const client = new Client({ name: "multi-tenant-host", version: "0.1.0" });
			await client.connect(transport);
			return client;
		})());
		sessions.get(identity).catch(() => sessions.delete(identity));
	}
	return sessions.get(identity);
}

function reply(res, code, obj) {
	res.writeHead(code, { "content-type": "application/json" });
	res.end(JSON.stringify(obj) + "\n");
}

const httpServer = http.createServer((req, res) => {
	const identity = users[(req.headers.authorization ?? "").replace(/^Bearer /, "")];
	if (!identity) return reply(res, 401, { error: "unknown user" });
	if (req.method !== "POST" || req.url !== "/call") return reply(res, 404, { error: "POST /call" });
	let body = "";
	req.on("data", (d) => { body += d; if (body.length > 65536) req.destroy(); });
	req.on("end", async () => {
		try {
			const { name, arguments: args } = JSON.parse(body);
			const client = await session(identity);
			const result = await client.callTool({ name, arguments: args ?? {} });
			reply(res, 200, { identity, isError: !!result.isError,
					  text: result.content.map((c) => c.text ?? "").join("\n") });
		} catch (e) {
			reply(res, 500, { identity, error: String(e.message ?? e) });
		}
	});
});

async function shutdown() {
	httpServer.close();
	for (const s of sessions.values()) {
		try { await (await s).close(); } catch { /* gone already */ }
	}
	process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
httpServer.listen(Number(opt.port), "127.0.0.1", () => {
	process.stdout.write(`listening ${httpServer.address().port}\n`);
});
