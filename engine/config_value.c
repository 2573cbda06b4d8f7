/* The text of flag values: byte sizes with nats-server's units, durations, Linux CPU
 * lists and NATS Streaming ids (see config.h for what each accepts and refuses). Pure
 * functions of their text: config.c reads flags and checks --cpus and --cluster_id with
 * them, main.c pins shards by the CPU list, and streaming checks a client's id. Any
 * thread. */
#include "engine/config.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- sizes and durations --------------------------------------------------------------- */

int config_size_parse(const char *text, int64_t *bytes)
{
    static const struct {
        const char *suffix;
        int64_t scale;
    } units[] = {
        {"", 1},
        {"k", 1000},
        {"kb", 1024},
        {"ki", 1024},
        {"kib", 1024},
        {"m", 1000 * 1000},
        {"mb", 1024 * 1024},
        {"mi", 1024 * 1024},
        {"mib", 1024 * 1024},
        {"g", 1000 * 1000 * 1000},
        {"gb", 1024LL * 1024 * 1024},
        {"gi", 1024LL * 1024 * 1024},
        {"gib", 1024LL * 1024 * 1024},
        {"t", 1000LL * 1000 * 1000 * 1000},
        {"tb", 1024LL * 1024 * 1024 * 1024},
        {"ti", 1024LL * 1024 * 1024 * 1024},
        {"tib", 1024LL * 1024 * 1024 * 1024},
    };
    if (text[0] < '0' || text[0] > '9') {
        return -EINVAL;
    }
    char *end = NULL;
    errno = 0;
    long long number = strtoll(text, &end, 10);
    if (errno != 0 || number < 0) {
        return -EINVAL;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            if (number > INT64_MAX / units[i].scale) {
                return -EINVAL;
            }
            *bytes = number * units[i].scale;
            return 0;
        }
    }
    return -EINVAL;
}

int config_duration_parse(const char *text, int64_t *ns)
{
    static const struct {
        const char *suffix;
        double ns;
    } units[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (errno != 0 || end == text || !(value >= 0) || !isfinite(value)) {
        return -EINVAL;
    }
    double scale = 1e9; /* a bare number is seconds, as in nats-server's config */
    if (*end != '\0') {
        scale = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            if (strcmp(end, units[i].suffix) == 0) {
                scale = units[i].ns;
            }
        }
        if (scale == 0) {
            return -EINVAL;
        }
    }
    double result = value * scale;
    if (result >= 9.2e18) {
        return -EINVAL;
    }
    *ns = (int64_t)result;
    return 0;
}

/* ---- CPU lists and streaming ids ------------------------------------------------------- */

/* Reads one CPU index at *p and steps past it: digits only (no sign, no blank). */
static bool cpu_index_parse(const char **p, long *index)
{
    enum { CPU_INDEX_MAX = 4095 };
    if (**p < '0' || **p > '9') {
        return false;
    }
    char *end;
    *index = strtol(*p, &end, 10);
    *p = end;
    return *index <= CPU_INDEX_MAX;
}

/* Accepts what Linux's cpulist format does: comma-separated indexes and ascending ranges,
 * "0,2-5". Rejects blanks, signs, empty items (a trailing comma) and descending ranges. */
int config_cpus_parse(const char *text, int *cpus, int capacity)
{
    int count = 0;
    const char *p = text;
    for (;;) {
        long first;
        if (!cpu_index_parse(&p, &first)) {
            return -EINVAL;
        }
        long last = first;
        if (*p == '-') {
            p++;
            if (!cpu_index_parse(&p, &last) || last < first) {
                return -EINVAL;
            }
        }
        for (long cpu = first; cpu <= last; cpu++) {
            if (count == capacity) {
                return -EINVAL;
            }
            cpus[count++] = (int)cpu;
        }
        if (*p == '\0') {
            return count;
        }
        if (*p != ',') {
            return -EINVAL;
        }
        p++;
    }
}

bool config_streaming_id_valid(const char *id)
{
    if (id[0] == '\0') {
        return false;
    }
    for (const char *c = id; *c != '\0'; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_')) {
            return false;
        }
    }
    return true;
}
