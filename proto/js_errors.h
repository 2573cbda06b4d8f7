/* nats-server's JetStream API errors: the table, and one filled-in error.
 *
 * Every error a JetStream API reply can carry is one row of a const table: the HTTP-like
 * `code`, nats-server's `err_code` and its `description` template, with the placeholders
 * ({err}, {prefix}, {subject}, ...) that nats-server's server/errors.json defines. A
 * `struct js_error` is one filled-in error, ready to be written as
 * `"error":{"code":500,"err_code":10052,"description":"..."}`. Clients match err_code and
 * often show or compare the description, so both are kept byte for byte; the JSON text is
 * Go's, from go_json.h. Pure functions and const tables: any thread. */
#ifndef IONATS_PROTO_JS_ERRORS_H
#define IONATS_PROTO_JS_ERRORS_H

#include "proto/go_json.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* The errors stream operations (and the generic API paths around them) need, named after
 * nats-server's constants (JSStreamNotFoundErr -> JS_ERR_STREAM_NOT_FOUND); the comment is
 * the err_code. The consumer errors follow the stream's: those the consumer create handler,
 * checkConsumerCfg and the consumer API paths around them can answer. */
enum js_error_id {
    JS_ERR_NONE = 0,
    JS_ERR_BAD_REQUEST,                                      /* 10003 */
    JS_ERR_INVALID_JSON,                                     /* 10025 */
    JS_ERR_NOT_EMPTY_REQUEST,                                /* 10038 */
    JS_ERR_NOT_ENABLED,                                      /* 10076 */
    JS_ERR_NOT_ENABLED_FOR_ACCOUNT,                          /* 10039 */
    JS_ERR_NO_ACCOUNT,                                       /* 10035 */
    JS_ERR_REQUIRED_API_LEVEL,                               /* 10185 */
    JS_ERR_PEDANTIC,                                         /* 10157 */
    JS_ERR_CLUSTER_NOT_AVAIL,                                /* 10008 */
    JS_ERR_CLUSTER_UNSUPPORTED_FEATURE,                      /* 10036 */
    JS_ERR_CLUSTER_NO_PEERS,                                 /* 10005 */
    JS_ERR_CLUSTER_TAGS,                                     /* 10011 */
    JS_ERR_INSUFFICIENT_RESOURCES,                           /* 10023 */
    JS_ERR_ACCOUNT_RESOURCES_EXCEEDED,                       /* 10002 */
    JS_ERR_STORAGE_RESOURCES_EXCEEDED,                       /* 10047 */
    JS_ERR_MEMORY_RESOURCES_EXCEEDED,                        /* 10028 */
    JS_ERR_MAXIMUM_STREAMS_LIMIT,                            /* 10027 */
    JS_ERR_MAXIMUM_CONSUMERS_LIMIT,                          /* 10026 */
    JS_ERR_NO_LIMITS,                                        /* 10120 */
    JS_ERR_REPLICAS_COUNT_CANNOT_BE_NEGATIVE,                /* 10133 */
    JS_ERR_STREAM_REPLICAS_NOT_SUPPORTED,                    /* 10074 */
    JS_ERR_STREAM_REPLICAS_NOT_UPDATABLE,                    /* 10061 */
    JS_ERR_STREAM_NOT_FOUND,                                 /* 10059 */
    JS_ERR_STREAM_NAME_EXIST,                                /* 10058 */
    JS_ERR_STREAM_NAME_EXIST_RESTORE_FAILED,                 /* 10130 */
    JS_ERR_STREAM_MISMATCH,                                  /* 10056 */
    JS_ERR_STREAM_NAME_CONTAINS_PATH_SEPARATORS,             /* 10128 */
    JS_ERR_STREAM_INVALID_CONFIG,                            /* 10052 */
    JS_ERR_STREAM_CREATE,                                    /* 10049 */
    JS_ERR_STREAM_UPDATE,                                    /* 10069 */
    JS_ERR_STREAM_DELETE,                                    /* 10050 */
    JS_ERR_STREAM_GENERAL_ERROR,                             /* 10051 */
    JS_ERR_STREAM_INVALID,                                   /* 10096 */
    JS_ERR_STREAM_SUBJECT_OVERLAP,                           /* 10065 */
    JS_ERR_STREAM_MIRROR_NOT_UPDATABLE,                      /* 10055 */
    JS_ERR_STREAM_SEALED,                                    /* 10109 */
    JS_ERR_STREAM_PURGE_FAILED,                              /* 10110 */
    JS_ERR_STREAM_ROLLUP_FAILED,                             /* 10111 */
    JS_ERR_STREAM_MSG_DELETE_FAILED,                         /* 10057 */
    JS_ERR_STREAM_STORE_FAILED,                              /* 10077 */
    JS_ERR_STREAM_LIMITS,                                    /* 10053 */
    JS_ERR_STREAM_MAX_BYTES_REQUIRED,                        /* 10113 */
    JS_ERR_STREAM_MAX_STREAM_BYTES_EXCEEDED,                 /* 10122 */
    JS_ERR_STREAM_OFFLINE,                                   /* 10118 */
    JS_ERR_STREAM_OFFLINE_REASON,                            /* 10194 */
    JS_ERR_STREAM_INFO_MAX_SUBJECTS,                         /* 10117 */
    JS_ERR_STREAM_SNAPSHOT,                                  /* 10064 */
    JS_ERR_STREAM_RESTORE,                                   /* 10062 */
    JS_ERR_NO_MESSAGE_FOUND,                                 /* 10037 */
    JS_ERR_SEQUENCE_NOT_FOUND,                               /* 10043 */
    JS_ERR_STREAM_MESSAGE_EXCEEDS_MAXIMUM,                   /* 10054 */
    JS_ERR_STREAM_HEADER_EXCEEDS_MAXIMUM,                    /* 10097 */
    JS_ERR_STREAM_NOT_MATCH,                                 /* 10060 */
    JS_ERR_STREAM_WRONG_LAST_SEQUENCE,                       /* 10071 */
    JS_ERR_STREAM_WRONG_LAST_SEQUENCE_CONSTANT,              /* 10164 */
    JS_ERR_STREAM_WRONG_LAST_MSG_ID,                         /* 10070 */
    JS_ERR_STREAM_SEQUENCE_NOT_MATCH,                        /* 10063 */
    JS_ERR_STREAM_DUPLICATE_MESSAGE_CONFLICT,                /* 10158 */
    JS_ERR_STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_NOT_READY,   /* 10163 */
    JS_ERR_STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_INVALID,     /* 10193 */
    JS_ERR_STREAM_MIN_LAST_SEQ,                              /* 10180 */
    JS_ERR_STREAM_TOO_MANY_REQUESTS,                         /* 10167 */
    JS_ERR_MESSAGE_TTL_INVALID,                              /* 10165 */
    JS_ERR_MESSAGE_TTL_DISABLED,                             /* 10166 */
    JS_ERR_STREAM_TRANSFORM_INVALID_SOURCE,                  /* 10155 */
    JS_ERR_STREAM_TRANSFORM_INVALID_DESTINATION,             /* 10156 */
    JS_ERR_STREAM_EXTERNAL_DEL_PREFIX_OVERLAPS,              /* 10022 */
    JS_ERR_STREAM_EXTERNAL_API_OVERLAP,                      /* 10021 */
    JS_ERR_STREAM_INVALID_EXTERNAL_DELIVERY_SUBJ,            /* 10024 */
    JS_ERR_MIRROR_WITH_SUBJECTS,                             /* 10034 */
    JS_ERR_MIRROR_WITH_SOURCES,                              /* 10031 */
    JS_ERR_MIRROR_WITH_START_SEQ_AND_TIME,                   /* 10032 */
    JS_ERR_MIRROR_WITH_SUBJECT_FILTERS,                      /* 10033 */
    JS_ERR_MIRROR_WITH_FIRST_SEQ,                            /* 10143 */
    JS_ERR_MIRROR_MAX_MESSAGE_SIZE_TOO_BIG,                  /* 10030 */
    JS_ERR_MIRROR_INVALID_STREAM_NAME,                       /* 10142 */
    JS_ERR_MIRROR_MULTIPLE_FILTERS_NOT_ALLOWED,              /* 10150 */
    JS_ERR_MIRROR_INVALID_SUBJECT_FILTER,                    /* 10151 */
    JS_ERR_MIRROR_OVERLAPPING_SUBJECT_FILTERS,               /* 10152 */
    JS_ERR_MIRROR_INVALID_TRANSFORM_DESTINATION,             /* 10154 */
    JS_ERR_MIRROR_WITH_COUNTERS,                             /* 10173 */
    JS_ERR_MIRROR_WITH_ATOMIC_PUBLISH,                       /* 10198 */
    JS_ERR_MIRROR_WITH_MSG_SCHEDULES,                        /* 10186 */
    JS_ERR_MIRROR_WITH_BATCH_PUBLISH,                        /* 10209 */
    JS_ERR_MIRROR_DURABLE_CONSUMER_CFG_INVALID,              /* 10213 */
    JS_ERR_MIRROR_CONSUMER_SETUP_FAILED,                     /* 10029 */
    JS_ERR_SOURCE_CONSUMER_SETUP_FAILED,                     /* 10045 */
    JS_ERR_SOURCE_MAX_MESSAGE_SIZE_TOO_BIG,                  /* 10046 */
    JS_ERR_SOURCE_DUPLICATE_DETECTED,                        /* 10140 */
    JS_ERR_SOURCE_INVALID_STREAM_NAME,                       /* 10141 */
    JS_ERR_SOURCE_MULTIPLE_FILTERS_NOT_ALLOWED,              /* 10144 */
    JS_ERR_SOURCE_INVALID_SUBJECT_FILTER,                    /* 10145 */
    JS_ERR_SOURCE_INVALID_TRANSFORM_DESTINATION,             /* 10146 */
    JS_ERR_SOURCE_OVERLAPPING_SUBJECT_FILTERS,               /* 10147 */
    JS_ERR_SOURCE_WITH_MSG_SCHEDULES,                        /* 10187 */
    JS_ERR_SOURCE_DURABLE_CONSUMER_CFG_INVALID,              /* 10215 */
    JS_ERR_SOURCE_DURABLE_CONSUMER_DUPLICATE_DETECTED,       /* 10216 */
    JS_ERR_CONSUMER_NOT_FOUND,                               /* 10014 */
    JS_ERR_CONSUMER_NAME_EXIST,                              /* 10013 */
    JS_ERR_CONSUMER_ALREADY_EXISTS,                          /* 10148 */
    JS_ERR_CONSUMER_DOES_NOT_EXIST,                          /* 10149 */
    JS_ERR_CONSUMER_CONFIG_REQUIRED,                         /* 10078 */
    JS_ERR_CONSUMER_CREATE,                                  /* 10012 */
    JS_ERR_CONSUMER_STORE_FAILED,                            /* 10104 */
    JS_ERR_CONSUMER_EXISTING_ACTIVE,                         /* 10105 */
    JS_ERR_CONSUMER_REPLACEMENT_WITH_DIFFERENT_NAME,         /* 10106 */
    JS_ERR_CONSUMER_NAME_TOO_LONG,                           /* 10102 */
    JS_ERR_CONSUMER_BAD_DURABLE_NAME,                        /* 10103 */
    JS_ERR_CONSUMER_NAME_CONTAINS_PATH_SEPARATORS,           /* 10127 */
    JS_ERR_CONSUMER_DURABLE_NAME_NOT_IN_SUBJECT,             /* 10016 */
    JS_ERR_CONSUMER_DURABLE_NAME_NOT_MATCH_SUBJECT,          /* 10017 */
    JS_ERR_CONSUMER_DURABLE_NAME_NOT_SET,                    /* 10018 */
    JS_ERR_CONSUMER_EPHEMERAL_WITH_DURABLE_IN_SUBJECT,       /* 10019 */
    JS_ERR_CONSUMER_EPHEMERAL_WITH_DURABLE_NAME,             /* 10020 */
    JS_ERR_CONSUMER_CREATE_FILTER_SUBJECT_MISMATCH,          /* 10131 */
    JS_ERR_CONSUMER_MULTIPLE_FILTERS_NOT_ALLOWED,            /* 10137 */
    JS_ERR_CONSUMER_CREATE_DURABLE_AND_NAME_MISMATCH,        /* 10132 */
    JS_ERR_CONSUMER_REPLICAS_EXCEEDS_STREAM,                 /* 10126 */
    JS_ERR_CONSUMER_REPLICAS_SHOULD_MATCH_STREAM,            /* 10134 */
    JS_ERR_CONSUMER_ACK_POLICY_INVALID,                      /* 10181 */
    JS_ERR_CONSUMER_REPLAY_POLICY_INVALID,                   /* 10182 */
    JS_ERR_CONSUMER_BACKOFF_NEGATIVE,                        /* 10184 */
    JS_ERR_CONSUMER_ACK_WAIT_NEGATIVE,                       /* 10183 */
    JS_ERR_CONSUMER_ACK_FC_REQUIRES_PUSH,                    /* 10218 */
    JS_ERR_CONSUMER_ACK_FC_REQUIRES_FC,                      /* 10219 */
    JS_ERR_CONSUMER_ACK_FC_REQUIRES_MAX_ACK_PENDING,         /* 10220 */
    JS_ERR_CONSUMER_ACK_FC_REQUIRES_NO_ACK_WAIT,             /* 10221 */
    JS_ERR_CONSUMER_ACK_FC_REQUIRES_NO_MAX_DELIVER,          /* 10222 */
    JS_ERR_CONSUMER_MAX_DELIVER_BACKOFF,                     /* 10116 */
    JS_ERR_CONSUMER_DESCRIPTION_TOO_LONG,                    /* 10107 */
    JS_ERR_CONSUMER_DELIVER_TO_WILDCARDS,                    /* 10079 */
    JS_ERR_CONSUMER_INVALID_DELIVER_SUBJECT,                 /* 10112 */
    JS_ERR_CONSUMER_DELIVER_CYCLE,                           /* 10081 */
    JS_ERR_CONSUMER_PUSH_MAX_WAITING,                        /* 10080 */
    JS_ERR_CONSUMER_MAX_PENDING_ACK_POLICY_REQUIRED,         /* 10082 */
    JS_ERR_CONSUMER_SMALL_HEARTBEAT,                         /* 10083 */
    JS_ERR_CONSUMER_PULL_REQUIRES_ACK,                       /* 10084 */
    JS_ERR_CONSUMER_PULL_NOT_DURABLE,                        /* 10085 */
    JS_ERR_CONSUMER_PULL_WITH_RATE_LIMIT,                    /* 10086 */
    JS_ERR_CONSUMER_MAX_WAITING_NEGATIVE,                    /* 10087 */
    JS_ERR_CONSUMER_HB_REQUIRES_PUSH,                        /* 10088 */
    JS_ERR_CONSUMER_FC_REQUIRES_PUSH,                        /* 10089 */
    JS_ERR_CONSUMER_MAX_REQUEST_BATCH_NEGATIVE,              /* 10114 */
    JS_ERR_CONSUMER_MAX_REQUEST_EXPIRES_TOO_SMALL,           /* 10115 */
    JS_ERR_CONSUMER_MAX_REQUEST_BATCH_EXCEEDED,              /* 10125 */
    JS_ERR_CONSUMER_MAX_PENDING_ACK_EXCESS,                  /* 10121 */
    JS_ERR_CONSUMER_INACTIVE_THRESHOLD_EXCESS,               /* 10153 */
    JS_ERR_CONSUMER_DIRECT_REQUIRES_PUSH,                    /* 10090 */
    JS_ERR_CONSUMER_DIRECT_REQUIRES_EPHEMERAL,               /* 10091 */
    JS_ERR_CONSUMER_ON_MAPPED,                               /* 10092 */
    JS_ERR_CONSUMER_FILTER_NOT_SUBSET,                       /* 10093 */
    JS_ERR_CONSUMER_DUPLICATE_FILTER_SUBJECTS,               /* 10136 */
    JS_ERR_CONSUMER_EMPTY_FILTER,                            /* 10139 */
    JS_ERR_CONSUMER_OVERLAPPING_SUBJECT_FILTERS,             /* 10138 */
    JS_ERR_CONSUMER_INVALID_POLICY,                          /* 10094 */
    JS_ERR_CONSUMER_INVALID_SAMPLING,                        /* 10095 */
    JS_ERR_CONSUMER_WITH_FLOW_CONTROL_NEEDS_HEARTBEATS,      /* 10108 */
    JS_ERR_CONSUMER_METADATA_LENGTH,                         /* 10135 */
    JS_ERR_CONSUMER_PUSH_WITH_PRIORITY_GROUP,                /* 10178 */
    JS_ERR_CONSUMER_PRIORITY_POLICY_WITHOUT_GROUP,           /* 10159 */
    JS_ERR_CONSUMER_EMPTY_GROUP_NAME,                        /* 10161 */
    JS_ERR_CONSUMER_INVALID_GROUP_NAME,                      /* 10162 */
    JS_ERR_CONSUMER_PRIORITY_GROUP_WITH_POLICY_NONE,         /* 10196 */
    JS_ERR_CONSUMER_PINNED_TTL_WITHOUT_PRIORITY_POLICY_NONE, /* 10197 */
    JS_ERR_CONSUMER_INVALID_PRIORITY_GROUP,                  /* 10160 */
    JS_ERR_CONSUMER_WQ_REQUIRES_EXPLICIT_ACK,                /* 10098 */
    JS_ERR_CONSUMER_WQ_MULTIPLE_UNFILTERED,                  /* 10099 */
    JS_ERR_CONSUMER_WQ_CONSUMER_NOT_UNIQUE,                  /* 10100 */
    JS_ERR_CONSUMER_WQ_CONSUMER_NOT_DELIVER_ALL,             /* 10101 */
    JS_ERR_CONSUMER_OFFLINE,                                 /* 10119 */
    JS_ERR_CONSUMER_OFFLINE_REASON,                          /* 10195 */
    JS_ERR_CONSUMER_INVALID_RESET,                           /* 10204 */
    JS_ERR_CONSUMER_STREAM_IDENTITY_MISMATCH,                /* 10225 */
    JS_ERR_COUNT,
};

/* One row of the table: the reply's "code", "err_code" and the description template. */
struct js_error_entry {
    uint16_t code;
    uint16_t err_code;
    const char *description; /* borrowed from the const table; {name} marks a placeholder */
};

/* Room for one description. The longest ones quote two client-supplied subjects, which
 * the stream config bounds (JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX, js_stream_config.h), so
 * two quoted subjects and nats-server's words fit unless the subjects are made of bytes
 * that %q escapes four times over; such a description is cut at a UTF-8 boundary. */
enum { JS_ERROR_DESCRIPTION_SIZE = 4096 };

/* A filled-in error. id == JS_ERR_NONE means "no error" and the description is empty. */
struct js_error {
    enum js_error_id id;
    char description[JS_ERROR_DESCRIPTION_SIZE];
};

/* The row for `id` (JS_ERR_NONE < id < JS_ERR_COUNT). */
const struct js_error_entry *js_errors_entry(enum js_error_id id);

/* The id whose err_code is `err_code`, or JS_ERR_NONE when the table has none. */
enum js_error_id js_errors_find(uint16_t err_code);

/* Number of {placeholders} in the description template of `id`. */
size_t js_errors_placeholder_count(enum js_error_id id);

/* Clears `error` to "no error". */
void js_errors_clear(struct js_error *error);

/* Fills `error` with `id`, whose template must have no placeholder. */
void js_errors_set(struct js_error *error, enum js_error_id id);

/* Fills `error` with `id`, replacing its placeholders in order by `args` (as many as the
 * template has: asserted). */
void js_errors_set_args(struct js_error *error, enum js_error_id id, const char *const *args,
                        size_t arg_count);

/* Fills `error` with `id`, whose template has exactly one placeholder, replaced by the
 * printf-formatted text (nats-server's fmt.Errorf(...) passed as {err}). */
void js_errors_setf(struct js_error *error, enum js_error_id id, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
void js_errors_vsetf(struct js_error *error, enum js_error_id id, const char *format, va_list args)
    __attribute__((format(printf, 3, 0)));

/* Appends `"error":{"code":N,"err_code":N,"description":"..."}` for `error` (an error id,
 * not JS_ERR_NONE), key preceded by a comma as go_json_key does. */
void js_errors_json_error(struct go_json *json, const struct js_error *error);

#endif
