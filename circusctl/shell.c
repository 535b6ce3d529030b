/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The interactive shell (doc/design.md §17.6): readline with a persistent
 * history file and grammar-driven completion when stdin is a terminal,
 * plain line reads otherwise. Lines follow Python's cmd module: first word
 * is the command, the rest is split shell-style and run like a one-shot
 * command; an empty line repeats the previous one. Errors never end the shell.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "circusctl.h"
#include "xmalloc.h"

#define SHELL_PROMPT "(circusctl) "
#define SHELL_HISTORY_LINES 1000

static struct ctl_ctx	*shell_ctx;
static char		*shell_lastcmd;
static char		*shell_histfile;
static bool		 shell_done;
static char		**shell_matches;
static size_t		 shell_match_next;

static int	 shell_split(const char *, char ***, int *, char **);
static void	 shell_free_words(char **, int);
static int	 shell_name_compare(const void *, const void *);
static void	 shell_help(const char *);
static int	 shell_onecmd(const char *);
static void	 shell_line_cb(char *);
static char	**shell_completion(const char *, int, int);
static char	*shell_generator(const char *, int);
static void	 shell_history_open(void);
static void	 shell_history_add(const char *);
static int	 shell_readline_loop(void);
static int	 shell_plain_loop(void);

/*
 * Split a line like Python's shlex.split (POSIX mode): quotes, backslash
 * escapes, no comments. Returns 0, or -1 with *cause.
 */
static int
shell_split(const char *line, char ***argvp, int *argcp, char **cause)
{
	char	**argv = NULL, *tok;
	size_t	  tlen = 0;
	int	  argc = 0;
	bool	  in_tok = false;
	char	  quote = '\0';
	const char *p;

	tok = xmalloc(strlen(line) + 1);
	for (p = line;; p++) {
		if (quote == '\'') {
			if (*p == '\0')
				goto unclosed;
			if (*p == '\'')
				quote = '\0';
			else
				tok[tlen++] = *p;
			continue;
		}
		if (quote == '"') {
			if (*p == '\0')
				goto unclosed;
			if (*p == '"')
				quote = '\0';
			else if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				tok[tlen++] = *++p;
			else
				tok[tlen++] = *p;
			continue;
		}
		if (*p == '\0' || *p == ' ' || *p == '\t' || *p == '\n' ||
		    *p == '\r') {
			if (in_tok) {
				tok[tlen] = '\0';
				argv = xreallocarray(argv, (size_t)argc + 2,
				    sizeof *argv);
				argv[argc++] = xstrdup(tok);
				argv[argc] = NULL;
				tlen = 0;
				in_tok = false;
			}
			if (*p == '\0')
				break;
			continue;
		}
		in_tok = true;
		if (*p == '\'' || *p == '"')
			quote = *p;
		else if (*p == '\\') {
			if (p[1] == '\0') {
				*cause = xstrdup("No escaped character");
				goto fail;
			}
			tok[tlen++] = *++p;
		} else
			tok[tlen++] = *p;
	}
	free(tok);
	*argvp = argv;
	*argcp = argc;
	return 0;
unclosed:
	*cause = xstrdup("No closing quotation");
fail:
	free(tok);
	shell_free_words(argv, argc);
	return -1;
}

/* Free words from shell_split. */
static void
shell_free_words(char **argv, int argc)
{
	int	i;

	for (i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

/*
 * Print words in as few rows as fit displaywidth, column by column, as
 * Python's cmd.Cmd.columnize does.
 */
void
shell_columnize(FILE *f, const char *const *list, size_t size,
    size_t displaywidth)
{
	size_t	*colwidths, nrows, ncols, col, row, i, len, totwidth, last;
	bool	 fits = false;

	if (size == 0) {
		fputs("<empty>\n", f);
		return;
	}
	if (size == 1) {
		fprintf(f, "%s\n", list[0]);
		return;
	}
	colwidths = xcalloc(size, sizeof *colwidths);
	for (nrows = 1; nrows < size; nrows++) {
		ncols = (size + nrows - 1) / nrows;
		totwidth = 0;
		for (col = 0; col < ncols; col++) {
			colwidths[col] = 0;
			for (row = 0; row < nrows; row++) {
				i = row + nrows * col;
				if (i >= size)
					break;
				len = strlen(list[i]);
				if (len > colwidths[col])
					colwidths[col] = len;
			}
			totwidth += colwidths[col] + 2;
			if (totwidth - 2 > displaywidth)
				break;
		}
		if (totwidth - 2 <= displaywidth) {
			fits = true;
			break;
		}
	}
	if (!fits) {
		nrows = size;
		ncols = 1;
		colwidths[0] = 0;
	}
	for (row = 0; row < nrows; row++) {
		/* Trailing empty cells are dropped. */
		last = 0;
		for (col = 0; col < ncols; col++) {
			if (row + nrows * col < size)
				last = col + 1;
		}
		for (col = 0; col < last; col++) {
			i = row + nrows * col;
			if (col > 0)
				fputs("  ", f);
			fprintf(f, "%-*s", (int)colwidths[col], list[i]);
		}
		fputc('\n', f);
	}
	free(colwidths);
}

/* qsort comparator for command names. */
static int
shell_name_compare(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* help: the command listing, or one command's description. */
static void
shell_help(const char *arg)
{
	const struct ctl_entry	 *e;
	const char		**names, *eof = "EOF";
	size_t			  i, n = 0;

	if (*arg != '\0') {
		if ((e = ctl_find(arg)) != NULL)
			ctl_print_command_help(e, stdout);
		else if (strcmp(arg, "help") == 0)
			puts("List the commands with \"help\"; describe one "
			    "with \"help <command>\".");
		else if (strcmp(arg, "exit") == 0)
			puts("Leave the shell (Ctrl-D does too). Note that "
			    "\"quit\" is circusd's quit\ncommand: it stops "
			    "the daemon.");
		else
			printf("*** No help on %s\n", arg);
		return;
	}
	names = xcalloc(ctl_table_size + 3, sizeof *names);
	for (i = 0; i < ctl_table_size; i++)
		names[n++] = ctl_table[i].name;
	names[n++] = "exit";
	names[n++] = "help";
	qsort(names, n, sizeof *names, shell_name_compare);
	printf("\nDocumented commands (type help <topic>):\n");
	printf("========================================\n");
	shell_columnize(stdout, names, n, 79);
	printf("\nUndocumented commands:\n======================\n");
	shell_columnize(stdout, &eof, 1, 79);
	printf("\n");
	free(names);
}

/*
 * Run one shell line (Python cmd.onecmd). Returns 1 when the shell must
 * stop.
 */
static int
shell_onecmd(const char *input)
{
	const char	*p, *end;
	char		*line, *cmd, *arg, **words, **argv, *cause = NULL;
	int		 argc, i, stop = 0;

	while (*input == ' ' || *input == '\t')
		input++;
	line = xstrdup(input);
	end = line + strlen(line);
	while (end > line && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\n' || end[-1] == '\r'))
		end--;
	line[end - line] = '\0';
	if (*line == '\0') {
		free(line);
		if (shell_lastcmd == NULL)
			return 0;
		line = xstrdup(shell_lastcmd);
	}
	if (*line == '?') {
		cmd = xprintf("help %s", line + 1);
		free(line);
		line = cmd;
	}
	free(shell_lastcmd);
	shell_lastcmd = strcmp(line, "EOF") == 0 ? NULL : xstrdup(line);

	for (p = line; *p == '_' || (*p >= 'a' && *p <= 'z') ||
	    (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'); p++)
		;
	cmd = xstrndup(line, (size_t)(p - line));
	while (*p == ' ' || *p == '\t')
		p++;
	arg = xstrdup(p);

	if (*cmd == '\0')
		printf("*** Unknown syntax: %s\n", line);
	else if (strcmp(cmd, "help") == 0)
		shell_help(arg);
	else if (strcmp(cmd, "EOF") == 0 || strcmp(cmd, "exit") == 0)
		stop = 1;
	else if (ctl_find(cmd) == NULL)
		printf("*** Unknown syntax: %s\n", line);
	else if (shell_split(arg, &words, &argc, &cause) != 0) {
		printf("*** %s\n", cause);
		free(cause);
	} else {
		argv = xcalloc((size_t)argc + 2, sizeof *argv);
		argv[0] = cmd;
		for (i = 0; i < argc; i++)
			argv[i + 1] = words[i];
		fflush(stdout);
		ctl_run(shell_ctx, argc + 1, argv);
		fflush(stdout);
		fflush(stderr);
		free(argv);
		shell_free_words(words, argc);
	}
	ctl_interrupted = 0;
	free(cmd);
	free(arg);
	free(line);
	return stop;
}

/* Readline completion entry: candidates from the grammar. */
static char **
shell_completion(const char *text, int start, UNUSED int end)
{
	char	*before, **words = NULL, *cause = NULL, **matches;
	int	 nwords = 0;

	rl_attempted_completion_over = 1;
	before = xstrndup(rl_line_buffer, (size_t)start);
	if (shell_split(before, &words, &nwords, &cause) != 0) {
		free(cause);
		free(before);
		return NULL;
	}
	free(before);
	complete_free(shell_matches);
	shell_matches = complete_words(shell_ctx, nwords, words, text, true);
	shell_match_next = 0;
	shell_free_words(words, nwords);
	if (shell_matches[0] == NULL)
		return NULL;
	/* Do not add a space after a topic or key that goes on. */
	if (shell_matches[1] == NULL) {
		size_t len = strlen(shell_matches[0]);

		rl_completion_append_character = len > 0 &&
		    (shell_matches[0][len - 1] == '.' ||
		    shell_matches[0][len - 1] == ':') ? '\0' : ' ';
	} else
		rl_completion_append_character = ' ';
	matches = rl_completion_matches(text, shell_generator);
	return matches;
}

/* Readline generator over shell_matches. */
static char *
shell_generator(UNUSED const char *text, int state)
{
	if (state == 0)
		shell_match_next = 0;
	if (shell_matches == NULL || shell_matches[shell_match_next] == NULL)
		return NULL;
	return xstrdup(shell_matches[shell_match_next++]);
}

/* Load the history file ($CIRCUSCTL_HISTFILE or ~/.circusctl_history). */
static void
shell_history_open(void)
{
	const char	*env = getenv("CIRCUSCTL_HISTFILE");
	const char	*home = getenv("HOME");
	int		 fd;

	using_history();
	if (env != NULL && *env != '\0')
		shell_histfile = xstrdup(env);
	else if (home != NULL && *home != '\0')
		shell_histfile = xprintf("%s/.circusctl_history", home);
	else
		return;
	fd = open(shell_histfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		free(shell_histfile);
		shell_histfile = NULL;
		return;
	}
	close(fd);
	read_history(shell_histfile);
}

/* Add a line to the history and append it to the file at once. */
static void
shell_history_add(const char *input)
{
	HIST_ENTRY	*last;
	char		*line;
	size_t		 len;

	if (*input == '\0' || *input == ' ')
		return;
	line = xstrdup(input);
	len = strlen(line);
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		line[--len] = '\0';
	last = history_length > 0 ? history_get(history_base +
	    history_length - 1) : NULL;
	if (last == NULL || strcmp(last->line, line) != 0) {
		add_history(line);
		if (shell_histfile != NULL)
			append_history(1, shell_histfile);
	}
	free(line);
}

/* Readline line handler: NULL is Ctrl-D. */
static void
shell_line_cb(char *line)
{
	if (line == NULL) {
		fputc('\n', stdout);
		shell_done = true;
		rl_callback_handler_remove();
		return;
	}
	shell_history_add(line);
	if (shell_onecmd(line)) {
		shell_done = true;
		rl_callback_handler_remove();
	}
	free(line);
}

/* Terminal mode: readline's callback interface under our own poll. */
static int
shell_readline_loop(void)
{
	struct pollfd	pfd;

	shell_history_open();
	rl_readline_name = "circusctl";
	rl_catch_signals = 0;
	rl_catch_sigwinch = 0;
	rl_attempted_completion_function = shell_completion;
	rl_callback_handler_install(SHELL_PROMPT, shell_line_cb);
	while (!shell_done) {
		if (ctl_interrupted) {
			/* Ctrl-C at the prompt leaves, as in Circus. */
			rl_callback_handler_remove();
			fputc('\n', stdout);
			break;
		}
		pfd.fd = STDIN_FILENO;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, -1) == -1) {
			if (errno == EINTR) {
				rl_resize_terminal();
				continue;
			}
			break;
		}
		rl_callback_read_char();
	}
	if (shell_histfile != NULL)
		history_truncate_file(shell_histfile, SHELL_HISTORY_LINES);
	clear_history();
	free(shell_histfile);
	shell_histfile = NULL;
	return CTL_EXIT_OK;
}

/* Not a terminal: print the prompt, read plain lines. */
static int
shell_plain_loop(void)
{
	char	*line = NULL;
	size_t	 size = 0;

	for (;;) {
		fputs(SHELL_PROMPT, stdout);
		fflush(stdout);
		if (getline(&line, &size, stdin) == -1) {
			fputc('\n', stdout);
			break;
		}
		if (shell_onecmd(line))
			break;
	}
	free(line);
	return CTL_EXIT_OK;
}

/* The shell: version, status of all watchers, then the command loop. */
int
shell_main(struct ctl_ctx *ctx)
{
	char	*status[] = { (char *)"status", NULL };
	int	 rc;

	shell_ctx = ctx;
	ctx->in_shell = true;
	printf("circusctl %s\n", CIRCUS_VERSION);
	fflush(stdout);
	ctl_run(ctx, 1, status);
	ctl_interrupted = 0;
	fflush(stdout);
	if (isatty(STDIN_FILENO))
		rc = shell_readline_loop();
	else
		rc = shell_plain_loop();
	fflush(stdout);
	complete_free(shell_matches);
	shell_matches = NULL;
	free(shell_lastcmd);
	shell_lastcmd = NULL;
	return rc;
}
