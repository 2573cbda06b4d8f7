/* Subject index micro benchmark, C side: see sublist_shim.h.
 *
 * Subscriptions and their subject bytes live in two arrays owned by the fixture and stay
 * put while inserted, as the sublist requires. Subjects to match are drawn without
 * replacement from a fixed-seed shuffle, so the same run matches the same subjects and,
 * in a large index, each lookup lands on a different (cold) part of the tables. */
#include "bench/micro/sublist_shim.h"

#include "base/assert.h"
#include "base/hash.h"
#include "proto/sublist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    /* Room for the longest subject built here: "_INBOX." + 22 + "." + 10 digits. */
    SHIM_SUBJECT_BYTES_MAX = 64,
    /* Subscriptions that share one inbox prefix, as one client's responses would. */
    SHIM_INBOX_PER_PREFIX = 1024,
    /* Length of an inbox prefix token, as nats.go's NUID makes it. */
    SHIM_INBOX_TOKEN_BYTES = 22,
    /* Fixed subscriptions of the wildcard shape: "svc.>", "svc.*.req", 4 queue members. */
    SHIM_WILDCARD_FIXED_COUNT = 6,
    SHIM_QUEUE_MEMBER_COUNT = 4,
    /* One wildcard "svc.<n>.*" per this many subscriptions of the wildcard shape. */
    SHIM_WILDCARD_SHARE_DIVISOR = 8,
    /* Indexes kept at once: 2 shapes x 3 sizes, with room to spare. */
    SHIM_FIXTURE_MAX = 16,
    /* Seeds: fixed so every run builds and matches the same subjects. */
    SHIM_SUBLIST_SEED = 0x9e3779b97f4a7c15u,
    SHIM_SHUFFLE_SEED = 0x2545f4914f6cdd1du,
};

STATIC_ASSERT((SUBLIST_SHIM_SUBJECT_COUNT & (SUBLIST_SHIM_SUBJECT_COUNT - 1)) == 0,
              "the match loop masks its index");
STATIC_ASSERT(SUBLIST_SHIM_SUBJECT_COUNT >= 4 * 4096, "cycling outruns the 4096-entry cache");

struct sublist_shim {
    enum sublist_shim_shape shape;
    uint32_t sub_count;
    struct sublist *list; /* owned */
    struct sub *subs;     /* owned: sub_count inserted, then SUBLIST_SHIM_CHURN_COUNT spare */
    char *subject_bytes;  /* owned: every subject of `subs`, SHIM_SUBJECT_BYTES_MAX apart */
    char *match_bytes;    /* owned: SUBLIST_SHIM_SUBJECT_COUNT subjects to match, same stride */
    uint32_t match_lengths[SUBLIST_SHIM_SUBJECT_COUNT];
};

static struct sublist_shim *fixtures[SHIM_FIXTURE_MAX];
static uint32_t fixture_count;

/* The NUID-like inbox token of prefix number `prefix_index`. */
static void inbox_token_write(uint32_t prefix_index, char *token)
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint64_t state = prefix_index;
    for (int i = 0; i < SHIM_INBOX_TOKEN_BYTES; i++) {
        token[i] = alphabet[hash_sequence_next(&state) % (sizeof alphabet - 1)];
    }
    token[SHIM_INBOX_TOKEN_BYTES] = '\0';
}

/* Writes the subject of literal subscription `n` of `shape`; returns its length. */
static uint32_t literal_subject_write(enum sublist_shim_shape shape, uint32_t n, char *subject)
{
    int length;
    if (shape == SUBLIST_SHIM_LITERAL) {
        char token[SHIM_INBOX_TOKEN_BYTES + 1];
        inbox_token_write(n / SHIM_INBOX_PER_PREFIX, token);
        length = snprintf(subject, SHIM_SUBJECT_BYTES_MAX, "_INBOX.%s.%u", token, n);
    } else {
        length = snprintf(subject, SHIM_SUBJECT_BYTES_MAX, "svc.%u.req", n);
    }
    ASSERT(length > 0);
    ASSERT(length < SHIM_SUBJECT_BYTES_MAX);
    return (uint32_t)length;
}

static void sub_set(struct sublist_shim *shim, uint32_t index, const char *subject,
                    const char *queue)
{
    char *bytes = shim->subject_bytes + (size_t)index * SHIM_SUBJECT_BYTES_MAX;
    size_t length = strlen(subject);
    ASSERT(length < SHIM_SUBJECT_BYTES_MAX);
    memcpy(bytes, subject, length + 1);
    shim->subs[index] = (struct sub){
        .subject = bytes,
        .subject_length = (uint32_t)length,
        .queue = queue,
        .queue_length = queue != NULL ? (uint32_t)strlen(queue) : 0,
    };
}

/* Fills subs[0, sub_count) with the shape's subscriptions and the spare ones after them;
 * returns how many literal subjects "…<n>" there are, n in [0, count). */
static uint32_t subs_fill(struct sublist_shim *shim)
{
    char subject[SHIM_SUBJECT_BYTES_MAX];
    uint32_t index = 0;
    uint32_t literal_count = shim->sub_count;
    if (shim->shape == SUBLIST_SHIM_WILDCARD) {
        ASSERT(shim->sub_count > SHIM_WILDCARD_FIXED_COUNT);
        uint32_t wildcard_count =
            (shim->sub_count - SHIM_WILDCARD_FIXED_COUNT) / SHIM_WILDCARD_SHARE_DIVISOR;
        literal_count = shim->sub_count - SHIM_WILDCARD_FIXED_COUNT - wildcard_count;
        sub_set(shim, index++, "svc.>", NULL);
        sub_set(shim, index++, "svc.*.req", NULL);
        for (uint32_t q = 0; q < SHIM_QUEUE_MEMBER_COUNT; q++) {
            sub_set(shim, index++, "svc.*.req", "workers");
        }
        for (uint32_t n = 0; n < wildcard_count; n++) {
            snprintf(subject, sizeof subject, "svc.%u.*", n);
            sub_set(shim, index++, subject, NULL);
        }
    }
    for (uint32_t n = 0; n < literal_count; n++) {
        literal_subject_write(shim->shape, n, subject);
        sub_set(shim, index++, subject, NULL);
    }
    ASSERT(index == shim->sub_count);
    /* Spare subscriptions for churn: subjects no inserted subscription has. */
    for (uint32_t k = 0; k < SUBLIST_SHIM_CHURN_COUNT; k++) {
        if (shim->shape == SUBLIST_SHIM_LITERAL) {
            snprintf(subject, sizeof subject, "_INBOX.churn.%u", k);
        } else {
            snprintf(subject, sizeof subject, "svc.churn%u.*", k);
        }
        sub_set(shim, index++, subject, NULL);
    }
    return literal_count;
}

/* Draws the subjects to match: distinct "…<n>" with n from a shuffle of [0, range), where
 * the range is the literal subjects, widened for the wildcard shape to at least the list
 * length so that every entry of the list is a distinct subject (and the cache misses). */
static void match_subjects_fill(struct sublist_shim *shim, uint32_t literal_count)
{
    uint32_t range = literal_count;
    if (shim->shape == SUBLIST_SHIM_WILDCARD && range < SUBLIST_SHIM_SUBJECT_COUNT) {
        range = SUBLIST_SHIM_SUBJECT_COUNT;
    }
    uint32_t *numbers = malloc((size_t)range * sizeof *numbers);
    ASSERT(numbers != NULL);
    for (uint32_t n = 0; n < range; n++) {
        numbers[n] = n;
    }
    uint32_t drawn = range < SUBLIST_SHIM_SUBJECT_COUNT ? range : SUBLIST_SHIM_SUBJECT_COUNT;
    uint64_t state = SHIM_SHUFFLE_SEED;
    for (uint32_t i = 0; i < drawn; i++) { /* partial Fisher-Yates */
        uint32_t j = i + (uint32_t)(hash_sequence_next(&state) % (range - i));
        uint32_t swap = numbers[i];
        numbers[i] = numbers[j];
        numbers[j] = swap;
    }
    for (uint32_t i = 0; i < SUBLIST_SHIM_SUBJECT_COUNT; i++) {
        char *subject = shim->match_bytes + (size_t)i * SHIM_SUBJECT_BYTES_MAX;
        shim->match_lengths[i] = literal_subject_write(shim->shape, numbers[i % drawn], subject);
    }
    free(numbers);
}

static struct sublist_shim *fixture_build(enum sublist_shim_shape shape, uint32_t sub_count)
{
    struct sublist_shim *shim = calloc(1, sizeof *shim);
    ASSERT(shim != NULL);
    shim->shape = shape;
    shim->sub_count = sub_count;
    size_t slot_count = (size_t)sub_count + SUBLIST_SHIM_CHURN_COUNT;
    shim->subs = calloc(slot_count, sizeof *shim->subs);
    shim->subject_bytes = malloc(slot_count * SHIM_SUBJECT_BYTES_MAX);
    shim->match_bytes = malloc((size_t)SUBLIST_SHIM_SUBJECT_COUNT * SHIM_SUBJECT_BYTES_MAX);
    shim->list = sublist_create(SHIM_SUBLIST_SEED);
    ASSERT(shim->subs != NULL);
    ASSERT(shim->subject_bytes != NULL);
    ASSERT(shim->match_bytes != NULL);
    ASSERT(shim->list != NULL);
    uint32_t literal_count = subs_fill(shim);
    for (uint32_t i = 0; i < sub_count; i++) {
        ASSERT(sublist_insert(shim->list, &shim->subs[i]) == 0);
    }
    match_subjects_fill(shim, literal_count);
    /* Subject 0 is the one the cache-hit loop repeats: it must merge several sets. */
    const struct sublist_result *result =
        sublist_match(shim->list, shim->match_bytes, shim->match_lengths[0]);
    ASSERT(result->plain_count + result->group_count > 0);
    if (shape == SUBLIST_SHIM_WILDCARD) {
        ASSERT(result->group_count == 1);
        ASSERT(result->plain_count >= 2);
    }
    return shim;
}

struct sublist_shim *sublist_shim_get(enum sublist_shim_shape shape, uint32_t sub_count)
{
    for (uint32_t i = 0; i < fixture_count; i++) {
        if (fixtures[i]->shape == shape && fixtures[i]->sub_count == sub_count) {
            return fixtures[i];
        }
    }
    ASSERT(fixture_count < SHIM_FIXTURE_MAX);
    fixtures[fixture_count] = fixture_build(shape, sub_count);
    return fixtures[fixture_count++];
}

void sublist_shim_release_all(void)
{
    for (uint32_t i = 0; i < fixture_count; i++) {
        struct sublist_shim *shim = fixtures[i];
        sublist_destroy(shim->list);
        free(shim->match_bytes);
        free(shim->subject_bytes);
        free(shim->subs);
        free(shim);
        fixtures[i] = NULL;
    }
    fixture_count = 0;
}

uint32_t sublist_shim_match(struct sublist_shim *shim, uint32_t subject_index)
{
    uint32_t i = subject_index & (SUBLIST_SHIM_SUBJECT_COUNT - 1);
    const struct sublist_result *result = sublist_match(
        shim->list, shim->match_bytes + (size_t)i * SHIM_SUBJECT_BYTES_MAX, shim->match_lengths[i]);
    uint32_t count = result->plain_count;
    for (uint32_t g = 0; g < result->group_count; g++) {
        count += result->groups[g].member_count;
    }
    return count;
}

void sublist_shim_churn(struct sublist_shim *shim)
{
    struct sub *spare = shim->subs + shim->sub_count;
    for (uint32_t k = 0; k < SUBLIST_SHIM_CHURN_COUNT; k++) {
        ASSERT(sublist_insert(shim->list, &spare[k]) == 0);
    }
    for (uint32_t k = 0; k < SUBLIST_SHIM_CHURN_COUNT; k++) {
        ASSERT(sublist_remove(shim->list, &spare[k]) == 0);
    }
}

void sublist_shim_counts(const struct sublist_shim *shim, uint64_t *match_count,
                         uint64_t *cache_hit_count)
{
    struct sublist_stats stats;
    sublist_stats_get(shim->list, &stats);
    *match_count = stats.match_count;
    *cache_hit_count = stats.cache_hit_count;
}
