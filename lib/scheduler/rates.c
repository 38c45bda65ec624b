/* Module rates in the frame loop: each module's divisor, offset and dt from
 * the config, its next frame after a restart or a jump, and the due marks of
 * a group's members (the inline fast path is in rates.h). */
#include "scheduler/rates.h"

#include "common/util.h"

bool hermes__rate_resync(struct hermes__module *m, uint64_t f)
{
    if (f < m->rate_offset) {
        m->rate_next = m->rate_offset;
        return false;
    }
    uint64_t k = (f - m->rate_offset) % m->rate_div;
    m->rate_next = k == 0 ? f + m->rate_div : f + (m->rate_div - k);
    return k == 0;
}

int hermes__rates_init(struct hermes__module *mods, uint32_t n, const hermes_config_t *cfg)
{
    for (uint32_t i = 0; i < n; i++) {
        hermes_module_rate_t r;
        int rc = hermes_config_module_rate(cfg, mods[i].config_index, &r);
        if (rc != 0)
            return rc;
        mods[i].rate_div = r.divisor;
        mods[i].rate_offset = r.offset;
        mods[i].rate_dt = r.dt;
        mods[i].rate_next = r.offset;
        mods[i].rate_due = false;
    }
    return 0;
}

void hermes__rates_rewind(struct hermes__module *mods, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        mods[i].rate_next = mods[i].rate_offset;
}

unsigned hermes__rates_take_members(struct hermes__module *const *mem, uint32_t n, uint64_t f)
{
    unsigned due = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct hermes__module *m = mem[i];
        m->rate_due = m->step != NULL && hermes__rate_take(m, f);
        if (m->rate_due)
            due |= HERMES__RATES_DUE | (m->rate_div > 1 ? HERMES__RATES_SLOW_DUE : 0u);
    }
    return due;
}
