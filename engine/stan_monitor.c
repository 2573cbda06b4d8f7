/* NATS Streaming's monitoring pages on the broker's -m port: nats-streaming-server's
 * /streaming, /streaming/serverz, storez, clientsz, channelsz and isFTActive, with its JSON
 * (field names and order, omitempty, offset/limit paging, the 404 texts), laid out as
 * json.MarshalIndent lays it out, as the broker's other endpoints are.
 *
 * The one idea: everything on these pages but a channel's messages is the gateway's own
 * state, read where it lives, on shard 0, the thread that answers HTTP. A channel's msgs,
 * bytes, first_seq and last_seq are JetStream's, and are asked of JetStream over the bus
 * like everything streaming wants of it (stan_internal.h): $JS.API.STREAM.LIST requests
 * filtered on the channels' stream subjects (_STAN.ch.>, or one channel's subject), a page
 * of 256 streams each, which the meta shard answers from every stream's shared counters
 * with no hop to the streams' owners. Reading those counters directly would answer at once,
 * but they, the meta registry and JetStream's module state are private to engine/js*.c;
 * a list costs one request per 256 channels where STREAM.INFO would cost one per channel
 * (serverz and storez sum them all). Meanwhile the HTTP connection waits (monitor_http_wait)
 * until the last page is in, or answers a 500 when JetStream does not answer within
 * STAN_REQUEST_TIMEOUT_NS. The page is then written from the state as it is at that moment:
 * a channel made meanwhile shows zeros, one gone is left out. Pages that need no figures
 * (clientsz, channelsz without subs=1, the index) are answered at once. `bytes` (and
 * total_bytes) are JetStream's stored bytes, its record overhead included, where
 * nats-streaming-server counts each stored MsgProto.
 *
 * Left out of nats-streaming-server's: serverz "go" (not a Go program, as varz leaves it
 * out), "role" and "node_id" (omitted standalone there too). `version` is ionats's. An
 * offline durable shows what its last member had (client, inboxes, max in flight, ack wait,
 * last sent) and no pending count (what it holds unacked is the consumer's). Shard 0's
 * thread only. */
#include "engine/stan.h"

#include "base/clock.h"
#include "engine/monitor_internal.h"
#include "engine/server.h"
#include "engine/shard.h"
#include "engine/stan_internal.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* The subjects of every channel's stream (stan_internal.h: _STAN.ch.<escaped name>). */
#define CHANNELS_FILTER "_STAN.ch.>"
#define STREAM_LIST_SUBJECT "$JS.API.STREAM.LIST"
/* nats-streaming-server's defaultMonitorListLimit. */
enum { LIST_LIMIT_DEFAULT = 1024 };

enum page { PAGE_ROOT = 0, PAGE_SERVERZ, PAGE_STOREZ, PAGE_CLIENTSZ, PAGE_CHANNELSZ,
            PAGE_FT_ACTIVE, PAGE_COUNT };

static const char *const page_paths[PAGE_COUNT] = {
    [PAGE_ROOT] = "/streaming",
    [PAGE_SERVERZ] = "/streaming/serverz",
    [PAGE_STOREZ] = "/streaming/storez",
    [PAGE_CLIENTSZ] = "/streaming/clientsz",
    [PAGE_CHANNELSZ] = "/streaming/channelsz",
    [PAGE_FT_ACTIVE] = "/streaming/isFTActive",
};

static const char root_html[] =
    "<html lang=\"en\">\n<head><title>ionats streaming monitoring</title></head>\n<body>\n"
    "<h1>NATS Streaming (ionats v" IONATS_VERSION ")</h1>\n"
    "<a href=./streaming/serverz>server</a><br/>\n"
    "<a href=./streaming/storez>store</a><br/>\n"
    "<a href=./streaming/clientsz>clients</a><br/>\n"
    "<a href=./streaming/channelsz>channels</a><br/>\n"
    "</body>\n</html>\n";

/* What the query asks, read as nats-server's handlers read it (errors ignored). */
struct page_query {
    int64_t offset; /* < 0 read as 0 */
    int64_t limit;  /* <= 0 read as LIST_LIMIT_DEFAULT */
    bool subs;      /* subs=1 */
    char *name;     /* client= or channel=, owned; NULL when not given or empty */
};

/* One stream's figures as STREAM.LIST gave them. */
struct stream_counts {
    char *stream; /* owned */
    uint64_t msgs, bytes, first_seq, last_seq;
};

/* A page being answered (waiting for JetStream's figures while request_id is not 0). */
struct stan_page {
    struct shard *shard;
    int module;                 /* streaming's module_state index (NULL there once it stopped) */
    struct monitor_http *http;  /* borrowed: until answered or cancelled */
    enum page page;
    struct page_query query;
    char *filter;               /* owned: the STREAM.LIST subject filter */
    uint64_t request_id;        /* the list request out, 0 for none */
    uint64_t listed;            /* streams listed so far: the next request's offset */
    struct stream_counts *counts; /* owned [count], sorted by stream once complete */
    size_t count;
};

/* ---- finding streaming, reading the query ---- */

/* Streaming's state on this shard, or NULL when it is not running. The module's state
 * (struct stan_module_state in stan.c) starts with its struct stan. */
static struct stan *stan_find(struct shard *shard, int *module)
{
    const struct server *server = shard->server;
    for (int i = 0; i < server->module_count; i++) {
        if (server->modules[i] == &stan_module && shard->module_state[i] != NULL) {
            *module = i;
            return (struct stan *)shard->module_state[i];
        }
    }
    return NULL;
}

/* strconv.Atoi with its error ignored: a syntax error reads 0, a value out of range the
 * nearest int64. */
static int64_t go_atoi(const char *text)
{
    const char *p = text;
    bool negative = *p == '-';
    p += *p == '-' || *p == '+';
    if (*p == '\0') {
        return 0;
    }
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t magnitude = 0;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return 0;
        }
        uint64_t digit = (uint64_t)(*p - '0');
        magnitude = magnitude > (limit - digit) / 10 ? limit : magnitude * 10 + digit;
    }
    return negative ? (magnitude == 0 ? 0 : -(int64_t)(magnitude - 1) - 1) : (int64_t)magnitude;
}

static int query_read(struct http_slice query, enum page page, struct page_query *out)
{
    char value[HTTP_HEAD_MAX + 1];
    memset(out, 0, sizeof *out);
    (void)http_query_get(query, "offset", value, sizeof value);
    out->offset = go_atoi(value);
    out->offset = out->offset < 0 ? 0 : out->offset;
    (void)http_query_get(query, "limit", value, sizeof value);
    out->limit = go_atoi(value);
    out->limit = out->limit <= 0 ? LIST_LIMIT_DEFAULT : out->limit;
    (void)http_query_get(query, "subs", value, sizeof value);
    out->subs = go_atoi(value) == 1;
    const char *key = page == PAGE_CLIENTSZ ? "client" : "channel";
    if (http_query_get(query, key, value, sizeof value) && value[0] != '\0') {
        out->name = strdup(value);
        if (out->name == NULL) {
            return -ENOMEM;
        }
    }
    return 0;
}

/* getMinMaxOffset: the slice [*from, *to) of `total` rows a page shows. */
static void page_bounds(const struct page_query *query, size_t total, size_t *from, size_t *to)
{
    uint64_t offset = (uint64_t)query->offset;
    uint64_t limit = (uint64_t)query->limit;
    *from = offset < total ? (size_t)offset : total;
    *to = *from + (limit < total - *from ? (size_t)limit : total - *from);
}

/* ---- the gateway's state as the pages show it ---- */

static const char *text_or_empty(const char *text)
{
    return text != NULL ? text : "";
}

static bool group_durable(const struct stan_group *group)
{
    return group->durable != NULL || (group->queue != NULL && strchr(group->queue, ':') != NULL);
}

/* A durable kept without members: nats-streaming-server's offline durable, or a durable
 * queue group's shadow. */
static bool group_offline(const struct stan_group *group)
{
    return group->member_count == 0 && group_durable(group) && group->ready && !group->deleting;
}

/* getMonitorChannelSubsCount: members, and each offline durable once. */
static size_t channel_subs_count(const struct stan_channel *channel)
{
    size_t count = 0;
    for (size_t i = 0; i < channel->group_count; i++) {
        const struct stan_group *group = channel->groups[i];
        count += group->member_count + (group_offline(group) ? 1 : 0);
    }
    return count;
}

static int by_name(const void *a, const void *b)
{
    const struct stan_channel *const *x = a;
    const struct stan_channel *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static int by_id(const void *a, const void *b)
{
    const struct stan_client *const *x = a;
    const struct stan_client *const *y = b;
    return strcmp((*x)->id, (*y)->id);
}

static int by_stream(const void *a, const void *b)
{
    const struct stream_counts *x = a;
    const struct stream_counts *y = b;
    return strcmp(x->stream, y->stream);
}

/* A sorted copy of `count` pointers (malloc'd; NULL when out of memory, or for none). */
static void **sorted_copy(void *const *items, size_t count, int (*compare)(const void *,
                                                                        const void *))
{
    void **sorted = count > 0 ? malloc(count * sizeof *sorted) : NULL;
    if (sorted != NULL) {
        memcpy(sorted, items, count * sizeof *sorted);
        qsort(sorted, count, sizeof *sorted, compare);
    }
    return sorted;
}

/* JetStream's figures for `channel`'s stream, or NULL when its stream was not listed. */
static const struct stream_counts *counts_find(const struct stan_page *page,
                                               const struct stan_channel *channel)
{
    if (page->count == 0) {
        return NULL;
    }
    struct stream_counts key = {.stream = channel->stream};
    return bsearch(&key, page->counts, page->count, sizeof key, by_stream);
}

/* ---- JSON ---- */

/* cluster_id, server_id and now, which every page starts with (the object left open). */
static void head_write(const struct stan *stan, struct go_json *json, bool now)
{
    go_json_raw(json, "{", 1);
    go_json_key_cstring(json, "cluster_id", stan->cluster_id);
    go_json_key_cstring(json, "server_id", stan->shard->server->server_id);
    if (now) {
        go_json_key(json, "now");
        monitor_json_time(json, clock_realtime_ns());
    }
}

/* Subscriptionz of `member`, or of the group's offline durable when `member` is NULL. */
static void subz_write(struct go_json *json, const struct stan_group *group,
                       const struct stan_member *member)
{
    const char *client_id = member != NULL ? (member->client != NULL ? member->client->id : NULL)
                                           : group->last_client;
    go_json_comma(json);
    go_json_raw(json, "{", 1);
    go_json_key_cstring(json, "client_id", client_id);
    go_json_key_cstring(json, "inbox", member != NULL ? member->inbox : group->last_inbox);
    go_json_key_cstring(json, "ack_inbox", member != NULL ? member->ack_inbox : group->last_ack_inbox);
    if (group->durable != NULL) {
        go_json_key_cstring(json, "durable_name", group->durable);
    }
    if (group->queue != NULL) {
        go_json_key_cstring(json, "queue_name", group->queue); /* "durable:queue" for a durable one */
    }
    go_json_key_bool(json, "is_durable", group_durable(group));
    go_json_key_bool(json, "is_offline", member == NULL);
    int64_t max_inflight = member != NULL ? member->max_inflight : group->last_max_inflight;
    uint32_t pending = member != NULL ? member->inflight.count : 0;
    go_json_key_int(json, "max_inflight", max_inflight);
    go_json_key_int(json, "ack_wait", member != NULL ? member->ack_wait_s : group->ack_wait_s);
    go_json_key_uint(json, "last_sent", member != NULL ? member->last_sent : group->last_sent);
    go_json_key_uint(json, "pending_count", pending);
    go_json_key_bool(json, "is_stalled", member != NULL && (int64_t)pending >= max_inflight);
    go_json_raw(json, "}", 1);
}

/* getMonitorChannelSubs: the plain subscriptions, the offline durables, then each queue
 * group's members and its shadow. */
static void channel_subs_write(struct go_json *json, const struct stan_channel *channel)
{
    for (int pass = 0; pass < 3; pass++) {
        for (size_t g = 0; g < channel->group_count; g++) {
            const struct stan_group *group = channel->groups[g];
            if ((group->queue != NULL) != (pass == 2)) {
                continue;
            }
            if (pass != 1) {
                for (size_t m = 0; m < group->member_count; m++) {
                    subz_write(json, group, group->members[m]);
                }
            }
            if (pass != 0 && group_offline(group)) {
                subz_write(json, group, NULL);
            }
        }
    }
}

static void channelz_write(struct go_json *json, const struct stan_page *page,
                           const struct stan_channel *channel)
{
    const struct stream_counts *counts = counts_find(page, channel);
    size_t subs_count = channel_subs_count(channel);
    go_json_comma(json);
    go_json_raw(json, "{", 1);
    go_json_key_cstring(json, "name", channel->name);
    go_json_key_uint(json, "msgs", counts != NULL ? counts->msgs : 0);
    go_json_key_uint(json, "bytes", counts != NULL ? counts->bytes : 0);
    go_json_key_uint(json, "first_seq", counts != NULL ? counts->first_seq : 0);
    go_json_key_uint(json, "last_seq", counts != NULL ? counts->last_seq : 0);
    go_json_key_uint(json, "subs_count", subs_count);
    if (page->query.subs && subs_count > 0) {
        go_json_key(json, "subscriptions");
        go_json_raw(json, "[", 1);
        channel_subs_write(json, channel);
        go_json_raw(json, "]", 1);
    }
    go_json_raw(json, "}", 1);
}

struct member_order {
    const struct stan_member *member;
    size_t index;
};

static int by_channel_then_index(const void *a, const void *b)
{
    const struct member_order *x = a;
    const struct member_order *y = b;
    int c = strcmp(x->member->group->channel->name, y->member->group->channel->name);
    return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

/* Clientz; with subs, its active subscriptions by channel (a map: keys sorted). -ENOMEM. */
static int clientz_write(struct go_json *json, const struct stan_client *client, bool subs)
{
    go_json_comma(json);
    go_json_raw(json, "{", 1);
    go_json_key_cstring(json, "id", client->id);
    go_json_key_cstring(json, "hb_inbox", client->hb_inbox);
    go_json_key_uint(json, "subs_count", client->member_count);
    if (subs && client->member_count > 0) {
        struct member_order *order = malloc(client->member_count * sizeof *order);
        if (order == NULL) {
            return -ENOMEM;
        }
        for (size_t i = 0; i < client->member_count; i++) {
            order[i] = (struct member_order){client->members[i], i};
        }
        qsort(order, client->member_count, sizeof *order, by_channel_then_index);
        go_json_key(json, "subscriptions");
        go_json_raw(json, "{", 1);
        for (size_t i = 0; i < client->member_count; i++) {
            const struct stan_group *group = order[i].member->group;
            const char *channel = group->channel->name;
            if (i == 0 || strcmp(channel, order[i - 1].member->group->channel->name) != 0) {
                if (i > 0) {
                    go_json_raw(json, "]", 1);
                }
                go_json_key(json, channel); /* one key per channel, in order */
                go_json_raw(json, "[", 1);
            }
            subz_write(json, group, order[i].member);
        }
        go_json_raw(json, "]}", 2);
        free(order);
    }
    go_json_raw(json, "}", 1);
    return 0;
}

/* ---- the pages ---- */

/* Sums JetStream's figures over every channel. */
static void totals(const struct stan *stan, const struct stan_page *page, uint64_t *msgs,
                   uint64_t *bytes)
{
    *msgs = 0;
    *bytes = 0;
    for (size_t i = 0; i < stan->channel_count; i++) {
        const struct stream_counts *counts = counts_find(page, stan->channels[i]);
        if (counts != NULL) {
            *msgs += counts->msgs;
            *bytes += counts->bytes;
        }
    }
}

/* The process's open descriptors (as procfs lists them) and their limit; 0 when unknown. */
static void fds_count(int64_t *open_fds, int64_t *max_fds)
{
    *open_fds = 0;
    *max_fds = 0;
    DIR *dir = opendir("/proc/self/fd");
    if (dir != NULL) {
        const struct dirent *entry;
        while ((entry = readdir(dir)) != NULL) {
            *open_fds += entry->d_name[0] != '.';
        }
        closedir(dir);
    }
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
        *max_fds = (int64_t)limit.rlim_cur;
    }
}

static void serverz_write(const struct stan *stan, const struct stan_page *page,
                          struct go_json *json)
{
    size_t subscriptions = 0;
    for (size_t i = 0; i < stan->channel_count; i++) {
        subscriptions += channel_subs_count(stan->channels[i]);
    }
    uint64_t msgs = 0;
    uint64_t bytes = 0;
    totals(stan, page, &msgs, &bytes);
    int64_t open_fds = 0;
    int64_t max_fds = 0;
    fds_count(&open_fds, &max_fds);
    int64_t now_ns = clock_realtime_ns();
    head_write(stan, json, false);
    go_json_key_cstring(json, "version", IONATS_VERSION);
    go_json_key_cstring(json, "state", "STANDALONE");
    go_json_key(json, "now");
    monitor_json_time(json, now_ns);
    go_json_key(json, "start_time");
    monitor_json_time(json, stan->start_ns);
    go_json_key(json, "uptime");
    monitor_json_uptime(json, now_ns - stan->start_ns);
    go_json_key_uint(json, "clients", stan->client_count);
    go_json_key_uint(json, "subscriptions", subscriptions);
    go_json_key_uint(json, "channels", stan->channel_count);
    go_json_key_uint(json, "total_msgs", msgs);
    go_json_key_uint(json, "total_bytes", bytes);
    go_json_key_uint(json, "in_msgs", stan->stats.in_msgs);
    go_json_key_uint(json, "in_bytes", stan->stats.in_bytes);
    go_json_key_uint(json, "out_msgs", stan->stats.out_msgs);
    go_json_key_uint(json, "out_bytes", stan->stats.out_bytes);
    if (open_fds != 0) {
        go_json_key_int(json, "open_fds", open_fds);
    }
    if (max_fds != 0) {
        go_json_key_int(json, "max_fds", max_fds);
    }
    go_json_raw(json, "}", 1);
}

static void storez_write(const struct stan *stan, const struct stan_page *page,
                         struct go_json *json)
{
    uint64_t msgs = 0;
    uint64_t bytes = 0;
    totals(stan, page, &msgs, &bytes);
    head_write(stan, json, true);
    go_json_key_cstring(json, "type", stan->memory ? "MEMORY" : "FILE");
    /* StoreLimits, its embedded ChannelLimits flattened; no per-channel limits */
    go_json_key(json, "limits");
    go_json_raw(json, "{", 1);
    go_json_key_int(json, "max_channels", stan->max_channels);
    go_json_key_int(json, "max_msgs", stan->max_msgs);
    go_json_key_int(json, "max_bytes", stan->max_bytes);
    go_json_key_int(json, "max_age", stan->max_age_ns);
    go_json_key_int(json, "max_subscriptions", stan->max_subs);
    go_json_key_int(json, "max_inactivity", 0);
    go_json_raw(json, "}", 1);
    go_json_key_uint(json, "total_msgs", msgs);
    go_json_key_uint(json, "total_bytes", bytes);
    go_json_raw(json, "}", 1);
}

/* clientsz, or channelsz without channel=: the page of clients (sorted by id) or channels
 * (by name) asked for. */
static int list_write(const struct stan *stan, const struct stan_page *page,
                      struct go_json *json)
{
    bool clients = page->page == PAGE_CLIENTSZ;
    size_t total = clients ? stan->client_count : stan->channel_count;
    void **sorted = clients ? sorted_copy((void *const *)stan->clients, total, by_id)
                            : sorted_copy((void *const *)stan->channels, total, by_name);
    if (total > 0 && sorted == NULL) {
        return -ENOMEM;
    }
    size_t from = 0;
    size_t to = 0;
    page_bounds(&page->query, total, &from, &to);
    head_write(stan, json, true);
    go_json_key_int(json, "offset", page->query.offset);
    go_json_key_int(json, "limit", page->query.limit);
    go_json_key_uint(json, "count", to - from);
    go_json_key_uint(json, "total", total);
    int rc = 0;
    if (clients) { /* never omitted */
        go_json_key(json, "clients");
        go_json_raw(json, "[", 1);
        for (size_t i = from; i < to && rc == 0; i++) {
            rc = clientz_write(json, sorted[i], page->query.subs);
        }
        go_json_raw(json, "]", 1);
    } else if (to > from) { /* names and channels are omitempty */
        go_json_key(json, page->query.subs ? "channels" : "names");
        go_json_raw(json, "[", 1);
        for (size_t i = from; i < to; i++) {
            if (page->query.subs) {
                channelz_write(json, page, sorted[i]);
            } else {
                go_json_comma(json);
                go_json_cstring(json, ((const struct stan_channel *)sorted[i])->name);
            }
        }
        go_json_raw(json, "]", 1);
    }
    go_json_raw(json, "}", 1);
    free(sorted);
    return rc;
}

/* http.Error's answer: the text and a newline. */
static void reply_error(struct monitor_http *http, int status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void reply_error(struct monitor_http *http, int status, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *text = NULL;
    int length = vasprintf(&text, format, args);
    va_end(args);
    monitor_http_reply(http, status, "text/plain; charset=utf-8", length > 0 ? text : "\n",
                       length > 0 ? (size_t)length : 1);
    free(length >= 0 ? text : NULL);
}

/* Writes and sends the page from the state as it is now. */
static void page_answer(struct stan *stan, struct stan_page *page)
{
    struct monitor_http *http = page->http;
    const char *name = page->query.name;
    switch (page->page) {
    case PAGE_ROOT:
        monitor_http_reply(http, 200, "text/html; charset=utf-8", root_html,
                           sizeof root_html - 1);
        return;
    case PAGE_FT_ACTIVE:
        monitor_http_reply(http, 204, NULL, "", 0); /* STANDALONE: not an active FT server */
        return;
    default:
        break;
    }
    struct stan_client *client = NULL;
    struct stan_channel *channel = NULL;
    if (page->page == PAGE_CLIENTSZ && name != NULL &&
        (client = stan_client_find(stan, name)) == NULL) {
        reply_error(http, 404, "Client %s not found\n", name);
        return;
    }
    if (page->page == PAGE_CHANNELSZ && name != NULL &&
        (channel = stan_channel_find(stan, name)) == NULL) {
        reply_error(http, 404, "Channel %s not found\n", name);
        return;
    }
    struct go_json json;
    go_json_init(&json, MONITOR_COMPACT_MAX);
    int rc = 0;
    if (page->page == PAGE_SERVERZ) {
        serverz_write(stan, page, &json);
    } else if (page->page == PAGE_STOREZ) {
        storez_write(stan, page, &json);
    } else if (client != NULL) {
        rc = clientz_write(&json, client, page->query.subs);
    } else if (channel != NULL) {
        channelz_write(&json, page, channel);
    } else {
        rc = list_write(stan, page, &json);
    }
    if (rc != 0) {
        reply_error(http, 500, "out of memory\n");
    } else {
        monitor_http_reply_json(http, &json);
    }
    go_json_free(&json);
}

static void page_free(struct stan_page *page)
{
    for (size_t i = 0; i < page->count; i++) {
        free(page->counts[i].stream);
    }
    free(page->counts);
    free(page->filter);
    free(page->query.name);
    free(page);
}

/* Which streams the page needs figures of (a STREAM.LIST filter), or NULL for none. */
static const char *page_filter(struct stan *stan, const struct stan_page *page)
{
    size_t from = 0;
    size_t to = 0;
    switch (page->page) {
    case PAGE_SERVERZ:
    case PAGE_STOREZ:
        return stan->channel_count > 0 ? CHANNELS_FILTER : NULL;
    case PAGE_CHANNELSZ:
        if (page->query.name != NULL) {
            const struct stan_channel *channel = stan_channel_find(stan, page->query.name);
            return channel != NULL ? channel->subject : NULL;
        }
        page_bounds(&page->query, stan->channel_count, &from, &to);
        return page->query.subs && to > from ? CHANNELS_FILTER : NULL;
    default:
        return NULL;
    }
}

/* ---- asking JetStream ---- */

static void list_answered(struct stan *stan, void *context, const struct route_msg *reply);

static int list_request(struct stan *stan, struct stan_page *page)
{
    json_t *body = json_pack("{s:I, s:s}", "offset", (json_int_t)page->listed, "subject",
                             page->filter);
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        return -ENOMEM;
    }
    int rc = stan_request(stan, STREAM_LIST_SUBJECT, text, strlen(text), STAN_REQUEST_TIMEOUT_NS,
                          list_answered, page, &page->request_id);
    free(text);
    return rc;
}

/* Why a request for the figures could not be made or read. */
static const char *request_error(int rc)
{
    return rc == -EBUSY       ? "too many requests waiting"
           : rc == -ESHUTDOWN ? "shutting down"
           : rc == -EINVAL    ? "unexpected stream list answer"
                              : "out of memory";
}

/* nats-streaming-server's 500 when a channel's state cannot be read. */
static void page_fail(struct stan_page *page, const char *why)
{
    struct go_json text;
    go_json_init(&text, (size_t)HTTP_HEAD_MAX * 8); /* %q: at most 4 bytes per byte */
    if (page->page == PAGE_CHANNELSZ) {
        /* it quotes the channel= value, "" when listing */
        const char *name = text_or_empty(page->query.name);
        go_json_literal(&text, "Error getting information about channel ");
        go_json_quote(&text, name, strlen(name));
        go_json_literal(&text, ": ");
    } else {
        go_json_literal(&text, "Error getting information about channels state: ");
    }
    go_json_literal(&text, why);
    reply_error(page->http, 500, "%s\n", text.failed ? "error" : text.data);
    go_json_free(&text);
}

/* Takes one STREAM.LIST page's figures in. -ENOMEM, -EINVAL (not an answer). */
static int counts_take(struct stan_page *page, const json_t *streams)
{
    size_t n = json_array_size(streams);
    struct stream_counts *grown = realloc(page->counts, (page->count + n + 1) * sizeof *grown);
    if (grown == NULL) {
        return -ENOMEM;
    }
    page->counts = grown; /* a page at a time: 256 streams */
    for (size_t i = 0; i < n; i++) {
        const json_t *info = json_array_get(streams, i);
        const json_t *state = json_object_get(info, "state");
        const char *name = json_string_value(json_object_get(json_object_get(info, "config"),
                                                             "name"));
        if (name == NULL) {
            return -EINVAL;
        }
        struct stream_counts *counts = &page->counts[page->count];
        counts->stream = strdup(name);
        if (counts->stream == NULL) {
            return -ENOMEM;
        }
        counts->msgs = (uint64_t)json_integer_value(json_object_get(state, "messages"));
        counts->bytes = (uint64_t)json_integer_value(json_object_get(state, "bytes"));
        counts->first_seq = (uint64_t)json_integer_value(json_object_get(state, "first_seq"));
        counts->last_seq = (uint64_t)json_integer_value(json_object_get(state, "last_seq"));
        page->count++;
    }
    page->listed += n;
    return 0;
}

static void list_answered(struct stan *stan, void *context, const struct route_msg *reply)
{
    struct stan_page *page = context;
    page->request_id = 0;
    int err_code = 0;
    char description[256];
    if (reply == NULL) {
        page_fail(page, "JetStream did not answer");
        page_free(page);
        return;
    }
    if (stan_api_error(reply, &err_code, description, sizeof description)) {
        page_fail(page, description);
        page_free(page);
        return;
    }
    json_t *root = json_loadb(reply->payload.data + reply->header_length,
                              reply->payload.length - reply->header_length, 0, NULL);
    const json_t *streams = json_object_get(root, "streams");
    uint64_t total = (uint64_t)json_integer_value(json_object_get(root, "total"));
    int rc = json_is_array(streams) ? counts_take(page, streams) : -EINVAL;
    bool more = rc == 0 && json_array_size(streams) > 0 && page->listed < total;
    json_decref(root);
    if (rc == 0 && more) {
        rc = list_request(stan, page);
        if (rc == 0) {
            return; /* the next page */
        }
    }
    if (rc != 0) {
        page_fail(page, request_error(rc));
    } else {
        qsort(page->counts, page->count, sizeof *page->counts, by_stream);
        page_answer(stan, page);
    }
    page_free(page);
}

/* The HTTP connection went while the page waited. */
static void page_cancel(void *context)
{
    struct stan_page *page = context;
    struct stan *stan = page->shard->module_state[page->module];
    if (page->request_id != 0 && stan != NULL) {
        stan_request_cancel(stan, page->request_id); /* streaming is still there */
    }
    page_free(page);
}

bool stan_monitor_serve(struct shard *shard, struct monitor_http *http,
                        const struct http_request *request)
{
    if (request->path_cut || strncmp(request->path, "/streaming", 10) != 0) {
        return false;
    }
    int module = 0;
    struct stan *stan = stan_find(shard, &module);
    int which = 0;
    while (which < PAGE_COUNT && strcmp(request->path, page_paths[which]) != 0) {
        which++;
    }
    if (stan == NULL || which == PAGE_COUNT) {
        return false;
    }
    struct stan_page *page = calloc(1, sizeof *page);
    if (page == NULL || query_read(request->query, (enum page)which, &page->query) != 0) {
        if (page != NULL) {
            page_free(page);
        }
        reply_error(http, 500, "out of memory\n");
        return true;
    }
    page->shard = shard;
    page->module = module;
    page->http = http;
    page->page = (enum page)which;
    const char *filter = page_filter(stan, page);
    if (filter == NULL) {
        page_answer(stan, page);
        page_free(page);
        return true;
    }
    page->filter = strdup(filter);
    monitor_http_wait(http, page_cancel, page);
    int rc = page->filter != NULL ? list_request(stan, page) : -ENOMEM;
    if (rc != 0) {
        page_fail(page, request_error(rc));
        page_free(page);
    }
    return true;
}
