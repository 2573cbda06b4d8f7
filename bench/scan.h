/* Scanner for what a NATS server sends a client: counts MSG frames without parsing more
 * than it must, and survives frames split anywhere across reads.
 *
 * Wire format (server → client), every control line ending in CRLF:
 *   MSG <subject> <sid> [reply] <#bytes>\r\n<payload: #bytes>\r\n
 *   HMSG <subject> <sid> [reply] <#hdr> <#total>\r\n<#total bytes>\r\n
 *   PING\r\n  PONG\r\n  +OK\r\n  -ERR '<text>'\r\n  INFO {json}\r\n
 * The one idea: a frame's size is the last token of its control line, so counting a
 * message costs one memchr for '\n', a backwards digit parse and a jump over the payload.
 * Payloads are never copied; only an incomplete control line is left for the caller to
 * carry to the next read. The first SCAN_STAMP_SIZE payload bytes can be collected (even
 * when split) for latency stamps, and the reply subject handed out for repliers. Where the
 * payload itself matters (JetStream acks and API replies, a few dozen to a few thousand
 * bytes, and JetStream deliveries, whose reply subject and status headers matter too) the
 * scanner can instead wait for whole frames and hand out subject, reply, headers and
 * payload: then the caller carries an incomplete frame, not just an incomplete line.
 * A scanner belongs to one connection and is used by the thread that owns it. */
#ifndef IONATS_BENCH_SCAN_H
#define IONATS_BENCH_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    /* A send-time stamp: int64 CLOCK_MONOTONIC ns, little-endian, at payload offset 0. */
    SCAN_STAMP_SIZE = 8,
    /* nats-server's max_control_line: a longer line without '\n' is a broken stream. */
    SCAN_CONTROL_LINE_MAX = 4096,
    /* SCAN_F_BODY: the largest payload handed out whole. A stream info reply is under 1 KiB
     * with one subject; a larger payload is refused rather than outgrowing the buffer. */
    SCAN_BODY_SIZE_MAX = 16 * 1024,
    /* SCAN_F_BODY: what the caller may have to carry, an incomplete frame at most. */
    SCAN_FRAME_SIZE_MAX = SCAN_CONTROL_LINE_MAX + 2 + SCAN_BODY_SIZE_MAX + 2,
};

/* SCAN_F_BODY: one whole MSG or HMSG, every pointer borrowed from the buffer being scanned
 * and valid only during the on_body call. */
struct scan_frame {
    /* The message's own subject: for a JetStream delivery the stored message's, not the
     * subject the subscription took (the sid tells that one). */
    const char *subject;
    size_t subject_size;
    const char *sid;
    size_t sid_size;
    const char *reply; /* NULL when the message has none */
    size_t reply_size;
    /* HMSG: the header block, "NATS/1.0..." up to and with its blank line; MSG: NULL. */
    const char *headers;
    size_t headers_size;
    const char *payload; /* after the headers, without the trailing CRLF */
    size_t payload_size;
};

/* What a scanned frame tells its owner. Pointers are borrowed from the buffer being
 * scanned and valid only during the call. */
struct scan_sink {
    void *context;
    /* One message. `reply` is NULL unless SCAN_F_REPLY; `stamp_ns` is 0 unless
     * SCAN_F_STAMP and the payload was at least SCAN_STAMP_SIZE bytes. */
    void (*on_msg)(void *context, const char *reply, size_t reply_size, int64_t stamp_ns);
    void (*on_ping)(void *context);
    void (*on_pong)(void *context);
    /* An -ERR line, without its CRLF. */
    void (*on_err)(void *context, const char *line, size_t line_size);
    /* SCAN_F_BODY only, instead of on_msg: one whole message (see struct scan_frame). */
    void (*on_body)(void *context, const struct scan_frame *frame);
};

enum scan_flags {
    SCAN_F_STAMP = 1u << 0, /* collect the payload's first 8 bytes */
    SCAN_F_REPLY = 1u << 1, /* tokenise MSG lines to hand out the reply subject */
    /* The two are exclusive: a stamp is read after the line (and its reply) is gone. */
    SCAN_F_BODY = 1u << 2, /* whole frames to on_body; excludes the other two */
};

struct scan {
    const struct scan_sink *sink; /* borrowed for the scanner's life */
    unsigned flags;
    uint64_t payload_left; /* bytes of the current payload + CRLF not yet seen */
    uint64_t payload_seen; /* bytes of the current payload already passed */
    bool stamp_wanted;     /* the current message still owes its on_msg call */
    uint8_t stamp[SCAN_STAMP_SIZE];
};

void scan_init(struct scan *scan, const struct scan_sink *sink, unsigned flags);

/* Scans `size` bytes. Returns how many were consumed (>= 0): the rest, an incomplete
 * control line (with SCAN_F_BODY: an incomplete frame, at most SCAN_FRAME_SIZE_MAX bytes),
 * must be passed again at the start of the next call followed by new bytes.
 * Returns -EPROTO for an unknown operation or a malformed MSG line, and -EMSGSIZE for a
 * control line longer than SCAN_CONTROL_LINE_MAX or, with SCAN_F_BODY, a payload larger
 * than SCAN_BODY_SIZE_MAX. */
long scan_feed(struct scan *scan, const char *data, size_t size);

#endif
