/* JetStream publish acks: the success ack, the error acks and the error table behind them
 * (js_pub.h says what each writer writes).
 *
 * The one idea: text goes out encoded the two ways nats-server's Go encodes it, through
 * go_json.h. The success ack is built with fmt's %q (Go string quoting: `\x01`, `\u00a0`,
 * invalid UTF-8 as `\xff`), the error ack with encoding/json (`\u003c` for <>&, `\b`,
 * invalid UTF-8 as the character U+FFFD). Each writer fills the caller's buffer through a
 * lent go_json: no allocation, and -ENOBUFS when the ack does not fit whole. Go's
 * unicode.ToLower (for the rollup value) is table-driven over all of Unicode; rune_lower is
 * exact for ASCII, Latin-1, Latin Extended-A, basic Greek and Cyrillic, which covers what
 * clients send. Pure functions, any thread. */
#include "proto/js_pub.h"

#include "proto/go_json.h"

#include "base/assert.h"

#include <errno.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------------------ */

/* What follows an error's fixed text (server/errors.json; all placeholders are last). */
enum error_argument { ARG_NONE, ARG_NUMBER, ARG_TEXT, ARG_ROLLUP };

static const struct {
    struct js_pub_api_error api;
    enum error_argument argument;
} ERRORS[JS_PUB_ERROR_COUNT] = {
    [JS_PUB_OK] = {{0, 0, ""}, ARG_NONE},
    [JS_PUB_ERR_STREAM_NOT_MATCH] = {{400, 10060, "expected stream does not match"}, ARG_NONE},
    [JS_PUB_ERR_WRONG_LAST_MSG_ID] = {{400, 10070, "wrong last msg ID: "}, ARG_TEXT},
    [JS_PUB_ERR_WRONG_LAST_SEQUENCE] = {{400, 10071, "wrong last sequence: "}, ARG_NUMBER},
    [JS_PUB_ERR_ROLLUP_NOT_PERMITTED] = {{500, 10111, "rollup not permitted"}, ARG_NONE},
    [JS_PUB_ERR_ROLLUP_INVALID] = {{500, 10111, "rollup value invalid: "}, ARG_ROLLUP},
    [JS_PUB_ERR_TTL_INVALID] = {{400, 10165, "invalid per-message TTL"}, ARG_NONE},
    [JS_PUB_ERR_TTL_DISABLED] = {{400, 10166, "per-message TTL is disabled"}, ARG_NONE},
    [JS_PUB_ERR_INCR_DISABLED] = {{400, 10168, "message counters is disabled"}, ARG_NONE},
    [JS_PUB_ERR_INCR_MISSING] = {{400, 10169, "message counter increment is missing"}, ARG_NONE},
    [JS_PUB_ERR_INCR_PAYLOAD] = {{400, 10170, "message counter has payload"}, ARG_NONE},
    [JS_PUB_ERR_INCR_INVALID] = {{400, 10171, "message counter increment is invalid"}, ARG_NONE},
    [JS_PUB_ERR_ATOMIC_DISABLED] = {{400, 10174, "atomic publish is disabled"}, ARG_NONE},
    [JS_PUB_ERR_ATOMIC_MISSING_SEQ] = {{400, 10175, "atomic publish sequence is missing"},
                                       ARG_NONE},
    [JS_PUB_ERR_ATOMIC_INCOMPLETE] = {{400, 10176, "atomic publish batch is incomplete"}, ARG_NONE},
    [JS_PUB_ERR_ATOMIC_UNSUPPORTED_HEADER] = {{400, 10177,
                                               "atomic publish unsupported header used: "},
                                              ARG_TEXT},
    [JS_PUB_ERR_ATOMIC_INVALID_ID] = {{400, 10179, "atomic publish batch ID is invalid"}, ARG_NONE},
    [JS_PUB_ERR_LAST_SUBJECT_SEQ_MISSING] =
        {{400, 10193, "missing sequence for expected last sequence per subject"}, ARG_NONE},
    [JS_PUB_ERR_ATOMIC_TOO_LARGE] = {{400, 10199, "atomic publish batch is too large: "},
                                     ARG_NUMBER},
    [JS_PUB_ERR_ATOMIC_INVALID_COMMIT] = {{400, 10200, "atomic publish batch commit is invalid"},
                                          ARG_NONE},
    [JS_PUB_ERR_ATOMIC_DUPLICATE_MSG_ID] = {{400, 10201,
                                             "atomic publish batch contains duplicate message id"},
                                            ARG_NONE},
    [JS_PUB_ERR_SOURCE_HEADER] = {{400, 10227, "message stream source header is not allowed"},
                                  ARG_NONE},
    [JS_PUB_ERR_ATOMIC_TOO_MANY_INFLIGHT] = {{429, 10210, "atomic publish too many inflight"},
                                             ARG_NONE},
};

/* The longest fixed text must fit the fixed part of the reply bound with room for the
 * keys, the stream-independent punctuation and three 20-digit numbers. */
STATIC_ASSERT(sizeof "missing sequence for expected last sequence per subject" + 64 + 3 * 20 <
                  JS_PUB_REPLY_FIXED_SIZE_MAX,
              "the reply bound covers the longest error text");

const struct js_pub_api_error *js_pub_error_api(enum js_pub_error error)
{
    ASSERT(error > JS_PUB_OK && error < JS_PUB_ERROR_COUNT);
    return &ERRORS[error].api;
}

/* ---- text ------------------------------------------------------------------------- */

/* unicode.ToLower, within the coverage the file comment states. */
static uint32_t rune_lower(uint32_t r)
{
    if (r == 0x130 || r == 0x212a) {
        return r == 0x130 ? 'i' : 'k'; /* İ and the Kelvin sign lower to ASCII */
    }
    if ((r >= 'A' && r <= 'Z') || (r >= 0xc0 && r <= 0xde && r != 0xd7) ||
        (r >= 0x391 && r <= 0x3ab && r != 0x3a2) || (r >= 0x410 && r <= 0x42f)) {
        return r + 0x20;
    }
    if (r >= 0x400 && r <= 0x40f) {
        return r + 0x50;
    }
    bool even_pairs = (r >= 0x100 && r <= 0x137) || (r >= 0x14a && r <= 0x177);
    bool odd_pairs = (r >= 0x139 && r <= 0x148) || (r >= 0x179 && r <= 0x17e);
    if ((even_pairs && r % 2 == 0) || (odd_pairs && r % 2 == 1)) {
        return r + 1;
    }
    return r == 0x178 ? 0xff : r;
}

/* fmt.Errorf("rollup value invalid: %q", strings.ToLower(v)) as it lands in the JSON
 * description: each rune lowered (an undecodable byte becomes U+FFFD), quoted, escaped. */
static void json_rollup_value(struct go_json *json, struct js_pub_text value)
{
    enum { QUOTED_RUNE_SIZE_MAX = 10 }; /* `\U0010ffff` */
    go_json_string_inner(json, "\"", 1);
    for (size_t i = 0; i < value.length;) {
        uint32_t rune;
        i += go_json_utf8_decode(value.bytes + i, value.length - i, &rune);
        char quoted[QUOTED_RUNE_SIZE_MAX];
        struct go_json piece;
        go_json_init_lent(&piece, quoted, sizeof quoted);
        go_json_quote_rune(&piece, rune_lower(rune));
        ASSERT(!piece.failed);
        go_json_string_inner(json, quoted, piece.length);
    }
    go_json_string_inner(json, "\"", 1);
}

static int json_finish(const struct go_json *json, size_t *length)
{
    if (json->failed) {
        return -ENOBUFS;
    }
    *length = json->length;
    return 0;
}

/* ---- acks -------------------------------------------------------------------------- */

/* mset.pubAck and what processJetStreamMsg appends to it. */
int js_pub_ack_write(const struct js_pub_ack *ack, char *buffer, size_t size, size_t *length)
{
    ASSERT(ack->stream.bytes != NULL);
    struct go_json json;
    go_json_init_lent(&json, buffer, size);
    go_json_literal(&json, "{\"stream\":");
    go_json_quote(&json, ack->stream.bytes, ack->stream.length);
    if (ack->domain.length > 0) {
        go_json_literal(&json, ",\"domain\":");
        go_json_quote(&json, ack->domain.bytes, ack->domain.length);
    }
    go_json_literal(&json, ",\"seq\":");
    go_json_uint(&json, ack->seq);
    if (ack->duplicate) {
        go_json_literal(&json, ",\"duplicate\": true"); /* nats-server's space */
    }
    if (ack->batch_id.length > 0) {
        go_json_literal(&json, ",\"batch\":");
        go_json_quote(&json, ack->batch_id.bytes, ack->batch_id.length);
        go_json_literal(&json, ",\"count\":");
        go_json_uint(&json, ack->batch_count);
    } else if (!ack->duplicate && ack->counter_value.bytes != NULL) {
        go_json_literal(&json, ",\"val\":");
        go_json_quote(&json, ack->counter_value.bytes, ack->counter_value.length);
    }
    go_json_literal(&json, "}");
    return json_finish(&json, length);
}

/* json.Marshal(JSPubAckResponse{Error, PubAck{Stream}}): the error first, then the
 * embedded PubAck's stream and its zero seq; domain is never set on this path. */
static void nak_open(struct go_json *json, int code, uint16_t err_code)
{
    go_json_literal(json, "{\"error\":{\"code\":");
    go_json_int(json, code);
    if (err_code != 0) {
        go_json_key(json, "err_code");
        go_json_uint(json, err_code);
    }
}

static void nak_close(struct go_json *json, struct js_pub_text stream)
{
    go_json_literal(json, "},\"stream\":");
    go_json_string(json, stream.bytes, stream.length);
    go_json_literal(json, ",\"seq\":0}");
}

int js_pub_nak_write(struct js_pub_text stream, int code, uint16_t err_code,
                     struct js_pub_text description, char *buffer, size_t size, size_t *length)
{
    ASSERT(stream.bytes != NULL);
    struct go_json json;
    go_json_init_lent(&json, buffer, size);
    nak_open(&json, code, err_code);
    if (description.length > 0) {
        go_json_key(&json, "description");
        go_json_string(&json, description.bytes, description.length);
    }
    nak_close(&json, stream);
    return json_finish(&json, length);
}

int js_pub_error_ack_write(struct js_pub_text stream, enum js_pub_error error,
                           const struct js_pub_error_args *args, char *buffer, size_t size,
                           size_t *length)
{
    ASSERT(stream.bytes != NULL);
    const struct js_pub_api_error *api = js_pub_error_api(error);
    enum error_argument argument = ERRORS[error].argument;
    ASSERT(argument == ARG_NONE || args != NULL);
    struct go_json json;
    go_json_init_lent(&json, buffer, size);
    nak_open(&json, api->code, api->err_code);
    go_json_key(&json, "description");
    go_json_literal(&json, "\"");
    go_json_string_inner(&json, api->description, strlen(api->description));
    if (argument == ARG_NUMBER) {
        go_json_uint(&json, args->number);
    } else if (argument == ARG_TEXT && args->text.length > 0) {
        go_json_string_inner(&json, args->text.bytes, args->text.length);
    } else if (argument == ARG_ROLLUP) {
        json_rollup_value(&json, args->text);
    }
    go_json_literal(&json, "\"");
    nak_close(&json, stream);
    return json_finish(&json, length);
}
