/* A message as routing hands it around: what every subscriber, server-side handler and
 * deferred record sees. Types only, so that modules below routing can name it. */
#ifndef IONATS_ENGINE_ROUTE_MSG_H
#define IONATS_ENGINE_ROUTE_MSG_H

#include "proto/parser.h"

#include <stdint.h>

/* Every slice is borrowed for the duration of the call that hands it over. `payload` is
 * the header block (header_length bytes, 0 when none) followed by the body. */
struct route_msg {
    struct proto_slice subject;
    struct proto_slice reply;
    struct proto_slice payload;
    uint32_t header_length;
    /* The subject subscribers see, when it is not the one routed on (a JetStream delivery
     * is routed on its deliver subject or pull inbox and shows the message's own subject,
     * as nats-server's deliveries do); empty: `subject`. */
    struct proto_slice shown;
};

#endif
