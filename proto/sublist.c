/* The subject index of one shard: see sublist.h.
 *
 * Every subscription sits in exactly one "sub set": the set of its literal subject (an
 * entry of the literal hash table) or the set of the trie node its wildcard pattern ends
 * at. A sub set keeps its members laid out as a ready-made match result, so a publish
 * that one set answers is served without a copy (the common case: one _INBOX subject per
 * requester, found by one hash lookup). Only when several sets match are they merged
 * (queue groups by name) into a result that is cached per subject, in a cache bounded
 * by entries and bytes; a cached result records the generation it was built at and is
 * rebuilt when any insert or remove has bumped the generation since. A side table maps each
 * subscription to its position in its set, so removal is O(1) expected however many
 * subscriptions share a subject.
 *
 * All tables are open addressing with linear probing and backward-shift deletion (no
 * tombstones). The trie keeps its edges in one table keyed by (parent node, token), so a
 * node with 100k children costs no more to search than one with two. The trie is walked
 * with an explicit stack bounded by the token count; nothing here recurses.
 *
 * Owned by one shard's thread; no locks, no atomics. */
#include "proto/sublist.h"

#include "base/assert.h"
#include "base/hash.h"
#include "proto/subject.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum {
    /* Smallest hash table, in slots: small enough for an idle shard, a power of two. */
    TABLE_CAPACITY_MIN = 16,
    /* Largest: slot positions and counts are 32-bit. */
    TABLE_CAPACITY_MAX = 1u << 30,
    /* A table grows past 3/4 full (linear probing degrades quickly beyond that) ... */
    TABLE_LOAD_NUMERATOR = 3,
    TABLE_LOAD_DENOMINATOR = 4,
    /* ... and shrinks below 1/8 full, far enough from growing again not to flap. */
    TABLE_SHRINK_DIVISOR = 8,

    /* Cached results at most. A shard's hot subjects fit many times over; past it an entry
     * is evicted for each new one. Each entry costs its result plus its subject. */
    CACHE_ENTRY_MAX = 4096,
    /* The cache table never resizes: twice the entries keeps probes short. */
    CACHE_SLOT_COUNT = 2 * CACHE_ENTRY_MAX,
    /* Bytes all cached results may take: a few thousand fan-outs of a few hundred subs.
     * Without it, 4096 results of 100k subs each would hold 3 GiB. A reused block may
     * overshoot it by its slack, one entry at a time. */
    CACHE_BYTES_MAX = 16 << 20,
    /* A result larger than this (about 32k subs) is not cached: copying it on each match
     * costs far less than delivering the message to every sub in it. */
    CACHE_ENTRY_BYTES_MAX = CACHE_BYTES_MAX / 64,
    /* An evicted entry's memory is reused for the next result when it is at most this many
     * times larger than needed: a steady stream of misses then allocates nothing. */
    CACHE_REUSE_SLACK = 2,

    /* Plain subscriptions a set holds without allocating: most literal subjects (inboxes)
     * have exactly one subscriber. */
    SET_PLAIN_INLINE_COUNT = 1,
    /* Smallest allocated array of subs or groups, in elements. */
    ARRAY_CAPACITY_MIN = 4,
    /* An array shrinks to half when at most a quarter of it is used. */
    ARRAY_SHRINK_DIVISOR = 4,
};

STATIC_ASSERT((TABLE_CAPACITY_MIN & (TABLE_CAPACITY_MIN - 1)) == 0, "power of two");
STATIC_ASSERT((TABLE_CAPACITY_MAX & (TABLE_CAPACITY_MAX - 1)) == 0, "power of two");
STATIC_ASSERT((CACHE_SLOT_COUNT & (CACHE_SLOT_COUNT - 1)) == 0, "power of two");
STATIC_ASSERT((uint64_t)CACHE_ENTRY_MAX * TABLE_LOAD_DENOMINATOR <=
                  (uint64_t)CACHE_SLOT_COUNT * TABLE_LOAD_NUMERATOR,
              "a full cache stays within the load limit of its fixed table");
STATIC_ASSERT(CACHE_ENTRY_BYTES_MAX <= CACHE_BYTES_MAX, "one entry fits the budget");
STATIC_ASSERT(TABLE_SHRINK_DIVISOR * TABLE_LOAD_NUMERATOR > 2 * TABLE_LOAD_DENOMINATOR,
              "a table just shrunk to half is not over its load limit");

/* Murmur3's 64-bit finaliser: spreads the bits of a pointer over the whole word. Pointers
 * are chosen by the allocator, not by clients, so they need no seeded hash. */
static uint64_t pointer_hash(const void *pointer)
{
    uint64_t x = (uint64_t)(uintptr_t)pointer;
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

/* ---- Open-addressing table ----------------------------------------------------------- */

/* One slot. What `item` points at is owned as the table's field in struct sublist says. */
struct table_slot {
    void *item;     /* NULL when the slot is empty */
    uint32_t hash;  /* low half of the key's hash: the home slot, and a cheap filter */
    uint32_t value; /* per table: the key's length, or a sub's position in its set */
};

struct table {
    struct table_slot *slots; /* owned */
    uint32_t mask;            /* capacity - 1; the capacity is a power of two */
    uint32_t count;
};

#define TABLE_NONE UINT32_MAX /* "no slot" from a find */

static bool table_fits(uint32_t count, uint32_t capacity)
{
    return (uint64_t)count * TABLE_LOAD_DENOMINATOR <= (uint64_t)capacity * TABLE_LOAD_NUMERATOR;
}

static int table_init(struct table *table, uint32_t capacity)
{
    ASSERT(capacity >= TABLE_CAPACITY_MIN);
    ASSERT((capacity & (capacity - 1)) == 0);
    table->slots = calloc(capacity, sizeof *table->slots);
    if (table->slots == NULL) {
        return -ENOMEM;
    }
    table->mask = capacity - 1;
    table->count = 0;
    return 0;
}

/* Puts an item whose key is not in the table yet into the first free slot from its home.
 * Never fails: callers reserve room first. */
static void table_place(struct table *table, void *item, uint32_t hash, uint32_t value)
{
    ASSERT(item != NULL);
    ASSERT(table_fits(table->count + 1, table->mask + 1));
    uint32_t index = hash & table->mask;
    while (table->slots[index].item != NULL) {
        index = (index + 1) & table->mask;
    }
    table->slots[index] = (struct table_slot){.item = item, .hash = hash, .value = value};
    table->count++;
}

/* Rehashes into `capacity` slots. On -ENOMEM the table is unchanged. */
static int table_resize(struct table *table, uint32_t capacity)
{
    ASSERT(table_fits(table->count, capacity));
    struct table old = *table;
    if (table_init(table, capacity) != 0) {
        *table = old;
        return -ENOMEM;
    }
    for (uint32_t i = 0; i <= old.mask; i++) {
        if (old.slots[i].item != NULL) {
            table_place(table, old.slots[i].item, old.slots[i].hash, old.slots[i].value);
        }
    }
    ASSERT(table->count == old.count);
    free(old.slots);
    return 0;
}

/* Makes room for one more item: 0, or -ENOMEM with the table unchanged. */
static int table_reserve_one(struct table *table)
{
    uint32_t capacity = table->mask + 1;
    if (table_fits(table->count + 1, capacity)) {
        return 0;
    }
    if (capacity >= TABLE_CAPACITY_MAX) {
        return -ENOMEM;
    }
    return table_resize(table, capacity * 2);
}

/* Empties slot `index` and shifts back the run after it, so that every item stays
 * reachable from its home without tombstones. */
static void table_delete_at(struct table *table, uint32_t index)
{
    ASSERT(index <= table->mask);
    ASSERT(table->slots[index].item != NULL);
    uint32_t hole = index;
    uint32_t next = index;
    for (;;) {
        next = (next + 1) & table->mask;
        if (table->slots[next].item == NULL) {
            break;
        }
        uint32_t home = table->slots[next].hash & table->mask;
        /* The item at `next` may fill the hole when the hole lies between its home and it. */
        if (((next - home) & table->mask) >= ((next - hole) & table->mask)) {
            table->slots[hole] = table->slots[next];
            hole = next;
        }
    }
    table->slots[hole] = (struct table_slot){0};
    ASSERT(table->count > 0);
    table->count--;
}

/* Halves a table that has become mostly empty; keeps it as it is when memory is short. */
static void table_shrink(struct table *table)
{
    uint32_t capacity = table->mask + 1;
    if (capacity > TABLE_CAPACITY_MIN && table->count < capacity / TABLE_SHRINK_DIVISOR) {
        (void)table_resize(table, capacity / 2);
    }
}

/* Finds the slot holding exactly `item` (compared by address). */
static uint32_t table_find_item(const struct table *table, const void *item, uint32_t hash)
{
    for (uint32_t index = hash & table->mask;; index = (index + 1) & table->mask) {
        if (table->slots[index].item == item) {
            return index;
        }
        if (table->slots[index].item == NULL) {
            return TABLE_NONE;
        }
    }
}

/* Copies `count` sub pointers; memcpy may not be handed a NULL array even for none. */
static void subs_copy(struct sub **target, struct sub *const *source, uint32_t count)
{
    if (count > 0) {
        memcpy(target, source, count * sizeof *target);
    }
}

/* Grows an array to hold at least `need` elements (doubling). Returns the new array, or
 * NULL with the array and `*capacity` unchanged when out of memory. */
static void *array_grow(void *array, uint32_t *capacity, uint32_t need, size_t element_size)
{
    ASSERT(need > *capacity);
    ASSERT(need <= UINT32_MAX / 2);
    uint32_t grown = *capacity < ARRAY_CAPACITY_MIN ? ARRAY_CAPACITY_MIN : *capacity * 2;
    if (grown < need) {
        grown = need;
    }
    void *resized = realloc(array, (size_t)grown * element_size);
    if (resized == NULL) {
        return NULL;
    }
    *capacity = grown;
    return resized;
}

/* ---- Sub sets: the subscriptions of one subject or pattern ---------------------------- */

/* Member storage of one queue group, parallel to the public view in sub_set.groups. */
struct group_store {
    struct sub **members; /* owned array; the subs in it are borrowed */
    uint32_t member_capacity;
};

/* Laid out so that `view` is a valid match result at every moment: view.plain aliases
 * `plain`, view.groups aliases `groups`, and each group's name is borrowed from its first
 * member (a group is never empty), so no name is ever copied. */
struct sub_set {
    struct sublist_result view;
    struct sub **plain;                 /* owned array, or plain_inline; subs borrowed */
    struct sublist_queue_group *groups; /* owned array; members alias stores[i].members */
    struct group_store *stores;         /* owned array, parallel to groups */
    uint32_t plain_capacity;
    uint32_t group_capacity;
    struct sub *plain_inline[SET_PLAIN_INLINE_COUNT];
};

static void set_init(struct sub_set *set)
{
    memset(set, 0, sizeof *set);
    set->plain = set->plain_inline;
    set->plain_capacity = SET_PLAIN_INLINE_COUNT;
    set->view.plain = set->plain;
}

/* Frees what the set owns; the subscriptions themselves belong to their owners. */
static void set_fini(struct sub_set *set)
{
    if (set->plain != set->plain_inline) {
        free(set->plain);
    }
    for (uint32_t g = 0; g < set->view.group_count; g++) {
        free(set->stores[g].members);
    }
    free(set->groups);
    free(set->stores);
}

static bool set_is_empty(const struct sub_set *set)
{
    return set->view.plain_count == 0 && set->view.group_count == 0;
}

static uint32_t set_group_find(const struct sub_set *set, const char *name, uint32_t length)
{
    /* Linear: a subject has few queue groups (a service usually has one name). */
    for (uint32_t g = 0; g < set->view.group_count; g++) {
        const struct sublist_queue_group *group = &set->groups[g];
        if (group->name_length == length && memcmp(group->name, name, length) == 0) {
            return g;
        }
    }
    return TABLE_NONE;
}

static int set_plain_add(struct sub_set *set, struct sub *sub, uint32_t *index)
{
    uint32_t count = set->view.plain_count;
    if (count == set->plain_capacity) {
        struct sub **grown;
        uint32_t capacity = set->plain_capacity;
        if (set->plain == set->plain_inline) {
            capacity = 0;
            grown = array_grow(NULL, &capacity, count + 1, sizeof *grown);
            if (grown != NULL) {
                subs_copy(grown, set->plain_inline, count);
            }
        } else {
            grown = array_grow(set->plain, &capacity, count + 1, sizeof *grown);
        }
        if (grown == NULL) {
            return -ENOMEM;
        }
        set->plain = grown;
        set->plain_capacity = capacity;
        set->view.plain = grown;
    }
    set->plain[count] = sub;
    set->view.plain_count = count + 1;
    *index = count;
    return 0;
}

/* Adds an empty queue group named after `sub` (its first member, added next). */
static int set_group_open(struct sub_set *set, const struct sub *sub, uint32_t *group_index)
{
    uint32_t count = set->view.group_count;
    if (count == set->group_capacity) {
        uint32_t capacity = set->group_capacity;
        struct sublist_queue_group *groups =
            array_grow(set->groups, &capacity, count + 1, sizeof *groups);
        if (groups == NULL) {
            return -ENOMEM;
        }
        set->groups = groups; /* larger than recorded until both arrays have grown */
        set->view.groups = groups;
        capacity = set->group_capacity;
        struct group_store *stores = array_grow(set->stores, &capacity, count + 1,
                                                sizeof *stores);
        if (stores == NULL) {
            return -ENOMEM;
        }
        set->stores = stores;
        set->group_capacity = capacity;
    }
    set->groups[count] = (struct sublist_queue_group){
        .name = sub->queue, .name_length = sub->queue_length, .member_count = 0};
    set->stores[count] = (struct group_store){0};
    *group_index = count;
    return 0;
}

static void set_group_close(struct sub_set *set, uint32_t group_index)
{
    ASSERT(set->groups[group_index].member_count == 0);
    free(set->stores[group_index].members);
    uint32_t last = set->view.group_count - 1;
    set->groups[group_index] = set->groups[last];
    set->stores[group_index] = set->stores[last];
    set->view.group_count = last;
    if (last == 0) {
        free(set->groups);
        free(set->stores);
        set->groups = NULL;
        set->stores = NULL;
        set->group_capacity = 0;
        set->view.groups = NULL;
    }
}

static int set_queue_add(struct sub_set *set, struct sub *sub, uint32_t *index)
{
    uint32_t g = set_group_find(set, sub->queue, sub->queue_length);
    if (g == TABLE_NONE) {
        if (set_group_open(set, sub, &g) != 0) {
            return -ENOMEM;
        }
        set->view.group_count++;
    }
    struct sublist_queue_group *group = &set->groups[g];
    struct group_store *store = &set->stores[g];
    uint32_t count = group->member_count;
    if (count == store->member_capacity) {
        struct sub **members =
            array_grow(store->members, &store->member_capacity, count + 1, sizeof *members);
        if (members == NULL) {
            if (count == 0) {
                set_group_close(set, g);
            }
            return -ENOMEM;
        }
        store->members = members;
    }
    store->members[count] = sub;
    group->members = store->members;
    group->member_count = count + 1;
    group->name = store->members[0]->queue;
    *index = count;
    return 0;
}

/* Adds `sub`; `*index` receives its position in the plain array or in its group's member
 * array. 0, or -ENOMEM with the set unchanged. */
static int set_add(struct sub_set *set, struct sub *sub, uint32_t *index)
{
    if (sub->queue == NULL) {
        return set_plain_add(set, sub, index);
    }
    return set_queue_add(set, sub, index);
}

/* Swap-removes slot `index` of an array of `*count` subs; returns the sub moved into
 * `index`, or NULL when `index` was the last. */
static struct sub *sub_array_remove(struct sub **array, uint32_t *count, uint32_t index,
                                    const struct sub *sub)
{
    ASSERT(index < *count);
    ASSERT(array[index] == sub);
    uint32_t last = *count - 1;
    *count = last;
    if (index == last) {
        return NULL;
    }
    array[index] = array[last];
    return array[index];
}

/* Returns a smaller array, or `array` itself when shrinking does not pay or fails. */
static struct sub **sub_array_shrink(struct sub **array, uint32_t count, uint32_t *capacity)
{
    if (*capacity <= ARRAY_CAPACITY_MIN || count > *capacity / ARRAY_SHRINK_DIVISOR) {
        return array;
    }
    struct sub **shrunk = realloc(array, (size_t)(*capacity / 2) * sizeof *array);
    if (shrunk == NULL) {
        return array;
    }
    *capacity /= 2;
    return shrunk;
}

static struct sub *set_plain_remove(struct sub_set *set, struct sub *sub, uint32_t index)
{
    struct sub *moved = sub_array_remove(set->plain, &set->view.plain_count, index, sub);
    uint32_t count = set->view.plain_count;
    if (set->plain != set->plain_inline) {
        if (count <= SET_PLAIN_INLINE_COUNT) {
            subs_copy(set->plain_inline, set->plain, count);
            free(set->plain);
            set->plain = set->plain_inline;
            set->plain_capacity = SET_PLAIN_INLINE_COUNT;
        } else {
            set->plain = sub_array_shrink(set->plain, count, &set->plain_capacity);
        }
        set->view.plain = set->plain;
    }
    return moved;
}

static struct sub *set_queue_remove(struct sub_set *set, struct sub *sub, uint32_t index)
{
    uint32_t g = set_group_find(set, sub->queue, sub->queue_length);
    ASSERT(g != TABLE_NONE);
    struct sublist_queue_group *group = &set->groups[g];
    struct group_store *store = &set->stores[g];
    struct sub *moved = sub_array_remove(store->members, &group->member_count, index, sub);
    if (group->member_count == 0) {
        set_group_close(set, g);
        return moved;
    }
    store->members = sub_array_shrink(store->members, group->member_count,
                                      &store->member_capacity);
    group->members = store->members;
    group->name = store->members[0]->queue; /* the old first member may be gone */
    return moved;
}

/* Removes `sub`, which sits at `index` (as set_add reported or a later removal moved it).
 * Returns the sub moved into `index`, whose recorded position the caller must update, or
 * NULL. */
static struct sub *set_remove(struct sub_set *set, struct sub *sub, uint32_t index)
{
    if (sub->queue == NULL) {
        return set_plain_remove(set, sub, index);
    }
    return set_queue_remove(set, sub, index);
}

/* ---- Index records ------------------------------------------------------------------- */

/* A literal subject with at least one subscription. Owned by sublist.literals. */
struct literal_entry {
    struct sub_set set;
    uint32_t subject_length;
    char subject[]; /* owned copy: the subs' own bytes may go before the entry does */
};

/* A trie node: the token path from the root spells a pattern prefix. Every node but the
 * root is owned through sublist.edges, keyed by (parent, token); a node without subs and
 * without children is freed at once. */
struct trie_node {
    struct sub_set set;        /* subs whose pattern ends here */
    struct trie_node *parent;  /* borrowed: the node one token up; NULL at the root */
    struct trie_node *star;    /* borrowed shortcut to the "*" child in sublist.edges */
    struct trie_node *tail;    /* borrowed shortcut to the ">" child (always a leaf) */
    uint32_t child_count;      /* children in sublist.edges, star and tail included */
    uint32_t edge_hash;        /* this node's hash in sublist.edges */
    uint32_t token_length;
    char token[]; /* owned copy */
};

/* A merged match result for one subject, in one allocation laid out as
 * [entry][plain subs][groups][group members][subject bytes]. Owned by sublist.cache. */
struct cache_entry {
    struct sublist_result result; /* arrays point into this allocation */
    uint64_t generation;          /* sublist generation the result was built at */
    size_t size;                  /* bytes allocated, for reuse */
    const char *subject;          /* points into this allocation */
    uint32_t subject_length;
};

STATIC_ASSERT(sizeof(struct cache_entry) % _Alignof(struct sublist_queue_group) == 0,
              "the arrays after a cache entry header are aligned");
STATIC_ASSERT(sizeof(struct sublist_queue_group) % _Alignof(struct sub *) == 0,
              "member pointers after the groups are aligned");

/* One pending step of the trie walk: `node` has matched the first `token_index` tokens. */
struct walk_step {
    const struct trie_node *node;
    uint32_t token_index;
};

/* Working memory of sublist_match, reused across calls; every array is owned. */
struct match_scratch {
    uint32_t *token_starts; /* token i is [starts[i], starts[i + 1] - 1) */
    struct walk_step *steps;
    const struct sub_set **sets; /* sets matched; borrowed from the index */
    uint32_t *fragment_groups;   /* per (set, group) visited: its group in the result */
    struct sub **plain;
    struct sublist_queue_group *groups;
    struct sub **members;
    uint32_t token_capacity;
    uint32_t step_capacity;
    uint32_t set_capacity;
    uint32_t fragment_capacity;
    uint32_t plain_capacity;
    uint32_t group_capacity;
    uint32_t member_capacity;
    uint32_t set_count;
    struct sublist_result result; /* points into the arrays above */
};

struct sublist {
    uint64_t seed;
    uint64_t generation;
    struct table literals; /* items: struct literal_entry, owned; value: subject length */
    struct table edges;    /* items: struct trie_node, owned; value: token length */
    struct table subs;     /* items: struct sub, borrowed; value: position in its set */
    struct table cache;    /* items: struct cache_entry, owned; value: subject length */
    struct trie_node *root;   /* owned */
    uint32_t cache_hand;      /* next cache slot eviction looks at */
    size_t cache_bytes;       /* sum of the sizes of the cached entries */
    struct match_scratch scratch;
    struct sublist_result empty_result;
    uint64_t match_count;
    uint64_t cache_hit_count;
    uint64_t alloc_failure_count;
};

static uint32_t sub_hash(const struct sub *sub)
{
    return (uint32_t)pointer_hash(sub);
}

/* ---- Literal table ------------------------------------------------------------------- */

static uint32_t literal_find(const struct sublist *list, const char *subject, uint32_t length,
                             uint32_t hash)
{
    const struct table *table = &list->literals;
    for (uint32_t index = hash & table->mask;; index = (index + 1) & table->mask) {
        const struct table_slot *slot = &table->slots[index];
        if (slot->item == NULL) {
            return TABLE_NONE;
        }
        if (slot->hash == hash && slot->value == length) {
            const struct literal_entry *entry = slot->item;
            if (memcmp(entry->subject, subject, length) == 0) {
                return index;
            }
        }
    }
}

static struct literal_entry *literal_open(struct sublist *list, const struct sub *sub,
                                          uint32_t hash)
{
    uint32_t index = literal_find(list, sub->subject, sub->subject_length, hash);
    if (index != TABLE_NONE) {
        return list->literals.slots[index].item;
    }
    if (table_reserve_one(&list->literals) != 0) {
        return NULL;
    }
    struct literal_entry *entry = malloc(sizeof *entry + sub->subject_length);
    if (entry == NULL) {
        return NULL;
    }
    set_init(&entry->set);
    entry->subject_length = sub->subject_length;
    memcpy(entry->subject, sub->subject, sub->subject_length);
    table_place(&list->literals, entry, hash, sub->subject_length);
    return entry;
}

static void literal_close(struct sublist *list, uint32_t index)
{
    struct literal_entry *entry = list->literals.slots[index].item;
    ASSERT(set_is_empty(&entry->set));
    table_delete_at(&list->literals, index);
    set_fini(&entry->set);
    free(entry);
    table_shrink(&list->literals);
}

/* ---- Trie ---------------------------------------------------------------------------- */

static uint32_t edge_hash(const struct sublist *list, const struct trie_node *parent,
                          const char *token, uint32_t length)
{
    return (uint32_t)(hash_bytes(token, length, list->seed) ^ pointer_hash(parent));
}

static bool token_is_wildcard(const char *token, uint32_t length, char wildcard)
{
    return length == 1 && token[0] == wildcard;
}

static struct trie_node *edge_find(const struct sublist *list, const struct trie_node *parent,
                                   const char *token, uint32_t length, uint32_t hash)
{
    const struct table *table = &list->edges;
    for (uint32_t index = hash & table->mask;; index = (index + 1) & table->mask) {
        const struct table_slot *slot = &table->slots[index];
        if (slot->item == NULL) {
            return NULL;
        }
        if (slot->hash == hash && slot->value == length) {
            struct trie_node *node = slot->item;
            if (node->parent == parent && memcmp(node->token, token, length) == 0) {
                return node;
            }
        }
    }
}

static struct trie_node *trie_node_create(struct trie_node *parent, const char *token,
                                          uint32_t length, uint32_t hash)
{
    struct trie_node *node = malloc(sizeof *node + length);
    if (node == NULL) {
        return NULL;
    }
    set_init(&node->set);
    node->parent = parent;
    node->star = NULL;
    node->tail = NULL;
    node->child_count = 0;
    node->edge_hash = hash;
    node->token_length = length;
    memcpy(node->token, token, length);
    return node;
}

/* Finds or creates the child of `parent` for `token`: NULL when out of memory. */
static struct trie_node *trie_child_open(struct sublist *list, struct trie_node *parent,
                                         const char *token, uint32_t length)
{
    uint32_t hash = edge_hash(list, parent, token, length);
    struct trie_node *child = edge_find(list, parent, token, length, hash);
    if (child != NULL) {
        return child;
    }
    if (table_reserve_one(&list->edges) != 0) {
        return NULL;
    }
    child = trie_node_create(parent, token, length, hash);
    if (child == NULL) {
        return NULL;
    }
    table_place(&list->edges, child, hash, length);
    parent->child_count++;
    if (token_is_wildcard(token, length, '*')) {
        ASSERT(parent->star == NULL);
        parent->star = child;
    } else if (token_is_wildcard(token, length, '>')) {
        ASSERT(parent->tail == NULL);
        parent->tail = child;
    }
    return child;
}

/* Frees `node` and then each ancestor that is left without subs and without children. */
static void trie_prune(struct sublist *list, struct trie_node *node)
{
    while (node != list->root && node->child_count == 0 && set_is_empty(&node->set)) {
        struct trie_node *parent = node->parent;
        ASSERT(parent != NULL);
        uint32_t index = table_find_item(&list->edges, node, node->edge_hash);
        ASSERT(index != TABLE_NONE);
        table_delete_at(&list->edges, index);
        if (parent->star == node) {
            parent->star = NULL;
        }
        if (parent->tail == node) {
            parent->tail = NULL;
        }
        ASSERT(parent->child_count > 0);
        parent->child_count--;
        set_fini(&node->set);
        free(node);
        node = parent;
    }
    table_shrink(&list->edges);
}

/* The end of the token that starts at `start`: its '.', or the end of the subject. */
static uint32_t token_end(const char *subject, uint32_t length, uint32_t start)
{
    const char *dot = memchr(subject + start, '.', length - start);
    return dot == NULL ? length : (uint32_t)(dot - subject);
}

/* The node where `sub`'s pattern ends, created with its path when `create`. NULL when it
 * does not exist, or could not be created (the partial path is pruned again). */
static struct trie_node *trie_node_for(struct sublist *list, const struct sub *sub, bool create)
{
    struct trie_node *node = list->root;
    uint32_t start = 0;
    while (start < sub->subject_length) {
        uint32_t end = token_end(sub->subject, sub->subject_length, start);
        const char *token = sub->subject + start;
        uint32_t length = end - start;
        struct trie_node *child;
        if (create) {
            child = trie_child_open(list, node, token, length);
            if (child == NULL) {
                trie_prune(list, node);
                return NULL;
            }
        } else {
            child = edge_find(list, node, token, length, edge_hash(list, node, token, length));
            if (child == NULL) {
                return NULL;
            }
        }
        node = child;
        start = end + 1;
    }
    return node;
}

/* ---- Insert and remove --------------------------------------------------------------- */

struct sublist *sublist_create(uint64_t seed)
{
    struct sublist *list = calloc(1, sizeof *list);
    if (list == NULL) {
        goto fail_list;
    }
    list->seed = seed;
    if (table_init(&list->literals, TABLE_CAPACITY_MIN) != 0) {
        goto fail_literals;
    }
    if (table_init(&list->edges, TABLE_CAPACITY_MIN) != 0) {
        goto fail_edges;
    }
    if (table_init(&list->subs, TABLE_CAPACITY_MIN) != 0) {
        goto fail_subs;
    }
    if (table_init(&list->cache, CACHE_SLOT_COUNT) != 0) {
        goto fail_cache;
    }
    list->root = trie_node_create(NULL, "", 0, 0);
    if (list->root == NULL) {
        goto fail_root;
    }
    return list;

fail_root:
    free(list->cache.slots);
fail_cache:
    free(list->subs.slots);
fail_subs:
    free(list->edges.slots);
fail_edges:
    free(list->literals.slots);
fail_literals:
    free(list);
fail_list:
    return NULL;
}

static void cache_clear(struct sublist *list)
{
    for (uint32_t i = 0; i <= list->cache.mask; i++) {
        if (list->cache.slots[i].item != NULL) {
            free(list->cache.slots[i].item);
            list->cache.slots[i] = (struct table_slot){0};
        }
    }
    list->cache.count = 0;
    list->cache_bytes = 0;
}

void sublist_destroy(struct sublist *list)
{
    if (list == NULL) {
        return;
    }
    cache_clear(list);
    free(list->cache.slots);
    for (uint32_t i = 0; i <= list->literals.mask; i++) {
        struct literal_entry *entry = list->literals.slots[i].item;
        if (entry != NULL) {
            set_fini(&entry->set);
            free(entry);
        }
    }
    free(list->literals.slots);
    for (uint32_t i = 0; i <= list->edges.mask; i++) {
        struct trie_node *node = list->edges.slots[i].item;
        if (node != NULL) {
            set_fini(&node->set);
            free(node);
        }
    }
    free(list->edges.slots);
    set_fini(&list->root->set);
    free(list->root);
    free(list->subs.slots);
    struct match_scratch *scratch = &list->scratch;
    free(scratch->token_starts);
    free(scratch->steps);
    free(scratch->sets);
    free(scratch->fragment_groups);
    free(scratch->plain);
    free(scratch->groups);
    free(scratch->members);
    free(list);
}

/* Adds `sub` to the set its subject belongs to, creating the holder when needed. */
static int sublist_holder_add(struct sublist *list, struct sub *sub, uint32_t *index)
{
    if (subject_has_wildcard(sub->subject, sub->subject_length)) {
        struct trie_node *node = trie_node_for(list, sub, true);
        if (node == NULL) {
            return -ENOMEM;
        }
        if (set_add(&node->set, sub, index) != 0) {
            trie_prune(list, node);
            return -ENOMEM;
        }
        return 0;
    }
    uint32_t hash = (uint32_t)hash_bytes(sub->subject, sub->subject_length, list->seed);
    struct literal_entry *entry = literal_open(list, sub, hash);
    if (entry == NULL) {
        return -ENOMEM;
    }
    if (set_add(&entry->set, sub, index) != 0) {
        if (set_is_empty(&entry->set)) {
            literal_close(list, literal_find(list, sub->subject, sub->subject_length, hash));
        }
        return -ENOMEM;
    }
    return 0;
}

int sublist_insert(struct sublist *list, struct sub *sub)
{
    ASSERT(list != NULL);
    ASSERT(sub != NULL);
    ASSERT(sub->subject != NULL);
    ASSERT(subject_valid_for_sub(sub->subject, sub->subject_length));
    ASSERT(sub->queue == NULL || sub->queue_length > 0);
    uint32_t hash = sub_hash(sub);
    ASSERT(table_find_item(&list->subs, sub, hash) == TABLE_NONE); /* not inserted yet */

    if (table_reserve_one(&list->subs) != 0) {
        return -ENOMEM;
    }
    uint32_t index;
    if (sublist_holder_add(list, sub, &index) != 0) {
        return -ENOMEM;
    }
    table_place(&list->subs, sub, hash, index);
    list->generation++;
    return 0;
}

/* Records that `moved` now sits at `index` of its set. */
static void sublist_sub_moved(struct sublist *list, struct sub *moved, uint32_t index)
{
    if (moved == NULL) {
        return;
    }
    uint32_t slot = table_find_item(&list->subs, moved, sub_hash(moved));
    ASSERT(slot != TABLE_NONE);
    list->subs.slots[slot].value = index;
}

int sublist_remove(struct sublist *list, struct sub *sub)
{
    ASSERT(list != NULL);
    ASSERT(sub != NULL);
    uint32_t slot = table_find_item(&list->subs, sub, sub_hash(sub));
    if (slot == TABLE_NONE) {
        return -ENOENT;
    }
    uint32_t index = list->subs.slots[slot].value;

    if (subject_has_wildcard(sub->subject, sub->subject_length)) {
        struct trie_node *node = trie_node_for(list, sub, false);
        ASSERT(node != NULL);
        sublist_sub_moved(list, set_remove(&node->set, sub, index), index);
        trie_prune(list, node);
    } else {
        uint32_t hash = (uint32_t)hash_bytes(sub->subject, sub->subject_length, list->seed);
        uint32_t entry_index = literal_find(list, sub->subject, sub->subject_length, hash);
        ASSERT(entry_index != TABLE_NONE);
        struct literal_entry *entry = list->literals.slots[entry_index].item;
        sublist_sub_moved(list, set_remove(&entry->set, sub, index), index);
        if (set_is_empty(&entry->set)) {
            literal_close(list, entry_index);
        }
    }
    /* No slot of `subs` moved since the find: updating a value moves nothing. */
    ASSERT(list->subs.slots[slot].item == sub);
    table_delete_at(&list->subs, slot);
    table_shrink(&list->subs);
    list->generation++;
    return 0;
}

/* ---- Match --------------------------------------------------------------------------- */

/* Splits `subject` into token_starts, with a sentinel at length + 1. Returns the token
 * count, or 0 when out of memory. */
static uint32_t match_tokenize(struct match_scratch *scratch, const char *subject,
                               uint32_t length)
{
    uint32_t count = 0;
    uint32_t start = 0;
    for (;;) {
        if (count + 2 > scratch->token_capacity) {
            uint32_t *grown = array_grow(scratch->token_starts, &scratch->token_capacity,
                                         count + 2, sizeof *grown);
            if (grown == NULL) {
                return 0;
            }
            scratch->token_starts = grown;
        }
        scratch->token_starts[count++] = start;
        if (start > length) {
            return count - 1; /* the last start written is the sentinel */
        }
        start = token_end(subject, length, start) + 1;
    }
}

static int match_set_add(struct match_scratch *scratch, const struct sub_set *set)
{
    if (scratch->set_count == scratch->set_capacity) {
        const struct sub_set **grown = array_grow(scratch->sets, &scratch->set_capacity,
                                                  scratch->set_count + 1, sizeof *grown);
        if (grown == NULL) {
            return -ENOMEM;
        }
        scratch->sets = grown;
    }
    scratch->sets[scratch->set_count++] = set;
    return 0;
}

/* Appends to scratch.sets every trie set whose pattern matches the tokenised subject.
 * Depth first with an explicit stack: a node at depth d is only ever reached with
 * token_index d and from its one parent, so no set is visited twice, and the stack holds
 * at most one step per depth plus one. */
static int match_walk(struct sublist *list, const char *subject, uint32_t token_count)
{
    struct match_scratch *scratch = &list->scratch;
    uint32_t step_max = token_count + 2;
    if (step_max > scratch->step_capacity) {
        struct walk_step *grown =
            array_grow(scratch->steps, &scratch->step_capacity, step_max, sizeof *grown);
        if (grown == NULL) {
            return -ENOMEM;
        }
        scratch->steps = grown;
    }
    uint32_t step_count = 0;
    scratch->steps[step_count++] = (struct walk_step){.node = list->root, .token_index = 0};
    while (step_count > 0) {
        struct walk_step step = scratch->steps[--step_count];
        const struct trie_node *node = step.node;
        uint32_t i = step.token_index;
        if (i == token_count) {
            if (!set_is_empty(&node->set) && match_set_add(scratch, &node->set) != 0) {
                return -ENOMEM;
            }
            continue;
        }
        if (node->tail != NULL) {
            ASSERT(!set_is_empty(&node->tail->set)); /* a leaf without subs is pruned */
            if (match_set_add(scratch, &node->tail->set) != 0) {
                return -ENOMEM;
            }
        }
        if (node->star != NULL) {
            ASSERT(step_count < scratch->step_capacity);
            scratch->steps[step_count++] = (struct walk_step){node->star, i + 1};
        }
        uint32_t literal_child_count =
            node->child_count - (node->star != NULL) - (node->tail != NULL);
        const char *token = subject + scratch->token_starts[i];
        uint32_t length = scratch->token_starts[i + 1] - 1 - scratch->token_starts[i];
        /* A published "*" or ">" token is matched by the wildcard children only (as in
         * nats-server); looking it up as a literal would reach them a second time. */
        if (literal_child_count == 0 || token_is_wildcard(token, length, '*') ||
            token_is_wildcard(token, length, '>')) {
            continue;
        }
        const struct trie_node *child =
            edge_find(list, node, token, length, edge_hash(list, node, token, length));
        if (child != NULL) {
            ASSERT(step_count < scratch->step_capacity);
            scratch->steps[step_count++] = (struct walk_step){child, i + 1};
        }
    }
    return 0;
}

/* Makes sure the scratch arrays hold `plain`, `groups` and `members` elements. */
static int match_scratch_reserve(struct match_scratch *scratch, uint32_t plain,
                                 uint32_t fragments, uint32_t members)
{
    if (plain > scratch->plain_capacity) {
        struct sub **grown =
            array_grow(scratch->plain, &scratch->plain_capacity, plain, sizeof *grown);
        if (grown == NULL) {
            return -ENOMEM;
        }
        scratch->plain = grown;
    }
    if (fragments > scratch->group_capacity) {
        struct sublist_queue_group *grown =
            array_grow(scratch->groups, &scratch->group_capacity, fragments, sizeof *grown);
        if (grown == NULL) {
            return -ENOMEM;
        }
        scratch->groups = grown;
    }
    if (fragments > scratch->fragment_capacity) {
        uint32_t *grown = array_grow(scratch->fragment_groups, &scratch->fragment_capacity,
                                     fragments, sizeof *grown);
        if (grown == NULL) {
            return -ENOMEM;
        }
        scratch->fragment_groups = grown;
    }
    if (members > scratch->member_capacity) {
        struct sub **grown =
            array_grow(scratch->members, &scratch->member_capacity, members, sizeof *grown);
        if (grown == NULL) {
            return -ENOMEM;
        }
        scratch->members = grown;
    }
    return 0;
}

/* Finds the result group named `name` among the first `count`, or opens it at `count`. */
static uint32_t match_group_find(struct sublist_queue_group *groups, uint32_t *count,
                                 const struct sublist_queue_group *from)
{
    /* Linear: a subject matches few queue group names. */
    for (uint32_t r = 0; r < *count; r++) {
        if (groups[r].name_length == from->name_length &&
            memcmp(groups[r].name, from->name, from->name_length) == 0) {
            return r;
        }
    }
    groups[*count] = (struct sublist_queue_group){
        .name = from->name, .name_length = from->name_length, .member_count = 0};
    return (*count)++;
}

/* Merges scratch.sets into scratch.result: plain subs concatenated, queue groups of the
 * same name merged into one. Two passes over the groups: the first names and counts the
 * result groups, the second copies each group's members into its range. */
static int match_merge(struct match_scratch *scratch)
{
    uint32_t plain_total = 0;
    uint32_t fragment_total = 0;
    uint32_t member_total = 0;
    for (uint32_t s = 0; s < scratch->set_count; s++) {
        const struct sublist_result *view = &scratch->sets[s]->view;
        plain_total += view->plain_count;
        fragment_total += view->group_count;
        for (uint32_t g = 0; g < view->group_count; g++) {
            member_total += view->groups[g].member_count;
        }
    }
    if (match_scratch_reserve(scratch, plain_total, fragment_total, member_total) != 0) {
        return -ENOMEM;
    }
    uint32_t plain_count = 0;
    uint32_t group_count = 0;
    uint32_t fragment = 0;
    for (uint32_t s = 0; s < scratch->set_count; s++) {
        const struct sublist_result *view = &scratch->sets[s]->view;
        if (view->plain_count > 0) {
            subs_copy(scratch->plain + plain_count, view->plain, view->plain_count);
            plain_count += view->plain_count;
        }
        for (uint32_t g = 0; g < view->group_count; g++) {
            uint32_t r = match_group_find(scratch->groups, &group_count, &view->groups[g]);
            scratch->groups[r].member_count += view->groups[g].member_count;
            scratch->fragment_groups[fragment++] = r;
        }
    }
    /* Give each group its range of scratch.members; member_count is then the fill cursor.
     * Every group has members, so scratch.members is allocated when any group exists. */
    uint32_t offset = 0;
    for (uint32_t r = 0; r < group_count; r++) {
        ASSERT(scratch->groups[r].member_count > 0);
        scratch->groups[r].members = scratch->members + offset;
        offset += scratch->groups[r].member_count;
        scratch->groups[r].member_count = 0;
    }
    ASSERT(offset == member_total);
    fragment = 0;
    for (uint32_t s = 0; s < scratch->set_count; s++) {
        const struct sublist_result *view = &scratch->sets[s]->view;
        for (uint32_t g = 0; g < view->group_count; g++) {
            struct sublist_queue_group *group =
                &scratch->groups[scratch->fragment_groups[fragment++]];
            /* The same bytes as group->members, which the public type shows read-only. */
            struct sub **target = scratch->members + (group->members - scratch->members);
            subs_copy(target + group->member_count, view->groups[g].members,
                      view->groups[g].member_count);
            group->member_count += view->groups[g].member_count;
        }
    }
    scratch->result = (struct sublist_result){.plain_count = plain_count,
                                              .group_count = group_count,
                                              .plain = scratch->plain,
                                              .groups = scratch->groups};
    return 0;
}

static uint32_t cache_find(const struct sublist *list, const char *subject, uint32_t length,
                           uint32_t hash)
{
    const struct table *table = &list->cache;
    for (uint32_t index = hash & table->mask;; index = (index + 1) & table->mask) {
        const struct table_slot *slot = &table->slots[index];
        if (slot->item == NULL) {
            return TABLE_NONE;
        }
        if (slot->hash == hash && slot->value == length) {
            const struct cache_entry *entry = slot->item;
            if (memcmp(entry->subject, subject, length) == 0) {
                return index;
            }
        }
    }
}

/* Takes the entry in slot `index` out of the cache and returns it. */
static struct cache_entry *cache_take(struct sublist *list, uint32_t index)
{
    struct cache_entry *entry = list->cache.slots[index].item;
    ASSERT(entry != NULL);
    table_delete_at(&list->cache, index);
    ASSERT(list->cache_bytes >= entry->size);
    list->cache_bytes -= entry->size;
    return entry;
}

/* Takes the entry at or after the clock hand out of the cache and returns it. Entries sit
 * at slots their hashes chose, so this evicts an arbitrary entry in O(1) expected. */
static struct cache_entry *cache_evict(struct sublist *list)
{
    ASSERT(list->cache.count > 0);
    for (;;) {
        uint32_t index = list->cache_hand;
        list->cache_hand = (index + 1) & list->cache.mask;
        if (list->cache.slots[index].item != NULL) {
            return cache_take(list, index);
        }
    }
}

static size_t cache_entry_size(const struct sublist_result *result, uint32_t subject_length)
{
    size_t member_total = 0;
    for (uint32_t r = 0; r < result->group_count; r++) {
        member_total += result->groups[r].member_count;
    }
    return sizeof(struct cache_entry) + result->plain_count * sizeof(struct sub *) +
           result->group_count * sizeof(struct sublist_queue_group) +
           member_total * sizeof(struct sub *) + subject_length;
}

/* Copies `result` and `subject` into `entry`, whose size is cache_entry_size(...). */
static void cache_entry_fill(struct cache_entry *entry, const struct sublist_result *result,
                             const char *subject, uint32_t subject_length)
{
    char *cursor = (char *)(entry + 1);
    struct sub **plain = (struct sub **)(void *)cursor;
    subs_copy(plain, result->plain, result->plain_count);
    cursor += result->plain_count * sizeof *plain;
    struct sublist_queue_group *groups = (struct sublist_queue_group *)(void *)cursor;
    cursor += result->group_count * sizeof *groups;
    for (uint32_t r = 0; r < result->group_count; r++) {
        groups[r] = result->groups[r];
        groups[r].members = (struct sub *const *)(void *)cursor;
        subs_copy((struct sub **)(void *)cursor, result->groups[r].members,
                  groups[r].member_count);
        cursor += groups[r].member_count * sizeof *plain;
    }
    memcpy(cursor, subject, subject_length);
    cursor += subject_length;
    ASSERT((size_t)(cursor - (char *)entry) == cache_entry_size(result, subject_length));
    entry->result = (struct sublist_result){.plain_count = result->plain_count,
                                            .group_count = result->group_count,
                                            .plain = plain,
                                            .groups = groups};
    entry->subject = cursor - subject_length;
    entry->subject_length = subject_length;
}

/* True when the block of `entry` can hold a result of `size` bytes without wasting much. */
static bool cache_block_fits(const struct cache_entry *entry, size_t size)
{
    return entry != NULL && entry->size >= size && entry->size <= size * CACHE_REUSE_SLACK;
}

/* Stores a copy of `result` for `subject`, replacing the stale entry at `stale_index`
 * (TABLE_NONE: none) and evicting entries until the new one fits the bounds. Returns the
 * cached result; `result` itself when it is too large to cache; NULL when no memory could
 * be had (the cache then simply holds fewer entries). */
static const struct sublist_result *cache_store(struct sublist *list, const char *subject,
                                                uint32_t length, uint32_t hash,
                                                uint32_t stale_index,
                                                const struct sublist_result *result)
{
    size_t size = cache_entry_size(result, length);
    struct cache_entry *reusable = NULL; /* a block taken out of the cache, to reuse */
    if (stale_index != TABLE_NONE) {
        reusable = cache_take(list, stale_index);
    }
    if (size > CACHE_ENTRY_BYTES_MAX) {
        free(reusable);
        return result;
    }
    while (list->cache.count >= CACHE_ENTRY_MAX ||
           list->cache_bytes + size > CACHE_BYTES_MAX) {
        struct cache_entry *evicted = cache_evict(list);
        if (cache_block_fits(reusable, size)) {
            free(evicted);
        } else {
            free(reusable);
            reusable = evicted;
        }
    }
    struct cache_entry *entry = reusable;
    if (!cache_block_fits(entry, size)) {
        free(entry);
        entry = malloc(size);
        if (entry == NULL) {
            return NULL;
        }
        entry->size = size;
    }
    cache_entry_fill(entry, result, subject, length);
    entry->generation = list->generation;
    table_place(&list->cache, entry, hash, length);
    list->cache_bytes += entry->size;
    ASSERT(list->cache.count <= CACHE_ENTRY_MAX);
    ASSERT(list->cache_bytes <= CACHE_BYTES_MAX + size * (CACHE_REUSE_SLACK - 1));
    return &entry->result;
}

/* A literal lookup answers alone while the trie is empty: the literal set is the result,
 * no copy. Otherwise a cached result of this generation answers; failing that the trie is
 * walked. When one set matched in all (the literal one, or one pattern's), its view is the
 * result, again without a copy and without a cache entry: a stream of distinct inbox
 * subjects must not churn the cache. Only results merged from several sets, which cost a
 * walk and a copy to make, are cached. Accepts any non-empty subject; a "*" or ">" token
 * in it is an ordinary token (publish subjects are checked only in pedantic mode). */
const struct sublist_result *sublist_match(struct sublist *list, const char *subject,
                                           size_t subject_length)
{
    ASSERT(list != NULL);
    ASSERT(subject != NULL);
    ASSERT(subject_length > 0);
    ASSERT(subject_length <= UINT32_MAX / 2);
    uint32_t length = (uint32_t)subject_length;
    list->match_count++;
    uint32_t hash = (uint32_t)hash_bytes(subject, length, list->seed);

    uint32_t cache_index = TABLE_NONE;
    if (list->root->child_count > 0) {
        cache_index = cache_find(list, subject, length, hash);
        if (cache_index != TABLE_NONE) {
            struct cache_entry *entry = list->cache.slots[cache_index].item;
            if (entry->generation == list->generation) {
                list->cache_hit_count++;
                return &entry->result;
            }
        }
    }
    uint32_t literal_index = literal_find(list, subject, length, hash);
    const struct sub_set *literal_set = NULL;
    if (literal_index != TABLE_NONE) {
        const struct literal_entry *entry = list->literals.slots[literal_index].item;
        literal_set = &entry->set;
    }
    if (list->root->child_count == 0) {
        return literal_set != NULL ? &literal_set->view : &list->empty_result;
    }

    struct match_scratch *scratch = &list->scratch;
    scratch->set_count = 0;
    uint32_t token_count = match_tokenize(scratch, subject, length);
    if (token_count == 0 || (literal_set != NULL && match_set_add(scratch, literal_set) != 0) ||
        match_walk(list, subject, token_count) != 0) {
        goto fail;
    }
    if (scratch->set_count == 0) {
        return &list->empty_result;
    }
    if (scratch->set_count == 1) {
        return &scratch->sets[0]->view;
    }
    if (match_merge(scratch) != 0) {
        goto fail;
    }
    const struct sublist_result *cached =
        cache_store(list, subject, length, hash, cache_index, &scratch->result);
    if (cached == NULL) {
        list->alloc_failure_count++; /* the scratch result still answers this match */
        return &scratch->result;
    }
    return cached;

fail:
    list->alloc_failure_count++;
    return &list->empty_result;
}

void sublist_stats_get(const struct sublist *list, struct sublist_stats *stats)
{
    ASSERT(list != NULL);
    ASSERT(stats != NULL);
    *stats = (struct sublist_stats){
        .sub_count = list->subs.count,
        .match_count = list->match_count,
        .cache_hit_count = list->cache_hit_count,
        .cache_entry_count = list->cache.count,
        .generation = list->generation,
        .alloc_failure_count = list->alloc_failure_count,
    };
}

uint64_t sublist_trie_node_count(const struct sublist *list)
{
    ASSERT(list != NULL);
    return list->edges.count; /* every node but the root has exactly one edge */
}
