/* Connection set-up for the load generator: see client.h.
 *
 * The handshake reads whole lines from a small buffer; socket timeouts bound every
 * blocking call, and are cleared before the socket is handed to io_uring. */
#include "bench/client.h"

#include "base/assert.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

enum {
    /* How long the server may take to answer any step of the handshake. */
    CLIENT_HANDSHAKE_TIMEOUT_S = 5,
    CLIENT_HOST_SIZE_MAX = 256,
    CLIENT_PORT_TEXT_SIZE = 8,
};

static const char CLIENT_URL_SCHEME[] = "nats://";
static const char CLIENT_PONG[] = "PONG\r\n";

/* Nothing needs to be echoed, acknowledged or given headers: the cheapest client there is.
 * A JetStream consumer asks for headers, to read the statuses that end pull requests. */
#define CLIENT_CONNECT_HEAD                                                                        \
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":false,"                     \
    "\"name\":\"ionats-bench\",\"lang\":\"c\",\"version\":\"0.1.0\",\"protocol\":1,"            \
    "\"echo\":true,"
static const char CLIENT_CONNECT[] =
    CLIENT_CONNECT_HEAD "\"headers\":false,\"no_responders\":false}\r\n";
static const char CLIENT_CONNECT_HEADERS[] =
    CLIENT_CONNECT_HEAD "\"headers\":true,\"no_responders\":false}\r\n";

/* Splits "host[:port]" or "[v6]:port" into host and port text. */
static int client_split_host_port(const char *rest, char *host, char *port)
{
    const char *colon = NULL;
    const char *host_start = rest;
    size_t host_size = 0;
    if (rest[0] == '[') {
        const char *close = strchr(rest, ']');
        if (close == NULL) {
            return -EINVAL;
        }
        host_start = rest + 1;
        host_size = (size_t)(close - host_start);
        colon = close[1] == ':' ? close + 1 : NULL;
        if (close[1] != '\0' && colon == NULL) {
            return -EINVAL;
        }
    } else {
        colon = strrchr(rest, ':');
        host_size = colon != NULL ? (size_t)(colon - rest) : strlen(rest);
    }
    if (host_size == 0 || host_size >= CLIENT_HOST_SIZE_MAX) {
        return -EINVAL;
    }
    memcpy(host, host_start, host_size);
    host[host_size] = '\0';
    const char *port_text = colon != NULL ? colon + 1 : "";
    if (strlen(port_text) >= CLIENT_PORT_TEXT_SIZE) {
        return -EINVAL;
    }
    if (port_text[0] == '\0') {
        snprintf(port, CLIENT_PORT_TEXT_SIZE, "%d", CLIENT_PORT_DEFAULT);
    } else {
        snprintf(port, CLIENT_PORT_TEXT_SIZE, "%s", port_text);
    }
    return 0;
}

int client_addr_parse(const char *url, struct client_addr *addr)
{
    const char *rest = url;
    if (strncmp(url, CLIENT_URL_SCHEME, sizeof CLIENT_URL_SCHEME - 1) == 0) {
        rest = url + sizeof CLIENT_URL_SCHEME - 1;
    }
    char host[CLIENT_HOST_SIZE_MAX];
    char port[CLIENT_PORT_TEXT_SIZE];
    int rc = client_split_host_port(rest, host, port);
    if (rc < 0) {
        return rc;
    }
    char *end = NULL;
    long port_number = strtol(port, &end, 10);
    if (*end != '\0' || port_number <= 0 || port_number > UINT16_MAX) {
        return -EINVAL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *found = NULL;
    if (getaddrinfo(host, port, &hints, &found) != 0 || found == NULL) {
        return -EHOSTUNREACH;
    }
    memcpy(&addr->sockaddr, found->ai_addr, found->ai_addrlen);
    addr->sockaddr_size = found->ai_addrlen;
    freeaddrinfo(found);
    return 0;
}

static int client_set_timeout(int fd, int seconds)
{
    struct timeval timeout = {.tv_sec = seconds, .tv_usec = 0};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) < 0) {
        return -errno;
    }
    return 0;
}

int client_write_all(int fd, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t written = send(fd, data, size, MSG_NOSIGNAL);
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        data += written;
        size -= (size_t)written;
    }
    return 0;
}

/* A line reader over the hello buffer: [start, used) holds unread bytes. */
struct client_reader {
    int fd;
    char *buffer; /* borrowed: hello->leftover */
    size_t start;
    size_t used;
};

/* Returns the next complete line (without CRLF) in *line / *line_size, reading as needed. */
static int client_read_line(struct client_reader *reader, const char **line, size_t *line_size)
{
    for (;;) {
        char *begin = reader->buffer + reader->start;
        char *newline = memchr(begin, '\n', reader->used - reader->start);
        if (newline != NULL) {
            size_t size = (size_t)(newline - begin);
            reader->start += size + 1;
            *line = begin;
            *line_size = size > 0 && begin[size - 1] == '\r' ? size - 1 : size;
            return 0;
        }
        if (reader->start > 0) {
            memmove(reader->buffer, begin, reader->used - reader->start);
            reader->used -= reader->start;
            reader->start = 0;
        }
        if (reader->used == CLIENT_HANDSHAKE_BUFFER_SIZE) {
            return -EMSGSIZE;
        }
        ssize_t got = recv(reader->fd, reader->buffer + reader->used,
                           CLIENT_HANDSHAKE_BUFFER_SIZE - reader->used, 0);
        if (got == 0) {
            return -ECONNRESET;
        }
        if (got < 0 && errno != EINTR) {
            return errno == EAGAIN ? -ETIMEDOUT : -errno;
        }
        reader->used += got > 0 ? (size_t)got : 0;
    }
}

static bool client_line_is(const char *line, size_t line_size, const char *op)
{
    size_t op_size = strlen(op);
    return line_size >= op_size && strncasecmp(line, op, op_size) == 0;
}

static uint64_t client_info_max_payload(const char *line, size_t line_size)
{
    static const char key[] = "\"max_payload\":";
    char info[CLIENT_HANDSHAKE_BUFFER_SIZE + 1];
    memcpy(info, line, line_size);
    info[line_size] = '\0';
    const char *found = strstr(info, key);
    return found != NULL ? strtoull(found + sizeof key - 1, NULL, 10) : 0;
}

/* Reads lines until PONG: PING is answered, -ERR fails, +OK and INFO pass, MSG fails
 * (someone else publishes on our subjects). */
static int client_await_pong(struct client_reader *reader, struct client_hello *hello)
{
    for (;;) {
        const char *line = NULL;
        size_t line_size = 0;
        int rc = client_read_line(reader, &line, &line_size);
        if (rc < 0) {
            snprintf(hello->error, CLIENT_ERROR_SIZE, "no PONG after CONNECT: %s", strerror(-rc));
            return rc;
        }
        if (client_line_is(line, line_size, "PONG")) {
            return 0;
        }
        if (client_line_is(line, line_size, "PING")) {
            rc = client_write_all(reader->fd, CLIENT_PONG, sizeof CLIENT_PONG - 1);
        } else if (client_line_is(line, line_size, "-ERR")) {
            snprintf(hello->error, CLIENT_ERROR_SIZE, "server: %.*s", (int)line_size, line);
            return -ECONNREFUSED;
        } else if (!client_line_is(line, line_size, "+OK") &&
                   !client_line_is(line, line_size, "INFO")) {
            snprintf(hello->error, CLIENT_ERROR_SIZE,
                     "unexpected '%.40s' before PONG: is another client publishing on the "
                     "bench subjects?",
                     line);
            return -EPROTO;
        }
        if (rc < 0) {
            return rc;
        }
    }
}

static int client_greet(int fd, const char *subscribe, unsigned flags, struct client_hello *hello)
{
    struct client_reader reader = {.fd = fd, .buffer = hello->leftover};
    const char *line = NULL;
    size_t line_size = 0;
    int rc = client_read_line(&reader, &line, &line_size);
    if (rc < 0 || !client_line_is(line, line_size, "INFO")) {
        snprintf(hello->error, CLIENT_ERROR_SIZE, "no INFO from server: %s",
                 rc < 0 ? strerror(-rc) : "other data");
        return rc < 0 ? rc : -EPROTO;
    }
    hello->max_payload = client_info_max_payload(line, line_size);
    char hello_lines[sizeof CLIENT_CONNECT_HEADERS + CLIENT_HANDSHAKE_BUFFER_SIZE];
    const char *connect = (flags & CLIENT_F_HEADERS) ? CLIENT_CONNECT_HEADERS : CLIENT_CONNECT;
    int size = snprintf(hello_lines, sizeof hello_lines, "%s%sPING\r\n", connect, subscribe);
    ASSERT(size > 0 && (size_t)size < sizeof hello_lines);
    rc = client_write_all(fd, hello_lines, (size_t)size);
    if (rc == 0 && (flags & CLIENT_F_WAIT_PONG)) {
        rc = client_await_pong(&reader, hello);
    }
    hello->leftover_size = reader.used - reader.start;
    memmove(hello->leftover, hello->leftover + reader.start, hello->leftover_size);
    return rc;
}

static int client_socket(const struct client_addr *addr, struct client_hello *hello)
{
    int fd = socket(addr->sockaddr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(hello->error, CLIENT_ERROR_SIZE, "socket: %s", strerror(errno));
        return -errno;
    }
    int one = 1;
    int rc = setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ? -errno : 0;
    if (rc == 0) {
        rc = client_set_timeout(fd, CLIENT_HANDSHAKE_TIMEOUT_S);
    }
    if (rc == 0 && connect(fd, (const struct sockaddr *)&addr->sockaddr, addr->sockaddr_size) < 0) {
        rc = -errno;
        snprintf(hello->error, CLIENT_ERROR_SIZE, "connect: %s", strerror(errno));
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int client_open(const struct client_addr *addr, const char *subscribe, unsigned flags,
                struct client_hello *hello)
{
    memset(hello, 0, sizeof *hello);
    int fd = client_socket(addr, hello);
    if (fd < 0) {
        return fd;
    }
    int rc = client_greet(fd, subscribe, flags, hello);
    if (rc == 0) {
        rc = client_set_timeout(fd, 0);
    }
    if (rc < 0) {
        if (hello->error[0] == '\0') {
            snprintf(hello->error, CLIENT_ERROR_SIZE, "handshake: %s", strerror(-rc));
        }
        close(fd);
        return rc;
    }
    return fd;
}
