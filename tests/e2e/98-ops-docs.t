#!/usr/bin/env bash
# Man pages render without a warning and describe every verb and option of
# --help. The completion scripts, printed by the CLI from the table its --help
# comes from, are what the build installs, parse, and complete verbs,
# subverbs, options and values as bash and zsh run them.
. "$(dirname "$0")/../lib.sh"

cli=$MF_BUILD/mcpfence
for page in "$MF_SRC"/docs/man/*.[58]; do
	out=$(groff -ww -man -z "$page" 2>&1)
	is "$?:$out" "0:" "groff -ww -man: $(basename "$page") without warnings"
	out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
	is "$out" "" "man --warnings: $(basename "$page") without warnings"
done

# Every verb and flag of the CLI is in its man page.
cli_verbs=$("$cli" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]\+\) .*/\1/p' | sort -u)
# The verbs and subverbs ("policy check"), as --help lists them.
cli_paths=$("$cli" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]\+\( [a-z]\+\)\?\)\( .*\|$\)/\1/p')
missing=
for v in $cli_verbs; do
	grep -q "^\.B.* $v\b\|^\.BI* \"$v\b\|^\.B $v\b" "$MF_SRC/docs/man/mcpfence.8" ||
		grep -q "^\.BI\? \"\?$v" "$MF_SRC/docs/man/mcpfence.8" || missing+=" $v"
done
is "$missing" "" "mcpfence(8) describes every verb of --help"
# FLAGS PAGE: the flags missing from PAGE (as roff writes them: \-\-no\-harden)
not_in_page() {
	local f missing=
	for f in $1; do
		grep -q -- "${f//-/\\\\-}" "$2" || missing+=" $f"
	done
	echo "$missing"
}
# The options a --help lists, one per option line.
help_flags() { "$@" --help | grep -E '^  (-[a-z], )?--' | grep -o -- '--[a-z-]*' | sort -u; }
flags=$({ help_flags "$cli"; while read -r p; do help_flags "$cli" $p; done <<<"$cli_paths"; } |
	sort -u)
is "$(not_in_page "$flags" "$MF_SRC/docs/man/mcpfence.8")" "" \
	"mcpfence(8) describes every option of every --help"
is "$(not_in_page "$(help_flags "$MF_BUILD/mcpfenced")" "$MF_SRC/docs/man/mcpfenced.8")" "" \
	"mcpfenced(8) describes every option of --help"

# The build's scripts are what the CLI prints now (make install installs them).
for sh in bash zsh; do
	file=$MF_BUILD/completion/mcpfence.bash
	[ $sh = zsh ] && file=$MF_BUILD/completion/_mcpfence
	is "$(cmp "$file" <("$cli" --completion $sh) 2>&1; echo $?)" 0 \
		"$(basename "$file") is mcpfence --completion $sh"
done
bash -n "$MF_BUILD/completion/mcpfence.bash"
ok $? "bash -n: the bash completion parses"

# complete(1) as bash runs it: COMP_WORDS in, COMPREPLY out.
comp() { # WORDS...: complete the last word
	local script=$MF_BUILD/completion/mcpfence.bash
	[ "$1" = mcpfenced ] && script=$MF_SRC/packaging/mcpfenced.bash-completion
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		complete -p "$1" >/dev/null || exit 1
		$(complete -p "$1" | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
		printf "%s\n" "${COMPREPLY[@]}" | sort -u' \
		_ "$script" "$@"
}
words() { tr '\n' ' ' | sed 's/ $//'; }
is "$(comp mcpfence '' | words)" "$(echo $cli_verbs | tr ' ' '\n' | sort | words)" \
	"bash: the verbs of mcpfence --help, no more"
while read -r p; do
	is "$(comp mcpfence $p -- | words)" "$(help_flags "$cli" $p | words)" \
		"bash: the flags of mcpfence $p --help"
done <<<"$cli_paths"
is "$(comp mcpfence policy '' | words)" \
	"$(sed -n 's/^policy \([a-z]*\)$/\1/p' <<<"$cli_paths" | sort | words)" \
	"bash: policy's subcommands, as --help lists them"
is "$(comp mcpfence audit --verdict '' | words)" "allow deny would-deny" "bash: --verdict's values"
is "$(comp mcpfence --socket /x --v)" "--version" "bash: global flags, --socket's value skipped"
is "$(comp mcpfence run --identity a --server b -- ls -)" "" "bash: run's command is not ours"
is "$(comp mcpfenced -- | words)" "$(help_flags "$MF_BUILD/mcpfenced" | words)" \
	"bash: the options of mcpfenced --help"

# zsh: the script parses, and its function, given zsh's words and CURRENT,
# offers what bash does (the completion system's builtins stand in as prints).
if ! command -v zsh >/dev/null; then
	skip_all "zsh is not installed (make deps installs it)"
fi
zsh -n "$MF_BUILD/completion/_mcpfence"
ok $? "zsh -n: the zsh completion parses"
is "$(head -1 "$MF_BUILD/completion/_mcpfence")" "#compdef mcpfence" "zsh: #compdef, for compinit"
zcomp() { # WORDS...: what _mcpfence offers for the last word
	zsh -f -c 'compdef() { :; }
		_describe() { local -a items; items=("${(@P)4}"); print -l -- "${(@)items%%:*}"; }
		compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }
		_files() { print -- "<files $*>"; }
		_directories() { print -- "<directories>"; }
		_normal() { print -- "<normal ${words[1]} $CURRENT>"; }
		source "$1"; shift
		words=("$@"); CURRENT=$#words
		_mcpfence | sort -u' _ "$MF_BUILD/completion/_mcpfence" "$@"
}
is "$(zcomp mcpfence '' | words)" "$(comp mcpfence '' | words)" "zsh: the verbs"
is "$(zcomp mcpfence policy '' | words)" "$(comp mcpfence policy '' | words)" \
	"zsh: policy's subcommands"
while read -r p; do
	is "$(zcomp mcpfence $p -- | words)" "$(help_flags "$cli" $p | words)" \
		"zsh: the flags of mcpfence $p --help"
done <<<"$cli_paths"
is "$(zcomp mcpfence --socket /x audit --verdict '' | words)" "allow deny would-deny" \
	"zsh: --verdict's values, --socket's value skipped"
is "$(zcomp mcpfence policy check '')" "<files -g *.json(-.)>" "zsh: policy files"
is "$(zcomp mcpfence run --server b -- ls '')" "<normal ls 2>" "zsh: run's command, as on its own"

done_testing
