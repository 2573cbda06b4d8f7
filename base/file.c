/* See file.h. */
#include "base/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *file_path_join(const char *dir, const char *name)
{
    size_t length = strlen(dir) + 1 + strlen(name) + 1;
    char *path = malloc(length);
    if (path != NULL) {
        snprintf(path, length, "%s/%s", dir, name);
    }
    return path;
}

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

int file_write_durable(const char *dir, const char *name, const char *data, size_t length)
{
    char temp_name[256];
    snprintf(temp_name, sizeof temp_name, "%s.tmp", name);
    char *temp = file_path_join(dir, temp_name);
    char *final = file_path_join(dir, name);
    int rc = -ENOMEM;
    if (temp != NULL && final != NULL) {
        int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        rc = fd < 0 ? -errno : 0;
        if (rc == 0) {
            size_t done = 0;
            while (rc == 0 && done < length) {
                ssize_t n = write(fd, data + done, length - done);
                if (n < 0 && errno != EINTR) {
                    rc = -errno;
                } else if (n > 0) {
                    done += (size_t)n;
                }
            }
            if (rc == 0 && fsync(fd) != 0) {
                rc = -errno;
            }
            close(fd);
        }
        if (rc == 0 && rename(temp, final) != 0) {
            rc = -errno;
        }
        if (rc == 0) {
            rc = fsync_path(dir, O_RDONLY | O_DIRECTORY);
        }
    }
    free(temp);
    free(final);
    return rc;
}

void file_remove_tree(const char *path)
{
    DIR *dir = opendir(path);
    if (dir != NULL) {
        struct dirent *entry;
        while ((entry = readdir(dir)) != NULL) {
            if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) {
                continue;
            }
            char *child = file_path_join(path, entry->d_name);
            if (child == NULL) {
                break;
            }
            struct stat st;
            if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode)) {
                file_remove_tree(child);
            } else {
                unlink(child);
            }
            free(child);
        }
        closedir(dir);
    }
    rmdir(path);
}
