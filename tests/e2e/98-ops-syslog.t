#!/usr/bin/env bash
# --audit-syslog: records reach the journal's native socket with MCPFENCE_*
# fields (read back and decoded here as journald would), or syslog as
# RFC 3164 datagrams with a CEE JSON payload where there is no journal.
. "$(dirname "$0")/../lib.sh"

# listen SOCKET OUT: each datagram as one JSON line: journal fields decoded
# (text and binary forms), or {"raw": "..."} for syslog.
cat >"$MF_TMP/listen.py" <<'PY'
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    d = s.recv(65536)
    if d.startswith(b"<"):
        print(json.dumps({"raw": d.decode()}), flush=True)
        continue
    f, i = {}, 0
    while i < len(d):
        nl = d.index(b"\n", i)
        line = d[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:  # binary: NAME\n, le64 length, bytes, \n
            k = line
            n = struct.unpack("<Q", d[nl + 1:nl + 9])[0]
            v = d[nl + 9:nl + 9 + n]
            assert d[nl + 9 + n:nl + 10 + n] == b"\n"
            i = nl + 10 + n
        f[k.decode()] = v.decode()
    print(json.dumps(f), flush=True)
PY
listen() {
	python3 "$MF_TMP/listen.py" "$1" >>"$2" &
	listener=$!
	kill_at_exit $listener
	wait_for test -S "$1"
}

cat >"$MF_TMP/p.json" <<'JSON'
{ "version": 1, "servers": { "fetch": {} },
  "rules": [ { "name": "alice-fetch", "server": "fetch", "who": ["alice"],
               "allow": [ { "to": "127.0.0.1/32", "ports": [7000] } ] } ] }
JSON
listen "$MF_TMP/journal.sock" "$MF_TMP/journal.out"
MCPFENCE_JOURNAL_SOCKET=$MF_TMP/journal.sock agent_start "$MF_TMP/p.json" --audit-syslog || exit 1
# A command name with a newline in it, set after exec.
mf run --allow-root --identity alice --server fetch -- python3 -c "
import socket
open('/proc/self/comm', 'w').write('x\\ny')
socket.create_connection(('127.0.0.1', 7001))" >/dev/null 2>&1
wait_for grep -q '"MCPFENCE_PORT": "7001"' "$MF_TMP/journal.out"
rec=$(grep '"MCPFENCE_PORT": "7001"' "$MF_TMP/journal.out" | head -1)
is "$(jq -r '[.PRIORITY, .SYSLOG_IDENTIFIER, .MCPFENCE_EVENT, .MCPFENCE_VERDICT, .MCPFENCE_IDENTITY, .MCPFENCE_SERVER, .MCPFENCE_ADDR, .MCPFENCE_RULE] | join(" ")' <<<"$rec")" \
	"4 mcpfenced connect deny alice fetch 127.0.0.1 (default)" \
	"journal: a denial at priority warning, with its fields"
like "$(jq -r .MESSAGE <<<"$rec")" '^deny connect identity=alice server=fetch pid=[0-9]+ to 127.0.0.1 port 7001 rule=\(default\)$' \
	"journal: MESSAGE summarises it"
is "$(jq -r .MCPFENCE_RECORD <<<"$rec" | jq -c 'del(.ts)')" \
	"$(grep '"port":7001' "$MF_AUDIT_LOG" | jq -c 'del(.ts)')" \
	"journal: MCPFENCE_RECORD is the log's record"
is "$(jq .MCPFENCE_COMM <<<"$rec")" '"x\ny"' \
	"journal: a value with a newline goes in the binary form, intact"
is "$(grep -c '"MCPFENCE_EVENT": "tag"' "$MF_TMP/journal.out")" 1 "journal: agent records too (the tag)"
is "$(mf status --json | jq -r '.syslog | "\(.to) \(.lost)"')" "journal 0" "status: to the journal, none lost"

# A journal that stops reading: past its queue (net.unix.max_dgram_qlen,
# 10 here) records wait in the agent, in order, and none is lost.
kill -STOP "$listener"
mf run --allow-root --identity alice --server fetch -- python3 -c "
import socket
for port in range(7100, 7140):
    try: socket.create_connection(('127.0.0.1', port))
    except OSError: pass" >/dev/null 2>&1
wait_for test "$(grep -c '"port":71[0-3][0-9]' "$MF_AUDIT_LOG")" = 40
ok $(($(mf status --json | jq .syslog.waiting) > 0 ? 0 : 1)) "a journal that does not read: records wait"
kill -CONT "$listener"
wait_for test "$(grep -c '"MCPFENCE_PORT": "71[0-3][0-9]"' "$MF_TMP/journal.out")" = 40
is "$(grep -o '"MCPFENCE_PORT": "71[0-3][0-9]"' "$MF_TMP/journal.out" | tr -dc '0-9\n' | paste -sd' ')" \
	"$(seq -s' ' 7100 7139)" "and reach it, all 40, in order, once it reads again"
is "$(mf status --json | jq -r '.syslog | "\(.waiting) \(.lost)"')" "0 0" "status: none waits, none lost"
agent_stop

# No journal: syslog.
listen "$MF_TMP/log.sock" "$MF_TMP/syslog.out"
MCPFENCE_JOURNAL_SOCKET=$MF_TMP/none MCPFENCE_SYSLOG_SOCKET=$MF_TMP/log.sock \
	agent_start "$MF_TMP/p.json" --audit-syslog || exit 1
mf run --allow-root --identity alice --server fetch -- "$MF_HELPERS/probe" connect tcp 127.0.0.1 7001 \
	>/dev/null 2>&1
wait_for grep -q 'port\\":7001' "$MF_TMP/syslog.out"
raw=$(jq -r .raw "$MF_TMP/syslog.out" | grep '"port":7001')
like "$raw" '^<84>[A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8} mcpfenced\[[0-9]+\]: @cee: \{' \
	"syslog: authpriv.warning, RFC 3164 header, CEE payload"
is "$(sed 's/^.*@cee: //' <<<"$raw" | jq -c 'del(.ts)')" \
	"$(grep '"port":7001' "$MF_AUDIT_LOG" | tail -1 | jq -c 'del(.ts)')" \
	"syslog: the payload is the log's record"
is "$(mf status --json | jq -r '.syslog.to')" syslog "status: to syslog"

done_testing
