/* JetStream consumer role of a connection (js-consume): drains a stream through one
 * consumer, pull (pipelined MSG.NEXT requests) or push (deliveries to an inbox of ours),
 * acks every delivery when the policy is explicit, and fails the run unless every message
 * comes exactly once and in stream order (see jsconsume.c). Its state is owned by the
 * connection and touched by the send side's thread only; the names below are also used by
 * the main thread, which creates the consumer before the run. */
#ifndef IONATS_BENCH_JSCONSUME_H
#define IONATS_BENCH_JSCONSUME_H

#include "bench/conn.h"

/* The pull consumer's durable name (the push consumer is ephemeral: the server names it). */
#define JSCONSUME_PULL_NAME "ionats_bench"

enum {
    /* An inbox or deliver subject of this process, with room for a slot number. */
    JSCONSUME_SUBJECT_SIZE_MAX = 96,
    /* Pull requests in flight at most, each on a subscription of its own. Two are enough
     * for the half-batch rule; more only while small ones (the stream's end, the rest of an
     * expired one) wait beside them. */
    JSCONSUME_SLOTS = 8,
    /* The handshake's SUB lines: one per slot. */
    JSCONSUME_SUBSCRIBE_SIZE_MAX = JSCONSUME_SLOTS * (JSCONSUME_SUBJECT_SIZE_MAX + 16),
};

/* The push consumer's deliver subject: "_INBOX.ionats_bench.<pid>.push". */
void jsconsume_deliver_subject(char *subject, size_t subject_size);

/* The protocol lines the connection's handshake sends, at most JSCONSUME_SUBSCRIBE_SIZE_MAX
 * bytes: pull subscribes to the inbox of each request slot; push sends nothing yet (it
 * subscribes in the measured loop, which is when the server starts delivering). */
void jsconsume_subscribe_line(const struct bench_opts *opts, char *line, size_t line_size);

/* Prepares the connection to consume `target` messages. Returns 0 or -ENOMEM. */
int jsconsume_setup(struct conn *conn, uint64_t target);

/* Frees what jsconsume_setup allocated (conn_destroy calls it). */
void jsconsume_destroy(struct conn *conn);

/* Appends what is due to the output buffer: push, the SUB to the deliver subject; pull, the
 * next MSG.NEXT requests. Called before every send is considered (conn_kick). */
void jsconsume_queue(struct conn *conn);

/* One whole frame on the connection's subscription: a delivery, or a status (100
 * heartbeat, 404 / 408 ending a pull request; any other fails the run). */
void jsconsume_on_frame(struct conn *conn, const struct scan_frame *frame);

/* The PONG to the PING that followed the last delivery: every ack before it was read. */
void jsconsume_on_pong(struct conn *conn);

/* Fails the side when deliveries stopped coming before the last one. */
void jsconsume_tick(struct conn *conn);

/* Copies the connection's counts (requests, statuses, acks) into the side's result. */
void jsconsume_collect(const struct conn *conn, struct side_result *result);

#endif
