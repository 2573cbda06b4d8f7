/* JetStream publisher role (see jspub.h).
 *
 * The one idea: a window of W prebuilt frames, one per slot, that differ only in the slot
 * number at the end of their reply inbox. Publish i goes out as frame i % W, and its slot
 * stays taken until the ack to that inbox is back, so at most W publishes are in flight
 * and an ack names the publish it answers without any lookup. Consecutive free slots are
 * contiguous in memory: after a read that brought acks, the whole run of freed slots
 * leaves in one send straight from the frames, copied by nobody but the kernel. A run
 * never wraps past slot W - 1; the slots from 0 go in the next send.
 *
 * Frames (slot zero-padded to the digits of W - 1, so that every frame has one size):
 *   "PUB <subject> _INBOX.ionats_bench.<pid>.js<conn>.<slot> <size>\r\n<payload>\r\n"
 * With --subjects N, <subject> is "<subject>.<k>", k = i mod N for publish i, zero-padded
 * to the digits of N - 1: every frame keeps one size, and the digits of k, at one offset in
 * every frame, are rewritten in place for the run about to be sent (no send is in flight
 * then, and a slot is free only once its previous publish was acked, so the kernel is
 * done with its bytes). The window's memory stays W frames whatever N is.
 * Acks (whole frames, SCAN_F_BODY): MSG <inbox>.<slot> <sid> <n>\r\n then either
 *   {"stream":"<name>", "seq":<n>}  or  {"error":{"code":..,"description":".."}, ...}.
 * Latency is from the moment a run of frames is queued for sending to the completion of
 * the read that brought its ack. */
#include "bench/jspub.h"

#include "base/assert.h"
#include "base/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    JSPUB_SLOT_DIGITS_MAX = 5, /* the largest window is 65536: slots up to 65535 */
    JSPUB_CRLF_SIZE = 2,
    JSPUB_DECIMAL_BASE = 10,
    /* While publishes are in flight, an ack must come at least this often; nats-server
     * acks within milliseconds, so a silence this long means nobody stores the subject
     * (headers are off, so there is no "no responders" status to tell). */
    JSPUB_STALL_S = 5,
};

/* Keys with their colon: a stream named "error" must not read as a refusal. */
static const char JSPUB_ERROR_KEY[] = "\"error\":";
static const char JSPUB_SEQ_KEY[] = "\"seq\":";
static const char JSPUB_DESCRIPTION_KEY[] = "\"description\":\"";

void jspub_inbox(unsigned index, char *inbox, size_t inbox_size)
{
    /* The pid keeps two benchmark processes on one server apart, as reqrep_inbox does. */
    int size = snprintf(inbox, inbox_size, "_INBOX.ionats_bench.%ld.js%u", (long)getpid(), index);
    ASSERT(size > 0 && (size_t)size < inbox_size);
}

static unsigned jspub_digits(uint32_t value)
{
    unsigned digits = 1;
    while (value >= JSPUB_DECIMAL_BASE) {
        value /= JSPUB_DECIMAL_BASE;
        digits++;
    }
    return digits;
}

/* Writes `value` as exactly `digits` decimal digits, zero-padded, at `target`. */
static void jspub_digits_write(char *target, unsigned digits, uint32_t value)
{
    for (unsigned i = digits; i > 0; i--) {
        target[i - 1] = (char)('0' + value % JSPUB_DECIMAL_BASE);
        value /= JSPUB_DECIMAL_BASE;
    }
    ASSERT(value == 0); /* the digits held all of it */
}

/* The subject part of a frame: "<subject>" or, with --subjects, "<subject>.<k>" with k
 * zero-padded to js_subject_digits. Returns its length. */
static size_t jspub_subject_write(const struct conn *conn, char *target, size_t capacity,
                                  uint32_t subject_index)
{
    const struct bench_opts *opts = conn->side->opts;
    int size = conn->js_subjects == 0
                   ? snprintf(target, capacity, "%s", opts->subject)
                   : snprintf(target, capacity, "%s.%0*u", opts->subject,
                              (int)conn->js_subject_digits, (unsigned)subject_index);
    ASSERT(size > 0 && (size_t)size < capacity);
    return (size_t)size;
}

/* Writes the frame of `slot` at `frame`; returns its size. */
static size_t jspub_frame_write(const struct conn *conn, char *frame, const char *inbox,
                                unsigned digits, uint32_t slot)
{
    const struct bench_opts *opts = conn->side->opts;
    char subject[BENCH_SUBJECT_SIZE_MAX + 1 + BENCH_JS_SUBJECT_DIGITS_MAX];
    /* The first lap: publish `slot` goes out as frame `slot`. */
    uint32_t subject_index = conn->js_subjects > 0 ? slot % conn->js_subjects : 0;
    jspub_subject_write(conn, subject, sizeof subject, subject_index);
    char header[BENCH_JS_FRAME_OVERHEAD + 1];
    int header_size = snprintf(header, sizeof header, "PUB %s %s.%0*u %u\r\n", subject, inbox,
                               (int)digits, (unsigned)slot, (unsigned)opts->size);
    ASSERT(header_size > 0 && header_size + JSPUB_CRLF_SIZE <= BENCH_JS_FRAME_OVERHEAD);
    memcpy(frame, header, (size_t)header_size);
    memcpy(frame + header_size, conn->side->filler, opts->size);
    memcpy(frame + header_size + opts->size, "\r\n", JSPUB_CRLF_SIZE);
    return (size_t)header_size + opts->size + JSPUB_CRLF_SIZE;
}

int jspub_setup(struct conn *conn, uint64_t target)
{
    ASSERT(conn->role == CONN_ROLE_JS);
    const struct bench_opts *opts = conn->side->opts;
    ASSERT(opts->window > 0);
    char inbox[BENCH_JS_INBOX_SIZE_MAX];
    jspub_inbox(conn->index, inbox, sizeof inbox);
    unsigned digits = jspub_digits(opts->window - 1);
    ASSERT(digits <= JSPUB_SLOT_DIGITS_MAX);
    ASSERT(strlen(inbox) + 1 + digits < BENCH_JS_INBOX_SIZE_MAX);
    conn->js_subjects = opts->subjects;
    if (opts->subjects > 0) {
        conn->js_subject_digits = jspub_digits(opts->subjects - 1);
        ASSERT(conn->js_subject_digits <= BENCH_JS_SUBJECT_DIGITS_MAX);
        /* "PUB <subject>.": the token's digits follow. */
        conn->js_subject_offset = strlen("PUB ") + strlen(opts->subject) + 1;
        conn->js_subject_rewrite = opts->subjects > 1 && opts->window % opts->subjects != 0;
    }
    /* The first frame tells the size of all. */
    size_t capacity = BENCH_JS_FRAME_OVERHEAD + opts->size;
    char *first = malloc(capacity);
    if (first == NULL) {
        return -ENOMEM;
    }
    conn->js_frame_size = jspub_frame_write(conn, first, inbox, digits, 0);
    free(first);
    /* opts.c bounds window * (size + overhead) to 64 MiB. */
    conn->js_frames = malloc((size_t)opts->window * conn->js_frame_size);
    conn->js_sent_ns = calloc(opts->window, sizeof *conn->js_sent_ns);
    if (conn->js_frames == NULL || conn->js_sent_ns == NULL) {
        return -ENOMEM; /* conn_destroy frees what was allocated */
    }
    for (uint32_t slot = 0; slot < opts->window; slot++) {
        char *frame = conn->js_frames + (size_t)slot * conn->js_frame_size;
        size_t size = jspub_frame_write(conn, frame, inbox, digits, slot);
        ASSERT(size == conn->js_frame_size); /* zero-padded slots: one size for all */
        ASSERT(conn->js_subjects == 0 || frame[conn->js_subject_offset - 1] == '.');
    }
    conn->js_window = opts->window;
    conn->target = target;
    return 0;
}

static uint64_t jspub_in_flight(const struct conn *conn)
{
    ASSERT(conn->acked + conn->refused <= conn->sent);
    return conn->sent - conn->acked - conn->refused;
}

/* Finished once the last publish is sent and every publish has its ack. */
static void jspub_check_done(struct conn *conn, int64_t now_ns)
{
    if (conn->finished || conn->sent != conn->target || jspub_in_flight(conn) > 0) {
        return;
    }
    conn->finished = true;
    conn->finished_ns = now_ns;
    side_conn_finished(conn->side);
}

/* --subjects: gives the frames of the run of `count` slots from `first`, publishes
 * conn->sent onwards, the subjects of those publishes. Only while no send is in flight. */
static void jspub_subjects_rewrite(struct conn *conn, uint32_t first, uint32_t count)
{
    ASSERT(!conn->send_in_flight);
    ASSERT(conn->js_subjects > 1);
    ASSERT(first + count <= conn->js_window);
    uint32_t subject_index = (uint32_t)(conn->sent % conn->js_subjects);
    char *token = conn->js_frames + (size_t)first * conn->js_frame_size + conn->js_subject_offset;
    for (uint32_t i = 0; i < count; i++) {
        jspub_digits_write(token, conn->js_subject_digits, subject_index);
        token += conn->js_frame_size;
        subject_index++;
        if (subject_index == conn->js_subjects) {
            subject_index = 0;
        }
    }
}

bool jspub_next_send(struct conn *conn, const char **data, size_t *size)
{
    struct side *side = conn->side;
    if (conn->finished) {
        return false;
    }
    int64_t now_ns = clock_monotonic_ns();
    ASSERT(now_ns > 0); /* 0 marks a free slot */
    if (conn->target == UINT64_MAX && now_ns >= side->stop_ns) {
        conn->target = conn->sent; /* duration over: what is in flight still counts */
    }
    uint32_t first = (uint32_t)(conn->sent % conn->js_window);
    uint64_t left = conn->target - conn->sent;
    uint32_t count = 0;
    /* Bounded by the window's end: one send is one contiguous run of frames. */
    while (count < left && first + count < conn->js_window &&
           conn->js_sent_ns[first + count] == 0) {
        count++;
    }
    if (count == 0) {
        jspub_check_done(conn, now_ns);
        return false;
    }
    if (jspub_in_flight(conn) == 0) {
        conn->js_progress_ns = now_ns; /* the stall clock starts with the first publish */
    }
    for (uint32_t i = 0; i < count; i++) {
        conn->js_sent_ns[first + i] = now_ns;
    }
    if (conn->js_subject_rewrite) {
        jspub_subjects_rewrite(conn, first, count);
    }
    conn->sent += count;
    *data = conn->js_frames + (size_t)first * conn->js_frame_size;
    *size = (size_t)count * conn->js_frame_size;
    return true;
}

/* The slot named by the last token of an ack's subject; -EPROTO when there is none. */
static int jspub_slot(const struct conn *conn, const char *subject, size_t subject_size,
                      uint32_t *slot)
{
    size_t start = subject_size;
    while (start > 0 && subject[start - 1] >= '0' && subject[start - 1] <= '9') {
        start--;
    }
    size_t digits = subject_size - start;
    if (digits == 0 || digits > JSPUB_SLOT_DIGITS_MAX || start == 0 || subject[start - 1] != '.') {
        return -EPROTO;
    }
    uint32_t value = 0;
    for (size_t i = start; i < subject_size; i++) {
        value = value * JSPUB_DECIMAL_BASE + (uint32_t)(subject[i] - '0');
    }
    if (value >= conn->js_window) {
        return -EPROTO;
    }
    *slot = value;
    return 0;
}

/* Keeps the first refusal's description (or its whole payload) for the report. */
static void jspub_note_refusal(struct side *side, const char *payload, size_t payload_size)
{
    if (side->result.refused_text[0] != '\0') {
        return;
    }
    const char *text = payload;
    size_t text_size = payload_size;
    const char *key =
        memmem(payload, payload_size, JSPUB_DESCRIPTION_KEY, sizeof JSPUB_DESCRIPTION_KEY - 1);
    if (key != NULL) {
        text = key + sizeof JSPUB_DESCRIPTION_KEY - 1;
        const char *quote = memchr(text, '"', payload_size - (size_t)(text - payload));
        text_size =
            quote != NULL ? (size_t)(quote - text) : payload_size - (size_t)(text - payload);
    }
    snprintf(side->result.refused_text, sizeof side->result.refused_text, "%.*s", (int)text_size,
             text);
}

void jspub_on_ack(struct conn *conn, const char *subject, size_t subject_size, const char *payload,
                  size_t payload_size)
{
    struct side *side = conn->side;
    uint32_t slot = 0;
    if (jspub_slot(conn, subject, subject_size, &slot) < 0 || conn->js_sent_ns[slot] == 0) {
        side_fail(side, -EPROTO, "publisher %u: reply on %.*s matches no publish in flight",
                  conn->index, (int)subject_size, subject);
        return;
    }
    bool error = memmem(payload, payload_size, JSPUB_ERROR_KEY, sizeof JSPUB_ERROR_KEY - 1) != NULL;
    bool seq = memmem(payload, payload_size, JSPUB_SEQ_KEY, sizeof JSPUB_SEQ_KEY - 1) != NULL;
    if (!error && !seq) {
        side_fail(side, -EPROTO, "publisher %u: reply on %.*s is no JetStream ack: '%.*s'",
                  conn->index, (int)subject_size, subject, (int)payload_size, payload);
        return;
    }
    hist_record(&side->result.hist, side->now_ns - conn->js_sent_ns[slot]);
    conn->js_sent_ns[slot] = 0;
    conn->js_progress_ns = side->now_ns;
    if (error) {
        conn->refused++;
        jspub_note_refusal(side, payload, payload_size);
    } else {
        conn->acked++;
    }
    jspub_check_done(conn, side->now_ns);
}

void jspub_tick(struct conn *conn)
{
    struct side *side = conn->side;
    if (conn->finished || jspub_in_flight(conn) == 0) {
        return;
    }
    if (side->now_ns - conn->js_progress_ns > (int64_t)JSPUB_STALL_S * NS_PER_SEC) {
        side_fail(side, -ETIMEDOUT,
                  "publisher %u: no ack for %d s with %llu publishes in flight (does a stream "
                  "take subject %s?)",
                  conn->index, JSPUB_STALL_S, (unsigned long long)jspub_in_flight(conn),
                  side->opts->subject);
    }
}
