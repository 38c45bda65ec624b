/* Access and limits: the one set of rules for the server's access control
 * (token, Origin allow-list) and limits (clients, message size, command rate,
 * patterns, JSON depth, telemetry rate). The server, the config builder and
 * the YAML validation all check through hermes__access_check(), so a setting
 * gets the same verdict and the same message wherever it comes from.
 * Depends on nothing but the public headers. Private; never installed. */
#ifndef HERMES_LIB_ACCESS_H
#define HERMES_LIB_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Highest telemetry rate, Hz (the tick is an lws timer; 0 means the default). */
#define HERMES__TELEMETRY_HZ_MAX 1000.0

/* The limits, in the order of hermes__limit_rules[]. */
enum hermes__limit {
    HERMES__LIMIT_MAX_CLIENTS,
    HERMES__LIMIT_MAX_MESSAGE,
    HERMES__LIMIT_COMMANDS_PER_SECOND,
    HERMES__LIMIT_MAX_PATTERNS,
    HERMES__LIMIT_MAX_JSON_DEPTH,
    HERMES__LIMIT_COUNT
};

/* Accepted range of one limit. 0 always means the default (def). */
struct hermes__limit_rule {
    const char *key;  /* the config file's key under server: */
    uint32_t    min, max, def;
};
extern const struct hermes__limit_rule hermes__limit_rules[HERMES__LIMIT_COUNT];

/* NULL when @p token is an acceptable auth token, else why not (the message
 * never quotes the token). */
const char *hermes__token_problem(const char *token);
/* NULL when @p origin is "*" or scheme://host[:port] (optionally one trailing '/'). */
const char *hermes__origin_problem(const char *origin);

/* Whether @p presented (@p plen bytes, not NUL-terminated) is @p token
 * (@p tlen <= HERMES_SERVER_TOKEN_MAX). Constant time over the longest
 * token: the time does not depend on where the first difference is. */
bool hermes__token_matches(const char *token, size_t tlen, const char *presented, size_t plen);

/* Every access setting, as the config file names them; 0 / NULL: default. */
struct hermes__access {
    double             telemetry_hz;
    const char        *auth_token;       /* NULL: no token; "" is a bad token */
    const char *const *allowed_origins;  /* may be NULL only when the count is 0 */
    uint32_t           allowed_origin_count;
    uint32_t           limit[HERMES__LIMIT_COUNT];
};

/* Check every rule. Returns 0, or HERMES_EINVAL after writing the offending
 * key (e.g. "max_clients", "allowed_origins[2]", "auth_token") to @p field
 * and the reason (a sentence fragment: "must be 256 to 67108864, or 0 for the
 * default (got 12)") to @p msg. Callers add their prefix ("server.") and their
 * error code (the YAML loader reports HERMES_ECONFIG at the key's position). */
int hermes__access_check(const struct hermes__access *a, char *field, size_t fcap, char *msg, size_t mcap);

#endif
