/* Scheduler timing health: the hermes.* signals (frame time, rtf, overruns, wall time), realtime lateness window and histogram, timing/lateness queries. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backplane/layout.h"
#include "config/internal.h"
#include "hermes/scheduler.h"
#include "scheduler/drivers/driver.h"
#include "scheduler/drivers/process_wake.h"
#include "scheduler/group.h"
#include "scheduler/rates.h"
#include "common/util.h"
#include "scheduler/internal.h"

void hermes__sched_update_health(hermes_scheduler_t *s, uint64_t t0, uint64_t t1)
{
    *s->health[H_FRAME_TIME] = (double)(t1 - t0) * 1e-9;
    uint64_t dw = t1 - s->win_wall;
    if (s->win_wall && dw > 0 && s->frame > s->win_frame) {
        s->run_wall_ns += dw;
        *s->health[H_RTF] = (double)(s->frame - s->win_frame) * s->dt / ((double)dw * 1e-9);
    }
    s->win_wall = t1;
    s->win_frame = s->frame;
    *s->health[H_OVERRUNS] = (double)s->overruns;
    *s->health[H_WALL_TIME] = (double)s->run_wall_ns * 1e-9;
}

static unsigned lat_bin(uint64_t ns)
{
    if (ns < 2u * LAT_SUB)
        return (unsigned)ns;
    unsigned e = 63u - (unsigned)__builtin_clzll(ns);  /* >= LAT_SUB_BITS + 1 */
    unsigned sub = (unsigned)(ns >> (e - LAT_SUB_BITS)) & (LAT_SUB - 1u);
    return 2u * LAT_SUB + (e - LAT_SUB_BITS - 1u) * LAT_SUB + sub;
}

/* Middle of bin @p b in ns. */
static double lat_bin_value(unsigned b)
{
    if (b < 2u * LAT_SUB)
        return (double)b;
    unsigned e = (b - 2u * LAT_SUB) / LAT_SUB + LAT_SUB_BITS + 1u, sub = (b - 2u * LAT_SUB) % LAT_SUB;
    double width = ldexp(1.0, (int)(e - LAT_SUB_BITS));
    return (double)(LAT_SUB + sub) * width + width / 2;
}

/* Realtime: record the lateness of the frame about to start and publish it
 * in hermes.lateness and hermes.lateness_max (this frame's values). */
void hermes__sched_note_lateness(hermes_scheduler_t *s, uint64_t ns)
{
    s->lat_hist[lat_bin(ns)]++;
    s->lat_count++;
    if (ns > s->lat_max)
        s->lat_max = ns;
    if (ns > s->lat_cur)
        s->lat_cur = ns;
    uint64_t wmax = s->lat_cur;
    for (uint32_t i = 0; i < LAT_WINDOWS; i++)
        if (s->lat_win[i] > wmax)
            wmax = s->lat_win[i];
    if (++s->lat_frames >= s->lat_win_frames) {
        s->lat_win[s->lat_wi] = s->lat_cur;
        s->lat_wi = (s->lat_wi + 1) % LAT_WINDOWS;
        s->lat_cur = 0;
        s->lat_frames = 0;
    }
    *s->health[H_LATENESS] = (double)ns * 1e-9;
    *s->health[H_LATENESS_MAX] = (double)wmax * 1e-9;
}

HERMES_API int hermes_scheduler_timing(const hermes_scheduler_t *s, hermes_timing_t *out)
{
    if (!s || !out)
        return hermes__fail(HERMES_EINVAL, "NULL argument");
    /* Health values are published signals: read them consistently. */
    uint32_t idx[H_FIXED_COUNT];
    double v[H_FIXED_COUNT];
    for (uint32_t i = 0; i < H_FIXED_COUNT; i++)
        idx[i] = (uint32_t)(s->health[i] - s->live);
    uint64_t frame = 0;
    int rc = hermes_backplane_snapshot(s->bp, idx, H_FIXED_COUNT, v, &frame, NULL);
    if (rc)
        return rc;
    *out = (hermes_timing_t){frame, v[H_FRAME_TIME], v[H_LATENESS], (uint64_t)v[H_OVERRUNS], v[H_RTF], v[H_WALL_TIME]};
    return 0;
}

/* Value of quantile @p q from the histogram (the bin's middle, capped by the exact max). */
static double lat_quantile(const hermes_scheduler_t *s, double q)
{
    uint64_t rank = (uint64_t)ceil(q * (double)s->lat_count), seen = 0;
    if (rank == 0)
        rank = 1;
    for (unsigned b = 0; b < LAT_BINS; b++) {
        seen += s->lat_hist[b];
        if (seen >= rank) {
            double v = lat_bin_value(b);
            return (v < (double)s->lat_max ? v : (double)s->lat_max) * 1e-9;
        }
    }
    return (double)s->lat_max * 1e-9;
}

HERMES_API int hermes_scheduler_lateness(const hermes_scheduler_t *s, hermes_lateness_t *out)
{
    if (!s || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_scheduler_lateness: NULL argument");
    hermes_scheduler_t *w = (hermes_scheduler_t *)s;
    pthread_mutex_lock(&w->mu);
    bool busy = s->in_run && !pthread_equal(pthread_self(), s->run_thread);
    pthread_mutex_unlock(&w->mu);
    if (busy)
        return hermes__fail(HERMES_ESTATE, "hermes_scheduler_lateness: run() is active on another thread");
    *out = (hermes_lateness_t){s->lat_count, 0.0, 0.0, 0.0, 0.0};
    if (s->lat_count) {
        out->median = lat_quantile(s, 0.5);
        out->p99 = lat_quantile(s, 0.99);
        out->p999 = lat_quantile(s, 0.999);
        out->max = (double)s->lat_max * 1e-9;
    }
    return 0;
}
