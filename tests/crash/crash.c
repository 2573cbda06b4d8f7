/* The crash suite's helpers: see crash.h. */
#include "tests/crash/crash.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Polling steps while waiting for a broker to start or stop. */
enum { POLL_STEP_MS = 10 };
/* Words on a broker's command line: the fixed ones and what a test adds. */
enum { ARGS_MAX = 32 };
/* Tries on a fresh port when another process took the one chosen before the broker bound
 * it; three losses in a row mean something else is wrong. */
enum { START_ATTEMPTS = 3 };
/* A connection's read buffer: the largest frame is a MSG.GET reply of a 1 MB message, base64
 * (4/3) in JSON; 8 MB leaves room for that and what follows it. */
enum { CONN_BUFFER_INITIAL = 64 * 1024, CONN_BUFFER_MAX = 8 * 1024 * 1024 };
/* The longest protocol line accepted (a MSG line with two subjects, an INFO). */
enum { LINE_MAX_BYTES = 64 * 1024 };
/* A PUB line: subjects of the tests are short. */
enum { PUB_LINE_SIZE = 1024 };

int64_t crash_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t crash_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t crash_random(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ULL;
    return crash_mix64(*state);
}

uint64_t crash_random_range(uint64_t *state, uint64_t low, uint64_t high)
{
    return low + crash_random(state) % (high - low + 1);
}

/* ---- the broker process ---- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

static bool port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(fd);
    return ok;
}

void crash_status_describe(int status, char *text, size_t size)
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

void crash_log_mark(const char *log_path, const char *fmt, ...)
{
    FILE *log = fopen(log_path, "a");
    if (log == NULL) {
        return;
    }
    va_list args;
    va_start(args, fmt);
    vfprintf(log, fmt, args);
    va_end(args);
    fputc('\n', log);
    fclose(log);
}

void crash_log_show(const char *log_path, size_t bytes)
{
    FILE *log = fopen(log_path, "r");
    if (log == NULL) {
        fprintf(stderr, "crash: cannot read %s: %s\n", log_path, strerror(errno));
        return;
    }
    long skip = 0;
    if (fseek(log, 0, SEEK_END) == 0) {
        long size = ftell(log);
        skip = size > (long)bytes ? size - (long)bytes : 0;
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

/* True when the log, from `offset` on, says the listen address was taken. */
static bool log_says_port_taken(const char *log_path, long offset)
{
    FILE *log = fopen(log_path, "r");
    if (log == NULL) {
        return false;
    }
    fseek(log, offset, SEEK_SET);
    char line[1024];
    bool taken = false;
    while (!taken && fgets(line, sizeof line, log) != NULL) {
        taken = strcasestr(line, "address already in use") != NULL;
    }
    fclose(log);
    return taken;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

static void broker_exec(const char *store_dir, const char *const *extra, const char *log_path,
                        int port, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        _exit(127);
    }
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log_fd >= 0) {
        dup2(log_fd, 1);
        dup2(log_fd, 2);
    }
    const char *binary = getenv("IONATS_BIN");
    if (binary == NULL) {
        _exit(127); /* crash_broker_start looked first */
    }
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", port);
    const char *argv[ARGS_MAX] = {binary,    "-a",  "127.0.0.1", "-p",
                                  port_text, "-js", "-sd",       store_dir};
    int argc = 8;
    for (int i = 0; extra != NULL && extra[i] != NULL && argc < ARGS_MAX - 1; i++) {
        argv[argc++] = extra[i];
    }
    execv(binary, (char *const *)argv);
    fprintf(stderr, "crash: cannot run %s: %s\n", binary, strerror(errno));
    _exit(127);
}

static int start_once(struct crash_broker *broker, const char *store_dir, const char *const *extra,
                      const char *log_path)
{
    int port = free_port();
    if (port < 0) {
        return port;
    }
    long log_offset = file_size(log_path);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        return -errno;
    }
    if (pid == 0) {
        broker_exec(store_dir, extra, log_path, port, parent);
    }
    broker->pid = pid;
    broker->port = port;
    int64_t deadline = crash_now_ms() + CRASH_START_WAIT_MS;
    while (crash_now_ms() < deadline) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            broker->pid = 0;
            if (log_says_port_taken(log_path, log_offset)) {
                return -EADDRINUSE;
            }
            char how[96];
            crash_status_describe(status, how, sizeof how);
            fprintf(stderr, "crash: the broker died while starting: %s\n", how);
            return -ECHILD;
        }
        if (port_accepts(port)) {
            return 0;
        }
        usleep(POLL_STEP_MS * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    broker->pid = 0;
    fprintf(stderr, "crash: the broker did not accept connections in %d ms\n", CRASH_START_WAIT_MS);
    return -ETIMEDOUT;
}

int crash_broker_start(struct crash_broker *broker, const char *store_dir, const char *const *extra,
                       const char *log_path)
{
    if (getenv("IONATS_BIN") == NULL) {
        fprintf(stderr, "crash: IONATS_BIN is not set\n");
        return -EINVAL;
    }
    broker->pid = 0;
    snprintf(broker->log_path, sizeof broker->log_path, "%s", log_path);
    int rc = -EADDRINUSE;
    for (int attempt = 0; attempt < START_ATTEMPTS && rc == -EADDRINUSE; attempt++) {
        rc = start_once(broker, store_dir, extra, log_path);
    }
    return rc;
}

bool crash_broker_alive(struct crash_broker *broker, int *status)
{
    if (broker->pid <= 0) {
        return false;
    }
    if (waitpid(broker->pid, status, WNOHANG) == broker->pid) {
        broker->pid = 0;
        return false;
    }
    return true;
}

bool crash_broker_kill(struct crash_broker *broker, int *status)
{
    if (!crash_broker_alive(broker, status)) {
        return false;
    }
    kill(broker->pid, SIGKILL);
    waitpid(broker->pid, status, 0);
    broker->pid = 0;
    return true;
}

bool crash_broker_stop(struct crash_broker *broker, int *status)
{
    *status = 0;
    if (broker->pid <= 0) {
        return false;
    }
    kill(broker->pid, SIGTERM);
    int64_t deadline = crash_now_ms() + CRASH_STOP_WAIT_MS;
    pid_t done = 0;
    while ((done = waitpid(broker->pid, status, WNOHANG)) == 0 && crash_now_ms() < deadline) {
        usleep(POLL_STEP_MS * 1000);
    }
    if (done == 0) {
        fprintf(stderr, "crash: broker %d did not stop in %d ms; killing it\n", (int)broker->pid,
                CRASH_STOP_WAIT_MS);
        kill(broker->pid, SIGKILL);
        waitpid(broker->pid, status, 0);
        broker->pid = 0;
        return false;
    }
    broker->pid = 0;
    return WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
}

/* ---- a NATS client on a raw socket ---- */

int crash_conn_send(struct crash_conn *conn, const void *data, size_t length)
{
    const char *bytes = data;
    size_t sent = 0;
    while (sent < length) {
        ssize_t n = send(conn->fd, bytes + sent, length - sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN ? -ETIMEDOUT : -errno;
        }
        sent += (size_t)n;
    }
    return 0;
}

/* Makes room for at least `more` bytes after `used`: moves the unconsumed bytes to the
 * front, then grows up to CONN_BUFFER_MAX. */
static int conn_room(struct crash_conn *conn, size_t more)
{
    if (conn->start > 0) {
        memmove(conn->buffer, conn->buffer + conn->start, conn->used - conn->start);
        conn->used -= conn->start;
        conn->start = 0;
    }
    if (conn->capacity - conn->used >= more) {
        return 0;
    }
    size_t capacity = conn->capacity;
    while (capacity - conn->used < more && capacity < CONN_BUFFER_MAX) {
        capacity *= 2;
    }
    if (capacity - conn->used < more) {
        return -ENOBUFS;
    }
    char *grown = realloc(conn->buffer, capacity);
    if (grown == NULL) {
        return -ENOMEM;
    }
    conn->buffer = grown;
    conn->capacity = capacity;
    return 0;
}

/* Reads what is there (waiting up to timeout_ms). 0; -ETIMEDOUT; -ECONNRESET when closed. */
static int conn_fill(struct crash_conn *conn, int timeout_ms)
{
    if (conn->closed) {
        return -ECONNRESET;
    }
    int rc = conn_room(conn, CONN_BUFFER_INITIAL / 2);
    if (rc != 0) {
        return rc;
    }
    struct pollfd p = {.fd = conn->fd, .events = POLLIN};
    rc = poll(&p, 1, timeout_ms);
    if (rc == 0) {
        return -ETIMEDOUT;
    }
    if (rc < 0) {
        return errno == EINTR ? 0 : -errno;
    }
    ssize_t n =
        recv(conn->fd, conn->buffer + conn->used, conn->capacity - conn->used, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return 0;
    }
    if (n <= 0) {
        conn->closed = true;
        return -ECONNRESET;
    }
    conn->used += (size_t)n;
    return 0;
}

/* Splits a MSG line's arguments ("subject sid [reply] size") into the frame. */
static int msg_line_parse(char *args, size_t *size, struct crash_frame *frame)
{
    char *words[5];
    int count = 0;
    char *save = NULL;
    for (char *word = strtok_r(args, " \t", &save); word != NULL && count < 5;
         word = strtok_r(NULL, " \t", &save)) {
        words[count++] = word;
    }
    if (count != 3 && count != 4) {
        return -EPROTO;
    }
    frame->subject = words[0];
    frame->subject_length = strlen(words[0]);
    frame->reply = count == 4 ? words[2] : "";
    frame->reply_length = strlen(frame->reply);
    char *end = NULL;
    unsigned long long value = strtoull(words[count - 1], &end, 10);
    if (end == words[count - 1] || *end != '\0') {
        return -EPROTO;
    }
    *size = (size_t)value;
    return 0;
}

/* One step of parsing what is buffered: 1 with a MSG frame; 0 when more bytes are needed;
 * 2 when a control line was consumed; -EPROTO. */
static int conn_parse(struct crash_conn *conn, struct crash_frame *frame, char *error,
                      size_t error_size)
{
    char *line = conn->buffer + conn->start;
    size_t available = conn->used - conn->start;
    char *end = memmem(line, available, "\r\n", 2);
    if (end == NULL) {
        return available > LINE_MAX_BYTES ? -EPROTO : 0;
    }
    size_t line_length = (size_t)(end - line);
    if (line_length >= 4 && strncasecmp(line, "MSG ", 4) == 0) {
        /* the frame is whole once the payload and its CRLF are buffered */
        char args[LINE_MAX_BYTES];
        if (line_length - 4 >= sizeof args) {
            return -EPROTO;
        }
        size_t size = 0;
        struct crash_frame probe;
        memcpy(args, line + 4, line_length - 4);
        args[line_length - 4] = '\0';
        if (msg_line_parse(args, &size, &probe) != 0) {
            snprintf(error, error_size, "bad MSG line: %.*s", (int)line_length, line);
            return -EPROTO;
        }
        size_t whole = line_length + 2 + size + 2;
        if (available < whole) {
            int rc = conn_room(conn, whole - available);
            return rc == 0 ? 0 : rc;
        }
        /* parse again in place so the views point into the buffer */
        line[line_length] = '\0';
        msg_line_parse(line + 4, &size, frame);
        frame->payload = line + line_length + 2;
        frame->payload_length = size;
        conn->start += whole;
        return 1;
    }
    conn->start += line_length + 2;
    if (line_length >= 4 && strncasecmp(line, "PING", 4) == 0) {
        return crash_conn_send(conn, "PONG\r\n", 6) == 0 ? 2 : -EPROTO;
    }
    if ((line_length >= 4 && strncasecmp(line, "PONG", 4) == 0) ||
        (line_length >= 3 && strncmp(line, "+OK", 3) == 0) ||
        (line_length >= 5 && strncasecmp(line, "INFO ", 5) == 0)) {
        return 2;
    }
    if (error != NULL) {
        snprintf(error, error_size, "%.*s", (int)(line_length < 200 ? line_length : 200), line);
    }
    return -EPROTO;
}

int crash_conn_next(struct crash_conn *conn, struct crash_frame *frame, int timeout_ms, char *error,
                    size_t error_size)
{
    int64_t deadline = crash_now_ms() + timeout_ms;
    for (;;) {
        int rc = conn_parse(conn, frame, error, error_size);
        if (rc == 1) {
            return 0;
        }
        if (rc == 2) {
            continue;
        }
        if (rc < 0) {
            return rc;
        }
        int64_t left = deadline - crash_now_ms();
        if (left <= 0 && !conn->closed) {
            return -ETIMEDOUT;
        }
        rc = conn_fill(conn, left > 0 ? (int)left : 0);
        if (rc != 0 && rc != -ETIMEDOUT) {
            return rc;
        }
    }
}

int crash_conn_open(struct crash_conn *conn, int port)
{
    memset(conn, 0, sizeof *conn);
    conn->fd = -1;
    conn->buffer = malloc(CONN_BUFFER_INITIAL);
    if (conn->buffer == NULL) {
        return -ENOMEM;
    }
    conn->capacity = CONN_BUFFER_INITIAL;
    conn->next_sid = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    conn->fd = fd;
    struct timeval timeout = {.tv_sec = CRASH_REPLY_WAIT_MS / 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        return -errno;
    }
    /* INFO first, then our CONNECT and a PING whose PONG says the broker took it */
    int64_t deadline = crash_now_ms() + CRASH_REPLY_WAIT_MS;
    char *info = NULL;
    while ((info = memmem(conn->buffer, conn->used, "\r\n", 2)) == NULL) {
        int rc = conn_fill(conn, (int)(deadline - crash_now_ms()));
        if (rc != 0 && (rc != -ETIMEDOUT || crash_now_ms() >= deadline)) {
            return rc;
        }
    }
    if (strncmp(conn->buffer, "INFO ", 5) != 0) {
        return -EPROTO;
    }
    conn->start = (size_t)(info - conn->buffer) + 2;
    static const char hello[] = "CONNECT {\"verbose\":false,\"pedantic\":false,"
                                "\"headers\":false,\"name\":\"crash\"}\r\nPING\r\n";
    int rc = crash_conn_send(conn, hello, sizeof hello - 1);
    while (rc == 0) {
        char *pong = memmem(conn->buffer + conn->start, conn->used - conn->start, "PONG\r\n", 6);
        if (pong != NULL) {
            conn->start = (size_t)(pong - conn->buffer) + 6;
            return 0;
        }
        if (memmem(conn->buffer + conn->start, conn->used - conn->start, "-ERR", 4) != NULL) {
            return -EPROTO;
        }
        int64_t left = deadline - crash_now_ms();
        rc = left > 0 ? conn_fill(conn, (int)left) : -ETIMEDOUT;
        if (rc == -ETIMEDOUT && left > 0) {
            rc = 0;
        }
    }
    return rc;
}

void crash_conn_close(struct crash_conn *conn)
{
    if (conn->fd >= 0) {
        close(conn->fd);
    }
    free(conn->buffer);
    memset(conn, 0, sizeof *conn);
    conn->fd = -1;
}

int crash_conn_subscribe(struct crash_conn *conn, const char *subject, uint64_t *sid)
{
    char line[PUB_LINE_SIZE];
    *sid = conn->next_sid++;
    int length = snprintf(line, sizeof line, "SUB %s %llu\r\n", subject, (unsigned long long)*sid);
    return crash_conn_send(conn, line, (size_t)length);
}

int crash_conn_publish(struct crash_conn *conn, const char *subject, const char *reply,
                       const void *payload, size_t length)
{
    char line[PUB_LINE_SIZE];
    int line_length = snprintf(line, sizeof line, "PUB %s %s %zu\r\n", subject,
                               reply != NULL ? reply : "", length);
    /* one sendmsg for line, payload and CRLF: a publish never reaches the broker split by
     * a pause of ours */
    struct iovec parts[3] = {{line, (size_t)line_length}, {(void *)payload, length}, {"\r\n", 2}};
    struct msghdr message = {.msg_iov = parts, .msg_iovlen = 3};
    size_t total = (size_t)line_length + length + 2;
    size_t sent = 0;
    while (sent < total) {
        ssize_t n = sendmsg(conn->fd, &message, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN ? -ETIMEDOUT : -errno;
        }
        sent += (size_t)n;
        /* skip what was sent */
        size_t skip = (size_t)n;
        while (message.msg_iovlen > 0 && skip >= message.msg_iov[0].iov_len) {
            skip -= message.msg_iov[0].iov_len;
            message.msg_iov++;
            message.msg_iovlen--;
        }
        if (message.msg_iovlen > 0) {
            message.msg_iov[0].iov_base = (char *)message.msg_iov[0].iov_base + skip;
            message.msg_iov[0].iov_len -= skip;
        }
    }
    return 0;
}

json_t *crash_request(struct crash_conn *conn, const char *subject, const char *body,
                      int timeout_ms, char *why, size_t why_size)
{
    return crash_request_bytes(conn, subject, body, strlen(body), timeout_ms, why, why_size);
}

int crash_request_frame(struct crash_conn *conn, const char *subject, const void *body,
                        size_t length, int timeout_ms, struct crash_frame *frame, char *why,
                        size_t why_size)
{
    if (conn->inbox[0] == '\0') {
        uint64_t sid;
        snprintf(conn->inbox, sizeof conn->inbox, "_CRASH_REQ.%d.%llx", (int)getpid(),
                 (unsigned long long)crash_mix64((uint64_t)crash_now_ms() ^ (uint64_t)conn->fd));
        char wildcard[96];
        snprintf(wildcard, sizeof wildcard, "%s.*", conn->inbox);
        int rc = crash_conn_subscribe(conn, wildcard, &sid);
        if (rc != 0) {
            snprintf(why, why_size, "SUB %s: %s", wildcard, strerror(-rc));
            conn->inbox[0] = '\0';
            return -EIO;
        }
    }
    char reply[96];
    snprintf(reply, sizeof reply, "%s.%llu", conn->inbox,
             (unsigned long long)++conn->request_count);
    int rc = crash_conn_publish(conn, subject, reply, body, length);
    if (rc != 0) {
        snprintf(why, why_size, "request %s: send: %s", subject, strerror(-rc));
        return -EIO;
    }
    int64_t deadline = crash_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - crash_now_ms();
        char error[256] = "";
        rc = left > 0 ? crash_conn_next(conn, frame, (int)left, error, sizeof error) : -ETIMEDOUT;
        if (rc != 0) {
            snprintf(why, why_size, "request %s: %s%s%s", subject,
                     rc == -ETIMEDOUT ? "no reply in time" : strerror(-rc), error[0] ? ": " : "",
                     error);
            return -EIO;
        }
        if (frame->subject_length == strlen(reply) &&
            memcmp(frame->subject, reply, frame->subject_length) == 0) {
            return 0;
        }
        /* else the late reply of an earlier request */
    }
}

json_t *crash_request_bytes(struct crash_conn *conn, const char *subject, const void *body,
                            size_t length, int timeout_ms, char *why, size_t why_size)
{
    struct crash_frame frame;
    if (crash_request_frame(conn, subject, body, length, timeout_ms, &frame, why, why_size)) {
        return NULL;
    }
    json_error_t json_error;
    json_t *root = json_loadb(frame.payload, frame.payload_length, 0, &json_error);
    if (root == NULL || !json_is_object(root)) {
        snprintf(why, why_size, "request %s: the reply is not a JSON object (%s): %.*s", subject,
                 json_error.text, (int)(frame.payload_length < 300 ? frame.payload_length : 300),
                 frame.payload);
        json_decref(root);
        return NULL;
    }
    return root;
}

/* ---- JetStream ---- */

int crash_api_error(const json_t *reply, char *description, size_t size)
{
    const json_t *error = json_object_get(reply, "error");
    if (error == NULL) {
        return 0;
    }
    const json_t *code = json_object_get(error, "err_code");
    const json_t *text = json_object_get(error, "description");
    if (description != NULL) {
        snprintf(description, size, "%s (code %lld, err_code %lld)",
                 json_is_string(text) ? json_string_value(text) : "?",
                 (long long)json_integer_value(json_object_get(error, "code")),
                 (long long)json_integer_value(code));
    }
    int err_code = json_is_integer(code) ? (int)json_integer_value(code) : 0;
    return err_code > 0 ? err_code : 1;
}

int crash_stream_create(struct crash_conn *conn, const char *name, const char *config, char *why,
                        size_t why_size)
{
    char subject[256];
    snprintf(subject, sizeof subject, "$JS.API.STREAM.CREATE.%s", name);
    json_t *reply = crash_request(conn, subject, config, CRASH_REPLY_WAIT_MS, why, why_size);
    if (reply == NULL) {
        return -EIO;
    }
    char text[256];
    int rc = 0;
    if (crash_api_error(reply, text, sizeof text) != 0) {
        snprintf(why, why_size, "create %s: %s", name, text);
        rc = -EIO;
    }
    json_decref(reply);
    return rc;
}

static uint64_t json_u64_of(const json_t *object, const char *key)
{
    const json_t *value = json_object_get(object, key);
    return json_is_integer(value) && json_integer_value(value) > 0
               ? (uint64_t)json_integer_value(value)
               : 0;
}

int crash_stream_info(struct crash_conn *conn, const char *name, struct crash_stream_state *state,
                      char *why, size_t why_size)
{
    char subject[256];
    snprintf(subject, sizeof subject, "$JS.API.STREAM.INFO.%s", name);
    json_t *reply = crash_request(conn, subject, "", CRASH_REPLY_WAIT_MS, why, why_size);
    if (reply == NULL) {
        return -EIO;
    }
    char text[256];
    int err_code = crash_api_error(reply, text, sizeof text);
    int rc = 0;
    const json_t *json_state = json_object_get(reply, "state");
    if (err_code == 10059) {
        snprintf(why, why_size, "info %s: %s", name, text);
        rc = -ENOENT;
    } else if (err_code != 0 || !json_is_object(json_state)) {
        snprintf(why, why_size, "info %s: %s", name, err_code ? text : "no state in the reply");
        rc = -EIO;
    } else {
        state->messages = json_u64_of(json_state, "messages");
        state->bytes = json_u64_of(json_state, "bytes");
        state->first_seq = json_u64_of(json_state, "first_seq");
        state->last_seq = json_u64_of(json_state, "last_seq");
    }
    json_decref(reply);
    return rc;
}

void crash_msg_free(struct crash_msg *msg)
{
    free(msg->data);
    msg->data = NULL;
}

/* The value of each base64 character; 64 for '=', 0xff for a character outside the
 * alphabet. */
static uint8_t base64_values[256];

static void base64_values_fill(void)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memset(base64_values, 0xff, sizeof base64_values);
    for (int i = 0; i < 64; i++) {
        base64_values[(uint8_t)alphabet[i]] = (uint8_t)i;
    }
    base64_values['='] = 64;
}

long crash_base64_decode(const char *text, size_t length, uint8_t *out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, base64_values_fill);
    if (length % 4 != 0) {
        return -EINVAL;
    }
    const uint8_t *in = (const uint8_t *)text;
    size_t used = 0;
    for (size_t i = 0; i < length; i += 4) {
        uint32_t a = base64_values[in[i]];
        uint32_t b = base64_values[in[i + 1]];
        uint32_t c = base64_values[in[i + 2]];
        uint32_t d = base64_values[in[i + 3]];
        if ((a | b | c | d) < 64) {
            uint32_t chunk = a << 18 | b << 12 | c << 6 | d;
            out[used++] = (uint8_t)(chunk >> 16);
            out[used++] = (uint8_t)(chunk >> 8);
            out[used++] = (uint8_t)chunk;
            continue;
        }
        /* padding: only in the last quantum, "xx==" or "xxx=" */
        bool last = i + 4 == length;
        if (!last || a >= 64 || b >= 64 || d != 64 || (c > 64)) {
            return -EINVAL;
        }
        uint32_t chunk = a << 18 | b << 12 | (c == 64 ? 0 : c << 6);
        out[used++] = (uint8_t)(chunk >> 16);
        if (c != 64) {
            out[used++] = (uint8_t)(chunk >> 8);
        }
    }
    return (long)used;
}

/* jansson reads a string character by character, far slower than the rest of the check
 * together: the base64 of "data" is cut out of the reply (base64 holds no '"' or '\', so its
 * end is the next '"'), jansson checks the rest, with "data":"" in its place. */
static const char DATA_KEY[] = "\"data\":\"";

int crash_msg_get_parse(const char *reply, size_t length, uint64_t seq, struct crash_msg *out,
                        char *why, size_t why_size)
{
    memset(out, 0, sizeof *out);
    const char *data = memmem(reply, length, DATA_KEY, sizeof DATA_KEY - 1);
    const char *data_end = NULL;
    size_t data_length = 0;
    if (data != NULL) {
        data += sizeof DATA_KEY - 1;
        data_end = memchr(data, '"', length - (size_t)(data - reply));
        if (data_end == NULL || memmem(data_end, length - (size_t)(data_end - reply), DATA_KEY,
                                       sizeof DATA_KEY - 1) != NULL) {
            snprintf(why, why_size,
                     "get seq %llu: a reply with a broken or second \"data\": %.300s",
                     (unsigned long long)seq, reply);
            return -EIO;
        }
        data_length = (size_t)(data_end - data);
    }
    char *rest = malloc(length + 1);
    if (rest == NULL) {
        snprintf(why, why_size, "get seq %llu: out of memory", (unsigned long long)seq);
        return -EIO;
    }
    size_t rest_length = length;
    if (data != NULL) {
        size_t head = (size_t)(data - reply);
        memcpy(rest, reply, head);
        memcpy(rest + head, data_end, length - (size_t)(data_end - reply));
        rest_length = length - data_length;
    } else {
        memcpy(rest, reply, length);
    }
    json_error_t json_error;
    json_t *root = json_loadb(rest, rest_length, 0, &json_error);
    int rc = 0;
    if (root == NULL || !json_is_object(root)) {
        snprintf(why, why_size, "get seq %llu: the reply is not a JSON object (%s): %.300s",
                 (unsigned long long)seq, json_error.text, rest);
        rc = -EIO;
    }
    char text[256];
    int err_code = rc == 0 ? crash_api_error(root, text, sizeof text) : 0;
    const json_t *message = rc == 0 ? json_object_get(root, "message") : NULL;
    const json_t *subject = json_object_get(message, "subject");
    const json_t *data_json = json_object_get(message, "data");
    if (rc != 0) {
    } else if (err_code == 10037) {
        rc = -ENOENT;
    } else if (err_code != 0) {
        snprintf(why, why_size, "get seq %llu: %s", (unsigned long long)seq, text);
        rc = -EIO;
    } else if (!json_is_object(message) || !json_is_string(subject) ||
               json_u64_of(message, "seq") != seq ||
               (data_json != NULL && !json_is_string(data_json)) ||
               (data == NULL) != (data_json == NULL)) {
        snprintf(why, why_size, "get seq %llu: unexpected reply %.300s", (unsigned long long)seq,
                 rest);
        rc = -EIO;
    }
    if (rc == 0) {
        out->seq = seq;
        snprintf(out->subject, sizeof out->subject, "%s", json_string_value(subject));
        out->data = malloc(data_length / 4 * 3 + 1);
        long decoded = out->data == NULL ? -ENOMEM
                       : data_length > 0 ? crash_base64_decode(data, data_length, out->data)
                                         : 0;
        if (decoded < 0) {
            snprintf(why, why_size, "get seq %llu: data is not base64 (%s)",
                     (unsigned long long)seq, strerror((int)-decoded));
            crash_msg_free(out);
            rc = -EIO;
        } else {
            out->length = (size_t)decoded;
        }
    }
    json_decref(root);
    free(rest);
    return rc;
}

int crash_msg_get(struct crash_conn *conn, const char *name, uint64_t seq, struct crash_msg *out,
                  char *why, size_t why_size)
{
    char subject[256];
    char body[64];
    snprintf(subject, sizeof subject, "$JS.API.STREAM.MSG.GET.%s", name);
    int length = snprintf(body, sizeof body, "{\"seq\":%llu}", (unsigned long long)seq);
    memset(out, 0, sizeof *out);
    struct crash_frame frame;
    if (crash_request_frame(conn, subject, body, (size_t)length, CRASH_REPLY_WAIT_MS, &frame, why,
                            why_size) != 0) {
        return -EIO;
    }
    return crash_msg_get_parse(frame.payload, frame.payload_length, seq, out, why, why_size);
}

int crash_ack_parse(const char *data, size_t length, const char *stream, uint64_t *seq, char *why,
                    size_t why_size)
{
    *seq = 0;
    json_error_t json_error;
    json_t *root = json_loadb(data, length, 0, &json_error);
    if (root == NULL || !json_is_object(root)) {
        snprintf(why, why_size, "an ack that is not a JSON object: %.*s",
                 (int)(length < 300 ? length : 300), data);
        json_decref(root);
        return -EPROTO;
    }
    int rc = crash_api_error(root, why, why_size);
    if (rc == 0) {
        const json_t *name = json_object_get(root, "stream");
        *seq = json_u64_of(root, "seq");
        if (!json_is_string(name) || strcmp(json_string_value(name), stream) != 0 || *seq == 0) {
            snprintf(why, why_size, "an ack without the stream or a sequence: %.*s",
                     (int)(length < 300 ? length : 300), data);
            rc = -EPROTO;
        }
    }
    json_decref(root);
    return rc;
}

int crash_publish_acked(struct crash_conn *conn, const char *stream, const char *subject,
                        const void *payload, size_t length, uint64_t *seq, char *why,
                        size_t why_size)
{
    *seq = 0;
    json_t *reply =
        crash_request_bytes(conn, subject, payload, length, CRASH_REPLY_WAIT_MS, why, why_size);
    if (reply == NULL) {
        return -EIO;
    }
    char *text = json_dumps(reply, JSON_COMPACT);
    json_decref(reply);
    if (text == NULL) {
        snprintf(why, why_size, "out of memory");
        return -EIO;
    }
    int rc = crash_ack_parse(text, strlen(text), stream, seq, why, why_size);
    free(text);
    return rc == -EPROTO ? -EIO : rc;
}

/* ---- self-checking payloads ---- */

static const char PAYLOAD_MAGIC[8] = {'I', 'O', 'N', 'A', 'T', 'S', 'C', 'R'};

static void le_put(uint8_t *target, uint64_t value, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        target[i] = (uint8_t)(value >> (8 * i));
    }
}

static uint64_t le_get(const uint8_t *source, int bytes)
{
    uint64_t value = 0;
    for (int i = bytes - 1; i >= 0; i--) {
        value = value << 8 | source[i];
    }
    return value;
}

/* The pattern of message `id`: one splitmix64 output per aligned 8-byte block, stored
 * little-endian, so the byte at `offset` is a byte of the block holding it. */
static uint64_t pattern_block(uint64_t id, size_t offset)
{
    return crash_mix64(id * 0x100000001b3ULL ^ (uint64_t)(offset / 8));
}

static uint8_t pattern_byte(uint64_t id, size_t offset)
{
    return (uint8_t)(pattern_block(id, offset) >> (8 * (offset % 8)));
}

static int payload_differs(const uint8_t *payload, size_t length, uint64_t id, size_t offset,
                           char *why, size_t why_size)
{
    snprintf(why, why_size, "id %#llx: byte %zu of %zu is %#x, sent %#x", (unsigned long long)id,
             offset, length, payload[offset], pattern_byte(id, offset));
    return -EBADMSG;
}

void crash_payload_fill(uint8_t *payload, size_t length, uint64_t id)
{
    memcpy(payload, PAYLOAD_MAGIC, sizeof PAYLOAD_MAGIC);
    le_put(payload + 8, id, 8);
    le_put(payload + 16, length, 4);
    size_t offset = CRASH_PAYLOAD_HEAD_SIZE;
    for (; offset < length && offset % 8 != 0; offset++) {
        payload[offset] = pattern_byte(id, offset);
    }
    for (; offset + 8 <= length; offset += 8) {
        le_put(payload + offset, pattern_block(id, offset), 8);
    }
    for (; offset < length; offset++) {
        payload[offset] = pattern_byte(id, offset);
    }
}

int crash_payload_check(const uint8_t *payload, size_t length, uint64_t *id, char *why,
                        size_t why_size)
{
    if (length < CRASH_PAYLOAD_HEAD_SIZE || memcmp(payload, PAYLOAD_MAGIC, 8) != 0) {
        snprintf(why, why_size, "not a payload the test sent (%zu bytes, no magic)", length);
        return -EBADMSG;
    }
    *id = le_get(payload + 8, 8);
    uint64_t written_length = le_get(payload + 16, 4);
    if (written_length != length) {
        snprintf(why, why_size, "id %#llx: %zu bytes read back, %llu sent", (unsigned long long)*id,
                 length, (unsigned long long)written_length);
        return -EBADMSG;
    }
    /* bytes up to an aligned block, whole blocks while they match, then bytes again: a
     * differing block is looked at byte by byte to name the first difference */
    size_t offset = CRASH_PAYLOAD_HEAD_SIZE;
    for (; offset < length && offset % 8 != 0; offset++) {
        if (payload[offset] != pattern_byte(*id, offset)) {
            return payload_differs(payload, length, *id, offset, why, why_size);
        }
    }
    for (; offset + 8 <= length; offset += 8) {
        if (le_get(payload + offset, 8) != pattern_block(*id, offset)) {
            break;
        }
    }
    for (; offset < length; offset++) {
        if (payload[offset] != pattern_byte(*id, offset)) {
            return payload_differs(payload, length, *id, offset, why, why_size);
        }
    }
    return 0;
}
