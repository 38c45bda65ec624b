/* The CLI's recording commands: `run --record/--rerun` wiring, `export`, `replay`. */
#ifndef HERMES_CLI_CMD_RECORD_H
#define HERMES_CLI_CMD_RECORD_H

#include <stdbool.h>
#include <hermes/hermes.h>

/* Exit status of a run whose recording failed (write error, disk full). */
#define CLI_EXIT_RECORDING 5

typedef void (*cli_log_fn)(hermes_log_level_t level, const char *fmt, ...);

/* Recording options of `hermes run` and their state during the run. */
struct cli_record {
    cli_log_fn  log;
    const char *record_path;    /* --record FILE (HDF5: any name but *.mcap) */
    const char *mcap_path;      /* --record FILE.mcap */
    const char *compression;    /* --record-compression zstd|lz4|none */
    hermes_mcap_compression_t mcap_comp;
    const char *signals;        /* --record-signals P1,P2 */
    unsigned long every;        /* --record-every N */
    double      rate_hz;        /* --record-rate HZ */
    const char *rerun_path;     /* --rerun FILE */
    char      **patterns;
    uint32_t    npatterns;
    hermes_recording_t *rerun_rec;
    hermes_rerun_t     *rerun;
    hermes_recorder_t  *rec;
};

/* Whether --record @p path names an MCAP file (by its extension). */
bool cli_is_mcap(const char *path);

/* Usage lines for `hermes run --help`. */
extern const char cli_record_usage[];

/* Handle one of the options (name without "--"). Returns 0 or 2 (message printed). */
int cli_record_option(struct cli_record *o, const char *name, const char *arg);
/* After the config is loaded and overridden: check recording support and the
 * rerun's recording; a rerun forces afap and the recorded start state
 * (*start_paused). Returns 0 or an exit status (message logged). */
int cli_record_prepare(struct cli_record *o, hermes_config_t *cfg, hermes_execution_t *ex, bool *start_paused);
/* After hermes_scheduler_create(), before stage: start recording / install the rerun. */
int cli_record_attach(struct cli_record *o, hermes_scheduler_t *s, bool start_paused);
/* After run(): close the recording with the end reason; returns the exit status to use. */
int cli_record_finish(struct cli_record *o, int status, const char *end_reason);
/* Free everything. */
void cli_record_cleanup(struct cli_record *o);

int cmd_export(int argc, char **argv);
int cmd_replay(int argc, char **argv);

#endif
