/* A JetStream stream at run time: its directory and saved config, its store, its
 * subscriptions, and its state as the API reports it.
 *
 * The one idea: a stream is its checked config plus a stream store; everything durable is
 * in the store (messages) and in config.json (written once per create or update, synced,
 * renamed into place), so loading at start-up is parse, check, open. The store writes
 * through the meta shard's store I/O and reports commits to js_publish.c. A deleted stream
 * leaves the index at once and is freed by js.c once its store has nothing in flight.
 * Meta shard's thread only. */
#include "base/assert.h"
#include "base/file.h"
#include "base/log.h"
#include "engine/js_consumer.h"
#include "engine/js_batch.h"
#include "engine/js_internal.h"
#include "engine/js_publish.h"
#include "engine/js_source.h"
#include "engine/service.h"
#include "engine/shard.h"
#include "proto/subject.h"
#include "store/stream_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char CONFIG_FILE[] = "config.json";
/* The largest config.json read back. */
enum { CONFIG_FILE_MAX = 4 * 1024 * 1024 };

static void js_usage_add(struct js_stream *stream, int64_t delta);

/* ---- store settings from the stream's config and the flags ---- */

static void store_config_fill(const struct js *js, const struct js_stream_config *config,
                              struct stream_store_config *store)
{
    const struct config *flags = js->shard->server->config;
    stream_store_config_default(store);
    store->segment_size = (uint64_t)flags->segment_size;
    if (strcmp(flags->sync, "always") == 0) {
        store->sync = STREAM_STORE_SYNC_ALWAYS;
    } else if (strcmp(flags->sync, "interval") == 0) {
        store->sync = STREAM_STORE_SYNC_INTERVAL;
        store->sync_interval_ns = flags->sync_interval_ns;
    } else {
        store->sync = STREAM_STORE_SYNC_NONE;
    }
    store->max_msgs = config->max_msgs > 0 ? (uint64_t)config->max_msgs : 0;
    store->max_bytes = config->max_bytes > 0 ? (uint64_t)config->max_bytes : 0;
    store->max_age_ns = config->max_age_ns > 0 ? config->max_age_ns : 0;
    store->max_msgs_per_subject =
        config->max_msgs_per_subject > 0 ? (uint64_t)config->max_msgs_per_subject : 0;
    store->discard = config->discard == JS_STREAM_DISCARD_NEW ? STREAM_STORE_DISCARD_NEW
                                                              : STREAM_STORE_DISCARD_OLD;
    /* bytes counted as nats-server counts them, so max_bytes holds as many messages */
    store->accounting = config->storage == JS_STREAM_STORAGE_MEMORY
                            ? STREAM_STORE_ACCOUNTING_MEMORY
                            : STREAM_STORE_ACCOUNTING_FILE;
}

/* Everything up to `seq` may be delivered and acked: the consumers are woken for it and
 * the acks waiting for it leave, in order. */
static void release(struct js_stream *stream, uint64_t seq)
{
    if (seq > stream->committed_seq) {
        stream->committed_seq = seq;
        for (size_t i = 0; i < stream->consumer_count; i++) {
            js_consumer_wake(stream->consumers[i]); /* messages to deliver */
        }
    }
    js_publish_committed(stream, seq);
}

static void hook_committed(void *context, uint64_t seq, uint64_t lsn)
{
    release(context, seq);
}

void js_stream_async_release(struct js_stream *stream, uint64_t seq)
{
    if (stream->config.persist_mode == JS_STREAM_PERSIST_ASYNC) {
        release(stream, seq);
    }
}

/* Frees the stream's consumers: saving their state (a stop), or not (a delete). */
static void consumers_free(struct js_stream *stream, bool save)
{
    while (stream->consumer_count > 0) {
        struct js_consumer *consumer = stream->consumers[stream->consumer_count - 1];
        stream->consumer_count--;
        if (!save) {
            js_consumer_requests_end(consumer, "Consumer Deleted");
        }
        js_consumer_free(consumer, save);
    }
    free(stream->consumers);
    stream->consumers = NULL;
    stream->consumer_capacity = 0;
}

static void hook_removed(void *context, uint64_t seq, const uint8_t *subject,
                         uint32_t subject_length)
{
    js_consumers_removed(context, seq, (const char *)subject, subject_length);
    js_ttl_aged(context, seq, subject, subject_length);
}

static void hook_failed(void *context, int error)
{
    js_publish_failed(context, error);
}

/* ---- config.json ---- */

/* Writes config.json durably. Synchronous: a create or update is rare and waits for it
 * (the API answers only once the stream is on disk). */
static int config_save(const struct js_stream *stream)
{
    struct go_json json;
    go_json_init(&json, CONFIG_FILE_MAX);
    go_json_literal(&json, "{\"config\":");
    js_stream_config_encode(&stream->config, NULL, &json);
    go_json_key(&json, "created_ns");
    go_json_int(&json, stream->created_ns);
    go_json_literal(&json, "}\n");
    int rc = json.failed ? -ENOMEM
                         : file_write_durable(stream->dir, CONFIG_FILE, json.data, json.length);
    go_json_free(&json);
    return rc;
}

int js_stream_config_read(const char *dir, struct js_stream_config *config, int64_t *created_ns)
{
    char *path = file_path_join(dir, CONFIG_FILE);
    if (path == NULL) {
        return -ENOMEM;
    }
    json_error_t json_error;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &json_error);
    free(path);
    if (root == NULL) {
        LOG_ERROR("JetStream: %s/%s: %s", dir, CONFIG_FILE, json_error.text);
        return -EBADMSG;
    }
    json_t *config_json = json_object_get(root, "config");
    json_t *created = json_object_get(root, "created_ns");
    char *text = config_json != NULL ? json_dumps(config_json, JSON_COMPACT) : NULL;
    int rc = -EBADMSG;
    if (text != NULL && json_is_integer(created)) {
        struct js_error error;
        bool pedantic = false;
        rc = js_stream_config_parse(text, strlen(text), config, &pedantic, &error);
        if (rc == 0) {
            const struct js_stream_config_check_options options = {0};
            rc = js_stream_config_check(config, &options, &error);
            if (rc != 0) {
                js_stream_config_free(config);
            }
        }
        if (rc == -EINVAL) {
            LOG_ERROR("JetStream: %s/%s: %s", dir, CONFIG_FILE, error.description);
            rc = -EBADMSG;
        }
        *created_ns = json_integer_value(created);
    }
    free(text);
    json_decref(root);
    return rc;
}

/* ---- removing a stream's files ---- */

/* ---- subscriptions ---- */

static void subs_drop(struct js_stream *stream)
{
    struct shard *shard = stream->js->shard;
    js_sources_stop(stream);
    js_stream_transforms_drop(stream);
    for (size_t i = 0; i < stream->sub_count; i++) {
        service_unsubscribe(shard, stream->subs[i]);
    }
    free(stream->subs);
    stream->subs = NULL;
    stream->sub_count = 0;
    for (size_t i = 0; i < 2; i++) {
        if (stream->direct_subs[i] != NULL) {
            service_unsubscribe(shard, stream->direct_subs[i]);
            stream->direct_subs[i] = NULL;
        }
    }
}

/* A message published on one of the stream's subjects: stored under the subject the
 * stream's subject_transform picks, by the single-message path or, an atomic batch's, by
 * js_batch.c. */
static void stream_publish_handle(struct shard *shard, void *context,
                                  const struct route_msg *published)
{
    struct js_stream *stream = context;
    if (stream->deleting) {
        return;
    }
    char transformed[JS_SUBJECT_TRANSFORMED_MAX];
    struct route_msg msg = *published;
    msg.subject = js_stream_subject_in(stream, published->subject, transformed,
                                       sizeof transformed);
    struct js_pub_directives directives;
    js_pub_directives_parse(msg.header_length > 0 ? msg.payload.data : NULL, msg.header_length,
                            &directives);
    if (directives.batch) {
        js_batch_publish(stream, &msg, &directives);
    } else {
        js_publish_single(stream, &msg, &directives);
    }
}

static int subs_make(struct js_stream *stream)
{
    struct shard *shard = stream->js->shard;
    const struct js_stream_config *config = &stream->config;
    int error = 0;
    if (config->mirror == NULL && config->subject_count > 0) {
        stream->subs = calloc(config->subject_count, sizeof *stream->subs);
        if (stream->subs == NULL) {
            return -ENOMEM;
        }
        for (size_t i = 0; i < config->subject_count; i++) {
            stream->subs[i] = service_subscribe(shard, config->subjects[i], NULL,
                                                stream_publish_handle, stream, &error);
            if (stream->subs[i] == NULL) {
                subs_drop(stream);
                return error;
            }
            stream->sub_count = i + 1;
        }
    }
    if (config->allow_direct) {
        char subject[64 + JS_STREAM_CONFIG_NAME_LENGTH_MAX];
        snprintf(subject, sizeof subject, "$JS.API.DIRECT.GET.%s", config->name);
        stream->direct_subs[0] = service_subscribe(shard, subject, JS_DIRECT_GET_GROUP,
                                                   js_direct_get_handle, stream, &error);
        snprintf(subject, sizeof subject, "$JS.API.DIRECT.GET.%s.>", config->name);
        stream->direct_subs[1] = stream->direct_subs[0] == NULL
                                     ? NULL
                                     : service_subscribe(shard, subject, JS_DIRECT_GET_GROUP,
                                                         js_direct_get_handle, stream, &error);
        if (stream->direct_subs[1] == NULL) {
            subs_drop(stream);
            return error != 0 ? error : -ENOMEM;
        }
    }
    int rc = js_stream_transforms_make(stream);
    rc = rc != 0 ? rc : js_sources_start(stream);
    if (rc != 0) {
        subs_drop(stream);
    }
    return rc;
}

/* ---- life cycle ---- */

static struct js_stream *stream_new(struct js *js)
{
    struct js_stream *stream = calloc(1, sizeof *stream);
    if (stream != NULL) {
        stream->js = js;
        js_stream_config_init(&stream->config);
    }
    return stream;
}

/* Opens the store (file storage: <dir>/msgs) and subscribes. */
static int stream_open(struct js_stream *stream)
{
    struct js *js = stream->js;
    struct stream_store_config store_config;
    store_config_fill(js, &stream->config, &store_config);
    const struct stream_store_hooks hooks = {
        .committed = hook_committed, .failed = hook_failed, .removed = hook_removed,
        .context = stream};
    char *msgs = NULL;
    if (stream->dir != NULL) {
        msgs = file_path_join(stream->dir, "msgs");
        if (msgs == NULL) {
            return -ENOMEM;
        }
    }
    int rc = stream_store_open(msgs, &store_config, js->io, &hooks, &stream->store);
    free(msgs);
    if (rc != 0) {
        stream->store = NULL;
        return rc;
    }
    js_stream_account(stream);
    rc = subs_make(stream);
    return rc;
}

int js_stream_create(struct js *js, struct js_stream_config *config, int64_t created_ns,
                     struct js_shared_state *shared, struct js_stream **out,
                     struct js_error *error)
{
    struct js_stream *stream = stream_new(js);
    if (stream == NULL) {
        js_errors_setf(error, JS_ERR_STREAM_CREATE, "%s", strerror(ENOMEM));
        return -ENOMEM;
    }
    stream->config = *config; /* moved */
    js_stream_config_init(config);
    config = &stream->config;
    int rc = 0;
    stream->created_ns = created_ns;
    if (config->storage == JS_STREAM_STORAGE_FILE) {
        stream->dir = file_path_join(js->streams_dir, config->name);
        rc = stream->dir == NULL ? -ENOMEM : 0;
        if (rc == 0 && mkdir(stream->dir, 0750) != 0) {
            rc = -errno;
        }
        if (rc == 0) {
            rc = config_save(stream);
        }
    }
    if (rc == 0) {
        rc = stream_open(stream);
    }
    if (rc == 0 && config->first_seq > 1) {
        /* first_seq: the empty store starts there (a purge that moves the sequence, durable
         * before the reply as a purge is) */
        rc = stream_store_skip(stream->store, config->first_seq - 1);
        stream->appended_seq = config->first_seq - 1;
    }
    if (rc != 0) {
        js_errors_setf(error, JS_ERR_STREAM_CREATE, "%s", strerror(-rc));
        if (stream->dir != NULL && rc != -EEXIST) {
            file_remove_tree(stream->dir);
        }
        js_stream_free(stream);
        return rc;
    }
    stream->shared = shared; /* adopted: freed with the stream */
    js_stream_account(stream);
    *out = stream;
    return 0;
}

int js_stream_load(struct js *js, const char *name, struct js_shared_state *shared,
                   struct js_stream **out)
{
    struct js_stream *stream = stream_new(js);
    if (stream == NULL) {
        return -ENOMEM;
    }
    stream->dir = file_path_join(js->streams_dir, name);
    int rc = stream->dir == NULL ? -ENOMEM
                                 : js_stream_config_read(stream->dir, &stream->config,
                                                         &stream->created_ns);
    if (rc == 0 && strcmp(stream->config.name, name) != 0) {
        rc = -EBADMSG; /* a directory renamed by hand */
    }
    if (rc == 0) {
        rc = stream_open(stream);
    }
    if (rc != 0) {
        js_stream_free(stream);
        return rc;
    }
    struct stream_store_info info;
    stream_store_info_get(stream->store, &info);
    if (info.lost_count > 0 || info.truncated_count > 0) {
        LOG_WARN("JetStream: stream %s recovered with %llu lost message(s) in %llu damaged "
                 "segment(s)",
                 name, (unsigned long long)info.lost_count,
                 (unsigned long long)info.truncated_count);
    }
    js_publish_dedupe_rebuild(stream);
    js_ttl_load(stream);
    stream->shared = shared; /* adopted: freed with the stream */
    stream->committed_seq = info.last_seq; /* what recovery found is on disk */
    js_stream_account(stream);
    (void)js_consumers_load(stream);
    *out = stream;
    return 0;
}

int js_stream_update(struct js_stream *stream, struct js_stream_config *config,
                     struct js_error *error)
{
    struct js_stream_config old = stream->config;
    stream->config = *config; /* moved */
    js_stream_config_init(config);
    int rc = 0;
    if (stream->dir != NULL) {
        rc = config_save(stream);
    }
    if (rc != 0) {
        *config = stream->config; /* the caller keeps what it gave */
        stream->config = old;
        js_errors_setf(error, JS_ERR_STREAM_UPDATE, "%s", strerror(-rc));
        return rc;
    }
    /* limits and subjects take effect now: the store applies lowered limits at once (what
     * an append error leaves undone goes with later appends) */
    struct stream_store_config limits;
    store_config_fill(stream->js, &stream->config, &limits);
    int limits_rc = stream_store_limits_set(stream->store, &limits);
    if (limits_rc != 0 && limits_rc != -EAGAIN) {
        LOG_WARN("JetStream: stream %s: new limits not all applied yet: %s",
                 stream->config.name, strerror(-limits_rc));
    }
    stream->dirty = true;
    js_stream_account(stream);
    if (!stream->config.allow_atomic) {
        js_batch_drop_all(stream); /* as nats-server deletes its batches in progress */
    }
    subs_drop(stream);
    rc = subs_make(stream);
    js_stream_config_free(&old);
    if (rc != 0) {
        js_errors_setf(error, JS_ERR_STREAM_UPDATE, "%s", strerror(-rc));
    }
    return rc;
}

void js_stream_delete(struct js_stream *stream)
{
    js_batch_drop_all(stream);
    consumers_free(stream, false);
    subs_drop(stream);
    stream->deleting = true;
    js_publish_failed(stream, -ENOENT); /* waiting acks learn the stream is gone */
    if (stream->dir != NULL) {
        file_remove_tree(stream->dir);
    }
}

void js_stream_free(struct js_stream *stream)
{
    consumers_free(stream, true);
    subs_drop(stream);
    if (stream->store != NULL) {
        bool unwritable = stream->failure != 0 && !stream_store_io_in_flight(stream->store);
        if (js_stream_busy(stream) && !unwritable) {
            /* only at a failed shutdown: the kernel may still refer to its batches */
            LOG_WARN("JetStream: stream %s closed with I/O in flight; its memory is kept",
                     stream->config.name != NULL ? stream->config.name : "?");
            return;
        }
        stream_store_close(stream->store);
    }
    js_usage_add(stream, -(int64_t)stream->bytes); /* its data is gone */
    free(stream->shared);
    for (uint32_t i = 0; i < stream->ack_count; i++) {
        struct js_pending_ack *ack = &stream->acks[(stream->ack_head + i) % stream->ack_capacity];
        free(ack->reply);
        free(ack->body);
    }
    free(stream->acks);
    js_dedupe_free(&stream->dedupe);
    js_batch_drop_all(stream);
    js_ttl_free(stream);
    free(stream->last_msg_id);
    js_stream_config_free(&stream->config);
    free(stream->dir);
    free(stream);
}

void js_stream_flush(struct js_stream *stream)
{
    stream->dirty = false;
    if (stream->store != NULL && stream->failure == 0) {
        (void)stream_store_flush(stream->store);
    }
}

bool js_stream_busy(const struct js_stream *stream)
{
    return stream->store != NULL && stream_store_busy(stream->store);
}

static void js_usage_add(struct js_stream *stream, int64_t delta)
{
    struct js_server *server = stream->js->server;
    _Atomic int64_t *used = stream->config.storage == JS_STREAM_STORAGE_MEMORY
                                ? &server->memory_used
                                : &server->storage_used;
    atomic_fetch_add_explicit(used, delta, memory_order_relaxed);
}

void js_stream_account(struct js_stream *stream)
{
    struct stream_store_info info;
    stream_store_info_get(stream->store, &info);
    js_usage_add(stream, (int64_t)info.byte_count - (int64_t)stream->bytes);
    stream->bytes = info.byte_count;
    struct js_shared_state *shared = stream->shared;
    if (shared == NULL) {
        return;
    }
    bool never = info.msg_count == 0 && info.last_seq == 0;
    atomic_store_explicit(&shared->msgs, info.msg_count, memory_order_relaxed);
    atomic_store_explicit(&shared->bytes, info.byte_count, memory_order_relaxed);
    atomic_store_explicit(&shared->first_seq, never ? 0 : info.first_seq, memory_order_relaxed);
    atomic_store_explicit(&shared->last_seq, info.last_seq, memory_order_relaxed);
    atomic_store_explicit(&shared->first_ts, info.msg_count > 0 ? info.first_timestamp_ns : 0,
                          memory_order_relaxed);
    atomic_store_explicit(&shared->last_ts, info.last_timestamp_ns, memory_order_relaxed);
    atomic_store_explicit(&shared->subjects, info.subject_count, memory_order_relaxed);
    atomic_store_explicit(&shared->deleted, info.deleted_count, memory_order_relaxed);
}

/* ---- state and info ---- */

/* ---- per-subject counts (stream info's subjects_filter) ---- */

struct subjects_collect {
    const char *filter;
    size_t filter_length;
    struct js_subject_count *items;
    size_t count;
    size_t capacity;
};

static int subject_collect(void *context, const uint8_t *subject, uint32_t length,
                           uint64_t msg_count)
{
    struct subjects_collect *collect = context;
    if (msg_count == 0 ||
        !subject_matches(collect->filter, collect->filter_length, (const char *)subject,
                         length)) {
        return 0;
    }
    if (collect->count == JS_SUBJECTS_COLLECT_MAX) {
        return -E2BIG;
    }
    if (collect->count == collect->capacity) {
        size_t capacity = collect->capacity ? collect->capacity * 2 : 64;
        struct js_subject_count *grown = realloc(collect->items, capacity * sizeof *grown);
        if (grown == NULL) {
            return -ENOMEM;
        }
        collect->items = grown;
        collect->capacity = capacity;
    }
    char *copy = malloc(length);
    if (copy == NULL) {
        return -ENOMEM;
    }
    memcpy(copy, subject, length);
    collect->items[collect->count++] =
        (struct js_subject_count){.subject = copy, .length = length, .count = msg_count};
    return 0;
}

static int subject_count_compare(const void *left, const void *right)
{
    const struct js_subject_count *a = left;
    const struct js_subject_count *b = right;
    int cmp = memcmp(a->subject, b->subject, a->length < b->length ? a->length : b->length);
    return cmp != 0 ? cmp : (a->length > b->length) - (a->length < b->length);
}

int js_stream_subjects_collect(struct js_stream *stream, const char *filter,
                               struct js_subject_count **out, size_t *count)
{
    struct subjects_collect collect = {.filter = filter, .filter_length = strlen(filter)};
    int rc = stream_store_subjects_each(stream->store, subject_collect, &collect);
    if (rc != 0) {
        js_subject_counts_free(collect.items, collect.count);
        return rc;
    }
    /* Go writes a map's keys sorted */
    if (collect.count > 1) {
        qsort(collect.items, collect.count, sizeof *collect.items, subject_count_compare);
    }
    *out = collect.items;
    *count = collect.count;
    return 0;
}

void js_subject_counts_free(struct js_subject_count *items, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(items[i].subject);
    }
    free(items);
}

/* ---- state and info ---- */

static void deleted_json(struct js_stream *stream, const struct stream_store_info *info,
                         struct go_json *json)
{
    /* the gaps in [first, last], bounded: a client cannot make this walk forever */
    enum { DELETED_DETAILS_MAX = 100000 };
    go_json_key(json, "deleted");
    go_json_literal(json, "[");
    uint32_t listed = 0;
    for (uint64_t seq = info->first_seq; seq <= info->last_seq && listed < DELETED_DETAILS_MAX;
         seq++) {
        struct stream_store_msg msg;
        if (stream_store_get(stream->store, seq, &msg) == -ENOENT) {
            if (listed > 0) {
                go_json_literal(json, ",");
            }
            go_json_uint(json, seq);
            listed++;
        }
    }
    go_json_literal(json, "]");
}

/* nats-server's "lost":{"msgs":[...],"bytes":N}: what recovery found damaged. */
static void lost_json(struct js_stream *stream, const struct stream_store_info *info,
                      struct go_json *json)
{
    enum { LOST_LISTED_MAX = 4096 };
    uint64_t seqs[LOST_LISTED_MAX];
    size_t listed = stream_store_lost(stream->store, seqs, LOST_LISTED_MAX);
    go_json_key(json, "lost");
    go_json_literal(json, "{\"msgs\":");
    if (listed == 0) {
        go_json_literal(json, "null");
    }
    for (size_t i = 0; i < listed; i++) {
        go_json_literal(json, i == 0 ? "[" : ",");
        go_json_uint(json, seqs[i]);
    }
    if (listed > 0) {
        go_json_literal(json, "]");
    }
    go_json_key(json, "bytes");
    go_json_uint(json, info->lost_bytes);
    go_json_literal(json, "}");
}

void js_stream_state_json(struct js_stream *stream, struct go_json *json,
                          bool deleted_details, const struct js_subject_count *subjects,
                          size_t subject_count)
{
    struct stream_store_info info;
    stream_store_info_get(stream->store, &info);
    uint64_t first_seq = info.first_seq;
    if (info.msg_count == 0 && info.last_seq == 0) {
        first_seq = 0; /* nats-server: a stream that never held a message */
    }
    go_json_literal(json, "{");
    go_json_key(json, "messages");
    go_json_uint(json, info.msg_count);
    go_json_key(json, "bytes");
    go_json_uint(json, info.byte_count);
    go_json_key(json, "first_seq");
    go_json_uint(json, first_seq);
    go_json_key(json, "first_ts");
    js_json_time(json, info.msg_count > 0 ? info.first_timestamp_ns : 0);
    go_json_key(json, "last_seq");
    go_json_uint(json, info.last_seq);
    go_json_key(json, "last_ts");
    js_json_time(json, info.last_timestamp_ns);
    if (info.subject_count > 0) {
        go_json_key(json, "num_subjects");
        go_json_uint(json, info.subject_count);
    }
    for (size_t i = 0; i < subject_count; i++) {
        go_json_literal(json, i == 0 ? ",\"subjects\":{" : ",");
        go_json_string(json, subjects[i].subject, subjects[i].length);
        go_json_literal(json, ":");
        go_json_uint(json, subjects[i].count);
    }
    if (subject_count > 0) {
        go_json_literal(json, "}");
    }
    if (info.deleted_count > 0 && info.msg_count > 0) {
        go_json_key(json, "num_deleted");
        go_json_uint(json, info.deleted_count);
        if (deleted_details) {
            deleted_json(stream, &info, json);
        }
    }
    if (info.lost_count > 0) {
        lost_json(stream, &info, json);
    }
    go_json_key(json, "consumer_count");
    go_json_uint(json, stream->consumer_count - stream->direct_consumer_count);
    go_json_literal(json, "}");
}

void js_stream_info_json(struct js_stream *stream, struct go_json *json,
                         bool deleted_details, const struct js_subject_count *subjects,
                         size_t subject_count)
{
    go_json_key(json, "config");
    js_stream_config_encode(&stream->config, NULL, json);
    go_json_key(json, "created");
    js_json_time(json, stream->created_ns);
    go_json_key(json, "state");
    js_stream_state_json(stream, json, deleted_details, subjects, subject_count);
    js_sources_info_json(stream, json);
    if (stream->failure != 0 && stream->failure != -ENOENT) {
        /* ionats's own field: why the stream stopped taking writes (a failed write or
         * fdatasync); clients ignore fields they do not know */
        char text[160];
        snprintf(text, sizeof text, "stream store failed: %s", strerror(-stream->failure));
        go_json_key(json, "store_error");
        go_json_cstring(json, text);
    }
    go_json_key(json, "ts");
    js_json_time(json, js_now_ns());
}
