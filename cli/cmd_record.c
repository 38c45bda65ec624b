/* `hermes run --record/--rerun` wiring and `hermes export`. Public API only. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_record.h"

const char cli_record_usage[] =
    "  --record FILE          record the run (docs/recording.md): FILE.mcap an MCAP\n"
    "                         file (Foxglove, Lichtblick, PlotJuggler), any other name\n"
    "                         HDF5; give it twice (a.h5, b.mcap) for both\n"
    "  --record-compression C MCAP chunks: zstd (default), lz4 or none\n"
    "  --record-signals LIST  comma-separated patterns as in subscribe (default *)\n"
    "  --record-every N       record one frame in N (default 1: every frame)\n"
    "  --record-rate HZ       record at about HZ (instead of --record-every)\n"
    "  --rerun FILE.h5        rerun a recording exactly: same config, afap, its\n"
    "                         command journal applied at the same frames\n";

static int split_patterns(struct cli_record *o)
{
    if (!o->signals)
        return 0;
    char *copy = strdup(o->signals);
    if (!copy)
        return -1;
    size_t n = 1;
    for (const char *p = copy; *p; p++)
        n += *p == ',';
    o->patterns = calloc(n, sizeof *o->patterns);
    if (!o->patterns) {
        free(copy);
        return -1;
    }
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (*t)
            o->patterns[o->npatterns++] = strdup(t);
    }
    free(copy);
    return 0;
}

bool cli_is_mcap(const char *path)
{
    size_t n = strlen(path);
    return n >= 5 && !strcmp(path + n - 5, ".mcap");
}

int cli_record_option(struct cli_record *o, const char *name, const char *arg)
{
    if (!strcmp(name, "record")) {
        const char **slot = cli_is_mcap(arg) ? &o->mcap_path : &o->record_path;
        if (*slot) {
            fprintf(stderr, "hermes run: --record is given twice for %s files ('%s', '%s'); give one HDF5 and "
                            "one .mcap file at most\n", slot == &o->mcap_path ? "MCAP" : "HDF5", *slot, arg);
            return 2;
        }
        *slot = arg;
    } else if (!strcmp(name, "record-compression")) {
        o->compression = arg;
    } else if (!strcmp(name, "record-signals")) {
        o->signals = arg;
    } else if (!strcmp(name, "record-every")) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(arg, &end, 10);
        if (errno || *end || end == arg || v == 0 || v > 1000000000ul || arg[0] == '-') {
            fprintf(stderr, "hermes run: --record-every needs an integer >= 1, got '%s'\n", arg);
            return 2;
        }
        o->every = v;
    } else if (!strcmp(name, "record-rate")) {
        char *end;
        errno = 0;
        double v = strtod(arg, &end);
        if (errno || *end || end == arg || !isfinite(v) || v <= 0) {
            fprintf(stderr, "hermes run: --record-rate needs a positive number of Hz, got '%s'\n", arg);
            return 2;
        }
        o->rate_hz = v;
    } else if (!strcmp(name, "rerun")) {
        o->rerun_path = arg;
    }
    return 0;
}

int cli_record_prepare(struct cli_record *o, hermes_config_t *cfg, hermes_execution_t *ex, bool *start_paused)
{
    /* The config's record: section gives the defaults; the options win. */
    hermes_record_settings_t rs;
    hermes_config_record(cfg, &rs);
    bool cli_rate = o->every || o->rate_hz > 0;
    /* record.file (HDF5, or MCAP by its extension) and record.mcap, unless --record was given. */
    if (!o->record_path && !o->mcap_path) {
        if (rs.file)
            *(cli_is_mcap(rs.file) ? &o->mcap_path : &o->record_path) = rs.file;
        const char *ym = hermes_config_record_mcap(cfg);
        if (ym && o->mcap_path && strcmp(ym, o->mcap_path)) {
            fprintf(stderr, "hermes run: record.file '%s' and record.mcap '%s' are both MCAP files; name one\n",
                    o->mcap_path, ym);
            return 2;
        }
        if (ym)
            o->mcap_path = ym;
    }
    if (!cli_rate) {
        o->every = rs.every;
        o->rate_hz = rs.rate_hz;
    }
    if (!o->signals && rs.signal_count) {
        o->patterns = calloc(rs.signal_count, sizeof *o->patterns);
        if (!o->patterns)
            return 4;
        for (uint32_t i = 0; i < rs.signal_count; i++)
            if ((o->patterns[o->npatterns] = strdup(rs.signals[i])) != NULL)
                o->npatterns++;
    }
    bool recording = o->record_path || o->mcap_path;
    if ((o->signals || cli_rate) && !recording) {
        fprintf(stderr, "hermes run: --record-signals, --record-every and --record-rate need --record FILE\n");
        return 2;
    }
    if (o->compression && !o->mcap_path) {
        fprintf(stderr, "hermes run: --record-compression needs --record FILE.mcap\n");
        return 2;
    }
    if (o->mcap_path && hermes_mcap_compression_parse(o->compression ? o->compression : "zstd", &o->mcap_comp) != 0) {
        fprintf(stderr, "hermes run: --record-compression: %s\n", hermes_last_error());
        return 2;
    }
    if (cli_rate && o->every && o->rate_hz > 0) {
        fprintf(stderr, "hermes run: give --record-every or --record-rate, not both\n");
        return 2;
    }
    if ((recording || o->rerun_path) && !hermes_recording_supported()) {
        hermes_recorder_t *none = NULL;
        hermes_recorder_create(&none, NULL, NULL);
        o->log(HERMES_LOG_ERROR, "event=recording_unavailable option=%s error=\"%s\"",
               recording ? "--record" : "--rerun", hermes_last_error());
        return 2;
    }
    if (o->signals && split_patterns(o) != 0)
        return 4;
    if (!o->rerun_path)
        return 0;
    if ((o->record_path && !strcmp(o->record_path, o->rerun_path)) ||
        (o->mcap_path && !strcmp(o->mcap_path, o->rerun_path))) {
        fprintf(stderr, "hermes run: --record must name a new file, not the --rerun recording\n");
        return 2;
    }
    if (hermes_recording_open(&o->rerun_rec, o->rerun_path) != 0) {
        o->log(HERMES_LOG_ERROR, "event=rerun_failed file=%s error=\"%s\"", o->rerun_path, hermes_last_error());
        return 4;
    }
    /* A rerun runs as fast as possible, ends where the recorded run was set
     * to end (execution.end_time or --end-time then) and starts as it did (a
     * single_frame run only ever advanced by steps: paused). */
    const char *mode = hermes_recording_attr(o->rerun_rec, "mode");
    *start_paused = hermes_recording_start_paused(o->rerun_rec) || (mode && !strcmp(mode, "single_frame"));
    ex->mode = HERMES_MODE_AFAP;
    double end = NAN;
    hermes_recording_attr_number(o->rerun_rec, "end_time", &end);
    ex->has_end_time = !isnan(end);
    ex->end_time = ex->has_end_time ? end : 0;
    hermes_config_set_execution(cfg, ex);
    if (hermes_recording_check_config(o->rerun_rec, cfg) != 0) {
        o->log(HERMES_LOG_ERROR, "event=rerun_refused file=%s error=\"%s\"", o->rerun_path, hermes_last_error());
        return 3;
    }
    o->log(HERMES_LOG_INFO, "event=rerun file=%s journal_entries=%llu frames=%llu complete=%s", o->rerun_path,
           (unsigned long long)hermes_recording_journal_count(o->rerun_rec),
           (unsigned long long)hermes_recording_rows(o->rerun_rec),
           hermes_recording_complete(o->rerun_rec) ? "yes" : "no");
    return 0;
}

int cli_record_attach(struct cli_record *o, hermes_scheduler_t *s, bool start_paused)
{
    if (o->record_path || o->mcap_path) {
        hermes_recorder_config_t rc;
        hermes_recorder_config_init(&rc);
        rc.path = o->record_path;
        rc.mcap_path = o->mcap_path;
        rc.mcap_compression = o->mcap_comp;
        rc.signals = (const char *const *)o->patterns;
        rc.signal_count = o->npatterns;
        rc.every = (uint32_t)o->every;
        rc.rate_hz = o->rate_hz;
        rc.start_paused = start_paused;
        if (hermes_recorder_create(&o->rec, s, &rc) != 0) {
            o->log(HERMES_LOG_ERROR, "event=recording_failed file=%s error=\"%s\"",
                   o->record_path ? o->record_path : o->mcap_path, hermes_last_error());
            return 4;
        }
    }
    if (o->rerun_rec && hermes_rerun_create(&o->rerun, o->rerun_rec, s) != 0) {
        o->log(HERMES_LOG_ERROR, "event=rerun_failed file=%s error=\"%s\"", o->rerun_path, hermes_last_error());
        return 4;
    }
    return 0;
}

int cli_record_finish(struct cli_record *o, int status, const char *end_reason)
{
    if (o->rerun)
        o->log(HERMES_LOG_INFO, "event=rerun_done file=%s applied=%llu of=%llu", o->rerun_path,
               (unsigned long long)hermes_rerun_applied(o->rerun),
               (unsigned long long)hermes_recording_journal_count(o->rerun_rec));
    if (!o->rec)
        return status;
    hermes_recorder_stats_t st;
    hermes_recorder_stats(o->rec, &st);
    if (hermes_recorder_close(o->rec, end_reason) != 0) {
        o->log(HERMES_LOG_ERROR, "event=recording_failed file=%s frames=%llu error=\"%s\"",
               o->record_path ? o->record_path : o->mcap_path, (unsigned long long)st.rows, hermes_last_error());
        return CLI_EXIT_RECORDING;
    }
    hermes_recorder_stats(o->rec, &st);
    o->log(HERMES_LOG_INFO, "event=recorded file=%s%s%s frames=%llu signals=%u every=%u bytes=%llu stalls=%llu",
           o->record_path ? o->record_path : o->mcap_path, o->record_path && o->mcap_path ? " mcap=" : "",
           o->record_path && o->mcap_path ? o->mcap_path : "", (unsigned long long)st.rows, st.signals, st.every, (unsigned long long)st.bytes,
           (unsigned long long)st.stalls);
    return status;
}

void cli_record_cleanup(struct cli_record *o)
{
    hermes_rerun_destroy(o->rerun);
    o->rerun = NULL;
    hermes_recorder_destroy(o->rec);
    o->rec = NULL;
    hermes_recording_close(o->rerun_rec);
    o->rerun_rec = NULL;
    for (uint32_t i = 0; i < o->npatterns; i++)
        free(o->patterns[i]);
    free(o->patterns);
    o->patterns = NULL;
    o->npatterns = 0;
}

/* ---- export ---------------------------------------------------------------------- */

static const char usage_export[] =
    "usage: hermes export FILE.h5 --csv OUT.csv [--signals PATTERNS]\n"
    "       hermes export FILE.h5 --mcap OUT.mcap [--signals PATTERNS] [--compression zstd|lz4|none]\n"
    "       hermes export FILE.mcap --csv OUT.csv [--signals PATTERNS]   (an MCAP file Hermes wrote)\n"
    "\n"
    "--csv writes a header 'frame,time {s},NAME {UNIT},...' then one line per\n"
    "recorded frame (17 significant digits). --mcap writes an MCAP file that\n"
    "Foxglove, Lichtblick and PlotJuggler open: the live Foxglove server's\n"
    "channels, one message per channel per frame, events and command journal as\n"
    "channels, run metadata, the config as an attachment (docs/recording.md);\n"
    "chunks compressed with zstd unless --compression says otherwise.\n"
    "PATTERNS is a comma-separated list as in subscribe (*, module.*, exact\n"
    "names); default every signal. Recordings of killed runs are read up to their\n"
    "last flush.\n"
    "exit status: 0 written, 2 bad command line, a pattern matching nothing or a\n"
    "compression not built in, 4 cannot read the recording or write the output.\n";

int cmd_export(int argc, char **argv)
{
    const char *in = NULL, *csv = NULL, *mcap = NULL, *sigs = NULL, *comp_name = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage_export, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
            csv = argv[++i];
        } else if (!strcmp(argv[i], "--mcap") && i + 1 < argc) {
            mcap = argv[++i];
        } else if (!strcmp(argv[i], "--compression") && i + 1 < argc) {
            comp_name = argv[++i];
        } else if (!strcmp(argv[i], "--signals") && i + 1 < argc) {
            sigs = argv[++i];
        } else if (argv[i][0] != '-' && !in) {
            in = argv[i];
        } else {
            fprintf(stderr, "hermes export: unexpected argument '%s'\n\n%s", argv[i], usage_export);
            return 2;
        }
    }
    if (!in || (!csv && !mcap) || (csv && mcap)) {
        fprintf(stderr, "hermes export: need FILE.h5 and one of --csv OUT.csv or --mcap OUT.mcap\n\n%s",
                usage_export);
        return 2;
    }
    if (comp_name && !mcap) {
        fprintf(stderr, "hermes export: --compression goes with --mcap\n");
        return 2;
    }
    hermes_mcap_compression_t comp = HERMES_MCAP_ZSTD;
    if (mcap && hermes_mcap_compression_parse(comp_name ? comp_name : "zstd", &comp) != 0) {
        fprintf(stderr, "hermes export: %s\n", hermes_last_error());
        return 2;
    }
    if (!hermes_recording_supported()) {
        hermes_recording_t *none = NULL;
        hermes_recording_open(&none, in);
        fprintf(stderr, "hermes export: %s\n", hermes_last_error());
        return 2;
    }
    struct cli_record o;
    memset(&o, 0, sizeof o);
    o.signals = sigs;
    if (split_patterns(&o) != 0)
        return 4;
    hermes_recording_t *rec = NULL;
    int status = 0;
    if (hermes_recording_open(&rec, in) != 0) {
        fprintf(stderr, "hermes export: %s\n", hermes_last_error());
        status = 4;
    } else {
        const char *const *pats = (const char *const *)o.patterns;
        int rc = csv ? hermes_recording_export_csv(rec, csv, pats, o.npatterns)
                     : hermes_recording_export_mcap(rec, mcap, pats, o.npatterns, comp);
        if (rc) {
            fprintf(stderr, "hermes export: %s\n", hermes_last_error());
            status = rc == HERMES_ESYS || rc == HERMES_ENOMEM ? 4 : 2;
        } else {
            printf("%s: %llu frames%s -> %s\n", in, (unsigned long long)hermes_recording_rows(rec),
                   hermes_recording_complete(rec) ? "" : " (run did not finish: frames up to its last flush)",
                   csv ? csv : mcap);
        }
    }
    hermes_recording_close(rec);
    cli_record_cleanup(&o);
    return status;
}
