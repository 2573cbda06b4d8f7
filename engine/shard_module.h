/* What runs inside a shard beside its connections: JetStream today.
 *
 * The one idea: the shard loop knows a module only through four calls (start, the end of
 * each turn, a stop step, destroy) and an opaque state, so the loop includes nothing of
 * what a module does and a module reaches the rest of the engine through its public
 * interfaces (server-side subscribers, timers, the loop's store I/O). main wires the one
 * module a server runs into `struct server`. Every call runs on the shard's thread. */
#ifndef IONATS_ENGINE_SHARD_MODULE_H
#define IONATS_ENGINE_SHARD_MODULE_H

#include <stdbool.h>

struct server;
struct shard;

struct shard_module {
    const char *name;
    /* On main's thread, before any shard starts: what every shard's instance shares, in
     * *shared (server->module_shared). 0, or -errno with the reason logged (the server
     * does not start). */
    int (*prepare)(struct server *server, void **shared);
    /* On main's thread, after every shard stopped: frees what prepare made. */
    void (*release)(void *shared);
    /* At the end of shard_init, before any shard runs its loop. Sets *state; 0, or -errno
     * with the reason logged (the server then does not start). */
    int (*start)(struct shard *shard, void **state);
    /* After the turn's handlers ran and before output is flushed: hand collected I/O to
     * the backend (a stream store's group commit). */
    void (*turn_end)(struct shard *shard, void *state);
    /* The shard is stopping: called every turn until it returns true, once nothing the
     * module started is in flight any more (the loop keeps completing its I/O till then). */
    bool (*stop_step)(struct shard *shard, void *state);
    /* After the loop's last turn, before the loop and the shard's index go. */
    void (*destroy)(struct shard *shard, void *state);
    /* A message its instance on shard `origin` sent with shard_module_send; this call owns
     * `message` (heap memory) and frees it. */
    void (*message)(struct shard *shard, void *state, int origin, void *message);
};

/* Sends `message` (heap memory; the receiver frees it) to `module`'s instance on shard
 * `target` (not this one), in order with everything else this shard sends there. 0, or
 * -ENOMEM (the caller still owns it). From the shard's own thread. */
int shard_module_send(struct shard *shard, const struct shard_module *module, int target,
                      void *message);

#endif
