/* Counter streams (allow_msg_counter, nats-server 2.12): a publish carries only its
 * Nats-Incr and is stored as the subject's new total, {"val":"<total>"}; a total sourced
 * from another counter stream is folded in by the difference from the last total seen
 * from that origin and subject, kept in the Nats-Counter-Sources header as nats-server
 * keeps it ({"<stream>":{"<subject>":"<total>"}}).
 *
 * The one idea: the subject's last stored message is the counter's state, so the next
 * total is one read of the subject index and one decimal addition (proto/js_counter.h),
 * and a restart has nothing to rebuild.
 *
 * Owner shard's thread only. */
#include "engine/js_counter.h"

#include "engine/js_internal.h"
#include "proto/js_counter.h"
#include "proto/js_pub.h"
#include "store/stream_store.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The "val" of a counter body; false when the body is not a counter's. */
static bool body_value(const char *body, size_t length, char *out, size_t size)
{
    json_t *root = json_loadb(body, length, 0, NULL);
    const char *value = json_string_value(json_object_get(root, "val"));
    bool ok = value != NULL && js_counter_valid(value, strlen(value)) && strlen(value) < size;
    if (ok) {
        memcpy(out, value, strlen(value) + 1);
    }
    json_decref(root);
    return ok;
}

/* Sets header `key` to `value` in block[length] (nats-server's setHeader: the value
 * replaced where the key is, else a line added at the end), into a new malloc'd block. */
static char *header_set(const char *block, size_t length, const char *key, const char *value,
                        size_t *out_length)
{
    size_t key_length = strlen(key);
    size_t value_length = strlen(value);
    char *out = malloc(length + key_length + value_length + 36); /* +2: a CRLF added */
    if (out == NULL) {
        return NULL;
    }
    size_t written = 0;
    bool replaced = false;
    size_t at = 0;
    if (length == 0) {
        written = (size_t)sprintf(out, "NATS/1.0\r\n");
    } else {
        const char *crlf = memmem(block, length, "\r\n", 2);
        at = crlf != NULL ? (size_t)(crlf - block) + 2 : length;
        memcpy(out, block, at);
        written = at;
    }
    while (at + 2 <= length) {
        const char *end = memmem(block + at, length - at, "\r\n", 2);
        size_t line = end != NULL ? (size_t)(end - (block + at)) : length - at;
        if (line == 0) {
            break;
        }
        if (!replaced && line > key_length && memcmp(block + at, key, key_length) == 0 &&
            block[at + key_length] == ':') {
            written += (size_t)sprintf(out + written, "%s: %s\r\n", key, value);
            replaced = true;
        } else {
            /* the line, then its CRLF written (a last line may have come without one) */
            memcpy(out + written, block + at, line);
            out[written + line] = '\r';
            out[written + line + 1] = '\n';
            written += line + 2;
        }
        at += line + 2;
    }
    if (!replaced) {
        written += (size_t)sprintf(out + written, "%s: %s\r\n", key, value);
    }
    out[written] = '\r';
    out[written + 1] = '\n';
    *out_length = written + 2;
    return out;
}

/* A sourced total: the increment is its difference from the last total seen from its
 * origin and subject, and the sources map records it. Returns the increment's text in
 * `increment`, or false for a broken counter. */
static bool sourced_increment(json_t *sources, const char *source_header, size_t source_length,
                              struct proto_slice subject, const char *body, size_t body_length,
                              char *increment, size_t size)
{
    /* "<origin> <seq> <filter> <destination> <subject> [...]" */
    char fields[5][JS_SUBJECT_TRANSFORMED_MAX];
    size_t count = 0;
    size_t start = 0;
    for (size_t i = 0; i <= source_length && count < 5; i++) {
        if (i == source_length || source_header[i] == ' ') {
            size_t length = i - start < sizeof fields[0] ? i - start : sizeof fields[0] - 1;
            memcpy(fields[count], source_header + start, length);
            fields[count][length] = '\0';
            count++;
            start = i + 1;
        }
    }
    char origin_subject[JS_SUBJECT_TRANSFORMED_MAX];
    if (count >= 5) {
        snprintf(origin_subject, sizeof origin_subject, "%s", fields[4]);
    } else {
        snprintf(origin_subject, sizeof origin_subject, "%.*s", (int)subject.length, subject.data);
    }
    char total[JS_COUNTER_DIGITS_MAX + 2];
    if (count == 0 || !body_value(body, body_length, total, sizeof total)) {
        return false;
    }
    json_t *per_origin = json_object_get(sources, fields[0]);
    if (per_origin == NULL) {
        per_origin = json_object();
        if (per_origin == NULL || json_object_set_new(sources, fields[0], per_origin) != 0) {
            return false;
        }
    }
    const char *previous = json_string_value(json_object_get(per_origin, origin_subject));
    if (previous == NULL || !js_counter_valid(previous, strlen(previous))) {
        previous = "0";
    }
    if (js_counter_add(total, strlen(total), previous, strlen(previous), true, increment, size) <
        0) {
        return false;
    }
    return json_object_set_new(per_origin, origin_subject, json_string(total)) == 0;
}

int js_counter_next(struct js_stream *stream, struct proto_slice subject, const char *header,
                    size_t header_length, const char *body, size_t body_length,
                    const struct js_pub_directives *directives, struct js_counter_next *out)
{
    uint64_t last = 0;
    struct stream_store_msg previous;
    if (stream_store_subject_last(stream->store, (const uint8_t *)subject.data, subject.length,
                                  &last) == 0 &&
        stream_store_get(stream->store, last, &previous) == 0) {
        const struct js_counter_last known = {
            .header = (const char *)previous.header,
            .header_length = previous.header_length,
            .body = (const char *)previous.payload,
            .body_length = previous.payload_length,
        };
        return js_counter_next_after(&known, subject, header, header_length, body, body_length,
                                     directives, out);
    }
    return js_counter_next_after(NULL, subject, header, header_length, body, body_length,
                                 directives, out);
}

int js_counter_next_after(const struct js_counter_last *previous, struct proto_slice subject,
                          const char *header, size_t header_length, const char *body,
                          size_t body_length, const struct js_pub_directives *directives,
                          struct js_counter_next *out)
{
    memset(out, 0, sizeof *out);
    char initial[JS_COUNTER_DIGITS_MAX + 2] = "0";
    json_t *sources = NULL;
    if (previous != NULL) {
        if (!body_value(previous->body, previous->body_length, initial, sizeof initial)) {
            return -EBADMSG;
        }
        struct js_pub_text known = js_pub_header_value(previous->header, previous->header_length,
                                                       "Nats-Counter-Sources");
        if (known.bytes != NULL && known.length > 0) {
            sources = json_loadb(known.bytes, known.length, 0, NULL);
            if (!json_is_object(sources)) {
                json_decref(sources);
                return -EBADMSG;
            }
        }
    }
    char increment[JS_COUNTER_DIGITS_MAX + 2];
    struct js_pub_text source = js_pub_header_value(header, header_length, "Nats-Stream-Source");
    bool sourced = source.bytes != NULL && source.length > 0;
    if (sourced) {
        if (sources == NULL && (sources = json_object()) == NULL) {
            return -ENOMEM;
        }
        if (!sourced_increment(sources, source.bytes, source.length, subject, body, body_length,
                               increment, sizeof increment)) {
            json_decref(sources);
            return -EBADMSG;
        }
    }
    /* a client's increment goes as it came (leading zeros may make it long): the addition
     * strips them and bounds the digits */
    const char *addend = sourced ? increment : directives->incr.bytes;
    size_t addend_length = sourced ? strlen(increment) : directives->incr.length;
    char total[JS_COUNTER_DIGITS_MAX + 2];
    int total_length = js_counter_add(initial, strlen(initial), addend, addend_length, false,
                                      total, sizeof total);
    if (total_length < 0) {
        json_decref(sources);
        return -EBADMSG;
    }
    out->body_length =
        (size_t)snprintf(out->body, sizeof out->body, "{\"val\":\"%s\"}", total);
    out->value = out->body + 8;
    out->value_length = (size_t)total_length;
    if (sourced || json_object_size(sources) > 0) {
        /* a sourced total's increment is the difference applied; the origins' totals go
         * on with every later total, as nats-server rewrites them */
        out->header = malloc(header_length > 0 ? header_length : 1);
        out->header_length = header_length;
        if (out->header != NULL && header_length > 0) {
            memcpy(out->header, header, header_length);
        }
        if (out->header != NULL && sourced) {
            char *next = header_set(out->header, out->header_length, "Nats-Incr", increment,
                                    &out->header_length);
            free(out->header);
            out->header = next;
        }
        char *text = json_object_size(sources) > 0
                         ? json_dumps(sources, JSON_COMPACT | JSON_SORT_KEYS)
                         : NULL;
        if (out->header != NULL && text != NULL) {
            char *next = header_set(out->header, out->header_length, "Nats-Counter-Sources", text,
                                    &out->header_length);
            free(out->header);
            out->header = next;
        }
        free(text);
        if (out->header == NULL) {
            json_decref(sources);
            return -ENOMEM;
        }
    }
    json_decref(sources);
    return 0;
}
