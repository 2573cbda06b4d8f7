/* Text as nats-server's Go writes it: JSON strings as encoding/json escapes them, and Go's
 * %q quoting (strconv.Quote), byte for byte. The one copy of both in ionats.
 *
 * nats-server 2.15.1 (built with Go 1.27) writes JSON strings this way: '<', '>' and '&'
 * as \u003c, \u003e, \u0026 (HTML-safe, so a subject "foo.>" goes out as "foo.\u003e");
 * '"', '\\', \b, \f, \n, \r, \t as two-character escapes; other bytes below 0x20 as
 * \u00XX; U+2028 and U+2029 escaped; each byte of invalid UTF-8 replaced by U+FFFD written
 * as the character itself (EF BF BD). Go 1.26's encoding/json and older wrote the escape
 * "\ufffd" instead; Go 1.27's encoding/json is built on json/v2, which writes the
 * character; every nats-server 2.15.1 reply observed does (an error ack's description, a
 * stored message's subject in STREAM.MSG.GET).
 *
 * %q (a success ack's stream, domain and batch id; subjects and keys quoted in error
 * descriptions) writes the string in double quotes with \" \\ \a \b \f \n \r \t \v,
 * \xNN for invalid UTF-8 bytes and the other ASCII controls, \uNNNN or \UNNNNNNNN for the
 * runes Go's IsPrint refuses, and every other rune as it is.
 *
 * `struct go_json` is the writer: a growing buffer it owns, or a fixed buffer the caller
 * lends. Pure functions and const tables: any thread; a writer belongs to its caller. */
#ifndef IONATS_PROTO_GO_JSON_H
#define IONATS_PROTO_GO_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the decoder reports for invalid UTF-8 (with a size of 1), as Go's utf8.RuneError. */
enum { GO_JSON_RUNE_ERROR = 0xFFFD };

/* Decodes the UTF-8 rune at text[0, length) (length >= 1) into *rune and returns its size;
 * an invalid or truncated sequence, an overlong form, a surrogate or a value past U+10FFFF
 * decodes as GO_JSON_RUNE_ERROR of size 1, as Go's utf8.DecodeRune does. */
size_t go_json_utf8_decode(const char *text, size_t length, uint32_t *rune);

/* JSON text under construction. Appends never fail loudly: once a piece does not fit (out
 * of memory, past length_max, past the lent buffer), `failed` is set and later appends do
 * nothing, so a writer checks once at the end. Each append of one escape or one rune is
 * all or nothing. */
struct go_json {
    char *data;        /* owned (malloc) unless lent; NUL-terminated while owned && !failed */
    size_t length;     /* bytes written, NUL excluded */
    size_t capacity;   /* bytes allocated, or the lent buffer's size */
    size_t length_max; /* never grows past this many bytes */
    bool lent;         /* data is the caller's buffer: never grown, freed or NUL-terminated */
    bool failed;       /* out of room: the text is incomplete */
};

/* A writer that allocates as it grows, up to `length_max` bytes; go_json_free releases it. */
void go_json_init(struct go_json *json, size_t length_max);

/* A writer into the caller's `buffer` of `size` bytes, borrowed for the writer's life: the
 * text may fill it exactly (no NUL is written). No allocation; go_json_free is not needed. */
void go_json_init_lent(struct go_json *json, char *buffer, size_t size);

void go_json_free(struct go_json *json);

/* Appends bytes as they are (JSON punctuation, known-safe keys, text already escaped). */
void go_json_raw(struct go_json *json, const char *bytes, size_t length);
void go_json_literal(struct go_json *json, const char *text);

/* Appends ',' unless the text is empty or ends with '{' or '[': before an object's member
 * or an array's element. */
void go_json_comma(struct go_json *json);

/* Appends `"key":` after go_json_comma. */
void go_json_key(struct go_json *json, const char *key);

/* Appends a JSON string as encoding/json writes it (see the top of this file). */
void go_json_string(struct go_json *json, const char *text, size_t length);
void go_json_cstring(struct go_json *json, const char *text);

/* The inside of such a string, without its quotes, for a string written in pieces. */
void go_json_string_inner(struct go_json *json, const char *text, size_t length);

void go_json_int(struct go_json *json, int64_t value);
void go_json_uint(struct go_json *json, uint64_t value);
void go_json_bool(struct go_json *json, bool value);

/* A member, `"key":value`, after go_json_comma. A NULL string is written as "". */
void go_json_key_int(struct go_json *json, const char *key, int64_t value);
void go_json_key_uint(struct go_json *json, const char *key, uint64_t value);
void go_json_key_bool(struct go_json *json, const char *key, bool value);
void go_json_key_cstring(struct go_json *json, const char *key, const char *value);

/* Appends `text` as fmt's %q writes it, quotes included, and nothing else (no JSON
 * escaping on top: nats-server prints some replies with %q directly). */
void go_json_quote(struct go_json *json, const char *text, size_t length);

/* Appends one valid rune (not a decoding error) as %q writes it inside its quotes. */
void go_json_quote_rune(struct go_json *json, uint32_t rune);

/* Writes %q of `text` into `target` and NUL-terminates it; returns the length written.
 * Where it does not fit in `size` (>= 1) bytes it is cut after the last whole rune or
 * escape that fits, closing quote dropped. */
size_t go_json_quote_into(char *target, size_t size, const char *text, size_t length);

#endif
