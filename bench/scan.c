/* Split-safe scanner of server → client NATS frames: see scan.h for the format.
 *
 * Two states: between frames (looking for a control line) and inside a payload
 * (payload_left > 0). A control line is only parsed once its '\n' is in the buffer, so the
 * caller carries at most one partial line; payloads are skipped wherever they are split.
 * Tokens are separated by runs of spaces or tabs, as nats-server's parser allows.
 * With SCAN_F_BODY a MSG line is handed out only once its payload is in the buffer as
 * well; until then nothing of the frame is consumed, and the payload is then passed over
 * by the same path that skips split payloads. */
#include "bench/scan.h"

#include "base/assert.h"

#include <errno.h>
#include <string.h>

enum {
    /* Payload sizes are bounded by max_payload (1 MiB default, 64 MiB max): 10 digits is
     * already absurd, and it keeps the parsed value far from overflow. */
    SCAN_SIZE_DIGITS_MAX = 10,
    SCAN_CRLF_SIZE = 2,
    SCAN_MSG_TOKENS_MAX = 5, /* HMSG subject sid reply hdr total */
    /* scan_line's answer when a SCAN_F_BODY frame still lacks part of its payload. */
    SCAN_INCOMPLETE = 1,
};

void scan_init(struct scan *scan, const struct scan_sink *sink, unsigned flags)
{
    ASSERT(sink != NULL);
    ASSERT(sink->on_msg != NULL);
    /* A stamped message reports when its payload starts, after its line is gone. */
    ASSERT(!((flags & SCAN_F_STAMP) && (flags & SCAN_F_REPLY)));
    ASSERT(!((flags & SCAN_F_BODY) && (flags & (SCAN_F_STAMP | SCAN_F_REPLY))));
    ASSERT(!(flags & SCAN_F_BODY) || sink->on_body != NULL);
    memset(scan, 0, sizeof *scan);
    scan->sink = sink;
    scan->flags = flags;
}

static bool scan_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static char scan_lower(char c)
{
    return (char)(c | 0x20); /* ASCII letters only: callers compare against letters */
}

/* True when `line` starts with the operation `op` (lower case) followed by a blank or the
 * end of the line. */
static bool scan_op_is(const char *line, size_t line_size, const char *op, size_t op_size)
{
    if (line_size < op_size) {
        return false;
    }
    for (size_t i = 0; i < op_size; i++) {
        if (scan_lower(line[i]) != op[i]) {
            return false;
        }
    }
    return line_size == op_size || scan_is_blank(line[op_size]);
}

/* Parses the last token of a control line as a decimal size. Accepts 1..10 digits
 * preceded by a blank; rejects anything else. */
static int scan_last_size(const char *line, size_t line_size, uint64_t *size_out)
{
    size_t end = line_size;
    while (end > 0 && scan_is_blank(line[end - 1])) {
        end--;
    }
    size_t start = end;
    while (start > 0 && line[start - 1] >= '0' && line[start - 1] <= '9') {
        start--;
    }
    if (start == end || end - start > SCAN_SIZE_DIGITS_MAX) {
        return -EPROTO;
    }
    if (start == 0 || !scan_is_blank(line[start - 1])) {
        return -EPROTO;
    }
    uint64_t size = 0;
    for (size_t i = start; i < end; i++) {
        size = size * 10 + (uint64_t)(line[i] - '0');
    }
    *size_out = size;
    return 0;
}

/* Splits the arguments of a MSG/HMSG line into tokens; returns their count, or -EPROTO
 * when there are more than SCAN_MSG_TOKENS_MAX. */
static int scan_tokens(const char *args, size_t args_size, const char **tokens, size_t *sizes)
{
    int count = 0;
    size_t i = 0;
    while (i < args_size) {
        while (i < args_size && scan_is_blank(args[i])) {
            i++;
        }
        if (i == args_size) {
            break;
        }
        if (count == SCAN_MSG_TOKENS_MAX) {
            return -EPROTO;
        }
        size_t start = i;
        while (i < args_size && !scan_is_blank(args[i])) {
            i++;
        }
        tokens[count] = args + start;
        sizes[count] = i - start;
        count++;
    }
    return count;
}

/* What follows the control line being scanned: bytes already in the buffer. */
struct scan_after {
    const char *data;
    size_t size;
};

/* A decimal token of 1..SCAN_SIZE_DIGITS_MAX digits; -EPROTO for anything else. */
static int scan_decimal(const char *token, size_t token_size, uint64_t *value)
{
    if (token_size == 0 || token_size > SCAN_SIZE_DIGITS_MAX) {
        return -EPROTO;
    }
    uint64_t parsed = 0;
    for (size_t i = 0; i < token_size; i++) {
        if (token[i] < '0' || token[i] > '9') {
            return -EPROTO;
        }
        parsed = parsed * 10 + (uint64_t)(token[i] - '0');
    }
    *value = parsed;
    return 0;
}

/* SCAN_F_BODY: hands out the frame whose payload of `size` bytes (for HMSG, headers and
 * payload) starts at `after`, or returns SCAN_INCOMPLETE when it has not all arrived yet.
 * MSG takes 3 tokens (subject sid size) or 4 (with a reply before the size); HMSG 4 or 5
 * (subject sid [reply] header_size total_size), the header size at most the total. */
static int scan_body(struct scan *scan, const char *line, size_t line_size, size_t op_size,
                     bool headers, uint64_t size, struct scan_after after)
{
    if (size > SCAN_BODY_SIZE_MAX) {
        return -EMSGSIZE;
    }
    if (after.size < size + SCAN_CRLF_SIZE) {
        return SCAN_INCOMPLETE;
    }
    const char *tokens[SCAN_MSG_TOKENS_MAX];
    size_t sizes[SCAN_MSG_TOKENS_MAX];
    int count = scan_tokens(line + op_size, line_size - op_size, tokens, sizes);
    int without_reply = headers ? 4 : 3;
    if (count < without_reply || count > without_reply + 1) {
        return -EPROTO;
    }
    struct scan_frame frame = {
        .subject = tokens[0],
        .subject_size = sizes[0],
        .sid = tokens[1],
        .sid_size = sizes[1],
    };
    if (count == without_reply + 1) {
        frame.reply = tokens[2];
        frame.reply_size = sizes[2];
    }
    uint64_t headers_size = 0;
    if (headers) {
        int rc = scan_decimal(tokens[count - 2], sizes[count - 2], &headers_size);
        if (rc < 0 || headers_size > size) {
            return -EPROTO;
        }
        frame.headers = after.data;
        frame.headers_size = (size_t)headers_size;
    }
    frame.payload = after.data + headers_size;
    frame.payload_size = (size_t)(size - headers_size);
    scan->sink->on_body(scan->sink->context, &frame);
    scan->payload_left = size + SCAN_CRLF_SIZE;
    scan->payload_seen = 0;
    return 0;
}

/* A MSG (headers = false) or HMSG line. Without a reply the argument count is 3 / 4,
 * with one 4 / 5; the reply is the third token either way. */
static int scan_msg(struct scan *scan, const char *line, size_t line_size, size_t op_size,
                    bool headers, struct scan_after after)
{
    uint64_t size = 0;
    int rc = scan_last_size(line, line_size, &size);
    if (rc < 0) {
        return rc;
    }
    if (scan->flags & SCAN_F_BODY) {
        return scan_body(scan, line, line_size, op_size, headers, size, after);
    }
    const char *reply = NULL;
    size_t reply_size = 0;
    if (scan->flags & SCAN_F_REPLY) {
        const char *tokens[SCAN_MSG_TOKENS_MAX];
        size_t sizes[SCAN_MSG_TOKENS_MAX];
        int count = scan_tokens(line + op_size, line_size - op_size, tokens, sizes);
        int with_reply = headers ? 5 : 4;
        if (count < with_reply - 1) {
            return -EPROTO;
        }
        if (count == with_reply) {
            reply = tokens[2];
            reply_size = sizes[2];
        }
    }
    scan->payload_left = size + SCAN_CRLF_SIZE;
    scan->payload_seen = 0;
    scan->stamp_wanted = (scan->flags & SCAN_F_STAMP) && size >= SCAN_STAMP_SIZE;
    if (!scan->stamp_wanted) {
        scan->sink->on_msg(scan->sink->context, reply, reply_size, 0);
    }
    return 0;
}

/* One complete control line, without its '\n' (a trailing '\r' is dropped here), and
 * what follows it in the buffer. Returns 0, SCAN_INCOMPLETE or -errno. */
static int scan_line(struct scan *scan, const char *line, size_t line_size, struct scan_after after)
{
    if (line_size > 0 && line[line_size - 1] == '\r') {
        line_size--;
    }
    if (scan_op_is(line, line_size, "msg", 3)) {
        return scan_msg(scan, line, line_size, 3, false, after);
    }
    if (scan_op_is(line, line_size, "hmsg", 4)) {
        return scan_msg(scan, line, line_size, 4, true, after);
    }
    if (scan_op_is(line, line_size, "ping", 4)) {
        scan->sink->on_ping(scan->sink->context);
        return 0;
    }
    if (scan_op_is(line, line_size, "pong", 4)) {
        scan->sink->on_pong(scan->sink->context);
        return 0;
    }
    if (scan_op_is(line, line_size, "-err", 4)) {
        scan->sink->on_err(scan->sink->context, line, line_size);
        return 0;
    }
    if (scan_op_is(line, line_size, "+ok", 3) || scan_op_is(line, line_size, "info", 4)) {
        return 0;
    }
    return -EPROTO;
}

static int64_t scan_stamp_decode(const uint8_t *stamp)
{
    uint64_t value = 0;
    for (int i = SCAN_STAMP_SIZE - 1; i >= 0; i--) {
        value = (value << 8) | stamp[i];
    }
    return (int64_t)value;
}

/* Passes over up to `size` bytes of the current payload; returns how many. */
static size_t scan_payload(struct scan *scan, const char *data, size_t size)
{
    size_t take = scan->payload_left < size ? (size_t)scan->payload_left : size;
    if (scan->stamp_wanted) {
        size_t need = SCAN_STAMP_SIZE - (size_t)scan->payload_seen;
        size_t copy = need < take ? need : take;
        memcpy(scan->stamp + scan->payload_seen, data, copy);
        if (copy == need) {
            scan->stamp_wanted = false;
            scan->sink->on_msg(scan->sink->context, NULL, 0, scan_stamp_decode(scan->stamp));
        }
    }
    scan->payload_seen += take;
    scan->payload_left -= take;
    return take;
}

long scan_feed(struct scan *scan, const char *data, size_t size)
{
    size_t pos = 0;
    while (pos < size) {
        if (scan->payload_left > 0) {
            pos += scan_payload(scan, data + pos, size - pos);
            continue;
        }
        const char *line = data + pos;
        const char *newline = memchr(line, '\n', size - pos);
        if (newline == NULL) {
            if (size - pos > SCAN_CONTROL_LINE_MAX) {
                return -EMSGSIZE;
            }
            break;
        }
        size_t after_pos = (size_t)(newline - data) + 1;
        struct scan_after after = {.data = data + after_pos, .size = size - after_pos};
        int rc = scan_line(scan, line, (size_t)(newline - line), after);
        if (rc < 0) {
            return rc;
        }
        if (rc == SCAN_INCOMPLETE) {
            break; /* the whole frame stays for the next call */
        }
        pos = after_pos;
    }
    return (long)pos;
}
