/* nats-server's operations files and its --signal command (ops.c). Main thread only. */
#ifndef IONATS_ENGINE_OPS_H
#define IONATS_ENGINE_OPS_H

#include <stddef.h>

/* -P: writes the pid (decimal, no newline, mode 0600); nats-server leaves it at exit. 0 or
 * -errno, said as nats-server's [FTL] line. */
int ops_pid_file_write(const char *path);

/* `<dir>/<executable>_<pid>.ports` in `path`; empty when `dir` is NULL or empty. */
void ops_ports_file_path(char *path, size_t size, const char *dir, const char *argv0);

/* Writes the ports file's JSON for the client listener and the monitoring one (-1: none);
 * a failure is logged as nats-server logs it. */
void ops_ports_file_write(int listen_fd, int monitor_listen_fd, const char *path);

/* Removes it at exit (a failure is logged). */
void ops_ports_file_remove(const char *path);

/* --signal `command[=pid]`: sends it as nats-server does; errors on stderr. The exit
 * code, 0 or 1. */
int ops_signal_send(const char *argument);

#endif
