/* NATS Streaming's own records under the streaming directory (--dir, FILE store only):
 * the cluster id, channels, clients, subscription groups and their members, one small
 * JSON file each, written durably before the request that made it is answered, and read
 * back at start. Shard 0's thread.
 *
 * The one idea: messages and consumer positions live in JetStream's store; these records
 * are only what the Streaming protocol adds, rare and small, so a synchronous durable write
 * per change (base/file.h) is simpler than a log and costs only on connect, subscribe and
 * close. A record that no longer fits (a member whose client or group is gone) is dropped
 * when read. */
#include "base/file.h"
#include "base/log.h"
#include "engine/stan_internal.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const kinds[] = {"channels", "clients", "groups", "members"};

static int mkdir_p(const char *path)
{
    char buffer[4096];
    if (snprintf(buffer, sizeof buffer, "%s", path) >= (int)sizeof buffer) {
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
    return mkdir(buffer, 0750) != 0 && errno != EEXIST ? -errno : 0;
}

static char *kind_dir(const struct stan *stan, const char *kind)
{
    return stan_format("%s/%s", stan->dir, kind);
}

int stan_persist_open(struct stan *stan)
{
    int rc = mkdir_p(stan->dir);
    for (size_t i = 0; rc == 0 && i < sizeof kinds / sizeof kinds[0]; i++) {
        char *dir = kind_dir(stan, kinds[i]);
        rc = dir == NULL ? -ENOMEM : mkdir_p(dir);
        free(dir);
    }
    if (rc != 0) {
        LOG_ERROR("STREAM: cannot make %s: %s", stan->dir, strerror(-rc));
        return rc;
    }
    char *path = file_path_join(stan->dir, "cluster_id");
    if (path == NULL) {
        return -ENOMEM;
    }
    FILE *file = fopen(path, "r");
    free(path);
    if (file != NULL) {
        char found[1100] = {0};
        if (fgets(found, sizeof found, file) == NULL) {
            found[0] = '\0';
        }
        fclose(file);
        found[strcspn(found, "\n")] = '\0';
        if (strcmp(found, stan->cluster_id) != 0) {
            LOG_ERROR("STREAM: cluster ID \"%s\" does not match recovered value of \"%s\"",
                      stan->cluster_id, found);
            return -EINVAL;
        }
        return 0;
    }
    char line[1100];
    int length = snprintf(line, sizeof line, "%s\n", stan->cluster_id);
    return file_write_durable(stan->dir, "cluster_id", line, (size_t)length);
}

static int record_write(struct stan *stan, const char *kind, const char *name, json_t *record)
{
    if (stan->memory) {
        json_decref(record);
        return 0;
    }
    char *text = record != NULL ? json_dumps(record, JSON_COMPACT) : NULL;
    json_decref(record);
    char *dir = kind_dir(stan, kind);
    char *file = stan_format("%s.json", name);
    int rc = text == NULL || dir == NULL || file == NULL
                 ? -ENOMEM
                 : file_write_durable(dir, file, text, strlen(text));
    free(text);
    free(dir);
    free(file);
    return rc;
}

static void record_remove(struct stan *stan, const char *kind, const char *name)
{
    if (stan->memory) {
        return;
    }
    char *path = stan_format("%s/%s/%s.json", stan->dir, kind, name);
    if (path != NULL && unlink(path) != 0 && errno != ENOENT) {
        LOG_WARN("STREAM: cannot remove %s: %s", path, strerror(errno));
    }
    free(path);
}

static char *hex(const uint8_t *data, size_t length)
{
    char *out = malloc(length * 2 + 1);
    for (size_t i = 0; out != NULL && i < length; i++) {
        snprintf(out + i * 2, 3, "%02x", data[i]);
    }
    if (out != NULL) {
        out[length * 2] = '\0';
    }
    return out;
}

static size_t unhex(const char *text, uint8_t *out, size_t capacity)
{
    size_t n = 0;
    for (; n < capacity && text[n * 2] != '\0' && text[n * 2 + 1] != '\0'; n++) {
        unsigned value = 0;
        if (sscanf(text + n * 2, "%2x", &value) != 1) {
            break;
        }
        out[n] = (uint8_t)value;
    }
    return n;
}

int stan_persist_client(struct stan *stan, const struct stan_client *client)
{
    char *conn = hex(client->conn_id, client->conn_id_length);
    json_t *record = conn == NULL ? NULL
                                  : json_pack("{s:s, s:s, s:s, s:i, s:i, s:i}", "id", client->id,
                                              "hb_inbox", client->hb_inbox, "conn_id", conn,
                                              "protocol", client->protocol, "ping_interval",
                                              client->ping_interval, "ping_max_out",
                                              client->ping_max_out);
    free(conn);
    return record_write(stan, "clients", client->id, record);
}

void stan_persist_client_remove(struct stan *stan, const char *id)
{
    record_remove(stan, "clients", id);
}

int stan_persist_channel(struct stan *stan, const struct stan_channel *channel)
{
    return record_write(stan, "channels", channel->stream,
                        json_pack("{s:s}", "name", channel->name));
}

void stan_persist_channel_remove(struct stan *stan, const struct stan_channel *channel)
{
    record_remove(stan, "channels", channel->stream);
}

int stan_persist_group(struct stan *stan, const struct stan_group *group)
{
    json_t *record = json_pack(
        "{s:I, s:s, s:s, s:I, s:I, s:I}", "id", (json_int_t)group->id, "channel",
        group->channel->name, "deliver_policy", group->deliver_policy ? group->deliver_policy : "all",
        "start_seq", (json_int_t)group->start_seq, "start_time_ns", (json_int_t)group->start_time_ns,
        "ack_wait", (json_int_t)group->ack_wait_s);
    if (record != NULL && group->queue != NULL) {
        json_object_set_new(record, "queue", json_string(group->queue));
    }
    if (record != NULL && group->durable != NULL) {
        json_object_set_new(record, "durable", json_string(group->durable));
        json_object_set_new(record, "durable_client", json_string(group->durable_client));
    }
    if (record != NULL && group->last_client != NULL) {
        json_object_set_new(record, "last_client", json_string(group->last_client));
        json_object_set_new(record, "last_inbox", json_string(group->last_inbox));
        json_object_set_new(record, "last_ack_inbox", json_string(group->last_ack_inbox));
        json_object_set_new(record, "last_max_inflight", json_integer(group->last_max_inflight));
        json_object_set_new(record, "last_sent", json_integer((json_int_t)group->last_sent));
    }
    char name[32];
    snprintf(name, sizeof name, "%llu", (unsigned long long)group->id);
    return record_write(stan, "groups", name, record);
}

void stan_persist_group_remove(struct stan *stan, const struct stan_group *group)
{
    char name[32];
    snprintf(name, sizeof name, "%llu", (unsigned long long)group->id);
    record_remove(stan, "groups", name);
}

int stan_persist_member(struct stan *stan, const struct stan_member *member)
{
    json_t *record = json_pack(
        "{s:I, s:I, s:s, s:s, s:s, s:i, s:i}", "id", (json_int_t)member->id, "group",
        (json_int_t)member->group->id, "client", member->client->id, "inbox", member->inbox,
        "ack_inbox", member->ack_inbox, "max_inflight", member->max_inflight, "ack_wait",
        member->ack_wait_s);
    char name[32];
    snprintf(name, sizeof name, "%llu", (unsigned long long)member->id);
    return record_write(stan, "members", name, record);
}

void stan_persist_member_remove(struct stan *stan, const struct stan_member *member)
{
    char name[32];
    snprintf(name, sizeof name, "%llu", (unsigned long long)member->id);
    record_remove(stan, "members", name);
}

/* ---- loading ---- */

typedef int record_load_fn(struct stan *stan, json_t *record);

static const char *field_string(json_t *record, const char *key)
{
    return json_string_value(json_object_get(record, key));
}

static int channel_load(struct stan *stan, json_t *record)
{
    const char *name = field_string(record, "name");
    const char *error = NULL;
    if (name == NULL || !stan_channel_name_valid(name)) {
        return -EBADMSG;
    }
    return stan_channel_find(stan, name) != NULL || stan_channel_get(stan, name, &error) != NULL
               ? 0
               : -ENOMEM;
}

static int client_load(struct stan *stan, json_t *record)
{
    const char *id = field_string(record, "id");
    const char *hb_inbox = field_string(record, "hb_inbox");
    const char *conn = field_string(record, "conn_id");
    if (id == NULL || hb_inbox == NULL || conn == NULL) {
        return -EBADMSG;
    }
    uint8_t conn_id[256];
    size_t conn_length = unhex(conn, conn_id, sizeof conn_id);
    struct stan_client *client = stan_client_add(
        stan, id, hb_inbox, conn_id, conn_length,
        (int32_t)json_integer_value(json_object_get(record, "protocol")),
        (int32_t)json_integer_value(json_object_get(record, "ping_interval")),
        (int32_t)json_integer_value(json_object_get(record, "ping_max_out")));
    return client != NULL ? 0 : -ENOMEM;
}

static char *dup_or_null(const char *text)
{
    return text != NULL ? strdup(text) : NULL;
}

static int group_load(struct stan *stan, json_t *record)
{
    const char *channel_name = field_string(record, "channel");
    const char *policy = field_string(record, "deliver_policy");
    const char *error = NULL;
    if (channel_name == NULL || policy == NULL || !stan_channel_name_valid(channel_name)) {
        return -EBADMSG;
    }
    struct stan_channel *channel = stan_channel_get(stan, channel_name, &error);
    if (channel == NULL) {
        return -ENOMEM;
    }
    uint64_t id = (uint64_t)json_integer_value(json_object_get(record, "id"));
    struct stan_group *group = stan_group_new(stan, channel, id);
    if (group == NULL) {
        return -ENOMEM;
    }
    group->ready = true;
    group->deliver_policy = strdup(policy);
    group->start_seq = (uint64_t)json_integer_value(json_object_get(record, "start_seq"));
    group->start_time_ns = json_integer_value(json_object_get(record, "start_time_ns"));
    group->ack_wait_s = json_integer_value(json_object_get(record, "ack_wait"));
    group->queue = dup_or_null(field_string(record, "queue"));
    group->durable = dup_or_null(field_string(record, "durable"));
    group->durable_client = dup_or_null(field_string(record, "durable_client"));
    group->last_client = dup_or_null(field_string(record, "last_client"));
    group->last_inbox = dup_or_null(field_string(record, "last_inbox"));
    group->last_ack_inbox = dup_or_null(field_string(record, "last_ack_inbox"));
    group->last_max_inflight =
        (int32_t)json_integer_value(json_object_get(record, "last_max_inflight"));
    group->last_sent = (uint64_t)json_integer_value(json_object_get(record, "last_sent"));
    if (group->durable != NULL && group->durable_client == NULL) {
        return -EBADMSG;
    }
    return 0;
}

static struct stan_group *group_by_id(struct stan *stan, uint64_t id)
{
    for (size_t c = 0; c < stan->channel_count; c++) {
        struct stan_channel *channel = stan->channels[c];
        for (size_t g = 0; g < channel->group_count; g++) {
            if (channel->groups[g]->id == id) {
                return channel->groups[g];
            }
        }
    }
    return NULL;
}

static int member_load(struct stan *stan, json_t *record)
{
    uint64_t id = (uint64_t)json_integer_value(json_object_get(record, "id"));
    struct stan_group *group =
        group_by_id(stan, (uint64_t)json_integer_value(json_object_get(record, "group")));
    const char *client_id = field_string(record, "client");
    struct stan_client *client = client_id != NULL ? stan_client_find(stan, client_id) : NULL;
    const char *inbox = field_string(record, "inbox");
    const char *ack_inbox = field_string(record, "ack_inbox");
    if (group == NULL || client == NULL || inbox == NULL || ack_inbox == NULL) {
        return -ENOENT; /* its client or group is gone */
    }
    struct stan_member *member = stan_member_new(stan, group, client, id);
    if (member == NULL) {
        return -ENOMEM;
    }
    member->inbox = strdup(inbox);
    member->ack_inbox = strdup(ack_inbox);
    member->max_inflight = (int32_t)json_integer_value(json_object_get(record, "max_inflight"));
    member->ack_wait_s = (int32_t)json_integer_value(json_object_get(record, "ack_wait"));
    if (member->max_inflight < 1) {
        member->max_inflight = 1;
    }
    return member->inbox != NULL && member->ack_inbox != NULL ? 0 : -ENOMEM;
}

static int kind_load(struct stan *stan, const char *kind, record_load_fn *load)
{
    char *dir_path = kind_dir(stan, kind);
    if (dir_path == NULL) {
        return -ENOMEM;
    }
    DIR *dir = opendir(dir_path);
    if (dir == NULL) {
        free(dir_path);
        return errno == ENOENT ? 0 : -errno;
    }
    int rc = 0;
    struct dirent *entry;
    while (rc == 0 && (entry = readdir(dir)) != NULL) {
        size_t length = strlen(entry->d_name);
        if (length < 6 || strcmp(entry->d_name + length - 5, ".json") != 0) {
            continue; /* ".", "..", a temporary file of a write cut short */
        }
        char *path = file_path_join(dir_path, entry->d_name);
        if (path == NULL) {
            rc = -ENOMEM;
            break;
        }
        json_error_t error;
        json_t *record = json_load_file(path, 0, &error);
        int loaded = record != NULL ? load(stan, record) : -EBADMSG;
        json_decref(record);
        if (loaded == -ENOMEM) {
            rc = loaded;
        } else if (loaded != 0) {
            LOG_WARN("STREAM: dropping %s: %s", path,
                     loaded == -ENOENT ? "its client or group is gone" : "unreadable");
            unlink(path);
        }
        free(path);
    }
    closedir(dir);
    free(dir_path);
    return rc;
}

int stan_persist_load(struct stan *stan)
{
    int64_t max_channels = stan->max_channels;
    stan->max_channels = 0; /* what was made before stays, whatever -mc says now */
    int rc = kind_load(stan, "channels", channel_load);
    if (rc == 0) {
        rc = kind_load(stan, "clients", client_load);
    }
    if (rc == 0) {
        rc = kind_load(stan, "groups", group_load);
    }
    if (rc == 0) {
        rc = kind_load(stan, "members", member_load);
    }
    stan->max_channels = max_channels;
    for (size_t c = 0; rc == 0 && c < stan->channel_count; c++) {
        struct stan_channel *channel = stan->channels[c];
        for (size_t g = 0; rc == 0 && g < channel->group_count; g++) {
            struct stan_group *group = channel->groups[g];
            for (size_t m = 0; rc == 0 && m < group->member_count; m++) {
                rc = stan_member_activate(stan, group->members[m]);
            }
            group->inflight_unknown = true; /* deliveries resume after the sweep */
        }
    }
    return rc;
}
