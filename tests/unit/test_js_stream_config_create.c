/* Stream config tests, create: every error nats-server 2.15.1 answers a create with,
 * names and sizes at its limits, ionats's own bounds, the server's duplicate window limit
 * (see test_js_stream_config.c for how the replies were recorded). One test thread. */
#include "tests/unit/test_js_stream_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- create: every error, as nats-server 2.15.1 answers it ---------------------------- */

/* One request per distinct reply: decoding (Go's syntax and type errors, unknown fields),
 * names, limits, flags, mirrors and sources, subjects, transforms, republish, placement. */
static const struct {
    const char *name; /* the stream name in the request subject */
    const char *body;
    int code;
    int err_code;
    const char *description; /* as sent, JSON-escaped */
} create_errors[] = {
    {"N", "{\"name\":\"\"}", 400, 10056, "stream name in subject does not match request"},
    {"a\\b", "{\"name\":\"a\\\\b\"}", 400, 10128, "Stream name can not contain path separators"},
    {"S", "{\"name\":\"S\",\"num_replicas\":6}", 500, 10052, "maximum replicas is 5"},
    {"S", "{\"name\":\"S\",\"num_replicas\":-1}", 400, 10133, "replicas count cannot be negative"},
    {"S", "{\"name\":\"S\",\"num_replicas\":3}", 500, 10074,
     "replicas \\u003e 1 not supported in non-clustered mode"},
    {"S", "{\"name\":\"S\",\"max_msgs\":-5,\"pedantic\":true}", 400, 10157,
     "pedantic mode: max_msgs must be set to -1"},
    {"S", "{\"name\":\"S\",\"max_bytes\":-2,\"pedantic\":true}", 400, 10157,
     "pedantic mode: max_bytes must be set to -1"},
    {"S", "{\"name\":\"S\",\"max_msg_size\":-2,\"pedantic\":true}", 400, 10157,
     "pedantic mode: max_msg_size must be set to -1"},
    {"S", "{\"name\":\"S\",\"max_consumers\":-3,\"pedantic\":true}", 400, 10157,
     "pedantic mode: max_consumers must be set to -1"},
    {"S", "{\"name\":\"S\",\"max_msgs_per_subject\":-9,\"pedantic\":true}", 400, 10157,
     "pedantic mode: max_msgs_per_subject must be set to -1"},
    {"S", "{\"name\":\"S\",\"max_age\":-1}", 500, 10052, "max age can not be negative"},
    {"S", "{\"name\":\"S\",\"max_age\":99999999}", 500, 10052,
     "max age needs to be \\u003e= 100ms"},
    {"S", "{\"name\":\"S\",\"duplicate_window\":-1}", 500, 10052,
     "duplicates window can not be negative"},
    {"S", "{\"name\":\"S\",\"duplicate_window\":99999999}", 500, 10052,
     "duplicates window needs to be \\u003e= 100ms"},
    {"S", "{\"name\":\"S\",\"max_age\":1000000000,\"duplicate_window\":2000000000}", 500, 10052,
     "duplicates window can not be larger then max age"},
    {"S", "{\"name\":\"S\",\"max_age\":1000000000,\"pedantic\":true}", 400, 10157,
     "pedantic mode: duplicate window cannot be bigger than max age"},
    {"S", "{\"name\":\"S\",\"deny_purge\":true,\"allow_rollup_hdrs\":true}", 500, 10052,
     "roll-ups require the purge permission"},
    {"S", "{\"name\":\"S\",\"allow_msg_counter\":true,\"discard\":\"new\"}", 500, 10052,
     "counter stream cannot use discard new"},
    {"S", "{\"name\":\"S\",\"allow_msg_counter\":true,\"allow_msg_ttl\":true}", 500, 10052,
     "counter stream cannot use message TTLs"},
    {"S", "{\"name\":\"S\",\"allow_msg_counter\":true,\"allow_msg_schedules\":true}", 500, 10052,
     "counter stream cannot use message schedules"},
    {"S", "{\"name\":\"S\",\"allow_msg_counter\":true,\"retention\":\"interest\"}", 500, 10052,
     "counter stream can only use limits retention"},
    {"S", "{\"name\":\"S\",\"discard_new_per_subject\":true}", 500, 10052,
     "discard new per subject requires discard new policy to be set"},
    {"S", "{\"name\":\"S\",\"discard_new_per_subject\":true,\"discard\":\"new\"}", 500, 10052,
     "discard new per subject requires max msgs per subject \\u003e 0"},
    {"S", "{\"name\":\"S\",\"subject_delete_marker_ttl\":500000000}", 500, 10052,
     "subject delete marker TTL must be at least 1 second"},
    {"S", "{\"name\":\"S\",\"subject_delete_marker_ttl\":-1}", 500, 10052,
     "subject delete marker TTL must not be negative"},
    {"S", "{\"name\":\"S\",\"subject_delete_marker_ttl\":1000000000,\"pedantic\":true}", 500, 10052,
     "subject delete marker cannot be set if message TTLs are disabled"},
    {"S",
     "{\"name\":\"S\",\"subject_delete_marker_ttl\":1000000000,\"allow_msg_ttl\":true,\"pedant"
     "ic\":true}",
     500, 10052, "subject delete marker cannot be set if roll-ups are disabled"},
    {"S", "{\"name\":\"S\",\"allow_msg_schedules\":true,\"discard\":\"new\"}", 500, 10052,
     "message scheduling cannot use discard new"},
    {"S", "{\"name\":\"S\",\"allow_msg_schedules\":true,\"pedantic\":true}", 500, 10052,
     "message scheduling cannot be set if roll-ups are disabled"},
    {"S", "{\"name\":\"S\",\"persist_mode\":\"async\",\"storage\":\"memory\"}", 500, 10052,
     "async persist mode is only supported on file storage"},
    {"S", "{\"name\":\"S\",\"persist_mode\":\"async\",\"allow_atomic\":true}", 500, 10052,
     "async persist mode is not supported with atomic batch publish"},
    {"S", "{\"name\":\"S\",\"subjects\":[\">\"]}", 500, 10052,
     "capturing all subjects requires no-ack to be true"},
    {"S", "{\"name\":\"S\",\"subjects\":[\"$JS.API.>\"]}", 500, 10052,
     "subjects that overlap with jetstream api require no-ack to be true"},
    {"S", "{\"name\":\"S\",\"subjects\":[\"$SYS.>\"]}", 500, 10052,
     "subjects that overlap with system api require no-ack to be true"},
    {"S", "{\"name\":\"S\",\"subjects\":[\"a\",\"a\"]}", 500, 10052,
     "subject \\\"a\\\" overlaps with \\\"a\\\""},
    {"S", "{\"name\":\"S\",\"subjects\":[\"a.*\",\"a.b\"]}", 500, 10052,
     "subject \\\"a.*\\\" overlaps with \\\"a.b\\\""},
    {"S", "{\"name\":\"S\",\"subjects\":[\"a.b\",\"a.*\"]}", 500, 10052,
     "subject \\\"a.b\\\" overlaps with \\\"a.*\\\""},
    {"S", "{\"name\":\"S\",\"subjects\":[\"a..b\"]}", 500, 10052, "invalid subject"},
    {"S", "{\"name\":\"S\",\"mirror_direct\":true}", 500, 10052,
     "stream has no mirror but does have mirror direct"},
    {"S", "{\"name\":\"S\",\"sealed\":true}", 500, 10052,
     "stream configuration for create can not be sealed"},
    {"S", "{\"name\":\"S\",\"placement\":{\"preferred\":\"p\"}}", 500, 10052,
     "preferred server not permitted in placement"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.*\",\"dest\":\"y.$2\"},\"subjects\":["
     "\"X.*\"]}",
     400, 10156,
     "stream transform: invalid mapping destination: wildcard index out of range in $2"
     ": [2]"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.*\",\"dest\":\"y.{{wildcard(2)}}\"},"
     "\"subjects\":[\"X.*\"]}",
     400, 10156,
     "stream transform: invalid mapping destination: wildcard index out of range in {{"
     "wildcard(2)}}: [2]"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X\",\"dest\":\"y.{{wildcard(1)}}\"},\"s"
     "ubjects\":[\"X\"]}",
     400, 10156,
     "stream transform: invalid mapping destination: wildcard index out of range in {{"
     "wildcard(1)}}"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.>\",\"dest\":\"y.{{foo(1)}}\"},\"subj"
     "ects\":[\"X.>\"]}",
     400, 10156, "stream transform: invalid mapping destination: unknown function in {{foo(1)}}"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.>\",\"dest\":\"y\"},\"subjects\":[\"X"
     ".>\"]}",
     400, 10156, "stream transform: invalid subject"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X..\",\"dest\":\"y\"},\"subjects\":[\"X"
     ".>\"]}",
     400, 10155, "stream transform source: invalid subject X.."},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.*\",\"dest\":\"y..z\"},\"subjects\":["
     "\"X.*\"]}",
     400, 10156, "stream transform: invalid mapping destination: invalid transform"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.*\",\"dest\":\"y.{{partition(3,2)}}\""
     "},\"subjects\":[\"X.*\"]}",
     400, 10156,
     "stream transform: invalid mapping destination: wildcard index out of range in {{"
     "partition(3,2)}}: [2]"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.*\",\"dest\":\"y.{{partition(x)}}\"},"
     "\"subjects\":[\"X.*\"]}",
     400, 10156,
     "stream transform: invalid mapping destination: function argument is invalid or i"
     "n the wrong format in {{partition(x)}}"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.*\",\"dest\":\"y.{{wildcard()}}\"},\""
     "subjects\":[\"X.*\"]}",
     400, 10156,
     "stream transform: invalid mapping destination: not enough arguments passed to th"
     "e function in {{wildcard()}}"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.*\",\"dest\":\"y.{{wildcard(1,2)}}\"}"
     ",\"subjects\":[\"X.*\"]}",
     400, 10156,
     "stream transform: invalid mapping destination: too many arguments passed to the "
     "function in {{wildcard(1,2)}}"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.*\",\"dest\":\"y.{{splitfromleft(1)}}"
     "\"},\"subjects\":[\"X.*\"]}",
     400, 10156,
     "stream transform: invalid mapping destination: not enough arguments passed to th"
     "e function in {{splitfromleft(1)}}"},
    {"S", "{\"name\":\"S\",\"republish\":{\"dest\":\"x\"}}", 500, 10052,
     "stream configuration for republish with transform from '\\u003e' to 'x' not vali"
     "d"},
    {"S", "{\"name\":\"S\",\"republish\":{\"dest\":\"out.>\"},\"pedantic\":true}", 400, 10157,
     "pedantic mode: republish source can not be empty"},
    {"S", "{\"name\":\"S\",\"republish\":{\"src\":\"R\",\"dest\":\"out.*\"}}", 500, 10052,
     "stream configuration for republish with transform from 'R' to 'out.*' not valid"},
    {"S", "{\"name\":\"S\",\"sources\":[{\"name\":\"A\"},{\"name\":\"A\"}]}", 400, 10140,
     "duplicate source configuration detected"},
    {"S",
     "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"filter_subject\":\"x\",\"subject_transfor"
     "ms\":[{\"src\":\"y\",\"dest\":\"z\"}]}]}",
     400, 10144,
     "source with multiple subject transforms cannot also have a single subject filter"},
    {"S",
     "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"subject_transforms\":[{\"src\":\"y.>\",\""
     "dest\":\"z.>\"},{\"src\":\"y.a\",\"dest\":\"w\"}]}]}",
     400, 10147, "source filters can not overlap"},
    {"S",
     "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"subject_transforms\":[{\"src\":\"y..\",\""
     "dest\":\"z\"}]}]}",
     400, 10145, "source transform source: invalid subject y.."},
    {"S",
     "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"subject_transforms\":[{\"src\":\"y.*\",\""
     "dest\":\"z.$3\"}]}]}",
     400, 10146,
     "source transform: invalid mapping destination: wildcard index out of range in $3"
     ": [3]"},
    {"S", "{\"name\":\"S\",\"sources\":[{\"name\":\"A.b\"}]}", 400, 10141,
     "sourced stream name is invalid"},
    {"S", "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"filter_subject\":\"a..b\"}]}", 500, 10049,
     "subject filter 'a..b' for the source: invalid subject"},
    {"S",
     "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"external\":{\"api\":\"$JS.API\",\"deliver"
     "\":\"d\"}}]}",
     400, 10021, "stream external api prefix $JS.API must not overlap with $JS.API"},
    {"S",
     "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"external\":{\"api\":\"a.*\",\"deliver\":"
     "\"d\"}}]}",
     500, 10052,
     "stream external api prefix \\\"a.*\\\" must be a valid subject without wildcards"},
    {"S",
     "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"external\":{\"api\":\"x\",\"deliver\":\"d"
     ".*\"}}]}",
     400, 10024, "stream external delivery prefix d.* must not contain wildcards"},
    {"S", "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"consumer\":{\"name\":\"c\"}}]}", 400,
     10215, "stream source consumer config is invalid"},
    {"S", "{\"name\":\"S\",\"sources\":[{\"name\":\"A\"}],\"allow_msg_schedules\":true}", 400,
     10187, "stream source can not also schedule messages"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A\"},\"subjects\":[\"x\"]}", 400, 10034,
     "stream mirrors can not contain subjects"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A\"},\"first_seq\":3}", 400, 10143,
     "stream mirrors can not have first sequence configured"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A\"},\"sources\":[{\"name\":\"B\"}]}", 400, 10031,
     "stream mirrors can not also contain other sources"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A\"},\"allow_msg_counter\":true}", 400, 10173,
     "stream mirrors can not also calculate counters"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A\"},\"allow_atomic\":true}", 400, 10198,
     "stream mirrors can not also use atomic publishing"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A\"},\"allow_batched\":true}", 400, 10209,
     "stream mirrors can not also use batch publishing"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A\"},\"allow_msg_schedules\":true}", 400, 10186,
     "stream mirrors can not also schedule messages"},
    {"S",
     "{\"name\":\"S\",\"mirror\":{\"name\":\"A\",\"filter_subject\":\"f\",\"subject_transforms"
     "\":[{\"src\":\"a\",\"dest\":\"b\"}]}}",
     400, 10150,
     "mirror with multiple subject transforms cannot also have a single subject filter"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A\"},\"subject_delete_marker_ttl\":2000000000}",
     500, 10052, "subject delete markers forbidden on mirrors"},
    {"S",
     "{\"name\":\"S\",\"mirror\":{\"name\":\"A\",\"subject_transforms\":[{\"src\":\"a.>\",\"de"
     "st\":\"b.>\"},{\"src\":\"a.b\",\"dest\":\"c\"}]}}",
     400, 10152, "mirror subject filters can not overlap"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A.x\"}}", 400, 10142,
     "mirrored stream name is invalid"},
    {"S",
     "{\"name\":\"S\",\"mirror\":{\"name\":\"A\",\"consumer\":{\"name\":\"c\",\"deliver_subjec"
     "t\":\"d\"},\"opt_start_seq\":2}}",
     400, 10213, "stream mirror consumer config is invalid"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A\",\"filter_subject\":\"x..y\"}}", 500, 10049,
     "subject filter 'x..y' for the mirror invalid subject"},
    {"S",
     "{\"name\":\"S\",\"mirror\":{\"name\":\"A\",\"subject_transforms\":[{\"src\":\"a\",\"dest"
     "\":\"b.{{foo()}}\"}]}}",
     400, 10154, "mirror transform: invalid mapping destination: unknown function in {{foo()}}"},
    {"S", "{\"name\":\"S\",\"sources\":[{\"name\":\"S\"}]}", 500, 10052, "detected cycle"},
    {"T",
     "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"opt_start_time\":\"2023-02-29T00:00:00Z\""
     "}]}",
     400, 10025, "invalid JSON: parsing time \\\"2023-02-29T00:00:00Z\\\": day out of range"},
    {"T",
     "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"opt_start_time\":\"2024-01-01T00:00:00Zju"
     "nk\"}]}",
     400, 10025,
     "invalid JSON: parsing time \\\"2024-01-01T00:00:00Zjunk\\\": extra text: \\\"jun"
     "k\\\""},
    {"T",
     "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"opt_start_time\":\"2024-13-01T00:00:00Z\""
     "}]}",
     400, 10025, "invalid JSON: parsing time \\\"2024-13-01T00:00:00Z\\\": month out of range"},
    {"T",
     "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"opt_start_time\":\"2024-01-01T00:00:00+01"
     "\"}]}",
     400, 10025,
     "invalid JSON: parsing time \\\"2024-01-01T00:00:00+01\\\" as \\\"2006-01-02T15:0"
     "4:05Z07:00\\\": cannot parse \\\"+01\\\" as \\\"Z07:00\\\""},
    {"T", "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"opt_start_time\":\"\\u00e9\"}]}", 400,
     10025,
     "invalid JSON: parsing time \\\"\\\\xc3\\\\xa9\\\" as \\\"2006-01-02T15:04:05Z07:"
     "00\\\": cannot parse \\\"\\\\xc3\\\\xa9\\\" as \\\"2006\\\""},
    {"T",
     "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"subject_transforms\":[{\"src\":\"a.*\",\""
     "dest\":\"b.{{WILDCARD(1)}}\"}]}]}",
     400, 10146,
     "source transform: invalid mapping destination: unknown function in {{WILDCARD(1)"
     "}}"},
    {"T",
     "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"subject_transforms\":[{\"src\":\"a.*.*\","
     "\"dest\":\"b.{{partition(10,1,3)}}\"}]}]}",
     400, 10146,
     "source transform: invalid mapping destination: wildcard index out of range in {{"
     "partition(10,1,3)}}: [3]"},
    {"T",
     "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"subject_transforms\":[{\"src\":\"a.*\",\""
     "dest\":\"b.{{random()}}\"}]}]}",
     400, 10146,
     "source transform: invalid mapping destination: function argument is invalid or i"
     "n the wrong format in {{random()}}"},
    {"T",
     "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"subject_transforms\":[{\"src\":\"a.*\",\""
     "dest\":\"b c\"}]}]}",
     400, 10146, "source transform: invalid mapping destination: invalid transform"},
    {"T", "{\"name\":\"T\",\"republish\":{\"src\":\"T\",\"dest\":\"o.{{wildcard(1)}}\"}}", 500,
     10052,
     "stream configuration for republish with transform from 'T' to 'o.{{wildcard(1)}}"
     "' not valid"},
    {"Z", "{\"name\":\"D}", 400, 10025, "invalid JSON: unexpected EOF"},
    {"Z", "  {\"name\":\"D\"}}", 400, 10025,
     "invalid JSON: invalid character '}' looking for beginning of value at offset 15"},
    {"Z", "{\"name\":\"D\",\"max_msgs\":1.}", 400, 10025,
     "invalid JSON: invalid character '}' in numeric literal at offset 26"},
    {"Z", "{\"name\":\"D\",\"max_msgs\":-01}", 400, 10025,
     "invalid JSON: invalid character '1' after object key:value pair at offset 26"},
    {"Z", "{\"name\":\"D\",\"max_msgs\":.5}", 400, 10025,
     "invalid JSON: invalid character '.' looking for beginning of value at offset 24"},
    {"Z", "{\"name\":\"D\\u12\"}", 400, 10025,
     "invalid JSON: invalid escape sequence `\\\\u12\\\"}` in string at offset 16"},
    {"Z", "{\"name\":\"D\\u12zz\"}", 400, 10025,
     "invalid JSON: invalid escape sequence `\\\\u12zz` in string at offset 16"},
    {"Z", "{\"name\":\"D\",\"max_msgs\":1 2}", 400, 10025,
     "invalid JSON: invalid character '2' after object key:value pair at offset 26"},
    {"Z", "{\"name\":\"D\":1}", 400, 10025,
     "invalid JSON: invalid character ':' after object key:value pair at offset 12"},
    {"Z", "{\"name\" \"D\"}", 400, 10025,
     "invalid JSON: invalid character '\\\"' after object key at offset 9"},
    {"Z", "{,}", 400, 10025,
     "invalid JSON: invalid character ',' looking for beginning of object key string a"
     "t offset 2"},
    {"Z", "{\"name\":\"D\",\"sealed\":nul}", 400, 10025,
     "invalid JSON: invalid character '}' in literal null (expecting 'l') at offset 25"},
    {"Z", "{\"name\":\"D\",\"sealed\":fals}", 400, 10025,
     "invalid JSON: invalid character '}' in literal false (expecting 'e') at offset 2"
     "6"},
    {"Z", "{\"name\":\"D\",\"sealed\":False}", 400, 10025,
     "invalid JSON: invalid character 'F' looking for beginning of value at offset 22"},

    {"Z", "{\"name\":\"D\",\"max_msgs\":+1}", 400, 10025,
     "invalid JSON: invalid character '+' looking for beginning of value at offset 24"},
    {"Z", "{\"name\":\"D\",\"max_msgs\":1E+2}", 400, 10025,
     "invalid JSON: json: cannot unmarshal number 1E+2 into Go struct field StreamConf"
     "igRequest.max_msgs of type int64"},
    {"Z", "{\"name\":\"D\",\"max_msgs\":100e-2}", 400, 10025,
     "invalid JSON: json: cannot unmarshal number 100e-2 into Go struct field StreamCo"
     "nfigRequest.max_msgs of type int64"},
    {"Z", "{\"name\":\"D\",\"num_replicas\":1.0}", 400, 10025,
     "invalid JSON: json: cannot unmarshal number 1.0 into Go struct field StreamConfi"
     "gRequest.num_replicas of type int"},
    {"Z", "true", 400, 10025,
     "invalid JSON: json: cannot unmarshal bool into Go value of type server.StreamCon"
     "figRequest"},
    {"Z", "{\"name\":\"D\",\"sources\":{}}", 400, 10025,
     "invalid JSON: json: cannot unmarshal object into Go struct field StreamConfigReq"
     "uest.sources of type []*server.StreamSource"},
    {"Z", "{\"name\":\"D\",\"mirror\":[]}", 400, 10025,
     "invalid JSON: json: cannot unmarshal array into Go struct field StreamConfigRequ"
     "est.mirror of type server.StreamSource"},
    {"Z", "{\"name\":\"D\",\"Max_Msgs\":5,\"max_msgs\":\"x\"}", 400, 10025,
     "invalid JSON: json: cannot unmarshal string into Go struct field StreamConfigReq"
     "uest.max_msgs of type int64"},
    {"Z", "{\"name\":\"D\",\"description\":\"\011\"}", 400, 10025,
     "invalid JSON: invalid character '\\\\t' in string at offset 28"},
    {"Z", "\011\012 {\"name\":\"D\"\012,\012\"x\":1}", 400, 10025,
     "invalid JSON: json: unknown field \\\"x\\\""},
};

START_TEST(test_create_errors)
{
    for (size_t i = 0; i < sizeof create_errors / sizeof create_errors[0]; i++) {
        expect_error(create_reply(create_errors[i].name, create_errors[i].body, NULL, NULL),
                     create_errors[i].code, create_errors[i].err_code, create_errors[i].description,
                     create_errors[i].body);
    }
}
END_TEST

/* Requests built here because they are long: names and sizes at nats-server's limits. */
START_TEST(test_create_limits)
{
    char name[300];
    char body[140000];
    memset(name, 'x', 256);
    name[256] = '\0';
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
    expect_error(create_reply(name, body, NULL, NULL), 500, 10052,
                 "stream name is too long, maximum allowed is 255", "256-byte name");
    name[255] = '\0';
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
    expect_created(create_reply(name, body, NULL, NULL), "255-byte name");
    char text[131100];
    memset(text, 'v', 4097);
    text[4097] = '\0';
    snprintf(body, sizeof body, "{\"name\":\"D\",\"description\":\"%s\"}", text);
    expect_error(create_reply("D", body, NULL, NULL), 500, 10052,
                 "stream description is too long, maximum allowed is 4096", "description");
    text[4096] = '\0';
    snprintf(body, sizeof body, "{\"name\":\"D\",\"description\":\"%s\"}", text);
    expect_created(create_reply("D", body, NULL, NULL), "4096-byte description");
    /* metadata: keys and values together, after _nats.req.level ("0") is added */
    memset(text, 'v', 131072);
    text[131072] = '\0';
    snprintf(body, sizeof body, "{\"name\":\"M\",\"metadata\":{\"k\":\"%s\"}}", text);
    expect_error(create_reply("M", body, NULL, NULL), 500, 10052,
                 "stream metadata exceeds maximum size of 131072 bytes", "metadata");
}
END_TEST
/* ---- ionats's bounds ------------------------------------------------------------------- */

/* A body with `count` copies of `item` (printf, one %zu for its index) between `head` and
 * `tail`; the caller frees it. */
static char *repeat_body(const char *head, const char *item, size_t count, const char *tail)
{
    size_t size = strlen(head) + count * (strlen(item) + 24) + strlen(tail) + 1;
    char *body = malloc(size);
    ck_assert_ptr_nonnull(body);
    size_t used = (size_t)snprintf(body, size, "%s", head);
    for (size_t i = 0; i < count; i++) {
        used += (size_t)snprintf(&body[used], size - used, i ? "," : "");
        used += (size_t)snprintf(&body[used], size - used, item, i);
    }
    snprintf(&body[used], size - used, "%s", tail);
    return body;
}

START_TEST(test_bounds)
{
    static const struct {
        const char *head;
        const char *item;
        size_t max;
        const char *tail;
        const char *path;
    } bounds[] = {
        {"{\"name\":\"B\",\"subjects\":[", "\"s.%zu\"", JS_STREAM_CONFIG_SUBJECTS_MAX, "]}",
         "subjects"},
        {"{\"name\":\"B\",\"sources\":[", "{\"name\":\"S%zu\"}", JS_STREAM_CONFIG_SOURCES_MAX, "]}",
         "sources"},
        {"{\"name\":\"B\",\"metadata\":{", "\"k%zu\":\"v\"", JS_STREAM_CONFIG_METADATA_ENTRIES_MAX,
         "}}", "metadata"},
        {"{\"name\":\"B\",\"placement\":{\"tags\":[", "\"t%zu\"", JS_STREAM_CONFIG_TAGS_MAX, "]}}",
         "placement.tags"},
        {"{\"name\":\"B\",\"sources\":[{\"name\":\"S\",\"subject_transforms\":[",
         "{\"src\":\"a.%zu\",\"dest\":\"b\"}", JS_STREAM_CONFIG_TRANSFORMS_MAX, "]}]}",
         "sources.0.subject_transforms"},
    };
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
        /* at the bound: decodes; one more: refused with the bound named */
        char *body = repeat_body(bounds[i].head, bounds[i].item, bounds[i].max, bounds[i].tail);
        struct js_stream_config config;
        parse_valid(body, &config);
        js_stream_config_free(&config);
        free(body);
        body = repeat_body(bounds[i].head, bounds[i].item, bounds[i].max + 1, bounds[i].tail);
        struct js_error error;
        bool pedantic;
        ck_assert_int_eq(parse(body, &config, &pedantic, &error), -EINVAL);
        char expected[256];
        snprintf(expected, sizeof expected,
                 "StreamConfigRequest.%s has too many entries, maximum allowed is %zu",
                 bounds[i].path, bounds[i].max);
        ck_assert_int_eq(error.id, JS_ERR_STREAM_INVALID_CONFIG);
        ck_assert_str_eq(error.description, expected);
        free(body);
    }
    char subject[JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX + 2];
    memset(subject, 'a', sizeof subject - 1);
    subject[sizeof subject - 1] = '\0';
    char body[JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX + 64];
    snprintf(body, sizeof body, "{\"name\":\"B\",\"subjects\":[\"%s\"]}", subject);
    expect_error(create_reply("B", body, NULL, NULL), 500, 10052,
                 "StreamConfigRequest.subjects.0 is too long, maximum allowed is 1024",
                 "long subject");
    subject[JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX] = '\0';
    snprintf(body, sizeof body, "{\"name\":\"B\",\"subjects\":[\"%s\"]}", subject);
    expect_created(create_reply("B", body, NULL, NULL), "1024-byte subject");
}
END_TEST

/* ---- the server's duplicate window limit ----------------------------------------------- */

/* Recorded from nats-server 2.15.1 with jetstream { limits { duplicate_window: "1m" } }. */
START_TEST(test_duplicate_window_limit)
{
    static const struct {
        const char *body;
        int rc;
        int64_t window_ns;
        const char *description;
    } cases[] = {
        {"{\"name\":\"A\"}", 0, 60 * JS_STREAM_NS_PER_SECOND, NULL},
        {"{\"name\":\"B\",\"duplicate_window\":90000000000}", -EINVAL, 0,
         "duplicates window can not be larger then server limit of 1m0s"},
        {"{\"name\":\"C\",\"pedantic\":true}", -EINVAL, 0,
         "pedantic mode: duplicate window limits are higher than current limits"},
        {"{\"name\":\"E\",\"max_age\":30000000000}", 0, 30 * JS_STREAM_NS_PER_SECOND, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct js_stream_config config;
        bool pedantic = parse_valid(cases[i].body, &config);
        struct js_stream_config_check_options options = {pedantic, 60 * JS_STREAM_NS_PER_SECOND};
        struct js_error error;
        ck_assert_int_eq(js_stream_config_check(&config, &options, &error), cases[i].rc);
        if (cases[i].rc == 0) {
            ck_assert(config.duplicate_window_ns == cases[i].window_ns);
        } else {
            ck_assert_str_eq(error.description, cases[i].description);
        }
        js_stream_config_free(&config);
    }
}
END_TEST

TCase *js_stream_config_create_tcase(void)
{
    TCase *tc = tcase_create("create");
    tcase_add_test(tc, test_create_errors);
    tcase_add_test(tc, test_create_limits);
    tcase_add_test(tc, test_bounds);
    tcase_add_test(tc, test_duplicate_window_limit);
    return tc;
}
