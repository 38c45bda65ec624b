/* The HTTP route on the WebSocket listener: GET and HEAD of the built-in
 * pages (lib/server/assets.h) with their security and cache headers, after the same
 * access checks as a WebSocket upgrade; 404 for other paths, 405 for other methods. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/assets.h"
#include "common/util.h"
#include "server/priv.h"

#define CHUNK 4096u

int hermes__http_init(hermes_server_t *s)
{
    size_t n = 0;
    const struct hermes__asset *a = hermes__assets(&n);
    s->etags = calloc(n ? n : 1, sizeof *s->etags);
    if (!s->etags)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        uint64_t h = hermes__fnv64(HERMES__FNV64_INIT, a[i].data, a[i].len);  /* a new build, a new ETag */
        snprintf(s->etags[i], sizeof s->etags[i], "\"%016llx\"", (unsigned long long)h);
    }
    return 0;
}

/* The Host header when it is a plain host[:port] (safe inside a header). */
static bool safe_host(struct lws *wsi, char *out, size_t cap)
{
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HOST);
    if (n <= 0 || n >= (int)cap || lws_hdr_copy(wsi, out, (int)cap, WSI_TOKEN_HOST) <= 0)
        return false;
    for (const char *p = out; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr(".-:[]", *p)))
            return false;
    return true;
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)value,
                                       (int)strlen(value), p, end);
}

/* Send the status line and headers; the body (unless @p head) follows from
 * WRITEABLE. @p etag may be NULL. */
static int respond(struct client *c, struct lws *wsi, unsigned code, const char *type, const unsigned char *data,
                   size_t len, const char *etag, bool head)
{
    unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    char csp[640], host[200];
    if (safe_host(wsi, host, sizeof host))
        snprintf(csp, sizeof csp,
                 "default-src 'self'; connect-src 'self' ws://%s wss://%s; img-src 'self' data:; "
                 "frame-ancestors 'none'; base-uri 'none'; form-action 'none'", host, host);
    else
        snprintf(csp, sizeof csp,
                 "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
                 "form-action 'none'");
    if (lws_add_http_common_headers(wsi, code, type, len, &p, end) ||
        add_header(wsi, "content-security-policy:", csp, &p, end) ||
        add_header(wsi, "x-content-type-options:", "nosniff", &p, end) ||
        add_header(wsi, "referrer-policy:", "no-referrer", &p, end) ||
        add_header(wsi, "cache-control:", "no-cache", &p, end) ||
        (etag && add_header(wsi, "etag:", etag, &p, end)) ||
        (code == HTTP_STATUS_METHOD_NOT_ALLOWED && add_header(wsi, "allow:", "GET, HEAD", &p, end)) ||
        lws_finalize_http_header(wsi, &p, end))
        return -1;
    /* A body that fits goes out with the headers, in one write: a request
     * whose own body lws is still reading (POST) gets no WRITEABLE. */
    bool inline_body = !head && len <= (size_t)(end - p);
    if (inline_body && len) {
        memcpy(p, data, len);
        p += len;
    }
    if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) != (int)(p - start))
        return -1;
    if (head || inline_body)
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    c->http_data = data;
    c->http_len = len;
    c->http_off = 0;
    lws_callback_on_writable(wsi);
    return 0;
}

static int plain(struct client *c, struct lws *wsi, unsigned code, const char *text, bool head)
{
    return respond(c, wsi, code, "text/plain; charset=utf-8", (const unsigned char *)text, strlen(text), NULL, head);
}

int hermes__http_request(hermes_server_t *s, struct client *c, struct lws *wsi, const char *uri)
{
    bool head = lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
    bool get = !head && lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    c->http_data = NULL;
    if (!get && !head)
        return plain(c, wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, "method not allowed: use GET or HEAD\n", false);
    if (s->closing_all)
        return hermes__access_refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "stopping", "server stopping");
    enum hermes__verdict v = hermes__access_verdict(s, wsi);
    /* Only the document ("/") is behind the token: a browser fetches the
     * page's scripts and styles without the ?token= of the page's URL, and
     * they are the same public files in every build. Origin checks stay. */
    if (v == HERMES__V_UNAUTHORIZED && uri && strcmp(uri, "/") != 0 && strcmp(uri, "/index.html") != 0)
        v = HERMES__V_OBSERVER;
    int r = hermes__access_refuse_verdict(wsi, v);
    if (r)
        return r;
    size_t n = 0;
    const struct hermes__asset *a = s->viewer_disabled ? NULL : hermes__assets(&n);
    for (size_t i = 0; uri && i < n; i++) {
        if (strcmp(uri, a[i].path) != 0)
            continue;
        char inm[64];
        int l = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH);
        if (l > 0 && l < (int)sizeof inm && lws_hdr_copy(wsi, inm, sizeof inm, WSI_TOKEN_HTTP_IF_NONE_MATCH) > 0 &&
            strcmp(inm, s->etags[i]) == 0)
            return respond(c, wsi, HTTP_STATUS_NOT_MODIFIED, a[i].content_type, NULL, 0, s->etags[i], true);
        return respond(c, wsi, HTTP_STATUS_OK, a[i].content_type, a[i].data, a[i].len, s->etags[i], head);
    }
    return plain(c, wsi, HTTP_STATUS_NOT_FOUND, "not found\n", head);
}

int hermes__http_writeable(hermes_server_t *s, struct client *c, struct lws *wsi)
{
    (void)s;
    if (!c->http_data)
        return 0;
    unsigned char buf[LWS_PRE + CHUNK];
    size_t n = c->http_len - c->http_off;
    if (n > CHUNK)
        n = CHUNK;
    memcpy(buf + LWS_PRE, c->http_data + c->http_off, n);
    c->http_off += n;
    bool last = c->http_off == c->http_len;
    if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
        return -1;
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    c->http_data = NULL;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}
