/* A consumer's count of what is left to deliver (num_pending), made again from the stream
 * when it cannot follow by difference (created, loaded, or messages removed).
 *
 * The one idea: count from the store's indexes, not its messages, wherever the filters
 * allow it: no filter is the stream's count (or a difference of sequences when nothing is
 * missing); literal filters from the start sum the subject index's counts; other filters
 * from the start walk the subjects once; only a count that starts mid-stream with filters
 * reads the messages after its start. Owner shard's thread only. */
#include "engine/js_consumer.h"

#include "proto/subject.h"
#include "store/stream_store.h"

#include <string.h>

struct subject_sum {
    struct js_consumer *consumer;
    uint64_t total;
};

static int subject_sum_each(void *context, const uint8_t *subject, uint32_t length,
                            uint64_t count)
{
    struct subject_sum *sum = context;
    if (js_consumer_matches(sum->consumer, (const char *)subject, length)) {
        sum->total += count;
    }
    return 0;
}

static bool filtered(const struct js_consumer_config *config)
{
    return config->filter_subject != NULL || config->filter_subject_count > 0;
}

/* Filters that are all literal subjects (no two equal: overlapping filters are refused):
 * the messages held on each, summed from the subject index, without walking every subject
 * of the stream. False when a filter has a wildcard. */
static bool literal_filters_sum(const struct js_consumer *consumer, uint64_t *total)
{
    const struct js_consumer_config *config = &consumer->config;
    const char *const single[1] = {config->filter_subject};
    const char *const *filters =
        config->filter_subject != NULL ? single : (const char *const *)config->filter_subjects;
    size_t count = config->filter_subject != NULL ? 1 : config->filter_subject_count;
    for (size_t i = 0; i < count; i++) {
        if (subject_has_wildcard(filters[i], strlen(filters[i]))) {
            return false;
        }
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < count; i++) {
        sum += stream_store_subject_count(consumer->stream->store, (const uint8_t *)filters[i],
                                          (uint32_t)strlen(filters[i]));
    }
    *total = sum;
    return true;
}

static uint64_t recount_from(struct js_consumer *consumer,
                             const struct stream_store_counts *counts, uint64_t next)
{
    uint64_t from = next > counts->first_seq ? next : counts->first_seq;
    if (counts->msg_count == 0 || from > counts->last_seq) {
        return 0;
    }
    bool dense = counts->last_seq + 1 - counts->first_seq == counts->msg_count;
    if (!filtered(&consumer->config)) {
        if (from == counts->first_seq) {
            return counts->msg_count;
        }
        if (dense) {
            return counts->last_seq - from + 1;
        }
    } else if (from == counts->first_seq) {
        uint64_t literal_total = 0;
        if (literal_filters_sum(consumer, &literal_total)) {
            return literal_total;
        }
        struct subject_sum sum = {.consumer = consumer};
        (void)stream_store_subjects_each(consumer->stream->store, subject_sum_each, &sum);
        return sum.total;
    }
    uint64_t total = 0;
    struct stream_store_msg msg;
    uint64_t seq = from;
    while (stream_store_next(consumer->stream->store, seq, &msg) == 0) {
        if (js_consumer_matches(consumer, (const char *)msg.subject,
                                       msg.subject_length)) {
            total++;
        }
        seq = msg.seq + 1;
    }
    return total;
}

uint64_t js_consumer_recount(struct js_consumer *consumer, const struct stream_store_counts *counts)
{
    if (consumer->lps_index >= consumer->lps_count) {
        return recount_from(consumer, counts, consumer->next_sseq);
    }
    /* last_per_subject's first pass: the last messages still held, then what came after */
    uint64_t total = 0;
    for (size_t i = consumer->lps_index; i < consumer->lps_count; i++) {
        struct stream_store_msg msg;
        if (stream_store_get(consumer->stream->store, consumer->lps[i], &msg) == 0) {
            total++;
        }
    }
    return total + recount_from(consumer, counts, consumer->lps_resume);
}

