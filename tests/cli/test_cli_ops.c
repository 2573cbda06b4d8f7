/* Operations from the command line: the log line format (-T, --logtime_utc), the pid file
 * (-P), the ports file (--ports_file_dir), log rotation (--log_size_limit), the signals and
 * --signal, what a reload moves of them, each on the running binary.
 *
 * The one idea: nats-server is the judge. Every scenario runs against ionats ($IONATS_BIN)
 * and, when it is there, against nats-server 2.15.1 ($IONATS_NATS_SERVER_CURRENT, from
 * .venv-tests), with the same expectations: the same log lines, file names, file contents
 * and modes, and --signal's messages after the `<executable>: ` prefix. Where ionats must
 * differ (lame-duck mode is not there yet; a pid of 0 is refused) the check runs on ionats
 * alone and says why. Debian's nats-server 2.9.10 is not a judge here: it logs no "Trapped"
 * line for SIGTERM and exits 1 on it. Brokers listen on loopback only, are killed with the
 * test process (PR_SET_PDEATHSIG) and are signalled by the PID this test started; every
 * wait is bounded. */
#include "tests/harness/server.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { WAIT_MS = 5000, STEP_MS = 5, TEXT_SIZE = 1 << 16 };

/* A binary the scenarios run against; `name` is its executable's name, which prefixes its
 * errors and names its ports file. */
struct subject {
    const char *binary;
    const char *name;
    bool reference;
};

static struct subject subjects[2];
static int subject_count;
static char dir[64]; /* this run's files */

static void subjects_load(void)
{
    subject_count = 0;
    const char *ionats = getenv("IONATS_BIN");
    ck_assert_ptr_nonnull(ionats);
    subjects[subject_count++] = (struct subject){ionats, "ionats", false};
    const char *current = getenv("IONATS_NATS_SERVER_CURRENT");
    if (current != NULL && access(current, X_OK) == 0) {
        subjects[subject_count++] = (struct subject){current, "nats-server", true};
    } else {
        fprintf(stderr, "cli_ops: nats-server 2.15.1 not found (IONATS_NATS_SERVER_CURRENT=%s)"
                        ", ionats only\n", current != NULL ? current : "");
    }
}

static void setup(void)
{
    umask(022);
    snprintf(dir, sizeof dir, "/tmp/ionats-cli-ops-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    subjects_load();
}

static void teardown(void)
{
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    ck_assert_int_eq(system(command), 0);
}

/* ---- running the binaries ----------------------------------------------------------------- */

struct broker {
    pid_t pid;
    char output[160]; /* its stdout and stderr */
};

/* Starts `subject` with `args` (NULL-terminated) and `tz` as TZ (NULL: unset), its output
 * to a file in `dir`. */
static void broker_start(struct broker *b, const struct subject *s, const char *const *args,
                         const char *tz)
{
    static int serial;
    snprintf(b->output, sizeof b->output, "%s/%s-%d.out", dir, s->name, serial++);
    char *argv[24] = {(char *)s->binary};
    for (int i = 0; args[i] != NULL; i++) {
        ck_assert_int_lt(i, 22);
        argv[i + 1] = (char *)args[i];
    }
    pid_t parent = getpid();
    b->pid = fork();
    ck_assert_int_ge(b->pid, 0);
    if (b->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(b->output, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (getppid() != parent || fd < 0) {
            _exit(127);
        }
        dup2(fd, 1);
        dup2(fd, 2);
        if (tz != NULL) {
            setenv("TZ", tz, 1);
        } else {
            unsetenv("TZ");
        }
        execv(argv[0], argv);
        _exit(127);
    }
}

/* Waits (bounded) for the broker to exit by itself; its exit code, -1 on a signal. */
static int broker_wait(struct broker *b)
{
    int status = 0;
    long deadline = test_now_ms() + WAIT_MS;
    while (waitpid(b->pid, &status, WNOHANG) == 0) {
        if (test_now_ms() > deadline) {
            kill(b->pid, SIGKILL);
            waitpid(b->pid, &status, 0);
            ck_abort_msg("pid %d did not exit", (int)b->pid);
        }
        usleep(STEP_MS * 1000);
    }
    b->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int broker_stop(struct broker *b, int signal_number)
{
    ck_assert_int_eq(kill(b->pid, signal_number), 0);
    return broker_wait(b);
}

/* Runs `subject` with `args` to its end; its output in `out`, its exit code returned. */
static int command_run(const struct subject *s, const char *const *args, char *out, size_t size)
{
    struct broker b;
    broker_start(&b, s, args, NULL);
    int status = broker_wait(&b);
    int fd = open(b.output, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ssize_t n = read(fd, out, size - 1);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
    return status;
}

/* The whole file at `path` in `text`; false when it cannot be read. */
static bool file_read(const char *path, char *text, size_t size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        return false;
    }
    ssize_t n = read(fd, text, size - 1);
    close(fd);
    text[n > 0 ? n : 0] = '\0';
    return n >= 0;
}

static bool file_wait(const char *path, const char *needle)
{
    static char text[TEXT_SIZE];
    long deadline = test_now_ms() + WAIT_MS;
    while (test_now_ms() < deadline) {
        if (file_read(path, text, sizeof text) && strstr(text, needle) != NULL) {
            return true;
        }
        usleep(STEP_MS * 1000);
    }
    return false;
}

static void expect_in(const char *path, const char *needle, const struct subject *s)
{
    static char text[TEXT_SIZE];
    ck_assert_msg(file_wait(path, needle), "%s: \"%s\" not in %s:\n%s", s->name, needle, path,
                  file_read(path, text, sizeof text) ? text : "(none)");
}

/* Every line of `path` (after nothing but whole lines) matches `pattern` with the pid. */
static void lines_match(const char *path, const char *pattern, pid_t pid, const struct subject *s)
{
    static char text[TEXT_SIZE];
    char expression[256];
    snprintf(expression, sizeof expression, pattern, (int)pid);
    regex_t regex;
    ck_assert_int_eq(regcomp(&regex, expression, REG_EXTENDED | REG_NOSUB | REG_NEWLINE), 0);
    ck_assert(file_read(path, text, sizeof text));
    int count = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n"), count++) {
        ck_assert_msg(regexec(&regex, line, 0, NULL, 0) == 0, "%s: \"%s\" is not %s", s->name,
                      line, expression);
    }
    regfree(&regex);
    ck_assert_int_gt(count, 3);
}

static const char TIME_LINE[] = "^\\[%d\\] [0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}"
                                "\\.[0-9]{6} \\[(FTL|ERR|WRN|INF|DBG|TRC)\\] ";
static const char PLAIN_LINE[] = "^\\[%d\\] \\[(FTL|ERR|WRN|INF|DBG|TRC)\\] ";

/* Minutes between the time of the first log line and UTC now, modulo a day; Asia/Kolkata
 * is UTC+5:30 all year (no daylight saving), so local time shows as 330. */
static int log_offset_minutes(const char *path)
{
    static char text[TEXT_SIZE];
    ck_assert(file_read(path, text, sizeof text));
    int hour = -1;
    int minute = -1;
    ck_assert_int_eq(sscanf(strchr(text, ' ') + 1, "%*d/%*d/%*d %d:%d", &hour, &minute), 2);
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    int offset = (hour * 60 + minute - (utc.tm_hour * 60 + utc.tm_min) + 2 * 1440) % 1440;
    return offset == 1439 ? 0 : offset == 329 ? 330 : offset; /* a minute turned since */
}

/* The zone the local-time check runs in: without tzdata it would be UTC. */
static const char KOLKATA[] = "/usr/share/zoneinfo/Asia/Kolkata";

static const char *const LOOPBACK[] = {"-a", "127.0.0.1", "-p", "-1"};
#define LOOPBACK_ARGS LOOPBACK[0], LOOPBACK[1], LOOPBACK[2], LOOPBACK[3]

/* ---- log lines ---------------------------------------------------------------------------- */

/* Local time by default, its key lines, SIGUSR1 without a log file, SIGTERM's lines. */
START_TEST(test_log_lines_and_logtime)
{
    for (int i = 0; i < subject_count; i++) {
        const struct subject *s = &subjects[i];
        struct broker b;
        const char *const local[] = {LOOPBACK_ARGS, NULL};
        broker_start(&b, s, local, "Asia/Kolkata");
        pid_t pid = b.pid;
        expect_in(b.output, " [INF] Listening for client connections on 127.0.0.1:", s);
        expect_in(b.output, " [INF] Server is ready\n", s);
        if (access(KOLKATA, R_OK) == 0) {
            ck_assert_int_eq(log_offset_minutes(b.output), 330);
        } else {
            fprintf(stderr, "cli_ops: no %s, local time not checked\n", KOLKATA);
        }
        kill(b.pid, SIGUSR1);
        expect_in(b.output, " [INF] Trapped \"user defined signal 1\" signal\n", s);
        expect_in(b.output, " [INF] File log re-open ignored, not a file logger\n", s);
        ck_assert_int_eq(broker_stop(&b, SIGTERM), 0);
        expect_in(b.output, " [INF] Trapped \"terminated\" signal\n", s);
        expect_in(b.output, " [INF] Initiating Shutdown...\n", s);
        expect_in(b.output, " [INF] Server Exiting..\n", s);
        lines_match(b.output, TIME_LINE, pid, s);

        const char *const utc[] = {LOOPBACK_ARGS, "--logtime_utc", NULL};
        broker_start(&b, s, utc, "Asia/Kolkata");
        pid = b.pid;
        expect_in(b.output, " [INF] Server is ready\n", s);
        ck_assert_int_eq(log_offset_minutes(b.output), 0);
        ck_assert_int_eq(broker_stop(&b, SIGINT), 0);
        expect_in(b.output, " [INF] Trapped \"interrupt\" signal\n", s);
        lines_match(b.output, TIME_LINE, pid, s);

        const char *const plain[] = {LOOPBACK_ARGS, "-T=false", NULL};
        broker_start(&b, s, plain, NULL);
        pid = b.pid;
        expect_in(b.output, " [INF] Server is ready\n", s);
        ck_assert_int_eq(broker_stop(&b, SIGTERM), 0);
        expect_in(b.output, " [INF] Server Exiting..\n", s);
        lines_match(b.output, PLAIN_LINE, pid, s);
    }
}
END_TEST

/* ---- the pid file and the ports file ------------------------------------------------------- */

static mode_t file_mode(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_mode & 0777;
}

/* -P and --ports_file_dir with -m: the pid without a newline (0600, left at exit); the ports
 * file <name>_<pid>.ports with both URLs (0666 less the umask, removed at exit); the URLs
 * serve. Then an IPv6 listener's URL in brackets. */
START_TEST(test_pid_and_ports_files)
{
    static char text[TEXT_SIZE];
    for (int i = 0; i < subject_count; i++) {
        const struct subject *s = &subjects[i];
        char pid_path[128];
        char ports_path[160];
        snprintf(pid_path, sizeof pid_path, "%s/%s.pid", dir, s->name);
        const char *const args[] = {LOOPBACK_ARGS, "-m",  "-1", "-P", pid_path,
                                    "--ports_file_dir", dir, NULL};
        struct broker b;
        broker_start(&b, s, args, NULL);
        snprintf(ports_path, sizeof ports_path, "%s/%s_%d.ports", dir, s->name, (int)b.pid);
        expect_in(ports_path, "}", s);
        ck_assert(file_read(ports_path, text, sizeof text));
        int port = 0;
        int http_port = 0;
        ck_assert_int_eq(sscanf(text, "{\"nats\":[\"nats://127.0.0.1:%d\"],\"monitoring\":"
                                      "[\"http://127.0.0.1:%d\"]}", &port, &http_port), 2);
        char expected[160];
        snprintf(expected, sizeof expected, "{\"nats\":[\"nats://127.0.0.1:%d\"],\"monitoring\":"
                                            "[\"http://127.0.0.1:%d\"]}", port, http_port);
        ck_assert_str_eq(text, expected);
        ck_assert_int_eq(file_mode(ports_path), 0644);
        int fd = test_connect_raw(port);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_ge(test_read_until(fd, text, sizeof text, "\r\n", WAIT_MS), 0);
        ck_assert_ptr_nonnull(strstr(text, "INFO {"));
        close(fd);
        fd = test_connect_raw(http_port);
        ck_assert_int_ge(fd, 0);
        close(fd);
        ck_assert(file_read(pid_path, text, sizeof text));
        snprintf(expected, sizeof expected, "%d", (int)b.pid);
        ck_assert_str_eq(text, expected);
        ck_assert_int_eq(file_mode(pid_path), 0600);
        ck_assert_int_eq(broker_stop(&b, SIGTERM), 0);
        ck_assert_int_eq(access(ports_path, F_OK), -1);
        ck_assert_int_eq(access(pid_path, F_OK), 0); /* nats-server 2.15.1 leaves it */

        const char *const v6[] = {"-a", "::1", "-p", "-1", "--ports_file_dir", dir, NULL};
        broker_start(&b, s, v6, NULL);
        snprintf(ports_path, sizeof ports_path, "%s/%s_%d.ports", dir, s->name, (int)b.pid);
        if (!file_wait(ports_path, "}")) {
            fprintf(stderr, "cli_ops: %s: no ports file on ::1 (no IPv6 loopback?)\n", s->name);
            broker_stop(&b, SIGKILL); /* it may have exited already: no listener */
            continue;
        }
        ck_assert(file_read(ports_path, text, sizeof text));
        ck_assert_int_eq(sscanf(text, "{\"nats\":[\"nats://[::1]:%d\"]}", &port), 1);
        snprintf(expected, sizeof expected, "{\"nats\":[\"nats://[::1]:%d\"]}", port);
        ck_assert_str_eq(text, expected);
        ck_assert_int_eq(broker_stop(&b, SIGTERM), 0);
    }
}
END_TEST

/* The configuration file of test_reload_ops, for `s`, with files named `which`. */
static void reload_conf_write(const char *path, const struct subject *s, const char *which,
                              bool logtime)
{
    char text[1024];
    snprintf(text, sizeof text,
             "listen: 127.0.0.1:-1\nlogtime: %s\nlog_file: \"%s/%s-%s.log\"\n"
             "pid_file: \"%s/%s-%s.pid\"\nports_file_dir: \"%s/ports-%s-%s\"\n",
             logtime ? "true" : "false", dir, s->name, which, dir, s->name, which, dir, s->name,
             which);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(text, f), 0);
    fclose(f);
}

/* SIGHUP moves the log to another file (its lines now without the time), writes the pid
 * file named now, and moves the ports file to the directory named now, removing the old
 * one; as nats-server does. */
START_TEST(test_reload_ops)
{
    for (int i = 0; i < subject_count; i++) {
        const struct subject *s = &subjects[i];
        char conf[160];
        char path[192];
        snprintf(conf, sizeof conf, "%s/reload-%s.conf", dir, s->name);
        for (int k = 0; k < 2; k++) {
            snprintf(path, sizeof path, "%s/ports-%s-%c", dir, s->name, "ab"[k]);
            ck_assert_int_eq(mkdir(path, 0755), 0);
        }
        reload_conf_write(conf, s, "a", true);
        const char *const args[] = {"-c", conf, NULL};
        struct broker b;
        broker_start(&b, s, args, NULL);
        pid_t pid = b.pid;
        char log_a[192];
        char log_b[192];
        snprintf(log_a, sizeof log_a, "%s/%s-a.log", dir, s->name);
        snprintf(log_b, sizeof log_b, "%s/%s-b.log", dir, s->name);
        expect_in(log_a, " [INF] Server is ready\n", s);
        char ports_a[256];
        char ports_b[256];
        snprintf(ports_a, sizeof ports_a, "%s/ports-%s-a/%s_%d.ports", dir, s->name, s->name,
                 (int)pid);
        snprintf(ports_b, sizeof ports_b, "%s/ports-%s-b/%s_%d.ports", dir, s->name, s->name,
                 (int)pid);
        expect_in(ports_a, "}", s);
        reload_conf_write(conf, s, "b", false);
        ck_assert_int_eq(kill(pid, SIGHUP), 0);
        expect_in(log_b, "[INF] Reloaded server configuration", s); /* 2.15: a digest after */
        expect_in(ports_b, "}", s);
        ck_assert_int_eq(access(ports_a, F_OK), -1);
        char pid_text[32];
        snprintf(pid_text, sizeof pid_text, "%d", (int)pid);
        snprintf(path, sizeof path, "%s/%s-b.pid", dir, s->name);
        expect_in(path, pid_text, s);
        ck_assert_int_eq(broker_stop(&b, SIGTERM), 0);
        expect_in(log_b, " [INF] Server Exiting..\n", s);
        lines_match(log_b, PLAIN_LINE, pid, s);
        lines_match(log_a, TIME_LINE, pid, s);
    }
}
END_TEST

/* A pid file that cannot be written stops the start ([FTL], exit 1); a ports file that
 * cannot be written is an [ERR] and the broker serves on. */
START_TEST(test_ops_files_errors)
{
    static char out[TEXT_SIZE];
    for (int i = 0; i < subject_count; i++) {
        const struct subject *s = &subjects[i];
        char missing[128];
        char pid_path[160];
        snprintf(missing, sizeof missing, "%s/missing", dir);
        snprintf(pid_path, sizeof pid_path, "%s/x.pid", missing);
        const char *const bad_pid[] = {LOOPBACK_ARGS, "-P", pid_path, NULL};
        ck_assert_int_eq(command_run(s, bad_pid, out, sizeof out), 1);
        char expected[512];
        snprintf(expected, sizeof expected,
                 " [FTL] Could not write pidfile: open %s: no such file or directory\n",
                 pid_path);
        ck_assert_msg(strstr(out, expected) != NULL, "%s: %s", s->name, out);

        const char *const bad_dir[] = {LOOPBACK_ARGS, "--ports_file_dir", missing, NULL};
        struct broker b;
        broker_start(&b, s, bad_dir, NULL);
        char ports_path[192];
        snprintf(ports_path, sizeof ports_path, "%s/%s_%d.ports", missing, s->name, (int)b.pid);
        snprintf(expected, sizeof expected, " [ERR] Error writing ports file (%s): open %s: "
                                            "no such file or directory\n", ports_path, ports_path);
        expect_in(b.output, expected, s);
        ck_assert_int_eq(broker_stop(&b, SIGTERM), 0);
        snprintf(expected, sizeof expected, " [ERR] Error cleaning up ports file %s: remove %s: "
                                            "no such file or directory\n", ports_path, ports_path);
        expect_in(b.output, expected, s);
    }
}
END_TEST

/* ---- signals ----------------------------------------------------------------------------- */

/* logrotate's way: the file moved, then `--signal reopen=<pid file>`; SIGHUP without -c;
 * `--signal quit=<pid>` stops it. */
START_TEST(test_signals)
{
    static char out[TEXT_SIZE];
    for (int i = 0; i < subject_count; i++) {
        const struct subject *s = &subjects[i];
        char log_path[128];
        char moved[160];
        char pid_path[128];
        snprintf(log_path, sizeof log_path, "%s/%s.log", dir, s->name);
        snprintf(moved, sizeof moved, "%s.1", log_path);
        snprintf(pid_path, sizeof pid_path, "%s/%s-signals.pid", dir, s->name);
        const char *const args[] = {LOOPBACK_ARGS, "-l", log_path, "-P", pid_path, NULL};
        struct broker b;
        broker_start(&b, s, args, NULL);
        expect_in(log_path, " [INF] Server is ready\n", s);
        ck_assert_int_eq(file_mode(log_path), 0640);
        ck_assert_int_eq(rename(log_path, moved), 0);
        char reopen[160];
        snprintf(reopen, sizeof reopen, "reopen=%s", pid_path);
        const char *const send_reopen[] = {"--signal", reopen, NULL};
        ck_assert_int_eq(command_run(s, send_reopen, out, sizeof out), 0);
        ck_assert_str_eq(out, "");
        expect_in(moved, " [INF] Trapped \"user defined signal 1\" signal\n", s);
        expect_in(log_path, " [INF] File log re-opened\n", s);

        char reload[32];
        snprintf(reload, sizeof reload, "reload=%d", (int)b.pid);
        const char *const send_reload[] = {"-sl", reload, NULL};
        ck_assert_int_eq(command_run(s, send_reload, out, sizeof out), 0);
        expect_in(log_path, " [INF] Trapped \"hangup\" signal\n", s);
        expect_in(log_path, " [ERR] Failed to reload server configuration: can only reload "
                            "config when a file is provided using -c or --config\n", s);
        char quit[32];
        snprintf(quit, sizeof quit, "quit=%d", (int)b.pid);
        const char *const send_quit[] = {"--signal", quit, NULL};
        ck_assert_int_eq(command_run(s, send_quit, out, sizeof out), 0);
        ck_assert_int_eq(broker_wait(&b), 0);
        expect_in(log_path, " [INF] Trapped \"interrupt\" signal\n", s);
        expect_in(log_path, " [INF] Server Exiting..\n", s);
    }
}
END_TEST

/* A raw client that takes INFO updates (protocol 1), past its first PONG. */
static int ldm_client(int port)
{
    int fd = test_connect_raw(port);
    ck_assert_int_ge(fd, 0);
    static char seen[TEXT_SIZE];
    ck_assert_int_ge(test_read_until(fd, seen, sizeof seen, "\r\n", WAIT_MS), 0);
    static const char hello[] = "CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n";
    ck_assert_int_eq(test_send_all(fd, hello, sizeof hello - 1), 0);
    ck_assert_int_ge(test_read_until(fd, seen, sizeof seen, "PONG\r\n", WAIT_MS), 0);
    return fd;
}

/* SIGUSR2, lame duck mode, from the same file for both (nats-server takes 30 s at least):
 * new clients are refused, each client hears INFO with "ldm":true, after the grace period
 * they are closed (spread, at most a second apart), and the server exits 0 once none is
 * left, saying so in nats-server's lines. */
START_TEST(test_lame_duck)
{
    static char text[TEXT_SIZE];
    for (int i = 0; i < subject_count; i++) {
        const struct subject *s = &subjects[i];
        char conf[128];
        char log_path[128];
        snprintf(conf, sizeof conf, "%s/%s-ldm.conf", dir, s->name);
        snprintf(log_path, sizeof log_path, "%s/%s-ldm.log", dir, s->name);
        FILE *file = fopen(conf, "w");
        ck_assert_ptr_nonnull(file);
        fputs("lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"200ms\"\n", file);
        fclose(file);
        const char *const args[] = {LOOPBACK_ARGS, "-c", conf, "-l", log_path, NULL};
        struct broker b;
        broker_start(&b, s, args, NULL);
        static const char listening[] = "Listening for client connections on 127.0.0.1:";
        expect_in(log_path, listening, s);
        ck_assert(file_read(log_path, text, sizeof text));
        int port = atoi(strstr(text, listening) + sizeof listening - 1);
        int clients[2] = {ldm_client(port), ldm_client(port)};
        ck_assert_int_eq(kill(b.pid, SIGUSR2), 0);
        expect_in(log_path, " [INF] Entering lame duck mode, stop accepting new clients\n", s);
        for (int c = 0; c < 2; c++) {
            ck_assert_int_ge(test_read_until(clients[c], text, sizeof text, "\"ldm\":true",
                                             WAIT_MS),
                             0);
            ck_assert_msg(strncmp(text, "INFO {", 6) == 0, "%s: %s", s->name, text);
        }
        int refused = test_connect_raw(port);
        ck_assert_msg(refused < 0, "%s: a new client was taken in lame duck mode", s->name);
        for (int c = 0; c < 2; c++) {
            ck_assert_int_eq(test_read_until(clients[c], text, sizeof text, "\r\n", WAIT_MS),
                             -ECONNRESET);
            close(clients[c]);
        }
        ck_assert_int_eq(broker_wait(&b), 0);
        expect_in(log_path, " [INF] Closing existing clients\n", s);
        expect_in(log_path, " [INF] Server Exiting..\n", s);
    }
}
END_TEST

/* --signal's refusals, word for word after `<name>: ` (exit 1), none of which signals
 * anything: pid 2147483647 is past Linux's largest pid_max. */
START_TEST(test_signal_command_errors)
{
    static char out[TEXT_SIZE];
    char newline_pid[128];
    snprintf(newline_pid, sizeof newline_pid, "%s/newline.pid", dir);
    FILE *file = fopen(newline_pid, "w");
    ck_assert_ptr_nonnull(file);
    fputs("123\n", file);
    fclose(file);
    char from_file[160];
    snprintf(from_file, sizeof from_file, "quit=%s", newline_pid);
    const struct {
        const char *argument;
        const char *said;
        bool ionats_only;
    } cases[] = {
        {"bogus=1", "unknown signal \"bogus\"\n", false},
        {"reopen=abc", "invalid pid: abc\n", false},
        {"reopen=1=2=3", "invalid signal parameters: [2 3]\n", false},
        {"quit=2147483647", "\nsignal \"quit\" 2147483647: no such process\n", false},
        {from_file, "invalid pid: 123\n\n", false}, /* the file is read as it is */
        {"reopen=0", "invalid pid: 0\n", true},     /* nats-server would signal its group */
    };
    for (int i = 0; i < subject_count; i++) {
        const struct subject *s = &subjects[i];
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            if (cases[c].ionats_only && s->reference) {
                continue;
            }
            const char *const args[] = {"--signal", cases[c].argument, NULL};
            ck_assert_int_eq(command_run(s, args, out, sizeof out), 1);
            char expected[256];
            snprintf(expected, sizeof expected, "%s: %s", s->name, cases[c].said);
            ck_assert_msg(strcmp(out, expected) == 0, "%s --signal %s: said \"%s\", not \"%s\"",
                          s->name, cases[c].argument, out, expected);
        }
    }
}
END_TEST

/* ---- rotation ---------------------------------------------------------------------------- */

/* The backup beside the log, `<log>.YYYY.MM.DD.hh.mm.ss.nnnnnnnnn`: its name in `backup`. */
static bool backup_find(const char *log_name, char *backup, size_t size)
{
    char expression[160];
    snprintf(expression, sizeof expression,
             "^%s\\.[0-9]{4}\\.[0-9]{2}\\.[0-9]{2}\\.[0-9]{2}\\.[0-9]{2}\\.[0-9]{2}\\.[0-9]{9}$",
             log_name);
    regex_t regex;
    ck_assert_int_eq(regcomp(&regex, expression, REG_EXTENDED | REG_NOSUB), 0);
    DIR *listing = opendir(dir);
    ck_assert_ptr_nonnull(listing);
    bool found = false;
    for (struct dirent *e = readdir(listing); e != NULL && !found; e = readdir(listing)) {
        if (regexec(&regex, e->d_name, 0, NULL, 0) == 0) {
            snprintf(backup, size, "%s/%s", dir, e->d_name);
            found = true;
        }
    }
    closedir(listing);
    regfree(&regex);
    return found;
}

/* --log_size_limit: SIGHUPs (two lines each) until the file passes the limit; the full
 * file is kept under nats-server's backup name and the new one starts by naming it. */
START_TEST(test_log_size_limit)
{
    enum { LIMIT = 2000, HANGUPS_MAX = 40 };
    static char text[TEXT_SIZE];
    for (int i = 0; i < subject_count; i++) {
        const struct subject *s = &subjects[i];
        char log_name[64];
        char log_path[160];
        snprintf(log_name, sizeof log_name, "%s-rotate.log", s->name);
        snprintf(log_path, sizeof log_path, "%s/%s", dir, log_name);
        const char *const args[] = {LOOPBACK_ARGS, "-l", log_path, "--log_size_limit", "2000",
                                    NULL};
        struct broker b;
        broker_start(&b, s, args, NULL);
        expect_in(log_path, " [INF] Server is ready\n", s);
        char backup[320];
        bool rotated = false;
        for (int h = 0; h < HANGUPS_MAX && !rotated; h++) {
            kill(b.pid, SIGHUP);
            long deadline = test_now_ms() + 20;
            while (!(rotated = backup_find(log_name, backup, sizeof backup)) &&
                   test_now_ms() < deadline) {
                usleep(STEP_MS * 1000);
            }
        }
        ck_assert_msg(rotated, "%s did not rotate %s", s->name, log_path);
        char first[512];
        snprintf(first, sizeof first, " [INF] Rotated log, backup saved as \"%s\"", backup);
        expect_in(log_path, first, s);
        ck_assert(file_read(log_path, text, sizeof text));
        ck_assert_msg(strstr(text, first) < strchr(text, '\n'), "%s: first line: %s", s->name,
                      text);
        ck_assert(file_read(backup, text, sizeof text));
        ck_assert_int_gt(strlen(text), LIMIT);
        ck_assert_ptr_nonnull(strstr(text, " [INF] Starting "));
        ck_assert_int_eq(broker_stop(&b, SIGTERM), 0);
    }
}
END_TEST

/* ---- the flags --------------------------------------------------------------------------- */

START_TEST(test_ops_flags)
{
    static char out[TEXT_SIZE];
    const struct subject *s = &subjects[0]; /* ionats's own help and errors */
    const char *const help[] = {"--help", NULL};
    ck_assert_int_eq(command_run(s, help, out, sizeof out), 0);
    static const char *const names[] = {"-T, --logtime", "--logtime_utc", "--log_size_limit",
                                        "-P, --pid", "--ports_file_dir", "-sl, --signal"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ck_assert_msg(strstr(out, names[i]) != NULL, "--help does not list %s", names[i]);
    }
    static const char *const bad[][3] = {{"--log_size_limit", "lots", NULL},
                                         {"-T=maybe", NULL, NULL},
                                         {"--signal", NULL, NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(command_run(s, bad[i], out, sizeof out), 2);
    }
}
END_TEST

static Suite *ops_suite(void)
{
    Suite *suite = suite_create("cli_ops");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_log_lines_and_logtime);
    tcase_add_test(tc, test_pid_and_ports_files);
    tcase_add_test(tc, test_ops_files_errors);
    tcase_add_test(tc, test_reload_ops);
    tcase_add_test(tc, test_signals);
    tcase_add_test(tc, test_lame_duck);
    tcase_add_test(tc, test_signal_command_errors);
    tcase_add_test(tc, test_log_size_limit);
    tcase_add_test(tc, test_ops_flags);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(ops_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
