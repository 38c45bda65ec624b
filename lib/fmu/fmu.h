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
enum hermes__fmu_kind { FMU_REAL, FMU_INTEGER, FMU_BOOLEAN };

struct hermes__fmu_var {
    char                      *name;      /* mapped to a Hermes signal name */
    char                      *fmi_name;  /* as in the file */
    char                      *unit;      /* NULL: none */
    uint32_t                   vr;
    enum hermes__fmu_causality causality;
    enum hermes__fmu_kind      kind;
    hermes_type_t              type;
    bool                       fixed;     /* variability fixed/constant: not settable while running */
    double                     start;     /* 0 when the file gives none */
};

struct hermes__fmu_model {
    int      version;          /* 2 or 3 */
    char    *identifier;       /* CoSimulation modelIdentifier */
    char    *token;            /* guid (2) / instantiationToken (3) */
    struct hermes__fmu_var *var;
    uint32_t nvar;
    uint32_t nskipped;         /* variables that are not signals (strings, binaries, ...) */
};

/* Parse modelDescription.xml; @p label names the file in messages
 * ("FILE:LINE:COL: text"). @p locals: also locals (read-only). */
int hermes__fmu_model_parse(const char *xml, size_t len, const char *label, bool locals,
                            struct hermes__fmu_model *out);
void hermes__fmu_model_free(struct hermes__fmu_model *m);
/* The name-mapping rule (docs/fmu.md): malloc'd. */
char *hermes__fmu_map_name(const char *fmi_name);

/* ---- fmi2.c ---- */
struct hermes__fmu_inst;
/* Load the binary under @p dir, instantiate, set up the experiment (start 0,
 * stop @p stop when @p has_stop), apply @p values (one per variable, in the
 * model's order) to inputs and parameters in initialisation mode. @p log_name
 * names the module in log lines and messages. */
int hermes__fmu_open(struct hermes__fmu_inst **out, const struct hermes__fmu_model *md, const char *dir,
                     const char *log_name, bool has_stop, double stop, const double *values);
/* Write inputs and tunable parameters from @p values, step [t, t+h], read
 * outputs (and locals) into @p values. Error text in @p err. */
int hermes__fmu_step(struct hermes__fmu_inst *fi, double t, double h, double *const *slots, char *err,
                     size_t cap);
/* FMI reset then initialisation again with @p values. */
int hermes__fmu_reset(struct hermes__fmu_inst *fi, const double *values, char *err, size_t cap);
void hermes__fmu_close(struct hermes__fmu_inst *fi);
#endif
