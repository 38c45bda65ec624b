/* Private helpers shared by every component. Never installed. */
#ifndef HERMES_LIB_UTIL_H
#define HERMES_LIB_UTIL_H

#include <stdarg.h>
#include <stdint.h>
#include <time.h>
#include "hermes/common.h"
#include "hermes/error.h"

#define HERMES_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Record the thread's last error message and return @p code, so failing
 * paths read `return hermes__fail(HERMES_EINVAL, "bad %s", what);`. */
int hermes__fail(int code, const char *fmt, ...) HERMES_PRINTF(2, 3);
int hermes__failv(int code, const char *fmt, va_list ap);
/* Clear the thread's last error. */
void hermes__clear_error(void);

/* Structured log line through the host's hook; cheap no-op when silent. */
void hermes__log(hermes_log_level_t level, const char *component, const char *fmt, ...) HERMES_PRINTF(3, 4);
int hermes__log_enabled(hermes_log_level_t level);

/* Bounded string copy that always terminates; returns 0 or -1 when truncated. */
int hermes__strlcpy(char *dst, const char *src, size_t cap);
char *hermes__strdup(const char *s);

static inline uint64_t hermes__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
