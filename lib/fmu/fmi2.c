/* FMI 2.0 co-simulation binding (the fmi2 ops of binding.c): dlsym every
 * function Hermes calls, instantiate, set up and initialise, step, reset,
 * terminate and free; the FMU's logger goes to the host's log. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmu/fmi2.h"
#include "fmu/fmu.h"
#include "common/util.h"

struct fmi2 {
    struct hermes__fmu_common        c;  /* first: binding.c sees only this */
    fmi2Component                    comp;
    fmi2CallbackFunctions            cb;
    fmi2InstantiateTYPE              instantiate;
    fmi2FreeInstanceTYPE             free_instance;
    fmi2SetupExperimentTYPE          setup;
    fmi2ComponentTYPE                enter_init, exit_init, terminate, reset;
    fmi2GetRealTYPE                  get_real;
    fmi2GetIntegerTYPE               get_int, get_bool;
    fmi2SetRealTYPE                  set_real;
    fmi2SetIntegerTYPE               set_int, set_bool;
    fmi2DoStepTYPE                   do_step;
    fmi2GetFMUstateTYPE              get_state;
    fmi2SetFMUstateTYPE              set_state;
    fmi2FreeFMUstateTYPE             free_state;
    fmi2SerializedFMUstateSizeTYPE   state_size;
    fmi2SerializeFMUstateTYPE        serialize;
    fmi2DeSerializeFMUstateTYPE      deserialize;
    fmi2GetRealStatusTYPE            get_real_status;  /* optional: NULL when not exported */
    fmi2GetBooleanStatusTYPE         get_bool_status;
};

static void logger(fmi2ComponentEnvironment env, fmi2String instance, fmi2Status st, fmi2String cat,
                   fmi2String fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt ? fmt : "", ap);
    va_end(ap);
    hermes__fmu_log(env, (int)st, instance, cat, text);
}

static const char *status_name(fmi2Status s)
{
    static const char *const n[] = {"fmi2OK", "fmi2Warning", "fmi2Discard", "fmi2Error", "fmi2Fatal", "fmi2Pending"};
    return (unsigned)s < 6 ? n[s] : "unknown status";
}

static int bind(struct hermes__fmu_common *c)
{
    struct fmi2 *f = (struct fmi2 *)c;
    const struct hermes__fmu_sym t[] = {
        {"fmi2Instantiate", (void **)&f->instantiate},   {"fmi2FreeInstance", (void **)&f->free_instance},
        {"fmi2SetupExperiment", (void **)&f->setup},     {"fmi2EnterInitializationMode", (void **)&f->enter_init},
        {"fmi2ExitInitializationMode", (void **)&f->exit_init}, {"fmi2Terminate", (void **)&f->terminate},
        {"fmi2Reset", (void **)&f->reset},               {"fmi2GetReal", (void **)&f->get_real},
        {"fmi2GetInteger", (void **)&f->get_int},        {"fmi2GetBoolean", (void **)&f->get_bool},
        {"fmi2SetReal", (void **)&f->set_real},          {"fmi2SetInteger", (void **)&f->set_int},
        {"fmi2SetBoolean", (void **)&f->set_bool},       {"fmi2DoStep", (void **)&f->do_step},
    };
    const struct hermes__fmu_sym st[] = {
        {"fmi2GetFMUstate", (void **)&f->get_state},     {"fmi2SetFMUstate", (void **)&f->set_state},
        {"fmi2FreeFMUstate", (void **)&f->free_state},   {"fmi2SerializedFMUstateSize", (void **)&f->state_size},
        {"fmi2SerializeFMUstate", (void **)&f->serialize}, {"fmi2DeSerializeFMUstate", (void **)&f->deserialize},
    };
    const struct hermes__fmu_sym opt[] = {
        {"fmi2GetRealStatus", (void **)&f->get_real_status}, {"fmi2GetBooleanStatus", (void **)&f->get_bool_status},
    };
    hermes__fmu_bind_optional(c, opt, sizeof opt / sizeof opt[0]);
    int rc = hermes__fmu_bind_all(c, t, sizeof t / sizeof t[0]);
    return rc || !c->md->can_state ? rc : hermes__fmu_bind_all(c, st, sizeof st / sizeof st[0]);
}

static fmi2Status set_one(struct fmi2 *f, const struct hermes__fmu_var *x, double d)
{
    if (x->kind == FMU_FLOAT64)
        return f->set_real(f->comp, &x->vr, 1, &d);
    fmi2Integer n = x->kind == FMU_BOOLEAN ? (d != 0.0) : (fmi2Integer)d;
    return (x->kind == FMU_BOOLEAN ? f->set_bool : f->set_int)(f->comp, &x->vr, 1, &n);
}

/* Before initialisation: every input and non-constant parameter, up to the
 * first write the FMU refuses (*bad: its index). */
static fmi2Status write_starts(struct fmi2 *f, const double *v, uint32_t *bad)
{
    fmi2Status worst = fmi2OK;
    for (uint32_t i = 0; i < f->c.md->nvar; i++) {
        const struct hermes__fmu_var *x = &f->c.md->var[i];
        if (!hermes__fmu_write_start(x, v[i]))
            continue;
        fmi2Status s = set_one(f, x, v[i]);
        if (s > worst)
            worst = s;
        if (s >= fmi2Discard) {
            *bad = i;
            break;
        }
    }
    return worst;
}

/* Outputs and locals, one get call per kind (Real, Integer, Enumeration, Boolean). */
static fmi2Status read_vars(struct fmi2 *f, double *const *slots)
{
    fmi2Status worst = fmi2OK;
    for (uint32_t k = 0; k < f->c.noutb; k++) {
        const struct hermes__fmu_batch *b = &f->c.outb[k];
        fmi2Status s;
        if (b->kind == FMU_FLOAT64) {
            fmi2Real *v = f->c.scratch;
            s = f->get_real(f->comp, b->vr, b->n, v);
            for (uint32_t j = 0; j < b->n; j++)
                *slots[b->var[j]] = v[j];
        } else {
            fmi2Integer *v = f->c.scratch;   /* fmi2Boolean is an int too */
            s = (b->kind == FMU_BOOLEAN ? f->get_bool : f->get_int)(f->comp, b->vr, b->n, v);
            for (uint32_t j = 0; j < b->n; j++)
                *slots[b->var[j]] = b->kind == FMU_BOOLEAN ? (v[j] != 0) : (double)v[j];
        }
        if (s > worst)
            worst = s;
    }
    return worst;
}

static int instantiate(struct hermes__fmu_common *c)
{
    struct fmi2 *f = (struct fmi2 *)c;
    char *uri = hermes__asprintf("file://%s", c->resources);
    if (!uri)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    f->cb = (fmi2CallbackFunctions){logger, calloc, free, NULL, c};
    f->comp = f->instantiate(c->name, fmi2CoSimulation, c->md->token, uri, &f->cb, fmi2False, fmi2True);
    free(uri);
    if (!f->comp)
        return hermes__fail(HERMES_EMODULE, "module '%s': fmi2Instantiate failed", c->name);
    return 0;
}

static int init(struct hermes__fmu_common *c, const double *values, char *err, size_t cap)
{
    struct fmi2 *f = (struct fmi2 *)c;
    fmi2Status s = f->setup(f->comp, fmi2False, 0.0, c->start, c->has_stop, c->stop);
    const char *what = "fmi2SetupExperiment";
    if (s < fmi2Discard) {
        uint32_t bad = 0;
        if ((s = write_starts(f, values, &bad)) >= fmi2Discard) {  /* name the variable the FMU refused */
            const struct hermes__fmu_var *x = &c->md->var[bad];
            snprintf(err, cap, "setting '%s' to %.17g before initialisation returned %s",
                     x->fmi_name, values[bad], status_name(s));
            hermes__fmu_note(c, (int)s);
            return HERMES_EMODULE;
        }
    }
    if (s < fmi2Discard) {
        what = "fmi2EnterInitializationMode";
        s = f->enter_init(f->comp);
    }
    if (s < fmi2Discard) {
        what = "fmi2ExitInitializationMode";
        s = f->exit_init(f->comp);
    }
    if (s >= fmi2Discard) {
        snprintf(err, cap, "%s returned %s", what, status_name(s));
        hermes__fmu_note(c, (int)s);
        return HERMES_EMODULE;
    }
    c->phase = FMU_INITIALISED;
    return 0;
}

static int read_out(struct hermes__fmu_common *c, double *const *slots, char *err, size_t cap)
{
    fmi2Status s = read_vars((struct fmi2 *)c, slots);
    if (s >= fmi2Discard) {
        snprintf(err, cap, "reading outputs returned %s", status_name(s));
        hermes__fmu_note(c, (int)s);
        return HERMES_EMODULE;
    }
    return 0;
}

/* fmi2DoStep returned fmi2Discard: the FMU asks to terminate (fmi2Terminated)
 * or could not complete the step. Hermes steps at fixed communication points
 * and never retries a shorter step, so either way the run ends: normally,
 * with the outputs the FMU has at its last successful time, when it asked to
 * terminate; as a module failure when it did not. */
static int discarded(struct fmi2 *f, double t, double h, double *const *slots, char *err, size_t cap)
{
    fmi2Boolean term = fmi2False;
    fmi2Real last = t;
    if (f->get_bool_status && f->get_bool_status(f->comp, fmi2Terminated, &term) >= fmi2Discard)
        term = fmi2False;
    bool known = f->get_real_status && f->get_real_status(f->comp, fmi2LastSuccessfulTime, &last) < fmi2Discard;
    char when[64] = "";
    if (known)
        snprintf(when, sizeof when, ", last successful time %.17g", last);
    if (!term) {
        snprintf(err, cap, "fmi2DoStep at t=%g (step %g) returned fmi2Discard%s: the FMU could not complete the step "
                 "and did not ask to terminate (fmi2Terminated is false)", t, h, when);
        return -1;
    }
    fmi2Status s = read_vars(f, slots);
    if (s >= fmi2Discard) {
        snprintf(err, cap, "reading outputs after the FMU asked to terminate (t=%g) returned %s", t, status_name(s));
        hermes__fmu_note(&f->c, (int)s);
        return -1;
    }
    snprintf(err, cap, "the FMU asked to terminate the simulation (fmi2DoStep at t=%g returned fmi2Discard with "
             "fmi2Terminated%s)", t, when);
    return 1;
}

static int step(struct hermes__fmu_common *c, double t, double h, double *const *slots, char *err, size_t cap)
{
    struct fmi2 *f = (struct fmi2 *)c;
    fmi2Status s = fmi2OK;
    for (uint32_t k = 0; k < c->nin && s < fmi2Discard; k++) {
        if (!hermes__fmu_in_changed(c, k, *slots[c->in[k]]))
            continue;
        fmi2Status r = set_one(f, &c->md->var[c->in[k]], *slots[c->in[k]]);
        if (r > s)
            s = r;
    }
    const char *what = "setting inputs";
    if (s < fmi2Discard) {
        what = "fmi2DoStep";
        s = f->do_step(f->comp, t, h, fmi2True);
        if (s == fmi2Discard)
            return discarded(f, t, h, slots, err, cap);
    }
    if (s < fmi2Discard) {
        what = "reading outputs";
        s = read_vars(f, slots);
    }
    if (s >= fmi2Discard) {
        snprintf(err, cap, "%s at t=%g returned %s", what, t, status_name(s));
        hermes__fmu_note(c, (int)s);
        return -1;
    }
    return 0;
}

static int reset(struct hermes__fmu_common *c, char *err, size_t cap)
{
    struct fmi2 *f = (struct fmi2 *)c;
    fmi2Status s = f->reset(f->comp);
    if (s >= fmi2Discard) {
        snprintf(err, cap, "fmi2Reset returned %s", status_name(s));
        hermes__fmu_note(c, (int)s);
        return HERMES_EMODULE;
    }
    c->phase = FMU_INSTANTIATED;
    return 0;
}

static void close_instance(struct hermes__fmu_common *c)
{
    struct fmi2 *f = (struct fmi2 *)c;
    if (f->comp) {
        if (c->phase == FMU_INITIALISED)
            f->terminate(f->comp);
        if (c->phase != FMU_FATAL)  /* after fmi2Fatal no call is allowed: the instance is left */
            f->free_instance(f->comp);
        f->comp = NULL;
    }
}

/* fmi2GetFMUstate, then its serialized bytes; the FMU's copy is freed. */
static int state_save(struct hermes__fmu_common *c, void **buf, size_t *len, char *err, size_t cap)
{
    struct fmi2 *f = (struct fmi2 *)c;
    fmi2FMUstate st = NULL;
    size_t n = 0;
    const char *what = "fmi2GetFMUstate";
    fmi2Status s = f->get_state(f->comp, &st);
    if (s < fmi2Discard && (what = "fmi2SerializedFMUstateSize", s = f->state_size(f->comp, st, &n)) < fmi2Discard) {
        *buf = malloc(n ? n : 1);
        *len = n;
        what = "fmi2SerializeFMUstate";
        s = *buf ? f->serialize(f->comp, st, *buf, n) : fmi2Fatal;
    }
    if (st)
        f->free_state(f->comp, &st);
    if (s >= fmi2Discard) {
        snprintf(err, cap, "%s returned %s", what, status_name(s));
        return -1;
    }
    return 0;
}

static int state_load(struct hermes__fmu_common *c, const void *buf, size_t len, char *err, size_t cap)
{
    struct fmi2 *f = (struct fmi2 *)c;
    fmi2FMUstate st = NULL;
    const char *what = "fmi2DeSerializeFMUstate";
    fmi2Status s = f->deserialize(f->comp, buf, len, &st);
    if (s < fmi2Discard) {
        what = "fmi2SetFMUstate";
        s = f->set_state(f->comp, st);
    }
    if (st)
        f->free_state(f->comp, &st);
    if (s >= fmi2Discard) {
        snprintf(err, cap, "%s returned %s", what, status_name(s));
        return -1;
    }
    return 0;
}

const struct hermes__fmu_ops hermes__fmu_fmi2_ops = {
    "linux64", sizeof(struct fmi2), bind, instantiate, init, step, read_out, reset, close_instance,
    state_save, state_load,
};
