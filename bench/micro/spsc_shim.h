/* C shim over base/spsc.h for the C++ benchmark (C++ must not see _Atomic).
 *
 * Single thread: one call moves `count` records through the ring, publishing and
 * consuming after every record (unbatched) or once per `batch` records (batched), so the
 * difference is the cost of the release/acquire pair per publish. Two threads: a producer
 * thread and the calling consumer move `count` records and return the elapsed ns. */
#ifndef IONATS_BENCH_MICRO_SPSC_SHIM_H
#define IONATS_BENCH_MICRO_SPSC_SHIM_H

#include <stdint.h>

struct spsc_shim;

struct spsc_shim *spsc_shim_create(uint64_t ring_bytes, uint32_t record_bytes);
void spsc_shim_destroy(struct spsc_shim *shim);

/* Moves `count` records on this thread, publishing every `batch` records. Returns a
 * checksum of what was read (to keep the work). */
uint64_t spsc_shim_single_thread(struct spsc_shim *shim, uint32_t count, uint32_t batch);

/* Producer thread → this thread, `count` records published every `batch`. Returns ns. */
uint64_t spsc_shim_two_threads(struct spsc_shim *shim, uint64_t count, uint32_t batch);

#endif
