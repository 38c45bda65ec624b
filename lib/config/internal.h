/* Private parts of the configuration: the struct behind hermes_config_t and
 * the calls the lib/config*.c files share, plus the one accessor the scheduler
 * uses (hermes__config_module_callbacks). Never installed.
 *
 * Files: config/config.c (the handle), config/error.c (positions, error reports),
 * config/prepass.c (libyaml pre-pass), config/yaml.c (libcyaml schema,
 * conversion, load/parse), config/cyaml_log.c (reading libcyaml's log),
 * config/validate.c (every rule), config/build.c (the builder). */
#ifndef HERMES_LIB_CONFIG_INTERNAL_H
#define HERMES_LIB_CONFIG_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hermes/config.h"
#include "common/names.h"
#include "common/util.h"

struct hermes_inproc_module;
struct cfg_module;

/* Host callback table of inproc module @p module_index (set with
 * hermes_config_set_module_callbacks()), or NULL when it has none, when the
 * module is not inproc or when the index is out of range. */
const struct hermes_inproc_module *hermes__config_module_callbacks(const hermes_config_t *cfg,
                                                                   uint32_t module_index);

/* fmu.c: `type: fmu` modules. The YAML fields isolate/locals (NULL: absent)
 * and the signals from the FMU's modelDescription.xml, errors at @p field. */
int hermes__config_fmu_load(hermes_config_t *cfg, hermes_error_t *err, struct cfg_module *m, const char *field,
                            const char *isolate, const char *locals);
/* Module @p module_index takes locals (type fmu, `locals: true`). */
bool hermes__config_fmu_locals(const hermes_config_t *cfg, uint32_t module_index);
/* Module @p module_index runs its FMU in a child process (`isolate: true`). */
bool hermes__config_fmu_isolate(const hermes_config_t *cfg, uint32_t module_index);
/* Why signal @p j of module @p i takes only an initial value and cannot be
 * set while running (static text such as "a fixed FMU parameter"), or NULL. */
const char *hermes__config_signal_initial_only(const hermes_config_t *cfg, uint32_t i, uint32_t j);

/* ------------------------------------------------------------------------ */
/* The representation                                                       */

/* Position of one YAML node, recorded by the pre-pass. */
struct cfg_pos {
    char *path;          /* dotted field path, e.g. "modules.vehicle.signals[1].initial" */
    int   kline, kcol;   /* key position (for sequence entries: the entry) */
    int   vline, vcol;   /* value position */
    bool  is_null;       /* plain null scalar: "", "~", "null" */
};

struct cfg_signal {
    char         *name;
    hermes_type_t type;
    char         *unit;   /* NULL when none */
    bool          writable;
    double        initial;
    /* Not settable while running, only as an initial value (initial:, --set):
     * why, e.g. "a fixed FMU parameter" (static text); NULL: no such rule. */
    const char   *initial_only;
    /* Takes no initial value either: why, e.g. "an FMU output" (static
     * text: the FMU computes it); NULL: it takes one. */
    const char   *computed;
};

struct cfg_module {
    char                 *name;
    hermes_module_type_t  type;
    char                 *path;         /* resolved executable / library, or NULL */
    char                 *config_path;  /* resolved, or NULL */
    char                **args;
    uint32_t              arg_count;
    struct cfg_signal    *sig;
    uint32_t              nsig, capsig;
    struct hermes__names  sigidx;       /* signal name -> index (the first of duplicates) */
    uint32_t              ndup;         /* signals named like an earlier one (validate reports them) */
    const struct hermes_inproc_module *callbacks;
    double                rate_hz;      /* modules.<m>.rate_hz; 0: the base rate */
    uint32_t              offset;       /* modules.<m>.offset (frames) */
    bool                  fmu_locals;   /* type fmu: locals: true */
    bool                  fmu_isolate;  /* type fmu: isolate: true (in a child process) */
    char                **fmu_skipped;  /* type fmu: FMI names of the variables that are not signals */
    const char          **fmu_skip_why; /* ... and why (static text) */
    uint32_t              fmu_nskipped;
};

struct cfg_wire {
    char  *src, *dst;
    double gain, offset;
};

struct hermes_config {
    struct cfg_module *mod;
    uint32_t           nmod, capmod;
    struct hermes__names modidx;    /* module name -> index (the first of duplicates) */
    uint32_t           nmoddup;     /* modules named like an earlier one */
    struct cfg_wire   *wire;
    uint32_t           nwire, capwire;
    char             **sched;       /* NULL: file order */
    uint32_t           nsched;
    uint32_t          *sched_group; /* group number per entry, 0, 1, ... (NULL: one per entry) */
    char             **sched_field; /* YAML path per entry ("execution.schedule[1][0]"), NULL: built in code */
    uint32_t           spin_us;     /* execution.spin_us */
    bool               check_groups;
    bool               ckpt_replay;    /* execution.restore: replay */
    hermes_execution_t exec;
    bool               srv_enabled;
    char              *host;
    uint16_t           port;
    double             telemetry_hz;
    char              *auth_token;  /* NULL: none; wiped on free */
    bool               observers;
    bool               viewer_disabled;  /* server.viewer: false */
    char             **origins;
    uint32_t           norigins;
    uint32_t           max_clients, max_message, cps, max_patterns, max_depth;  /* 0: server default */
    bool               rec_enabled;   /* record section (hermes_record_settings_t) */
    char              *rec_file;
    char              *rec_mcap;      /* record.mcap (since 0.5) */
    char             **rec_signals;
    uint32_t           rec_nsignals, rec_every;
    double             rec_rate;
    char              *ck_file;       /* execution.checkpoint.file, or NULL */
    double            *ck_at;         /* execution.checkpoint.at (seconds) */
    uint32_t           ck_nat;
    char              *path;        /* realpath of the loaded file, or NULL */
    char              *label;       /* file name used in messages, or NULL */
    char              *errfile;     /* hermes_error_t.file ("" for in-memory text) */
    struct cfg_pos    *pos;         /* positions from the pre-pass (empty for code-built configs) */
    uint32_t           npos, cappos;
    bool               has_seed;    /* hermes_config_set_seed(): handed to modules */
    uint64_t           seed;
    struct hermes__names posidx;    /* path -> index in pos */
    char              *text;        /* the YAML source, for positions inside sequences (NULL: none) */
    size_t             text_len;
    bool               pos_complete;  /* every node's position is recorded */
    /* Records the positions the pre-pass left out (inside sequences), on
     * first need; installed by the YAML front end with text, NULL otherwise,
     * so the error reporters never call into the pre-pass themselves. */
    void             (*pos_fill)(hermes_config_t *cfg);
    /* Set by a successful hermes_config_validate(), cleared by every change
     * that validate would have to look at again (hermes__config_changed). */
    atomic_bool        validated;
};

/* ------------------------------------------------------------------------ */
/* config.c: the handle                                                     */

/* Report out of memory (HERMES_ENOMEM with the config's message). */
int hermes__config_nomem(void);
/* Wipe and free an auth token. */
void hermes__config_free_token(char *token);
/* Module index of @p name (@p len bytes, not necessarily terminated), or -1. */
int hermes__config_find_module(const hermes_config_t *cfg, const char *name, size_t len);
/* Signal index of @p name in module @p m, or -1. */
int hermes__config_find_signal(const struct cfg_module *m, const char *name);
/* Enum words of a config file (the X-macro tables of config.h); 0 or -1. */
int hermes__mode_parse(const char *word, hermes_mode_t *out);
int hermes__module_type_parse(const char *word, hermes_module_type_t *out);
/* The accepted words for messages: "afap, realtime or single_frame",
 * "process, inproc, injection or fmu", "f64, f32, i64, i32 or bool". */
const char *hermes__mode_choices(void);
const char *hermes__module_type_choices(void);
const char *hermes__type_choices(void);

/* ------------------------------------------------------------------------ */
/* config/error.c: positions and error reports                              */

/* Record the position of the node at @p path (malloc'd; the config takes
 * it, also on failure). 0 or HERMES_ENOMEM. */
int hermes__config_pos_add(hermes_config_t *cfg, char *path, int kline, int kcol, int vline, int vcol, bool is_null);
/* The recorded node at exactly @p path, or NULL. A path inside a sequence
 * ("signals[3]") may first record the positions of every node. */
const struct cfg_pos *hermes__config_pos_find(const hermes_config_t *cfg, const char *path);

/* Fill @p err (optional) with "label:line:col: field: text", set the
 * thread's message and return @p code. line < 0: look @p field up in the
 * positions (its value, or the key of its nearest recorded ancestor). */
int hermes__config_failv(const hermes_config_t *cfg, hermes_error_t *err, int code, const char *field, int line,
                         int col, const char *fmt, va_list ap);
int hermes__config_fail(const hermes_config_t *cfg, hermes_error_t *err, int code, const char *field, int line,
                        int col, const char *fmt, ...) HERMES_PRINTF(7, 8);
/* Error at the recorded position of @p field. */
int hermes__config_field_fail(const hermes_config_t *cfg, hermes_error_t *err, int code, const char *field,
                              const char *fmt, ...) HERMES_PRINTF(5, 6);
/* HERMES_ECONFIG at the recorded key position of @p field (module names). */
int hermes__config_key_fail(const hermes_config_t *cfg, hermes_error_t *err, const char *field, const char *fmt,
                            ...) HERMES_PRINTF(4, 5);

/* ------------------------------------------------------------------------ */
/* config/validate.c: the rules shared by the builder and validate          */

/* NULL when acceptable, else the reason. */
const char *hermes__config_module_name_problem(const char *name);
const char *hermes__config_signal_name_problem(const char *module, const char *name);
bool hermes__config_type_valid(hermes_type_t t);
bool hermes__config_module_type_valid(hermes_module_type_t t);
const char *hermes__config_initial_problem(hermes_type_t t, double v, char *buf, size_t cap);
/* execution.checkpoint: NULL when acceptable, else the reason (the bad key, "file" or "at[i]", in @p key). */
const char *hermes__config_checkpoint_problem(const char *file, const double *at, uint32_t n, char *key, size_t cap);
/* Replace execution.checkpoint with copies. 0 or HERMES_ENOMEM. */
int hermes__config_store_checkpoint(hermes_config_t *cfg, const char *file, const double *at, uint32_t n);

/* execution.spin_us: NULL when acceptable, else the reason. */
const char *hermes__config_spin_problem(uint32_t us);
/* Execution section; on failure sets *field too. */
const char *hermes__config_exec_problem(const hermes_execution_t *e, const char **field, char *buf, size_t cap);
/* Server section: telemetry rate, host, access and limits. Writes the full
 * key ("server.max_clients") to @p field. */
const char *hermes__config_server_problem(const hermes_server_settings_t *srv, char *field, size_t fcap, char *buf,
                                          size_t cap);

/* Record section; writes the full key ("record.every") to @p field. */
const char *hermes__config_record_problem(const hermes_record_settings_t *rec, char *field, size_t fcap, char *buf,
                                          size_t cap);

/* ------------------------------------------------------------------------ */
/* rates.c: module rates                                                    */

/* Frames per step of a module at @p rate Hz in a run at @p base Hz (rate 0:
 * the base rate, 1); 0 when @p rate is not @p base divided by a whole number. */
uint32_t hermes__rate_divisor(double base, double rate);
/* NULL when @p rate / @p offset fit @p base, else the reason (naming rates that
 * work) with *key "rate_hz" or "offset". */
const char *hermes__config_rate_problem(double base, double rate, uint32_t offset, const char **key, char *buf,
                                        size_t cap);
/* Validate's rate rule for every module (modules.<m>.rate_hz / .offset). */
int hermes__config_check_rates(const hermes_config_t *cfg, hermes_error_t *err);
/* Every module's rate divides @p base (offsets aside). */
bool hermes__config_rates_fit(const hermes_config_t *cfg, double base);

/* ------------------------------------------------------------------------ */
/* config/build.c: appending without checks (validate checks)               */

/* Forget a successful validation: the config changed. */
void hermes__config_changed(hermes_config_t *cfg);
/* Append a module; takes ownership of @p path (already resolved). */
int hermes__config_add_module(hermes_config_t *cfg, const char *name, hermes_module_type_t type, char *path);
/* Takes @p name and @p unit (malloc'd, unit may be NULL or ""), also on failure. */
int hermes__config_add_signal(struct cfg_module *m, char *name, hermes_type_t type, char *unit, bool writable,
                              double initial);
int hermes__config_add_wire(hermes_config_t *cfg, const char *src, const char *dst, double gain, double offset);

/* ------------------------------------------------------------------------ */
/* config/prepass.c: the libyaml pre-pass                                   */

/* The execution.schedule read by the pre-pass: entry names, group numbers
 * and each entry's YAML path for messages (owned). */
struct hermes__yaml_schedule {
    bool      present;
    char    **names, **fields;
    uint32_t *group;
    uint32_t  n;
};
void hermes__yaml_schedule_free(struct hermes__yaml_schedule *sc);
/* Check the YAML shape of @p text and record the position of every node in
 * @p cfg. On success *names holds the module names in file order (owned,
 * free with hermes__free_strv), *count their number and *sched the schedule
 * (free with hermes__yaml_schedule_free); on failure nothing is owned. */
int hermes__config_prepass(hermes_config_t *cfg, hermes_error_t *err, const char *text, size_t len, char ***names,
                           uint32_t *count, struct hermes__yaml_schedule *sched);
/* The schedule read by the pre-pass: hermes_config_set_schedule_groups()
 * plus each entry's YAML path for messages (copied). */
int hermes__config_set_schedule_yaml(hermes_config_t *cfg, char *const *names, const uint32_t *group,
                                     char *const *fields, uint32_t n);
/* Record the position of every node of cfg->text (the pre-pass records only
 * those outside sequences). Once; best effort. The YAML front end installs it
 * as cfg->pos_fill. */
void hermes__config_pos_complete(hermes_config_t *cfg);

/* ------------------------------------------------------------------------ */
/* config/cyaml_log.c: what libcyaml's log says                             */

enum hermes__cyaml_kind {
    HERMES__CYAML_OTHER,          /* text holds the message */
    HERMES__CYAML_UNEXPECTED_KEY, /* arg: the key */
    HERMES__CYAML_MISSING_FIELD,  /* arg: the field */
    HERMES__CYAML_WRONG_TYPE,     /* arg: "expected a scalar, got a mapping" */
};

struct hermes__cyaml_report {
    enum hermes__cyaml_kind kind;
    char text[256];  /* first "Load: " message, without the prefix */
    char arg[160];
    char path[512];  /* dotted path of the innermost frame ("" at the top) */
    int  line, col;  /* of the innermost frame with a position; 0 when none */
};

/* Read libcyaml's captured log (English text; the forms it knows are in
 * config/cyaml_log.c). Never fails: unknown text gives HERMES__CYAML_OTHER. */
void hermes__cyaml_log_parse(const char *log, struct hermes__cyaml_report *out);

#endif
