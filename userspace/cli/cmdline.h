/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MCPFENCE_CMDLINE_H
#define MCPFENCE_CMDLINE_H

#include <stdbool.h>
#include <stdio.h>

/*
 * The CLI's one description of itself: verbs, their subverbs and options.
 * getopt_long's options, `mcpfence --help`, `mcpfence VERB --help` and the
 * shell completion scripts (`mcpfence --completion bash|zsh`) all come from
 * it. The man page is prose, written by hand; tests/e2e/98-ops-docs.t checks
 * that it names every verb and option.
 */

/* What completes a value: an option's, or a verb's operands. */
enum cli_complete {
	CLI_ANY, /* nothing to offer */
	CLI_FILE,
	CLI_DIR,
	CLI_POLICY_FILE, /* *.json files and directories */
	CLI_WORDS,	 /* cli_opt.words */
	CLI_COMMAND,	 /* run's: after --, a command line */
};

struct cli_opt {
	const char *name;	    /* without the leading "--" */
	int key;		    /* getopt_long's val */
	const char *arg;	    /* the value's name in help; NULL: takes none */
	const char *help;	    /* one line */
	enum cli_complete complete; /* the value's */
	const char *words;	    /* CLI_WORDS: the values, space-separated */
	bool hidden;		    /* neither in help nor in completion */
};

/* A flag, and an option that takes a value (then the value's completion). */
#define CLI_FLAG(n, k, h)                            \
	{                                            \
		.name = (n), .key = (k), .help = (h) \
	}
#define CLI_VALUE(n, k, a, h, ...)                                            \
	{                                                                     \
		.name = (n), .key = (k), .arg = (a), .help = (h), __VA_ARGS__ \
	}

struct cli_verb {
	const char *name;
	const char *args;	     /* usage after "mcpfence NAME", lines separated by '\n' */
	const char *summary;	     /* one line, for mcpfence --help */
	const char *text;	     /* VERB --help's prose, after its usage */
	const struct cli_opt *opts;  /* ended by { NULL }; --help is every verb's */
	const struct cli_verb *subs; /* subverbs, ended by { NULL }; NULL: none */
	enum cli_complete operands;
	bool stop_at_operand; /* options end at the first operand (run's command) */
	int (*run)(const struct cli_verb *v, int argc, char **argv);
};

/* `mcpfence --help` (global: the program's options, verbs: the table). */
void cli_print_usage(FILE *f, const struct cli_verb *global, const struct cli_verb *verbs);

/* `mcpfence VERB --help`; path is "policy explain" for a subverb. */
void cli_print_help(FILE *f, const char *path, const struct cli_verb *v);

/* getopt_long over v's options and --help ('h'); set optind first. */
int cli_getopt(const struct cli_verb *v, int argc, char **argv);

/* Print the completion script for shell ("bash" or "zsh"); -1: unknown shell. */
int cli_print_completion(FILE *f, const char *shell, const struct cli_verb *global,
			 const struct cli_verb *verbs);

/* The verbs (ended by { NULL }) whose subverbs cli_verb_help names in full. */
void cli_set_verbs(const struct cli_verb *verbs);

/* v's help: asked for (stdout, exit 0) or after a usage error (stderr, 2). */
int cli_verb_help(const struct cli_verb *v, bool error);

/* The options of a verb that has only --help and nargs operands: -1 to go
 * on (the operands at argv[optind]), else the exit status. */
int cli_only_operands(const struct cli_verb *v, int argc, char **argv, int nargs);

#endif /* MCPFENCE_CMDLINE_H */
