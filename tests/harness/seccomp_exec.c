/* seccomp_exec: runs a command with io_uring refused, the way a container refuses it.
 *
 * Docker's default seccomp profile (and gVisor, and hosts with kernel.io_uring_disabled)
 * answer io_uring_setup with EPERM; ionats must then fall back to epoll, or with
 * `--io uring` say why and exit. This program installs a seccomp filter whose default action
 * is ALLOW and which makes io_uring_setup, io_uring_enter and io_uring_register fail with
 * EPERM, then execs its arguments in the same process, so the PID a test starts is the PID
 * of the command it wraps and the filter holds for every thread that command creates.
 *
 *     seccomp_exec COMMAND [ARG...]   run COMMAND (found on PATH) under the filter
 *     seccomp_exec --check            install the filter and show it works: exit 0 when
 *                                     all three calls fail with EPERM, 1 otherwise
 *
 * Exit status 126 when the filter cannot be installed, 127 when COMMAND cannot be run.
 * A test-only program: single-threaded, nothing shared. */
#include <errno.h>
#include <linux/io_uring.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Exit statuses, the shell's convention for "could not run" (126) and "not found" (127). */
enum { EXIT_CHECK_FAILED = 1, EXIT_NO_FILTER = 126, EXIT_NO_EXEC = 127 };

/* Entries asked of io_uring_setup by --check: any small power of two would do. */
enum { CHECK_RING_ENTRIES = 4 };

/* In the order seccomp_exec_check makes them. */
static const char *const refused_names[] = {"io_uring_setup", "io_uring_enter",
                                            "io_uring_register"};

/* Installs the filter on this thread (and so on everything it execs). 0 or -errno. */
static int seccomp_exec_filter_install(void)
{
    /* No new privileges: lets an unprivileged process install a filter, and keeps a setuid
     * program from escaping it. libseccomp would set it too (SCMP_FLTATR_CTL_NNP); said here
     * so that does not depend on a library default. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        return -errno;
    }
    scmp_filter_ctx filter = seccomp_init(SCMP_ACT_ALLOW);
    if (filter == NULL) {
        return -ENOMEM;
    }
    int rc = 0;
    for (size_t i = 0; i < sizeof refused_names / sizeof refused_names[0] && rc == 0; i++) {
        int number = seccomp_syscall_resolve_name(refused_names[i]);
        if (number == __NR_SCMP_ERROR) {
            fprintf(stderr, "seccomp_exec: libseccomp does not know %s\n", refused_names[i]);
            rc = -ENOSYS;
            break;
        }
        rc = seccomp_rule_add(filter, SCMP_ACT_ERRNO(EPERM), number, 0);
        if (rc != 0) {
            fprintf(stderr, "seccomp_exec: cannot refuse %s: %s\n", refused_names[i],
                    strerror(-rc));
        }
    }
    if (rc == 0) {
        rc = seccomp_load(filter);
        if (rc != 0) {
            fprintf(stderr, "seccomp_exec: cannot load the filter: %s\n", strerror(-rc));
        }
    }
    seccomp_release(filter);
    return rc;
}

/* After the filter: each refused call fails with EPERM. io_uring_enter and
 * io_uring_register get fd -1, which the kernel itself refuses with EBADF or EINVAL, so EPERM
 * can only come from the filter; a ring io_uring_setup did create is closed. */
static int seccomp_exec_check(void)
{
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    long results[3] = {0};
    int errors[3] = {0};
    results[0] = syscall(__NR_io_uring_setup, CHECK_RING_ENTRIES, &params);
    errors[0] = errno;
    if (results[0] >= 0) {
        close((int)results[0]);
    }
    results[1] = syscall(__NR_io_uring_enter, -1, 0, 0, 0, NULL, 0);
    errors[1] = errno;
    results[2] = syscall(__NR_io_uring_register, -1, 0, NULL, 0);
    errors[2] = errno;
    int failed = 0;
    for (size_t i = 0; i < sizeof results / sizeof results[0]; i++) {
        if (results[i] >= 0 || errors[i] != EPERM) {
            fprintf(stderr, "seccomp_exec: %s under the filter: %s, not EPERM\n",
                    refused_names[i], results[i] >= 0 ? "succeeded" : strerror(errors[i]));
            failed = EXIT_CHECK_FAILED;
        }
    }
    if (failed == 0) {
        printf("seccomp_exec: io_uring_setup, io_uring_enter, io_uring_register refused: %s\n",
               strerror(EPERM));
    }
    return failed;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: seccomp_exec COMMAND [ARG...] | seccomp_exec --check\n");
        return EXIT_NO_EXEC;
    }
    int rc = seccomp_exec_filter_install();
    if (rc != 0) {
        fprintf(stderr, "seccomp_exec: no filter installed: %s\n", strerror(-rc));
        return EXIT_NO_FILTER;
    }
    if (strcmp(argv[1], "--check") == 0) {
        return seccomp_exec_check();
    }
    execvp(argv[1], &argv[1]);
    fprintf(stderr, "seccomp_exec: cannot run %s: %s\n", argv[1], strerror(errno));
    return EXIT_NO_EXEC;
}
