/* What a monitoring request asks: its endpoint from the path, its options from the query
 * string, read as nats-server reads them (Go's strconv for numbers and booleans, with the
 * same 400 texts for a bad value), and the index page. Pure functions; shard 0 calls them.
 *
 * Options read: connz sort, subs (1 or detail), offset, limit, cid, state; subsz subs,
 * offset, limit, test; healthz js-enabled-only, js-server-only, js-meta-only (checked as
 * booleans; every answer is "ok" while the server runs); jsz accounts, streams,
 * consumers, direct-consumers, config, offset, limit, leader-only, raft,
 * stream-leader-only, acc. /metrics takes none: it asks jsz's details with consumers and
 * config, as prometheus-nats-exporter's -jsz=all does. Others (connz auth, acc, user,
 * filter_subject, mqtt_client; JSONP callback) are read by nats-server but ignored here. */
#include "engine/monitor_internal.h"

#include "base/assert.h"
#include "proto/subject.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const monitor_endpoint_paths[MONITOR_ENDPOINT_COUNT] = {
    [MONITOR_ROOT] = "/",
    [MONITOR_ACCOUNTZ] = "/accountz",
    [MONITOR_CONNZ] = "/connz",
    [MONITOR_GATEWAYZ] = "/gatewayz",
    [MONITOR_HEALTHZ] = "/healthz",
    [MONITOR_JSZ] = "/jsz",
    [MONITOR_LEAFZ] = "/leafz",
    [MONITOR_METRICS] = "/metrics",
    [MONITOR_ROUTEZ] = "/routez",
    [MONITOR_SUBSZ] = "/subsz",
    [MONITOR_VARZ] = "/varz",
};

const char monitor_index_html[] =
    "<html lang=\"en\">\n<head><title>ionats monitoring</title></head>\n<body>\n"
    "<h1>ionats v" IONATS_VERSION "</h1>\n"
    "<a href=./varz>General</a><br/>\n"
    "<a href=./jsz>JetStream</a><br/>\n"
    "<a href=./connz>Connections</a><br/>\n"
    "<a href=./accountz>Accounts</a><br/>\n"
    "<a href=./subsz>Subscriptions</a><br/>\n"
    "<a href=./routez>Routes</a><br/>\n"
    "<a href=./leafz>LeafNodes</a><br/>\n"
    "<a href=./gatewayz>Gateways</a><br/>\n"
    "<a href=./healthz>Health Probe</a><br/>\n"
    "<a href=./metrics>Metrics (Prometheus)</a><br/>\n"
    "</body>\n</html>\n";
const size_t monitor_index_html_length = sizeof monitor_index_html - 1;

enum monitor_endpoint monitor_endpoint_find(const struct http_request *request)
{
    if (request->path_cut) {
        return MONITOR_ENDPOINT_COUNT;
    }
    for (int i = 0; i < MONITOR_ENDPOINT_COUNT; i++) {
        if (strcmp(request->path, monitor_endpoint_paths[i]) == 0) {
            return (enum monitor_endpoint)i;
        }
    }
    return MONITOR_ENDPOINT_COUNT;
}

/* ---- Go's strconv, and nats-server's texts for what it refuses ---- */

/* "Error decoding <what> for '<key>': strconv.<func>: parsing "<value>": <why>" */
static int decode_error(struct go_json *error, const char *what, const char *key,
                        const char *func, const char *value, const char *why)
{
    go_json_literal(error, "Error decoding ");
    go_json_literal(error, what);
    go_json_literal(error, " for '");
    go_json_literal(error, key);
    go_json_literal(error, "': strconv.");
    go_json_literal(error, func);
    go_json_literal(error, ": parsing ");
    go_json_quote(error, value, strlen(value));
    go_json_literal(error, ": ");
    go_json_literal(error, why);
    return -EINVAL;
}

/* Decimal digits into *value, as strconv reads them: the syntax first (-EINVAL), then the
 * range (-ERANGE past `max`). */
static int digits_parse(const char *text, uint64_t max, uint64_t *value)
{
    if (*text == '\0' || strspn(text, "0123456789") != strlen(text)) {
        return -EINVAL;
    }
    uint64_t number = 0;
    for (const char *p = text; *p != '\0'; p++) {
        uint64_t digit = (uint64_t)(*p - '0');
        if (number > (max - digit) / 10) {
            return -ERANGE; /* number * 10 + digit would pass max */
        }
        number = number * 10 + digit;
    }
    *value = number;
    return 0;
}

/* strconv.Atoi of a query value ("" reads as 0, as nats-server's decodeInt has it). */
static int query_int(struct http_slice query, const char *key, char *value, int64_t *out,
                     struct go_json *error)
{
    *out = 0;
    if (!http_query_get(query, key, value, HTTP_HEAD_MAX + 1) || value[0] == '\0') {
        return 0;
    }
    const char *digits = value + (value[0] == '+' || value[0] == '-');
    bool negative = value[0] == '-';
    uint64_t magnitude = 0;
    int rc = digits_parse(digits, negative ? (uint64_t)INT64_MAX + 1 : INT64_MAX, &magnitude);
    if (rc != 0) {
        return decode_error(error, "int", key, "Atoi", value,
                            rc == -ERANGE ? "value out of range" : "invalid syntax");
    }
    /* -(magnitude - 1) - 1 reaches INT64_MIN without overflowing */
    *out = negative ? (magnitude == 0 ? 0 : -(int64_t)(magnitude - 1) - 1) : (int64_t)magnitude;
    return 0;
}

/* strconv.ParseUint(value, 10, 64). */
static int query_uint(struct http_slice query, const char *key, char *value, uint64_t *out,
                      struct go_json *error)
{
    *out = 0;
    if (!http_query_get(query, key, value, HTTP_HEAD_MAX + 1) || value[0] == '\0') {
        return 0;
    }
    int rc = digits_parse(value, UINT64_MAX, out);
    if (rc != 0) {
        return decode_error(error, "uint64", key, "ParseUint", value,
                            rc == -ERANGE ? "value out of range" : "invalid syntax");
    }
    return 0;
}

/* strconv.ParseBool: 1 t T TRUE true True, 0 f F FALSE false False; "" is false. */
static int bool_parse(const char *key, const char *value, bool *out, struct go_json *error)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    *out = false;
    if (value[0] == '\0') {
        return 0;
    }
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(value, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(value, no[i]) == 0) {
            return 0;
        }
    }
    return decode_error(error, "boolean", key, "ParseBool", value, "invalid syntax");
}

static int query_bool(struct http_slice query, const char *key, char *value, bool *out,
                      struct go_json *error)
{
    *out = false;
    if (!http_query_get(query, key, value, HTTP_HEAD_MAX + 1)) {
        return 0;
    }
    return bool_parse(key, value, out, error);
}

/* offset and limit as nats-server takes them: a negative offset is 0, a limit of 0 or
 * less is the default. */
static int page_parse(struct http_slice query, char *value, struct monitor_options *options,
                      struct go_json *error)
{
    int64_t offset = 0;
    int64_t limit = 0;
    if (query_int(query, "offset", value, &offset, error) != 0 ||
        query_int(query, "limit", value, &limit, error) != 0) {
        return -EINVAL;
    }
    options->offset = offset > 0 ? (uint64_t)offset : 0;
    options->limit = limit > 0 ? (uint64_t)limit : MONITOR_LIMIT_DEFAULT;
    return 0;
}

static int connz_sort_parse(const char *value, bool closed, struct monitor_options *options,
                            struct go_json *error)
{
    static const struct {
        const char *name;
        enum monitor_sort sort;
    } sorts[] = {
        {"cid", MONITOR_SORT_CID},           {"start", MONITOR_SORT_START},
        {"subs", MONITOR_SORT_SUBS},         {"pending", MONITOR_SORT_PENDING},
        {"msgs_to", MONITOR_SORT_MSGS_TO},   {"msgs_from", MONITOR_SORT_MSGS_FROM},
        {"bytes_to", MONITOR_SORT_BYTES_TO}, {"bytes_from", MONITOR_SORT_BYTES_FROM},
        {"last", MONITOR_SORT_LAST},         {"idle", MONITOR_SORT_IDLE},
        {"uptime", MONITOR_SORT_UPTIME},     {"rtt", MONITOR_SORT_RTT},
    };
    options->sort = MONITOR_SORT_CID;
    if (value[0] == '\0') {
        return 0;
    }
    for (size_t i = 0; i < sizeof sorts / sizeof sorts[0]; i++) {
        if (strcmp(value, sorts[i].name) == 0) {
            options->sort = sorts[i].sort;
            return 0;
        }
    }
    if (strcmp(value, "stop") == 0 || strcmp(value, "reason") == 0) {
        if (closed) {
            options->sort = value[0] == 's' ? MONITOR_SORT_STOP : MONITOR_SORT_REASON;
            return 0;
        }
        go_json_literal(error, "sort by ");
        go_json_literal(error, value);
        go_json_literal(error, " only valid on closed connections");
        return -EINVAL;
    }
    go_json_literal(error, "invalid sorting option: ");
    go_json_literal(error, value);
    return -EINVAL;
}

static int connz_parse(struct http_slice query, char *value, struct monitor_options *options,
                       struct go_json *error)
{
    if (http_query_get(query, "state", value, HTTP_HEAD_MAX + 1) && value[0] != '\0') {
        if (strcasecmp(value, "closed") == 0) {
            options->state = MONITOR_STATE_CLOSED;
        } else if (strcasecmp(value, "all") == 0) {
            options->state = MONITOR_STATE_ALL;
        } else if (strcasecmp(value, "open") != 0) {
            go_json_literal(error, "Error decoding state for ");
            go_json_literal(error, value);
            return -EINVAL;
        }
    }
    (void)http_query_get(query, "sort", value, HTTP_HEAD_MAX + 1);
    if (connz_sort_parse(value, options->state == MONITOR_STATE_CLOSED, options, error) != 0) {
        return -EINVAL;
    }
    if (http_query_get(query, "subs", value, HTTP_HEAD_MAX + 1)) {
        bool subs = false;
        if (strcmp(value, "detail") == 0) {
            options->subs = MONITOR_SUBS_DETAIL;
        } else if (bool_parse("subs", value, &subs, error) != 0) {
            return -EINVAL;
        } else {
            options->subs = subs ? MONITOR_SUBS_LIST : MONITOR_SUBS_NONE;
        }
    }
    if (page_parse(query, value, options, error) != 0 ||
        query_uint(query, "cid", value, &options->cid, error) != 0) {
        return -EINVAL;
    }
    if (options->cid > 0) {
        options->limit = 1; /* as nats-server: one connection asked for */
    }
    return 0;
}

static int subsz_parse(struct http_slice query, char *value, struct monitor_options *options,
                       struct go_json *error)
{
    bool subs = false;
    if (query_bool(query, "subs", value, &subs, error) != 0 ||
        page_parse(query, value, options, error) != 0) {
        return -EINVAL;
    }
    options->subs = subs ? MONITOR_SUBS_LIST : MONITOR_SUBS_NONE;
    if (http_query_get(query, "test", value, HTTP_HEAD_MAX + 1) && value[0] != '\0') {
        size_t length = strlen(value);
        if (!subject_valid_literal(value, length)) {
            go_json_literal(error, "invalid test subject, must be valid publish subject: ");
            go_json_literal(error, value);
            return -EINVAL;
        }
        options->test = malloc(length + 1);
        if (options->test == NULL) {
            go_json_literal(error, "out of memory");
            return -ENOMEM;
        }
        memcpy(options->test, value, length + 1);
        options->test_length = length;
    }
    return 0;
}

static int healthz_parse(struct http_slice query, char *value, struct go_json *error)
{
    static const char *const switches[] = {"js-enabled-only", "js-server-only", "js-meta-only"};
    for (size_t i = 0; i < sizeof switches / sizeof switches[0]; i++) {
        bool on = false;
        if (query_bool(query, switches[i], value, &on, error) != 0) {
            return -EINVAL;
        }
    }
    return 0;
}

/* The one account JetStream has: nats-server's global account. */
#define JSZ_ACCOUNT "$G"

/* nats-server's HandleJsz reads its options in this order (the first bad one answers),
 * then Jsz settles them: which of its accounts (here only $G) get an account_details
 * entry. acc= names one (and takes precedence); otherwise accounts=1 lists them by name,
 * offset and limit paging the list, a limit of 0 meaning 1024 and a negative one no
 * paging at all. */
static int jsz_parse(struct http_slice query, char *value, struct monitor_options *options,
                     struct go_json *error)
{
    bool accounts = false;
    bool direct_consumers = false;
    bool stream_leader_only = false;
    int64_t offset = 0;
    int64_t limit = 0;
    if (query_bool(query, "accounts", value, &accounts, error) != 0 ||
        query_bool(query, "streams", value, &options->jsz_streams, error) != 0 ||
        query_bool(query, "consumers", value, &options->jsz_consumers, error) != 0 ||
        query_bool(query, "direct-consumers", value, &direct_consumers, error) != 0 ||
        query_bool(query, "config", value, &options->jsz_config, error) != 0 ||
        query_int(query, "offset", value, &offset, error) != 0 ||
        query_int(query, "limit", value, &limit, error) != 0 ||
        query_bool(query, "leader-only", value, &options->jsz_leader_only, error) != 0 ||
        query_bool(query, "raft", value, &options->jsz_raft, error) != 0 ||
        query_bool(query, "stream-leader-only", value, &stream_leader_only, error) != 0) {
        return -EINVAL;
    }
    /* direct consumers (none here) and stream leaders (this server leads every stream)
     * change nothing standalone */
    if (!http_query_get(query, "acc", value, HTTP_HEAD_MAX + 1)) {
        value[0] = '\0';
    }
    options->jsz_streams |= options->jsz_consumers;
    accounts |= options->jsz_streams && value[0] == '\0';
    if (strcmp(value, JSZ_ACCOUNT) == 0) {
        options->jsz_details = true;
    } else if (accounts) {
        options->jsz_details = limit < 0 || offset <= 0; /* one account, first by name */
    }
    return 0;
}

int monitor_options_parse(enum monitor_endpoint endpoint, struct http_slice query,
                          struct monitor_options *options, struct go_json *error)
{
    ASSERT(query.length <= HTTP_HEAD_MAX); /* a slice of a head */
    memset(options, 0, sizeof *options);
    options->endpoint = endpoint;
    options->limit = MONITOR_LIMIT_DEFAULT;
    char value[HTTP_HEAD_MAX + 1];
    switch (endpoint) {
    case MONITOR_CONNZ:
        return connz_parse(query, value, options, error);
    case MONITOR_SUBSZ:
        return subsz_parse(query, value, options, error);
    case MONITOR_HEALTHZ:
        return healthz_parse(query, value, error);
    case MONITOR_LEAFZ: {
        bool subs = false;
        int rc = query_bool(query, "subs", value, &subs, error);
        options->subs = subs ? MONITOR_SUBS_LIST : MONITOR_SUBS_NONE;
        return rc != 0 ? -EINVAL : 0;
    }
    case MONITOR_JSZ:
        return jsz_parse(query, value, options, error);
    case MONITOR_METRICS:
        /* the exporter's /jsz?consumers=true&config=true&raft=true */
        options->jsz_details = true;
        options->jsz_streams = true;
        options->jsz_consumers = true;
        options->jsz_config = true;
        options->jsz_raft = true;
        return 0;
    default:
        return 0;
    }
}
