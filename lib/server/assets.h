/* The built-in pages' contract: a table of static assets the HTTP route
 * serves. lib/server/assets_fallback.c provides a one-page table; a build with the
 * viewer replaces that file with generated source defining the same function.
 * Private; never installed. */
#ifndef HERMES_LIB_ASSETS_H
#define HERMES_LIB_ASSETS_H

#include <stddef.h>

struct hermes__asset {
    const char          *path;          /* absolute URL path, e.g. "/" or "/app.js" */
    const char          *content_type;  /* e.g. "text/html; charset=utf-8" */
    const unsigned char *data;
    size_t               len;
};

/* The table of built-in pages (static storage, never freed); *count entries. */
const struct hermes__asset *hermes__assets(size_t *count);

#endif
