/* A preloaded shim for test_crash_fsync: makes fdatasync(2) and fsync(2) fail with EIO on
 * files under the path named by $IONATS_FSYNC_FAIL_MATCH (a substring of the file's path)
 * once the file named by $IONATS_FSYNC_FAIL_TRIGGER exists, so a test chooses the moment a
 * disk starts failing and which stream it hits. Reaches only what calls libc's functions:
 * the epoll backend's store thread (io_uring's fsync never passes through libc). Any
 * thread. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fdatasync(int fd);
int fsync(int fd);

static int should_fail(int fd)
{
    const char *match = getenv("IONATS_FSYNC_FAIL_MATCH");
    const char *trigger = getenv("IONATS_FSYNC_FAIL_TRIGGER");
    if (match == NULL || trigger == NULL || access(trigger, F_OK) != 0) {
        return 0;
    }
    char link[64];
    char path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) {
        return 0;
    }
    path[n] = '\0';
    return strstr(path, match) != NULL;
}

int fdatasync(int fd)
{
    if (should_fail(fd)) {
        errno = EIO;
        return -1;
    }
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    return real(fd);
}

int fsync(int fd)
{
    if (should_fail(fd)) {
        errno = EIO;
        return -1;
    }
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    return real(fd);
}
