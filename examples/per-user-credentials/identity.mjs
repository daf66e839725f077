// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// For a Node MCP server: whose request is this process serving?
//
//   import { governingIdentity } from "./identity.mjs";
//   const { identity, server } = governingIdentity();  // throws when ungoverned
//   const token = fs.readFileSync(`/etc/mcp/tokens/${identity}.token`, "utf8");
//
// The answer comes from the kernel's tag through the agent (`mcpfence whoami`
// finds the caller by its socket credentials). Do not use
// process.env.MCPFENCE_IDENTITY for decisions: it is informational, and a
// process can set its own environment.
import { execFileSync } from "node:child_process";

export function governingIdentity(mcpfence = "mcpfence") {
  const out = execFileSync(mcpfence, ["whoami", "--json"], { encoding: "utf8" });
  const who = JSON.parse(out);
  if (!who.governed) throw new Error("not governed by mcpfence");
  if (!/^[A-Za-z0-9._@+][A-Za-z0-9._@+-]*$/.test(who.identity))
    throw new Error(`unexpected identity ${JSON.stringify(who.identity)}`);
  return { identity: who.identity, server: who.server };
}

// `node identity.mjs [path-to-mcpfence]` prints the identity, for a quick check.
if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const { identity, server } = governingIdentity(process.argv[2]);
    console.log(`${identity} ${server}`);
  } catch (e) {
    console.error(`identity.mjs: ${e.message}`);
    process.exit(1);
  }
}
