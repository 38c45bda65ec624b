/* Test FMU (FMI 2.0 co-simulation): x' = -k (x - u/k) stepped exactly,
 * x(t+h) = u/k + (x - u/k) e^{-k h}; k tunable, x0 fixed, u an input,
 * n (Integer) counts steps, below (Boolean) is x < 1. fail_at >= 0 makes
 * that step return fmi2Error; terminate_at makes it complete and return
 * fmi2Discard asking to terminate (fmi2Terminated, as the Reference FMUs'
 * Stair does); discard_at makes it return fmi2Discard half-way without
 * asking to terminate. A doStep whose communication point is not the end of
 * the last step is an error; so is x0 < 0 at initialisation. As strict FMUs
 * do, fmi2Terminate outside the initialised state (before initialisation,
 * after an error) logs "illegal call sequence" and returns fmi2Error. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fmu/fmi2.h"

#define EXPORT __attribute__((visibility("default")))

enum { VR_X, VR_K, VR_X0, VR_U, VR_N, VR_BELOW, VR_FAIL_AT, VR_LABEL, VR_TERM_AT, VR_DISCARD_AT, VR_COUNT };

struct inst {
    fmi2CallbackFunctions cb;
    char   name[64];
    double r[VR_COUNT];
    int    i[VR_COUNT];
    double t;  /* the FMU's own time: doStep must start where the last one ended */
    double stop;
    int    terminated;  /* fmi2Terminated after a discarded step */
    int    phase;       /* 0 instantiated, 1 initialised, 2 failed (after an fmi2Error) */
};

static void defaults(struct inst *s)
{
    memset(s->r, 0, sizeof s->r);
    memset(s->i, 0, sizeof s->i);
    s->t = 0.0;
    s->terminated = 0;
    s->phase = 0;
    s->r[VR_K] = 1.0;
    s->r[VR_X0] = 2.0;
    s->i[VR_FAIL_AT] = s->i[VR_TERM_AT] = s->i[VR_DISCARD_AT] = -1;
}

EXPORT fmi2Component fmi2Instantiate(fmi2String name, fmi2Type type, fmi2String guid, fmi2String res,
                                     const fmi2CallbackFunctions *cb, fmi2Boolean visible, fmi2Boolean log)
{
    (void)res; (void)visible; (void)log;
    if (type != fmi2CoSimulation || strcmp(guid, "{decay-1}") != 0 || getenv("DECAY_FMU_NO_INSTANCE"))
        return NULL;
    struct inst *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cb = *cb;
    strncpy(s->name, name, sizeof s->name - 1);
    defaults(s);
    s->cb.logger(s->cb.componentEnvironment, s->name, fmi2OK, "logStatusInfo", "instantiated with k=%g", s->r[VR_K]);
    return s;
}
EXPORT void fmi2FreeInstance(fmi2Component c) { free(c); }
EXPORT fmi2Status fmi2SetupExperiment(fmi2Component c, fmi2Boolean td, fmi2Real tol, fmi2Real t0, fmi2Boolean sd,
                                      fmi2Real stop)
{
    (void)td; (void)tol;
    ((struct inst *)c)->stop = sd ? stop : INFINITY;
    ((struct inst *)c)->t = t0;  /* the first communication point */
    return fmi2OK;
}
EXPORT fmi2Status fmi2EnterInitializationMode(fmi2Component c) { (void)c; return fmi2OK; }
EXPORT fmi2Status fmi2ExitInitializationMode(fmi2Component c)
{
    struct inst *s = c;
    if (s->r[VR_X0] < 0) {
        s->cb.logger(s->cb.componentEnvironment, s->name, fmi2Error, "logStatusError", "x0 must be >= 0");
        s->phase = 2;
        return fmi2Error;
    }
    s->r[VR_X] = s->r[VR_X0];
    s->i[VR_BELOW] = s->r[VR_X] < 1.0;
    s->phase = 1;
    return fmi2OK;
}
EXPORT fmi2Status fmi2Terminate(fmi2Component c)
{
    struct inst *s = c;
    if (s->phase != 1) {
        s->cb.logger(s->cb.componentEnvironment, s->name, fmi2Error, "logStatusError",
                     "fmi2Terminate: illegal call sequence");
        return fmi2Error;
    }
    s->cb.logger(s->cb.componentEnvironment, s->name, fmi2OK, "logStatusInfo", "terminated");
    return fmi2OK;
}
EXPORT fmi2Status fmi2Reset(fmi2Component c) { defaults(c); return fmi2OK; }

EXPORT fmi2Status fmi2GetReal(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2Real v[])
{
    struct inst *s = c;
    for (size_t j = 0; j < n; j++) {
        if (vr[j] >= VR_COUNT)
            return fmi2Error;
        v[j] = s->r[vr[j]];
    }
    return fmi2OK;
}
EXPORT fmi2Status fmi2SetReal(fmi2Component c, const fmi2ValueReference vr[], size_t n, const fmi2Real v[])
{
    struct inst *s = c;
    for (size_t j = 0; j < n; j++) {
        if (vr[j] >= VR_COUNT)
            return fmi2Error;
        s->r[vr[j]] = v[j];
    }
    return fmi2OK;
}
EXPORT fmi2Status fmi2GetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2Integer v[])
{
    struct inst *s = c;
    for (size_t j = 0; j < n; j++) {
        if (vr[j] >= VR_COUNT)
            return fmi2Error;
        v[j] = s->i[vr[j]];
    }
    return fmi2OK;
}
EXPORT fmi2Status fmi2SetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t n, const fmi2Integer v[])
{
    struct inst *s = c;
    for (size_t j = 0; j < n; j++) {
        if (vr[j] >= VR_COUNT)
            return fmi2Error;
        s->i[vr[j]] = v[j];
    }
    return fmi2OK;
}
EXPORT fmi2Status fmi2GetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2Boolean v[])
{
    return fmi2GetInteger(c, vr, n, v);
}
EXPORT fmi2Status fmi2SetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t n, const fmi2Boolean v[])
{
    return fmi2SetInteger(c, vr, n, v);
}

EXPORT fmi2Status fmi2DoStep(fmi2Component c, fmi2Real t, fmi2Real h, fmi2Boolean no_prior)
{
    (void)no_prior;
    struct inst *s = c;
    if (fabs(t - s->t) > 1e-9 * (1.0 + fabs(t))) {  /* FMI 2.0: t must be the last t + h */
        s->cb.logger(s->cb.componentEnvironment, s->name, fmi2Error, "logStatusError",
                     "communication point %.17g is not the FMU's time %.17g", t, s->t);
        return fmi2Error;
    }
    if (t + h > s->stop * (1 + 1e-12)) {  /* as strict FMUs are: never past the stop time */
        s->cb.logger(s->cb.componentEnvironment, s->name, fmi2Error, "logStatusError", "a step past the stop time");
        return fmi2Error;
    }
    if (s->i[VR_N] == s->i[VR_FAIL_AT]) {
        s->cb.logger(s->cb.componentEnvironment, s->name, fmi2Error, "logStatusError", "asked to fail at step %d",
                     s->i[VR_N]);
        s->phase = 2;
        return fmi2Error;
    }
    int n = s->i[VR_N];
    if (n == s->i[VR_DISCARD_AT])
        h /= 2;  /* only half the step: the FMU stops at t + h/2 */
    double k = s->r[VR_K], u = s->r[VR_U], eq = u / k;
    s->r[VR_X] = eq + (s->r[VR_X] - eq) * exp(-k * h);
    s->i[VR_N]++;
    s->t = t + h;
    s->i[VR_BELOW] = s->r[VR_X] < 1.0;
    if (n == s->i[VR_DISCARD_AT])
        return fmi2Discard;
    if (n == s->i[VR_TERM_AT]) {
        s->terminated = 1;
        return fmi2Discard;
    }
    return fmi2OK;
}

EXPORT fmi2Status fmi2GetBooleanStatus(fmi2Component c, const fmi2StatusKind k, fmi2Boolean *v)
{
    if (k != fmi2Terminated)
        return fmi2Discard;
    *v = ((struct inst *)c)->terminated;
    return fmi2OK;
}
EXPORT fmi2Status fmi2GetRealStatus(fmi2Component c, const fmi2StatusKind k, fmi2Real *v)
{
    if (k != fmi2LastSuccessfulTime)
        return fmi2Discard;
    *v = ((struct inst *)c)->t;
    return fmi2OK;
}

/* FMU state (the 'state' variant declares canGetAndSetFMUstate and
 * canSerializeFMUstate): the state is the instance struct, serialized as is. */
EXPORT fmi2Status fmi2GetFMUstate(fmi2Component c, fmi2FMUstate *state)
{
    struct inst *s = *state ? *state : malloc(sizeof *s);
    if (!s)
        return fmi2Error;
    memcpy(s, c, sizeof *s);
    *state = s;
    return fmi2OK;
}
EXPORT fmi2Status fmi2SetFMUstate(fmi2Component c, fmi2FMUstate state)
{
    struct inst *s = c;
    fmi2CallbackFunctions cb = s->cb;   /* this instance's environment stays */
    memcpy(s, state, sizeof *s);
    s->cb = cb;
    return fmi2OK;
}
EXPORT fmi2Status fmi2FreeFMUstate(fmi2Component c, fmi2FMUstate *state)
{
    (void)c;
    free(*state);
    *state = NULL;
    return fmi2OK;
}
EXPORT fmi2Status fmi2SerializedFMUstateSize(fmi2Component c, fmi2FMUstate state, size_t *size)
{
    (void)c; (void)state;
    *size = sizeof(struct inst);
    return fmi2OK;
}
EXPORT fmi2Status fmi2SerializeFMUstate(fmi2Component c, fmi2FMUstate state, fmi2Byte bytes[], size_t size)
{
    (void)c;
    if (size != sizeof(struct inst))
        return fmi2Error;
    memcpy(bytes, state, size);
    return fmi2OK;
}
EXPORT fmi2Status fmi2DeSerializeFMUstate(fmi2Component c, const fmi2Byte bytes[], size_t size, fmi2FMUstate *state)
{
    (void)c;
    if (size != sizeof(struct inst) || !(*state = malloc(size)))
        return fmi2Error;
    memcpy(*state, bytes, size);
    return fmi2OK;
}
