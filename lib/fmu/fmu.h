/* FMU support shared by the config (signals from modelDescription.xml) and
 * the fmu driver: the archive (archive.c), the model description (model.c)
 * and the FMI 2.0 binding (fmi2.c). Private. */
#ifndef HERMES_LIB_FMU_FMU_H
#define HERMES_LIB_FMU_FMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hermes/backplane.h"

/* Largest total unpacked size of an archive (zip bombs) and of modelDescription.xml. */
#define HERMES_FMU_MAX_UNPACKED (512ull << 20)
#define HERMES_FMU_MAX_XML      (64u << 20)

/* ---- archive.c ---- */
/* modelDescription.xml of @p fmu (an .fmu archive or an unpacked folder),
 * malloc'd and NUL-terminated in *xml. 0 or a code with hermes__fail(). */
int hermes__fmu_read_description(const char *fmu, char **xml, size_t *len);
/* Unpack @p fmu into a new private folder (mode 0700, under $TMPDIR or /tmp,
 * named hermes-fmu-*); a folder is used as it is. *dir is malloc'd; *owned
 * says whether hermes__fmu_remove() must delete it. Nothing is left behind
 * on failure. */
int hermes__fmu_unpack(const char *fmu, char **dir, bool *owned);
/* Remove an unpacked folder and everything in it. */
void hermes__fmu_remove(const char *dir);

/* ---- model.c ---- */
enum hermes__fmu_causality { FMU_OUTPUT, FMU_INPUT, FMU_PARAMETER, FMU_LOCAL };
/* The FMI type of a variable, which picks the get/set call: FMI 2 Real,
 * Integer, Boolean, Enumeration are FLOAT64, INT32, BOOLEAN, ENUM; FMI 3 has
 * them all (ENUM through fmi3Get/SetInt64). */
enum hermes__fmu_kind {
    FMU_FLOAT64, FMU_FLOAT32, FMU_INT8, FMU_UINT8, FMU_INT16, FMU_UINT16, FMU_INT32, FMU_UINT32,
    FMU_INT64, FMU_UINT64, FMU_BOOLEAN, FMU_ENUM, FMU_KIND_COUNT
};

struct hermes__fmu_var {
    char                      *name;      /* mapped to a Hermes signal name */
    char                      *fmi_name;  /* as in the file */
    char                      *unit;      /* NULL: none */
    uint32_t                   vr;
    enum hermes__fmu_causality causality;
    enum hermes__fmu_kind      kind;
    hermes_type_t              type;
    bool                       fixed;     /* variability fixed/constant: not settable while running */
    bool                       constant;  /* variability constant: never set */
    bool                       has_start; /* the file gives a start */
    double                     start;     /* 0 when the file gives none */
};

/* A variable that is not a signal, for `hermes validate`. */
struct hermes__fmu_skipped {
    char       *fmi_name;
    const char *reason;  /* static text: "String variable", "array (Dimension)", ... */
};

struct hermes__fmu_model {
    int      version;          /* 2 or 3 */
    char    *identifier;       /* CoSimulation modelIdentifier */
    char    *token;            /* guid (2) / instantiationToken (3) */
    struct hermes__fmu_var *var;
    uint32_t nvar;
    struct hermes__fmu_skipped *skipped;  /* variables that are not signals (strings, binaries, ...) */
    bool     can_state;        /* CoSimulation declares canGetAndSetFMUstate and canSerializeFMUstate
                                  (FMI 3: ...FMUState): checkpoints save and load its state */
    uint32_t nskipped;
};

/* Parse modelDescription.xml (FMI 2.0 or 3.x); @p label names the file in
 * messages ("FILE:LINE:COL: text"). @p locals: also locals (read-only). */
int hermes__fmu_model_parse(const char *xml, size_t len, const char *label, bool locals,
                            struct hermes__fmu_model *out);
void hermes__fmu_model_free(struct hermes__fmu_model *m);
/* The name-mapping rule (docs/fmu.md): malloc'd. */
char *hermes__fmu_map_name(const char *fmi_name);

/* ---- binding.c: one interface over fmi2.c and fmi3.c ---- */
struct hermes__fmu_inst;
/* Load the binary under @p dir (binaries/linux64 for FMI 2,
 * binaries/x86_64-linux for FMI 3) and instantiate it (co-simulation), with
 * start time @p start (the time of the module's first step, 0 unless it has
 * an offset) and stop time @p stop when @p has_stop for its initialisation.
 * @p log_name names the module in log lines and messages. */
int hermes__fmu_open(struct hermes__fmu_inst **out, const struct hermes__fmu_model *md, const char *dir,
                     const char *log_name, double start, bool has_stop, double stop);
/* At each stage (start-up, after a reset): initialise the FMU unless it is,
 * with the values in @p slots (one per variable, in the model's order: the
 * signals' initial values with the wired inputs applied) written to its
 * inputs and parameters, then read its outputs (and locals) into @p slots.
 * 0, or a code with the text in @p err. */
int hermes__fmu_stage(struct hermes__fmu_inst *fi, double *const *slots, char *err, size_t cap);
/* Write inputs and tunable parameters from @p slots, step [t, t+h], read
 * outputs (and locals) into @p slots. 0; 1 when the FMU asked to end the
 * simulation (FMI 2: fmi2Discard with fmi2Terminated; FMI 3:
 * terminateSimulation), its outputs read all the same and the reason in
 * @p err; -1 with the error text in @p err. */
int hermes__fmu_step(struct hermes__fmu_inst *fi, double t, double h, double *const *slots, char *err,
                     size_t cap);
/* The FMI reset: the next hermes__fmu_stage() initialises the FMU again. */
int hermes__fmu_reset(struct hermes__fmu_inst *fi, char *err, size_t cap);
void hermes__fmu_close(struct hermes__fmu_inst *fi);
/* The FMU's state as a serialized blob (malloc'd into *buf, *len bytes), and
 * back: get + serialize, deserialize + set (the model declares can_state),
 * with the inputs last written (so the steps after a restore write what the
 * straight run writes). -1 with the error text in @p err. */
int hermes__fmu_state_save(struct hermes__fmu_inst *fi, void **buf, size_t *len, char *err, size_t cap);
int hermes__fmu_state_load(struct hermes__fmu_inst *fi, const void *buf, size_t len, char *err, size_t cap);

/* Outputs (and locals) of one kind, read with one get call after each step:
 * value references vr[0..n-1] of the variables var[0..n-1] (indices into md->var). */
struct hermes__fmu_batch {
    enum hermes__fmu_kind kind;
    uint32_t              n;
    uint32_t             *vr, *var;
};

/* Where the instance is in the FMI state machine, for what closing it may
 * call: fmiTerminate only once initialised and not after an Error (the
 * standard allows it nowhere else), fmiFreeInstance unless it was Fatal. */
enum hermes__fmu_phase { FMU_INSTANTIATED, FMU_INITIALISED, FMU_FAILED, FMU_FATAL };

/* What a binding (fmi2.c, fmi3.c) implements; binding.c holds the instance. */
struct hermes__fmu_common {
    void                           *dl;
    const struct hermes__fmu_model *md;
    char                           *name;       /* the module's name */
    char                           *so;         /* path of the binary */
    char                           *resources;  /* absolute path of resources/, no trailing slash */
    double                          start;
    bool                            has_stop;
    double                          stop;
    /* Indices (into md->var) of the variables written before each step
     * (inputs, tunable parameters) and read after it (outputs, locals). */
    uint32_t                       *in, *out;
    uint32_t                        nin, nout;
    /* out[] grouped by kind (in out[]'s order within a kind), and room for
     * nout values of any kind: a get call per kind, not per variable. */
    struct hermes__fmu_batch       *outb;
    uint32_t                        noutb;
    void                           *scratch;
    /* The value last written to in[k] since initialisation; a step writes
     * only inputs that changed (the FMU keeps what it was given). */
    double                         *last_in;
    bool                            last_valid;
    enum hermes__fmu_phase          phase;
    double                         *values;     /* nvar: the slots' values at initialisation */
};
/* Record a failed call's FMI status (3 Error, 4 Fatal in FMI 2 and 3 alike). */
static inline void hermes__fmu_note(struct hermes__fmu_common *c, int status)
{
    if (status >= 4)
        c->phase = FMU_FATAL;
    else if (status == 3 && c->phase != FMU_FATAL)
        c->phase = FMU_FAILED;
}
/* Whether input or parameter @p x gets @p value written before
 * initialisation: not a constant, and it has a start or the config gave it a
 * value other than the 0 that stands for "none" (an FMU may refuse values it
 * never declared, such as an enumeration's 0). */
static inline bool hermes__fmu_write_start(const struct hermes__fmu_var *x, double value)
{
    return (x->causality == FMU_INPUT || x->causality == FMU_PARAMETER) && !x->constant &&
           (x->has_start || value != 0.0);
}
/* Whether in[k] must be written before this step (changed, or first since
 * initialisation); records @p v as written. */
static inline bool hermes__fmu_in_changed(struct hermes__fmu_common *c, uint32_t k, double v)
{
    if (c->last_valid && c->last_in[k] == v)
        return false;
    c->last_in[k] = v;
    return true;
}
struct hermes__fmu_ops {
    const char *platform;                   /* binaries/<platform>/ */
    size_t      size;                       /* of the binding's instance, which starts with the common part */
    int  (*bind)(struct hermes__fmu_common *c);              /* dlsym; hermes__fail() naming a missing one */
    int  (*instantiate)(struct hermes__fmu_common *c);
    int  (*init)(struct hermes__fmu_common *c, const double *values, char *err, size_t cap);
    int  (*step)(struct hermes__fmu_common *c, double t, double h, double *const *slots, char *err, size_t cap);
                                            /* as hermes__fmu_step: 0, 1 (terminate) or -1 */
    int  (*read)(struct hermes__fmu_common *c, double *const *slots, char *err, size_t cap);
    int  (*reset)(struct hermes__fmu_common *c, char *err, size_t cap);  /* the FMI reset only */
    void (*close)(struct hermes__fmu_common *c);                         /* terminate and free the instance */
    /* FMU state (bound only when md->can_state): as hermes__fmu_state_save/_load. */
    int  (*state_save)(struct hermes__fmu_common *c, void **buf, size_t *len, char *err, size_t cap);
    int  (*state_load)(struct hermes__fmu_common *c, const void *buf, size_t len, char *err, size_t cap);
};
extern const struct hermes__fmu_ops hermes__fmu_fmi2_ops, hermes__fmu_fmi3_ops;
/* ---- fmi_common.c: shared by fmi2.c and fmi3.c ---- */
/* NULL when @p d can be written to a variable of @p kind: any value for the
 * float kinds and Boolean; for the integer kinds an integer within the
 * kind's range, where the doubles 2^63 and 2^64 (the nearest to INT64_MAX
 * and UINT64_MAX) stand for those. Else @p buf holds "(UInt8) is outside
 * 0 .. 255" or "(Int32) is not an integer" and is returned. */
const char *hermes__fmu_value_problem(enum hermes__fmu_kind kind, double d, char *buf, size_t cap);
/* dlsym each of @p n symbols into its slot; a missing one is named. */
struct hermes__fmu_sym { const char *name; void **slot; };
int hermes__fmu_bind_all(struct hermes__fmu_common *c, const struct hermes__fmu_sym *t, size_t n);
/* dlsym each of @p n optional symbols into its slot (NULL when missing). */
void hermes__fmu_bind_optional(struct hermes__fmu_common *c, const struct hermes__fmu_sym *t, size_t n);
/* A log line of the FMU's logger (component fmu) naming the module; @p level
 * from the FMI status (0 OK ... 3 Error and above). */
void hermes__fmu_log(const struct hermes__fmu_common *c, int status, const char *instance, const char *category,
                     const char *text);
#endif
