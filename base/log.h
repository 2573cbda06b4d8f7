/* Logging with levels, to stderr or a file, in nats-server's line format.
 *
 * A line is `[pid] 2026/12/07 16:37:35.123456 [INF] text` (local time, or UTC with
 * log_configure_time's `utc`), or `[pid] [INF] text` with the time off (-T=false), as
 * nats-server writes it. The level, the format and the file's name are set once by main
 * before any shard starts and are read-only afterwards, so every thread may log without
 * locks. Each line is written with a single write(2), which keeps lines from different
 * shards whole. The descriptor lines go to never changes number: reopening the file
 * (SIGUSR1) and rotating it (--log_size_limit) dup3 a new file onto it, so a thread that
 * writes at that moment writes whole into the old file or the new one. */
#ifndef IONATS_BASE_LOG_H
#define IONATS_BASE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level {
    LOG_LEVEL_FATAL = 0, /* nats-server's [FTL]: the broker cannot start or go on */
    LOG_LEVEL_ERROR = 1,
    LOG_LEVEL_WARN = 2,
    LOG_LEVEL_INFO = 3,
    LOG_LEVEL_DEBUG = 4,
    LOG_LEVEL_TRACE = 5,
};

/* Sets where lines go (a file descriptor the caller keeps open) and the most verbose level
 * that is written. Call before starting threads. */
void log_configure(int fd, enum log_level level_max);

/* Changes the most detailed level written (a configuration reload's -D and -V); any thread. */
void log_set_level(enum log_level level_max);

/* Whether lines carry the date and time (nats-server's -T/--logtime, on by default), and
 * in UTC rather than local time (its logtime_utc). Any thread (a reload changes them). */
void log_configure_time(bool time, bool utc);

/* Opens `path` for logging as nats-server opens its log file (append, created 0640), and
 * makes it where lines go; `path` is borrowed for the life of the process (log_reopen and
 * rotation open it again). With `size_limit` > 0 the file is rotated once it holds more than
 * that many bytes: renamed to `<path>.YYYY.MM.DD.hh.mm.ss.nnnnnnnnn` (local time), and a
 * new file begins with a line naming that backup. Call before starting threads.
 * The descriptor (≥ 0) or -errno. */
int log_configure_file(const char *path, int64_t size_limit, enum log_level level_max);

/* SIGUSR1: opens the log file again (after logrotate moved it), as nats-server does, and
 * says so in the log; without a file, says that it ignored the request. Main thread only.
 * 0 or -errno (also logged). */
int log_reopen(void);

/* A reload's new log file: opens `path` (copied) as log_configure_file does
 * and puts it behind the descriptor lines go to, in place of the
 * file there (the logging must already go to a file). Main thread only. 0 or -errno (the
 * old file stays). */
int log_file_move(const char *path);

/* True when lines at `level` are written: lets callers skip formatting trace output. */
int log_enabled(enum log_level level);

/* The shard index printed in assertion failures for this thread; -1 = main. */
void log_set_thread_shard(int shard_index);
int log_thread_shard(void);

void log_write(enum log_level level, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#define LOG_FATAL(...) log_write(LOG_LEVEL_FATAL, __VA_ARGS__)
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
