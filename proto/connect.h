/* CONNECT options in, INFO out: the JSON halves of the NATS handshake.
 *
 * INFO is built once per server as an immutable prefix; each connection appends only its
 * client_id and client_ip, so greeting a client costs one snprintf. CONNECT is parsed with
 * jansson into `struct connect_options`, applying nats-server's defaults for absent keys
 * (verbose, pedantic and echo default to true). Pure functions, any thread. */
#ifndef IONATS_PROTO_CONNECT_H
#define IONATS_PROTO_CONNECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The protocol version INFO advertises ("proto"): 1 = supports async INFO. */
enum { CONNECT_PROTOCOL_MAX = 1 };

/* Field sizes kept from CONNECT; longer values are cut (they are only shown, never
 * compared, except credentials, which are compared whole and so kept whole: see below). */
enum { CONNECT_LABEL_SIZE = 128 };

struct connect_options {
    bool verbose;
    bool pedantic;
    bool echo;
    bool headers;
    bool no_responders;
    int protocol;
    char name[CONNECT_LABEL_SIZE];
    char lang[CONNECT_LABEL_SIZE];
    char version[CONNECT_LABEL_SIZE];
    char *user;       /* owned, NULL when absent */
    char *pass;       /* owned, NULL when absent */
    char *auth_token; /* owned, NULL when absent */
    char *nkey;       /* owned, NULL when absent: an nkey user's public key */
    char *sig;        /* owned, NULL when absent: its signature of INFO's nonce */
};

enum connect_error {
    CONNECT_ERR_JSON = -1,     /* not a JSON object */
    CONNECT_ERR_PROTOCOL = -2, /* "protocol" outside 0..CONNECT_PROTOCOL_MAX */
    CONNECT_ERR_NO_MEMORY = -3,
};

/* Parses CONNECT's JSON. 0 or a connect_error; on error `options` holds nothing owned. */
int connect_options_parse(const char *json, size_t length, struct connect_options *options);
void connect_options_free(struct connect_options *options);

/* What the server says about itself in every INFO. */
struct info_server {
    const char *server_id;   /* 56-character N… identity */
    const char *server_name;
    const char *version;
    const char *host;
    int port;
    uint32_t max_payload;
    bool auth_required;
    bool tls_required; /* TLS for clients */
    bool tls_verify;   /* ... with client certificates */
    bool jetstream; /* "jetstream":true, after max_payload as nats-server writes it */
};

/* Builds the shared INFO prefix: `INFO {…` up to, not including, client_id. Returns a
 * malloc'ed NUL-terminated string owned by the caller, NULL when out of memory. */
char *info_prefix_build(const struct info_server *server);

/* Writes what follows info_prefix_build's prefix in one client's INFO line (its id and
 * address, the nonce when not NULL, "ldm":true in lame duck mode, the closing brace and
 * CRLF) into `buffer`. Returns its
 * length, or 0 when it does not fit. */
size_t info_tail_write(char *buffer, size_t size, uint64_t client_id, const char *client_ip,
                       const char *nonce, bool lame_duck);

/* Fills `server_id` (57 bytes incl. NUL) with a random 56-character id starting 'N', in the
 * alphabet of NATS public keys, from the 64-bit random words given. */
void info_server_id_make(char *server_id, size_t size, const uint64_t random_words[4]);

#endif
