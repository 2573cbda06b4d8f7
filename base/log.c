/* Logging and assertion reporting: see log.h and assert.h.
 *
 * The settings below are written by main before threads start and only read after, which
 * is why they may live at file scope; the shard index is thread-local. What changes while
 * the shards run is the file behind log_fd (never the number: see log.h), the count of
 * bytes in it (a relaxed atomic: an estimate that decides when to rotate), and who is
 * swapping the file (an atomic flag, so a rotation by a shard and a reopen by main never
 * run at once). */
#include "base/log.h"
#include "base/assert.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Longest log line; longer messages are cut, never split across writes. */
enum { LOG_LINE_SIZE_MAX = 2048 };

/* nats-server's log file mode (logger/log.go, defaultLogPerms). */
#define LOG_FILE_MODE 0640

static int log_fd = 2;                                   /* set once, before threads */
/* relaxed: a reload (-D, -V) changes it; a line decided under the old level is harmless */
static _Atomic int log_level_max = LOG_LEVEL_INFO;
/* relaxed: a reload (-T, logtime_utc) changes them; a line stamped the old way is harmless */
static _Atomic bool log_time = true;
static _Atomic bool log_time_utc = false;
/* NULL: not a file. Set before threads; moved by a reload (log_file_move) while holding
 * log_file_busy, under which the rotation on any thread reads it; main, the only writer,
 * reads it freely. */
static const char *log_path = NULL;
static char *log_path_moved = NULL; /* owned: log_path after a move; main thread only */
static int64_t log_size_limit = 0;       /* set once, before threads; 0: never rotate */
static _Thread_local int log_shard_index = -1;

/* Bytes in the current log file, counted only with a size limit. Relaxed: it pairs with
 * nothing, it is an estimate (a line another thread writes while the file is swapped may be
 * counted in the wrong file), and the swap itself is ordered by log_file_busy. */
static _Atomic int64_t log_file_bytes = 0;
/* Held while the file behind log_fd is swapped (rotation on any thread, reopen on main):
 * test_and_set with acquire pairs with the release clear of the previous holder, so the
 * next holder sees the count that one left. */
static atomic_flag log_file_busy = ATOMIC_FLAG_INIT;

static const char *const log_level_names[] = {"FTL", "ERR", "WRN", "INF", "DBG", "TRC"};
STATIC_ASSERT(sizeof log_level_names / sizeof log_level_names[0] == LOG_LEVEL_TRACE + 1,
              "a name for every level");

void log_configure(int fd, enum log_level level_max)
{
    ASSERT(fd >= 0);
    ASSERT(level_max <= LOG_LEVEL_TRACE);
    log_fd = fd;
    log_set_level(level_max);
}

void log_set_level(enum log_level level_max)
{
    ASSERT(level_max <= LOG_LEVEL_TRACE);
    atomic_store_explicit(&log_level_max, (int)level_max, memory_order_relaxed);
}

void log_configure_time(bool time, bool utc)
{
    atomic_store_explicit(&log_time, time, memory_order_relaxed);
    atomic_store_explicit(&log_time_utc, utc, memory_order_relaxed);
    tzset(); /* once here: localtime_r need not read TZ on every line */
}

static int log_file_open(const char *path, int64_t *size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, LOG_FILE_MODE);
    if (fd < 0) {
        return -errno;
    }
    struct stat st;
    *size = fstat(fd, &st) == 0 ? (int64_t)st.st_size : 0;
    return fd;
}

int log_configure_file(const char *path, int64_t size_limit, enum log_level level_max)
{
    ASSERT(path != NULL);
    ASSERT(size_limit >= 0);
    int64_t size = 0;
    int fd = log_file_open(path, &size);
    if (fd < 0) {
        return fd;
    }
    log_configure(fd, level_max);
    log_path = path;
    log_size_limit = size_limit;
    atomic_store_explicit(&log_file_bytes, size, memory_order_relaxed);
    return fd;
}

int log_enabled(enum log_level level)
{
    return (int)level <= atomic_load_explicit(&log_level_max, memory_order_relaxed);
}

void log_set_thread_shard(int shard_index)
{
    log_shard_index = shard_index;
}

int log_thread_shard(void)
{
    return log_shard_index;
}

/* `[pid] 2026/12/07 16:37:35.123456 [INF] `, or `[pid] [INF] ` with the time off. */
static size_t log_prefix(char *line, size_t size, enum log_level level)
{
    int n = 0;
    if (atomic_load_explicit(&log_time, memory_order_relaxed)) {
        struct timespec now;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &now);
        if (atomic_load_explicit(&log_time_utc, memory_order_relaxed)) {
            gmtime_r(&now.tv_sec, &tm);
        } else {
            localtime_r(&now.tv_sec, &tm);
        }
        n = snprintf(line, size, "[%d] %04d/%02d/%02d %02d:%02d:%02d.%06ld [%s] ", (int)getpid(),
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, now.tv_nsec / 1000, log_level_names[level]);
    } else {
        n = snprintf(line, size, "[%d] [%s] ", (int)getpid(), log_level_names[level]);
    }
    return n < 0 ? 0 : ((size_t)n < size ? (size_t)n : size - 1);
}

/* Formats one line into `line` (LOG_LINE_SIZE_MAX bytes); returns its length in bytes. */
static size_t log_line_format(char *line, enum log_level level, const char *format,
                              va_list args)
{
    size_t used = log_prefix(line, LOG_LINE_SIZE_MAX, level);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): each caller's va_start
    int n = vsnprintf(line + used, LOG_LINE_SIZE_MAX - used - 1, format, args);
    if (n > 0) {
        used += (size_t)n < LOG_LINE_SIZE_MAX - used - 1 ? (size_t)n : LOG_LINE_SIZE_MAX - used - 2;
    }
    line[used++] = '\n';
    return used;
}

/* Writes one line to `fd`; returns its length in bytes. */
static size_t log_line(int fd, enum log_level level, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static size_t log_line(int fd, enum log_level level, const char *format, ...)
{
    char line[LOG_LINE_SIZE_MAX];
    va_list args;
    va_start(args, format);
    size_t used = log_line_format(line, level, format, args);
    va_end(args);
    ssize_t written = write(fd, line, used);
    (void)written; /* a log line that cannot be written has nowhere else to go */
    return used;
}

/* Puts `fd` (a file at log_path) behind log_fd. 0 or -errno; `fd` is closed either way. */
static int log_file_swap(int fd)
{
    int rc = dup3(fd, log_fd, O_CLOEXEC) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

/* Moves the full file aside as nats-server names its backups (its local time, to the
 * nanosecond) and starts a new one whose first line names the backup: written before the
 * new file goes behind log_fd, so no other thread's line comes before it. Holds
 * log_file_busy. A failure is said in the file that stays, and the count starts again, so
 * the next try comes after another size_limit bytes rather than at every line. */
static void log_rotate(void)
{
    char backup[PATH_MAX];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    localtime_r(&now.tv_sec, &tm);
    snprintf(backup, sizeof backup, "%s.%04d.%02d.%02d.%02d.%02d.%02d.%09ld", log_path,
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             now.tv_nsec);
    size_t used = 0;
    int64_t size = 0;
    int fd = -1;
    if (rename(log_path, backup) != 0) {
        used = log_line(log_fd, LOG_LEVEL_ERROR, "Unable to rotate logfile \"%s\" to \"%s\": %s",
                        log_path, backup, strerror(errno));
    } else if ((fd = log_file_open(log_path, &size)) < 0) {
        /* nats-server panics here; ionats goes on logging into the backup */
        used = log_line(log_fd, LOG_LEVEL_ERROR,
                        "Unable to re-open the logfile \"%s\" after rotation: %s", log_path,
                        strerror(-fd));
    } else {
        used = log_line(fd, LOG_LEVEL_INFO, "Rotated log, backup saved as \"%s\"", backup);
        int rc = log_file_swap(fd);
        if (rc != 0) {
            used = log_line(log_fd, LOG_LEVEL_ERROR, "Unable to switch to the new logfile "
                            "\"%s\": %s", log_path, strerror(-rc));
        }
    }
    atomic_store_explicit(&log_file_bytes, size + (int64_t)used, memory_order_relaxed);
}

/* Counts a line written to the file and rotates the file once it is over the limit; the
 * thread that finds it over takes log_file_busy, the others go on (into the old file or
 * the new one). */
static void log_count(size_t used)
{
    int64_t total = atomic_fetch_add_explicit(&log_file_bytes, (int64_t)used,
                                              memory_order_relaxed) +
                    (int64_t)used;
    if (total <= log_size_limit) {
        return;
    }
    if (atomic_flag_test_and_set_explicit(&log_file_busy, memory_order_acquire)) {
        return; /* being swapped: the holder resets the count */
    }
    /* again under the flag: the previous holder may have rotated since this line's count */
    if (atomic_load_explicit(&log_file_bytes, memory_order_relaxed) > log_size_limit) {
        log_rotate();
    }
    atomic_flag_clear_explicit(&log_file_busy, memory_order_release);
}

int log_reopen(void)
{
    if (log_path == NULL) {
        LOG_INFO("File log re-open ignored, not a file logger");
        return 0;
    }
    /* a rotation in progress on a shard holds the flag for one rename and one open */
    while (atomic_flag_test_and_set_explicit(&log_file_busy, memory_order_acquire)) {
        sched_yield();
    }
    int64_t size = 0;
    int rc = log_file_open(log_path, &size);
    if (rc >= 0) {
        rc = log_file_swap(rc);
    }
    if (rc == 0) {
        atomic_store_explicit(&log_file_bytes, size, memory_order_relaxed);
    }
    atomic_flag_clear_explicit(&log_file_busy, memory_order_release);
    if (rc != 0) {
        LOG_ERROR("Unable to re-open the logfile \"%s\": %s", log_path, strerror(-rc));
        return rc;
    }
    LOG_INFO("File log re-opened");
    return 0;
}

int log_file_move(const char *path)
{
    ASSERT(path != NULL);
    ASSERT(log_path != NULL);
    char *copy = strdup(path);
    if (copy == NULL) {
        return -ENOMEM;
    }
    int64_t size = 0;
    int fd = log_file_open(path, &size);
    if (fd < 0) {
        free(copy);
        return fd;
    }
    while (atomic_flag_test_and_set_explicit(&log_file_busy, memory_order_acquire)) {
        sched_yield(); /* a rotation holds it for one rename and one open */
    }
    int rc = log_file_swap(fd);
    char *replaced = copy;
    if (rc == 0) {
        replaced = log_path_moved;
        log_path_moved = copy;
        log_path = copy;
        atomic_store_explicit(&log_file_bytes, size, memory_order_relaxed);
    }
    atomic_flag_clear_explicit(&log_file_busy, memory_order_release);
    free(replaced);
    return rc;
}

void log_write(enum log_level level, const char *format, ...)
{
    if (!log_enabled(level)) {
        return;
    }
    char line[LOG_LINE_SIZE_MAX];
    va_list args;
    va_start(args, format);
    size_t used = log_line_format(line, level, format, args);
    va_end(args);
    ssize_t written = write(log_fd, line, used);
    (void)written; /* a log line that cannot be written has nowhere else to go */
    if (log_size_limit > 0) {
        log_count(used);
    }
}

void assert_fail(const char *expression, const char *file, int line)
{
    char text[LOG_LINE_SIZE_MAX];
    int n = snprintf(text, sizeof text, "assertion failed: %s at %s:%d (shard %d)\n",
                     expression, file, line, log_shard_index);
    if (n > 0) {
        ssize_t written = write(2, text, strnlen(text, sizeof text));
        if (log_fd != 2) {
            written = write(log_fd, text, strnlen(text, sizeof text));
        }
        (void)written;
    }
    abort();
}
