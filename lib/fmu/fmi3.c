/* FMI 3.0 co-simulation binding (the fmi3 ops of binding.c): dlsym every
 * function Hermes calls, fmi3InstantiateCoSimulation without event mode or
 * early return, initialise, fmi3DoStep (an FMU that needs event handling
 * fails the run with a message; one that sets terminateSimulation ends it
 * normally, its last outputs kept), reset, terminate, free;
 * typed get/set for every numeric type and Boolean. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmu/fmi3.h"
#include "fmu/fmu.h"
#include "common/util.h"

struct fmi3 {
    struct hermes__fmu_common       c;  /* first: binding.c sees only this */
    fmi3Instance                    inst;
    fmi3InstantiateCoSimulationTYPE instantiate;
    fmi3FreeInstanceTYPE            free_instance;
    fmi3EnterInitializationModeTYPE enter_init;
    fmi3InstanceTYPE                exit_init, terminate, reset;
    fmi3DoStepTYPE                  do_step;
    fmi3GetFMUStateTYPE             get_state;
    fmi3SetFMUStateTYPE             set_state;
    fmi3FreeFMUStateTYPE            free_state;
    fmi3SerializedFMUStateSizeTYPE  state_size;
    fmi3SerializeFMUStateTYPE       serialize;
    fmi3DeserializeFMUStateTYPE     deserialize;
    bool                            event_noted;  /* logged the first eventHandlingNeeded of a completed step */
#define FIELD(N, T) fmi3Get##N##TYPE get_##N; fmi3Set##N##TYPE set_##N;
    HERMES_FMI3_ACCESSORS(FIELD)
#undef FIELD
};

static void log_message(fmi3InstanceEnvironment env, fmi3Status st, fmi3String cat, fmi3String msg)
{
    const struct hermes__fmu_common *c = env;
    hermes__fmu_log(c, (int)st, c ? c->name : "", cat, msg);
}

static const char *status_name(fmi3Status s)
{
    static const char *const n[] = {"fmi3OK", "fmi3Warning", "fmi3Discard", "fmi3Error", "fmi3Fatal"};
    return (unsigned)s < 5 ? n[s] : "unknown status";
}

static int bind(struct hermes__fmu_common *c)
{
    struct fmi3 *f = (struct fmi3 *)c;
    const struct hermes__fmu_sym t[] = {
        {"fmi3InstantiateCoSimulation", (void **)&f->instantiate},
        {"fmi3FreeInstance", (void **)&f->free_instance},
        {"fmi3EnterInitializationMode", (void **)&f->enter_init},
        {"fmi3ExitInitializationMode", (void **)&f->exit_init},
        {"fmi3Terminate", (void **)&f->terminate},
        {"fmi3Reset", (void **)&f->reset},
        {"fmi3DoStep", (void **)&f->do_step},
#define SYM(N, T) {"fmi3Get" #N, (void **)&f->get_##N}, {"fmi3Set" #N, (void **)&f->set_##N},
        HERMES_FMI3_ACCESSORS(SYM)
#undef SYM
    };
    const struct hermes__fmu_sym st[] = {
        {"fmi3GetFMUState", (void **)&f->get_state},     {"fmi3SetFMUState", (void **)&f->set_state},
        {"fmi3FreeFMUState", (void **)&f->free_state},   {"fmi3SerializedFMUStateSize", (void **)&f->state_size},
        {"fmi3SerializeFMUState", (void **)&f->serialize}, {"fmi3DeserializeFMUState", (void **)&f->deserialize},
    };
    int rc = hermes__fmu_bind_all(c, t, sizeof t / sizeof t[0]);
    return rc || !c->md->can_state ? rc : hermes__fmu_bind_all(c, st, sizeof st / sizeof st[0]);
}

/* The numeric kinds: kind, the fmi3Get/Set name part, the C type, its
 * largest value (the 64-bit ones saturate: their largest value's nearest
 * double, 2^63 or 2^64, stands for it). */
#define NUMERIC_KINDS(X)                              \
    X(FMU_FLOAT64, Float64, fmi3Float64, INFINITY)    \
    X(FMU_FLOAT32, Float32, fmi3Float32, INFINITY)    \
    X(FMU_INT8, Int8, fmi3Int8, INT8_MAX)             \
    X(FMU_UINT8, UInt8, fmi3UInt8, UINT8_MAX)         \
    X(FMU_INT16, Int16, fmi3Int16, INT16_MAX)         \
    X(FMU_UINT16, UInt16, fmi3UInt16, UINT16_MAX)     \
    X(FMU_INT32, Int32, fmi3Int32, INT32_MAX)         \
    X(FMU_UINT32, UInt32, fmi3UInt32, UINT32_MAX)     \
    X(FMU_INT64, Int64, fmi3Int64, INT64_MAX)         \
    X(FMU_ENUM, Int64, fmi3Int64, INT64_MAX)          \
    X(FMU_UINT64, UInt64, fmi3UInt64, UINT64_MAX)

/* Set one variable from a Hermes value that hermes__fmu_value_problem()
 * accepted: integral and within the kind's range, where 2^63 and 2^64 stand
 * for INT64_MAX and UINT64_MAX (their nearest doubles). */
static fmi3Status set_one(struct fmi3 *f, const struct hermes__fmu_var *x, double d)
{
    const fmi3ValueReference *vr = &x->vr;
    switch (x->kind) {
#define SET(K, N, T, MAX)                                            \
    case K: {                                                        \
        T v = d >= (double)(MAX) ? (T)(MAX) : (T)d;                  \
        return f->set_##N(f->inst, vr, 1, &v, 1);                    \
    }
    NUMERIC_KINDS(SET)
#undef SET
    case FMU_BOOLEAN: { fmi3Boolean v = d != 0.0; return f->set_Boolean(f->inst, vr, 1, &v, 1); }
    case FMU_KIND_COUNT: break;
    }
    return fmi3Error;
}

static int instantiate(struct hermes__fmu_common *c)
{
    struct fmi3 *f = (struct fmi3 *)c;
    char *res = hermes__asprintf("%s/", c->resources);  /* FMI 3: an absolute path with a trailing separator */
    if (!res)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    f->inst = f->instantiate(c->name, c->md->token, res, false, true, false, false, NULL, 0, c, log_message, NULL);
    free(res);
    if (!f->inst)
        return hermes__fail(HERMES_EMODULE, "module '%s': fmi3InstantiateCoSimulation failed", c->name);
    return 0;
}

static int init(struct hermes__fmu_common *c, const double *values, char *err, size_t cap)
{
    struct fmi3 *f = (struct fmi3 *)c;
    for (uint32_t i = 0; i < c->md->nvar; i++) {
        const struct hermes__fmu_var *x = &c->md->var[i];
        if (hermes__fmu_write_start(x, values[i])) {
            char why[96];
            if (hermes__fmu_value_problem(x->kind, values[i], why, sizeof why)) {
                snprintf(err, cap, "initial value %.17g of '%s' %s", values[i], x->fmi_name, why);
                return HERMES_EMODULE;
            }
            fmi3Status r = set_one(f, x, values[i]);
            if (r >= fmi3Discard) {  /* name the variable the FMU refused */
                snprintf(err, cap, "setting '%s' to %.17g before initialisation returned %s",
                         x->fmi_name, values[i], status_name(r));
                hermes__fmu_note(c, (int)r);
                return HERMES_EMODULE;
            }
        }
    }
    const char *what = "fmi3EnterInitializationMode";
    fmi3Status s = f->enter_init(f->inst, false, 0.0, c->start, c->has_stop, c->stop);
    if (s < fmi3Discard) {
        what = "fmi3ExitInitializationMode";
        s = f->exit_init(f->inst);
    }
    if (s >= fmi3Discard) {
        snprintf(err, cap, "%s returned %s", what, status_name(s));
        hermes__fmu_note(c, (int)s);
        return HERMES_EMODULE;
    }
    c->phase = FMU_INITIALISED;
    return 0;
}

/* One get call for the batch @p b, its values into their slots. */
static fmi3Status get_batch(struct fmi3 *f, const struct hermes__fmu_batch *b, double *const *slots)
{
    fmi3Status s = fmi3Error;
    switch (b->kind) {
#define GET(K, N, T, MAX)                                              \
    case K: {                                                          \
        T *v = f->c.scratch;                                           \
        s = f->get_##N(f->inst, b->vr, b->n, v, b->n);                 \
        for (uint32_t j = 0; j < b->n; j++)                            \
            *slots[b->var[j]] = (double)v[j];                          \
        break;                                                         \
    }
    NUMERIC_KINDS(GET)
#undef GET
    case FMU_BOOLEAN: {
        fmi3Boolean *v = f->c.scratch;
        s = f->get_Boolean(f->inst, b->vr, b->n, v, b->n);
        for (uint32_t j = 0; j < b->n; j++)
            *slots[b->var[j]] = v[j] ? 1.0 : 0.0;
        break;
    }
    case FMU_KIND_COUNT: break;
    }
    return s;
}

/* Outputs and locals, one get call per kind. */
static fmi3Status read_vars(struct fmi3 *f, double *const *slots)
{
    fmi3Status worst = fmi3OK;
    for (uint32_t k = 0; k < f->c.noutb; k++) {
        fmi3Status s = get_batch(f, &f->c.outb[k], slots);
        worst = s > worst ? s : worst;
    }
    return worst;
}

static int read_out(struct hermes__fmu_common *c, double *const *slots, char *err, size_t cap)
{
    fmi3Status s = read_vars((struct fmi3 *)c, slots);
    if (s >= fmi3Discard) {
        snprintf(err, cap, "reading outputs returned %s", status_name(s));
        hermes__fmu_note(c, (int)s);
        return HERMES_EMODULE;
    }
    return 0;
}

static int step(struct hermes__fmu_common *c, double t, double h, double *const *slots, char *err, size_t cap)
{
    struct fmi3 *f = (struct fmi3 *)c;
    fmi3Status s = fmi3OK;
    for (uint32_t k = 0; k < c->nin && s < fmi3Discard; k++) {
        double v = *slots[c->in[k]];
        if (!hermes__fmu_in_changed(c, k, v))
            continue;
        const struct hermes__fmu_var *x = &c->md->var[c->in[k]];
        char why[96];
        if (hermes__fmu_value_problem(x->kind, v, why, sizeof why)) {
            snprintf(err, cap, "input %.17g of '%s' at t=%g %s", v, x->fmi_name, t, why);
            return -1;
        }
        fmi3Status r = set_one(f, x, v);
        s = r > s ? r : s;
    }
    const char *what = "setting inputs";
    fmi3Boolean event = false, terminate = false, early = false;
    fmi3Float64 last = t;
    if (s < fmi3Discard) {
        what = "fmi3DoStep";
        s = f->do_step(f->inst, t, h, true, &event, &terminate, &early, &last);
    }
    if (s == fmi3Discard && terminate)
        s = fmi3OK;  /* the FMU asks to end here: its outputs at lastSuccessfulTime are valid */
    if (s < fmi3Discard) {
        what = "reading outputs";
        s = read_vars(f, slots);
    }
    if (s >= fmi3Discard) {
        snprintf(err, cap, "%s at t=%g returned %s", what, t, status_name(s));
        hermes__fmu_note(c, (int)s);
        return -1;
    }
    if (terminate) {  /* the outputs of this step are read and kept: the run ends normally after this frame */
        snprintf(err, cap, "the FMU asked to terminate the simulation (fmi3DoStep at t=%g set terminateSimulation, "
                 "last successful time %.17g)", t, last);
        return 1;
    }
    if (early) {  /* not allowed (earlyReturnAllowed = false): the FMU stopped inside the step */
        if (event)
            snprintf(err, cap, "fmi3DoStep at t=%g stopped at t=%.17g: the FMU needs event handling (event "
                     "mode), which Hermes does not provide", t, last);
        else
            snprintf(err, cap, "fmi3DoStep at t=%g returned early at t=%.17g instead of %.17g", t, last, t + h);
        return -1;
    }
    if (event && !f->event_noted) {  /* completed the step: the FMU handled the event itself (no event mode) */
        f->event_noted = true;
        hermes__log(HERMES_LOG_DEBUG, "fmu", "module '%s': fmi3DoStep at t=%g reported an event it handled "
                    "inside the step (no event mode); not reported again", c->name, t);
    }
    return 0;
}

static int reset(struct hermes__fmu_common *c, char *err, size_t cap)
{
    struct fmi3 *f = (struct fmi3 *)c;
    fmi3Status s = f->reset(f->inst);
    if (s >= fmi3Discard) {
        snprintf(err, cap, "fmi3Reset returned %s", status_name(s));
        hermes__fmu_note(c, (int)s);
        return HERMES_EMODULE;
    }
    c->phase = FMU_INSTANTIATED;
    return 0;
}

static void close_instance(struct hermes__fmu_common *c)
{
    struct fmi3 *f = (struct fmi3 *)c;
    if (f->inst) {
        if (c->phase == FMU_INITIALISED)
            f->terminate(f->inst);
        if (c->phase != FMU_FATAL)  /* after fmi3Fatal no call is allowed: the instance is left */
            f->free_instance(f->inst);
        f->inst = NULL;
    }
}

/* fmi3GetFMUState, then its serialized bytes; the FMU's copy is freed. */
static int state_save(struct hermes__fmu_common *c, void **buf, size_t *len, char *err, size_t cap)
{
    struct fmi3 *f = (struct fmi3 *)c;
    fmi3FMUState st = NULL;
    size_t n = 0;
    const char *what = "fmi3GetFMUState";
    fmi3Status s = f->get_state(f->inst, &st);
    if (s < fmi3Discard && (what = "fmi3SerializedFMUStateSize", s = f->state_size(f->inst, st, &n)) < fmi3Discard) {
        *buf = malloc(n ? n : 1);
        *len = n;
        what = "fmi3SerializeFMUState";
        s = *buf ? f->serialize(f->inst, st, *buf, n) : fmi3Fatal;
    }
    if (st)
        f->free_state(f->inst, &st);
    if (s >= fmi3Discard) {
        snprintf(err, cap, "%s returned %s", what, status_name(s));
        return -1;
    }
    return 0;
}

static int state_load(struct hermes__fmu_common *c, const void *buf, size_t len, char *err, size_t cap)
{
    struct fmi3 *f = (struct fmi3 *)c;
    fmi3FMUState st = NULL;
    const char *what = "fmi3DeserializeFMUState";
    fmi3Status s = f->deserialize(f->inst, buf, len, &st);
    if (s < fmi3Discard) {
        what = "fmi3SetFMUState";
        s = f->set_state(f->inst, st);
    }
    if (st)
        f->free_state(f->inst, &st);
    if (s >= fmi3Discard) {
        snprintf(err, cap, "%s returned %s", what, status_name(s));
        return -1;
    }
    return 0;
}

const struct hermes__fmu_ops hermes__fmu_fmi3_ops = {
    "x86_64-linux", sizeof(struct fmi3), bind, instantiate, init, step, read_out, reset, close_instance,
    state_save, state_load,
};
