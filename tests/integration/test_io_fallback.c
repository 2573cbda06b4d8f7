/* The I/O backend choice, `--io uring|epoll|auto`, seen from outside the broker: where
 * io_uring is refused (a container's seccomp profile, kernel.io_uring_disabled) the default
 * falls back to epoll with one warning and serves; `--io uring` says "io_uring unavailable"
 * and exits 1; `--io epoll` serves without a word about io_uring; where io_uring works, the
 * default uses it. Which backend serves is also seen from outside: the broker holds an epoll
 * fd or io_uring fds (/proc/<pid>/fd).
 *
 * The one idea: io_uring is refused for real, by running the broker under seccomp_exec (a
 * seccomp filter answering io_uring_setup/enter/register with EPERM, as Docker's default
 * profile does), and every case under it first shows that the filter does refuse it, so a
 * pass never means "io_uring happened to work". IONATS_TEST_IO is cleared: each case names
 * its backend or means the default. Clients are a raw socket (exact bytes: PING/PONG,
 * SUB/PUB/MSG) and libnats. ionats only: the test exits 77 against nats-server. Loopback,
 * every wait bounded, only brokers this test started are stopped, by PID. */
#include "tests/integration/itest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/io_uring.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* What the broker logs, word for word, in each outcome. */
static const char FALLBACK_WARNING[] = "using the epoll backend";
static const char UNAVAILABLE_ERROR[] = "io_uring unavailable";
/* The start-up line, "ionats <version> ready: <shards> shard(s), ...", once it serves. */
static const char READY[] = " ready: ";
/* What /proc/<pid>/fd/<n> links to for the fd each backend is built on. */
static const char EPOLL_FD[] = "anon_inode:[eventpoll]";
static const char URING_FD[] = "anon_inode:[io_uring]";

/* How long the broker or seccomp_exec --check may take to do what it does at once; a
 * passing run never waits this long. */
enum { FALLBACK_WAIT_MS = 5000, POLL_STEP_US = 10000 };

/* Holds all a short-lived broker prints (a few log lines) with room to spare. */
enum { OUTPUT_SIZE = 1 << 16, LINE_SIZE = 2048 };

/* Entries io_uring_available asks for: any small power of two would do. */
enum { PROBE_RING_ENTRIES = 4 };

/* The seccomp_exec meson built, named by the test's environment. */
static const char *seccomp_exec_path(void)
{
    const char *path = getenv("IONATS_SECCOMP_EXEC");
    ck_assert_msg(path != NULL && path[0] != '\0', "IONATS_SECCOMP_EXEC is not set");
    return path;
}

/* Runs `argv` (output to our stderr, where meson shows it), waits up to FALLBACK_WAIT_MS
 * and returns its exit status; a command that hangs is killed and fails the test. */
static int command_status(const char *const *argv)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, 0);
        }
        dup2(2, 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    long deadline = test_now_ms() + FALLBACK_WAIT_MS;
    int status = 0;
    pid_t done = 0;
    while ((done = waitpid(pid, &status, WNOHANG)) == 0 && test_now_ms() < deadline) {
        usleep(POLL_STEP_US);
    }
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ck_abort_msg("%s did not exit in %d ms", argv[0], FALLBACK_WAIT_MS);
    }
    ck_assert_int_eq(done, pid);
    ck_assert_msg(WIFEXITED(status), "%s died of signal %d", argv[0], WTERMSIG(status));
    return WEXITSTATUS(status);
}

/* The filter really refuses io_uring here: io_uring_setup fails with EPERM under it. */
static void seccomp_refusal_check(void)
{
    const char *const argv[] = {seccomp_exec_path(), "--check", NULL};
    ck_assert_msg(command_status(argv) == 0,
                  "seccomp_exec --check: io_uring_setup was not refused with EPERM");
}

/* Lines of the log at `path` that contain `needle`; -errno when it cannot be read. */
static long log_lines_count(const char *path, const char *needle)
{
    FILE *log = fopen(path, "r");
    if (log == NULL) {
        return -errno;
    }
    char line[LINE_SIZE];
    long count = 0;
    while (fgets(line, sizeof line, log) != NULL) {
        count += strstr(line, needle) != NULL;
    }
    fclose(log);
    return count;
}

/* Copies the first line of the log at `path` that contains `needle` into `line`; false when
 * there is none. */
static bool log_line_find(const char *path, const char *needle, char *line, size_t size)
{
    FILE *log = fopen(path, "r");
    if (log == NULL) {
        return false;
    }
    bool found = false;
    while (!found && fgets(line, (int)size, log) != NULL) {
        found = strstr(line, needle) != NULL;
    }
    fclose(log);
    return found;
}

/* How many of `pid`'s file descriptors link to `target` (an anonymous inode's name): which
 * backend a broker runs is seen from outside, by the kind of fd it holds. */
static long proc_fds_count(pid_t pid, const char *target)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *fds = opendir(path);
    ck_assert_msg(fds != NULL, "%s: %s", path, strerror(errno));
    long count = 0;
    struct dirent *entry;
    while ((entry = readdir(fds)) != NULL) {
        char link[PATH_MAX];
        char name[sizeof path + sizeof entry->d_name + 1]; /* path, "/", the name */
        snprintf(name, sizeof name, "%s/%s", path, entry->d_name);
        ssize_t length = readlink(name, link, sizeof link - 1);
        if (length > 0) {
            link[length] = '\0';
            count += strcmp(link, target) == 0;
        }
    }
    closedir(fds);
    return count;
}

/* True when this process may create an io_uring (no seccomp filter, no sysctl against it). */
static bool io_uring_available(void)
{
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    long fd = syscall(__NR_io_uring_setup, PROBE_RING_ENTRIES, &params);
    if (fd < 0) {
        return false;
    }
    close((int)fd);
    return true;
}

/* Waits (bounded) for the broker's start-up line: it accepts connections a moment before
 * every shard is up and it says so. */
static void log_ready_wait(const struct test_server *server)
{
    long deadline = test_now_ms() + FALLBACK_WAIT_MS;
    while (log_lines_count(server->log_path, READY) < 1) {
        ck_assert_msg(test_now_ms() < deadline, "no \"%s\" line in %s within %d ms", READY,
                      server->log_path, FALLBACK_WAIT_MS);
        usleep(POLL_STEP_US);
    }
}

/* The next line from the broker that is not its PING (it sends one 2 s after connect, as
 * nats-server does), which is answered; fails the test on timeout or close. */
static void raw_line_read(int fd, char *line, size_t size)
{
    long deadline = test_now_ms() + FALLBACK_WAIT_MS;
    for (;;) {
        long left = deadline - test_now_ms();
        ck_assert_msg(left > 0, "no line from the broker within %d ms", FALLBACK_WAIT_MS);
        long length = test_read_line(fd, line, size, (int)left);
        ck_assert_msg(length > 0, "reading a line: %s", strerror((int)-length));
        if (strcmp(line, "PING\r\n") != 0) {
            return;
        }
        ck_assert_int_eq(test_send_all(fd, "PONG\r\n", 6), 0);
    }
}

/* Sends `text` on `fd` and expects exactly the line `expect` back, nothing before it but the
 * broker's own PINGs. */
static void raw_exchange(int fd, const char *text, const char *expect)
{
    char line[LINE_SIZE];
    ck_assert_int_eq(test_send_all(fd, text, strlen(text)), 0);
    raw_line_read(fd, line, sizeof line);
    ck_assert_msg(strcmp(line, expect) == 0, "sent %s expected %s, got %s", text, expect, line);
}

/* A raw connection past INFO and a quiet CONNECT, with PING/PONG shown to work. */
static int raw_open(int port)
{
    static const char connect[] = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n";
    char line[LINE_SIZE];
    int fd = test_connect_raw(port);
    ck_assert_msg(fd >= 0, "connect to port %d: %s", port, strerror(-fd));
    long length = test_read_line(fd, line, sizeof line, FALLBACK_WAIT_MS);
    ck_assert_msg(length > 0, "no INFO: %s", strerror((int)-length));
    ck_assert_msg(strncmp(line, "INFO {", 6) == 0, "not INFO: %s", line);
    raw_exchange(fd, connect, "PONG\r\n");
    return fd;
}

/* PING/PONG, then SUB on one connection and PUB on another: the message arrives, exactly. */
static void raw_round_trip(int port)
{
    static const char payload[] = "hello\r\n";
    int subscriber = raw_open(port);
    int publisher = raw_open(port);
    raw_exchange(subscriber, "SUB io.fallback.raw 7\r\nPING\r\n", "PONG\r\n");
    raw_exchange(publisher, "PUB io.fallback.raw 5\r\nhello\r\nPING\r\n", "PONG\r\n");
    raw_exchange(subscriber, "", "MSG io.fallback.raw 7 5\r\n");
    char seen[sizeof payload];
    long got = test_read_exact(subscriber, seen, sizeof payload - 1, FALLBACK_WAIT_MS);
    ck_assert_msg(got == (long)sizeof payload - 1 && strcmp(seen, payload) == 0,
                  "payload: %ld bytes: %s", got, seen);
    raw_exchange(subscriber, "PING\r\n", "PONG\r\n");
    close(publisher);
    close(subscriber);
}

/* The same through libnats: its handshake, a subscription, a publish, a flush. */
static void nats_round_trip(const char *url)
{
    natsConnection *connection = itest_connect(url);
    natsSubscription *sub = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&sub, connection, "io.fallback.nats"));
    itest_flush(connection);
    ITEST_OK(natsConnection_PublishString(connection, "io.fallback.nats", "over epoll"));
    itest_flush(connection);
    natsMsg *msg = NULL;
    ITEST_OK(natsSubscription_NextMsg(&msg, sub, ITEST_WAIT_MS));
    ck_assert_str_eq(natsMsg_GetSubject(msg), "io.fallback.nats");
    ck_assert_int_eq(natsMsg_GetDataLength(msg), (int)strlen("over epoll"));
    ck_assert(memcmp(natsMsg_GetData(msg), "over epoll", strlen("over epoll")) == 0);
    natsMsg_Destroy(msg);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(connection);
}

/* Starts the broker (under `wrapper` when not NULL) with `args`, waits until it says it
 * serves, and shows that it does, raw and through libnats. */
static void serving_start(struct test_server *server, const char *const *wrapper,
                          const char *const *args)
{
    struct test_server_options options = {.extra_args = args, .wrapper = wrapper};
    itest_server_start(server, &options);
    log_ready_wait(server);
    raw_round_trip(server->port);
    nats_round_trip(server->url);
}

/* The wrapper itself: it refuses io_uring with EPERM, passes arguments and exit statuses
 * through, and runs the command in its own process (no fork: $$ is its PID). */
START_TEST(test_seccomp_exec_refuses_io_uring)
{
    seccomp_refusal_check();
    const char *const passes_status[] = {seccomp_exec_path(), "/bin/sh", "-c", "exit 3", NULL};
    ck_assert_int_eq(command_status(passes_status), 3);
    const char *const missing[] = {seccomp_exec_path(), "/nonexistent/ionats", NULL};
    ck_assert_int_eq(command_status(missing), 127);
}
END_TEST

/* (a) The default, auto, with io_uring refused: one warning, then it serves over epoll. */
START_TEST(test_auto_falls_back_to_epoll)
{
    seccomp_refusal_check();
    const char *const wrapper[] = {seccomp_exec_path(), NULL};
    struct test_server server;
    serving_start(&server, wrapper, NULL);
    /* counted after the clients, so a warning per shard or per connection shows up */
    long warnings = log_lines_count(server.log_path, FALLBACK_WARNING);
    ck_assert_msg(warnings == 1, "%ld lines with \"%s\" in %s, not 1", warnings,
                  FALLBACK_WARNING, server.log_path);
    char line[LINE_SIZE];
    ck_assert(log_line_find(server.log_path, FALLBACK_WARNING, line, sizeof line));
    ck_assert_msg(strstr(line, strerror(EPERM)) != NULL, "the warning does not say why: %s",
                  line);
    ck_assert_int_eq(log_lines_count(server.log_path, READY), 1);
    ck_assert_int_ge(proc_fds_count(server.pid, EPOLL_FD), 1);
    ck_assert_int_eq(proc_fds_count(server.pid, URING_FD), 0);
    itest_server_stop(&server);
}
END_TEST

/* (b) --io uring with io_uring refused: an error naming why, exit status 1, never serves. */
START_TEST(test_uring_required_exits_1)
{
    seccomp_refusal_check();
    const char *const wrapper[] = {seccomp_exec_path(), NULL};
    /* port 0: any free port, for the case the broker binds before it sets up its rings */
    static const char *const args[] = {"--io", "uring", "-a", "127.0.0.1", "-p", "0", NULL};
    static char out[OUTPUT_SIZE];
    struct test_binary_run run;
    int rc = test_binary_run_wrapped(wrapper, args, NULL, FALLBACK_WAIT_MS, NULL, out,
                                     sizeof out, &run);
    ck_assert_msg(rc == 0, "ionats --io uring did not exit after SIGTERM (%s):\n%s",
                  strerror(-rc), out);
    ck_assert_msg(!run.stopped, "ionats --io uring kept running with io_uring refused:\n%s", out);
    ck_assert_msg(run.status == 1, "ionats --io uring exited with %d, not 1:\n%s", run.status,
                  out);
    ck_assert_msg(strstr(out, UNAVAILABLE_ERROR) != NULL, "no \"%s\" in its output:\n%s",
                  UNAVAILABLE_ERROR, out);
    ck_assert_msg(strstr(out, strerror(EPERM)) != NULL, "the error does not say why:\n%s", out);
    ck_assert_msg(strstr(out, FALLBACK_WARNING) == NULL, "it offered epoll:\n%s", out);
    ck_assert_msg(strstr(out, READY) == NULL, "it said it serves:\n%s", out);
}
END_TEST

/* (c) --io epoll where io_uring works: serves, and says nothing about a fallback. */
START_TEST(test_epoll_serves_without_warning)
{
    static const char *const args[] = {"--io", "epoll", NULL};
    struct test_server server;
    serving_start(&server, NULL, args);
    ck_assert_int_eq(log_lines_count(server.log_path, FALLBACK_WARNING), 0);
    ck_assert_int_eq(log_lines_count(server.log_path, UNAVAILABLE_ERROR), 0);
    ck_assert_int_eq(log_lines_count(server.log_path, READY), 1);
    ck_assert_int_ge(proc_fds_count(server.pid, EPOLL_FD), 1);
    ck_assert_int_eq(proc_fds_count(server.pid, URING_FD), 0);
    itest_server_stop(&server);
}
END_TEST

/* (d) --io epoll with io_uring refused: epoll chosen outright never needs io_uring, so it
 * serves in a container too (and exits 0 on SIGTERM, which the stop checks). */
START_TEST(test_epoll_serves_under_seccomp)
{
    seccomp_refusal_check();
    const char *const wrapper[] = {seccomp_exec_path(), NULL};
    static const char *const args[] = {"--io", "epoll", NULL};
    struct test_server server;
    serving_start(&server, wrapper, args);
    ck_assert_int_eq(log_lines_count(server.log_path, FALLBACK_WARNING), 0);
    ck_assert_int_eq(log_lines_count(server.log_path, UNAVAILABLE_ERROR), 0);
    ck_assert_int_ge(proc_fds_count(server.pid, EPOLL_FD), 1);
    itest_server_stop(&server);
}
END_TEST

/* (e) The default where io_uring works: io_uring, quietly. Shows that auto does not fall back
 * for nothing and that the fd check above tells the backends apart. */
START_TEST(test_auto_prefers_io_uring)
{
    if (!io_uring_available()) {
        fprintf(stderr, "io_fallback: io_uring is refused to this test itself; the default "
                        "case has nothing to prefer\n");
        return;
    }
    struct test_server server;
    serving_start(&server, NULL, NULL);
    ck_assert_int_eq(log_lines_count(server.log_path, FALLBACK_WARNING), 0);
    ck_assert_int_eq(log_lines_count(server.log_path, UNAVAILABLE_ERROR), 0);
    ck_assert_int_ge(proc_fds_count(server.pid, URING_FD), 1);
    ck_assert_int_eq(proc_fds_count(server.pid, EPOLL_FD), 0);
    itest_server_stop(&server);
}
END_TEST

static Suite *io_fallback_suite(void)
{
    Suite *suite = suite_create("integration_io_fallback");
    TCase *tc = tcase_create("io_fallback");
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_seccomp_exec_refuses_io_uring);
    tcase_add_test(tc, test_auto_falls_back_to_epoll);
    tcase_add_test(tc, test_uring_required_exits_1);
    tcase_add_test(tc, test_epoll_serves_without_warning);
    tcase_add_test(tc, test_epoll_serves_under_seccomp);
    tcase_add_test(tc, test_auto_prefers_io_uring);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    if (test_server_reference()) {
        fprintf(stderr, "io_fallback: ionats's own --io flag; nothing to run against "
                        "nats-server\n");
        return 77;
    }
    /* a suite-wide IONATS_TEST_IO must not turn the default cases into another */
    unsetenv("IONATS_TEST_IO");
    return itest_run(io_fallback_suite());
}
