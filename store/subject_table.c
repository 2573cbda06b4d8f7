/* The per-subject index: see subject_table.h. One stream store's thread. */
#include "store/subject_table.h"

#include "base/assert.h"
#include "base/hash.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum {
    /* First allocation, in slots: a power of two. */
    SUBJECT_TABLE_CAPACITY_MIN = 16,
    /* Slot indexes and counts are 32-bit. */
    SUBJECT_TABLE_CAPACITY_MAX = 1u << 30,
    /* Grow past 3/4 full: linear probing degrades quickly beyond that. */
    SUBJECT_TABLE_LOAD_NUMERATOR = 3,
    SUBJECT_TABLE_LOAD_DENOMINATOR = 4,
};

STATIC_ASSERT((SUBJECT_TABLE_CAPACITY_MIN & (SUBJECT_TABLE_CAPACITY_MIN - 1)) == 0,
              "capacities are powers of two");

void subject_table_init(struct subject_table *table, uint64_t seed)
{
    *table = (struct subject_table){.seed = seed};
}

void subject_table_clear(struct subject_table *table)
{
    for (uint32_t i = 0; i < table->capacity; i++) {
        free(table->slots[i].subject);
        table->slots[i] = (struct subject_entry){0};
    }
    table->count = 0;
}

void subject_table_destroy(struct subject_table *table)
{
    subject_table_clear(table);
    free(table->slots);
    *table = (struct subject_table){0};
}

uint64_t subject_table_hash(const struct subject_table *table, const uint8_t *subject,
                            uint32_t subject_length)
{
    return hash_bytes(subject, subject_length, table->seed);
}

static bool subject_entry_equal(const struct subject_entry *entry, const uint8_t *subject,
                                uint32_t subject_length, uint64_t hash)
{
    return entry->hash == hash && entry->subject_length == subject_length &&
           memcmp(entry->subject, subject, subject_length) == 0;
}

struct subject_entry *subject_table_find(const struct subject_table *table,
                                         const uint8_t *subject, uint32_t subject_length,
                                         uint64_t hash)
{
    if (table->count == 0) {
        return NULL;
    }
    uint32_t mask = table->capacity - 1;
    /* Probing ends at an empty slot: the load factor keeps one. */
    for (uint32_t index = (uint32_t)hash & mask;; index = (index + 1) & mask) {
        struct subject_entry *entry = &table->slots[index];
        if (entry->subject == NULL) {
            return NULL;
        }
        if (subject_entry_equal(entry, subject, subject_length, hash)) {
            return entry;
        }
    }
}

/* Places an entry into a table known to have no equal entry and a free slot. */
static void subject_table_place(struct subject_table *table, const struct subject_entry *entry)
{
    uint32_t mask = table->capacity - 1;
    uint32_t index = (uint32_t)entry->hash & mask;
    while (table->slots[index].subject != NULL) {
        index = (index + 1) & mask;
    }
    table->slots[index] = *entry;
}

static int subject_table_grow(struct subject_table *table)
{
    uint32_t capacity =
        table->capacity == 0 ? SUBJECT_TABLE_CAPACITY_MIN : table->capacity * 2;
    if (capacity > SUBJECT_TABLE_CAPACITY_MAX) {
        return -ENOMEM;
    }
    struct subject_entry *slots = calloc(capacity, sizeof *slots);
    if (slots == NULL) {
        return -ENOMEM;
    }
    struct subject_table grown = {.slots = slots, .capacity = capacity, .seed = table->seed};
    for (uint32_t i = 0; i < table->capacity; i++) {
        if (table->slots[i].subject != NULL) {
            subject_table_place(&grown, &table->slots[i]);
            grown.count++;
        }
    }
    ASSERT(grown.count == table->count);
    free(table->slots);
    *table = grown;
    return 0;
}

int subject_table_add(struct subject_table *table, const uint8_t *subject,
                      uint32_t subject_length, uint64_t hash, uint64_t seq,
                      uint64_t *previous_last_seq)
{
    ASSERT(subject_length > 0);
    ASSERT(seq > 0);
    struct subject_entry *entry = subject_table_find(table, subject, subject_length, hash);
    if (entry != NULL) {
        ASSERT(seq > entry->last_seq);
        ASSERT(entry->msg_count > 0);
        *previous_last_seq = entry->last_seq;
        entry->last_seq = seq;
        entry->flags &= ~(uint32_t)SUBJECT_ENTRY_F_LAST_STALE;
        entry->msg_count++;
        return 0;
    }
    if ((uint64_t)(table->count + 1) * SUBJECT_TABLE_LOAD_DENOMINATOR >
        (uint64_t)table->capacity * SUBJECT_TABLE_LOAD_NUMERATOR) {
        int rc = subject_table_grow(table);
        if (rc != 0) {
            return rc;
        }
    }
    char *copy = malloc(subject_length);
    if (copy == NULL) {
        return -ENOMEM;
    }
    memcpy(copy, subject, subject_length);
    struct subject_entry added = {
        .subject = copy,
        .hash = hash,
        .first_seq = seq,
        .last_seq = seq,
        .msg_count = 1,
        .subject_length = subject_length,
    };
    subject_table_place(table, &added);
    table->count++;
    *previous_last_seq = 0;
    return 0;
}

void subject_table_remove(struct subject_table *table, struct subject_entry *entry)
{
    ASSERT(entry >= table->slots && entry < table->slots + table->capacity);
    ASSERT(entry->subject != NULL);
    free(entry->subject);
    uint32_t mask = table->capacity - 1;
    uint32_t hole = (uint32_t)(entry - table->slots);
    /* Backward-shift deletion: pull every later member of the probe run whose home slot
     * does not lie cyclically in (hole, index] back into the hole. */
    for (uint32_t index = (hole + 1) & mask;; index = (index + 1) & mask) {
        struct subject_entry *next = &table->slots[index];
        if (next->subject == NULL) {
            break;
        }
        uint32_t home = (uint32_t)next->hash & mask;
        bool stays = hole <= index ? (hole < home && home <= index)
                                   : (hole < home || home <= index);
        if (!stays) {
            table->slots[hole] = *next;
            hole = index;
        }
    }
    table->slots[hole] = (struct subject_entry){0};
    table->count--;
}
