/* hermes campaign: private interface between the campaign file reader and the commands. */
#ifndef HERMES_CLI_CAMPAIGN_H
#define HERMES_CLI_CAMPAIGN_H

#include <stdbool.h>
#include <stdint.h>

#include <hermes/hermes.h>

/* Output kinds kept per run for a chosen signal. */
enum cmp_stat { STAT_FINAL = 0, STAT_MIN = 1, STAT_MAX = 2 };

struct cmp_dispersion {
    char                 *signal;     /* qualified name "module.signal" */
    hermes_distribution_t dist;
    double               *values;     /* choice values (owned) */
    int                   line, col;  /* its signal name in the campaign file, for messages */
};

struct cmp_output {
    char         *signal;
    enum cmp_stat stat;
    int           line, col;
};

struct campaign {
    char                  *path;        /* campaign file as given */
    char                  *base;        /* base config, resolved (absolute) */
    uint64_t               runs;
    uint64_t               seed;
    bool                   has_end_time;
    double                 end_time;
    struct cmp_dispersion *disp;
    uint32_t               ndisp;
    struct cmp_output     *out;
    uint32_t               nout;
    bool                   record;      /* record each run to runs/INDEX/recording.h5 (needs -Drecording) */
    char                  *restore;     /* checkpoint every run starts from, resolved (absolute), or NULL */
    int                    restore_line, restore_col;
    uint32_t               slurm_limit; /* %LIMIT of the array (0: none) */
    char                  *slurm_time;  /* --time, or NULL */
    char                  *slurm_partition;
    char                 **slurm_extra; /* extra #SBATCH lines' options */
    uint32_t               nslurm_extra;
};

/* Read and check CAMPAIGN.yaml (syntax, keys, types, distribution
 * parameters). `base:` is resolved against the file's directory (made
 * absolute; it need not exist yet). On failure returns -1 with
 * "FILE:LINE:COL: message" in @p err. */
int campaign_load(struct campaign *c, const char *path, char *err, size_t errcap);
void campaign_free(struct campaign *c);

/* Check the campaign against its base config: every dispersed and output
 * signal exists, distributions suit the signal type. -1 with a message. */
int campaign_check_config(const struct campaign *c, const hermes_config_t *cfg, char *err, size_t errcap);

/* Values of run @p index, one per dispersion; also the run seed.
 * -1 with a message (a value that does not fit the signal type, a truncation
 * window too narrow). */
int campaign_values(const struct campaign *c, const hermes_config_t *cfg, uint64_t index, double *values,
                    uint64_t *run_seed, char *err, size_t errcap);

const char *campaign_stat_name(enum cmp_stat s);

/* `hermes campaign ...` */
int cmd_campaign(int argc, char **argv, const char *argv0);

#endif
