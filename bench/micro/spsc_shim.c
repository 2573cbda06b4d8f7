/* SPSC ring benchmark shim: see spsc_shim.h. */
#include "bench/micro/spsc_shim.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/spsc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct spsc_shim {
    struct spsc ring;
    void *bytes;
    uint32_t record_bytes;
    uint64_t count;
    uint32_t batch;
};

struct spsc_shim *spsc_shim_create(uint64_t ring_bytes, uint32_t record_bytes)
{
    struct spsc_shim *shim = aligned_alloc(SPSC_CACHE_LINE_PAIR, sizeof *shim);
    ASSERT(shim != NULL);
    memset(shim, 0, sizeof *shim);
    shim->bytes = aligned_alloc(SPSC_CACHE_LINE_PAIR, ring_bytes);
    ASSERT(shim->bytes != NULL);
    memset(shim->bytes, 0, ring_bytes);
    spsc_init(&shim->ring, shim->bytes, ring_bytes);
    shim->record_bytes = record_bytes;
    return shim;
}

void spsc_shim_destroy(struct spsc_shim *shim)
{
    free(shim->bytes);
    free(shim);
}

static uint64_t consume_all(struct spsc *ring, uint64_t *moved)
{
    uint64_t sum = 0;
    const struct spsc_record *record;
    while ((record = spsc_peek(ring)) != NULL) {
        sum += record->type;
        spsc_advance(ring, record);
        (*moved)++;
    }
    spsc_consume_done(ring);
    return sum;
}

uint64_t spsc_shim_single_thread(struct spsc_shim *shim, uint32_t count, uint32_t batch)
{
    uint64_t sum = 0;
    uint64_t moved = 0;
    for (uint32_t i = 0; i < count; i++) {
        void *body = spsc_reserve(&shim->ring, i, shim->record_bytes);
        ASSERT(body != NULL); /* the ring holds a whole batch */
        memset(body, (int)i, shim->record_bytes);
        spsc_commit(&shim->ring);
        if ((i + 1) % batch == 0) {
            spsc_publish(&shim->ring);
            sum += consume_all(&shim->ring, &moved);
        }
    }
    spsc_publish(&shim->ring);
    sum += consume_all(&shim->ring, &moved);
    ASSERT(moved == count);
    return sum;
}

static void *producer(void *arg)
{
    struct spsc_shim *shim = arg;
    uint64_t produced = 0;
    while (produced < shim->count) {
        uint32_t in_batch = 0;
        while (in_batch < shim->batch && produced < shim->count) {
            void *body = spsc_reserve(&shim->ring, (uint32_t)produced, shim->record_bytes);
            if (body == NULL) {
                break;
            }
            memset(body, 1, shim->record_bytes);
            spsc_commit(&shim->ring);
            produced++;
            in_batch++;
        }
        spsc_publish(&shim->ring);
    }
    return NULL;
}

uint64_t spsc_shim_two_threads(struct spsc_shim *shim, uint64_t count, uint32_t batch)
{
    shim->count = count;
    shim->batch = batch;
    int64_t start = clock_monotonic_ns();
    pthread_t thread;
    int rc = pthread_create(&thread, NULL, producer, shim);
    ASSERT(rc == 0);
    uint64_t moved = 0;
    while (moved < count) {
        consume_all(&shim->ring, &moved);
    }
    pthread_join(thread, NULL);
    return (uint64_t)(clock_monotonic_ns() - start);
}
