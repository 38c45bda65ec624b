/* Recorder internals shared by recorder.c (API, hooks), recorder_ring.c (the frame ring),
 * recorder_writer.c (the writer thread) and recorder_file.c (building and ending the file).
 *
 * Threading: the frame hook (scheduler thread) is the ring's only producer,
 * the writer thread its only consumer; head/tail are atomics and the slow
 * paths (ring full, writer idle) meet under `mu`. Events and journal entries
 * go through a small queue under `qmu`. Only the writer thread and
 * create/close touch HDF5, never at the same time. Private; never installed. */
#ifndef HERMES_LIB_RECORDING_RECORDER_PRIV_H
#define HERMES_LIB_RECORDING_RECORDER_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hermes/encoder.h"
#include "hermes/recorder.h"
#include "recording/layout.h"

#define HDR_WORDS 4u          /* tick, frame, time (seconds, f64 bits), time (ns: the MCAP log time) */
#define RING_BYTES (64u << 20)

struct qentry {
    int  is_event;
    union {
        struct rec_event_row   ev;
        struct rec_journal_row jr;
    } u;
};

struct hermes__mcap_run;

struct hermes_recorder {
    hermes_scheduler_t     *s;
    hermes_backplane_t     *bp;
    char                   *path;       /* the HDF5 file, or the MCAP file when there is none (messages) */
    bool                    h5;         /* an HDF5 file is written */
    char                    start_utc[64]; /* start_time_utc of both files */
    hermes_snapshot_plan_t *plan;
    uint32_t                n;          /* recorded signals */
    uint32_t                every;
    double                  flush_ns;

    /* ring */
    uint64_t       *hdr;                /* per slot: tick, frame, time (f64 bits) */
    double         *vals;               /* per slot: n values */
    uint64_t        cap;                /* slots */
    uint64_t        wake_fill;          /* frames buffered before the producer wakes the writer */
    _Atomic uint64_t head, tail;
    _Atomic int     writer_idle, producer_waiting, stopping;
    _Atomic int     failed;             /* 0 or HERMES_E* */
    char            errmsg[768];
    char            h5msg[256];         /* writer: HDF5 message of the first failing call */
    int             h5errno;
    pthread_mutex_t mu;
    pthread_cond_t  cv_data, cv_space;
    pthread_t       writer;
    bool            writer_started;
    _Atomic uint64_t last_tick;         /* set by the frame hook */

    /* events + journal */
    pthread_mutex_t qmu;
    struct qentry  *q;
    size_t          qlen, qcap;

    /* HDF5 */
    hid_t    file, d_data, d_frame, d_time, d_tick, d_events, d_journal;
    hid_t    t_event, t_journal;
    uint64_t rows, nevents, njournal;
    hsize_t  chunk_frames;

    /* MCAP (recorder_mcap.c; only the writer thread and create/close touch it) */
    char                    *mcap_path;
    struct hermes__mcap_run *mcap;
    hermes_signal_info_t    *mcap_info;   /* the recorded signals, column order */
    struct qentry           *mq;          /* events and journal entries waiting for a later frame */
    size_t                   mqlen, mqcap;

    /* stats */
    _Atomic uint64_t st_rows, st_stalls, st_flushes, st_busy_ns;
    bool closed;
    /* Test-only (environment HERMES_TEST_RECORDER_HOLD=1, read at create):
     * the writer holds each write until the producer waits for space, so a
     * test sees the slow-writer path (stalls, recording_behind) without timing. */
    bool hold;
};

/* ---- recorder_ring.c ---- */
/* Size and allocate the ring (after the file is built: it needs chunk_frames). */
int hermes__rec_ring_alloc(hermes_recorder_t *r, uint64_t ring_frames);
/* Producer: copy the current frame into the next slot, waiting for space
 * when the ring is full (counted as a stall). 0 or HERMES_E* with a message. */
int hermes__rec_ring_push(hermes_recorder_t *r, uint64_t frame, uint64_t tick);
/* Consumer: the first filled slot and how many follow contiguously (0: empty). */
uint64_t hermes__rec_ring_peek(hermes_recorder_t *r, uint64_t *pos);
/* Consumer: @p n slots are written; free them and wake a waiting producer. */
void hermes__rec_ring_release(hermes_recorder_t *r, uint64_t n);
/* Consumer: sleep until data, @p deadline_ns (monotonic) or a stop;
 * true when stopping and the ring is drained. */
bool hermes__rec_ring_idle(hermes_recorder_t *r, uint64_t deadline_ns);

/* ---- recorder_writer.c ---- */
void *hermes__rec_writer_main(void *arg);
/* Writer-side failure: remember the first one and wake the producer. */
void hermes__rec_writer_fail(hermes_recorder_t *r, const char *what, int err);

/* ---- recorder_file.c ---- */
/* Static part of the file: metadata, tables, the series; starts SWMR writing. */
int hermes__rec_file_build(hermes_recorder_t *r, const hermes_recorder_config_t *cfg, const uint32_t *idx);
/* Reopen without SWMR and write the end metadata. */
int hermes__rec_file_end(hermes_recorder_t *r, const char *reason);
/* Close every HDF5 id of the recorder (ids already closed are skipped). */
void hermes__rec_file_close(hermes_recorder_t *r);

/* ---- recorder_mcap.c ---- */
/* Create the MCAP file: schemas, channels, metadata, config attachment. */
int hermes__rec_mcap_open(hermes_recorder_t *r, const hermes_recorder_config_t *cfg, const uint32_t *idx);
/* Writer: queue entries taken from the event/journal queue (written before the first frame of a later tick). */
int hermes__rec_mcap_entries(hermes_recorder_t *r, const struct qentry *q, size_t n);
/* Writer: ring slots [pos, pos + n) as messages. */
int hermes__rec_mcap_rows(hermes_recorder_t *r, uint64_t pos, uint64_t n);
/* Writer: close a chunk that is a second old (a killed run loses at most about that). */
int hermes__rec_mcap_age(hermes_recorder_t *r);
/* After the writer stopped: the waiting entries, the end metadata, the summary. */
int hermes__rec_mcap_close(hermes_recorder_t *r, const char *reason);
/* Free what is left (the file keeps its complete chunks). */
void hermes__rec_mcap_free(hermes_recorder_t *r);
/* Writer-side MCAP failure: remember it (message from the MCAP writer) and wake the producer. */
void hermes__rec_mcap_fail(hermes_recorder_t *r);

/* ---- recorder_file.c ---- */
/* The whole text of a file (malloc'd), NULL when it cannot be read. */
char *hermes__rec_read_text(const char *path);
/* Each module's rate row (malloc'd, hermes_config_module_count() rows). */
struct rec_rate_row *hermes__rec_rate_rows(const hermes_config_t *hc, uint32_t *n);
/* Now, UTC, ISO 8601 with milliseconds. */
void hermes__rec_utc_now(char *buf, size_t cap);
/* Rows per HDF5 chunk for @p n signals (about 1 MiB); the writer's batches follow it. */
uint64_t hermes__rec_chunk_frames(uint32_t n);

#endif
