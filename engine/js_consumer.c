/* A consumer's life: creating one on its stream (its starting point from the deliver
 * policy, its subscriptions, its files), loading the saved ones at start, its timer and
 * wake-ups, updates, deletion, and the state file a clean stop leaves.
 *
 * The one idea: a consumer is created, loaded and freed only by its stream's owner, and
 * everything it holds hangs off the consumer (its subscriptions, timer, rings), so deleting
 * a stream or a consumer is freeing one tree. On disk a durable consumer of a file stream
 * is a directory <stream>/obs/<name> with config.json (the create request that made it,
 * written durably before the API answers) and `state` (delivered and acked positions and
 * the pending messages, written at a clean stop and read at the next start: a crash
 * redelivers what was acked since, never loses a message). Owner shard's thread only. */
#include "base/assert.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "engine/js_consumer.h"
#include "engine/service.h"
#include "engine/shard.h"
#include "proto/sublist.h"
#include "store/stream_store.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

static const char CONSUMERS_DIR[] = "obs";
static const char CONFIG_FILE[] = "config.json";

/* ---- the stream's sorted array ---- */

static size_t consumer_index(const struct js_stream *stream, const char *name, size_t length,
                             bool *found)
{
    size_t low = 0;
    size_t high = stream->consumer_count;
    *found = false;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        const char *other = stream->consumers[mid]->name;
        size_t other_length = strlen(other);
        int cmp = memcmp(other, name, other_length < length ? other_length : length);
        if (cmp == 0) {
            cmp = other_length < length ? -1 : other_length > length ? 1 : 0;
        }
        if (cmp == 0) {
            *found = true;
            return mid;
        }
        if (cmp < 0) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    return low;
}

struct js_consumer *js_consumer_find(struct js_stream *stream, const char *name, size_t length)
{
    bool found = false;
    size_t index = consumer_index(stream, name, length, &found);
    return found ? stream->consumers[index] : NULL;
}

static int consumers_insert(struct js_stream *stream, struct js_consumer *consumer)
{
    bool found = false;
    size_t index = consumer_index(stream, consumer->name, strlen(consumer->name), &found);
    ASSERT(!found);
    if (stream->consumer_count == stream->consumer_capacity) {
        size_t capacity = stream->consumer_capacity != 0 ? stream->consumer_capacity * 2 : 4;
        struct js_consumer **grown = realloc(stream->consumers, capacity * sizeof *grown);
        if (grown == NULL) {
            return -ENOMEM;
        }
        stream->consumers = grown;
        stream->consumer_capacity = capacity;
    }
    memmove(&stream->consumers[index + 1], &stream->consumers[index],
            (stream->consumer_count - index) * sizeof *stream->consumers);
    stream->consumers[index] = consumer;
    stream->consumer_count++;
    stream->direct_consumer_count += consumer->config.direct ? 1 : 0;
    if (stream->shared != NULL) {
        atomic_store_explicit(&stream->shared->consumers,
                              stream->consumer_count - stream->direct_consumer_count,
                              memory_order_relaxed);
    }
    return 0;
}

static void consumers_remove(struct js_stream *stream, struct js_consumer *consumer)
{
    bool found = false;
    size_t index = consumer_index(stream, consumer->name, strlen(consumer->name), &found);
    if (!found || stream->consumers[index] != consumer) {
        return;
    }
    memmove(&stream->consumers[index], &stream->consumers[index + 1],
            (stream->consumer_count - index - 1) * sizeof *stream->consumers);
    stream->consumer_count--;
    stream->direct_consumer_count -= consumer->config.direct ? 1 : 0;
    if (stream->shared != NULL) {
        atomic_store_explicit(&stream->shared->consumers,
                              stream->consumer_count - stream->direct_consumer_count,
                              memory_order_relaxed);
    }
}

/* ---- filters ---- */

/* From this many filters on, they are matched through an index. */
enum { FILTER_INDEX_MIN = 8 };

static void filters_free(struct js_consumer *consumer)
{
    if (consumer->filter_index != NULL) {
        sublist_destroy(consumer->filter_index);
    }
    free(consumer->filter_subs);
    consumer->filter_index = NULL;
    consumer->filter_subs = NULL;
}

int js_consumer_filters_index(struct js_consumer *consumer)
{
    filters_free(consumer);
    size_t count = consumer->config.filter_subject_count;
    if (count < FILTER_INDEX_MIN) {
        return 0;
    }
    consumer->filter_index = sublist_create(0x9e3779b97f4a7c15ULL ^ (uintptr_t)consumer);
    consumer->filter_subs = calloc(count, sizeof *consumer->filter_subs);
    int rc = consumer->filter_index != NULL && consumer->filter_subs != NULL ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const char *filter = consumer->config.filter_subjects[i];
        consumer->filter_subs[i] = (struct sub){.subject = filter,
                                                .subject_length = (uint32_t)strlen(filter)};
        rc = sublist_insert(consumer->filter_index, &consumer->filter_subs[i]);
    }
    if (rc != 0) {
        filters_free(consumer);
    }
    return rc;
}

bool js_consumer_matches(struct js_consumer *consumer, const char *subject, size_t length)
{
    if (consumer->filter_index == NULL) {
        return js_consumer_config_matches(&consumer->config, subject, length);
    }
    const struct sublist_result *result =
        sublist_match(consumer->filter_index, subject, length);
    return result->plain_count > 0;
}

int64_t js_consumer_paused_until(const struct js_consumer *consumer)
{
    if (!consumer->config.has_pause_until) {
        return 0;
    }
    if (consumer->config.pause_until.year >= 2262) {
        return INT64_MAX / 2; /* past what nanoseconds hold: as good as for ever */
    }
    int64_t until = js_stream_time_unix_ns(&consumer->config.pause_until);
    return until > js_now_ns() ? until : 0;
}

/* ---- a purge ---- */

static void purged(struct js_consumer *consumer, uint64_t first_seq)
{
    uint64_t *gone = consumer->pending_count > 0
                         ? malloc(consumer->pending_count * sizeof *gone)
                         : NULL;
    size_t count = 0;
    for (uint32_t i = 0; gone != NULL && i < consumer->pending_length; i++) {
        const struct js_consumer_pending *entry =
            &consumer->pending[(consumer->pending_head + i) & (consumer->pending_capacity - 1)];
        struct stream_store_msg msg;
        if (!entry->acked && stream_store_get(consumer->stream->store, entry->sseq, &msg) != 0) {
            gone[count++] = entry->sseq;
        }
    }
    for (size_t i = 0; i < count; i++) { /* pending_done may compact the ring: by sequence */
        struct js_consumer_pending *entry = js_consumer_pending_find(consumer, gone[i]);
        if (entry != NULL) {
            js_consumer_pending_done(consumer, entry, false);
        }
    }
    free(gone);
    if (consumer->next_sseq < first_seq) {
        consumer->next_sseq = first_seq;
        if (consumer->delivered_sseq < first_seq - 1) {
            consumer->delivered_sseq = first_seq - 1;
        }
    }
    if (consumer->ack_floor_sseq < first_seq - 1 && consumer->pending_count == 0) {
        consumer->ack_floor_sseq = first_seq - 1;
        consumer->ack_floor_dseq = consumer->dseq;
    }
    consumer->num_pending_valid = false;
    js_consumer_mark_dirty(consumer);
    js_consumer_wake(consumer);
}

void js_consumers_purged(struct js_stream *stream)
{
    struct stream_store_counts counts;
    stream_store_counts_get(stream->store, &counts);
    for (size_t i = 0; i < stream->consumer_count; i++) {
        purged(stream->consumers[i], counts.first_seq);
    }
}

/* ---- wake-ups and the timer ---- */

void js_consumer_wake(struct js_consumer *consumer)
{
    if (consumer->awake || consumer->deleted) {
        return;
    }
    struct js *js = consumer->stream->js;
    if (js->awake_count == js->awake_capacity) {
        size_t capacity = js->awake_capacity != 0 ? js->awake_capacity * 2 : 16;
        struct js_consumer **grown = realloc(js->awake, capacity * sizeof *grown);
        if (grown == NULL) {
            /* no memory: its timer looks again soon */
            js_consumer_timer_at(consumer, clock_monotonic_ns() + JS_CONSUMER_INTEREST_POLL_NS);
            return;
        }
        js->awake = grown;
        js->awake_capacity = capacity;
    }
    js->awake[js->awake_count++] = consumer;
    consumer->awake = true;
}

static void awake_remove(struct js_consumer *consumer)
{
    struct js *js = consumer->stream->js;
    for (size_t i = 0; i < js->awake_count; i++) {
        if (js->awake[i] == consumer) {
            js->awake[i] = js->awake[--js->awake_count];
            break;
        }
    }
    consumer->awake = false;
}

static void timer_fired(struct timer_entry *entry, void *context)
{
    struct js_consumer *consumer = context;
    consumer->timer_at = 0;
    (void)js_consumer_timer_fired(consumer, clock_monotonic_ns());
}

void js_consumer_timer_at(struct js_consumer *consumer, int64_t at)
{
    if (consumer->deleted || at <= 0) {
        return;
    }
    if (consumer->timer_at != 0 && consumer->timer_at <= at + JS_CONSUMER_TIMER_SLACK_NS) {
        return; /* fires soon enough already */
    }
    struct timer_wheel *timers = &consumer->stream->js->shard->timers;
    if (consumer->timer_at != 0) {
        timer_cancel(timers, &consumer->timer);
    }
    consumer->timer_at = at;
    timer_arm(timers, &consumer->timer, at);
}

/* The first inactivity check and heartbeat of a new or loaded consumer, and its pace. */
static void timers_start(struct js_consumer *consumer)
{
    int64_t now = clock_monotonic_ns();
    js_consumer_pace_start(consumer);
    if (consumer->config.inactive_threshold_ns > 0) {
        js_consumer_timer_at(consumer, now + consumer->config.inactive_threshold_ns);
    }
    if (consumer->config.idle_heartbeat_ns > 0 && consumer->config.deliver_subject != NULL) {
        consumer->heartbeat_at = now + consumer->config.idle_heartbeat_ns;
        js_consumer_timer_at(consumer, consumer->heartbeat_at);
    }
    if (consumer->pending_count > 0) {
        /* loaded: what was pending is redelivered once its ack wait passes again */
        js_consumer_timer_at(consumer, consumer->pending[consumer->pending_head].deadline_ns);
    }
}

/* ---- where a new consumer starts ---- */

/* The last message matching the filters at or before `seq`, 0 when none (a backwards walk,
 * the whole stream at worst). */
static uint64_t last_matching(struct js_consumer *consumer, uint64_t seq, uint64_t first)
{
    struct stream_store *store = consumer->stream->store;
    for (; seq >= first && seq > 0; seq--) {
        struct stream_store_msg msg;
        if (stream_store_get(store, seq, &msg) == 0 &&
            js_consumer_matches(consumer, (const char *)msg.subject,
                                       msg.subject_length)) {
            return seq;
        }
    }
    return 0;
}

struct lps_collect {
    struct js_consumer *consumer;
    uint64_t *seqs;
    size_t count;
    size_t capacity;
    bool failed;
};

static int lps_each(void *context, const uint8_t *subject, uint32_t length, uint64_t count)
{
    struct lps_collect *collect = context;
    struct js_consumer *consumer = collect->consumer;
    uint64_t seq = 0;
    if (!js_consumer_matches(consumer, (const char *)subject, length) ||
        stream_store_subject_last(consumer->stream->store, subject, length, &seq) != 0) {
        return 0;
    }
    if (collect->count == collect->capacity) {
        size_t capacity = collect->capacity != 0 ? collect->capacity * 2 : 64;
        uint64_t *grown = realloc(collect->seqs, capacity * sizeof *grown);
        if (grown == NULL) {
            collect->failed = true;
            return 1;
        }
        collect->seqs = grown;
        collect->capacity = capacity;
    }
    collect->seqs[collect->count++] = seq;
    return 0;
}

static int seq_compare(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* last_per_subject: the last message of every matching subject, in stream order. */
static uint64_t lps_start(struct js_consumer *consumer, const struct stream_store_counts *counts)
{
    struct lps_collect collect = {.consumer = consumer};
    (void)stream_store_subjects_each(consumer->stream->store, lps_each, &collect);
    if (collect.failed) {
        LOG_WARN("JetStream: consumer %s: no memory for the last message of each subject; "
                 "it starts at the first message", consumer->name);
        free(collect.seqs);
        return counts->first_seq;
    }
    if (collect.count > 1) {
        qsort(collect.seqs, collect.count, sizeof *collect.seqs, seq_compare);
    }
    consumer->lps = collect.seqs;
    consumer->lps_count = collect.count;
    consumer->lps_index = 0;
    consumer->lps_resume = counts->last_seq + 1;
    return collect.count > 0 ? collect.seqs[0] : counts->last_seq + 1;
}

static void start_position(struct js_consumer *consumer)
{
    const struct js_consumer_config *config = &consumer->config;
    struct stream_store_counts counts;
    stream_store_counts_get(consumer->stream->store, &counts);
    uint64_t start = counts.first_seq;
    switch (config->deliver_policy) {
    case JS_CONSUMER_DELIVER_ALL:
        break;
    case JS_CONSUMER_DELIVER_LAST_PER_SUBJECT:
        start = lps_start(consumer, &counts);
        break;
    case JS_CONSUMER_DELIVER_LAST: {
        uint64_t last = counts.msg_count > 0
                            ? last_matching(consumer, counts.last_seq, counts.first_seq)
                            : 0;
        start = last != 0 ? last : counts.last_seq + 1;
        break;
    }
    case JS_CONSUMER_DELIVER_NEW:
        start = counts.last_seq + 1;
        break;
    case JS_CONSUMER_DELIVER_BY_START_SEQUENCE:
        start = config->opt_start_seq;
        break;
    case JS_CONSUMER_DELIVER_BY_START_TIME: {
        uint64_t seq = 0;
        int64_t at = js_stream_time_unix_ns(&config->opt_start_time);
        start = stream_store_seq_for_time(consumer->stream->store, at, &seq) == 0
                    ? seq
                    : counts.last_seq + 1;
        break;
    }
    }
    if (start == 0) {
        start = 1;
    }
    consumer->next_sseq = start;
    consumer->delivered_sseq = start - 1;
    consumer->ack_floor_sseq = start - 1;
}

/* ---- creation ---- */

static struct js_consumer *consumer_new(struct js_stream *stream, const char *name)
{
    struct js_consumer *consumer = calloc(1, sizeof *consumer);
    if (consumer == NULL) {
        return NULL;
    }
    consumer->stream = stream;
    consumer->name = strdup(name);
    js_consumer_config_init(&consumer->config);
    timer_entry_init(&consumer->timer, timer_fired, consumer);
    consumer->state_fds[0] = consumer->state_fds[1] = -1;
    consumer->last_active_ns = clock_monotonic_ns();
    if (consumer->name == NULL) {
        free(consumer);
        return NULL;
    }
    return consumer;
}

static int subscribe(struct js_consumer *consumer)
{
    struct shard *shard = consumer->stream->js->shard;
    const char *stream_name = consumer->stream->config.name;
    size_t size = 64 + strlen(stream_name) + strlen(consumer->name);
    char *subject = malloc(size);
    if (subject == NULL) {
        return -ENOMEM;
    }
    int error = 0;
    snprintf(subject, size, "$JS.ACK.%s.%s.>", stream_name, consumer->name);
    consumer->ack_sub =
        service_subscribe(shard, subject, NULL, js_consumer_ack_handle, consumer, &error);
    if (consumer->ack_sub != NULL && consumer->config.flow_control &&
        consumer->config.deliver_subject != NULL) {
        snprintf(subject, size, "$JS.FC.%s.%s.*", stream_name, consumer->name);
        consumer->flow_sub =
            service_subscribe(shard, subject, NULL, js_consumer_flow_handle, consumer, &error);
        if (consumer->flow_sub == NULL) {
            free(subject);
            return error != 0 ? error : -ENOMEM;
        }
    }
    if (consumer->ack_sub != NULL) { /* push consumers too: they answer 409 */
        snprintf(subject, size, "$JS.API.CONSUMER.MSG.NEXT.%s.%s", stream_name,
                 consumer->name);
        consumer->next_sub =
            service_subscribe(shard, subject, NULL, js_consumer_next_handle, consumer, &error);
    }
    free(subject);
    return consumer->ack_sub == NULL || consumer->next_sub == NULL
               ? (error != 0 ? error : -ENOMEM)
               : 0;
}

/* Saves the create request that makes this consumer again, and its creation time. */
static int config_save(struct js_consumer *consumer)
{
    struct go_json json;
    go_json_init(&json, 4 * JS_API_REQUEST_MAX);
    go_json_literal(&json, "{\"stream_name\":");
    go_json_cstring(&json, consumer->stream->config.name);
    go_json_literal(&json, ",\"config\":");
    js_consumer_config_encode(&consumer->config, NULL, 0, &json);
    go_json_literal(&json, "}\n");
    int rc = json.failed ? -ENOMEM
                         : file_write_durable(consumer->dir, CONFIG_FILE, json.data,
                                                 json.length);
    go_json_free(&json);
    if (rc == 0) {
        char created[32];
        int length = snprintf(created, sizeof created, "%lld\n", (long long)consumer->created_ns);
        rc = file_write_durable(consumer->dir, "created", created, (size_t)length);
    }
    return rc;
}

static int dir_make(struct js_consumer *consumer)
{
    char *parent = file_path_join(consumer->stream->dir, CONSUMERS_DIR);
    consumer->dir = parent != NULL ? file_path_join(parent, consumer->name) : NULL;
    int rc = consumer->dir == NULL ? -ENOMEM : 0;
    if (rc == 0 && mkdir(parent, 0750) != 0 && errno != EEXIST) {
        rc = -errno;
    }
    if (rc == 0 && mkdir(consumer->dir, 0750) != 0 && errno != EEXIST) {
        rc = -errno;
    }
    free(parent);
    return rc;
}

int js_consumer_create(struct js_stream *stream, struct js_consumer_config *config,
                       const char *name, struct js_consumer **out, struct js_error *error)
{
    struct js_consumer *consumer = consumer_new(stream, name);
    if (consumer == NULL) {
        js_errors_setf(error, JS_ERR_CONSUMER_CREATE, "%s", strerror(ENOMEM));
        return -ENOMEM;
    }
    consumer->config = *config; /* moved */
    js_consumer_config_init(config);
    consumer->created_ns = js_now_ns();
    (void)js_consumer_filters_index(consumer);
    start_position(consumer);
    int rc = 0;
    if (stream->dir != NULL && consumer->config.durable_name != NULL) {
        rc = dir_make(consumer);
        if (rc == 0) {
            rc = config_save(consumer);
        }
        if (rc == 0) {
            rc = js_consumer_store_open(consumer, true);
        }
        if (rc != 0) {
            js_errors_setf(error, JS_ERR_CONSUMER_STORE_FAILED, "%s", strerror(-rc));
        }
    }
    if (rc == 0) {
        rc = subscribe(consumer);
        if (rc != 0) {
            js_errors_setf(error, JS_ERR_CONSUMER_CREATE, "%s", strerror(-rc));
        }
    }
    if (rc == 0) {
        rc = consumers_insert(stream, consumer);
        if (rc != 0) {
            js_errors_setf(error, JS_ERR_CONSUMER_CREATE, "%s", strerror(-rc));
        }
    }
    if (rc != 0) {
        if (consumer->dir != NULL) {
            file_remove_tree(consumer->dir);
        }
        js_consumer_free(consumer, false);
        return rc;
    }
    js_consumer_mark_dirty(consumer); /* its starting point is state too: written now */
    js_consumer_wake(consumer);
    timers_start(consumer);
    *out = consumer;
    return 0;
}

int js_consumer_update(struct js_consumer *consumer, struct js_consumer_config *config,
                       struct js_error *error)
{
    struct js_consumer_config old = consumer->config;
    consumer->config = *config;
    js_consumer_config_init(config);
    int rc = consumer->dir != NULL ? config_save(consumer) : 0;
    if (rc != 0) {
        *config = consumer->config;
        consumer->config = old;
        js_errors_setf(error, JS_ERR_CONSUMER_STORE_FAILED, "%s", strerror(-rc));
        return rc;
    }
    (void)js_consumer_filters_index(consumer); /* before the old filters' strings go */
    if (old.rate_limit_bps != consumer->config.rate_limit_bps) {
        js_consumer_pace_rate_reset(consumer); /* as nats-server's new limiter */
    }
    js_consumer_config_free(&old);
    if (consumer->config.priority_policy != JS_CONSUMER_PRIORITY_PINNED_CLIENT) {
        js_consumer_pin_clear(consumer); /* no pin without the policy */
    }
    consumer->num_pending_valid = false; /* the filters may have changed */
    js_consumer_wake(consumer);
    return 0;
}

/* ---- loading at start ---- */

static int64_t created_read(const char *dir)
{
    char *path = file_path_join(dir, "created");
    FILE *file = path != NULL ? fopen(path, "r") : NULL;
    free(path);
    long long created = 0;
    if (file != NULL) {
        if (fscanf(file, "%lld", &created) != 1) {
            created = 0;
        }
        fclose(file);
    }
    return created;
}

static int consumer_load(struct js_stream *stream, const char *dir, const char *name)
{
    char *path = file_path_join(dir, CONFIG_FILE);
    json_error_t json_error;
    json_t *root = path != NULL ? json_load_file(path, 0, &json_error) : NULL;
    free(path);
    char *text = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (text == NULL) {
        return -EBADMSG;
    }
    struct js_consumer_request request;
    struct js_error error;
    int rc = js_consumer_request_parse(text, strlen(text), &request, &error);
    free(text);
    if (rc != 0) {
        return -EBADMSG;
    }
    const struct js_consumer_config_check_options options = {.stream = &stream->config};
    rc = js_consumer_config_check(&request.config, &options, &error);
    struct js_consumer *consumer = rc == 0 ? consumer_new(stream, name) : NULL;
    if (consumer == NULL) {
        js_consumer_request_free(&request);
        return rc != 0 ? -EBADMSG : -ENOMEM;
    }
    consumer->config = request.config;
    js_consumer_config_init(&request.config);
    js_consumer_request_free(&request);
    consumer->dir = strdup(dir);
    consumer->created_ns = created_read(dir);
    (void)js_consumer_filters_index(consumer);
    start_position(consumer);
    rc = consumer->dir == NULL ? -ENOMEM : js_consumer_store_open(consumer, false);
    if (rc == 0) {
        rc = js_consumer_store_load(consumer);
    }
    if (rc == 0) {
        rc = subscribe(consumer);
    }
    if (rc == 0) {
        rc = consumers_insert(stream, consumer);
    }
    if (rc != 0) {
        js_consumer_free(consumer, false);
        return rc;
    }
    js_consumer_wake(consumer);
    timers_start(consumer);
    return 0;
}

int js_consumers_load(struct js_stream *stream)
{
    if (stream->dir == NULL) {
        return 0;
    }
    char *parent = file_path_join(stream->dir, CONSUMERS_DIR);
    DIR *dir = parent != NULL ? opendir(parent) : NULL;
    if (dir == NULL) {
        free(parent);
        return 0;
    }
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.') {
            continue;
        }
        char *path = file_path_join(parent, entry->d_name);
        int rc = path != NULL ? consumer_load(stream, path, entry->d_name) : -ENOMEM;
        if (rc != 0) {
            LOG_ERROR("JetStream: consumer %s of stream %s not loaded: %s", entry->d_name,
                      stream->config.name, strerror(-rc));
        }
        free(path);
    }
    closedir(dir);
    free(parent);
    return 0;
}

/* ---- the end ---- */

void js_consumer_delete(struct js_consumer *consumer)
{
    js_consumer_requests_end(consumer, "Consumer Deleted");
    js_consumer_retention_released(consumer);
    consumers_remove(consumer->stream, consumer);
    if (consumer->dir != NULL) {
        file_remove_tree(consumer->dir);
    }
    js_consumer_free(consumer, false);
}

void js_consumer_free(struct js_consumer *consumer, bool save)
{
    if (save && consumer->dir != NULL && consumer->state_dirty) {
        int rc = js_consumer_store_save_now(consumer);
        if (rc != 0) {
            LOG_ERROR("JetStream: consumer %s of stream %s: state not saved: %s",
                      consumer->name, consumer->stream->config.name, strerror(-rc));
        }
    }
    struct js *js = consumer->stream->js;
    js_consumer_store_close(consumer);
    if (consumer->awake) {
        awake_remove(consumer);
    }
    if (consumer->timer_at != 0) {
        timer_cancel(&js->shard->timers, &consumer->timer);
        consumer->timer_at = 0;
    }
    if (consumer->ack_sub != NULL) {
        service_unsubscribe(js->shard, consumer->ack_sub);
    }
    if (consumer->next_sub != NULL) {
        service_unsubscribe(js->shard, consumer->next_sub);
    }
    if (consumer->flow_sub != NULL) {
        service_unsubscribe(js->shard, consumer->flow_sub);
    }
    while (consumer->request_count > 0) {
        js_consumer_request_pop(consumer);
    }
    consumer->deleted = true;
    free(consumer->requests);
    free(consumer->pending);
    free(consumer->redeliver);
    free(consumer->lps);
    filters_free(consumer);
    free(consumer->dir);
    free(consumer->name);
    js_consumer_config_free(&consumer->config);
    free(consumer);
}
