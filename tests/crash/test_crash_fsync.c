/* A failed fsync: the disk under one stream starts failing its datasyncs (EIO, injected by
 * fsync_fail_shim.so preloaded into the broker on the epoll backend, whose store thread
 * syncs through libc). What the broker must do:
 *
 *  - the publish whose group commit failed gets an error ack (10077, "stream store failed:
 *    ..."), never a success ack, and so do the publishes after it;
 *  - the stream's info says why (`store_error`), and the log says so once;
 *  - the messages acked before the failure are still readable;
 *  - another stream on the same broker goes on storing and acking;
 *  - after a restart on a healthy disk the stream takes writes again and nothing acked is
 *    lost;
 *  - a stream with persist_mode async (BADA, on the same failing disk) is acked at the
 *    append: its first publish after the failure gets a success ack although the datasync
 *    of its group commit fails, and only the publishes after that failure get 10077.
 * Loopback only; the broker is started and stopped by PID (crash.h). */
#include "tests/crash/crash.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { WHY_SIZE = 1024, BEFORE = 5, LOG_SHOW_BYTES = 8192 };
/* How long BADA's failed commit may take to show in its info, and how often it is asked. */
enum { ASYNC_FAILED_WAIT_MS = 10000, ASYNC_POLL_MS = 10 };

static char run_dir[256];
static char store_dir[300];
static char log_path[300];
static char trigger_path[300];
static struct crash_broker broker;

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

/* A publish that must be acked at `seq`. */
static void publish_acked(struct crash_conn *conn, const char *subject, uint64_t seq)
{
    char body[64];
    snprintf(body, sizeof body, "message %" PRIu64, seq);
    json_t *ack = request(conn, subject, body);
    char text[512];
    if (crash_api_error(ack, text, sizeof text) != 0) {
        fail("publish on %s: error ack %s", subject, text);
    }
    uint64_t got = (uint64_t)json_integer_value(json_object_get(ack, "seq"));
    if (got != seq) {
        fail("publish on %s: acked at %" PRIu64 ", not %" PRIu64, subject, got, seq);
    }
    json_decref(ack);
}

/* A publish that must get 10077 with the store's failure in its text. */
static void publish_refused(struct crash_conn *conn, const char *subject)
{
    json_t *ack = request(conn, subject, "after the failure");
    char text[512] = "";
    int code = crash_api_error(ack, text, sizeof text);
    if (code != 10077 || strstr(text, "stream store failed") == NULL) {
        char *dump = json_dumps(ack, JSON_COMPACT);
        fail("publish on %s after the failure: want 10077 \"stream store failed...\", got %s",
             subject, dump != NULL ? dump : "?");
    }
    json_decref(ack);
}

static void stream_create(struct crash_conn *conn, const char *name, const char *config)
{
    char why[WHY_SIZE];
    if (crash_stream_create(conn, name, config, why, sizeof why) != 0) {
        fail("%s", why);
    }
}

/* Polls the info of `name` until its store_error says the disk failed. */
static void store_error_wait(struct crash_conn *conn, const char *name)
{
    char subject[64];
    snprintf(subject, sizeof subject, "$JS.API.STREAM.INFO.%s", name);
    int64_t deadline = crash_now_ms() + ASYNC_FAILED_WAIT_MS;
    for (;;) {
        json_t *info = request(conn, subject, "");
        const char *store_error = json_string_value(json_object_get(info, "store_error"));
        bool failed = store_error != NULL && strstr(store_error, "Input/output error") != NULL;
        json_decref(info);
        if (failed) {
            return;
        }
        if (crash_now_ms() > deadline) {
            fail("stream info of %s does not say why it stopped", name);
        }
        usleep(ASYNC_POLL_MS * 1000);
    }
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

static void broker_start(const char *const *extra)
{
    int rc = crash_broker_start(&broker, store_dir, extra, log_path);
    if (rc != 0) {
        fail("the broker did not start: %s", strerror(-rc));
    }
}

static void failing_disk(void)
{
    static const char *const extra[] = {"--io", "epoll", NULL};
    broker_start(extra);
    struct crash_conn conn;
    if (crash_conn_open(&conn, broker.port) != 0) {
        fail("cannot connect");
    }
    stream_create(&conn, "BAD", "{\"name\":\"BAD\",\"subjects\":[\"bad.>\"]}");
    stream_create(&conn, "GOOD", "{\"name\":\"GOOD\",\"subjects\":[\"good.>\"]}");
    /* nothing published before the failure: no commit of its own is pending then */
    stream_create(&conn, "BADA",
                  "{\"name\":\"BADA\",\"subjects\":[\"bada.>\"],\"persist_mode\":\"async\"}");
    for (uint64_t seq = 1; seq <= BEFORE; seq++) {
        publish_acked(&conn, "bad.x", seq);
        publish_acked(&conn, "good.x", seq);
    }
    FILE *trigger = fopen(trigger_path, "w");
    if (trigger == NULL) {
        fail("cannot create %s", trigger_path);
    }
    fclose(trigger);
    publish_refused(&conn, "bad.x"); /* its group commit's datasync fails */
    publish_refused(&conn, "bad.y"); /* the stream takes no more writes */
    publish_acked(&conn, "good.x", BEFORE + 1);
    publish_acked(&conn, "bada.x", 1); /* at the append: its commit's datasync fails after */
    store_error_wait(&conn, "BADA");
    publish_refused(&conn, "bada.x");
    json_t *info = request(&conn, "$JS.API.STREAM.INFO.BAD", "");
    const char *store_error = json_string_value(json_object_get(info, "store_error"));
    if (store_error == NULL || strstr(store_error, "Input/output error") == NULL) {
        fail("stream info of BAD does not say why it stopped");
    }
    json_decref(info);
    for (uint64_t seq = 1; seq <= BEFORE; seq++) {
        char body[64];
        snprintf(body, sizeof body, "{\"seq\":%" PRIu64 "}", seq);
        json_t *got = request(&conn, "$JS.API.STREAM.MSG.GET.BAD", body);
        char text[256];
        if (crash_api_error(got, text, sizeof text) != 0) {
            fail("message %" PRIu64 " of BAD, acked before the failure, is gone: %s", seq, text);
        }
        json_decref(got);
    }
    if (!log_contains("stream BAD stopped taking writes: Input/output error")) {
        fail("the log does not say that BAD stopped taking writes");
    }
    crash_conn_close(&conn);
    int status;
    if (!crash_broker_stop(&broker, &status)) {
        char how[64];
        crash_status_describe(status, how, sizeof how);
        fail("the broker did not stop cleanly with a failed stream: %s", how);
    }
}

static void healthy_again(void)
{
    unlink(trigger_path);
    static const char *const extra[] = {"--io", "epoll", NULL};
    broker_start(extra);
    struct crash_conn conn;
    if (crash_conn_open(&conn, broker.port) != 0) {
        fail("cannot connect after the restart");
    }
    json_t *info = request(&conn, "$JS.API.STREAM.INFO.BAD", "");
    json_t *state = json_object_get(info, "state");
    uint64_t last = (uint64_t)json_integer_value(json_object_get(state, "last_seq"));
    if (last < BEFORE) {
        fail("after the restart BAD ends at %" PRIu64 ", before what was acked", last);
    }
    json_decref(info);
    publish_acked(&conn, "bad.x", last + 1);
    crash_conn_close(&conn);
    int status;
    crash_broker_stop(&broker, &status);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *shim = getenv("IONATS_FSYNC_FAIL_SHIM");
    if (shim == NULL) {
        printf("SKIP: IONATS_FSYNC_FAIL_SHIM names no shim\n");
        return CRASH_EXIT_SKIP;
    }
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(run_dir, sizeof run_dir, "%s/ionats-fsync-XXXXXX", tmp);
    if (mkdtemp(run_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(store_dir, sizeof store_dir, "%s/store", run_dir);
    snprintf(log_path, sizeof log_path, "%s/broker.log", run_dir);
    snprintf(trigger_path, sizeof trigger_path, "%s/FAIL", run_dir);
    if (mkdir(store_dir, 0755) != 0) {
        perror("mkdir");
        return 1;
    }
    /* inherited by the broker only: this process has its libraries loaded already */
    setenv("LD_PRELOAD", shim, 1);
    setenv("IONATS_FSYNC_FAIL_MATCH", "/streams/BAD", 1); /* BAD and BADA */
    setenv("IONATS_FSYNC_FAIL_TRIGGER", trigger_path, 1);
    /* a sanitizer's runtime in the broker wants to come first; the shim is plain libc */
    setenv("ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=1:abort_on_error=1", 1);
    failing_disk();
    healthy_again();
    char command[400];
    snprintf(command, sizeof command, "rm -rf '%s'", run_dir);
    if (system(command) != 0) {
        fprintf(stderr, "cannot remove %s\n", run_dir);
    }
    printf("ok: a failed datasync stops one stream's writes with error acks, says why in its "
           "info and the log, keeps what was acked, and leaves the other stream going; an "
           "async stream's ack left before its failed datasync\n");
    return 0;
}
