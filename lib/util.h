/* SPDX-License-Identifier: Apache-2.0 */
/* Value syntaxes shared by daemon and client: booleans, signals, time. */
#ifndef CIRCUS_UTIL_H
#define CIRCUS_UTIL_H

#include <stdbool.h>

/* Circus to_bool: yes/true/on/1, no/false/off/0, any case, trimmed.
 * Returns 0 and sets *out, or -1 if not a boolean word. */
int util_parse_bool(const char *s, bool *out);
/* Circus to_signum: number, NAME, SIGNAME, NAME+N, any case.
 * Returns the signal number or -1. */
int util_parse_signal(const char *s);
/* Name without SIG prefix for a signal number ("TERM"), or NULL. */
const char *util_signal_name(int signum);
/* Python int() / float() of a string: 0, or -1 if not a valid literal. */
int util_parse_int(const char *s, long long *out);
int util_parse_float(const char *s, double *out);
/* Wall clock, seconds since the epoch (for message "time" fields only). */
double util_wallclock(void);
/* Monotonic clock in milliseconds, for deadlines and periods. */
long util_monotonic_ms(void);
/* Is the host of a tcp:// endpoint a loopback address or interface
 * (127.x, localhost, ::1, lo)? true for other transports (ipc...). */
bool util_endpoint_is_loopback(const char *endpoint);
/* 32 lowercase hex chars of randomness + NUL into buf (>= 33 bytes). */
void util_uuid_hex(char *buf);

#endif
