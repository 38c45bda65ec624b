/* Recorder ring: the frame hook copies each recorded frame into a slot, the writer thread takes filled slots. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recording/recorder_priv.h"
#include "common/util.h"

int hermes__rec_ring_alloc(hermes_recorder_t *r, uint64_t ring_frames)
{
    uint64_t cap = ring_frames ? ring_frames : RING_BYTES / ((uint64_t)(HDR_WORDS + r->n) * 8u);
    if (!ring_frames) {
        if (cap < 2 * r->chunk_frames)
            cap = 2 * r->chunk_frames;
        cap = cap < 64 ? 64 : cap > 65536 ? 65536 : cap;
    }
    r->cap = cap;
    r->wake_fill = r->chunk_frames < cap / 4 ? r->chunk_frames : cap / 4;
    if (r->wake_fill < 1)
        r->wake_fill = 1;
    r->hdr = malloc(cap * HDR_WORDS * sizeof *r->hdr);
    r->vals = malloc(cap * (r->n ? r->n : 1) * sizeof *r->vals);
    if (!r->hdr || !r->vals)
        return hermes__fail(HERMES_ENOMEM, "recording: cannot allocate a ring of %llu frames",
                            (unsigned long long)cap);
    return 0;
}

static struct timespec abs_time(uint64_t ns)
{
    return (struct timespec){(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
}

/* Ring full: wait for the writer to free a slot. */
static int wait_space(hermes_recorder_t *r, uint64_t h)
{
    uint64_t stalls = atomic_fetch_add(&r->st_stalls, 1) + 1;
    /* The first stall and then every power of two: the log says the
     * recording cannot keep up without a line per frame. */
    if ((stalls & (stalls - 1)) == 0)
        hermes__log(HERMES_LOG_WARN, "recorder", "event=recording_behind file=%s stalls=%llu ring_frames=%llu",
                    r->path, (unsigned long long)stalls, (unsigned long long)r->cap);
    pthread_mutex_lock(&r->mu);
    atomic_store(&r->producer_waiting, 1);
    pthread_cond_signal(&r->cv_data);
    while (h - atomic_load(&r->tail) >= r->cap && !atomic_load(&r->failed)) {
        struct timespec ts = abs_time(hermes__now_ns() + 100000000u);
        pthread_cond_timedwait(&r->cv_space, &r->mu, &ts);
    }
    atomic_store(&r->producer_waiting, 0);
    pthread_mutex_unlock(&r->mu);
    int f = atomic_load(&r->failed);
    return f ? hermes__fail(f, "%s", r->errmsg) : 0;
}

int hermes__rec_ring_push(hermes_recorder_t *r, uint64_t frame, uint64_t tick)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (h - atomic_load_explicit(&r->tail, memory_order_acquire) >= r->cap) {
        int rc = wait_space(r, h);
        if (rc)
            return rc;
    }
    uint64_t *slot = r->hdr + (h % r->cap) * HDR_WORDS;
    uint64_t fr = 0, tns = 0;
    if (hermes_backplane_snapshot_plan(r->bp, r->plan, r->vals + (h % r->cap) * r->n, &fr, &tns) != 0)
        return hermes__fail(HERMES_ESYS, "recording to '%s': cannot read frame %llu", r->path,
                            (unsigned long long)frame);
    double secs = (double)tns / 1e9;
    slot[0] = tick;
    slot[1] = fr;
    memcpy(&slot[2], &secs, sizeof secs);
    slot[3] = tns;
    atomic_store(&r->head, h + 1);
    /* Wake an idle writer only for a batch worth writing (it also wakes by
     * itself every 50 ms): one wake-up per frame would cost the scheduler a
     * syscall and the CPU a context switch at every frame. */
    uint64_t fill = h + 1 - atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (fill >= r->wake_fill && atomic_load(&r->writer_idle)) {
        pthread_mutex_lock(&r->mu);
        pthread_cond_signal(&r->cv_data);
        pthread_mutex_unlock(&r->mu);
    }
    return 0;
}

uint64_t hermes__rec_ring_peek(hermes_recorder_t *r, uint64_t *pos)
{
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t h = atomic_load(&r->head);
    *pos = t % r->cap;
    uint64_t n = h - t;
    return n > r->cap - *pos ? r->cap - *pos : n;
}

void hermes__rec_ring_release(hermes_recorder_t *r, uint64_t n)
{
    atomic_fetch_add(&r->tail, n);
    atomic_fetch_add(&r->st_rows, n);
    if (atomic_load(&r->producer_waiting)) {
        pthread_mutex_lock(&r->mu);
        pthread_cond_broadcast(&r->cv_space);
        pthread_mutex_unlock(&r->mu);
    }
}

bool hermes__rec_ring_idle(hermes_recorder_t *r, uint64_t deadline_ns)
{
    pthread_mutex_lock(&r->mu);
    atomic_store(&r->writer_idle, 1);
    if (atomic_load(&r->head) == atomic_load(&r->tail) && !atomic_load(&r->stopping)) {
        struct timespec ts = abs_time(deadline_ns);
        pthread_cond_timedwait(&r->cv_data, &r->mu, &ts);
    }
    atomic_store(&r->writer_idle, 0);
    bool stop = atomic_load(&r->stopping) && atomic_load(&r->head) == atomic_load(&r->tail);
    pthread_mutex_unlock(&r->mu);
    return stop;
}
