/* Recording, replay and reruns when libhdf5 was not available at build time: every entry point explains how to enable it. */
#include <stdlib.h>

#include "hermes/recorder.h"
#include "hermes/replay.h"
#include "common/util.h"

#define NOT_BUILT                                                                                             \
    hermes__fail(HERMES_ESTATE, "recording is not built into this libhermes: install libhdf5-dev and "         \
                                "reconfigure with 'meson setup --reconfigure -Drecording=enabled BUILDDIR'")

HERMES_API bool hermes_recording_supported(void) { return false; }

HERMES_API int hermes_recorder_create(hermes_recorder_t **out, hermes_scheduler_t *s,
                                      const hermes_recorder_config_t *cfg)
{
    (void)s;
    (void)cfg;
    if (out)
        *out = NULL;
    return NOT_BUILT;
}

HERMES_API int hermes_recorder_close(hermes_recorder_t *r, const char *end_reason)
{
    (void)r;
    (void)end_reason;
    return NOT_BUILT;
}

HERMES_API void hermes_recorder_destroy(hermes_recorder_t *r) { (void)r; }
HERMES_API int hermes_recorder_status(const hermes_recorder_t *r) { (void)r; return HERMES_ESTATE; }
HERMES_API const char *hermes_recorder_errmsg(const hermes_recorder_t *r) { (void)r; return ""; }

HERMES_API int hermes_recorder_stats(const hermes_recorder_t *r, hermes_recorder_stats_t *out)
{
    (void)r;
    (void)out;
    return NOT_BUILT;
}

HERMES_API const char *hermes_recorder_path(const hermes_recorder_t *r) { (void)r; return ""; }

HERMES_API int hermes_recording_open(hermes_recording_t **out, const char *path)
{
    (void)path;
    if (out)
        *out = NULL;
    return NOT_BUILT;
}

HERMES_API void hermes_recording_close(hermes_recording_t *rec) { (void)rec; }
HERMES_API uint32_t hermes_recording_signal_count(const hermes_recording_t *rec) { (void)rec; return 0; }

HERMES_API int hermes_recording_signal(const hermes_recording_t *rec, uint32_t i, hermes_recording_signal_t *out)
{
    (void)rec;
    (void)i;
    (void)out;
    return NOT_BUILT;
}

HERMES_API int hermes_recording_find(const hermes_recording_t *rec, const char *name, uint32_t *column)
{
    (void)rec;
    (void)name;
    (void)column;
    return NOT_BUILT;
}

HERMES_API uint64_t hermes_recording_rows(const hermes_recording_t *rec) { (void)rec; return 0; }
HERMES_API double hermes_recording_rate_hz(const hermes_recording_t *rec) { (void)rec; return 0; }
HERMES_API bool hermes_recording_complete(const hermes_recording_t *rec) { (void)rec; return false; }
HERMES_API const char *hermes_recording_attr(hermes_recording_t *rec, const char *name)
{
    (void)rec;
    (void)name;
    return NULL;
}

HERMES_API int hermes_recording_attr_number(hermes_recording_t *rec, const char *name, double *out)
{
    (void)rec;
    (void)name;
    (void)out;
    return NOT_BUILT;
}

HERMES_API int hermes_recording_read(hermes_recording_t *rec, uint64_t first, uint64_t count, double *values,
                                     uint64_t *frames, double *times)
{
    (void)rec;
    (void)first;
    (void)count;
    (void)values;
    (void)frames;
    (void)times;
    return NOT_BUILT;
}

HERMES_API uint64_t hermes_recording_journal_count(const hermes_recording_t *rec) { (void)rec; return 0; }

HERMES_API int hermes_recording_journal(const hermes_recording_t *rec, uint64_t i, hermes_journal_entry_t *out)
{
    (void)rec;
    (void)i;
    (void)out;
    return NOT_BUILT;
}

HERMES_API int hermes_recording_export_csv(hermes_recording_t *rec, const char *csv_path,
                                           const char *const *patterns, uint32_t pattern_count)
{
    (void)rec;
    (void)csv_path;
    (void)patterns;
    (void)pattern_count;
    return NOT_BUILT;
}

HERMES_API int hermes_recording_export_mcap(hermes_recording_t *rec, const char *mcap_path,
                                            const char *const *patterns, uint32_t pattern_count,
                                            hermes_mcap_compression_t compression)
{
    (void)rec;
    (void)mcap_path;
    (void)patterns;
    (void)pattern_count;
    (void)compression;
    return NOT_BUILT;
}

HERMES_API int hermes_recording_check_config(const hermes_recording_t *rec, const hermes_config_t *cfg)
{
    (void)rec;
    (void)cfg;
    return NOT_BUILT;
}

HERMES_API bool hermes_recording_start_paused(hermes_recording_t *rec) { (void)rec; return false; }

HERMES_API int hermes_rerun_create(hermes_rerun_t **out, hermes_recording_t *rec, hermes_scheduler_t *s)
{
    (void)rec;
    (void)s;
    if (out)
        *out = NULL;
    return NOT_BUILT;
}

HERMES_API uint64_t hermes_rerun_applied(const hermes_rerun_t *rr) { (void)rr; return 0; }
HERMES_API void hermes_rerun_destroy(hermes_rerun_t *rr) { (void)rr; }

HERMES_API int hermes_replay_create(hermes_replay_t **out, hermes_recording_t *rec,
                                    const hermes_replay_config_t *cfg)
{
    (void)rec;
    (void)cfg;
    if (out)
        *out = NULL;
    return NOT_BUILT;
}

HERMES_API int hermes_replay_source(hermes_replay_t *rp, hermes_server_source_t *out)
{
    (void)rp;
    (void)out;
    return NOT_BUILT;
}

HERMES_API int hermes_replay_control(hermes_replay_t *rp, hermes_server_control_t *out)
{
    (void)rp;
    (void)out;
    return NOT_BUILT;
}

HERMES_API int hermes_replay_start(hermes_replay_t *rp)
{
    (void)rp;
    return NOT_BUILT;
}

HERMES_API uint64_t hermes_replay_row(hermes_replay_t *rp, uint64_t *frame)
{
    (void)rp;
    if (frame)
        *frame = 0;
    return 0;
}

HERMES_API void hermes_replay_destroy(hermes_replay_t *rp) { (void)rp; }
