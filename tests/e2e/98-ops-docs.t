#!/usr/bin/env bash
# Man pages render without a warning; bash completion offers exactly the
# verbs of `mcpfence --help` and, for each verb, the flags of its --help.
. "$(dirname "$0")/../lib.sh"

for page in "$MF_SRC"/docs/man/*.[58]; do
	out=$(groff -ww -man -z "$page" 2>&1)
	is "$?:$out" "0:" "groff -ww -man: $(basename "$page") without warnings"
	out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
	is "$out" "" "man --warnings: $(basename "$page") without warnings"
done

# Every verb and flag of the CLI is in its man page.
cli_verbs=$("$MF_BUILD/mcpfence" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]\+\) .*/\1/p' | sort -u)
missing=
for v in $cli_verbs; do
	grep -q "^\.B.* $v\b\|^\.BI* \"$v\b\|^\.B $v\b" "$MF_SRC/docs/man/mcpfence.8" ||
		grep -q "^\.BI\? \"\?$v" "$MF_SRC/docs/man/mcpfence.8" || missing+=" $v"
done
is "$missing" "" "mcpfence(8) describes every verb of --help"
flags=$("$MF_BUILD/mcpfenced" --help | grep -o -- '--[a-z-]*' | sort -u)
missing=
for f in $flags; do
	grep -q -- "${f//-/\\\\-}" "$MF_SRC/docs/man/mcpfenced.8" || missing+=" $f"
done
is "$missing" "" "mcpfenced(8) describes every option of --help"

# complete(1) as bash runs it: COMP_WORDS in, COMPREPLY out.
comp() { # WORDS...: complete the last word
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		complete -p "$1" >/dev/null || exit 1
		$(complete -p "$1" | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
		printf "%s\n" "${COMPREPLY[@]}" | sort -u' \
		_ "$MF_SRC/packaging/mcpfence.bash-completion" "$@"
}
is "$(comp mcpfence '' | tr '\n' ' ')" "$(echo $cli_verbs | tr ' ' '\n' | sort | tr '\n' ' ')" \
	"completion: the verbs of mcpfence --help, no more"
for v in $cli_verbs; do
	# Flags as the help lists them: in its usage line and its option lines.
	want=$("$MF_BUILD/mcpfence" "$v" --help | grep -E '^usage:|^ +--' | grep -o -- '--[a-z-]*' |
		grep -vx -- '--' |
		{ cat; echo --help; } | sort -u | tr '\n' ' ')
	is "$(comp mcpfence "$v" -- | tr '\n' ' ')" "$want" "completion: the flags of mcpfence $v --help"
done
is "$(comp mcpfence policy '' | tr '\n' ' ')" "check load show " "completion: policy's subcommands"
is "$(comp mcpfence audit --verdict '' | tr '\n' ' ')" "allow deny would-deny " \
	"completion: --verdict's values"
is "$(comp mcpfence --socket /x --v)" "--version" "completion: global flags, --socket's value skipped"
is "$(comp mcpfenced -- | tr '\n' ' ')" "$("$MF_BUILD/mcpfenced" --help | grep -o -- '--[a-z-]*' |
	sort -u | tr '\n' ' ')" "completion: the options of mcpfenced --help"

done_testing
