/* JetStream as a shard module: start-up (directories, the streams saved there, the API
 * subscriptions), the end of each turn (group commits handed to the store I/O), the
 * periodic tick (max_age, interval syncs), stopping (every store's I/O drained) and the
 * helpers the other js files share. See js_internal.h for the design.
 *
 * Layout on disk, as nats-server's: <store_dir>/jetstream/$G/streams/<name>/, holding
 * config.json (the stream's checked config and creation time) and msgs/ (the stream
 * store's segments). Before the shards start, main's thread lists the streams there and
 * gives each its owner (js_prepare); then every shard opens its own, in parallel, and the
 * meta shard (shard 0) also reads every config for its registry. Everything else runs on
 * each shard's own thread for that shard's streams. */
#include "engine/js.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/js_consumer.h"
#include "engine/js_batch.h"
#include "engine/js_internal.h"
#include "engine/service.h"
#include "engine/shard.h"
#include "engine/shard_module.h"
#include "store/stream_store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* How often stores look at max_age and interval syncs. */
#define JS_TICK_NS (250LL * 1000000LL)

/* The module's state on the meta shard: JetStream and its tick timer. */
struct js_module_state {
    struct js js;
    struct timer_entry tick;
};

/* JetStream's place among the server's modules (leafnodes start before it), or -1. */
static int js_module_index(const struct server *server)
{
    for (int m = 0; m < server->module_count; m++) {
        if (server->modules[m] == &js_module) {
            return m;
        }
    }
    return -1;
}

struct js *js_of_shard(struct shard *shard)
{
    int m = js_module_index(shard->server);
    if (m < 0 || shard->modules_started <= m || shard->module_state[m] == NULL) {
        return NULL;
    }
    struct js_module_state *state = shard->module_state[m];
    return &state->js;
}

static void kick_fired(struct timer_entry *entry, void *context)
{
    struct js *js = context;
    js->kick_armed = false; /* nothing else: the turn's end delivers */
}

int64_t js_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

size_t js_stored_headers_write(char *out, size_t size, const char *stream_name,
                               const char *header, size_t header_length,
                               struct proto_slice subject, uint64_t seq, int64_t timestamp_ns)
{
    char when[JS_TIME_TEXT_SIZE];
    js_time_format(when, sizeof when, timestamp_ns);
    size_t kept = header_length >= 4 ? header_length - 2 : 0; /* without the blank line */
    size_t length = 0;
    if (kept > 0) {
        memcpy(out, header, kept);
        length = kept;
    } else {
        length = (size_t)snprintf(out, size, "NATS/1.0\r\n");
    }
    length += (size_t)snprintf(out + length, size - length,
                               "Nats-Stream: %s\r\nNats-Subject: %.*s\r\nNats-Sequence: %llu\r\n"
                               "Nats-Time-Stamp: %s\r\n",
                               stream_name, (int)subject.length, subject.data,
                               (unsigned long long)seq, when);
    return length;
}

size_t js_time_format(char *text, size_t size, int64_t unix_ns)
{
    if (unix_ns == 0) {
        return (size_t)snprintf(text, size, "0001-01-01T00:00:00Z");
    }
    time_t seconds = (time_t)(unix_ns / 1000000000LL);
    long nanos = (long)(unix_ns % 1000000000LL);
    if (nanos < 0) {
        nanos += 1000000000L;
        seconds--;
    }
    struct tm tm;
    gmtime_r(&seconds, &tm);
    size_t length = strftime(text, size, "%Y-%m-%dT%H:%M:%S", &tm);
    if (nanos != 0) {
        /* Go's RFC3339Nano: the fraction without trailing zeros */
        char fraction[16];
        snprintf(fraction, sizeof fraction, ".%09ld", nanos);
        size_t end = strlen(fraction);
        while (end > 1 && fraction[end - 1] == '0') {
            end--;
        }
        fraction[end] = '\0';
        length += (size_t)snprintf(text + length, size - length, "%s", fraction);
    }
    length += (size_t)snprintf(text + length, size - length, "Z");
    return length;
}

void js_json_time(struct go_json *json, int64_t unix_ns)
{
    char text[JS_TIME_TEXT_SIZE];
    size_t length = js_time_format(text, sizeof text, unix_ns);
    go_json_string(json, text, length);
}

void js_reply(struct js *js, const char *reply, size_t reply_length, const char *body,
              size_t body_length)
{
    if (reply_length == 0) {
        return;
    }
    if (js->reply_via_meta || js->hold_sequence != 0) {
        struct js_message *message =
            js_message_make(js, JS_OP_REPLY, reply, reply_length, NULL, 0, body,
                            body_length);
        struct js_held_reply *held =
            js->hold_sequence != 0 && message != NULL ? malloc(sizeof *held) : NULL;
        if (held != NULL) {
            *held = (struct js_held_reply){.sequence = js->hold_sequence, .message = message};
            if (js->held_tail != NULL) {
                js->held_tail->next = held;
            } else {
                js->held_head = held;
            }
            js->held_tail = held;
            return;
        }
        if (message != NULL) {
            js_message_send(js, 0, message);
            return;
        }
        /* no memory for the detour: straight away, as a subscription seen late allows */
    }
    const struct route_msg msg = {
        .subject = {.data = reply, .length = (uint32_t)reply_length},
        .payload = {.data = body, .length = (uint32_t)body_length},
    };
    service_publish(js->shard, &msg);
}

void js_held_replies_release(struct js *js, bool all)
{
    while (js->held_head != NULL &&
           (all || xshard_announcements_applied(&js->shard->xshard, js->held_head->sequence))) {
        struct js_held_reply *held = js->held_head;
        js->held_head = held->next;
        if (js->held_head == NULL) {
            js->held_tail = NULL;
        }
        js_message_send(js, 0, held->message);
        free(held);
    }
}

struct js_stream *js_stream_find(struct js *js, const char *name, size_t length)
{
    size_t low = 0;
    size_t high = js->stream_count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        const char *other = js->streams[mid]->config.name;
        size_t other_length = strlen(other);
        int cmp = memcmp(name, other, length < other_length ? length : other_length);
        if (cmp == 0) {
            cmp = length < other_length ? -1 : length > other_length ? 1 : 0;
        }
        if (cmp == 0) {
            return js->streams[mid];
        }
        if (cmp < 0) {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    return NULL;
}

/* ---- limits ---- */

int64_t js_max_memory_default(void)
{
    long pages = sysconf(_SC_PHYS_PAGES);
    long page_size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page_size <= 0) {
        return 1LL << 30;
    }
    return (int64_t)pages * page_size / 4 * 3;
}

int64_t js_max_file_default(const char *store_dir)
{
    const int64_t terabyte = 1LL << 40;
    struct statvfs fs;
    /* the store directory may not exist yet: its nearest existing parent tells the disk */
    char path[4096];
    snprintf(path, sizeof path, "%s", store_dir);
    while (statvfs(path, &fs) != 0) {
        char *slash = strrchr(path, '/');
        if (slash == NULL || slash == path) {
            snprintf(path, sizeof path, "/");
            if (statvfs(path, &fs) != 0) {
                return terabyte;
            }
            break;
        }
        *slash = '\0';
    }
    int64_t available = (int64_t)fs.f_bavail * (int64_t)fs.f_frsize / 4 * 3;
    return available < terabyte ? available : terabyte;
}

/* ---- start-up ---- */

static int mkdir_parents(const char *path)
{
    char buffer[4096];
    int n = snprintf(buffer, sizeof buffer, "%s", path);
    if (n < 0 || (size_t)n >= sizeof buffer) {
        return -ENAMETOOLONG;
    }
    for (char *p = buffer + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buffer, 0750) != 0 && errno != EEXIST) {
                return -errno;
            }
            *p = '/';
        }
    }
    if (mkdir(buffer, 0750) != 0 && errno != EEXIST) {
        return -errno;
    }
    return 0;
}

static int js_streams_add(struct js *js, struct js_stream *stream)
{
    if (js->stream_count == js->stream_capacity) {
        size_t capacity = js->stream_capacity ? js->stream_capacity * 2 : 16;
        struct js_stream **grown = realloc(js->streams, capacity * sizeof *grown);
        if (grown == NULL) {
            return -ENOMEM;
        }
        js->streams = grown;
        js->stream_capacity = capacity;
    }
    size_t at = 0;
    while (at < js->stream_count && strcmp(js->streams[at]->config.name, stream->config.name) < 0) {
        at++;
    }
    memmove(js->streams + at + 1, js->streams + at, (js->stream_count - at) * sizeof *js->streams);
    js->streams[at] = stream;
    js->stream_count++;
    return 0;
}

int js_streams_insert(struct js *js, struct js_stream *stream)
{
    return js_streams_add(js, stream);
}

void js_streams_remove(struct js *js, struct js_stream *stream)
{
    for (size_t i = 0; i < js->stream_count; i++) {
        if (js->streams[i] == stream) {
            memmove(js->streams + i, js->streams + i + 1,
                    (js->stream_count - i - 1) * sizeof *js->streams);
            js->stream_count--;
            return;
        }
    }
}

int js_retire(struct js *js, struct js_stream *stream)
{
    if (js->retired_count == js->retired_capacity) {
        size_t capacity = js->retired_capacity ? js->retired_capacity * 2 : 8;
        struct js_stream **grown = realloc(js->retired, capacity * sizeof *grown);
        if (grown == NULL) {
            return -ENOMEM;
        }
        js->retired = grown;
        js->retired_capacity = capacity;
    }
    js->retired[js->retired_count++] = stream;
    return 0;
}

static void js_tick_fired(struct timer_entry *entry, void *ctx)
{
    struct js_module_state *state = ctx;
    struct js *js = &state->js;
    int64_t now = js_now_ns();
    for (size_t i = 0; i < js->stream_count; i++) {
        struct js_stream *stream = js->streams[i];
        if (stream->failure == 0) {
            (void)js_ttl_tick(stream, now);
            js_stream_account(stream);
            stream->dirty = true;
        }
        js_dedupe_expire(&stream->dedupe, now - stream->config.duplicate_window_ns);
        js_batch_tick(stream, clock_monotonic_ns());
    }
    timer_arm(&js->shard->timers, entry, clock_monotonic_ns() + JS_TICK_NS);
}

static void js_free_all(struct js *js)
{
    while (js->held_head != NULL) {
        struct js_held_reply *held = js->held_head;
        js->held_head = held->next;
        js_message_free(held->message);
        free(held);
    }
    for (size_t i = 0; i < js->api_sub_count; i++) {
        service_unsubscribe(js->shard, js->api_subs[i]);
    }
    if (js->domain_sub != NULL) {
        service_unsubscribe(js->shard, js->domain_sub);
    }
    free(js->api_subs);
    free(js->api_contexts);
    for (size_t i = 0; i < js->stream_count; i++) {
        js_stream_free(js->streams[i]);
    }
    free(js->streams);
    for (size_t i = 0; i < js->retired_count; i++) {
        js_stream_free(js->retired[i]);
    }
    free(js->awake);
    js->awake = NULL;
    js->awake_count = 0;
    free(js->dirty);
    js->dirty = NULL;
    js->dirty_count = 0;
    free(js->retired);
    js_meta_free(js);
    free(js->streams_dir);
}

static char *streams_dir_make(const struct config *config)
{
    size_t length = strlen(config->store_dir) + sizeof "/jetstream/$G/streams";
    char *dir = malloc(length);
    if (dir != NULL) {
        snprintf(dir, length, "%s/jetstream/$G/streams", config->store_dir);
    }
    return dir;
}

/* ---- before the shards start: the store directory and the streams in it ---- */

static void js_server_free(struct js_server *server)
{
    for (size_t i = 0; i < server->boot_count; i++) {
        free(server->boot[i].name);
    }
    free(server->boot);
    free(server);
}

static int boot_add(struct js_server *server, size_t *capacity, const char *name)
{
    if (server->boot_count == *capacity) {
        size_t grown_capacity = *capacity ? *capacity * 2 : 16;
        struct js_boot_stream *grown = realloc(server->boot, grown_capacity * sizeof *grown);
        if (grown == NULL) {
            return -ENOMEM;
        }
        server->boot = grown;
        *capacity = grown_capacity;
    }
    struct js_boot_stream *boot = &server->boot[server->boot_count];
    boot->name = strdup(name);
    boot->shared = calloc(1, sizeof *boot->shared);
    if (boot->name == NULL || boot->shared == NULL) {
        free(boot->name);
        free(boot->shared);
        return -ENOMEM;
    }
    boot->owner = js_owner_of(name, strlen(name), server->shard_count);
    server->boot_count++;
    return 0;
}

/* Makes the store directory and lists the streams in it, each with its owner shard. */
static int js_prepare(struct server *server, void **out)
{
    struct js_server *js_server = calloc(1, sizeof *js_server);
    char *dir = streams_dir_make(server->config);
    if (js_server == NULL || dir == NULL) {
        free(js_server);
        free(dir);
        return -ENOMEM;
    }
    js_server->shard_count = server->shard_count;
    int rc = mkdir_parents(dir);
    if (rc != 0) {
        LOG_ERROR("JetStream: cannot create the store directory %s: %s", dir, strerror(-rc));
    }
    DIR *listing = rc == 0 ? opendir(dir) : NULL;
    if (rc == 0 && listing == NULL) {
        rc = -errno;
        LOG_ERROR("JetStream: cannot read the store directory %s: %s", dir, strerror(-rc));
    }
    size_t capacity = 0;
    struct dirent *entry;
    while (rc == 0 && (entry = readdir(listing)) != NULL) {
        if (entry->d_name[0] != '.') {
            rc = boot_add(js_server, &capacity, entry->d_name);
        }
    }
    if (listing != NULL) {
        closedir(listing);
    }
    free(dir);
    if (rc != 0) {
        js_server_free(js_server);
        return rc;
    }
    *out = js_server;
    return 0;
}

static void js_release(void *shared)
{
    if (shared != NULL) {
        js_server_free(shared);
    }
}

/* ---- each shard's start ---- */

/* Opens this shard's streams. A stream that does not load is logged and left out, and the
 * meta shard told to forget it; the others and the server go on. */
static int js_load_owned(struct js *js)
{
    const struct js_server *server = js->server;
    for (size_t i = 0; i < server->boot_count; i++) {
        const struct js_boot_stream *boot = &server->boot[i];
        if (boot->owner != js->shard->index) {
            continue;
        }
        struct js_stream *stream = NULL;
        int rc = js_stream_load(js, boot->name, boot->shared, &stream);
        if (rc == 0 && js_streams_insert(js, stream) != 0) {
            stream->shared = NULL;
            js_stream_free(stream);
            rc = -ENOMEM;
        }
        if (rc == -ENOMEM) {
            return rc;
        }
        if (rc != 0) {
            LOG_ERROR("JetStream: stream %s not loaded: %s", boot->name, strerror(-rc));
            struct js_message *forget =
                js_message_make(js, JS_OP_CREATE_FAILED, boot->name, strlen(boot->name), NULL,
                                0, NULL, 0);
            if (forget == NULL) {
                return -ENOMEM;
            }
            js_message_send(js, 0, forget);
        }
    }
    return 0;
}

static int js_start(struct shard *shard, void **out)
{
    *out = NULL;
    const struct server *server = shard->server;
    struct js_module_state *state = calloc(1, sizeof *state);
    if (state == NULL) {
        return -ENOMEM;
    }
    struct js *js = &state->js;
    js->shard = shard;
    timer_entry_init(&js->kick, kick_fired, js);
    js->server = server->module_shared[js_module_index(server)];
    js->io = shard->loop->store_io;
    js->max_memory = server->js_max_memory;
    js->max_file = server->js_max_file;
    js->streams_dir = streams_dir_make(server->config);
    int64_t started = clock_monotonic_ns();
    int rc = js->streams_dir == NULL ? -ENOMEM : 0;
    if (rc == 0 && shard->index == 0) {
        rc = js_meta_load(js); /* first: the owners' failures to load are sent to it */
        if (rc == 0) {
            rc = js_api_subscribe(js);
        }
    }
    if (rc == 0) {
        rc = js_load_owned(js);
    }
    if (rc != 0) {
        LOG_ERROR("JetStream could not start on shard %d: %s", shard->index, strerror(-rc));
        js_free_all(js);
        free(state);
        return rc;
    }
    if (shard->index == 0) {
        LOG_INFO("Starting JetStream: store directory \"%s/jetstream\", max memory %lld, max "
                 "storage %lld, sync %s, %zu stream(s) found",
                 server->config->store_dir, (long long)js->max_memory,
                 (long long)js->max_file, server->config->sync, js->server->boot_count);
    }
    if (js->stream_count > 0) {
        LOG_INFO("JetStream: %zu stream(s) opened on shard %d in %.3f s", js->stream_count,
                 shard->index, (double)(clock_monotonic_ns() - started) / 1e9);
    }
    timer_entry_init(&state->tick, js_tick_fired, state);
    timer_arm(&shard->timers, &state->tick, clock_monotonic_ns() + JS_TICK_NS);
    *out = state;
    return 0;
}

static void js_retired_reap(struct js *js)
{
    size_t kept = 0;
    for (size_t i = 0; i < js->retired_count; i++) {
        struct js_stream *stream = js->retired[i];
        /* deleted: what it still holds is never written, its files are gone */
        if (stream->failure == -ENOENT ? stream_store_io_in_flight(stream->store)
                                       : js_stream_busy(stream)) {
            js->retired[kept++] = stream;
        } else {
            js_stream_free(stream);
        }
    }
    js->retired_count = kept;
}

/* Lets the consumers woken this turn deliver; those with more to do stay awake, and the
 * loop comes back for them at once. */
static void consumers_deliver(struct js *js)
{
    size_t count = js->awake_count;
    if (count == 0) {
        return;
    }
    int budget = JS_CONSUMERS_TURN_BUDGET; /* the shard's, shared by its consumers */
    for (size_t i = 0; i < count; i++) {
        struct js_consumer *consumer = js->awake[i];
        consumer->awake = false;
        if (budget <= 0 || js_consumer_deliver(consumer, &budget)) {
            js_consumer_wake(consumer); /* the rest next turn */
        }
    }
    /* the consumers woken while delivering (appended) move to the front */
    memmove(js->awake, js->awake + count, (js->awake_count - count) * sizeof *js->awake);
    js->awake_count -= count;
    if (js->awake_count > 0 && !js->kick_armed) {
        js->kick_armed = true;
        timer_arm(&js->shard->timers, &js->kick, clock_monotonic_ns());
    }
}

static void js_turn_end(struct shard *shard, void *opaque)
{
    struct js_module_state *state = opaque;
    if (state == NULL) {
        return;
    }
    struct js *js = &state->js;
    consumers_deliver(js);
    if (js->dirty_count > 0) {
        js_consumers_store_flush(js);
    }
    for (size_t i = 0; i < js->stream_count; i++) {
        if (js->streams[i]->dirty) {
            js_stream_account(js->streams[i]);
            js_stream_flush(js->streams[i]);
        }
    }
    js->pending_bytes = 0;
    if (js->held_head != NULL) {
        js_held_replies_release(js, false);
    }
    if (js->retired_count > 0) {
        js_retired_reap(js);
    }
}

static bool js_stop_step(struct shard *shard, void *opaque)
{
    struct js_module_state *state = opaque;
    if (state == NULL) {
        return true;
    }
    struct js *js = &state->js;
    js->stopping = true;
    js_held_replies_release(js, true);
    bool busy = false;
    for (size_t i = 0; i < js->stream_count; i++) {
        js_stream_flush(js->streams[i]);
        /* a failed store never writes what it still holds: only what is in the kernel is
         * waited for */
        struct js_stream *stream = js->streams[i];
        busy |= stream->failure == 0 ? js_stream_busy(stream)
                                     : stream_store_io_in_flight(stream->store);
    }
    js_retired_reap(js);
    return !busy && js->retired_count == 0 && js->consumer_io_in_flight == 0;
}

static void js_destroy(struct shard *shard, void *opaque)
{
    struct js_module_state *state = opaque;
    if (state == NULL) {
        return;
    }
    timer_cancel(&shard->timers, &state->tick);
    if (state->js.kick_armed) {
        timer_cancel(&shard->timers, &state->js.kick);
    }
    js_free_all(&state->js);
    free(state);
}

static void js_message(struct shard *shard, void *opaque, int origin, void *message)
{
    struct js_module_state *state = opaque;
    js_message_handle(&state->js, origin, message);
}

const struct shard_module js_module = {
    .name = "jetstream",
    .prepare = js_prepare,
    .release = js_release,
    .start = js_start,
    .turn_end = js_turn_end,
    .stop_step = js_stop_step,
    .destroy = js_destroy,
    .message = js_message,
};
