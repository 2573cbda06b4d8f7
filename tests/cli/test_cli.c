/* The command line and the flags: each flag's effect shown on a running broker.
 *
 * The one idea: every flag ionats has must do something observable, so each test starts
 * the real binary with a flag and checks what a client or the log sees. ionats only (the
 * reference has other flags); raw sockets, loopback, every wait bounded. */
#include "tests/harness/server.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { WAIT_MS = 5000, OUTPUT_SIZE = 1 << 16 };

static const char QUIET[] = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";

/* Runs ionats with `args`, which must exit by itself within WAIT_MS; returns its exit
 * status, output in `out`. */
static int run_binary(const char *const *args, char *out, size_t size)
{
    struct test_binary_run run;
    ck_assert_int_eq(test_binary_run(args, NULL, WAIT_MS, NULL, out, size, &run), 0);
    ck_assert_msg(!run.stopped, "ionats did not exit by itself:\n%s", out);
    return run.status;
}

static int raw_open(int port, char *info, size_t size)
{
    int fd = test_connect_raw(port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_ge(test_read_until(fd, info, size, "\r\n", WAIT_MS), 0);
    ck_assert_int_eq(test_send_all(fd, QUIET, sizeof QUIET - 1), 0);
    return fd;
}

static void raw_expect(int fd, const char *send, const char *expect)
{
    static char seen[OUTPUT_SIZE];
    ck_assert_int_eq(test_send_all(fd, send, strlen(send)), 0);
    ck_assert_msg(test_read_until(fd, seen, sizeof seen, expect, WAIT_MS) >= 0,
                  "sent %s, did not see %s (saw %s)", send, expect, seen);
}

static bool file_contains(const char *path, const char *needle)
{
    static char text[1 << 20];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        return false;
    }
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    text[n > 0 ? n : 0] = '\0';
    return strstr(text, needle) != NULL;
}

static bool wait_file_contains(const char *path, const char *needle)
{
    long deadline = test_now_ms() + WAIT_MS;
    while (test_now_ms() < deadline) {
        if (file_contains(path, needle)) {
            return true;
        }
        usleep(10000);
    }
    return false;
}

START_TEST(test_help_lists_every_flag)
{
    static const char *const names[] = {
        "--addr", "--port", "--server_name", "--log", "--debug", "--trace", "-DV", "--user",
        "--pass", "--auth", "--auth_timeout", "--max_payload", "--max_control_line",
        "--max_pending", "--max_connections", "--max_subscriptions", "--ping_interval",
        "--ping_max", "--write_deadline", "--shards", "--cpus", "--placement",
        "--xshard_ring_size", "--xshard_overflow_max", "--stats", "--recv_buf_size", "--recv_buf_count",
        "--ring_entries", "--help", "--version", "--jetstream", "--store_dir",
        "--max_memory_store", "--max_file_store", "--sync", "--sync_interval", "--segment_size",
        "--http_port", "--http_host", "--https_port"};
    static char out[OUTPUT_SIZE];
    static const char *const help[] = {"-h", NULL};
    ck_assert_int_eq(run_binary(help, out, sizeof out), 0);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ck_assert_msg(strstr(out, names[i]) != NULL, "--help does not list %s", names[i]);
    }
    static const char *const version[] = {"--version", NULL};
    ck_assert_int_eq(run_binary(version, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "ionats: v"));
}
END_TEST

START_TEST(test_bad_flags_exit_2)
{
    static char out[OUTPUT_SIZE];
    static const char *const unknown[] = {"--no_such_flag", NULL};
    ck_assert_int_eq(run_binary(unknown, out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "--no_such_flag"));
    static const char *const missing[] = {"--port", NULL};
    ck_assert_int_eq(run_binary(missing, out, sizeof out), 2);
    static const char *const bad_number[] = {"--max_payload", "lots", NULL};
    ck_assert_int_eq(run_binary(bad_number, out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "max_payload"));
    static const char *const bad_duration[] = {"--ping_interval=soon", NULL};
    ck_assert_int_eq(run_binary(bad_duration, out, sizeof out), 2);
    static const char *const bad_placement[] = {"--placement", "random", NULL};
    ck_assert_int_eq(run_binary(bad_placement, out, sizeof out), 2);
    static const char *const bad_ring[] = {"--xshard_ring_size", "100000", NULL};
    ck_assert_int_eq(run_binary(bad_ring, out, sizeof out), 2);
    /* HTTPS monitoring needs the TLS certificate (nats-server 2.15.1's words and exit) */
    static const char *const https[] = {"-p", "0", "-ms", "8443", NULL};
    ck_assert_int_eq(run_binary(https, out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "Can't start monitoring: TLS cert and key required for HTTPS"));
}
END_TEST

/* -m: the monitoring port answers HTTP, is logged as nats-server logs it, binds --http_host,
 * and a port already taken stops the broker at start. */
START_TEST(test_http_port)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/ionats-cli-m-%d.log", (int)getpid());
    unlink(path);
    const char *const args[] = {"-l", path, "-m", "-1", "--http_host", "127.0.0.1", NULL};
    struct test_server server;
    struct test_server_options options = {.extra_args = args};
    ck_assert_int_eq(test_server_start(&server, &options), 0);
    ck_assert(wait_file_contains(path, "Starting http monitor on 127.0.0.1:"));
    static char text[1 << 16];
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    text[n > 0 ? n : 0] = '\0';
    int port = atoi(strstr(text, "Starting http monitor on 127.0.0.1:") + 35);
    ck_assert_int_gt(port, 0);
    int http = test_connect_raw(port);
    ck_assert_int_ge(http, 0);
    static const char request[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    ck_assert_int_eq(test_send_all(http, request, sizeof request - 1), 0);
    ck_assert_int_ge(test_read_until(http, text, sizeof text, "{\"status\":\"ok\"}", WAIT_MS), 0);
    close(http);
    /* the same port again, while this broker holds it: exit 1, the reason logged */
    char taken[16];
    snprintf(taken, sizeof taken, "%d", port);
    static char out[OUTPUT_SIZE];
    const char *const again[] = {"-p", "0", "-a", "127.0.0.1", "-m", taken, NULL};
    ck_assert_int_eq(run_binary(again, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "Address already in use") != NULL, "%s", out);
    test_server_stop(&server);
    unlink(path);
}
END_TEST

/* -flag value, --flag value and --flag=value all reach the broker. */
START_TEST(test_flag_spellings)
{
    static const char *const forms[][3] = {{"-max_payload", "512", NULL},
                                           {"--max_payload", "512", NULL},
                                           {"--max_payload=512", NULL, NULL},
                                           {"--max-payload=512", NULL, NULL}};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        struct test_server server;
        struct test_server_options options = {.extra_args = forms[i]};
        ck_assert_int_eq(test_server_start(&server, &options), 0);
        char info[4096];
        int fd = raw_open(server.port, info, sizeof info);
        ck_assert_msg(strstr(info, "\"max_payload\":512") != NULL, "form %zu: %s", i, info);
        close(fd);
        test_server_stop(&server);
    }
}
END_TEST

/* -l FILE logs there; -DV adds debug lines (a client connecting). */
START_TEST(test_log_file_and_debug)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/ionats-cli-%d.log", (int)getpid());
    unlink(path);
    const char *const args[] = {"-l", path, "-DV", NULL};
    struct test_server server;
    struct test_server_options options = {.extra_args = args};
    ck_assert_int_eq(test_server_start(&server, &options), 0);
    ck_assert(wait_file_contains(path, "Listening for client connections"));
    char info[4096];
    int fd = raw_open(server.port, info, sizeof info);
    raw_expect(fd, "PING\r\n", "PONG\r\n");
    ck_assert(wait_file_contains(path, "connected from 127.0.0.1"));
    close(fd);
    test_server_stop(&server);
    unlink(path);
}
END_TEST

/* -js: INFO says "jetstream":true and the store directory is laid out as nats-server's;
 * without it INFO says nothing of JetStream; a store directory that cannot be made stops
 * the broker at start with the reason logged. */
START_TEST(test_jetstream_flag)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/ionats-cli-js-%d", (int)getpid());
    const char *const args[] = {"-js", "-sd", dir, NULL};
    struct test_server server;
    struct test_server_options options = {.extra_args = args};
    ck_assert_int_eq(test_server_start(&server, &options), 0);
    char info[4096];
    int fd = raw_open(server.port, info, sizeof info);
    ck_assert_msg(strstr(info, ",\"jetstream\":true,") != NULL, "INFO: %s", info);
    close(fd);
    char streams[128];
    snprintf(streams, sizeof streams, "%s/jetstream/$G/streams", dir);
    ck_assert_int_eq(access(streams, R_OK | W_OK | X_OK), 0);
    test_server_stop(&server);
    char command[160];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    ck_assert_int_eq(system(command), 0);

    struct test_server_options plain = {0};
    ck_assert_int_eq(test_server_start(&server, &plain), 0);
    fd = raw_open(server.port, info, sizeof info);
    ck_assert_ptr_null(strstr(info, "jetstream"));
    close(fd);
    test_server_stop(&server);

    static char out[OUTPUT_SIZE];
    static const char *const unwritable[] = {"-p", "0", "-js", "-sd", "/proc/ionats-no", NULL};
    ck_assert_int_eq(run_binary(unwritable, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "JetStream: cannot create the store directory") != NULL, "%s",
                  out);
}
END_TEST

/* SIGTERM with a client connected: exit 0 within a second, and the port is free at once. */
START_TEST(test_sigterm_drains_and_port_rebinds)
{
    struct test_server server;
    ck_assert_int_eq(test_server_start(&server, NULL), 0);
    char info[4096];
    int fd = raw_open(server.port, info, sizeof info);
    raw_expect(fd, "SUB a 1\r\nPING\r\n", "PONG\r\n");
    long start = test_now_ms();
    kill(server.pid, SIGTERM);
    int status = 0;
    while (waitpid(server.pid, &status, WNOHANG) == 0) {
        ck_assert_msg(test_now_ms() - start < 1000, "ionats took over a second to stop");
        usleep(5000);
    }
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert(test_wait_closed(fd, NULL, 0, WAIT_MS));
    close(fd);
    /* a new broker binds the same port at once (SO_REUSEADDR) */
    char port[16];
    snprintf(port, sizeof port, "%d", server.port);
    const char *const args[] = {"-a", "127.0.0.1", "-p", port, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        const char *argv[8] = {getenv("IONATS_BIN")};
        for (int i = 0; args[i] != NULL; i++) {
            argv[i + 1] = args[i];
        }
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    long deadline = test_now_ms() + WAIT_MS;
    int again = -1;
    while (again < 0 && test_now_ms() < deadline) {
        again = test_connect_raw(server.port);
        if (again < 0) {
            ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0); /* still running */
            usleep(10000);
        }
    }
    ck_assert_int_ge(again, 0);
    close(again);
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    server.pid = 0; /* already reaped */
    test_server_stop(&server);
}
END_TEST

START_TEST(test_max_subscriptions)
{
    const char *const args[] = {"--max_subscriptions", "2", NULL};
    struct test_server server;
    struct test_server_options options = {.extra_args = args};
    ck_assert_int_eq(test_server_start(&server, &options), 0);
    char info[4096];
    int fd = raw_open(server.port, info, sizeof info);
    raw_expect(fd, "SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n", "-ERR 'maximum subscriptions exceeded'\r\n");
    raw_expect(fd, "PUB b 2\r\nhi\r\nPING\r\n", "MSG b 2 2\r\nhi\r\nPONG\r\n"); /* still open */
    close(fd);
    test_server_stop(&server);
}
END_TEST

/* A subscriber that stops reading is cut off by the write deadline long before its pending
 * output reaches max_pending, while the publisher keeps going. */
START_TEST(test_write_deadline)
{
    const char *const args[] = {"--write_deadline", "300ms", NULL};
    struct test_server server;
    struct test_server_options options = {.extra_args = args};
    ck_assert_int_eq(test_server_start(&server, &options), 0);
    char info[4096];
    int stuck = raw_open(server.port, info, sizeof info);
    raw_expect(stuck, "SUB big 1\r\nPING\r\n", "PONG\r\n");
    int publisher = raw_open(server.port, info, sizeof info);
    /* 18 MB: more than the kernel's socket buffers on both sides can absorb, far less than
     * max_pending */
    enum { PAYLOAD = 60000, COUNT = 300 };
    static char frame[PAYLOAD + 64];
    int header = sprintf(frame, "PUB big %d\r\n", PAYLOAD);
    memset(frame + header, 'x', PAYLOAD);
    memcpy(frame + header + PAYLOAD, "\r\n", 2);
    for (int i = 0; i < COUNT; i++) {
        ck_assert_int_eq(test_send_all(publisher, frame, (size_t)header + PAYLOAD + 2), 0);
    }
    raw_expect(publisher, "PING\r\n", "PONG\r\n");
    usleep(800 * 1000); /* past the deadline, with ticks to notice it */
    ck_assert_msg(test_wait_closed(stuck, NULL, 0, WAIT_MS), "the stuck reader was not cut off");
    raw_expect(publisher, "PING\r\n", "PONG\r\n");
    close(stuck);
    close(publisher);
    test_server_stop(&server);
}
END_TEST

/* Every way of placing connections on shards routes between them. */
START_TEST(test_placement_and_ring_flags)
{
    static const char *const variants[][9] = {
        {"--shards", "2", "--placement", "reuseport", NULL},
        {"--shards", "3", "--cpus", "0", "--ring_entries", "16", NULL},
        {"--shards", "2", "--recv_buf_count", "2", "--recv_buf_size", "4096", NULL},
    };
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        struct test_server server;
        struct test_server_options options = {.extra_args = variants[v]};
        ck_assert_int_eq(test_server_start(&server, &options), 0);
        char info[4096];
        int subscribers[4];
        for (int i = 0; i < 4; i++) {
            subscribers[i] = raw_open(server.port, info, sizeof info);
            raw_expect(subscribers[i], "SUB p.* 1\r\nPING\r\n", "PONG\r\n");
        }
        int publisher = raw_open(server.port, info, sizeof info);
        static char batch[500 * 32];
        size_t used = 0;
        for (int m = 0; m < 500; m++) {
            used += (size_t)sprintf(batch + used, "PUB p.x 4\r\n%04d\r\n", m);
        }
        ck_assert_int_eq(test_send_all(publisher, batch, used), 0);
        for (int i = 0; i < 4; i++) {
            raw_expect(subscribers[i], "", "MSG p.x 1 4\r\n0499\r\n");
            close(subscribers[i]);
        }
        close(publisher);
        test_server_stop(&server);
    }
}
END_TEST

/* A small cross-shard ring fills under a fast publisher: nothing is lost, order holds, the
 * counters say the ring was full, and --stats logs them on its own. */
START_TEST(test_full_ring_backpressure)
{
    const char *const args[] = {"--shards", "2", "--xshard_ring_size", "65536", "--stats",
                                "100ms", NULL};
    struct test_server server;
    struct test_server_options options = {.extra_args = args};
    ck_assert_int_eq(test_server_start(&server, &options), 0);
    char info[4096];
    int publisher = raw_open(server.port, info, sizeof info);
    int subscriber = raw_open(server.port, info, sizeof info); /* the other shard */
    raw_expect(subscriber, "SUB bp 1\r\nPING\r\n", "PONG\r\n");
    enum { MESSAGES = 50000, PAYLOAD = 100 };
    size_t frame = 16 + PAYLOAD;
    char *batch = malloc((size_t)MESSAGES * frame);
    size_t used = 0;
    for (int m = 0; m < MESSAGES; m++) {
        used += (size_t)sprintf(batch + used, "PUB bp %d\r\n%0*d\r\n", PAYLOAD, PAYLOAD, m);
    }
    ck_assert_int_eq(test_send_all(publisher, batch, used), 0);
    free(batch);
    /* read everything the subscriber gets, checking order */
    static char window[1 << 20];
    size_t have = 0;
    int next = 0;
    long deadline = test_now_ms() + 30000;
    while (next < MESSAGES && test_now_ms() < deadline) {
        ssize_t n = recv(subscriber, window + have, sizeof window - have - 1, 0);
        ck_assert_msg(n > 0, "subscriber closed after %d messages", next);
        have += (size_t)n;
        window[have] = '\0';
        char *cursor = window;
        char *line;
        while ((line = strstr(cursor, "MSG bp 1 100\r\n")) != NULL &&
               (size_t)(line - window) + 14 + PAYLOAD + 2 <= have) {
            int seq = atoi(line + 14);
            ck_assert_int_eq(seq, next);
            next++;
            cursor = line + 14 + PAYLOAD + 2;
        }
        have -= (size_t)(cursor - window);
        memmove(window, cursor, have);
    }
    ck_assert_int_eq(next, MESSAGES);
    usleep(300 * 1000); /* a --stats interval or more after the last message */
    ck_assert(wait_file_contains(server.log_path, "stats shard=0"));
    struct test_counter ring_full;
    ck_assert_int_gt(test_log_counter(server.log_path, "ring_full", &ring_full), 0);
    ck_assert_msg(ring_full.max > 0, "the ring never filled");
    close(subscriber);
    close(publisher);
    test_server_stop(&server);
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *suite = suite_create("cli");
    TCase *tc = tcase_create("flags");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_help_lists_every_flag);
    tcase_add_test(tc, test_bad_flags_exit_2);
    tcase_add_test(tc, test_flag_spellings);
    tcase_add_test(tc, test_log_file_and_debug);
    tcase_add_test(tc, test_jetstream_flag);
    tcase_add_test(tc, test_http_port);
    tcase_add_test(tc, test_sigterm_drains_and_port_rebinds);
    tcase_add_test(tc, test_max_subscriptions);
    tcase_add_test(tc, test_write_deadline);
    tcase_add_test(tc, test_placement_and_ring_flags);
    tcase_add_test(tc, test_full_ring_backpressure);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    if (test_server_reference()) {
        fprintf(stderr, "cli: ionats's own flags; nothing to run against nats-server\n");
        return 77;
    }
    SRunner *runner = srunner_create(cli_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
