/* C side of the store micro benchmarks: a stream store in a temporary directory (or in
 * memory), driven the way a shard drives it: over the engine's io_uring store_io, with
 * completions reaped without waiting at the end of each turn, and waited for only when
 * back-pressure (pending_bytes_max) refuses an append.
 *
 * The one idea: a shard appends every stored publish of a loop turn, then flushes once, and
 * the store turns the turn into one write (and under `always` one fdatasync); so the
 * append benchmark appends `msgs_per_turn` messages, flushes and reaps the completions,
 * and counts messages. One thread; the C++ harness never sees a store header. */
#ifndef IONATS_TESTS_STORE_STORE_SHIM_H
#define IONATS_TESTS_STORE_STORE_SHIM_H

#include <stdint.h>

/* Policies, as stream_store.h numbers them. */
enum store_shim_sync { STORE_SHIM_SYNC_NONE = 0, STORE_SHIM_SYNC_INTERVAL = 1,
                       STORE_SHIM_SYNC_ALWAYS = 2 };

struct store_shim;

/* A fresh store under a new mkdtemp directory (in memory with `memory`), 64 MiB segments,
 * retention max_bytes `max_bytes` (0: none) so that long runs drop old segments instead of
 * filling the disk. Aborts on failure. */
struct store_shim *store_shim_create(enum store_shim_sync sync, int memory, uint64_t max_bytes);

/* A fresh store for the per-subject limit benchmark: as store_shim_create with sync none and
 * no max_bytes, but with max_msgs_per_subject `max_msgs_per_subject` and appends on
 * `key_count` subjects "kv.<n>" (a key-value bucket) instead of the 8 fixed ones. The first
 * 2 * key_count appends go through the keys in order twice (each key reaches a limit of one,
 * then has its first message replaced once); after that, with `random_keys` each append
 * draws its key at random (any key may be written next, so the message a key replaces
 * lies anywhere in the log), else the keys keep cycling in order (the message replaced is
 * always the oldest in the stream). */
struct store_shim *store_shim_create_keyed(int memory, uint64_t max_msgs_per_subject,
                                           uint32_t key_count, int random_keys);

/* Closes the store and removes its directory. */
void store_shim_destroy(struct store_shim *shim);

/* One loop turn: appends `msg_count` messages of `payload_bytes` on 8 subjects (or on the
 * keys of store_shim_create_keyed, in turn), flushes, ticks (the interval datasync), runs
 * the completions. Returns the last sequence appended. */
uint64_t store_shim_turn(struct store_shim *shim, uint32_t msg_count, uint32_t payload_bytes);

/* Reads message `seq` (held); returns its payload length. */
uint32_t store_shim_get(struct store_shim *shim, uint64_t seq);

/* Closes and reopens the store (recovery); returns the last sequence found. */
uint64_t store_shim_reopen(struct store_shim *shim);

uint64_t store_shim_last_seq(const struct store_shim *shim);
uint64_t store_shim_index_bytes(const struct store_shim *shim);
/* Waits until every message appended is as durable as the policy makes it; returns the
 * last sequence the store reported committed. */
uint64_t store_shim_drain(struct store_shim *shim);

uint64_t store_shim_datasync_count(const struct store_shim *shim);

#endif
