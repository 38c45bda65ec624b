/* Private helpers shared by every component (see util.h). */
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

void hermes__error_save(hermes__error_saved_t *e) { hermes__strlcpy(e->msg, last_error, sizeof e->msg); }

int hermes__error_restore(int code, const hermes__error_saved_t *e) { return hermes__fail(code, "%s", e->msg); }

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

char *hermes__asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void hermes__free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n && v[i]; i++)
        free(v[i]);
    free(v);
}

int hermes__copy_strv(char ***out, const char *const *v, uint32_t n)
{
    char **copy = NULL;
    if (n > 0) {
        copy = calloc(n, sizeof *copy);
        if (!copy)
            return -1;
        for (uint32_t i = 0; i < n; i++)
            if (!(copy[i] = hermes__strdup(v[i]))) {
                hermes__free_strv(copy, i);
                return -1;
            }
    }
    *out = copy;
    return 0;
}

int hermes__grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    uint32_t n = *cap ? *cap : 4;
    while (n < need)
        n = n > UINT32_MAX / 2 ? need : n * 2;
    void *q = realloc(*p, (size_t)n * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

/* Remove "." and empty segments and resolve ".." lexically in an absolute path. */
static void normalize_path(char *path)
{
    char *out = path;  /* write position; path[0] is '/' */
    const char *in = path;
    while (*in) {
        while (*in == '/')
            in++;
        const char *end = strchr(in, '/');
        size_t n = end ? (size_t)(end - in) : strlen(in);
        if (n == 0)
            break;
        if (n == 1 && in[0] == '.') {
            /* skip */
        } else if (n == 2 && in[0] == '.' && in[1] == '.') {
            while (out > path && *--out != '/')
                ;
        } else {
            *out++ = '/';
            memmove(out, in, n);
            out += n;
        }
        in += n;
    }
    if (out == path)
        *out++ = '/';
    *out = '\0';
}

char *hermes__absolute_path(const char *base, const char *p)
{
    char *cand;
    if (p[0] == '/') {
        cand = hermes__strdup(p);
    } else {
        char cwd[PATH_MAX];
        if (!base) {
            if (!getcwd(cwd, sizeof cwd))
                return NULL;
            base = cwd;
        }
        cand = hermes__asprintf("%s%s%s", base, base[0] && base[strlen(base) - 1] == '/' ? "" : "/", p);
    }
    if (cand)
        normalize_path(cand);
    return cand;
}

char *hermes__resolve_path(const char *base, const char *p)
{
    char *cand = hermes__absolute_path(base, p);
    if (!cand)
        return NULL;
    char *real = realpath(cand, NULL);
    if (real) {
        free(cand);
        return real;
    }
    return cand;
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

int hermes__read_file(const char *path, size_t max, unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (max > SIZE_MAX / 4)
        max = SIZE_MAX / 4;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? HERMES_ENOENT : HERMES_ESYS;
    struct stat st;
    size_t cap = 8192;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size <= (uint64_t)max)
        cap = (size_t)st.st_size + 2;   /* one read to EOF, and the NUL (the size may have changed) */
    if (cap > max + 2)
        cap = max + 2;
    unsigned char *buf = malloc(cap);
    size_t n = 0;
    int rc = buf ? 0 : HERMES_ENOMEM;
    while (!rc && n <= max) {           /* reads max + 1 bytes at most: one more says too large */
        if (n + 1 >= cap) {
            size_t ncap = cap * 2 < max + 2 ? cap * 2 : max + 2;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                rc = HERMES_ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            rc = got < 0 ? HERMES_ESYS : 0;
            break;
        }
        n += (size_t)got;
    }
    if (!rc && n > max)
        rc = HERMES_EFORMAT;
    int e = errno;
    close(fd);
    if (rc) {
        free(buf);
        errno = e;
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}
