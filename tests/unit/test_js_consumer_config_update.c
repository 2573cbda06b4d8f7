/* Consumer config tests, around the checks: the create handler's checks of the subject
 * against the request, updates of an existing consumer and the actions, equality, what a
 * new consumer needs, the API level metadata and which subjects a consumer delivers. See
 * test_js_consumer_config.c for how the replies were recorded. One test thread. */
#include "tests/unit/test_js_consumer_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_S "{\"name\":\"S\",\"subjects\":[\"s.>\"]}"

/* ---- the subject against the request ----------------------------------------------------- */

/* In the handler's order: the stream name (10056, an empty body included), path separators
 * in the consumer name, from the subject or the CREATE form's config (10127), the durable
 * form (10018, 10017; its name imposed on the config), the named forms (10017; the name
 * imposed), the CREATE form without a durable (10020), the filtered form (10137, 10131),
 * replicas (10074), then the stream (10059) and the action "update" of a new name (10149).
 * nats-server 2.9.10 differs: an empty body is 10025 "invalid JSON", so is a body of
 * two values; a '/' in the config's name passes; the DURABLE.CREATE form does not impose
 * its name (10132 when the config's differs); the filtered form with filter_subjects is
 * 10131; "*" as a name is 10103; it has no action (an "update" creates). */
static const struct step subject_steps[] = {
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"T\",\"config\":{}}", 400, 10056,
     "stream name in subject does not match request"},
    {"$JS.API.CONSUMER.CREATE.S.a\\b", "{\"stream_name\":\"S\",\"config\":{}}", 400, 10127,
     "Consumer name can not contain path separators"},
    {"$JS.API.CONSUMER.CREATE.S.a/b", "{\"stream_name\":\"T\",\"config\":{}}", 400, 10056,
     "stream name in subject does not match request"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"name\":\"x/y\"}}", 400,
     10127, "Consumer name can not contain path separators"},
    {"$JS.API.CONSUMER.DURABLE.CREATE.S.d", "{\"stream_name\":\"S\",\"config\":{}}", 400, 10018,
     "consumer expected to be durable but a durable name was not set"},
    {"$JS.API.CONSUMER.DURABLE.CREATE.S.d",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"e\"}}", 400, 10017,
     "consumer name in subject does not match durable name in request"},
    {"$JS.API.CONSUMER.DURABLE.CREATE.S.d",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"d\",\"name\":\"zz\"}}", OK,
     "{\"durable_name\":\"d\",\"name\":\"d\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\","
     "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"num_replicas\":0,"
     "\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.DURABLE.CREATE.S.d/x",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"d/x\"}}", 400, 10127,
     "Consumer name can not contain path separators"},
    {"$JS.API.CONSUMER.CREATE.S.n1", "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"zz\"}}",
     400, 10017, "consumer name in subject does not match durable name in request"},
    {"$JS.API.CONSUMER.CREATE.S.n2", "{\"stream_name\":\"S\",\"config\":{\"name\":\"zz\"}}", OK,
     "{\"name\":\"n2\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.n3",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"n3\",\"name\":\"zz\"}}", OK,
     "{\"durable_name\":\"n3\",\"name\":\"n3\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\","
     "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"num_replicas\":0,"
     "\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.n4", "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"n4\"}}",
     OK,
     "{\"durable_name\":\"n4\",\"name\":\"n4\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\","
     "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"num_replicas\":0,"
     "\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"zz\"}}",
     400, 10020, "consumer expected to be ephemeral but a durable name was set in request"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"n5\",\"durable_name\":\"zz\"}}", 400, 10020,
     "consumer expected to be ephemeral but a durable name was set in request"},
    {"$JS.API.CONSUMER.CREATE.S.n6.s.a",
     "{\"stream_name\":\"S\",\"config\":{\"filter_subjects\":[\"s.a\"]}}", 400, 10137,
     "consumer with multiple subject filters cannot use subject based API"},
    {"$JS.API.CONSUMER.CREATE.S.n7.s.a",
     "{\"stream_name\":\"S\",\"config\":{\"filter_subject\":\"s.b\"}}", 400, 10131,
     "Consumer create request did not match filtered subject from create subject"},
    {"$JS.API.CONSUMER.CREATE.S.n8.s.a", "{\"stream_name\":\"S\",\"config\":{}}", 400, 10131,
     "Consumer create request did not match filtered subject from create subject"},
    {"$JS.API.CONSUMER.CREATE.S.n9.s.*",
     "{\"stream_name\":\"S\",\"config\":{\"filter_subject\":\"s.*\"}}", OK,
     "{\"name\":\"n9\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"filter_subject\":\"s.*\",\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_"
     "threshold\":5000000000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req."
     "level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.n10.s.>",
     "{\"stream_name\":\"S\",\"config\":{\"filter_subject\":\"s.>\"}}", OK,
     "{\"name\":\"n10\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"filter_subject\":\"s.\\u003e\",\"replay_policy\":\"instant\",\"max_waiting\":512,"
     "\"inactive_threshold\":5000000000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_"
     "nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.n11", "{\"stream_name\":\"T\",\"config\":{\"num_replicas\":2}}",
     400, 10056, "stream name in subject does not match request"},
    {"$JS.API.CONSUMER.CREATE.S.n12",
     "{\"stream_name\":\"S\",\"config\":{\"num_replicas\":2,\"durable_name\":\"xx\"}}", 400, 10017,
     "consumer name in subject does not match durable name in request"},
    {"$JS.API.CONSUMER.CREATE.T.n13", "{\"stream_name\":\"T\",\"config\":{\"num_replicas\":1}}",
     404, 10059, "stream not found"},
    {"$JS.API.CONSUMER.CREATE.S.n14",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"n14\",\"name\":\"n14\"}}", OK,
     "{\"durable_name\":\"n14\",\"name\":\"n14\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"none\",\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.*", "{\"stream_name\":\"S\",\"config\":{}}", 500, 10052,
     "consumer name can not contain '.', '*', '\\u003e', '\\\\', '/'"},
    {"$JS.API.CONSUMER.CREATE.S.n15", "{\"stream_name\":\"S\",\"config\":{\"num_replicas\":2}}",
     500, 10074, "replicas \\u003e 1 not supported in non-clustered mode"},
    {"$JS.API.CONSUMER.CREATE.S.n16",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"n16\"},\"action\":\"update\"}", 400, 10149,
     "consumer does not exist"},
    {"$JS.API.CONSUMER.CREATE.S", "", 400, 10056, "stream name in subject does not match request"},
    {"$JS.API.CONSUMER.CREATE.S", "{}", 400, 10056,
     "stream name in subject does not match request"},
    {"$JS.API.CONSUMER.CREATE.S", "null", 400, 10056,
     "stream name in subject does not match request"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"n17\"}}{\"stream_name\":\"S\",\"config\":{"
     "\"name\":\"n18\"}}",
     OK,
     "{\"name\":\"n18\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"n19\",\"deliver_subject\":\"dd\"},\"pedantic\":"
     "false,\"action\":\"\"}",
     OK,
     "{\"name\":\"n19\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"deliver_subject\":\"dd\",\"inactive_threshold\":5000000000,"
     "\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats."
     "ver\":\"2.15.1\"}}"},
};

START_TEST(test_subjects)
{
    RUN_STEPS(STREAM_S, subject_steps);
}
END_TEST

/* ---- updates and actions ----------------------------------------------------------------- */

/* A pull durable, then what may change (description, max_ack_pending, filter, ack_wait,
 * backoff within max_deliver, metadata) and what may not (10012 with nats-server's text,
 * 10116); action "create" answered with the existing consumer only when the config is the
 * same (10148 otherwise, a new pause_until ignored as nats-server keeps the existing one),
 * "update" of a missing one (10149); an ephemeral named on the subject, whose defaulted
 * inactive_threshold makes a repeated "create" differ unless given; start times compared
 * as instants by the update rules; a push durable changing its deliver subject (nobody
 * listening on the old one), its heartbeat (10012), to pull (10012). */
static const struct step update_steps[] = {
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\"}}",
     OK,
     "{\"durable_name\":\"dur\",\"name\":\"dur\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_subject\":\"s.foo\","
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":1000,\"num_replicas\":"
     "0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"description\":\"new\"}}",
     OK,
     "{\"durable_name\":\"dur\",\"name\":\"dur\",\"description\":\"new\",\"deliver_policy\":"
     "\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_"
     "subject\":\"s.foo\",\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":"
     "1000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_"
     "nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"deliver_policy\":\"new\"}}",
     500, 10012, "deliver policy can not be updated"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"mem_storage\":true}}",
     500, 10012, "storage type can not be updated"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"opt_start_seq\":0,\"deliver_policy\":\"all\"}}",
     OK,
     "{\"durable_name\":\"dur\",\"name\":\"dur\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_subject\":\"s.foo\","
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":1000,\"num_replicas\":"
     "0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"all\",\"filter_subject\":\"s.foo\"}}",
     500, 10012, "ack policy can not be updated"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"replay_policy\":\"original\"}}",
     500, 10012, "replay policy can not be updated"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"deliver_subject\":\"x.y\"}}",
     500, 10012, "can not update pull consumer to push based"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"max_waiting\":10}}",
     500, 10012, "max waiting can not be updated"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"max_ack_pending\":10}}",
     OK,
     "{\"durable_name\":\"dur\",\"name\":\"dur\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_subject\":\"s.foo\","
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":10,\"num_replicas\":0,"
     "\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo2\"}}",
     OK,
     "{\"durable_name\":\"dur\",\"name\":\"dur\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_subject\":\"s.foo2\","
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":1000,\"num_replicas\":"
     "0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"ack_wait\":5000000000}}",
     OK,
     "{\"durable_name\":\"dur\",\"name\":\"dur\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"explicit\",\"ack_wait\":5000000000,\"max_deliver\":-1,\"filter_subject\":\"s.foo\","
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":1000,\"num_replicas\":"
     "0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"max_deliver\":2,\"backoff\":[1000000000,"
     "2000000000,3000000000]}}",
     400, 10116, "max deliver is required to be \\u003e length of backoff values"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"max_deliver\":3,\"backoff\":[1000000000,"
     "2000000000,3000000000]}}",
     OK,
     "{\"durable_name\":\"dur\",\"name\":\"dur\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"explicit\",\"ack_wait\":1000000000,\"max_deliver\":3,\"backoff\":[1000000000,2000000000,"
     "3000000000],\"filter_subject\":\"s.foo\",\"replay_policy\":\"instant\",\"max_waiting\":512,"
     "\"max_ack_pending\":1000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req."
     "level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"direct\":true}}",
     400, 10090, "consumer direct requires a push based consumer"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"sourcing\":true}}",
     500, 10012, "sourcing can not be updated"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"metadata\":{\"a\":\"b\"}}}",
     OK,
     "{\"durable_name\":\"dur\",\"name\":\"dur\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_subject\":\"s.foo\","
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":1000,\"num_replicas\":"
     "0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\","
     "\"a\":\"b\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"metadata\":{\"a\":\"b\"}},\"action\":\"create\"}",
     OK,
     "{\"durable_name\":\"dur\",\"name\":\"dur\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_subject\":\"s.foo\","
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":1000,\"num_replicas\":"
     "0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\","
     "\"a\":\"b\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\"},\"action\":\"create\"}",
     400, 10148, "consumer already exists"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"description\":\"zzz\"},\"action\":\"create\"}",
     400, 10148, "consumer already exists"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"description\":\"zzz\"},\"action\":\"update\"}",
     OK,
     "{\"durable_name\":\"dur\",\"name\":\"dur\",\"description\":\"zzz\",\"deliver_policy\":"
     "\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_"
     "subject\":\"s.foo\",\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":"
     "1000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_"
     "nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"description\":\"zzz\"},\"action\":\"create\"}",
     OK,
     "{\"durable_name\":\"dur\",\"name\":\"dur\",\"description\":\"zzz\",\"deliver_policy\":"
     "\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_"
     "subject\":\"s.foo\",\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":"
     "1000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_"
     "nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"description\":\"zzz\",\"pause_until\":\"2031-01-"
     "01T00:00:00Z\"},\"action\":\"create\"}",
     OK,
     "{\"durable_name\":\"dur\",\"name\":\"dur\",\"description\":\"zzz\",\"deliver_policy\":"
     "\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_"
     "subject\":\"s.foo\",\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":"
     "1000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_"
     "nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"dur\",\"durable_name\":\"dur\",\"ack_policy\":"
     "\"explicit\",\"filter_subject\":\"s.foo\",\"description\":\"zzz\",\"pause_until\":\"2031-01-"
     "01T00:00:00Z\"}}",
     OK,
     "{\"durable_name\":\"dur\",\"name\":\"dur\",\"description\":\"zzz\",\"deliver_policy\":"
     "\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_"
     "subject\":\"s.foo\",\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":"
     "1000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_"
     "nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.nope",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"nope\",\"ack_policy\":\"explicit\"},\"action\":"
     "\"update\"}",
     400, 10149, "consumer does not exist"},
    {"$JS.API.CONSUMER.CREATE.S.eph1",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"eph1\"},\"action\":\"create\"}", OK,
     "{\"name\":\"eph1\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.eph1",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"eph1\"},\"action\":\"create\"}", 400, 10148,
     "consumer already exists"},
    {"$JS.API.CONSUMER.CREATE.S.eph1",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"eph1\",\"inactive_threshold\":5000000000},"
     "\"action\":\"create\"}",
     OK,
     "{\"name\":\"eph1\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.eph1", "{\"stream_name\":\"S\",\"config\":{\"name\":\"eph1\"}}", OK,
     "{\"name\":\"eph1\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.eph1",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"eph1\",\"inactive_threshold\":9000000000}}", OK,
     "{\"name\":\"eph1\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":9000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.eph1",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"eph1\",\"metadata\":{\"_nats.req.level\":\"3\","
     "\"_nats.ver\":\"x\"}}}",
     OK,
     "{\"name\":\"eph1\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.eph1",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"eph1\",\"pause_until\":\"2030-01-01T00:00:00+"
     "02:00\"}}",
     OK,
     "{\"name\":\"eph1\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.eph2",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"eph2\",\"deliver_policy\":\"by_start_time\","
     "\"opt_start_time\":\"2024-01-01T02:00:00+02:00\"}}",
     OK,
     "{\"name\":\"eph2\",\"deliver_policy\":\"by_start_time\",\"opt_start_time\":\"2024-01-01T02:"
     "00:00+02:00\",\"ack_policy\":\"none\",\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_"
     "waiting\":512,\"inactive_threshold\":5000000000,\"num_replicas\":0,\"metadata\":{\"_nats."
     "level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.eph2",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"eph2\",\"deliver_policy\":\"by_start_time\","
     "\"opt_start_time\":\"2024-01-01T00:00:00Z\"}}",
     OK,
     "{\"name\":\"eph2\",\"deliver_policy\":\"by_start_time\",\"opt_start_time\":\"2024-01-01T00:"
     "00:00Z\",\"ack_policy\":\"none\",\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_"
     "waiting\":512,\"inactive_threshold\":5000000000,\"num_replicas\":0,\"metadata\":{\"_nats."
     "level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.eph2",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"eph2\",\"deliver_policy\":\"by_start_time\","
     "\"opt_start_time\":\"2024-01-01T00:00:01Z\"}}",
     500, 10012, "start time can not be updated"},
    {"$JS.API.CONSUMER.CREATE.S.eph2",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"eph2\",\"deliver_policy\":\"by_start_time\","
     "\"opt_start_time\":\"2024-01-01T00:00:00Z\"},\"action\":\"create\"}",
     400, 10148, "consumer already exists"},
    {"$JS.API.CONSUMER.DURABLE.CREATE.S.pushdur",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"pushdur\",\"ack_policy\":\"explicit\","
     "\"filter_subject\":\"s.baz\",\"deliver_subject\":\"_INBOX.p1\"}}",
     OK,
     "{\"durable_name\":\"pushdur\",\"name\":\"pushdur\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_subject\":\"s.baz\","
     "\"replay_policy\":\"instant\",\"max_ack_pending\":1000,\"deliver_subject\":\"_INBOX.p1\","
     "\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats."
     "ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.DURABLE.CREATE.S.pushdur",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"pushdur\",\"ack_policy\":\"explicit\","
     "\"filter_subject\":\"s.baz\",\"deliver_subject\":\"other.x\"}}",
     OK,
     "{\"durable_name\":\"pushdur\",\"name\":\"pushdur\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_subject\":\"s.baz\","
     "\"replay_policy\":\"instant\",\"max_ack_pending\":1000,\"deliver_subject\":\"other.x\",\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.DURABLE.CREATE.S.pushdur",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"pushdur\",\"ack_policy\":\"explicit\","
     "\"filter_subject\":\"s.baz\",\"deliver_subject\":\"_INBOX.p1\",\"idle_heartbeat\":1000000000}"
     "}",
     500, 10012, "heart beats can not be updated"},
    {"$JS.API.CONSUMER.DURABLE.CREATE.S.pushdur",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"pushdur\",\"ack_policy\":\"explicit\","
     "\"filter_subject\":\"s.baz\",\"deliver_subject\":\"_INBOX.p1\",\"flow_control\":true,\"idle_"
     "heartbeat\":1000000000}}",
     500, 10012, "heart beats can not be updated"},
    {"$JS.API.CONSUMER.DURABLE.CREATE.S.pushdur",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"pushdur\",\"ack_policy\":\"explicit\","
     "\"filter_subject\":\"s.baz\",\"deliver_subject\":null}}",
     500, 10012, "can not update push consumer to pull based"},
    {"$JS.API.CONSUMER.DURABLE.CREATE.S.pushdur",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"pushdur\",\"ack_policy\":\"explicit\","
     "\"filter_subject\":\"s.baz\",\"deliver_subject\":\"_INBOX.p1\",\"headers_only\":true,"
     "\"deliver_group\":\"q\",\"rate_limit_bps\":1000,\"sample_freq\":\"20\"}}",
     OK,
     "{\"durable_name\":\"pushdur\",\"name\":\"pushdur\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_subject\":\"s.baz\","
     "\"replay_policy\":\"instant\",\"rate_limit_bps\":1000,\"sample_freq\":\"20\",\"max_ack_"
     "pending\":1000,\"headers_only\":true,\"deliver_subject\":\"_INBOX.p1\",\"deliver_group\":"
     "\"q\",\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_"
     "nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.DURABLE.CREATE.S.pushdur",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"pushdur\",\"ack_policy\":\"explicit\","
     "\"filter_subject\":\"s.baz\",\"deliver_subject\":\"_INBOX.p1\",\"max_waiting\":3}}",
     400, 10080, "consumer in push mode can not set max waiting"},
    {"$JS.API.CONSUMER.CREATE.S.dur",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"dur\",\"ack_policy\":\"explicit\","
     "\"filter_subject\":\"s.foo\",\"deliver_subject\":\"d.d\"}}",
     500, 10012, "can not update pull consumer to push based"},
};

START_TEST(test_updates)
{
    RUN_STEPS(STREAM_S, update_steps);
}
END_TEST

/* What nats-server does by the existing consumer rather than by the request: an update
 * turning an ephemeral into a durable keeps the 5 s default (updateInactiveThreshold asks
 * the consumer, still ephemeral), the other way round gets none, and nothing changes when
 * the threshold asked is the one held; an array given empty differs from an absent one to
 * "create" (Go's nil against empty slices); a "create" equal to the existing consumer
 * answers with it unchanged, its _nats.req.level included, and compares the request's
 * threshold before the default (0 against a stamped 5 s differs). */
static const struct step nuance_steps[] = {
    {"$JS.API.CONSUMER.CREATE.S.e1", "{\"stream_name\":\"S\",\"config\":{}}", OK,
     "{\"name\":\"e1\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.e1", "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"e1\"}}",
     OK,
     "{\"durable_name\":\"e1\",\"name\":\"e1\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\","
     "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":"
     "5000000000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\","
     "\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.e1", "{\"stream_name\":\"S\",\"config\":{}}", OK,
     "{\"name\":\"e1\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"num_replicas\":0,\"metadata\":{\"_nats."
     "level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.e1",
     "{\"stream_name\":\"S\",\"config\":{\"description\":\"again\"}}", OK,
     "{\"name\":\"e1\",\"description\":\"again\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"none\",\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.e2", "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"e2\"}}",
     OK,
     "{\"durable_name\":\"e2\",\"name\":\"e2\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\","
     "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"num_replicas\":0,"
     "\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.e2",
     "{\"stream_name\":\"S\",\"config\":{\"inactive_threshold\":2000000000}}", OK,
     "{\"name\":\"e2\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":2000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.e2", "{\"stream_name\":\"S\",\"config\":{}}", OK,
     "{\"name\":\"e2\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.e3",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"e3\",\"backoff\":[]}}", OK,
     "{\"durable_name\":\"e3\",\"name\":\"e3\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\","
     "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"num_replicas\":0,"
     "\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.e3",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"e3\"},\"action\":\"create\"}", 400,
     10148, "consumer already exists"},
    {"$JS.API.CONSUMER.CREATE.S.e3",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"e3\",\"backoff\":[]},\"action\":"
     "\"create\"}",
     OK,
     "{\"durable_name\":\"e3\",\"name\":\"e3\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\","
     "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"num_replicas\":0,"
     "\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.e3",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"e3\",\"filter_subjects\":[]},"
     "\"action\":\"create\"}",
     400, 10148, "consumer already exists"},
    {"$JS.API.CONSUMER.CREATE.S.e3",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"e3\",\"filter_subjects\":[]}}", OK,
     "{\"durable_name\":\"e3\",\"name\":\"e3\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\","
     "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"num_replicas\":0,"
     "\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.e3",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"e3\",\"filter_subjects\":[],\"priority_"
     "groups\":[]},\"action\":\"create\"}",
     400, 10148, "consumer already exists"},
    {"$JS.API.CONSUMER.CREATE.S.e4", "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"e4\"}}",
     OK,
     "{\"durable_name\":\"e4\",\"name\":\"e4\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\","
     "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"num_replicas\":0,"
     "\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.e4",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"e4\",\"priority_timeout\":-1},"
     "\"action\":\"create\"}",
     OK,
     "{\"durable_name\":\"e4\",\"name\":\"e4\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\","
     "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"num_replicas\":0,"
     "\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.e4",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"e4\",\"priority_timeout\":-1}}", OK,
     "{\"durable_name\":\"e4\",\"name\":\"e4\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\","
     "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"num_replicas\":0,"
     "\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"1\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.e2", "{\"stream_name\":\"S\",\"config\":{},\"action\":\"create\"}",
     400, 10148, "consumer already exists"},
};

START_TEST(test_update_nuances)
{
    RUN_STEPS(STREAM_S, nuance_steps);
}
END_TEST

/* A push consumer moving to another deliver subject while the old one has listeners: 10013,
 * as checkNewConsumerConfig refuses; what else may not change is checked first. */
START_TEST(test_update_deliver_interest)
{
    struct fixture *fixture = malloc(sizeof *fixture);
    ck_assert_ptr_nonnull(fixture);
    fixture_init(fixture, STREAM_S);
    static const char subject[] = "$JS.API.CONSUMER.DURABLE.CREATE.S.p";
    char *reply = create_reply(fixture, subject,
                               "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"p\","
                               "\"deliver_subject\":\"d.1\"}}");
    ck_assert_msg(strncmp(reply, "\"config\":", 9) == 0, "%s", reply);
    free(reply);
    struct js_consumer_config *old = fixture_consumer(fixture, "p");
    ck_assert_ptr_nonnull(old);
    struct js_consumer_config config;
    ck_assert_int_eq(js_consumer_config_copy(&config, old), 0);
    free(config.deliver_subject);
    config.deliver_subject = strdup("d.2");
    struct js_error error;
    ck_assert_int_eq(js_consumer_config_check_update_push(old, &config, true, &error), -EINVAL);
    ck_assert_int_eq(error.id, JS_ERR_CONSUMER_NAME_EXIST);
    ck_assert_str_eq(error.description, "consumer name already in use");
    ck_assert_int_eq(js_consumer_config_check_update_push(old, &config, false, &error), 0);
    ck_assert_int_eq(js_consumer_config_check_update(old, &config, &error), 0);
    config.flow_control = true;
    ck_assert_int_eq(js_consumer_config_check_update_push(old, &config, true, &error), -EINVAL);
    ck_assert_int_eq(error.id, JS_ERR_CONSUMER_CREATE);
    ck_assert_str_eq(error.description, "flow control can not be updated");
    config.flow_control = false;
    /* the same deliver subject is no move */
    free(config.deliver_subject);
    config.deliver_subject = strdup("d.1");
    ck_assert_int_eq(js_consumer_config_check_update_push(old, &config, true, &error), 0);
    js_consumer_config_free(&config);
    fixture_free(fixture);
    free(fixture);
}
END_TEST

/* ---- equality ---------------------------------------------------------------------------- */

static void parse_checked(const char *body, struct js_consumer_config *config)
{
    struct js_consumer_request request;
    struct js_error error;
    ck_assert_int_eq(parse(body, &request, &error), 0);
    struct js_stream_config stream;
    bool pedantic;
    static const char stream_body[] = STREAM_S;
    ck_assert_int_eq(
        js_stream_config_parse(stream_body, strlen(stream_body), &stream, &pedantic, &error), 0);
    struct js_stream_config_check_options stream_options = {false, 0};
    ck_assert_int_eq(js_stream_config_check(&stream, &stream_options, &error), 0);
    ck_assert_int_eq(js_consumer_config_metadata_set_static(&request.config), 0);
    struct js_consumer_config_check_options options = {false, &stream};
    ck_assert_msg(js_consumer_config_check(&request.config, &options, &error) == 0, "%s",
                  error.description);
    js_stream_config_free(&stream);
    *config = request.config;
    js_consumer_config_init(&request.config);
    js_consumer_request_free(&request);
}

/* Every field counts but nats-server's metadata keys; a defaulted inactive_threshold never
 * equals (nats-server stamps it after comparing), a given one does. */
START_TEST(test_equal)
{
    struct js_consumer_config a;
    struct js_consumer_config b;
    parse_checked(
        "{\"config\":{\"durable_name\":\"d\",\"ack_policy\":\"explicit\","
        "\"backoff\":[1,2],\"metadata\":{\"x\":\"1\"},\"filter_subjects\":[\"s.a\",\"s.b\"]}}",
        &a);
    parse_checked(
        "{\"config\":{\"durable_name\":\"d\",\"ack_policy\":\"explicit\","
        "\"backoff\":[1,2],\"metadata\":{\"x\":\"1\",\"_nats.ver\":\"9\"},"
        "\"filter_subjects\":[\"s.a\",\"s.b\"],\"pause_until\":\"2030-01-01T00:00:00Z\"}}",
        &b);
    ck_assert(!js_consumer_config_equal(&a, &b)); /* the pause, and the level it needs */
    b.has_pause_until = false;
    ck_assert(js_consumer_config_equal(&a, &b)); /* _nats.req.level 1 against 0: ignored */
    b.backoff_ns[1] = 3;
    ck_assert(!js_consumer_config_equal(&a, &b));
    b.backoff_ns[1] = 2;
    free(b.filter_subjects[1]);
    b.filter_subjects[1] = strdup("s.c");
    ck_assert(!js_consumer_config_equal(&a, &b));
    js_consumer_config_free(&b);
    parse_checked(
        "{\"config\":{\"durable_name\":\"d\",\"ack_policy\":\"explicit\","
        "\"backoff\":[1,2],\"metadata\":{\"x\":\"2\"},\"filter_subjects\":[\"s.a\",\"s.b\"]}}",
        &b);
    ck_assert(!js_consumer_config_equal(&a, &b));
    js_consumer_config_free(&a);
    js_consumer_config_free(&b);
    /* ephemerals: the default is stamped, and marked */
    parse_checked("{\"config\":{\"name\":\"e\"}}", &a);
    ck_assert_int_eq(a.inactive_threshold_ns, JS_CONSUMER_INACTIVE_THRESHOLD_DEFAULT_NS);
    ck_assert(a.inactive_threshold_defaulted);
    parse_checked("{\"config\":{\"name\":\"e\"}}", &b);
    ck_assert(!js_consumer_config_equal(&a, &b));
    js_consumer_config_free(&b);
    parse_checked("{\"config\":{\"name\":\"e\",\"inactive_threshold\":5000000000}}", &b);
    ck_assert(!b.inactive_threshold_defaulted);
    ck_assert(js_consumer_config_equal(&a, &b));
    js_consumer_config_free(&a);
    js_consumer_config_free(&b);
}
END_TEST

/* ---- what a new consumer needs ----------------------------------------------------------- */

/* partitionUnique: wildcards collide as SubjectsCollide says, an unfiltered other collides
 * with everything, direct and sourcing consumers are ignored; check_new counts only the
 * consumers that are neither. */
START_TEST(test_partition_unique)
{
    struct js_consumer_config config;
    struct js_consumer_config other;
    parse_checked("{\"config\":{\"durable_name\":\"a\",\"ack_policy\":\"explicit\","
                  "\"filter_subjects\":[\"s.a.*\",\"s.b\"]}}",
                  &config);
    parse_checked("{\"config\":{\"durable_name\":\"b\",\"ack_policy\":\"explicit\"}}", &other);
    const struct js_consumer_config *others[] = {&other};
    ck_assert(!js_consumer_config_partition_unique(&config, others, 1));
    other.sourcing = true;
    ck_assert(js_consumer_config_partition_unique(&config, others, 1));
    struct js_stream_config stream;
    struct js_error error;
    bool pedantic;
    static const char stream_body[] =
        "{\"name\":\"W\",\"subjects\":[\"s.>\"],\"retention\":\"workqueue\"}";
    ck_assert_int_eq(
        js_stream_config_parse(stream_body, strlen(stream_body), &stream, &pedantic, &error), 0);
    struct js_stream_config_check_options stream_options = {false, 0};
    ck_assert_int_eq(js_stream_config_check(&stream, &stream_options, &error), 0);
    free(config.filter_subjects[0]);
    free(config.filter_subjects[1]);
    free(config.filter_subjects);
    config.filter_subjects = NULL;
    config.filter_subject_count = 0;
    ck_assert_int_eq(js_consumer_config_check_new(&config, &stream, others, 1, &error), 0);
    other.sourcing = false;
    other.direct = true;
    ck_assert_int_eq(js_consumer_config_check_new(&config, &stream, others, 1, &error), 0);
    other.direct = false;
    ck_assert_int_eq(js_consumer_config_check_new(&config, &stream, others, 1, &error), -EINVAL);
    ck_assert_int_eq(error.id, JS_ERR_CONSUMER_WQ_MULTIPLE_UNFILTERED);
    config.filter_subject = strdup("s.>");
    other.filter_subject = strdup("s.*.x");
    ck_assert(!js_consumer_config_partition_unique(&config, others, 1));
    free(other.filter_subject);
    other.filter_subject = strdup("t.x");
    ck_assert(js_consumer_config_partition_unique(&config, others, 1));
    /* a direct consumer escapes the workqueue rules */
    config.ack_policy = JS_CONSUMER_ACK_NONE;
    ck_assert_int_eq(js_consumer_config_check_new(&config, &stream, others, 1, &error), -EINVAL);
    ck_assert_int_eq(error.id, JS_ERR_CONSUMER_WQ_REQUIRES_EXPLICIT_ACK);
    config.direct = true;
    ck_assert_int_eq(js_consumer_config_check_new(&config, &stream, others, 1, &error), 0);
    js_stream_config_free(&stream);
    js_consumer_config_free(&config);
    js_consumer_config_free(&other);
}
END_TEST

/* ---- metadata, names, matching ----------------------------------------------------------- */

/* The API level: 1 for a pause (not the zero time, in any offset) or priority groups, 4 for
 * the flow_control ack policy; set_static drops the server's dynamic keys and sets it. */
START_TEST(test_metadata)
{
    struct js_consumer_config config;
    js_consumer_config_init(&config);
    ck_assert_int_eq(js_consumer_config_api_level_required(&config), 0);
    config.has_pause_until = true;
    config.pause_until = (struct js_stream_time){1, 1, 1, 2, 0, 0, 0, 7200};
    ck_assert_int_eq(js_consumer_config_api_level_required(&config), 0);
    config.pause_until.nanosecond = 1;
    ck_assert_int_eq(js_consumer_config_api_level_required(&config), 1);
    config.has_pause_until = false;
    config.priority_timeout_ns = 1;
    ck_assert_int_eq(js_consumer_config_api_level_required(&config), 1);
    config.ack_policy = JS_CONSUMER_ACK_FLOW_CONTROL;
    ck_assert_int_eq(js_consumer_config_api_level_required(&config), 4);
    struct js_consumer_request request;
    struct js_error error;
    ck_assert_int_eq(parse("{\"config\":{\"metadata\":{\"_nats.level\":\"1\",\"a\":\"b\","
                           "\"_nats.ver\":\"x\",\"_nats.req.level\":\"9\",\"z\":\"\"}}}",
                           &request, &error),
                     0);
    request.config.ack_policy = JS_CONSUMER_ACK_FLOW_CONTROL;
    ck_assert_int_eq(js_consumer_config_metadata_set_static(&request.config), 0);
    struct go_json json;
    go_json_init(&json, 4096);
    js_consumer_config_encode(&request.config, NULL, 0, &json);
    ck_assert(strstr(json.data, "\"metadata\":{\"_nats.req.level\":\"4\",\"a\":\"b\",\"z\":\"\"}"));
    go_json_free(&json);
    js_consumer_request_free(&request);
    ck_assert_int_eq(parse("{}", &request, &error), 0);
    ck_assert_int_eq(js_consumer_config_metadata_set_static(&request.config), 0);
    ck_assert_uint_eq(request.config.metadata_count, 1);
    ck_assert_str_eq(request.config.metadata[0].value, "0");
    js_consumer_request_free(&request);
}
END_TEST

START_TEST(test_name_and_matches)
{
    struct js_consumer_config config;
    js_consumer_config_init(&config);
    ck_assert_ptr_null(js_consumer_config_name(&config));
    ck_assert(js_consumer_config_matches(&config, "any.thing", 9));
    config.name = strdup("n");
    ck_assert_str_eq(js_consumer_config_name(&config), "n");
    config.durable_name = strdup("d");
    ck_assert_str_eq(js_consumer_config_name(&config), "d");
    config.filter_subject = strdup("s.*");
    ck_assert(js_consumer_config_matches(&config, "s.a", 3));
    ck_assert(!js_consumer_config_matches(&config, "s.a.b", 5));
    ck_assert(js_consumer_config_matches(&config, "s.a.b", 3)); /* only the length given counts */
    free(config.filter_subject);
    config.filter_subject = NULL;
    config.filter_subjects = calloc(2, sizeof *config.filter_subjects);
    config.filter_subjects[0] = strdup("a.>");
    config.filter_subjects[1] = strdup("b");
    config.filter_subject_count = 2;
    ck_assert(js_consumer_config_matches(&config, "a.b.c", 5));
    ck_assert(js_consumer_config_matches(&config, "b", 1));
    ck_assert(!js_consumer_config_matches(&config, "a", 1));
    ck_assert(!js_consumer_config_matches(&config, "c", 1));
    js_consumer_config_free(&config);
}
END_TEST

TCase *js_consumer_config_update_tcase(void)
{
    TCase *tc = tcase_create("update");
    tcase_add_test(tc, test_subjects);
    tcase_add_test(tc, test_updates);
    tcase_add_test(tc, test_update_nuances);
    tcase_add_test(tc, test_update_deliver_interest);
    tcase_add_test(tc, test_equal);
    tcase_add_test(tc, test_partition_unique);
    tcase_add_test(tc, test_metadata);
    tcase_add_test(tc, test_name_and_matches);
    return tc;
}
