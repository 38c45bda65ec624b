/** @file replay.h  Reading recordings: signals, frames, journal, CSV export and exact reruns.
 *
 * A hermes_recording_t is a read-only view of a file written by the recorder
 * (recorder.h, layout in docs/recording.md). Files of runs that were killed
 * (their SWMR consistency flags still set) open too: the reader falls back to
 * an SWMR-read open, never modifies the file, and sees every frame up to the
 * writer's last flush.
 *
 * A hermes_rerun_t drives a scheduler from a recording's command journal: it
 * checks that the scheduler's config matches the recorded one, then applies
 * every journal entry (set, pause, resume, step, reset, stop) at the frame
 * boundary where it was applied originally, through the scheduler's boundary
 * hook. With deterministic modules the rerun's data are bit-identical to the
 * recording's.
 *
 * A hermes_replay_t plays a recording back through the WebSocket server
 * (server.h): it fills a telemetry source (the schema comes from the file,
 * telemetry frames from the recorded rows) and a control table (pause,
 * resume, step, reset, seek; set is refused: a recording is read-only), and
 * advances through the rows at the recorded simulation-time pace times
 * speed.
 *
 * Needs libhdf5 at build time (meson option -Drecording); without it every
 * open/create fails with HERMES_ESTATE and a message saying how to enable it.
 *
 * Threading: a recording handle is used by one thread at a time (a replay
 * serialises its own uses internally). A rerun's
 * hook runs on the scheduler thread; create and destroy it while no thread is
 * inside hermes_scheduler_run(). The recording must outlive the rerun.
 * Ownership: strings returned are borrowed from the handle and live until it
 * is closed. */
#ifndef HERMES_REPLAY_H
#define HERMES_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "common.h"
#include "error.h"
#include "backplane.h"
#include "config.h"
#include "recorder.h"
#include "scheduler.h"
#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hermes_recording hermes_recording_t;
typedef struct hermes_rerun hermes_rerun_t;

/** One recorded signal (column of the recording). */
typedef struct hermes_recording_signal {
    const char   *name;       /**< qualified "module.signal" */
    hermes_type_t type;
    const char   *unit;       /**< "" when none */
    bool          writable;
    double        initial;
} hermes_recording_signal_t;

/** One journal entry: a command applied at a frame boundary. */
typedef struct hermes_journal_entry {
    uint64_t              tick;    /**< frames computed since stage when it was applied */
    uint64_t              frame;   /**< frame the run showed */
    hermes_command_kind_t kind;
    const char           *signal;  /**< SET: qualified name; else "" */
    double                value;   /**< SET */
    uint64_t              count;   /**< STEP */
} hermes_journal_entry_t;

/**
 * Open a recording read-only.
 * @return 0, HERMES_EINVAL (NULL argument), HERMES_ENOENT (no such file),
 *         HERMES_EABI (not a Hermes recording, or a newer format version),
 *         HERMES_ESYS (HDF5 cannot read it; message names the file),
 *         HERMES_ESTATE (recording not built), HERMES_ENOMEM.
 */
HERMES_API int hermes_recording_open(hermes_recording_t **out, const char *path);
/** Close. NULL is fine. */
HERMES_API void hermes_recording_close(hermes_recording_t *rec);

/** Number of recorded signals (columns). */
HERMES_API uint32_t hermes_recording_signal_count(const hermes_recording_t *rec);
/** Column @p i. @return 0, HERMES_EINVAL, HERMES_ENOENT (out of range). */
HERMES_API int hermes_recording_signal(const hermes_recording_t *rec, uint32_t i, hermes_recording_signal_t *out);
/** Column of a qualified name. @return 0 or HERMES_ENOENT. */
HERMES_API int hermes_recording_find(const hermes_recording_t *rec, const char *name, uint32_t *column);
/** Number of recorded frames (rows); for a killed run, the rows every series holds. */
HERMES_API uint64_t hermes_recording_rows(const hermes_recording_t *rec);
/** Simulation rate of the recorded run (frames per second of simulated time). */
HERMES_API double hermes_recording_rate_hz(const hermes_recording_t *rec);
/** Whether the writer closed the file (false for a killed run). */
HERMES_API bool hermes_recording_complete(const hermes_recording_t *rec);
/**
 * A string attribute of the root group ("run_id", "config", "mode",
 * "hermes_version", "start_time_utc", "end_reason", ...), or NULL when absent
 * (borrowed; valid until the next call of this function on @p rec).
 */
HERMES_API const char *hermes_recording_attr(hermes_recording_t *rec, const char *name);
/** A numeric attribute of the root group ("rate_hz", "overruns", "every", ...). @return 0 or HERMES_ENOENT. */
HERMES_API int hermes_recording_attr_number(hermes_recording_t *rec, const char *name, double *out);

/**
 * Read rows [first, first + count): @p values gets count * signal_count
 * doubles, row-major (row r, column k at r * signal_count + k); @p frames and
 * @p times get count numbers each. Each of the three may be NULL (not read;
 * frames and times alone read no signal values), but not all three.
 * @return 0, HERMES_EINVAL (all three NULL, range beyond rows), HERMES_ESYS.
 */
HERMES_API int hermes_recording_read(hermes_recording_t *rec, uint64_t first, uint64_t count, double *values,
                                     uint64_t *frames, double *times);

/** Number of journal entries. */
HERMES_API uint64_t hermes_recording_journal_count(const hermes_recording_t *rec);
/** Journal entry @p i in order. @return 0, HERMES_EINVAL, HERMES_ENOENT. */
HERMES_API int hermes_recording_journal(const hermes_recording_t *rec, uint64_t i, hermes_journal_entry_t *out);

/**
 * Write a CSV: a header `frame,time {s},NAME {UNIT},...` (just NAME when a
 * signal has no unit), then one line per recorded frame, values printed with
 * 17 significant digits (they read back bit for bit).
 * @param patterns  columns to export, patterns as in `subscribe`; NULL or 0: all
 * @return 0, HERMES_ENOENT (a pattern matches no recorded signal), HERMES_EINVAL
 *         (bad pattern), HERMES_ESYS (cannot write @p csv_path: message names it).
 */
HERMES_API int hermes_recording_export_csv(hermes_recording_t *rec, const char *csv_path,
                                           const char *const *patterns, uint32_t pattern_count);

/**
 * Write an MCAP file (docs/recording.md, "MCAP"): the live Foxglove server's
 * channels (one json channel per module of the exported signals, same JSON
 * Schema, topic names and message bytes, and /hermes with state, frame, time
 * and the recorded timing signals), one message per channel per recorded
 * frame, plus /hermes/events and /hermes/journal; log and publish time are the
 * frame's simulation time in ns. Metadata records "hermes" (run id, version,
 * seed, config hash, rate, ...), "module_rates" and "hermes.end"; the config
 * YAML as an attachment. Chunked, indexed, with a summary.
 * @param patterns  signals to export, patterns as in `subscribe`; NULL or 0: all
 * @return 0, HERMES_ENOENT (a pattern matches no recorded signal), HERMES_EINVAL,
 *         HERMES_ESTATE (compression not built in), HERMES_ESYS (cannot read the
 *         recording or write @p mcap_path: message names it), HERMES_ENOMEM.
 * @since 0.5
 */
HERMES_API int hermes_recording_export_mcap(hermes_recording_t *rec, const char *mcap_path,
                                            const char *const *patterns, uint32_t pattern_count,
                                            hermes_mcap_compression_t compression);

/**
 * Check that @p cfg describes the recorded run: same modules (name, type,
 * schedule position, content of their config files), same signals (name,
 * type, unit, writable, initial), same wires, same rate and end time (the
 * mode may differ).
 * @return 0 or HERMES_ECONFIG with a message saying the first difference.
 */
HERMES_API int hermes_recording_check_config(const hermes_recording_t *rec, const hermes_config_t *cfg);

/** Whether the recorded run started paused (attribute "start_paused"). */
HERMES_API bool hermes_recording_start_paused(hermes_recording_t *rec);

/**
 * Prepare a rerun of @p rec on @p s (created from a config that matches, see
 * hermes_recording_check_config(), and not yet running): installs the boundary
 * hook. The rerun stops the run at the recorded end (its stop entry, or the
 * last recorded frame for a killed run).
 * @return 0, HERMES_ECONFIG (config differs: message says how), HERMES_ENOENT
 *         (a journal entry names a signal the run lacks), HERMES_ESTATE (run()
 *         active), HERMES_ENOMEM.
 */
HERMES_API int hermes_rerun_create(hermes_rerun_t **out, hermes_recording_t *rec, hermes_scheduler_t *s);
/** Journal entries applied so far. Context: any thread after run() returned. */
HERMES_API uint64_t hermes_rerun_applied(const hermes_rerun_t *rr);
/** Remove the hook and free. NULL is fine. Not while run() is active. */
HERMES_API void hermes_rerun_destroy(hermes_rerun_t *rr);

/* ---- playing a recording back over the WebSocket protocol ---------------------- */

typedef struct hermes_replay hermes_replay_t;

typedef struct hermes_replay_config {
    uint32_t size;          /**< stamped by hermes_replay_config_init() */
    double   speed;         /**< playback speed: sim seconds per wall second; 0: 1.0 */
    bool     loop;          /**< start again from the first row at the end (else stop there) */
    bool     start_paused;  /**< begin paused at the first row */
} hermes_replay_config_t;

static inline void hermes_replay_config_init(hermes_replay_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->size = (uint32_t)sizeof *c;
}

/**
 * Prepare playback of @p rec (which must outlive the replay; it is then used
 * by the replay's threads only). The playback clock starts at
 * hermes_replay_start().
 * @return 0, HERMES_EINVAL (NULL, bad speed, config not initialised, a
 *         recording without rows), HERMES_ESTATE (recording not built), HERMES_ESYS, HERMES_ENOMEM.
 */
HERMES_API int hermes_replay_create(hermes_replay_t **out, hermes_recording_t *rec,
                                    const hermes_replay_config_t *cfg);
/** Fill @p out with the telemetry source to give hermes_server_create_source(). */
HERMES_API int hermes_replay_source(hermes_replay_t *rp, hermes_server_source_t *out);
/**
 * Fill @p out with the control table: pause, resume, step, reset and seek
 * act on the playback and post the protocol's events; set answers
 * HERMES_EREADONLY ("a recording played back is read-only"); state reports
 * running, paused or stopped (at the end without loop).
 */
HERMES_API int hermes_replay_control(hermes_replay_t *rp, hermes_server_control_t *out);
/** Start the playback clock (running unless start_paused). @return 0, HERMES_ESTATE (started twice), HERMES_ESYS. */
HERMES_API int hermes_replay_start(hermes_replay_t *rp);
/** Row shown now (0-based) and its frame number. Context: any thread. */
HERMES_API uint64_t hermes_replay_row(hermes_replay_t *rp, uint64_t *frame);
/** Stop the playback thread and free. Destroy the server first. NULL is fine. */
HERMES_API void hermes_replay_destroy(hermes_replay_t *rp);

#ifdef __cplusplus
}
#endif
#endif
