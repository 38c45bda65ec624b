/* The server's lifecycle and threads: create/start/stop/destroy, the protocol
 * table, state events in from any thread, and the control thread that runs
 * control jobs. Who owns what:
 *  - service thread: every lws call, all session state, streams, the telemetry
 *    tick (server/telemetry.c) and encoding (a snapshot that never blocks the
 *    simulation).
 *  - control thread: calls the host's control table (pause/resume/reset/step/
 *    set/seek may block until a frame boundary) so telemetry never stalls;
 *    results come back through `done` and a lws_cancel_service() wakeup.
 *  - any thread (the scheduler listener): hermes_server_post_event() copies
 *    into a fixed ring under `mu_ev` (no I/O under it, no allocation) and wakes
 *    the service thread. `ctx_alive`, read under the same mutex, keeps wakeups
 *    away from a destroyed context. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hermes/encoder.h"
#include "common/access.h"
#include "server/internal.h"
#include "server/priv.h"

/* THE protocol table: [0] also serves clients that name no subprotocol. A new
 * protocol is one file plus one line here. */
const struct hermes__protocol *const hermes__protocols[] = {
    &hermes__protocol_hermes,
    &hermes__protocol_foxglove,
};
const size_t hermes__protocol_count = sizeof hermes__protocols / sizeof hermes__protocols[0];

static void lws_log_emit(int level, const char *line)
{
    char buf[512];
    hermes__strlcpy(buf, line, sizeof buf);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    hermes__log(level == LLL_ERR ? HERMES_LOG_WARN : HERMES_LOG_DEBUG, "lws", "msg=\"%s\"", buf);
}

static void *ctl_main(void *arg)
{
    hermes_server_t *s = arg;
    for (struct hermes__job *j; (j = hermes__server_next_job(s, true)) != NULL;) {
        hermes__server_run_job(s, j);
        hermes__server_wake(s);
    }
    return NULL;
}

/* ---- service thread ------------------------------------------------------------ */

static void *svc_main(void *arg)
{
    hermes_server_t *s = arg;
    while (!s->svc_exit)
        if (lws_service(s->ctx, 0) < 0)
            break;
    hermes__telemetry_want(s, false);
    lws_sul_cancel(&s->grace_sul);
    return NULL;
}

/* ---- create / start / stop ---------------------------------------------------- */

static bool is_loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return strcmp(addr, "lo") == 0;
}

/* lws reports bind failures only in its log: probe the address ourselves. */
static int bind_error(hermes_server_t *s)
{
    struct in_addr a4;
    struct in6_addr a6;
    int fam = inet_pton(AF_INET, s->bind_addr, &a4) == 1 ? AF_INET : inet_pton(AF_INET6, s->bind_addr, &a6) == 1 ? AF_INET6 : 0;
    int e = 0;
    if (fam) {
        int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            int one = 1;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            int rc;
            if (fam == AF_INET) {
                struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(s->port), .sin_addr = a4};
                rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
            } else {
                struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(s->port), .sin6_addr = a6};
                rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
            }
            e = rc ? errno : 0;
            close(fd);
        }
    }
    if (e == EADDRINUSE)
        return hermes__server_fail(s, HERMES_EADDRINUSE, "cannot listen on %s:%u: address already in use", s->bind_addr,
                                   s->port);
    return hermes__server_fail(s, HERMES_ENET, "cannot listen on %s:%u: %s", s->bind_addr, s->port,
                               e ? strerror(e) : fam ? "bind failed" : "no such address or interface");
}

/* Copy the settings of @p c (already checked) into @p s. */
static int take_settings(hermes_server_t *s, const hermes_server_config_t *c)
{
    const char *addr = c->bind_addr && c->bind_addr[0] ? c->bind_addr : HERMES_DEFAULT_HOST;
    if (strcmp(addr, "localhost") == 0)
        addr = "127.0.0.1";  /* lws 4.1.6 does not resolve it */
    if (hermes__strlcpy(s->bind_addr, addr, sizeof s->bind_addr) != 0)
        return hermes__fail(HERMES_EINVAL, "bind address too long");
    s->port = c->port;
    s->max_clients = c->max_clients ? c->max_clients : HERMES_SERVER_DEFAULT_MAX_CLIENTS;
    s->info.max_message = c->max_message ? c->max_message : HERMES_SERVER_DEFAULT_MAX_MESSAGE;
    s->info.cps = c->commands_per_second ? c->commands_per_second : HERMES_SERVER_DEFAULT_COMMANDS_PER_SECOND;
    s->info.max_patterns = c->max_patterns ? c->max_patterns : HERMES_SERVER_DEFAULT_MAX_PATTERNS;
    s->info.max_depth = c->max_json_depth ? c->max_json_depth : HERMES_SERVER_DEFAULT_MAX_JSON_DEPTH;
    s->info.telemetry_hz = c->telemetry_hz == 0 ? HERMES_DEFAULT_TELEMETRY_HZ : c->telemetry_hz;
    s->period = (lws_usec_t)llround(1e6 / s->info.telemetry_hz);
    if (c->auth_token && c->auth_token[0]) {  /* "": none (server.h) */
        s->token_len = strlen(c->auth_token);
        memcpy(s->token, c->auth_token, s->token_len + 1);
        s->has_token = true;
    }
    s->observers = c->observers;
    s->viewer_disabled = c->viewer_disabled;
    if (c->allowed_origin_count) {
        s->origins = calloc(c->allowed_origin_count, sizeof *s->origins);
        if (!s->origins)
            return hermes__fail(HERMES_ENOMEM, "out of memory");
        for (uint32_t i = 0; i < c->allowed_origin_count; i++) {
            const char *o = c->allowed_origins[i];
            size_t n = strlen(o);
            if (n > 1 && o[n - 1] == '/')
                n--;  /* browsers send origins without the slash */
            if (!(s->origins[i] = strndup(o, n)))
                return hermes__fail(HERMES_ENOMEM, "out of memory");
            s->norigins = i + 1;
            if (strcmp(o, "*") == 0)
                s->any_origin = true;
        }
    }
    return 0;
}

/* One lws protocol entry per subprotocol name, every one on the shared callback. */
static int fill_protocols(hermes_server_t *s)
{
    /* One send() per telemetry frame: size tx packets to the largest frame
     * (every signal subscribed), within reason. */
    size_t biggest = HERMES_TELEMETRY_FRAME_SIZE(s->cat.n);
    size_t txp = biggest < 65536 ? 65536 : biggest > (4u << 20) ? (4u << 20) : biggest;
    size_t k = 0;
    for (size_t i = 0; i < hermes__protocol_count; i++) {
        const struct hermes__protocol *p = hermes__protocols[i];
        for (const char *const *n = p->names; *n; n++) {
            if (k + 1 >= HERMES__MAX_LWS_PROTOCOLS)
                return hermes__fail(HERMES_EINVAL, "too many subprotocol names");
            s->protos[k++] = (struct lws_protocols){*n, hermes__session_callback, hermes__session_size(p), 4096, 0,
                                                    (void *)(uintptr_t)p, txp};
        }
    }
    s->protos[k] = (struct lws_protocols){NULL, NULL, 0, 0, 0, NULL, 0};
    return 0;
}

static int listen_on(hermes_server_t *s)
{
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
    int rc = fill_protocols(s);
    if (rc)
        return rc;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    struct in6_addr a6;
    bool v6 = inet_pton(AF_INET6, s->bind_addr, &a6) == 1;
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | (v6 ? 0 : LWS_SERVER_OPTION_DISABLE_IPV6);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.user = s;
    info.protocols = s->protos;
    s->ctx = lws_create_context(&info);
    if (!s->ctx)
        return hermes__server_fail(s, HERMES_ENOMEM, "libwebsockets context creation failed");
    info.port = s->port;
    info.iface = s->bind_addr;
    info.vhost_name = "hermes";
    s->vh = lws_create_vhost(s->ctx, &info);
    /* An address or interface that is not up yet still yields a vhost (lws
     * retries later) but no listening socket: treat it as a failure. */
    int lport = s->vh ? lws_get_vhost_listen_port(s->vh) : -1;
    if (!s->vh || lport <= 0)
        return bind_error(s);
    s->port = (uint16_t)lport;
    s->ctx_alive = true;
    if (!is_loopback(s->bind_addr) && !s->has_token)
        hermes__log(HERMES_LOG_WARN, "server",
                    "event=bind_warning addr=%s port=%u note=\"non-loopback address without auth_token: anyone who can reach it can control the run\"",
                    s->bind_addr, s->port);
    return 0;
}

static bool source_ok(const hermes_server_source_t *src)
{
    return src->size && src->signal_count && src->signal_info && src->stream_open && src->stream_encode &&
           src->stream_close && src->frame;
}

int hermes__server_create(hermes_server_t **out, const hermes_server_source_t *src, hermes_backplane_t *bp,
                          const hermes_server_config_t *cfg, const hermes_server_control_t *control, bool detached)
{
    if (!out)
        return hermes__fail(HERMES_EINVAL, "hermes_server_create: out is NULL");
    *out = NULL;
    if ((!src && !bp) || !cfg)
        return hermes__fail(HERMES_EINVAL, "hermes_server_create: NULL argument");
    hermes_server_source_t sc;  /* the host's table, read up to its size */
    memset(&sc, 0, sizeof sc);
    if (src)
        memcpy(&sc, src, src->size < sizeof sc ? src->size : sizeof sc);
    if (src && !source_ok(&sc))
        return hermes__fail(HERMES_EINVAL, "telemetry source not initialised or missing a required callback "
                                           "(see hermes_server_source_t)");
    if (cfg->size == 0)
        return hermes__fail(HERMES_EINVAL, "server config not initialised (call hermes_server_config_init)");
    if (control && control->size == 0)
        return hermes__fail(HERMES_EINVAL, "control table not initialised (call hermes_server_control_init)");
    hermes_server_config_t c;
    hermes_server_config_init(&c);
    memcpy(&c, cfg, cfg->size < sizeof c ? cfg->size : sizeof c);
    struct hermes__access acc = {
        .telemetry_hz = c.telemetry_hz,
        .auth_token = c.auth_token && c.auth_token[0] ? c.auth_token : NULL,  /* "": none (server.h) */
        .allowed_origins = c.allowed_origins,
        .allowed_origin_count = c.allowed_origin_count,
        .limit = {[HERMES__LIMIT_MAX_CLIENTS] = c.max_clients,
                  [HERMES__LIMIT_MAX_MESSAGE] = c.max_message,
                  [HERMES__LIMIT_COMMANDS_PER_SECOND] = c.commands_per_second,
                  [HERMES__LIMIT_MAX_PATTERNS] = c.max_patterns,
                  [HERMES__LIMIT_MAX_JSON_DEPTH] = c.max_json_depth},
    };
    char afield[64], amsg[192];
    if (hermes__access_check(&acc, afield, sizeof afield, amsg, sizeof amsg) != 0)
        return hermes__fail(HERMES_EINVAL, "server %s: %s", afield, amsg);

    hermes_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    s->detached = detached;
    pthread_mutex_init(&s->mu_ev, NULL);
    pthread_mutex_init(&s->mu_err, NULL);
    pthread_mutex_init(&s->mu_job, NULL);
    pthread_cond_init(&s->cv_job, NULL);
    if (src)
        s->src = sc;
    else
        hermes__live_source(&s->live, bp, c.sim_config, &s->src);
    if (control) {
        memcpy(&s->ctl, control, control->size < sizeof s->ctl ? control->size : sizeof s->ctl);
        s->ctl.size = (uint32_t)sizeof s->ctl;
        s->has_ctl = true;
    }
    hermes__strlcpy(s->run_id, s->src.run_id ? s->src.run_id : "", sizeof s->run_id);
    s->info = (struct hermes__server_info){.has_control = s->has_ctl, .control = &s->ctl, .source = &s->src,
                                           .catalog = &s->cat, .run_id = s->run_id};
    int rc = take_settings(s, &c);
    if (rc == 0)
        rc = hermes__catalog_load(&s->cat, &s->src);
    if (rc == 0)
        rc = hermes__http_init(s);
    for (size_t i = 0; i < hermes__protocol_count; i++)
        s->proto_of[i] = hermes__protocols[i];  /* jobs.c reaches the protocols only through these */
    for (size_t i = 0; rc == 0 && i < hermes__protocol_count; i++)
        if (hermes__protocols[i]->init)
            rc = hermes__protocols[i]->init(s, &s->proto_data[i]);
    if (rc)
        goto fail;
    if (s->observers && !s->has_token)
        hermes__log(HERMES_LOG_WARN, "server", "event=config_warning note=\"observers has no effect without auth_token: every client has full control\"");
    if (!detached && (rc = listen_on(s)) != 0)
        goto fail;
    if (s->has_ctl && s->ctl.attach && (rc = s->ctl.attach(s->ctl.ctx, s)) != 0) {
        hermes__server_fail(s, rc, "control attach failed: %s", hermes_last_error());
        goto fail;
    }
    s->attached = true;
    if (!detached)
        hermes__log(HERMES_LOG_INFO, "server", "event=listening addr=%s port=%u telemetry_hz=%g run=%s auth=%s observers=%s",
                    s->bind_addr, s->port, s->info.telemetry_hz, s->run_id, s->has_token ? "token" : "none",
                    s->has_token && s->observers ? "yes" : "no");
    *out = s;
    return 0;
fail:
    {
        hermes__error_saved_t e;
        hermes__error_save(&e);
        hermes_server_destroy(s);
        return hermes__error_restore(rc, &e);
    }
}

HERMES_API int hermes_server_create(hermes_server_t **out, hermes_backplane_t *bp, const hermes_server_config_t *cfg,
                                    const hermes_server_control_t *control)
{
    return hermes__server_create(out, NULL, bp, cfg, control, false);
}

HERMES_API int hermes_server_create_source(hermes_server_t **out, const hermes_server_source_t *src,
                                           const hermes_server_config_t *cfg, const hermes_server_control_t *control)
{
    if (!src && out) {
        *out = NULL;
        return hermes__fail(HERMES_EINVAL, "hermes_server_create_source: src is NULL");
    }
    return hermes__server_create(out, src, NULL, cfg, control, false);
}

HERMES_API int hermes_server_start(hermes_server_t *s)
{
    if (!s)
        return hermes__fail(HERMES_EINVAL, "server is NULL");
    if (s->detached)
        return hermes__server_fail(s, HERMES_ESTATE, "a detached server cannot be started");
    if (s->started || s->stopped)
        return hermes__server_fail(s, HERMES_ESTATE, "the server was already started");
    int e = pthread_create(&s->ctl_thr, NULL, ctl_main, s);
    if (e)
        return hermes__server_fail(s, HERMES_ESYS, "cannot create the control thread: %s", strerror(e));
    s->ctl_started = true;
    e = hermes__ticker_start(s);
    if (e)
        return hermes__server_fail(s, HERMES_ESYS, "cannot create the telemetry ticker thread: %s", strerror(e));
    e = pthread_create(&s->svc_thr, NULL, svc_main, s);
    if (e)
        return hermes__server_fail(s, HERMES_ESYS, "cannot create the service thread: %s", strerror(e));
    s->started = true;
    return 0;
}

HERMES_API int hermes_server_stop(hermes_server_t *s)
{
    if (!s)
        return hermes__fail(HERMES_EINVAL, "server is NULL");
    pthread_t self = pthread_self();
    if ((s->started && pthread_equal(self, s->svc_thr)) || (s->ctl_started && pthread_equal(self, s->ctl_thr)))
        return hermes__server_fail(s, HERMES_ESTATE, "hermes_server_stop called from a server thread");
    if (s->stopped)
        return 0;
    s->stopped = true;
    if (s->started) {
        atomic_store(&s->stop_req, 1);
        hermes__server_wake(s);
        pthread_join(s->svc_thr, NULL);
    }
    hermes__ticker_stop(s);
    pthread_mutex_lock(&s->mu_ev);
    s->ctx_alive = false;
    pthread_mutex_unlock(&s->mu_ev);
    if (s->ctl_started) {
        pthread_mutex_lock(&s->mu_job);
        s->ctl_quit = true;
        /* Jobs not started yet are abandoned: their clients are closing. */
        hermes__job_list_free(&s->jq_head, &s->jq_tail);
        pthread_cond_broadcast(&s->cv_job);
        pthread_mutex_unlock(&s->mu_job);
        pthread_join(s->ctl_thr, NULL);
    }
    if (s->attached && s->ctl.detach)
        s->ctl.detach(s->ctl.ctx, s);
    s->attached = false;
    pthread_mutex_lock(&s->mu_ev);
    s->ev_closed = true;
    pthread_mutex_unlock(&s->mu_ev);
    if (s->ctx) {
        lws_context_destroy(s->ctx);  /* CLOSED for every remaining client, on this thread */
        s->ctx = NULL;
    }
    hermes__job_list_free(&s->done_head, &s->done_tail);
    if (s->started)
        hermes__log(HERMES_LOG_INFO, "server", "event=stopped port=%u connections=%llu frames_sent=%llu frames_dropped=%llu",
                    s->port, (unsigned long long)atomic_load(&s->st_conn), (unsigned long long)atomic_load(&s->st_sent),
                    (unsigned long long)atomic_load(&s->st_dropped));
    return 0;
}

HERMES_API void hermes_server_destroy(hermes_server_t *s)
{
    if (!s)
        return;
    if (hermes_server_stop(s) != 0)
        return;  /* called from a server thread: refusing beats a self-join */
    hermes__telemetry_free_streams(s);
    for (size_t i = 0; i < hermes__protocol_count; i++)
        if (hermes__protocols[i]->fini && s->proto_data[i])
            hermes__protocols[i]->fini(s, s->proto_data[i]);
    hermes__catalog_free(&s->cat);
    free(s->etags);
    hermes__free_strv(s->origins, s->norigins);
    explicit_bzero(s->token, sizeof s->token);
    hermes__ticker_destroy(s);
    pthread_cond_destroy(&s->cv_job);
    pthread_mutex_destroy(&s->mu_job);
    pthread_mutex_destroy(&s->mu_ev);
    pthread_mutex_destroy(&s->mu_err);
    free(s);
}

HERMES_API uint16_t hermes_server_port(const hermes_server_t *s) { return s ? s->port : 0; }

HERMES_API const char *hermes_server_run_id(const hermes_server_t *s) { return s ? s->run_id : ""; }

HERMES_API const char *hermes_server_errmsg(const hermes_server_t *s)
{
    if (!s)
        return "";
    hermes_server_t *m = (hermes_server_t *)s;  /* the lock and the copy are not the server's state */
    pthread_mutex_lock(&m->mu_err);
    memcpy(m->errmsg_out, m->errmsg, sizeof m->errmsg_out);
    pthread_mutex_unlock(&m->mu_err);
    return m->errmsg_out;
}

HERMES_API int hermes_server_stats(const hermes_server_t *s, hermes_server_stats_t *out)
{
    if (!s)
        return hermes__fail(HERMES_EINVAL, "hermes_server_stats: server is NULL");
    if (!out)
        return hermes__server_fail((hermes_server_t *)s, HERMES_EINVAL, "hermes_server_stats: out is NULL");
    hermes_server_t *m = (hermes_server_t *)s;
    out->clients = atomic_load_explicit(&m->st_clients, memory_order_relaxed);
    out->connections = atomic_load_explicit(&m->st_conn, memory_order_relaxed);
    out->frames_sent = atomic_load_explicit(&m->st_sent, memory_order_relaxed);
    out->frames_dropped = atomic_load_explicit(&m->st_dropped, memory_order_relaxed);
    out->ticks = atomic_load_explicit(&m->st_ticks, memory_order_relaxed);
    return 0;
}
