/* The store micro benchmark's C side: see store_shim.h. One thread. */
#include "tests/store/store_shim.h"

#include "base/assert.h"
#include "base/clock.h"
#include "engine/store_uring.h"
#include "store/stream_store.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    /* Subjects the appended messages cycle through. */
    SHIM_SUBJECT_COUNT = 8,
    /* Largest payload a turn appends. */
    SHIM_PAYLOAD_MAX = 64 * 1024,
    /* Path buffers. */
    SHIM_PATH_SIZE = 128,
    /* Submission queue entries of the store's ring, and operations in flight at most. */
    SHIM_RING_ENTRIES = 64,
    /* "kv." and a 32-bit key index in decimal. */
    SHIM_KEY_SIZE = 16,
};

struct store_shim {
    struct io_uring ring;
    struct store_uring io;
    struct stream_store_config config;
    struct stream_store *store;
    int memory;
    char root[SHIM_PATH_SIZE];
    char path[SHIM_PATH_SIZE];
    uint8_t payload[SHIM_PAYLOAD_MAX];
    uint64_t last_seq;
    uint64_t committed_seq;
    uint32_t key_count; /* 0: the fixed subjects; else "kv.<n>" (shim_key) */
    int random_keys;
    uint64_t random_state; /* xorshift64 of the random keys */
};

static const char *const shim_subjects[SHIM_SUBJECT_COUNT] = {
    "orders.eu.0", "orders.eu.1", "orders.eu.2", "orders.eu.3",
    "orders.us.0", "orders.us.1", "orders.us.2", "orders.us.3",
};

static void shim_committed(void *context, uint64_t seq, uint64_t lsn)
{
    (void)lsn;
    struct store_shim *shim = context;
    shim->committed_seq = seq;
}

static void shim_open(struct store_shim *shim)
{
    struct stream_store_hooks hooks = {.committed = shim_committed, .context = shim};
    int rc = stream_store_open(shim->memory ? NULL : shim->path, &shim->config, &shim->io.io,
                               &hooks, &shim->store);
    ASSERT(rc == 0);
}

/* Runs the completions that are ready, or waits for one with `wait`. */
static void shim_reap(struct store_shim *shim, bool wait)
{
    ASSERT(store_uring_reap(&shim->io, wait) >= 0);
}

static void shim_drain(struct store_shim *shim)
{
    while (stream_store_busy(shim->store)) {
        ASSERT(stream_store_flush(shim->store) == 0);
        shim_reap(shim, true);
    }
}

static struct store_shim *shim_make(enum store_shim_sync sync, int memory, uint64_t max_bytes,
                                     uint64_t max_msgs_per_subject, uint32_t key_count,
                                     int random_keys)
{
    struct store_shim *shim = calloc(1, sizeof *shim);
    ASSERT(shim != NULL);
    ASSERT(io_uring_queue_init(SHIM_RING_ENTRIES, &shim->ring, 0) == 0);
    store_uring_init(&shim->io, &shim->ring, 0, SHIM_RING_ENTRIES);
    stream_store_config_default(&shim->config);
    shim->config.sync = (enum stream_store_sync)sync;
    shim->config.max_bytes = max_bytes;
    shim->config.max_msgs_per_subject = max_msgs_per_subject;
    shim->memory = memory;
    shim->key_count = key_count;
    shim->random_keys = random_keys;
    shim->random_state = 88172645463325252ull;
    strcpy(shim->root, "/tmp/ionats-store-bench-XXXXXX");
    ASSERT(mkdtemp(shim->root) != NULL);
    snprintf(shim->path, sizeof shim->path, "%s/stream", shim->root);
    for (uint32_t i = 0; i < SHIM_PAYLOAD_MAX; i++) {
        shim->payload[i] = (uint8_t)(i * 31 + 7);
    }
    shim_open(shim);
    return shim;
}

struct store_shim *store_shim_create(enum store_shim_sync sync, int memory, uint64_t max_bytes)
{
    return shim_make(sync, memory, max_bytes, 0, 0, 0);
}

struct store_shim *store_shim_create_keyed(int memory, uint64_t max_msgs_per_subject,
                                           uint32_t key_count, int random_keys)
{
    ASSERT(key_count > 0);
    return shim_make(STORE_SHIM_SYNC_NONE, memory, 0, max_msgs_per_subject, key_count,
                     random_keys);
}

/* The key of append `seq` (see store_shim_create_keyed). */
static uint32_t shim_key(struct store_shim *shim, uint64_t seq)
{
    if (!shim->random_keys || seq <= (uint64_t)shim->key_count * 2) {
        return (uint32_t)((seq - 1) % shim->key_count);
    }
    shim->random_state ^= shim->random_state << 13;
    shim->random_state ^= shim->random_state >> 7;
    shim->random_state ^= shim->random_state << 17;
    return (uint32_t)(shim->random_state % shim->key_count);
}

static int shim_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void store_shim_destroy(struct store_shim *shim)
{
    shim_drain(shim);
    stream_store_close(shim->store);
    ASSERT(store_uring_drain(&shim->io) == 0);
    io_uring_queue_exit(&shim->ring);
    nftw(shim->root, shim_remove, 16, FTW_DEPTH | FTW_PHYS);
    free(shim);
}

uint64_t store_shim_turn(struct store_shim *shim, uint32_t msg_count, uint32_t payload_bytes)
{
    ASSERT(payload_bytes <= SHIM_PAYLOAD_MAX);
    char key[SHIM_KEY_SIZE];
    for (uint32_t i = 0; i < msg_count; i++) {
        const char *subject = shim_subjects[(shim->last_seq + 1) % SHIM_SUBJECT_COUNT];
        if (shim->key_count != 0) {
            snprintf(key, sizeof key, "kv.%u", (unsigned)shim_key(shim, shim->last_seq + 1));
            subject = key;
        }
        int rc;
        while ((rc = stream_store_append(shim->store, (const uint8_t *)subject,
                                         (uint32_t)strlen(subject), NULL, 0, shim->payload,
                                         payload_bytes, &shim->last_seq)) == -EAGAIN) {
            /* Back-pressure: pending_bytes_max is reached, as a shard stops reading. */
            ASSERT(stream_store_flush(shim->store) == 0);
            shim_reap(shim, true);
        }
        ASSERT(rc == 0);
    }
    ASSERT(stream_store_flush(shim->store) == 0);
    ASSERT(stream_store_tick(shim->store, clock_realtime_ns()) == 0);
    shim_reap(shim, false);
    return shim->last_seq;
}

uint32_t store_shim_get(struct store_shim *shim, uint64_t seq)
{
    struct stream_store_msg msg;
    int rc = stream_store_get(shim->store, seq, &msg);
    ASSERT(rc == 0);
    return msg.payload_length;
}

uint64_t store_shim_reopen(struct store_shim *shim)
{
    ASSERT(!shim->memory);
    shim_drain(shim);
    stream_store_close(shim->store);
    shim_open(shim);
    struct stream_store_info info;
    stream_store_info_get(shim->store, &info);
    return info.last_seq;
}

uint64_t store_shim_last_seq(const struct store_shim *shim)
{
    return shim->last_seq;
}

uint64_t store_shim_index_bytes(const struct store_shim *shim)
{
    struct stream_store_info info;
    stream_store_info_get(shim->store, &info);
    return info.index_bytes;
}

uint64_t store_shim_drain(struct store_shim *shim)
{
    shim_drain(shim);
    ASSERT(shim->committed_seq == shim->last_seq);
    return shim->committed_seq;
}

uint64_t store_shim_datasync_count(const struct store_shim *shim)
{
    return shim->io.datasync_count;
}
