/* Consumer config tests, the parse: Go's decoding rules and texts as nats-server 2.15.1
 * words them, every prefix of a request, the request's own fields. See
 * test_js_consumer_config.c for how the replies were recorded. One test thread. */
#include "tests/unit/test_js_consumer_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The stream every sequence here runs against. */
#define STREAM_S "{\"name\":\"S\",\"subjects\":[\"s.>\"]}"

/* ---- the parse --------------------------------------------------------------------------- */

/* Go's decoding as nats-server 2.15.1 words it: unknown fields (in the request and in its
 * config), type errors with the path from CreateConsumerRequest ("Go struct field" but for
 * array elements), numbers out of range named with their text, nats-server's own decoders
 * of the policies ("can not unmarshal %q", null refused) and of priority_policy and action
 * ("unknown ...: " and the raw bytes), times, syntax errors with their offset; keys in any
 * case; several values decoding into one request; null leaving a field as it is or
 * emptying an array or map. nats-server 2.9.10 accepts unknown fields and answers every
 * decoding failure with a bare "invalid JSON" (10025). One difference is not tested: Go
 * quotes the raw bytes of a refused value ("[1, 2]") where ionats re-encodes it ("[1,2]"). */
static const struct step parse_steps[] = {
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"foo\":1}}", 400, 10025,
     "invalid JSON: json: unknown field \\\"foo\\\""},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"foo\":1}", 400, 10025,
     "invalid JSON: json: unknown field \\\"foo\\\""},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"Foo\":1}}", 400, 10025,
     "invalid JSON: json: unknown field \\\"Foo\\\""},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"ack_wait\":\"1s\"}}", 400,
     10025,
     "invalid JSON: json: cannot unmarshal string into Go struct field "
     "CreateConsumerRequest.config.ack_wait of type time.Duration"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"ack_wait\":1.5}}", 400,
     10025,
     "invalid JSON: json: cannot unmarshal number 1.5 into Go struct field "
     "CreateConsumerRequest.config.ack_wait of type time.Duration"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"max_deliver\":\"x\"}}", 400,
     10025,
     "invalid JSON: json: cannot unmarshal string into Go struct field "
     "CreateConsumerRequest.config.max_deliver of type int"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"max_deliver\":9223372036854775808}}", 400, 10025,
     "invalid JSON: json: cannot unmarshal number 9223372036854775808 into Go struct field "
     "CreateConsumerRequest.config.max_deliver of type int"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"backoff\":[1,\"x\"]}}", 400,
     10025,
     "invalid JSON: json: cannot unmarshal string into CreateConsumerRequest.config.backoff.1 of "
     "type time.Duration"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"backoff\":\"x\"}}", 400,
     10025,
     "invalid JSON: json: cannot unmarshal string into Go struct field "
     "CreateConsumerRequest.config.backoff of type []time.Duration"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"backoff\":[1.5]}}", 400,
     10025,
     "invalid JSON: json: cannot unmarshal number 1.5 into CreateConsumerRequest.config.backoff.0 "
     "of type time.Duration"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"backoff\":[1e3]}}", 400,
     10025,
     "invalid JSON: json: cannot unmarshal number 1e3 into CreateConsumerRequest.config.backoff.0 "
     "of type time.Duration"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"deliver_policy\":\"foo\"}}",
     400, 10025, "invalid JSON: can not unmarshal \\\"\\\\\\\"foo\\\\\\\"\\\""},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"deliver_policy\":\"All\"}}",
     400, 10025, "invalid JSON: can not unmarshal \\\"\\\\\\\"All\\\\\\\"\\\""},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"deliver_policy\":null}}",
     400, 10025, "invalid JSON: can not unmarshal \\\"null\\\""},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"deliver_policy\":1}}", 400,
     10025, "invalid JSON: can not unmarshal \\\"1\\\""},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"deliver_policy\":1.5e1}}",
     400, 10025, "invalid JSON: can not unmarshal \\\"1.5e1\\\""},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"ack_policy\":\"ALL\"}}",
     400, 10025, "invalid JSON: can not unmarshal \\\"\\\\\\\"ALL\\\\\\\"\\\""},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"ack_policy\":{}}}", 400,
     10025, "invalid JSON: can not unmarshal \\\"{}\\\""},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"replay_policy\":\"x\"}}",
     400, 10025, "invalid JSON: can not unmarshal \\\"\\\\\\\"x\\\\\\\"\\\""},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"priority_policy\":\"x\"}}",
     400, 10025, "invalid JSON: unknown priority policy: \\\"x\\\""},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"priority_policy\":null}}",
     400, 10025, "invalid JSON: unknown priority policy: null"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"priority_policy\":1.5}}",
     400, 10025, "invalid JSON: unknown priority policy: 1.5"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"action\":\"x\"}", 400, 10025,
     "invalid JSON: unknown consumer action: \\\"x\\\""},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"action\":\"CREATE\"}", 400, 10025,
     "invalid JSON: unknown consumer action: \\\"CREATE\\\""},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"action\":null}", 400, 10025,
     "invalid JSON: unknown consumer action: null"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"action\":1}", 400, 10025,
     "invalid JSON: unknown consumer action: 1"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"action\":true}", 400, 10025,
     "invalid JSON: unknown consumer action: true"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"opt_start_time\":\"x\"}}",
     400, 10025,
     "invalid JSON: parsing time \\\"x\\\" as \\\"2006-01-02T15:04:05Z07:00\\\": cannot parse "
     "\\\"x\\\" as \\\"2006\\\""},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"opt_start_time\":\"2024-01-01T00:00:00\"}}", 400, 10025,
     "invalid JSON: parsing time \\\"2024-01-01T00:00:00\\\" as \\\"2006-01-02T15:04:05Z07:00\\\": "
     "cannot parse \\\"\\\" as \\\"Z07:00\\\""},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"opt_start_seq\":-1}}", 400,
     10025,
     "invalid JSON: json: cannot unmarshal number -1 into Go struct field "
     "CreateConsumerRequest.config.opt_start_seq of type uint64"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"opt_start_seq\":18446744073709551616}}", 400, 10025,
     "invalid JSON: json: cannot unmarshal number 18446744073709551616 into Go struct field "
     "CreateConsumerRequest.config.opt_start_seq of type uint64"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"opt_start_seq\":18446744073709551615}}", 400, 10094,
     "consumer delivery policy is deliver all, but optional start sequence is also set"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"metadata\":{\"a\":1}}}",
     400, 10025,
     "invalid JSON: json: cannot unmarshal number into Go struct field "
     "CreateConsumerRequest.config.metadata.a of type string"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"metadata\":[]}}", 400,
     10025,
     "invalid JSON: json: cannot unmarshal array into Go struct field "
     "CreateConsumerRequest.config.metadata of type map[string]string"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"filter_subjects\":[1]}}",
     400, 10025,
     "invalid JSON: json: cannot unmarshal number into "
     "CreateConsumerRequest.config.filter_subjects.0 of type string"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"filter_subjects\":\"s.a\"}}", 400, 10025,
     "invalid JSON: json: cannot unmarshal string into Go struct field "
     "CreateConsumerRequest.config.filter_subjects of type []string"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"priority_groups\":\"x\"}}",
     400, 10025,
     "invalid JSON: json: cannot unmarshal string into Go struct field "
     "CreateConsumerRequest.config.priority_groups of type []string"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":\"x\"}", 400, 10025,
     "invalid JSON: json: cannot unmarshal string into Go struct field "
     "CreateConsumerRequest.config of type server.ConsumerConfig"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":[]}", 400, 10025,
     "invalid JSON: json: cannot unmarshal array into Go struct field CreateConsumerRequest.config "
     "of type server.ConsumerConfig"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":1}", 400, 10025,
     "invalid JSON: json: cannot unmarshal number into Go struct field "
     "CreateConsumerRequest.stream_name of type string"},
    {"$JS.API.CONSUMER.CREATE.S", "[1]", 400, 10025,
     "invalid JSON: json: cannot unmarshal array into Go value of type "
     "server.CreateConsumerRequest"},
    {"$JS.API.CONSUMER.CREATE.S", "\"x\"", 400, 10025,
     "invalid JSON: json: cannot unmarshal string into Go value of type "
     "server.CreateConsumerRequest"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"deliver_subject\":\"d\"},\"pedantic\":\"x\"}", 400,
     10025,
     "invalid JSON: json: cannot unmarshal string into Go struct field "
     "CreateConsumerRequest.pedantic of type bool"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"rate_limit_bps\":-1}}", 400,
     10025,
     "invalid JSON: json: cannot unmarshal number -1 into Go struct field "
     "CreateConsumerRequest.config.rate_limit_bps of type uint64"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"max_waiting\":1e3}}", 400,
     10025,
     "invalid JSON: json: cannot unmarshal number 1e3 into Go struct field "
     "CreateConsumerRequest.config.max_waiting of type int"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"headers_only\":1}}", 400,
     10025,
     "invalid JSON: json: cannot unmarshal number into Go struct field "
     "CreateConsumerRequest.config.headers_only of type bool"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"pause_until\":5}}", 400,
     10025,
     "invalid JSON: json: cannot unmarshal number into Go struct field "
     "CreateConsumerRequest.config.pause_until of type time.Time"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",", 400, 10025,
     "invalid JSON: unexpected EOF"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\" \"config\":{}}", 400, 10025,
     "invalid JSON: invalid character '\\\"' after object key:value pair at offset 20"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"name\":\"x\"}}}", 400,
     10025, "invalid JSON: invalid character '}' looking for beginning of value at offset 42"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"num_replicas\":true}}", 400,
     10025,
     "invalid JSON: json: cannot unmarshal bool into Go struct field "
     "CreateConsumerRequest.config.num_replicas of type int"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"sample_freq\":5}}", 400,
     10025,
     "invalid JSON: json: cannot unmarshal number into Go struct field "
     "CreateConsumerRequest.config.sample_freq of type string"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"STREAM_NAME\":\"S\",\"Config\":{\"Name\":\"K1\",\"DELIVER_SUBJECT\":\"d.k1\",\"Ack_"
     "Policy\":\"all\"}}",
     OK,
     "{\"name\":\"K1\",\"deliver_policy\":\"all\",\"ack_policy\":\"all\",\"ack_wait\":30000000000,"
     "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_ack_pending\":1000,\"deliver_"
     "subject\":\"d.k1\",\"inactive_threshold\":5000000000,\"num_replicas\":0,\"metadata\":{\"_"
     "nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"T\"} {\"stream_name\":\"S\",\"config\":{\"name\":\"K2\"}}", OK,
     "{\"name\":\"K2\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"K3\",\"backoff\":[1000000000,null,3000000000],"
     "\"max_deliver\":4}}",
     OK,
     "{\"name\":\"K3\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"ack_wait\":1000000000,"
     "\"max_deliver\":4,\"backoff\":[1000000000,0,3000000000],\"replay_policy\":\"instant\",\"max_"
     "waiting\":512,\"inactive_threshold\":5000000000,\"num_replicas\":0,\"metadata\":{\"_nats."
     "level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"K4\",\"filter_subjects\":[\"s.a\"],"
     "\"metadata\":{\"x\":\"y\"},\"priority_groups\":null}} "
     "{\"config\":{\"filter_subjects\":null,\"metadata\":null,\"backoff\":null}}",
     OK,
     "{\"name\":\"K4\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"K5\",\"deliver_policy\":\"undefined\","
     "\"action\":\"create\"}}",
     400, 10025, "invalid JSON: json: unknown field \\\"action\\\""},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"K6\",\"description\":\"caf\\u00e9 \\u2028 "
     "<b>\",\"deliver_subject\":\"d.k6\",\"deliver_group\":\"g&h\"}}",
     OK,
     "{\"name\":\"K6\",\"description\":\"café \\u2028 "
     "\\u003cb\\u003e\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"deliver_subject\":\"d.k6\",\"deliver_group\":\"g\\u0026h\","
     "\"inactive_threshold\":5000000000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_"
     "nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"K7\",\"opt_start_time\":null,\"pause_until\":"
     "\"2030-06-01T12:00:00.000001-11:45\"}}",
     OK,
     "{\"name\":\"K7\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"1\",\"_nats.ver\":\"2."
     "15.1\"},\"pause_until\":\"2030-06-01T12:00:00.000001-11:45\"}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":null,\"action\":\"\",\"pedantic\":false}", OK,
     "{\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,\"replay_policy\":"
     "\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_replicas\":0,"
     "\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
};

START_TEST(test_parse)
{
    RUN_STEPS(STREAM_S, parse_steps);
}
END_TEST

/* Every prefix of a request decodes or is refused, never read past; the whole one decodes.
 * Each prefix is a heap copy of exactly its length (parse). */
START_TEST(test_parse_prefixes)
{
    static const char body[] =
        "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"d\",\"backoff\":[1,2.5e0],"
        "\"deliver_policy\":\"by_start_time\",\"opt_start_time\":\"2024-01-01T00:00:00Z\","
        "\"metadata\":{\"a\":\"\\u00e9\"},\"filter_subjects\":[\"s.a\",null],\"priority_policy\":"
        "\"overflow\"},\"action\":\"create\",\"pedantic\":true}";
    size_t length = strlen(body);
    for (size_t cut = 0; cut <= length; cut++) {
        char *prefix = strndup(body, cut);
        ck_assert_ptr_nonnull(prefix);
        struct js_consumer_request request;
        struct js_error error;
        int rc = parse(prefix, &request, &error);
        ck_assert_msg(rc == 0 || rc == -EINVAL, "cut %zu: %d", cut, rc);
        ck_assert_msg(rc != 0 || cut == 0 || cut == length, "cut %zu decoded", cut);
        if (rc == 0) {
            js_consumer_request_free(&request);
        } else {
            ck_assert_int_eq(error.id, JS_ERR_INVALID_JSON);
        }
        free(prefix);
    }
}
END_TEST

/* The request's own fields: action and pedantic decoded, an empty body an empty request
 * (nats-server then answers 10056, see the subject tests). */
START_TEST(test_parse_request)
{
    struct js_consumer_request request;
    struct js_error error;
    ck_assert_int_eq(parse("", &request, &error), 0);
    ck_assert_ptr_null(request.stream_name);
    ck_assert_int_eq(request.action, JS_CONSUMER_ACTION_CREATE_OR_UPDATE);
    js_consumer_request_free(&request);
    ck_assert_int_eq(
        parse("{\"stream_name\":\"S\",\"action\":\"update\",\"pedantic\":true}", &request, &error),
        0);
    ck_assert_str_eq(request.stream_name, "S");
    ck_assert_int_eq(request.action, JS_CONSUMER_ACTION_UPDATE);
    ck_assert(request.pedantic);
    js_consumer_request_free(&request);
    ck_assert_int_eq(parse("{\"action\":\"create\"} {\"action\":\"\"}", &request, &error), 0);
    ck_assert_int_eq(request.action, JS_CONSUMER_ACTION_CREATE_OR_UPDATE);
    js_consumer_request_free(&request);
}
END_TEST

TCase *js_consumer_config_parse_tcase(void)
{
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_parse);
    tcase_add_test(tc, test_parse_prefixes);
    tcase_add_test(tc, test_parse_request);
    return tc;
}
