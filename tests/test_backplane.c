#include "test_util.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "common/names.h"

static hermes_backplane_t *make(const char *name, const hermes_signal_spec_t *specs, uint32_t n)
{
    hermes_backplane_config_t cfg;
    hermes_backplane_config_init(&cfg);
    cfg.run_name = name;
    cfg.signals = specs;
    cfg.signal_count = n;
    hermes_backplane_t *bp = NULL;
    assert_hermes_ok(hermes_backplane_create(&bp, &cfg));
    return bp;
}

static const hermes_signal_spec_t specs[] = {
    {"vehicle", "position.x", HERMES_TYPE_F64, "m", false, 1.5},
    {"vehicle", "count", HERMES_TYPE_I32, NULL, true, 3},
    {"vehicle", "big", HERMES_TYPE_I64, "", true, 0},
    {"vehicle", "ratio", HERMES_TYPE_F32, "", true, 0.25},
    {"ctl", "armed", HERMES_TYPE_BOOL, "", true, 1},
};

static void test_backplane_create_find_info(void **state)
{
    (void)state;
    char name[96];
    hermes_backplane_t *bp = make(test_run_name(name, sizeof name, "bp"), specs, 5);
    assert_string_equal(hermes_backplane_name(bp), name);
    assert_true(shm_exists(name));
    assert_int_equal(hermes_backplane_count(bp), 5);
    assert_int_equal(hermes_backplane_module_count(bp), 2);
    assert_string_equal(hermes_backplane_module_name(bp, 1), "ctl");
    assert_null(hermes_backplane_module_name(bp, 2));

    hermes_signal_t s;
    assert_hermes_ok(hermes_backplane_find(bp, "vehicle.count", &s));
    assert_int_equal(s.index, 1);
    hermes_signal_info_t info;
    assert_hermes_ok(hermes_backplane_info(bp, 4, &info));
    assert_string_equal(info.name, "ctl.armed");
    assert_string_equal(info.module, "ctl");
    assert_string_equal(info.local_name, "armed");
    assert_int_equal(info.type, HERMES_TYPE_BOOL);
    assert_true(info.writable);
    assert_hermes_ok(hermes_backplane_info(bp, 0, &info));
    assert_string_equal(info.unit, "m");
    assert_false(info.writable);
    assert_hermes_rc(hermes_backplane_info(bp, 5, &info), HERMES_ENOENT);
    assert_hermes_rc(hermes_backplane_find(bp, "vehicle.nope", &s), HERMES_ENOENT);
    assert_contains(hermes_last_error(), "vehicle.nope");

    double v;
    assert_hermes_ok(hermes_backplane_find(bp, "vehicle.position.x", &s));
    assert_hermes_ok(hermes_backplane_read(bp, s, &v));
    assert_true(v == 1.5);
    double *slot = hermes_backplane_slot(bp, s);
    assert_non_null(slot);
    *slot = 7.25;
    assert_hermes_ok(hermes_backplane_read(bp, s, &v));
    assert_true(v == 7.25);
    hermes_backplane_destroy(bp);
    assert_false(shm_exists(name));
}

static void test_backplane_type_checks(void **state)
{
    (void)state;
    char name[96];
    hermes_backplane_t *bp = make(test_run_name(name, sizeof name, "types"), specs, 5);
    hermes_signal_t i32, i64, f32, b, f64;
    assert_hermes_ok(hermes_backplane_find(bp, "vehicle.count", &i32));
    assert_hermes_ok(hermes_backplane_find(bp, "vehicle.big", &i64));
    assert_hermes_ok(hermes_backplane_find(bp, "vehicle.ratio", &f32));
    assert_hermes_ok(hermes_backplane_find(bp, "ctl.armed", &b));
    assert_hermes_ok(hermes_backplane_find(bp, "vehicle.position.x", &f64));

    assert_hermes_rc(hermes_backplane_write(bp, i32, 1.5), HERMES_ETYPE);
    assert_contains(hermes_last_error(), "vehicle.count");
    assert_hermes_rc(hermes_backplane_write(bp, i32, NAN), HERMES_ETYPE);
    assert_hermes_rc(hermes_backplane_write(bp, i32, 2147483648.0), HERMES_ETYPE);
    assert_hermes_ok(hermes_backplane_write(bp, i32, -2147483648.0));
    assert_hermes_rc(hermes_backplane_write(bp, i64, INFINITY), HERMES_ETYPE);
    assert_hermes_ok(hermes_backplane_write(bp, i64, 9223372036854775808.0));  /* 2^63: INT64_MAX's double */
    assert_hermes_rc(hermes_backplane_write(bp, i64, 9223372036854777856.0), HERMES_ETYPE);  /* the next one */
    assert_hermes_ok(hermes_backplane_write(bp, i64, -9223372036854775808.0));
    assert_hermes_rc(hermes_backplane_write(bp, b, 2), HERMES_ETYPE);
    assert_hermes_rc(hermes_backplane_write(bp, b, 0.5), HERMES_ETYPE);
    assert_hermes_ok(hermes_backplane_write(bp, b, 0));
    assert_hermes_rc(hermes_backplane_write(bp, f32, 1e39), HERMES_ETYPE);
    assert_hermes_ok(hermes_backplane_write(bp, f32, 1e30));
    assert_hermes_ok(hermes_backplane_write(bp, f64, NAN));
    assert_hermes_ok(hermes_backplane_write(bp, f64, 1e300));

    hermes_type_t t;
    assert_hermes_ok(hermes_type_parse("i32", &t));
    assert_int_equal(t, HERMES_TYPE_I32);
    assert_hermes_rc(hermes_type_parse("int", &t), HERMES_EINVAL);
    assert_string_equal(hermes_type_name(HERMES_TYPE_BOOL), "bool");
    hermes_backplane_destroy(bp);
}

static void test_backplane_rejects_bad_specs(void **state)
{
    (void)state;
    char name[96];
    hermes_backplane_config_t cfg;
    hermes_backplane_t *bp = NULL;
    hermes_signal_spec_t dup[] = {{"m", "a", HERMES_TYPE_F64, "", false, 0}, {"m", "a", HERMES_TYPE_F64, "", false, 0}};
    hermes_backplane_config_init(&cfg);
    cfg.run_name = test_run_name(name, sizeof name, "dup");
    cfg.signals = dup;
    cfg.signal_count = 2;
    assert_hermes_rc(hermes_backplane_create(&bp, &cfg), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "m.a");
    assert_null(bp);
    assert_false(shm_exists(name));

    hermes_signal_spec_t badinit[] = {{"m", "a", HERMES_TYPE_I32, "", false, 0.5}};
    cfg.signals = badinit;
    cfg.signal_count = 1;
    assert_hermes_rc(hermes_backplane_create(&bp, &cfg), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "initial");
    assert_false(shm_exists(name));

    cfg.signals = specs;
    cfg.run_name = "bad/name";
    assert_hermes_rc(hermes_backplane_create(&bp, &cfg), HERMES_EINVAL);

    hermes_backplane_config_t zero = {0};
    assert_hermes_rc(hermes_backplane_create(&bp, &zero), HERMES_EINVAL);

    /* The same run name twice: the second gets EEXIST, the first is intact. */
    hermes_backplane_t *a = make(test_run_name(name, sizeof name, "twice"), specs, 5);
    cfg.run_name = name;
    cfg.signal_count = 5;
    assert_hermes_rc(hermes_backplane_create(&bp, &cfg), HERMES_EEXIST);
    assert_true(shm_exists(name));
    hermes_backplane_destroy(a);
    assert_false(shm_exists(name));
}

static void test_backplane_ids_do_not_cross_backplanes(void **state)
{
    (void)state;
    char n1[96], n2[96];
    hermes_backplane_t *a = make(test_run_name(n1, sizeof n1, "a"), specs, 5);
    hermes_backplane_t *b = make(test_run_name(n2, sizeof n2, "b"), specs, 5);
    hermes_signal_t s;
    assert_hermes_ok(hermes_backplane_find(a, "vehicle.count", &s));
    double v;
    assert_hermes_rc(hermes_backplane_read(b, s, &v), HERMES_ENOENT);
    hermes_signal_t zero = {0, 0};
    assert_hermes_rc(hermes_backplane_read(a, zero, &v), HERMES_ENOENT);
    assert_null(hermes_backplane_slot(b, s));
    hermes_backplane_destroy(a);
    hermes_backplane_destroy(b);
}

/* A real second process attaches by name, writes and publishes. */
static void test_backplane_open_from_other_process(void **state)
{
    (void)state;
    char name[96];
    hermes_backplane_t *bp = make(test_run_name(name, sizeof name, "open"), specs, 5);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        hermes_backplane_t *c = NULL;
        if (hermes_backplane_open(&c, name) != 0)
            _exit(10);
        hermes_signal_t s;
        if (hermes_backplane_find(c, "vehicle.big", &s) != 0)
            _exit(11);
        if (hermes_backplane_write(c, s, 42) != 0)
            _exit(12);
        hermes_backplane_publish(c, 9, 90);
        hermes_backplane_destroy(c);  /* not the owner: must not unlink */
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(shm_exists(name));
    hermes_signal_t s;
    assert_hermes_ok(hermes_backplane_find(bp, "vehicle.big", &s));
    double v = 0;
    uint64_t frame = 0, t = 0;
    assert_hermes_ok(hermes_backplane_snapshot(bp, &s.index, 1, &v, &frame, &t));
    assert_true(v == 42);
    assert_int_equal(frame, 9);
    assert_int_equal(t, 90);
    assert_int_equal(hermes_backplane_frame(bp), 9);
    hermes_backplane_destroy(bp);

    hermes_backplane_t *c = NULL;
    assert_hermes_rc(hermes_backplane_open(&c, name), HERMES_ENOENT);
    assert_null(c);
}

/* ---- snapshot consistency under a flat-out writer ---------------------- */

#define TORN_N 4096

struct torn {
    hermes_backplane_t *bp;
    atomic_bool stop;
    atomic_ulong published;
};

static void *writer(void *arg)
{
    struct torn *t = arg;
    hermes_signal_t first;
    hermes_backplane_find(t->bp, "w.s0", &first);
    double *live = hermes_backplane_slot(t->bp, first);
    for (uint64_t f = 1; !atomic_load_explicit(&t->stop, memory_order_relaxed); f++) {
        for (int i = 0; i < TORN_N; i++)
            live[i] = (double)f;
        hermes_backplane_publish(t->bp, f, f * 10);
        atomic_store_explicit(&t->published, f, memory_order_relaxed);
    }
    return NULL;
}

static void test_backplane_snapshot_never_torn(void **state)
{
    (void)state;
    static hermes_signal_spec_t many[TORN_N];
    static char names[TORN_N][16];
    for (int i = 0; i < TORN_N; i++) {
        snprintf(names[i], sizeof names[i], "s%d", i);
        many[i] = (hermes_signal_spec_t){"w", names[i], HERMES_TYPE_F64, "", false, 0};
    }
    char name[96];
    struct torn t = {make(test_run_name(name, sizeof name, "torn"), many, TORN_N), false, 0};
    static uint32_t idx[TORN_N];
    static double out[TORN_N];
    for (int i = 0; i < TORN_N; i++)
        idx[i] = (uint32_t)(TORN_N - 1 - i);  /* reverse order: the reader walks against the writer */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer, &t), 0);
    double end = test_now() + 1.0;
    long snaps = 0, torn = 0, mismatched = 0, retries = 0;
    uint64_t last = 0;
    while (test_now() < end) {
        uint64_t frame = 0, tns = 0;
        int rc = hermes_backplane_snapshot(t.bp, idx, TORN_N, out, &frame, &tns);
        if (rc == HERMES_EAGAIN) {
            retries++;
            continue;
        }
        if (rc != 0)
            break;
        snaps++;
        for (int i = 0; i < TORN_N; i++)
            if (out[i] != out[0]) {
                torn++;
                break;
            }
        if (out[0] != (double)frame || tns != frame * 10 || frame < last)
            mismatched++;
        last = frame;
    }
    atomic_store(&t.stop, true);
    pthread_join(th, NULL);
    unsigned long published = atomic_load(&t.published);
    hermes_backplane_destroy(t.bp);
    print_message("snapshots=%ld publishes=%lu eagain=%ld\n", snaps, published, retries);
    assert_int_equal(torn, 0);
    assert_int_equal(mismatched, 0);
    assert_true(snaps > 10);
    assert_true(published > 10);
}

static void test_backplane_snapshot_plan(void **state)
{
    (void)state;
    char n1[96], n2[96];
    hermes_backplane_t *bp = make(test_run_name(n1, sizeof n1, "plan"), specs, 5);
    hermes_backplane_t *other = make(test_run_name(n2, sizeof n2, "plan2"), specs, 5);
    for (uint32_t i = 0; i < 5; i++) {
        hermes_signal_info_t info;
        assert_hermes_ok(hermes_backplane_info(bp, i, &info));
        assert_hermes_ok(hermes_backplane_write(bp, info.id, i == 4 ? 1 : (double)(10 + i)));
    }
    hermes_backplane_publish(bp, 3, 30);
    const uint32_t idx[] = {1, 2, 3, 0, 4, 2};   /* runs: [1..3], [0], [4], [2] */
    hermes_snapshot_plan_t *plan = NULL;
    assert_hermes_ok(hermes_snapshot_plan_create(&plan, bp, idx, 6));
    assert_int_equal(hermes_snapshot_plan_count(plan), 6);
    double out[6], ref[6];
    uint64_t f = 0, t = 0;
    assert_hermes_ok(hermes_backplane_snapshot_plan(bp, plan, out, &f, &t));
    assert_hermes_ok(hermes_backplane_snapshot(bp, idx, 6, ref, NULL, NULL));
    const double want[] = {11, 12, 13, 10, 1, 12};
    for (int i = 0; i < 6; i++) {
        assert_true(out[i] == want[i]);
        assert_true(ref[i] == want[i]);
    }
    assert_int_equal(f, 3);
    assert_int_equal(t, 30);
    assert_hermes_rc(hermes_backplane_snapshot_plan(other, plan, out, NULL, NULL), HERMES_EINVAL);
    hermes_snapshot_plan_t *bad = NULL;
    const uint32_t oob[] = {0, 5};
    assert_hermes_rc(hermes_snapshot_plan_create(&bad, bp, oob, 2), HERMES_EINVAL);
    assert_null(bad);
    assert_hermes_rc(hermes_backplane_snapshot(bp, oob, 2, out, NULL, NULL), HERMES_EINVAL);
    hermes_snapshot_plan_t *empty = NULL;
    assert_hermes_ok(hermes_snapshot_plan_create(&empty, bp, NULL, 0));
    assert_hermes_ok(hermes_backplane_snapshot_plan(bp, empty, NULL, &f, NULL));
    hermes_snapshot_plan_destroy(empty);
    hermes_snapshot_plan_destroy(plan);
    hermes_backplane_destroy(bp);
    hermes_backplane_destroy(other);
}

/* The name index behind find() and every bulk name lookup at start-up. */
static void test_backplane_names_index(void **state)
{
    (void)state;
    struct hermes__names t;
    hermes__names_init(&t);
    uint32_t v = 0;
    assert_int_equal(hermes__names_get(&t, "x", 1, &v), -1);  /* empty table */
    enum { N = 5000 };
    static char keys[N][16];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "k%u", i);
        assert_int_equal(hermes__names_put(&t, keys[i], strlen(keys[i]), i, NULL), 0);
    }
    assert_int_equal(t.count, N);
    assert_true(t.cap >= 2 * N);  /* at most half full */
    for (uint32_t i = 0; i < N; i++) {
        assert_int_equal(hermes__names_get(&t, keys[i], strlen(keys[i]), &v), 0);
        assert_int_equal(v, i);
    }
    /* a second put of a name keeps the first value and reports it */
    uint32_t first = 77;
    assert_int_equal(hermes__names_put(&t, "k42", 3, 9999, &first), 1);
    assert_int_equal(first, 42);
    assert_int_equal(hermes__names_get(&t, "k42", 3, &v), 0);
    assert_int_equal(v, 42);
    /* keys need not be terminated: a prefix of a longer string */
    assert_int_equal(hermes__names_get(&t, "k12.rest", 3, &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(hermes__names_get(&t, "k1", 1, &v), -1);    /* "k" */
    assert_int_equal(hermes__names_get(&t, "k50000", 6, &v), -1);
    assert_int_equal(hermes__names_get(&t, "", 0, &v), -1);
    assert_int_equal(hermes__names_put(&t, "", 0, 1234, NULL), 0); /* the empty name is a name */
    assert_int_equal(hermes__names_get(&t, "", 0, &v), 0);
    assert_int_equal(v, 1234);
    hermes__names_free(&t);
    assert_null(t.slot);
    assert_int_equal(hermes__names_get(&t, "k1", 2, &v), -1);
}

/* Many signals over many modules, module list derived from the signals:
 * every name finds its own slot and module, near misses find nothing. */
static void test_backplane_find_many(void **state)
{
    (void)state;
    enum { NMOD = 50, PER = 400, N = NMOD * PER };
    hermes_signal_spec_t *sp = calloc(N, sizeof *sp);
    char (*mods)[16] = calloc(NMOD, sizeof *mods);
    char (*locals)[16] = calloc(PER, sizeof *locals);
    assert_non_null(sp);
    for (uint32_t m = 0; m < NMOD; m++)
        snprintf(mods[m], sizeof mods[m], "mod%u", m);
    for (uint32_t j = 0; j < PER; j++)
        snprintf(locals[j], sizeof locals[j], "sig.%u", j);
    for (uint32_t i = 0; i < N; i++)  /* modules interleaved: module i % NMOD */
        sp[i] = (hermes_signal_spec_t){mods[i % NMOD], locals[i / NMOD], HERMES_TYPE_F64, "", false, (double)i};
    char name[96];
    hermes_backplane_t *bp = make(test_run_name(name, sizeof name, "many"), sp, N);
    assert_int_equal(hermes_backplane_module_count(bp), NMOD);
    for (uint32_t i = 0; i < N; i++) {
        char q[64];
        snprintf(q, sizeof q, "%s.%s", sp[i].module, sp[i].name);
        hermes_signal_t id;
        assert_hermes_ok(hermes_backplane_find(bp, q, &id));
        assert_int_equal(id.index, i);
        hermes_signal_info_t info;
        assert_hermes_ok(hermes_backplane_info(bp, id.index, &info));
        assert_int_equal(info.module_index, i % NMOD);
        assert_string_equal(info.module, mods[i % NMOD]);
    }
    hermes_signal_t id;
    assert_hermes_rc(hermes_backplane_find(bp, "mod1.sig.", &id), HERMES_ENOENT);
    assert_hermes_rc(hermes_backplane_find(bp, "mod1.sig.400", &id), HERMES_ENOENT);
    assert_hermes_rc(hermes_backplane_find(bp, "mod1", &id), HERMES_ENOENT);
    assert_hermes_rc(hermes_backplane_find(bp, "", &id), HERMES_ENOENT);
    hermes_backplane_destroy(bp);

    /* an explicit module list naming a module twice */
    const char *twice[] = {"mod0", "mod1", "mod0"};
    hermes_backplane_config_t cfg;
    hermes_backplane_config_init(&cfg);
    cfg.run_name = test_run_name(name, sizeof name, "modtwice");
    cfg.signals = sp;
    cfg.signal_count = 2;
    cfg.modules = twice;
    cfg.module_count = 3;
    bp = NULL;
    assert_hermes_rc(hermes_backplane_create(&bp, &cfg), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "duplicate module name 'mod0'");
    /* and a signal of a module not in the list */
    cfg.module_count = 1;
    assert_hermes_rc(hermes_backplane_create(&bp, &cfg), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "unknown module 'mod1'");
    assert_null(bp);
    free(sp);
    free(mods);
    free(locals);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backplane_create_find_info),
        cmocka_unit_test(test_backplane_type_checks),
        cmocka_unit_test(test_backplane_rejects_bad_specs),
        cmocka_unit_test(test_backplane_ids_do_not_cross_backplanes),
        cmocka_unit_test(test_backplane_open_from_other_process),
        cmocka_unit_test(test_backplane_snapshot_never_torn),
        cmocka_unit_test(test_backplane_snapshot_plan),
        cmocka_unit_test(test_backplane_names_index),
        cmocka_unit_test(test_backplane_find_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
