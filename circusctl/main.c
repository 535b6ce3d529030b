/* SPDX-License-Identifier: Apache-2.0 */
/*
 * circusctl: control a circusd over its ZeroMQ/JSON protocol, one command
 * per invocation or in an interactive shell. Parses the global options and
 * hands over to ctl-run.c or shell.c; exit codes are in circusctl.h.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "circusctl.h"

static void	main_sigint(int);
static void	main_signals(void);

/* SIGINT/SIGWINCH: note it; waits return EINTR and check the flag. */
static void
main_sigint(int sig)
{
	if (sig == SIGINT)
		ctl_interrupted = 1;
}

/* Install handlers without SA_RESTART so blocking waits are interrupted. */
static void
main_signals(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = main_sigint;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
}

int
main(int argc, char **argv)
{
	struct ctl_globals	 g;
	struct ctl_ctx		 ctx;
	char			*cause = NULL;
	int			 cmdidx, rc;

	main_signals();
	if (ctl_parse_globals(argc - 1, argv + 1, &g, &cmdidx, &cause) !=
	    CTL_EXIT_OK) {
		ctl_usage_error(NULL, cause);
		free(cause);
		return CTL_EXIT_USAGE;
	}
	if (g.version) {
		printf("circusctl %s\n", CIRCUS_VERSION);
		ctl_globals_clear(&g);
		return CTL_EXIT_OK;
	}
	ctl_ctx_init(&ctx, &g);
	if (fleet_setup(&ctx, &cause) != 0) {
		fprintf(stderr, "circusctl: %s\n", cause);
		free(cause);
		ctl_ctx_clear(&ctx);
		return CTL_EXIT_FAILURE;
	}
	if (getenv("AUTO_COMPLETE") != NULL)
		rc = ctl_autocomplete(&ctx);
	else if (cmdidx >= 0)
		rc = ctl_run(&ctx, argc - 1 - cmdidx, argv + 1 + cmdidx);
	else if (ctx.globals.discover && !ctx.globals.shell)
		rc = fleet_list_discovered(&ctx);
	else if (ctx.globals.help && !ctx.globals.shell) {
		ctl_print_main_help(stdout);
		rc = CTL_EXIT_OK;
	} else
		rc = shell_main(&ctx);
	ctl_ctx_clear(&ctx);
	ctl_grammars_free();
	fflush(stdout);
	return rc;
}
