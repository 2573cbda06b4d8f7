/* NATS Streaming: the shard module, its subjects and services, and the internal requests it
 * makes of JetStream over the bus. See stan_internal.h for how streaming works.
 *
 * The one idea here: every conversation with JetStream is a request with a reply inbox
 * (_STAN.rep.<cluster>.<token>.<id>) whose answer, or the timeout, resumes the work that
 * asked, so nothing blocks the shard and JetStream needs no special entry point. Runs on
 * shard 0's thread only; other shards' instances are empty. */
#include "engine/stan.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "engine/server.h"
#include "engine/service.h"
#include "engine/shard.h"
#include "engine/shard_module.h"
#include "engine/stan_internal.h"
#include "proto/stan.pb-c.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

/* ---- small helpers ---- */

char *stan_strdup(const char *text)
{
    return text != NULL ? strdup(text) : NULL;
}

char *stan_format(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *out = NULL;
    if (vasprintf(&out, format, args) < 0) {
        out = NULL;
    }
    va_end(args);
    return out;
}

void stan_log_debug(const struct stan *stan, const char *format, ...)
{
    if (!stan->debug && !log_enabled(LOG_LEVEL_DEBUG)) {
        return;
    }
    char line[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(line, sizeof line, format, args);
    va_end(args);
    log_write(stan->debug ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG, "STREAM: %s", line);
}

/* splitmix64: tokens need only be unlikely to repeat, not secret. */
static uint64_t random_next(struct stan *stan)
{
    uint64_t z = (stan->random_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void stan_token(struct stan *stan, char *out, size_t length)
{
    static const char alphabet[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (size_t i = 0; i < length; i++) {
        out[i] = alphabet[random_next(stan) % (sizeof alphabet - 1)];
    }
    out[length] = '\0';
}

bool stan_channel_name_valid(const char *name)
{
    size_t length = strlen(name);
    if (length == 0 || length > STAN_NAME_MAX || name[0] == '.' || name[length - 1] == '.') {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        char c = name[i];
        if (c == '*' || c == '>' || c == '/' || (c == '.' && name[i + 1] == '.')) {
            return false;
        }
    }
    return true;
}

int stan_array_reserve(void *items, size_t *capacity, size_t count, size_t element_size,
                       size_t initial)
{
    if (count < *capacity) {
        return 0;
    }
    size_t grown_capacity = *capacity == 0 ? initial : *capacity * 2;
    void **array = items;
    void *grown = realloc(*array, grown_capacity * element_size);
    if (grown == NULL) {
        return -ENOMEM;
    }
    *array = grown;
    *capacity = grown_capacity;
    return 0;
}

/* ---- string-keyed map ---- */

static uint32_t map_bucket(const struct stan_map *map, const void *key, size_t length)
{
    return (uint32_t)hash_bytes(key, length, 0x5374616e) & (map->capacity - 1);
}

void *stan_map_get(const struct stan_map *map, const void *key, size_t length)
{
    if (map->capacity == 0) {
        return NULL;
    }
    for (struct stan_map_node *n = map->buckets[map_bucket(map, key, length)]; n != NULL;
         n = n->next) {
        if (n->key_length == length && memcmp(n->key, key, length) == 0) {
            return n->value;
        }
    }
    return NULL;
}

static int map_grow(struct stan_map *map)
{
    uint32_t capacity = map->capacity == 0 ? 64 : map->capacity * 2;
    struct stan_map_node **buckets = calloc(capacity, sizeof *buckets);
    if (buckets == NULL) {
        return -ENOMEM;
    }
    struct stan_map old = *map;
    map->buckets = buckets;
    map->capacity = capacity;
    for (uint32_t i = 0; i < old.capacity; i++) {
        struct stan_map_node *n = old.buckets[i];
        while (n != NULL) {
            struct stan_map_node *next = n->next;
            uint32_t b = map_bucket(map, n->key, n->key_length);
            n->next = buckets[b];
            buckets[b] = n;
            n = next;
        }
    }
    free(old.buckets);
    return 0;
}

int stan_map_put(struct stan_map *map, const void *key, size_t length, void *value)
{
    if (map->count >= map->capacity && map_grow(map) != 0) {
        return -ENOMEM;
    }
    struct stan_map_node *node = malloc(sizeof *node + length);
    if (node == NULL) {
        return -ENOMEM;
    }
    node->value = value;
    node->key_length = length;
    memcpy(node->key, key, length);
    uint32_t b = map_bucket(map, key, length);
    node->next = map->buckets[b];
    map->buckets[b] = node;
    map->count++;
    return 0;
}

void stan_map_remove(struct stan_map *map, const void *key, size_t length)
{
    if (map->capacity == 0) {
        return;
    }
    struct stan_map_node **link = &map->buckets[map_bucket(map, key, length)];
    while (*link != NULL) {
        struct stan_map_node *n = *link;
        if (n->key_length == length && memcmp(n->key, key, length) == 0) {
            *link = n->next;
            free(n);
            map->count--;
            return;
        }
        link = &n->next;
    }
}

void stan_map_free(struct stan_map *map)
{
    for (uint32_t i = 0; i < map->capacity; i++) {
        struct stan_map_node *n = map->buckets[i];
        while (n != NULL) {
            struct stan_map_node *next = n->next;
            free(n);
            n = next;
        }
    }
    free(map->buckets);
    map->buckets = NULL;
    map->capacity = 0;
    map->count = 0;
}

/* ---- sending ---- */

static void send_headed(struct stan *stan, const char *subject, const void *data, size_t length,
                        size_t header_length, const char *reply)
{
    struct route_msg msg = {
        .subject = {.data = subject, .length = (uint32_t)strlen(subject)},
        .reply = {.data = reply, .length = reply != NULL ? (uint32_t)strlen(reply) : 0},
        .payload = {.data = data, .length = (uint32_t)length},
        .header_length = (uint32_t)header_length,
    };
    service_publish(stan->shard, &msg);
}

void stan_send(struct stan *stan, const char *subject, const void *data, size_t length,
               const char *reply)
{
    send_headed(stan, subject, data, length, 0, reply);
}

void stan_send_pb(struct stan *stan, const char *subject, const void *message)
{
    const ProtobufCMessage *pb = message;
    size_t length = protobuf_c_message_get_packed_size(pb);
    uint8_t small[512];
    uint8_t *buffer = length <= sizeof small ? small : malloc(length);
    if (buffer == NULL) {
        LOG_ERROR("STREAM: out of memory sending to %s", subject);
        return;
    }
    protobuf_c_message_pack(pb, buffer);
    stan_send(stan, subject, buffer, length, NULL);
    if (buffer != small) {
        free(buffer);
    }
}

/* ---- internal requests ---- */

static uint32_t request_slot(const struct stan *stan, uint64_t id)
{
    return (uint32_t)(id * 0x9e3779b97f4a7c15ULL >> 32) & (stan->request_capacity - 1);
}

static int requests_grow(struct stan *stan)
{
    uint32_t capacity = stan->request_capacity == 0 ? 256 : stan->request_capacity * 2;
    struct stan_request **old = stan->requests;
    uint32_t old_capacity = stan->request_capacity;
    struct stan_request **slots = calloc(capacity, sizeof *slots);
    if (slots == NULL) {
        return -ENOMEM;
    }
    stan->requests = slots;
    stan->request_capacity = capacity;
    for (uint32_t i = 0; i < old_capacity; i++) {
        if (old[i] != NULL) {
            uint32_t s = request_slot(stan, old[i]->id);
            while (slots[s] != NULL) {
                s = (s + 1) & (capacity - 1);
            }
            slots[s] = old[i];
        }
    }
    free(old);
    return 0;
}

static struct stan_request *request_take(struct stan *stan, uint64_t id)
{
    if (stan->request_capacity == 0) {
        return NULL;
    }
    uint32_t mask = stan->request_capacity - 1;
    uint32_t s = request_slot(stan, id);
    while (stan->requests[s] != NULL && stan->requests[s]->id != id) {
        s = (s + 1) & mask;
    }
    struct stan_request *found = stan->requests[s];
    if (found == NULL) {
        return NULL;
    }
    /* backward-shift delete */
    stan->requests[s] = NULL;
    uint32_t hole = s;
    for (uint32_t j = (s + 1) & mask; stan->requests[j] != NULL; j = (j + 1) & mask) {
        uint32_t home = request_slot(stan, stan->requests[j]->id);
        bool between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!between) {
            stan->requests[hole] = stan->requests[j];
            stan->requests[j] = NULL;
            hole = j;
        }
    }
    stan->request_count--;
    return found;
}

static void request_timed_out(struct timer_entry *entry, void *ctx)
{
    struct stan_request *request = ctx;
    struct stan *stan = request->stan;
    (void)entry;
    if (request_take(stan, request->id) == request) {
        request->fn(stan, request->context, NULL);
        free(request);
    }
}

int stan_request(struct stan *stan, const char *subject, const void *data, size_t length,
                 int64_t timeout_ns, stan_reply_fn *fn, void *context, uint64_t *id)
{
    return stan_request_headed(stan, subject, data, length, 0, timeout_ns, fn, context, id);
}

int stan_request_headed(struct stan *stan, const char *subject, const void *data, size_t length,
                        size_t header_length, int64_t timeout_ns, stan_reply_fn *fn,
                        void *context, uint64_t *id)
{
    if (stan->stopping) {
        return -ESHUTDOWN;
    }
    if (stan->request_count >= STAN_REQUESTS_MAX) {
        return -EBUSY;
    }
    if ((stan->request_count + 1) * 2 > stan->request_capacity && requests_grow(stan) != 0) {
        return -ENOMEM;
    }
    struct stan_request *request = calloc(1, sizeof *request);
    if (request == NULL) {
        return -ENOMEM;
    }
    request->id = ++stan->next_request_id;
    request->fn = fn;
    request->context = context;
    request->stan = stan;
    uint32_t s = request_slot(stan, request->id);
    while (stan->requests[s] != NULL) {
        s = (s + 1) & (stan->request_capacity - 1);
    }
    stan->requests[s] = request;
    stan->request_count++;
    timer_entry_init(&request->timer, request_timed_out, request);
    timer_arm(&stan->shard->timers, &request->timer, clock_monotonic_ns() + timeout_ns);
    char reply[128];
    snprintf(reply, sizeof reply, "%s.%llu", stan->reply_prefix,
             (unsigned long long)request->id);
    if (id != NULL) {
        *id = request->id;
    }
    send_headed(stan, subject, data, length, header_length, reply);
    return 0;
}

void stan_request_cancel(struct stan *stan, uint64_t id)
{
    struct stan_request *request = request_take(stan, id);
    if (request != NULL) {
        timer_cancel(&stan->shard->timers, &request->timer);
        free(request);
    }
}

static void on_reply(struct shard *shard, void *context, const struct route_msg *msg)
{
    struct stan *stan = context;
    (void)shard;
    size_t prefix = strlen(stan->reply_prefix);
    if (msg->subject.length <= prefix + 1) {
        return;
    }
    uint64_t id = 0;
    for (uint32_t i = (uint32_t)prefix + 1; i < msg->subject.length; i++) {
        char c = msg->subject.data[i];
        if (c < '0' || c > '9') {
            return;
        }
        id = id * 10 + (uint64_t)(c - '0');
    }
    struct stan_request *request = request_take(stan, id);
    if (request == NULL) {
        return; /* timed out already */
    }
    timer_cancel(&stan->shard->timers, &request->timer);
    request->fn(stan, request->context, msg);
    free(request);
}

/* Stopping: every request still waiting gets its answer now, as a timeout, so that what
 * waits on it is let go; no new one starts. */
static void requests_fail_all(struct stan *stan)
{
    for (uint32_t i = 0; i < stan->request_capacity; i++) {
        struct stan_request *request = stan->requests[i];
        if (request != NULL) {
            request_take(stan, request->id); /* shifts later slots down: look here again */
            timer_cancel(&stan->shard->timers, &request->timer);
            request->fn(stan, request->context, NULL);
            free(request);
            i = (uint32_t)-1;
        }
    }
}

static void requests_free(struct stan *stan)
{
    for (uint32_t i = 0; i < stan->request_capacity; i++) {
        struct stan_request *request = stan->requests[i];
        if (request != NULL) {
            timer_cancel(&stan->shard->timers, &request->timer);
            free(request);
        }
    }
    free(stan->requests);
    stan->requests = NULL;
    stan->request_capacity = 0;
    stan->request_count = 0;
}

bool stan_api_error(const struct route_msg *reply, int *err_code, char *description,
                    size_t description_size)
{
    const char *body = reply->payload.data + reply->header_length;
    size_t length = reply->payload.length - reply->header_length;
    *err_code = 0;
    if (description_size > 0) {
        description[0] = '\0';
    }
    if (reply->header_length > 0 && length == 0) {
        /* a status message (503 no responders): no stream took it */
        *err_code = 503;
        snprintf(description, description_size, "no responders");
        return true;
    }
    if (memmem(body, length, "\"error\"", 7) == NULL) {
        return false;
    }
    json_t *root = json_loadb(body, length, 0, NULL);
    json_t *error = json_object_get(root, "error");
    if (error == NULL) {
        json_decref(root);
        return false;
    }
    *err_code = (int)json_integer_value(json_object_get(error, "err_code"));
    const char *text = json_string_value(json_object_get(error, "description"));
    snprintf(description, description_size, "%s", text != NULL ? text : "error");
    json_decref(root);
    return true;
}

/* ---- the module ---- */

/* stan_monitor.c reads the state through a cast to struct stan: it stays first. */
struct stan_module_state {
    struct stan stan;
    struct timer_entry sweep; /* right after start: what the records left half done */
    struct timer_entry inactivity; /* with --max_inactivity: looks for idle channels */
};

/* How often idle channels are looked for: the limit's tenth, from 10 ms to 1 s. */
static int64_t inactivity_period(const struct stan *stan)
{
    int64_t period = stan->max_inactivity_ns / 10;
    return period < 10000000 ? 10000000 : (period > 1000000000 ? 1000000000 : period);
}

static void sweep_fired(struct timer_entry *entry, void *ctx)
{
    (void)entry;
    stan_groups_sweep(ctx);
}

static void inactivity_fired(struct timer_entry *entry, void *ctx)
{
    struct stan *stan = ctx;
    int64_t now = clock_monotonic_ns();
    stan_channels_expire(stan, now);
    timer_arm(&stan->shard->timers, entry, now + inactivity_period(stan));
}

static int subjects_make(struct stan *stan)
{
    const char *cid = stan->cluster_id;
    char token[23];
    stan_token(stan, token, 22);
    stan->discover = stan_format("_STAN.discover.%s", cid);
    stan->pings = stan_format("_STAN.discover.%s.pings", cid);
    stan->pub_prefix = stan_format("_STAN.pub.%s", cid);
    stan->sub_subject = stan_format("_STAN.sub.%s", cid);
    stan->unsub_subject = stan_format("_STAN.unsub.%s", cid);
    stan->subclose_subject = stan_format("_STAN.subclose.%s", cid);
    stan->close_subject = stan_format("_STAN.close.%s", cid);
    stan->reply_prefix = stan_format("_STAN.rep.%s.%s", cid, token);
    stan->dlv_prefix = stan_format("_STAN.dlv.%s", cid);
    return stan->discover && stan->pings && stan->pub_prefix && stan->sub_subject &&
                   stan->unsub_subject && stan->subclose_subject && stan->close_subject &&
                   stan->reply_prefix && stan->dlv_prefix
               ? 0
               : -ENOMEM;
}

static int service(struct stan *stan, const char *subject, service_handler *handler)
{
    int error = 0;
    struct service_sub *sub = service_subscribe(stan->shard, subject, NULL, handler, stan, &error);
    if (sub == NULL) {
        return error != 0 ? error : -ENOMEM;
    }
    ASSERT(stan->service_count < sizeof stan->services / sizeof stan->services[0]);
    stan->services[stan->service_count++] = sub;
    return 0;
}

static int services_subscribe(struct stan *stan)
{
    char *pub = stan_format("%s.>", stan->pub_prefix);
    char *reply = stan_format("%s.*", stan->reply_prefix);
    if (pub == NULL || reply == NULL) {
        free(pub);
        free(reply);
        return -ENOMEM;
    }
    int error = 0;
    stan->reply_sub = service_subscribe(stan->shard, reply, NULL, on_reply, stan, &error);
    int rc = stan->reply_sub == NULL ? (error != 0 ? error : -ENOMEM) : 0;
    if (rc == 0) {
        rc = service(stan, stan->discover, stan_on_connect);
    }
    if (rc == 0) {
        rc = service(stan, stan->pings, stan_on_ping);
    }
    if (rc == 0) {
        rc = service(stan, pub, stan_on_publish);
    }
    if (rc == 0) {
        rc = service(stan, stan->sub_subject, stan_on_subscribe);
    }
    if (rc == 0) {
        rc = service(stan, stan->unsub_subject, stan_on_unsubscribe);
    }
    if (rc == 0) {
        rc = service(stan, stan->subclose_subject, stan_on_subclose);
    }
    if (rc == 0) {
        rc = service(stan, stan->close_subject, stan_on_close);
    }
    free(pub);
    free(reply);
    return rc;
}

static void stan_free_all(struct stan *stan)
{
    for (size_t i = 0; i < stan->service_count; i++) {
        service_unsubscribe(stan->shard, stan->services[i]);
    }
    stan->service_count = 0;
    if (stan->reply_sub != NULL) {
        service_unsubscribe(stan->shard, stan->reply_sub);
        stan->reply_sub = NULL;
    }
    stan_channels_free(stan); /* their members name their clients: first */
    stan_clients_free(stan);
    requests_free(stan);
    free(stan->discover);
    free(stan->pings);
    free(stan->pub_prefix);
    free(stan->sub_subject);
    free(stan->unsub_subject);
    free(stan->subclose_subject);
    free(stan->close_subject);
    free(stan->reply_prefix);
    free(stan->dlv_prefix);
    free(stan->cluster_id);
    free(stan->dir);
}

static int stan_prepare(struct server *server, void **shared)
{
    (void)server;
    *shared = NULL;
    return 0;
}

static void stan_release(void *shared)
{
    (void)shared;
}

static void config_apply(struct stan *stan, const struct config *config)
{
    stan->memory = strcasecmp(config->streaming_store, "MEMORY") == 0;
    stan->debug = config->streaming_debug;
    stan->trace = config->streaming_trace;
    stan->hb_interval_ns = config->streaming_hb_interval_ns;
    stan->hb_timeout_ns = config->streaming_hb_timeout_ns;
    stan->hb_fail_count = config->streaming_hb_fail_count;
    stan->max_channels = config->streaming_max_channels;
    stan->max_subs = config->streaming_max_subs;
    stan->max_msgs = config->streaming_max_msgs;
    stan->max_bytes = config->streaming_max_bytes;
    stan->max_age_ns = config->streaming_max_age_ns;
    stan->max_inactivity_ns = config->streaming_max_inactivity_ns;
}

static int stan_start(struct shard *shard, void **out)
{
    *out = NULL;
    if (shard->index != 0) {
        return 0; /* streaming lives on shard 0 */
    }
    const struct config *config = shard->server->config;
    struct stan_module_state *state = calloc(1, sizeof *state);
    if (state == NULL) {
        return -ENOMEM;
    }
    struct stan *stan = &state->stan;
    stan->shard = shard;
    stan->start_ns = clock_realtime_ns();
    if (getrandom(&stan->random_state, sizeof stan->random_state, 0) !=
        (ssize_t)sizeof stan->random_state) {
        stan->random_state = (uint64_t)clock_realtime_ns();
    }
    config_apply(stan, config);
    stan->cluster_id = stan_strdup(config->streaming_cluster_id);
    stan->dir = config->streaming_dir != NULL
                    ? stan_strdup(config->streaming_dir)
                    : stan_format("%s/streaming", config->store_dir);
    int rc = stan->cluster_id == NULL || stan->dir == NULL ? -ENOMEM : subjects_make(stan);
    if (rc == 0 && !stan->memory) {
        rc = stan_persist_open(stan);
    }
    if (rc == 0) {
        rc = services_subscribe(stan);
    }
    if (rc == 0 && !stan->memory) {
        rc = stan_persist_load(stan);
    }
    if (rc != 0) {
        LOG_ERROR("STREAM: could not start: %s", strerror(-rc));
        stan_free_all(stan);
        free(state);
        return rc;
    }
    LOG_INFO("Starting NATS Streaming: cluster id \"%s\", store %s%s%s, %zu channel(s), %zu "
             "client(s) found",
             stan->cluster_id, stan->memory ? "MEMORY" : "FILE", stan->memory ? "" : " in ",
             stan->memory ? "" : stan->dir, stan->channel_count, stan->client_count);
    timer_entry_init(&state->sweep, sweep_fired, stan);
    timer_arm(&shard->timers, &state->sweep, clock_monotonic_ns());
    timer_entry_init(&state->inactivity, inactivity_fired, stan);
    if (stan->max_inactivity_ns > 0) {
        timer_arm(&shard->timers, &state->inactivity,
                  clock_monotonic_ns() + inactivity_period(stan));
    }
    *out = state;
    return 0;
}

static void stan_turn_end(struct shard *shard, void *opaque)
{
    (void)shard;
    (void)opaque;
}

static bool stan_stop_step(struct shard *shard, void *opaque)
{
    (void)shard;
    struct stan_module_state *state = opaque;
    if (state != NULL && !state->stan.stopping) {
        state->stan.stopping = true;
        requests_fail_all(&state->stan);
    }
    return true;
}

static void stan_destroy(struct shard *shard, void *opaque)
{
    (void)shard;
    struct stan_module_state *state = opaque;
    if (state == NULL) {
        return;
    }
    if (timer_armed(&state->sweep)) {
        timer_cancel(&shard->timers, &state->sweep);
    }
    if (timer_armed(&state->inactivity)) {
        timer_cancel(&shard->timers, &state->inactivity);
    }
    stan_free_all(&state->stan);
    free(state);
}

const struct shard_module stan_module = {
    .name = "streaming",
    .prepare = stan_prepare,
    .release = stan_release,
    .start = stan_start,
    .turn_end = stan_turn_end,
    .stop_step = stan_stop_step,
    .destroy = stan_destroy,
    .message = NULL,
};
