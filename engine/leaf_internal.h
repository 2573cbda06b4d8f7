/* What the leafnode files share: a remote (a server this one connects to as a leaf, with
 * its URLs and back-off), a link (the connection to it, a kind of connection), the
 * server's interest as the links tell it, and the module's state on shard 0.
 *
 * The one idea: every link lives on shard 0, and shard 0 already sees every change of this
 * server's interest (its own subscriptions through routing, the other shards' through
 * their announcements: interest.h's watch), so one table there counts, per (subject,
 * queue), the subscriptions this server has, and a link tells its hub only the changes
 * that matter: LS+ on the first, LS- after the last, a queue group's new weight. What the
 * hub is interested in becomes subscriptions of the link on shard 0 (route_sub with
 * `link` set), announced to the other shards like any other, so a publish anywhere reaches
 * the hub through routing unchanged. leaf.c owns remotes, dialling and the interest
 * table; leaf_link.c the link's protocol (both sides); leaf_accept.c the hub side's
 * handshake; leaf_auth.c what a leaf proves (nkey, credentials); leaf_monitor.c /leafz and
 * varz. Shard 0's thread only, but for a host name's lookup thread (struct leaf_lookup). */
#ifndef IONATS_ENGINE_LEAF_INTERNAL_H
#define IONATS_ENGINE_LEAF_INTERNAL_H

#include "base/timer.h"
#include "engine/config.h"
#include "engine/conn.h"
#include "engine/route.h"
#include "proto/parser.h"

#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct shard;
struct tls_server;
struct leaf_state;
struct leaf_link;

/* The shard every link lives on. */
enum { LEAF_SHARD = 0 };

/* nats-server's delays: after a loop was detected or the hub refused us for a reason that
 * will not go away soon (same cluster name, permissions), the next try waits this long. */
#define LEAF_RECONNECT_LONG_NS (30LL * 1000000000LL)
/* The hub's INFO must come this soon after the TCP connection starts (nats-server's
 * first_info_timeout default), and its connect INFO this soon after our CONNECT. */
#define LEAF_FIRST_INFO_NS (1LL * 1000000000LL)
#define LEAF_CONNECT_WAIT_NS (2LL * 1000000000LL)
/* nats-server's default leafnode port, when a URL names none. */
enum { LEAF_PORT_DEFAULT = 7422 };

enum { LEAF_HOST_MAX = 256, LEAF_USER_MAX = 256 };

/* One URL of a remote, parsed. */
struct leaf_url {
    char host[LEAF_HOST_MAX];
    int port;
    char user[LEAF_USER_MAX]; /* empty: none */
    char pass[LEAF_USER_MAX];
};

/* A host name being looked up for a try, by a thread of its own (leaf.c). */
struct leaf_lookup {
    pthread_t thread;
    char host[LEAF_HOST_MAX];   /* the thread's input */
    struct addrinfo *result;    /* the thread's output, with rc; read once `done` */
    int rc;
    _Atomic bool done;          /* release by the thread, acquire by shard 0 */
    bool running;               /* a thread was started and is not joined yet */
};

/* A server this one connects to as a leaf. */
struct leaf_remote {
    struct leaf_state *state;   /* borrowed: the owner */
    /* The configured URLs, then those the hub's INFO named (leafnode_urls, replaced by
     * each INFO), tried in turn. */
    struct leaf_url urls[CONFIG_LEAF_URLS_MAX * 2];
    uint32_t url_count;
    uint32_t configured_count;
    uint32_t url_next;          /* the URL the next try dials */
    uint32_t url_dialled;       /* the URL the last try dialled */
    struct leaf_url dialling;   /* a copy of it, for the connect and its log lines */
    struct leaf_lookup lookup;
    const struct config_leaf_remote *config; /* borrowed: deny lists */
    struct leaf_link *link;     /* the connection now, NULL when none */
    struct timer_entry retry_timer;
    int64_t delay_ns;           /* before the next try; 0: the configured reconnect delay */
    uint64_t attempts;          /* tries since the last link that worked */
    int64_t first_info_ns;
    struct tls_server *tls;     /* owned: the client side of TLS, for a hub that asks */
};

/* Where a link is in its handshake. */
enum leaf_phase {
    LEAF_WAIT_INFO = 0,    /* dialled: the hub speaks first */
    LEAF_WAIT_CONNECT_INFO, /* CONNECT sent; the hub answers with a connect INFO */
    LEAF_ACTIVE,           /* interest and messages flow both ways */
};

/* A (subject, queue) the hub is interested in: a subscription of the link on shard 0. */
struct leaf_sub {
    struct route_sub route;    /* first: routing's view; route.link is set */
    struct leaf_link *link;    /* borrowed: the owner */
    struct leaf_sub *next;     /* chain in the link's table */
    uint64_t weight;           /* the hub's queue weight (members behind it) */
    uint64_t hash;
    char text[];               /* subject NUL queue NUL */
};

/* A queue group a message was picked for, during one walk (route_collector). */
struct leaf_pick {
    const char *name;
    uint32_t length;
};

struct leaf_link {
    struct conn conn;          /* first: the kind's record starts with the connection */
    struct leaf_state *state;  /* borrowed; NULL once the module let go of the link */
    struct leaf_remote *remote; /* borrowed; NULL for an accepted link, or once the remote
                                 * let go of it */
    bool accepted;             /* a leaf connected to us (we are its hub) */
    struct leaf_link *accepted_prev; /* the state's list of accepted links */
    struct leaf_link *accepted_next;
    enum leaf_phase phase;
    struct parser parser;
    struct leaf_sub **buckets; /* owned: the hub's interest by (subject, queue), grown to
                                * about one per bucket */
    uint64_t seed;             /* of its hashes */
    uint32_t bucket_count;
    uint32_t sub_count;
    /* The message being delivered (route_collector): plain interest, and the queue groups
     * picked for it, in `picks` (owned, grown as needed). */
    struct route_collector collector;
    bool collect_plain;
    struct leaf_pick *picks;
    uint32_t pick_count;
    uint32_t pick_capacity;
    struct timer_entry handshake_timer; /* the hub's INFO, then its connect INFO */
    struct timer_entry ping_timer;
    uint32_t pings_outstanding;
    bool read_since_ping;
    bool hub_headers;          /* the peer takes HMSG */
    char hub_name[LEAF_HOST_MAX]; /* the peer's server name (a hub's, or an accepted leaf's) */
    char hub_id[64];
    char nonce[64];            /* the hub's INFO nonce, for a signature; empty: none */
    int64_t ping_sent_ns;      /* when the last PING went, for the RTT */
    int64_t rtt_ns;
    struct leaf_url url;       /* what was dialled */
};

struct leaf_state {
    struct shard *shard;
    struct leaf_remote *remotes; /* owned [remote_count] */
    uint32_t remote_count;
    /* This server's interest, as the links tell the hubs: count per (subject, queue). */
    struct leaf_interest **buckets; /* owned */
    uint32_t bucket_count;
    uint32_t interest_count;
    uint64_t seed;
    char lds[48];              /* "$LDS.<random>": our loop-detection subject */
    bool stopping;
    struct leaf_link *accepted_head; /* the links of leafs connected to us */
    uint32_t accepted_count;
};

/* One (subject, queue) this server has subscriptions to: how many, by where they are.
 * A link is told local + accepted (+ hub, when it is an accepted link, less its own): a
 * leaf tells its hubs its clients' interest and its own leafs', a hub tells each of its
 * leafs everything but that leaf's own, as nats-server does. */
struct leaf_interest {
    struct leaf_interest *next;
    uint64_t hash;
    uint64_t local;    /* clients' and services' subscriptions, on every shard */
    uint64_t accepted; /* accepted links with a subscription to it */
    uint64_t hub;      /* hubs (solicited links) with a subscription to it */
    uint32_t subject_length;
    uint32_t queue_length;
    char text[]; /* subject NUL queue NUL */
};

/* ---- leaf_remote.c ---- */

/* Fills a remote from its configuration (or, for --leafnodes, a comma-separated URL list):
 * its URLs and TLS client context. 0 or -EINVAL (logged); leaf_remote_free frees what it
 * made either way. */
int leaf_remote_init(struct leaf_state *state, struct leaf_remote *remote,
                     const struct config_leaf_remote *config, const char *url_list);

/* The first try, once the loop runs; no more tries; what the remote holds, freed (a lookup
 * still running is waited for: at shutdown only). */
void leaf_remote_start(struct leaf_remote *remote);
void leaf_remote_stop(struct leaf_remote *remote);
void leaf_remote_free(struct leaf_remote *remote);

/* ---- leaf.c ---- */

/* Logs a failed try as nats-server does: an error the first time and every 3600th, a
 * debug line the others. */
void leaf_dial_error(const struct leaf_remote *remote, const struct leaf_url *url,
                     const char *why);

/* The hub's INFO named these URLs ("host:port" strings, `count`) for its servers: they
 * join the configured ones (with the dialled URL's user and password), replacing those of
 * an earlier INFO. */
void leaf_remote_learn(struct leaf_remote *remote, const struct leaf_url *dialled,
                       const char *const *urls, size_t count);

/* The link's connection is gone (release): the remote tries again after its delay. */
void leaf_remote_lost(struct leaf_remote *remote);

/* True when messages on `subject` may go to the hub (not under deny_exports, nor
 * JetStream's API, KV or object store, which stay on each side without a domain): the
 * hub's interest in it is served, a message on it is sent. */
bool leaf_export_allowed(const struct leaf_remote *remote, const char *subject,
                         uint32_t length);

/* True when messages on `subject` may come from the hub (not under deny_imports, nor
 * JetStream's): this server's interest in it is told, a hub message on it is taken. */
bool leaf_import_allowed(const struct leaf_remote *remote, const char *subject,
                         uint32_t length);

/* Tells a link that became active everything this server is interested in that it may
 * see (and the loop detection subject). */
void leaf_interest_send_all(struct leaf_state *state, struct leaf_link *link);

/* A link gained or lost interest in (subject, queue): the other links are told. */
void leaf_interest_link_changed(struct leaf_state *state, struct leaf_link *link, bool add,
                                const char *subject, uint32_t subject_length, const char *queue,
                                uint32_t queue_length);

/* ---- leaf_auth.c ---- */

struct go_json;

/* Adds what the remote proves to CONNECT: "nkey" and "sig" (its seed), or "jwt" and "sig"
 * (its credentials file); nothing when it has neither. 0, or -EINVAL with why in `error`. */
int leaf_auth_connect(const struct config_leaf_remote *config, const char *nonce,
                      struct go_json *json, char *error, size_t size);

/* ---- leaf_link.c ---- */

extern const struct conn_kind leaf_link_kind;

/* What both kinds of link share: set up (0 or -ENOMEM), every received buffer, release. */
int leaf_link_init(struct leaf_link *link, const struct sockaddr *peer);
void leaf_link_receive(struct conn *conn, const char *data, size_t length);
void leaf_link_release(struct conn *conn);

/* The handshake is over: interest is exchanged, pings begin. */
void leaf_link_activate(struct leaf_link *link);

/* True when the link's peer is interested in (subject, queue). */
bool leaf_link_has(struct leaf_link *link, const char *subject, uint32_t subject_length,
                   const char *queue, uint32_t queue_length);

/* ---- leaf_accept.c ---- */

/* An accepted link's CONNECT. */
void leaf_accept_connect(struct leaf_link *link, const struct proto_op *op);

/* Writes LS+ (with the queue's weight) or LS- for one (subject, queue) to an active link. */
void leaf_link_interest(struct leaf_link *link, bool add, const char *subject,
                        uint32_t subject_length, const char *queue, uint32_t queue_length,
                        uint64_t weight);

/* The module stops: the link says nothing more and closes. */
void leaf_link_stop(struct leaf_link *link);

/* The link leaves the module's state (its list of accepted links); released or the
 * module destroyed first. */
void leaf_link_forget(struct leaf_link *link);

#endif
