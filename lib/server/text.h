/* Growable text for the big messages written in one pass without a jansson
 * tree (the hermes schema's modules, the Foxglove channel schemas and
 * advertise): append, JSON string literals, the UTF-8 check jansson applies.
 * Not thread-safe: one builder per thread. The builder owns p (free it). */
#ifndef HERMES_SERVER_TEXT_H
#define HERMES_SERVER_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct hermes__text {
    char  *p;    /* NUL-terminated once anything was put */
    size_t len, cap;
    bool   oom;  /* an allocation failed: later puts do nothing */
};

/* Append @p n bytes (the buffer doubles as it grows). */
void hermes__text_put(struct hermes__text *b, const char *s, size_t n);

static inline void hermes__text_str(struct hermes__text *b, const char *s) { hermes__text_put(b, s, strlen(s)); }

/* @p s as a JSON string literal (quotes included): '"', '\\' and control
 * bytes escaped, runs that need no escape copied at once, bytes of 0x80 and
 * above copied as they are (callers pass text hermes__text_utf8_ok() took). */
void hermes__text_json(struct hermes__text *b, const char *s);

/* Whether json_string() takes @p s (checked only past its ASCII prefix). */
bool hermes__text_utf8_ok(const char *s);

/* @p s (NULL: "") as a JSON string literal, for text not known to be UTF-8:
 * when json_string() would refuse it, its bytes of 0x80 and above become
 * '?' (as the live servers' messages do). */
void hermes__text_json_lossy(struct hermes__text *b, const char *s);

#endif
