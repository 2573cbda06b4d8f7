/* JetStream on the monitoring port: /varz's jetstream object and /jsz with its options
 * (accounts, streams, consumers, config, raft, acc, offset, limit), filled with what the
 * test made through libnats: streams on several shards, file and memory storage,
 * messages, durable consumers, API requests and an API error. See test_jetstream.c for
 * the whole suite.
 *
 * The one idea: every figure is checked against what JetStream itself reports for the
 * same state, read just before: each stream's bytes from STREAM.INFO, the API counts from
 * $JS.API.INFO (nats-server counts a request once answered, so the page says one more
 * than that reply). Responses are read whole over a raw socket (Connection: close) and
 * parsed with jansson (integers as reals: the account's unlimited reservations are
 * uint64's largest). ionats only: the harness gives the reference no HTTP port, so with
 * IONATS_TEST_SERVER=nats-server the test says so and passes. Test thread only. */
#include "tests/integration/test_jetstream.h"

#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { RESPONSE_MAX = 1 << 18 };

static const char *const MONITOR_ARGS[] = {"-m", "-1", NULL};

struct page {
    int status;
    char text[RESPONSE_MAX]; /* the whole response, NUL-terminated */
    const char *body;        /* into text */
};

/* GETs `path` on a connection of its own, read until the broker closes it. */
static void page_get(int port, const char *path, struct page *page)
{
    int fd = test_connect_raw(port);
    ck_assert_int_ge(fd, 0);
    char request[512];
    snprintf(request, sizeof request,
             "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
    ck_assert_int_eq(test_send_all(fd, request, strlen(request)), 0);
    size_t length = 0;
    int64_t deadline = itest_now_ms() + ITEST_WAIT_MS;
    for (;;) {
        struct pollfd poll_fd = {.fd = fd, .events = POLLIN};
        int left = (int)(deadline - itest_now_ms());
        ck_assert_msg(left > 0 && poll(&poll_fd, 1, left) == 1, "%s: no whole answer", path);
        ck_assert_uint_lt(length, sizeof page->text - 1);
        ssize_t n = recv(fd, page->text + length, sizeof page->text - 1 - length, 0);
        ck_assert_int_ge(n, 0);
        if (n == 0) {
            break;
        }
        length += (size_t)n;
    }
    close(fd);
    page->text[length] = '\0';
    ck_assert_int_eq(sscanf(page->text, "HTTP/1.1 %d", &page->status), 1);
    const char *end = strstr(page->text, "\r\n\r\n");
    ck_assert_ptr_nonnull(end);
    page->body = end + 4;
}

/* GETs `path` and parses its JSON (the caller frees it). */
static json_t *json_get(int port, const char *path)
{
    static struct page page;
    page_get(port, path, &page);
    ck_assert_msg(page.status == 200, "%s: %d %s", path, page.status, page.body);
    /* nats-server's layout: JetStreamStats's members first, two spaces deep */
    ck_assert_msg(strncmp(page.body, "{\n  \"", 5) == 0, "%s: %s", path, page.body);
    json_error_t error;
    json_t *root = json_loads(page.body, JSON_DECODE_INT_AS_REAL, &error);
    ck_assert_msg(root != NULL, "%s: %s in %s", path, error.text, page.body);
    return root;
}

/* The number at `path` (keys separated by '.'), failing when there is none. */
static double number(const json_t *root, const char *path)
{
    char copy[128];
    snprintf(copy, sizeof copy, "%s", path);
    const json_t *at = root;
    char *save = NULL;
    for (char *key = strtok_r(copy, ".", &save); key != NULL; key = strtok_r(NULL, ".", &save)) {
        at = json_object_get(at, key);
        ck_assert_msg(at != NULL, "no %s", path);
    }
    ck_assert_msg(json_is_number(at), "%s is not a number", path);
    return json_number_value(at);
}

static const json_t *member(const json_t *object, const char *key)
{
    const json_t *value = json_object_get(object, key);
    ck_assert_msg(value != NULL, "no %s", key);
    return value;
}

/* The one account's entry, or NULL when the page has no account_details. */
static const json_t *account_of(const json_t *root)
{
    const json_t *details = json_object_get(root, "account_details");
    if (details == NULL) {
        return NULL;
    }
    ck_assert_int_eq(json_array_size(details), 1);
    const json_t *account = json_array_get(details, 0);
    ck_assert_str_eq(json_string_value(member(account, "name")), "$G");
    ck_assert_str_eq(json_string_value(member(account, "id")), "$G");
    return account;
}

static bool has_account(int port, const char *path)
{
    json_t *root = json_get(port, path);
    bool found = account_of(root) != NULL;
    json_decref(root);
    return found;
}

static uint64_t stream_bytes(const char *name)
{
    jsStreamInfo *info = jst_stream_info(name);
    uint64_t bytes = info->State.Bytes;
    jsStreamInfo_Destroy(info);
    return bytes;
}

static void consumer_add(const char *stream, const char *durable)
{
    jsConsumerConfig config;
    ITEST_OK(jsConsumerConfig_Init(&config));
    config.Durable = durable;
    config.AckPolicy = js_AckExplicit;
    jsConsumerInfo *info = NULL;
    jsErrCode code = 0;
    ITEST_OK(js_AddConsumer(&info, jst.js, stream, &config, NULL, &code));
    jsConsumerInfo_Destroy(info);
}

/* $JS.API.INFO's api counts. */
static void api_counts(double *total, double *errors)
{
    natsMsg *reply = NULL;
    ITEST_OK(natsConnection_RequestString(&reply, jst.connection, "$JS.API.INFO", "",
                                          JST_API_WAIT_MS));
    json_error_t error;
    json_t *root = json_loads(natsMsg_GetData(reply), JSON_DECODE_INT_AS_REAL, &error);
    ck_assert_ptr_nonnull(root);
    *total = number(root, "api.total");
    *errors = number(root, "api.errors");
    json_decref(root);
    natsMsg_Destroy(reply);
}

/* The figures every /jsz answer starts with, and varz's jetstream.stats. */
static void stats_expect(const json_t *stats, double memory, double storage, double total,
                         double errors)
{
    ck_assert_double_eq(number(stats, "memory"), memory);
    ck_assert_double_eq(number(stats, "storage"), storage);
    ck_assert_double_eq(number(stats, "reserved_memory"), 0);
    ck_assert_double_eq(number(stats, "reserved_storage"), 0);
    ck_assert_double_eq(number(stats, "accounts"), 1);
    ck_assert_double_eq(number(stats, "ha_assets"), 0);
    ck_assert_double_eq(number(stats, "api.total"), total);
    ck_assert_double_eq(number(stats, "api.errors"), errors);
}

START_TEST(test_jetstream_monitor_empty)
{
    if (test_server_reference()) {
        fprintf(stderr, "jsz: the reference gets no HTTP port from the harness; skipped\n");
        return;
    }
    jst_start(MONITOR_ARGS);
    int port = itest_monitor_port(&jst.server, ITEST_WAIT_MS);
    json_t *root = json_get(port, "/jsz?streams=1&consumers=1");
    stats_expect(root, 0, 0, 0, 0);
    ck_assert_double_eq(number(root, "streams"), 0);
    ck_assert_double_eq(number(root, "consumers"), 0);
    ck_assert_double_eq(number(root, "messages"), 0);
    ck_assert_double_eq(number(root, "bytes"), 0);
    ck_assert_double_eq(number(root, "total"), 1);
    ck_assert_ptr_null(json_object_get(root, "disabled"));
    const json_t *config = member(root, "config");
    char store_dir[256];
    snprintf(store_dir, sizeof store_dir, "%s/jetstream", jst.store_dir);
    ck_assert_str_eq(json_string_value(member(config, "store_dir")), store_dir);
    ck_assert(json_is_true(member(config, "strict")));
    ck_assert_int_eq(json_object_size(member(root, "limits")), 0);
    /* no stream: the account's entry without stream_detail (omitted when empty) */
    const json_t *account = account_of(root);
    ck_assert_ptr_nonnull(account);
    ck_assert_ptr_null(json_object_get(account, "stream_detail"));
    json_decref(root);
    jst_stop();
}
END_TEST

START_TEST(test_jetstream_monitor_figures)
{
    if (test_server_reference()) {
        fprintf(stderr, "jsz: the reference gets no HTTP port from the harness; skipped\n");
        return;
    }
    jst_start(MONITOR_ARGS);
    int port = itest_monitor_port(&jst.server, ITEST_WAIT_MS);
    /* three streams (the hash spreads them over the shards there are), two on disk */
    static const char *const names[] = {"MJ1", "MJ2", "MJ3"};
    const char *subjects[][1] = {{"mj1.>"}, {"mj2.*"}, {"mj3"}};
    for (int i = 0; i < 3; i++) {
        jsStreamConfig config;
        jst_config(&config, names[i], subjects[i], 1);
        config.Storage = i == 1 ? js_MemoryStorage : js_FileStorage;
        jst_stream_add(&config);
    }
    for (int i = 0; i < 3; i++) {
        jst_publish("mj1.a", "0123456789", 10, 0);
    }
    jst_publish("mj2.x", "abc", 3, 0);
    jst_publish("mj2.y", "abcdef", 6, 0);
    consumer_add("MJ1", "D1");
    consumer_add("MJ2", "D2");
    jsStreamInfo *missing = NULL;
    jsErrCode code = 0;
    ck_assert(js_GetStreamInfo(&missing, jst.js, "NOPE", NULL, &code) != NATS_OK);
    ck_assert_int_eq(code, JSStreamNotFoundErr);
    double bytes[3];
    for (int i = 0; i < 3; i++) {
        bytes[i] = (double)stream_bytes(names[i]);
    }
    ck_assert(bytes[0] > 30 && bytes[1] > 9 && bytes[2] == 0);
    double total = 0;
    double errors = 0;
    api_counts(&total, &errors);
    ck_assert(total >= 9 && errors >= 1);
    total += 1; /* that request, counted once answered */

    json_t *varz = json_get(port, "/varz");
    const json_t *jetstream = member(varz, "jetstream");
    stats_expect(member(jetstream, "stats"), bytes[1], bytes[0] + bytes[2], total, errors);
    ck_assert(json_is_true(member(member(jetstream, "config"), "strict")));
    ck_assert_double_eq(number(member(varz, "http_req_stats"), "/varz"), 1);
    json_decref(varz);

    json_t *root = json_get(port, "/jsz");
    stats_expect(root, bytes[1], bytes[0] + bytes[2], total, errors);
    ck_assert_double_eq(number(root, "streams"), 3);
    ck_assert_double_eq(number(root, "consumers"), 2);
    ck_assert_double_eq(number(root, "messages"), 5);
    ck_assert_double_eq(number(root, "bytes"), bytes[0] + bytes[1] + bytes[2]);
    ck_assert_ptr_null(json_object_get(root, "streams_leader"));
    ck_assert_ptr_null(account_of(root));
    json_decref(root);

    /* the account alone; its reservations unlimited, as nats-server writes $G's */
    root = json_get(port, "/jsz?accounts=1&raft=1");
    ck_assert_double_eq(number(root, "streams_leader"), 3);
    ck_assert_double_eq(number(root, "consumers_leader"), 2);
    const json_t *account = account_of(root);
    ck_assert_ptr_nonnull(account);
    ck_assert_double_eq(number(account, "memory"), bytes[1]);
    ck_assert_double_eq(number(account, "reserved_memory"), 18446744073709551615.0);
    ck_assert_double_eq(number(account, "accounts"), 0);
    ck_assert_double_eq(number(account, "api.total"), total);
    ck_assert_ptr_null(json_object_get(account, "stream_detail"));
    json_decref(root);

    /* the streams, by name, each from its owner; configs and consumers only when asked */
    json_t *server_info = json_get(port, "/varz");
    const char *server_name = json_string_value(member(server_info, "server_name"));
    root = json_get(port, "/jsz?streams=1");
    const json_t *details = member(account_of(root), "stream_detail");
    ck_assert_int_eq(json_array_size(details), 3);
    static const double messages[] = {3, 2, 0};
    static const double consumers[] = {1, 1, 0};
    for (size_t i = 0; i < 3; i++) {
        const json_t *stream = json_array_get(details, i);
        ck_assert_str_eq(json_string_value(member(stream, "name")), names[i]);
        ck_assert_str_eq(json_string_value(member(member(stream, "cluster"), "leader")),
                         server_name);
        const json_t *state = member(stream, "state");
        ck_assert_double_eq(number(state, "messages"), messages[i]);
        ck_assert_double_eq(number(state, "bytes"), bytes[i]);
        ck_assert_double_eq(number(state, "consumer_count"), consumers[i]);
        ck_assert_ptr_null(json_object_get(stream, "config"));
        ck_assert_ptr_null(json_object_get(stream, "consumer_detail"));
    }
    json_decref(root);
    json_decref(server_info);

    root = json_get(port, "/jsz?consumers=1");
    details = member(account_of(root), "stream_detail");
    const json_t *mj1 = member(json_array_get(details, 0), "consumer_detail");
    ck_assert_int_eq(json_array_size(mj1), 1);
    const json_t *d1 = json_array_get(mj1, 0);
    ck_assert_str_eq(json_string_value(member(d1, "stream_name")), "MJ1");
    ck_assert_str_eq(json_string_value(member(d1, "name")), "D1");
    ck_assert_double_eq(number(d1, "num_pending"), 3);
    ck_assert_ptr_null(json_object_get(d1, "config"));
    ck_assert_ptr_null(json_object_get(json_array_get(details, 2), "consumer_detail"));
    json_decref(root);

    root = json_get(port, "/jsz?consumers=1&config=1");
    details = member(account_of(root), "stream_detail");
    const json_t *mj2 = json_array_get(details, 1);
    ck_assert_str_eq(json_string_value(member(member(mj2, "config"), "storage")), "memory");
    const json_t *d2 = json_array_get(member(mj2, "consumer_detail"), 0);
    ck_assert_str_eq(json_string_value(member(member(d2, "config"), "durable_name")), "D2");
    json_decref(root);

    /* which pages have the account: acc= first, then accounts paged by offset and limit */
    ck_assert(!has_account(port, "/jsz?streams=1&offset=1"));
    ck_assert(has_account(port, "/jsz?acc=$G&streams=1&offset=1"));
    ck_assert(!has_account(port, "/jsz?acc=nope&streams=1"));
    ck_assert(has_account(port, "/jsz?accounts=1&limit=-1&offset=5"));
    ck_assert(!has_account(port, "/jsz?accounts=1&limit=1&offset=1"));

    static struct page page;
    page_get(port, "/jsz?consumers=maybe", &page);
    ck_assert_int_eq(page.status, 400);
    ck_assert_str_eq(page.body, "Error decoding boolean for 'consumers': strconv.ParseBool: "
                                "parsing \"maybe\": invalid syntax");
    /* what the monitoring pages asked was no API request */
    api_counts(&total, &errors);
    root = json_get(port, "/jsz?leader-only=1");
    ck_assert_double_eq(number(root, "api.total"), total + 1);
    json_decref(root);
    varz = json_get(port, "/varz");
    ck_assert_double_eq(number(member(varz, "http_req_stats"), "/jsz"), 12);
    json_decref(varz);
    jst_stop();
}
END_TEST

TCase *jst_monitor_tcase(void)
{
    TCase *tc = jst_tcase("monitor");
    tcase_add_test(tc, test_jetstream_monitor_empty);
    tcase_add_test(tc, test_jetstream_monitor_figures);
    return tc;
}
