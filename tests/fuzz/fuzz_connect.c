/* libFuzzer target for CONNECT's JSON (proto/connect.c), any bytes as the argument.
 *
 * What must hold for every input: parse returns 0 or a connect_error; on an error nothing
 * owned is left in the options; on success the protocol is in range, the labels are
 * NUL-terminated within their arrays, and every credential present is a NUL-terminated copy
 * the caller frees (LeakSanitizer checks that connect_options_free gives all of it back).
 * The input is copied without a terminating NUL, so a parse that reads `json` as a C string
 * past `length` is caught by AddressSanitizer. */
#include "proto/connect.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_label(const char *label)
{
    if (memchr(label, '\0', CONNECT_LABEL_SIZE) == NULL) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = malloc(size > 0 ? size : 1);
    if (json == NULL) {
        return 0;
    }
    if (size > 0) {
        memcpy(json, data, size);
    }
    struct connect_options options;
    int rc = connect_options_parse(json, size, &options);
    free(json); /* nothing in the options may point into the input */
    if (rc != 0) {
        if (rc != CONNECT_ERR_JSON && rc != CONNECT_ERR_PROTOCOL && rc != CONNECT_ERR_NO_MEMORY) {
            abort();
        }
        if (options.user != NULL || options.pass != NULL || options.auth_token != NULL) {
            abort();
        }
        return 0;
    }
    if (options.protocol < 0 || options.protocol > CONNECT_PROTOCOL_MAX) {
        abort();
    }
    check_label(options.name);
    check_label(options.lang);
    check_label(options.version);
    const char *const secrets[] = {options.user, options.pass, options.auth_token};
    size_t secret_bytes = 0;
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        secret_bytes += secrets[i] != NULL ? strlen(secrets[i]) : 0; /* read every byte */
    }
    if (secret_bytes > size) {
        abort(); /* a credential is a copy of bytes of the input, never more */
    }
    connect_options_free(&options);
    if (options.user != NULL || options.pass != NULL || options.auth_token != NULL) {
        abort();
    }
    connect_options_free(&options); /* twice: harmless */
    return 0;
}
