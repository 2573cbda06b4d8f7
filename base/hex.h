/* Hexadecimal digits: the one reading of a digit that URL escapes (engine/http.c), the
 * configuration's "\x" escapes (proto/conf_lex_scalar.c) and distinguished names
 * (engine/auth_tls_map.c) share. Any thread. */
#ifndef IONATS_BASE_HEX_H
#define IONATS_BASE_HEX_H

/* The value of hexadecimal digit `c` (either case), or -1 when it is none. */
static inline int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

#endif
