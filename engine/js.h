/* JetStream: the shard module main wires in when --jetstream is on, and the limits it
 * resolves from the flags. See js_internal.h for how it works. */
#ifndef IONATS_ENGINE_JS_H
#define IONATS_ENGINE_JS_H

#include <stdint.h>

struct shard_module;

extern const struct shard_module js_module;

/* nats-server's defaults: 75% of the host's memory; 75% of the store directory's free
 * disk (of its nearest existing parent), at most 1 TB. */
int64_t js_max_memory_default(void);
int64_t js_max_file_default(const char *store_dir);

#endif
