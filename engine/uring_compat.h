/* What liburing 2.3 (Debian 12) lacks, in one place.
 *
 * The engine is the only code that includes liburing; this header is the only place that
 * knows which liburing version that is. Each block below names the feature it fills in.
 * Kernel support for optional features is probed at run time, not assumed. */
#ifndef IONATS_ENGINE_URING_COMPAT_H
#define IONATS_ENGINE_URING_COMPAT_H

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <sys/mman.h>

/* Flags of io_uring_setup that the kernel headers of liburing 2.3 may not name. */
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

/* io_uring_setup_buf_ring arrived in liburing 2.4: map the ring and register it. */
static inline struct io_uring_buf_ring *compat_buf_ring_setup(struct io_uring *ring,
                                                              unsigned entries, int group,
                                                              int *error)
{
    size_t size = entries * sizeof(struct io_uring_buf);
    void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (memory == MAP_FAILED) {
        *error = -errno;
        return NULL;
    }
    struct io_uring_buf_ring *buf_ring = memory;
    io_uring_buf_ring_init(buf_ring);
    struct io_uring_buf_reg reg = {
        .ring_addr = (unsigned long)buf_ring,
        .ring_entries = entries,
        .bgid = (unsigned short)group,
    };
    int rc = io_uring_register_buf_ring(ring, &reg, 0);
    if (rc != 0) {
        munmap(memory, size);
        *error = rc;
        return NULL;
    }
    *error = 0;
    return buf_ring;
}

static inline void compat_buf_ring_free(struct io_uring *ring, struct io_uring_buf_ring *buf_ring,
                                        unsigned entries, int group)
{
    io_uring_unregister_buf_ring(ring, group);
    munmap(buf_ring, entries * sizeof(struct io_uring_buf));
}

#endif
