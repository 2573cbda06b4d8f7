/* Small, synchronous file helpers for what is written rarely and must be durable once the
 * call returns (configs, metadata records): joining paths, writing a file durably,
 * removing a tree. Blocking: for control paths only, never for data. Any thread. */
#ifndef IONATS_BASE_FILE_H
#define IONATS_BASE_FILE_H

#include <stddef.h>

/* "dir/name" in heap memory, or NULL when memory ran out. */
char *file_path_join(const char *dir, const char *name);

/* Writes `name` in `dir` durably: a temporary file, synced, renamed over, the directory
 * synced. 0 or -errno. */
int file_write_durable(const char *dir, const char *name, const char *data, size_t length);

/* Removes a directory and everything under it (best effort). */
void file_remove_tree(const char *path);

#endif
