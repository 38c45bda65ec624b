/* FMI 2.0 co-simulation binding: dlopen the platform binary, dlsym every
 * function Hermes calls (a missing one is named), instantiate, initialise,
 * step, reset, free; the FMU's logger goes to the host's log. */
#include <dirent.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fmu/fmi2.h"
#include "fmu/fmu.h"
#include "common/util.h"

struct hermes__fmu_inst {
    void                            *dl;
    fmi2Component                    c;
    const struct hermes__fmu_model  *md;
    char                            *name;
    fmi2CallbackFunctions            cb;
    bool                             has_stop;
    double                           stop;
    fmi2InstantiateTYPE              instantiate;
    fmi2FreeInstanceTYPE             free_instance;
    fmi2SetupExperimentTYPE          setup;
    fmi2ComponentTYPE                enter_init, exit_init, terminate, reset;
    fmi2GetRealTYPE                  get_real;
    fmi2GetIntegerTYPE               get_int, get_bool;
    fmi2SetRealTYPE                  set_real;
    fmi2SetIntegerTYPE               set_int, set_bool;
    fmi2DoStepTYPE                   do_step;
};

static void logger(fmi2ComponentEnvironment env, fmi2String instance, fmi2Status st, fmi2String cat,
                   fmi2String fmt, ...)
{
    const struct hermes__fmu_inst *fi = env;
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt ? fmt : "", ap);
    va_end(ap);
    hermes_log_level_t lvl = st >= fmi2Error ? HERMES_LOG_ERROR : st >= fmi2Warning ? HERMES_LOG_WARN : HERMES_LOG_INFO;
    hermes__log(lvl, "fmu", "module '%s' (%s) [%s]: %s", fi ? fi->name : "?", instance ? instance : "",
                cat ? cat : "", text);
}

static const char *status_name(fmi2Status s)
{
    static const char *const n[] = {"fmi2OK", "fmi2Warning", "fmi2Discard", "fmi2Error", "fmi2Fatal", "fmi2Pending"};
    return (unsigned)s < 6 ? n[s] : "unknown status";
}

static int bind(struct hermes__fmu_inst *fi, const char *so)
{
    struct { const char *sym; void **slot; } t[] = {
        {"fmi2Instantiate", (void **)&fi->instantiate},   {"fmi2FreeInstance", (void **)&fi->free_instance},
        {"fmi2SetupExperiment", (void **)&fi->setup},     {"fmi2EnterInitializationMode", (void **)&fi->enter_init},
        {"fmi2ExitInitializationMode", (void **)&fi->exit_init}, {"fmi2Terminate", (void **)&fi->terminate},
        {"fmi2Reset", (void **)&fi->reset},               {"fmi2GetReal", (void **)&fi->get_real},
        {"fmi2GetInteger", (void **)&fi->get_int},        {"fmi2GetBoolean", (void **)&fi->get_bool},
        {"fmi2SetReal", (void **)&fi->set_real},          {"fmi2SetInteger", (void **)&fi->set_int},
        {"fmi2SetBoolean", (void **)&fi->set_bool},       {"fmi2DoStep", (void **)&fi->do_step},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        void *p = dlsym(fi->dl, t[i].sym);
        if (!p)
            return hermes__fail(HERMES_EMODULE, "module '%s': %s does not export the required function %s()",
                                fi->name, so, t[i].sym);
        memcpy(t[i].slot, &p, sizeof p);
    }
    return 0;
}

/* Write inputs and parameters (all at init; only non-fixed ones later). */
static fmi2Status write_vars(struct hermes__fmu_inst *fi, const double *v, double *const *slots, bool init)
{
    fmi2Status worst = fmi2OK;
    for (uint32_t i = 0; i < fi->md->nvar; i++) {
        const struct hermes__fmu_var *x = &fi->md->var[i];
        if (x->causality != FMU_INPUT && x->causality != FMU_PARAMETER)
            continue;
        if (!init && x->causality == FMU_PARAMETER && x->fixed)
            continue;
        double d = slots ? *slots[i] : v[i];
        fmi2Status s;
        if (x->kind == FMU_REAL) {
            s = fi->set_real(fi->c, &x->vr, 1, &d);
        } else {
            fmi2Integer n = (fmi2Integer)d;
            s = (x->kind == FMU_INTEGER ? fi->set_int : fi->set_bool)(fi->c, &x->vr, 1, &n);
        }
        if (s > worst)
            worst = s;
    }
    return worst;
}

static fmi2Status read_vars(struct hermes__fmu_inst *fi, double *const *slots)
{
    fmi2Status worst = fmi2OK;
    for (uint32_t i = 0; i < fi->md->nvar; i++) {
        const struct hermes__fmu_var *x = &fi->md->var[i];
        if (x->causality != FMU_OUTPUT && x->causality != FMU_LOCAL)
            continue;
        fmi2Status s;
        if (x->kind == FMU_REAL) {
            s = fi->get_real(fi->c, &x->vr, 1, slots[i]);
        } else {
            fmi2Integer n = 0;
            s = (x->kind == FMU_INTEGER ? fi->get_int : fi->get_bool)(fi->c, &x->vr, 1, &n);
            *slots[i] = x->kind == FMU_BOOLEAN ? (n != 0) : (double)n;
        }
        if (s > worst)
            worst = s;
    }
    return worst;
}

static int initialise(struct hermes__fmu_inst *fi, const double *values, char *err, size_t cap)
{
    fmi2Status s = fi->setup(fi->c, fmi2False, 0.0, 0.0, fi->has_stop, fi->stop);
    const char *what = "fmi2SetupExperiment";
    if (s < fmi2Discard) {
        what = "fmi2EnterInitializationMode";
        s = fi->enter_init(fi->c);
    }
    if (s < fmi2Discard) {
        what = "setting start values";
        s = write_vars(fi, values, NULL, true);
    }
    if (s < fmi2Discard) {
        what = "fmi2ExitInitializationMode";
        s = fi->exit_init(fi->c);
    }
    if (s >= fmi2Discard) {
        snprintf(err, cap, "module '%s': %s returned %s", fi->name, what, status_name(s));
        return HERMES_EMODULE;
    }
    return 0;
}

/* The error for a missing platform binary, listing the platforms there are. */
static int no_binary(const char *dir, const char *log_name, const char *id)
{
    char have[256] = "";
    char *bin = hermes__asprintf("%s/binaries", dir);
    DIR *d = bin ? opendir(bin) : NULL;
    struct dirent *e;
    size_t n = 0;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int w = snprintf(have + n, sizeof have - n, "%s%s", n ? ", " : "", e->d_name);
        if (w < 0 || (size_t)w >= sizeof have - n)
            break;
        n += (size_t)w;
    }
    if (d)
        closedir(d);
    free(bin);
    return hermes__fail(HERMES_EMODULE, "module '%s': the FMU has no binary for this platform "
                        "(binaries/linux64/%s.so); it has: %s", log_name, id, n ? have : "none");
}

int hermes__fmu_open(struct hermes__fmu_inst **out, const struct hermes__fmu_model *md, const char *dir,
                     const char *log_name, bool has_stop, double stop, const double *values)
{
    *out = NULL;
    struct hermes__fmu_inst *fi = calloc(1, sizeof *fi);
    if (!fi || !(fi->name = hermes__strdup(log_name))) {
        free(fi);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    fi->md = md;
    fi->has_stop = has_stop;
    fi->stop = stop;
    char *so = hermes__asprintf("%s/binaries/linux64/%s.so", dir, md->identifier);
    char *res = hermes__asprintf("file://%s/resources", dir);
    int rc = 0;
    struct stat st;
    if (!so || !res)
        rc = hermes__fail(HERMES_ENOMEM, "out of memory");
    else if (stat(so, &st) != 0)
        rc = no_binary(dir, log_name, md->identifier);
    else if (!(fi->dl = dlopen(so, RTLD_NOW | RTLD_LOCAL)))
        rc = hermes__fail(HERMES_EMODULE, "module '%s': cannot load %s: %s", log_name, so, dlerror());
    else
        rc = bind(fi, so);
    if (!rc) {
        fi->cb = (fmi2CallbackFunctions){logger, calloc, free, NULL, fi};
        fi->c = fi->instantiate(log_name, fmi2CoSimulation, md->token, res, &fi->cb, fmi2False, fmi2True);
        if (!fi->c)
            rc = hermes__fail(HERMES_EMODULE, "module '%s': fmi2Instantiate failed", log_name);
    }
    if (!rc) {
        char err[512];
        if ((rc = initialise(fi, values, err, sizeof err)) != 0)
            rc = hermes__fail(rc, "%s", err);
    }
    free(so);
    free(res);
    if (rc) {
        hermes__fmu_close(fi);
        return rc;
    }
    *out = fi;
    return 0;
}

int hermes__fmu_step(struct hermes__fmu_inst *fi, double t, double h, double *const *slots, char *err, size_t cap)
{
    fmi2Status s = write_vars(fi, NULL, slots, false);
    const char *what = "setting inputs";
    if (s < fmi2Discard) {
        what = "fmi2DoStep";
        s = fi->do_step(fi->c, t, h, fmi2True);
    }
    if (s < fmi2Discard) {
        what = "reading outputs";
        s = read_vars(fi, slots);
    }
    if (s >= fmi2Discard) {
        snprintf(err, cap, "%s at t=%g returned %s", what, t, status_name(s));
        return -1;
    }
    return 0;
}

int hermes__fmu_reset(struct hermes__fmu_inst *fi, const double *values, char *err, size_t cap)
{
    fmi2Status s = fi->reset(fi->c);
    if (s >= fmi2Discard) {
        snprintf(err, cap, "module '%s': fmi2Reset returned %s", fi->name, status_name(s));
        return HERMES_EMODULE;
    }
    return initialise(fi, values, err, cap);
}

void hermes__fmu_close(struct hermes__fmu_inst *fi)
{
    if (!fi)
        return;
    if (fi->c) {
        fi->terminate(fi->c);
        fi->free_instance(fi->c);
    }
    if (fi->dl)
        dlclose(fi->dl);
    free(fi->name);
    free(fi);
}
