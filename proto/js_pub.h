/* JetStream publish: the directives a published message carries in its header block, and
 * the acknowledgement nats-server answers it with.
 *
 * The one idea: decide exactly what nats-server decides from the bytes alone, and leave
 * every decision that needs the stream's state to the broker, at a named place. Header
 * lookup copies nats-server's byte-level rules and quirks (js_pub_directives.c lists them);
 * acks are written byte for byte as nats-server 2.15.1 writes them (js_pub_ack.c). A
 * publish is checked in stages (enum js_pub_stage, js_pub_check.c) that interleave with
 * the broker's own checks so that a message with several faults gets the error
 * nats-server would give first. Pure functions, any thread, no allocation: parsed values
 * borrow from the caller's header block. */
#ifndef IONATS_PROTO_JS_PUB_H
#define IONATS_PROTO_JS_PUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes borrowed from the caller. `bytes == NULL` means absent; a present text may be
 * empty. Never NUL-terminated. */
struct js_pub_text {
    const char *bytes;
    size_t length;
};

/* The inline status nats-server cuts out before storing a published message:
 * `NATS/1.0 503 x\r\nK: v\r\n\r\n` is stored as `NATS/1.0\r\nK: v\r\n\r\n`, i.e. bytes
 * [cut_start, cut_end) of the block are dropped. cut_start == cut_end when nothing is cut.
 * stored_length is the length of the header as stored; 0 means the message is stored
 * without a header (what remains is as long as the empty block `NATS/1.0\r\n\r\n`). */
struct js_pub_status {
    size_t cut_start;
    size_t cut_end;
    size_t stored_length;
};

enum js_pub_rollup {
    JS_PUB_ROLLUP_NONE,    /* Nats-Rollup absent or empty */
    JS_PUB_ROLLUP_SUBJECT, /* "sub", any ASCII case */
    JS_PUB_ROLLUP_ALL,     /* "all", any ASCII case */
    JS_PUB_ROLLUP_INVALID,
};

enum js_pub_ttl {
    JS_PUB_TTL_NONE,    /* absent, empty, or a plain integer that is 0 ("00") */
    JS_PUB_TTL_SECONDS, /* ttl_seconds > 0 */
    JS_PUB_TTL_NEVER,   /* "never", any ASCII case */
    JS_PUB_TTL_INVALID, /* 10165 at JS_PUB_STAGE_TTL */
};

enum js_pub_commit {
    JS_PUB_COMMIT_NONE,    /* Nats-Batch-Commit absent */
    JS_PUB_COMMIT_ONE,     /* "1": this message commits the batch */
    JS_PUB_COMMIT_EOB,     /* "eob": commits the batch and is itself not stored */
    JS_PUB_COMMIT_INVALID, /* present with any other value, empty included */
};

/* What a published message asks of its stream. Raw values are as nats-server's lookup
 * finds them (see js_pub_directives.c); interpreted fields follow nats-server's own reading, where
 * "set" mostly means present and non-empty. Every text borrows from the parsed block. */
struct js_pub_directives {
    struct js_pub_status status;
    struct js_pub_text msg_id;                         /* Nats-Msg-Id: dedupe when non-empty */
    struct js_pub_text expected_stream;                /* Nats-Expected-Stream */
    struct js_pub_text expected_last_seq_text;         /* Nats-Expected-Last-Sequence */
    struct js_pub_text expected_last_subject_seq_text; /* Nats-Expected-Last-Subject-Sequence */
    struct js_pub_text expected_last_subject;          /* …-Sequence-Subject (2.11) */
    struct js_pub_text expected_last_msg_id;           /* Nats-Expected-Last-Msg-Id */
    struct js_pub_text rollup_text;                    /* Nats-Rollup */
    struct js_pub_text ttl_text;                       /* Nats-TTL (2.11) */
    struct js_pub_text incr;              /* Nats-Incr (2.12): [+-]?[0-9]+ when valid */
    struct js_pub_text batch_id;          /* Nats-Batch-Id (2.12) */
    struct js_pub_text batch_seq_text;    /* Nats-Batch-Sequence */
    struct js_pub_text batch_commit_text; /* Nats-Batch-Commit */
    struct js_pub_text stream_source;     /* Nats-Stream-Source: refused from clients */

    /* A non-empty value that is not a decimal number reads as 2^64 - 1 and a long one
     * wraps modulo 2^64, as nats-server's parseInt64 does; the check then fails with
     * "wrong last sequence" (10071) carrying the stream's actual value. */
    bool expected_last_seq_set;
    uint64_t expected_last_seq;
    bool expected_last_subject_seq_set;
    uint64_t expected_last_subject_seq;
    enum js_pub_rollup rollup;
    enum js_pub_ttl ttl;
    int64_t ttl_seconds; /* for JS_PUB_TTL_SECONDS; -1 for JS_PUB_TTL_NEVER; else 0 */
    bool incr_set;       /* non-empty Nats-Incr */
    bool incr_valid;
    bool batch;         /* non-empty Nats-Batch-Id: the atomic batch path */
    bool batch_seq_set; /* a decimal number below 2^64 */
    uint64_t batch_seq;
    enum js_pub_commit batch_commit;
};

/* The value of header `name` in `block` (a header block as a message carries it), found
 * as nats-server's sliceHeader finds it: the first line that starts with `name` and ':',
 * the value without its leading spaces. Absent: bytes NULL. `name` starts "Na" (every
 * NATS header does: the lookup relies on it). */
struct js_pub_text js_pub_header_value(const char *block, size_t length, const char *name);

/* Reads the header block of a published message (`block` of `length` bytes exactly as
 * HPUB carried it, final CRLFs included; NULL/0 for PUB). Accepts any bytes: nothing is
 * malformed at this level, values that are wrong are recorded as such. Time is linear in
 * `length` per header name. */
void js_pub_directives_parse(const char *block, size_t length,
                             struct js_pub_directives *directives);

/* What the stream's configuration says about the optional features. */
struct js_pub_rules {
    bool allow_rollup; /* allow_rollup_hdrs */
    bool deny_purge;   /* a rollup is a purge: refused when set */
    bool allow_msg_ttl;
    bool allow_msg_counter;
    bool allow_atomic;
};

/* The publish being checked. */
struct js_pub_context {
    struct js_pub_text stream; /* the stream's name */
    size_t payload_length;
};

/* Where each check sits. A single message (not batch) on a standalone server, in
 * nats-server 2.15's order; [broker] marks what needs state and is not done here:
 *   [broker] sealed 10109; file message too large 10077
 *   JS_PUB_STAGE_HEADERS: counter (10171 invalid, 10168 disabled, 10170 payload, 10171
 *       with an expected-* or rollup header), 10060 expected stream, 10166 TTL disabled,
 *       10193 subject given for the expected last subject sequence without the sequence
 *   [broker] expected last subject sequence, then expected last sequence: 10071 with the
 *       stream's value; message schedules (not handled here)
 *   JS_PUB_STAGE_SOURCE: 10227 Nats-Stream-Source from a client
 *   [broker] Nats-Msg-Id seen in the duplicate window → duplicate ack, no error;
 *       expected last msg id → 10070 with the stream's last id
 *   JS_PUB_STAGE_ROLLUP: 10111 rollup not permitted / value invalid; 10169 counter stream
 *       without Nats-Incr
 *   [broker] counter broken 10172; message size 10054; header over 65535 bytes 10097;
 *       resources 10023, account limits
 *   JS_PUB_STAGE_TTL: 10165 invalid TTL
 * An atomic batch message (directives.batch) goes another way:
 *   [broker] sealed, resources, account limits, message size
 *   JS_PUB_STAGE_BATCH_ENTRY: 10174 disabled, 10179 id over 64 bytes, 10175 sequence
 *   [broker] unknown batch with sequence ≠ 1 → 10199 / 10176; in-flight limits 10210
 *   JS_PUB_STAGE_BATCH_COMMIT_VALUE: 10200 commit value invalid
 *   [broker] gaps 10176, size 10199, staging; a message that does not commit is answered
 *       with an empty message (no header, no payload). At commit, for each message:
 *   JS_PUB_STAGE_BATCH_MESSAGE: 10177 Nats-Expected-Last-Msg-Id; [broker] header over
 *       65535 bytes 10097; then the counter and stream checks of HEADERS, and the TTL
 *       whole (10166 disabled, else 10165 invalid)
 *   [broker] duplicate msg id in or before the batch 10201
 *   JS_PUB_STAGE_SOURCE
 *   JS_PUB_STAGE_BATCH_COUNTER: 10169 counter stream without Nats-Incr
 *   [broker] counter total and size; expected last sequence, expected last subject
 *       sequence (with the batch's own constraints)
 *   JS_PUB_STAGE_BATCH_ROLLUP: 10193, then [broker] schedules, then 10111 not permitted /
 *       invalid value ([broker] a valid rollup's in-batch rules come last)
 *   [broker] the rest of the commit. */
enum js_pub_stage {
    JS_PUB_STAGE_HEADERS,
    JS_PUB_STAGE_SOURCE,
    JS_PUB_STAGE_ROLLUP,
    JS_PUB_STAGE_TTL,
    JS_PUB_STAGE_BATCH_ENTRY,
    JS_PUB_STAGE_BATCH_COMMIT_VALUE,
    JS_PUB_STAGE_BATCH_MESSAGE,
    JS_PUB_STAGE_BATCH_COUNTER,
    JS_PUB_STAGE_BATCH_ROLLUP,
};

/* The publish errors this module names. Each has nats-server's code, err_code and text
 * (js_pub_error_api); the broker's own stream errors go through js_pub_nak_write. */
enum js_pub_error {
    JS_PUB_OK = 0,
    JS_PUB_ERR_STREAM_NOT_MATCH,          /* 400 10060 */
    JS_PUB_ERR_WRONG_LAST_MSG_ID,         /* 400 10070 "wrong last msg ID: {id}" */
    JS_PUB_ERR_WRONG_LAST_SEQUENCE,       /* 400 10071 "wrong last sequence: {seq}" */
    JS_PUB_ERR_ROLLUP_NOT_PERMITTED,      /* 500 10111 */
    JS_PUB_ERR_ROLLUP_INVALID,            /* 500 10111 "rollup value invalid: \"{value}\"" */
    JS_PUB_ERR_TTL_INVALID,               /* 400 10165 */
    JS_PUB_ERR_TTL_DISABLED,              /* 400 10166 */
    JS_PUB_ERR_INCR_DISABLED,             /* 400 10168 */
    JS_PUB_ERR_INCR_MISSING,              /* 400 10169 */
    JS_PUB_ERR_INCR_PAYLOAD,              /* 400 10170 */
    JS_PUB_ERR_INCR_INVALID,              /* 400 10171 */
    JS_PUB_ERR_ATOMIC_DISABLED,           /* 400 10174 */
    JS_PUB_ERR_ATOMIC_MISSING_SEQ,        /* 400 10175 */
    JS_PUB_ERR_ATOMIC_INCOMPLETE,         /* 400 10176 */
    JS_PUB_ERR_ATOMIC_UNSUPPORTED_HEADER, /* 400 10177 "… header used: {header}" */
    JS_PUB_ERR_ATOMIC_INVALID_ID,         /* 400 10179 */
    JS_PUB_ERR_LAST_SUBJECT_SEQ_MISSING,  /* 400 10193 */
    JS_PUB_ERR_ATOMIC_TOO_LARGE,          /* 400 10199 "… too large: {size}" */
    JS_PUB_ERR_ATOMIC_INVALID_COMMIT,     /* 400 10200 */
    JS_PUB_ERR_ATOMIC_DUPLICATE_MSG_ID,   /* 400 10201 */
    JS_PUB_ERR_SOURCE_HEADER,             /* 400 10227 */
    JS_PUB_ERR_ATOMIC_TOO_MANY_INFLIGHT,  /* 429 10210 */
    JS_PUB_ERROR_COUNT,
};

/* The longest Nats-Batch-Id nats-server accepts, in bytes. */
enum { JS_PUB_BATCH_ID_LENGTH_MAX = 64 };

/* Runs one stage's checks in nats-server's order; JS_PUB_OK when all pass. */
enum js_pub_error js_pub_check(const struct js_pub_directives *directives,
                               const struct js_pub_rules *rules,
                               const struct js_pub_context *context, enum js_pub_stage stage);

/* nats-server's fields of a JetStream API error. `description` is the fixed text, or the
 * text before the placeholder for the templated errors (all end in their placeholder). */
struct js_pub_api_error {
    int code;
    uint16_t err_code;
    const char *description;
};

const struct js_pub_api_error *js_pub_error_api(enum js_pub_error error);

/* A success acknowledgement. */
struct js_pub_ack {
    struct js_pub_text stream;
    struct js_pub_text domain; /* the JetStream domain; absent or empty: none */
    uint64_t seq;              /* the stored sequence, or the duplicate's */
    bool duplicate;
    struct js_pub_text batch_id; /* non-empty: the commit of this batch */
    uint64_t batch_count;
    struct js_pub_text counter_value; /* present: a counter stream's new total */
};

/* What fills a templated error's placeholder: `number` for {seq} and {size}, `text` for
 * {id}, {header} and the rollup value (the raw Nats-Rollup value: lowered and quoted
 * here, as nats-server does). */
struct js_pub_error_args {
    uint64_t number;
    struct js_pub_text text;
};

/* Bounds for the reply buffer: nothing written exceeds
 * JS_PUB_REPLY_FIXED_SIZE_MAX + JS_PUB_REPLY_EXPANSION_MAX * (sum of the lengths of the
 * texts given). The fixed part covers keys, punctuation, three 20-digit numbers and the
 * longest error text (below 100 bytes); one input byte becomes at most 6 (`\u0001`). */
enum { JS_PUB_REPLY_FIXED_SIZE_MAX = 256, JS_PUB_REPLY_EXPANSION_MAX = 6 };

/* Writes the success ack, `{"stream":"S","seq":N}` and its variants, into `buffer`.
 * 0 and *length, or -ENOBUFS when `size` is too small (nothing useful in `buffer`). */
int js_pub_ack_write(const struct js_pub_ack *ack, char *buffer, size_t size, size_t *length);

/* Writes the error ack for one of this module's errors:
 * `{"error":{"code":C,"err_code":E,"description":"D"},"stream":"S","seq":0}`. */
int js_pub_error_ack_write(struct js_pub_text stream, enum js_pub_error error,
                           const struct js_pub_error_args *args, char *buffer, size_t size,
                           size_t *length);

/* The same shape for any other API error (sealed, limits, store failed): `description`
 * is the final text, escaped here; err_code 0 and an empty description are left out, as
 * nats-server's omitempty does. */
int js_pub_nak_write(struct js_pub_text stream, int code, uint16_t err_code,
                     struct js_pub_text description, char *buffer, size_t size, size_t *length);

#endif
