/* One NATS connection of the load generator and what it does: publish flat out or at a
 * fixed rate, subscribe and count, request and wait, reply, or publish into a JetStream
 * stream and count its acks.
 *
 * The one idea: one send and one recv in flight per connection. A send either points at
 * the side's read-only batch of PUB frames (publishing flat out costs one SQE per
 * batch_bytes, not per message), at a JetStream publisher's window of prebuilt frames,
 * or at the connection's output buffer, which is double
 * buffered: frames are appended to out[out_fill] while the other buffer is with the
 * kernel. Received bytes are scanned in place (scan.h); only a split control line is moved.
 * A JetStream consumer appends an ack per delivery as it scans; its recv is submitted only
 * while the buffer being filled has room for the acks of a whole receive buffer.
 * A connection belongs to its side and is touched by that side's thread only. */
#ifndef IONATS_BENCH_CONN_H
#define IONATS_BENCH_CONN_H

#include "bench/scan.h"
#include "bench/side.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum conn_role {
    CONN_ROLE_PUB, /* publisher: flat out from the batch, or paced with stamps */
    CONN_ROLE_SUB, /* subscriber: counts, reads stamps in latency runs */
    CONN_ROLE_REQ, /* requester: one request in flight, waits for its reply */
    CONN_ROLE_REP, /* replier: answers every request with `size` bytes */
    CONN_ROLE_JS,  /* JetStream publisher: a window of publishes awaiting acks (jspub.c) */
    CONN_ROLE_JSC, /* JetStream consumer: requests, deliveries, acks (jsconsume.c) */
};

enum {
    /* Room always left in an output buffer for PING/PONG answers. */
    CONN_CONTROL_RESERVE = 64,
    /* Receive buffer of connections that only see control lines and replies. */
    CONN_RX_CONTROL_SIZE = 16 * 1024,
    /* Receive buffer of subscribers and repliers: one recv moves up to this much; larger
     * buffers stopped paying off in measurements (fewer than 1 recv per 256 KiB is noise). */
    CONN_RX_DATA_SIZE = 256 * 1024,
};

struct jsconsume;

struct conn_out {
    char *data; /* owned */
    size_t used;
    size_t capacity;
};

struct conn {
    struct side *side; /* borrowed: the owning side */
    int fd;            /* owned; closed by conn_destroy */
    enum conn_role role;
    unsigned index; /* within its side */
    struct scan scan;
    struct scan_sink sink;

    char *rx; /* owned; [rx_used, rx_capacity) is the kernel's while a recv is in flight */
    size_t rx_used;
    size_t rx_capacity;
    /* A JetStream consumer's next recv waits for a send to make room for its acks. */
    bool recv_deferred;

    /* The send in flight: tx_data is held by the kernel until its completion. */
    const char *tx_data;
    size_t tx_left;
    bool send_in_flight;
    struct conn_out out[2];
    unsigned out_fill; /* the buffer frames are appended to; the other may be in flight */

    /* Send roles. */
    uint64_t target; /* messages / requests to send; UINT64_MAX until the duration ends */
    uint64_t sent;
    bool ping_sent;
    bool finished;
    int64_t finished_ns;
    int64_t pace_start_ns; /* paced: intended time of message i is start + i * interval */
    double pace_interval_ns;
    bool timer_armed;
    struct __kernel_timespec timer_at; /* read by the kernel at submission */
    char *request;                     /* owned: requester's whole PUB frame */
    size_t request_size;
    bool request_due;
    int64_t request_sent_ns;

    /* Receive roles (a requester counts its replies here too). */
    uint64_t received;

    /* JetStream publisher: publish i goes out as window frame i % js_window and is in
     * flight until the ack to that frame's inbox comes back (see jspub.c). */
    char *js_frames;      /* owned: js_window frames of js_frame_size; only subject tokens
                           * change once built, never while a send is in flight */
    size_t js_frame_size; /* every frame has the same size: slot numbers are zero-padded */
    int64_t *js_sent_ns;  /* owned: per slot, when its publish was queued; 0: slot free */
    uint32_t js_window;
    /* --subjects N: the frame of publish i carries "<subject>.<i mod N>". The token's digits
     * sit at one offset in every frame and are rewritten in place before a run is sent,
     * unless N divides the window (then each slot keeps the subject it was built with). */
    uint32_t js_subjects;             /* N; 0: the one plain subject, nothing to rewrite */
    bool js_subject_rewrite;          /* N > 1 and N does not divide js_window */
    size_t js_subject_offset;         /* of the token's first digit in each frame */
    unsigned js_subject_digits;       /* the digits of N - 1 */
    uint64_t acked;         /* acks with a stream and sequence */
    uint64_t refused;       /* acks with an error */
    int64_t js_progress_ns; /* the last ack, or the send that ended an empty window */

    /* JetStream consumer: target is the stream's messages, received those consumed. */
    struct jsconsume *jsc; /* owned (jsconsume_setup / jsconsume_destroy) */
};

/* Takes ownership of `fd` and sets the connection up for `role`; `leftover` is what the
 * handshake read past its PONG. Returns 0 or -ENOMEM. */
int conn_init(struct conn *conn, struct side *side, unsigned index, int fd, enum conn_role role,
              const char *leftover, size_t leftover_size);
void conn_destroy(struct conn *conn);

/* Called by the side's thread before its first turn: scans leftovers, arms the recv and
 * starts sending. */
void conn_start(struct conn *conn);

/* Dispatches a completion of `op` (SIDE_OP_SEND / RECV / TIMER) with result `res`. */
void conn_complete(struct conn *conn, enum side_op op, int res);

/* The side's periodic tick, for roles that watch for stalls (JetStream acks). */
void conn_tick(struct conn *conn);

/* Starts a send if none is in flight and there is something to send. */
void conn_kick(struct conn *conn);

/* Appends `size` bytes to the output buffer being filled; false when it lacks room. */
bool conn_append(struct conn *conn, const char *data, size_t size);

/* Reserves `size` bytes at the end of the output buffer being filled and returns them for
 * the caller to write; NULL when it lacks room. */
char *conn_claim(struct conn *conn, size_t size);

/* Free bytes in the output buffer being filled. */
size_t conn_out_room(const struct conn *conn);

#endif
