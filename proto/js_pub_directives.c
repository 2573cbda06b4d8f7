/* JetStream publish directives: the header lookup and the values read from it (see
 * js_pub.h for what a publish asks and how its checks are staged).
 *
 * The one idea: find each header exactly where nats-server 2.15 finds it, quirks included,
 * and read each value exactly as its Go getter reads it (server/client.go getHeaderKeyIndex,
 * sliceHeader; server/stream.go getters), as observed on 2.15.1:
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
 * Pure functions, any thread; values borrow from the caller's block. */
#include "proto/js_pub.h"

#include "base/assert.h"

#include <errno.h>
#include <stddef.h>
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

struct js_pub_text js_pub_header_value(const char *block, size_t length, const char *name)
{
    const struct header_view view = {block, length, 0};
    if (block == NULL || length == 0) {
        return (struct js_pub_text){NULL, 0};
    }
    return view_value(&view, name);
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

/* Whether `text` is one or more decimal digits and nothing else. */
static bool is_digits(struct js_pub_text text)
{
    if (text.length == 0) {
        return false;
    }
    for (size_t i = 0; i < text.length; i++) {
        if (!is_digit(text.bytes[i])) {
            return false;
        }
    }
    return true;
}

/* nats-server's parseInt64: -1 for empty or any non-digit; digits wrap modulo 2^64. The
 * result is kept as the unsigned bits, which is what uint64(parseInt64(…)) gives. */
static uint64_t parse_int64_bits(struct js_pub_text text)
{
    if (!is_digits(text)) {
        return UINT64_MAX;
    }
    uint64_t value = 0;
    for (size_t i = 0; i < text.length; i++) {
        value = value * 10 + (uint64_t)(text.bytes[i] - '0');
    }
    return value;
}

/* nats-server's parseUint64: false for empty, a non-digit, or overflow. */
static bool parse_uint64(struct js_pub_text text, uint64_t *value)
{
    if (!is_digits(text)) {
        return false;
    }
    uint64_t result = 0;
    for (size_t i = 0; i < text.length; i++) {
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
    if (text.length > 0 && (text.bytes[0] == '+' || text.bytes[0] == '-')) {
        text.bytes++;
        text.length--;
    }
    return is_digits(text);
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

/* Every header a publish may carry, and where its raw value goes. */
static const struct {
    const char *name;
    size_t offset; /* of its struct js_pub_text in struct js_pub_directives */
} HEADERS[] = {
    {"Nats-Msg-Id", offsetof(struct js_pub_directives, msg_id)},
    {"Nats-Expected-Stream", offsetof(struct js_pub_directives, expected_stream)},
    {"Nats-Expected-Last-Sequence", offsetof(struct js_pub_directives, expected_last_seq_text)},
    {"Nats-Expected-Last-Subject-Sequence",
     offsetof(struct js_pub_directives, expected_last_subject_seq_text)},
    {"Nats-Expected-Last-Subject-Sequence-Subject",
     offsetof(struct js_pub_directives, expected_last_subject)},
    {"Nats-Expected-Last-Msg-Id", offsetof(struct js_pub_directives, expected_last_msg_id)},
    {"Nats-Rollup", offsetof(struct js_pub_directives, rollup_text)},
    {"Nats-TTL", offsetof(struct js_pub_directives, ttl_text)},
    {"Nats-Incr", offsetof(struct js_pub_directives, incr)},
    {"Nats-Batch-Id", offsetof(struct js_pub_directives, batch_id)},
    {"Nats-Batch-Sequence", offsetof(struct js_pub_directives, batch_seq_text)},
    {"Nats-Batch-Commit", offsetof(struct js_pub_directives, batch_commit_text)},
    {"Nats-Stream-Source", offsetof(struct js_pub_directives, stream_source)},
};

static void values_find(const struct header_view *view, struct js_pub_directives *d)
{
    for (size_t i = 0; i < sizeof HEADERS / sizeof HEADERS[0]; i++) {
        struct js_pub_text *value = (struct js_pub_text *)((char *)d + HEADERS[i].offset);
        *value = view_value(view, HEADERS[i].name);
    }
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
