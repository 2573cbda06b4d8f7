/* The meta shard's view of the account: the registry of every stream (name, checked config,
 * owner shard, shared counters), and the $JS.API requests answered from it: account INFO,
 * STREAM.CREATE and UPDATE (every check nats-server makes, in its order, then the change is
 * sent to the owner), DELETE, NAMES and LIST.
 *
 * The one idea: the registry changes first and at once, on this thread, so that requests
 * that follow see it (a second create of the same name, an overlapping subject), and the
 * owner carries the change out and replies to the client. When the owner cannot (a disk
 * error creating or updating), it says so and the registry is put back. Who frees a
 * stream's shared counters: the owner's stream once it adopted them; a delete drops the
 * registry's pointer before the owner learns of it, so the owner frees them last; a create
 * that failed hands them back here, never adopted. Meta shard's thread only. */
#include "base/assert.h"
#include "base/hash.h"
#include "base/log.h"
#include "engine/js.h"
#include "engine/js_internal.h"
#include "engine/shard.h"

#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char CREATE_TYPE[] = "stream_create_response";
static const char UPDATE_TYPE[] = "stream_update_response";
static const char DELETE_TYPE[] = "stream_delete_response";

/* ---- the registry ---- */

static int entry_compare(const char *name, size_t length, const struct js_meta_entry *entry)
{
    const char *other = entry->config.name;
    size_t other_length = strlen(other);
    int cmp = memcmp(name, other, length < other_length ? length : other_length);
    if (cmp == 0) {
        cmp = length < other_length ? -1 : length > other_length ? 1 : 0;
    }
    return cmp;
}

/* Index of `name`, or where it would go (*found false). */
static size_t entry_index(const struct js *js, const char *name, size_t length, bool *found)
{
    size_t low = 0;
    size_t high = js->entry_count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        int cmp = entry_compare(name, length, &js->entries[mid]);
        if (cmp == 0) {
            *found = true;
            return mid;
        }
        if (cmp < 0) {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    *found = false;
    return low;
}

struct js_meta_entry *js_meta_find(struct js *js, const char *name, size_t length)
{
    bool found;
    size_t at = entry_index(js, name, length, &found);
    return found ? &js->entries[at] : NULL;
}

/* Takes `config` (left empty) into a new entry. 0 or -ENOMEM. */
static int entry_add(struct js *js, struct js_stream_config *config, int64_t created_ns,
                     int owner, struct js_shared_state *shared)
{
    if (js->entry_count == js->entry_capacity) {
        size_t capacity = js->entry_capacity ? js->entry_capacity * 2 : 16;
        struct js_meta_entry *grown = realloc(js->entries, capacity * sizeof *grown);
        if (grown == NULL) {
            return -ENOMEM;
        }
        js->entries = grown;
        js->entry_capacity = capacity;
    }
    bool found;
    size_t at = entry_index(js, config->name, strlen(config->name), &found);
    ASSERT(!found);
    memmove(js->entries + at + 1, js->entries + at, (js->entry_count - at) * sizeof *js->entries);
    js->entries[at] = (struct js_meta_entry){.config = *config, .created_ns = created_ns,
                                             .owner = owner, .shared = shared};
    js_stream_config_init(config);
    js->entry_count++;
    return 0;
}

/* Removes an entry; its config is freed, its shared state is not. */
static void entry_remove(struct js *js, struct js_meta_entry *entry)
{
    size_t at = (size_t)(entry - js->entries);
    ASSERT(at < js->entry_count);
    js_stream_config_free(&entry->config);
    memmove(js->entries + at, js->entries + at + 1,
            (js->entry_count - at - 1) * sizeof *js->entries);
    js->entry_count--;
}

int js_meta_load(struct js *js)
{
    const struct js_server *server = js->server;
    for (size_t i = 0; i < server->boot_count; i++) {
        const struct js_boot_stream *boot = &server->boot[i];
        size_t length = strlen(js->streams_dir) + 1 + strlen(boot->name) + 1;
        char *dir = malloc(length);
        if (dir == NULL) {
            return -ENOMEM;
        }
        snprintf(dir, length, "%s/%s", js->streams_dir, boot->name);
        struct js_stream_config config;
        int64_t created_ns = 0;
        int rc = js_stream_config_read(dir, &config, &created_ns);
        free(dir);
        if (rc == -ENOMEM) {
            return rc;
        }
        if (rc != 0) {
            continue; /* its owner logs why, and the stream is not there */
        }
        rc = entry_add(js, &config, created_ns, boot->owner, boot->shared);
        js_stream_config_free(&config);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

void js_meta_free(struct js *js)
{
    for (size_t i = 0; i < js->entry_count; i++) {
        js_stream_config_free(&js->entries[i].config);
    }
    free(js->entries);
    js->entries = NULL;
    js->entry_count = 0;
}

void js_meta_forget(struct js *js, const char *name, size_t length)
{
    struct js_meta_entry *entry = js_meta_find(js, name, length);
    if (entry != NULL) {
        struct js_shared_state *shared = entry->shared;
        entry_remove(js, entry);
        free(shared);
    }
}

void js_meta_restore(struct js *js, const char *name, size_t length, const char *config_json,
                     size_t config_length)
{
    struct js_meta_entry *entry = js_meta_find(js, name, length);
    if (entry == NULL) {
        return;
    }
    struct js_stream_config config;
    struct js_error error;
    bool pedantic = false;
    const struct js_stream_config_check_options options = {0};
    if (js_stream_config_parse(config_json, config_length, &config, &pedantic, &error) != 0) {
        return;
    }
    if (js_stream_config_check(&config, &options, &error) == 0) {
        js_stream_config_free(&entry->config);
        entry->config = config;
    } else {
        js_stream_config_free(&config);
    }
}

/* ---- account info ---- */

void js_meta_account_info(struct js *js, const struct route_msg *msg, const char *body,
                          size_t body_length)
{
    struct go_json json;
    js_api_reply_begin(&json, "account_info_response");
    go_json_key(&json, "memory");
    go_json_int(&json,
                       atomic_load_explicit(&js->server->memory_used, memory_order_relaxed));
    go_json_key(&json, "storage");
    go_json_int(&json,
                       atomic_load_explicit(&js->server->storage_used, memory_order_relaxed));
    go_json_literal(&json, ",\"reserved_memory\":0,\"reserved_storage\":0");
    go_json_key(&json, "streams");
    go_json_uint(&json, js->entry_count);
    uint64_t consumers = 0;
    for (size_t i = 0; i < js->entry_count; i++) {
        consumers += atomic_load_explicit(&js->entries[i].shared->consumers, memory_order_relaxed);
    }
    go_json_key(&json, "consumers");
    go_json_uint(&json, consumers);
    go_json_literal(&json,
                           ",\"limits\":{\"max_memory\":-1,\"max_storage\":-1,"
                           "\"max_streams\":-1,\"max_consumers\":-1,\"max_ack_pending\":-1,"
                           "\"memory_max_stream_bytes\":-1,\"storage_max_stream_bytes\":-1,"
                           "\"max_bytes_required\":false}");
    if (js->shard->server->config->js_domain != NULL) {
        go_json_key_cstring(&json, "domain", js->shard->server->config->js_domain);
    }
    go_json_literal(&json, ",\"api\":{");
    go_json_key(&json, "level");
    go_json_int(&json, JS_API_LEVEL);
    go_json_key(&json, "total");
    go_json_uint(&json, js->api_total);
    go_json_key(&json, "errors");
    go_json_uint(&json, atomic_load_explicit(&js->server->api_errors, memory_order_relaxed));
    go_json_literal(&json, "}");
    js_api_reply_end(js, msg, &json);
}

/* ---- create and update ---- */

/* What ionats does not do yet is refused, never accepted and ignored. */
static bool unsupported(const struct js_stream_config *config, struct js_error *error)
{
    const char *what = NULL;
    bool durable = config->mirror != NULL && config->mirror->has_consumer;
    for (size_t i = 0; i < config->source_count; i++) {
        durable = durable || config->sources[i].has_consumer;
    }
    if (durable) {
        what = "durable consumers of mirrors and sources (2.14)";
    } else if (config->allow_msg_schedules || config->allow_batched) {
        /* 2.12+ features not done yet (fast batches, schedules): refused as a server of a
         * lower API level refuses them; TTLs, markers, counters, atomic batches and async
         * persist are done */
        js_errors_set(error, JS_ERR_REQUIRED_API_LEVEL);
        return true;
    }
    if (what == NULL) {
        return false;
    }
    js_errors_setf(error, JS_ERR_STREAM_CREATE, "%s are not supported by this server yet",
                   what);
    return true;
}

static bool overlaps_others(const struct js *js, const struct js_stream_config *config,
                            const struct js_meta_entry *self)
{
    for (size_t i = 0; i < js->entry_count; i++) {
        const struct js_meta_entry *other = &js->entries[i];
        if (other != self &&
            js_stream_config_subject_sets_overlap((const char *const *)config->subjects,
                                                  config->subject_count,
                                                  (const char *const *)other->config.subjects,
                                                  other->config.subject_count)) {
            return true;
        }
    }
    return false;
}

static bool resources_refused(const struct js *js, const struct js_stream_config *config,
                              struct js_error *error)
{
    bool memory = config->storage == JS_STREAM_STORAGE_MEMORY;
    int64_t limit = memory ? js->max_memory : js->max_file;
    if (config->max_bytes > limit) {
        js_errors_set(error, memory ? JS_ERR_MEMORY_RESOURCES_EXCEEDED
                                    : JS_ERR_STORAGE_RESOURCES_EXCEEDED);
        return true;
    }
    return false;
}

/* The config's JSON, for the owner (NULL: no memory). */
static char *config_text(const struct js_stream_config *config, size_t *length)
{
    struct go_json json;
    go_json_init(&json, JS_API_REQUEST_MAX * 8);
    js_stream_config_encode(config, NULL, &json);
    if (json.failed) {
        go_json_free(&json);
        return NULL;
    }
    *length = json.length;
    return json.data;
}

static void send_change(struct js *js, const struct route_msg *msg, enum js_op op,
                        const struct js_meta_entry *entry, struct js_shared_state *shared)
{
    size_t text_length = 0;
    char *text = config_text(&entry->config, &text_length);
    const char *name = entry->config.name;
    struct js_message *message =
        text == NULL ? NULL
                     : js_message_make(js, op, name, strlen(name), msg->reply.data,
                                       msg->reply.length, text, text_length);
    free(text);
    if (message == NULL) {
        LOG_ERROR("JetStream: no memory to send stream %s to its shard", name);
        return;
    }
    message->shared = shared;
    message->created_ns = entry->created_ns;
    js_message_send(js, entry->owner, message);
}

static void forward_request(struct js *js, const struct route_msg *msg, int owner,
                            js_request_fn *handler, const char *name, size_t name_length,
                            const char *body, size_t body_length)
{
    struct js_message *message = js_message_make(js, JS_OP_REQUEST, name, name_length,
                                                 msg->reply.data, msg->reply.length, body,
                                                 body_length);
    if (message == NULL) {
        LOG_ERROR("JetStream: no memory to pass a request to stream %.*s", (int)name_length,
                  name);
        return;
    }
    message->handler = handler;
    js_message_send(js, owner, message);
}

/* Parses a create or update body; false after replying with the error (`id` for no
 * memory, as nats-server's create and update errors). */
static bool config_parsed(struct js *js, const struct route_msg *msg, const char *type,
                          enum js_error_id id, const char *body, size_t body_length,
                          struct js_stream_config *config, bool *pedantic)
{
    struct js_error error;
    int rc = js_stream_config_parse(body, body_length, config, pedantic, &error);
    if (rc != 0) {
        if (rc == -ENOMEM) {
            js_errors_setf(&error, id, "%s", strerror(ENOMEM));
        }
        js_api_reply_error(js, msg, type, &error);
        return false;
    }
    return true;
}

/* checkStreamCfg's look at the origins of a mirror and sources on this server (not
 * external): a max_msg_size below its origin's is refused (10030, 10046), and a mirror
 * takes its origin's allow_direct as its mirror_direct (refused under pedantic when the
 * request said otherwise). An origin not there yet is fine: it is waited for. */
static int origins_check(struct js *js, struct js_stream_config *config, bool pedantic,
                         struct js_error *error)
{
    const struct js_stream_source *mirror = config->mirror;
    if (mirror != NULL && !mirror->has_external && mirror->name != NULL) {
        const struct js_meta_entry *origin = js_meta_find(js, mirror->name, strlen(mirror->name));
        if (origin != NULL) {
            if (config->max_msg_size > 0 && origin->config.max_msg_size > 0 &&
                config->max_msg_size < origin->config.max_msg_size) {
                js_errors_set(error, JS_ERR_MIRROR_MAX_MESSAGE_SIZE_TOO_BIG);
                return -EINVAL;
            }
            if (pedantic && config->mirror_direct != origin->config.allow_direct) {
                js_errors_setf(error, JS_ERR_PEDANTIC, "%s",
                               "origin stream has direct get set, mirror has it disabled");
                return -EINVAL;
            }
            config->mirror_direct = origin->config.allow_direct;
        }
    }
    for (size_t i = 0; i < config->source_count; i++) {
        const struct js_stream_source *source = &config->sources[i];
        if (source->has_external || source->name == NULL) {
            continue;
        }
        const struct js_meta_entry *origin = js_meta_find(js, source->name, strlen(source->name));
        if (origin != NULL && config->max_msg_size > 0 && origin->config.max_msg_size > 0 &&
            config->max_msg_size < origin->config.max_msg_size) {
            js_errors_set(error, JS_ERR_SOURCE_MAX_MESSAGE_SIZE_TOO_BIG);
            return -EINVAL;
        }
    }
    return 0;
}

void js_meta_create(struct js *js, const struct route_msg *msg, const char *name,
                    size_t name_length, const char *body, size_t body_length)
{
    struct js_stream_config config;
    struct js_error error;
    bool pedantic = false;
    if (!config_parsed(js, msg, CREATE_TYPE, JS_ERR_STREAM_CREATE, body, body_length, &config,
                       &pedantic)) {
        return;
    }
    const struct js_stream_config_check_options options = {.pedantic = pedantic};
    if (js_stream_config_check_create_request(&config, name, name_length, &error) != 0 ||
        js_stream_config_check(&config, &options, &error) != 0 ||
        origins_check(js, &config, pedantic, &error) != 0 ||
        js_stream_config_check_replicas(&config, false, &error) != 0) {
        js_api_reply_error(js, msg, CREATE_TYPE, &error);
        js_stream_config_free(&config);
        return;
    }
    const struct js_meta_entry *existing = js_meta_find(js, config.name, strlen(config.name));
    if (existing != NULL) {
        if (js_stream_config_equal(&existing->config, &config)) {
            forward_request(js, msg, existing->owner, js_api_create_existing, config.name,
                            strlen(config.name), NULL, 0);
        } else {
            js_errors_set(&error, JS_ERR_STREAM_NAME_EXIST);
            js_api_reply_error(js, msg, CREATE_TYPE, &error);
        }
        js_stream_config_free(&config);
        return;
    }
    bool refused = js_stream_config_check_filters(&config, &error) != 0 ||
                   unsupported(&config, &error) || resources_refused(js, &config, &error);
    if (!refused && overlaps_others(js, &config, NULL)) {
        js_errors_set(&error, JS_ERR_STREAM_SUBJECT_OVERLAP);
        refused = true;
    }
    if (!refused && js->entry_count >= JS_STREAMS_MAX) {
        js_errors_set(&error, JS_ERR_MAXIMUM_STREAMS_LIMIT);
        refused = true;
    }
    struct js_shared_state *shared = refused ? NULL : calloc(1, sizeof *shared);
    int owner = js_owner_of(config.name, strlen(config.name), js->server->shard_count);
    int64_t created_ns = js_now_ns();
    if (!refused && (shared == NULL || entry_add(js, &config, created_ns, owner, shared) != 0)) {
        free(shared);
        js_errors_setf(&error, JS_ERR_STREAM_CREATE, "%s", strerror(ENOMEM));
        refused = true;
    }
    if (refused) {
        js_api_reply_error(js, msg, CREATE_TYPE, &error);
        js_stream_config_free(&config);
        return;
    }
    const struct js_meta_entry *entry = js_meta_find(js, name, name_length);
    ASSERT(entry != NULL);
    send_change(js, msg, JS_OP_CREATE, entry, shared);
}

void js_meta_update(struct js *js, const struct route_msg *msg, const char *name,
                    size_t name_length, const char *body, size_t body_length)
{
    struct js_stream_config config;
    struct js_error error;
    bool pedantic = false;
    if (!config_parsed(js, msg, UPDATE_TYPE, JS_ERR_STREAM_UPDATE, body, body_length, &config,
                       &pedantic)) {
        return;
    }
    const struct js_stream_config_check_options options = {.pedantic = pedantic};
    struct js_meta_entry *entry = NULL;
    bool refused = js_stream_config_check(&config, &options, &error) != 0 ||
                   origins_check(js, &config, pedantic, &error) != 0 ||
                   js_stream_config_check_name(&config, name, name_length, &error) != 0;
    if (!refused) {
        entry = js_meta_find(js, name, name_length);
        if (entry == NULL) {
            js_errors_set(&error, JS_ERR_STREAM_NOT_FOUND);
            refused = true;
        }
    }
    refused = refused ||
              js_stream_config_check_update(&entry->config, &config, &options, false,
                                            &error) != 0 ||
              unsupported(&config, &error) || resources_refused(js, &config, &error);
    if (!refused && overlaps_others(js, &config, entry)) {
        js_errors_set(&error, JS_ERR_STREAM_SUBJECT_OVERLAP);
        refused = true;
    }
    if (refused) {
        js_api_reply_error(js, msg, UPDATE_TYPE, &error);
        js_stream_config_free(&config);
        return;
    }
    js_stream_config_free(&entry->config);
    entry->config = config; /* taken */
    send_change(js, msg, JS_OP_UPDATE, entry, NULL);
}

/* ---- delete, names, list ---- */

void js_meta_delete(struct js *js, const struct route_msg *msg, const char *name,
                    size_t name_length)
{
    struct js_meta_entry *entry = js_meta_find(js, name, name_length);
    if (entry == NULL) {
        struct js_error error;
        js_errors_set(&error, JS_ERR_STREAM_NOT_FOUND);
        js_api_reply_error(js, msg, DELETE_TYPE, &error);
        return;
    }
    int owner = entry->owner;
    entry_remove(js, entry); /* the owner's stream frees the shared state */
    struct js_message *message = js_message_make(js, JS_OP_DELETE, name, name_length,
                                                 msg->reply.data, msg->reply.length, NULL, 0);
    if (message == NULL) {
        LOG_ERROR("JetStream: no memory to delete stream %.*s", (int)name_length, name);
        return;
    }
    js_message_send(js, owner, message);
}

void js_shared_state_json(const struct js_shared_state *shared, struct go_json *json)
{
    uint64_t msgs = atomic_load_explicit(&shared->msgs, memory_order_relaxed);
    uint64_t subjects = atomic_load_explicit(&shared->subjects, memory_order_relaxed);
    uint64_t deleted = atomic_load_explicit(&shared->deleted, memory_order_relaxed);
    go_json_literal(json, "{");
    go_json_key(json, "messages");
    go_json_uint(json, msgs);
    go_json_key(json, "bytes");
    go_json_uint(json, atomic_load_explicit(&shared->bytes, memory_order_relaxed));
    go_json_key(json, "first_seq");
    go_json_uint(json, atomic_load_explicit(&shared->first_seq, memory_order_relaxed));
    go_json_key(json, "first_ts");
    js_json_time(json, atomic_load_explicit(&shared->first_ts, memory_order_relaxed));
    go_json_key(json, "last_seq");
    go_json_uint(json, atomic_load_explicit(&shared->last_seq, memory_order_relaxed));
    go_json_key(json, "last_ts");
    js_json_time(json, atomic_load_explicit(&shared->last_ts, memory_order_relaxed));
    if (subjects > 0) {
        go_json_key(json, "num_subjects");
        go_json_uint(json, subjects);
    }
    if (deleted > 0 && msgs > 0) {
        go_json_key(json, "num_deleted");
        go_json_uint(json, deleted);
    }
    go_json_key(json, "consumer_count");
    go_json_uint(json, atomic_load_explicit(&shared->consumers, memory_order_relaxed));
    go_json_literal(json, "}");
}

/* Streams listed by NAMES and LIST: those with a subject colliding with `filter`. */
static bool entry_listed(const struct js_meta_entry *entry, const char *filter)
{
    if (filter == NULL) {
        return true;
    }
    const char *filters[1] = {filter};
    return js_stream_config_subject_sets_overlap(filters, 1,
                                                 (const char *const *)entry->config.subjects,
                                                 entry->config.subject_count);
}

static void entry_info_json(const struct js_meta_entry *entry, struct go_json *json,
                            int64_t created_ns)
{
    go_json_literal(json, "{");
    go_json_key(json, "config");
    js_stream_config_encode(&entry->config, NULL, json);
    go_json_key(json, "created");
    js_json_time(json, created_ns);
    go_json_key(json, "state");
    js_shared_state_json(entry->shared, json);
    go_json_key(json, "ts");
    js_json_time(json, js_now_ns());
    go_json_literal(json, "}");
}

void js_meta_names_or_list(struct js *js, const struct route_msg *msg, const char *body,
                           size_t body_length, bool list)
{
    const char *type = list ? "stream_list_response" : "stream_names_response";
    json_t *request = js_api_body_parse(js, msg, type, body, body_length);
    if (request == NULL) {
        return;
    }
    uint64_t offset = js_api_json_u64(request, "offset");
    const char *filter = js_api_json_text(request, "subject");
    size_t limit = list ? JS_LIST_PAGE : JS_NAMES_PAGE;
    size_t total = 0;
    for (size_t i = 0; i < js->entry_count; i++) {
        total += entry_listed(&js->entries[i], filter);
    }
    struct go_json json;
    js_api_reply_begin(&json, type);
    go_json_key(&json, "total");
    go_json_uint(&json, total);
    go_json_key(&json, "offset");
    go_json_uint(&json, offset);
    go_json_key(&json, "limit");
    go_json_uint(&json, limit);
    go_json_key(&json, "streams");
    size_t seen = 0;
    size_t written = 0;
    for (size_t i = 0; i < js->entry_count && written < limit; i++) {
        const struct js_meta_entry *entry = &js->entries[i];
        if (!entry_listed(entry, filter) || seen++ < offset) {
            continue;
        }
        go_json_literal(&json, written == 0 ? "[" : ",");
        if (list) {
            entry_info_json(entry, &json, entry->created_ns);
        } else {
            go_json_cstring(&json, entry->config.name);
        }
        written++;
    }
    /* nats-server: no names is null, no infos an empty array */
    go_json_literal(&json, written > 0 ? "]" : list ? "[]" : "null");
    js_api_reply_end(js, msg, &json);
    json_decref(request);
}

void js_meta_forward_subject(struct js *js, const struct route_msg *msg, const char *type,
                             js_request_fn *handler, const char *stream, size_t stream_length,
                             const char *carried, size_t carried_length, const char *body,
                             size_t body_length)
{
    const struct js_meta_entry *entry = js_meta_find(js, stream, stream_length);
    if (entry == NULL) {
        struct js_error error;
        js_errors_set(&error, JS_ERR_STREAM_NOT_FOUND);
        js_api_reply_error(js, msg, type, &error);
        return;
    }
    forward_request(js, msg, entry->owner, handler, carried, carried_length, body, body_length);
}

void js_meta_forward(struct js *js, const struct route_msg *msg, const char *type,
                     js_request_fn *handler, const char *name, size_t name_length,
                     const char *body, size_t body_length)
{
    const struct js_meta_entry *entry = js_meta_find(js, name, name_length);
    if (entry == NULL) {
        struct js_error error;
        js_errors_set(&error, JS_ERR_STREAM_NOT_FOUND);
        js_api_reply_error(js, msg, type, &error);
        return;
    }
    forward_request(js, msg, entry->owner, handler, name, name_length, body, body_length);
}
