/* JetStream publish checks: each stage of js_pub_check (the order and what the broker
 * does between the stages are in js_pub.h).
 *
 * The one idea: a stage decides only from the directives, the stream's rules and the
 * publish's own size, in nats-server 2.15's order, so the first failing check names the
 * error nats-server would give. Pure functions, any thread. */
#include "proto/js_pub.h"

#include "base/assert.h"

#include <string.h>

/* getMessageIncr and the counter rules that follow it. */
static enum js_pub_error check_counter(const struct js_pub_directives *d,
                                       const struct js_pub_rules *rules, size_t payload_length)
{
    if (!d->incr_set) {
        return JS_PUB_OK;
    }
    if (!d->incr_valid) {
        return JS_PUB_ERR_INCR_INVALID;
    }
    if (!rules->allow_msg_counter) {
        return JS_PUB_ERR_INCR_DISABLED;
    }
    if (payload_length > 0) {
        return JS_PUB_ERR_INCR_PAYLOAD;
    }
    bool incompatible = d->rollup_text.length > 0 || d->expected_stream.length > 0 ||
                        d->expected_last_msg_id.length > 0 || d->expected_last_subject.length > 0 ||
                        d->expected_last_seq_set || d->expected_last_subject_seq_set;
    return incompatible ? JS_PUB_ERR_INCR_INVALID : JS_PUB_OK;
}

static bool stream_matches(const struct js_pub_directives *d, const struct js_pub_context *c)
{
    return d->expected_stream.length == 0 ||
           (d->expected_stream.length == c->stream.length &&
            memcmp(d->expected_stream.bytes, c->stream.bytes, c->stream.length) == 0);
}

static enum js_pub_error check_headers(const struct js_pub_directives *d,
                                       const struct js_pub_rules *rules,
                                       const struct js_pub_context *context)
{
    enum js_pub_error error = check_counter(d, rules, context->payload_length);
    if (error != JS_PUB_OK) {
        return error;
    }
    if (!stream_matches(d, context)) {
        return JS_PUB_ERR_STREAM_NOT_MATCH;
    }
    /* an invalid TTL reads as 0 here; it is refused at JS_PUB_STAGE_TTL */
    bool ttl_given = d->ttl == JS_PUB_TTL_SECONDS || d->ttl == JS_PUB_TTL_NEVER;
    if (ttl_given && !rules->allow_msg_ttl) {
        return JS_PUB_ERR_TTL_DISABLED;
    }
    if (!d->expected_last_subject_seq_set && d->expected_last_subject.length > 0) {
        return JS_PUB_ERR_LAST_SUBJECT_SEQ_MISSING;
    }
    return JS_PUB_OK;
}

static enum js_pub_error check_rollup(const struct js_pub_directives *d,
                                      const struct js_pub_rules *rules)
{
    if (d->rollup != JS_PUB_ROLLUP_NONE && (!rules->allow_rollup || rules->deny_purge)) {
        return JS_PUB_ERR_ROLLUP_NOT_PERMITTED;
    }
    return d->rollup == JS_PUB_ROLLUP_INVALID ? JS_PUB_ERR_ROLLUP_INVALID : JS_PUB_OK;
}

static enum js_pub_error check_counter_missing(const struct js_pub_directives *d,
                                               const struct js_pub_rules *rules)
{
    return rules->allow_msg_counter && !d->incr_set ? JS_PUB_ERR_INCR_MISSING : JS_PUB_OK;
}

/* A single message checks its rollup, then that a counter stream got Nats-Incr. */
static enum js_pub_error check_rollup_stage(const struct js_pub_directives *d,
                                            const struct js_pub_rules *rules)
{
    enum js_pub_error error = check_rollup(d, rules);
    return error != JS_PUB_OK ? error : check_counter_missing(d, rules);
}

/* A batch message checks the subject without its sequence, then its rollup. */
static enum js_pub_error check_batch_rollup(const struct js_pub_directives *d,
                                            const struct js_pub_rules *rules)
{
    if (!d->expected_last_subject_seq_set && d->expected_last_subject.length > 0) {
        return JS_PUB_ERR_LAST_SUBJECT_SEQ_MISSING;
    }
    return check_rollup(d, rules);
}

static enum js_pub_error check_batch_entry(const struct js_pub_directives *d,
                                           const struct js_pub_rules *rules)
{
    ASSERT(d->batch);
    if (!rules->allow_atomic) {
        return JS_PUB_ERR_ATOMIC_DISABLED;
    }
    if (d->batch_id.length > JS_PUB_BATCH_ID_LENGTH_MAX) {
        return JS_PUB_ERR_ATOMIC_INVALID_ID;
    }
    return d->batch_seq_set ? JS_PUB_OK : JS_PUB_ERR_ATOMIC_MISSING_SEQ;
}

/* checkMsgHeadersPreClusteredProposal's stateless part, after the batch's own header
 * rule; here a TTL is checked whole, disabled before invalid. */
static enum js_pub_error check_batch_message(const struct js_pub_directives *d,
                                             const struct js_pub_rules *rules,
                                             const struct js_pub_context *context)
{
    if (d->expected_last_msg_id.length > 0) {
        return JS_PUB_ERR_ATOMIC_UNSUPPORTED_HEADER;
    }
    enum js_pub_error error = check_counter(d, rules, context->payload_length);
    if (error != JS_PUB_OK) {
        return error;
    }
    if (!stream_matches(d, context)) {
        return JS_PUB_ERR_STREAM_NOT_MATCH;
    }
    if (d->ttl != JS_PUB_TTL_NONE && !rules->allow_msg_ttl) {
        return JS_PUB_ERR_TTL_DISABLED;
    }
    return d->ttl == JS_PUB_TTL_INVALID ? JS_PUB_ERR_TTL_INVALID : JS_PUB_OK;
}

enum js_pub_error js_pub_check(const struct js_pub_directives *directives,
                               const struct js_pub_rules *rules,
                               const struct js_pub_context *context, enum js_pub_stage stage)
{
    switch (stage) {
    case JS_PUB_STAGE_HEADERS:
        return check_headers(directives, rules, context);
    case JS_PUB_STAGE_SOURCE:
        return directives->stream_source.length > 0 ? JS_PUB_ERR_SOURCE_HEADER : JS_PUB_OK;
    case JS_PUB_STAGE_ROLLUP:
        return check_rollup_stage(directives, rules);
    case JS_PUB_STAGE_TTL:
        return directives->ttl == JS_PUB_TTL_INVALID ? JS_PUB_ERR_TTL_INVALID : JS_PUB_OK;
    case JS_PUB_STAGE_BATCH_ENTRY:
        return check_batch_entry(directives, rules);
    case JS_PUB_STAGE_BATCH_COMMIT_VALUE:
        return directives->batch_commit == JS_PUB_COMMIT_INVALID ? JS_PUB_ERR_ATOMIC_INVALID_COMMIT
                                                                 : JS_PUB_OK;
    case JS_PUB_STAGE_BATCH_MESSAGE:
        return check_batch_message(directives, rules, context);
    case JS_PUB_STAGE_BATCH_COUNTER:
        return check_counter_missing(directives, rules);
    case JS_PUB_STAGE_BATCH_ROLLUP:
        return check_batch_rollup(directives, rules);
    }
    UNREACHABLE();
}
