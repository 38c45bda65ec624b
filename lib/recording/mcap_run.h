/* A run as an MCAP file (mcap_run.c), shared by the recorder's writer thread
 * (--record FILE.mcap) and `hermes export --mcap`: the live Foxglove server's
 * channels (server/foxglove/msg.c's catalog: one json channel per module with
 * the same JSON Schema, topic and message bytes, and /hermes), plus
 * /hermes/events and /hermes/journal; run metadata as Metadata records, the
 * YAML config as an Attachment. Log time = publish time = sim time (ns).
 * The state field of /hermes is the run state the recorded events give:
 * "paused" until the first event, then the state each event left.
 * Threading: one thread at a time. Private; never installed. */
#ifndef HERMES_LIB_RECORDING_MCAP_RUN_H
#define HERMES_LIB_RECORDING_MCAP_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "hermes/backplane.h"
#include "recording/layout.h"
#include "recording/mcap.h"

/* What the "hermes" Metadata record and the attachment say (strings borrowed for the call). */
typedef struct hermes__mcap_run_meta {
    const char                *run_id, *hermes_version, *mode, *start_time_utc, *source;
    const char                *config_text, *config_path;  /* the attachment; NULL text: none */
    double                     rate_hz;                    /* of the run: event times */
    uint32_t                   every;
    bool                       has_seed;
    uint64_t                   seed;
    const struct rec_rate_row *rates;                      /* "module_rates" Metadata record */
    uint32_t                   nrates;
} hermes__mcap_run_meta_t;

typedef struct hermes__mcap_run hermes__mcap_run_t;

/* Create @p path for the @p n signals @p info[0..n) (column k of a frame's
 * values is info[k]; strings borrowed, must outlive the run) and write the
 * schemas, channels, metadata and attachment.
 * @return 0, HERMES_ESTATE (compression not built in), HERMES_ESYS, HERMES_ENOMEM. */
int hermes__mcap_run_open(hermes__mcap_run_t **out, const char *path, hermes_mcap_compression_t comp,
                          const hermes_signal_info_t *info, uint32_t n, const hermes__mcap_run_meta_t *meta);
/* One recorded frame: one message per channel. Events given with a tick
 * below @p tick must have been given before (they set the state). */
int hermes__mcap_run_frame(hermes__mcap_run_t *r, uint64_t frame, uint64_t time_ns, const double *values);
int hermes__mcap_run_event(hermes__mcap_run_t *r, const struct rec_event_row *e);
int hermes__mcap_run_journal(hermes__mcap_run_t *r, const struct rec_journal_row *j);
/* Close the chunk when it is @p max_age_ns old (wall time). */
int hermes__mcap_run_age(hermes__mcap_run_t *r, uint64_t max_age_ns);
/* The "hermes.end" Metadata record (@p end: pairs, may be 0), the summary; frees @p r. */
int hermes__mcap_run_close(hermes__mcap_run_t *r, const hermes__mcap_kv_t *end, size_t n);
/* Free without ending the file (it keeps its complete chunks). NULL is fine. */
void hermes__mcap_run_abort(hermes__mcap_run_t *r);
hermes__mcap_t *hermes__mcap_run_writer(hermes__mcap_run_t *r);

/* Sim time of @p frame at @p rate_hz, as the scheduler computes it. */
uint64_t hermes__mcap_frame_ns(uint64_t frame, double rate_hz);

#endif
