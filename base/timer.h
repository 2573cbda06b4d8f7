/* A per-shard timer service: a hierarchical timing wheel of intrusive timers, driven by one
 * shard's event loop (only that shard's thread may touch a wheel or its timers).
 *
 * The one idea: time is counted in ticks since the wheel's origin, and a timer lives in the
 * slot named by the highest base-64 digit in which its expiry tick differs from the wheel's
 * current tick (`elapsed_tick ^ expiry_tick`). Level 0 holds the timers due within the current
 * 64-tick block, one slot per tick; level L holds timers in later 64^L-tick blocks of the
 * current 64^(L+1)-tick block. When the wheel reaches a level-L slot, its timers move down
 * ("cascade") to finer levels, so each timer moves at most TIMER_LEVEL_COUNT - 1 times in its
 * life (a level-0 slot joins the due list whole): arm and cancel are O(1) list operations,
 * and expiry is amortised O(1) per timer. Each
 * level keeps a bitmap of its occupied slots, so the next slot to visit is found with one
 * count-trailing-zeros per level, never a scan of the timers.
 *
 * Timing: a deadline is rounded *up* to a tick boundary (origin_ns + expiry_tick * tick_ns),
 * and a timer fires on the first timer_advance whose now_ns has reached that boundary. So a
 * timer never fires before its deadline, and fires less than one tick after it when the loop
 * advances on time. A deadline at or before the tick the wheel has reached fires on the next
 * timer_advance call, also when a callback arms it: a timer that keeps re-arming itself for
 * "now" fires once per tick reached and then once per call, never in a loop inside one.
 * Within one call the wheel reaches ticks in order, so a callback may arm a timer for a later
 * tick that is still due by now_ns, and it fires in the same call.
 *
 * Span: six levels of 64 slots cover 2^36 ticks (795 days at 1 ms, 68 s at 1 ns). A timer
 * whose expiry lies beyond the current 2^36-tick window is clamped into the top level, in the
 * slot of its expiry's top digit; the top level is visited circularly, and when that slot
 * comes round the timer is re-cascaded from its true expiry tick (clamped again if still too
 * far). Far deadlines therefore cost one extra move per 2^36 ticks, and still fire on time.
 *
 * Callbacks: each timer carries a function and a context pointer, both chosen by its owner at
 * timer_entry_init (a pair rather than container_of alone, so one function can serve several
 * kinds of owner). The wheel unlinks a timer before calling it, so the callback may re-arm
 * it, cancel or arm any other timer of the same wheel (including ones due in the same tick),
 * or free the memory holding the entry. Nothing is allocated per timer; the wheel is one
 * fixed-size struct that must not move while any timer is armed. */
#ifndef IONATS_BASE_TIMER_H
#define IONATS_BASE_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    TIMER_LEVEL_BITS = 6,                          /* 64 slots: one uint64_t bitmap a level */
    TIMER_SLOT_COUNT = 1 << TIMER_LEVEL_BITS,      /* slots per level */
    TIMER_LEVEL_COUNT = 6,                         /* 2^36 ticks: two years at 1 ms */
    TIMER_SPAN_BITS = TIMER_LEVEL_BITS * TIMER_LEVEL_COUNT,
    TIMER_SLOT_TOTAL = TIMER_SLOT_COUNT * TIMER_LEVEL_COUNT,
};

/* A doubly-linked list node; a list is a circular ring through a head node of the same type,
 * so a timer unlinks itself in O(1) without knowing which list holds it. */
struct timer_link {
    struct timer_link *next;
    struct timer_link *prev;
};

struct timer_entry;

/* Called once when the timer expires, on the shard's thread, after the timer is unarmed. */
typedef void timer_fn(struct timer_entry *entry, void *ctx);

/* Embedded in its owner; owned by the owner, lent to the wheel while armed. Only the wheel
 * writes its fields after timer_entry_init; the owner may read deadline_ns. */
struct timer_entry {
    struct timer_link link; /* owned by the wheel while armed; unlinked (NULL) otherwise */
    timer_fn *fn;           /* set by the owner at init */
    void *ctx;              /* borrowed from the owner, passed to fn, never dereferenced */
    int64_t deadline_ns;    /* as given to timer_arm */
    uint64_t expiry_tick;   /* deadline rounded up to a tick, counted from the origin */
    uint32_t location;      /* a slot number or TIMER_LOCATION_* */
};

/* Where an entry is. Slots are numbered level * 64 + slot, 0 .. TIMER_SLOT_TOTAL - 1. An entry
 * taken from a visited slot (into `cascading`, or from level 0 into `due`) keeps that slot's
 * number until it is placed again or fires; that is harmless, because unlinking an entry
 * recomputes its slot's bit from the slot's own list. */
enum {
    TIMER_LOCATION_PENDING = TIMER_SLOT_TOTAL, /* in due_next, or cascaded into due */
    TIMER_LOCATION_IDLE,                       /* not armed */
};

/* One shard's wheel. Owned by the shard; every list node it links is an armed timer's. */
struct timer_wheel {
    int64_t origin_ns;     /* now_ns at init: tick 0 */
    int64_t tick_ns;       /* granularity, > 0 */
    uint64_t elapsed_tick; /* every timer expiring at or before this tick is due */
    uint64_t reached_tick; /* the latest now_ns advanced to; elapsed_tick catches up to it */
    uint64_t armed_count;
    uint64_t occupied[TIMER_LEVEL_COUNT]; /* bit s: slot s of that level holds a timer */
    struct timer_link due;       /* expired by this or an earlier advance, not yet fired */
    struct timer_link due_next;  /* armed in the past: joins `due` at the next advance */
    struct timer_link cascading; /* taken from the slot just visited, not yet placed again */
    struct timer_link slots[TIMER_LEVEL_COUNT][TIMER_SLOT_COUNT];
};

/* What one timer_advance did. */
struct timer_fired {
    uint32_t count; /* callbacks called */
    bool more;      /* work is left that is due by now_ns: call timer_advance again soon */
};

/* Starts an empty wheel whose tick 0 is now_ns. tick_ns must be > 0. */
void timer_wheel_init(struct timer_wheel *wheel, int64_t now_ns, int64_t tick_ns);

/* Unarms every timer still armed (without calling it) and poisons the wheel. O(armed). */
void timer_wheel_destroy(struct timer_wheel *wheel);

/* Prepares an unarmed timer that will call fn(entry, ctx). fn must not be NULL. */
void timer_entry_init(struct timer_entry *entry, timer_fn *fn, void *ctx);

/* Arms the timer to fire once at deadline_ns (any value; a past one fires on the next
 * advance). An armed timer is moved to the new deadline. O(1). */
void timer_arm(struct timer_wheel *wheel, struct timer_entry *entry, int64_t deadline_ns);

/* Unarms the timer; nothing happens when it is not armed. O(1). */
void timer_cancel(struct timer_wheel *wheel, struct timer_entry *entry);

/* True between timer_arm and its firing or cancel. */
static inline bool timer_armed(const struct timer_entry *entry)
{
    return entry->location != TIMER_LOCATION_IDLE;
}

/* Fires every timer whose deadline, rounded up to a tick, is at or before now_ns, calling at
 * most budget_count callbacks (budget_count > 0) and moving at most TIMER_MOVES_PER_FIRE
 * times as many timers between levels. The wheel's time never runs back: a now_ns earlier
 * than one passed before counts as that one. Returns how many fired and whether work due by
 * now_ns is left (budget spent, or timers armed in the past by callbacks). */
struct timer_fired timer_advance(struct timer_wheel *wheel, int64_t now_ns, uint32_t budget_count);

/* The earliest instant at which timer_advance can make progress, for a loop to sleep until:
 * a lower bound on the next deadline (exact, rounded up to a tick, when the earliest timer
 * expires within the current 64-tick block; otherwise the first tick of the slot holding
 * it, where it is cascaded); at or before the latest now_ns advanced to when work is due
 * already; INT64_MAX when no timer is armed (or the next slot starts beyond INT64_MAX).
 * O(TIMER_LEVEL_COUNT): one count-trailing-zeros per level, no scan of the timers. */
int64_t timer_next_deadline(const struct timer_wheel *wheel);

/* Armed timers, including due ones that have not fired yet. */
static inline uint64_t timer_count(const struct timer_wheel *wheel)
{
    return wheel->armed_count;
}

/* Cascade moves allowed per callback budgeted: a move is an unlink and a relink, several
 * times cheaper than the lightest callback, and a timer moves at most TIMER_LEVEL_COUNT - 1
 * times in its life, so this keeps the cascade ahead of the firing it feeds while still
 * bounding a turn in which a million timers armed together reach their common slot. */
enum { TIMER_MOVES_PER_FIRE = 8 };

#endif
