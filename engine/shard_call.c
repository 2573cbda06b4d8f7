/* A shard's mailbox: see shard_call.h. A Treiber stack pushed by any thread and emptied
 * whole by one: no ABA problem, since nobody pops a single entry; the list comes out newest
 * first and is reversed before running so calls run in the order they were pushed.
 * Push: any thread. Run: the mailbox's shard. Discard: main, after the shards stopped. */
#include "engine/shard_call.h"

#include "base/assert.h"

#include <stddef.h>

void shard_mailbox_push(struct shard_mailbox *mailbox, struct shard_call *call)
{
    ASSERT(call->run != NULL);
    ASSERT(call->discard != NULL);
    struct shard_call *head = atomic_load_explicit(&mailbox->head, memory_order_relaxed);
    do {
        call->next = head;
        /* release: the call's contents are visible to the taker (its acquire exchange) */
    } while (!atomic_compare_exchange_weak_explicit(&mailbox->head, &head, call,
                                                    memory_order_release,
                                                    memory_order_relaxed));
}

/* Takes the whole list, oldest first; NULL when empty. */
static struct shard_call *mailbox_take(struct shard_mailbox *mailbox)
{
    /* relaxed: a glance; the exchange below is what orders the calls' contents */
    if (atomic_load_explicit(&mailbox->head, memory_order_relaxed) == NULL) {
        return NULL;
    }
    /* acquire: pairs with the release of every push that made this list */
    struct shard_call *newest = atomic_exchange_explicit(&mailbox->head, NULL,
                                                         memory_order_acquire);
    struct shard_call *oldest = NULL;
    while (newest != NULL) {
        struct shard_call *next = newest->next;
        newest->next = oldest;
        oldest = newest;
        newest = next;
    }
    return oldest;
}

bool shard_mailbox_run(struct shard_mailbox *mailbox, struct shard *shard)
{
    struct shard_call *call = mailbox_take(mailbox);
    bool ran = call != NULL;
    while (call != NULL) {
        struct shard_call *next = call->next;
        call->next = NULL;
        call->run(shard, call); /* may push the call on: `next` was read first */
        call = next;
    }
    return ran;
}

void shard_mailbox_discard(struct shard_mailbox *mailbox)
{
    struct shard_call *call = mailbox_take(mailbox);
    while (call != NULL) {
        struct shard_call *next = call->next;
        call->next = NULL;
        call->discard(call);
        call = next;
    }
}
