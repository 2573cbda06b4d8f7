/* A flipped byte on disk: a stream of three 1 MB segments, one byte of a message in the middle
 * segment flipped while the broker is stopped. What the broker must do at the next start:
 *
 *  - start, and name the damage in its log and in the stream's info (`lost`: the sequences
 *    it could not keep, with the damaged one among them);
 *  - lose nothing outside the damaged segment: every message of the first and the last
 *    segment reads back byte for byte;
 *  - never return the damaged message (MSG.GET says 10037), and go on storing at the next
 *    sequence.
 * Records are checksummed in a chain, so what follows the damaged record in its segment is
 * lost with it; the loss stops at the segment's end. Loopback only; the broker is started
 * and stopped by PID (crash.h). */
#include "tests/crash/crash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    WHY_SIZE = 1024,
    LOG_SHOW_BYTES = 8192,
    MESSAGES = 3000,
    PAYLOAD_SIZE = 1000,
    SEGMENTS_MAX = 64,
    /* whole segment files are read into memory to find the message to damage */
    SEGMENT_READ_MAX = 4 * 1024 * 1024,
};

static char run_dir[256];
static char store_dir[300];
static char log_path[300];
static struct crash_broker broker;
static const char *const broker_args[] = {"--segment_size", "1MB", NULL};

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
    fprintf(stderr, "FAIL: ");
    va_list args;
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
    int status;
    crash_broker_kill(&broker, &status);
    crash_log_show(log_path, LOG_SHOW_BYTES);
    exit(1);
}

static json_t *request(struct crash_conn *conn, const char *subject, const char *body)
{
    char why[WHY_SIZE];
    json_t *reply = crash_request(conn, subject, body, CRASH_REPLY_WAIT_MS, why, sizeof why);
    if (reply == NULL) {
        fail("%s: %s", subject, why);
    }
    return reply;
}

/* Message `seq`'s payload: its number, then a pattern derived from it. */
static void payload_make(uint64_t seq, char *payload)
{
    int n = snprintf(payload, PAYLOAD_SIZE, "msg-%06" PRIu64 "-", seq);
    for (size_t i = (size_t)n; i < PAYLOAD_SIZE; i++) {
        payload[i] = (char)('a' + (seq * 31 + i) % 26);
    }
}

static void publish_all(struct crash_conn *conn)
{
    char payload[PAYLOAD_SIZE + 1];
    for (uint64_t seq = 1; seq <= MESSAGES; seq++) {
        payload_make(seq, payload);
        payload[PAYLOAD_SIZE] = '\0';
        json_t *ack = request(conn, "flip.x", payload);
        uint64_t got = (uint64_t)json_integer_value(json_object_get(ack, "seq"));
        if (got != seq) {
            fail("publish %" PRIu64 " acked at %" PRIu64, seq, got);
        }
        json_decref(ack);
    }
}

/* 0 when message `seq` reads back as sent; 10037 when it is not there; fails otherwise. */
static int message_check(struct crash_conn *conn, uint64_t seq)
{
    char body[64];
    snprintf(body, sizeof body, "{\"seq\":%" PRIu64 "}", seq);
    json_t *reply = request(conn, "$JS.API.STREAM.MSG.GET.FLIP", body);
    char text[256];
    int code = crash_api_error(reply, text, sizeof text);
    if (code == 0) {
        const char *data = json_string_value(
            json_object_get(json_object_get(reply, "message"), "data"));
        char payload[PAYLOAD_SIZE];
        payload_make(seq, payload);
        /* compared through its base64 prefix: the first 12 bytes are "msg-NNNNNN-" + 1 */
        char expect[17];
        static const char alphabet[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; i < 4; i++) {
            const unsigned char *in = (const unsigned char *)payload + 3 * i;
            uint32_t chunk = (uint32_t)in[0] << 16 | (uint32_t)in[1] << 8 | in[2];
            for (int j = 0; j < 4; j++) {
                expect[4 * i + j] = alphabet[(chunk >> (18 - 6 * j)) & 63];
            }
        }
        expect[16] = '\0';
        if (data == NULL || strncmp(data, expect, 16) != 0) {
            fail("message %" PRIu64 " does not read back as sent", seq);
        }
    } else if (code != 10037) {
        fail("message %" PRIu64 ": unexpected error %d %s", seq, code, text);
    }
    json_decref(reply);
    return code;
}

static int name_compare(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first message a segment file holds: the smallest "msg-NNNNNN-" in it (0: none). */
static uint64_t segment_first(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fail("open %s: %s", path, strerror(errno));
    }
    char *bytes = malloc(SEGMENT_READ_MAX);
    ssize_t n = pread(fd, bytes, SEGMENT_READ_MAX, 0);
    close(fd);
    uint64_t first = 0;
    for (char *at = bytes; n > 0 && (at = memmem(at, (size_t)(bytes + n - at), "msg-", 4)) != NULL;
         at += 4) {
        uint64_t seq = strtoull(at + 4, NULL, 10);
        if (seq > 0 && (first == 0 || seq < first)) {
            first = seq;
        }
    }
    free(bytes);
    return first;
}

/* The stream's segment files in log order, with the first message each holds. */
static size_t segments_list(char *paths[SEGMENTS_MAX], uint64_t firsts[SEGMENTS_MAX])
{
    char dir_path[400];
    snprintf(dir_path, sizeof dir_path, "%s/jetstream/$G/streams/FLIP/msgs", store_dir);
    DIR *dir = opendir(dir_path);
    if (dir == NULL) {
        fail("no segment directory %s", dir_path);
    }
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL && count < SEGMENTS_MAX) {
        if (strstr(entry->d_name, ".seg") != NULL) {
            size_t length = strlen(dir_path) + strlen(entry->d_name) + 2;
            paths[count] = malloc(length);
            snprintf(paths[count], length, "%s/%s", dir_path, entry->d_name);
            count++;
        }
    }
    closedir(dir);
    qsort(paths, count, sizeof paths[0], name_compare);
    for (size_t i = 0; i < count; i++) {
        firsts[i] = segment_first(paths[i]);
    }
    return count;
}

/* Flips one byte in the payload of message `seq` in segment `path`. */
static void byte_flip(const char *path, uint64_t seq)
{
    int fd = open(path, O_RDWR);
    if (fd < 0) {
        fail("open %s: %s", path, strerror(errno));
    }
    char *bytes = malloc(SEGMENT_READ_MAX);
    ssize_t n = pread(fd, bytes, SEGMENT_READ_MAX, 0);
    char needle[32];
    snprintf(needle, sizeof needle, "msg-%06" PRIu64 "-", seq);
    char *found = n > 0 ? memmem(bytes, (size_t)n, needle, strlen(needle)) : NULL;
    if (found == NULL) {
        fail("message %" PRIu64 " not found in %s", seq, path);
    }
    off_t at = (off_t)(found - bytes) + 20; /* inside the payload's pattern */
    char byte = (char)(bytes[at] ^ 0x10);
    if (pwrite(fd, &byte, 1, at) != 1 || fsync(fd) != 0) {
        fail("cannot flip a byte of %s", path);
    }
    free(bytes);
    close(fd);
}

static bool log_contains(const char *needle)
{
    FILE *file = fopen(log_path, "r");
    if (file == NULL) {
        return false;
    }
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[n] = '\0';
    return strstr(text, needle) != NULL;
}

static void broker_start(void)
{
    int rc = crash_broker_start(&broker, store_dir, broker_args, log_path);
    if (rc != 0) {
        fail("the broker did not start: %s", strerror(-rc));
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(run_dir, sizeof run_dir, "%s/ionats-bitflip-XXXXXX", tmp);
    if (mkdtemp(run_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(store_dir, sizeof store_dir, "%s/store", run_dir);
    snprintf(log_path, sizeof log_path, "%s/broker.log", run_dir);
    if (mkdir(store_dir, 0755) != 0) {
        perror("mkdir");
        return 1;
    }
    broker_start();
    struct crash_conn conn;
    if (crash_conn_open(&conn, broker.port) != 0) {
        fail("cannot connect");
    }
    char why[WHY_SIZE];
    if (crash_stream_create(&conn, "FLIP", "{\"name\":\"FLIP\",\"subjects\":[\"flip.>\"]}", why,
                            sizeof why) != 0) {
        fail("%s", why);
    }
    publish_all(&conn);
    crash_conn_close(&conn);
    int status;
    if (!crash_broker_stop(&broker, &status)) {
        fail("the broker did not stop cleanly");
    }
    char *paths[SEGMENTS_MAX];
    uint64_t firsts[SEGMENTS_MAX];
    size_t segments = segments_list(paths, firsts);
    if (segments < 3) {
        fail("%zu segments, want at least 3 for a damaged one in the middle", segments);
    }
    uint64_t damaged = firsts[1] + (firsts[2] - firsts[1]) / 2;
    byte_flip(paths[1], damaged);
    printf("%zu segments; flipped a byte of message %" PRIu64 " in the one holding %" PRIu64
           "..%" PRIu64 "\n",
           segments, damaged, firsts[1], firsts[2] - 1);

    broker_start();
    if (crash_conn_open(&conn, broker.port) != 0) {
        fail("cannot connect after the restart");
    }
    json_t *info = request(&conn, "$JS.API.STREAM.INFO.FLIP", "");
    json_t *lost = json_object_get(json_object_get(info, "state"), "lost");
    json_t *msgs = json_object_get(lost, "msgs");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        fail("stream info names no lost messages");
    }
    bool named = false;
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        uint64_t seq = (uint64_t)json_integer_value(json_array_get(msgs, i));
        if (seq < firsts[1] || seq >= firsts[2]) {
            fail("message %" PRIu64 ", outside the damaged segment, is lost", seq);
        }
        named |= seq == damaged;
    }
    if (!named) {
        fail("the damaged message %" PRIu64 " is not among the lost", damaged);
    }
    printf("lost: %zu messages, %" PRId64 " bytes, all in the damaged segment\n",
           json_array_size(msgs), (int64_t)json_integer_value(json_object_get(lost, "bytes")));
    json_decref(info);
    if (message_check(&conn, damaged) != 10037) {
        fail("the damaged message %" PRIu64 " was returned", damaged);
    }
    for (uint64_t seq = 1; seq < firsts[1]; seq++) {
        if (message_check(&conn, seq) != 0) {
            fail("message %" PRIu64 " of the first segment is gone", seq);
        }
    }
    for (uint64_t seq = firsts[2]; seq <= MESSAGES; seq++) {
        if (message_check(&conn, seq) != 0) {
            fail("message %" PRIu64 " after the damaged segment is gone", seq);
        }
    }
    json_t *ack = request(&conn, "flip.x", "after");
    if ((uint64_t)json_integer_value(json_object_get(ack, "seq")) != MESSAGES + 1) {
        fail("the next publish is not stored at %d", MESSAGES + 1);
    }
    json_decref(ack);
    if (!log_contains("does not validate") && !log_contains("lost")) {
        fail("the log does not name the damage");
    }
    crash_conn_close(&conn);
    crash_broker_stop(&broker, &status);
    for (size_t i = 0; i < segments; i++) {
        free(paths[i]);
    }
    char command[400];
    snprintf(command, sizeof command, "rm -rf '%s'", run_dir);
    if (system(command) != 0) {
        fprintf(stderr, "cannot remove %s\n", run_dir);
    }
    printf("ok: a flipped byte loses only messages of its own segment, named in stream info; "
           "the others read back, the next publish goes on\n");
    return 0;
}
