/* Go's JSON string escaping and %q quoting, and the writer they append to: see go_json.h.
 *
 * Go's strconv.IsPrint is table-driven over all of Unicode; go_json_rune_printable is exact
 * below U+0530 (ASCII, Latin-1, Latin Extended-A and -B, IPA, Greek, Cyrillic) and for the
 * non-printing characters a client plausibly sends anywhere (C1 controls, the Unicode
 * spaces, format characters, private use, noncharacters, tag characters); other
 * unassigned code points are kept raw where Go would escape them. Every range below was
 * checked against Go 1.26's strconv.IsPrint, rune by rune: each is one Go escapes. The
 * writer's pieces are whole: one escape or one rune per go_json_raw, so a lent buffer that
 * fills up is never left with half of one. Any thread. */
#include "proto/go_json.h"

#include "base/assert.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* First allocation of a growing writer: one stream config reply fits in it. */
enum { GO_JSON_CAPACITY_FIRST = 1024 };

/* ---- UTF-8 ------------------------------------------------------------------------------ */

size_t go_json_utf8_decode(const char *text, size_t length, uint32_t *rune)
{
    ASSERT(length > 0);
    const unsigned char *bytes = (const unsigned char *)text;
    unsigned char lead = bytes[0];
    *rune = GO_JSON_RUNE_ERROR;
    if (lead < 0x80) {
        *rune = lead;
        return 1;
    }
    size_t size;
    uint32_t value;
    uint32_t min;
    if (lead >= 0xC2 && lead <= 0xDF) {
        size = 2, value = lead & 0x1F, min = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        size = 3, value = lead & 0x0F, min = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        size = 4, value = lead & 0x07, min = 0x10000;
    } else {
        return 1;
    }
    if (length < size) {
        return 1;
    }
    for (size_t i = 1; i < size; i++) {
        if ((bytes[i] & 0xC0) != 0x80) {
            return 1;
        }
        value = value << 6 | (bytes[i] & 0x3F);
    }
    /* overlong forms, UTF-16 surrogates and values past U+10FFFF are invalid, as Go's
     * utf8.DecodeRune says */
    if (value < min || (value >= 0xD800 && value <= 0xDFFF) || value > 0x10FFFF) {
        return 1;
    }
    *rune = value;
    return size;
}

/* The UTF-8 encoding of a valid rune into bytes[4]; returns its length. */
static size_t go_json_utf8_encode(uint32_t rune, char bytes[4])
{
    static const unsigned char lead_bits[] = {0, 0, 0xC0, 0xE0, 0xF0}; /* by length */
    size_t n = rune < 0x80 ? 1 : rune < 0x800 ? 2 : rune < 0x10000 ? 3 : 4;
    bytes[0] = (char)(lead_bits[n] | rune >> (6 * (n - 1)));
    for (size_t i = 1; i < n; i++) {
        bytes[i] = (char)(0x80 | ((rune >> (6 * (n - 1 - i))) & 0x3F));
    }
    return n;
}

/* ---- the writer ------------------------------------------------------------------------- */

void go_json_init(struct go_json *json, size_t length_max)
{
    memset(json, 0, sizeof *json);
    json->length_max = length_max;
}

void go_json_init_lent(struct go_json *json, char *buffer, size_t size)
{
    memset(json, 0, sizeof *json);
    json->data = buffer;
    json->capacity = size;
    json->length_max = size;
    json->lent = true;
}

void go_json_free(struct go_json *json)
{
    if (!json->lent) {
        free(json->data);
    }
    memset(json, 0, sizeof *json);
}

/* Makes room for `extra` more bytes (and the NUL of an owned text); false (and `failed`)
 * when it cannot. */
static bool go_json_reserve(struct go_json *json, size_t extra)
{
    if (json->failed) {
        return false;
    }
    if (extra > json->length_max - json->length) {
        json->failed = true;
        return false;
    }
    size_t need = json->length + extra + (json->lent ? 0 : 1);
    if (need <= json->capacity) {
        return true;
    }
    ASSERT(!json->lent); /* length_max is the lent buffer's size */
    size_t capacity = json->capacity ? json->capacity : GO_JSON_CAPACITY_FIRST;
    while (capacity < need) {
        capacity *= 2;
    }
    char *data = realloc(json->data, capacity);
    if (data == NULL) {
        json->failed = true;
        return false;
    }
    json->data = data;
    json->capacity = capacity;
    return true;
}

void go_json_raw(struct go_json *json, const char *bytes, size_t length)
{
    if (!go_json_reserve(json, length)) {
        return;
    }
    memcpy(&json->data[json->length], bytes, length);
    json->length += length;
    if (!json->lent) {
        json->data[json->length] = '\0';
    }
}

void go_json_literal(struct go_json *json, const char *text)
{
    go_json_raw(json, text, strlen(text));
}

void go_json_comma(struct go_json *json)
{
    char last = json->length > 0 ? json->data[json->length - 1] : '{';
    if (last != '{' && last != '[') {
        go_json_raw(json, ",", 1);
    }
}

void go_json_key(struct go_json *json, const char *key)
{
    go_json_comma(json);
    go_json_cstring(json, key);
    go_json_raw(json, ":", 1);
}

void go_json_int(struct go_json *json, int64_t value)
{
    char text[24];
    int length = snprintf(text, sizeof text, "%" PRId64, value);
    ASSERT(length > 0 && (size_t)length < sizeof text);
    go_json_raw(json, text, (size_t)length);
}

void go_json_uint(struct go_json *json, uint64_t value)
{
    char text[24];
    int length = snprintf(text, sizeof text, "%" PRIu64, value);
    ASSERT(length > 0 && (size_t)length < sizeof text);
    go_json_raw(json, text, (size_t)length);
}

void go_json_bool(struct go_json *json, bool value)
{
    go_json_literal(json, value ? "true" : "false");
}

/* Appends `\<kind>` and `value` in `hex_digits` lower-case hex digits: \x01, \u003c. */
static void go_json_hex_escape(struct go_json *json, char kind, uint32_t value, int hex_digits)
{
    static const char hex[] = "0123456789abcdef";
    char escape[10] = {'\\', kind};
    ASSERT(hex_digits <= 8);
    for (int i = 0; i < hex_digits; i++) {
        escape[2 + i] = hex[(value >> (4 * (hex_digits - 1 - i))) & 0xF];
    }
    go_json_raw(json, escape, (size_t)(2 + hex_digits));
}

/* ---- JSON strings ----------------------------------------------------------------------- */

/* The letter of encoding/json's two-character escape for an ASCII byte, 0 when none. */
static char go_json_string_letter(uint32_t byte)
{
    static const char bytes[] = "\"\\\b\f\n\r\t";
    static const char letters[] = "\"\\bfnrt";
    const char *found = byte != 0 && byte < 0x80 ? strchr(bytes, (int)byte) : NULL;
    return found != NULL ? letters[found - bytes] : 0;
}

/* Whether encoding/json escapes the rune at hand: ASCII controls, '"', '\\', '<', '>',
 * '&', U+2028, U+2029, and a byte that is not UTF-8 (`invalid`). */
static bool go_json_string_escaped(uint32_t rune, bool invalid)
{
    if (rune < 0x80) {
        return rune < 0x20 || rune == '<' || rune == '>' || rune == '&' ||
               go_json_string_letter(rune) != 0;
    }
    return invalid || rune == 0x2028 || rune == 0x2029;
}

static void go_json_string_escape(struct go_json *json, uint32_t rune, bool invalid)
{
    char letter = go_json_string_letter(rune);
    if (invalid) {
        char replacement[4];
        go_json_raw(json, replacement, go_json_utf8_encode(GO_JSON_RUNE_ERROR, replacement));
    } else if (letter != 0) {
        char pair[2] = {'\\', letter};
        go_json_raw(json, pair, 2);
    } else {
        go_json_hex_escape(json, 'u', rune, 4);
    }
}

void go_json_string_inner(struct go_json *json, const char *text, size_t length)
{
    size_t start = 0; /* bytes [start, i) go out unchanged */
    size_t i = 0;
    while (i < length) {
        uint32_t rune = (unsigned char)text[i];
        size_t advance = rune < 0x80 ? 1 : go_json_utf8_decode(&text[i], length - i, &rune);
        bool invalid = rune == GO_JSON_RUNE_ERROR && advance == 1;
        if (go_json_string_escaped(rune, invalid)) {
            go_json_raw(json, &text[start], i - start);
            go_json_string_escape(json, rune, invalid);
            start = i + advance;
        }
        i += advance;
    }
    go_json_raw(json, &text[start], length - start);
}

void go_json_string(struct go_json *json, const char *text, size_t length)
{
    go_json_raw(json, "\"", 1);
    go_json_string_inner(json, text, length);
    go_json_raw(json, "\"", 1);
}

void go_json_cstring(struct go_json *json, const char *text)
{
    go_json_string(json, text, strlen(text));
}

/* ---- %q --------------------------------------------------------------------------------- */

/* Whether Go's strconv.IsPrint holds for a rune at or above 0x80 (see the top of this
 * file for the coverage). */
static bool go_json_rune_printable(uint32_t rune)
{
    static const uint32_t unprintable[][2] = {
        {0x0080, 0x00A0},   {0x00AD, 0x00AD},    {0x0378, 0x0379}, {0x0380, 0x0383},
        {0x038B, 0x038B},   {0x038D, 0x038D},    {0x03A2, 0x03A2}, {0x061C, 0x061C},
        {0x06DD, 0x06DD},   {0x070F, 0x070F},    {0x1680, 0x1680}, {0x180E, 0x180E},
        {0x2000, 0x200F},   {0x2028, 0x202F},    {0x205F, 0x206F}, {0x3000, 0x3000},
        {0xD800, 0xF8FF},   {0xFEFF, 0xFEFF},    {0xFFF0, 0xFFFB}, {0xE0000, 0xE00FF},
        {0xE01F0, 0xE0FFF}, {0xF0000, 0x10FFFF},
    };
    if ((rune & 0xFFFE) == 0xFFFE) {
        return false; /* the noncharacters U+xFFFE and U+xFFFF of every plane */
    }
    for (size_t i = 0; i < sizeof unprintable / sizeof unprintable[0]; i++) {
        if (rune >= unprintable[i][0] && rune <= unprintable[i][1]) {
            return false;
        }
    }
    return true;
}

/* The letter of strconv.Quote's one-letter escape for an ASCII control, 0 when none. */
static char go_json_quote_letter(uint32_t rune)
{
    static const char controls[] = "\a\b\f\n\r\t\v";
    static const char letters[] = "abfnrtv";
    const char *found = rune != 0 && rune < 0x20 ? strchr(controls, (int)rune) : NULL;
    return found != NULL ? letters[found - controls] : 0;
}

void go_json_quote_rune(struct go_json *json, uint32_t rune)
{
    ASSERT(rune <= 0x10FFFF);
    char letter = go_json_quote_letter(rune);
    if (rune == '"' || rune == '\\') {
        char pair[2] = {'\\', (char)rune};
        go_json_raw(json, pair, 2);
    } else if (rune >= 0x20 && rune < 0x7F) {
        char byte = (char)rune;
        go_json_raw(json, &byte, 1);
    } else if (letter != 0) {
        char pair[2] = {'\\', letter};
        go_json_raw(json, pair, 2);
    } else if (rune < 0x80) {
        go_json_hex_escape(json, 'x', rune, 2);
    } else if (go_json_rune_printable(rune)) {
        char bytes[4];
        go_json_raw(json, bytes, go_json_utf8_encode(rune, bytes));
    } else if (rune < 0x10000) {
        go_json_hex_escape(json, 'u', rune, 4);
    } else {
        go_json_hex_escape(json, 'U', rune, 8);
    }
}

void go_json_quote(struct go_json *json, const char *text, size_t length)
{
    go_json_raw(json, "\"", 1);
    for (size_t i = 0; i < length;) {
        uint32_t rune;
        size_t advance = go_json_utf8_decode(&text[i], length - i, &rune);
        if (rune == GO_JSON_RUNE_ERROR && advance == 1) {
            go_json_hex_escape(json, 'x', (unsigned char)text[i], 2);
        } else {
            go_json_quote_rune(json, rune);
        }
        i += advance;
    }
    go_json_raw(json, "\"", 1);
}

size_t go_json_quote_into(char *target, size_t size, const char *text, size_t length)
{
    ASSERT(size >= 1);
    struct go_json json;
    go_json_init_lent(&json, target, size - 1);
    go_json_quote(&json, text, length);
    target[json.length] = '\0';
    return json.length;
}

void go_json_key_int(struct go_json *json, const char *key, int64_t value)
{
    go_json_key(json, key);
    go_json_int(json, value);
}

void go_json_key_uint(struct go_json *json, const char *key, uint64_t value)
{
    go_json_key(json, key);
    go_json_uint(json, value);
}

void go_json_key_bool(struct go_json *json, const char *key, bool value)
{
    go_json_key(json, key);
    go_json_bool(json, value);
}

void go_json_key_cstring(struct go_json *json, const char *key, const char *value)
{
    go_json_key(json, key);
    go_json_cstring(json, value != NULL ? value : "");
}
