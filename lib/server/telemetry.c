/* Telemetry: the fixed-rate tick (a ticker thread with absolute deadlines,
 * running only while a client is connected, so an idle server sleeps) and the
 * shared streams, each encoded from the source at most once per tick however
 * many sessions share it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hermes/encoder.h"
#include "server/priv.h"

struct hermes__stream {
    struct hermes__stream *next;
    unsigned               refs;
    void                  *reader;  /* the source's stream */
    uint32_t              *idx;
    uint32_t               n;
    struct hermes__frame   frame;   /* buf: LWS_PRE + frame */
    uint64_t               tick;    /* tick it was last encoded for */
};

static void stream_free(hermes_server_t *s, struct hermes__stream *st)
{
    s->src.stream_close(s->src.ctx, st->reader);
    free(st->idx);
    free(st->frame.buf - LWS_PRE);
    free(st);
}

void hermes__stream_release(hermes_server_t *s, struct hermes__stream *st)
{
    if (!st || --st->refs)
        return;
    for (struct hermes__stream **pp = &s->streams; *pp; pp = &(*pp)->next)
        if (*pp == st) {
            *pp = st->next;
            break;
        }
    stream_free(s, st);
}

struct hermes__stream *hermes__stream_get(hermes_server_t *s, const uint32_t *idx, uint32_t n)
{
    for (struct hermes__stream *st = s->streams; st; st = st->next)
        if (st->n == n && (n == 0 || memcmp(st->idx, idx, n * sizeof *idx) == 0)) {
            st->refs++;
            return st;
        }
    struct hermes__stream *st = calloc(1, sizeof *st);
    size_t len = HERMES_TELEMETRY_FRAME_SIZE(n);
    if (st) {
        st->idx = malloc((n ? n : 1) * sizeof *idx);
        st->frame.buf = malloc(LWS_PRE + len);
    }
    if (!st || !st->idx || !st->frame.buf) {
        if (st) {
            free(st->idx);
            free(st->frame.buf);
        }
        free(st);
        hermes__fail(HERMES_ENOMEM, "out of memory");
        return NULL;
    }
    if (n)
        memcpy(st->idx, idx, n * sizeof *idx);
    if (s->src.stream_open(s->src.ctx, idx, n, &st->reader) != 0) {
        free(st->idx);
        free(st->frame.buf);
        free(st);
        return NULL;
    }
    st->n = n;
    st->frame.buf += LWS_PRE;
    st->frame.len = len;
    st->refs = 1;
    st->tick = UINT64_MAX;
    st->next = s->streams;
    s->streams = st;
    return st;
}

const struct hermes__frame *hermes__stream_frame(hermes_server_t *s, struct hermes__stream *st, uint64_t tick)
{
    if (st->tick != tick) {
        st->tick = tick;
        st->frame.valid = s->src.stream_encode(s->src.ctx, st->reader, st->frame.buf, st->frame.len) == 0;
    }
    return &st->frame;
}

uint32_t hermes__stream_count(const struct hermes__stream *st) { return st ? st->n : 0; }

void hermes__telemetry_free_streams(hermes_server_t *s)
{
    while (s->streams) {  /* normally released by CLOSED */
        struct hermes__stream *st = s->streams;
        s->streams = st->next;
        stream_free(s, st);
    }
}

/* ---- the tick --------------------------------------------------------------------
 * A small ticker thread sleeps until each absolute deadline (a CLOCK_MONOTONIC
 * condition wait, so stop and "no client" interrupt it at once), sets
 * tick_due and wakes the service thread, which runs the tick in its
 * EVENT_WAIT_CANCELLED handler. Not an lws_sul timer: lws 4.1 polls in
 * truncated milliseconds, so the last fraction of every period became a loop
 * of poll(0) calls (~10 per tick). The ticker runs only while a client is
 * connected: an idle server sleeps in poll() until a connection, a command
 * or an event needs it. */

static void ts_add_us(struct timespec *t, int64_t us)
{
    t->tv_sec += (time_t)(us / 1000000);
    t->tv_nsec += (long)(us % 1000000) * 1000;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *ticker_main(void *arg)
{
    hermes_server_t *s = arg;
    struct timespec next = {0, 0}, now;
    bool running = false;
    pthread_mutex_lock(&s->mu_tick);
    while (!s->tick_quit) {
        if (!s->tick_want) {
            running = false;
            pthread_cond_wait(&s->cv_tick, &s->mu_tick);
            continue;
        }
        if (!running) {  /* the first tick one period after a client arrives */
            clock_gettime(CLOCK_MONOTONIC, &next);
            ts_add_us(&next, s->period);
            running = true;
        }
        if (pthread_cond_timedwait(&s->cv_tick, &s->mu_tick, &next) != ETIMEDOUT)
            continue;  /* woken: want or quit changed (or spurious) */
        pthread_mutex_unlock(&s->mu_tick);
        atomic_store_explicit(&s->tick_due, 1, memory_order_release);
        hermes__server_wake(s);
        ts_add_us(&next, s->period);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (ts_before(&next, &now))  /* late (a stalled machine): no burst of catch-up ticks */
            next = now;
        pthread_mutex_lock(&s->mu_tick);
    }
    pthread_mutex_unlock(&s->mu_tick);
    return NULL;
}

int hermes__ticker_start(hermes_server_t *s)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->mu_tick, NULL);
    pthread_cond_init(&s->cv_tick, &ca);
    pthread_condattr_destroy(&ca);
    s->ticker_inited = true;
    int e = pthread_create(&s->tick_thr, NULL, ticker_main, s);
    if (e)
        return e;
    s->ticker_started = true;
    return 0;
}

void hermes__ticker_stop(hermes_server_t *s)
{
    if (s->ticker_started) {
        pthread_mutex_lock(&s->mu_tick);
        s->tick_quit = true;
        pthread_cond_signal(&s->cv_tick);
        pthread_mutex_unlock(&s->mu_tick);
        pthread_join(s->tick_thr, NULL);
        s->ticker_started = false;
    }
}

void hermes__ticker_destroy(hermes_server_t *s)
{
    if (s->ticker_inited) {
        pthread_cond_destroy(&s->cv_tick);
        pthread_mutex_destroy(&s->mu_tick);
        s->ticker_inited = false;
    }
}

void hermes__telemetry_want(hermes_server_t *s, bool want)
{
    if (!s->ticker_inited)
        return;
    pthread_mutex_lock(&s->mu_tick);
    if (s->tick_want != want) {
        s->tick_want = want;
        pthread_cond_signal(&s->cv_tick);
    }
    pthread_mutex_unlock(&s->mu_tick);
}

void hermes__telemetry_tick(hermes_server_t *s)
{
    if (!atomic_exchange_explicit(&s->tick_due, 0, memory_order_acquire) || s->closing_all || s->nclients == 0)
        return;
    s->tick++;
    atomic_fetch_add_explicit(&s->st_ticks, 1, memory_order_relaxed);
    for (struct client *c = s->clients; c; c = c->next)
        if (c->inited && !c->closing && c->proto->tick)
            c->proto->tick(c, s->tick);
}
