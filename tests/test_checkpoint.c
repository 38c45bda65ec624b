/* Checkpoints (issue 21): a run continued from a checkpoint is bit-identical
 * to the straight run (the launch demo: injection, inproc guidance at its own
 * 20 Hz rate, the process vehicle; also with guidance and vehicle in one
 * concurrent group), and every bad file or config is refused with a clear
 * error. Real modules, real shared memory, real files. */
#include "test_util.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define END_FRAMES 1500u   /* 15 s of the demo at 100 Hz */
#define CKPT_FRAME 700u

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hermes-ckpt-test-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* FNV-1a of every model signal (the hermes.* timing signals excepted) per frame. */
struct trace {
    hermes_scheduler_t *s;
    uint64_t            hash[END_FRAMES + 1];
    uint32_t            first_model, nmodel;
};

static int trace_hook(void *ctx, uint64_t frame, uint64_t tick, hermes_frame_kind_t kind)
{
    (void)tick;
    (void)kind;
    struct trace *t = ctx;
    hermes_backplane_t *bp = hermes_scheduler_backplane(t->s);
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t i = 0; i < hermes_backplane_count(bp); i++) {
        hermes_signal_info_t info;
        assert_hermes_ok(hermes_backplane_info(bp, i, &info));
        if (!strcmp(info.module, "hermes"))
            continue;
        const unsigned char *b = (const unsigned char *)hermes_backplane_slot(bp, info.id);
        for (int k = 0; k < 8; k++)
            h = (h ^ b[k]) * 0x100000001b3ull;
    }
    if (frame <= END_FRAMES)
        t->hash[frame] = h;
    return 0;
}

static hermes_config_t *demo(bool grouped)
{
    hermes_config_t *cfg = test_load_demo(HERMES_MODE_AFAP);
    hermes_execution_t ex;
    assert_hermes_ok(hermes_config_execution(cfg, &ex));
    ex.end_time = END_FRAMES / ex.rate_hz;
    ex.has_end_time = true;
    assert_hermes_ok(hermes_config_set_execution(cfg, &ex));
    if (grouped) {
        const char *names[] = {"commands", "guidance", "vehicle"};
        const uint32_t groups[] = {0, 1, 1};
        assert_hermes_ok(hermes_config_set_schedule_groups(cfg, names, groups, 3));
    }
    return cfg;
}

/* Run @p cfg; checkpoint at @p ckpt_frame to @p ckpt (NULL: none) or
 * restore from @p restore first (NULL: none); the trace in @p t. */
static void run(hermes_config_t *cfg, struct trace *t, const char *ckpt, const char *restore)
{
    char name[96];
    memset(t, 0, sizeof *t);
    hermes_scheduler_t *s = test_scheduler_create(cfg, name, sizeof name, "ckpt");
    t->s = s;
    assert_hermes_ok(hermes_scheduler_set_frame_hook(s, trace_hook, t));
    assert_hermes_ok(hermes_scheduler_stage(s));
    if (ckpt)
        assert_hermes_ok(hermes_scheduler_checkpoint_at(s, CKPT_FRAME, ckpt));
    if (restore) {
        assert_hermes_ok(hermes_scheduler_restore(s, restore));
        assert_int_equal(hermes_scheduler_frame(s), CKPT_FRAME);
    }
    assert_hermes_ok(hermes_scheduler_run(s));
    assert_int_equal(hermes_scheduler_frame(s), END_FRAMES);
    assert_int_equal(hermes_scheduler_checkpoint_failures(s), 0);
    hermes_scheduler_destroy(s);
    assert_false(shm_exists(name));
}

static void check_continuation(bool grouped)
{
    char path[320];
    snprintf(path, sizeof path, "%s/demo-%d.hckpt", tmpdir, grouped);
    hermes_config_t *cfg = demo(grouped);
    static struct trace a, b, c;
    run(cfg, &a, NULL, NULL);
    run(cfg, &b, path, NULL);
    run(cfg, &c, NULL, path);
    for (uint32_t f = CKPT_FRAME + 1; f <= END_FRAMES; f++)
        if (c.hash[f] != a.hash[f])
            fail_msg("frame %u differs after restoring the checkpoint of frame %u", f, CKPT_FRAME);
    for (uint32_t f = 1; f <= END_FRAMES; f++)
        assert_true(b.hash[f] == a.hash[f]);  /* taking it changes nothing */
    /* The guidance module's own rate: restored at frame 700, it is due on
     * 700, 705, ...; a wrong rate state would shift the trace at once. */
    assert_true(c.hash[CKPT_FRAME + 1] == a.hash[CKPT_FRAME + 1]);
    hermes_config_destroy(cfg);
}

static void test_checkpoint_continues_bit_identical(void **state)
{
    (void)state;
    check_continuation(false);
}

static void test_checkpoint_continues_bit_identical_grouped(void **state)
{
    (void)state;
    check_continuation(true);
}

/* ---- bad input --------------------------------------------------------------------- */

static void write_demo_checkpoint(const char *path)
{
    hermes_config_t *cfg = demo(false);
    static struct trace t;
    run(cfg, &t, path, NULL);
    hermes_config_destroy(cfg);
}

/* Restore @p path into a fresh demo run: the code, the message in *msg. */
static int try_restore(hermes_config_t *cfg, const char *path, char *msg, size_t cap)
{
    char name[96];
    hermes_scheduler_t *s = test_scheduler_create(cfg, name, sizeof name, "ckptbad");
    assert_hermes_ok(hermes_scheduler_stage(s));
    int rc = hermes_scheduler_restore(s, path);
    snprintf(msg, cap, "%s", hermes_last_error());
    if (rc != 0)
        assert_int_equal(hermes_scheduler_frame(s), 0);  /* nothing changed */
    hermes_scheduler_destroy(s);
    return rc;
}

static void copy_with(const char *from, const char *to, long truncate_to, long flip_at, uint32_t version)
{
    FILE *f = fopen(from, "rb");
    assert_non_null(f);
    static unsigned char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (truncate_to >= 0)
        n = (size_t)truncate_to;
    if (flip_at >= 0)
        buf[flip_at] ^= 0x10;
    if (version) {  /* a newer version with a valid checksum: the version is what is refused */
        memcpy(buf + 8, &version, 4);
    }
    FILE *g = fopen(to, "wb");
    assert_non_null(g);
    assert_int_equal(fwrite(buf, 1, n, g), n);
    fclose(g);
}

static void test_checkpoint_bad_files(void **state)
{
    (void)state;
    char good[320], bad[320], msg[512];
    snprintf(good, sizeof good, "%s/good.hckpt", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.hckpt", tmpdir);
    write_demo_checkpoint(good);
    struct stat st;
    assert_int_equal(stat(good, &st), 0);
    hermes_config_t *cfg = demo(false);

    copy_with(good, bad, st.st_size / 2, -1, 0);
    assert_hermes_rc(try_restore(cfg, bad, msg, sizeof msg), HERMES_EFORMAT);
    assert_non_null(strstr(msg, "truncated"));

    copy_with(good, bad, -1, st.st_size / 3, 0);
    assert_hermes_rc(try_restore(cfg, bad, msg, sizeof msg), HERMES_EFORMAT);
    assert_non_null(strstr(msg, "checksum"));

    copy_with(good, bad, -1, 2, 0);
    assert_hermes_rc(try_restore(cfg, bad, msg, sizeof msg), HERMES_EFORMAT);
    assert_non_null(strstr(msg, "not a Hermes checkpoint"));

    copy_with(good, bad, -1, -1, 99);
    assert_hermes_rc(try_restore(cfg, bad, msg, sizeof msg), HERMES_EABI);
    assert_non_null(strstr(msg, "version 99"));

    snprintf(bad, sizeof bad, "%s/missing.hckpt", tmpdir);
    assert_hermes_rc(try_restore(cfg, bad, msg, sizeof msg), HERMES_ENOENT);
    hermes_config_destroy(cfg);

    /* Another config: one signal more in commands. */
    hermes_config_t *other = demo(false);
    assert_hermes_ok(hermes_config_add_signal(other, "commands", "extra", HERMES_TYPE_F64, "", true, 0));
    assert_hermes_rc(try_restore(other, good, msg, sizeof msg), HERMES_ECONFIG);
    assert_non_null(strstr(msg, "another config"));
    hermes_config_destroy(other);

    /* Another rate for guidance. */
    other = demo(false);
    assert_hermes_ok(hermes_config_set_module_rate(other, "guidance", 50.0, 0));
    assert_hermes_rc(try_restore(other, good, msg, sizeof msg), HERMES_ECONFIG);
    assert_non_null(strstr(msg, "guidance"));
    hermes_config_destroy(other);
}

/* No partial file ever: a checkpoint into a folder that does not exist
 * fails, the run goes on to its end, and nothing is left behind. */
static void test_checkpoint_unwritable_folder_run_goes_on(void **state)
{
    (void)state;
    hermes_config_t *cfg = demo(false);
    char name[96], path[320];
    snprintf(path, sizeof path, "%s/no/such/folder/x.hckpt", tmpdir);
    hermes_scheduler_t *s = test_scheduler_create(cfg, name, sizeof name, "ckptfail");
    assert_hermes_ok(hermes_scheduler_stage(s));
    assert_hermes_ok(hermes_scheduler_checkpoint_at(s, 10, path));
    assert_hermes_ok(hermes_scheduler_run(s));
    assert_int_equal(hermes_scheduler_frame(s), END_FRAMES);
    assert_int_equal(hermes_scheduler_checkpoint_failures(s), 1);
    assert_hermes_rc(hermes_scheduler_checkpoint(s, path), HERMES_ESYS);
    assert_non_null(strstr(hermes_last_error(), "no/such/folder"));
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
}

/* A module without state support: refused before the run, naming it. */
static int nostate_init(void **state, const hermes_inproc_env_t *env)
{
    (void)env;
    *state = NULL;
    return 0;
}
static int nostate_step(void *state, uint64_t frame, double dt)
{
    (void)state;
    (void)frame;
    (void)dt;
    return 0;
}
static const hermes_inproc_module_t nostate = {2u, 0, nostate_init, NULL, nostate_step, NULL, NULL, NULL, NULL, NULL};

static void test_checkpoint_module_without_state_refused(void **state)
{
    (void)state;
    hermes_config_t *cfg = demo(false);
    assert_hermes_ok(hermes_config_add_module(cfg, "legacy", HERMES_MODULE_INPROC, NULL));
    assert_hermes_ok(hermes_config_set_module_callbacks(cfg, "legacy", &nostate));
    const char *names[] = {"commands", "guidance", "vehicle", "legacy"};
    assert_hermes_ok(hermes_config_set_schedule_groups(cfg, names, NULL, 4));
    char name[96], path[320];
    snprintf(path, sizeof path, "%s/legacy.hckpt", tmpdir);
    hermes_scheduler_t *s = test_scheduler_create(cfg, name, sizeof name, "ckptlegacy");
    assert_hermes_ok(hermes_scheduler_stage(s));
    assert_hermes_rc(hermes_scheduler_checkpoint_at(s, 10, path), HERMES_ENOTSUP);
    assert_non_null(strstr(hermes_last_error(), "module 'legacy'"));
    assert_hermes_rc(hermes_scheduler_checkpoint(s, path), HERMES_ENOTSUP);
    assert_int_equal(access(path, F_OK), -1);
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
}

/* `restore: replay`: a run with a module without state support takes
 * checkpoints holding its journal; a restore re-runs frames 0..N with the
 * journal's sets and resets at the same frames and continues bit for bit. */
/* By tick (boundaries since the run began; a reset does not restart it): a
 * set at tick 300, a reset at tick 500 (frame 500: the run starts again at
 * frame 0), a set at tick 900 (frame 400 after the reset). The checkpoint of
 * frame 700 is then taken at tick 1200, with all three in its journal. */
static int replay_hook(void *ctx, hermes_scheduler_t *s, uint64_t frame, uint64_t tick)
{
    (void)ctx;
    (void)frame;
    hermes_signal_t sig;
    if (hermes_backplane_find(hermes_scheduler_backplane(s), "commands.pitch_final", &sig) != 0)
        return HERMES_ENOENT;
    if (tick == 300 || tick == 900) {
        hermes_run_command_t c = {HERMES_COMMAND_SET, sig, tick == 300 ? 31.0 : 20.0, 0};
        return hermes_scheduler_apply(s, &c);
    }
    if (tick == 500) {  /* a reset leaves the run paused: resume it */
        hermes_run_command_t c = {HERMES_COMMAND_RESET, {0, 0}, 0, 0}, r = {HERMES_COMMAND_RESUME, {0, 0}, 0, 0};
        int rc = hermes_scheduler_apply(s, &c);
        return rc ? rc : hermes_scheduler_apply(s, &r);
    }
    return 0;
}

static void run_replay(hermes_config_t *cfg, struct trace *t, const char *ckpt, const char *restore, bool hooks)
{
    char name[96];
    memset(t, 0, sizeof *t);
    hermes_scheduler_t *s = test_scheduler_create(cfg, name, sizeof name, "ckptrep");
    t->s = s;
    assert_hermes_ok(hermes_scheduler_set_frame_hook(s, trace_hook, t));
    if (hooks)
        assert_hermes_ok(hermes_scheduler_set_boundary_hook(s, replay_hook, NULL));
    assert_hermes_ok(hermes_scheduler_stage(s));
    if (ckpt)
        assert_hermes_ok(hermes_scheduler_checkpoint_at(s, CKPT_FRAME, ckpt));
    if (restore) {
        assert_hermes_ok(hermes_scheduler_restore(s, restore));
        assert_int_equal(hermes_scheduler_frame(s), CKPT_FRAME);
    }
    assert_hermes_ok(hermes_scheduler_run(s));
    hermes_scheduler_destroy(s);
}

static void test_checkpoint_restore_by_replay(void **state)
{
    (void)state;
    hermes_config_t *cfg = demo(false);
    assert_hermes_ok(hermes_config_add_module(cfg, "legacy", HERMES_MODULE_INPROC, NULL));
    assert_hermes_ok(hermes_config_set_module_callbacks(cfg, "legacy", &nostate));
    const char *names[] = {"commands", "guidance", "vehicle", "legacy"};
    assert_hermes_ok(hermes_config_set_schedule_groups(cfg, names, NULL, 4));
    assert_hermes_ok(hermes_config_set_restore_replay(cfg, true));
    char path[320];
    snprintf(path, sizeof path, "%s/replay.hckpt", tmpdir);
    static struct trace a, b, c;
    run_replay(cfg, &a, NULL, NULL, true);
    run_replay(cfg, &b, path, NULL, true);
    run_replay(cfg, &c, NULL, path, false);  /* no hook: the journal replays its commands */
    for (uint32_t f = CKPT_FRAME + 1; f <= END_FRAMES; f++)
        if (c.hash[f] != a.hash[f])
            fail_msg("frame %u differs after restoring by replay", f);
    /* Without `restore: replay` the same run cannot checkpoint (legacy has no state). */
    assert_hermes_ok(hermes_config_set_restore_replay(cfg, false));
    char name[96];
    hermes_scheduler_t *s = test_scheduler_create(cfg, name, sizeof name, "ckptrep2");
    assert_hermes_ok(hermes_scheduler_stage(s));
    assert_hermes_rc(hermes_scheduler_restore(s, path), HERMES_OK);  /* a replay file restores anyway */
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
}

static void test_checkpoint_restore_yaml(void **state)
{
    (void)state;
    static const char ok[] = "version: \"0.2\"\nexecution:\n  restore: replay\nmodules:\n  a:\n    type: injection\n"
                             "    signals:\n      - {name: x, type: f64}\n";
    static const char bad[] = "version: \"0.2\"\nexecution:\n  restore: sometimes\nmodules:\n  a:\n    type: injection\n"
                              "    signals:\n      - {name: x, type: f64}\n";
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    assert_hermes_ok(hermes_config_parse(&cfg, ok, strlen(ok), "r.yaml", ".", &err));
    assert_true(hermes_config_restore_replay(cfg));
    hermes_config_destroy(cfg);
    cfg = NULL;
    assert_hermes_rc(hermes_config_parse(&cfg, bad, strlen(bad), "r.yaml", ".", &err), HERMES_ECONFIG);
    assert_non_null(strstr(err.message, "r.yaml:3:"));
    assert_non_null(strstr(err.message, "execution.restore: must be state"));
    hermes_config_destroy(cfg);
}

/* A checkpoint requested from another thread while the run goes on is taken
 * at a frame boundary and restores like a scheduled one. */
struct runner {
    hermes_scheduler_t *s;
    int                 rc;
};

static void *run_thread(void *arg)
{
    struct runner *r = arg;
    r->rc = hermes_scheduler_run(r->s);
    return NULL;
}

static void test_checkpoint_from_another_thread(void **state)
{
    (void)state;
    hermes_config_t *cfg = demo(false);
    hermes_execution_t ex;
    assert_hermes_ok(hermes_config_execution(cfg, &ex));
    ex.mode = HERMES_MODE_REALTIME;
    ex.rate_hz = 100;
    assert_hermes_ok(hermes_config_set_execution(cfg, &ex));
    char name[96], path[320];
    snprintf(path, sizeof path, "%s/live.hckpt", tmpdir);
    hermes_scheduler_t *s = test_scheduler_create(cfg, name, sizeof name, "ckptlive");
    assert_hermes_ok(hermes_scheduler_stage(s));
    struct runner r = {s, -99};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_thread, &r), 0);
    usleep(200000);
    int rc = hermes_scheduler_checkpoint(s, path);
    uint64_t at = hermes_scheduler_frame(s);
    hermes_scheduler_stop(s);
    pthread_join(th, NULL);
    hermes_scheduler_destroy(s);
    assert_hermes_ok(rc);
    assert_hermes_ok(r.rc);
    /* It loads into a fresh run of the same config, at its frame. */
    s = test_scheduler_create(cfg, name, sizeof name, "ckptlive2");
    assert_hermes_ok(hermes_scheduler_stage(s));
    assert_hermes_ok(hermes_scheduler_restore(s, path));
    assert_true(hermes_scheduler_frame(s) > 0 && hermes_scheduler_frame(s) <= at + 1);
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint_continues_bit_identical),
        cmocka_unit_test(test_checkpoint_continues_bit_identical_grouped),
        cmocka_unit_test(test_checkpoint_bad_files),
        cmocka_unit_test(test_checkpoint_unwritable_folder_run_goes_on),
        cmocka_unit_test(test_checkpoint_module_without_state_refused),
        cmocka_unit_test(test_checkpoint_from_another_thread),
        cmocka_unit_test(test_checkpoint_restore_by_replay),
        cmocka_unit_test(test_checkpoint_restore_yaml),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
