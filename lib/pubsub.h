/* SPDX-License-Identifier: Apache-2.0 */
/* Reading the two-frame (topic, JSON body) messages of the event and
 * stats channels (doc/design.md §17.3, §17.4) from a ZeroMQ SUB socket. */
#ifndef CIRCUS_PUBSUB_H
#define CIRCUS_PUBSUB_H

#include <stddef.h>

/*
 * Take one message if one is waiting: *topic (NUL-terminated) and *body
 * (*len bytes, NUL-terminated too) are allocated for the caller. A
 * message without a body is skipped, extra frames are dropped. Returns 0,
 * or -1 when nothing is waiting.
 */
int	pubsub_recv(void *sub, char **topic, char **body, size_t *len);

#endif
