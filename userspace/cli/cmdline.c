// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The CLI's table (cmdline.h) turned into getopt_long's options, help text
 * and shell completion scripts.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"

#define HELP_WIDTH 79
#define OPT_COLUMN 20  /* where an option's help starts */
#define VERB_COLUMN 25 /* where a verb's summary starts in mcpfence --help */
#define CLI_OPTS_MAX 16

static const struct cli_opt help_opt = CLI_FLAG("help", 'h', "show this help");

/* ---- help ---- */

/* text from column at, wrapped at HELP_WIDTH; continuation lines start at col. */
static void print_wrapped(FILE *f, const char *text, int at, int col)
{
	const char *w = text;

	while (*w) {
		size_t len = strcspn(w, " ");

		if (at > col && at + 1 + (int)len > HELP_WIDTH) {
			fprintf(f, "\n%*s", col, "");
			at = col;
		} else if (at > col) {
			fputc(' ', f);
			at++;
		}
		fprintf(f, "%.*s", (int)len, w);
		at += len;
		w += len;
		w += strspn(w, " ");
	}
	fputc('\n', f);
}

/* "  LABEL" then help at column col (on the next line if LABEL reaches it). */
static void print_item(FILE *f, const char *label, const char *help, int col)
{
	int n = fprintf(f, "  %s", label);

	if (n + 1 > col) {
		fputc('\n', f);
		n = 0;
	}
	fprintf(f, "%*s", col - n, "");
	print_wrapped(f, help, col, col);
}

static void print_opt(FILE *f, const struct cli_opt *o)
{
	char label[64];

	if (o->hidden)
		return;
	if (o->key == 'h')
		snprintf(label, sizeof(label), "-h, --%s", o->name);
	else
		snprintf(label, sizeof(label), "--%s%s%s", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
	print_item(f, label, o->help, OPT_COLUMN);
}

/* "usage: mcpfence PATH ARGS" per line of args; a line that starts with a
 * space continues the one before. */
static void print_usage_lines(FILE *f, const char *path, const char *args, bool *first)
{
	const char *line = args ? args : "";

	do {
		size_t len = strcspn(line, "\n");
		int indent = (int)strlen("mcpfence ") + (int)strlen(path);

		if (line[0] == ' ')
			fprintf(f, "       %*s%.*s\n", indent, "", (int)len, line);
		else
			fprintf(f, "%s mcpfence %s%s%.*s\n", *first ? "usage:" : "      ", path,
				len ? " " : "", (int)len, line);
		*first = false;
		line += len;
	} while (*line++);
}

void cli_print_help(FILE *f, const char *path, const struct cli_verb *v)
{
	bool first = true;
	char sub[64];

	if (v->subs) {
		for (const struct cli_verb *s = v->subs; s->name; s++) {
			snprintf(sub, sizeof(sub), "%s %s", path, s->name);
			print_usage_lines(f, sub, s->args, &first);
		}
	} else {
		print_usage_lines(f, path, v->args, &first);
	}
	if (v->text)
		fprintf(f, "\n%s", v->text);
	fputc('\n', f);
	for (const struct cli_opt *o = v->opts; o && o->name; o++)
		print_opt(f, o);
	print_opt(f, &help_opt);
}

/* "NAME ARGS" (the first line of args) and the summary. */
static void print_verb_line(FILE *f, const char *name, const struct cli_verb *v)
{
	char label[128];
	size_t len = v->args ? strcspn(v->args, "\n") : 0;

	snprintf(label, sizeof(label), "%s%s%.*s", name, len ? " " : "", (int)len,
		 len ? v->args : "");
	print_item(f, label, v->summary, VERB_COLUMN);
}

void cli_print_usage(FILE *f, const struct cli_verb *global, const struct cli_verb *verbs)
{
	char name[64];

	fprintf(f, "usage: mcpfence %s\n\n%s\nCommands:\n", global->args, global->text);
	for (const struct cli_verb *v = verbs; v->name; v++) {
		if (!v->subs) {
			print_verb_line(f, v->name, v);
			continue;
		}
		for (const struct cli_verb *s = v->subs; s->name; s++) {
			snprintf(name, sizeof(name), "%s %s", v->name, s->name);
			print_verb_line(f, name, s);
		}
	}
	fprintf(f, "\nOptions:\n");
	for (const struct cli_opt *o = global->opts; o->name; o++)
		print_opt(f, o);
	print_opt(f, &help_opt);
}

/* ---- getopt_long ---- */

int cli_getopt(const struct cli_verb *v, int argc, char **argv)
{
	static struct option longopts[CLI_OPTS_MAX + 2];
	static const struct cli_verb *built;
	size_t n = 0;

	if (built != v) {
		for (const struct cli_opt *o = v->opts; o && o->name; o++) {
			if (n == CLI_OPTS_MAX) {
				fprintf(stderr, "mcpfence: %s has more than %d options\n", v->name,
					CLI_OPTS_MAX);
				abort();
			}
			longopts[n++] =
				(struct option){ o->name, o->arg ? required_argument : no_argument,
						 NULL, o->key };
		}
		longopts[n++] = (struct option){ help_opt.name, no_argument, NULL, 'h' };
		longopts[n] = (struct option){};
		built = v;
	}
	return getopt_long(argc, argv, v->stop_at_operand ? "+h" : "h", longopts, NULL);
}

/* ---- completion ---- */

/*
 * Both scripts walk the words typed so far: a verb or subverb extends the
 * path ("", "policy", "policy explain"), an option that takes a value skips
 * it, and run's command ends the walk. Then the word at the cursor is an
 * option's value, an option, a verb or an operand of the path.
 */

typedef void (*visit_fn)(FILE *f, const char *path, const struct cli_verb *v, void *ctx);

/* Every path of the table: the program (""), each verb and subverb. */
static void visit(FILE *f, const struct cli_verb *global, const struct cli_verb *verbs, visit_fn fn,
		  void *ctx)
{
	char path[64];

	fn(f, "", global, ctx);
	for (const struct cli_verb *v = verbs; v->name; v++) {
		fn(f, v->name, v, ctx);
		for (const struct cli_verb *s = v->subs; s && s->name; s++) {
			snprintf(path, sizeof(path), "%s %s", v->name, s->name);
			fn(f, path, s, ctx);
		}
	}
}

/* A case statement's patterns, "PATH WORD" each, joined by |. */
struct patterns {
	int complete; /* value_case: options whose values complete so; -1: all */
	bool first;   /* no pattern yet */
	bool zsh;
};

static void pattern(FILE *f, struct patterns *p, const char *path, const char *word)
{
	fprintf(f, "%s\"%s %s\"", p->first ? (p->zsh ? "\t\t(" : "\t\t") : " | ", path, word);
	p->first = false;
}

static void valued_options(FILE *f, const char *path, const struct cli_verb *v, void *ctx)
{
	struct patterns *p = ctx;
	char word[64];

	for (const struct cli_opt *o = v->opts; o && o->name; o++) {
		if (!o->arg || o->hidden || (p->complete >= 0 && (int)o->complete != p->complete))
			continue;
		snprintf(word, sizeof(word), "--%s", o->name);
		pattern(f, p, path, word);
	}
}

/* The patterns of the options that take a value (complete < 0) or whose
 * value completes as complete; false when there is none. */
static bool value_case(FILE *f, const struct cli_verb *global, const struct cli_verb *verbs,
		       int complete, bool zsh)
{
	struct patterns p = { complete, true, zsh };

	visit(f, global, verbs, valued_options, &p);
	if (!p.first)
		fprintf(f, ")");
	return !p.first;
}

static void sub_patterns(FILE *f, const char *path, const struct cli_verb *v, void *ctx)
{
	for (const struct cli_verb *s = v->subs; s && s->name; s++)
		pattern(f, ctx, path, s->name);
}

static void verb_patterns(FILE *f, const struct cli_verb *global, const struct cli_verb *verbs,
			  bool zsh)
{
	struct patterns p = { 0, true, zsh };

	for (const struct cli_verb *v = verbs; v->name; v++)
		pattern(f, &p, "", v->name);
	visit(f, global, verbs, sub_patterns, &p);
	fprintf(f, ")");
}

/* ' quoted for the shell. */
static void quoted(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

/* How each shell completes an operand, or an option's value, of kind c
 * (bash: the word at the cursor is $cur). */
static const char *bash_complete(enum cli_complete c)
{
	switch (c) {
	case CLI_FILE:
		return "COMPREPLY=($(compgen -f -- \"$cur\"))";
	case CLI_DIR:
		return "COMPREPLY=($(compgen -d -- \"$cur\"))";
	case CLI_POLICY_FILE:
		return "COMPREPLY=($(compgen -f -X '!*.json' -- \"$cur\") $(compgen -d -- \"$cur\"))";
	default:
		return ":";
	}
}

static const char *zsh_complete(enum cli_complete c)
{
	switch (c) {
	case CLI_FILE:
		return "_files";
	case CLI_DIR:
		return "_directories";
	case CLI_POLICY_FILE:
		return "_files -g '*.json(-.)'";
	default:
		return ":";
	}
}

static const enum cli_complete file_kinds[] = { CLI_FILE, CLI_DIR, CLI_POLICY_FILE };

static const char *kind_name(enum cli_complete c)
{
	return c == CLI_FILE ? "file" : c == CLI_DIR ? "dir" : c == CLI_POLICY_FILE ? "policy" : "";
}

/* Values of CLI_WORDS options, one branch each. */
static void words_branches(FILE *f, const char *path, const struct cli_verb *v, void *ctx)
{
	bool zsh = *(bool *)ctx;

	for (const struct cli_opt *o = v->opts; o && o->name; o++) {
		if (o->complete != CLI_WORDS || o->hidden)
			continue;
		fprintf(f, "\t\t%s\"%s --%s\") ", zsh ? "(" : "", path, o->name);
		fprintf(f,
			zsh ? "compadd -- %s ;;\n" :
			      "COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")) ;;\n",
			o->words);
	}
}

/* One branch per path: its options, verbs and operands. */
static void bash_path(FILE *f, const char *path, const struct cli_verb *v, void *ctx)
{
	fprintf(f, "\t\"%s\")\n\t\topts=\"", path);
	for (const struct cli_opt *o = v->opts; o && o->name; o++) {
		if (!o->hidden)
			fprintf(f, "--%s ", o->name);
	}
	fprintf(f, "--help\"\n\t\tverbs=\"");
	for (const struct cli_verb *s = (path[0] ? v->subs : ctx); s && s->name; s++)
		fprintf(f, "%s%s", s == (path[0] ? v->subs : ctx) ? "" : " ", s->name);
	fprintf(f, "\"\n\t\toperands=%s\n\t\t;;\n", kind_name(v->operands));
}

static void zsh_path(FILE *f, const char *path, const struct cli_verb *v, void *ctx)
{
	char item[160];

	fprintf(f, "\t(\"%s\")\n\t\topts=(", path);
	for (const struct cli_opt *o = v->opts; o && o->name; o++) {
		if (o->hidden)
			continue;
		snprintf(item, sizeof(item), "--%s:%s", o->name, o->help);
		quoted(f, item);
		fputc(' ', f);
	}
	fprintf(f, "'--help:show this help')\n\t\tverbs=(");
	for (const struct cli_verb *s = (path[0] ? v->subs : ctx); s && s->name; s++) {
		snprintf(item, sizeof(item), "%s:%s", s->name, s->summary ? s->summary : "");
		fputc(' ', f);
		quoted(f, item);
	}
	fprintf(f, " )\n\t\toperands=%s\n\t\t;;\n", kind_name(v->operands));
}

/* Verbs whose operands are a command line: the walk ends at it. */
static void command_patterns(FILE *f, const char *path, const struct cli_verb *v, void *ctx)
{
	if (v->operands == CLI_COMMAND)
		fprintf(f,
			"\t\t%s\"%s --\") shift_to=$((i + 1)) ;;\n"
			"\t\t%s\"%s \"[!-]*) shift_to=$i ;;\n",
			*(bool *)ctx ? "(" : "", path, *(bool *)ctx ? "(" : "", path);
}

static void print_walk(FILE *f, const struct cli_verb *global, const struct cli_verb *verbs,
		       bool zsh)
{
	fprintf(f, "\tfor ((i = %d; i < %s; i++)); do\n", zsh ? 2 : 1,
		zsh ? "CURRENT" : "COMP_CWORD");
	fprintf(f, "\t\tw=%s\n", zsh ? "${words[i]}" : "${COMP_WORDS[i]}");
	fprintf(f, "\t\tshift_to=\n");
	fprintf(f, "\t\tcase \"$cmdpath $w\" in\n");
	if (value_case(f, global, verbs, -1, zsh))
		fprintf(f, "\n\t\t\tif ((i + 1 == %s)); then prev=$w; else ((i++)); fi ;;\n",
			zsh ? "CURRENT" : "COMP_CWORD");
	visit(f, global, verbs, command_patterns, &zsh);
	verb_patterns(f, global, verbs, zsh);
	fprintf(f, " cmdpath=${cmdpath:+$cmdpath }$w ;;\n\t\tesac\n");
	if (zsh)
		fprintf(f, "\t\tif [[ -n $shift_to ]]; then\n"
			   "\t\t\t# The command and its arguments: completed as on their own.\n"
			   "\t\t\twords=(\"${(@)words[shift_to,-1]}\")\n"
			   "\t\t\t((CURRENT -= shift_to - 1))\n"
			   "\t\t\t_normal\n"
			   "\t\t\treturn\n"
			   "\t\tfi\n");
	else
		fprintf(f, "\t\t# The command and its arguments: left to bash.\n"
			   "\t\t[ -n \"$shift_to\" ] && return 0\n");
	fprintf(f, "\tdone\n\n");
}

/* The operands of the path, by kind. */
static void print_operands(FILE *f, bool zsh)
{
	fprintf(f, "\t\tcase $operands in\n");
	for (size_t i = 0; i < sizeof(file_kinds) / sizeof(file_kinds[0]); i++)
		fprintf(f, "\t\t%s%s) %s ;;\n", zsh ? "(" : "", kind_name(file_kinds[i]),
			zsh ? zsh_complete(file_kinds[i]) : bash_complete(file_kinds[i]));
	fprintf(f, "\t\tesac\n");
}

/* After the walk: an option's value, when prev is that option. */
static void print_values(FILE *f, const struct cli_verb *global, const struct cli_verb *verbs,
			 bool zsh)
{
	fprintf(f, "\tif [ -n \"$prev\" ]; then\n\t\tcase \"$cmdpath $prev\" in\n");
	for (size_t i = 0; i < sizeof(file_kinds) / sizeof(file_kinds[0]); i++) {
		if (value_case(f, global, verbs, file_kinds[i], zsh))
			fprintf(f, " %s ;;\n",
				zsh ? zsh_complete(file_kinds[i]) : bash_complete(file_kinds[i]));
	}
	visit(f, global, verbs, words_branches, &zsh);
	fprintf(f, "\t\tesac\n\t\treturn 0\n\tfi\n\n");
}

static void print_bash(FILE *f, const struct cli_verb *global, const struct cli_verb *verbs)
{
	fprintf(f,
		"# bash completion for mcpfence(8), printed by `mcpfence --completion bash`\n"
		"# from the CLI's table of verbs and options: do not edit.\n\n"
		"_mcpfence()\n{\n"
		"\tlocal cur=${COMP_WORDS[COMP_CWORD]} cmdpath= prev= w i shift_to opts verbs operands\n\n");
	print_walk(f, global, verbs, false);
	print_values(f, global, verbs, false);
	fprintf(f, "\tcase $cmdpath in\n");
	visit(f, global, verbs, bash_path, (void *)verbs);
	fprintf(f, "\t*) return 0 ;;\n\tesac\n"
		   "\tif [[ $cur == -* ]]; then\n"
		   "\t\tCOMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
		   "\telif [ -n \"$verbs\" ]; then\n"
		   "\t\tCOMPREPLY=($(compgen -W \"$verbs\" -- \"$cur\"))\n"
		   "\telse\n");
	print_operands(f, false);
	fprintf(f, "\tfi\n"
		   "\treturn 0\n}\n"
		   "complete -F _mcpfence mcpfence\n");
}

static void print_zsh(FILE *f, const struct cli_verb *global, const struct cli_verb *verbs)
{
	fprintf(f, "#compdef mcpfence\n"
		   "# zsh completion for mcpfence(8), printed by `mcpfence --completion zsh`\n"
		   "# from the CLI's table of verbs and options: do not edit.\n\n"
		   "_mcpfence()\n{\n"
		   "\tlocal cmdpath= prev= w i shift_to operands\n"
		   "\tlocal -a opts verbs\n\n");
	print_walk(f, global, verbs, true);
	print_values(f, global, verbs, true);
	fprintf(f, "\tcase $cmdpath in\n");
	visit(f, global, verbs, zsh_path, (void *)verbs);
	fprintf(f, "\t(*) return 1 ;;\n\tesac\n"
		   "\tif [[ ${words[CURRENT]} == -* ]]; then\n"
		   "\t\t_describe -t options option opts\n"
		   "\telif ((${#verbs})); then\n"
		   "\t\t_describe -t commands command verbs\n"
		   "\telse\n");
	print_operands(f, true);
	fprintf(f, "\tfi\n}\n\n"
		   "# Autoloaded from fpath, this file is the function's first call; sourced,\n"
		   "# it registers the function.\n"
		   "if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then\n"
		   "\t_mcpfence \"$@\"\n"
		   "else\n"
		   "\tcompdef _mcpfence mcpfence\n"
		   "fi\n");
}

int cli_print_completion(FILE *f, const char *shell, const struct cli_verb *global,
			 const struct cli_verb *verbs)
{
	if (!strcmp(shell, "bash"))
		print_bash(f, global, verbs);
	else if (!strcmp(shell, "zsh"))
		print_zsh(f, global, verbs);
	else
		return -1;
	return 0;
}

/* The verb table cli_verb_help names subverbs from (cli_set_verbs). */
static const struct cli_verb *cli_verbs;

void cli_set_verbs(const struct cli_verb *verbs)
{
	cli_verbs = verbs;
}

/* v's help: asked for (stdout, exit 0) or after a usage error (stderr, 2). */
int cli_verb_help(const struct cli_verb *v, bool error)
{
	char path[64];

	snprintf(path, sizeof(path), "%s", v->name);
	for (const struct cli_verb *p = cli_verbs; p && p->name; p++) {
		for (const struct cli_verb *s = p->subs; s && s->name; s++) {
			if (s == v)
				snprintf(path, sizeof(path), "%s %s", p->name, s->name);
		}
	}
	cli_print_help(error ? stderr : stdout, path, v);
	return error ? 2 : 0;
}

/* The options of a verb that has only --help and nargs operands: -1 to go
 * on (the operands at argv[optind]), else the exit status. */
int cli_only_operands(const struct cli_verb *v, int argc, char **argv, int nargs)
{
	int opt;

	optind = 1;
	while ((opt = cli_getopt(v, argc, argv)) != -1)
		return cli_verb_help(v, opt != 'h');
	if (argc - optind != nargs)
		return cli_verb_help(v, true);
	return -1;
}
