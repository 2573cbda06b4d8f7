/* Monitoring inside the broker, private to engine/monitor*.c: shard 0's state, what a
 * request asks, and the snapshot gathered from every shard to answer it.
 *
 * /metrics (monitor_metrics*.c) gathers like the rest: each part carries its shard's varz
 * counters, its streams' details and its own loop's and transport's figures, and shard 0
 * writes the Prometheus text from them.
 *
 * The one idea: an endpoint that needs the shards' data (varz, connz, subsz, jsz's stream
 * details) is answered in two steps. The HTTP connection (monitor_conn.c, shard 0) starts a
 * *gather*: one *part* per shard, each a call (shard_call.h) that runs on its shard, copies
 * what the request needs out of that shard's own structures into memory the part owns
 * (counters; the connections or subscriptions asked for, already sorted and cut to offset
 * + limit; its streams' details), and travels back to shard 0's mailbox. Shard 0 takes its
 * own part at once. When the last part is back the connection writes the JSON from the
 * parts (monitor_varz.c, monitor_connz.c, monitor_jsz.c) and frees the gather. Nothing
 * another shard owns is read from shard 0, and no shard waits on another: a shard answers
 * in its next turn.
 *
 * Ownership of a part: while it travels, whoever holds its call (a mailbox, or the shard
 * running it) owns the part's contents; the gather itself stays shard 0's. A part's rows are
 * allocated on the shard that collects them and freed on shard 0 (a free from another
 * thread is an ordinary operation for jemalloc and glibc; see xshard.h on blocks). If the
 * connection goes before the gather is complete, the gather is orphaned and frees itself
 * when its last part is back; a part a stopping shard never ran is discarded by main after
 * every shard stopped (shard_mailbox_discard), which frees the gather last.
 *
 * Threads: struct monitor and the gathers are shard 0's; a part is its current holder's. */
#ifndef IONATS_ENGINE_MONITOR_INTERNAL_H
#define IONATS_ENGINE_MONITOR_INTERNAL_H

#include "engine/conn.h"
#include "engine/http.h"
#include "engine/loop.h"
#include "engine/shard_call.h"
#include "proto/go_json.h"
#include "proto/sublist.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;
struct monitor_http;
struct server;
struct shard;

/* The paths served, in the sorted order Go writes a map's keys (http_req_stats). */
enum monitor_endpoint {
    MONITOR_ROOT = 0,   /* "/" */
    MONITOR_ACCOUNTZ,
    MONITOR_CONNZ,
    MONITOR_GATEWAYZ,
    MONITOR_HEALTHZ,
    MONITOR_JSZ,
    MONITOR_LEAFZ,
    MONITOR_METRICS,    /* ionats's own: nats-server has no /metrics */
    MONITOR_ROUTEZ,
    MONITOR_SUBSZ,
    MONITOR_VARZ,
    MONITOR_ENDPOINT_COUNT,
};

/* The path of each endpoint, "/" included. */
extern const char *const monitor_endpoint_paths[MONITOR_ENDPOINT_COUNT];

/* HTTP connections open at once; one more gets a 503 and is closed. Monitoring is scraped
 * by a handful of tools; each connection may hold up to MONITOR_RESPONSE_MAX of output. */
enum { MONITOR_CONNS_MAX = 32 };

/* The largest response body: a connz of ~30,000 connections with their subscriptions. A
 * larger one is refused with a 500 that says to use limit and offset. */
enum { MONITOR_RESPONSE_MAX = 16 * 1024 * 1024 };

/* The compact JSON of a response may take half of it: indentation at most doubles it for
 * what the endpoints write (a value per line). */
enum { MONITOR_COMPACT_MAX = MONITOR_RESPONSE_MAX / 2 };

/* Shard 0's monitoring state (server->monitor): only shard 0's thread touches it. */
struct monitor {
    uint32_t conn_count;       /* HTTP connections open */
    uint64_t conn_id_next;     /* for logs: HTTP connections are numbered apart from clients */
    uint64_t requests[MONITOR_ENDPOINT_COUNT]; /* varz http_req_stats */
    /* varz cpu: the process's CPU time and the wall time when last sampled, and the percent
     * computed then (over at least MONITOR_CPU_WINDOW_NS, as nats-server samples it). */
    int64_t cpu_sample_ns;
    int64_t cpu_sample_wall_ns;
    double cpu_percent;
};

/* ---- what a request asks (parsed from its query by monitor_conn.c) ---- */

/* connz?sort=, nats-server's keys: cid and start ascending, the others descending; ties by
 * cid. */
enum monitor_sort {
    MONITOR_SORT_CID = 0,
    MONITOR_SORT_START,
    MONITOR_SORT_SUBS,
    MONITOR_SORT_PENDING,
    MONITOR_SORT_MSGS_TO,
    MONITOR_SORT_MSGS_FROM,
    MONITOR_SORT_BYTES_TO,
    MONITOR_SORT_BYTES_FROM,
    MONITOR_SORT_LAST,
    MONITOR_SORT_IDLE,
    MONITOR_SORT_UPTIME,
    MONITOR_SORT_RTT,
    MONITOR_SORT_STOP,   /* closed connections only */
    MONITOR_SORT_REASON, /* closed connections only */
};

enum monitor_state {
    MONITOR_STATE_OPEN = 0,
    MONITOR_STATE_CLOSED,
    MONITOR_STATE_ALL,
};

enum monitor_subs {
    MONITOR_SUBS_NONE = 0,
    MONITOR_SUBS_LIST,   /* subs=1: the subjects */
    MONITOR_SUBS_DETAIL, /* subs=detail: subject, queue, sid, msgs, cid */
};

struct monitor_options {
    enum monitor_endpoint endpoint;
    enum monitor_sort sort;
    enum monitor_subs subs;  /* connz; subsz: LIST for subs=1 */
    enum monitor_state state; /* connz?state= */
    uint64_t cid;            /* connz?cid=, 0 for every connection */
    uint64_t offset;
    uint64_t limit;
    char *test;              /* subsz?test=: owned literal subject, NULL for none */
    size_t test_length;
    /* jsz, as nats-server's Jsz reads its options (consumers implies streams; streams
     * without acc= implies accounts; offset and limit page the accounts) */
    bool jsz_details;        /* the one account's ($G) account_details entry is written */
    bool jsz_streams;        /* ... with its stream_detail */
    bool jsz_consumers;      /* ... with each stream's consumer_detail */
    bool jsz_config;         /* config=1: stream and consumer configs in the details */
    bool jsz_raft;           /* raft=1: streams_leader and consumers_leader */
    bool jsz_leader_only;    /* leader-only=1: refused when JetStream is off */
};

/* What each endpoint takes when not given (nats-server's DefaultConnListSize, DefaultSubListSize). */
enum { MONITOR_LIMIT_DEFAULT = 1024 };

/* ---- monitor_request.c: reading a request ---- */

/* The endpoint a request's path names, or MONITOR_ENDPOINT_COUNT for none (a 404). */
enum monitor_endpoint monitor_endpoint_find(const struct http_request *request);

/* Reads `query` for `endpoint` into `options` (zeroed first; its `test` is then owned). 0,
 * or -EINVAL / -ENOMEM with nats-server's text for the 400 (or 500) in `error`. */
int monitor_options_parse(enum monitor_endpoint endpoint, struct http_slice query,
                          struct monitor_options *options, struct go_json *error);

/* The page "/" answers. */
extern const char monitor_index_html[];
extern const size_t monitor_index_html_length;

/* ---- one shard's part of a snapshot ---- */

/* A connection's numbers: what connz writes and sorts by. */
struct monitor_conn_fields {
    uint64_t cid;
    int64_t start_ns;       /* monotonic */
    int64_t last_ns;        /* monotonic: last input (the shard's timer-wheel clock) */
    int64_t closed_ns;      /* monotonic: when it closed; 0 while open */
    const char *reason;     /* static: why it closed (nats-server's texts); NULL while open */
    uint64_t pending_bytes;
    struct conn_stats stats;
    uint32_t sub_count;
};

/* A stream's /jsz stream_detail object, written on its owner. Strings point into the
 * part's block. */
struct monitor_stream_row {
    const char *name;       /* NUL-terminated */
    const char *detail;     /* the compact JSON object */
    size_t detail_length;
};

/* A subscription as connz?subs and subsz?subs write it. Strings point into the part's block. */
struct monitor_sub_row {
    const char *subject;
    const char *queue;      /* NULL when none */
    const char *sid;
    uint32_t subject_length;
    uint32_t queue_length;
    uint32_t sid_length;
    uint64_t msgs;
    uint64_t cid;
};

struct monitor_conn_row {
    struct monitor_conn_fields fields;
    char ip[INET6_ADDRSTRLEN];
    int port;
    const char *name;       /* into the part's block; "" when the client gave none */
    const char *lang;
    const char *version;
    const char *tls_version; /* static (conn_tls_describe); NULL without TLS */
    const char *tls_cipher;
    struct monitor_sub_row *subs; /* into the part's block, with subs= */
    uint32_t subs_count;
};

/* /metrics: one shard's own figures, copied on that shard (monitor_metrics_collect). */
struct monitor_shard_figures {
    struct loop_stats loop;
    uint64_t connections;         /* client connections open on the shard */
    uint64_t accepted;            /* connections it accepted (shard_stats) */
    uint64_t in_bytes;            /* socket bytes received and sent, protocol included */
    uint64_t out_bytes;
    uint64_t recv_enobufs;        /* receives that found no free buffer */
    uint64_t slow_consumers;
    /* the cross-shard transport (xshard_stats), and what its overflow queues hold now */
    uint64_t xshard_sent;
    uint64_t xshard_received;
    uint64_t ring_full;
    uint64_t overflowed;
    uint64_t overflow_bytes;
    uint64_t overflow_peak_bytes;
    uint64_t wakeups_sent;
    /* what connz writes of the open client connections, summed */
    uint64_t pending_bytes;
    uint64_t subscriptions;
    struct conn_stats conn_totals;
};

struct monitor_gather;

struct monitor_part {
    struct shard_call call;          /* first: a call is its part */
    struct monitor_gather *gather;   /* borrowed: shard 0's, outlives the part's travel */
    int shard_index;                 /* the shard it collects on */
    int error;                       /* -ENOMEM: that shard could not take its snapshot;
                                      * -E2BIG: what it collected would not fit a response */
    /* varz and subsz */
    uint64_t connections;            /* client connections open */
    uint64_t total_connections;      /* client connections accepted so far */
    uint64_t slow_consumers;
    struct conn_stats totals;        /* of the open client connections and the closed ones */
    struct sublist_stats sublist;
    /* connz: the connections matching, and the first offset + limit of them in sort order */
    uint64_t conn_total;
    struct monitor_conn_row *conns;
    uint32_t conn_count;
    /* subsz?subs=1: likewise for subscriptions */
    uint64_t sub_total;
    struct monitor_sub_row *subs;
    uint32_t sub_count;
    /* jsz?streams=1: the streams this shard owns, in name order */
    struct monitor_stream_row *streams;
    uint32_t stream_count;
    /* metrics: the shard's own figures */
    struct monitor_shard_figures figures;
    void *block;                     /* owned: the one allocation rows and text live in */
};

struct monitor_gather {
    struct monitor_options options;
    struct monitor_http *owner;      /* borrowed: the HTTP connection; NULL once it went */
    int part_count;
    int parts_out;                   /* parts not yet back on shard 0 (nor discarded) */
    struct monitor_part parts[];     /* [part_count]: one per shard, by index */
};

/* ---- monitor_gather.c (shard 0) ---- */

/* A gather for `options` (whose `test` it takes over) on behalf of `owner`, not started;
 * NULL when out of memory. */
struct monitor_gather *monitor_gather_create(struct shard *shard, struct monitor_http *owner,
                                             struct monitor_options *options);

/* Sends the parts to the other shards and takes shard 0's at once. When every part is back,
 * within this call (one shard) or in a later turn, monitor_http_gathered(owner, gather) is
 * called. */
void monitor_gather_launch(struct shard *shard, struct monitor_gather *gather);

/* The owner went: the gather frees itself once its parts are back. */
void monitor_gather_orphan(struct monitor_gather *gather);

/* After monitor_http_gathered wrote the answer. */
void monitor_gather_free(struct monitor_gather *gather);

/* ---- monitor_conn.c (shard 0): the gather is complete; the connection answers ---- */
void monitor_http_gathered(struct monitor_http *owner, struct monitor_gather *gather);

/* ---- monitor_conn.c: answers written elsewhere (NATS Streaming's pages, stan_monitor.c) ----
 *
 * A request's path is offered to streaming first (stan_monitor_serve, shard 0). It answers
 * at once with monitor_http_reply*, or calls monitor_http_wait and answers later from its
 * own handlers on shard 0, exactly once. While it waits the connection takes no further
 * request; if the connection goes first, `cancel(context)` runs instead, and the waiter
 * must not touch the connection after it. */
typedef void monitor_cancel_fn(void *context);
void monitor_http_wait(struct monitor_http *http, monitor_cancel_fn *cancel, void *context);

/* Answers the request in hand: `content_type` NULL writes none (a 204's answer). */
void monitor_http_reply(struct monitor_http *http, int status, const char *content_type,
                        const char *body, size_t length);

/* Answers 200 with `compact` JSON laid out as json.MarshalIndent's (a 500 when it did not
 * fit). */
void monitor_http_reply_json(struct monitor_http *http, const struct go_json *compact);

/* ---- collecting, on the part's shard ---- */

/* monitor_varz.c: the counters (varz, subsz). */
void monitor_counts_collect(struct shard *shard, struct monitor_part *part);

/* monitor_connz.c: connz rows, subsz rows. Set part->error on a failed allocation. */
void monitor_connz_collect(struct shard *shard, struct monitor_part *part);

/* A client's connz fields now (open). */
void monitor_fields_fill(const struct client *client, struct monitor_conn_fields *fields);

/* Bytes of text a client's row takes (its strings, and with `subs` its subscriptions',
 * whose number is added to *sub_rows). */
size_t monitor_client_row_size(const struct client *client, bool subs, size_t *sub_rows);

/* Fills `row` for `client` with `fields`, its strings copied to *text and, with `subs`,
 * its subscriptions' rows to *sub_row (both cursors moved on). */
void monitor_client_row_fill(const struct client *client, const struct monitor_conn_fields *fields,
                             bool subs, struct monitor_conn_row *row,
                             struct monitor_sub_row **sub_row, char **text);

/* ---- monitor_closed.c: each shard's ring of its last closed client connections ---- */

/* One closed connection as connz shows it: a row whose strings and subscription rows live
 * in the same allocation, after it. */
struct monitor_closed_entry {
    struct monitor_conn_row row;
    size_t text_size;   /* bytes of its strings (NULs included) */
    size_t size;        /* bytes of the whole entry */
};

/* The closed connections a shard keeps for connz?state=closed (the oldest goes first);
 * `entries` is a ring of `capacity`, `count` of them in use from `head`. */
struct monitor_closed {
    struct monitor_closed_entry **entries;
    uint32_t capacity;
    uint32_t head;
    uint32_t count;
};

/* How many closed connections each shard keeps: --max_closed_clients spread over the
 * shards (at least one each when it is not 0). */
uint32_t monitor_closed_capacity(const struct server *server, int shard_count);

/* The kept closed connection `i` (0: the oldest) of `shard`, or NULL past the last. */
const struct monitor_closed_entry *monitor_closed_at(const struct shard *shard, uint32_t i);
void monitor_subsz_collect(struct shard *shard, struct monitor_part *part);

/* monitor_jsz.c: the stream_detail objects of the streams the part's shard owns. */
void monitor_jsz_collect(struct shard *shard, struct monitor_part *part);

/* ---- writing, on shard 0: compact JSON into `json` ---- */

void monitor_varz_write(struct shard *shard, const struct monitor_gather *gather,
                        struct go_json *json);
void monitor_connz_write(struct shard *shard, const struct monitor_gather *gather,
                         struct go_json *json);
void monitor_subsz_write(struct shard *shard, const struct monitor_gather *gather,
                         struct go_json *json);
/* monitor_jsz.c: /jsz. It gathers only for stream details (monitor_jsz_gathers: streams=1
 * with the account's details written and JetStream on); otherwise it is written at once
 * from shard 0's own view (`gather` NULL). */
bool monitor_jsz_gathers(struct shard *shard, const struct monitor_options *options);
void monitor_jsz_write(struct shard *shard, const struct monitor_options *options,
                       const struct monitor_gather *gather, struct go_json *json);
/* varz's "jetstream" object, JetStream on: config, stats, limits. */
void monitor_jsz_varz_write(struct shard *shard, struct go_json *json);
/* Endpoints without shard data: routez, leafz, gatewayz, accountz. */
void monitor_static_write(struct shard *shard, enum monitor_endpoint endpoint,
                          const struct monitor_options *options,
                          struct go_json *json);

/* ---- monitor_metrics.c: /metrics, the Prometheus text format ---- */

/* What /metrics is served as: the text exposition format 0.0.4. */
#define MONITOR_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* On the part's shard: varz's counters, the streams' details, and the shard's figures. */
void monitor_metrics_collect(struct shard *shard, struct monitor_part *part);

/* On shard 0, once the gather is complete: writes the page and answers `http` with it
 * (monitor_http_reply), or with a 500 when it does not fit MONITOR_RESPONSE_MAX. */
void monitor_metrics_reply(struct shard *shard, struct monitor_http *http,
                           const struct monitor_gather *gather);

/* ---- monitor_json.c: values as nats-server's Go writes them ---- */

/* A time as encoding/json writes time.Time: RFC 3339 in UTC with nanoseconds, trailing
 * zeros dropped ("2026-12-07T10:11:39.998153781Z"), quoted. */
void monitor_json_time(struct go_json *json, int64_t realtime_ns);

/* A monotonic time of this process as a wall time (server start as the anchor). */
int64_t monitor_realtime_ns(const struct server *server, int64_t monotonic_ns);

/* nats-server's uptime strings: "5s", "3m5s", "2h3m5s", "1d2h3m5s", "1y1d2h3m5s". */
void monitor_json_uptime(struct go_json *json, int64_t duration_ns);

/* A float64 as encoding/json writes it: the shortest text that reads back the same, in
 * %f form, or %e form below 1e-6 and from 1e21. */
void monitor_json_float(struct go_json *json, double value);

/* Re-writes compact JSON as Go's json.MarshalIndent(v, "", "  ") does: a member or element
 * per line, "key": value, empty {} and [] kept on one line. `out` is a fresh writer. */
void monitor_json_indent(const char *compact, size_t length, struct go_json *out);

#endif
