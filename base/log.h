/* Logging with levels, to stderr or a file.
 *
 * The level and the destination are set once by main before any shard starts and are
 * read-only afterwards, so every thread may log without locks. Each line is written with a
 * single write(2), which keeps lines from different shards whole. Lines carry a UTC time,
 * the level and the shard index of the calling thread (`-` for the main thread). */
#ifndef IONATS_BASE_LOG_H
#define IONATS_BASE_LOG_H

#include <stdarg.h>

enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN = 1,
    LOG_LEVEL_INFO = 2,
    LOG_LEVEL_DEBUG = 3,
    LOG_LEVEL_TRACE = 4,
};

/* Sets where lines go (a file descriptor the caller keeps open) and the most verbose level
 * that is written. Call before starting threads. */
void log_configure(int fd, enum log_level level_max);

/* True when lines at `level` are written: lets callers skip formatting trace output. */
int log_enabled(enum log_level level);

/* The shard index printed in log lines and assertion failures for this thread; -1 = main. */
void log_set_thread_shard(int shard_index);
int log_thread_shard(void);

void log_write(enum log_level level, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#define LOG_ERROR(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)
#define LOG_WARN(...) log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_INFO(...) log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_DEBUG(...)                                                                     \
    do {                                                                                   \
        if (log_enabled(LOG_LEVEL_DEBUG)) {                                                \
            log_write(LOG_LEVEL_DEBUG, __VA_ARGS__);                                       \
        }                                                                                  \
    } while (0)
#define LOG_TRACE(...)                                                                     \
    do {                                                                                   \
        if (log_enabled(LOG_LEVEL_TRACE)) {                                                \
            log_write(LOG_LEVEL_TRACE, __VA_ARGS__);                                       \
        }                                                                                  \
    } while (0)

#endif
