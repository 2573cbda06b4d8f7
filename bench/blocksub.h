/* Blocking subscribers (--blocking-subs): the receive side written the way a naive
 * application would write it, one thread per subscriber connection, each with a plain
 * blocking socket and a modest read buffer.
 *
 * The one idea: a reader thread does nothing but read() → scan (scan.h, the same counting as
 * the io_uring subscribers) → publish its count, answering server PINGs in between, so it
 * takes messages as fast as one thread with blocking reads can. Everything else — the
 * deadline, knowing when every delivery is in, failing on lost messages — is left to one
 * coordinator thread, which runs the receive side's usual checks (side_watch) on the
 * readers' counts every SIDE_TICK_NS and, once the run is over, wakes every reader still
 * blocked in read() by shutting its socket down.
 *
 * Threads: the main thread builds a blocksub (init, then open per connection), starts it,
 * joins it with side_join and destroys it. Between start and join the coordinator is the
 * only thread touching the `struct side` (whose result report.c prints); each reader
 * touches its own reader only, and the two meet in the atomics named in blocksub.c. */
#ifndef IONATS_BENCH_BLOCKSUB_H
#define IONATS_BENCH_BLOCKSUB_H

#include "bench/side.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

enum {
    /* One read() moves at most this much: what a simple client would pick, far below the
     * io_uring subscribers' CONN_RX_DATA_SIZE. */
    BLOCKSUB_RX_SIZE = 32 * 1024,
    /* Against false sharing, including the adjacent-line prefetcher. */
    BLOCKSUB_LINE_SIZE = 128,
};

struct blocksub_reader;

/* Owned by the main thread; `stop` is shared with the readers (see blocksub.c). */
struct blocksub {
    struct side *side;               /* borrowed: the receive side, initialised by side_init */
    struct blocksub_reader *readers; /* owned: side->conn_count of them */
    unsigned reader_count;
    /* Set once by the coordinator when the run is over, before it shuts the sockets down. */
    alignas(BLOCKSUB_LINE_SIZE) _Atomic bool stop;
};

/* Prepares readers for every connection of `side` (SIDE_KIND_RECEIVE, side_init done).
 * Returns 0 or -ENOMEM. */
int blocksub_init(struct blocksub *blocksub, struct side *side);

/* Takes ownership of `fd`, connected and subscribed by client_open, as reader `index`;
 * `leftover` is what the handshake read past its PONG. */
void blocksub_open(struct blocksub *blocksub, unsigned index, int fd, const char *leftover,
                   size_t leftover_size);

/* Starts the coordinator as side->thread (join it with side_join), which starts the readers.
 * Returns 0 or -errno. */
int blocksub_start(struct blocksub *blocksub);

/* Closes every socket and frees the readers; after side_join, or when never started. */
void blocksub_destroy(struct blocksub *blocksub);

#endif
