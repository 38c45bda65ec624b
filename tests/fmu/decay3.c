/* Test FMU (FMI 3.0 co-simulation): x' = -k (x - u/k) stepped exactly,
 * x(t+h) = u/k + (x - u/k) e^{-k h}; k tunable, x0 fixed, u an input (all
 * Float64); n (Int32) counts steps, below (Boolean) is x < 1, sel (UInt8
 * input) scales y = sel * x (Float32 output). Fixed Int32 parameters make
 * step number N misbehave: fail_at returns fmi3Error, terminate_at sets
 * terminateSimulation, event_at returns early needing event handling,
 * note_at flags an event it handled inside a completed step (allowed),
 * crash_at dereferences NULL; mode is an Enumeration input without a start
 * that refuses 0; substeps > 1 computes each step in that many
 * pieces (work for bench/bench_fmu.c). Instantiation checks what Hermes promises: no event
 * mode, no early return, and a resourcePath with a trailing '/' holding
 * resources/token.txt. Built with DECAY3_NO_RESET it lacks fmi3Reset. A doStep whose communication point is not the end of
 * the last step is an error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmu/fmi3.h"

#define EXPORT __attribute__((visibility("default")))

enum { VR_TIME, VR_X, VR_K, VR_X0, VR_U, VR_N, VR_BELOW, VR_SEL, VR_Y, VR_FAIL_AT, VR_TERM_AT, VR_EVENT_AT,
       VR_CRASH_AT, VR_NOTE_AT, VR_SUBSTEPS, VR_MODE, VR_COUNT };

struct inst {
    fmi3InstanceEnvironment env;
    fmi3LogMessageCallback  log;
    double  r[VR_COUNT];
    int32_t i[VR_COUNT];
    uint8_t sel;
    int64_t mode;  /* an Enumeration input without a start: 1 or 2, never 0 */
    float   y;
    bool    below;
    double  t, stop;
    bool    initialising;
};

static void defaults(struct inst *s)
{
    memset(s->r, 0, sizeof s->r);
    memset(s->i, 0, sizeof s->i);
    s->t = 0.0;
    s->r[VR_K] = 1.0;
    s->r[VR_X0] = 2.0;
    s->sel = 1;
    s->mode = 1;
    s->y = 0.0f;
    s->below = false;
    s->i[VR_FAIL_AT] = s->i[VR_TERM_AT] = s->i[VR_EVENT_AT] = s->i[VR_CRASH_AT] = s->i[VR_NOTE_AT] = -1;
    s->i[VR_SUBSTEPS] = 1;
}

static void outputs(struct inst *s)
{
    s->below = s->r[VR_X] < 1.0;
    s->y = (float)(s->sel * s->r[VR_X]);
}

EXPORT fmi3Instance fmi3InstantiateCoSimulation(fmi3String name, fmi3String token, fmi3String res, fmi3Boolean visible,
                                                fmi3Boolean logging, fmi3Boolean event_mode, fmi3Boolean early_return,
                                                const fmi3ValueReference req[], size_t nreq,
                                                fmi3InstanceEnvironment env, fmi3LogMessageCallback log,
                                                fmi3IntermediateUpdateCallback iu)
{
    (void)name; (void)visible; (void)logging; (void)req; (void)nreq; (void)iu;
    if (strcmp(token, "{decay3-1}") != 0 || event_mode || early_return || getenv("DECAY_FMU_NO_INSTANCE"))
        return NULL;
    size_t l = res ? strlen(res) : 0;
    char path[4096];
    if (l == 0 || res[l - 1] != '/' || snprintf(path, sizeof path, "%stoken.txt", res) >= (int)sizeof path)
        return NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        log(env, fmi3Error, "logStatusError", "cannot open the resource token.txt");
        return NULL;
    }
    fclose(f);
    struct inst *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->env = env;
    s->log = log;
    defaults(s);
    char msg[128];
    snprintf(msg, sizeof msg, "instantiated with k=%g", s->r[VR_K]);
    log(env, fmi3OK, "logStatusInfo", msg);
    return s;
}
EXPORT void fmi3FreeInstance(fmi3Instance c) { free(c); }
EXPORT fmi3Status fmi3EnterInitializationMode(fmi3Instance c, fmi3Boolean td, fmi3Float64 tol, fmi3Float64 t0,
                                              fmi3Boolean sd, fmi3Float64 stop)
{
    (void)td; (void)tol;
    ((struct inst *)c)->stop = sd ? stop : INFINITY;
    ((struct inst *)c)->initialising = true;
    ((struct inst *)c)->t = t0;  /* the first communication point */
    return fmi3OK;
}
EXPORT fmi3Status fmi3ExitInitializationMode(fmi3Instance c)
{
    struct inst *s = c;
    s->initialising = false;
    s->r[VR_X] = s->r[VR_X0];
    outputs(s);
    return fmi3OK;
}
EXPORT fmi3Status fmi3Terminate(fmi3Instance c) { (void)c; return fmi3OK; }
#ifndef DECAY3_NO_RESET  /* the build that misses a required function */
EXPORT fmi3Status fmi3Reset(fmi3Instance c) { defaults(c); return fmi3OK; }
#endif

/* Only inputs and parameters may be set; time, outputs never. */
static bool settable(fmi3ValueReference vr)
{
    return vr == VR_K || vr == VR_X0 || vr == VR_U || vr == VR_SEL || vr >= VR_FAIL_AT;
}

EXPORT fmi3Status fmi3GetFloat64(fmi3Instance c, const fmi3ValueReference vr[], size_t n, fmi3Float64 v[], size_t nv)
{
    struct inst *s = c;
    for (size_t j = 0; j < n && j < nv; j++) {
        if (vr[j] > VR_U)
            return fmi3Error;
        v[j] = vr[j] == VR_TIME ? s->t : s->r[vr[j]];
    }
    return fmi3OK;
}
EXPORT fmi3Status fmi3SetFloat64(fmi3Instance c, const fmi3ValueReference vr[], size_t n, const fmi3Float64 v[],
                                 size_t nv)
{
    struct inst *s = c;
    for (size_t j = 0; j < n && j < nv; j++) {
        if (vr[j] > VR_U || !settable(vr[j]) || (vr[j] == VR_X0 && !s->initialising && s->t > 0)) {
            s->log(s->env, fmi3Error, "logStatusError", "SetFloat64 of a variable that cannot be set now");
            return fmi3Error;
        }
        s->r[vr[j]] = v[j];
    }
    return fmi3OK;
}
EXPORT fmi3Status fmi3GetInt32(fmi3Instance c, const fmi3ValueReference vr[], size_t n, fmi3Int32 v[], size_t nv)
{
    struct inst *s = c;
    for (size_t j = 0; j < n && j < nv; j++) {
        if (vr[j] != VR_N && vr[j] < VR_FAIL_AT)
            return fmi3Error;
        v[j] = s->i[vr[j]];
    }
    return fmi3OK;
}
EXPORT fmi3Status fmi3SetInt32(fmi3Instance c, const fmi3ValueReference vr[], size_t n, const fmi3Int32 v[], size_t nv)
{
    struct inst *s = c;
    for (size_t j = 0; j < n && j < nv; j++) {
        if (vr[j] < VR_FAIL_AT || vr[j] >= VR_COUNT)
            return fmi3Error;
        s->i[vr[j]] = v[j];
    }
    return fmi3OK;
}
EXPORT fmi3Status fmi3GetBoolean(fmi3Instance c, const fmi3ValueReference vr[], size_t n, fmi3Boolean v[], size_t nv)
{
    struct inst *s = c;
    for (size_t j = 0; j < n && j < nv; j++) {
        if (vr[j] != VR_BELOW)
            return fmi3Error;
        v[j] = s->below;
    }
    return fmi3OK;
}
EXPORT fmi3Status fmi3GetUInt8(fmi3Instance c, const fmi3ValueReference vr[], size_t n, fmi3UInt8 v[], size_t nv)
{
    struct inst *s = c;
    for (size_t j = 0; j < n && j < nv; j++) {
        if (vr[j] != VR_SEL)
            return fmi3Error;
        v[j] = s->sel;
    }
    return fmi3OK;
}
EXPORT fmi3Status fmi3SetUInt8(fmi3Instance c, const fmi3ValueReference vr[], size_t n, const fmi3UInt8 v[], size_t nv)
{
    struct inst *s = c;
    for (size_t j = 0; j < n && j < nv; j++) {
        if (vr[j] != VR_SEL)
            return fmi3Error;
        s->sel = v[j];
    }
    return fmi3OK;
}
EXPORT fmi3Status fmi3GetFloat32(fmi3Instance c, const fmi3ValueReference vr[], size_t n, fmi3Float32 v[], size_t nv)
{
    struct inst *s = c;
    for (size_t j = 0; j < n && j < nv; j++) {
        if (vr[j] != VR_Y)
            return fmi3Error;
        v[j] = s->y;
    }
    return fmi3OK;
}

/* The accessors this FMU has no variables for: any call is an error. */
#define NONE(N, T)                                                                                            \
    EXPORT fmi3Status fmi3Get##N(fmi3Instance c, const fmi3ValueReference vr[], size_t n, T v[], size_t nv)   \
    { (void)c; (void)vr; (void)v; (void)nv; return n ? fmi3Error : fmi3OK; }
#define NONE_SET(N, T)                                                                                        \
    EXPORT fmi3Status fmi3Set##N(fmi3Instance c, const fmi3ValueReference vr[], size_t n, const T v[],        \
                                 size_t nv)                                                                   \
    { (void)c; (void)vr; (void)v; (void)nv; return n ? fmi3Error : fmi3OK; }
NONE(Int8, fmi3Int8)
NONE(Int16, fmi3Int16)
NONE(UInt16, fmi3UInt16)
NONE(UInt32, fmi3UInt32)
EXPORT fmi3Status fmi3GetInt64(fmi3Instance c, const fmi3ValueReference vr[], size_t n, fmi3Int64 v[], size_t nv)
{
    struct inst *s = c;
    for (size_t j = 0; j < n && j < nv; j++) {
        if (vr[j] != VR_MODE)
            return fmi3Error;
        v[j] = s->mode;
    }
    return fmi3OK;
}
EXPORT fmi3Status fmi3SetInt64(fmi3Instance c, const fmi3ValueReference vr[], size_t n, const fmi3Int64 v[],
                               size_t nv)
{
    struct inst *s = c;
    for (size_t j = 0; j < n && j < nv; j++) {
        if (vr[j] != VR_MODE || (v[j] != 1 && v[j] != 2)) {
            s->log(s->env, fmi3Error, "logStatusError", "not a legal value for the enumeration mode");
            return fmi3Error;
        }
        s->mode = v[j];
    }
    return fmi3OK;
}
NONE(UInt64, fmi3UInt64)
NONE_SET(Float32, fmi3Float32)
NONE_SET(Int8, fmi3Int8)
NONE_SET(Int16, fmi3Int16)
NONE_SET(UInt16, fmi3UInt16)
NONE_SET(UInt32, fmi3UInt32)
NONE_SET(UInt64, fmi3UInt64)
NONE_SET(Boolean, fmi3Boolean)

EXPORT fmi3Status fmi3DoStep(fmi3Instance c, fmi3Float64 t, fmi3Float64 h, fmi3Boolean no_prior, fmi3Boolean *event,
                             fmi3Boolean *terminate, fmi3Boolean *early, fmi3Float64 *last)
{
    (void)no_prior;
    struct inst *s = c;
    *event = *terminate = *early = false;
    *last = t;
    if (fabs(t - s->t) > 1e-9 * (1.0 + fabs(t))) {
        s->log(s->env, fmi3Error, "logStatusError", "communication point is not the FMU's time");
        return fmi3Error;
    }
    if (t + h > s->stop * (1 + 1e-12)) {  /* as strict FMUs are: never past the stop time */
        s->log(s->env, fmi3Error, "logStatusError", "a step past the stop time");
        return fmi3Error;
    }
    int32_t n = s->i[VR_N];
    if (n == s->i[VR_CRASH_AT]) {
        int *volatile p = NULL;  /* a real SIGSEGV, the crash the tests contain */
        *p = 1;
    }
    if (n == s->i[VR_EVENT_AT]) {  /* stops at t, needing event mode */
        *event = *early = true;
        return fmi3OK;
    }
    if (n == s->i[VR_FAIL_AT]) {
        s->log(s->env, fmi3Error, "logStatusError", "asked to fail");
        return fmi3Error;
    }
    double k = s->r[VR_K], u = s->r[VR_U], eq = u / k;
    int32_t m = s->i[VR_SUBSTEPS] > 1 ? s->i[VR_SUBSTEPS] : 1;
    for (int32_t j = 0; j < m; j++)  /* substeps > 1: the same solution in m pieces (benchmark work) */
        s->r[VR_X] = eq + (s->r[VR_X] - eq) * exp(-k * (h / m));
    s->i[VR_N]++;
    s->t = t + h;
    *last = s->t;
    outputs(s);
    if (n == s->i[VR_TERM_AT])
        *terminate = true;
    if (n == s->i[VR_NOTE_AT])  /* an event handled inside the step */
        *event = true;
    return fmi3OK;
}

/* FMU state (the 'state3' variant declares canGetAndSetFMUState and
 * canSerializeFMUState): the state is the instance struct, serialized as is. */
EXPORT fmi3Status fmi3GetFMUState(fmi3Instance c, fmi3FMUState *state)
{
    struct inst *s = *state ? *state : malloc(sizeof *s);
    if (!s)
        return fmi3Error;
    memcpy(s, c, sizeof *s);
    *state = s;
    return fmi3OK;
}
EXPORT fmi3Status fmi3SetFMUState(fmi3Instance c, fmi3FMUState state)
{
    struct inst *s = c;
    fmi3InstanceEnvironment env = s->env;   /* this instance's environment stays */
    fmi3LogMessageCallback log = s->log;
    memcpy(s, state, sizeof *s);
    s->env = env;
    s->log = log;
    return fmi3OK;
}
EXPORT fmi3Status fmi3FreeFMUState(fmi3Instance c, fmi3FMUState *state)
{
    (void)c;
    free(*state);
    *state = NULL;
    return fmi3OK;
}
EXPORT fmi3Status fmi3SerializedFMUStateSize(fmi3Instance c, fmi3FMUState state, size_t *size)
{
    (void)c; (void)state;
    *size = sizeof(struct inst);
    return fmi3OK;
}
EXPORT fmi3Status fmi3SerializeFMUState(fmi3Instance c, fmi3FMUState state, fmi3Byte bytes[], size_t size)
{
    (void)c;
    if (size != sizeof(struct inst))
        return fmi3Error;
    memcpy(bytes, state, size);
    return fmi3OK;
}
EXPORT fmi3Status fmi3DeserializeFMUState(fmi3Instance c, const fmi3Byte bytes[], size_t size, fmi3FMUState *state)
{
    (void)c;
    if (size != sizeof(struct inst) || !(*state = malloc(size)))
        return fmi3Error;
    memcpy(*state, bytes, size);
    return fmi3OK;
}
