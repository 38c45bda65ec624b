/* Shared helpers for the cmocka tests. */
#ifndef HERMES_TEST_UTIL_H
#define HERMES_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hermes/hermes.h>

#define assert_hermes_ok(expr)                                                                   \
    do {                                                                                         \
        int rc_ = (expr);                                                                        \
        if (rc_ != 0)                                                                            \
            fail_msg("%s -> %s: %s", #expr, hermes_err_name(rc_), hermes_last_error());          \
    } while (0)

#define assert_hermes_rc(expr, code)                                                             \
    do {                                                                                         \
        int rc_ = (expr);                                                                        \
        if (rc_ != (code))                                                                       \
            fail_msg("%s -> %s, expected %s (%s)", #expr, hermes_err_name(rc_), hermes_err_name(code), \
                     hermes_last_error());                                                       \
    } while (0)

#define assert_contains(hay, needle)                                                             \
    do {                                                                                         \
        const char *h_ = (hay);                                                                  \
        if (!h_ || !strstr(h_, (needle)))                                                        \
            fail_msg("'%s' does not contain '%s'", h_ ? h_ : "(null)", (needle));                \
    } while (0)

static inline double test_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A run name unique to this process and call. */
static inline const char *test_run_name(char *buf, size_t cap, const char *what)
{
    static int n;
    snprintf(buf, cap, "hermes-test-%s-%ld-%d", what, (long)getpid(), n++);
    return buf;
}

static inline int shm_exists(const char *run_name)
{
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/%s", run_name);
    return access(path, F_OK) == 0;
}

#endif
