/* Schedule groups: steps the members of one group concurrently within a
 * frame, or one by one with isolation checks (execution.check_groups).
 *
 * Process members have a split step (step_begin/step_end): all are woken,
 * then all are waited for. Inproc members run on threads: the first on the
 * caller's (the scheduler thread), each further one on a worker created with
 * the group and kept until it is destroyed, so a frame creates no thread.
 * A worker sleeps on its own wake-up pair (lib/process_wake.h, here in
 * process-private memory): `go` carries the frame's sequence number, `done`
 * answers it. The frame's command (frame, dt, sample) is written before the
 * seq_cst post of `go` and read after the worker sees it; the worker's
 * result is written before it posts `done`, so no lock is needed. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backplane_internal.h"
#include "process_wake.h"
#include "sched_group.h"
#include "util.h"

struct worker {
    struct hermes__group *g;
    uint32_t              member;   /* index in g->mem */
    pthread_t             thr;
    uint32_t              seq;      /* last go posted */
    int                   rc;       /* step result of the last go */
    _Alignas(64) struct hermes_shm_wake go;
    _Alignas(64) struct hermes_shm_wake done;
};

struct hermes__group {
    struct hermes__module **mem;
    uint32_t                n;
    int                     local;      /* member stepped by the caller, or -1 */
    struct worker          *w;
    uint32_t                nw;
    int                    *rc;         /* per member, this frame */
    bool                   *begun;
    bool                    spin_wait;  /* the caller may busy-wait for members */
    const void             *owner;
    const hermes_backplane_t *bp;
    double                 *saved;      /* check mode: other members' slots */
    uint32_t                nsaved;
    /* The current frame's command, for the workers. */
    uint64_t                frame;
    double                  dt;
    bool                    sample;
    _Atomic bool            quit;
};

static _Thread_local const void *thread_owner;

const void *hermes__group_thread_owner(void) { return thread_owner; }

static void time_step(struct hermes__module *m, uint64_t t0) { *m->step_time = (double)(hermes__now_ns() - t0) * 1e-9; }

static void *work(void *arg)
{
    struct worker *w = arg;
    struct hermes__group *g = w->g;
    struct hermes__module *m = g->mem[w->member];
    thread_owner = g->owner;
    uint32_t seen = 0;
    for (;;) {
        uint32_t v = seen;
        while (v == seen)
            v = hermes__wake_wait(&w->go, seen, UINT64_MAX);
        seen = v;
        if (atomic_load_explicit(&g->quit, memory_order_acquire))
            break;
        uint64_t t0 = g->sample ? hermes__now_ns() : 0;
        w->rc = m->step(m->state, g->frame, g->dt);
        if (g->sample)
            time_step(m, t0);
        hermes__wake_post(&w->done, seen);
    }
    return NULL;
}

static void post_go(struct worker *w)
{
    w->seq = (w->seq + 1) & HERMES__WAKE_SEQ;
    hermes__wake_post(&w->go, w->seq);
}

static void await_done(struct worker *w)
{
    uint32_t v = atomic_load_explicit(&w->done.seq, memory_order_acquire);
    while (v != w->seq)
        v = hermes__wake_wait(&w->done, v, UINT64_MAX);
}

static void stop_workers(struct hermes__group *g, uint32_t started)
{
    atomic_store_explicit(&g->quit, true, memory_order_release);
    for (uint32_t i = 0; i < started; i++) {
        post_go(&g->w[i]);
        pthread_join(g->w[i].thr, NULL);
    }
}

void hermes__group_destroy(struct hermes__group *g)
{
    if (!g)
        return;
    stop_workers(g, g->nw);
    free(g->w);
    free(g->mem);
    free(g->rc);
    free(g->begun);
    free(g->saved);
    free(g);
}

uint32_t hermes__group_workers(const struct hermes__group *g) { return g ? g->nw : 0; }

int hermes__group_create(struct hermes__group **out, struct hermes__module *const *members, uint32_t n,
                         const hermes_backplane_t *bp, const void *owner)
{
    *out = NULL;
    struct hermes__group *g = calloc(1, sizeof *g);
    if (!g)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    g->n = n;
    g->local = -1;
    g->owner = owner;
    g->bp = bp;
    g->mem = calloc(n, sizeof *g->mem);
    g->rc = calloc(n, sizeof *g->rc);
    g->begun = calloc(n, sizeof *g->begun);
    g->w = calloc(n, sizeof *g->w);
    if (!g->mem || !g->rc || !g->begun || !g->w) {
        hermes__group_destroy(g);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < n; i++) {
        struct hermes__module *m = members[i];
        g->mem[i] = m;
        g->nsaved += m->signal_count;
        if (!m->step || m->step_begin)
            continue;
        if (g->local < 0)
            g->local = (int)i;
        else
            g->w[g->nw++].member = i;
    }
    if (!(g->saved = calloc(g->nsaved ? g->nsaved : 1, sizeof *g->saved))) {
        hermes__group_destroy(g);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    /* A worker waits for its next frame only while the other members finish
     * this one: it may spin when every member has a CPU (as process members
     * do, lib/process.c). */
    uint32_t poster_ns, waiter_ns, nproc = 0;
    for (uint32_t i = 0; i < n; i++)
        nproc += members[i]->step_begin != NULL;
    hermes__spin_budget(nproc + g->nw + (g->local >= 0) - 1, &poster_ns, &waiter_ns);
    /* While the caller waits, process members and workers may all be
     * running: a busy-waiting caller would take the core one of them needs. */
    g->spin_wait = (uint32_t)hermes__cpu_count() >= nproc + g->nw + 1;
    /* Workers run with every signal blocked, so process-directed signals go
     * to the host's threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    uint32_t started = 0;
    int e = 0;
    for (; started < g->nw; started++) {
        struct worker *w = &g->w[started];
        w->g = g;
        w->go.spin_ns = waiter_ns;
        w->done.spin_ns = g->spin_wait ? poster_ns : 0;
        if ((e = pthread_create(&w->thr, NULL, work, w)) != 0)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        const char *name = members[g->w[started].member]->name;
        stop_workers(g, started);
        g->nw = 0;
        hermes__group_destroy(g);
        return hermes__fail(HERMES_ESYS, "module '%s': cannot start a group worker thread: %s", name, strerror(e));
    }
    *out = g;
    return 0;
}

static int first_failure(const struct hermes__group *g)
{
    for (uint32_t i = 0; i < g->n; i++)
        if (g->rc[i] != 0)
            return (int)i;
    return -1;
}

int hermes__group_step(struct hermes__group *g, uint64_t frame, double dt, bool sample)
{
    uint64_t t0 = sample ? hermes__now_ns() : 0;
    for (uint32_t i = 0; i < g->n; i++) {
        struct hermes__module *m = g->mem[i];
        g->rc[i] = 0;
        g->begun[i] = false;
        if (m->step_begin) {
            g->rc[i] = m->step_begin(m->state, frame, dt);
            g->begun[i] = g->rc[i] == 0;
        }
    }
    g->frame = frame;
    g->dt = dt;
    g->sample = sample;
    for (uint32_t i = 0; i < g->nw; i++)
        post_go(&g->w[i]);
    if (g->local >= 0) {
        struct hermes__module *m = g->mem[g->local];
        uint64_t ts = sample ? hermes__now_ns() : 0;
        g->rc[g->local] = m->step(m->state, frame, dt);
        if (sample)
            time_step(m, ts);
    }
    for (uint32_t i = 0; i < g->nw; i++) {
        await_done(&g->w[i]);
        g->rc[g->w[i].member] = g->w[i].rc;
    }
    for (uint32_t i = 0; i < g->n; i++) {
        if (!g->begun[i])
            continue;
        struct hermes__module *m = g->mem[i];
        g->rc[i] = m->step_end(m->state, g->spin_wait);
        if (sample)
            time_step(m, t0);
    }
    return first_failure(g);
}

/* Check mode: copy (save) or compare the slots of every member but @p self. */
static bool others_unchanged(struct hermes__group *g, uint32_t self, bool save, uint32_t *who, uint32_t *slot,
                             double *before)
{
    const double *live = g->bp->live;
    double *p = g->saved;
    for (uint32_t j = 0; j < g->n; j++) {
        const struct hermes__module *o = g->mem[j];
        if (j == self)
            continue;
        const double *src = live + o->first_signal;
        size_t bytes = (size_t)o->signal_count * sizeof *src;
        if (save) {
            memcpy(p, src, bytes);
        } else if (memcmp(p, src, bytes) != 0) {
            for (uint32_t k = 0; k < o->signal_count; k++)
                if (memcmp(&p[k], &src[k], sizeof *src) != 0) {
                    *who = j;
                    *slot = k;
                    *before = p[k];
                    return false;
                }
        }
        p += o->signal_count;
    }
    return true;
}

int hermes__group_check_step(struct hermes__group *g, uint64_t frame, double dt, bool sample)
{
    for (uint32_t r = g->n; r-- > 0;) {
        struct hermes__module *m = g->mem[r];
        if (!m->step)
            continue;
        uint32_t who = 0, k = 0;
        double before = 0.0;
        others_unchanged(g, r, true, &who, &k, &before);
        uint64_t ts = sample ? hermes__now_ns() : 0;
        if (m->step(m->state, frame, dt) != 0)
            return (int)r;
        if (sample)
            time_step(m, ts);
        if (!others_unchanged(g, r, false, &who, &k, &before)) {
            const struct hermes__module *o = g->mem[who];
            uint32_t idx = o->first_signal + k;
            snprintf(m->errbuf, sizeof m->errbuf,
                     "execution.check_groups: changed '%s' from %.17g to %.17g, a signal of '%s', which steps in "
                     "the same group (members of a group must not write each other's signals; wire them instead)",
                     g->bp->dir[idx].name, before, g->bp->live[idx], o->name);
            return (int)r;
        }
    }
    return -1;
}
