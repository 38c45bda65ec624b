/* Access control at the handshake: Origin (allow-list or the server's own
 * host), token (Authorization: Bearer or ?token=), the client's role, the
 * client limit, and the HTTP refusals. Every protocol and the page route pass here. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/access.h"
#include "server/priv.h"

void hermes__peer_addr(struct lws *wsi, char *buf, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = lws_get_socket_fd(wsi);
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
            port = ntohs(a->sin6_port);
        }
    }
    snprintf(buf, cap, "%s:%u", host, port);
}

/* Host name part of a Host header value ("h", "h:p", "[v6]:p"), unbracketed. */
static void host_name(const char *host, char *out, size_t cap)
{
    const char *b = host, *e;
    if (*b == '[') {
        b++;
        e = strchr(b, ']');
        if (!e)
            e = b + strlen(b);
    } else {
        e = strrchr(b, ':');
        if (!e || strchr(b, ':') != e)  /* no port, or a bare IPv6 literal */
            e = b + strlen(b);
    }
    size_t n = (size_t)(e - b) < cap - 1 ? (size_t)(e - b) : cap - 1;
    memcpy(out, b, n);
    out[n] = '\0';
}

/* Is @p name this server's own address for this connection: the local
 * address the client reached (or "localhost" when that is loopback)? A DNS
 * name other than localhost is not: an attacker's name can be rebound to us. */
static bool own_host(struct lws *wsi, const char *name)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = lws_get_socket_fd(wsi);
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return false;
    char local[INET6_ADDRSTRLEN] = "";
    bool loop = false;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, local, sizeof local);
        loop = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
            inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], local, sizeof local);
            loop = a->sin6_addr.s6_addr[12] == 127;
        } else {
            inet_ntop(AF_INET6, &a->sin6_addr, local, sizeof local);
            loop = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
        }
    }
    if (local[0] && strcasecmp(name, local) == 0)
        return true;
    return loop && strcasecmp(name, "localhost") == 0;
}

/* A browser page's Origin is acceptable when it is listed (or "*" is), or
 * when it is the server's own origin: its host:port is the request's Host
 * header and that names this server by address (or localhost). */
static bool origin_allowed(const hermes_server_t *s, struct lws *wsi, const char *origin)
{
    if (s->any_origin)
        return true;
    for (uint32_t i = 0; i < s->norigins; i++)
        if (strcasecmp(origin, s->origins[i]) == 0)
            return true;
    const char *sep = strstr(origin, "://");
    char host[256], name[256];
    if (!sep || lws_hdr_total_length(wsi, WSI_TOKEN_HOST) >= (int)sizeof host ||
        lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0)
        return false;
    if (strcasecmp(sep + 3, host) != 0)
        return false;
    host_name(host, name, sizeof name);
    return own_host(wsi, name);
}

/* Decide from the request headers. Never logs or copies the token beyond
 * the stack buffers, which are wiped. */
enum hermes__verdict hermes__access_verdict(const hermes_server_t *s, struct lws *wsi)
{
    char buf[HERMES_SERVER_TOKEN_MAX + 64];
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
    if (n > 0) {
        if (n >= (int)sizeof buf || lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_ORIGIN) < 0 ||
            !origin_allowed(s, wsi, buf))
            return HERMES__V_BAD_ORIGIN;
    }
    if (!s->has_token)
        return HERMES__V_CONTROLLER;
    const char *tok = NULL;
    size_t tlen = 0;
    bool bad = false;
    /* Authorization: Bearer T (a header with another scheme is not ours). */
    n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 0) {
        if (n >= (int)sizeof buf || lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_AUTHORIZATION) < 0) {
            bad = true;  /* far too long to be the token */
        } else if (strncasecmp(buf, "Bearer ", 7) == 0) {
            const char *p = buf + 7;
            while (*p == ' ' || *p == '\t')
                p++;
            size_t l = strlen(p);
            while (l && (p[l - 1] == ' ' || p[l - 1] == '\t'))
                l--;
            tok = p;
            tlen = l;
        }
    }
    /* ?token=T, already URL-decoded by lws (an argument too long for the
     * buffer is not found: no escalation, just no token). */
    char qbuf[HERMES_SERVER_TOKEN_MAX + 64];
    qbuf[0] = '\0';
    if (!tok && !bad) {
        const char *q = lws_get_urlarg_by_name(wsi, "token=", qbuf, sizeof qbuf);
        if (q) {
            tok = q;
            tlen = strlen(q);
        }
    }
    enum hermes__verdict v;
    if (bad)
        v = HERMES__V_UNAUTHORIZED;
    else if (tok)
        v = hermes__token_matches(s->token, s->token_len, tok, tlen) ? HERMES__V_CONTROLLER : HERMES__V_UNAUTHORIZED;
    else
        v = s->observers ? HERMES__V_OBSERVER : HERMES__V_UNAUTHORIZED;
    explicit_bzero(buf, sizeof buf);
    explicit_bzero(qbuf, sizeof qbuf);
    return v;
}

int hermes__access_refuse(struct lws *wsi, unsigned code, const char *reason, const char *why)
{
    char addr[80];
    hermes__peer_addr(wsi, addr, sizeof addr);
    hermes__log(HERMES_LOG_WARN, "server", "event=client_refused reason=%s addr=%s status=%u", reason, addr, code);
    if (lws_return_http_status(wsi, code, why))
        return -1;
    return 1;
}

/* The refusal of a verdict, or 0 when it admits. */
int hermes__access_refuse_verdict(struct lws *wsi, enum hermes__verdict v)
{
    switch (v) {
    case HERMES__V_BAD_ORIGIN:
        return hermes__access_refuse(wsi, HTTP_STATUS_FORBIDDEN, "origin",
                                     "origin not allowed (add it to server.allowed_origins)");
    case HERMES__V_UNAUTHORIZED:
        return hermes__access_refuse(wsi, HTTP_STATUS_UNAUTHORIZED, "unauthorized",
                                     "missing or wrong token (Authorization: Bearer TOKEN, or ?token=TOKEN)");
    case HERMES__V_OBSERVER:
    case HERMES__V_CONTROLLER:
        break;
    }
    return 0;
}

int hermes__access_confirm_upgrade(hermes_server_t *s, struct lws *wsi)
{
    if (s->closing_all)
        return hermes__access_refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "stopping", "server stopping");
    int r = hermes__access_refuse_verdict(wsi, hermes__access_verdict(s, wsi));
    if (r)
        return r;
    if (s->nclients >= s->max_clients) {
        char why[96];
        snprintf(why, sizeof why, "too many clients: this server accepts at most %u", s->max_clients);
        return hermes__access_refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "max_clients", why);
    }
    return 0;
}

/* Checked again (an upgrade path that skipped CONFIRM_UPGRADE would still be
 * refused, as a plain hang-up) and the role recorded. */
int hermes__access_filter(hermes_server_t *s, struct lws *wsi, uint8_t *role)
{
    if (s->closing_all)
        return 1;
    enum hermes__verdict v = hermes__access_verdict(s, wsi);
    if (v == HERMES__V_BAD_ORIGIN || v == HERMES__V_UNAUTHORIZED) {
        hermes__log(HERMES_LOG_WARN, "server", "event=client_refused reason=%s",
                    v == HERMES__V_BAD_ORIGIN ? "origin" : "unauthorized");
        return 1;
    }
    if (s->nclients >= s->max_clients) {
        hermes__log(HERMES_LOG_WARN, "server", "event=client_refused reason=max_clients limit=%u", s->max_clients);
        return 1;
    }
    *role = v == HERMES__V_CONTROLLER ? HERMES__ROLE_CONTROLLER : HERMES__ROLE_OBSERVER;
    return 0;
}
