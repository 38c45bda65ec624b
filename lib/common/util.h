/* Private helpers shared by every component: error and log plumbing, strings,
 * paths, growable arrays, the monotonic clock. Never installed. */
#ifndef HERMES_LIB_UTIL_H
#define HERMES_LIB_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
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
/* The thread's pending error message, kept across cleanup that may record
 * another (a destroy on a create's failure path): save it, clean up, then
 * `return hermes__error_restore(rc, &saved);`. */
typedef struct hermes__error_saved {
    char msg[1024];
} hermes__error_saved_t;
void hermes__error_save(hermes__error_saved_t *e);
int hermes__error_restore(int code, const hermes__error_saved_t *e);

/* Structured log line through the host's hook; cheap no-op when silent. */
void hermes__log(hermes_log_level_t level, const char *component, const char *fmt, ...) HERMES_PRINTF(3, 4);
int hermes__log_enabled(hermes_log_level_t level);

/* Bounded string copy that always terminates; returns 0 or -1 when truncated. */
int hermes__strlcpy(char *dst, const char *src, size_t cap);
char *hermes__strdup(const char *s);
/* malloc'd printf; NULL when out of memory. */
char *hermes__asprintf(const char *fmt, ...) HERMES_PRINTF(1, 2);

/* Free the first @p n strings of @p v (stopping early at a NULL entry, so
 * SIZE_MAX frees a NULL-terminated vector), then @p v. NULL is fine. */
void hermes__free_strv(char **v, size_t n);
/* Deep copy of @p n strings into *out (NULL when n is 0). 0, or -1 when out
 * of memory (then *out is untouched). */
int hermes__copy_strv(char ***out, const char *const *v, uint32_t n);

/* The whole of @p path (any readable file: regular, FIFO, /proc) into a
 * malloc'd *out with a NUL after its *len bytes, so text can be used as a
 * string. Sets no error message (callers name the file); returns 0, or
 * HERMES_ENOENT (no such file), HERMES_ESYS (open or read failed: errno
 * says why, EISDIR for a folder), HERMES_ENOMEM, or HERMES_EFORMAT (more
 * than @p max bytes; nothing is read past max + 1). */
int hermes__read_file(const char *path, size_t max, unsigned char **out, size_t *len);

/* Grow the array *p of *cap elements of @p elem bytes to hold at least
 * @p need (doubling). 0, or -1 when out of memory (then *p is untouched). */
int hermes__grow(void **p, uint32_t *cap, uint32_t need, size_t elem);

/* Absolute form of @p path relative to @p base (NULL: the current
 * directory): realpath() when the file exists, else the lexically normalised
 * base/path. malloc'd; NULL when out of memory. */
char *hermes__resolve_path(const char *base, const char *path);

/* Same, never following symbolic links: the lexically normalised absolute
 * path. Executables are run as given, so a venv's bin/python (a symlink)
 * still starts inside its venv. malloc'd; NULL when out of memory. */
char *hermes__absolute_path(const char *base, const char *path);

/* Little-endian fields of the wire formats (telemetry frames, Foxglove
 * binary messages), whatever the host's byte order. */
static inline void hermes__put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void hermes__put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void hermes__put_lef64(unsigned char *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    hermes__put_le64(p, v);
}

static inline uint32_t hermes__get_le32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static inline uint64_t hermes__get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline double hermes__get_lef64(const unsigned char *p)
{
    uint64_t v = hermes__get_le64(p);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* 64-bit FNV-1a of the @p n bytes at @p p, continuing from @p h (start
 * from HERMES__FNV64_INIT). Not cryptographic: identities and tables. */
#define HERMES__FNV64_INIT 0xcbf29ce484222325ull
static inline uint64_t hermes__fnv64(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n--)
        h = (h ^ *b++) * 0x100000001b3ull;
    return h;
}

static inline uint64_t hermes__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
