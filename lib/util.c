/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Value syntaxes shared by the daemon and the client: Circus booleans,
 * signal names (to_signum), wall-clock time and random ids. Pure helpers:
 * no logging, no allocation.
 */

#include <sys/random.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "compat.h"
#include "util.h"

struct util_signal {
	const char	*name;		/* without the SIG prefix */
	int		 signum;
};

/* Canonical names first: util_signal_name() returns the first match. */
static const struct util_signal util_signals[] = {
	{ "HUP", SIGHUP },
	{ "INT", SIGINT },
	{ "QUIT", SIGQUIT },
	{ "ILL", SIGILL },
	{ "TRAP", SIGTRAP },
	{ "ABRT", SIGABRT },
	{ "BUS", SIGBUS },
	{ "FPE", SIGFPE },
	{ "KILL", SIGKILL },
	{ "USR1", SIGUSR1 },
	{ "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE },
	{ "ALRM", SIGALRM },
	{ "TERM", SIGTERM },
#ifdef SIGSTKFLT
	{ "STKFLT", SIGSTKFLT },
#endif
	{ "CHLD", SIGCHLD },
	{ "CONT", SIGCONT },
	{ "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP },
	{ "TTIN", SIGTTIN },
	{ "TTOU", SIGTTOU },
	{ "URG", SIGURG },
	{ "XCPU", SIGXCPU },
	{ "XFSZ", SIGXFSZ },
	{ "VTALRM", SIGVTALRM },
	{ "PROF", SIGPROF },
	{ "WINCH", SIGWINCH },
	{ "IO", SIGIO },
#ifdef SIGPWR
	{ "PWR", SIGPWR },
#endif
	{ "SYS", SIGSYS },
	/* aliases */
	{ "IOT", SIGIOT },
#ifdef SIGCLD
	{ "CLD", SIGCLD },
#endif
#ifdef SIGPOLL
	{ "POLL", SIGPOLL },
#endif
};

/* Is c a Python \w character (ASCII word or any non-ASCII byte)? */
static int
util_is_word(unsigned char c)
{
	return (isalnum(c) || c == '_' || c >= 0x80);
}

/* Parse a Circus boolean word. */
int
util_parse_bool(const char *s, bool *out)
{
	static const char *const truthy[] = { "yes", "true", "on", "1" };
	static const char *const falsy[] = { "no", "false", "off", "0" };
	size_t		 len, i;

	if (s == NULL)
		return (-1);
	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	for (i = 0; i < nitems(truthy); i++) {
		if (strlen(truthy[i]) == len &&
		    strncasecmp(s, truthy[i], len) == 0) {
			*out = true;
			return (0);
		}
	}
	for (i = 0; i < nitems(falsy); i++) {
		if (strlen(falsy[i]) == len &&
		    strncasecmp(s, falsy[i], len) == 0) {
			*out = false;
			return (0);
		}
	}
	return (-1);
}

/* Look a signal name up (upper case, without SIG); -1 if unknown. */
static int
util_signal_lookup(const char *name)
{
	size_t	 i;

	if (strcmp(name, "RTMIN") == 0)
		return (SIGRTMIN);
	if (strcmp(name, "RTMAX") == 0)
		return (SIGRTMAX);
	for (i = 0; i < nitems(util_signals); i++) {
		if (strcmp(util_signals[i].name, name) == 0)
			return (util_signals[i].signum);
	}
	return (-1);
}

/* Parse a signal like Circus's to_signum. */
int
util_parse_signal(const char *s)
{
	char		 name[64];
	const char	*p;
	long long	 v, off = 0;
	size_t		 len, i;
	int		 signum;

	if (s == NULL)
		return (-1);
	if (util_parse_int(s, &v) == 0) {
		if (v < 0 || v > INT_MAX)
			return (-1);
		return ((int)v);
	}
	for (p = s; util_is_word((unsigned char)*p); p++)
		;
	len = p - s;
	if (len == 0 || len + 4 > sizeof name)
		return (-1);
	if (*p == '+' && isdigit((unsigned char)p[1])) {
		for (p++; isdigit((unsigned char)*p); p++) {
			if (off > 1000000)
				return (-1);
			off = off * 10 + (*p - '0');
		}
	}
	if (len >= 3 && strncasecmp(s, "SIG", 3) == 0) {
		s += 3;
		len -= 3;
	}
	for (i = 0; i < len; i++)
		name[i] = toupper((unsigned char)s[i]);
	name[len] = '\0';
	if ((signum = util_signal_lookup(name)) == -1)
		return (-1);
	return (signum + (int)off);
}

/* Name of a signal number without SIG ("TERM", "RTMIN+2"), or NULL. */
const char *
util_signal_name(int signum)
{
	static char	 rt[64][24];
	size_t		 i;
	int		 n;

	for (i = 0; i < nitems(util_signals); i++) {
		if (util_signals[i].signum == signum)
			return (util_signals[i].name);
	}
	if (signum == SIGRTMIN)
		return ("RTMIN");
	if (signum == SIGRTMAX)
		return ("RTMAX");
	if (signum > SIGRTMIN && signum < SIGRTMAX) {
		n = signum - SIGRTMIN;
		if (n >= (int)nitems(rt))
			return (NULL);
		snprintf(rt[n], sizeof rt[n], "RTMIN+%d", n);
		return (rt[n]);
	}
	return (NULL);
}

/* Wall-clock seconds since the epoch. */
double
util_wallclock(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* Monotonic milliseconds (deadlines and periods). */
long
util_monotonic_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Loopback host of a tcp:// endpoint, or not tcp (util.h). */
bool
util_endpoint_is_loopback(const char *endpoint)
{
	const char	*host = endpoint + 6, *end;
	size_t		 n;

	if (strncmp(endpoint, "tcp://", 6) != 0)
		return true;
	if (*host == '[') {
		host++;
		end = strchr(host, ']');
	} else
		end = strrchr(host, ':');
	n = end != NULL ? (size_t)(end - host) : strlen(host);
	if ((n == 9 && strncmp(host, "localhost", 9) == 0) ||
	    (n == 3 && strncmp(host, "::1", 3) == 0) ||
	    (n == 2 && strncmp(host, "lo", 2) == 0))
		return true;
	return n >= 4 && strncmp(host, "127.", 4) == 0;
}

/* Fill buf with 32 random lowercase hex characters and a NUL. */
void
util_uuid_hex(char *buf)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 rnd[16];
	size_t			 got = 0, i;
	ssize_t			 n;

	while (got < sizeof rnd) {
		n = getrandom(rnd + got, sizeof rnd - got, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			/* Fall back to something unique enough. */
			for (i = got; i < sizeof rnd; i++)
				rnd[i] = (unsigned char)random();
			break;
		}
		got += (size_t)n;
	}
	for (i = 0; i < sizeof rnd; i++) {
		buf[i * 2] = hex[rnd[i] >> 4];
		buf[i * 2 + 1] = hex[rnd[i] & 0xf];
	}
	buf[32] = '\0';
}

/* Python int() of a string (whitespace, sign, digits, '_' between). */
int
util_parse_int(const char *s, long long *out)
{
	long long	 v = 0;
	int		 neg = 0, digits = 0;

	if (s == NULL)
		return (-1);
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '+' || *s == '-')
		neg = (*s++ == '-');
	while (*s != '\0') {
		if (*s == '_' && digits > 0 && isdigit((unsigned char)s[1])) {
			s++;
			continue;
		}
		if (!isdigit((unsigned char)*s))
			break;
		if (v > (LLONG_MAX - 9) / 10)
			return (-1);
		v = v * 10 + (*s++ - '0');
		digits++;
	}
	while (isspace((unsigned char)*s))
		s++;
	if (digits == 0 || *s != '\0')
		return (-1);
	*out = neg ? -v : v;
	return (0);
}

/* Python float() of a string (no hexadecimal forms). */
int
util_parse_float(const char *s, double *out)
{
	char	*end;
	double	 d;

	if (s == NULL)
		return (-1);
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || strpbrk(s, "xX") != NULL)
		return (-1);
	errno = 0;
	d = strtod(s, &end);
	if (end == s)
		return (-1);
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0')
		return (-1);
	*out = d;
	return (0);
}
