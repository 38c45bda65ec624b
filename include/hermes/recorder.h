/** @file recorder.h  Recording a run to an HDF5 file, an MCAP file, or both.
 *
 * A recorder attaches to a scheduler (its frame, command and event hooks,
 * scheduler.h) and writes the published values of the chosen signals, frame
 * by frame, to an HDF5 file laid out for people (docs/recording.md): every
 * signal readable by its name (`/vehicle/position.altitude`), `frame`, `time`
 * and `tick` series, type and unit as attributes, run metadata as attributes
 * of the root group, state events and the command journal as tables.
 *
 * Lossless, off the hot path: on the scheduler thread the frame hook only
 * copies the recorded values of the frame into a ring; a writer thread owned
 * by the recorder does every HDF5 call. When the ring is full the scheduler
 * thread waits for the writer (afap runs get slower, realtime frames count as
 * overruns): no frame is ever dropped. The writer flushes at least every
 * flush_interval seconds (HDF5 SWMR), so a run killed with SIGKILL leaves a
 * readable file holding every frame up to the last flush.
 *
 * The MCAP file (mcap_path) is written by the same writer thread from the
 * same frames: the live Foxglove server's channels and messages, chunks
 * closed at 1 MiB and at least once a second of wall time, so a killed run
 * leaves a file that MCAP readers read up to its last complete chunk.
 *
 * A write error (disk full, file size limit, I/O error) makes the next frame
 * hook fail: the run stops with HERMES_ESYS and an error naming the file
 * (hermes_scheduler_error()), and hermes_recorder_status() reports it.
 *
 * Recording needs libhdf5 at build time (meson option -Drecording). Without
 * it hermes_recording_supported() is false and hermes_recorder_create()
 * fails with HERMES_ESTATE and a message saying how to enable it.
 *
 * Threading: create, close and destroy from one thread, while no thread is
 * inside hermes_scheduler_run() of that scheduler (the hooks are installed at
 * create and removed at close). hermes_recorder_stats() and
 * hermes_recorder_status() are safe from any thread. The recorder uses the
 * scheduler's frame, command and event hook slots.
 * Ownership: strings in the config are copied. The scheduler must outlive
 * the recorder. */
#ifndef HERMES_RECORDER_H
#define HERMES_RECORDER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "common.h"
#include "error.h"
#include "scheduler.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hermes_recorder hermes_recorder_t;

/** Chunk compression of MCAP files (docs/recording.md, "MCAP"). */
typedef enum hermes_mcap_compression {
    HERMES_MCAP_ZSTD = 0,  /**< default (needs libzstd at build time) */
    HERMES_MCAP_LZ4 = 1,   /**< LZ4 frames (needs liblz4 at build time) */
    HERMES_MCAP_NONE = 2   /**< uncompressed chunks */
} hermes_mcap_compression_t;

/** Whether this library was built with chunk compression @p c (none always is). Context: any thread. */
HERMES_API bool hermes_mcap_compression_supported(hermes_mcap_compression_t c);
/**
 * Compression named "zstd", "lz4" or "none".
 * @return 0, HERMES_EINVAL (unknown name, NULL argument) or HERMES_ESTATE (not
 *         built in: the message says which -dev package to install).
 * Context: any thread.
 */
HERMES_API int hermes_mcap_compression_parse(const char *name, hermes_mcap_compression_t *out);

/** Version of the file layout, stored as attribute "format_version".
 *  2: signals are read by name through /signals and /data (no per-signal
 *  dataset); 1 also had a virtual dataset per signal. The reader reads both. */
#define HERMES_RECORDING_FORMAT_VERSION 2
/** Value of the root attribute "format". */
#define HERMES_RECORDING_FORMAT "hermes-recording"
/** Default seconds between flushes. */
#define HERMES_RECORDER_DEFAULT_FLUSH 0.5

typedef struct hermes_recorder_config {
    uint32_t           size;           /**< stamped by hermes_recorder_config_init() */
    const char        *path;           /**< HDF5 file to create; an existing file is replaced; NULL when
                                            mcap_path is given and no HDF5 file is wanted */
    const char *const *signals;        /**< patterns as in `subscribe` ("*", "module.*", exact names);
                                            NULL or 0 patterns: every signal */
    uint32_t           signal_count;
    uint32_t           every;          /**< record frames whose number is a multiple of N; 0 or 1: every frame */
    double             rate_hz;        /**< instead of every: N = round(run rate / rate_hz), at least 1; 0: unused */
    const char        *config_text;    /**< stored as attribute "config"; NULL: the text of hermes_config_path() */
    bool               start_paused;   /**< stored as attribute "start_paused" (a rerun starts the same way) */
    double             flush_interval; /**< seconds between flushes, (0, 1]; 0: HERMES_RECORDER_DEFAULT_FLUSH */
    uint32_t           ring_frames;    /**< frames buffered between scheduler and writer; 0: automatic
                                            (about 64 MiB, 64 to 65536 frames) */
    const char        *mcap_path;      /**< (since 0.5) also write this MCAP file (docs/recording.md, "MCAP"),
                                            from the same frames; with path NULL, only this file. NULL: none */
    hermes_mcap_compression_t mcap_compression; /**< (since 0.5) chunk compression of mcap_path; 0: zstd */
} hermes_recorder_config_t;

static inline void hermes_recorder_config_init(hermes_recorder_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->size = (uint32_t)sizeof *c;
}

/** Counters of a recorder. */
typedef struct hermes_recorder_stats {
    uint64_t rows;        /**< frames written to the file */
    uint64_t bytes;       /**< signal data written (rows * signals * 8) */
    uint64_t stalls;      /**< times the scheduler thread waited for ring space */
    uint64_t flushes;     /**< HDF5 flushes done */
    double   writer_seconds; /**< wall time the writer spent writing and flushing (not waiting for frames) */
    uint32_t signals;     /**< recorded signals per frame */
    uint32_t every;       /**< decimation in effect */
} hermes_recorder_stats_t;

/** Whether this library was built with recording (libhdf5). Context: any thread. */
HERMES_API bool hermes_recording_supported(void);

/**
 * Create the file, install the hooks on @p s and start the writer thread.
 * Call after hermes_scheduler_create() and before hermes_scheduler_stage()
 * (or while staged and paused: the current frame is then recorded as frame 0).
 * @return 0, HERMES_EINVAL (NULL argument, neither path nor mcap_path,
 *         config not initialised, bad interval or rate, a module named like a
 *         file dataset), HERMES_ENOENT (a pattern matches no signal),
 *         HERMES_ESTATE (run() active, hooks already taken, recording or the
 *         MCAP compression not built), HERMES_ESYS (a file cannot be created:
 *         message names it), HERMES_ENOMEM.
 */
HERMES_API int hermes_recorder_create(hermes_recorder_t **out, hermes_scheduler_t *s,
                                      const hermes_recorder_config_t *cfg);

/**
 * Remove the hooks, write every buffered frame, store the end metadata
 * (attributes end_reason, end_time_utc, overruns, frames, ticks) and close the
 * file. Call after run() returned. Idempotent.
 * @param end_reason  free text such as "end_time", "stopped", "error: ..." (copied; NULL: "closed")
 * @return 0, or the writer's error code (HERMES_ESYS) with its message.
 */
HERMES_API int hermes_recorder_close(hermes_recorder_t *r, const char *end_reason);

/** Close (reason "closed") if needed and free. NULL is fine. */
HERMES_API void hermes_recorder_destroy(hermes_recorder_t *r);

/** 0 while healthy, else the writer's error code (message in hermes_recorder_errmsg()). Context: any thread. */
HERMES_API int hermes_recorder_status(const hermes_recorder_t *r);
/** Message of the writer's error, "" when none (borrowed; lives with @p r). */
HERMES_API const char *hermes_recorder_errmsg(const hermes_recorder_t *r);
/** Counters. @return 0 or HERMES_EINVAL. Context: any thread. */
HERMES_API int hermes_recorder_stats(const hermes_recorder_t *r, hermes_recorder_stats_t *out);
/** Path of the file (borrowed; lives with @p r). */
HERMES_API const char *hermes_recorder_path(const hermes_recorder_t *r);

#ifdef __cplusplus
}
#endif
#endif
