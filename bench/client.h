/* Opening a NATS client connection for the load generator: address parsing, TCP connect
 * and the blocking handshake (INFO in, CONNECT out, optional SUB, PING → PONG).
 *
 * The one idea: everything before the measured phase is done with plain blocking calls
 * bounded by socket timeouts, so the io_uring loops only ever see connections that are
 * ready; what the server sent after the PONG is handed over, never dropped.
 * Called by the main thread before the side threads start; client_write_all also by a
 * blocking subscriber's thread on the socket it owns (blocksub.h). */
#ifndef IONATS_BENCH_CLIENT_H
#define IONATS_BENCH_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
    CLIENT_PORT_DEFAULT = 4222,
    CLIENT_ERROR_SIZE = 256,
    /* Large enough for INFO (a few hundred bytes) and a PONG, with what follows it. */
    CLIENT_HANDSHAKE_BUFFER_SIZE = 8192,
};

struct client_addr {
    struct sockaddr_storage sockaddr;
    socklen_t sockaddr_size;
};

/* What the handshake learned and what it read past the PONG. */
struct client_hello {
    uint64_t max_payload; /* from INFO; 0 when absent */
    char leftover[CLIENT_HANDSHAKE_BUFFER_SIZE];
    size_t leftover_size;
    char error[CLIENT_ERROR_SIZE];
};

/* Parses `nats://host[:port]`, `host[:port]` (host may be a name or an IPv4/IPv6
 * literal, IPv6 in brackets). Returns 0 or -EINVAL / -EHOSTUNREACH. */
int client_addr_parse(const char *url, struct client_addr *addr);

enum client_flags {
    /* Read until the PONG that answers the handshake's PING. */
    CLIENT_F_WAIT_PONG = 1u << 0,
    /* CONNECT with "headers":true: the server then sends HMSG (JetStream statuses such as
     * "NATS/1.0 408 Request Timeout") instead of stripping the headers off. */
    CLIENT_F_HEADERS = 1u << 1,
};

/* Connects, reads INFO, sends CONNECT (verbose and pedantic off, headers only with
 * CLIENT_F_HEADERS) followed by `subscribe` (protocol lines, may be empty) and PING. With
 * CLIENT_F_WAIT_PONG it then reads until the PONG (answering server PINGs, failing on -ERR)
 * and returns the bytes after it in hello->leftover; without, the PONG is left for the
 * caller's loop. Returns a connected socket (blocking, TCP_NODELAY, no timeouts) or -errno
 * with hello->error filled in. */
int client_open(const struct client_addr *addr, const char *subscribe, unsigned flags,
                struct client_hello *hello);

/* Writes all `size` bytes to blocking socket `fd`, resuming short writes and EINTR.
 * Returns 0 or -errno. */
int client_write_all(int fd, const char *data, size_t size);

#endif
