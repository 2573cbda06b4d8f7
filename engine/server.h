/* What every shard shares: the settings, the INFO prefix, the listening sockets and the
 * connection count.
 *
 * Everything here is written by main before the shards start and is immutable after,
 * except the atomics (see each comment for the memory order), the shards' mailboxes (see
 * shard_call.h) and what `monitor` points to (shard 0's alone). */
#ifndef IONATS_ENGINE_SERVER_H
#define IONATS_ENGINE_SERVER_H

#include "engine/config.h"
#include "engine/loop.h"
#include "engine/shard_call.h"
#include "engine/xshard.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* The nats-server release whose client-protocol semantics ionats implements; clients gate
 * features on it. */
#define SERVER_PROTOCOL_VERSION "2.10.0"

enum { SERVER_ID_SIZE = 57 };
/* Shard modules a server runs at most: leafnodes, JetStream and NATS Streaming. */
enum { SERVER_MODULES_MAX = 3 };

struct conn_kind;
struct monitor;
struct shard;
struct shard_module;

struct tls_server;
struct server_live;
struct crypt_worker;

struct server {
    const struct config *config;
    const struct conn_kind *listener_kind; /* static: what accepted connections speak */
    char server_id[SERVER_ID_SIZE];
    const char *server_name;
    struct tls_server *tls; /* owned: TLS for clients (conn_tls.h); NULL: plain text */
    bool monitor_tls;       /* the monitoring port speaks HTTPS (with `tls`) */
    /* What a reload changes (reload.h): published by main with a release store, read by
     * the shards with an acquire load (server_live()). Owned. */
    _Atomic(struct server_live *) live;
    int listen_fd;
    int port; /* the bound client port */
    /* HTTP monitoring (-m): the socket shard 0 accepts on (-1 without -m), its bound port,
     * the kind of its connections, and their state, touched only on shard 0's thread
     * between the shards' start barrier and their join (owned by main, which makes and
     * frees it around them). */
    int monitor_listen_fd;
    int monitor_port;
    const struct conn_kind *monitor_kind; /* static */
    struct monitor *monitor;
    /* Leafs connecting to this server (--leafnode_port): the socket shard 0 accepts on
     * (-1 none) and their kind (leaf.h's). */
    int leaf_listen_fd;
    int leaf_port; /* its bound port */
    const struct conn_kind *leaf_kind; /* static */
    struct tls_server *leaf_tls; /* owned: TLS for them (leafnodes { tls }); NULL: none */
    /* When the server started, on the wall clock (varz "start") and on the monotonic clock
     * the shards time connections with (to turn those into wall times). */
    int64_t start_realtime_ns;
    int64_t start_monotonic_ns;
    uint64_t hash_seed;
    /* Connections open on all shards. Relaxed: it only enforces max_connections, and a
     * transient overshoot by racing accepts on different shards is corrected on the next
     * accept; no other memory is published through it. */
    _Atomic int64_t connection_count;
    /* Clients a reload that lowered max_connections still wants closed: main sets it, each
     * shard claims one at a time (a decrement that finds it above 0) and closes one of its
     * own, so that together they close exactly that many. Relaxed: a claim publishes
     * nothing but itself. */
    _Atomic int64_t connections_to_close;
    /* The threads that run logins' bcrypt comparisons (crypt_worker.h): started by main
     * before the shards, stopped after them. NULL: comparisons run where they are asked. */
    struct crypt_worker *crypt;
    /* The ports file written (--ports_file_dir; "" none): main thread only, so that a
     * reload can move it and the exit remove it. */
    char ports_path[PATH_MAX];
    /* Client ids handed out; relaxed, ids only need to be unique. */
    _Atomic uint64_t next_client_id;
    enum loop_backend io_backend; /* every shard's */
    /* Where a publish forwarded from another shard goes (routing's route_forwarded): set by
     * main, which wires the platform to what uses it, so that neither the shard nor the
     * transport includes routing. Static. */
    void (*forwarded)(struct shard *shard, const struct xshard_forwarded *forwarded);
    /* What runs inside the shards beside their connections (leafnodes, JetStream, then NATS
     * Streaming), static; stopped in the reverse order. JetStream's limits, resolved by main
     * from the flags (nats-server's defaults). */
    const struct shard_module *modules[SERVER_MODULES_MAX]; /* started in this order */
    int module_count;
    void *module_shared[SERVER_MODULES_MAX]; /* each module's prepare made it */
    int64_t js_max_memory;
    int64_t js_max_file;
    int shard_count;
    struct shard_shared *shared; /* owned [shard_count]: wake-up flags, loads, ring fds */
    struct xshard_link *links;   /* owned [shard_count²]: link i→j at i * shard_count + j */
    int *wake_fds;               /* owned [shard_count]: each shard's eventfd */
    struct shard_mailbox *mailboxes; /* owned [shard_count]: calls to each shard */
    /* Set by a shard whose loop failed: main then exits non-zero. Relaxed: read after the
     * shard threads are joined, which orders it. */
    _Atomic int shard_failed;
    /* Lame duck mode began (SIGUSR2): set by main before it shuts the client listener
     * down, so a shard takes the failed accept that follows for what it is (relaxed). */
    _Atomic bool lame_duck;
    /* Stopping, in two counts. stop_quiet: shards that take no more input and have every
     * record they produced in the rings (none waits in an overflow queue). stop_drained:
     * shards that, after every shard was quiet, had drained their inbound rings and their
     * server-side handlers and whose module has nothing in flight (its last acks are
     * published). A shard closes its connections only once every shard is drained, so
     * what was stored is acknowledged. release on each add (what the shard published
     * before is visible), acquire on the reads. */
    _Atomic int stop_quiet;
    _Atomic int stop_drained;
};

#endif
