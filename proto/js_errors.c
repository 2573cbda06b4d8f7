/* nats-server's JetStream API errors: see js_errors.h.
 *
 * The table's rows are nats-server's server/errors.json entries (current release, 2.15),
 * code, err_code and description template byte for byte; tests/unit/test_js_errors.c
 * checks a sample of them against replies recorded from the reference server. Placeholders
 * are substituted in template order, which is the order of nats-server's New...Error
 * arguments for every row here. */
#include "proto/js_errors.h"

#include "base/assert.h"

#include <stdio.h>
#include <string.h>

static const struct js_error_entry js_errors_table[JS_ERR_COUNT] = {
    [JS_ERR_BAD_REQUEST] = {400, 10003, "bad request"},
    [JS_ERR_INVALID_JSON] = {400, 10025, "invalid JSON: {err}"},
    [JS_ERR_NOT_EMPTY_REQUEST] = {400, 10038, "expected an empty request payload"},
    [JS_ERR_NOT_ENABLED] = {503, 10076, "JetStream not enabled"},
    [JS_ERR_NOT_ENABLED_FOR_ACCOUNT] = {503, 10039, "JetStream not enabled for account"},
    [JS_ERR_NO_ACCOUNT] = {503, 10035, "account not found"},
    [JS_ERR_REQUIRED_API_LEVEL] = {412, 10185, "JetStream minimum api level required"},
    [JS_ERR_PEDANTIC] = {400, 10157, "pedantic mode: {err}"},
    [JS_ERR_CLUSTER_NOT_AVAIL] = {503, 10008, "JetStream system temporarily unavailable"},
    [JS_ERR_CLUSTER_UNSUPPORTED_FEATURE] = {503, 10036,
                                            "not currently supported in clustered mode"},
    [JS_ERR_CLUSTER_NO_PEERS] = {400, 10005, "{err}"},
    [JS_ERR_CLUSTER_TAGS] = {400, 10011, "tags placement not supported for operation"},
    [JS_ERR_INSUFFICIENT_RESOURCES] = {503, 10023, "insufficient resources"},
    [JS_ERR_ACCOUNT_RESOURCES_EXCEEDED] = {400, 10002, "resource limits exceeded for account"},
    [JS_ERR_STORAGE_RESOURCES_EXCEEDED] = {500, 10047, "insufficient storage resources available"},
    [JS_ERR_MEMORY_RESOURCES_EXCEEDED] = {500, 10028, "insufficient memory resources available"},
    [JS_ERR_MAXIMUM_STREAMS_LIMIT] = {400, 10027, "maximum number of streams reached"},
    [JS_ERR_MAXIMUM_CONSUMERS_LIMIT] = {400, 10026, "maximum consumers limit reached"},
    [JS_ERR_NO_LIMITS] = {400, 10120, "no JetStream default or applicable tiered limit present"},
    [JS_ERR_REPLICAS_COUNT_CANNOT_BE_NEGATIVE] = {400, 10133, "replicas count cannot be negative"},
    [JS_ERR_STREAM_REPLICAS_NOT_SUPPORTED] = {500, 10074,
                                              "replicas > 1 not supported in non-clustered mode"},
    [JS_ERR_STREAM_REPLICAS_NOT_UPDATABLE] = {400, 10061,
                                              "Replicas configuration can not be updated"},
    [JS_ERR_STREAM_NOT_FOUND] = {404, 10059, "stream not found"},
    [JS_ERR_STREAM_NAME_EXIST] = {400, 10058,
                                  "stream name already in use with a different configuration"},
    [JS_ERR_STREAM_NAME_EXIST_RESTORE_FAILED] = {400, 10130,
                                                 "stream name already in use, cannot restore"},
    [JS_ERR_STREAM_MISMATCH] = {400, 10056, "stream name in subject does not match request"},
    [JS_ERR_STREAM_NAME_CONTAINS_PATH_SEPARATORS] = {400, 10128,
                                                     "Stream name can not contain path separators"},
    [JS_ERR_STREAM_INVALID_CONFIG] = {500, 10052, "{err}"},
    [JS_ERR_STREAM_CREATE] = {500, 10049, "{err}"},
    [JS_ERR_STREAM_UPDATE] = {500, 10069, "{err}"},
    [JS_ERR_STREAM_DELETE] = {500, 10050, "{err}"},
    [JS_ERR_STREAM_GENERAL_ERROR] = {500, 10051, "{err}"},
    [JS_ERR_STREAM_INVALID] = {500, 10096, "stream not valid"},
    [JS_ERR_STREAM_SUBJECT_OVERLAP] = {400, 10065, "subjects overlap with an existing stream"},
    [JS_ERR_STREAM_MIRROR_NOT_UPDATABLE] = {400, 10055,
                                            "stream mirror configuration can not be updated"},
    [JS_ERR_STREAM_SEALED] = {400, 10109, "invalid operation on sealed stream"},
    [JS_ERR_STREAM_PURGE_FAILED] = {500, 10110, "{err}"},
    [JS_ERR_STREAM_ROLLUP_FAILED] = {500, 10111, "{err}"},
    [JS_ERR_STREAM_MSG_DELETE_FAILED] = {500, 10057, "{err}"},
    [JS_ERR_STREAM_STORE_FAILED] = {503, 10077, "{err}"},
    [JS_ERR_STREAM_LIMITS] = {500, 10053, "{err}"},
    [JS_ERR_STREAM_MAX_BYTES_REQUIRED] = {400, 10113,
                                          "account requires a stream config to have max bytes set"},
    [JS_ERR_STREAM_MAX_STREAM_BYTES_EXCEEDED] =
        {400, 10122, "stream max bytes exceeds account limit max stream bytes"},
    [JS_ERR_STREAM_OFFLINE] = {500, 10118, "stream is offline"},
    [JS_ERR_STREAM_OFFLINE_REASON] = {500, 10194, "stream is offline: {err}"},
    [JS_ERR_STREAM_INFO_MAX_SUBJECTS] = {500, 10117,
                                         "subject details would exceed maximum allowed"},
    [JS_ERR_STREAM_SNAPSHOT] = {500, 10064, "snapshot failed: {err}"},
    [JS_ERR_STREAM_RESTORE] = {500, 10062, "restore failed: {err}"},
    [JS_ERR_NO_MESSAGE_FOUND] = {404, 10037, "no message found"},
    [JS_ERR_SEQUENCE_NOT_FOUND] = {400, 10043, "sequence {seq} not found"},
    [JS_ERR_STREAM_MESSAGE_EXCEEDS_MAXIMUM] = {400, 10054, "message size exceeds maximum allowed"},
    [JS_ERR_STREAM_HEADER_EXCEEDS_MAXIMUM] = {400, 10097,
                                              "header size exceeds maximum allowed of 64k"},
    [JS_ERR_STREAM_NOT_MATCH] = {400, 10060, "expected stream does not match"},
    [JS_ERR_STREAM_WRONG_LAST_SEQUENCE] = {400, 10071, "wrong last sequence: {seq}"},
    [JS_ERR_STREAM_WRONG_LAST_SEQUENCE_CONSTANT] = {400, 10164, "wrong last sequence"},
    [JS_ERR_STREAM_WRONG_LAST_MSG_ID] = {400, 10070, "wrong last msg ID: {id}"},
    [JS_ERR_STREAM_SEQUENCE_NOT_MATCH] = {503, 10063, "expected stream sequence does not match"},
    [JS_ERR_STREAM_DUPLICATE_MESSAGE_CONFLICT] = {409, 10158, "duplicate message id is in process"},
    [JS_ERR_STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_NOT_READY] =
        {503, 10163, "expected last sequence per subject temporarily unavailable"},
    [JS_ERR_STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_INVALID] =
        {400, 10193, "missing sequence for expected last sequence per subject"},
    [JS_ERR_STREAM_MIN_LAST_SEQ] = {412, 10180, "min last sequence"},
    [JS_ERR_STREAM_TOO_MANY_REQUESTS] = {429, 10167, "too many requests"},
    [JS_ERR_MESSAGE_TTL_INVALID] = {400, 10165, "invalid per-message TTL"},
    [JS_ERR_MESSAGE_TTL_DISABLED] = {400, 10166, "per-message TTL is disabled"},
    [JS_ERR_STREAM_TRANSFORM_INVALID_SOURCE] = {400, 10155, "stream transform source: {err}"},
    [JS_ERR_STREAM_TRANSFORM_INVALID_DESTINATION] = {400, 10156, "stream transform: {err}"},
    [JS_ERR_STREAM_EXTERNAL_DEL_PREFIX_OVERLAPS] =
        {400, 10022,
         "stream external delivery prefix {prefix} overlaps with stream subject {subject}"},
    [JS_ERR_STREAM_EXTERNAL_API_OVERLAP] =
        {400, 10021, "stream external api prefix {prefix} must not overlap with {subject}"},
    [JS_ERR_STREAM_INVALID_EXTERNAL_DELIVERY_SUBJ] =
        {400, 10024, "stream external delivery prefix {prefix} must not contain wildcards"},
    [JS_ERR_MIRROR_WITH_SUBJECTS] = {400, 10034, "stream mirrors can not contain subjects"},
    [JS_ERR_MIRROR_WITH_SOURCES] = {400, 10031,
                                    "stream mirrors can not also contain other sources"},
    [JS_ERR_MIRROR_WITH_START_SEQ_AND_TIME] =
        {400, 10032, "stream mirrors can not have both start seq and start time configured"},
    [JS_ERR_MIRROR_WITH_SUBJECT_FILTERS] = {400, 10033,
                                            "stream mirrors can not contain filtered subjects"},
    [JS_ERR_MIRROR_WITH_FIRST_SEQ] = {400, 10143,
                                      "stream mirrors can not have first sequence configured"},
    [JS_ERR_MIRROR_MAX_MESSAGE_SIZE_TOO_BIG] =
        {400, 10030, "stream mirror must have max message size >= source"},
    [JS_ERR_MIRROR_INVALID_STREAM_NAME] = {400, 10142, "mirrored stream name is invalid"},
    [JS_ERR_MIRROR_MULTIPLE_FILTERS_NOT_ALLOWED] =
        {400, 10150,
         "mirror with multiple subject transforms cannot also have a single subject filter"},
    [JS_ERR_MIRROR_INVALID_SUBJECT_FILTER] = {400, 10151, "mirror transform source: {err}"},
    [JS_ERR_MIRROR_OVERLAPPING_SUBJECT_FILTERS] = {400, 10152,
                                                   "mirror subject filters can not overlap"},
    [JS_ERR_MIRROR_INVALID_TRANSFORM_DESTINATION] = {400, 10154, "mirror transform: {err}"},
    [JS_ERR_MIRROR_WITH_COUNTERS] = {400, 10173, "stream mirrors can not also calculate counters"},
    [JS_ERR_MIRROR_WITH_ATOMIC_PUBLISH] = {400, 10198,
                                           "stream mirrors can not also use atomic publishing"},
    [JS_ERR_MIRROR_WITH_MSG_SCHEDULES] = {400, 10186,
                                          "stream mirrors can not also schedule messages"},
    [JS_ERR_MIRROR_WITH_BATCH_PUBLISH] = {400, 10209,
                                          "stream mirrors can not also use batch publishing"},
    [JS_ERR_MIRROR_DURABLE_CONSUMER_CFG_INVALID] = {400, 10213,
                                                    "stream mirror consumer config is invalid"},
    [JS_ERR_MIRROR_CONSUMER_SETUP_FAILED] = {500, 10029, "{err}"},
    [JS_ERR_SOURCE_CONSUMER_SETUP_FAILED] = {500, 10045, "{err}"},
    [JS_ERR_SOURCE_MAX_MESSAGE_SIZE_TOO_BIG] =
        {400, 10046, "stream source must have max message size >= target"},
    [JS_ERR_SOURCE_DUPLICATE_DETECTED] = {400, 10140, "duplicate source configuration detected"},
    [JS_ERR_SOURCE_INVALID_STREAM_NAME] = {400, 10141, "sourced stream name is invalid"},
    [JS_ERR_SOURCE_MULTIPLE_FILTERS_NOT_ALLOWED] =
        {400, 10144,
         "source with multiple subject transforms cannot also have a single subject filter"},
    [JS_ERR_SOURCE_INVALID_SUBJECT_FILTER] = {400, 10145, "source transform source: {err}"},
    [JS_ERR_SOURCE_INVALID_TRANSFORM_DESTINATION] = {400, 10146, "source transform: {err}"},
    [JS_ERR_SOURCE_OVERLAPPING_SUBJECT_FILTERS] = {400, 10147, "source filters can not overlap"},
    [JS_ERR_SOURCE_WITH_MSG_SCHEDULES] = {400, 10187,
                                          "stream source can not also schedule messages"},
    [JS_ERR_SOURCE_DURABLE_CONSUMER_CFG_INVALID] = {400, 10215,
                                                    "stream source consumer config is invalid"},
    [JS_ERR_SOURCE_DURABLE_CONSUMER_DUPLICATE_DETECTED] =
        {400, 10216, "duplicate stream source consumer detected"},
    [JS_ERR_CONSUMER_NOT_FOUND] = {404, 10014, "consumer not found"},
    [JS_ERR_CONSUMER_NAME_EXIST] = {400, 10013, "consumer name already in use"},
    [JS_ERR_CONSUMER_ALREADY_EXISTS] = {400, 10148, "consumer already exists"},
    [JS_ERR_CONSUMER_DOES_NOT_EXIST] = {400, 10149, "consumer does not exist"},
    [JS_ERR_CONSUMER_CONFIG_REQUIRED] = {400, 10078, "consumer config required"},
    [JS_ERR_CONSUMER_CREATE] = {500, 10012, "{err}"},
    [JS_ERR_CONSUMER_STORE_FAILED] = {500, 10104, "error creating store for consumer: {err}"},
    [JS_ERR_CONSUMER_EXISTING_ACTIVE] = {400, 10105, "consumer already exists and is still active"},
    [JS_ERR_CONSUMER_REPLACEMENT_WITH_DIFFERENT_NAME] =
        {400, 10106, "consumer replacement durable config not the same"},
    [JS_ERR_CONSUMER_NAME_TOO_LONG] = {400, 10102,
                                       "consumer name is too long, maximum allowed is {max}"},
    [JS_ERR_CONSUMER_BAD_DURABLE_NAME] = {400, 10103, "durable name can not contain '.', '*', '>'"},
    [JS_ERR_CONSUMER_NAME_CONTAINS_PATH_SEPARATORS] =
        {400, 10127, "Consumer name can not contain path separators"},
    [JS_ERR_CONSUMER_DURABLE_NAME_NOT_IN_SUBJECT] =
        {400, 10016, "consumer expected to be durable but no durable name set in subject"},
    [JS_ERR_CONSUMER_DURABLE_NAME_NOT_MATCH_SUBJECT] =
        {400, 10017, "consumer name in subject does not match durable name in request"},
    [JS_ERR_CONSUMER_DURABLE_NAME_NOT_SET] =
        {400, 10018, "consumer expected to be durable but a durable name was not set"},
    [JS_ERR_CONSUMER_EPHEMERAL_WITH_DURABLE_IN_SUBJECT] =
        {400, 10019,
         "consumer expected to be ephemeral but detected a durable name set in subject"},
    [JS_ERR_CONSUMER_EPHEMERAL_WITH_DURABLE_NAME] =
        {400, 10020, "consumer expected to be ephemeral but a durable name was set in request"},
    [JS_ERR_CONSUMER_CREATE_FILTER_SUBJECT_MISMATCH] =
        {400, 10131, "Consumer create request did not match filtered subject from create subject"},
    [JS_ERR_CONSUMER_MULTIPLE_FILTERS_NOT_ALLOWED] =
        {400, 10137, "consumer with multiple subject filters cannot use subject based API"},
    [JS_ERR_CONSUMER_CREATE_DURABLE_AND_NAME_MISMATCH] =
        {400, 10132, "Consumer Durable and Name have to be equal if both are provided"},
    [JS_ERR_CONSUMER_REPLICAS_EXCEEDS_STREAM] =
        {400, 10126, "consumer config replica count exceeds parent stream"},
    [JS_ERR_CONSUMER_REPLICAS_SHOULD_MATCH_STREAM] =
        {400, 10134, "consumer config replicas must match interest retention stream's replicas"},
    [JS_ERR_CONSUMER_ACK_POLICY_INVALID] = {400, 10181, "consumer ack policy invalid"},
    [JS_ERR_CONSUMER_REPLAY_POLICY_INVALID] = {400, 10182, "consumer replay policy invalid"},
    [JS_ERR_CONSUMER_BACKOFF_NEGATIVE] = {400, 10184, "consumer backoff needs to be positive"},
    [JS_ERR_CONSUMER_ACK_WAIT_NEGATIVE] = {400, 10183, "consumer ack wait needs to be positive"},
    [JS_ERR_CONSUMER_ACK_FC_REQUIRES_PUSH] =
        {400, 10218, "flow control ack policy requires a push based consumer"},
    [JS_ERR_CONSUMER_ACK_FC_REQUIRES_FC] = {400, 10219,
                                            "flow control ack policy requires flow control"},
    [JS_ERR_CONSUMER_ACK_FC_REQUIRES_MAX_ACK_PENDING] =
        {400, 10220, "flow control ack policy requires max ack pending"},
    [JS_ERR_CONSUMER_ACK_FC_REQUIRES_NO_ACK_WAIT] =
        {400, 10221, "flow control ack policy requires unset ack wait"},
    [JS_ERR_CONSUMER_ACK_FC_REQUIRES_NO_MAX_DELIVER] =
        {400, 10222, "flow control ack policy requires unset max deliver"},
    [JS_ERR_CONSUMER_MAX_DELIVER_BACKOFF] =
        {400, 10116, "max deliver is required to be > length of backoff values"},
    [JS_ERR_CONSUMER_DESCRIPTION_TOO_LONG] =
        {400, 10107, "consumer description is too long, maximum allowed is {max}"},
    [JS_ERR_CONSUMER_DELIVER_TO_WILDCARDS] = {400, 10079, "consumer deliver subject has wildcards"},
    [JS_ERR_CONSUMER_INVALID_DELIVER_SUBJECT] = {400, 10112,
                                                 "invalid push consumer deliver subject"},
    [JS_ERR_CONSUMER_DELIVER_CYCLE] = {400, 10081, "consumer deliver subject forms a cycle"},
    [JS_ERR_CONSUMER_PUSH_MAX_WAITING] = {400, 10080,
                                          "consumer in push mode can not set max waiting"},
    [JS_ERR_CONSUMER_MAX_PENDING_ACK_POLICY_REQUIRED] =
        {400, 10082, "consumer requires ack policy for max ack pending"},
    [JS_ERR_CONSUMER_SMALL_HEARTBEAT] = {400, 10083,
                                         "consumer idle heartbeat needs to be >= 100ms"},
    [JS_ERR_CONSUMER_PULL_REQUIRES_ACK] =
        {400, 10084, "consumer in pull mode requires explicit ack policy on workqueue stream"},
    [JS_ERR_CONSUMER_PULL_NOT_DURABLE] = {400, 10085,
                                          "consumer in pull mode requires a durable name"},
    [JS_ERR_CONSUMER_PULL_WITH_RATE_LIMIT] = {400, 10086,
                                              "consumer in pull mode can not have rate limit set"},
    [JS_ERR_CONSUMER_MAX_WAITING_NEGATIVE] = {400, 10087,
                                              "consumer max waiting needs to be positive"},
    [JS_ERR_CONSUMER_HB_REQUIRES_PUSH] = {400, 10088,
                                          "consumer idle heartbeat requires a push based consumer"},
    [JS_ERR_CONSUMER_FC_REQUIRES_PUSH] = {400, 10089,
                                          "consumer flow control requires a push based consumer"},
    [JS_ERR_CONSUMER_MAX_REQUEST_BATCH_NEGATIVE] = {400, 10114,
                                                    "consumer max request batch needs to be > 0"},
    [JS_ERR_CONSUMER_MAX_REQUEST_EXPIRES_TOO_SMALL] =
        {400, 10115, "consumer max request expires needs to be >= 1ms"},
    [JS_ERR_CONSUMER_MAX_REQUEST_BATCH_EXCEEDED] =
        {400, 10125, "consumer max request batch exceeds server limit of {limit}"},
    [JS_ERR_CONSUMER_MAX_PENDING_ACK_EXCESS] =
        {400, 10121, "consumer max ack pending exceeds system limit of {limit}"},
    [JS_ERR_CONSUMER_INACTIVE_THRESHOLD_EXCESS] =
        {400, 10153, "consumer inactive threshold exceeds system limit of {limit}"},
    [JS_ERR_CONSUMER_DIRECT_REQUIRES_PUSH] = {400, 10090,
                                              "consumer direct requires a push based consumer"},
    [JS_ERR_CONSUMER_DIRECT_REQUIRES_EPHEMERAL] =
        {400, 10091, "consumer direct requires an ephemeral consumer"},
    [JS_ERR_CONSUMER_ON_MAPPED] = {400, 10092, "consumer direct on a mapped consumer"},
    [JS_ERR_CONSUMER_FILTER_NOT_SUBSET] =
        {400, 10093, "consumer filter subject is not a valid subset of the interest subjects"},
    [JS_ERR_CONSUMER_DUPLICATE_FILTER_SUBJECTS] =
        {400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified"},
    [JS_ERR_CONSUMER_EMPTY_FILTER] = {400, 10139,
                                      "consumer filter in FilterSubjects cannot be empty"},
    [JS_ERR_CONSUMER_OVERLAPPING_SUBJECT_FILTERS] = {400, 10138,
                                                     "consumer subject filters cannot overlap"},
    [JS_ERR_CONSUMER_INVALID_POLICY] = {400, 10094, "{err}"},
    [JS_ERR_CONSUMER_INVALID_SAMPLING] = {400, 10095,
                                          "failed to parse consumer sampling configuration: {err}"},
    [JS_ERR_CONSUMER_WITH_FLOW_CONTROL_NEEDS_HEARTBEATS] =
        {400, 10108, "consumer with flow control also needs heartbeats"},
    [JS_ERR_CONSUMER_METADATA_LENGTH] = {400, 10135,
                                         "consumer metadata exceeds maximum size of {limit}"},
    [JS_ERR_CONSUMER_PUSH_WITH_PRIORITY_GROUP] =
        {400, 10178, "priority groups can not be used with push consumers"},
    [JS_ERR_CONSUMER_PRIORITY_POLICY_WITHOUT_GROUP] =
        {400, 10159, "Setting PriorityPolicy requires at least one PriorityGroup to be set"},
    [JS_ERR_CONSUMER_EMPTY_GROUP_NAME] = {400, 10161, "Group name cannot be an empty string"},
    [JS_ERR_CONSUMER_INVALID_GROUP_NAME] = {400, 10162,
                                            "Valid priority group name must match A-Z, a-z, 0-9, "
                                            "-_/=)+ and may not exceed 16 characters"},
    [JS_ERR_CONSUMER_PRIORITY_GROUP_WITH_POLICY_NONE] =
        {400, 10196, "consumer can not have priority groups when policy is none"},
    [JS_ERR_CONSUMER_PINNED_TTL_WITHOUT_PRIORITY_POLICY_NONE] =
        {400, 10197, "PinnedTTL cannot be set when PriorityPolicy is none"},
    [JS_ERR_CONSUMER_INVALID_PRIORITY_GROUP] =
        {400, 10160, "Provided priority group does not exist for this consumer"},
    [JS_ERR_CONSUMER_WQ_REQUIRES_EXPLICIT_ACK] = {400, 10098,
                                                  "workqueue stream requires explicit ack"},
    [JS_ERR_CONSUMER_WQ_MULTIPLE_UNFILTERED] =
        {400, 10099, "multiple non-filtered consumers not allowed on workqueue stream"},
    [JS_ERR_CONSUMER_WQ_CONSUMER_NOT_UNIQUE] = {400, 10100,
                                                "filtered consumer not unique on workqueue stream"},
    [JS_ERR_CONSUMER_WQ_CONSUMER_NOT_DELIVER_ALL] =
        {400, 10101, "consumer must be deliver all on workqueue stream"},
    [JS_ERR_CONSUMER_OFFLINE] = {500, 10119, "consumer is offline"},
    [JS_ERR_CONSUMER_OFFLINE_REASON] = {500, 10195, "consumer is offline: {err}"},
    [JS_ERR_CONSUMER_INVALID_RESET] = {400, 10204, "invalid reset: {err}"},
    [JS_ERR_CONSUMER_STREAM_IDENTITY_MISMATCH] =
        {400, 10225, "consumer's stream identity does not match: {msg}"},
};

const struct js_error_entry *js_errors_entry(enum js_error_id id)
{
    ASSERT(id > JS_ERR_NONE);
    ASSERT(id < JS_ERR_COUNT);
    const struct js_error_entry *entry = &js_errors_table[id];
    ASSERT(entry->description != NULL);
    return entry;
}

enum js_error_id js_errors_find(uint16_t err_code)
{
    for (int id = JS_ERR_NONE + 1; id < JS_ERR_COUNT; id++) {
        if (js_errors_table[id].err_code == err_code) {
            return (enum js_error_id)id;
        }
    }
    return JS_ERR_NONE;
}

/* The first placeholder "{name}" ('{', one or more lowercase letters, '}') in `text`, and
 * its length in *length; NULL when there is none. */
static const char *js_errors_placeholder_next(const char *text, size_t *length)
{
    for (const char *open = strchr(text, '{'); open != NULL; open = strchr(open + 1, '{')) {
        size_t i = 1;
        while (open[i] >= 'a' && open[i] <= 'z') {
            i++;
        }
        if (i > 1 && open[i] == '}') {
            *length = i + 1;
            return open;
        }
    }
    return NULL;
}

size_t js_errors_placeholder_count(enum js_error_id id)
{
    size_t count = 0;
    size_t length = 0;
    const char *at = js_errors_placeholder_next(js_errors_entry(id)->description, &length);
    for (; at != NULL; at = js_errors_placeholder_next(at + length, &length)) {
        count++;
    }
    return count;
}

void js_errors_clear(struct js_error *error)
{
    error->id = JS_ERR_NONE;
    error->description[0] = '\0';
}

/* Length of the longest prefix of text[0, length) that ends on a UTF-8 boundary: drops a
 * trailing, incomplete multi-byte sequence left by a cut. */
static size_t js_errors_utf8_boundary(const char *text, size_t length)
{
    size_t back = 0;
    while (back < length && back < 4 && ((unsigned char)text[length - 1 - back] & 0xC0) == 0x80) {
        back++;
    }
    if (back == length) {
        return length;
    }
    unsigned char lead = (unsigned char)text[length - 1 - back];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return need > back + 1 ? length - 1 - back : length;
}

/* Appends text[0, length) to the description at *used, cutting at a UTF-8 boundary when
 * it would not fit. */
static void js_errors_append(struct js_error *error, size_t *used, const char *text, size_t length)
{
    size_t room = sizeof error->description - 1 - *used;
    if (length > room) {
        length = js_errors_utf8_boundary(text, room);
    }
    memcpy(&error->description[*used], text, length);
    *used += length;
    error->description[*used] = '\0';
}

void js_errors_set_args(struct js_error *error, enum js_error_id id, const char *const *args,
                        size_t arg_count)
{
    ASSERT(js_errors_placeholder_count(id) == arg_count);
    const char *start = js_errors_entry(id)->description; /* of the text not yet copied */
    error->id = id;
    error->description[0] = '\0';
    size_t used = 0;
    size_t arg_index = 0;
    size_t length = 0;
    const char *at = js_errors_placeholder_next(start, &length);
    for (; at != NULL; at = js_errors_placeholder_next(start, &length)) {
        js_errors_append(error, &used, start, (size_t)(at - start));
        ASSERT(args[arg_index] != NULL);
        js_errors_append(error, &used, args[arg_index], strlen(args[arg_index]));
        arg_index++;
        start = at + length;
    }
    js_errors_append(error, &used, start, strlen(start));
}

void js_errors_set(struct js_error *error, enum js_error_id id)
{
    js_errors_set_args(error, id, NULL, 0);
}

void js_errors_vsetf(struct js_error *error, enum js_error_id id, const char *format, va_list args)
{
    char text[JS_ERROR_DESCRIPTION_SIZE];
    int length = vsnprintf(text, sizeof text, format, args);
    ASSERT(length >= 0);
    if ((size_t)length >= sizeof text) {
        text[js_errors_utf8_boundary(text, sizeof text - 1)] = '\0';
    }
    const char *arg = text;
    js_errors_set_args(error, id, &arg, 1);
}

void js_errors_setf(struct js_error *error, enum js_error_id id, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    js_errors_vsetf(error, id, format, args);
    va_end(args);
}

void js_errors_json_error(struct go_json *json, const struct js_error *error)
{
    const struct js_error_entry *entry = js_errors_entry(error->id);
    go_json_key(json, "error");
    go_json_raw(json, "{", 1);
    go_json_key(json, "code");
    go_json_uint(json, entry->code);
    go_json_key(json, "err_code");
    go_json_uint(json, entry->err_code);
    go_json_key(json, "description");
    go_json_cstring(json, error->description);
    go_json_raw(json, "}", 1);
}
