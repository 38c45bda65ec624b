/* FMU modules (type: fmu): unpack the archive, open the FMI 2.0 or 3.0
 * co-simulation instance (fmu/binding.c) and step the FMU in the scheduler
 * thread, inputs written before each doStep and outputs read after it. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/internal.h"
#include "hermes/fmu.h"
#include "fmu/fmu.h"
#include "scheduler/drivers/driver.h"
#include "common/util.h"

#ifdef HERMES_HAVE_FMU

struct fmu_mod {
    struct hermes__module   *m;
    char                    *dir;
    bool                     owned;
    struct hermes__fmu_model md;
    struct hermes__fmu_inst *inst;
    double                 **slots;
    double                   base_hz; /* the run's base rate: frame f starts at f / base_hz */
};

static int fmu_step(void *state, uint64_t frame, double dt)
{
    struct fmu_mod *f = state;
    char err[400];
    /* The frame's time from the base rate, not frame * dt: a module with its
     * own slower rate is told its own period as dt (communication points
     * t, t + h, ... stay contiguous since it steps every dt / base period). */
    int rc = hermes__fmu_step(f->inst, (double)frame / f->base_hz, dt, f->slots, err, sizeof err);
    if (rc < 0) {
        snprintf(f->m->errbuf, sizeof f->m->errbuf, "%s", err);
        return -1;
    }
    if (rc > 0)  /* the FMU asked to terminate: this frame completes, then the run stops */
        f->m->finish(f->m->fail_ctx, f->m, err);
    return 0;
}

static int fmu_reset(struct hermes__module *m)
{
    struct fmu_mod *f = m->impl;
    int rc = hermes__fmu_reset(f->inst, m->errbuf, sizeof m->errbuf);
    return rc ? hermes__fail(rc, "%s", m->errbuf) : 0;
}

/* After the scheduler restored the initial values and applied the wires
 * (start-up, reset): initialise the FMU with them (its wired inputs, not
 * just their starts) and read the outputs it computed. */
static int fmu_stage(struct hermes__module *m)
{
    struct fmu_mod *f = m->impl;
    int rc = hermes__fmu_stage(f->inst, f->slots, m->errbuf, sizeof m->errbuf);
    return rc ? hermes__fail(rc, "%s", m->errbuf) : 0;
}

/* Checkpoints: the FMU's serialized FMU state (only when it declares it). */
static int fmu_state_save(struct hermes__module *m, void **buf, size_t *len)
{
    struct fmu_mod *f = m->impl;
    return hermes__fmu_state_save(f->inst, buf, len, m->errbuf, sizeof m->errbuf);
}

static int fmu_state_load(struct hermes__module *m, const void *buf, size_t len)
{
    struct fmu_mod *f = m->impl;
    return hermes__fmu_state_load(f->inst, buf, len, m->errbuf, sizeof m->errbuf);
}

static void fmu_close(struct hermes__module *m)
{
    struct fmu_mod *f = m->impl;
    if (!f)
        return;
    hermes__fmu_close(f->inst);
    if (f->owned)
        hermes__fmu_remove(f->dir);
    free(f->dir);
    hermes__fmu_model_free(&f->md);
    free(f->slots);
    free(f);
    m->impl = NULL;
    m->state = NULL;
}

/* The FMU's start time: the time of its first step, the frame of its offset
 * (FMUs insist that each communication point is where the last step ended). */
static double start_time(const hermes_config_t *cfg, const struct hermes__module *m, const hermes_execution_t *ex)
{
    hermes_module_rate_t r;
    if (hermes_config_module_rate(cfg, m->config_index, &r) != 0)
        return 0.0;
    return (double)r.offset / ex->rate_hz;
}

/* The FMU's stop time: end_time, or the end of the module's last step when
 * its period does not divide the run (FMUs refuse a step past their stop
 * time). The run computes frames 0 .. end_frame-1 (scheduler.c). */
static double stop_time(const hermes_config_t *cfg, const struct hermes__module *m, const hermes_execution_t *ex)
{
    hermes_module_rate_t r;
    uint64_t end_frame = (uint64_t)ceil(ex->end_time * ex->rate_hz - 1e-9);
    if (hermes_config_module_rate(cfg, m->config_index, &r) != 0 || r.divisor <= 1 || end_frame <= r.offset)
        return ex->end_time;
    uint64_t last = r.offset + (end_frame - 1 - r.offset) / r.divisor * r.divisor;
    double end = (double)(last + r.divisor) / ex->rate_hz;
    return end > ex->end_time ? end : ex->end_time;
}

/* The hermes-fmu-host program: $HERMES_FMU_HOST, else beside the running
 * executable (a build tree), else the installed one in libexec. */
static char *host_path(void)
{
    const char *env = getenv("HERMES_FMU_HOST");
    if (env && *env)
        return hermes__strdup(env);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char *p = hermes__asprintf("%s/hermes-fmu-host", exe);
            if (p && access(p, X_OK) == 0)
                return p;
            free(p);
        }
    }
    return hermes__strdup(HERMES_FMU_HOST_PATH);
}

static void remove_dir(void *ctx)
{
    char *dir = ctx;
    hermes__fmu_remove(dir);
    free(dir);
}

/* isolate: true. The FMU runs in a child process, hermes-fmu-host, a process
 * module (drivers/process.c) that opens and steps it with the same code;
 * this process unpacks the archive and removes the folder once the child is
 * gone, so a crash in the FMU leaves nothing behind. */
static int open_isolated(struct hermes__module *m, const hermes_config_t *cfg, hermes_backplane_t *bp,
                         const hermes_module_info_t *info, char *dir, bool owned, const hermes_execution_t *ex)
{
    char *host = host_path();
    char stop[48], start[48];
    snprintf(stop, sizeof stop, "--stop=%.17g", stop_time(cfg, m, ex));
    snprintf(start, sizeof start, "--start=%.17g", start_time(cfg, m, ex));
    const char *args[5] = {dir, start, NULL, NULL, NULL};
    uint32_t n = 2;
    if (hermes__config_fmu_locals(cfg, m->config_index))
        args[n++] = "--locals";
    if (ex->has_end_time)
        args[n++] = stop;
    hermes_module_info_t exec = *info;
    exec.path = host;
    exec.args = args;
    exec.arg_count = n;
    exec.config_path = NULL;
    int rc = host ? 0 : hermes__fail(HERMES_ENOMEM, "out of memory");
    if (!rc)
        rc = hermes__process_open_exec(m, cfg, bp, &exec, owned ? remove_dir : free, dir);
    else if (owned)
        remove_dir(dir);
    else
        free(dir);
    free(host);
    return rc;
}

int hermes__fmu_module_open(struct hermes__module *m, const hermes_config_t *cfg, hermes_backplane_t *bp)
{
    hermes_module_info_t info;
    hermes_execution_t ex;
    int rc = hermes_config_module(cfg, m->config_index, &info);
    if (!rc)
        rc = hermes_config_execution(cfg, &ex);
    if (rc)
        return rc;
    struct fmu_mod *f = calloc(1, sizeof *f);
    if (!f)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    f->m = m;
    f->base_hz = ex.rate_hz;
    m->impl = f;
    m->terminate = fmu_close;
    char *xml = NULL;
    size_t len = 0;
    hermes_fmu_sweep(true, NULL, NULL);  /* folders of earlier runs that were killed */
    if ((rc = hermes__fmu_unpack(info.path, &f->dir, &f->owned)) != 0 ||
        (rc = hermes__fmu_read_description(f->dir, &xml, &len)) != 0)
    {
        char msg[512];
        hermes__strlcpy(msg, hermes_last_error(), sizeof msg);
        return hermes__fail(rc, "module '%s': %s", m->name, msg);
    }
    rc = hermes__fmu_model_parse(xml, len, info.path, hermes__config_fmu_locals(cfg, m->config_index), &f->md);
    free(xml);
    if (rc)
        return rc;
    uint32_t n = m->signal_count;
    if (f->md.nvar != n)
        return hermes__fail(HERMES_EMODULE, "module '%s': %s changed since the config was loaded", m->name,
                            info.path);
    if (hermes__config_fmu_isolate(cfg, m->config_index)) {
        char *dir = f->dir;
        bool owned = f->owned;
        f->dir = NULL;  /* the process module owns it now */
        f->owned = false;
        fmu_close(m);
        m->terminate = NULL;
        return open_isolated(m, cfg, bp, &info, dir, owned, &ex);
    }
    f->slots = calloc(n ? n : 1, sizeof *f->slots);
    if (!f->slots)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    for (uint32_t j = 0; j < n; j++) {
        hermes_signal_info_t si;
        if ((rc = hermes_backplane_info(bp, m->first_signal + j, &si)) != 0)
            return rc;
        f->slots[j] = hermes_backplane_slot(bp, si.id);
    }
    if ((rc = hermes__fmu_open(&f->inst, &f->md, f->dir, m->name, start_time(cfg, m, &ex), ex.has_end_time,
                               ex.has_end_time ? stop_time(cfg, m, &ex) : 0.0)) != 0)
        return rc;
    m->state = f;
    m->step = fmu_step;
    m->reset = fmu_reset;
    m->stage = fmu_stage;
    if (f->md.can_state) {
        m->state_kind = HERMES__STATE_OPS;
        m->state_save = fmu_state_save;
        m->state_load = fmu_state_load;
    }
    return 0;
}
#else
int hermes__fmu_module_open(struct hermes__module *m, const hermes_config_t *cfg, hermes_backplane_t *bp)
{
    (void)cfg;
    (void)bp;
    return hermes__fail(HERMES_ECONFIG, "module '%s': this Hermes was built without FMU support "
                        "(install libzip-dev and libexpat1-dev, then reconfigure)", m->name);
}
#endif
