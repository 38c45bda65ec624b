/** @file common.h  Export macro, memory release and the library log hook.
 * Threading: hermes_log_set() may be called from any thread; the hook itself
 * is called from whichever library thread has something to report (the
 * scheduler thread, the server thread) and must be thread-safe. */
#ifndef HERMES_COMMON_H
#define HERMES_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(HERMES_BUILDING)
#define HERMES_API __attribute__((visibility("default")))
#else
#define HERMES_API
#endif

/** Severity of a library log line. 0 means "nothing". */
typedef enum hermes_log_level {
    HERMES_LOG_NONE  = 0,
    HERMES_LOG_ERROR = 1,
    HERMES_LOG_WARN  = 2,
    HERMES_LOG_INFO  = 3,
    HERMES_LOG_DEBUG = 4
} hermes_log_level_t;

/**
 * Log hook. @p component is a short word ("scheduler", "server", ...),
 * @p msg is a structured line of `key=value` pairs without a trailing
 * newline, e.g. `event=client_connected id=3 addr=127.0.0.1:51234`.
 * Both strings are borrowed for the duration of the call.
 */
typedef void (*hermes_log_fn)(void *ctx, hermes_log_level_t level,
                              const char *component, const char *msg);

/**
 * Install the process-wide log hook. The library is silent until a host
 * installs one. Lines above @p max_level are not formatted at all.
 * Pass NULL to silence the library again.
 * Context: any thread.
 */
HERMES_API void hermes_log_set(hermes_log_fn fn, void *ctx, hermes_log_level_t max_level);

/** Free memory the library documented as "owned" by the caller. NULL is fine. */
HERMES_API void hermes_free(void *p);

/**
 * Human explanation of the last failed call made by this thread (for
 * example "config.yaml:7:18: execution.rate_hz: Invalid FLOAT value: abc").
 * Borrowed; valid until the next library call on the same thread. Never NULL
 * (empty string when nothing failed).
 * Context: any thread (the message is thread-local).
 */
HERMES_API const char *hermes_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
