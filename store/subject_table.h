/* The per-subject index of a stream store: subject -> message count, first and last
 * sequence.
 *
 * Open addressing with linear probing and backward-shift deletion, keyed by seeded xxh3 of
 * the subject. An entry exists while the stream holds at least one message on its subject.
 * The table keeps the numbers only: the store keeps them right as messages go
 * (stream_store_subject.c), following the chain of its messages on the subject to a new
 * first one, and marking a bound stale where it cannot say it at once.
 *
 * Owned by one stream store, one thread. Entry pointers are valid until the next upsert or
 * remove on the same table. */
#ifndef IONATS_STORE_SUBJECT_TABLE_H
#define IONATS_STORE_SUBJECT_TABLE_H

#include <stdint.h>

/* Entry flags: the bound is not exact (see first_seq, last_seq); RELINK only while the
 * store rebuilds its chains (stream_store_subject.c): no message of the entry seen yet. */
enum {
    SUBJECT_ENTRY_F_FIRST_STALE = 1u << 0,
    SUBJECT_ENTRY_F_LAST_STALE = 1u << 1,
    SUBJECT_ENTRY_F_RELINK = 1u << 2,
};

struct subject_entry {
    char *subject;       /* owned copy, not terminated; NULL marks an empty slot */
    uint64_t hash;
    uint64_t first_seq;  /* exact, or a lower bound with SUBJECT_ENTRY_F_FIRST_STALE */
    /* The last message appended on the subject: exact while held; with
     * SUBJECT_ENTRY_F_LAST_STALE it is no longer held, and the last one held is below. */
    uint64_t last_seq;
    uint64_t msg_count;
    uint32_t subject_length;
    uint32_t flags;
};

struct subject_table {
    struct subject_entry *slots; /* owned; NULL until the first insert */
    uint32_t capacity;           /* slots, a power of two (or 0) */
    uint32_t count;              /* entries in use */
    uint64_t seed;
};

void subject_table_init(struct subject_table *table, uint64_t seed);
void subject_table_destroy(struct subject_table *table);

/* Removes every entry (keeps the slots). */
void subject_table_clear(struct subject_table *table);

uint64_t subject_table_hash(const struct subject_table *table, const uint8_t *subject,
                            uint32_t subject_length);

/* The entry of `subject` (whose hash is `hash`), or NULL. */
struct subject_entry *subject_table_find(const struct subject_table *table,
                                         const uint8_t *subject, uint32_t subject_length,
                                         uint64_t hash);

/* Counts one more message `seq` on `subject`, which must be above every sequence already
 * counted for it: inserts the entry (first = last = seq) or updates it (last = seq).
 * *previous_last_seq is the entry's last_seq before, 0 for a new entry. 0, or -ENOMEM with
 * the table unchanged. */
int subject_table_add(struct subject_table *table, const uint8_t *subject,
                      uint32_t subject_length, uint64_t hash, uint64_t seq,
                      uint64_t *previous_last_seq);

/* Removes `entry` (from this table). */
void subject_table_remove(struct subject_table *table, struct subject_entry *entry);

#endif
