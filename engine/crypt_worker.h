/* The crypt worker: threads that run the bcrypt comparisons of logins (tens of
 * milliseconds each at the usual costs), so that no shard's loop waits one out.
 *
 * The one idea: a shard hands a job (a copy of the hash and of the password given, and
 * which connection asked) to a queue the worker threads share; a thread runs it and hands
 * the job back as a call into the asking shard's mailbox (shard_call.h), waking it; the
 * shard then finishes the login if the connection is still there. A job is in exactly one
 * place at a time: the queue, a worker's hands, a mailbox, or its shard's hands. Each
 * connection has at most one job out, so the queue is bounded by max_connections.
 *
 * Threads: shards submit; worker threads run; main starts and stops them (stop after every
 * shard stopped: jobs still queued are freed, answers in mailboxes are discarded there). */
#ifndef IONATS_ENGINE_CRYPT_WORKER_H
#define IONATS_ENGINE_CRYPT_WORKER_H

#include "engine/auth.h"
#include "engine/shard_call.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct crypt_worker;

struct crypt_job {
    struct shard_call call;       /* first: the answer travels back as a call to the shard */
    struct crypt_job *next;       /* the worker's queue */
    struct shard_mailbox *mailbox; /* borrowed: the asking shard's */
    int wake_fd;                  /* the asking shard's wake-up */
    uint64_t conn_id;             /* who asked: the connection of this id in slot conn_index */
    uint32_t conn_index;
    struct auth_bcrypt bcrypt;    /* hash and given point into `text` */
    bool match;                   /* the answer: auth_bcrypt_run's */
    /* Set by the asking shard when nobody waits for the answer any more (the client left):
     * the worker skips the comparison. Relaxed: a late skip only costs the work. */
    _Atomic bool cancelled;
    char text[];                  /* hash NUL given NUL */
};

/* A job for `bcrypt` (copied), answered by `run` on the asking shard's thread, which then
 * owns it (free with crypt_job_free). NULL: out of memory. */
struct crypt_job *crypt_job_new(const struct auth_bcrypt *bcrypt,
                                void (*run)(struct shard *shard, struct shard_call *call));

void crypt_job_free(struct crypt_job *job);

/* Starts `thread_count` (≥ 1) worker threads. 0 or -errno. Main thread. */
int crypt_worker_start(struct crypt_worker **worker, int thread_count);

/* Queues `job` (its mailbox, wake_fd and connection set). Any shard. False when the queue
 * already holds CRYPT_JOBS_MAX jobs (the caller refuses the login: a flood of logins must
 * not grow it without bound). */
bool crypt_worker_submit(struct crypt_worker *worker, struct crypt_job *job);

/* The most jobs queued at once, all shards together: at 100 ms a comparison, minutes of
 * work for one thread. */
enum { CRYPT_JOBS_MAX = 4096 };

/* Stops and joins the threads, frees the jobs still queued and the worker. Main thread,
 * once no shard runs. NULL: nothing. */
void crypt_worker_stop(struct crypt_worker *worker);

#endif
