/* Schedule groups: steps the members of one group concurrently within a
 * frame, or one by one with isolation checks (execution.check_groups).
 *
 * Process members have a split step (step_begin/step_end): all are woken,
 * then all are waited for. Inproc members run on T = min(inproc members,
 * CPUs) threads: the caller's (the scheduler thread) and T - 1 workers
 * created with the group and kept until it is destroyed, so a frame creates
 * no thread. More threads than CPUs would only make them take turns on a
 * core and pay a blocking wake-up each per frame. Members are dealt out
 * round-robin at create (inproc member j to lane j % T, lane T - 1 being the
 * caller's) and a lane's members always step together, in member order, so
 * the lanes are fixed for the run. A worker sleeps on its own wake-up pair
 * (lib/scheduler/drivers/process_wake.h, here in process-private memory): `go` carries the
 * frame's sequence number, `done` answers it. Whoever claims the frame's
 * sequence number in the lane's `claim` word first (compare-and-swap from
 * the previous one) steps the lane: its worker, or the caller once its own
 * lane is done, so a worker that is not running yet (its CPU taken, or
 * sleeping on the caller's CPU) costs the frame no wake-up latency; the
 * caller waits for `done` only when the worker claimed. The frame's command
 * (frame, dt, sample) and the cleared per-member results are written before
 * the seq_cst post of `go` and read after the worker sees it; the worker
 * writes its members' results before it posts `done`, so no lock is
 * needed. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backplane/layout.h"
#include "scheduler/drivers/process_wake.h"
#include "scheduler/group.h"
#include "common/util.h"

struct worker {
    struct hermes__group *g;
    const uint32_t       *member;   /* its members' indexes in g->mem, ascending */
    uint32_t              count;
    pthread_t             thr;
    uint32_t              seq;      /* last go posted */
    _Atomic uint32_t      claim;    /* seq of the last frame whose lane was claimed */
    _Alignas(64) struct hermes_shm_wake go;
    _Alignas(64) struct hermes_shm_wake done;
};

struct hermes__group {
    struct hermes__module **mem;
    uint32_t                n;
    uint32_t               *lanes;      /* inproc members' indexes, grouped by lane */
    const uint32_t         *local;      /* members stepped by the caller (a slice of lanes) */
    uint32_t                nlocal;
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

/* Step @p count members in order, stopping at the first failure (the run
 * stops; the lane's later members skip this frame). Results go to g->rc. */
static void step_lane(struct hermes__group *g, const uint32_t *member, uint32_t count, uint64_t frame, double dt,
                      bool sample)
{
    (void)dt;   /* each member is told its own rate_dt */
    for (uint32_t i = 0; i < count; i++) {
        struct hermes__module *m = g->mem[member[i]];
        if (!m->rate_due)
            continue;   /* not its frame (scheduler/rates.h) */
        uint64_t t0 = sample ? hermes__now_ns() : 0;
        int rc = m->step(m->state, frame, m->rate_dt);
        if (sample)
            time_step(m, t0);
        if (rc != 0) {
            g->rc[member[i]] = rc;
            return;
        }
    }
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct hermes__group *g = w->g;
    thread_owner = g->owner;
    uint32_t seen = 0;
    for (;;) {
        uint32_t v = seen;
        while (v == seen)
            v = hermes__wake_wait(&w->go, seen, UINT64_MAX);
        seen = v;
        if (atomic_load_explicit(&g->quit, memory_order_acquire))
            break;
        uint32_t prev = (seen - 1) & HERMES__WAKE_SEQ;
        if (!atomic_compare_exchange_strong_explicit(&w->claim, &prev, seen, memory_order_acq_rel,
                                                     memory_order_relaxed))
            continue;   /* the caller stepped this lane (and maybe later frames') */
        step_lane(g, w->member, w->count, g->frame, g->dt, g->sample);
        hermes__wake_post(&w->done, seen);
    }
    return NULL;
}

static void post_go(struct worker *w)
{
    w->seq = (w->seq + 1) & HERMES__WAKE_SEQ;
    hermes__wake_post(&w->go, w->seq);
}

/* After the caller's own lane: step @p w's lane here unless its worker
 * claimed it, else wait for the worker's answer. */
static void finish_lane(struct hermes__group *g, struct worker *w)
{
    uint32_t prev = (w->seq - 1) & HERMES__WAKE_SEQ;
    if (atomic_compare_exchange_strong_explicit(&w->claim, &prev, w->seq, memory_order_acq_rel,
                                                memory_order_acquire)) {
        step_lane(g, w->member, w->count, g->frame, g->dt, g->sample);
        /* Keep `done` at the last frame, as if the worker had answered (no
         * post of it is pending: each was awaited), so a later wait can
         * never match a stale answer after the sequence number wraps. */
        atomic_store_explicit(&w->done.seq, w->seq, memory_order_relaxed);
        return;
    }
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
    free(g->lanes);
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
    g->owner = owner;
    g->bp = bp;
    g->mem = calloc(n, sizeof *g->mem);
    g->rc = calloc(n, sizeof *g->rc);
    g->begun = calloc(n, sizeof *g->begun);
    g->w = calloc(n, sizeof *g->w);
    g->lanes = calloc(n, sizeof *g->lanes);
    if (!g->mem || !g->rc || !g->begun || !g->w || !g->lanes) {
        hermes__group_destroy(g);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    uint32_t ninproc = 0, nproc = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct hermes__module *m = members[i];
        g->mem[i] = m;
        g->nsaved += m->signal_count;
        nproc += m->step_begin != NULL;
        ninproc += m->step && !m->step_begin;
    }
    /* Lanes: T = min(inproc members, CPUs), at least 1 when there is an
     * inproc member; T - 1 workers. Lane l gets inproc members l, l + T, ...
     * (in member order), stored contiguously in g->lanes; the last lane is
     * the caller's. */
    uint32_t cpus = (uint32_t)hermes__cpu_count(), lanes = ninproc < cpus ? ninproc : cpus;
    if (lanes == 0 && ninproc > 0)
        lanes = 1;
    uint32_t *p = g->lanes;
    for (uint32_t l = 0; l < lanes; l++) {
        uint32_t *first = p;
        for (uint32_t i = 0, j = 0; i < n; i++) {
            struct hermes__module *m = members[i];
            if (!m->step || m->step_begin)
                continue;
            if (j++ % lanes == l)
                *p++ = i;
        }
        if (l + 1 < lanes) {
            g->w[g->nw].member = first;
            g->w[g->nw++].count = (uint32_t)(p - first);
        } else {
            g->local = first;
            g->nlocal = (uint32_t)(p - first);
        }
    }
    if (!(g->saved = calloc(g->nsaved ? g->nsaved : 1, sizeof *g->saved))) {
        hermes__group_destroy(g);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    /* A worker waits for its next frame only while the other members finish
     * this one: it may spin when every member has a CPU (as process members
     * do, lib/scheduler/drivers/process.c). */
    uint32_t poster_ns, waiter_ns;
    hermes__spin_budget(nproc + g->nw + (g->nlocal > 0) - 1, &poster_ns, &waiter_ns);
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
        const char *name = members[g->w[started].member[0]]->name;
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
        if (m->step_begin && m->rate_due) {
            g->rc[i] = m->step_begin(m->state, frame, m->rate_dt);
            g->begun[i] = g->rc[i] == 0;
        }
    }
    g->frame = frame;
    g->dt = dt;
    g->sample = sample;
    for (uint32_t i = 0; i < g->nw; i++)
        post_go(&g->w[i]);
    step_lane(g, g->local, g->nlocal, frame, dt, sample);
    for (uint32_t i = 0; i < g->nw; i++)
        finish_lane(g, &g->w[i]);
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
    (void)dt;
    for (uint32_t r = g->n; r-- > 0;) {
        struct hermes__module *m = g->mem[r];
        if (!m->step || !m->rate_due)
            continue;
        uint32_t who = 0, k = 0;
        double before = 0.0;
        others_unchanged(g, r, true, &who, &k, &before);
        uint64_t ts = sample ? hermes__now_ns() : 0;
        if (m->step(m->state, frame, m->rate_dt) != 0)
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
