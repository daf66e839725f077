#!/usr/bin/env node
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// A minimal real MCP client for the end-to-end tests: spawns an MCP server on
// stdio, initializes, lists its tools, calls one tool, prints one JSON line
// and exits.
//
//   node client.mjs --call TOOL [--args JSON] [--timeout MS] [--stderr FILE] -- CMD ARGS...
//
// Output (stdout, one line):
//   {"ok":bool,"isError":bool,"text":"...","stage":"...","error":"...","tools":[...],"pid":N}
//     ok      the tool call returned a result without isError
//     isError the tool returned isError, or answered tools/call with a JSON-RPC error
//     text    the text content of the tool result (joined by "\n")
//     stage   where it ended: spawn, initialize, list, call, done
//     error   why it failed (absent on success)
//     exit    the server's exit status ("code N" / "signal S") if it died before we stopped it
//
// Exit status:
//   0  the tool call returned without isError
//   1  the call failed: the tool returned isError, the server answered with an
//      error, the server died / closed stdout at any stage, or the timeout hit
//      (e.g. a server that keeps retrying a refused connection and never
//      answers initialize)
//   2  client or protocol failure: bad usage, CMD could not be spawned, the
//      tool is not offered by the server, an invalid protocol message
//
// The server's stderr goes to our stderr, or is appended to FILE with --stderr.
// The whole run is bounded by --timeout (default 20000 ms); the server is
// always stopped (stdin closed, SIGTERM, then SIGKILL) before we exit. CMD runs
// under setsid(1) in a process group of its own, and the whole group is
// signalled, so nothing it started outlives us (--no-setsid: signal CMD only).

import fs from "node:fs";
import process from "node:process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { McpError, ErrorCode } from "@modelcontextprotocol/sdk/types.js";

const USAGE =
	"usage: node client.mjs --call TOOL [--args JSON] [--timeout MS] [--stderr FILE] [--no-setsid] -- CMD ARGS...";

function usage(msg) {
	process.stderr.write(`client.mjs: ${msg}\n${USAGE}\n`);
	process.stdout.write(JSON.stringify({ ok: false, isError: false, text: "", stage: "usage", error: msg }) + "\n");
	process.exit(2);
}

// ---- arguments -------------------------------------------------------------
const argv = process.argv.slice(2);
let tool = null;
let toolArgs = {};
let timeoutMs = 20000;
let stderrFile = null;
let useSetsid = true;
let cmd = null;
for (let i = 0; i < argv.length; i++) {
	const a = argv[i];
	const val = () => {
		if (i + 1 >= argv.length) usage(`${a} needs a value`);
		return argv[++i];
	};
	if (a === "--") {
		cmd = argv.slice(i + 1);
		break;
	} else if (a === "--call") {
		tool = val();
	} else if (a === "--args") {
		const s = val();
		try {
			toolArgs = JSON.parse(s);
		} catch (e) {
			usage(`--args is not JSON: ${e.message}`);
		}
		if (toolArgs === null || typeof toolArgs !== "object" || Array.isArray(toolArgs))
			usage("--args must be a JSON object");
	} else if (a === "--timeout") {
		timeoutMs = Number(val());
		if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) usage("--timeout must be a positive number of ms");
	} else if (a === "--stderr") {
		stderrFile = val();
	} else if (a === "--no-setsid") {
		useSetsid = false;
	} else if (a === "-h" || a === "--help") {
		process.stdout.write(USAGE + "\n");
		process.exit(0);
	} else {
		usage(`unknown argument: ${a}`);
	}
}
if (!tool) usage("--call TOOL is required");
if (!cmd || cmd.length === 0) usage("missing -- CMD ARGS...");

// ---- state -----------------------------------------------------------------
const started = Date.now();
const remaining = () => Math.max(1, timeoutMs - (Date.now() - started));
let stage = "spawn";
let child = null; // the ChildProcess behind the transport (for exit status / kill)
let childExit = null; // "code N" | "signal S" once it exited
let stopping = false; // we are stopping the server ourselves
let finished = false;
let tools = [];

const stderrSink = stderrFile ? fs.createWriteStream(stderrFile, { flags: "a" }) : process.stderr;

// env: the whole environment (the SDK passes only a few variables by default,
// and mcpfence's CLI may need e.g. MCPFENCE_SOCKET).
const env = {};
for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;

// Run the server in a process group of its own (setsid execs CMD in place, so
// its pid is the group id), so that stopping it also stops whatever it left
// behind: a wrapper that forks instead of exec'ing, a grandchild.
function findSetsid() {
	for (const dir of (process.env.PATH || "/usr/bin:/bin").split(":")) {
		try {
			fs.accessSync(`${dir || "."}/setsid`, fs.constants.X_OK);
			return `${dir || "."}/setsid`;
		} catch {
			/* next */
		}
	}
	return null;
}
// Resolve CMD first: behind setsid a missing command would look like a
// server that died, not like the usage error it is.
function resolveCmd(name) {
	const dirs = name.includes("/") ? [""] : (process.env.PATH || "/usr/bin:/bin").split(":");
	for (const dir of dirs) {
		const path = name.includes("/") ? name : `${dir || "."}/${name}`;
		try {
			fs.accessSync(path, fs.constants.X_OK);
			if (fs.statSync(path).isFile()) return path;
		} catch {
			/* next */
		}
	}
	return null;
}
if (!resolveCmd(cmd[0])) {
	process.stdout.write(
		JSON.stringify({ ok: false, isError: false, text: "", stage: "spawn", error: `cannot run ${cmd[0]}: not found or not executable`, tools: [] }) + "\n",
	);
	process.exit(2);
}
const setsid = useSetsid ? findSetsid() : null;
const spawnCmd = setsid ? [setsid, ...cmd] : cmd;

const transport = new StdioClientTransport({ command: spawnCmd[0], args: spawnCmd.slice(1), env, stderr: "pipe" });
transport.stderr.pipe(stderrSink, { end: false });

const client = new Client({ name: "mcpfence-test-client", version: "0.0.0" }, { capabilities: {} });
client.onerror = (err) => {
	// Transport-level problems (e.g. EPIPE writing to a dead server) and
	// unparsable lines: note them; the pending request fails on its own.
	process.stderr.write(`client.mjs: transport error: ${err && err.message ? err.message : err}\n`);
};

// Signal the server's process group (see setsid above), or the server alone.
// Returns false once nothing is left to signal.
function signalServer(sig) {
	if (setsid) {
		try {
			process.kill(-child.pid, sig);
			return true;
		} catch {
			/* no group (any more): fall through */
		}
	}
	if (child.exitCode !== null || child.signalCode !== null) return false;
	try {
		child.kill(sig);
		return true;
	} catch {
		return false;
	}
}

// Stop the server: close its stdin, SIGTERM, and SIGKILL what is still there
// (the server, and anything left in its process group).
async function stopServer() {
	if (!child) return;
	stopping = true;
	const exited = () => child.exitCode !== null || child.signalCode !== null;
	const closed = new Promise((resolve) => (exited() ? resolve() : child.once("exit", resolve)));
	const wait = (ms) => Promise.race([closed, new Promise((r) => setTimeout(r, ms).unref())]);
	try {
		child.stdin?.end();
	} catch {
		/* ignore */
	}
	if (!exited() || setsid) signalServer("SIGTERM");
	await wait(1500);
	if (signalServer("SIGKILL")) await wait(500);
}

async function finish(code, result) {
	if (finished) return;
	finished = true;
	clearTimeout(timer);
	// On failure, let the exit status of a server that is dying arrive before we report.
	if (code !== 0 && child && childExit === null) {
		await Promise.race([
			new Promise((r) => child.once("exit", r)),
			new Promise((r) => setTimeout(r, 200)),
		]);
	}
	const out = { ok: false, isError: false, text: "", stage, ...result, tools };
	if (child) out.pid = child.pid;
	if (childExit !== null && !stopping) out.exit = childExit;
	process.stdout.write(JSON.stringify(out) + "\n");
	await stopServer();
	try {
		await transport.close();
	} catch {
		/* ignore */
	}
	if (stderrFile) await new Promise((r) => stderrSink.end(r));
	process.exit(code);
}

// Hard bound: whatever happens, we end with a clear failure.
const timer = setTimeout(() => {
	finish(1, { error: `timeout after ${timeoutMs} ms during ${stage}` });
}, timeoutMs);
// And if stopping the server itself hangs, leave anyway.
setTimeout(() => {
	process.stderr.write("client.mjs: could not stop the server in time\n");
	process.exit(finished ? process.exitCode ?? 1 : 1);
}, timeoutMs + 5000).unref();

for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
	process.on(sig, () => finish(2, { error: `client got ${sig}` }));
}

function describe(err) {
	// McpError's message already reads "MCP error CODE: ...".
	return err && err.message ? err.message : String(err);
}

// An error from a request: 1 if the call failed (server gone, timed out,
// server answered tools/call with an error), 2 for protocol/client trouble.
function classify(err) {
	if (err instanceof McpError) {
		if (err.code === ErrorCode.ConnectionClosed || err.code === ErrorCode.RequestTimeout) return 1;
		if (stage === "call") return 1;
	}
	if (childExit !== null) return 1; // the server died under us
	return 2;
}

// ---- run -------------------------------------------------------------------
async function main() {
	const connecting = client.connect(transport, { timeout: remaining() });
	// connect() spawns the process synchronously; keep a handle for its exit status.
	child = transport._process ?? null;
	if (child) {
		child.once("exit", (code, signal) => {
			childExit = signal ? `signal ${signal}` : `code ${code}`;
		});
	}
	// start() resolves on 'spawn'; initialize follows in the same promise.
	stage = "initialize";
	try {
		await connecting;
	} catch (err) {
		// ENOENT / EACCES from spawn: the command never ran.
		if (err && err.code && typeof err.code === "string" && err.syscall && err.syscall.startsWith("spawn")) {
			stage = "spawn";
			return finish(2, { error: `cannot run ${cmd[0]}: ${err.message}` });
		}
		return finish(classify(err), { error: describe(err) });
	}

	stage = "list";
	try {
		const res = await client.listTools(undefined, { timeout: remaining() });
		tools = res.tools.map((t) => t.name);
	} catch (err) {
		return finish(classify(err), { error: describe(err) });
	}
	if (!tools.includes(tool)) {
		return finish(2, { error: `server does not offer tool "${tool}"` });
	}

	stage = "call";
	let res;
	try {
		res = await client.callTool({ name: tool, arguments: toolArgs }, undefined, { timeout: remaining() });
	} catch (err) {
		const code = classify(err);
		// A JSON-RPC error answer to tools/call is the tool failing.
		const isError = err instanceof McpError && err.code !== ErrorCode.ConnectionClosed && err.code !== ErrorCode.RequestTimeout;
		return finish(code, { isError, error: describe(err) });
	}
	const text = (res.content ?? [])
		.filter((c) => c && c.type === "text")
		.map((c) => c.text)
		.join("\n");
	const isError = res.isError === true;
	stage = "done";
	return finish(isError ? 1 : 0, isError ? { isError, text, error: "tool returned isError" } : { ok: true, isError, text });
}

main().catch((err) => finish(2, { error: `internal: ${describe(err)}` }));
