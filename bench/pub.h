/* Publisher role of a connection: flat out from the side's batch of frames, or paced at a
 * fixed rate with send-time stamps (see pub.c). Used by the send side's thread. */
#ifndef IONATS_BENCH_PUB_H
#define IONATS_BENCH_PUB_H

#include "bench/conn.h"

/* Builds the side's batch of identical PUB frames (flat out) or one frame (paced).
 * Returns 0 or -ENOMEM. */
int pub_build_frames(struct side *side);

/* Sets a publisher's schedule: its share of the messages and, when paced, its rate. */
void pub_setup(struct conn *conn, uint64_t target, double rate);

/* What to send next when the output buffer is empty: a slice of the batch, or the final
 * PING. False when there is nothing. */
bool pub_next_send(struct conn *conn, const char **data, size_t *size);

/* Paced: appends every frame that is due, sends, and arms the timer for the next one. */
void pub_pace(struct conn *conn);

void pub_timer_done(struct conn *conn, int res);

/* The server's PONG to our final PING: everything we sent has been processed. */
void pub_on_pong(struct conn *conn);

#endif
