/* Timer wheel benchmark shim: see timer_shim.h. */
#include "bench/micro/timer_shim.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/timer.h"

#include <stdlib.h>

enum {
    SHIM_TICK_NS = NS_PER_MS,
    SHIM_BUDGET = 4096, /* callbacks per advance: a loop turn's worth */
};

struct timer_shim {
    struct timer_wheel wheel;
    struct timer_entry *entries; /* owned: count of them */
    int64_t *offsets_ns;         /* owned: deadline after the clock, per timer */
    uint32_t *order;             /* owned: a permutation, the cancel order */
    uint32_t count;
    int64_t spread_ns;
    int64_t now_ns; /* the fake clock */
    uint64_t fired_count;
};

static void shim_fired(struct timer_entry *entry, void *ctx)
{
    struct timer_shim *shim = ctx;
    shim->fired_count++;
}

struct timer_shim *timer_shim_create(uint32_t count, uint32_t spread_ms)
{
    struct timer_shim *shim = calloc(1, sizeof *shim);
    ASSERT(shim != NULL);
    shim->entries = calloc(count, sizeof *shim->entries);
    shim->offsets_ns = calloc(count, sizeof *shim->offsets_ns);
    shim->order = calloc(count, sizeof *shim->order);
    ASSERT(shim->entries != NULL);
    ASSERT(shim->offsets_ns != NULL);
    ASSERT(shim->order != NULL);
    shim->count = count;
    shim->spread_ns = (int64_t)spread_ms * NS_PER_MS;
    timer_wheel_init(&shim->wheel, 0, SHIM_TICK_NS);
    uint64_t random_state = 7;
    for (uint32_t i = 0; i < count; i++) {
        timer_entry_init(&shim->entries[i], shim_fired, shim);
        shim->offsets_ns[i] = 1 + (int64_t)(hash_sequence_next(&random_state) % (uint64_t)shim->spread_ns);
        shim->order[i] = i;
    }
    for (uint32_t i = count - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(hash_sequence_next(&random_state) % (i + 1));
        uint32_t swap = shim->order[i];
        shim->order[i] = shim->order[j];
        shim->order[j] = swap;
    }
    return shim;
}

void timer_shim_destroy(struct timer_shim *shim)
{
    timer_wheel_destroy(&shim->wheel);
    free(shim->order);
    free(shim->offsets_ns);
    free(shim->entries);
    free(shim);
}

static void shim_arm_all(struct timer_shim *shim)
{
    for (uint32_t i = 0; i < shim->count; i++) {
        timer_arm(&shim->wheel, &shim->entries[i], shim->now_ns + shim->offsets_ns[i]);
    }
    ASSERT(timer_count(&shim->wheel) == shim->count);
}

static uint64_t shim_cancel_all(struct timer_shim *shim)
{
    uint64_t checksum = 0;
    for (uint32_t i = 0; i < shim->count; i++) {
        struct timer_entry *entry = &shim->entries[shim->order[i]];
        checksum += entry->expiry_tick;
        timer_cancel(&shim->wheel, entry);
    }
    ASSERT(timer_count(&shim->wheel) == 0);
    return checksum;
}

uint64_t timer_shim_arm_cancel(struct timer_shim *shim)
{
    shim_arm_all(shim);
    return shim_cancel_all(shim);
}

uint64_t timer_shim_arm_rearm_cancel(struct timer_shim *shim)
{
    shim_arm_all(shim);
    for (uint32_t i = 0; i < shim->count; i++) {
        uint32_t index = shim->order[i];
        /* another timer's deadline, so the move crosses slots and levels */
        int64_t offset_ns = shim->offsets_ns[shim->order[shim->count - 1 - i]];
        timer_arm(&shim->wheel, &shim->entries[index], shim->now_ns + offset_ns);
    }
    return shim_cancel_all(shim);
}

uint64_t timer_shim_arm_expire(struct timer_shim *shim)
{
    shim_arm_all(shim);
    uint64_t fired_before = shim->fired_count;
    /* a turn per wake-up the wheel asks for; a cascade counts as one */
    uint64_t turns_max = (uint64_t)shim->count + (uint64_t)(shim->spread_ns / SHIM_TICK_NS) * 2;
    for (uint64_t turn = 0; timer_count(&shim->wheel) > 0; turn++) {
        ASSERT(turn < turns_max);
        int64_t next_ns = timer_next_deadline(&shim->wheel);
        shim->now_ns = next_ns > shim->now_ns ? next_ns : shim->now_ns;
        timer_advance(&shim->wheel, shim->now_ns, SHIM_BUDGET);
    }
    ASSERT(timer_count(&shim->wheel) == 0);
    ASSERT(shim->fired_count - fired_before == shim->count);
    return shim->fired_count - fired_before;
}
