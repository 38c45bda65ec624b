/* Module rates in the frame loop: which modules are due in a frame and the
 * dt each is told (lib/scheduler/rates.c; the rule is lib/config/rates.c).
 * Private. */
#ifndef HERMES_LIB_SCHED_RATES_H
#define HERMES_LIB_SCHED_RATES_H

#include <stdbool.h>
#include <stdint.h>
#include "hermes/config.h"
#include "scheduler/drivers/driver.h"

/* Slow path of hermes__rate_take(): @p f is past the module's next frame. */
bool hermes__rate_resync(struct hermes__module *m, uint64_t f);

/* Whether module @p m steps in frame @p f, advancing its next frame; called
 * once per frame in frame order by the thread executing frames. A module
 * that is not due costs one compare. */
static inline bool hermes__rate_take(struct hermes__module *m, uint64_t f)
{
    if (f == m->rate_next) {
        m->rate_next = f + m->rate_div;
        return true;
    }
    return f > m->rate_next && hermes__rate_resync(m, f);
}

/* Give modules @p mods[0..n) their rate, offset and dt from @p cfg (by
 * config_index). Returns 0 or a hermes__fail() code. */
int hermes__rates_init(struct hermes__module *mods, uint32_t n, const hermes_config_t *cfg);

/* The frame counter restarts at 0 (stage, reset). */
void hermes__rates_rewind(struct hermes__module *mods, uint32_t n);

/* Mark which of @p n group members are due in frame @p f (rate_due). The
 * group then steps only those. Returns 0 when none is, else
 * HERMES__RATES_DUE, plus HERMES__RATES_SLOW_DUE when one of them is slower
 * than the base rate (its step is timed in every frame it steps, so
 * hermes.step_time.<m> is its last step even in afap, which times one frame
 * in 64). */
#define HERMES__RATES_DUE      1u
#define HERMES__RATES_SLOW_DUE 2u
unsigned hermes__rates_take_members(struct hermes__module *const *mem, uint32_t n, uint64_t f);

#endif
