#!/usr/bin/env bash
# Names are path components: an isolated server's credential is read from
# "file" with {identity} replaced, and servers pick per-user files by their
# tag. An identity or server name of dots only (".", "..", "...") is refused
# everywhere a name is taken: by the policy, by `run`, and by the agent for
# tags, launches and tickets. Before, a ticket for identity ".." made the
# agent read DIR/../token for an isolated server whose credential is
# DIR/{identity}/token: a credential outside the identities' directory.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root"

has() { grep -qF -- "$2" <<<"$1"; } # TEXT STRING

# The policy refuses such names (as server, in "who", in may_assert).
for name in . .. ...; do
	cat >"$MF_TMP/bad.json" <<JSON
{ "version": 1, "servers": { "$name": {} }, "rules": [] }
JSON
	"$MF_BUILD/mcpfence" policy check "$MF_TMP/bad.json" >/dev/null 2>"$MF_TMP/err"
	is "$?" 1 "policy check: a server named '$name' is refused"
	has "$(cat "$MF_TMP/err")" "invalid server name '$name'"
	ok $? "as an invalid server name"
	cat >"$MF_TMP/bad.json" <<JSON
{ "version": 1, "servers": { "s": {} },
  "rules": [ { "name": "r", "who": ["$name"], "server": "s",
               "allow": [ { "to": "127.0.0.1/32" } ] } ] }
JSON
	"$MF_BUILD/mcpfence" policy check "$MF_TMP/bad.json" >/dev/null 2>"$MF_TMP/err"
	is "$?" 1 "policy check: \"who\": [\"$name\"] is refused"
	has "$(cat "$MF_TMP/err")" "invalid identity '$name'"
	ok $? "as an invalid identity"
done

# Credentials in DIR/users/{identity}/token; root's secrets one and two levels up.
CRED=$MF_TMP/cred
mkdir -p "$CRED/users/alice"
chmod 700 "$CRED"
printf 'alice-token\n' >"$CRED/users/alice/token"
printf 'users-dir-secret\n' >"$CRED/users/token"
printf 'cred-dir-secret\n' >"$CRED/token"
chmod 600 "$CRED/users/alice/token" "$CRED/users/token" "$CRED/token"
mkdir -m 755 "$MF_TMP/ten"
cat >"$MF_TMP/p.json" <<JSON
{ "version": 1,
  "servers": {
    "gdrive": { "isolate": true,
                "credentials": [ { "env": "TOKEN", "file": "$CRED/users/{identity}/token" } ] },
    "plain": {} },
  "rules": [] }
JSON
agent_start "$MF_TMP/p.json" --uid-range 61940-61944 --tenants-dir "$MF_TMP/ten" || exit 1

show='printf "%s\n" "$TOKEN"'
is "$(mf run --identity alice --server gdrive -- sh -c "$show" 2>&1)" alice-token \
	"alice's isolated server gets alice's credential"

# A launch request as a client other than the CLI sends it: the agent checks.
cat >"$MF_TMP/launch.py" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
req = {"op": "launch", "identity": sys.argv[2], "server": "gdrive", "env": {},
       "argv": ["sh", "-c", 'printf "%s\\n" "$TOKEN"']}
socket.send_fds(s, [(json.dumps(req) + "\n").encode()], [0, 1, 2])
f = s.makefile()
for line in f:  # the reply, then (launched) the server's exit
    print(line.strip(), flush=True)
    if '"exit"' in line or '"ok":false' in line.replace(" ", ""):
        break
PY

for name in . .. ...; do
	out=$(python3 "$MF_TMP/launch.py" "$MF_SOCK" "$name" 2>&1)
	! has "$out" secret
	ok $? "a launch as identity '$name' reads no credential (got: ${out:0:70})"
	has "$out" "invalid identity"
	ok $? "the agent refuses it as an invalid identity"
	# The agent checks what a ticket names: the CLI checks nothing here.
	ticket=$(mf ticket --identity "$name" --server gdrive 2>"$MF_TMP/err")
	like "$?:$(cat "$MF_TMP/err")" "^1:.*invalid identity" "ticket for identity '$name': refused"
	out=$(T=$ticket mf run --ticket-env T --server gdrive -- sh -c "$show" 2>&1)
	! has "$out" secret
	ok $? "identity '$name' reads no credential outside the identities' (got: ${out:0:60})"
	mf run --identity "$name" --server plain -- true 2>"$MF_TMP/err"
	like "$?:$(cat "$MF_TMP/err")" "^2:.*invalid identity" "run --identity '$name': refused"
	mf ticket --identity alice --server "$name" >/dev/null 2>&1
	is "$?" 1 "ticket for server '$name': refused"
done

done_testing
