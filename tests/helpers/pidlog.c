/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Short-lived worker for the churn soak (tests/e2e/test_soak.py): appends
 * its pid to a file in one write (O_APPEND: lines never interleave) and
 * exits at once, so every death is the ground truth for one spawn event.
 *
 *   pidlog FILE [EXIT_CODE]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	char	buf[32];
	int	fd, n;

	if (argc < 2)
		return 2;
	fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1)
		return 3;
	n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n)
		return 4;
	close(fd);
	return argc > 2 ? atoi(argv[2]) : 0;
}
