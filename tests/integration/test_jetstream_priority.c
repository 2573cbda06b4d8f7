/* Pull consumers' priority groups (nats-server 2.11's overflow and pinned_client, 2.12's
 * prioritized) through raw pull requests with libnats (an inbox of the test's own per
 * request, so every status is seen) and raw $JS.API requests read with jansson, against
 * ionats or, with IONATS_TEST_SERVER=nats-server, the reference, with the same expectations
 * (read from nats-server 2.15.1):
 * - refused requests: a JSON request without "group" (400 "Bad Request - Priority Group
 *   missing"), an unknown group ("Invalid Priority Group"), an "id" to a consumer that is not
 *   pinned_client ("Not a Pinned Client Priority consumer"), min_pending / min_ack_pending to
 *   one that is not overflow, even without a policy ("Not a Overflow Priority consumer"), a
 *   priority outside 0..9, a field of the wrong JSON type (Go's text); a plain batch number
 *   names no group and is taken;
 * - overflow: a request with min_pending waits until that many messages are pending, one
 *   with min_ack_pending until that many await their ack; a request passed over stays
 *   queued while the next one takes the message, and a request whose limit is never reached
 *   ends on its 408;
 * - pinned_client: the first request a message finds is pinned (a 22-character id, the
 *   PINNED advisory), every delivery carries Nats-Pin-Id, the others wait; another id is
 *   refused at once (423 "Nats-Pin-Id mismatch"); UNPIN (the UNPINNED advisory, reason
 *   admin) pins the next request a message finds, and the old pin's waiting request gets 423
 *   "Nats-Wrong-Pin-Id" with its pending counts; priority_timeout without a new request from
 *   the pinned client unpins it (reason timeout); consumer info's priority_groups shows the
 *   group, the pin and its time (the zero time when none);
 * - prioritized: waiting requests take messages lowest priority first, and requests of one
 *   priority share them in turn; without a policy, waiting requests share in turn too;
 * - UNPIN's errors (10025 with nats-server's texts, 10162, 10160, 10014, 10059) and its
 *   answer, which succeeds for a group of a consumer of any policy.
 *
 * The prioritized policy came with nats-server 2.12: against an older reference (Debian's
 * 2.9.10) the whole program exits 77 (meson: SKIP) and says so.
 *
 * The one idea: each case waits on the broker only through its replies and advisories, with
 * short deadlines: a priority_timeout of a second is the longest wait, so the program runs in
 * a few seconds. Test thread only. */
#include "tests/integration/jst_common.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reference release that has all three policies (prioritized came last). */
enum { PRIORITY_MAJOR = 2, PRIORITY_MINOR = 12 };

/* A pin id: nats-server's nuid, 22 characters of this alphabet. */
enum { PIN_LENGTH = 22 };
static const char PIN_ALPHABET[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* How long a message or status that is due may take to come. */
enum { DUE_MS = 2000 };
/* How long to watch for something that must not come (a request passed over). */
enum { QUIET_MS = 300 };

/* nats-server's JetStream error codes (server/errors.json) that libnats 3.4 does not name. */
enum {
    ERR_CONSUMER_NOT_FOUND = 10014,
    ERR_INVALID_JSON = 10025,
    ERR_STREAM_NOT_FOUND = 10059,
    ERR_INVALID_PRIORITY_GROUP = 10160,
    ERR_INVALID_GROUP_NAME = 10162,
};

static const char STREAM_CONFIG[] =
    "{\"name\":\"P\",\"subjects\":[\"p.>\"],\"storage\":\"memory\"}";

/* ---- set-up ---- */

/* Creates consumer `name` on stream P with the config members `members` (after the
 * durable name and ack policy). */
static void consumer_make(const char *name, const char *members)
{
    char subject[128];
    char body[512];
    snprintf(subject, sizeof subject, "$JS.API.CONSUMER.CREATE.P.%s", name);
    snprintf(body, sizeof body,
             "{\"stream_name\":\"P\",\"config\":{\"durable_name\":\"%s\","
             "\"ack_policy\":\"explicit\"%s%s}}",
             name, members[0] != '\0' ? "," : "", members);
    json_t *reply = jsc_request(jsc.connection, subject, body, NULL);
    const json_t *error = json_object_get(reply, "error");
    ck_assert_msg(error == NULL, "create %s: %s", name,
                  json_string_value(json_object_get(error, "description")));
    json_decref(reply);
}

static natsSubscription *inbox_subscribe(const char *inbox)
{
    natsSubscription *sub = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&sub, jsc.connection, inbox));
    /* the PONG comes once every shard knows the interest: an advisory or a delivery from
     * the stream's shard, which may be another, is not published before it does */
    itest_flush(jsc.connection);
    return sub;
}

/* Sends the pull request `body` to consumer `name`, its messages to `inbox`. */
static void next_send(const char *name, const char *body, const char *inbox)
{
    char subject[128];
    snprintf(subject, sizeof subject, "$JS.API.CONSUMER.MSG.NEXT.P.%s", name);
    ITEST_OK(natsConnection_PublishRequestString(jsc.connection, subject, inbox, body));
    itest_flush(jsc.connection);
}

static void publish(const char *subject, const char *data)
{
    natsMsg *msg = jsc_msg_make(subject, data, NULL, NULL, NULL, NULL);
    jsPubAck *ack = NULL;
    jsErrCode code = 0;
    natsStatus status = js_PublishMsg(&ack, jsc.js, msg, NULL, &code);
    ck_assert_msg(status == NATS_OK, "publish %s: %s (%d)", subject, natsStatus_GetText(status),
                  (int)code);
    jsPubAck_Destroy(ack);
    natsMsg_Destroy(msg);
}

/* ---- what comes to an inbox ---- */

static natsMsg *next_msg(natsSubscription *sub, const char *what)
{
    natsMsg *msg = NULL;
    natsStatus status = natsSubscription_NextMsg(&msg, sub, DUE_MS);
    ck_assert_msg(status == NATS_OK, "%s: nothing came (%s)", what, natsStatus_GetText(status));
    return msg;
}

/* The next message on `sub` is the stream's message `data`; its Nats-Pin-Id is copied to
 * `pin` (`size` bytes, "" when none) when `pin` is not NULL. */
static void message_expect(natsSubscription *sub, const char *data, char *pin, size_t size)
{
    natsMsg *msg = next_msg(sub, data);
    const char *status = NULL;
    (void)natsMsgHeader_Get(msg, "Status", &status);
    ck_assert_msg(status == NULL, "want message %s, got status %s", data, status);
    ck_assert_msg(natsMsg_GetDataLength(msg) == (int)strlen(data) &&
                      memcmp(natsMsg_GetData(msg), data, strlen(data)) == 0,
                  "want message %s, got %.*s", data, natsMsg_GetDataLength(msg),
                  natsMsg_GetData(msg));
    if (pin != NULL) {
        const char *value = NULL;
        (void)natsMsgHeader_Get(msg, "Nats-Pin-Id", &value);
        snprintf(pin, size, "%s", value != NULL ? value : "");
    }
    natsMsg_Destroy(msg);
}

/* The next message on `sub` is the status `code` `description`, with Nats-Pending-Messages
 * `pending` (no such header when `pending` is NULL). */
static void status_expect(natsSubscription *sub, const char *code, const char *description,
                          const char *pending)
{
    natsMsg *msg = next_msg(sub, description);
    const char *got_code = NULL;
    const char *got_description = NULL;
    const char *got_pending = NULL;
    (void)natsMsgHeader_Get(msg, "Status", &got_code);
    (void)natsMsgHeader_Get(msg, "Description", &got_description);
    (void)natsMsgHeader_Get(msg, "Nats-Pending-Messages", &got_pending);
    ck_assert_msg(got_code != NULL && strcmp(got_code, code) == 0 && got_description != NULL &&
                      strcmp(got_description, description) == 0,
                  "want %s %s, got %s %s (%.*s)", code, description,
                  got_code != NULL ? got_code : "no status",
                  got_description != NULL ? got_description : "",
                  natsMsg_GetDataLength(msg), natsMsg_GetData(msg));
    if (pending == NULL) {
        ck_assert_msg(got_pending == NULL, "%s: Nats-Pending-Messages %s", description,
                      got_pending);
    } else {
        ck_assert_msg(got_pending != NULL && strcmp(got_pending, pending) == 0,
                      "%s: Nats-Pending-Messages %s, want %s", description,
                      got_pending != NULL ? got_pending : "(none)", pending);
    }
    natsMsg_Destroy(msg);
}

static void nothing_expect(natsSubscription *sub, const char *what)
{
    natsMsg *msg = NULL;
    natsStatus status = natsSubscription_NextMsg(&msg, sub, QUIET_MS);
    ck_assert_msg(status == NATS_TIMEOUT, "%s: got %.*s", what,
                  msg != NULL ? natsMsg_GetDataLength(msg) : 0,
                  msg != NULL ? natsMsg_GetData(msg) : "");
}

/* The pull request `body` to consumer `name` is answered `code` `description` at once. */
static void refused_expect(const char *name, const char *body, const char *code,
                           const char *description)
{
    natsSubscription *sub = inbox_subscribe("refused");
    next_send(name, body, "refused");
    status_expect(sub, code, description, NULL);
    natsSubscription_Destroy(sub);
}

/* ---- advisories and info ---- */

/* The next advisory on `sub` is on `subject` with exactly the members of a priority group
 * advisory: its type, account, stream P, consumer `consumer`, group A and `key`: `value`
 * (pinned_id or reason); `value` NULL takes any 22-character pin, copied to `pin`. */
static void advisory_expect(natsSubscription *sub, const char *subject, const char *type,
                            const char *consumer, const char *key, const char *value, char *pin)
{
    natsMsg *msg = next_msg(sub, subject);
    ck_assert_str_eq(natsMsg_GetSubject(msg), subject);
    json_t *root = jsc_json_parse(subject, natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
    natsMsg_Destroy(msg);
    const char *got = json_string_value(json_object_get(root, key));
    ck_assert_msg(got != NULL, "%s: no %s", subject, key);
    if (value != NULL) {
        ck_assert_str_eq(got, value);
    } else {
        ck_assert_uint_eq(strlen(got), PIN_LENGTH);
        ck_assert_uint_eq(strspn(got, PIN_ALPHABET), PIN_LENGTH);
        snprintf(pin, PIN_LENGTH + 1, "%s", got);
    }
    ck_assert_str_eq(json_string_value(json_object_get(root, "type")), type);
    ck_assert_str_eq(json_string_value(json_object_get(root, "account")), "$G");
    ck_assert_str_eq(json_string_value(json_object_get(root, "stream")), "P");
    ck_assert_str_eq(json_string_value(json_object_get(root, "consumer")), consumer);
    ck_assert_str_eq(json_string_value(json_object_get(root, "group")), "A");
    ck_assert_msg(json_is_string(json_object_get(root, "id")) &&
                      json_is_string(json_object_get(root, "timestamp")),
                  "%s: no id or timestamp", subject);
    ck_assert_uint_eq(json_object_size(root), 8);
    json_decref(root);
}

/* Consumer `name`'s info shows priority_groups [{"group":"A", ...}] with `pin` (none when
 * "") and a pinned_ts that is the zero time exactly when there is no pin; or no
 * priority_groups at all when `group` is false. */
static void info_groups_expect(const char *name, bool group, const char *pin)
{
    char subject[128];
    snprintf(subject, sizeof subject, "$JS.API.CONSUMER.INFO.P.%s", name);
    json_t *root = jsc_request(jsc.connection, subject, "", NULL);
    const json_t *groups = json_object_get(root, "priority_groups");
    if (!group) {
        ck_assert_msg(groups == NULL, "%s: priority_groups shown", name);
        json_decref(root);
        return;
    }
    ck_assert_msg(json_is_array(groups) && json_array_size(groups) == 1,
                  "%s: priority_groups not one group", name);
    const json_t *state = json_array_get(groups, 0);
    ck_assert_str_eq(json_string_value(json_object_get(state, "group")), "A");
    const char *got_pin = json_string_value(json_object_get(state, "pinned_client_id"));
    const char *pinned_ts = json_string_value(json_object_get(state, "pinned_ts"));
    ck_assert_msg(pinned_ts != NULL, "%s: no pinned_ts", name);
    if (pin[0] == '\0') {
        ck_assert_msg(got_pin == NULL, "%s: pinned_client_id %s", name, got_pin);
        ck_assert_str_eq(pinned_ts, "0001-01-01T00:00:00Z");
        ck_assert_uint_eq(json_object_size(state), 2);
    } else {
        ck_assert_msg(got_pin != NULL && strcmp(got_pin, pin) == 0,
                      "%s: pinned_client_id %s, want %s", name, got_pin, pin);
        ck_assert_str_ne(pinned_ts, "0001-01-01T00:00:00Z");
        ck_assert_uint_eq(json_object_size(state), 3);
    }
    json_decref(root);
}

/* UNPIN of `consumer` on `stream` with `body` answers the error `err_code` `description`
 * (`code` 400 or 404), or success when `err_code` is 0. */
static void unpin_expect(const char *stream, const char *consumer, const char *body, int code,
                         int err_code, const char *description)
{
    char subject[128];
    snprintf(subject, sizeof subject, "$JS.API.CONSUMER.UNPIN.%s.%s", stream, consumer);
    json_t *root = jsc_request(jsc.connection, subject, body, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(root, "type")),
                     "io.nats.jetstream.api.v1.consumer_unpin_response");
    if (err_code == 0) {
        ck_assert_msg(json_object_size(root) == 1, "unpin %s: more than the type", body);
    } else {
        jsc_error_expect(body, json_object_get(root, "error"), code, err_code, description);
        ck_assert_uint_eq(json_object_size(root), 2);
    }
    json_decref(root);
}

/* ---- cases ---- */

START_TEST(priority_requests_refused)
{
    jsc_start();
    jsc_stream_create("P", STREAM_CONFIG);
    consumer_make("O", "\"priority_groups\":[\"A\"],\"priority_policy\":\"overflow\"");
    consumer_make("N", "");
    consumer_make("PIN", "\"priority_groups\":[\"A\"],\"priority_policy\":\"pinned_client\"");
    refused_expect("O", "{\"batch\":1}", "400", "Bad Request - Priority Group missing");
    refused_expect("O", "{\"batch\":1,\"group\":\"B\"}", "400",
                   "Bad Request - Invalid Priority Group");
    refused_expect("O", "{\"batch\":1,\"group\":\"A\",\"id\":\"x\"}", "400",
                   "Bad Request - Not a Pinned Client Priority consumer");
    refused_expect("O", "{\"batch\":1,\"group\":\"A\",\"priority\":10}", "400",
                   "Bad Request - Priority must be between 0 and 9");
    refused_expect("O", "{\"batch\":1,\"group\":\"A\",\"priority\":-1}", "400",
                   "Bad Request - Priority must be between 0 and 9");
    refused_expect("N", "{\"batch\":1,\"min_pending\":5}", "400",
                   "Bad Request - Not a Overflow Priority consumer");
    refused_expect("N", "{\"batch\":1,\"min_ack_pending\":-1}", "400",
                   "Bad Request - Not a Overflow Priority consumer");
    refused_expect("PIN", "{\"batch\":1,\"group\":\"A\",\"min_pending\":1}", "400",
                   "Bad Request - Not a Overflow Priority consumer");
    refused_expect("N", "{\"batch\":1,\"priority\":11}", "400",
                   "Bad Request - Priority must be between 0 and 9");
    refused_expect("PIN", "{\"batch\":1,\"no_wait\":true}", "400",
                   "Bad Request - Priority Group missing");
    refused_expect("O", "{\"group\":1}", "400",
                   "Bad Request - json: cannot unmarshal number into Go struct field .group of "
                   "type string");
    refused_expect("O", "{\"group\":\"A\",\"min_pending\":\"x\"}", "400",
                   "Bad Request - json: cannot unmarshal string into Go struct field "
                   ".min_pending of type int64");
    /* a group on a consumer without a policy is not looked at */
    refused_expect("N", "{\"batch\":1,\"group\":\"Z\",\"no_wait\":true}", "404", "No Messages");
    refused_expect("PIN", "{\"batch\":1,\"group\":\"A\",\"no_wait\":true}", "404",
                   "No Messages");
    /* a plain batch number names no group: taken */
    natsSubscription *sub = inbox_subscribe("plain");
    next_send("O", "1", "plain");
    publish("p.1", "m1");
    message_expect(sub, "m1", NULL, 0);
    natsSubscription_Destroy(sub);
    info_groups_expect("O", true, "");
    info_groups_expect("N", false, "");
}
END_TEST

START_TEST(priority_overflow)
{
    jsc_start();
    jsc_stream_create("P", STREAM_CONFIG);
    consumer_make("O", "\"priority_groups\":[\"A\"],\"priority_policy\":\"overflow\"");
    for (int i = 1; i <= 3; i++) {
        char data[8];
        snprintf(data, sizeof data, "m%d", i);
        publish("p.x", data);
    }
    natsSubscription *first = inbox_subscribe("first");
    next_send("O", "{\"batch\":1,\"group\":\"A\",\"min_pending\":5,\"expires\":5000000000}",
              "first");
    nothing_expect(first, "min_pending 5 with 3 pending");
    publish("p.x", "m4");
    nothing_expect(first, "min_pending 5 with 4 pending");
    publish("p.x", "m5");
    message_expect(first, "m1", NULL, 0); /* 5 pending, m1 among them */
    /* 4 pending now, 1 awaiting its ack: a limit never reached ends on the 408 */
    natsSubscription *never = inbox_subscribe("never");
    next_send("O", "{\"batch\":1,\"group\":\"A\",\"min_pending\":10,\"expires\":500000000}",
              "never");
    status_expect(never, "408", "Request Timeout", "1");
    natsSubscription *acks = inbox_subscribe("acks");
    next_send("O", "{\"batch\":1,\"group\":\"A\",\"min_ack_pending\":1,\"expires\":5000000000}",
              "acks");
    message_expect(acks, "m2", NULL, 0); /* m1 awaits its ack */
    /* 2 await their ack: this one waits for 3, the plain one after it takes m3, and then
     * the first is served with m4 */
    natsSubscription *three = inbox_subscribe("three");
    next_send("O", "{\"batch\":1,\"group\":\"A\",\"min_ack_pending\":3,\"expires\":5000000000}",
              "three");
    nothing_expect(three, "min_ack_pending 3 with 2 awaiting");
    natsSubscription *plain = inbox_subscribe("plainA");
    next_send("O", "{\"batch\":1,\"group\":\"A\",\"expires\":5000000000}", "plainA");
    message_expect(plain, "m3", NULL, 0);
    message_expect(three, "m4", NULL, 0);
    natsSubscription_Destroy(first);
    natsSubscription_Destroy(never);
    natsSubscription_Destroy(acks);
    natsSubscription_Destroy(three);
    natsSubscription_Destroy(plain);
}
END_TEST

START_TEST(priority_pinned)
{
    jsc_start();
    jsc_stream_create("P", STREAM_CONFIG);
    natsSubscription *advisories = inbox_subscribe("$JS.EVENT.ADVISORY.CONSUMER.*.P.PIN");
    consumer_make("PIN", "\"priority_groups\":[\"A\"],\"priority_policy\":\"pinned_client\","
                         "\"priority_timeout\":1000000000");
    natsMsg *created = next_msg(advisories, "created advisory");
    natsMsg_Destroy(created);
    info_groups_expect("PIN", true, "");
    natsSubscription *a = inbox_subscribe("a");
    natsSubscription *b = inbox_subscribe("b");
    next_send("PIN", "{\"batch\":5,\"group\":\"A\",\"expires\":6000000000}", "a");
    next_send("PIN", "{\"batch\":5,\"group\":\"A\",\"expires\":6000000000}", "b");
    publish("p.1", "m1");
    publish("p.2", "m2");
    char pin[32];
    char got[32];
    message_expect(a, "m1", pin, sizeof pin);
    message_expect(a, "m2", got, sizeof got);
    ck_assert_str_eq(got, pin);
    nothing_expect(b, "not the pinned client");
    char advised[32];
    advisory_expect(advisories, "$JS.EVENT.ADVISORY.CONSUMER.PINNED.P.PIN",
                    "io.nats.jetstream.advisory.v1.consumer_group_pinned", "PIN", "pinned_id",
                    NULL, advised);
    ck_assert_str_eq(advised, pin);
    info_groups_expect("PIN", true, pin);
    refused_expect("PIN", "{\"batch\":1,\"group\":\"A\",\"id\":\"bogus\"}", "423",
                   "Nats-Pin-Id mismatch");

    /* UNPIN: the next request a message finds (b: a went behind it) is pinned; a's stale
     * pin is refused at the message after */
    unpin_expect("P", "PIN", "{\"group\":\"A\"}", 0, 0, NULL);
    advisory_expect(advisories, "$JS.EVENT.ADVISORY.CONSUMER.UNPINNED.P.PIN",
                    "io.nats.jetstream.advisory.v1.consumer_group_unpinned", "PIN", "reason",
                    "admin", NULL);
    info_groups_expect("PIN", true, "");
    publish("p.3", "m3");
    publish("p.4", "m4");
    char second[32];
    message_expect(b, "m3", second, sizeof second);
    ck_assert_str_ne(second, pin);
    message_expect(b, "m4", got, sizeof got);
    ck_assert_str_eq(got, second);
    status_expect(a, "423", "Nats-Wrong-Pin-Id", "3");
    advisory_expect(advisories, "$JS.EVENT.ADVISORY.CONSUMER.PINNED.P.PIN",
                    "io.nats.jetstream.advisory.v1.consumer_group_pinned", "PIN", "pinned_id",
                    second, NULL);

    /* priority_timeout (1 s) without a request presenting the pin unpins it; b's stale
     * pin is refused and a new request is pinned afresh */
    advisory_expect(advisories, "$JS.EVENT.ADVISORY.CONSUMER.UNPINNED.P.PIN",
                    "io.nats.jetstream.advisory.v1.consumer_group_unpinned", "PIN", "reason",
                    "timeout", NULL);
    natsSubscription *c = inbox_subscribe("c");
    next_send("PIN", "{\"batch\":1,\"group\":\"A\",\"expires\":3000000000}", "c");
    publish("p.5", "m5");
    status_expect(b, "423", "Nats-Wrong-Pin-Id", "3");
    char third[32];
    message_expect(c, "m5", third, sizeof third);
    ck_assert_str_ne(third, second);
    ck_assert_uint_eq(strlen(third), PIN_LENGTH);
    natsSubscription_Destroy(a);
    natsSubscription_Destroy(b);
    natsSubscription_Destroy(c);
    natsSubscription_Destroy(advisories);
}
END_TEST

START_TEST(priority_pin_renewed)
{
    jsc_start();
    jsc_stream_create("P", STREAM_CONFIG);
    consumer_make("PIN", "\"priority_groups\":[\"A\"],\"priority_policy\":\"pinned_client\","
                         "\"priority_timeout\":1000000000");
    /* the pinned client asking again within priority_timeout keeps its pin */
    natsSubscription *a = inbox_subscribe("a");
    next_send("PIN", "{\"batch\":1,\"group\":\"A\",\"expires\":3000000000}", "a");
    publish("p.1", "m1");
    char pin[32];
    message_expect(a, "m1", pin, sizeof pin);
    for (int i = 2; i <= 3; i++) {
        jsc_pause_ms(600);
        char body[160];
        snprintf(body, sizeof body,
                 "{\"batch\":1,\"group\":\"A\",\"id\":\"%s\",\"expires\":3000000000}", pin);
        next_send("PIN", body, "a");
        char data[8];
        snprintf(data, sizeof data, "m%d", i);
        publish("p.1", data);
        char got[32];
        message_expect(a, data, got, sizeof got);
        ck_assert_str_eq(got, pin);
    }
    info_groups_expect("PIN", true, pin);
    natsSubscription_Destroy(a);
}
END_TEST

START_TEST(priority_prioritized)
{
    jsc_start();
    jsc_stream_create("P", STREAM_CONFIG);
    consumer_make("PR", "\"priority_groups\":[\"A\"],\"priority_policy\":\"prioritized\"");
    natsSubscription *low = inbox_subscribe("low");
    natsSubscription *mid = inbox_subscribe("mid");
    natsSubscription *high = inbox_subscribe("high");
    next_send("PR", "{\"batch\":1,\"group\":\"A\",\"priority\":9,\"expires\":5000000000}",
              "high");
    next_send("PR", "{\"batch\":1,\"group\":\"A\",\"expires\":5000000000}", "low");
    next_send("PR", "{\"batch\":1,\"group\":\"A\",\"priority\":5,\"expires\":5000000000}",
              "mid");
    publish("p.1", "m1");
    publish("p.2", "m2");
    publish("p.3", "m3");
    message_expect(low, "m1", NULL, 0);
    message_expect(mid, "m2", NULL, 0);
    message_expect(high, "m3", NULL, 0);
    /* one priority shares in turn, before the next priority */
    natsSubscription *x = inbox_subscribe("x");
    natsSubscription *y = inbox_subscribe("y");
    natsSubscription *z = inbox_subscribe("z");
    next_send("PR", "{\"batch\":1,\"group\":\"A\",\"priority\":2,\"expires\":5000000000}", "z");
    next_send("PR", "{\"batch\":2,\"group\":\"A\",\"priority\":1,\"expires\":5000000000}", "x");
    next_send("PR", "{\"batch\":2,\"group\":\"A\",\"priority\":1,\"expires\":5000000000}", "y");
    for (int i = 4; i <= 8; i++) {
        char data[8];
        snprintf(data, sizeof data, "m%d", i);
        publish("p.1", data);
    }
    message_expect(x, "m4", NULL, 0);
    message_expect(y, "m5", NULL, 0);
    message_expect(x, "m6", NULL, 0);
    message_expect(y, "m7", NULL, 0);
    message_expect(z, "m8", NULL, 0);
    natsSubscription_Destroy(low);
    natsSubscription_Destroy(mid);
    natsSubscription_Destroy(high);
    natsSubscription_Destroy(x);
    natsSubscription_Destroy(y);
    natsSubscription_Destroy(z);
}
END_TEST

/* Not a priority policy, the rule they build on: a request with more to take goes behind
 * the others after each message (nats-server's waitQueue.pop), so waiting requests share. */
START_TEST(priority_none_shares)
{
    jsc_start();
    jsc_stream_create("P", STREAM_CONFIG);
    consumer_make("N", "");
    natsSubscription *x = inbox_subscribe("x");
    natsSubscription *y = inbox_subscribe("y");
    next_send("N", "{\"batch\":2,\"expires\":5000000000}", "x");
    next_send("N", "{\"batch\":2,\"expires\":5000000000}", "y");
    for (int i = 1; i <= 4; i++) {
        char data[8];
        snprintf(data, sizeof data, "m%d", i);
        publish("p.1", data);
    }
    message_expect(x, "m1", NULL, 0);
    message_expect(y, "m2", NULL, 0);
    message_expect(x, "m3", NULL, 0);
    message_expect(y, "m4", NULL, 0);
    natsSubscription_Destroy(x);
    natsSubscription_Destroy(y);
}
END_TEST

START_TEST(priority_unpin_errors)
{
    jsc_start();
    jsc_stream_create("P", STREAM_CONFIG);
    consumer_make("PIN", "\"priority_groups\":[\"A\"],\"priority_policy\":\"pinned_client\"");
    consumer_make("O", "\"priority_groups\":[\"A\"],\"priority_policy\":\"overflow\"");
    consumer_make("N", "");
    unpin_expect("P", "PIN", "", 400, ERR_INVALID_JSON,
                 "invalid JSON: unexpected end of JSON input");
    unpin_expect("P", "PIN", "{}", 400, ERR_INVALID_JSON,
                 "invalid JSON: consumer group not specified");
    unpin_expect("P", "PIN", "{\"group\":\"\"}", 400, ERR_INVALID_JSON,
                 "invalid JSON: consumer group not specified");
    unpin_expect("P", "PIN", "{\"group\":3}", 400, ERR_INVALID_JSON,
                 "invalid JSON: json: cannot unmarshal number into Go struct field "
                 "JSApiConsumerUnpinRequest.group of type string");
    unpin_expect("P", "PIN", "{\"group\":\"bad group!\"}", 400, ERR_INVALID_GROUP_NAME,
                 "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not "
                 "exceed 16 characters");
    unpin_expect("P", "PIN", "{\"group\":\"B\"}", 400, ERR_INVALID_PRIORITY_GROUP,
                 "Provided priority group does not exist for this consumer");
    unpin_expect("P", "N", "{\"group\":\"A\"}", 400, ERR_INVALID_PRIORITY_GROUP,
                 "Provided priority group does not exist for this consumer");
    unpin_expect("P", "X", "{\"group\":\"A\"}", 404, ERR_CONSUMER_NOT_FOUND,
                 "consumer not found");
    unpin_expect("Q", "X", "{\"group\":\"A\"}", 404, ERR_STREAM_NOT_FOUND, "stream not found");
    unpin_expect("P", "X", "{}", 400, ERR_INVALID_JSON,
                 "invalid JSON: consumer group not specified");
    unpin_expect("P", "PIN", "{\"group\":\"A\"}", 0, 0, NULL);
    unpin_expect("P", "O", "{\"group\":\"A\"}", 0, 0, NULL);
}
END_TEST

static Suite *priority_suite(void)
{
    Suite *suite = suite_create("jetstream_priority");
    TCase *tc = jsc_tcase("priority");
    tcase_add_test(tc, priority_requests_refused);
    tcase_add_test(tc, priority_overflow);
    tcase_add_test(tc, priority_pinned);
    tcase_add_test(tc, priority_pin_renewed);
    tcase_add_test(tc, priority_prioritized);
    tcase_add_test(tc, priority_none_shares);
    tcase_add_test(tc, priority_unpin_errors);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return jsc_run(priority_suite, PRIORITY_MAJOR, PRIORITY_MINOR,
                   "priority groups' prioritized policy");
}
