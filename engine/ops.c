/* nats-server's operations files and its --signal command: the pid file (-P), the ports
 * file (--ports_file_dir) and the sending of a signal to a running broker.
 *
 * The one idea: each is what nats-server 2.15.1 writes or says, byte for byte (its file
 * names, modes, JSON and error words), so scripts and test launchers written for it work
 * unchanged. Main thread only: at start, at exit, or instead of starting (--signal). */
#include "engine/ops.h"

#include "base/log.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* strerror as Go words it in nats-server's messages ("no such file or directory"). */
static const char *error_text(int error, char *text, size_t size)
{
    snprintf(text, size, "%s", strerror(error));
    text[0] = (char)tolower((unsigned char)text[0]);
    return text;
}

/* -P: the pid as nats-server writes it (decimal, no newline, mode 0600), before listening.
 * nats-server 2.15.1 leaves the file behind at exit, and so does ionats. 0 or -errno, said
 * as nats-server's [FTL] line. */
int ops_pid_file_write(const char *path)
{
    char pid[24];
    int length = snprintf(pid, sizeof pid, "%d", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int error = fd < 0 ? errno : 0;
    if (fd >= 0) {
        error = write(fd, pid, (size_t)length) == length ? 0 : errno;
        close(fd);
    }
    if (error != 0) {
        char text[128];
        LOG_FATAL("Could not write pidfile: open %s: %s", path, error_text(error, text,
                                                                             sizeof text));
        return -error;
    }
    return 0;
}

/* The ports file's text: a few URLs per interface address; a URL that would not fit with
 * the closing brackets is left out whole. */
enum { PORTS_TEXT_SIZE = 16 * 1024, PORTS_TEXT_CLOSING = 8 };

struct ports_text {
    char bytes[PORTS_TEXT_SIZE];
    size_t used;
    int url_count; /* in the list being written */
};

/* Appends `"scheme://host:port"` (comma first but in a list's first place) for an address,
 * as Go's JoinHostPort writes it: an IPv6 host in brackets and without its zone. */
static void ports_url_add(struct ports_text *text, const char *scheme,
                          const struct sockaddr *address, socklen_t length, int port)
{
    char host[NI_MAXHOST];
    if (getnameinfo(address, length, host, sizeof host, NULL, 0, NI_NUMERICHOST) != 0) {
        return;
    }
    host[strcspn(host, "%")] = '\0';
    bool v6 = strchr(host, ':') != NULL;
    size_t room = sizeof text->bytes - text->used;
    int n = snprintf(text->bytes + text->used, room, "%s\"%s://%s%s%s:%d\"",
                     text->url_count > 0 ? "," : "", scheme, v6 ? "[" : "", host,
                     v6 ? "]" : "", port);
    if (n > 0 && (size_t)n + PORTS_TEXT_CLOSING < room) {
        text->used += (size_t)n;
        text->url_count++;
    }
}

/* Every address of every interface, in the interfaces' order and IPv4 before IPv6 within
 * one, as Go's net.Interfaces and Addrs give them to nats-server (an alias "eth0:1" counts
 * as eth0's). */
static void ports_urls_any(struct ports_text *text, const char *scheme, int port)
{
    struct ifaddrs *all = NULL;
    struct if_nameindex *names = if_nameindex();
    if (names == NULL || getifaddrs(&all) != 0) {
        if_freenameindex(names);
        return;
    }
    static const int families[] = {AF_INET, AF_INET6};
    for (struct if_nameindex *n = names; n->if_index != 0; n++) {
        size_t name_length = strlen(n->if_name);
        for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
            for (struct ifaddrs *a = all; a != NULL; a = a->ifa_next) {
                char after = strncmp(a->ifa_name, n->if_name, name_length) == 0
                                 ? a->ifa_name[name_length] : '?';
                if (a->ifa_addr != NULL && a->ifa_addr->sa_family == families[f] &&
                    (after == '\0' || after == ':')) {
                    socklen_t length = families[f] == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                               : sizeof(struct sockaddr_in);
                    ports_url_add(text, scheme, a->ifa_addr, length, port);
                }
            }
        }
    }
    freeifaddrs(all);
    if_freenameindex(names);
}

/* `"key":[urls]` for a listener, as nats-server's resolveHostPorts lists them: its address,
 * or every interface's when bound to an unspecified one (0.0.0.0, ::); no key when there
 * are none (omitempty). */
static void ports_urls_add(struct ports_text *text, const char *key, const char *scheme, int fd)
{
    union {
        struct sockaddr_storage storage;
        struct sockaddr address;
    } bound;
    memset(&bound, 0, sizeof bound);
    socklen_t length = sizeof bound;
    char host[NI_MAXHOST] = "";
    char port[NI_MAXSERV] = "";
    if (getsockname(fd, &bound.address, &length) != 0 ||
        getnameinfo(&bound.address, length, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        return;
    }
    size_t start = text->used;
    int n = snprintf(text->bytes + start, sizeof text->bytes - start, "%s\"%s\":[",
                     text->bytes[start - 1] == '{' ? "" : ",", key);
    text->used += n > 0 ? (size_t)n : 0; /* a key's few bytes always fit */
    text->url_count = 0;
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
        ports_urls_any(text, scheme, atoi(port));
    } else {
        ports_url_add(text, scheme, &bound.address, length, atoi(port));
    }
    if (text->url_count == 0) {
        text->used = start;
    } else {
        text->bytes[text->used++] = ']';
    }
}

/* --ports_file_dir: `<dir>/<executable>_<pid>.ports` (the name nats-server 2.15.1 gives it)
 * with its JSON, `{"nats":["nats://127.0.0.1:4222"],"monitoring":["http://..."]}`, written
 * once the listeners are open (mode 0666 less the umask, no newline). A failure is logged
 * as nats-server logs it, and the broker serves on. */
void ops_ports_file_write(int listen_fd, int monitor_listen_fd, const char *path)
{
    static struct ports_text text; /* main thread only; 16 KiB off the stack */
    text.bytes[0] = '{';
    text.used = 1;
    ports_urls_add(&text, "nats", "nats", listen_fd);
    if (monitor_listen_fd >= 0) {
        ports_urls_add(&text, "monitoring", "http", monitor_listen_fd);
    }
    text.bytes[text.used++] = '}';
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    int error = fd < 0 ? errno : 0;
    if (fd >= 0) {
        error = write(fd, text.bytes, text.used) == (ssize_t)text.used ? 0 : errno;
        close(fd);
    }
    if (error != 0) {
        char reason[128];
        LOG_ERROR("Error writing ports file (%s): open %s: %s", path, path,
                  error_text(error, reason, sizeof reason));
    }
}

/* At exit, as nats-server removes it (and says so when it cannot). */
void ops_ports_file_remove(const char *path)
{
    if (unlink(path) != 0) {
        char reason[128];
        LOG_ERROR("Error cleaning up ports file %s: remove %s: %s", path, path,
                  error_text(errno, reason, sizeof reason));
    }
}

/* The ports file's path: the directory, then the executable's name (argv[0] without its
 * directories) and the pid. Empty when there is no directory. */
void ops_ports_file_path(char *path, size_t size, const char *dir, const char *argv0)
{
    path[0] = '\0';
    if (dir == NULL || dir[0] == '\0') {
        return;
    }
    const char *slash = strrchr(argv0, '/');
    size_t dir_length = strlen(dir);
    while (dir_length > 0 && dir[dir_length - 1] == '/') {
        dir_length--;
    }
    snprintf(path, size, "%.*s/%s_%d.ports", (int)dir_length, dir,
             slash != NULL ? slash + 1 : argv0, (int)getpid());
}

/* --signal's commands, as nats-server's CommandToSignal maps them (stop is SIGKILL there). */
static int signal_command_number(const char *command)
{
    static const struct {
        const char *command;
        int signal_number;
    } commands[] = {{"stop", SIGKILL}, {"quit", SIGINT},   {"reopen", SIGUSR1},
                    {"reload", SIGHUP}, {"ldm", SIGUSR2}, {"term", SIGTERM}};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].command, command) == 0) {
            return commands[i].signal_number;
        }
    }
    return 0;
}

/* The most brokers --signal finds running (nats-server's pgrep has no bound; one host runs
 * a handful), and the most /proc entries it reads looking for them (Linux's largest pid_max,
 * so the whole of /proc). */
enum { SIGNAL_PIDS_MAX = 256, SIGNAL_PROC_ENTRIES_MAX = 1 << 22 };

/* The brokers running, as nats-server's `pgrep nats-server`: the processes with this
 * process's name (its comm, so a copy installed as nats-server finds nats-servers), this one
 * left out. Fills `name`; the count, or -1 when /proc cannot be read. */
static int signal_pids_find(pid_t *pids, char *name, size_t name_size)
{
    int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
    ssize_t length = fd >= 0 ? read(fd, name, name_size - 1) : -1;
    DIR *proc = opendir("/proc");
    if (fd >= 0) {
        close(fd);
    }
    if (length <= 0 || proc == NULL) {
        if (proc != NULL) {
            closedir(proc);
        }
        return -1;
    }
    name[name[length - 1] == '\n' ? length - 1 : length] = '\0';
    int count = 0;
    struct dirent *entry;
    for (int e = 0; e < SIGNAL_PROC_ENTRIES_MAX && count < SIGNAL_PIDS_MAX &&
                    (entry = readdir(proc)) != NULL;
         e++) {
        pid_t pid = (pid_t)atoi(entry->d_name);
        char path[64];
        char comm[64];
        snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
        fd = pid > 0 && pid != getpid() ? open(path, O_RDONLY | O_CLOEXEC) : -1;
        length = fd >= 0 ? read(fd, comm, sizeof comm - 1) : 0;
        if (fd >= 0) {
            close(fd);
        }
        if (length > 0) {
            comm[comm[length - 1] == '\n' ? length - 1 : length] = '\0';
            if (strcmp(comm, name) == 0) {
                pids[count++] = pid;
            }
        }
    }
    closedir(proc);
    return count;
}

/* Sends --signal's `command[=pid]` as nats-server's processSignal and ProcessSignal do
 * (server/opts.go, server/signal.go): the pid is a number, or a file holding one (read as it
 * is, so a trailing newline makes it invalid, as there), or a prefix ending in `*` of the
 * running brokers' pids; without one, the only broker running. A pid of 0 or below is
 * refused (kill would signal a process group). Errors in nats-server's words on stderr;
 * the exit code, 0 or 1. */
int ops_signal_send(const char *argument)
{
    char command[32] = "";
    char target[64] = ""; /* the pid expression, or a pid file's contents */
    char error[SIGNAL_PIDS_MAX * 16 + 256] = "";
    const char *equals = strchr(argument, '=');
    snprintf(command, sizeof command, "%.*s",
             (int)(equals != NULL ? (size_t)(equals - argument) : strlen(argument)), argument);
    if (equals != NULL && strchr(equals + 1, '=') != NULL) {
        snprintf(error, sizeof error, "invalid signal parameters: [%s]",
                 strchr(equals + 1, '=') + 1);
        for (char *c = strchr(error, '='); c != NULL; c = strchr(c, '=')) {
            *c = ' '; /* Go prints the rest as a slice: [a b] */
        }
    } else if (equals != NULL) {
        int fd = open(equals + 1, O_RDONLY | O_CLOEXEC);
        ssize_t length = fd >= 0 ? read(fd, target, sizeof target - 1) : -1;
        if (fd >= 0) {
            close(fd);
        }
        if (length < 0) {
            snprintf(target, sizeof target, "%s", equals + 1); /* not a file: a pid */
        }
    }
    size_t target_length = strlen(target);
    bool glob = target_length > 0 && target[target_length - 1] == '*';
    target[target_length - glob] = '\0';
    pid_t pids[SIGNAL_PIDS_MAX];
    int count = 1;
    char name[64] = "ionats";
    char *end = NULL;
    long given = strtol(target, &end, 10);
    if (error[0] == '\0' && target[0] != '\0' &&
        (!isdigit((unsigned char)target[0]) || *end != '\0' || given <= 0 || given > INT_MAX)) {
        snprintf(error, sizeof error, "invalid pid: %s", target);
    }
    pids[0] = (pid_t)given;
    if (error[0] == '\0' && (target[0] == '\0' || glob)) {
        count = signal_pids_find(pids, name, sizeof name);
    }
    int signal_number = signal_command_number(command);
    if (error[0] != '\0') {
        /* said already */
    } else if (count < 0) {
        snprintf(error, sizeof error, "unable to resolve pid, try providing one");
    } else if (count > 1 && !glob) {
        int used = snprintf(error, sizeof error, "multiple %s processes running:", name);
        for (int i = 0; i < count && used > 0 && (size_t)used < sizeof error; i++) {
            used += snprintf(error + used, sizeof error - (size_t)used, "\n%d", (int)pids[i]);
        }
    } else if (count == 0) {
        snprintf(error, sizeof error, "no %s processes running", name);
    } else if (signal_number == 0) {
        snprintf(error, sizeof error, "unknown signal \"%s\"", command);
    }
    bool send = error[0] == '\0';
    for (int i = 0; send && i < count; i++) {
        char pid[16];
        snprintf(pid, sizeof pid, "%d", (int)pids[i]);
        if (target[0] != '\0' && strcmp(pid, target) != 0 &&
            (!glob || strncmp(pid, target, strlen(target)) != 0)) {
            continue;
        }
        if (kill(pids[i], signal_number) != 0) {
            char reason[64];
            size_t used = strlen(error);
            snprintf(error + used, sizeof error - used, "\nsignal \"%s\" %s: %s", command, pid,
                     error_text(errno, reason, sizeof reason));
        }
    }
    if (error[0] != '\0') {
        fprintf(stderr, "ionats: %s\n", error);
        return 1;
    }
    return 0;
}
