/** @file config.h  Simulation configuration: YAML loading, validation, building from code.
 *
 * A hermes_config_t describes modules and their signals, wiring, execution
 * settings and the optional server section. Load it from YAML with
 * hermes_config_load(), or build it in code with hermes_config_create() and
 * the add/set calls, then hermes_config_validate() before handing it to a
 * scheduler. Every rule that the YAML loader enforces after parsing (unique
 * names, schedule, wires, rates, module rates) is enforced by validate, so both paths give
 * the same errors.
 *
 * Threading: a config is a plain value: use it from one thread at a time.
 * Once validated and given to a scheduler it is only read, and may then be
 * read from several threads (hermes_config_validate() included).
 * Ownership: strings passed in are copied; strings returned are borrowed from
 * the config and live until it is destroyed or changed. */
#ifndef HERMES_CONFIG_H
#define HERMES_CONFIG_H

#include <stdbool.h>
#include "common.h"
#include "error.h"
#include "backplane.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hermes_config hermes_config_t;
struct hermes_inproc_module;

/** Module types: X(NAME, value, name in a config file). One table makes the
 *  enum, hermes_module_type_name() and the YAML loader's accepted words.
 *  - process:   separate executable, stepped through the backplane
 *  - inproc:    shared object (or host callbacks) stepped in the scheduler thread
 *  - injection: holds its declared signals, no dynamics
 *  - fmu:       FMI 2.0 co-simulation FMU stepped in the scheduler thread; its
 *               signals come from modelDescription.xml (docs/fmu.md) */
#define HERMES_MODULE_TYPE_TABLE(X)          \
    X(PROCESS,   1, "process")               \
    X(INPROC,    2, "inproc")                \
    X(INJECTION, 3, "injection")             \
    X(FMU,       4, "fmu")

#define HERMES_X_ENUM_(name, value, text) HERMES_MODULE_##name = (value),
typedef enum hermes_module_type {
    HERMES_MODULE_NONE = 0,
    HERMES_MODULE_TYPE_TABLE(HERMES_X_ENUM_)
} hermes_module_type_t;
#undef HERMES_X_ENUM_

/** Execution modes: X(NAME, value, name in a config file).
 *  - afap:         as fast as possible
 *  - realtime:     paced on CLOCK_MONOTONIC with absolute deadlines
 *  - single_frame: advances only on step requests */
#define HERMES_MODE_TABLE(X)                 \
    X(AFAP,         0, "afap")               \
    X(REALTIME,     1, "realtime")           \
    X(SINGLE_FRAME, 2, "single_frame")

#define HERMES_X_ENUM_(name, value, text) HERMES_MODE_##name = (value),
typedef enum hermes_mode {
    HERMES_MODE_TABLE(HERMES_X_ENUM_)
} hermes_mode_t;
#undef HERMES_X_ENUM_

/** Defaults applied when a field is absent. */
#define HERMES_DEFAULT_RATE_HZ       100.0
#define HERMES_DEFAULT_TELEMETRY_HZ  60.0
#define HERMES_DEFAULT_PORT          8765
#define HERMES_DEFAULT_HOST          "127.0.0.1"
#define HERMES_MAX_SPIN_US           1000  /**< largest execution.spin_us */
#define HERMES_MAX_MODULE_SIGNALS    262144u     /**< signals of one module (docs/config.md, "Limits") */
#define HERMES_MAX_SCHEMA_BYTES      (64u << 20) /**< estimated schema of a run with the server on ("Limits") */
#define HERMES_DEFAULT_STEP_TIMEOUT  5.0   /**< seconds a process module may take for one command */

/** Reserved module name of the timing-health signals; configs may not use it. */
#define HERMES_HEALTH_MODULE "hermes"

/** Read-only view of one module. */
typedef struct hermes_module_info {
    const char          *name;
    hermes_module_type_t type;
    const char          *path;         /**< resolved executable (process), library (inproc) or FMU (fmu); NULL otherwise */
    const char          *config_path;  /**< resolved module config, or NULL */
    uint32_t             arg_count;
    const char *const   *args;
    uint32_t             signal_count;
} hermes_module_info_t;

/** Read-only view of one wire. */
typedef struct hermes_wire_info {
    const char *src;     /**< qualified source signal */
    const char *dst;     /**< qualified writable destination */
    double      gain;
    double      offset;
} hermes_wire_info_t;

/** Execution section. */
typedef struct hermes_execution {
    hermes_mode_t mode;
    double        rate_hz;        /**< > 0, finite */
    double        end_time;       /**< seconds; valid only when has_end_time */
    bool          has_end_time;
    double        step_timeout;   /**< seconds, > 0 */
} hermes_execution_t;

/** Server section (the server itself is in server.h). */
typedef struct hermes_server_settings {
    bool        enabled;
    const char *host;          /**< default "127.0.0.1" */
    uint16_t    port;          /**< default 8765; 0 = ephemeral */
    double      telemetry_hz;  /**< default 60; must be in (0, 1000] */
    /* since 0.2: access control and limits; 0 / NULL = the server's default
     * (see hermes_server_config_t, which takes them one to one) */
    const char *auth_token;             /**< NULL: no token. Never logged; the CLI lets the
                                             HERMES_AUTH_TOKEN environment variable override it */
    bool        observers;              /**< clients without the token connect read-only */
    const char *const *allowed_origins; /**< extra browser origins; NULL when count is 0 */
    uint32_t    allowed_origin_count;
    uint32_t    max_clients;
    uint32_t    max_message_size;       /**< bytes */
    uint32_t    commands_per_second;
    uint32_t    max_patterns;
    uint32_t    max_json_depth;
    /* since 0.3 */
    bool        viewer_disabled;        /**< YAML "viewer: false": the server serves no built-in pages */
} hermes_server_settings_t;

/** Record section (since 0.3): what `hermes run` records (recorder.h records;
 *  the host wires it). Absent section: enabled false, everything 0/NULL. */
typedef struct hermes_record_settings {
    bool               enabled;       /**< the section is present (or was set in code) */
    const char        *file;          /**< HDF5 file to record to; NULL: none (the host decides, e.g. --record) */
    const char *const *signals;       /**< patterns as in `subscribe`; NULL when signal_count is 0 (every signal) */
    uint32_t           signal_count;
    uint32_t           every;         /**< record one frame in N; 0: every frame */
    double             rate_hz;       /**< instead of every: about this rate; 0: unused */
} hermes_record_settings_t;

/** Checkpoints `hermes run` takes (YAML `execution.checkpoint`, docs/checkpoints.md):
 *  the same as --checkpoint FILE --checkpoint-at T1,T2 (which override it, each
 *  on its own). Absent: file NULL, no times. */
typedef struct hermes_checkpoint_settings {
    const char   *file;      /**< a file, or with several times an existing folder
                                  (FILE/checkpoint-FRAME.hckpt); relative to the current directory */
    const double *at;        /**< sim times in seconds (>= 0, finite): the first frame at or after each;
                                  NULL when at_count is 0 */
    uint32_t      at_count;
} hermes_checkpoint_settings_t;

/**
 * Load and validate a YAML file. Relative module paths resolve against the
 * file's directory. On failure *out is NULL and @p err (optional) holds the
 * file, line, column, field and message; hermes_last_error() holds the same
 * message.
 * @return 0, HERMES_ECONFIG, HERMES_ENOENT (file missing), HERMES_ENOMEM.
 */
HERMES_API int hermes_config_load(hermes_config_t **out, const char *path, hermes_error_t *err);

/** Same as hermes_config_load() for text in memory; @p name is used in messages,
 *  @p base_dir resolves relative paths (NULL: current directory). */
HERMES_API int hermes_config_parse(hermes_config_t **out, const char *text, size_t len,
                                   const char *name, const char *base_dir, hermes_error_t *err);

/** Empty config (afap at 100 Hz, no end time, server disabled) to fill in code. */
HERMES_API int hermes_config_create(hermes_config_t **out);
HERMES_API void hermes_config_destroy(hermes_config_t *cfg);

/** Add a module. @p path is the executable (process) or library (inproc), else NULL.
 *  @return 0, HERMES_EINVAL, HERMES_EEXIST, HERMES_ENOMEM. */
HERMES_API int hermes_config_add_module(hermes_config_t *cfg, const char *name,
                                        hermes_module_type_t type, const char *path);
/** Give an inproc module host callbacks instead of a library (the table must outlive the scheduler;
 *  NULL clears). @return 0, HERMES_EINVAL (not an inproc module), HERMES_ENOENT, HERMES_EABI
 *  (table->abi_version is outside HERMES_INPROC_ABI_MIN..HERMES_INPROC_ABI_VERSION). */
HERMES_API int hermes_config_set_module_callbacks(hermes_config_t *cfg, const char *module,
                                                  const struct hermes_inproc_module *table);
/** Set the command-line arguments of a process module (copied; NULL/0 clears).
 *  @return 0, HERMES_EINVAL (not a process module), HERMES_ENOENT, HERMES_ENOMEM. */
HERMES_API int hermes_config_set_module_args(hermes_config_t *cfg, const char *module,
                                             const char *const *args, uint32_t count);
/** Set the module's own config file (`config:`), resolved against the current
 *  directory; NULL clears. Must exist at validate time.
 *  @return 0, HERMES_EINVAL, HERMES_ENOENT, HERMES_ENOMEM. */
HERMES_API int hermes_config_set_module_config(hermes_config_t *cfg, const char *module,
                                               const char *path);
/**
 * Run module @p module at its own rate (YAML `rate_hz` and `offset`, see
 * docs/config.md). The module steps on the frames f with
 * (f - offset) % divisor == 0, where divisor = execution.rate_hz / rate_hz
 * must be a whole number (the module's period is a whole number of base
 * frames), and is told dt = divisor / execution.rate_hz. Between its steps
 * its outputs hold their last value. @p rate_hz 0 (the default) is the base
 * rate; @p offset must be in [0, divisor).
 * Checked against the current execution.rate_hz with validate's rule; a
 * later hermes_config_set_execution() whose rate no longer fits makes
 * validate fail naming the module.
 * @return 0, HERMES_EINVAL (NULL, a rate above the base, one that does not
 *         divide it, or an offset out of range; the message names the rates
 *         that would work), HERMES_ENOENT (no such module).
 * @since 0.4
 */
HERMES_API int hermes_config_set_module_rate(hermes_config_t *cfg, const char *module, double rate_hz,
                                             uint32_t offset);
/** Append a signal to @p module. @return 0, HERMES_ENOENT, HERMES_EINVAL, HERMES_EEXIST, HERMES_ENOMEM. */
HERMES_API int hermes_config_add_signal(hermes_config_t *cfg, const char *module, const char *name,
                                        hermes_type_t type, const char *unit, bool writable, double initial);
/**
 * Override the initial value of signal @p signal ("module.signal") for runs
 * made from this config (`hermes run --set`, campaign dispersions). Read-only
 * signals may be overridden too: an initial value is an initial condition
 * (a vehicle's lift-off mass), not a write from outside the module during the
 * run. The value must fit the signal's type (finite; integral and in range
 * for i32/i64; 0 or 1 for bool; in range for f32), the same rule as
 * `initial:` in YAML. The outputs and locals of an FMU module are refused:
 * the FMU computes them in its initialisation, which would overwrite the
 * value (a campaign dispersing one would run the same case every time).
 * @return 0, HERMES_EINVAL (NULL, or not a qualified name), HERMES_ENOENT (no
 *         such signal), HERMES_ETYPE (value does not fit; message says why),
 *         HERMES_EREADONLY (an FMU output or local; since 0.5).
 * @since 0.2 (campaigns)
 */
HERMES_API int hermes_config_set_initial(hermes_config_t *cfg, const char *signal, double value);
/**
 * Give runs made from this config a seed: process modules find it in
 * HERMES_SEED (hermes_module_seed()), inproc modules in
 * hermes_inproc_env_t.seed (ABI version 2). No seed unless set.
 * @return 0 or HERMES_EINVAL (NULL cfg).
 * @since 0.2 (campaigns)
 */
HERMES_API int hermes_config_set_seed(hermes_config_t *cfg, uint64_t seed);
/** The seed set with hermes_config_set_seed().
 *  @return 0, HERMES_ENOENT (none set; hermes_last_error() untouched), HERMES_EINVAL. */
HERMES_API int hermes_config_seed(const hermes_config_t *cfg, uint64_t *out);
/** Append a wire dst = src * gain + offset. Checked by validate. */
HERMES_API int hermes_config_add_wire(hermes_config_t *cfg, const char *src, const char *dst,
                                      double gain, double offset);
/** Replace the execution section (schedule, spin_us and check_groups
 *  excluded). Checked in full (the same rule as validate): HERMES_EINVAL
 *  names the field. Keeps a validated config validated, unless a module
 *  rate (hermes_config_set_module_rate()) no longer divides the new rate:
 *  then validate fails naming the module. */
HERMES_API int hermes_config_set_execution(hermes_config_t *cfg, const hermes_execution_t *exec);
/** Set the schedule (module names); NULL/0 means file order. Every entry runs alone. */
HERMES_API int hermes_config_set_schedule(hermes_config_t *cfg, const char *const *modules, uint32_t count);
/**
 * Set a schedule with parallel groups (YAML `schedule: [a, [b, c], d]`).
 * Entry k is @p modules[k]; adjacent entries with equal @p group[k] form one
 * group whose members step concurrently within the frame; groups and single
 * entries run in order. Group numbers are only compared with their
 * neighbours: {0, 1, 1, 2} and {7, 3, 3, 9} mean the same. Within a group a
 * module must not read or write another member's signals during the step
 * (wires apply at frame boundaries, so wired inputs are fine). Inproc
 * members share min(inproc members, CPUs) threads, the scheduler thread
 * included (docs/config.md).
 * @p group NULL is hermes_config_set_schedule(). Copied.
 * @return 0, HERMES_EINVAL (NULL argument, or a group number that reappears
 *         after another one: members must be adjacent), HERMES_ENOMEM.
 * @since 0.2
 */
HERMES_API int hermes_config_set_schedule_groups(hermes_config_t *cfg, const char *const *modules,
                                                 const uint32_t *group, uint32_t count);
/** execution.spin_us: in realtime mode, busy-wait the last @p us microseconds
 *  before each frame's deadline instead of sleeping through them: tighter
 *  pacing for the price of a core (ignored when the process may use only one
 *  CPU). 0 (default) is off. @return 0, HERMES_EINVAL (NULL, or above
 *  HERMES_MAX_SPIN_US). @since 0.2 */
HERMES_API int hermes_config_set_spin_us(hermes_config_t *cfg, uint32_t us);
/** execution.check_groups: a debug mode that steps the members of every
 *  schedule group one at a time, in reverse order, and fails the run naming
 *  the frame, the module and the signal when a member changes a signal of
 *  another member of its group (see docs/config.md). Default false.
 *  @return 0 or HERMES_EINVAL. @since 0.2 */
HERMES_API int hermes_config_set_check_groups(hermes_config_t *cfg, bool on);
/** execution.restore: `state` (default: checkpoints hold each module's own
 *  state, every module needs state support) or `replay` (checkpoints hold the
 *  run's journal of sets and resets; a restore re-runs it afap from frame 0;
 *  for runs with modules that cannot save their state; docs/checkpoints.md).
 *  @return 0 or HERMES_EINVAL. @since 0.4 */
HERMES_API int hermes_config_set_restore_replay(hermes_config_t *cfg, bool on);
/** Whether execution.restore is replay. */
HERMES_API bool hermes_config_restore_replay(const hermes_config_t *cfg);
/** Replace the server section (strings copied; NULL host means default). Checks the
 *  telemetry rate (0 < telemetry_hz <= 1000), host, token and origin syntax and the
 *  limit ranges with validate's rules (HERMES_EINVAL, message names the key, never
 *  the token). Keeps a validated config validated. */
HERMES_API int hermes_config_set_server(hermes_config_t *cfg, const hermes_server_settings_t *srv);
/** Replace the record section (strings copied). Checked with validate's rule:
 *  every and rate_hz not both, rate_hz > 0, patterns "*", "prefix.*" or exact
 *  names, file not empty (HERMES_EINVAL, message names the key). Keeps a
 *  validated config validated. @return 0, HERMES_EINVAL, HERMES_ENOMEM. @since 0.3 */
HERMES_API int hermes_config_set_record(hermes_config_t *cfg, const hermes_record_settings_t *rec);
/** Set (copied) or clear (NULL) the record section's MCAP file; setting one
 *  enables the section. @return 0, HERMES_EINVAL (NULL cfg, empty path) or
 *  HERMES_ENOMEM. @since 0.5 */
HERMES_API int hermes_config_set_record_mcap(hermes_config_t *cfg, const char *path);
/** Set the checkpoint settings (copied); file NULL and at_count 0 clear them.
 *  @return 0, HERMES_EINVAL (NULL cfg or ck, a file without times or times
 *  without a file, an empty file, a time that is negative or not finite) or
 *  HERMES_ENOMEM. */
HERMES_API int hermes_config_set_checkpoint(hermes_config_t *cfg, const hermes_checkpoint_settings_t *ck);

/**
 * Check every cross-field rule (see the file comment), including that module
 * executables, libraries and config files exist.
 *
 * Validated once: a successful validation is remembered in the config, and
 * later calls return 0 at once until the config changes. hermes_config_load()
 * and hermes_config_parse() validate, so the scheduler's own call (and any
 * host's) costs nothing for a loaded config. Every add/set call forgets it,
 * except seven that keep a validated config validated:
 * hermes_config_set_execution() (unless a module rate no longer divides the
 * new base rate), hermes_config_set_server(), hermes_config_set_record(),
 * hermes_config_set_spin_us() and hermes_config_set_module_rate() check
 * what they change with validate's rules before they change it, and
 * hermes_config_set_check_groups() and hermes_config_set_seed() change nothing
 * validate checks. A remembered validation does not look at the file system
 * again.
 * @return 0 or HERMES_ECONFIG with @p err filled (HERMES_EINVAL for a NULL @p cfg).
 * Context: the first call after a change writes the remembered flag; calls
 * on a validated config only read it and are safe from several threads.
 */
HERMES_API int hermes_config_validate(const hermes_config_t *cfg, hermes_error_t *err);

HERMES_API uint32_t hermes_config_module_count(const hermes_config_t *cfg);
HERMES_API int hermes_config_module(const hermes_config_t *cfg, uint32_t i, hermes_module_info_t *out);
/** The rate of one module (hermes_config_module_rate()). @since 0.4 */
typedef struct hermes_module_rate {
    double   rate_hz;  /**< steps per second (the base rate unless set) */
    uint32_t divisor;  /**< steps every divisor-th frame (1: every frame) */
    uint32_t offset;   /**< ... on the frames f with (f - offset) % divisor == 0 */
    double   dt;       /**< divisor / execution.rate_hz: the dt its steps are told */
} hermes_module_rate_t;
/** Rate of module @p i. @return 0, HERMES_EINVAL, HERMES_ENOENT, HERMES_ECONFIG
 *  (its rate does not divide the base rate: the config does not validate). @since 0.4 */
HERMES_API int hermes_config_module_rate(const hermes_config_t *cfg, uint32_t i, hermes_module_rate_t *out);
/** Signal @p j of module @p i as a backplane spec (strings borrowed). */
HERMES_API int hermes_config_signal(const hermes_config_t *cfg, uint32_t i, uint32_t j,
                                    hermes_signal_spec_t *out);
HERMES_API uint32_t hermes_config_wire_count(const hermes_config_t *cfg);
HERMES_API int hermes_config_wire(const hermes_config_t *cfg, uint32_t i, hermes_wire_info_t *out);
/** Schedule: module indices in step order (default: file order). */
HERMES_API uint32_t hermes_config_schedule_count(const hermes_config_t *cfg);
HERMES_API int hermes_config_schedule_at(const hermes_config_t *cfg, uint32_t k, uint32_t *module_index);
/** Group of schedule entry @p k: entries with the same number step concurrently.
 *  Numbers are 0, 1, 2, ... in schedule order (one per group or single entry).
 *  @return 0, HERMES_EINVAL (NULL) or HERMES_ENOENT (no entry k). @since 0.2 */
HERMES_API int hermes_config_schedule_group(const hermes_config_t *cfg, uint32_t k, uint32_t *group);
HERMES_API int hermes_config_execution(const hermes_config_t *cfg, hermes_execution_t *out);
/** execution.spin_us (0 for NULL). @since 0.2 */
HERMES_API uint32_t hermes_config_spin_us(const hermes_config_t *cfg);
/** execution.check_groups (false for NULL). @since 0.2 */
HERMES_API bool hermes_config_check_groups(const hermes_config_t *cfg);
HERMES_API int hermes_config_server(const hermes_config_t *cfg, hermes_server_settings_t *out);
/** Record section; strings borrowed from the config. @since 0.3 */
HERMES_API int hermes_config_record(const hermes_config_t *cfg, hermes_record_settings_t *out);
/** The record section's MCAP file (YAML `record.mcap`, since 0.5): what `hermes
 *  run` also records as MCAP (recorder.h's mcap_path), beside or instead of
 *  record.file; NULL when none. Borrowed; lives until the config changes. */
HERMES_API const char *hermes_config_record_mcap(const hermes_config_t *cfg);
/** The checkpoint settings; borrowed, live until the config changes.
 *  @return 0 or HERMES_EINVAL (NULL argument). */
HERMES_API int hermes_config_checkpoint(const hermes_config_t *cfg, hermes_checkpoint_settings_t *out);
/** Path of the file it was loaded from, or NULL. */
HERMES_API const char *hermes_config_path(const hermes_config_t *cfg);

HERMES_API const char *hermes_mode_name(hermes_mode_t mode);
HERMES_API const char *hermes_module_type_name(hermes_module_type_t type);

#ifdef __cplusplus
}
#endif
#endif
