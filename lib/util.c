#include "util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hermes/version.h"

static _Thread_local char last_error[1024];

int hermes__failv(int code, const char *fmt, va_list ap)
{
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    return code;
}

int hermes__fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hermes__failv(code, fmt, ap);
    va_end(ap);
    return code;
}

void hermes__clear_error(void) { last_error[0] = '\0'; }

HERMES_API const char *hermes_last_error(void) { return last_error; }

/* The hook is read on hot-ish paths from several threads: keep it in atomics. */
static _Atomic(hermes_log_fn) log_fn;
static _Atomic(void *) log_ctx;
static _Atomic int log_max;

HERMES_API void hermes_log_set(hermes_log_fn fn, void *ctx, hermes_log_level_t max_level)
{
    atomic_store(&log_max, HERMES_LOG_NONE);
    atomic_store(&log_ctx, ctx);
    atomic_store(&log_fn, fn);
    atomic_store(&log_max, fn ? (int)max_level : HERMES_LOG_NONE);
}

int hermes__log_enabled(hermes_log_level_t level)
{
    return level != HERMES_LOG_NONE && (int)level <= atomic_load_explicit(&log_max, memory_order_relaxed);
}

void hermes__log(hermes_log_level_t level, const char *component, const char *fmt, ...)
{
    if (!hermes__log_enabled(level))
        return;
    hermes_log_fn fn = atomic_load(&log_fn);
    if (!fn)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fn(atomic_load(&log_ctx), level, component, line);
}

HERMES_API void hermes_free(void *p) { free(p); }

int hermes__strlcpy(char *dst, const char *src, size_t cap)
{
    size_t n = strlen(src);
    if (n >= cap) {
        memcpy(dst, src, cap - 1);
        dst[cap - 1] = '\0';
        return -1;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

char *hermes__strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

#define X_TEXT(name, value, text) case (value): return text;
#define X_NAME(name, value, text) case (value): return "HERMES_" #name;

HERMES_API const char *hermes_strerror(int code)
{
    switch (code) {
    case 0: return "success";
    HERMES_ERROR_TABLE(X_TEXT)
    default: return "unknown error";
    }
}

HERMES_API const char *hermes_err_name(int code)
{
    switch (code) {
    case 0: return "HERMES_OK";
    HERMES_ERROR_TABLE(X_NAME)
    default: return "HERMES_E?";
    }
}

HERMES_API int hermes_version(void) { return HERMES_VERSION_NUMBER; }
HERMES_API const char *hermes_version_string(void) { return HERMES_VERSION_STRING; }
