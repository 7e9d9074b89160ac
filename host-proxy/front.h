/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * front.h - the TLS proxy port (3129): TLS with the client, terminated here
 * and handed to an ordinary proxy connection over a socketpair, so every
 * request behaves exactly as on the plain port.
 */
#ifndef SLICER_FRONT_H
#define SLICER_FRONT_H

#include <sys/socket.h>

#include "proxy.h"

struct worker;
struct front;

/* Take ownership of an accepted TLS-port socket, on w's loop. */
void front_accept(struct worker *w, int fd, const struct sockaddr *peer);
/* Close every front connection of w (shutdown). */
void front_close_all(struct worker *w);
/*
 * Its connection is closing (and unlinked itself): on a cut (is_abort)
 * the client's TLS connection is reset at once, without close_notify,
 * since the socketpair between them can only carry an end of stream.
 */
void front_conn_closed(struct front *f, int is_abort);

#endif
