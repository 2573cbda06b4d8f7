/* /metrics, private to engine/monitor_metrics*.c: the Prometheus text format (0.0.4)
 * writer (monitor_metrics.c), a reader of ionats's own compact JSON
 * (monitor_metrics_json.c), and the two pages made the way prometheus-nats-exporter makes
 * them (monitor_metrics_exporter.c).
 *
 * The one idea: the exporter names its gnatsd_varz_* and jetstream_* series after the JSON
 * of /varz and /jsz (?consumers=true&config=true&raft=true) that it reads; so /metrics
 * writes those two pages in memory, with the same writers the endpoints use, and reads
 * them as the exporter does (monitor_metrics_exporter.c): the series have the exporter's
 * names, types, help texts and labels, and their values can only agree with the pages.
 * gnatsd_connz_* and the ionats_shard_* series that no NATS server has are written from
 * the parts' own figures (monitor_metrics.c).
 *
 * Differences from the exporter, by design: the server_id label is the server's own id
 * (the exporter's is the monitoring URL unless -use_internal_server_id); numbers are
 * written as integers where they are integers (the exporter writes Go's %g, "1.048576e+06").
 *
 * Shard 0's thread (the JSON reader: pure functions). */
#ifndef IONATS_ENGINE_MONITOR_METRICS_H
#define IONATS_ENGINE_MONITOR_METRICS_H

#include "proto/go_json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server;

/* One label of a sample. */
struct monitor_metrics_label {
    const char *name;  /* static: a valid label name */
    const char *value; /* borrowed for the call: bytes, or the inside of a JSON string */
    size_t length;
    bool json; /* value is JSON-escaped (\" \\ \n \uXXXX ...): decoded when written */
};

/* "# HELP name help" and "# TYPE name type"; `help` has no backslash or newline. */
void monitor_metrics_family(struct go_json *out, const char *name, const char *type,
                            const char *help);

/* One sample line: name, then `suffix` ("" or "_bucket", "_sum", "_count"), the labels in
 * the order given (Prometheus escapes applied), and `value` as it is (a number's text). */
void monitor_metrics_sample(struct go_json *out, const char *name, const char *suffix,
                            const struct monitor_metrics_label *labels, size_t label_count,
                            const char *value, size_t value_length);

/* The same with an integer value. */
void monitor_metrics_sample_uint(struct go_json *out, const char *name,
                                 const struct monitor_metrics_label *labels, size_t label_count,
                                 uint64_t value);

/* Room for a number's text and its NUL: a uint64's 20 digits, or a sign, 10 digits, a point
 * and 9 decimals of seconds. */
enum { MONITOR_METRICS_NUMBER_MAX = 24 };

/* Writes `value` in decimal, NUL-terminated; returns its length. */
size_t monitor_metrics_uint_text(uint64_t value, char *text);

/* Writes `ns` as seconds, exactly ("0.000001023", "-1.5", "2"), NUL-terminated; returns its
 * length. */
size_t monitor_metrics_seconds_text(int64_t ns, char *text);

/* A label whose value is a C string. */
struct monitor_metrics_label monitor_metrics_label_cstring(const char *name, const char *value);

/* ---- monitor_metrics_json.c: reading ionats's own compact JSON ---- */

/* A value's text, [at, end); or a string's inside, quotes excluded. at == NULL: absent.
 * Borrowed from the text read. */
struct monitor_metrics_json {
    const char *at;
    const char *end;
};

struct monitor_metrics_json_iter {
    const char *at;  /* the next member or element, or its comma */
    const char *end; /* the container's closing bracket */
    bool object;
    bool first;
};

/* Walks `value` if it is an object (`object`) or an array; false otherwise. */
bool monitor_metrics_json_open(struct monitor_metrics_json value, bool object,
                               struct monitor_metrics_json_iter *iter);

/* The next member (its key's inside in *key) or element; false at the end, or where the
 * text stops making sense (then the walk ends there). */
bool monitor_metrics_json_next(struct monitor_metrics_json_iter *iter,
                               struct monitor_metrics_json *key,
                               struct monitor_metrics_json *value);

/* Whether a key (a string's inside) is `name`, escapes not decoded. */
bool monitor_metrics_json_key_is(struct monitor_metrics_json key, const char *name);

/* The member `name` of `object`; absent (at NULL) when there is none. */
struct monitor_metrics_json monitor_metrics_json_member(struct monitor_metrics_json object,
                                                        const char *name);

bool monitor_metrics_json_is_number(struct monitor_metrics_json value);

/* A string's inside; absent when `value` is not a string. */
struct monitor_metrics_json monitor_metrics_json_string(struct monitor_metrics_json value);

/* An RFC 3339 time (a string's inside, as Go writes time.Time) in nanoseconds since the
 * epoch: "2026-12-07T10:11:39.998153781Z", or with "+hh:mm" / "-hh:mm". */
bool monitor_metrics_json_time_ns(struct monitor_metrics_json text, int64_t *ns);

/* ---- monitor_metrics_exporter.c ---- */

/* gnatsd_varz_*: every number in /varz's compact JSON `varz` (objects flattened with '_',
 * '/' in keys as '_'), the strings server_id, server_name, version, domain, leader and name
 * as label gauges (`value` label, 1), start and config_load_time as epoch milliseconds;
 * booleans and arrays left out, as the exporter leaves them. */
void monitor_metrics_varz_write(const struct server *server, const char *varz, size_t length,
                                struct go_json *out);

/* jetstream_*: the server's, the account's, each stream's and each consumer's series from
 * /jsz's compact JSON `jsz` (written with account details, streams, consumers and config).
 * Sets out->failed when memory for the rows runs out. */
void monitor_metrics_jsz_write(const struct server *server, const char *jsz, size_t length,
                               struct go_json *out);

#endif
