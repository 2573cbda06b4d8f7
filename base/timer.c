/* The timing wheel behind base/timer.h: placing a timer in its slot, finding the next slot
 * to visit from the occupancy bitmaps, and the advance loop that visits slots, cascades their
 * timers down and fires the due ones under a budget. One shard's thread only.
 *
 * Invariant (asserted by timer_slot_next): below the top level, every occupied
 * slot's digit is greater than the same digit of elapsed_tick, and every digit above it
 * equals elapsed_tick's, so the slot's first tick is still ahead; the lowest level with an
 * occupied slot therefore holds the earliest one. Moving elapsed_tick forward to at most the
 * earliest occupied slot's first tick keeps this true, which is the only way it moves. The
 * top level alone is circular: a slot whose digit is not above elapsed_tick's is next visited
 * in the following 2^36-tick window, and holds only timers clamped from beyond the window. */
#include "base/timer.h"

#include "base/assert.h"

#include <string.h>

STATIC_ASSERT(TIMER_SLOT_COUNT == 64, "one uint64_t occupancy bitmap per level");
STATIC_ASSERT(TIMER_SPAN_BITS < 64, "a window and its successor fit in a uint64_t tick");
STATIC_ASSERT(TIMER_LOCATION_IDLE < UINT32_MAX, "locations fit timer_entry.location");

enum {
    TIMER_SLOT_MASK = TIMER_SLOT_COUNT - 1,
    TIMER_LEVEL_TOP = TIMER_LEVEL_COUNT - 1,
};

/* ---- lists: circular through a head, so unlinking needs no head ---- */

static void link_head_init(struct timer_link *head)
{
    head->next = head;
    head->prev = head;
}

static bool link_empty(const struct timer_link *head)
{
    return head->next == head;
}

static void link_push_back(struct timer_link *head, struct timer_link *link)
{
    link->prev = head->prev;
    link->next = head;
    head->prev->next = link;
    head->prev = link;
}

static void link_unlink(struct timer_link *link)
{
    ASSERT(link->prev != NULL); /* linked: armed, or a list head */
    ASSERT(link->next != NULL);
    link->prev->next = link->next;
    link->next->prev = link->prev;
    link->next = NULL;
    link->prev = NULL;
}

/* Moves every node of `source` to the end of `target`; `source` is left empty. O(1). */
static void link_splice_back(struct timer_link *target, struct timer_link *source)
{
    if (link_empty(source)) {
        return;
    }
    source->next->prev = target->prev;
    target->prev->next = source->next;
    source->prev->next = target;
    target->prev = source->prev;
    link_head_init(source);
}

static struct timer_entry *link_entry(struct timer_link *link)
{
    STATIC_ASSERT(offsetof(struct timer_entry, link) == 0, "a link is its entry");
    return (struct timer_entry *)link;
}

/* ---- ticks ---- */

/* Ticks from the origin to now_ns, rounded down; 0 for instants at or before the origin. */
static uint64_t timer_tick_floor(const struct timer_wheel *wheel, int64_t now_ns)
{
    if (now_ns <= wheel->origin_ns) {
        return 0;
    }
    /* the difference of two int64_t fits a uint64_t exactly */
    uint64_t since_ns = (uint64_t)now_ns - (uint64_t)wheel->origin_ns;
    return since_ns / (uint64_t)wheel->tick_ns;
}

/* Ticks from the origin to deadline_ns, rounded up, so the tick is never before it. */
static uint64_t timer_tick_ceil(const struct timer_wheel *wheel, int64_t deadline_ns)
{
    if (deadline_ns <= wheel->origin_ns) {
        return 0;
    }
    uint64_t since_ns = (uint64_t)deadline_ns - (uint64_t)wheel->origin_ns;
    uint64_t tick_ns = (uint64_t)wheel->tick_ns;
    return since_ns / tick_ns + (since_ns % tick_ns != 0 ? 1 : 0);
}

/* The instant a tick starts, or INT64_MAX when that is beyond int64_t time. */
static int64_t timer_tick_ns(const struct timer_wheel *wheel, uint64_t tick)
{
    uint64_t room_ns = (uint64_t)INT64_MAX - (uint64_t)wheel->origin_ns; /* exact: in range */
    if (tick > room_ns / (uint64_t)wheel->tick_ns) {
        return INT64_MAX;
    }
    /* origin + offset is within [origin, INT64_MAX]: the modular sum is the true value */
    return (int64_t)((uint64_t)wheel->origin_ns + tick * (uint64_t)wheel->tick_ns);
}

/* ---- slots ---- */

/* The slot for a timer expiring after elapsed_tick: the level of the highest base-64 digit
 * in which the two differ, clamped to the top level for expiries beyond the window. */
static uint32_t timer_slot_for(uint64_t elapsed_tick, uint64_t expiry_tick)
{
    ASSERT(expiry_tick > elapsed_tick);
    uint64_t differ = elapsed_tick ^ expiry_tick;
    uint32_t level = (uint32_t)(63 - __builtin_clzll(differ)) / TIMER_LEVEL_BITS;
    if (level > TIMER_LEVEL_TOP) {
        level = TIMER_LEVEL_TOP;
    }
    uint32_t slot = (uint32_t)(expiry_tick >> (level * TIMER_LEVEL_BITS)) & TIMER_SLOT_MASK;
    return level * TIMER_SLOT_COUNT + slot;
}

static struct timer_link *timer_slot_head(struct timer_wheel *wheel, uint32_t slot_index)
{
    ASSERT(slot_index < TIMER_SLOT_TOTAL);
    return &wheel->slots[slot_index / TIMER_SLOT_COUNT][slot_index % TIMER_SLOT_COUNT];
}

/* Puts an entry expiring after elapsed_tick into its slot and marks the slot occupied. */
static void timer_place(struct timer_wheel *wheel, struct timer_entry *entry)
{
    uint32_t slot_index = timer_slot_for(wheel->elapsed_tick, entry->expiry_tick);
    link_push_back(timer_slot_head(wheel, slot_index), &entry->link);
    wheel->occupied[slot_index / TIMER_SLOT_COUNT] |= 1ULL << (slot_index % TIMER_SLOT_COUNT);
    entry->location = slot_index;
}

/* Unlinks an armed entry from whichever list holds it; the caller adjusts armed_count. */
static void timer_unlink(struct timer_wheel *wheel, struct timer_entry *entry)
{
    ASSERT(entry->location < TIMER_LOCATION_IDLE);
    ASSERT(entry->link.next != NULL);
    link_unlink(&entry->link);
    if (entry->location < TIMER_SLOT_TOTAL) {
        /* the entry may have been in `cascading` with a stale slot: the list decides */
        if (link_empty(timer_slot_head(wheel, entry->location))) {
            wheel->occupied[entry->location / TIMER_SLOT_COUNT] &=
                ~(1ULL << (entry->location % TIMER_SLOT_COUNT));
        }
    }
    entry->location = TIMER_LOCATION_IDLE;
}

/* The occupied slot visited next and the tick it starts at; false when none is occupied. */
static bool timer_slot_next(const struct timer_wheel *wheel, uint32_t *slot_index,
                            uint64_t *slot_tick)
{
    uint64_t elapsed = wheel->elapsed_tick;
    for (uint32_t level = 0; level < TIMER_LEVEL_COUNT; level++) {
        uint64_t bits = wheel->occupied[level];
        if (bits == 0) {
            continue;
        }
        uint32_t shift = level * TIMER_LEVEL_BITS;
        uint32_t digit = (uint32_t)(elapsed >> shift) & TIMER_SLOT_MASK;
        uint64_t block = elapsed >> (shift + TIMER_LEVEL_BITS) << (shift + TIMER_LEVEL_BITS);
        uint64_t above = digit == TIMER_SLOT_MASK ? 0 : bits & (~0ULL << (digit + 1));
        uint32_t slot;
        if (above != 0) {
            slot = (uint32_t)__builtin_ctzll(above);
        } else {
            /* only the top level wraps round into the next window (see the file comment) */
            ASSERT(level == TIMER_LEVEL_TOP);
            slot = (uint32_t)__builtin_ctzll(bits);
            block += 1ULL << TIMER_SPAN_BITS;
            ASSERT(block > elapsed); /* no window follows the last one: nothing wraps there */
        }
        ASSERT(level == TIMER_LEVEL_TOP || above == bits);
        *slot_index = level * TIMER_SLOT_COUNT + slot;
        *slot_tick = block + ((uint64_t)slot << shift);
        ASSERT(*slot_tick > elapsed);
        return true;
    }
    return false;
}

/* ---- advancing ---- */

/* Visits the next occupied slot if it starts by now_tick: elapsed_tick moves to its first
 * tick and its timers to `cascading` (or straight to `due` from level 0, whose slots are one
 * tick wide, so every timer there expires at exactly that tick). Otherwise elapsed_tick moves
 * to now_tick and false is returned: nothing more is due by now_tick. */
static bool timer_visit_next(struct timer_wheel *wheel, uint64_t now_tick)
{
    uint32_t slot_index = 0;
    uint64_t slot_tick = 0;
    ASSERT(now_tick >= wheel->elapsed_tick); /* now_tick is at least reached_tick */
    if (!timer_slot_next(wheel, &slot_index, &slot_tick) || slot_tick > now_tick) {
        wheel->elapsed_tick = now_tick;
        return false;
    }
    struct timer_link *head = timer_slot_head(wheel, slot_index);
    ASSERT(!link_empty(head));
    wheel->elapsed_tick = slot_tick;
    link_splice_back(slot_index < TIMER_SLOT_COUNT ? &wheel->due : &wheel->cascading, head);
    wheel->occupied[slot_index / TIMER_SLOT_COUNT] &= ~(1ULL << (slot_index % TIMER_SLOT_COUNT));
    return true;
}

/* Takes the first cascading timer down to its place relative to the new elapsed_tick, or to
 * `due` when it expires now. */
static void timer_cascade_one(struct timer_wheel *wheel)
{
    struct timer_entry *entry = link_entry(wheel->cascading.next);
    link_unlink(&entry->link);
    if (entry->expiry_tick <= wheel->elapsed_tick) {
        link_push_back(&wheel->due, &entry->link);
        entry->location = TIMER_LOCATION_PENDING;
    } else {
        timer_place(wheel, entry);
    }
}

/* Unarms the first due timer, then calls it: it may re-arm itself or free its memory. */
static void timer_fire_one(struct timer_wheel *wheel)
{
    struct timer_entry *entry = link_entry(wheel->due.next);
    ASSERT(entry->location != TIMER_LOCATION_IDLE);
    ASSERT(entry->expiry_tick <= wheel->elapsed_tick);
    timer_unlink(wheel, entry);
    ASSERT(wheel->armed_count > 0);
    wheel->armed_count--;
    entry->fn(entry, entry->ctx);
}

struct timer_fired timer_advance(struct timer_wheel *wheel, int64_t now_ns, uint32_t budget_count)
{
    ASSERT(wheel->tick_ns > 0);
    ASSERT(budget_count > 0);
    uint64_t now_tick = timer_tick_floor(wheel, now_ns);
    if (now_tick < wheel->reached_tick) {
        now_tick = wheel->reached_tick; /* the wheel's time never runs back */
    }
    wheel->reached_tick = now_tick;
    uint64_t moves_max = (uint64_t)budget_count * TIMER_MOVES_PER_FIRE;
    uint64_t move_count = 0;
    /* each step moves, fires, or visits a slot; a visit is followed by a move, a fire, or
     * the end of the loop (a fire's callback may cancel what a visit took, hence the +1) */
    uint64_t steps_max = 2 * (moves_max + budget_count) + 2;
    struct timer_fired fired = {.count = 0, .more = false};
    link_splice_back(&wheel->due, &wheel->due_next);
    for (uint64_t step = 0;; step++) {
        ASSERT(step < steps_max);
        if (!link_empty(&wheel->cascading) && move_count < moves_max) {
            timer_cascade_one(wheel);
            move_count++;
        } else if (!link_empty(&wheel->due) && fired.count < budget_count) {
            timer_fire_one(wheel);
            fired.count++;
        } else if (!link_empty(&wheel->cascading) || !link_empty(&wheel->due) ||
                   !timer_visit_next(wheel, now_tick)) {
            break; /* out of budget, or nothing more due by now_tick */
        }
    }
    fired.more = !link_empty(&wheel->cascading) || !link_empty(&wheel->due) ||
                 !link_empty(&wheel->due_next);
    return fired;
}

int64_t timer_next_deadline(const struct timer_wheel *wheel)
{
    if (wheel->armed_count == 0) {
        return INT64_MAX;
    }
    if (!link_empty(&wheel->cascading) || !link_empty(&wheel->due) ||
        !link_empty(&wheel->due_next)) {
        return timer_tick_ns(wheel, wheel->elapsed_tick);
    }
    uint32_t slot_index = 0;
    uint64_t slot_tick = 0;
    bool found = timer_slot_next(wheel, &slot_index, &slot_tick);
    ASSERT(found); /* armed timers that are not pending are in slots */
    return timer_tick_ns(wheel, slot_tick);
}

/* ---- arming ---- */

void timer_entry_init(struct timer_entry *entry, timer_fn *fn, void *ctx)
{
    ASSERT(fn != NULL);
    memset(entry, 0, sizeof *entry);
    entry->fn = fn;
    entry->ctx = ctx;
    entry->location = TIMER_LOCATION_IDLE;
}

void timer_arm(struct timer_wheel *wheel, struct timer_entry *entry, int64_t deadline_ns)
{
    ASSERT(wheel->tick_ns > 0);
    ASSERT(entry->fn != NULL);
    if (timer_armed(entry)) {
        timer_unlink(wheel, entry);
    } else {
        wheel->armed_count++;
    }
    entry->deadline_ns = deadline_ns;
    entry->expiry_tick = timer_tick_ceil(wheel, deadline_ns);
    if (entry->expiry_tick <= wheel->elapsed_tick) {
        link_push_back(&wheel->due_next, &entry->link);
        entry->location = TIMER_LOCATION_PENDING;
    } else {
        timer_place(wheel, entry);
    }
}

void timer_cancel(struct timer_wheel *wheel, struct timer_entry *entry)
{
    if (!timer_armed(entry)) {
        return;
    }
    timer_unlink(wheel, entry);
    ASSERT(wheel->armed_count > 0);
    wheel->armed_count--;
}

/* ---- the wheel ---- */

void timer_wheel_init(struct timer_wheel *wheel, int64_t now_ns, int64_t tick_ns)
{
    ASSERT(tick_ns > 0);
    memset(wheel, 0, sizeof *wheel);
    wheel->origin_ns = now_ns;
    wheel->tick_ns = tick_ns;
    link_head_init(&wheel->due);
    link_head_init(&wheel->due_next);
    link_head_init(&wheel->cascading);
    for (uint32_t level = 0; level < TIMER_LEVEL_COUNT; level++) {
        for (uint32_t slot = 0; slot < TIMER_SLOT_COUNT; slot++) {
            link_head_init(&wheel->slots[level][slot]);
        }
    }
}

/* Unarms every entry of one list; returns how many. */
static uint64_t timer_list_drain(struct timer_link *head, uint64_t count_max)
{
    uint64_t count = 0;
    while (!link_empty(head)) {
        ASSERT(count < count_max);
        struct timer_entry *entry = link_entry(head->next);
        link_unlink(&entry->link);
        entry->location = TIMER_LOCATION_IDLE;
        count++;
    }
    return count;
}

void timer_wheel_destroy(struct timer_wheel *wheel)
{
    ASSERT(wheel->tick_ns > 0);
    uint64_t count = 0;
    uint64_t armed = wheel->armed_count;
    count += timer_list_drain(&wheel->due, armed - count + 1);
    count += timer_list_drain(&wheel->due_next, armed - count + 1);
    count += timer_list_drain(&wheel->cascading, armed - count + 1);
    for (uint32_t level = 0; level < TIMER_LEVEL_COUNT; level++) {
        for (uint32_t slot = 0; slot < TIMER_SLOT_COUNT; slot++) {
            count += timer_list_drain(&wheel->slots[level][slot], armed - count + 1);
        }
    }
    ASSERT(count == armed);
    /* poison: any later use trips the tick_ns assertion */
    memset(wheel, 0, sizeof *wheel);
}
