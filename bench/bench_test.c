/* Self-test of the load generator's two pieces of arithmetic that a wrong result would
 * silently skew: the frame scanner (every split point of a stream that holds every frame
 * kind, and byte by byte, in each of its modes including whole frames for JetStream acks)
 * and the histogram (percentiles within 1/64 of a sorted array).
 * Run by `meson test` (suite bench); prints "N passed, N failed". Single-threaded. */
#include "base/assert.h"
#include "bench/hist.h"
#include "bench/scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    TEST_BUFFER_SIZE = 8192,
    TEST_REPLY_SIZE = 64,
    TEST_HIST_SAMPLES = 100000,
};

/* What the sink saw. */
struct test_seen {
    unsigned msgs;
    unsigned pings;
    unsigned pongs;
    unsigned errs;
    unsigned replies;
    char last_reply[TEST_REPLY_SIZE];
    int64_t stamp_sum;
    /* SCAN_F_BODY: the last subject and payload, and the payload and header bytes in all
     * (replies are counted as with SCAN_F_REPLY). */
    char last_subject[TEST_REPLY_SIZE];
    char last_sid[TEST_REPLY_SIZE];
    char last_payload[TEST_REPLY_SIZE];
    size_t payload_bytes;
    size_t header_bytes;
};

static unsigned test_passed;
static unsigned test_failed;

static void test_check(int ok, const char *what)
{
    if (ok) {
        test_passed++;
    } else {
        test_failed++;
        printf("FAIL: %s\n", what);
    }
}

static void test_on_msg(void *context, const char *reply, size_t reply_size, int64_t stamp_ns)
{
    struct test_seen *seen = context;
    seen->msgs++;
    seen->stamp_sum += stamp_ns;
    if (reply != NULL) {
        ASSERT(reply_size < TEST_REPLY_SIZE);
        seen->replies++;
        memcpy(seen->last_reply, reply, reply_size);
        seen->last_reply[reply_size] = '\0';
    }
}

static void test_on_ping(void *context)
{
    ((struct test_seen *)context)->pings++;
}

static void test_on_pong(void *context)
{
    ((struct test_seen *)context)->pongs++;
}

static void test_on_err(void *context, const char *line, size_t line_size)
{
    ((struct test_seen *)context)->errs++;
}

static void test_on_body(void *context, const struct scan_frame *frame)
{
    struct test_seen *seen = context;
    ASSERT(frame->subject_size < TEST_REPLY_SIZE);
    ASSERT(frame->payload_size < TEST_REPLY_SIZE);
    seen->msgs++;
    seen->payload_bytes += frame->payload_size;
    seen->header_bytes += frame->headers_size;
    ASSERT((frame->headers == NULL) == (frame->headers_size == 0));
    memcpy(seen->last_subject, frame->subject, frame->subject_size);
    seen->last_subject[frame->subject_size] = '\0';
    ASSERT(frame->sid_size < TEST_REPLY_SIZE);
    memcpy(seen->last_sid, frame->sid, frame->sid_size);
    seen->last_sid[frame->sid_size] = '\0';
    memcpy(seen->last_payload, frame->payload, frame->payload_size);
    seen->last_payload[frame->payload_size] = '\0';
    if (frame->reply != NULL) {
        ASSERT(frame->reply_size < TEST_REPLY_SIZE);
        seen->replies++;
        memcpy(seen->last_reply, frame->reply, frame->reply_size);
        seen->last_reply[frame->reply_size] = '\0';
    }
}

/* A stream with every frame kind (HMSG only `with_headers`: its header block would read as
 * a stamp); the four 12-byte payloads start with stamps 1..4. Holds 6 messages, or 7. */
static size_t test_stream(char *stream, int with_headers)
{
    size_t size = 0;
    static const char text[] = "INFO {\"max_payload\":1048576} \r\n+OK\r\nPING\r\n";
    memcpy(stream, text, sizeof text - 1);
    size += sizeof text - 1;
    for (int64_t stamp = 1; stamp <= 4; stamp++) {
        const char *line = stamp % 2 ? "MSG foo.bar 1 12\r\n" : "msg foo  7\t_INBOX.x  12\r\n";
        size += (size_t)sprintf(stream + size, "%s", line);
        memcpy(stream + size, &stamp, sizeof stamp); /* little-endian host, as the wire */
        memcpy(stream + size + sizeof stamp, "abcd\r\n", 6);
        size += sizeof stamp + 6;
    }
    static const char headers[] = "HMSG h 2 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
    if (with_headers) {
        memcpy(stream + size, headers, sizeof headers - 1);
        size += sizeof headers - 1;
    }
    static const char tail[] = "MSG a 1 0\r\n\r\nMSG s 3 3\r\nabc\r\nPONG\r\n-ERR 'Slow'\r\n";
    memcpy(stream + size, tail, sizeof tail - 1);
    return size + sizeof tail - 1;
}

/* Feeds `stream` in pieces of at most `piece` bytes (and one split at `split`), carrying
 * incomplete lines the way conn.c does. Returns the scan result of the last call. */
static long test_feed(struct scan *scan, const char *stream, size_t size, size_t split,
                      size_t piece)
{
    char buffer[TEST_BUFFER_SIZE];
    size_t used = 0;
    size_t pos = 0;
    long rc = 0;
    while (pos < size) {
        size_t limit = pos < split ? split : size;
        size_t take = limit - pos < piece ? limit - pos : piece;
        memcpy(buffer + used, stream + pos, take);
        used += take;
        pos += take;
        rc = scan_feed(scan, buffer, used);
        if (rc < 0) {
            return rc;
        }
        memmove(buffer, buffer + rc, used - (size_t)rc);
        used -= (size_t)rc;
    }
    return used == 0 ? rc : -EAGAIN;
}

static const struct scan_sink *test_sink(struct test_seen *seen)
{
    static struct scan_sink sink;
    memset(seen, 0, sizeof *seen);
    sink = (struct scan_sink){.context = seen,
                              .on_msg = test_on_msg,
                              .on_ping = test_on_ping,
                              .on_pong = test_on_pong,
                              .on_err = test_on_err,
                              .on_body = test_on_body};
    return &sink;
}

static void test_scan_splits(unsigned flags, size_t piece)
{
    char stream[TEST_BUFFER_SIZE];
    int with_headers = !(flags & SCAN_F_STAMP);
    size_t size = test_stream(stream, with_headers);
    int all_ok = 1;
    for (size_t split = 0; split <= size; split++) {
        struct test_seen seen;
        struct scan scan;
        scan_init(&scan, test_sink(&seen), flags);
        long rc = test_feed(&scan, stream, size, split, piece);
        int ok = rc >= 0 && seen.msgs == (with_headers ? 7u : 6u) && seen.pings == 1 &&
                 seen.pongs == 1 && seen.errs == 1;
        if (flags & SCAN_F_STAMP) {
            ok = ok && seen.stamp_sum == 1 + 2 + 3 + 4;
        }
        if (flags & (SCAN_F_REPLY | SCAN_F_BODY)) {
            ok = ok && seen.replies == 3 && strcmp(seen.last_reply, "r") == 0;
        }
        if (flags & SCAN_F_BODY) {
            /* Four 12-byte payloads, HMSG's "hi" after its 12 header bytes, then 0 and "abc". */
            ok = ok && seen.payload_bytes == 4 * 12 + 2 + 0 + 3 && seen.header_bytes == 12 &&
                 strcmp(seen.last_subject, "s") == 0 && strcmp(seen.last_sid, "3") == 0 &&
                 strcmp(seen.last_payload, "abc") == 0;
        }
        if (!ok) {
            printf("split %zu piece %zu flags %u: rc %ld msgs %u stamps %lld replies %u\n", split,
                   piece, flags, rc, seen.msgs, (long long)seen.stamp_sum, seen.replies);
            all_ok = 0;
            break;
        }
    }
    test_check(all_ok, "scan survives every split point");
}

static void test_scan_rejects(void)
{
    static const char *const bad[] = {"FOO bar\r\n", "MSG foo 1 x\r\n", "MSG foo 1\r\n", "MSG\r\n",
                                      "MSG foo 1 12345678901\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct test_seen seen;
        struct scan scan;
        scan_init(&scan, test_sink(&seen), SCAN_F_REPLY);
        test_check(scan_feed(&scan, bad[i], strlen(bad[i])) == -EPROTO, bad[i]);
    }
    char long_line[SCAN_CONTROL_LINE_MAX + 2];
    memset(long_line, 'M', sizeof long_line);
    struct test_seen seen;
    struct scan scan;
    scan_init(&scan, test_sink(&seen), 0);
    test_check(scan_feed(&scan, long_line, sizeof long_line) == -EMSGSIZE, "long line");
}

/* Whole frames: nothing of a frame is consumed until its payload is in; a payload the
 * caller could never hold is refused as soon as its line is read. */
static void test_scan_body(void)
{
    static const char partial[] = "PING\r\nMSG a 1 3\r\nab";
    struct test_seen seen;
    struct scan scan;
    scan_init(&scan, test_sink(&seen), SCAN_F_BODY);
    long rc = scan_feed(&scan, partial, sizeof partial - 1);
    test_check(rc == 6 && seen.pings == 1 && seen.msgs == 0, "body: an incomplete frame waits");
    char large[64];
    snprintf(large, sizeof large, "MSG a 1 %d\r\n", SCAN_BODY_SIZE_MAX + 1);
    scan_init(&scan, test_sink(&seen), SCAN_F_BODY);
    test_check(scan_feed(&scan, large, strlen(large)) == -EMSGSIZE, "body: payload too large");
    static const char short_line[] = "MSG a 0\r\n\r\n"; /* no sid */
    scan_init(&scan, test_sink(&seen), SCAN_F_BODY);
    test_check(scan_feed(&scan, short_line, sizeof short_line - 1) == -EPROTO,
               "body: too few tokens");
    static const char many[] = "MSG a 1 r x 0\r\n\r\n"; /* a reply and one token more */
    scan_init(&scan, test_sink(&seen), SCAN_F_BODY);
    test_check(scan_feed(&scan, many, sizeof many - 1) == -EPROTO, "body: too many tokens");
    static const char headers_over[] = "HMSG a 1 5 4\r\nNATS\r\n"; /* headers > total */
    scan_init(&scan, test_sink(&seen), SCAN_F_BODY);
    test_check(scan_feed(&scan, headers_over, sizeof headers_over - 1) == -EPROTO,
               "body: header size beyond the total");
    /* A JetStream status: headers only, no reply, no payload. */
    static const char status[] = "HMSG _INBOX.a.1 1 32 32\r\nNATS/1.0 408 Request Timeout"
                                 "\r\n\r\n\r\n";
    scan_init(&scan, test_sink(&seen), SCAN_F_BODY);
    rc = scan_feed(&scan, status, sizeof status - 1);
    test_check(rc == (long)sizeof status - 1 && seen.msgs == 1 && seen.header_bytes == 32 &&
                   seen.payload_bytes == 0 && seen.replies == 0 && strcmp(seen.last_sid, "1") == 0,
               "body: a status with headers only");
}

static int test_compare(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_hist(void)
{
    static struct hist hist;
    static int64_t values[TEST_HIST_SAMPLES];
    hist_init(&hist);
    uint64_t state = 88172645463325252ull;
    for (int i = 0; i < TEST_HIST_SAMPLES; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        values[i] = (int64_t)(state % (1u << (i % 30 + 1))); /* spread over magnitudes */
        hist_record(&hist, values[i]);
    }
    qsort(values, TEST_HIST_SAMPLES, sizeof values[0], test_compare);
    static const double percents[] = {1, 50, 90, 99, 99.9, 99.99, 100};
    int ok = 1;
    for (size_t i = 0; i < sizeof percents / sizeof percents[0]; i++) {
        size_t rank = (size_t)(percents[i] / 100 * TEST_HIST_SAMPLES + 0.999999);
        int64_t exact = values[(rank > 0 ? rank : 1) - 1];
        int64_t got = hist_percentile(&hist, percents[i]);
        /* Never below the true value, never more than 1/64 above it. */
        if (got < exact || (double)(got - exact) > (double)exact / 64.0 + 1) {
            printf("p%g: exact %lld hist %lld\n", percents[i], (long long)exact, (long long)got);
            ok = 0;
        }
    }
    test_check(ok, "histogram percentiles within 1/64");
    test_check(hist.max_ns == values[TEST_HIST_SAMPLES - 1], "histogram max is exact");
}

int main(void)
{
    static const unsigned flag_sets[] = {0, SCAN_F_STAMP, SCAN_F_REPLY, SCAN_F_BODY};
    for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++) {
        test_scan_splits(flag_sets[i], TEST_BUFFER_SIZE);
        test_scan_splits(flag_sets[i], 1);
        test_scan_splits(flag_sets[i], 7);
    }
    test_scan_rejects();
    test_scan_body();
    test_hist();
    printf("%u passed, %u failed\n", test_passed, test_failed);
    return test_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
