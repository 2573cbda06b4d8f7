/* JetStream publish directives and acks: see js_pub.h.
 *
 * Header lookup, as nats-server 2.15 does it (server/client.go getHeaderKeyIndex,
 * sliceHeader; server/stream.go getters) — observed on 2.15.1:
 *   - the status is cut first: a block starting "NATS/1.0" whose first '\r' lies past
 *     byte 8 loses bytes [8, that '\r'); searching starts over the cut block;
 *   - the name is matched case-sensitively; the first occurrence that starts a line
 *     (preceded by "\r\n") and is followed at once by ':' wins; "Name :" never matches;
 *   - quirk kept: after an occurrence that does not qualify, the search goes on from its
 *     end, and an occurrence found fewer than 2 bytes further on ends the search with
 *     nothing found ("A: Nats-Msg-IdNats-Msg-Id\r\nNats-Msg-Id: x" has no Nats-Msg-Id);
 *   - the value starts after ':' and any spaces (not tabs) and runs to the next "\r\n",
 *     or the end of the block; trailing spaces and lone '\r' belong to it.
 * nats-server 2.9.10 differed: only the very first occurrence of the name was tried.
 *
 * Text in acks is encoded two ways, as nats-server's Go does: the success ack is built
 * with fmt's %q (Go string quoting: `\x01`, `\u00a0`, invalid UTF-8 as `\xff`), the error
 * ack with encoding/json (`\u003c` for <>&, `\b`, invalid UTF-8 as U+FFFD). Go's
 * IsPrint and ToLower are table-driven over all of Unicode; here they are exact for ASCII,
 * Latin-1, Latin Extended-A, basic Greek and Cyrillic, and the common non-printing
 * characters (controls, spaces, format characters, private use, noncharacters), which
 * covers what clients send; other unassigned code points are kept raw where Go would
 * escape them. */
#include "proto/js_pub.h"

#include "base/assert.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- header lookup ------------------------------------------------------------------ */

static const char STATUS_PREFIX[] = "NATS/1.0";
enum { STATUS_PREFIX_LENGTH = sizeof STATUS_PREFIX - 1 };
/* "NATS/1.0\r\n\r\n": a cut block this long is stored as no header at all. */
enum { EMPTY_BLOCK_LENGTH = STATUS_PREFIX_LENGTH + 4 };

/* The block as nats-server searches it: STATUS_PREFIX's `lead` bytes (8 when the status
 * was cut, else 0) followed by `rest`. Positions below are in this joined space. */
struct header_view {
    const char *rest; /* borrowed from the caller's block */
    size_t rest_length;
    size_t lead;
};

static size_t view_length(const struct header_view *view)
{
    return view->lead + view->rest_length;
}

static unsigned char view_byte(const struct header_view *view, size_t position)
{
    ASSERT(position < view_length(view));
    if (position < view->lead) {
        return (unsigned char)STATUS_PREFIX[position];
    }
    return (unsigned char)view->rest[position - view->lead];
}

/* First occurrence of `name` starting at or after `offset`; SIZE_MAX when none. Every
 * name starts "Na" and the lead "NATS/1.0" holds no 'a', so no occurrence starts in it. */
static size_t view_find(const struct header_view *view, const char *name, size_t name_length,
                        size_t offset)
{
    ASSERT(name_length >= 2 && name[0] == 'N' && name[1] == 'a');
    size_t from = offset > view->lead ? offset - view->lead : 0;
    if (from >= view->rest_length) {
        return SIZE_MAX;
    }
    const char *hit = memmem(view->rest + from, view->rest_length - from, name, name_length);
    return hit ? view->lead + (size_t)(hit - view->rest) : SIZE_MAX;
}

/* Where `name` starts as a header key, SIZE_MAX when absent: getHeaderKeyIndex's rules.
 * Budget: each turn moves `offset` past one occurrence, so turns ≤ length / name_length. */
static size_t view_key_index(const struct header_view *view, const char *name, size_t name_length)
{
    enum { LINE_START_MIN = 2 }; /* room for the "\r\n" before a key */
    size_t length = view_length(view);
    size_t offset = 0;
    for (;;) {
        size_t index = view_find(view, name, name_length, offset);
        if (index == SIZE_MAX || index - offset < LINE_START_MIN) {
            return SIZE_MAX;
        }
        if (index >= length - 1 || view_byte(view, index - 1) != '\n' ||
            view_byte(view, index - 2) != '\r') {
            offset = index + name_length;
            continue;
        }
        if (index + name_length >= length) {
            return SIZE_MAX;
        }
        if (view_byte(view, index + name_length) != ':') {
            offset = index + name_length;
            continue;
        }
        return index;
    }
}

/* The value of header `name` (sliceHeader), absent when the key is not found. */
static struct js_pub_text view_value(const struct header_view *view, const char *name)
{
    struct js_pub_text value = {NULL, 0};
    size_t name_length = strlen(name);
    size_t index = view_key_index(view, name, name_length);
    if (index == SIZE_MAX) {
        return value;
    }
    size_t length = view_length(view);
    index += name_length + 1;
    while (index < length && view_byte(view, index) == ' ') {
        index++;
    }
    size_t start = index;
    while (index < length && !(view_byte(view, index) == '\r' && index < length - 1 &&
                               view_byte(view, index + 1) == '\n')) {
        index++;
    }
    ASSERT(start >= view->lead); /* a key never starts inside the lead: it needs "\r\n" */
    value.bytes = view->rest + (start - view->lead);
    value.length = index - start;
    return value;
}

/* removeHeaderStatusIfPresent. */
static void status_cut_find(const char *block, size_t length, struct js_pub_status *status)
{
    status->cut_start = 0;
    status->cut_end = 0;
    status->stored_length = length;
    if (length < STATUS_PREFIX_LENGTH || memcmp(block, STATUS_PREFIX, STATUS_PREFIX_LENGTH)) {
        return;
    }
    const char *cr = memchr(block, '\r', length);
    if (cr == NULL || (size_t)(cr - block) <= STATUS_PREFIX_LENGTH) {
        return;
    }
    status->cut_start = STATUS_PREFIX_LENGTH;
    status->cut_end = (size_t)(cr - block);
    status->stored_length = length - (status->cut_end - status->cut_start);
    if (status->stored_length == EMPTY_BLOCK_LENGTH) {
        status->stored_length = 0;
    }
}

/* ---- value readers ------------------------------------------------------------------ */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* nats-server's parseInt64: -1 for empty or any non-digit; digits wrap modulo 2^64. The
 * result is kept as the unsigned bits, which is what uint64(parseInt64(…)) gives. */
static uint64_t parse_int64_bits(struct js_pub_text text)
{
    uint64_t value = 0;
    if (text.length == 0) {
        return UINT64_MAX;
    }
    for (size_t i = 0; i < text.length; i++) {
        if (!is_digit(text.bytes[i])) {
            return UINT64_MAX;
        }
        value = value * 10 + (uint64_t)(text.bytes[i] - '0');
    }
    return value;
}

/* nats-server's parseUint64: false for empty, a non-digit, or overflow. */
static bool parse_uint64(struct js_pub_text text, uint64_t *value)
{
    uint64_t result = 0;
    if (text.length == 0) {
        return false;
    }
    for (size_t i = 0; i < text.length; i++) {
        if (!is_digit(text.bytes[i])) {
            return false;
        }
        uint64_t digit = (uint64_t)(text.bytes[i] - '0');
        if (result > (UINT64_MAX - digit) / 10) {
            return false;
        }
        result = result * 10 + digit;
    }
    *value = result;
    return true;
}

/* Equal to the lower-case `word`, ASCII case ignored when `folded`. Go lowers with
 * Unicode's table, but only K (Kelvin) and İ lower to ASCII, and no word here has k or i. */
static bool text_equals(struct js_pub_text text, const char *word, bool folded)
{
    size_t length = strlen(word);
    if (text.bytes == NULL || text.length != length) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        char c = text.bytes[i];
        if (folded && c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c != word[i]) {
            return false;
        }
    }
    return true;
}

/* Go's big.Int SetString(s, 10): an optional sign, then at least one decimal digit. */
static bool incr_is_valid(struct js_pub_text text)
{
    size_t i = (text.length > 0 && (text.bytes[0] == '+' || text.bytes[0] == '-')) ? 1 : 0;
    if (i == text.length) {
        return false;
    }
    for (; i < text.length; i++) {
        if (!is_digit(text.bytes[i])) {
            return false;
        }
    }
    return true;
}

/* ---- Go's time.ParseDuration -------------------------------------------------------- */

static const uint64_t NS_PER_SECOND = 1000000000u;
static const uint64_t DURATION_LIMIT = (uint64_t)1 << 63; /* |int64| bound, as Go checks */

/* Nanoseconds per unit, 0 for an unknown unit. µ is U+00B5 or U+03BC, as in Go. */
static uint64_t duration_unit(const char *unit, size_t length)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {{"ns", 1},       {"us", 1000},       {"\xc2\xb5s", 1000}, {"\xce\xbcs", 1000},
                 {"ms", 1000000}, {"s", 1000000000u}, {"m", 60000000000u}, {"h", 3600000000000u}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strlen(units[i].name) == length && memcmp(units[i].name, unit, length) == 0) {
            return units[i].ns;
        }
    }
    return 0;
}

/* One "<digits>[.<digits>]<unit>" element starting at *at, in nanoseconds; the same
 * overflow rules and float rounding as Go's leadingInt, leadingFraction and the loop. */
static int duration_element(const char *s, size_t length, size_t *at, uint64_t *ns)
{
    size_t i = *at;
    uint64_t whole = 0;
    size_t whole_start = i;
    for (; i < length && is_digit(s[i]); i++) {
        if (whole > DURATION_LIMIT / 10) {
            return -EINVAL;
        }
        whole = whole * 10 + (uint64_t)(s[i] - '0');
        if (whole > DURATION_LIMIT) {
            return -EINVAL;
        }
    }
    bool digits_before = i != whole_start;
    uint64_t fraction = 0;
    double scale = 1;
    bool digits_after = false;
    if (i < length && s[i] == '.') {
        size_t fraction_start = ++i;
        bool overflow = false;
        for (; i < length && is_digit(s[i]); i++) {
            uint64_t next = fraction * 10 + (uint64_t)(s[i] - '0');
            if (overflow || fraction > (DURATION_LIMIT - 1) / 10 || next > DURATION_LIMIT) {
                overflow = true;
                continue;
            }
            fraction = next;
            scale *= 10;
        }
        digits_after = i != fraction_start;
    }
    if (!digits_before && !digits_after) {
        return -EINVAL;
    }
    size_t unit_start = i;
    while (i < length && s[i] != '.' && !is_digit(s[i])) {
        i++;
    }
    uint64_t unit = duration_unit(s + unit_start, i - unit_start);
    if (unit == 0 || whole > DURATION_LIMIT / unit) {
        return -EINVAL; /* missing or unknown unit, or overflow */
    }
    whole *= unit;
    if (fraction > 0) {
        whole += (uint64_t)((double)fraction * ((double)unit / scale));
        if (whole > DURATION_LIMIT) {
            return -EINVAL;
        }
    }
    *at = i;
    *ns = whole;
    return 0;
}

/* 0 and the duration in ns, or -EINVAL where Go's ParseDuration returns an error. */
static int go_duration_parse(const char *s, size_t length, int64_t *duration_ns)
{
    size_t i = 0;
    bool negative = false;
    if (length > 0 && (s[0] == '-' || s[0] == '+')) {
        negative = s[0] == '-';
        i = 1;
    }
    if (length - i == 1 && s[i] == '0') {
        *duration_ns = 0;
        return 0;
    }
    if (i == length) {
        return -EINVAL;
    }
    uint64_t total = 0;
    while (i < length) { /* each turn consumes at least one digit and one unit byte */
        if (s[i] != '.' && !is_digit(s[i])) {
            return -EINVAL;
        }
        uint64_t element = 0;
        if (duration_element(s, length, &i, &element) != 0) {
            return -EINVAL;
        }
        total += element; /* both ≤ 2^63: no wrap */
        if (total > DURATION_LIMIT) {
            return -EINVAL;
        }
    }
    if (negative) {
        *duration_ns = total == DURATION_LIMIT ? INT64_MIN : -(int64_t)total;
        return 0;
    }
    if (total > (uint64_t)INT64_MAX) {
        return -EINVAL;
    }
    *duration_ns = (int64_t)total;
    return 0;
}

/* parseMessageTTL: "never" (any case); else a Go duration of at least 1 s, in whole
 * seconds as int64(d.Seconds()) rounds them; else a plain integer through parseInt64
 * (no minimum: "00" is no TTL, and wrapping past 2^63 makes it invalid). */
static void ttl_read(struct js_pub_text text, struct js_pub_directives *directives)
{
    directives->ttl = JS_PUB_TTL_NONE;
    directives->ttl_seconds = 0;
    if (text.length == 0) {
        return;
    }
    if (text_equals(text, "never", true)) {
        directives->ttl = JS_PUB_TTL_NEVER;
        directives->ttl_seconds = -1;
        return;
    }
    int64_t duration_ns = 0;
    if (go_duration_parse(text.bytes, text.length, &duration_ns) == 0) {
        if (duration_ns < (int64_t)NS_PER_SECOND) {
            directives->ttl = JS_PUB_TTL_INVALID;
            return;
        }
        /* the same float64 sum Go's Duration.Seconds computes, then truncation */
        uint64_t whole = (uint64_t)duration_ns / NS_PER_SECOND;
        uint64_t rest = (uint64_t)duration_ns % NS_PER_SECOND;
        double seconds = (double)whole + (double)rest / 1e9;
        directives->ttl = JS_PUB_TTL_SECONDS;
        directives->ttl_seconds = (int64_t)seconds;
        return;
    }
    uint64_t bits = parse_int64_bits(text);
    if (bits > (uint64_t)INT64_MAX) {
        directives->ttl = JS_PUB_TTL_INVALID;
    } else if (bits > 0) {
        directives->ttl = JS_PUB_TTL_SECONDS;
        directives->ttl_seconds = (int64_t)bits;
    }
}

static enum js_pub_rollup rollup_read(struct js_pub_text text)
{
    if (text.length == 0) {
        return JS_PUB_ROLLUP_NONE;
    }
    if (text_equals(text, "sub", true)) {
        return JS_PUB_ROLLUP_SUBJECT;
    }
    return text_equals(text, "all", true) ? JS_PUB_ROLLUP_ALL : JS_PUB_ROLLUP_INVALID;
}

static enum js_pub_commit commit_read(struct js_pub_text text)
{
    if (text.bytes == NULL) {
        return JS_PUB_COMMIT_NONE;
    }
    if (text_equals(text, "1", false)) {
        return JS_PUB_COMMIT_ONE;
    }
    return text_equals(text, "eob", false) ? JS_PUB_COMMIT_EOB : JS_PUB_COMMIT_INVALID;
}

/* ---- parse ------------------------------------------------------------------------- */

static void values_find(const struct header_view *view, struct js_pub_directives *d)
{
    d->msg_id = view_value(view, "Nats-Msg-Id");
    d->expected_stream = view_value(view, "Nats-Expected-Stream");
    d->expected_last_seq_text = view_value(view, "Nats-Expected-Last-Sequence");
    d->expected_last_subject_seq_text = view_value(view, "Nats-Expected-Last-Subject-Sequence");
    d->expected_last_subject = view_value(view, "Nats-Expected-Last-Subject-Sequence-Subject");
    d->expected_last_msg_id = view_value(view, "Nats-Expected-Last-Msg-Id");
    d->rollup_text = view_value(view, "Nats-Rollup");
    d->ttl_text = view_value(view, "Nats-TTL");
    d->incr = view_value(view, "Nats-Incr");
    d->batch_id = view_value(view, "Nats-Batch-Id");
    d->batch_seq_text = view_value(view, "Nats-Batch-Sequence");
    d->batch_commit_text = view_value(view, "Nats-Batch-Commit");
    d->stream_source = view_value(view, "Nats-Stream-Source");
}

static void values_interpret(struct js_pub_directives *d)
{
    d->expected_last_seq_set = d->expected_last_seq_text.length > 0;
    if (d->expected_last_seq_set) {
        d->expected_last_seq = parse_int64_bits(d->expected_last_seq_text);
    }
    d->expected_last_subject_seq_set = d->expected_last_subject_seq_text.length > 0;
    if (d->expected_last_subject_seq_set) {
        d->expected_last_subject_seq = parse_int64_bits(d->expected_last_subject_seq_text);
    }
    d->rollup = rollup_read(d->rollup_text);
    ttl_read(d->ttl_text, d);
    d->incr_set = d->incr.length > 0;
    d->incr_valid = d->incr_set && incr_is_valid(d->incr);
    d->batch = d->batch_id.length > 0;
    d->batch_seq_set = parse_uint64(d->batch_seq_text, &d->batch_seq);
    d->batch_commit = commit_read(d->batch_commit_text);
}

void js_pub_directives_parse(const char *block, size_t length, struct js_pub_directives *directives)
{
    ASSERT(block != NULL || length == 0);
    memset(directives, 0, sizeof *directives);
    status_cut_find(block, length, &directives->status);
    if (directives->status.stored_length == 0) {
        values_interpret(directives); /* no header at all: everything absent */
        return;
    }
    struct header_view view = {block, length, 0};
    if (directives->status.cut_end > directives->status.cut_start) {
        view.rest = block + directives->status.cut_end;
        view.rest_length = length - directives->status.cut_end;
        view.lead = STATUS_PREFIX_LENGTH;
    }
    values_find(&view, directives);
    values_interpret(directives);
}

/* ---- checks ------------------------------------------------------------------------ */

/* getMessageIncr and the counter rules that follow it. */
static enum js_pub_error check_counter(const struct js_pub_directives *d,
                                       const struct js_pub_rules *rules, size_t payload_length)
{
    if (!d->incr_set) {
        return JS_PUB_OK;
    }
    if (!d->incr_valid) {
        return JS_PUB_ERR_INCR_INVALID;
    }
    if (!rules->allow_msg_counter) {
        return JS_PUB_ERR_INCR_DISABLED;
    }
    if (payload_length > 0) {
        return JS_PUB_ERR_INCR_PAYLOAD;
    }
    bool incompatible = d->rollup_text.length > 0 || d->expected_stream.length > 0 ||
                        d->expected_last_msg_id.length > 0 || d->expected_last_subject.length > 0 ||
                        d->expected_last_seq_set || d->expected_last_subject_seq_set;
    return incompatible ? JS_PUB_ERR_INCR_INVALID : JS_PUB_OK;
}

static bool stream_matches(const struct js_pub_directives *d, const struct js_pub_context *c)
{
    return d->expected_stream.length == 0 ||
           (d->expected_stream.length == c->stream.length &&
            memcmp(d->expected_stream.bytes, c->stream.bytes, c->stream.length) == 0);
}

static enum js_pub_error check_headers(const struct js_pub_directives *d,
                                       const struct js_pub_rules *rules,
                                       const struct js_pub_context *context)
{
    enum js_pub_error error = check_counter(d, rules, context->payload_length);
    if (error != JS_PUB_OK) {
        return error;
    }
    if (!stream_matches(d, context)) {
        return JS_PUB_ERR_STREAM_NOT_MATCH;
    }
    /* an invalid TTL reads as 0 here; it is refused at JS_PUB_STAGE_TTL */
    bool ttl_given = d->ttl == JS_PUB_TTL_SECONDS || d->ttl == JS_PUB_TTL_NEVER;
    if (ttl_given && !rules->allow_msg_ttl) {
        return JS_PUB_ERR_TTL_DISABLED;
    }
    if (!d->expected_last_subject_seq_set && d->expected_last_subject.length > 0) {
        return JS_PUB_ERR_LAST_SUBJECT_SEQ_MISSING;
    }
    return JS_PUB_OK;
}

static enum js_pub_error check_rollup(const struct js_pub_directives *d,
                                      const struct js_pub_rules *rules)
{
    if (d->rollup != JS_PUB_ROLLUP_NONE && (!rules->allow_rollup || rules->deny_purge)) {
        return JS_PUB_ERR_ROLLUP_NOT_PERMITTED;
    }
    return d->rollup == JS_PUB_ROLLUP_INVALID ? JS_PUB_ERR_ROLLUP_INVALID : JS_PUB_OK;
}

static enum js_pub_error check_counter_missing(const struct js_pub_directives *d,
                                               const struct js_pub_rules *rules)
{
    return rules->allow_msg_counter && !d->incr_set ? JS_PUB_ERR_INCR_MISSING : JS_PUB_OK;
}

/* A single message checks its rollup, then that a counter stream got Nats-Incr. */
static enum js_pub_error check_rollup_stage(const struct js_pub_directives *d,
                                            const struct js_pub_rules *rules)
{
    enum js_pub_error error = check_rollup(d, rules);
    return error != JS_PUB_OK ? error : check_counter_missing(d, rules);
}

/* A batch message checks the subject without its sequence, then its rollup. */
static enum js_pub_error check_batch_rollup(const struct js_pub_directives *d,
                                            const struct js_pub_rules *rules)
{
    if (!d->expected_last_subject_seq_set && d->expected_last_subject.length > 0) {
        return JS_PUB_ERR_LAST_SUBJECT_SEQ_MISSING;
    }
    return check_rollup(d, rules);
}

static enum js_pub_error check_batch_entry(const struct js_pub_directives *d,
                                           const struct js_pub_rules *rules)
{
    ASSERT(d->batch);
    if (!rules->allow_atomic) {
        return JS_PUB_ERR_ATOMIC_DISABLED;
    }
    if (d->batch_id.length > JS_PUB_BATCH_ID_LENGTH_MAX) {
        return JS_PUB_ERR_ATOMIC_INVALID_ID;
    }
    return d->batch_seq_set ? JS_PUB_OK : JS_PUB_ERR_ATOMIC_MISSING_SEQ;
}

/* checkMsgHeadersPreClusteredProposal's stateless part, after the batch's own header
 * rule; here a TTL is checked whole, disabled before invalid. */
static enum js_pub_error check_batch_message(const struct js_pub_directives *d,
                                             const struct js_pub_rules *rules,
                                             const struct js_pub_context *context)
{
    if (d->expected_last_msg_id.length > 0) {
        return JS_PUB_ERR_ATOMIC_UNSUPPORTED_HEADER;
    }
    enum js_pub_error error = check_counter(d, rules, context->payload_length);
    if (error != JS_PUB_OK) {
        return error;
    }
    if (!stream_matches(d, context)) {
        return JS_PUB_ERR_STREAM_NOT_MATCH;
    }
    if (d->ttl != JS_PUB_TTL_NONE && !rules->allow_msg_ttl) {
        return JS_PUB_ERR_TTL_DISABLED;
    }
    return d->ttl == JS_PUB_TTL_INVALID ? JS_PUB_ERR_TTL_INVALID : JS_PUB_OK;
}

enum js_pub_error js_pub_check(const struct js_pub_directives *directives,
                               const struct js_pub_rules *rules,
                               const struct js_pub_context *context, enum js_pub_stage stage)
{
    switch (stage) {
    case JS_PUB_STAGE_HEADERS:
        return check_headers(directives, rules, context);
    case JS_PUB_STAGE_SOURCE:
        return directives->stream_source.length > 0 ? JS_PUB_ERR_SOURCE_HEADER : JS_PUB_OK;
    case JS_PUB_STAGE_ROLLUP:
        return check_rollup_stage(directives, rules);
    case JS_PUB_STAGE_TTL:
        return directives->ttl == JS_PUB_TTL_INVALID ? JS_PUB_ERR_TTL_INVALID : JS_PUB_OK;
    case JS_PUB_STAGE_BATCH_ENTRY:
        return check_batch_entry(directives, rules);
    case JS_PUB_STAGE_BATCH_COMMIT_VALUE:
        return directives->batch_commit == JS_PUB_COMMIT_INVALID ? JS_PUB_ERR_ATOMIC_INVALID_COMMIT
                                                                 : JS_PUB_OK;
    case JS_PUB_STAGE_BATCH_MESSAGE:
        return check_batch_message(directives, rules, context);
    case JS_PUB_STAGE_BATCH_COUNTER:
        return check_counter_missing(directives, rules);
    case JS_PUB_STAGE_BATCH_ROLLUP:
        return check_batch_rollup(directives, rules);
    }
    UNREACHABLE();
}

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

/* ---- output ------------------------------------------------------------------------ */

/* A bounded writer: once something does not fit, `full` stays set and nothing more is
 * written. */
struct out {
    char *data; /* borrowed: the caller's buffer */
    size_t size;
    size_t length;
    bool full;
};

static void out_bytes(struct out *out, const void *bytes, size_t length)
{
    if (out->full || length > out->size - out->length) {
        out->full = true;
        return;
    }
    memcpy(out->data + out->length, bytes, length);
    out->length += length;
}

static void out_string(struct out *out, const char *string)
{
    out_bytes(out, string, strlen(string));
}

static void out_uint64(struct out *out, uint64_t value)
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, value);
    ASSERT(n > 0 && (size_t)n < sizeof digits);
    out_bytes(out, digits, (size_t)n);
}

static void out_escape(struct out *out, char kind, uint32_t value, int hex_digits)
{
    static const char HEX[] = "0123456789abcdef";
    char escape[10] = {'\\', kind};
    for (int i = 0; i < hex_digits; i++) {
        escape[2 + i] = HEX[(value >> (4 * (hex_digits - 1 - i))) & 0xf];
    }
    out_bytes(out, escape, (size_t)(2 + hex_digits));
}

static int out_finish(const struct out *out, size_t *length)
{
    if (out->full) {
        return -ENOBUFS;
    }
    *length = out->length;
    return 0;
}

/* ---- Go text encodings ------------------------------------------------------------- */

static const uint32_t RUNE_ERROR = 0xfffd;

/* One rune as Go's utf8.DecodeRune reads it: an invalid or truncated sequence, an
 * overlong form or a surrogate yields RUNE_ERROR with width 1. */
static uint32_t rune_decode(const unsigned char *s, size_t length, size_t *width)
{
    ASSERT(length > 0);
    unsigned char b0 = s[0];
    *width = 1;
    if (b0 < 0x80) {
        return b0;
    }
    size_t need = b0 >= 0xc2 && b0 <= 0xdf   ? 2
                  : b0 >= 0xe0 && b0 <= 0xef ? 3
                  : b0 >= 0xf0 && b0 <= 0xf4 ? 4
                                             : 0;
    if (need == 0 || length < need) {
        return RUNE_ERROR;
    }
    unsigned char low = 0x80, high = 0xbf; /* allowed range of the second byte */
    if (b0 == 0xe0) {
        low = 0xa0;
    } else if (b0 == 0xed) {
        high = 0x9f;
    } else if (b0 == 0xf0) {
        low = 0x90;
    } else if (b0 == 0xf4) {
        high = 0x8f;
    }
    if (s[1] < low || s[1] > high) {
        return RUNE_ERROR;
    }
    uint32_t rune = b0 & (0x7f >> need);
    for (size_t i = 1; i < need; i++) {
        if (i > 1 && (s[i] & 0xc0) != 0x80) {
            return RUNE_ERROR;
        }
        rune = (rune << 6) | (s[i] & 0x3f);
    }
    *width = need;
    return rune;
}

static void rune_encode(struct out *out, uint32_t rune)
{
    static const unsigned char LEAD_BITS[] = {0, 0, 0xc0, 0xe0, 0xf0}; /* by length */
    size_t n = rune < 0x80 ? 1 : rune < 0x800 ? 2 : rune < 0x10000 ? 3 : 4;
    unsigned char bytes[4] = {(unsigned char)(LEAD_BITS[n] | rune >> (6 * (n - 1)))};
    for (size_t i = 1; i < n; i++) {
        bytes[i] = (unsigned char)(0x80 | ((rune >> (6 * (n - 1 - i))) & 0x3f));
    }
    out_bytes(out, bytes, n);
}

/* strconv.IsPrint for a non-ASCII rune, within the coverage the file comment states. */
static bool rune_is_print(uint32_t rune)
{
    static const uint32_t NOT_PRINT[][2] = {
        {0x0080, 0x00a0},   {0x00ad, 0x00ad},   {0x0378, 0x0379}, {0x0380, 0x0383},
        {0x038b, 0x038b},   {0x038d, 0x038d},   {0x03a2, 0x03a2}, {0x061c, 0x061c},
        {0x06dd, 0x06dd},   {0x070f, 0x070f},   {0x180e, 0x180e}, {0x2000, 0x200f},
        {0x2028, 0x202f},   {0x205f, 0x206f},   {0x3000, 0x3000}, {0xe000, 0xf8ff},
        {0xfeff, 0xfeff},   {0xfff0, 0xfffb},   {0xfffe, 0xffff}, {0xe0000, 0xe00ff},
        {0xe01f0, 0xe0fff}, {0xf0000, 0x10ffff}};
    if ((rune & 0xfffe) == 0xfffe) {
        return false; /* the noncharacters U+xFFFE and U+xFFFF of every plane */
    }
    for (size_t i = 0; i < sizeof NOT_PRINT / sizeof NOT_PRINT[0]; i++) {
        if (rune >= NOT_PRINT[i][0] && rune <= NOT_PRINT[i][1]) {
            return false;
        }
    }
    return true;
}

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

/* One rune as strconv.Quote writes it; `invalid` is a byte Go could not decode. */
static void quote_rune(struct out *out, uint32_t rune, bool invalid)
{
    static const char SHORT[] = "\a\b\f\n\r\t\v";
    static const char SHORT_NAMES[] = "abfnrtv";
    if (invalid) {
        out_escape(out, 'x', rune, 2);
    } else if (rune == '"' || rune == '\\') {
        char pair[2] = {'\\', (char)rune};
        out_bytes(out, pair, 2);
    } else if (rune >= 0x20 && rune < 0x7f) {
        char c = (char)rune;
        out_bytes(out, &c, 1);
    } else if (rune != 0 && rune < 0x20 && strchr(SHORT, (int)rune) != NULL) {
        char pair[2] = {'\\', SHORT_NAMES[strchr(SHORT, (int)rune) - SHORT]};
        out_bytes(out, pair, 2);
    } else if (rune < 0x80) {
        out_escape(out, 'x', rune, 2);
    } else if (rune_is_print(rune)) {
        rune_encode(out, rune);
    } else if (rune < 0x10000) {
        out_escape(out, 'u', rune, 4);
    } else {
        out_escape(out, 'U', rune, 8);
    }
}

/* fmt's %q of `text`, quotes included. */
static void out_go_quoted(struct out *out, struct js_pub_text text)
{
    const unsigned char *s = (const unsigned char *)text.bytes;
    out_bytes(out, "\"", 1);
    for (size_t i = 0; i < text.length;) {
        size_t width;
        uint32_t rune = rune_decode(s + i, text.length - i, &width);
        bool invalid = rune == RUNE_ERROR && width == 1;
        quote_rune(out, invalid ? s[i] : rune, invalid);
        i += width;
    }
    out_bytes(out, "\"", 1);
}

/* One byte below 0x80 as encoding/json writes it (HTML-safe). */
static void json_ascii(struct out *out, unsigned char c)
{
    static const char SHORT[] = "\"\\\b\f\n\r\t";
    static const char SHORT_NAMES[] = "\"\\bfnrt";
    const char *short_escape = c != 0 ? strchr(SHORT, c) : NULL;
    if (short_escape != NULL) {
        char pair[2] = {'\\', SHORT_NAMES[short_escape - SHORT]};
        out_bytes(out, pair, 2);
    } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
        out_escape(out, 'u', c, 4);
    } else {
        out_bytes(out, &c, 1);
    }
}

/* The inside of a JSON string, as nats-server 2.15.1's encoding/json writes it: an
 * undecodable byte becomes U+FFFD itself (2.9.10 wrote `\ufffd`, and `\u0008` for \b). */
static void out_json_inner(struct out *out, struct js_pub_text text)
{
    const unsigned char *s = (const unsigned char *)text.bytes;
    for (size_t i = 0; i < text.length;) {
        size_t width;
        uint32_t rune = rune_decode(s + i, text.length - i, &width);
        if (rune < 0x80) {
            json_ascii(out, (unsigned char)rune);
        } else if (rune == 0x2028 || rune == 0x2029) {
            out_escape(out, 'u', rune, 4);
        } else if (rune == RUNE_ERROR && width == 1) {
            rune_encode(out, RUNE_ERROR);
        } else {
            out_bytes(out, s + i, width);
        }
        i += width;
    }
}

static void out_json_string(struct out *out, struct js_pub_text text)
{
    out_bytes(out, "\"", 1);
    out_json_inner(out, text);
    out_bytes(out, "\"", 1);
}

/* fmt.Errorf("rollup value invalid: %q", strings.ToLower(v)) as it lands in the JSON
 * description: each rune lowered (an undecodable byte becomes U+FFFD), quoted, escaped. */
static void out_json_rollup_value(struct out *out, struct js_pub_text value)
{
    enum { QUOTED_RUNE_SIZE_MAX = 10 }; /* `\U0010ffff` */
    const unsigned char *s = (const unsigned char *)value.bytes;
    out_json_inner(out, (struct js_pub_text){"\"", 1});
    for (size_t i = 0; i < value.length;) {
        size_t width;
        uint32_t rune = rune_lower(rune_decode(s + i, value.length - i, &width));
        char quoted[QUOTED_RUNE_SIZE_MAX];
        struct out piece = {quoted, sizeof quoted, 0, false};
        quote_rune(&piece, rune, false);
        ASSERT(!piece.full);
        out_json_inner(out, (struct js_pub_text){quoted, piece.length});
        i += width;
    }
    out_json_inner(out, (struct js_pub_text){"\"", 1});
}

/* ---- acks -------------------------------------------------------------------------- */

/* mset.pubAck and what processJetStreamMsg appends to it. */
int js_pub_ack_write(const struct js_pub_ack *ack, char *buffer, size_t size, size_t *length)
{
    ASSERT(ack->stream.bytes != NULL);
    struct out out = {buffer, size, 0, false};
    out_string(&out, "{\"stream\":");
    out_go_quoted(&out, ack->stream);
    if (ack->domain.length > 0) {
        out_string(&out, ",\"domain\":");
        out_go_quoted(&out, ack->domain);
    }
    out_string(&out, ",\"seq\":");
    out_uint64(&out, ack->seq);
    if (ack->duplicate) {
        out_string(&out, ",\"duplicate\": true"); /* nats-server's space */
    }
    if (ack->batch_id.length > 0) {
        out_string(&out, ",\"batch\":");
        out_go_quoted(&out, ack->batch_id);
        out_string(&out, ",\"count\":");
        out_uint64(&out, ack->batch_count);
    } else if (!ack->duplicate && ack->counter_value.bytes != NULL) {
        out_string(&out, ",\"val\":");
        out_go_quoted(&out, ack->counter_value);
    }
    out_string(&out, "}");
    return out_finish(&out, length);
}

/* json.Marshal(JSPubAckResponse{Error, PubAck{Stream}}): the error first, then the
 * embedded PubAck's stream and its zero seq; domain is never set on this path. */
static void out_nak_open(struct out *out, int code, uint16_t err_code)
{
    char head[64];
    int n = snprintf(head, sizeof head, "{\"error\":{\"code\":%d", code);
    ASSERT(n > 0 && (size_t)n < sizeof head);
    out_bytes(out, head, (size_t)n);
    if (err_code != 0) {
        out_string(out, ",\"err_code\":");
        out_uint64(out, err_code);
    }
}

static void out_nak_close(struct out *out, struct js_pub_text stream)
{
    out_string(out, "},\"stream\":");
    out_json_string(out, stream);
    out_string(out, ",\"seq\":0}");
}

int js_pub_nak_write(struct js_pub_text stream, int code, uint16_t err_code,
                     struct js_pub_text description, char *buffer, size_t size, size_t *length)
{
    ASSERT(stream.bytes != NULL);
    struct out out = {buffer, size, 0, false};
    out_nak_open(&out, code, err_code);
    if (description.length > 0) {
        out_string(&out, ",\"description\":");
        out_json_string(&out, description);
    }
    out_nak_close(&out, stream);
    return out_finish(&out, length);
}

int js_pub_error_ack_write(struct js_pub_text stream, enum js_pub_error error,
                           const struct js_pub_error_args *args, char *buffer, size_t size,
                           size_t *length)
{
    ASSERT(stream.bytes != NULL);
    const struct js_pub_api_error *api = js_pub_error_api(error);
    enum error_argument argument = ERRORS[error].argument;
    ASSERT(argument == ARG_NONE || args != NULL);
    struct out out = {buffer, size, 0, false};
    out_nak_open(&out, api->code, api->err_code);
    out_string(&out, ",\"description\":\"");
    out_json_inner(&out, (struct js_pub_text){api->description, strlen(api->description)});
    if (argument == ARG_NUMBER) {
        out_uint64(&out, args->number);
    } else if (argument == ARG_TEXT && args->text.length > 0) {
        out_json_inner(&out, args->text);
    } else if (argument == ARG_ROLLUP) {
        out_json_rollup_value(&out, args->text);
    }
    out_string(&out, "\"");
    out_nak_close(&out, stream);
    return out_finish(&out, length);
}
