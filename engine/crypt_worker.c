/* The crypt worker: see crypt_worker.h. One queue under a mutex, with a condition the
 * threads wait on: logins that need bcrypt are rare next to messages, and each costs
 * milliseconds, so a lock costs nothing here (hand-written: a thread pool of a dozen lines
 * needs no library). Shards (submit), worker threads (run), main (start, stop). */
#include "engine/crypt_worker.h"

#include "base/assert.h"
#include "base/log.h"
#include "engine/shard.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { CRYPT_THREADS_MAX = 16 };

struct crypt_worker {
    pthread_mutex_t lock;
    pthread_cond_t wanted; /* a job was queued, or stopping */
    struct crypt_job *head; /* the queue, oldest first; under `lock` */
    struct crypt_job *tail;
    uint32_t queued; /* jobs in the queue; under `lock` */
    bool stopping; /* under `lock` */
    pthread_t threads[CRYPT_THREADS_MAX];
    int thread_count;
};

/* An answer its shard stopped before taking (shard_mailbox_discard). */
static void job_discard(struct shard_call *call)
{
    crypt_job_free((struct crypt_job *)call); /* the call is the job's first member */
}

struct crypt_job *crypt_job_new(const struct auth_bcrypt *bcrypt,
                                void (*run)(struct shard *shard, struct shard_call *call))
{
    size_t hash_length = strlen(bcrypt->hash);
    size_t given_length = strlen(bcrypt->given);
    struct crypt_job *job = calloc(1, sizeof *job + hash_length + given_length + 2);
    if (job == NULL) {
        return NULL;
    }
    memcpy(job->text, bcrypt->hash, hash_length + 1);
    memcpy(job->text + hash_length + 1, bcrypt->given, given_length + 1);
    job->bcrypt = (struct auth_bcrypt){job->text, job->text + hash_length + 1, bcrypt->deny};
    job->call.run = run;
    job->call.discard = job_discard;
    return job;
}

void crypt_job_free(struct crypt_job *job)
{
    if (job != NULL) {
        /* the password given: not left in freed memory */
        size_t length = strlen(job->bcrypt.given);
        memset((char *)job->bcrypt.given, 0, length);
        free(job);
    }
}

static struct crypt_job *job_take(struct crypt_worker *worker)
{
    pthread_mutex_lock(&worker->lock);
    while (worker->head == NULL && !worker->stopping) {
        pthread_cond_wait(&worker->wanted, &worker->lock);
    }
    struct crypt_job *job = worker->head;
    if (job != NULL && !worker->stopping) {
        worker->head = job->next;
        if (worker->head == NULL) {
            worker->tail = NULL;
        }
        worker->queued--;
    } else {
        job = NULL;
    }
    pthread_mutex_unlock(&worker->lock);
    return job;
}

static void *worker_main(void *arg)
{
    struct crypt_worker *worker = arg;
    struct crypt_job *job;
    while ((job = job_take(worker)) != NULL) {
        /* a job nobody waits for is answered without the work (the answer is not read) */
        job->match = !atomic_load_explicit(&job->cancelled, memory_order_relaxed) &&
                     auth_bcrypt_run(&job->bcrypt);
        job->next = NULL;
        int wake_fd = job->wake_fd;
        /* release (the push): the shard sees `match` with the job */
        shard_mailbox_push(job->mailbox, &job->call);
        shard_request_calls(wake_fd);
    }
    return NULL;
}

int crypt_worker_start(struct crypt_worker **out, int thread_count)
{
    ASSERT(thread_count >= 1);
    struct crypt_worker *worker = calloc(1, sizeof *worker);
    if (worker == NULL) {
        return -ENOMEM;
    }
    pthread_mutex_init(&worker->lock, NULL);
    pthread_cond_init(&worker->wanted, NULL);
    if (thread_count > CRYPT_THREADS_MAX) {
        thread_count = CRYPT_THREADS_MAX;
    }
    for (int i = 0; i < thread_count; i++) {
        int rc = pthread_create(&worker->threads[i], NULL, worker_main, worker);
        if (rc != 0) {
            crypt_worker_stop(worker);
            return -rc;
        }
        worker->thread_count++;
    }
    *out = worker;
    return 0;
}

bool crypt_worker_submit(struct crypt_worker *worker, struct crypt_job *job)
{
    ASSERT(job->mailbox != NULL);
    job->next = NULL;
    pthread_mutex_lock(&worker->lock);
    if (worker->queued >= CRYPT_JOBS_MAX) {
        pthread_mutex_unlock(&worker->lock);
        return false;
    }
    worker->queued++;
    if (worker->tail != NULL) {
        worker->tail->next = job;
    } else {
        worker->head = job;
    }
    worker->tail = job;
    pthread_cond_signal(&worker->wanted);
    pthread_mutex_unlock(&worker->lock);
    return true;
}

void crypt_worker_stop(struct crypt_worker *worker)
{
    if (worker == NULL) {
        return;
    }
    pthread_mutex_lock(&worker->lock);
    worker->stopping = true;
    pthread_cond_broadcast(&worker->wanted);
    pthread_mutex_unlock(&worker->lock);
    for (int i = 0; i < worker->thread_count; i++) {
        pthread_join(worker->threads[i], NULL);
    }
    while (worker->head != NULL) {
        struct crypt_job *job = worker->head;
        worker->head = job->next;
        crypt_job_free(job);
    }
    pthread_cond_destroy(&worker->wanted);
    pthread_mutex_destroy(&worker->lock);
    free(worker);
}
