#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Start an MCP server with the credential of the user it works for.
#
#   mcpfence run --identity alice@example.com --server gdrive -- \
#       with-user-credential.sh /etc/mcp/gdrive-tokens -- node server.js
#
# The identity comes from the kernel's tag (mcpfence whoami asks the agent,
# which finds this process by its socket credentials), never from the
# environment or the model: MCPFENCE_IDENTITY is informational only.
# The server gets the path of DIR/<identity>.token in $MCP_CREDENTIAL_FILE.
set -eu

if [ $# -lt 3 ] || [ "$2" != "--" ]; then
	echo "usage: with-user-credential.sh DIR -- SERVER [ARGS...]" >&2
	exit 2
fi
dir=$1
shift 2

who=$(mcpfence whoami) || exit 1
case "$who" in
ungoverned)
	echo "with-user-credential: not governed by mcpfence: refusing to pick a credential" >&2
	exit 1
	;;
esac
identity=${who%% *}
# Identities are [A-Za-z0-9._@+-]: safe as a file name, but check anyway.
case "$identity" in
"" | *[!A-Za-z0-9._@+-]* | -* | .*)
	echo "with-user-credential: unexpected identity '$identity'" >&2
	exit 1
	;;
esac
file=$dir/$identity.token
if [ ! -r "$file" ]; then
	echo "with-user-credential: no credential for $identity in $dir" >&2
	exit 1
fi
MCP_CREDENTIAL_FILE=$file
export MCP_CREDENTIAL_FILE
exec "$@"
