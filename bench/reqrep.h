/* Requester and replier roles of a connection (see reqrep.c). Requesters run on the send
 * side's thread, repliers on the receive side's. */
#ifndef IONATS_BENCH_REQREP_H
#define IONATS_BENCH_REQREP_H

#include "bench/conn.h"

enum {
    REQREP_INBOX_SIZE_MAX = 96,
};

/* The inbox requester `index` of this process subscribes to. */
void reqrep_inbox(unsigned index, char *inbox, size_t inbox_size);

/* Builds the requester's PUB frame (subject, its inbox, `size` bytes) and sets its share
 * of the requests. Returns 0 or -ENOMEM. */
int reqrep_setup(struct conn *conn, uint64_t target);

/* The request, when one is due. */
bool reqrep_next_send(struct conn *conn, const char **data, size_t *size);

/* A reply reached requester `conn`: record the round trip, queue the next request. */
void reqrep_on_reply(struct conn *conn);

/* A request reached replier `conn`: queue the answer to `reply`. */
void reqrep_on_request(struct conn *conn, const char *reply, size_t reply_size);

#endif
