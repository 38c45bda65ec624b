/* Multi-rate modules (issue 19), AFAP: inproc and process modules at the base
 * rate, at base/10 with offset 3 and at base/100 step exactly on the frames
 * f with (f - offset) % divisor == 0 and see dt = divisor / base; their
 * wired outputs hold between steps (zero-order hold); the whole trace is
 * bit-identical to a second run and to a run with the modules in mixed-rate
 * schedule groups. Test modules: the host table below and
 * tests/modules/proc_module.c (echo: out = in * 2 + frame, steps, last_frame,
 * last_dt). */
#include "server_rig.h"
#include "ws_client.h"

#include <math.h>
#include <stdlib.h>

#ifndef PROC_MODULE
#error "PROC_MODULE must be defined by meson"
#endif

#define BASE_HZ 1000.0
#define FRAMES  400u

/* ---- inproc test module: counts its steps and logs frame and dt of each ---- */

#define NLOG 3
#define LOG_CAP 1024
struct steplog {
    uint64_t frame[LOG_CAP];
    double   dt[LOG_CAP];
    uint32_t n;
};
static struct steplog logs[NLOG];   /* by the digit of the module's name: i0, i1, i2 */

struct counter {
    double *in, *out, *steps;
    int     idx;
};

static int ctr_init(void **state, const hermes_inproc_env_t *env)
{
    struct counter *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->in = hermes_inproc_slot(env, "in");
    c->out = hermes_inproc_slot(env, "out");
    c->steps = hermes_inproc_slot(env, "steps");
    c->idx = env->module_name[1] - '0';
    *state = c;
    return c->in && c->out && c->steps && c->idx >= 0 && c->idx < NLOG ? 0 : -1;
}

static int ctr_step(void *state, uint64_t frame, double dt)
{
    struct counter *c = state;
    struct steplog *l = &logs[c->idx];
    if (l->n < LOG_CAP) {
        l->frame[l->n] = frame;
        l->dt[l->n] = dt;
    }
    l->n++;
    *c->steps += 1.0;
    *c->out = *c->in * 0.5 + (double)frame * dt + (double)c->idx;
    return 0;
}

static void ctr_terminate(void *state) { free(state); }

static const hermes_inproc_module_t ctr_table = {HERMES_INPROC_ABI_VERSION, 0, ctr_init, NULL, ctr_step, NULL,
                                                 ctr_terminate, NULL, NULL, NULL};

/* ---- the simulation ---------------------------------------------------------------- */

struct rate {
    const char *name;
    double      hz;
    uint32_t    divisor, offset;
};
/* i* inproc, p* process; one of each at base, base/10 offset 3, base/100 */
static const struct rate rates[] = {
    {"i0", 0.0, 1, 0},   {"i1", 100.0, 10, 3}, {"i2", 10.0, 100, 0},
    {"p0", 0.0, 1, 0},   {"p1", 100.0, 10, 3}, {"p2", 10.0, 100, 0},
};
#define NMOD (sizeof rates / sizeof *rates)

static void sig(hermes_config_t *cfg, const char *mod, const char *name, bool writable, double initial)
{
    assert_hermes_ok(hermes_config_add_signal(cfg, mod, name, HERMES_TYPE_F64, NULL, writable, initial));
}

static hermes_config_t *build(bool grouped)
{
    hermes_config_t *cfg = NULL;
    assert_hermes_ok(hermes_config_create(&cfg));
    hermes_execution_t ex = {HERMES_MODE_AFAP, BASE_HZ, (double)FRAMES / BASE_HZ, true, 5.0};
    assert_hermes_ok(hermes_config_set_execution(cfg, &ex));
    for (size_t i = 0; i < NMOD; i++) {
        const char *n = rates[i].name;
        if (n[0] == 'i') {
            assert_hermes_ok(hermes_config_add_module(cfg, n, HERMES_MODULE_INPROC, NULL));
            assert_hermes_ok(hermes_config_set_module_callbacks(cfg, n, &ctr_table));
            sig(cfg, n, "in", true, 0.0);
            sig(cfg, n, "out", false, 0.0);
            sig(cfg, n, "steps", false, 0.0);
        } else {
            assert_hermes_ok(hermes_config_add_module(cfg, n, HERMES_MODULE_PROCESS, PROC_MODULE));
            const char *args[] = {"echo"};
            assert_hermes_ok(hermes_config_set_module_args(cfg, n, args, 1));
            sig(cfg, n, "pid", false, 0.0);
            sig(cfg, n, "in", true, 0.0);
            static const char *const outs[] = {"out", "stages", "resets", "steps", "last_frame", "last_dt"};
            for (size_t k = 0; k < sizeof outs / sizeof *outs; k++)
                sig(cfg, n, outs[k], false, -1.0);
        }
        assert_hermes_ok(hermes_config_set_module_rate(cfg, n, rates[i].hz, rates[i].offset));
    }
    /* a ring of wires across rates: each slow output feeds a faster input */
    assert_hermes_ok(hermes_config_add_wire(cfg, "i2.out", "i0.in", 1.0, 0.0));
    assert_hermes_ok(hermes_config_add_wire(cfg, "i0.out", "i1.in", 1.0, 0.0));
    assert_hermes_ok(hermes_config_add_wire(cfg, "i1.out", "p2.in", 1e-3, 0.0));
    assert_hermes_ok(hermes_config_add_wire(cfg, "p2.out", "p0.in", 1e-3, 0.0));
    assert_hermes_ok(hermes_config_add_wire(cfg, "p0.out", "p1.in", 1e-3, 0.0));
    assert_hermes_ok(hermes_config_add_wire(cfg, "p1.out", "i2.in", 1e-3, 0.0));
    if (grouped) {
        const char *order[] = {"i0", "i1", "i2", "p0", "p1", "p2"};
        const uint32_t group[] = {0, 0, 1, 1, 1, 2};   /* {i0,i1} {i2,p0,p1} p2 */
        assert_hermes_ok(hermes_config_set_schedule_groups(cfg, order, group, 6));
    }
    hermes_error_t err;
    if (hermes_config_validate(cfg, &err) != 0)
        fail_msg("%s", err.message);
    return cfg;
}

/* Every non-timing signal but pids after each computed frame. */
struct trace {
    hermes_backplane_t *bp;
    uint32_t           *idx;
    uint32_t            cols, rows;
    double             *v;
};

static int on_frame(void *ctx, uint64_t frame, uint64_t tick, hermes_frame_kind_t kind)
{
    struct trace *t = ctx;
    (void)tick;
    if (kind != HERMES_FRAME_COMPUTED || frame == 0 || frame > FRAMES)
        return 0;
    t->rows = (uint32_t)frame;
    return hermes_backplane_snapshot(t->bp, t->idx, t->cols, t->v + (size_t)(frame - 1) * t->cols, NULL, NULL);
}

static uint32_t col_of(const struct trace *t, const char *qname)
{
    hermes_signal_t id;
    if (hermes_backplane_find(t->bp, qname, &id) != 0)
        fail_msg("no signal %s", qname);
    for (uint32_t c = 0; c < t->cols; c++)
        if (t->idx[c] == id.index)
            return c;
    fail_msg("signal %s not traced", qname);
    return 0;
}

static double at(const struct trace *t, uint32_t row, const char *qname)
{
    return t->v[(size_t)row * t->cols + col_of(t, qname)];
}

static bool due(const struct rate *r, uint64_t f) { return f >= r->offset && (f - r->offset) % r->divisor == 0; }

static void check_trace(const struct trace *t)
{
    char q[64];
    for (size_t i = 0; i < NMOD; i++) {
        const struct rate *r = &rates[i];
        const double dt = (double)r->divisor / BASE_HZ;
        uint32_t count = 0;
        uint64_t last = 0;
        for (uint32_t f = 0; f < FRAMES; f++) {   /* row f: after frame f was computed */
            if (due(r, f)) {
                count++;
                last = f;
            }
            snprintf(q, sizeof q, "%s.steps", r->name);
            if (at(t, f, q) != (double)count)
                fail_msg("%s: %g steps after frame %u, expected %u", r->name, at(t, f, q), f, count);
            if (r->name[0] == 'p') {
                snprintf(q, sizeof q, "%s.last_frame", r->name);
                if (count > 0 && at(t, f, q) != (double)last)
                    fail_msg("%s: after frame %u last_frame %g, expected %llu", r->name, f, at(t, f, q),
                             (unsigned long long)last);
                snprintf(q, sizeof q, "%s.last_dt", r->name);
                if (count > 0 && at(t, f, q) != dt)
                    fail_msg("%s: dt %.17g, expected %.17g", r->name, at(t, f, q), dt);
            }
            /* zero-order hold: the output and the wired input it feeds change only on the module's frames */
            snprintf(q, sizeof q, "%s.out", r->name);
            if (f > 0 && !due(r, f) && at(t, f, q) != at(t, f - 1, q))
                fail_msg("%s.out changed on frame %u, where it does not step", r->name, f);
        }
        uint32_t want = 0;
        for (uint32_t f = 0; f < FRAMES; f++)
            want += due(r, f);
        assert_int_equal(count, want);
        assert_int_equal(count, r->divisor == 1 ? FRAMES : r->divisor == 10 ? FRAMES / 10 : FRAMES / 100);
    }
    /* the wired input of a fast module holds the slow output between the slow one's steps */
    for (uint32_t f = 1; f < FRAMES; f++)
        if (at(t, f, "i0.in") != at(t, f, "i2.out") || (!due(&rates[2], f) && at(t, f, "i0.in") != at(t, f - 1, "i0.in")))
            fail_msg("i0.in after frame %u: %g, i2.out %g", f, at(t, f, "i0.in"), at(t, f, "i2.out"));
}

static struct trace run(bool grouped)
{
    memset(logs, 0, sizeof logs);
    hermes_config_t *cfg = build(grouped);
    char rn[96];
    hermes_scheduler_t *s = test_scheduler_create(cfg, rn, sizeof rn, "rates");
    struct trace t = {hermes_scheduler_backplane(s), NULL, 0, 0, NULL};
    uint32_t n = hermes_backplane_count(t.bp);
    t.idx = calloc(n, sizeof *t.idx);
    assert_non_null(t.idx);
    for (uint32_t i = 0; i < n; i++) {
        hermes_signal_info_t si;
        assert_hermes_ok(hermes_backplane_info(t.bp, i, &si));
        size_t len = strlen(si.name);
        if (strcmp(si.module, HERMES_HEALTH_MODULE) != 0 && !(len > 4 && strcmp(si.name + len - 4, ".pid") == 0))
            t.idx[t.cols++] = i;
    }
    t.v = calloc((size_t)FRAMES * t.cols, sizeof(double));
    assert_non_null(t.v);
    assert_hermes_ok(hermes_scheduler_set_frame_hook(s, on_frame, &t));
    assert_hermes_ok(hermes_scheduler_stage(s));
    assert_hermes_ok(hermes_scheduler_run(s));
    assert_int_equal(t.rows, FRAMES);
    /* inproc: the frames stepped on and the dt seen, exactly */
    for (size_t i = 0; i < 3; i++) {
        const struct rate *r = &rates[i];
        const struct steplog *l = &logs[i];
        uint32_t k = 0;
        for (uint64_t f = 0; f < FRAMES; f++)
            if (due(r, f)) {
                assert_true(k < l->n);
                if (l->frame[k] != f || l->dt[k] != (double)r->divisor / BASE_HZ)
                    fail_msg("%s: step %u on frame %llu with dt %.17g, expected frame %llu dt %.17g", r->name, k,
                             (unsigned long long)l->frame[k], l->dt[k], (unsigned long long)f,
                             (double)r->divisor / BASE_HZ);
                k++;
            }
        assert_int_equal(l->n, k);
    }
    /* hermes.step_time.<m> is a slow module's last step: i1 steps on frames 3, 13, ..., none of which is
     * one of the frames afap samples (one in 64), yet it is written */
    if (!(test_published(s, "hermes.step_time.i1") > 0.0) || !(test_published(s, "hermes.step_time.p1") > 0.0))
        fail_msg("step_time of a slow module not written: i1 %g, p1 %g", test_published(s, "hermes.step_time.i1"),
                 test_published(s, "hermes.step_time.p1"));
    check_trace(&t);
    hermes_scheduler_destroy(s);
    assert_false(shm_exists(rn));
    hermes_config_destroy(cfg);
    return t;
}

static void same(struct trace a, struct trace b)
{
    assert_int_equal(a.cols, b.cols);
    for (uint32_t f = 0; f < FRAMES; f++)
        if (memcmp(a.v + (size_t)f * a.cols, b.v + (size_t)f * b.cols, a.cols * sizeof(double)) != 0)
            fail_msg("traces differ after frame %u", f);
    assert_true(memcmp(a.v, a.v + (size_t)(FRAMES - 1) * a.cols, a.cols * sizeof(double)) != 0);
}

static void test_rates_steps_dt_hold_and_determinism(void **state)
{
    (void)state;
    struct trace a = run(false), b = run(false), g = run(true);
    same(a, b);
    same(a, g);
    struct trace *all[] = {&a, &b, &g};
    for (size_t i = 0; i < 3; i++) {
        free(all[i]->v);
        free(all[i]->idx);
    }
}

/* The schema's modules and Foxglove's serverInfo metadata carry each module's rate. */
static void test_rates_in_schema_and_foxglove(void **state)
{
    (void)state;
    struct rig r;
    memset(&r, 0, sizeof r);
    r.cfg = build(false);
    hermes_server_config_t sc;
    hermes_server_config_init(&sc);
    sc.port = 0;
    rig_serve(&r, "rates-srv", &sc, true);
    struct wsc w;
    assert_int_equal(wsc_init(&w), 0);
    struct wsc_conn a, f;
    assert_int_equal(wsc_connect(&w, &a, r.port, "hermes"), 0);
    json_t *s = wsc_wait(&w, &a, "schema", NULL, 5);
    assert_non_null(s);
    json_t *mods = json_object_get(s, "modules");
    for (size_t i = 0; i < NMOD; i++) {
        json_t *m = json_object_get(mods, rates[i].name);
        assert_non_null(m);
        assert_true(json_real_value(json_object_get(m, "rate_hz")) == (rates[i].hz ? rates[i].hz : BASE_HZ));
        assert_int_equal(json_integer_value(json_object_get(m, "divisor")), rates[i].divisor);
        assert_int_equal(json_integer_value(json_object_get(m, "offset")), rates[i].offset);
    }
    assert_null(json_object_get(json_object_get(mods, "hermes"), "divisor"));
    json_decref(s);
    assert_int_equal(wsc_connect(&w, &f, r.port, "foxglove.websocket.v1"), 0);
    json_t *info = wsc_next(&w, &f, 5);
    assert_non_null(info);
    assert_string_equal(js(info, "op"), "serverInfo");
    const char *text = js(json_object_get(info, "metadata"), "module_rates");
    json_t *mr = json_loads(text, 0, NULL);
    assert_non_null(mr);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(mr, "p1"), "divisor")), 10);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(mr, "p1"), "offset")), 3);
    assert_true(json_real_value(json_object_get(json_object_get(mr, "i2"), "rate_hz")) == 10.0);
    json_decref(mr);
    json_decref(info);
    wsc_finish(&w, &a);
    wsc_finish(&w, &f);
    wsc_destroy(&w);
    rig_down(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rates_steps_dt_hold_and_determinism),
        cmocka_unit_test(test_rates_in_schema_and_foxglove),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
