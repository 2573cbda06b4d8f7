/* C side of the timer wheel micro benchmark: a wheel, a million intrusive timers and their
 * deadlines, drawn once outside the timed loops.
 *
 * The one idea: every call works on all `count` timers, so the figure per timer includes the
 * cache misses of a million 56-byte entries scattered over 56 MB, as a shard with a million
 * connections would see. Deadlines are spread uniformly over `spread_ms` after the shim's
 * fake clock, with a 1 ms tick; each call moves the fake clock past what it expired. One
 * thread only. */
#ifndef IONATS_BENCH_MICRO_TIMER_SHIM_H
#define IONATS_BENCH_MICRO_TIMER_SHIM_H

#include <stdint.h>

struct timer_shim;

struct timer_shim *timer_shim_create(uint32_t count, uint32_t spread_ms);
void timer_shim_destroy(struct timer_shim *shim);

/* Arms every timer, then cancels every one (in another order). Returns a checksum. */
uint64_t timer_shim_arm_cancel(struct timer_shim *shim);

/* Arms every timer, then re-arms every armed one to another deadline, then cancels them.
 * Returns a checksum. */
uint64_t timer_shim_arm_rearm_cancel(struct timer_shim *shim);

/* Arms every timer, then moves the fake clock to each timer_next_deadline and advances (as a
 * loop that sleeps until then would), 4096 callbacks a turn, until every one fired.
 * Returns how many fired. */
uint64_t timer_shim_arm_expire(struct timer_shim *shim);

#endif
