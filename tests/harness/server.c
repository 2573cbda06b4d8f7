/* Test harness implementation: see server.h. Single-threaded use per test process. */
#include "tests/harness/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { START_WAIT_MS = 5000, STOP_WAIT_MS = 5000, POLL_STEP_MS = 10, ARG_COUNT_MAX = 48 };

/* Starts on a fresh port after another process took the one chosen: the window between
 * free_port and the broker's bind is short, so three tries in a row losing it means
 * something is wrong with the machine, not bad luck. Only that failure is retried. */
enum { START_ATTEMPTS = 3 };

/* The most of a broker's log a failure copies to stderr: a sanitizer report with its
 * stacks fits several times over; a long --stats log is cut from the front. */
enum { LOG_SHOW_BYTES_MAX = 64 * 1024 };

bool test_server_reference(void)
{
    const char *which = getenv("IONATS_TEST_SERVER");
    return which != NULL && strcmp(which, "nats-server") == 0;
}

bool test_server_stan_reference(void)
{
    const char *which = getenv("IONATS_TEST_SERVER");
    return which != NULL && strcmp(which, "nats-streaming-server") == 0;
}

/* nats-streaming-server's command line: its embedded NATS server on loopback and the port,
 * then the test's own flags (its spelling of the streaming options, extra_args), since it
 * has none of ionats's. */
static int build_stan_reference_args(const struct test_server *server,
                                     const struct test_server_options *o, char **argv,
                                     int *argc);

long test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* A command line test_binary_run builds: more words than any wrapper or test passes. */
enum { BINARY_ARGS_MAX = 32, WRAPPER_ARGS_MAX = 8 };

/* In the child: runs `wrapper` (may be NULL) with `binary` and `args` after it, or `binary`
 * alone, with its output on `output_fd`. Never returns. */
static void binary_exec(const char *const *wrapper, const char *binary, const char *const *args,
                        const char *const *env, int output_fd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(output_fd, 1);
    dup2(output_fd, 2);
    for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
        putenv((char *)env[i]);
    }
    const char *argv[WRAPPER_ARGS_MAX + BINARY_ARGS_MAX + 2] = {0};
    int argc = 0;
    for (int i = 0; wrapper != NULL && wrapper[i] != NULL && i < WRAPPER_ARGS_MAX; i++) {
        argv[argc++] = wrapper[i];
    }
    argv[argc++] = binary;
    for (int i = 0; args[i] != NULL && i < BINARY_ARGS_MAX; i++) {
        argv[argc++] = args[i];
    }
    execvp(argv[0], (char *const *)argv);
    _exit(127);
}

int test_binary_run(const char *const *args, const char *const *env, long wait_ms,
                    const char *stop_when, char *out, size_t size,
                    struct test_binary_run *run)
{
    return test_binary_run_wrapped(NULL, args, env, wait_ms, stop_when, out, size, run);
}

int test_binary_run_wrapped(const char *const *wrapper, const char *const *args,
                            const char *const *env, long wait_ms, const char *stop_when,
                            char *out, size_t size, struct test_binary_run *run)
{
    const char *binary = getenv("IONATS_BIN");
    out[0] = '\0';
    run->status = -1;
    run->stopped = false;
    if (binary == NULL) {
        return -EINVAL;
    }
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
        return -errno;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int error = -errno;
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        return error;
    }
    if (pid == 0) {
        binary_exec(wrapper, binary, args, env, pipe_fds[1]);
    }
    close(pipe_fds[1]);
    size_t used = 0;
    long deadline = test_now_ms() + wait_ms;
    int rc = 0;
    for (;;) {
        long left = deadline - test_now_ms();
        bool seen = stop_when != NULL && strstr(out, stop_when) != NULL;
        if ((left <= 0 || seen) && !run->stopped) {
            kill(pid, SIGTERM);
            run->stopped = true;
            deadline = test_now_ms() + wait_ms;
            left = wait_ms;
        }
        if (left <= 0) {
            kill(pid, SIGKILL);
            rc = -ETIMEDOUT;
            break;
        }
        struct pollfd p = {.fd = pipe_fds[0], .events = POLLIN};
        if (poll(&p, 1, (int)(left < 100 ? left : 100)) > 0) {
            ssize_t n = read(pipe_fds[0], out + used, size - used - 1);
            if (n <= 0) {
                break; /* EOF: it exited */
            }
            used += (size_t)n;
            out[used] = '\0';
        }
    }
    close(pipe_fds[0]);
    int status;
    if (waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
        run->status = WEXITSTATUS(status);
    }
    return rc;
}

/* Binds port 0 on loopback to learn a free port. Another process could take it before the
 * broker binds; the start is retried on a new port when that happens. */
int test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -errno;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof addr;
    int port = -EADDRNOTAVAIL;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &length) == 0) {
        port = ntohs(addr.sin_port);
    }
    close(fd);
    return port;
}

static int write_reference_config(struct test_server *server, const struct test_server_options *o)
{
    snprintf(server->config_path, sizeof server->config_path, "/tmp/ionats-test-%d-%d.conf",
             (int)getpid(), server->port);
    FILE *f = fopen(server->config_path, "w");
    if (f == NULL) {
        return -errno;
    }
    fprintf(f, "listen: \"127.0.0.1:%d\"\n", server->port);
    if (o->max_payload) {
        fprintf(f, "max_payload: %ld\n", o->max_payload);
    }
    if (o->max_pending) {
        fprintf(f, "max_pending: %ld\n", o->max_pending);
    }
    if (o->max_control_line) {
        fprintf(f, "max_control_line: %ld\n", o->max_control_line);
    }
    if (o->max_connections) {
        fprintf(f, "max_connections: %ld\n", o->max_connections);
    }
    if (o->ping_max) {
        fprintf(f, "ping_max: %ld\n", o->ping_max);
    }
    if (o->ping_interval) {
        fprintf(f, "ping_interval: \"%s\"\n", o->ping_interval);
    }
    if (o->config_text) {
        fputs(o->config_text, f);
    }
    if (o->user || o->token || o->auth_timeout) {
        fprintf(f, "authorization {\n");
        if (o->user) {
            fprintf(f, "  user: \"%s\"\n  password: \"%s\"\n", o->user, o->pass ? o->pass : "");
        }
        if (o->token) {
            fprintf(f, "  token: \"%s\"\n", o->token);
        }
        if (o->auth_timeout) {
            /* nats-server takes the authorization timeout in (fractional) seconds */
            double seconds = strtod(o->auth_timeout, NULL);
            if (strstr(o->auth_timeout, "ms")) {
                seconds /= 1000.0;
            }
            fprintf(f, "  timeout: %g\n", seconds);
        }
        fprintf(f, "}\n");
    }
    if (o->jetstream) {
        fprintf(f, "jetstream {\n");
        if (o->store_dir) {
            fprintf(f, "  store_dir: \"%s\"\n", o->store_dir);
        }
        fprintf(f, "}\n");
    }
    fclose(f);
    return 0;
}

static int add_arg(char **argv, int *argc, const char *text)
{
    if (*argc >= ARG_COUNT_MAX - 1) {
        return -E2BIG;
    }
    argv[(*argc)++] = strdup(text);
    argv[*argc] = NULL;
    return 0;
}

static void add_long(char **argv, int *argc, const char *flag, long value)
{
    char text[32];
    snprintf(text, sizeof text, "%ld", value);
    add_arg(argv, argc, flag);
    add_arg(argv, argc, text);
}

static int build_ionats_args(struct test_server *server,
                             const struct test_server_options *o, char **argv, int *argc)
{
    const char *binary = getenv("IONATS_BIN");
    if (binary == NULL) {
        fprintf(stderr, "harness: IONATS_BIN is not set\n");
        return -EINVAL;
    }
    for (int i = 0; o->wrapper != NULL && o->wrapper[i] != NULL; i++) {
        add_arg(argv, argc, o->wrapper[i]);
    }
    add_arg(argv, argc, binary);
    add_arg(argv, argc, "-a");
    add_arg(argv, argc, "127.0.0.1");
    add_long(argv, argc, "-p", server->port);
    const char *shards = getenv("IONATS_TEST_SHARDS");
    if (o->shards > 0) {
        add_long(argv, argc, "--shards", o->shards);
    } else if (shards != NULL && shards[0] != '\0') {
        add_arg(argv, argc, "--shards");
        add_arg(argv, argc, shards);
    }
    const char *io = getenv("IONATS_TEST_IO");
    if (io != NULL && io[0] != '\0') {
        add_arg(argv, argc, "--io");
        add_arg(argv, argc, io);
    }
    if (o->max_payload) {
        add_long(argv, argc, "--max_payload", o->max_payload);
    }
    if (o->max_pending) {
        add_long(argv, argc, "--max_pending", o->max_pending);
    }
    if (o->max_control_line) {
        add_long(argv, argc, "--max_control_line", o->max_control_line);
    }
    if (o->max_connections) {
        add_long(argv, argc, "--max_connections", o->max_connections);
    }
    if (o->ping_max) {
        add_long(argv, argc, "--ping_max", o->ping_max);
    }
    if (o->ping_interval) {
        add_arg(argv, argc, "--ping_interval");
        add_arg(argv, argc, o->ping_interval);
    }
    if (o->auth_timeout) {
        add_arg(argv, argc, "--auth_timeout");
        add_arg(argv, argc, o->auth_timeout);
    }
    if (o->user) {
        add_arg(argv, argc, "--user");
        add_arg(argv, argc, o->user);
        add_arg(argv, argc, "--pass");
        add_arg(argv, argc, o->pass ? o->pass : "");
    }
    if (o->token) {
        add_arg(argv, argc, "--auth");
        add_arg(argv, argc, o->token);
    }
    if (o->jetstream) {
        add_arg(argv, argc, "-js");
        if (o->store_dir) {
            add_arg(argv, argc, "-sd");
            add_arg(argv, argc, o->store_dir);
        }
    }
    for (int i = 0; o->extra_args != NULL && o->extra_args[i] != NULL; i++) {
        add_arg(argv, argc, o->extra_args[i]);
    }
    if (o->config_text) {
        snprintf(server->config_path, sizeof server->config_path, "/tmp/ionats-test-%d-%d.conf",
                 (int)getpid(), server->port);
        FILE *f = fopen(server->config_path, "w");
        if (f == NULL) {
            return -errno;
        }
        fputs(o->config_text, f);
        fclose(f);
        add_arg(argv, argc, "-c");
        add_arg(argv, argc, server->config_path);
    }
    return 0;
}

static int build_stan_reference_args(const struct test_server *server,
                                     const struct test_server_options *o, char **argv,
                                     int *argc)
{
    const char *binary = getenv("IONATS_STAN_SERVER_BIN");
    add_arg(argv, argc, binary != NULL && binary[0] != '\0' ? binary : "nats-streaming-server");
    add_arg(argv, argc, "-a");
    add_arg(argv, argc, "127.0.0.1");
    add_long(argv, argc, "-p", server->port);
    for (int i = 0; o->extra_args != NULL && o->extra_args[i] != NULL; i++) {
        add_arg(argv, argc, o->extra_args[i]);
    }
    return 0;
}

static bool port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return false;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(fd);
    return ok;
}

static void free_args(char **argv, int argc)
{
    for (int i = 0; i < argc; i++) {
        free(argv[i]);
    }
}

/* How a broker ended, in words: "exit status 1", "signal 6 (Aborted), core dumped". */
static void status_describe(int status, char *text, size_t size)
{
    if (WIFEXITED(status)) {
        snprintf(text, size, "exit status %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        snprintf(text, size, "signal %d (%s)%s", WTERMSIG(status), strsignal(WTERMSIG(status)),
                 WCOREDUMP(status) ? ", core dumped" : "");
    } else {
        snprintf(text, size, "wait status 0x%x", (unsigned)status);
    }
}

/* Copies the end of the broker's log (its stdout and stderr: log lines, an ASSERT's message,
 * a sanitizer's report) to our stderr, where meson --print-errorlogs shows it. The report
 * that explains a crash is at the end, so a long log is cut from the front. */
static void log_show(const char *log_path)
{
    FILE *log = fopen(log_path, "r");
    if (log == NULL) {
        fprintf(stderr, "harness: cannot read %s: %s\n", log_path, strerror(errno));
        return;
    }
    long skip = 0;
    if (fseek(log, 0, SEEK_END) == 0) {
        long size = ftell(log);
        skip = size > LOG_SHOW_BYTES_MAX ? size - LOG_SHOW_BYTES_MAX : 0;
    }
    fseek(log, skip, SEEK_SET);
    fprintf(stderr, "---- %s%s ----\n", log_path, skip > 0 ? " (its start left out)" : "");
    char line[1024];
    while (fgets(line, sizeof line, log) != NULL) {
        fputs(line, stderr);
    }
    fprintf(stderr, "---- end of %s ----\n", log_path);
    fclose(log);
}

/* True when the broker's log says its listen address was taken: ionats logs
 * "cannot listen on …: Address already in use", nats-server "… bind: address already in
 * use". Anything else that ends a broker during start-up is a failure of its own. */
static bool log_says_port_taken(const char *log_path)
{
    FILE *log = fopen(log_path, "r");
    if (log == NULL) {
        return false;
    }
    char line[1024];
    bool taken = false;
    while (!taken && fgets(line, sizeof line, log) != NULL) {
        taken = strcasestr(line, "address already in use") != NULL;
    }
    fclose(log);
    return taken;
}

/* A broker that ended before it accepted a connection. -EADDRINUSE when another process
 * took the port between free_port and the broker's bind (the caller retries on a new
 * port); otherwise the broker failed to start on its own (a crash, an ASSERT, a sanitizer
 * report, a bad flag): that is said here with its log and -ECHILD is returned, not retried,
 * so a start-up crash is never hidden by a retry that happened to pass. */
static int start_died(struct test_server *server, int status)
{
    char how[96];
    status_describe(status, how, sizeof how);
    if (log_says_port_taken(server->log_path)) {
        fprintf(stderr, "harness: port %d was taken before the broker bound it (%s)\n",
                server->port, how);
        unlink(server->log_path);
        return -EADDRINUSE;
    }
    fprintf(stderr, "harness: the broker on port %d died while starting: %s\n", server->port,
            how);
    log_show(server->log_path);
    return -ECHILD;
}

/* One start on `port`, or on a free port when `port` is 0. */
static int start_once(struct test_server *server, const struct test_server_options *o, int port)
{
    char *argv[ARG_COUNT_MAX] = {0};
    int argc = 0;
    if (port == 0) {
        port = test_free_port();
    }
    if (port < 0) {
        return port;
    }
    server->port = port;
    snprintf(server->url, sizeof server->url, "nats://127.0.0.1:%d", port);
    snprintf(server->log_path, sizeof server->log_path, "/tmp/ionats-test-%d-%d.log",
             (int)getpid(), port);
    int rc;
    if (test_server_stan_reference() && !server->forced_reference) {
        rc = build_stan_reference_args(server, o, argv, &argc);
    } else if (server->reference) {
        rc = write_reference_config(server, o);
        if (rc == 0) {
            add_arg(argv, &argc, o->reference_binary ? o->reference_binary : "nats-server");
            add_arg(argv, &argc, "-c");
            add_arg(argv, &argc, server->config_path);
        }
    } else {
        rc = build_ionats_args(server, o, argv, &argc);
    }
    if (rc != 0) {
        free_args(argv, argc);
        return rc;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        free_args(argv, argc);
        return -errno;
    }
    if (pid == 0) {
        /* die with the test: a failed assertion exits the test process without a stop */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(127);
        }
        int log_fd = open(server->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (log_fd >= 0) {
            dup2(log_fd, 1);
            dup2(log_fd, 2);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "harness: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    free_args(argv, argc);
    server->pid = pid;
    long deadline = test_now_ms() + START_WAIT_MS;
    while (test_now_ms() < deadline) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            server->pid = 0;
            return start_died(server, status);
        }
        if (port_accepts(port)) {
            return 0;
        }
        usleep(POLL_STEP_MS * 1000);
    }
    /* Hung in start-up: killed without the stop path's exit check, which would abort the
     * test process before the log is shown. */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    server->pid = 0;
    fprintf(stderr, "harness: the broker on port %d did not accept connections in %d ms\n",
            port, START_WAIT_MS);
    log_show(server->log_path);
    return -ETIMEDOUT;
}

/* Starts `server` (its pid 0), first on `port` (0: a free one), then on free ports while
 * another process takes the chosen one. */
static int start_attempts(struct test_server *server, const struct test_server_options *options,
                          int port)
{
    static const struct test_server_options defaults = {0};
    int rc = -EINVAL;
    for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
        rc = start_once(server, options ? options : &defaults, attempt == 0 ? port : 0);
        if (rc == 0) {
            return 0;
        }
        if (server->config_path[0] != '\0') {
            unlink(server->config_path);
            server->config_path[0] = '\0';
        }
        if (rc != -EADDRINUSE) {
            break;
        }
    }
    if (rc == -EADDRINUSE) {
        fprintf(stderr, "harness: lost the port to another process %d times in a row\n",
                START_ATTEMPTS);
    }
    return rc;
}

int test_server_start(struct test_server *server, const struct test_server_options *options)
{
    memset(server, 0, sizeof *server);
    server->reference = test_server_reference() || test_server_stan_reference();
    return start_attempts(server, options, 0);
}

int test_server_start_reference(struct test_server *server,
                                const struct test_server_options *options)
{
    memset(server, 0, sizeof *server);
    server->reference = true;
    server->forced_reference = true;
    return start_attempts(server, options, 0);
}

int test_server_restart(struct test_server *server, const struct test_server_options *options)
{
    if (server->pid > 0) {
        return -EBUSY;
    }
    int port = server->port;
    bool forced = server->forced_reference;
    memset(server, 0, sizeof *server);
    server->forced_reference = forced;
    server->reference = forced || test_server_reference() || test_server_stan_reference();
    return start_attempts(server, options, port);
}

/* ionats must exit 0 on SIGTERM, promptly and (under the sanitizers) without a leak or
 * error report. Anything else fails the test process loudly, with the broker's log: a
 * signal (an ASSERT's or a sanitizer's abort, a segfault) is named, and a broker the
 * harness had to SIGKILL is told apart from one that crashed. */
static void broker_exit_check(const struct test_server *server, int status, bool killed)
{
    if (server->reference) {
        return;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        unlink(server->log_path);
        return;
    }
    char how[96];
    status_describe(status, how, sizeof how);
    const char *why = "";
    if (killed) {
        why = " (killed by the harness: it did not stop on SIGTERM)";
    } else if (WIFSIGNALED(status)) {
        why = " (it crashed: an ASSERT, a sanitizer report or a fault; see the end of its log)";
    }
    fprintf(stderr, "harness: ionats on port %d ended with %s%s\n", server->port, how, why);
    log_show(server->log_path);
    abort();
}

int test_server_stop(struct test_server *server)
{
    int status = 0;
    if (server->pid > 0) {
        kill(server->pid, SIGTERM);
        long deadline = test_now_ms() + STOP_WAIT_MS;
        pid_t done = 0;
        while ((done = waitpid(server->pid, &status, WNOHANG)) == 0 && test_now_ms() < deadline) {
            usleep(POLL_STEP_MS * 1000);
        }
        if (done == 0) {
            fprintf(stderr, "harness: broker %d did not stop in %d ms, killing it\n",
                    (int)server->pid, STOP_WAIT_MS);
            kill(server->pid, SIGKILL);
            waitpid(server->pid, &status, 0);
        }
        server->pid = 0;
        broker_exit_check(server, status, done == 0);
    }
    if (server->config_path[0] != '\0') {
        unlink(server->config_path);
        server->config_path[0] = '\0';
    }
    return status;
}

bool test_server_running(struct test_server *server)
{
    if (server->pid <= 0) {
        fprintf(stderr, "harness: no broker was running on port %d\n", server->port);
        return false;
    }
    int status = 0;
    if (waitpid(server->pid, &status, WNOHANG) != server->pid) {
        return true;
    }
    char how[96];
    status_describe(status, how, sizeof how);
    fprintf(stderr, "harness: the broker on port %d ended with %s\n", server->port, how);
    log_show(server->log_path);
    server->pid = 0;
    return false;
}

int test_server_kill(struct test_server *server)
{
    int status = 0;
    if (server->pid > 0) {
        kill(server->pid, SIGKILL);
        waitpid(server->pid, &status, 0);
        server->pid = 0;
        unlink(server->log_path);
        /* A killed process's io_uring is torn down by the kernel after the process is
         * reaped, and the listening socket it holds keeps accepting until then: a restart
         * on the same port would find it taken, while the probe connects to the dead
         * broker's socket and takes it for the new one. Wait (bounded) until it is gone. */
        long deadline = test_now_ms() + STOP_WAIT_MS;
        while (port_accepts(server->port) && test_now_ms() < deadline) {
            usleep(POLL_STEP_MS * 1000);
        }
    }
    if (server->config_path[0] != '\0') {
        unlink(server->config_path);
        server->config_path[0] = '\0';
    }
    return status;
}

/* Store directories are made from this template and only paths under it are removed. */
#define STORE_DIR_PREFIX "/tmp/ionats-test-store-"

int test_store_dir_create(char *path, size_t size)
{
    static const char template[] = STORE_DIR_PREFIX "XXXXXX";
    if (size < sizeof template) {
        return -ENOBUFS;
    }
    memcpy(path, template, sizeof template);
    return mkdtemp(path) != NULL ? 0 : -errno;
}

static int store_dir_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 ? 0 : errno;
}

int test_store_dir_remove(const char *path)
{
    if (strncmp(path, STORE_DIR_PREFIX, strlen(STORE_DIR_PREFIX)) != 0 ||
        strstr(path, "..") != NULL) {
        return -EINVAL;
    }
    /* depth first, links not followed: a file, then the directory that held it */
    enum { OPEN_FDS_MAX = 16 };
    int rc = nftw(path, store_dir_remove_one, OPEN_FDS_MAX, FTW_DEPTH | FTW_PHYS);
    return rc == 0 ? 0 : rc > 0 ? -rc : -errno;
}

int test_connect_raw(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -errno;
    }
    struct timeval timeout = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

long test_read_until(int fd, char *buffer, size_t size, const char *needle, int timeout_ms)
{
    size_t used = 0;
    buffer[0] = '\0';
    long deadline = test_now_ms() + timeout_ms;
    while (used + 1 < size) {
        if (strstr(buffer, needle) != NULL) {
            return (long)used;
        }
        long left = deadline - test_now_ms();
        if (left <= 0) {
            return -ETIMEDOUT;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0) {
            continue;
        }
        ssize_t n = recv(fd, buffer + used, size - used - 1, 0);
        if (n <= 0) {
            return strstr(buffer, needle) != NULL ? (long)used : -ECONNRESET;
        }
        used += (size_t)n;
        buffer[used] = '\0';
    }
    return strstr(buffer, needle) != NULL ? (long)used : -ENOBUFS;
}

/* Waits (bounded by `deadline`) until `fd` is readable. False on timeout. */
static bool wait_readable(int fd, long deadline)
{
    for (;;) {
        long left = deadline - test_now_ms();
        if (left <= 0) {
            return false;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int rc = poll(&p, 1, (int)left);
        if (rc > 0) {
            return true;
        }
        if (rc < 0 && errno != EINTR) {
            return false;
        }
    }
}

long test_read_exact(int fd, char *buffer, size_t length, int timeout_ms)
{
    size_t used = 0;
    buffer[0] = '\0';
    long deadline = test_now_ms() + timeout_ms;
    while (used < length && wait_readable(fd, deadline)) {
        ssize_t n = recv(fd, buffer + used, length - used, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        used += (size_t)n;
        buffer[used] = '\0';
    }
    return (long)used;
}

long test_read_line(int fd, char *buffer, size_t size, int timeout_ms)
{
    buffer[0] = '\0';
    long deadline = test_now_ms() + timeout_ms;
    for (;;) {
        if (!wait_readable(fd, deadline)) {
            return -ETIMEDOUT;
        }
        ssize_t n = recv(fd, buffer, size - 1, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n <= 0) {
            return -ECONNRESET;
        }
        char *newline = memchr(buffer, '\n', (size_t)n);
        if (newline != NULL) {
            size_t line = (size_t)(newline - buffer) + 1;
            n = recv(fd, buffer, line, 0);
            buffer[n > 0 ? n : 0] = '\0';
            return n == (ssize_t)line ? (long)line : -ECONNRESET;
        }
        if ((size_t)n == size - 1) {
            return -ENOBUFS;
        }
        /* a partial line: wait for more than what is already there */
        usleep(1000);
    }
}

int test_send_all(int fd, const char *text, size_t length)
{
    size_t sent = 0;
    while (sent < length) {
        ssize_t n = send(fd, text + sent, length - sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        sent += (size_t)n;
    }
    return 0;
}

bool test_wait_closed(int fd, char *buffer, size_t size, int timeout_ms)
{
    size_t used = buffer ? strlen(buffer) : 0;
    char scratch[4096];
    long deadline = test_now_ms() + timeout_ms;
    for (;;) {
        long left = deadline - test_now_ms();
        if (left <= 0) {
            return false;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0) {
            continue;
        }
        ssize_t n = recv(fd, scratch, sizeof scratch, 0);
        if (n <= 0) {
            return true;
        }
        if (buffer != NULL && used + 1 < size) {
            size_t copy = (size_t)n < size - used - 1 ? (size_t)n : size - used - 1;
            memcpy(buffer + used, scratch, copy);
            used += copy;
            buffer[used] = '\0';
        }
    }
}

long test_log_counter(const char *log_path, const char *name, struct test_counter *counter)
{
    enum { LINE_SIZE = 2048, KEY_SIZE = 64 };
    FILE *log = fopen(log_path, "r");
    if (log == NULL) {
        return -errno;
    }
    char line[LINE_SIZE];
    char key[KEY_SIZE];
    snprintf(key, sizeof key, " %s=", name);
    long lines = 0;
    counter->sum = 0;
    counter->max = 0;
    while (fgets(line, sizeof line, log) != NULL) {
        if (strstr(line, "stats shard=") == NULL) {
            continue;
        }
        lines++;
        const char *at = strstr(line, key);
        if (at != NULL) {
            unsigned long long value = strtoull(at + strlen(key), NULL, 10);
            counter->sum += value;
            counter->max = value > counter->max ? value : counter->max;
        }
    }
    fclose(log);
    return lines;
}
