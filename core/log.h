/* log.h -- JSON-lines logging: one object per line on stderr (server log), plus an optional
 * audit file. Values passed through the helpers are JSON-escaped. Never pass secrets,
 * passwords, tokens or signatures: nothing here can tell them apart. Thread-safe (each line
 * is one write(2)). */
#ifndef TS_LOG_H
#define TS_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level lvl);
bool log_enabled(enum log_level lvl);
/* Opens (append, 0600) the audit file; NULL closes it. Returns 0 or -1. */
int log_audit_open(const char *path);

/* Logs {"time":..,"level":..,"event":event,"msg":formatted}. */
void log_event(enum log_level lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Logs a line made of key/value string pairs, terminated by NULL:
 *   log_kv(LOG_INFO, "access", "method", "GET", "status", "200", NULL);
 * A NULL value is skipped. Values that look like numbers are still written as strings. */
void log_kv(enum log_level lvl, const char *event, ...) __attribute__((sentinel));
/* Who acted, from where, in which request: the fields every audit record carries (NULL is
 * written as JSON null: an unsigned request has no access key or principal, a background
 * task no source or request id). */
struct log_actor {
    const char *access_key; /* the access key that signed the request */
    const char *principal;  /* its principal's ARN */
    const char *source_ip;  /* the client's address */
    const char *request_id; /* the request's id (x-amz-request-id) */
};
/* Writes one audit record into the audit file (no-op without one):
 *   {"time":..,"level":"audit","event":event,"result":result,"request_id":..,"source_ip":..,
 *    "access_key":..,"principal":.., then the key/value pairs}
 * who may be NULL (all four null). The pairs are strings, as for log_kv, except that a key
 * written "#name" is the number "name": its value (decimal digits with an optional '-') is
 * written as a JSON number, or null when it is not one. The pairs must not repeat the fixed
 * keys. */
void log_audit(const struct log_actor *who, const char *event, const char *result, ...)
    __attribute__((sentinel));

#define LOG_DEBUG_EV(...)                                                                          \
    do {                                                                                           \
        if (log_enabled(LOG_DEBUG))                                                                \
            log_event(LOG_DEBUG, __VA_ARGS__);                                                     \
    } while (0)

#endif
