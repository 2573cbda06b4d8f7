/* JetStream publish tests, header lookup and values (proto/js_pub_directives.c): where
 * nats-server 2.15.1 finds each header and how it reads each value, from blocks recorded
 * against it (see test_js_pub.c). One test thread. */
#include "tests/unit/test_js_pub.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

TCase *js_pub_lookup_tcase(void)
{
    TCase *tc = tcase_create("lookup");
    tcase_add_test(tc, test_every_header);
    tcase_add_test(tc, test_absent);
    tcase_add_test(tc, test_lookup_rules);
    tcase_add_test(tc, test_prefix_names);
    tcase_add_test(tc, test_every_truncation);
    tcase_add_test(tc, test_random_blocks);
    tcase_add_test(tc, test_status_cut);
    return tc;
}

TCase *js_pub_values_tcase(void)
{
    TCase *tc = tcase_create("values");
    tcase_add_test(tc, test_expected_sequences);
    tcase_add_test(tc, test_rollup_values);
    tcase_add_test(tc, test_ttl_values);
    tcase_add_test(tc, test_incr_values);
    tcase_add_test(tc, test_batch_values);
    return tc;
}
