/* An LD_PRELOAD shim for test_config's start-up tests: the listen() call numbered
 * $IONATS_TEST_LISTEN_FAIL_AT (1 = the first of the process) fails with EPERM; every other
 * call, and every call when the variable is unset, goes to the C library's listen().
 *
 * EPERM is the one errno whose negation is -1, the value a shard's listen_fd has when it
 * has no listener: the case the broker must not confuse. ionats calls listen() from its
 * main thread only, but the count is atomic so that any caller gets a number of its own. */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>

int listen(int fd, int backlog)
{
    static atomic_int calls;
    /* relaxed: a counter, nothing is published through it */
    int call = atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed) + 1;
    const char *fail_at = getenv("IONATS_TEST_LISTEN_FAIL_AT");
    if (fail_at != NULL && atoi(fail_at) == call) {
        errno = EPERM;
        return -1;
    }
    int (*real_listen)(int, int) = (int (*)(int, int))dlsym(RTLD_NEXT, "listen");
    if (real_listen == NULL) {
        errno = ENOSYS;
        return -1;
    }
    return real_listen(fd, backlog);
}
