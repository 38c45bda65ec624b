/* Telemetry: the fixed-rate tick (an absolute-deadline lws_sul timer) and the
 * shared streams, each encoded from the source at most once per tick however
 * many sessions share it. */
#include <stdlib.h>
#include <string.h>

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

void hermes__telemetry_tick(lws_sorted_usec_list_t *sul)
{
    hermes_server_t *s = lws_container_of(sul, hermes_server_t, tick_sul);
    s->tick++;
    atomic_fetch_add_explicit(&s->st_ticks, 1, memory_order_relaxed);
    for (struct client *c = s->clients; c; c = c->next)
        if (c->inited && !c->closing && c->proto->tick)
            c->proto->tick(c, s->tick);
    s->next_tick += s->period;
    lws_usec_t now = lws_now_usecs();
    if (s->next_tick < now)
        s->next_tick = now;
    lws_sul_schedule(s->ctx, 0, &s->tick_sul, hermes__telemetry_tick, s->next_tick - now);
}
