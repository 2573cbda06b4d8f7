/* The JetStream integration tests' common fixture and raw-API helpers (see jst_common.h):
 * a broker per test on a store directory under the TCase's, JSON replies read with jansson,
 * bounded polls of INFO, and the reference-version probe. Test thread only. */
#include "tests/integration/jst_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct jsc_broker jsc;

/* The TCase's store directory, made and removed by the unchecked fixture in the parent
 * process. */
static char jsc_base_dir[64];

static void jsc_base_setup(void)
{
    int rc = test_store_dir_create(jsc_base_dir, sizeof jsc_base_dir);
    ck_assert_msg(rc == 0, "store dir: %s", strerror(-rc));
}

static void jsc_base_teardown(void)
{
    if (jsc_base_dir[0] != '\0') {
        test_store_dir_remove(jsc_base_dir);
        jsc_base_dir[0] = '\0';
    }
}

static void jsc_disconnect(void)
{
    if (jsc.js != NULL) {
        jsCtx_Destroy(jsc.js);
        jsc.js = NULL;
    }
    if (jsc.connection != NULL) {
        natsConnection_Destroy(jsc.connection);
        jsc.connection = NULL;
    }
}

static void jsc_teardown(void)
{
    jsc_disconnect();
    if (jsc.server.pid > 0) {
        test_server_stop(&jsc.server);
    }
    memset(&jsc, 0, sizeof jsc);
}

static void jsc_connect(void)
{
    jsc.connection = itest_connect(jsc.server.url);
    jsOptions options;
    ITEST_OK(jsOptions_Init(&options));
    options.Wait = ITEST_WAIT_MS;
    ITEST_OK(natsConnection_JetStream(&jsc.js, jsc.connection, &options));
}

void jsc_start(void)
{
    memset(&jsc, 0, sizeof jsc);
    ck_assert_msg(jsc_base_dir[0] != '\0', "no base store dir (fixture missing)");
    snprintf(jsc.store_dir, sizeof jsc.store_dir, "%s/t-XXXXXX", jsc_base_dir);
    ck_assert_msg(mkdtemp(jsc.store_dir) != NULL, "mkdtemp: %s", strerror(errno));
    jsc.options.jetstream = true;
    jsc.options.store_dir = jsc.store_dir;
    int rc = test_server_start(&jsc.server, &jsc.options);
    ck_assert_msg(rc == 0, "broker did not start: %s", strerror(-rc));
    jsc_connect();
}

void jsc_restart(void)
{
    jsc_disconnect();
    test_server_stop(&jsc.server);
    ck_assert_int_eq(jsc.server.pid, 0);
    int rc = test_server_restart(&jsc.server, &jsc.options);
    ck_assert_msg(rc == 0, "broker did not restart: %s", strerror(-rc));
    jsc_connect();
}

TCase *jsc_tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_unchecked_fixture(tc, jsc_base_setup, jsc_base_teardown);
    tcase_add_checked_fixture(tc, NULL, jsc_teardown);
    tcase_set_timeout(tc, JSC_TCASE_TIMEOUT_S);
    return tc;
}

/* 1 when the broker under test is a nats-server older than major.minor, 0 when not (ionats,
 * or a current reference), -errno when that cannot be told; its major.minor in `version`.
 * Runs outside Check's tests: no assertions. */
static int jsc_reference_too_old(int major, int minor, char *version, size_t size)
{
    snprintf(version, size, "?");
    if (!test_server_reference()) {
        return 0;
    }
    struct test_server server;
    struct test_server_options options = {0};
    int rc = test_server_start(&server, &options);
    if (rc != 0) {
        return rc;
    }
    int fd = test_connect_raw(server.port);
    char info[4096] = "";
    long length = fd >= 0 ? test_read_until(fd, info, sizeof info, "\r\n", ITEST_WAIT_MS) : fd;
    if (fd >= 0) {
        close(fd);
    }
    test_server_stop(&server);
    const char *at = strstr(info, "\"version\":\"");
    int got_major = 0;
    int got_minor = 0;
    if (length <= 0 || at == NULL ||
        sscanf(at, "\"version\":\"%d.%d", &got_major, &got_minor) != 2) {
        return -EPROTO;
    }
    snprintf(version, size, "%d.%d", got_major, got_minor);
    return got_major < major || (got_major == major && got_minor < minor);
}

int jsc_run(Suite *(*suite_make)(void), int major, int minor, const char *feature)
{
    char version[32];
    int old = jsc_reference_too_old(major, minor, version, sizeof version);
    if (old < 0) {
        fprintf(stderr, "cannot read the reference's version: %s\n", strerror(-old));
        return EXIT_FAILURE;
    }
    if (old > 0) {
        printf("SKIP: nats-server %s has no %s (nats-server %d.%d)\n", version, feature, major,
               minor);
        return 77;
    }
    return itest_run(suite_make());
}

void jsc_pause_ms(long ms)
{
    struct timespec pause = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

/* ---- raw API requests ---- */

json_t *jsc_json_parse(const char *what, const char *data, int length)
{
    json_error_t error;
    json_t *root = json_loadb(data, (size_t)length, 0, &error);
    ck_assert_msg(root != NULL, "%s: reply %.*s is not JSON: %s", what, length, data,
                  error.text);
    return root;
}

json_t *jsc_request(natsConnection *connection, const char *subject, const char *body,
                    const char *level)
{
    natsMsg *request = NULL;
    ITEST_OK(natsMsg_Create(&request, subject, NULL, body, (int)strlen(body)));
    if (level != NULL) {
        ITEST_OK(natsMsgHeader_Set(request, "Nats-Required-Api-Level", level));
    }
    natsMsg *reply = NULL;
    ITEST_OK(natsConnection_RequestMsg(&reply, connection, request, ITEST_WAIT_MS));
    natsMsg_Destroy(request);
    json_t *root = jsc_json_parse(subject, natsMsg_GetData(reply), natsMsg_GetDataLength(reply));
    natsMsg_Destroy(reply);
    return root;
}

void jsc_error_expect(const char *what, const json_t *error, int code, int err_code,
                      const char *description)
{
    ck_assert_msg(json_is_object(error), "%s: no error, want %d", what, err_code);
    json_int_t got_code = json_integer_value(json_object_get(error, "code"));
    json_int_t got_err_code = json_integer_value(json_object_get(error, "err_code"));
    const char *got = json_string_value(json_object_get(error, "description"));
    ck_assert_msg(got_code == code && got_err_code == err_code && got != NULL &&
                      strcmp(got, description) == 0,
                  "%s: error %lld %lld \"%s\", want %d %d \"%s\"", what, (long long)got_code,
                  (long long)got_err_code, got != NULL ? got : "(none)", code, err_code,
                  description);
}

json_t *jsc_stream_create_reply(const char *name, const char *body)
{
    char subject[128];
    snprintf(subject, sizeof subject, "$JS.API.STREAM.CREATE.%s", name);
    json_t *root = jsc_request(jsc.connection, subject, body, NULL);
    const json_t *error = json_object_get(root, "error");
    ck_assert_msg(error == NULL, "create %s: %s: %s", name, body,
                  json_string_value(json_object_get(error, "description")));
    return root;
}

void jsc_stream_create(const char *name, const char *body)
{
    json_decref(jsc_stream_create_reply(name, body));
}

void jsc_stream_create_refused(const char *name, const char *body, int code, int err_code,
                               const char *description)
{
    char subject[128];
    snprintf(subject, sizeof subject, "$JS.API.STREAM.CREATE.%s", name);
    json_t *root = jsc_request(jsc.connection, subject, body, NULL);
    char what[512];
    snprintf(what, sizeof what, "create %s: %s", name, body);
    jsc_error_expect(what, json_object_get(root, "error"), code, err_code, description);
    json_decref(root);
}

json_t *jsc_info_json(const char *name)
{
    char subject[128];
    snprintf(subject, sizeof subject, "$JS.API.STREAM.INFO.%s", name);
    json_t *root = jsc_request(jsc.connection, subject, "", NULL);
    ck_assert_msg(json_object_get(root, "error") == NULL, "info %s: an error", name);
    return root;
}

/* Polls INFO until state.`field` of `name` is `want` (or, with `at_least`, more); fails with
 * the INFO after `wait_ms`. */
static void jsc_state_poll(const char *name, const char *field, json_int_t want, bool at_least,
                           long wait_ms)
{
    int64_t deadline = itest_now_ms() + wait_ms;
    for (;;) {
        json_t *root = jsc_info_json(name);
        json_int_t got = json_integer_value(json_object_get(json_object_get(root, "state"),
                                                            field));
        if (got == want || (at_least && got > want)) {
            json_decref(root);
            return;
        }
        if (itest_now_ms() >= deadline) {
            char *dump = json_dumps(root, JSON_COMPACT);
            json_decref(root);
            itest_logs_show();
            ck_abort_msg("%s: state.%s is %lld after %ld ms, want %s%lld: %s", name, field,
                         (long long)got, wait_ms, at_least ? "at least " : "", (long long)want,
                         dump);
        }
        json_decref(root);
        jsc_pause_ms(JSC_POLL_MS);
    }
}

void jsc_state_wait(const char *name, const char *field, json_int_t want, long wait_ms)
{
    jsc_state_poll(name, field, want, false, wait_ms);
}

void jsc_state_wait_min(const char *name, const char *field, json_int_t want, long wait_ms)
{
    jsc_state_poll(name, field, want, true, wait_ms);
}

/* ---- messages ---- */

natsMsg *jsc_msg_make(const char *subject, const char *data, const char *key,
                      const char *value, const char *key2, const char *value2)
{
    natsMsg *msg = NULL;
    ITEST_OK(natsMsg_Create(&msg, subject, NULL, data, (int)strlen(data)));
    if (key != NULL) {
        ITEST_OK(natsMsgHeader_Set(msg, key, value));
    }
    if (key2 != NULL) {
        ITEST_OK(natsMsgHeader_Set(msg, key2, value2));
    }
    return msg;
}

void jsc_publish(const char *subject, const char *data, const char *key, const char *value,
                 uint64_t seq)
{
    natsMsg *msg = jsc_msg_make(subject, data, key, value, NULL, NULL);
    jsPubAck *ack = NULL;
    jsErrCode code = 0;
    natsStatus status = js_PublishMsg(&ack, jsc.js, msg, NULL, &code);
    natsMsg_Destroy(msg);
    ck_assert_msg(status == NATS_OK, "publish on %s with %s %s: %s, err_code %d (%s)", subject,
                  key != NULL ? key : "no header", key != NULL ? value : "",
                  natsStatus_GetText(status), (int)code, itest_last_error());
    ck_assert_msg(ack->Sequence == seq, "publish on %s stored at %llu, want %llu", subject,
                  (unsigned long long)ack->Sequence, (unsigned long long)seq);
    jsPubAck_Destroy(ack);
}

natsMsg *jsc_msg_get(jsCtx *js, const char *stream, uint64_t seq)
{
    natsMsg *msg = NULL;
    jsErrCode code = 0;
    natsStatus status = js_GetMsg(&msg, js, stream, seq, NULL, &code);
    ck_assert_msg(status == NATS_OK, "get %s %llu: %s, err_code %d (%s)", stream,
                  (unsigned long long)seq, natsStatus_GetText(status), (int)code,
                  itest_last_error());
    return msg;
}

void jsc_msg_missing_expect(jsCtx *js, const char *stream, uint64_t seq)
{
    natsMsg *msg = NULL;
    jsErrCode code = 0;
    natsStatus status = js_GetMsg(&msg, js, stream, seq, NULL, &code);
    ck_assert_msg(status != NATS_OK && code == JSNoMessageFoundErr,
                  "get %s %llu: %s, err_code %d, want %d (%s)", stream, (unsigned long long)seq,
                  natsStatus_GetText(status), (int)code, (int)JSNoMessageFoundErr,
                  itest_last_error());
    ck_assert_ptr_null(msg);
}

natsMsg *jsc_last_get(const char *stream, const char *subject)
{
    natsMsg *msg = NULL;
    jsErrCode code = 0;
    natsStatus status = js_GetLastMsg(&msg, jsc.js, stream, subject, NULL, &code);
    ck_assert_msg(status == NATS_OK, "last of %s on %s: %s, err_code %d", stream, subject,
                  natsStatus_GetText(status), (int)code);
    return msg;
}

natsMsg *jsc_stored_get(const char *stream, uint64_t seq, const char *subject,
                        const char *data)
{
    natsMsg *msg = jsc_msg_get(jsc.js, stream, seq);
    ck_assert_msg(strcmp(natsMsg_GetSubject(msg), subject) == 0, "%s %llu stored under %s, want %s",
                  stream, (unsigned long long)seq, natsMsg_GetSubject(msg), subject);
    ck_assert_int_eq(natsMsg_GetDataLength(msg), (int)strlen(data));
    ck_assert_mem_eq(natsMsg_GetData(msg), data, strlen(data));
    return msg;
}

void jsc_stored_expect(const char *stream, uint64_t seq, const char *subject, const char *data)
{
    natsMsg_Destroy(jsc_stored_get(stream, seq, subject, data));
}

void jsc_header_expect(natsMsg *msg, const char *key, const char *want)
{
    const char *got = NULL;
    natsStatus status = natsMsgHeader_Get(msg, key, &got);
    ck_assert_msg(status == NATS_OK && got != NULL && strcmp(got, want) == 0,
                  "%s (seq %llu): header %s is %s, want %s", natsMsg_GetSubject(msg),
                  (unsigned long long)natsMsg_GetSequence(msg), key,
                  status == NATS_OK && got != NULL ? got : "(none)", want);
}

void jsc_header_keys_expect(natsMsg *msg, const char *const *keys, int count)
{
    const char **got = NULL;
    int got_count = 0;
    natsStatus status = natsMsgHeader_Keys(msg, &got, &got_count);
    ck_assert_msg(status == NATS_OK || status == NATS_NOT_FOUND, "header keys: %s",
                  natsStatus_GetText(status));
    char listed[512] = "";
    size_t at = 0;
    for (int i = 0; i < got_count && at < sizeof listed; i++) {
        at += (size_t)snprintf(listed + at, sizeof listed - at, "%s ", got[i]);
    }
    bool same = got_count == count;
    for (int i = 0; same && i < count; i++) {
        int found = 0;
        for (int j = 0; j < got_count; j++) {
            found += strcmp(got[j], keys[i]) == 0 ? 1 : 0;
        }
        same = found == 1;
    }
    free((void *)got);
    ck_assert_msg(same, "%s (seq %llu): header keys %s, want %d of them starting %s",
                  natsMsg_GetSubject(msg), (unsigned long long)natsMsg_GetSequence(msg), listed,
                  count, count > 0 ? keys[0] : "-");
}
