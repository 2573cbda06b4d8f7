/* The client protocol of one connection: what each parsed op does.
 *
 * Input arrives as whole receive buffers; every op in one is handled before anything is
 * written (output only collects in the connection's buffer and is sent once at the end of
 * the loop turn). Errors get nats-server's exact -ERR text and its close-or-continue
 * policy. Shard-owned: only the connection's home shard calls these. */
#ifndef IONATS_ENGINE_CONN_H
#define IONATS_ENGINE_CONN_H

#include "engine/shard.h"

#include <stddef.h>

/* Prepares a freshly accepted connection and queues its INFO. 0 or -ENOMEM. */
int conn_open(struct conn *conn, struct shard *shard, int fd, const struct sockaddr *peer);

/* Handles every op in [data, data + length). Stops early when the connection closes. */
void conn_receive(struct conn *conn, const char *data, size_t length);

/* Timer work: authentication timeout, server PINGs, stale detection. */
void conn_tick(struct conn *conn, int64_t now_ns);

/* Appends raw protocol text (PONG, +OK, -ERR …) and queues a flush. */
void conn_write_text(struct conn *conn, const char *text, size_t length);

/* Makes room for `bytes` more output or cuts the connection off as a slow consumer (its
 * pending output would exceed max_pending). Returns 0, or -ENOBUFS when it was cut off. */
int conn_reserve_output(struct conn *conn, size_t bytes);

/* Output bytes not yet sent: collected plus in flight. */
size_t conn_pending_bytes(const struct conn *conn);

/* Releases subscriptions, parser and options; output buffers stay (the kernel may hold
 * one) and are freed by the shard once no operation is in flight. */
void conn_release_protocol_state(struct conn *conn);

/* Removes subscriptions queued for removal during a delivery walk. */
void conn_sub_free(struct shard *shard, struct conn_sub *sub);

#endif
