/* Test-side WebSocket clients for the server tests.
 *  - wsc_*: a libwebsockets client context on the test thread with any number
 *    of connections; every wait is bounded (a 5 ms timer keeps lws_service()
 *    returning so deadlines are checked).
 *  - raw_*: a plain blocking socket client (handshake, masked sends, frame
 *    reads with poll timeouts) for what lws makes hard on purpose: a peer that
 *    stops reading with a tiny receive buffer, abrupt resets, huge messages.
 * Nothing here asserts: callers assert on the test thread after waiting. */
#ifndef HERMES_TEST_WS_CLIENT_H
#define HERMES_TEST_WS_CLIENT_H

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>

static inline double wsc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- lws client ------------------------------------------------------------ */

struct wsc_msg {
    struct wsc_msg *next;
    size_t          len;
    char            text[];
};

#define WSC_FRAME_CAP (1u << 20)

struct wsc_conn {
    struct lws     *wsi;
    int             state;       /* 0 connecting, 1 open, 2 closed, 3 connect error */
    int             close_code;  /* from the peer's close frame, 0 if none */
    char            close_reason[64];
    bool            want_close;
    /* text messages received, FIFO */
    struct wsc_msg *head, *tail;
    size_t          ntext;
    /* binary frames */
    unsigned long   nbin;
    unsigned long   nbin_bad;    /* frames that failed to decode */
    double          first_bin_t, last_bin_t;
    unsigned char  *last_bin;    /* copy of the latest frame */
    size_t          last_bin_len;
    unsigned char  *rx;
    size_t          rx_len;
    bool            rx_binary;
    /* outgoing */
    struct wsc_msg *out_head, *out_tail;
};

struct wsc {
    struct lws_context    *ctx;
    lws_sorted_usec_list_t sul;
};

static int wsc_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct wsc_conn *c = user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (c)
            c->state = 1;
        if (c && c->out_head)
            lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c) {
            c->state = 3;
            c->wsi = NULL;
        }
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!c)
            break;
        if (lws_is_first_fragment(wsi) && c->rx_len == 0)
            c->rx_binary = lws_frame_is_binary(wsi) != 0;
        if (c->rx_len + len <= WSC_FRAME_CAP) {
            if (!c->rx)
                c->rx = malloc(WSC_FRAME_CAP);
            memcpy(c->rx + c->rx_len, in, len);
        }
        c->rx_len += len;
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            size_t n = c->rx_len > WSC_FRAME_CAP ? WSC_FRAME_CAP : c->rx_len;
            if (c->rx_binary) {
                double t = wsc_now();
                if (!c->nbin)
                    c->first_bin_t = t;
                c->last_bin_t = t;
                c->nbin++;
                const unsigned char *b = c->rx;
                uint32_t cnt = n >= 24 ? (uint32_t)b[20] | (uint32_t)b[21] << 8 | (uint32_t)b[22] << 16 | (uint32_t)b[23] << 24 : 0;
                if (n < 24 || b[0] != 0x54 || b[1] != 0x52 || b[2] != 0x45 || b[3] != 0x48 || n != 24 + 8 * (size_t)cnt)
                    c->nbin_bad++;
                if (!c->last_bin)  /* allocated once: no per-frame churn */
                    c->last_bin = malloc(WSC_FRAME_CAP);
                if (c->last_bin) {
                    memcpy(c->last_bin, c->rx, n);
                    c->last_bin_len = n;
                }
            } else {
                struct wsc_msg *m = malloc(sizeof *m + n + 1);
                m->next = NULL;
                m->len = n;
                memcpy(m->text, c->rx, n);
                m->text[n] = '\0';
                if (c->tail)
                    c->tail->next = m;
                else
                    c->head = m;
                c->tail = m;
                c->ntext++;
            }
            c->rx_len = 0;
        }
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!c)
            break;
        if (c->out_head) {
            struct wsc_msg *m = c->out_head;
            c->out_head = m->next;
            if (!c->out_head)
                c->out_tail = NULL;
            /* text[] starts LWS_PRE bytes in: see wsc_send */
            int binary = m->text[LWS_PRE + m->len] == 'b';
            int n = lws_write(wsi, (unsigned char *)m->text + LWS_PRE, m->len, binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
            free(m);
            if (n < 0)
                return -1;
            if (c->out_head || c->want_close)
                lws_callback_on_writable(wsi);
            break;
        }
        if (c->want_close) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
            return -1;
        }
        break;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (c && len >= 2) {
            const unsigned char *p = in;
            c->close_code = p[0] << 8 | p[1];
            size_t rl = len - 2 < sizeof c->close_reason - 1 ? len - 2 : sizeof c->close_reason - 1;
            memcpy(c->close_reason, p + 2, rl);
            c->close_reason[rl] = '\0';
        }
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c) {
            c->state = 2;
            c->wsi = NULL;
        }
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols wsc_protocols[] = {
    {"hermes", wsc_callback, 0, 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void wsc_sul_cb(lws_sorted_usec_list_t *sul) { (void)sul; }

static inline int wsc_init(struct wsc *w)
{
    memset(w, 0, sizeof *w);
    lws_set_log_level(LLL_ERR, NULL);  /* no NOTICE banner */
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = wsc_protocols;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    w->ctx = lws_create_context(&info);
    return w->ctx ? 0 : -1;
}

static inline void wsc_conn_free(struct wsc_conn *c)
{
    while (c->head) {
        struct wsc_msg *m = c->head;
        c->head = m->next;
        free(m);
    }
    while (c->out_head) {
        struct wsc_msg *m = c->out_head;
        c->out_head = m->next;
        free(m);
    }
    c->tail = c->out_tail = NULL;
    free(c->rx);
    free(c->last_bin);
    c->rx = c->last_bin = NULL;
}

static inline void wsc_destroy(struct wsc *w)
{
    if (w->ctx)
        lws_context_destroy(w->ctx);
    w->ctx = NULL;
}

/* One bounded service pass (at most ~5 ms). */
static inline void wsc_service(struct wsc *w)
{
    lws_sul_schedule(w->ctx, 0, &w->sul, wsc_sul_cb, 5 * 1000);
    lws_service(w->ctx, 0);
}

static inline void wsc_pump(struct wsc *w, double seconds)
{
    double end = wsc_now() + seconds;
    while (wsc_now() < end)
        wsc_service(w);
}

/* Connect (memory of @p c zeroed first) and wait until open. 0 or -1. */
static inline int wsc_connect(struct wsc *w, struct wsc_conn *c, int port, const char *protocol)
{
    memset(c, 0, sizeof *c);
    struct lws_client_connect_info cc;
    memset(&cc, 0, sizeof cc);
    cc.context = w->ctx;
    cc.address = "127.0.0.1";
    cc.port = port;
    cc.path = "/";
    cc.host = cc.origin = "127.0.0.1";
    cc.protocol = protocol;
    cc.local_protocol_name = "hermes";
    cc.userdata = c;
    cc.pwsi = &c->wsi;
    if (!lws_client_connect_via_info(&cc))
        return -1;
    double end = wsc_now() + 5;
    while (c->state == 0 && wsc_now() < end)
        wsc_service(w);
    return c->state == 1 ? 0 : -1;
}

static inline void wsc_send_raw(struct wsc_conn *c, const void *data, size_t len, bool binary)
{
    struct wsc_msg *m = malloc(sizeof *m + LWS_PRE + len + 1);
    m->next = NULL;
    m->len = len;
    memcpy(m->text + LWS_PRE, data, len);
    m->text[LWS_PRE + len] = binary ? 'b' : 't';
    if (c->out_tail)
        c->out_tail->next = m;
    else
        c->out_head = m;
    c->out_tail = m;
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
}

static inline void wsc_send(struct wsc_conn *c, const char *text) { wsc_send_raw(c, text, strlen(text), false); }

/* Next text message parsed as JSON (owned), or NULL after @p seconds. */
static inline json_t *wsc_next(struct wsc *w, struct wsc_conn *c, double seconds)
{
    double end = wsc_now() + seconds;
    while (!c->head && c->state <= 1 && wsc_now() < end)
        wsc_service(w);
    if (!c->head)
        return NULL;
    struct wsc_msg *m = c->head;
    c->head = m->next;
    if (!c->head)
        c->tail = NULL;
    c->ntext--;
    json_t *j = json_loads(m->text, 0, NULL);
    free(m);
    return j;
}

static inline const char *js(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

/* Next message whose "type" is @p type (and "action"/"event" is @p what when
 * not NULL), skipping others; owned or NULL on timeout. */
static inline json_t *wsc_wait(struct wsc *w, struct wsc_conn *c, const char *type, const char *what, double seconds)
{
    double end = wsc_now() + seconds;
    for (;;) {
        double left = end - wsc_now();
        if (left <= 0)
            return NULL;
        json_t *j = wsc_next(w, c, left);
        if (!j)
            return NULL;
        if (!strcmp(js(j, "type"), type) &&
            (!what || !strcmp(js(j, "action"), what) || !strcmp(js(j, "event"), what)))
            return j;
        json_decref(j);
    }
}

/* Send a command and return the first ack or error after it. */
static inline json_t *wsc_cmd(struct wsc *w, struct wsc_conn *c, const char *text, double seconds)
{
    wsc_send(c, text);
    double end = wsc_now() + seconds;
    for (;;) {
        double left = end - wsc_now();
        if (left <= 0)
            return NULL;
        json_t *j = wsc_next(w, c, left);
        if (!j)
            return NULL;
        if (!strcmp(js(j, "type"), "ack") || !strcmp(js(j, "type"), "error"))
            return j;
        json_decref(j);
    }
}

static inline void wsc_close(struct wsc *w, struct wsc_conn *c, double seconds)
{
    if (!c->wsi)
        return;
    c->want_close = true;
    lws_callback_on_writable(c->wsi);
    double end = wsc_now() + seconds;
    while (c->state == 1 && wsc_now() < end)
        wsc_service(w);
}

/* Connect and consume the greeting (the schema). -1 on failure. */
static inline int wsc_open(struct wsc *w, struct wsc_conn *c, int port, const char *protocol)
{
    if (wsc_connect(w, c, port, protocol) != 0)
        return -1;
    json_t *s = wsc_wait(w, c, "schema", NULL, 3);
    json_decref(s);
    return s ? 0 : -1;
}

/* Close politely (bounded) and free. */
static inline void wsc_finish(struct wsc *w, struct wsc_conn *c)
{
    wsc_close(w, c, 2);
    wsc_conn_free(c);
}

/* ---- raw socket client ------------------------------------------------------ */

/* Connect and upgrade to @p protocol, waiting up to @p seconds for the
 * handshake; @p rcvbuf > 0 shrinks the receive buffer first. -1 on failure. */
static inline int raw_connect_protocol(int port, int rcvbuf, const char *protocol, double seconds)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Protocol: %s\r\n\r\n",
                     port, protocol);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    /* read the response byte by byte up to the blank line */
    char resp[1024];
    size_t got = 0;
    double end = wsc_now() + seconds;
    while (got < sizeof resp - 1 && wsc_now() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        if (read(fd, resp + got, 1) != 1)
            break;
        got++;
        if (got >= 4 && !memcmp(resp + got - 4, "\r\n\r\n", 4))
            break;
    }
    resp[got] = '\0';
    if (!strstr(resp, " 101 ")) {
        close(fd);
        return -1;
    }
    return fd;
}

/* raw_connect_protocol() to "hermes", 5 s for the handshake. */
static inline int raw_connect(int port, int rcvbuf) { return raw_connect_protocol(port, rcvbuf, "hermes", 5); }

static inline int raw_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Send one masked frame (opcode 1 text, 2 binary). */
static inline int raw_send(int fd, int opcode, const void *data, size_t len)
{
    unsigned char h[14];
    size_t hl = 0;
    h[hl++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        h[hl++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (unsigned char)(len >> 8);
        h[hl++] = (unsigned char)len;
    } else {
        h[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            h[hl++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    static const unsigned char mask[4] = {0x11, 0x22, 0x33, 0x44};
    memcpy(h + hl, mask, 4);
    hl += 4;
    if (raw_write_all(fd, h, hl))
        return -1;
    unsigned char chunk[4096];
    const unsigned char *p = data;
    for (size_t off = 0; off < len;) {
        size_t n = len - off < sizeof chunk ? len - off : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = p[off + i] ^ mask[(off + i) & 3];
        if (raw_write_all(fd, chunk, n))
            return -1;
        off += n;
    }
    return 0;
}

static inline int raw_read_full(int fd, void *buf, size_t len, double end)
{
    char *p = buf;
    while (len) {
        int ms = (int)((end - wsc_now()) * 1000);
        if (ms <= 0)
            return -1;
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, ms) <= 0)
            continue;
        ssize_t n = read(fd, p, len);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read one frame (payload truncated to @p cap). Returns payload length, -1 on
 * error or timeout; *opcode gets the opcode (8 = close). */
static inline long raw_recv(int fd, int *opcode, void *buf, size_t cap, double seconds)
{
    double end = wsc_now() + seconds;
    unsigned char h[2];
    if (raw_read_full(fd, h, 2, end))
        return -1;
    *opcode = h[0] & 0x0f;
    uint64_t len = h[1] & 0x7f;
    if (len == 126) {
        unsigned char e[2];
        if (raw_read_full(fd, e, 2, end))
            return -1;
        len = (uint64_t)e[0] << 8 | e[1];
    } else if (len == 127) {
        unsigned char e[8];
        if (raw_read_full(fd, e, 8, end))
            return -1;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | e[i];
    }
    unsigned char tmp[4096];
    uint64_t left = len;
    size_t off = 0;
    while (left) {
        size_t n = left < sizeof tmp ? (size_t)left : sizeof tmp;
        if (raw_read_full(fd, tmp, n, end))
            return -1;
        if (off < cap)
            memcpy((char *)buf + off, tmp, off + n <= cap ? n : cap - off);
        off += n;
        left -= n;
    }
    return (long)len;
}

/* Next text message as JSON (skipping binary frames), or NULL. */
static inline json_t *raw_next_json(int fd, double seconds)
{
    static char buf[1 << 20];
    double end = wsc_now() + seconds;
    while (wsc_now() < end) {
        int op = 0;
        long n = raw_recv(fd, &op, buf, sizeof buf - 1, end - wsc_now());
        if (n < 0 || op == 8)
            return NULL;
        if (op != 1)
            continue;
        buf[n < (long)sizeof buf - 1 ? n : (long)sizeof buf - 1] = '\0';
        return json_loads(buf, 0, NULL);
    }
    return NULL;
}

/* ---- raw HTTP (the page route) ---- */

struct http_resp {
    int    status;
    char   head[4096];   /* lower-cased */
    char   body[262144];
    size_t body_len;
};

/* Send @p req (raw) and read one response (headers, then content-length bytes
 * unless @p head_only). Returns 0, -1 on a transport failure. */
static inline int raw_http(int port, const char *req, bool head_only, struct http_resp *out)
{
    memset(out, 0, sizeof *out);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || raw_write_all(fd, req, strlen(req)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t got = 0;
    double end = wsc_now() + 5;
    char *hdr_end = NULL;
    while (!hdr_end && got < sizeof out->head - 1 && wsc_now() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, out->head + got, 1);
        if (n <= 0)
            break;
        got += (size_t)n;
        out->head[got] = '\0';
        hdr_end = strstr(out->head, "\r\n\r\n");
    }
    if (!hdr_end || sscanf(out->head, "HTTP/1.1 %d", &out->status) != 1) {
        close(fd);
        return -1;
    }
    for (char *p = out->head; *p; p++)  /* lower-case header names and values for strstr */
        *p = (char)tolower((unsigned char)*p);
    const char *cl = strstr(out->head, "content-length:");
    size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
    if (!head_only && want) {
        if (want > sizeof out->body || raw_read_full(fd, out->body, want, end) != 0) {
            close(fd);
            return -1;
        }
        out->body_len = want;
    }
    close(fd);
    return 0;
}

static inline void raw_http_get(int port, const char *method, const char *path, const char *extra, struct http_resp *out)
{
    char req[1024];
    snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sConnection: close\r\n\r\n", method, path, port,
             extra ? extra : "");
    if (raw_http(port, req, !strcmp(method, "HEAD"), out) != 0)
        fail_msg("%s %s: no HTTP response", method, path);
}

static inline void assert_http_header(const struct http_resp *r, const char *line)
{
    if (!strstr(r->head, line))
        fail_msg("header \"%s\" missing in:\n%s", line, r->head);
}


#endif
