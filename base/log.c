/* Logging and assertion reporting: see log.h and assert.h.
 *
 * The configuration below is written by main before threads start and only read after,
 * which is why it may live at file scope; the shard index is thread-local. */
#include "base/log.h"
#include "base/assert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Longest log line; longer messages are cut, never split across writes. */
enum { LOG_LINE_SIZE_MAX = 2048 };

static int log_fd = 2;                                   /* set once, before threads */
static enum log_level log_level_max = LOG_LEVEL_INFO;    /* set once, before threads */
static _Thread_local int log_shard_index = -1;

static const char *const log_level_names[] = {"ERR", "WRN", "INF", "DBG", "TRC"};

void log_configure(int fd, enum log_level level_max)
{
    ASSERT(fd >= 0);
    ASSERT(level_max <= LOG_LEVEL_TRACE);
    log_fd = fd;
    log_level_max = level_max;
}

int log_enabled(enum log_level level)
{
    return level <= log_level_max;
}

void log_set_thread_shard(int shard_index)
{
    log_shard_index = shard_index;
}

int log_thread_shard(void)
{
    return log_shard_index;
}

static size_t log_prefix(char *line, size_t size, enum log_level level)
{
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    char shard[16] = "-";
    if (log_shard_index >= 0) {
        snprintf(shard, sizeof shard, "%d", log_shard_index);
    }
    int n = snprintf(line, size, "%04d/%02d/%02d %02d:%02d:%02d.%06ld [%s] [shard %s] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, now.tv_nsec / 1000, log_level_names[level], shard);
    return n < 0 ? 0 : ((size_t)n < size ? (size_t)n : size - 1);
}

void log_write(enum log_level level, const char *format, ...)
{
    if (!log_enabled(level)) {
        return;
    }
    char line[LOG_LINE_SIZE_MAX];
    size_t used = log_prefix(line, sizeof line, level);
    va_list args;
    va_start(args, format);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start just above
    int n = vsnprintf(line + used, sizeof line - used - 1, format, args);
    va_end(args);
    if (n > 0) {
        used += (size_t)n < sizeof line - used - 1 ? (size_t)n : sizeof line - used - 2;
    }
    line[used++] = '\n';
    ssize_t written = write(log_fd, line, used);
    (void)written; /* a log line that cannot be written has nowhere else to go */
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
