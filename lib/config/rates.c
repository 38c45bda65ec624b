/* Module rates: the divisor rule (a module's period is a whole number of base
 * frames), its messages naming the rates that would work, the check validate
 * runs, hermes_config_set_module_rate() and hermes_config_module_rate(). */
#include "config/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Largest divisor: a module that steps once in 2^31 frames is already absurd. */
#define MAX_DIVISOR 2147483647.0

uint32_t hermes__rate_divisor(double base, double rate)
{
    if (rate == 0.0 || rate == base)
        return 1;
    if (!isfinite(rate) || rate < 0.0 || !isfinite(base) || base <= 0.0)
        return 0;
    double d = base / rate;
    double n = nearbyint(d);
    if (n < 1.0 || n > MAX_DIVISOR)
        return 0;
    /* The periods in integer nanoseconds (the Trick tic rule): n base periods
     * must be the module's period; a relative 1e-9 is far below one ns at any
     * rate up to 1 GHz and absorbs the rounding of decimal rates (1000/3). */
    if (fabs(d - n) > 1e-9 * n)
        return 0;
    return (uint32_t)n;
}

/* Append @p rate as "%g" to buf at *o. */
static void put_rate(char *buf, size_t cap, size_t *o, const char *sep, double rate)
{
    if (*o >= cap)
        return;
    int k = snprintf(buf + *o, cap - *o, "%s%.6g", sep, rate);
    if (k > 0)
        *o += (size_t)k;
}

/* "1000, 500, 250, 200, 125, 100, 50, 40 ... (1000/N for a whole N)": the
 * first rates base/N with a whole number of Hz (any base/N when the base
 * is not whole). */
static void list_rates(char *buf, size_t cap, size_t *o, double base)
{
    unsigned shown = 0;
    bool whole = base == nearbyint(base) && base <= 1e9;
    for (uint32_t n = 1; n <= 100000 && shown < 8; n++) {
        double r = base / n;
        if (whole && r != nearbyint(r))
            continue;
        put_rate(buf, cap, o, shown ? ", " : "", r);
        shown++;
    }
    if (*o < cap) {
        int k = snprintf(buf + *o, cap - *o, " ... (%.6g/N Hz for a whole N)", base);
        if (k > 0)
            *o += (size_t)k;
    }
}

const char *hermes__config_rate_problem(double base, double rate, uint32_t offset, const char **key, char *buf,
                                        size_t cap)
{
    size_t o = 0;
    *key = "rate_hz";
    if (!isfinite(rate) || rate < 0.0 || (rate == 0.0 && signbit(rate))) {
        o = (size_t)snprintf(buf, cap, "must be a finite number > 0 (got %g); rates that work: ", rate);
        list_rates(buf, cap, &o, base);
        return buf;
    }
    uint32_t div = hermes__rate_divisor(base, rate);
    if (div == 0 && rate > base) {
        o = (size_t)snprintf(buf, cap,
                             "%.6g Hz is above the base rate execution.rate_hz = %.6g Hz (a module steps at most "
                             "once a frame); rates that work: ",
                             rate, base);
        list_rates(buf, cap, &o, base);
        return buf;
    }
    if (div == 0) {
        double d = base / rate, lo = floor(d), hi = ceil(d);
        o = (size_t)snprintf(buf, cap,
                             "%.6g Hz does not divide the base rate execution.rate_hz = %.6g Hz (%.6g/%.6g = %.6g "
                             "frames, not a whole number); nearest that work: ",
                             rate, base, base, rate, d);
        if (lo >= 1.0 && lo <= MAX_DIVISOR) {
            put_rate(buf, cap, &o, "", base / lo);
            if (o < cap)
                o += (size_t)snprintf(buf + o, cap - o, " Hz (every %.0f frames) and ", lo);
        }
        put_rate(buf, cap, &o, "", base / hi);
        if (o < cap)
            o += (size_t)snprintf(buf + o, cap - o, " Hz (every %.0f); others: ", hi);
        list_rates(buf, cap, &o, base);
        return buf;
    }
    if (offset >= div) {
        *key = "offset";
        if (div == 1)
            snprintf(buf, cap, "must be 0 for a module at the base rate (got %u); give rate_hz below %.6g Hz to "
                     "use an offset", (unsigned)offset, base);
        else
            snprintf(buf, cap, "must be a whole number of frames from 0 to %u (the module steps every %u frames; "
                     "got %u)", (unsigned)(div - 1), (unsigned)div, (unsigned)offset);
        return buf;
    }
    return NULL;
}

int hermes__config_check_rates(const hermes_config_t *cfg, hermes_error_t *err)
{
    char buf[512], field[300];
    for (uint32_t i = 0; i < cfg->nmod; i++) {
        const struct cfg_module *m = &cfg->mod[i];
        const char *key;
        const char *why = hermes__config_rate_problem(cfg->exec.rate_hz, m->rate_hz, m->offset, &key, buf, sizeof buf);
        if (why) {
            snprintf(field, sizeof field, "modules.%s.%s", m->name, key);
            return hermes__config_field_fail(cfg, err, HERMES_ECONFIG, field, "%s", why);
        }
    }
    return 0;
}

bool hermes__config_rates_fit(const hermes_config_t *cfg, double base)
{
    for (uint32_t i = 0; i < cfg->nmod; i++)
        if (hermes__rate_divisor(base, cfg->mod[i].rate_hz) == 0)
            return false;
    return true;
}

HERMES_API int hermes_config_set_module_rate(hermes_config_t *cfg, const char *module, double rate_hz,
                                             uint32_t offset)
{
    if (!cfg || !module)
        return hermes__fail(HERMES_EINVAL, "hermes_config_set_module_rate: cfg or module is NULL");
    int i = hermes__config_find_module(cfg, module, strlen(module));
    if (i < 0)
        return hermes__fail(HERMES_ENOENT, "hermes_config_set_module_rate: no module '%s'", module);
    char buf[512];
    const char *key;
    const char *why = hermes__config_rate_problem(cfg->exec.rate_hz, rate_hz, offset, &key, buf, sizeof buf);
    if (why)
        return hermes__fail(HERMES_EINVAL, "modules.%s.%s: %s", module, key, why);
    cfg->mod[i].rate_hz = rate_hz == cfg->exec.rate_hz ? 0.0 : rate_hz;
    cfg->mod[i].offset = offset;
    return 0;  /* checked with validate's rule: a validated config stays validated */
}

HERMES_API int hermes_config_module_rate(const hermes_config_t *cfg, uint32_t i, hermes_module_rate_t *out)
{
    if (!cfg || !out)
        return hermes__fail(HERMES_EINVAL, "hermes_config_module_rate: cfg or out is NULL");
    if (i >= cfg->nmod)
        return hermes__fail(HERMES_ENOENT, "hermes_config_module_rate: no module %u", (unsigned)i);
    const struct cfg_module *m = &cfg->mod[i];
    double base = cfg->exec.rate_hz;
    uint32_t div = hermes__rate_divisor(base, m->rate_hz);
    memset(out, 0, sizeof *out);
    out->rate_hz = m->rate_hz == 0.0 ? base : m->rate_hz;
    out->divisor = div;
    out->offset = m->offset;
    out->dt = div ? (double)div / base : 0.0;
    return div ? 0 : hermes__fail(HERMES_ECONFIG, "modules.%s.rate_hz: does not divide the base rate", m->name);
}
