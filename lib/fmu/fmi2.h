/* FMI 2.0 co-simulation C types and function pointer types, declared here
 * from the published FMI 2.0 specification (section 2.1 and 4). Private:
 * used by fmi2.c and by the test FMUs in tests/fmu/. Never installed. */
#ifndef HERMES_LIB_FMU_FMI2_H
#define HERMES_LIB_FMU_FMI2_H

#include <stddef.h>

typedef void        *fmi2Component;
typedef void        *fmi2ComponentEnvironment;
typedef unsigned int fmi2ValueReference;
typedef double       fmi2Real;
typedef int          fmi2Integer;
typedef int          fmi2Boolean;
typedef char         fmi2Char;
typedef const fmi2Char *fmi2String;

#define fmi2True  1
#define fmi2False 0

typedef enum { fmi2OK, fmi2Warning, fmi2Discard, fmi2Error, fmi2Fatal, fmi2Pending } fmi2Status;
typedef enum { fmi2ModelExchange, fmi2CoSimulation } fmi2Type;

typedef void (*fmi2CallbackLogger)(fmi2ComponentEnvironment env, fmi2String instance, fmi2Status status,
                                   fmi2String category, fmi2String message, ...);
typedef void *(*fmi2CallbackAllocateMemory)(size_t n, size_t size);
typedef void (*fmi2CallbackFreeMemory)(void *p);
typedef void (*fmi2StepFinished)(fmi2ComponentEnvironment env, fmi2Status status);

typedef struct {
    fmi2CallbackLogger         logger;
    fmi2CallbackAllocateMemory allocateMemory;
    fmi2CallbackFreeMemory     freeMemory;
    fmi2StepFinished           stepFinished;
    fmi2ComponentEnvironment   componentEnvironment;
} fmi2CallbackFunctions;

typedef fmi2Component (*fmi2InstantiateTYPE)(fmi2String instance, fmi2Type type, fmi2String guid,
                                             fmi2String resource_location, const fmi2CallbackFunctions *functions,
                                             fmi2Boolean visible, fmi2Boolean logging_on);
typedef void (*fmi2FreeInstanceTYPE)(fmi2Component c);
typedef fmi2Status (*fmi2SetupExperimentTYPE)(fmi2Component c, fmi2Boolean tolerance_defined, fmi2Real tolerance,
                                              fmi2Real start_time, fmi2Boolean stop_time_defined,
                                              fmi2Real stop_time);
typedef fmi2Status (*fmi2ComponentTYPE)(fmi2Component c);  /* Enter/ExitInitializationMode, Terminate, Reset */
typedef fmi2Status (*fmi2GetRealTYPE)(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2Real v[]);
typedef fmi2Status (*fmi2GetIntegerTYPE)(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2Integer v[]);
typedef fmi2Status (*fmi2SetRealTYPE)(fmi2Component c, const fmi2ValueReference vr[], size_t n, const fmi2Real v[]);
typedef fmi2Status (*fmi2SetIntegerTYPE)(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                                         const fmi2Integer v[]);
typedef fmi2Status (*fmi2DoStepTYPE)(fmi2Component c, fmi2Real t, fmi2Real h, fmi2Boolean no_set_prior);
/* FMU state (section 2.1.8): get/set/free, serialize/deserialize. */
typedef void *fmi2FMUstate;
typedef unsigned char fmi2Byte;
typedef fmi2Status (*fmi2GetFMUstateTYPE)(fmi2Component c, fmi2FMUstate *state);
typedef fmi2Status (*fmi2SetFMUstateTYPE)(fmi2Component c, fmi2FMUstate state);
typedef fmi2Status (*fmi2FreeFMUstateTYPE)(fmi2Component c, fmi2FMUstate *state);
typedef fmi2Status (*fmi2SerializedFMUstateSizeTYPE)(fmi2Component c, fmi2FMUstate state, size_t *size);
typedef fmi2Status (*fmi2SerializeFMUstateTYPE)(fmi2Component c, fmi2FMUstate state, fmi2Byte bytes[], size_t size);
typedef fmi2Status (*fmi2DeSerializeFMUstateTYPE)(fmi2Component c, const fmi2Byte bytes[], size_t size,
                                                  fmi2FMUstate *state);
/* Status of a co-simulation slave (section 4.2.3): after fmi2DoStep returned
 * fmi2Discard, fmi2Terminated says whether it asks to end the simulation and
 * fmi2LastSuccessfulTime where it stopped. Optional functions for Hermes. */
typedef enum { fmi2DoStepStatus, fmi2PendingStatus, fmi2LastSuccessfulTime, fmi2Terminated } fmi2StatusKind;
typedef fmi2Status (*fmi2GetRealStatusTYPE)(fmi2Component c, const fmi2StatusKind s, fmi2Real *value);
typedef fmi2Status (*fmi2GetBooleanStatusTYPE)(fmi2Component c, const fmi2StatusKind s, fmi2Boolean *value);
/* Booleans are fmi2Integer-sized, so GetBoolean/SetBoolean use the Integer types. */

#endif
