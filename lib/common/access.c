/* Access and limits: the rules every access setting is checked against, and the constant-time token match (see access.h). */
#include "common/access.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "hermes/error.h"
#include "hermes/server.h"

const struct hermes__limit_rule hermes__limit_rules[HERMES__LIMIT_COUNT] = {
    [HERMES__LIMIT_MAX_CLIENTS] = {"max_clients", 1, 100000u, HERMES_SERVER_DEFAULT_MAX_CLIENTS},
    [HERMES__LIMIT_MAX_MESSAGE] = {"max_message_size", 256u, 64u << 20, HERMES_SERVER_DEFAULT_MAX_MESSAGE},
    [HERMES__LIMIT_COMMANDS_PER_SECOND] = {"commands_per_second", 1, 100000u,
                                           HERMES_SERVER_DEFAULT_COMMANDS_PER_SECOND},
    [HERMES__LIMIT_MAX_PATTERNS] = {"max_patterns", 1, 1000000u, HERMES_SERVER_DEFAULT_MAX_PATTERNS},
    /* 3 = {"params":{"signals":[...]}} */
    [HERMES__LIMIT_MAX_JSON_DEPTH] = {"max_json_depth", 3, 1000u, HERMES_SERVER_DEFAULT_MAX_JSON_DEPTH},
};

const char *hermes__token_problem(const char *t)
{
    if (!t)
        return "is missing";
    size_t n = strlen(t);
    if (n < HERMES_SERVER_TOKEN_MIN || n > HERMES_SERVER_TOKEN_MAX)
        return "must be 16 to 256 characters long (for example the output of `openssl rand -hex 32`)";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)t[i];
        if (!(isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~'))
            return "may contain only A-Z a-z 0-9 - . _ ~ (so it is safe in headers and URLs)";
    }
    return NULL;
}

const char *hermes__origin_problem(const char *o)
{
    static const char shape[] = "must be \"*\" or an origin like \"https://host:port\" (scheme://host[:port], no path)";
    if (!o || !*o)
        return "must not be empty";
    if (strcmp(o, "*") == 0)
        return NULL;
    const char *sep = strstr(o, "://");
    if (!sep || sep == o || !isalpha((unsigned char)o[0]))
        return shape;
    for (const char *p = o; p < sep; p++)
        if (!(isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.'))
            return shape;
    const char *h = sep + 3;
    size_t n = strlen(h);
    if (n && h[n - 1] == '/')
        n--;
    if (n == 0)
        return shape;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)h[i];
        if (ch <= ' ' || ch >= 0x7f || ch == '/' || ch == '?' || ch == '#' || ch == '@')
            return shape;
    }
    return NULL;
}

bool hermes__token_matches(const char *token, size_t tlen, const char *presented, size_t plen)
{
    unsigned char a[HERMES_SERVER_TOKEN_MAX], b[HERMES_SERVER_TOKEN_MAX];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    memcpy(a, token, tlen < sizeof a ? tlen : sizeof a);
    memcpy(b, presented, plen < sizeof b ? plen : sizeof b);
    volatile unsigned char d = (unsigned char)(plen != tlen);
    for (size_t i = 0; i < sizeof a; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    explicit_bzero(a, sizeof a);
    explicit_bzero(b, sizeof b);
    return d == 0;
}

int hermes__access_check(const struct hermes__access *a, char *field, size_t fcap, char *msg, size_t mcap)
{
    if (a->telemetry_hz != 0 &&
        !(isfinite(a->telemetry_hz) && a->telemetry_hz > 0 && a->telemetry_hz <= HERMES__TELEMETRY_HZ_MAX)) {
        snprintf(field, fcap, "telemetry_hz");
        snprintf(msg, mcap, "must be a number in (0, %g] (got %g)", HERMES__TELEMETRY_HZ_MAX, a->telemetry_hz);
        return HERMES_EINVAL;
    }
    const char *why;
    if (a->auth_token && (why = hermes__token_problem(a->auth_token)) != NULL) {
        snprintf(field, fcap, "auth_token");
        snprintf(msg, mcap, "%s", why);
        return HERMES_EINVAL;
    }
    if (a->allowed_origin_count && !a->allowed_origins) {
        snprintf(field, fcap, "allowed_origins");
        snprintf(msg, mcap, "NULL with a count of %u", a->allowed_origin_count);
        return HERMES_EINVAL;
    }
    for (uint32_t i = 0; i < a->allowed_origin_count; i++)
        if ((why = hermes__origin_problem(a->allowed_origins[i])) != NULL) {
            snprintf(field, fcap, "allowed_origins[%u]", i);
            snprintf(msg, mcap, "%s", why);
            return HERMES_EINVAL;
        }
    for (int i = 0; i < HERMES__LIMIT_COUNT; i++) {
        const struct hermes__limit_rule *r = &hermes__limit_rules[i];
        uint32_t v = a->limit[i];
        if (v != 0 && (v < r->min || v > r->max)) {
            snprintf(field, fcap, "%s", r->key);
            snprintf(msg, mcap, "must be from %u to %u (0 or no value: the default %u); got %u", r->min, r->max, r->def,
                     v);
            return HERMES_EINVAL;
        }
    }
    return 0;
}
