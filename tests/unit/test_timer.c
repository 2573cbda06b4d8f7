/* Unit tests for the timing wheel, on a fake clock: every test passes now_ns explicitly.
 *
 * Each probe remembers when it fired; the callback checks it never fires before its
 * deadline. "Exact" tests drive the wheel by timer_next_deadline alone, which is a lower
 * bound, so each timer must fire precisely at its deadline rounded up to a tick. The
 * differential test runs thousands of random arms, cancels and advances (callbacks arming
 * and cancelling too) against an array of deadlines scanned linearly. */
#include "base/clock.h"
#include "base/hash.h"
#include "base/timer.h"
#include "tests/harness/ck_quiet.h"

#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define TICK_NS ((int64_t)NS_PER_MS)
#define SEC_NS ((int64_t)NS_PER_SEC)

enum {
    BUDGET_ALL = UINT32_MAX,  /* no callback limit */
    DRAIN_CALLS_MAX = 100000, /* advances one drain may take before the test gives up */
};

#define SPAN_TICKS (UINT64_C(1) << TIMER_SPAN_BITS)

struct probe {
    struct timer_entry entry;
    int64_t fired_at_ns;
    uint32_t fired_count;
};

/* The fake clock: what the test last passed to timer_advance, read by callbacks. */
static int64_t test_now_ns;

/* deadline_ns rounded up to the wheel's tick grid, computed apart from the wheel; may be
 * beyond int64_t time (never reached). */
static __int128 boundary_ns(const struct timer_wheel *wheel, int64_t deadline_ns)
{
    __int128 since = (__int128)deadline_ns - wheel->origin_ns;
    if (since <= 0) {
        return wheel->origin_ns;
    }
    __int128 ticks = (since + wheel->tick_ns - 1) / wheel->tick_ns;
    return wheel->origin_ns + ticks * wheel->tick_ns;
}

static void probe_fired(struct timer_entry *entry, void *ctx)
{
    struct probe *probe = ctx;
    ck_assert_ptr_eq(entry, &probe->entry);
    ck_assert(!timer_armed(entry));
    ck_assert_int_ge(test_now_ns, entry->deadline_ns);
    probe->fired_at_ns = test_now_ns;
    probe->fired_count++;
}

static void probe_init(struct probe *probe)
{
    memset(probe, 0, sizeof *probe);
    probe->fired_at_ns = -1;
    timer_entry_init(&probe->entry, probe_fired, probe);
}

/* Advances to now_ns until no work is left; returns how many fired. Here and in the
 * differential test's steps the assertions are quiet (ck_quiet.h): they run a million times. */
static uint64_t advance_all(struct timer_wheel *wheel, int64_t now_ns, uint32_t budget_count)
{
    test_now_ns = now_ns;
    uint64_t fired_count = 0;
    for (uint32_t call = 0; call < DRAIN_CALLS_MAX; call++) {
        struct timer_fired fired = timer_advance(wheel, now_ns, budget_count);
        quiet_assert_uint_le(fired.count, budget_count);
        fired_count += fired.count;
        if (!fired.more) {
            quiet_assert_int_gt(timer_next_deadline(wheel), now_ns);
            return fired_count;
        }
    }
    ck_abort_msg("the wheel did not drain");
    return fired_count;
}

/* Jumps from one timer_next_deadline to the next until every probe fired, checking each
 * fired exactly at its rounded-up deadline, within wakeups_max wake-ups. */
static void drive_exact(struct timer_wheel *wheel, struct probe *probes, uint32_t count,
                        uint32_t wakeups_max)
{
    for (uint32_t wakeup = 0; wakeup < wakeups_max && timer_count(wheel) > 0; wakeup++) {
        int64_t next_ns = timer_next_deadline(wheel);
        ck_assert_int_lt(next_ns, INT64_MAX);
        for (uint32_t i = 0; i < count; i++) {
            if (timer_armed(&probes[i].entry)) {
                ck_assert(next_ns <= boundary_ns(wheel, probes[i].entry.deadline_ns));
            }
        }
        advance_all(wheel, next_ns, BUDGET_ALL);
    }
    ck_assert_uint_eq(timer_count(wheel), 0);
    ck_assert_int_eq(timer_next_deadline(wheel), INT64_MAX);
    for (uint32_t i = 0; i < count; i++) {
        ck_assert_uint_eq(probes[i].fired_count, 1);
        ck_assert(probes[i].fired_at_ns == boundary_ns(wheel, probes[i].entry.deadline_ns));
    }
}

START_TEST(test_never_early_within_one_tick)
{
    static const int64_t offsets_ns[] = {0, 1, TICK_NS / 2, TICK_NS - 1};
    static const int64_t ticks[] = {0, 1, 2, 5, 63, 64, 65, 4095, 4096, 4097, 20000};
    enum { OFFSET_COUNT = 4, TICK_COUNT = 11, COUNT = OFFSET_COUNT * TICK_COUNT };
    /* steps that divide a tick, and steps that do not */
    static const int64_t steps_ns[] = {TICK_NS / 4, TICK_NS / 3 + 7};
    for (uint32_t s = 0; s < 2; s++) {
        struct timer_wheel wheel;
        int64_t origin_ns = 1000 + 12345 * (int64_t)s;
        timer_wheel_init(&wheel, origin_ns, TICK_NS);
        static struct probe probes[COUNT];
        for (uint32_t i = 0; i < COUNT; i++) {
            probe_init(&probes[i]);
            int64_t deadline_ns =
                origin_ns + ticks[i / OFFSET_COUNT] * TICK_NS + offsets_ns[i % OFFSET_COUNT];
            timer_arm(&wheel, &probes[i].entry, deadline_ns);
        }
        ck_assert_uint_eq(timer_count(&wheel), COUNT);
        int64_t now_ns = origin_ns;
        for (uint32_t step = 0; timer_count(&wheel) > 0; step++) {
            quiet_assert_uint_lt(step, 200000);
            now_ns += steps_ns[s];
            advance_all(&wheel, now_ns, BUDGET_ALL);
        }
        for (uint32_t i = 0; i < COUNT; i++) {
            int64_t deadline_ns = probes[i].entry.deadline_ns;
            int64_t boundary = (int64_t)boundary_ns(&wheel, deadline_ns);
            ck_assert_uint_eq(probes[i].fired_count, 1);
            ck_assert_int_ge(probes[i].fired_at_ns, deadline_ns);
            ck_assert_int_lt(boundary - deadline_ns, TICK_NS);
            /* fired at the first step (after the origin) at or after the boundary */
            int64_t step_count = (boundary - origin_ns + steps_ns[s] - 1) / steps_ns[s];
            step_count = step_count < 1 ? 1 : step_count;
            ck_assert_int_eq(probes[i].fired_at_ns, origin_ns + step_count * steps_ns[s]);
        }
        timer_wheel_destroy(&wheel);
    }
}
END_TEST

START_TEST(test_cancel_is_idempotent)
{
    struct timer_wheel wheel;
    timer_wheel_init(&wheel, 0, TICK_NS);
    struct probe slot_probe, past_probe;
    probe_init(&slot_probe);
    probe_init(&past_probe);
    ck_assert(!timer_armed(&slot_probe.entry));
    timer_cancel(&wheel, &slot_probe.entry); /* never armed */
    timer_arm(&wheel, &slot_probe.entry, 5 * TICK_NS);
    timer_arm(&wheel, &past_probe.entry, -TICK_NS); /* pending for the next advance */
    ck_assert(timer_armed(&slot_probe.entry));
    ck_assert(timer_armed(&past_probe.entry));
    ck_assert_uint_eq(timer_count(&wheel), 2);
    timer_cancel(&wheel, &slot_probe.entry);
    timer_cancel(&wheel, &slot_probe.entry);
    timer_cancel(&wheel, &past_probe.entry);
    ck_assert(!timer_armed(&slot_probe.entry));
    ck_assert(!timer_armed(&past_probe.entry));
    ck_assert_uint_eq(timer_count(&wheel), 0);
    ck_assert_int_eq(timer_next_deadline(&wheel), INT64_MAX);
    ck_assert_uint_eq(advance_all(&wheel, 100 * TICK_NS, BUDGET_ALL), 0);
    ck_assert_uint_eq(slot_probe.fired_count + past_probe.fired_count, 0);
    timer_wheel_destroy(&wheel);
}
END_TEST

/* Timers cancelled while due (budget spent) or while their slot is being cascaded. */
START_TEST(test_cancel_while_due_or_cascading)
{
    enum { COUNT = 1000 };
    static struct probe probes[COUNT];
    struct timer_wheel wheel;
    timer_wheel_init(&wheel, 0, TICK_NS);
    for (uint32_t i = 0; i < COUNT; i++) {
        probe_init(&probes[i]);
        /* all in one level-1 slot: ticks 128 .. 191 */
        timer_arm(&wheel, &probes[i].entry, (128 + i % 64) * TICK_NS);
    }
    test_now_ns = 200 * TICK_NS;
    struct timer_fired fired = timer_advance(&wheel, test_now_ns, 1);
    ck_assert(fired.more);
    ck_assert_uint_le(fired.count, 1);
    ck_assert_int_le(timer_next_deadline(&wheel), test_now_ns);
    uint32_t cancelled = 0;
    for (uint32_t i = 0; i < COUNT; i++) {
        if (timer_armed(&probes[i].entry)) {
            timer_cancel(&wheel, &probes[i].entry);
            cancelled++;
        }
    }
    ck_assert_uint_eq(cancelled + fired.count, COUNT);
    ck_assert_uint_eq(timer_count(&wheel), 0);
    ck_assert_uint_eq(advance_all(&wheel, test_now_ns, BUDGET_ALL), 0);
    ck_assert_int_eq(timer_next_deadline(&wheel), INT64_MAX);
    timer_wheel_destroy(&wheel);
}
END_TEST

START_TEST(test_rearm_moves)
{
    struct timer_wheel wheel;
    timer_wheel_init(&wheel, 0, TICK_NS);
    struct probe earlier, later;
    probe_init(&earlier);
    probe_init(&later);
    timer_arm(&wheel, &earlier.entry, 100 * TICK_NS);
    timer_arm(&wheel, &earlier.entry, 50 * TICK_NS);
    timer_arm(&wheel, &later.entry, 50 * TICK_NS);
    timer_arm(&wheel, &later.entry, 5000 * TICK_NS);
    ck_assert_uint_eq(timer_count(&wheel), 2);
    ck_assert_int_eq(timer_next_deadline(&wheel), 50 * TICK_NS);
    ck_assert_uint_eq(advance_all(&wheel, 49 * TICK_NS, BUDGET_ALL), 0);
    ck_assert_uint_eq(advance_all(&wheel, 50 * TICK_NS, BUDGET_ALL), 1);
    ck_assert_uint_eq(advance_all(&wheel, 120 * TICK_NS, BUDGET_ALL), 0);
    ck_assert_int_eq(earlier.fired_at_ns, 50 * TICK_NS);
    ck_assert_uint_eq(later.fired_count, 0);
    ck_assert_uint_eq(advance_all(&wheel, 4999 * TICK_NS, BUDGET_ALL), 0);
    ck_assert_uint_eq(advance_all(&wheel, 5000 * TICK_NS, BUDGET_ALL), 1);
    ck_assert_uint_eq(earlier.fired_count, 1);
    ck_assert_uint_eq(later.fired_count, 1);
    ck_assert_uint_eq(timer_count(&wheel), 0);
    timer_wheel_destroy(&wheel);
}
END_TEST

/* ---- callbacks that arm and cancel ---- */

static struct timer_wheel *callback_wheel;

#define PERIOD_NS (10 * TICK_NS)
enum { PERIOD_FIRES = 100 };

static void periodic_fired(struct timer_entry *entry, void *ctx)
{
    struct probe *probe = ctx;
    ck_assert_int_eq(test_now_ns, entry->deadline_ns);
    probe->fired_count++;
    if (probe->fired_count < PERIOD_FIRES) {
        timer_arm(callback_wheel, entry, entry->deadline_ns + PERIOD_NS);
    }
}

START_TEST(test_rearm_from_callback)
{
    struct timer_wheel wheel;
    timer_wheel_init(&wheel, 0, TICK_NS);
    callback_wheel = &wheel;
    struct probe periodic;
    memset(&periodic, 0, sizeof periodic);
    timer_entry_init(&periodic.entry, periodic_fired, &periodic);
    timer_arm(&wheel, &periodic.entry, PERIOD_NS);
    for (int64_t now_ns = 0; now_ns <= (PERIOD_FIRES + 5) * PERIOD_NS; now_ns += TICK_NS) {
        advance_all(&wheel, now_ns, BUDGET_ALL);
    }
    ck_assert_uint_eq(periodic.fired_count, PERIOD_FIRES);
    ck_assert_uint_eq(timer_count(&wheel), 0);
    timer_wheel_destroy(&wheel);
}
END_TEST

enum { GROUP_COUNT = 4 };
static struct probe group[GROUP_COUNT]; /* same deadline: the first to fire cancels the rest */
static struct probe same_tick, past, ahead, echo;
static uint32_t group_first_count;

static void group_fired(struct timer_entry *entry, void *ctx)
{
    probe_fired(entry, ctx);
    group_first_count++;
    for (uint32_t i = 0; i < GROUP_COUNT; i++) {
        timer_cancel(callback_wheel, &group[i].entry);
    }
    /* the tick being fired: due already, so it waits for the next advance */
    timer_arm(callback_wheel, &same_tick.entry, entry->deadline_ns);
    timer_arm(callback_wheel, &past.entry, entry->deadline_ns - 10 * TICK_NS);
    /* after the tick being fired but due by now: fires in this advance */
    timer_arm(callback_wheel, &ahead.entry, entry->deadline_ns + 2 * TICK_NS);
}

/* re-arms itself for "now" until it fired three times: once when its tick is reached, and
 * then once per advance, never in a loop */
static void echo_fired(struct timer_entry *entry, void *ctx)
{
    probe_fired(entry, ctx);
    if (echo.fired_count < 3) {
        timer_arm(callback_wheel, entry, test_now_ns);
    }
}

START_TEST(test_arm_from_callback_into_current_slot)
{
    struct timer_wheel wheel;
    timer_wheel_init(&wheel, 0, TICK_NS);
    callback_wheel = &wheel;
    group_first_count = 0;
    int64_t deadline_ns = 7 * TICK_NS;
    for (uint32_t i = 0; i < GROUP_COUNT; i++) {
        memset(&group[i], 0, sizeof group[i]);
        timer_entry_init(&group[i].entry, group_fired, &group[i]);
        timer_arm(&wheel, &group[i].entry, deadline_ns);
    }
    probe_init(&same_tick);
    probe_init(&past);
    probe_init(&ahead);
    memset(&echo, 0, sizeof echo);
    timer_entry_init(&echo.entry, echo_fired, &echo);
    timer_arm(&wheel, &echo.entry, deadline_ns);
    /* the loop is late: "ahead" (9 ticks) is due by now and fires in the same advance, and
     * echo, re-armed for now (10 ticks) at tick 7, fires again when tick 10 is reached */
    test_now_ns = 10 * TICK_NS;
    struct timer_fired fired = timer_advance(&wheel, test_now_ns, BUDGET_ALL);
    ck_assert_uint_eq(group_first_count, 1);
    ck_assert_uint_eq(echo.fired_count, 2);
    ck_assert_uint_eq(ahead.fired_count, 1);
    ck_assert_int_eq(ahead.fired_at_ns, 10 * TICK_NS);
    ck_assert_uint_eq(fired.count, 4);
    /* armed at or before the current tick from a callback: the next advance */
    ck_assert(fired.more);
    ck_assert_uint_eq(same_tick.fired_count + past.fired_count, 0);
    ck_assert_int_le(timer_next_deadline(&wheel), test_now_ns);
    fired = timer_advance(&wheel, test_now_ns, BUDGET_ALL);
    ck_assert_uint_eq(fired.count, 3);
    ck_assert(!fired.more);
    ck_assert_uint_eq(same_tick.fired_count, 1);
    ck_assert_uint_eq(past.fired_count, 1);
    ck_assert_uint_eq(echo.fired_count, 3);
    ck_assert_uint_eq(group_first_count, 1);
    ck_assert_uint_eq(timer_count(&wheel), 0);
    timer_wheel_destroy(&wheel);
}
END_TEST

/* Timers at and around every level boundary, from a start on and just before boundaries. */
START_TEST(test_cascade_every_level_boundary)
{
    enum { DELTA_COUNT = 9, COUNT = DELTA_COUNT * TIMER_LEVEL_COUNT };
    static struct probe probes[COUNT];
    static const uint64_t starts[] = {0, 1, 62, 63, 4094, 4095, 262143, SPAN_TICKS / 64 - 1};
    for (uint32_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
        struct timer_wheel wheel;
        timer_wheel_init(&wheel, 0, TICK_NS);
        advance_all(&wheel, (int64_t)starts[s] * TICK_NS, BUDGET_ALL);
        for (uint32_t level = 0; level < TIMER_LEVEL_COUNT; level++) {
            uint64_t unit = UINT64_C(1) << (level * TIMER_LEVEL_BITS);
            uint64_t deltas[DELTA_COUNT] = {unit - 1, unit, unit + 1, 2 * unit - 1, 2 * unit,
                                            63 * unit, 64 * unit - 1, 64 * unit, 64 * unit + 1};
            for (uint32_t d = 0; d < DELTA_COUNT; d++) {
                struct probe *probe = &probes[level * DELTA_COUNT + d];
                probe_init(probe);
                uint64_t tick = starts[s] + (deltas[d] == 0 ? 1 : deltas[d]);
                timer_arm(&wheel, &probe->entry, (int64_t)tick * TICK_NS - TICK_NS / 2);
            }
        }
        ck_assert_uint_eq(timer_count(&wheel), COUNT);
        drive_exact(&wheel, probes, COUNT, COUNT * TIMER_LEVEL_COUNT);
        timer_wheel_destroy(&wheel);
    }
}
END_TEST

/* Deadlines beyond the 2^36-tick span are clamped into the top level and re-cascaded. */
START_TEST(test_far_future_clamped)
{
    enum { COUNT = 8 };
    static struct probe probes[COUNT];
    static const uint64_t starts[] = {0, SPAN_TICKS - 2, SPAN_TICKS - 1, 3 * SPAN_TICKS / 2};
    for (uint32_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
        struct timer_wheel wheel;
        timer_wheel_init(&wheel, -5 * TICK_NS, TICK_NS);
        int64_t start_ns = (int64_t)starts[s] * TICK_NS - 5 * TICK_NS;
        advance_all(&wheel, start_ns, BUDGET_ALL);
        uint64_t deltas[COUNT] = {
            1, 2, SPAN_TICKS - 1, SPAN_TICKS, SPAN_TICKS + 1, 2 * SPAN_TICKS + 12345,
            3 * SPAN_TICKS + (SPAN_TICKS >> 1) + 7, 40 * SPAN_TICKS + 3};
        for (uint32_t i = 0; i < COUNT; i++) {
            probe_init(&probes[i]);
            timer_arm(&wheel, &probes[i].entry, start_ns + (int64_t)deltas[i] * TICK_NS - 1);
        }
        /* the farthest re-cascades once per 2^36-tick window */
        drive_exact(&wheel, probes, COUNT, COUNT * TIMER_LEVEL_COUNT + 50);
        /* one jump far past them all fires everything in one advance */
        for (uint32_t i = 0; i < COUNT; i++) {
            probe_init(&probes[i]);
            timer_arm(&wheel, &probes[i].entry, test_now_ns + (int64_t)deltas[i] * TICK_NS);
        }
        int64_t end_ns = test_now_ns + (int64_t)(50 * SPAN_TICKS) * TICK_NS;
        ck_assert_uint_eq(advance_all(&wheel, end_ns, BUDGET_ALL), COUNT);
        timer_wheel_destroy(&wheel);
    }
    /* a deadline at the end of time stays armed, asking only for a wake-up per re-cascade */
    struct timer_wheel wheel;
    timer_wheel_init(&wheel, 0, TICK_NS);
    probe_init(&probes[0]);
    timer_arm(&wheel, &probes[0].entry, INT64_MAX);
    ck_assert_int_ge(timer_next_deadline(&wheel), (int64_t)(SPAN_TICKS >> TIMER_LEVEL_BITS));
    ck_assert_uint_eq(advance_all(&wheel, INT64_MAX - 1, BUDGET_ALL), 0);
    ck_assert_int_eq(timer_next_deadline(&wheel), INT64_MAX);
    ck_assert_uint_eq(timer_count(&wheel), 1);
    timer_wheel_destroy(&wheel);
    ck_assert(!timer_armed(&probes[0].entry));
}
END_TEST

START_TEST(test_next_deadline)
{
    struct timer_wheel wheel;
    int64_t origin_ns = 777;
    timer_wheel_init(&wheel, origin_ns, TICK_NS);
    ck_assert_int_eq(timer_next_deadline(&wheel), INT64_MAX);
    struct probe near, far, past_probe;
    probe_init(&near);
    probe_init(&far);
    probe_init(&past_probe);
    /* within 64 ticks: exact, rounded up to the tick */
    timer_arm(&wheel, &near.entry, origin_ns + 5 * TICK_NS + TICK_NS / 2);
    ck_assert_int_eq(timer_next_deadline(&wheel), origin_ns + 6 * TICK_NS);
    /* farther: a lower bound no earlier than the next slot boundary */
    timer_arm(&wheel, &far.entry, origin_ns + 100000 * TICK_NS);
    ck_assert_int_eq(timer_next_deadline(&wheel), origin_ns + 6 * TICK_NS);
    timer_cancel(&wheel, &near.entry);
    int64_t next_ns = timer_next_deadline(&wheel);
    ck_assert_int_gt(next_ns, origin_ns);
    ck_assert_int_le(next_ns, origin_ns + 100000 * TICK_NS);
    /* in the past: wake at once */
    timer_arm(&wheel, &past_probe.entry, origin_ns - 1);
    ck_assert_int_le(timer_next_deadline(&wheel), origin_ns);
    ck_assert_uint_eq(advance_all(&wheel, origin_ns, BUDGET_ALL), 1);
    ck_assert_int_eq(timer_next_deadline(&wheel), next_ns);
    /* a clock before the origin, or going backwards, moves nothing */
    ck_assert_uint_eq(advance_all(&wheel, origin_ns - SEC_NS, BUDGET_ALL), 0);
    ck_assert_uint_eq(advance_all(&wheel, origin_ns + 99999 * TICK_NS, BUDGET_ALL), 0);
    ck_assert_int_eq(timer_next_deadline(&wheel), origin_ns + 100000 * TICK_NS);
    ck_assert_uint_eq(advance_all(&wheel, origin_ns + 50 * TICK_NS, BUDGET_ALL), 0);
    ck_assert_uint_eq(advance_all(&wheel, origin_ns + 100000 * TICK_NS, BUDGET_ALL), 1);
    ck_assert_int_eq(timer_next_deadline(&wheel), INT64_MAX);
    timer_wheel_destroy(&wheel);
}
END_TEST

START_TEST(test_budget)
{
    enum { COUNT = 100, BUDGET = 10, SPREAD_COUNT = 1000 };
    static struct probe probes[SPREAD_COUNT];
    struct timer_wheel wheel;
    timer_wheel_init(&wheel, 0, TICK_NS);
    for (uint32_t i = 0; i < COUNT; i++) {
        probe_init(&probes[i]);
        timer_arm(&wheel, &probes[i].entry, 3 * TICK_NS);
    }
    test_now_ns = 3 * TICK_NS;
    for (uint32_t call = 0; call < COUNT / BUDGET; call++) {
        struct timer_fired fired = timer_advance(&wheel, test_now_ns, BUDGET);
        ck_assert_uint_eq(fired.count, BUDGET);
        ck_assert(fired.more == (call + 1 < COUNT / BUDGET));
    }
    ck_assert_uint_eq(timer_count(&wheel), 0);
    /* a level-2 slot of 1000 timers: the cascade itself is bounded per call */
    for (uint32_t i = 0; i < SPREAD_COUNT; i++) {
        probe_init(&probes[i]);
        timer_arm(&wheel, &probes[i].entry, (10000 + i) * TICK_NS);
    }
    test_now_ns = 20000 * TICK_NS;
    uint32_t calls = 0;
    uint32_t first_fire_call = UINT32_MAX;
    uint64_t fired_count = 0;
    for (bool more = true; more; calls++) {
        ck_assert_uint_lt(calls, SPREAD_COUNT * 2);
        struct timer_fired fired = timer_advance(&wheel, test_now_ns, 1);
        ck_assert_uint_le(fired.count, 1);
        if (fired.count > 0 && first_fire_call == UINT32_MAX) {
            first_fire_call = calls;
        }
        fired_count += fired.count;
        more = fired.more;
    }
    ck_assert_uint_eq(fired_count, SPREAD_COUNT);
    ck_assert_uint_ge(calls, SPREAD_COUNT);
    /* the level-2 slot's thousand timers moved down a few per call before any fired */
    ck_assert_uint_ge(first_fire_call, SPREAD_COUNT / TIMER_MOVES_PER_FIRE);
    timer_wheel_destroy(&wheel);
}
END_TEST

START_TEST(test_destroy_unarms)
{
    struct timer_wheel wheel;
    timer_wheel_init(&wheel, 0, TICK_NS);
    struct probe probes[3];
    for (uint32_t i = 0; i < 3; i++) {
        probe_init(&probes[i]);
    }
    timer_arm(&wheel, &probes[0].entry, -1);
    timer_arm(&wheel, &probes[1].entry, 3 * TICK_NS);
    timer_arm(&wheel, &probes[2].entry, INT64_MAX);
    timer_wheel_destroy(&wheel);
    for (uint32_t i = 0; i < 3; i++) {
        ck_assert(!timer_armed(&probes[i].entry));
        ck_assert_uint_eq(probes[i].fired_count, 0);
    }
}
END_TEST

START_TEST(test_zero_tick_aborts)
{
    struct timer_wheel wheel;
    timer_wheel_init(&wheel, 0, 0);
}
END_TEST

START_TEST(test_zero_budget_aborts)
{
    struct timer_wheel wheel;
    timer_wheel_init(&wheel, 0, TICK_NS);
    timer_advance(&wheel, 0, 0);
}
END_TEST

START_TEST(test_null_callback_aborts)
{
    struct timer_entry entry;
    timer_entry_init(&entry, NULL, NULL);
}
END_TEST

/* ---- differential test against a linear model ---- */

enum {
    DIFF_TIMERS = 256,
    DIFF_OPS = 40000,
    DIFF_TICK_NS = 1000,
};

struct diff_model {
    bool armed;
    int64_t deadline_ns;
};

static struct {
    struct timer_wheel wheel;
    struct probe probes[DIFF_TIMERS];
    struct diff_model model[DIFF_TIMERS];
    uint64_t random_state;
    uint64_t model_count;
    uint64_t fired_total;
    bool callbacks_quiet; /* the final drain: callbacks arm and cancel nothing */
    int64_t advanced_max_ns; /* the latest now_ns given to timer_advance */
} diff;

/* A deadline relative to now: in the past, near, or at any level, sometimes beyond the span
 * or at the end of time, with a random offset within the tick. */
static int64_t diff_deadline(bool after_now)
{
    static const uint32_t range_bits[] = {3, 6, 12, 18, 24, 30, 37, 40};
    uint64_t roll = hash_sequence_next(&diff.random_state);
    uint32_t bits = range_bits[roll % 8];
    int64_t ticks = (int64_t)(hash_sequence_next(&diff.random_state) & ((UINT64_C(1) << bits) - 1));
    if (!after_now && roll % 16 == 0) {
        ticks = -ticks % 100;
    }
    if (roll % 997 == 0) {
        return INT64_MAX - (int64_t)(roll % 1000);
    }
    int64_t offset_ns = (int64_t)(hash_sequence_next(&diff.random_state) % DIFF_TICK_NS);
    return test_now_ns + ticks * DIFF_TICK_NS + offset_ns + (after_now ? 1 : 0);
}

static void diff_arm(uint32_t index, int64_t deadline_ns)
{
    if (!diff.model[index].armed) {
        diff.model_count++;
    }
    diff.model[index].armed = true;
    diff.model[index].deadline_ns = deadline_ns;
    timer_arm(&diff.wheel, &diff.probes[index].entry, deadline_ns);
}

static void diff_cancel(uint32_t index)
{
    if (diff.model[index].armed) {
        diff.model_count--;
    }
    diff.model[index].armed = false;
    timer_cancel(&diff.wheel, &diff.probes[index].entry);
}

static void diff_fired(struct timer_entry *entry, void *ctx)
{
    struct probe *probe = ctx;
    uint32_t index = (uint32_t)(probe - diff.probes);
    quiet_assert_uint_lt(index, DIFF_TIMERS);
    quiet_assert(diff.model[index].armed);
    quiet_assert_int_eq(entry->deadline_ns, diff.model[index].deadline_ns);
    /* the wheel's time never runs back: a clock that stepped back counts as its latest */
    int64_t wheel_now_ns = test_now_ns > diff.advanced_max_ns ? test_now_ns : diff.advanced_max_ns;
    quiet_assert(boundary_ns(&diff.wheel, entry->deadline_ns) <= wheel_now_ns);
    diff.model[index].armed = false;
    diff.model_count--;
    diff.fired_total++;
    if (diff.callbacks_quiet) {
        return;
    }
    uint64_t roll = hash_sequence_next(&diff.random_state) % 8;
    uint32_t other = (uint32_t)(hash_sequence_next(&diff.random_state) % DIFF_TIMERS);
    if (roll == 0) {
        diff_arm(index, diff_deadline(true)); /* re-arm itself, later */
    } else if (roll == 1) {
        diff_arm(other, diff_deadline(false)); /* maybe in the past: next advance */
    } else if (roll == 2) {
        diff_cancel(other);
    }
}

/* The wheel agrees with the model: counts, armed flags, and a next deadline no later than
 * the model's earliest rounded-up deadline, or than the latest advance when one is overdue
 * (a timer armed in the past asks for a wake-up at once, not at its own deadline). */
static void diff_check(void)
{
    quiet_assert_uint_eq(timer_count(&diff.wheel), diff.model_count);
    __int128 earliest = INT64_MAX;
    uint32_t mismatch_count = 0; /* counted, not asserted one by one: Check logs each assert */
    for (uint32_t i = 0; i < DIFF_TIMERS; i++) {
        mismatch_count += timer_armed(&diff.probes[i].entry) != diff.model[i].armed;
        if (diff.model[i].armed) {
            __int128 boundary = boundary_ns(&diff.wheel, diff.model[i].deadline_ns);
            earliest = boundary < earliest ? boundary : earliest;
        }
    }
    quiet_assert_uint_eq(mismatch_count, 0);
    int64_t next_ns = timer_next_deadline(&diff.wheel);
    quiet_assert(next_ns <= (earliest > diff.advanced_max_ns ? earliest : diff.advanced_max_ns));
    if (diff.model_count == 0) {
        quiet_assert_int_eq(next_ns, INT64_MAX);
    }
}

/* After an advance that left no work, nothing the model holds is due. */
static void diff_check_none_due(void)
{
    uint32_t overdue_count = 0;
    for (uint32_t i = 0; i < DIFF_TIMERS; i++) {
        __int128 boundary = boundary_ns(&diff.wheel, diff.model[i].deadline_ns);
        overdue_count += diff.model[i].armed && boundary <= diff.advanced_max_ns;
    }
    quiet_assert_uint_eq(overdue_count, 0);
}

static void diff_advance(void)
{
    static const uint32_t step_bits[] = {0, 4, 7, 10, 14, 20, 31, 38};
    uint64_t roll = hash_sequence_next(&diff.random_state);
    int64_t next_ns = timer_next_deadline(&diff.wheel);
    if (roll % 4 == 0 && next_ns != INT64_MAX) {
        test_now_ns = next_ns > test_now_ns ? next_ns : test_now_ns;
    } else if (roll % 31 == 1) {
        test_now_ns -= (int64_t)(roll % 5000); /* the clock stepping back */
    } else {
        uint32_t bits = step_bits[(roll >> 8) % 8];
        uint64_t step = hash_sequence_next(&diff.random_state) & ((UINT64_C(1) << bits) - 1);
        test_now_ns += (int64_t)step * (DIFF_TICK_NS / 4);
    }
    uint32_t budget = (roll >> 16) % 3 == 0 ? 1 + (uint32_t)((roll >> 20) % 4) : BUDGET_ALL;
    if (test_now_ns > diff.advanced_max_ns) {
        diff.advanced_max_ns = test_now_ns;
    }
    struct timer_fired fired = timer_advance(&diff.wheel, test_now_ns, budget);
    quiet_assert_uint_le(fired.count, budget);
    if (!fired.more) {
        diff_check_none_due();
    }
}

static void diff_run(int64_t origin_ns, uint64_t seed)
{
    memset(&diff, 0, sizeof diff);
    diff.random_state = seed;
    test_now_ns = origin_ns;
    diff.advanced_max_ns = origin_ns;
    timer_wheel_init(&diff.wheel, origin_ns, DIFF_TICK_NS);
    for (uint32_t i = 0; i < DIFF_TIMERS; i++) {
        timer_entry_init(&diff.probes[i].entry, diff_fired, &diff.probes[i]);
    }
    for (uint32_t op = 0; op < DIFF_OPS; op++) {
        uint64_t roll = hash_sequence_next(&diff.random_state) % 100;
        uint32_t index = (uint32_t)(hash_sequence_next(&diff.random_state) % DIFF_TIMERS);
        if (roll < 40) {
            diff_arm(index, diff_deadline(false));
        } else if (roll < 55) {
            diff_cancel(index);
        } else {
            diff_advance();
        }
        diff_check();
    }
    /* everything left fires when the clock runs far enough, none early */
    for (uint32_t i = 0; i < DIFF_TIMERS; i++) {
        if (diff.model[i].armed && diff.model[i].deadline_ns > INT64_MAX - SEC_NS) {
            diff_cancel(i);
        }
    }
    diff.callbacks_quiet = true;
    advance_all(&diff.wheel, INT64_MAX - SEC_NS, BUDGET_ALL);
    diff_check();
    ck_assert_uint_eq(diff.model_count, 0);
    ck_assert_uint_gt(diff.fired_total, DIFF_OPS / 20);
    timer_wheel_destroy(&diff.wheel);
}

START_TEST(test_differential)
{
    diff_run(0, 1);
    diff_run(-123456789012345, 2);
    diff_run(987654321, 3);
}
END_TEST

/* ---- a million timers ---- */

enum { MILLION = 1000000, MILLION_SPREAD_MS = 10000, MILLION_BUDGET = 4096 };

static uint64_t million_fired_count;
static uint64_t million_early_count;

static void million_fired(struct timer_entry *entry, void *ctx)
{
    million_fired_count++;
    million_early_count += test_now_ns < entry->deadline_ns;
}

START_TEST(test_million)
{
    struct timer_entry *entries = calloc(MILLION, sizeof *entries);
    ck_assert_ptr_nonnull(entries);
    struct timer_wheel wheel;
    timer_wheel_init(&wheel, 0, TICK_NS);
    uint64_t random_state = 42;
    for (uint32_t i = 0; i < MILLION; i++) {
        timer_entry_init(&entries[i], million_fired, NULL);
        uint64_t offset_ns = hash_sequence_next(&random_state) % ((uint64_t)MILLION_SPREAD_MS * TICK_NS);
        timer_arm(&wheel, &entries[i], (int64_t)offset_ns + 1);
    }
    ck_assert_uint_eq(timer_count(&wheel), MILLION);
    for (uint32_t i = 1; i < MILLION; i += 2) {
        timer_cancel(&wheel, &entries[i]);
    }
    ck_assert_uint_eq(timer_count(&wheel), MILLION / 2);
    million_fired_count = 0;
    million_early_count = 0;
    for (int64_t now_ns = 0; now_ns <= (MILLION_SPREAD_MS + 1) * TICK_NS; now_ns += TICK_NS) {
        advance_all(&wheel, now_ns, MILLION_BUDGET);
        ck_assert_uint_eq(timer_count(&wheel), MILLION / 2 - million_fired_count);
    }
    ck_assert_uint_eq(million_fired_count, MILLION / 2);
    ck_assert_uint_eq(million_early_count, 0);
    ck_assert_uint_eq(timer_count(&wheel), 0);
    /* a million at one deadline an hour ahead, then all cancelled */
    int64_t hour_ns = 3600 * SEC_NS;
    for (uint32_t i = 0; i < MILLION; i++) {
        timer_arm(&wheel, &entries[i], test_now_ns + hour_ns);
    }
    ck_assert_uint_eq(timer_count(&wheel), MILLION);
    ck_assert_int_gt(timer_next_deadline(&wheel), test_now_ns);
    for (uint32_t i = 0; i < MILLION; i++) {
        timer_cancel(&wheel, &entries[i]);
    }
    ck_assert_uint_eq(timer_count(&wheel), 0);
    ck_assert_int_eq(timer_next_deadline(&wheel), INT64_MAX);
    /* a million at one deadline expire through one slot's cascade, budget by budget */
    for (uint32_t i = 0; i < MILLION; i++) {
        timer_arm(&wheel, &entries[i], test_now_ns + 30 * SEC_NS);
    }
    ck_assert_uint_eq(advance_all(&wheel, test_now_ns + 30 * SEC_NS, MILLION_BUDGET),
                      MILLION);
    ck_assert_uint_eq(million_fired_count, MILLION / 2 + MILLION);
    ck_assert_uint_eq(million_early_count, 0);
    ck_assert_uint_eq(timer_count(&wheel), 0);
    timer_wheel_destroy(&wheel);
    free(entries);
}
END_TEST

static Suite *timer_suite(void)
{
    Suite *suite = suite_create("timer");
    TCase *tc = tcase_create("timer");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_never_early_within_one_tick);
    tcase_add_test(tc, test_cancel_is_idempotent);
    tcase_add_test(tc, test_cancel_while_due_or_cascading);
    tcase_add_test(tc, test_rearm_moves);
    tcase_add_test(tc, test_rearm_from_callback);
    tcase_add_test(tc, test_arm_from_callback_into_current_slot);
    tcase_add_test(tc, test_cascade_every_level_boundary);
    tcase_add_test(tc, test_far_future_clamped);
    tcase_add_test(tc, test_next_deadline);
    tcase_add_test(tc, test_budget);
    tcase_add_test(tc, test_destroy_unarms);
    tcase_add_test_raise_signal(tc, test_zero_tick_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, test_zero_budget_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, test_null_callback_aborts, SIGABRT);
    tcase_add_test(tc, test_differential);
    tcase_add_test(tc, test_million);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(timer_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
