/* Growable text for messages written without a jansson tree (server/text.h). */
#include "server/text.h"
#include "common/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

void hermes__text_put(struct hermes__text *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void hermes__text_json(struct hermes__text *b, const char *s)
{
    hermes__text_put(b, "\"", 1);
    const unsigned char *run = (const unsigned char *)s, *p = run;
    for (; *p; p++) {
        if (*p != '"' && *p != '\\' && *p >= 0x20)
            continue;
        hermes__text_put(b, (const char *)run, (size_t)(p - run));
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            hermes__text_put(b, esc, 2);
        } else {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            hermes__text_put(b, esc, 6);
        }
        run = p + 1;
    }
    hermes__text_put(b, (const char *)run, (size_t)(p - run));
    hermes__text_put(b, "\"", 1);
}

void hermes__text_json_lossy(struct hermes__text *b, const char *s)
{
    s = s ? s : "";
    if (hermes__text_utf8_ok(s)) {
        hermes__text_json(b, s);
        return;
    }
    char *c = hermes__strdup(s);
    if (!c) {
        b->oom = true;
        return;
    }
    for (char *q = c; *q; q++)
        if ((unsigned char)*q >= 0x80)
            *q = '?';
    hermes__text_json(b, c);
    free(c);
}

bool hermes__text_utf8_ok(const char *s)
{
    const char *p = s;
    while (*p && (unsigned char)*p < 0x80)
        p++;
    if (!*p)
        return true;
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}
