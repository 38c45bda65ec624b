/* Test FMU (FMI 3.0 co-simulation), a feedthrough: for each of Float32,
 * Float64, Int8, UInt8, Int16, UInt16, Int32, UInt32, Int64, UInt64, Boolean
 * and an Enumeration (through Int64) an input (value reference 2k+1) whose
 * value the output (2k+2) takes at every doStep. Each accessor accepts only
 * its own type's value references, as strict FMUs do. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fmu/fmi3.h"

#define EXPORT __attribute__((visibility("default")))

enum { K_Float32, K_Float64, K_Int8, K_UInt8, K_Int16, K_UInt16, K_Int32, K_UInt32, K_Int64, K_UInt64, K_Boolean,
       K_ENUM, K_COUNT };

struct inst {
    double t;
    fmi3Float32 f32[2]; fmi3Float64 f64[2]; fmi3Int8 i8[2]; fmi3UInt8 u8[2]; fmi3Int16 i16[2]; fmi3UInt16 u16[2];
    fmi3Int32 i32[2]; fmi3UInt32 u32[2]; fmi3Int64 i64[2]; fmi3UInt64 u64[2]; fmi3Boolean b[2]; fmi3Int64 e[2];
};

/* The kind of value reference @p vr and whether it is the output; -1: none. */
static int kind_of(fmi3ValueReference vr, int *out)
{
    if (vr < 1 || vr > 2 * K_COUNT)
        return -1;
    *out = (vr - 1) % 2;
    return (int)(vr - 1) / 2;
}

EXPORT fmi3Instance fmi3InstantiateCoSimulation(fmi3String name, fmi3String token, fmi3String res, fmi3Boolean visible,
                                                fmi3Boolean logging, fmi3Boolean event_mode, fmi3Boolean early_return,
                                                const fmi3ValueReference req[], size_t nreq,
                                                fmi3InstanceEnvironment env, fmi3LogMessageCallback log,
                                                fmi3IntermediateUpdateCallback iu)
{
    (void)name; (void)res; (void)visible; (void)logging; (void)event_mode; (void)early_return; (void)req;
    (void)nreq; (void)env; (void)log; (void)iu;
    if (strcmp(token, "{feed3}") != 0)
        return NULL;
    struct inst *s = calloc(1, sizeof *s);
    if (s)
        s->e[0] = s->e[1] = 1;
    return s;
}
EXPORT void fmi3FreeInstance(fmi3Instance c) { free(c); }
EXPORT fmi3Status fmi3EnterInitializationMode(fmi3Instance c, fmi3Boolean td, fmi3Float64 tol, fmi3Float64 t0,
                                              fmi3Boolean sd, fmi3Float64 stop)
{
    (void)td; (void)tol; (void)sd; (void)stop;
    ((struct inst *)c)->t = t0;
    return fmi3OK;
}

static void feed(struct inst *s)
{
    s->f32[1] = s->f32[0]; s->f64[1] = s->f64[0]; s->i8[1] = s->i8[0]; s->u8[1] = s->u8[0];
    s->i16[1] = s->i16[0]; s->u16[1] = s->u16[0]; s->i32[1] = s->i32[0]; s->u32[1] = s->u32[0];
    s->i64[1] = s->i64[0]; s->u64[1] = s->u64[0]; s->b[1] = s->b[0]; s->e[1] = s->e[0];
}

EXPORT fmi3Status fmi3ExitInitializationMode(fmi3Instance c) { feed(c); return fmi3OK; }
EXPORT fmi3Status fmi3Terminate(fmi3Instance c) { (void)c; return fmi3OK; }
EXPORT fmi3Status fmi3Reset(fmi3Instance c)
{
    memset(c, 0, sizeof(struct inst));
    ((struct inst *)c)->e[0] = ((struct inst *)c)->e[1] = 1;
    return fmi3OK;
}

static int enum_ok(fmi3Int64 v) { return v == 1 || v == 2; }

#define ACCESS(N, T, FIELD, KIND)                                                                              \
    EXPORT fmi3Status fmi3Get##N(fmi3Instance c, const fmi3ValueReference vr[], size_t n, T v[], size_t nv)    \
    {                                                                                                          \
        struct inst *s = c;                                                                                    \
        for (size_t j = 0; j < n && j < nv; j++) {                                                            \
            int out, k = kind_of(vr[j], &out);                                                                 \
            if (k != KIND && !(KIND == K_Int64 && k == K_ENUM))                                                \
                return fmi3Error;                                                                              \
            v[j] = k == K_ENUM ? (T)s->e[out] : (T)s->FIELD[out];                                              \
        }                                                                                                      \
        return fmi3OK;                                                                                         \
    }                                                                                                          \
    EXPORT fmi3Status fmi3Set##N(fmi3Instance c, const fmi3ValueReference vr[], size_t n, const T v[],         \
                                 size_t nv)                                                                    \
    {                                                                                                          \
        struct inst *s = c;                                                                                    \
        for (size_t j = 0; j < n && j < nv; j++) {                                                            \
            int out, k = kind_of(vr[j], &out);                                                                 \
            if ((k != KIND && !(KIND == K_Int64 && k == K_ENUM)) || out)                                       \
                return fmi3Error;                                                                              \
            if (k == K_ENUM && !enum_ok((fmi3Int64)v[j]))                                                      \
                return fmi3Error;                                                                              \
            if (k == K_ENUM)                                                                                   \
                s->e[0] = (fmi3Int64)v[j];                                                                     \
            else                                                                                               \
                s->FIELD[0] = v[j];                                                                            \
        }                                                                                                      \
        return fmi3OK;                                                                                         \
    }
ACCESS(Float32, fmi3Float32, f32, K_Float32)
ACCESS(Float64, fmi3Float64, f64, K_Float64)
ACCESS(Int8, fmi3Int8, i8, K_Int8)
ACCESS(UInt8, fmi3UInt8, u8, K_UInt8)
ACCESS(Int16, fmi3Int16, i16, K_Int16)
ACCESS(UInt16, fmi3UInt16, u16, K_UInt16)
ACCESS(Int32, fmi3Int32, i32, K_Int32)
ACCESS(UInt32, fmi3UInt32, u32, K_UInt32)
ACCESS(Int64, fmi3Int64, i64, K_Int64)
ACCESS(UInt64, fmi3UInt64, u64, K_UInt64)
ACCESS(Boolean, fmi3Boolean, b, K_Boolean)

EXPORT fmi3Status fmi3DoStep(fmi3Instance c, fmi3Float64 t, fmi3Float64 h, fmi3Boolean no_prior, fmi3Boolean *event,
                             fmi3Boolean *terminate, fmi3Boolean *early, fmi3Float64 *last)
{
    (void)no_prior;
    struct inst *s = c;
    *event = *terminate = *early = false;
    if (t < s->t - 1e-9 || t > s->t + 1e-9)
        return fmi3Error;
    s->t = t + h;
    *last = s->t;
    feed(s);
    return fmi3OK;
}
