/* JetStream publisher role of a connection: a window of publishes in flight, each counted
 * once the stream's ack to its reply inbox is back (see jspub.c). Used by the send side's
 * thread. */
#ifndef IONATS_BENCH_JSPUB_H
#define IONATS_BENCH_JSPUB_H

#include "bench/conn.h"

/* The inbox prefix publisher `index` of this process subscribes to (with ".*"); its
 * publishes reply to "<prefix>.<slot>". */
void jspub_inbox(unsigned index, char *inbox, size_t inbox_size);

/* Builds the publisher's window of frames and sets its share of the publishes.
 * Returns 0 or -ENOMEM. */
int jspub_setup(struct conn *conn, uint64_t target);

/* The run of consecutive free window slots to publish next, straight from the frames;
 * false when the window is full or the publisher is done. */
bool jspub_next_send(struct conn *conn, const char **data, size_t *size);

/* One ack (a whole MSG to the publisher's inbox): frees its slot, records its latency and
 * counts it as acked or, with an "error" in it, refused. */
void jspub_on_ack(struct conn *conn, const char *subject, size_t subject_size, const char *payload,
                  size_t payload_size);

/* Fails the side when acks stopped coming while publishes are in flight. */
void jspub_tick(struct conn *conn);

#endif
