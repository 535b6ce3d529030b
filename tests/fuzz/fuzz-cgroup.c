/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the parsers of lib/cgroup2.c: the input is the
 * text of /proc/self/mountinfo (first byte 0 mod 3) or of
 * /proc/self/cgroup (1 mod 3), and the answer must be a NUL-terminated
 * string inside the output buffer, or -1; or a cgroup's cpu.stat (2 mod
 * 3), read within its text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[64], *text;
	uint64_t usec;
	int rc;

	if (size == 0)
		return 0;
	/* a copy of exactly the text: reads past it are caught */
	text = malloc(size - 1 + 1);
	memcpy(text, data + 1, size - 1);
	memset(out, 'x', sizeof out);
	if (data[0] % 3 == 2) {
		/* cpu.stat is read NUL-terminated (cg2_slurp) */
		text[size - 1] = '\0';
		(void)cg2_parse_cpu_usec(text, &usec);
		free(text);
		return 0;
	}
	if (data[0] % 3 == 0)
		rc = cg2_parse_mountinfo(text, size - 1, out, sizeof out);
	else
		rc = cg2_parse_self(text, size - 1, out, sizeof out);
	if (rc == 0 && memchr(out, '\0', sizeof out) == NULL)
		abort();
	free(text);
	return 0;
}
