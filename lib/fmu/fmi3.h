/* FMI 3.0 co-simulation C types and function pointer types, declared here
 * from the published FMI 3.0 specification (section 2.2: platform types,
 * status, callbacks, and the common and co-simulation functions Hermes
 * calls). Private: used by fmi3.c and by the test FMUs in tests/fmu/. Never
 * installed. */
#ifndef HERMES_LIB_FMU_FMI3_H
#define HERMES_LIB_FMU_FMI3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void       *fmi3Instance;
typedef void       *fmi3InstanceEnvironment;
typedef uint32_t    fmi3ValueReference;
typedef float       fmi3Float32;
typedef double      fmi3Float64;
typedef int8_t      fmi3Int8;
typedef uint8_t     fmi3UInt8;
typedef int16_t     fmi3Int16;
typedef uint16_t    fmi3UInt16;
typedef int32_t     fmi3Int32;
typedef uint32_t    fmi3UInt32;
typedef int64_t     fmi3Int64;
typedef uint64_t    fmi3UInt64;
typedef bool        fmi3Boolean;
typedef char        fmi3Char;
typedef const fmi3Char *fmi3String;

typedef enum { fmi3OK, fmi3Warning, fmi3Discard, fmi3Error, fmi3Fatal } fmi3Status;

typedef void (*fmi3LogMessageCallback)(fmi3InstanceEnvironment env, fmi3Status status, fmi3String category,
                                       fmi3String message);
typedef void (*fmi3IntermediateUpdateCallback)(fmi3InstanceEnvironment env, fmi3Float64 time,
                                               fmi3Boolean set_requested, fmi3Boolean get_allowed,
                                               fmi3Boolean step_finished, fmi3Boolean can_return_early,
                                               fmi3Boolean *early_return_requested, fmi3Float64 *early_return_time);

typedef fmi3Instance (*fmi3InstantiateCoSimulationTYPE)(
    fmi3String instance_name, fmi3String instantiation_token, fmi3String resource_path, fmi3Boolean visible,
    fmi3Boolean logging_on, fmi3Boolean event_mode_used, fmi3Boolean early_return_allowed,
    const fmi3ValueReference required_intermediate[], size_t n_required_intermediate, fmi3InstanceEnvironment env,
    fmi3LogMessageCallback log_message, fmi3IntermediateUpdateCallback intermediate_update);
typedef void (*fmi3FreeInstanceTYPE)(fmi3Instance instance);
typedef fmi3Status (*fmi3EnterInitializationModeTYPE)(fmi3Instance instance, fmi3Boolean tolerance_defined,
                                                      fmi3Float64 tolerance, fmi3Float64 start_time,
                                                      fmi3Boolean stop_time_defined, fmi3Float64 stop_time);
typedef fmi3Status (*fmi3InstanceTYPE)(fmi3Instance instance);  /* ExitInitializationMode, Terminate, Reset */
typedef fmi3Status (*fmi3DoStepTYPE)(fmi3Instance instance, fmi3Float64 current_communication_point,
                                     fmi3Float64 communication_step_size, fmi3Boolean no_set_fmu_state_prior,
                                     fmi3Boolean *event_handling_needed, fmi3Boolean *terminate_simulation,
                                     fmi3Boolean *early_return, fmi3Float64 *last_successful_time);

/* fmi3Get<T> / fmi3Set<T>: (instance, vrs[], nvrs, values[], nvalues). */
#define HERMES_FMI3_ACCESSORS(X) \
    X(Float32, fmi3Float32)      \
    X(Float64, fmi3Float64)      \
    X(Int8, fmi3Int8)            \
    X(UInt8, fmi3UInt8)          \
    X(Int16, fmi3Int16)          \
    X(UInt16, fmi3UInt16)        \
    X(Int32, fmi3Int32)          \
    X(UInt32, fmi3UInt32)        \
    X(Int64, fmi3Int64)          \
    X(UInt64, fmi3UInt64)        \
    X(Boolean, fmi3Boolean)

/* FMU state (section 2.2.4.7 of FMI 3.0). */
typedef void *fmi3FMUState;
typedef uint8_t fmi3Byte;
typedef fmi3Status (*fmi3GetFMUStateTYPE)(fmi3Instance instance, fmi3FMUState *state);
typedef fmi3Status (*fmi3SetFMUStateTYPE)(fmi3Instance instance, fmi3FMUState state);
typedef fmi3Status (*fmi3FreeFMUStateTYPE)(fmi3Instance instance, fmi3FMUState *state);
typedef fmi3Status (*fmi3SerializedFMUStateSizeTYPE)(fmi3Instance instance, fmi3FMUState state, size_t *size);
typedef fmi3Status (*fmi3SerializeFMUStateTYPE)(fmi3Instance instance, fmi3FMUState state, fmi3Byte bytes[],
                                                size_t size);
typedef fmi3Status (*fmi3DeserializeFMUStateTYPE)(fmi3Instance instance, const fmi3Byte bytes[], size_t size,
                                                  fmi3FMUState *state);

#define HERMES_FMI3_TYPEDEF(N, T)                                                                             \
    typedef fmi3Status (*fmi3Get##N##TYPE)(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, \
                                           T values[], size_t nvalues);                                     \
    typedef fmi3Status (*fmi3Set##N##TYPE)(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, \
                                           const T values[], size_t nvalues);
HERMES_FMI3_ACCESSORS(HERMES_FMI3_TYPEDEF)
#undef HERMES_FMI3_TYPEDEF

#endif
