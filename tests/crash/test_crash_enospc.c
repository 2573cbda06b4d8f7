/* ENOSPC: the broker's store directory on a 16 MB tmpfs, filled by publishes under
 * --sync always. What the broker must do:
 *
 *  - once the disk is full, a publish gets an error ack: not a crash, not silence (no ack
 *    within CRASH_REPLY_WAIT_MS), not an ack for a message that is not stored;
 *  - every message acked before is still readable byte for byte, and the stream's info
 *    answers;
 *  - another stream (a memory stream) goes on storing and serving messages;
 *  - a stream created on the full disk is refused with an error reply (or works), and one
 *    refused is not there after a restart;
 *  - a broker restarted on the full disk (after a SIGKILL; after a SIGTERM, which must exit
 *    0) starts, serves what it had, and still refuses with an error ack;
 *  - once space is made (another stream deleted through the API; then this stream purged
 *    through the API after the disk filled again), publishes succeed again;
 *  - restarts afterwards (SIGTERM, then SIGKILL) lose nothing that was acked, and purged
 *    messages stay purged.
 *
 * The mount: in a mount namespace of its own when the kernel lets us (so the tmpfs is gone
 * with the test whatever happens), and unmounted explicitly by the parent process, which
 * runs the scenario in a child and unmounts after the child (and with it the broker, by
 * PR_SET_PDEATHSIG) has ended, on success, failure, crash or timeout alike. Needs root
 * (CAP_SYS_ADMIN) for the mount: without it the test is skipped (exit 77). */
#include "tests/crash/crash.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
    /* The tmpfs: small enough to fill in a second, big enough for a few 1 MB segments of
     * three streams. */
    TMPFS_SIZE_MB = 16,
    /* Ballast in stream B: deleting it is the first way space is made. */
    BALLAST_MSG_SIZE = 64 * 1024,
    BALLAST_BYTES = 5 * 1024 * 1024,
    /* Publishes to F until the disk is full: far more than 16 MB of messages. */
    FILL_PUBLISHES_MAX = 4000,
    FILL_SIZE_MIN = 1024,
    FILL_SIZE_MAX = 48 * 1024,
    FILL_WINDOW = 8,
    /* Retries of the refused publish on the full disk: each must be refused again. */
    REFUSED_RETRIES = 5,
    /* Publishes that must succeed after space is made. */
    AFTER_SPACE_PUBLISHES = 20,
    MEMORY_PUBLISHES = 10,
    /* How long the space of a deleted stream may take to come back. */
    SPACE_WAIT_MS = 3000,
    /* The whole scenario's bound, after which the parent kills it and unmounts. */
    WATCHDOG_S = 180,
    /* Waiting for the mount to be free once the broker is gone. */
    UNMOUNT_WAIT_MS = 5000,
    WHY_SIZE = 1024,
    /* The end of the broker's log a failure shows: its last few restarts. */
    LOG_SHOW_BYTES = 16 * 1024,
    MODEL_MAX = FILL_PUBLISHES_MAX * 2 + AFTER_SPACE_PUBLISHES * 2 + 16,
};

static char run_dir[256];
static char store_dir[300];
static char log_path[300];
static struct crash_broker broker;
static const char *phase = "start";
static uint64_t run_seed;

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
    fprintf(stderr, "FAIL [phase: %s, seed %" PRIu64 "]: ", phase, run_seed);
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

/* ---- what was acked in stream F ---- */

struct acked {
    uint64_t seq;
    uint64_t id;
    size_t length;
    bool purged; /* below a purge's sequence: gone on purpose */
};

static struct acked f_acked[MODEL_MAX];
static size_t f_acked_count;
static uint64_t next_id = 1;
static uint8_t payload[FILL_SIZE_MAX > BALLAST_MSG_SIZE ? FILL_SIZE_MAX : BALLAST_MSG_SIZE];

static const char *const BROKER_FLAGS[] = {"--sync", "always", "--segment_size", "1MB",
                                           /* the account limit must not be what refuses */
                                           "--max_file_store", "1GB", NULL};

static void broker_start(const char *why)
{
    crash_log_mark(log_path, "=== enospc test: start (%s) ===", why);
    int rc = crash_broker_start(&broker, store_dir, BROKER_FLAGS, log_path);
    if (rc != 0) {
        fail("the broker did not start (%s): %s", why, strerror(-rc));
    }
}

static void broker_check_alive(void)
{
    int status = 0;
    if (!crash_broker_alive(&broker, &status)) {
        char how[96];
        crash_status_describe(status, how, sizeof how);
        fail("the broker ended by itself: %s", how);
    }
}

static void connect_checked(struct crash_conn *conn)
{
    int rc = crash_conn_open(conn, broker.port);
    if (rc != 0) {
        fail("cannot connect: %s", strerror(-rc));
    }
}

static void create_checked(struct crash_conn *conn, const char *name, const char *config)
{
    char why[WHY_SIZE];
    if (crash_stream_create(conn, name, config, why, sizeof why) != 0) {
        fail("%s", why);
    }
}

static uint64_t free_bytes(void)
{
    struct statvfs st;
    return statvfs(store_dir, &st) == 0 ? (uint64_t)st.f_bavail * st.f_frsize : 0;
}

/* One publish of a fresh self-checking payload of `length` bytes to `subject`: 0 and the
 * acked sequence, or the err_code of an error ack. No ack at all fails the test. */
static int publish(struct crash_conn *conn, const char *stream, const char *subject, size_t length,
                   uint64_t *id, uint64_t *seq, char *why, size_t why_size)
{
    *id = next_id++;
    crash_payload_fill(payload, length, *id);
    int rc = crash_publish_acked(conn, stream, subject, payload, length, seq, why, why_size);
    if (rc < 0) {
        broker_check_alive();
        fail("publish of %zu bytes to %s: %s", length, subject, why);
    }
    return rc;
}

static void f_remember(uint64_t id, uint64_t seq, size_t length)
{
    if (f_acked_count == MODEL_MAX) {
        fail("more acks than the test keeps (%d)", MODEL_MAX);
    }
    if (f_acked_count > 0 && seq <= f_acked[f_acked_count - 1].seq) {
        fail("ack with sequence %" PRIu64 " after one with %" PRIu64, seq,
             f_acked[f_acked_count - 1].seq);
    }
    f_acked[f_acked_count++] = (struct acked){.seq = seq, .id = id, .length = length};
}

/* Reads one message back and checks it is message `id` of `length` bytes on `subject`. */
static void expect_message(struct crash_conn *conn, const char *stream, uint64_t seq, uint64_t id,
                           size_t length, const char *subject)
{
    struct crash_msg msg;
    char why[WHY_SIZE] = "";
    int rc = crash_msg_get(conn, stream, seq, &msg, why, sizeof why);
    if (rc == -ENOENT) {
        fail("acked message %s seq %" PRIu64 " (id %" PRIu64 ") is gone", stream, seq, id);
    }
    if (rc != 0) {
        fail("%s", why);
    }
    uint64_t found = 0;
    if (crash_payload_check(msg.data, msg.length, &found, why, sizeof why) != 0) {
        fail("%s seq %" PRIu64 ": %s", stream, seq, why);
    }
    if (found != id || msg.length != length || strcmp(msg.subject, subject) != 0) {
        fail("%s seq %" PRIu64 " holds id %" PRIu64 " (%zu bytes, %s); acked for id %" PRIu64
             " (%zu bytes, %s)",
             stream, seq, found, msg.length, msg.subject, id, length, subject);
    }
    crash_msg_free(&msg);
}

/* Every message acked in F (and not purged) is there, byte for byte; purged ones stay gone;
 * the stream's info answers with a last_seq covering every ack. */
static void f_verify(struct crash_conn *conn, const char *when)
{
    struct crash_stream_state state;
    char why[WHY_SIZE];
    if (crash_stream_info(conn, "F", &state, why, sizeof why) != 0) {
        fail("%s: %s", when, why);
    }
    uint64_t acked_max = f_acked_count > 0 ? f_acked[f_acked_count - 1].seq : 0;
    if (state.last_seq < acked_max) {
        fail("%s: F's last_seq %" PRIu64 " is below its highest acked sequence %" PRIu64, when,
             state.last_seq, acked_max);
    }
    size_t purged_checked = 0;
    for (size_t i = 0; i < f_acked_count; i++) {
        const struct acked *a = &f_acked[i];
        if (!a->purged) {
            expect_message(conn, "F", a->seq, a->id, a->length, "full.data");
        } else if (purged_checked++ < 8 || i + 1 == f_acked_count || !f_acked[i + 1].purged) {
            struct crash_msg msg;
            int rc = crash_msg_get(conn, "F", a->seq, &msg, why, sizeof why);
            if (rc != -ENOENT) {
                fail("%s: purged F seq %" PRIu64 " is %s", when, a->seq, rc == 0 ? "back" : why);
            }
        }
    }
    printf("  %s: F first_seq %" PRIu64 " last_seq %" PRIu64 " messages %" PRIu64
           ", %zu acked messages checked\n",
           when, state.first_seq, state.last_seq, state.messages, f_acked_count);
}

/* A publish of the fill in flight. */
struct fill_publish {
    uint64_t id;
    size_t length;
};

/* Publishes to F, FILL_WINDOW in flight, until an error ack; then reads the acks of the
 * publishes still in flight (acked ones are remembered: they must be readable). Returns the
 * size that was refused first. */
static size_t fill_until_refused(struct crash_conn *conn, uint64_t *rng)
{
    static unsigned fill_count;
    static struct fill_publish sent[FILL_PUBLISHES_MAX];
    char prefix[64];
    char wildcard[80];
    snprintf(prefix, sizeof prefix, "_ENOSPC_ACK.%u", ++fill_count);
    snprintf(wildcard, sizeof wildcard, "%s.*", prefix);
    uint64_t sid;
    if (crash_conn_subscribe(conn, wildcard, &sid) != 0) {
        fail("cannot subscribe %s", wildcard);
    }
    size_t sent_count = 0;
    size_t answered = 0;
    size_t refused_length = 0;
    while (answered < sent_count || (refused_length == 0 && sent_count < FILL_PUBLISHES_MAX)) {
        while (refused_length == 0 && sent_count < FILL_PUBLISHES_MAX &&
               sent_count - answered < FILL_WINDOW) {
            struct fill_publish *publish = &sent[sent_count];
            publish->id = next_id++;
            publish->length = crash_random_range(rng, FILL_SIZE_MIN, FILL_SIZE_MAX);
            crash_payload_fill(payload, publish->length, publish->id);
            char reply[96];
            snprintf(reply, sizeof reply, "%s.%zu", prefix, sent_count);
            if (crash_conn_publish(conn, "full.data", reply, payload, publish->length) != 0) {
                broker_check_alive();
                fail("cannot send publish %zu", sent_count);
            }
            sent_count++;
        }
        struct crash_frame frame;
        char error[256] = "";
        int rc = crash_conn_next(conn, &frame, CRASH_REPLY_WAIT_MS, error, sizeof error);
        if (rc != 0) {
            broker_check_alive();
            fail("no ack for publish %zu within %d ms: %s %s", answered, CRASH_REPLY_WAIT_MS,
                 strerror(-rc), error);
        }
        /* An error ack may overtake the acks of earlier publishes (those wait for their
         * group commit; a refusal leaves at once), so acks are matched by their subject. */
        size_t index = strtoul(frame.subject + strlen(prefix) + 1, NULL, 10);
        if (index >= sent_count || sent[index].length == 0) {
            fail("an ack on %.*s, which is no publish in flight", (int)frame.subject_length,
                 frame.subject);
        }
        answered++;
        uint64_t seq = 0;
        char why[WHY_SIZE] = "";
        rc = crash_ack_parse(frame.payload, frame.payload_length, "F", &seq, why, sizeof why);
        size_t length = sent[index].length;
        sent[index].length = 0; /* answered */
        if (rc == 0) {
            f_remember(sent[index].id, seq, length);
        } else if (rc < 0) {
            fail("publish %zu: %s", index, why);
        } else if (refused_length == 0) {
            refused_length = length;
            printf("  publish %zu (%zu bytes) refused with an error ack: %s; %" PRIu64
                   " bytes free on the tmpfs\n",
                   index, refused_length, why, free_bytes());
        }
    }
    broker_check_alive();
    if (refused_length == 0) {
        fail("%d publishes (up to %d KB each) to a %d MB disk were all acked", FILL_PUBLISHES_MAX,
             FILL_SIZE_MAX / 1024, TMPFS_SIZE_MB);
    }
    return refused_length;
}

/* A stream created on the full disk: the request is answered (an error, or a stream that
 * works), the broker lives. Returns whether it was created. */
static bool create_on_full_disk(struct crash_conn *conn)
{
    char why[WHY_SIZE];
    int rc = crash_stream_create(
        conn, "X", "{\"name\":\"X\",\"subjects\":[\"x.>\"],\"storage\":\"file\"}", why, sizeof why);
    broker_check_alive();
    if (rc != 0 && strstr(why, "no reply") != NULL) {
        fail("stream create on the full disk: %s", why);
    }
    printf("  stream create on the full disk: %s\n", rc == 0 ? "created" : why);
    return rc == 0;
}

/* After a restart: a stream whose create failed must not be there. */
static void expect_stream_absent(struct crash_conn *conn, const char *name, const char *when)
{
    struct crash_stream_state state;
    char why[WHY_SIZE];
    int rc = crash_stream_info(conn, name, &state, why, sizeof why);
    if (rc == 0) {
        fail("%s: stream %s, whose create failed, exists (last_seq %" PRIu64 ")", when, name,
             state.last_seq);
    }
    if (rc != -ENOENT) {
        fail("%s: %s", when, why);
    }
}

/* The same publish again, on a disk where nothing changed: refused again, every time. */
static void expect_refused(struct crash_conn *conn, size_t length, const char *when)
{
    for (int i = 0; i < REFUSED_RETRIES; i++) {
        uint64_t id, seq;
        char why[WHY_SIZE] = "";
        int rc = publish(conn, "F", "full.data", length, &id, &seq, why, sizeof why);
        if (rc == 0) {
            f_remember(id, seq, length);
            fail("%s: a publish of %zu bytes was acked (seq %" PRIu64
                 ") on the full disk where the same size was refused",
                 when, length, seq);
        }
    }
    broker_check_alive();
}

/* The memory stream stores and serves while the disk is full. */
static void memory_stream_works(struct crash_conn *conn, const char *when)
{
    for (int i = 0; i < MEMORY_PUBLISHES; i++) {
        size_t length = 100 + (size_t)i * 1000;
        uint64_t id, seq;
        char why[WHY_SIZE] = "";
        if (publish(conn, "M", "mem.data", length, &id, &seq, why, sizeof why) != 0) {
            fail("%s: the memory stream refused a publish: %s", when, why);
        }
        expect_message(conn, "M", seq, id, length, "mem.data");
    }
}

static void api_ok(struct crash_conn *conn, const char *subject, const char *body, json_t **out)
{
    char why[WHY_SIZE];
    json_t *reply = crash_request(conn, subject, body, CRASH_REPLY_WAIT_MS, why, sizeof why);
    if (reply == NULL) {
        fail("%s", why);
    }
    char text[256];
    if (crash_api_error(reply, text, sizeof text) != 0 ||
        !json_is_true(json_object_get(reply, "success"))) {
        char *dump = json_dumps(reply, JSON_COMPACT);
        fail("%s %s: %s", subject, body, dump != NULL ? dump : text);
    }
    if (out != NULL) {
        *out = reply;
    } else {
        json_decref(reply);
    }
}

/* After space was made: the refused size is taken (within SPACE_WAIT_MS), then more. */
static void publishes_succeed(struct crash_conn *conn, size_t length, const char *when)
{
    int64_t deadline = crash_now_ms() + SPACE_WAIT_MS;
    char why[WHY_SIZE] = "";
    for (;;) {
        uint64_t id, seq;
        int rc = publish(conn, "F", "full.data", length, &id, &seq, why, sizeof why);
        if (rc == 0) {
            f_remember(id, seq, length);
            break;
        }
        if (crash_now_ms() > deadline) {
            fail("%s: publishes are still refused %d ms after space was made (%" PRIu64
                 " bytes free): %s",
                 when, SPACE_WAIT_MS, free_bytes(), why);
        }
        usleep(100 * 1000);
    }
    for (int i = 0; i < AFTER_SPACE_PUBLISHES; i++) {
        uint64_t id, seq;
        size_t size = FILL_SIZE_MIN + (size_t)i * 512;
        if (publish(conn, "F", "full.data", size, &id, &seq, why, sizeof why) != 0) {
            fail("%s: publish %d after space was made refused: %s", when, i, why);
        }
        f_remember(id, seq, size);
    }
    printf("  %s: %d publishes acked; %" PRIu64 " bytes free on the tmpfs\n", when,
           AFTER_SPACE_PUBLISHES + 1, free_bytes());
}

static void restart(struct crash_conn *conn, bool clean, const char *why)
{
    crash_conn_close(conn);
    int status = 0;
    if (clean) {
        if (!crash_broker_stop(&broker, &status)) {
            char how[96];
            crash_status_describe(status, how, sizeof how);
            fail("the broker did not stop cleanly on SIGTERM: %s", how);
        }
    } else if (!crash_broker_kill(&broker, &status)) {
        char how[96];
        crash_status_describe(status, how, sizeof how);
        fail("the broker had ended by itself: %s", how);
    }
    broker_start(why);
    connect_checked(conn);
}

static int scenario(void)
{
    uint64_t rng = run_seed;
    struct crash_conn conn;
    phase = "create";
    broker_start("first");
    connect_checked(&conn);
    create_checked(&conn, "F", "{\"name\":\"F\",\"subjects\":[\"full.>\"],\"storage\":\"file\"}");
    create_checked(&conn, "B",
                   "{\"name\":\"B\",\"subjects\":[\"ballast.>\"],\"storage\":\"file\"}");
    create_checked(&conn, "M", "{\"name\":\"M\",\"subjects\":[\"mem.>\"],\"storage\":\"memory\"}");

    phase = "ballast";
    for (int i = 0; i < BALLAST_BYTES / BALLAST_MSG_SIZE; i++) {
        uint64_t id, seq;
        char why[WHY_SIZE] = "";
        if (publish(&conn, "B", "ballast.data", BALLAST_MSG_SIZE, &id, &seq, why, sizeof why)) {
            fail("ballast publish %d refused with %" PRIu64 " bytes free: %s", i, free_bytes(),
                 why);
        }
    }
    printf("ballast stored; %" PRIu64 " bytes free on the tmpfs\n", free_bytes());

    phase = "fill";
    size_t refused = fill_until_refused(&conn, &rng);
    expect_refused(&conn, refused, "full disk");
    printf("disk full after %zu acked publishes to F\n", f_acked_count);

    phase = "full: others go on";
    memory_stream_works(&conn, "full disk");
    f_verify(&conn, "full disk");
    bool x_created = create_on_full_disk(&conn);

    phase = "full: restart";
    restart(&conn, false, "SIGKILL on the full disk");
    f_verify(&conn, "restarted on the full disk");
    if (!x_created) {
        expect_stream_absent(&conn, "X", "restarted on the full disk");
    }
    expect_refused(&conn, refused, "restarted on the full disk");
    restart(&conn, true, "SIGTERM on the full disk");
    f_verify(&conn, "stopped and started on the full disk");
    expect_refused(&conn, refused, "stopped and started on the full disk");
    create_checked(&conn, "M", "{\"name\":\"M\",\"subjects\":[\"mem.>\"],\"storage\":\"memory\"}");
    memory_stream_works(&conn, "restarted on the full disk");

    phase = "space by deleting B";
    uint64_t before = free_bytes();
    api_ok(&conn, "$JS.API.STREAM.DELETE.B", "", NULL);
    printf("stream B deleted: %" PRIu64 " -> %" PRIu64 " bytes free\n", before, free_bytes());
    publishes_succeed(&conn, refused, "after deleting B");
    f_verify(&conn, "after deleting B");

    phase = "fill again";
    refused = fill_until_refused(&conn, &rng);
    expect_refused(&conn, refused, "full disk again");

    phase = "space by purging F";
    uint64_t keep_from = f_acked[f_acked_count - f_acked_count / 4].seq;
    char body[64];
    snprintf(body, sizeof body, "{\"seq\":%" PRIu64 "}", keep_from);
    before = free_bytes();
    json_t *reply = NULL;
    api_ok(&conn, "$JS.API.STREAM.PURGE.F", body, &reply);
    printf("F purged below seq %" PRIu64 " (%lld purged): %" PRIu64 " -> %" PRIu64 " bytes free\n",
           keep_from, (long long)json_integer_value(json_object_get(reply, "purged")), before,
           free_bytes());
    json_decref(reply);
    for (size_t i = 0; i < f_acked_count; i++) {
        f_acked[i].purged = f_acked[i].seq < keep_from;
    }
    publishes_succeed(&conn, refused, "after purging F");
    f_verify(&conn, "after purging F");
    memory_stream_works(&conn, "after purging F");

    phase = "restarts";
    restart(&conn, true, "SIGTERM after space was made");
    f_verify(&conn, "after a clean restart");
    restart(&conn, false, "SIGKILL after space was made");
    f_verify(&conn, "after a SIGKILL restart");
    crash_conn_close(&conn);
    int status;
    if (!crash_broker_stop(&broker, &status)) {
        char how[96];
        crash_status_describe(status, how, sizeof how);
        fail("the broker did not stop cleanly on SIGTERM: %s", how);
    }
    return 0;
}

/* ---- the mount, owned by the parent ---- */

static volatile pid_t worker_pid;

static void on_signal(int signal_number)
{
    if (worker_pid > 0) {
        kill(worker_pid, SIGKILL);
    }
    (void)signal_number;
}

static bool unmount_store(void)
{
    int64_t deadline = crash_now_ms() + UNMOUNT_WAIT_MS;
    while (umount2(store_dir, 0) != 0) {
        if (errno != EBUSY || crash_now_ms() > deadline) {
            fprintf(stderr, "enospc: umount %s: %s; detaching it\n", store_dir, strerror(errno));
            return umount2(store_dir, MNT_DETACH) == 0;
        }
        usleep(50 * 1000);
    }
    return true;
}

static void remove_run_dir(void)
{
    char command[600];
    snprintf(command, sizeof command, "rm -rf -- '%s'", run_dir);
    if (system(command) != 0) {
        fprintf(stderr, "enospc: could not remove %s\n", run_dir);
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    const char *seed_text = getenv("IONATS_CRASH_SEED");
    run_seed = seed_text != NULL ? strtoull(seed_text, NULL, 0)
                                 : crash_mix64((uint64_t)now.tv_nsec ^ (uint64_t)getpid());
    if (geteuid() != 0) {
        printf("SKIP: mounting a %d MB tmpfs for the full disk needs root\n", TMPFS_SIZE_MB);
        return CRASH_EXIT_SKIP;
    }
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(run_dir, sizeof run_dir, "%s/ionats-enospc-XXXXXX", tmp);
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
    /* a namespace of our own: the mount cannot outlive the test even if it is killed */
    bool private_ns =
        unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
    char options[64];
    snprintf(options, sizeof options, "size=%dm,mode=0755", TMPFS_SIZE_MB);
    if (mount("tmpfs", store_dir, "tmpfs", MS_NOSUID | MS_NODEV, options) != 0) {
        printf("SKIP: cannot mount a %d MB tmpfs on %s: %s\n", TMPFS_SIZE_MB, store_dir,
               strerror(errno));
        remove_run_dir();
        return CRASH_EXIT_SKIP;
    }
    printf("enospc test: seed %" PRIu64 ", %d MB tmpfs at %s%s\n", run_seed, TMPFS_SIZE_MB,
           store_dir, private_ns ? " (private mount namespace)" : "");
    struct sigaction action = {.sa_handler = on_signal};
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGALRM, &action, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGALRM, SIG_DFL);
        _exit(scenario());
    }
    int status = 0;
    bool ok = false;
    if (pid > 0) {
        worker_pid = pid;
        alarm(WATCHDOG_S);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        alarm(0);
        worker_pid = 0;
        ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok) {
            char how[96];
            crash_status_describe(status, how, sizeof how);
            fprintf(stderr, "enospc: the scenario ended with %s%s\n", how,
                    WIFSIGNALED(status) ? " (killed by the watchdog or a signal)" : "");
        }
    } else {
        perror("fork");
    }
    bool unmounted = unmount_store();
    if (!unmounted) {
        fprintf(stderr, "enospc: could not unmount %s\n", store_dir);
    }
    if (ok && unmounted) {
        remove_run_dir();
        printf("enospc test passed\n");
        return 0;
    }
    fprintf(stderr, "enospc: the broker's log is kept at %s\n", log_path);
    return 1;
}
