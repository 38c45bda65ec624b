/* Campaigns branched from a checkpoint (issue 21): `restore: FILE` in a
 * campaign file. A checkpoint of the launch demo after a common ascent (taken
 * by `hermes run --checkpoint`), 20 runs that disperse throttle and final
 * pitch after it through run-local.sh (GNU parallel, started from another
 * directory, the original checkpoint removed), collected into results.csv,
 * and the same 20 flights computed here as full runs from frame 0 with the
 * dispersed values written at the checkpoint's frame. Real processes, real
 * shared memory, real files. */
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#ifndef HERMES_CLI
#error "HERMES_CLI must name the hermes executable"
#endif

#define RUNS 20
#define RATE_HZ 100.0
#define CKPT_S 30      /* the common ascent: the pitch-over (kick at 1000 m) is behind */
#define END_S 60
#define NOUT 6

static char tmpdir[256];

/* The outputs of the campaign file below, in its order. */
static const struct {
    const char *col;    /* results.csv column */
    const char *signal;
    int         stat;   /* 0 final, 1 min, 2 max */
} outputs[NOUT] = {
    {"final:vehicle.position.altitude", "vehicle.position.altitude", 0},
    {"final:vehicle.speed", "vehicle.speed", 0},
    {"final:vehicle.position.downrange", "vehicle.position.downrange", 0},
    {"min:vehicle.mass", "vehicle.mass", 1},
    {"max:vehicle.dynamic_pressure", "vehicle.dynamic_pressure", 2},
    {"max:vehicle.accel", "vehicle.accel", 2},
};

static const char *const dispersed[2] = {"commands.throttle", "commands.pitch_final"};

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hermes-cmp-restore-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Split one CSV line (no quoted fields) in place: the field count. */
static int split(char *line, char **fields, int cap)
{
    int n = 0;
    for (char *p = line; n < cap;) {
        fields[n++] = p;
        char *c = strpbrk(p, ",\n");
        if (!c || *c == '\n') {
            if (c)
                *c = '\0';
            break;
        }
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static int column(char **names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return i;
    fail_msg("results.csv has no column '%s'", name);
    return -1;
}

/* One run as a host computes it without checkpoints: frame 0 to the
 * checkpoint's frame, the dispersed values written at that boundary (where a
 * restored run writes them), then on to the end; final/min/max from that
 * boundary on, as `hermes campaign run` keeps them. */
static void full_run(const char *config, const double values[2], double out[NOUT], uint64_t *frames)
{
    hermes_config_t *cfg;
    hermes_error_t e;
    if (hermes_config_load(&cfg, config, &e) != 0)
        fail_msg("%s", e.message);
    hermes_execution_t ex;
    assert_hermes_ok(hermes_config_execution(cfg, &ex));
    ex.mode = HERMES_MODE_AFAP;
    ex.end_time = END_S;
    ex.has_end_time = true;
    assert_hermes_ok(hermes_config_set_execution(cfg, &ex));
    char name[96];
    hermes_scheduler_t *s = test_scheduler_create(cfg, name, sizeof name, "cmpref");
    assert_hermes_ok(hermes_scheduler_stage(s));
    assert_hermes_ok(hermes_scheduler_step(s, (uint64_t)(CKPT_S * RATE_HZ), NULL));
    assert_int_equal(hermes_scheduler_frame(s), (uint64_t)(CKPT_S * RATE_HZ));
    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    for (int k = 0; k < 2; k++) {
        hermes_signal_t sig;
        assert_hermes_ok(hermes_backplane_find(bp, dispersed[k], &sig));
        assert_hermes_ok(hermes_backplane_write(bp, sig, values[k]));
    }
    const double *slot[NOUT];
    for (int i = 0; i < NOUT; i++) {
        hermes_signal_t sig;
        assert_hermes_ok(hermes_backplane_find(bp, outputs[i].signal, &sig));
        slot[i] = hermes_backplane_slot(bp, sig);
        out[i] = *slot[i];
    }
    for (uint64_t guard = 0; guard < (uint64_t)(END_S * RATE_HZ) + 10; guard++) {
        uint64_t before = hermes_scheduler_frame(s);
        if (hermes_scheduler_step(s, 1, NULL) != 0 || hermes_scheduler_frame(s) == before)
            break;
        for (int i = 0; i < NOUT; i++) {
            double v = *slot[i];
            if (outputs[i].stat == 0 || (outputs[i].stat == 1 ? v < out[i] : v > out[i]))
                out[i] = v;
        }
    }
    *frames = hermes_scheduler_frame(s);
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
    assert_false(shm_exists(name));
}

static const char campaign_fmt[] =
    "base: %s\n"
    "runs: %d\n"
    "seed: 77\n"
    "end_time: %d\n"
    "restore: ascent.hckpt        # relative to this file\n"
    "dispersions:\n"
    "  - signal: commands.throttle\n"
    "    normal: {mean: 0.9, sigma: 0.05, max: 1.0}\n"
    "  - signal: commands.pitch_final\n"
    "    uniform: {low: 15, high: 35}\n"
    "outputs:\n"
    "  final: [vehicle.position.altitude, vehicle.speed, vehicle.position.downrange]\n"
    "  min: [vehicle.mass]\n"
    "  max: [vehicle.dynamic_pressure, vehicle.accel]\n";

/* The checkpoint of the common ascent, taken by `hermes run`, in TMP/ascent.hckpt. */
static void take_ascent(const char *config, const char *ckpt)
{
    char end[16], at[16], log[320];
    snprintf(end, sizeof end, "%d", END_S);
    snprintf(at, sizeof at, "%d", CKPT_S);
    snprintf(log, sizeof log, "%s/ascent.log", tmpdir);
    const char *argv[] = {HERMES_CLI, "run", config, "--no-server", "--mode", "afap", "--end-time", end,
                          "--checkpoint", ckpt, "--checkpoint-at", at, NULL};
    int rc = test_run_cmd(NULL, log, 60, argv);
    if (rc != 0)
        fail_msg("hermes run --checkpoint exited %d:\n%s", rc, test_slurp(log));
}

static void test_campaign_restore_matches_full_runs(void **state)
{
    (void)state;
    const char *config = TEST_DEMO_DIR "/launch.yaml";
    char ckpt[320], cfile[320], dir[320], out[320], text[2048];
    snprintf(ckpt, sizeof ckpt, "%s/ascent.hckpt", tmpdir);
    snprintf(cfile, sizeof cfile, "%s/branch.yaml", tmpdir);
    snprintf(dir, sizeof dir, "%s/branch", tmpdir);
    snprintf(out, sizeof out, "%s/out.txt", tmpdir);
    take_ascent(config, ckpt);
    snprintf(text, sizeof text, campaign_fmt, config, RUNS, END_S);
    write_text(cfile, text);
    const char *plan[] = {HERMES_CLI, "campaign", "plan", "branch.yaml", "branch", NULL};
    if (test_run_cmd(tmpdir, out, 30, plan) != 0)
        fail_msg("plan failed:\n%s", test_slurp(out));
    /* The runs read the copy in DIR by DIR's absolute path: the original may
     * go, and the scripts work from any directory. */
    assert_int_equal(unlink(ckpt), 0);
    char path[400];
    snprintf(path, sizeof path, "%s/plan.json", dir);
    char *pj = test_slurp(path);
    snprintf(text, sizeof text, "\"restore\": \"%s\"", ckpt);
    assert_contains(pj, text);
    free(pj);
    snprintf(path, sizeof path, "%s/campaign.sbatch", dir);
    char *sb = test_slurp(path);
    snprintf(text, sizeof text, "DIR='%s'", dir);
    assert_contains(sb, text);
    free(sb);
    snprintf(path, sizeof path, "%s/run-local.sh", dir);
    const char *local[] = {"/bin/sh", path, "-j", "2", NULL};
    int rc = test_run_cmd("/", out, 150, local);
    if (rc != 0)
        fail_msg("run-local.sh exited %d:\n%s", rc, test_slurp(out));
    const char *collect[] = {HERMES_CLI, "campaign", "collect", dir, NULL};
    if (test_run_cmd(NULL, out, 30, collect) != 0)
        fail_msg("collect failed:\n%s", test_slurp(out));
    snprintf(path, sizeof path, "%s/runs/3/log", dir);
    char *log3 = test_slurp(path);
    assert_contains(log3, "event=restored run=3");
    assert_contains(log3, "frame=3000 dispersions=2");
    free(log3);

    snprintf(path, sizeof path, "%s/results.csv", dir);
    char *csv = test_slurp(path);
    assert_non_null(csv);
    char *line = csv, *names[64], *fields[64];
    char *nl = strchr(line, '\n');
    assert_non_null(nl);
    int ncol = split(line, names, 64);
    int c_status = column(names, ncol, "status"), c_frames = column(names, ncol, "frames");
    int c_disp[2] = {column(names, ncol, dispersed[0]), column(names, ncol, dispersed[1])};
    int c_out[NOUT];
    for (int i = 0; i < NOUT; i++)
        c_out[i] = column(names, ncol, outputs[i].col);
    line = nl + 1;
    double first_alt = 0;
    bool alt_varies = false;
    for (int r = 0; r < RUNS; r++) {
        nl = strchr(line, '\n');
        assert_non_null(nl);
        char *next = nl + 1;
        assert_int_equal(split(line, fields, 64), ncol);
        if (strcmp(fields[c_status], "ok"))
            fail_msg("run %d: status %s", r, fields[c_status]);
        double v[2] = {strtod(fields[c_disp[0]], NULL), strtod(fields[c_disp[1]], NULL)};
        double ref[NOUT];
        uint64_t frames;
        full_run(config, v, ref, &frames);
        assert_int_equal(strtoull(fields[c_frames], NULL, 10), frames);
        for (int i = 0; i < NOUT; i++) {
            double got = strtod(fields[c_out[i]], NULL);
            if (memcmp(&got, &ref[i], sizeof got) != 0)
                fail_msg("run %d, %s: campaign %.17g, full run %.17g (throttle %.17g, pitch_final %.17g)", r,
                         outputs[i].col, got, ref[i], v[0], v[1]);
        }
        if (r == 0)
            first_alt = ref[0];
        alt_varies = alt_varies || ref[0] != first_alt;
        line = next;
    }
    assert_true(alt_varies);   /* the dispersions after the restore do change the flights */
    free(csv);
}

/* A missing checkpoint is a plan error at its line; record with restore is
 * refused; a checkpoint of another config fails each run naming the difference. */
static void test_campaign_restore_errors(void **state)
{
    (void)state;
    const char *config = TEST_DEMO_DIR "/launch.yaml";
    char cfile[320], dir[320], out[320], text[2048];
    snprintf(cfile, sizeof cfile, "%s/bad.yaml", tmpdir);
    snprintf(dir, sizeof dir, "%s/bad", tmpdir);
    snprintf(out, sizeof out, "%s/bad.txt", tmpdir);
    snprintf(text, sizeof text, "base: %s\nruns: 2\nseed: 1\nend_time: 5\nrestore: nowhere.hckpt\n", config);
    write_text(cfile, text);
    const char *plan[] = {HERMES_CLI, "campaign", "plan", cfile, dir, NULL};
    assert_int_equal(test_run_cmd(NULL, out, 30, plan), 3);
    char *msg = test_slurp(out);
    snprintf(text, sizeof text, "%s:5:10: restore: cannot read checkpoint %s/nowhere.hckpt", cfile, tmpdir);
    assert_contains(msg, text);
    free(msg);

    snprintf(text, sizeof text, "base: %s\nruns: 2\nseed: 1\nrecord: true\nrestore: x.hckpt\n", config);
    write_text(cfile, text);
    assert_int_equal(test_run_cmd(NULL, out, 30, plan), 3);
    msg = test_slurp(out);
    assert_contains(msg, hermes_recording_supported() ? ":5:10: restore: cannot be combined with record: true"
                                                      : ":4:9: record: this hermes was built without recording");
    free(msg);

    /* The checkpoint of the demo, restored into the demo with a tripwire module. */
    char ckpt[320];
    snprintf(ckpt, sizeof ckpt, "%s/other.hckpt", tmpdir);
    take_ascent(config, ckpt);
    snprintf(text, sizeof text, "base: %s\nruns: 1\nseed: 1\nend_time: %d\nrestore: other.hckpt\n",
             HERMES_TEST_BUILDDIR "/campaign_launch_trip.yaml", END_S);
    write_text(cfile, text);
    if (test_run_cmd(NULL, out, 30, plan) != 0)
        fail_msg("plan failed:\n%s", test_slurp(out));
    const char *run0[] = {HERMES_CLI, "campaign", "run", dir, "0", NULL};
    assert_int_equal(test_run_cmd(NULL, out, 30, run0), 1);
    char path[400];
    snprintf(path, sizeof path, "%s/runs/0/summary.json", dir);
    msg = test_slurp(path);
    assert_contains(msg, "\"end_reason\": \"startup\"");
    assert_contains(msg, "restore: checkpoint '");
    assert_contains(msg, "is of another config: it has 3 modules, this run 4");
    free(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_campaign_restore_matches_full_runs),
        cmocka_unit_test(test_campaign_restore_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
