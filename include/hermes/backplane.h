/** @file backplane.h  Shared-memory backplane of named signals.
 *
 * One POSIX shared-memory segment per run holds a header (magic, layout
 * version, published frame and time, a publication counter), a signal
 * directory, a per-module control area for process-module handshakes and
 * 64-byte aligned regions of 8-byte slots, one slot per signal: the *live*
 * region that modules read and write while a frame runs, and two copies of
 * the *published* region that hold completed frames. Every value is stored
 * as a double whatever its declared type.
 *
 * Consistency: the publication is double-buffered. Publish number n copies
 * the live region into copy n & 1 (the one readers of the latest frame are
 * not using) and then sets the counter to n. Snapshot readers copy from copy
 * counter & 1 and retry if the counter moved while they copied, so a reader
 * has a whole frame period to copy, never sees a torn frame and never blocks
 * the writer; the writer's cost is one memcpy of the slots.
 *
 * Threading: a handle may be shared between threads. Reads, writes, find,
 * info and snapshot are safe from any thread; publish must be called by one
 * thread at a time (the scheduler thread). create/open/destroy are not
 * thread-safe with respect to other calls on the same handle.
 * Ownership: the creator owns the segment and unlinks it on destroy; a handle
 * from hermes_backplane_open() only unmaps. */
#ifndef HERMES_BACKPLANE_H
#define HERMES_BACKPLANE_H

#include <stdbool.h>
#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hermes_backplane hermes_backplane_t;

/** Declared signal types; values are stored as f64. Values cross processes: fixed numbers.
 *  i64 holds the doubles nearest to the int64 values: integers in
 *  [-2^63, 2^63], exact up to 2^53 in magnitude, rounded to the nearest
 *  double above (2^63 stands for INT64_MAX, which no double equals). */
typedef enum hermes_type {
    HERMES_TYPE_NONE = 0,
    HERMES_TYPE_F64  = 1,
    HERMES_TYPE_F32  = 2,
    HERMES_TYPE_I64  = 3,
    HERMES_TYPE_I32  = 4,
    HERMES_TYPE_BOOL = 5
} hermes_type_t;

/** Longest qualified signal name ("module.signal"), without the NUL. */
#define HERMES_MAX_NAME 127
/** Longest module name, without the NUL. */
#define HERMES_MAX_MODULE_NAME 63
/** Longest unit string, without the NUL. */
#define HERMES_MAX_UNIT 31

/** Handle of one signal: slot index plus the backplane's tag, so an id from
 *  another backplane gets HERMES_ENOENT instead of the wrong value. */
typedef struct hermes_signal {
    uint32_t index;
    uint32_t tag;
} hermes_signal_t;

/** One signal to create. Strings are copied. */
typedef struct hermes_signal_spec {
    const char   *module;    /**< owning module name @nonnull */
    const char   *name;      /**< local name, e.g. "position.x" @nonnull */
    hermes_type_t type;      /**< HERMES_TYPE_NONE means f64 */
    const char   *unit;      /**< NULL or "" for none */
    bool          writable;  /**< may be written from outside its module */
    double        initial;   /**< value at create and after reset; must fit @ref type */
} hermes_signal_spec_t;

/** What hermes_backplane_create() builds. */
typedef struct hermes_backplane_config {
    uint32_t size;                       /**< stamped by hermes_backplane_config_init() */
    const char *run_name;                /**< NULL: generated "hermes-<pid>-<random>"; segment is "/<run_name>" */
    const hermes_signal_spec_t *signals; /**< @ref signal_count specs */
    uint32_t signal_count;
    const char *const *modules;          /**< module names owning a control block; NULL: modules of @ref signals in order of first appearance */
    uint32_t module_count;
} hermes_backplane_config_t;

static inline void hermes_backplane_config_init(hermes_backplane_config_t *cfg)
{
    const hermes_backplane_config_t zero = {0, NULL, NULL, 0, NULL, 0};
    *cfg = zero;
    cfg->size = (uint32_t)sizeof *cfg;
}

/** Directory entry of one signal. Strings are borrowed from the mapping and
 *  live as long as the handle. */
typedef struct hermes_signal_info {
    hermes_signal_t id;
    const char     *name;        /**< qualified "module.signal" */
    const char     *module;      /**< module part */
    const char     *local_name;  /**< part after "module." */
    const char     *unit;        /**< "" when none */
    hermes_type_t   type;
    bool            writable;
    double          initial;
    uint32_t        module_index;
} hermes_signal_info_t;

/**
 * Create and map a new segment holding every signal at its initial value.
 * @return 0, HERMES_EINVAL (NULL or uninitialised config, bad spec, duplicate
 *         or over-long name, initial not fitting its type, run name not 1-63
 *         characters of [A-Za-z0-9._-]), HERMES_EEXIST (run name in use), HERMES_ENOMEM
 *         or HERMES_ESYS.
 */
HERMES_API int hermes_backplane_create(hermes_backplane_t **out, const hermes_backplane_config_t *cfg);

/**
 * Attach to an existing segment by run name (with or without leading '/'),
 * typically from another process.
 * @return 0, HERMES_EINVAL (NULL argument, invalid run name), HERMES_ENOENT
 *         (no such segment), HERMES_EABI (too small, bad magic or layout
 *         version), HERMES_ENOMEM or HERMES_ESYS.
 */
HERMES_API int hermes_backplane_open(hermes_backplane_t **out, const char *run_name);

/** Unmap; the creator also unlinks the segment. NULL is fine. */
HERMES_API void hermes_backplane_destroy(hermes_backplane_t *bp);

/** Run name (without '/'), borrowed for the life of the handle. */
HERMES_API const char *hermes_backplane_name(const hermes_backplane_t *bp);

/** Number of signals. Context: any thread, RT-safe. */
HERMES_API uint32_t hermes_backplane_count(const hermes_backplane_t *bp);
/** Number of modules with a control block. */
HERMES_API uint32_t hermes_backplane_module_count(const hermes_backplane_t *bp);
/** Name of module @p i, or NULL when out of range (borrowed). */
HERMES_API const char *hermes_backplane_module_name(const hermes_backplane_t *bp, uint32_t i);

/** Look up a qualified name once. @return 0, HERMES_EINVAL (NULL argument) or HERMES_ENOENT. */
HERMES_API int hermes_backplane_find(const hermes_backplane_t *bp, const char *qualified_name,
                                     hermes_signal_t *out);
/** Directory entry @p index (0 .. count-1). @return 0, HERMES_EINVAL (NULL argument) or HERMES_ENOENT. */
HERMES_API int hermes_backplane_info(const hermes_backplane_t *bp, uint32_t index,
                                     hermes_signal_info_t *out);

/** Read the live value. @return 0 or HERMES_ENOENT (invalid id, or @p out NULL). Context: any thread, RT-safe. */
HERMES_API int hermes_backplane_read(const hermes_backplane_t *bp, hermes_signal_t sig, double *out);

/**
 * Write the live value after checking it fits the declared type (finite
 * integer within range for i32/i64, 0 or 1 for bool, within float range for
 * f32; f64 accepts anything). This is the raw path: it does not check the
 * writable flag (the scheduler does, for writes from outside a module).
 * @return 0, HERMES_ENOENT or HERMES_ETYPE. Context: any thread, RT-safe.
 */
HERMES_API int hermes_backplane_write(hermes_backplane_t *bp, hermes_signal_t sig, double value);

/** Check that @p value fits @p type without writing anything. @return 0 or HERMES_ETYPE. */
HERMES_API int hermes_type_check(hermes_type_t type, double value);
/** "f64", "f32", "i64", "i32", "bool" (or "none"). */
HERMES_API const char *hermes_type_name(hermes_type_t type);
/** Parse a type name. @return 0 or HERMES_EINVAL. */
HERMES_API int hermes_type_parse(const char *name, hermes_type_t *out);

/**
 * Direct pointer to the live slot of @p sig (zero copy), valid while the
 * handle lives; NULL for an invalid id. Writes through it skip type checks.
 */
HERMES_API double *hermes_backplane_slot(hermes_backplane_t *bp, hermes_signal_t sig);

/** Frame number of the last published frame. Context: any thread, RT-safe. */
HERMES_API uint64_t hermes_backplane_frame(const hermes_backplane_t *bp);
/** Simulation time of the last published frame, integer nanoseconds. */
HERMES_API uint64_t hermes_backplane_time_ns(const hermes_backplane_t *bp);

/**
 * Publish the live region as completed frame @p frame at @p time_ns.
 * Context: one writer thread at a time; RT-safe (one memcpy, no locks).
 */
HERMES_API void hermes_backplane_publish(hermes_backplane_t *bp, uint64_t frame, uint64_t time_ns);

/**
 * Consistent copy of @p n published values (by slot index) plus the frame and
 * time they belong to, all from one completed frame. Never blocks the
 * writer; retries while a publish is in progress.
 * @param indices slot indices (hermes_signal_t.index), each < count
 * @param out     @p n doubles; may be NULL when n == 0
 * @param frame   optional
 * @param time_ns optional
 * @return 0, HERMES_EINVAL (NULL argument, index out of range) or
 *         HERMES_EAGAIN when a publish overtook every copy for 10 ms of retries.
 * Context: any thread, RT-safe.
 */
HERMES_API int hermes_backplane_snapshot(const hermes_backplane_t *bp, const uint32_t *indices,
                                         size_t n, double *out, uint64_t *frame, uint64_t *time_ns);

/** A precompiled snapshot: the signal list validated once and split into
 *  runs of consecutive slots, so a snapshot costs a few memcpy calls.
 *  Immutable after creation: one plan may be used from several threads. */
typedef struct hermes_snapshot_plan hermes_snapshot_plan_t;

/**
 * Compile @p n slot indices of @p bp into a plan (indices copied). Values come
 * out in the order given. @return 0, HERMES_EINVAL (NULL argument, index out
 * of range) or HERMES_ENOMEM.
 */
HERMES_API int hermes_snapshot_plan_create(hermes_snapshot_plan_t **out, const hermes_backplane_t *bp,
                                           const uint32_t *indices, size_t n);
/** Free a plan. NULL is fine. */
HERMES_API void hermes_snapshot_plan_destroy(hermes_snapshot_plan_t *plan);
/** Number of values a snapshot with @p plan writes. */
HERMES_API size_t hermes_snapshot_plan_count(const hermes_snapshot_plan_t *plan);

/**
 * Same guarantees as hermes_backplane_snapshot() for the plan's signals.
 * @return 0, HERMES_EINVAL (NULL argument, plan made for another backplane)
 *         or HERMES_EAGAIN (as hermes_backplane_snapshot()).
 * Context: any thread, RT-safe.
 */
HERMES_API int hermes_backplane_snapshot_plan(const hermes_backplane_t *bp, const hermes_snapshot_plan_t *plan,
                                              double *out, uint64_t *frame, uint64_t *time_ns);

/** Name prefix of every segment the library creates ("hermes-"). */
#define HERMES_SEGMENT_PREFIX "hermes-"

/** Called by hermes_backplane_sweep() once per stale segment. @p name is the
 *  run name (no '/'), borrowed for the call; @p removed tells whether it was
 *  unlinked (false in a dry run or when unlinking failed). */
typedef void (*hermes_sweep_fn)(void *ctx, const char *name, int owner_pid, bool removed);

/**
 * Find stale segments: `/dev/shm/hermes-*` whose owner process no longer
 * exists (kill(owner, 0) fails with ESRCH). The owner is the header's
 * owner_pid, or for a segment without a valid header the pid in a generated
 * name "hermes-<pid>-..."; segments of live owners, of other users and
 * without a known owner are never touched. With @p remove, stale segments
 * are unlinked (processes that still map one keep their mapping).
 * Used by `hermes clean` and at scheduler start-up.
 * @param cb   optional, called for every stale segment
 * @return the number of stale segments found (>= 0), or HERMES_ESYS when
 *         /dev/shm cannot be read.
 * Context: any thread.
 */
HERMES_API int hermes_backplane_sweep(bool remove, hermes_sweep_fn cb, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
