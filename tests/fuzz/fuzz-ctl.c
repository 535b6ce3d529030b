/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for circusctl's argument grammar: the input is a
 * command line, arguments separated by NUL bytes or newlines, parsed as
 * circusctl's main does (global options, then the command's grammar line
 * into a request). When the first byte is '@' the rest is instead
 * "<command>\n<reply JSON>" and the reply goes through that command's
 * plain-text printer, as a hostile daemon's answer would.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "circusctl.h"
#include "log.h"
#include "pyjson.h"

#define MAX_ARGS	48

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_level_current = LOG_LEVEL_CRITICAL;
	unsetenv("CIRCUSCTL_ENDPOINT");
	return 0;
}

/* Print a fuzzed reply for one command. */
static void
fuzz_print(const char *buf, size_t len)
{
	const struct ctl_entry *e;
	const char *nl = memchr(buf, '\n', len);
	char *name, *out;
	json_t *reply;

	if (nl == NULL)
		return;
	name = strndup(buf, (size_t)(nl - buf));
	e = ctl_find(name);
	free(name);
	reply = json_loadb(nl + 1, len - (size_t)(nl + 1 - buf),
	    JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (reply == NULL)
		return;
	if (e != NULL && e->print != NULL && json_is_object(reply)) {
		out = e->print(e, reply);
		free(out);
		if (e->print_verbose != NULL) {
			out = e->print_verbose(e, reply);
			free(out);
		}
	}
	(void)print_is_error(reply);
	out = print_event("watcher.fuzz.spawn", 18, nl + 1,
	    len - (size_t)(nl + 1 - buf), true);
	free(out);
	json_decref(reply);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_globals g;
	struct ctl_request req;
	const struct ctl_entry *e;
	char *buf, *argv[MAX_ARGS + 1], *cause = NULL, *s, *body;
	int argc = 0, cmdidx = -1, rc;
	size_t i;

	buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (size > 0 && buf[0] == '@') {
		fuzz_print(buf + 1, size - 1);
		free(buf);
		return 0;
	}
	s = buf;
	for (i = 0; i <= size && argc < MAX_ARGS; i++) {
		if (i == size || buf[i] == '\0' || buf[i] == '\n') {
			buf[i] = '\0';
			argv[argc++] = s;
			s = buf + i + 1;
		}
	}
	argv[argc] = NULL;

	rc = ctl_parse_globals(argc, argv, &g, &cmdidx, &cause);
	free(cause);
	cause = NULL;
	if (rc == CTL_EXIT_OK && cmdidx >= 0 && cmdidx < argc &&
	    (e = ctl_find(argv[cmdidx])) != NULL) {
		rc = ctl_parse_command(e, argc - cmdidx - 1, argv + cmdidx + 1,
		    &req, &cause);
		if (rc == CTL_EXIT_OK && req.message != NULL) {
			body = pyjson_dumps(req.message);
			free(body);
		}
		ctl_request_clear(&req);
		free(cause);
		cause = NULL;
		if (e->grammar != NULL) {
			s = ctl_synopsis(e);
			free(s);
		}
	}
	ctl_globals_clear(&g);

	/* every command's grammar against the same arguments */
	if (argc > 0 && (e = ctl_find(argv[0])) == NULL) {
		for (i = 0; i < ctl_table_size; i++) {
			if (ctl_table[i].flags & CTL_SUB)
				continue;
			if (((unsigned char)argv[0][0] % ctl_table_size) != i)
				continue;
			rc = ctl_parse_command(&ctl_table[i], argc - 1,
			    argv + 1, &req, &cause);
			(void)rc;
			ctl_request_clear(&req);
			free(cause);
			cause = NULL;
		}
	}
	free(buf);
	return 0;
}
