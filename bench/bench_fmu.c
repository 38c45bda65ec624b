/* FMU modules (issue 20), figures printed, never asserted:
 *   1. one in-process FMU step through Hermes (an AFAP run whose only module
 *      is the FMI 3.0 test FMU tests/fmu/decay3.c) vs a bare loop calling the
 *      same FMU's functions directly: the same fmi3Set (inputs and tunable
 *      parameters), fmi3DoStep and fmi3Get (outputs) calls Hermes makes, and
 *      doStep alone (target: Hermes <= 1.3x the bare set/step/get loop);
 *   2. the same FMU with isolate: true (a child process, hermes-fmu-host) vs
 *      a process module doing the same work (bench/fmu_twin.c).
 * Each at substeps 1 (a trivial FMU: the fixed cost shows) and 100 (a step
 * of a few microseconds). Every figure is the best of 3 runs, the references
 * measured in the same run; an empty Hermes frame is printed too.
 * usage: bench_fmu DECAY3_FMU DECAY3_SO FMU_TWIN_EXE */
#include <hermes/hermes.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"
#include "fmu/fmi3.h"

#ifndef BENCH_BUILD
#define BENCH_BUILD "unknown"
#endif

#define RATE_HZ 1000.0

static const char *fmu_path, *so_path, *twin_path;

/* ns per frame of the best of 3 runs of @p yaml (@p frames frames, substeps @p m). */
static double hermes_ns(const char *yaml, uint64_t frames, int m, bool fmu)
{
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        hermes_config_t *cfg;
        hermes_error_t err;
        if (hermes_config_parse(&cfg, yaml, strlen(yaml), "bench_fmu.yaml", ".", &err) != 0 ||
            hermes_config_validate(cfg, &err) != 0) {
            fprintf(stderr, "bench_fmu: %s:%d:%d: %s\n", err.file, err.line, err.column, err.message);
            exit(1);
        }
        hermes_execution_t ex;
        CHECK(hermes_config_execution(cfg, &ex));
        ex.end_time = (double)frames / RATE_HZ;
        ex.has_end_time = true;
        CHECK(hermes_config_set_execution(cfg, &ex));
        if (fmu)
            CHECK(hermes_config_set_initial(cfg, "decay.substeps", m));
        uint64_t got = 0;
        double wall = run_wall(cfg, &got);
        if (got != frames) {
            fprintf(stderr, "bench_fmu: ran %llu frames, not %llu\n", (unsigned long long)got,
                    (unsigned long long)frames);
            exit(1);
        }
        double ns = wall * 1e9 / (double)frames;
        best = ns < best ? ns : best;
    }
    return best;
}

struct bare {
    fmi3InstantiateCoSimulationTYPE inst;
    fmi3FreeInstanceTYPE free_inst;
    fmi3EnterInitializationModeTYPE enter;
    fmi3InstanceTYPE exit_init, terminate;
    fmi3DoStepTYPE step;
    fmi3SetFloat64TYPE set_f64;
    fmi3SetUInt8TYPE set_u8;
    fmi3SetInt32TYPE set_i32;
    fmi3GetFloat64TYPE get_f64;
    fmi3GetFloat32TYPE get_f32;
    fmi3GetInt32TYPE get_i32;
    fmi3GetBooleanTYPE get_bool;
};

static void *sym(void *dl, const char *name)
{
    void *p = dlsym(dl, name);
    if (!p) {
        fprintf(stderr, "bench_fmu: %s has no %s\n", so_path, name);
        exit(1);
    }
    return p;
}

static void no_log(fmi3InstanceEnvironment env, fmi3Status st, fmi3String cat, fmi3String msg)
{
    (void)env; (void)st; (void)cat; (void)msg;
}

/* ns per step of the bare loop: @p io also makes the calls Hermes makes
 * around each step (set u, sel, k; get x, n, below, y). Best of 3. */
static double bare_ns(struct bare *b, const char *res, uint64_t steps, int m, bool io)
{
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        fmi3Instance c = b->inst("decay", "{decay3-1}", res, false, false, false, false, NULL, 0, NULL, no_log, NULL);
        if (!c) {
            fprintf(stderr, "bench_fmu: instantiate failed\n");
            exit(1);
        }
        const fmi3ValueReference vr_x = 1, vr_k = 2, vr_u = 4, vr_n = 5, vr_below = 6, vr_sel = 7, vr_y = 8,
                                 vr_sub = 14;
        int32_t sub = m;
        b->set_i32(c, &vr_sub, 1, &sub, 1);
        b->enter(c, false, 0, 0, false, 0);
        b->exit_init(c);
        double u = 0.5, k = 1.0, x = 0;
        uint8_t sel = 1;
        int32_t n = 0;
        bool below = false, ev, term, early;
        float y = 0;
        double last, h = 1.0 / RATE_HZ;
        double t0 = now();
        for (uint64_t i = 0; i < steps; i++) {
            if (io) {
                b->set_f64(c, &vr_u, 1, &u, 1);
                b->set_u8(c, &vr_sel, 1, &sel, 1);
                b->set_f64(c, &vr_k, 1, &k, 1);
            }
            b->step(c, (double)i / RATE_HZ, h, true, &ev, &term, &early, &last);
            if (io) {
                b->get_f64(c, &vr_x, 1, &x, 1);
                b->get_i32(c, &vr_n, 1, &n, 1);
                b->get_bool(c, &vr_below, 1, &below, 1);
                b->get_f32(c, &vr_y, 1, &y, 1);
            }
        }
        double ns = (now() - t0) * 1e9 / (double)steps;
        b->terminate(c);
        b->free_inst(c);
        best = ns < best ? ns : best;
        if (io && n != (int32_t)steps)
            fprintf(stderr, "bench_fmu: bare loop counted %d steps\n", (int)n);
    }
    return best;
}

static char *fmu_yaml(bool isolate)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "execution: {mode: afap, rate_hz: %g}\n"
             "modules:\n"
             "  decay: {type: fmu, fmu: '%s', isolate: %s}\n",
             RATE_HZ, fmu_path, isolate ? "true" : "false");
    return buf;
}

static char *twin_yaml(int m)
{
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "execution: {mode: afap, rate_hz: %g}\n"
             "modules:\n"
             "  decay:\n"
             "    type: process\n"
             "    executable: '%s'\n"
             "    args: ['%d']\n"
             "    signals:\n"
             "      - {name: x, type: f64}\n"
             "      - {name: k, type: f64, writable: true, initial: 1}\n"
             "      - {name: x0, type: f64, writable: true, initial: 2}\n"
             "      - {name: u, type: f64, writable: true, initial: 0.5}\n"
             "      - {name: n, type: i32}\n"
             "      - {name: below, type: bool}\n"
             "      - {name: sel, type: i32, writable: true, initial: 1}\n"
             "      - {name: y, type: f32}\n",
             RATE_HZ, twin_path, m);
    return buf;
}

static const char *empty_yaml =
    "execution: {mode: afap, rate_hz: 1000}\n"
    "modules:\n"
    "  env: {type: injection, signals: [{name: g, type: f64, writable: true}]}\n";

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_fmu DECAY3_FMU DECAY3_SO FMU_TWIN_EXE\n");
        return 2;
    }
    fmu_path = argv[1];
    so_path = argv[2];
    twin_path = argv[3];
    void *dl = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        fprintf(stderr, "bench_fmu: %s\n", dlerror());
        return 1;
    }
    struct bare b;
    *(void **)&b.inst = sym(dl, "fmi3InstantiateCoSimulation");
    *(void **)&b.free_inst = sym(dl, "fmi3FreeInstance");
    *(void **)&b.enter = sym(dl, "fmi3EnterInitializationMode");
    *(void **)&b.exit_init = sym(dl, "fmi3ExitInitializationMode");
    *(void **)&b.terminate = sym(dl, "fmi3Terminate");
    *(void **)&b.step = sym(dl, "fmi3DoStep");
    *(void **)&b.set_f64 = sym(dl, "fmi3SetFloat64");
    *(void **)&b.set_u8 = sym(dl, "fmi3SetUInt8");
    *(void **)&b.set_i32 = sym(dl, "fmi3SetInt32");
    *(void **)&b.get_f64 = sym(dl, "fmi3GetFloat64");
    *(void **)&b.get_f32 = sym(dl, "fmi3GetFloat32");
    *(void **)&b.get_i32 = sym(dl, "fmi3GetInt32");
    *(void **)&b.get_bool = sym(dl, "fmi3GetBoolean");
    /* The bare loop's resource folder: decay3 checks for resources/token.txt. */
    char res[64] = "/tmp/bench_fmu_XXXXXX", tok[96];
    if (!mkdtemp(res))
        return 1;
    snprintf(tok, sizeof tok, "%s/token.txt", res);
    FILE *f = fopen(tok, "w");
    if (f)
        fclose(f);
    strcat(res, "/");

    printf("bench_fmu: build %s\n", BENCH_BUILD);
    const uint64_t fast = 200000, slow = 20000;
    double empty = hermes_ns(empty_yaml, fast, 1, false);
    printf("reference: empty Hermes frame (one injection module), AFAP: %.1f ns/frame\n", empty);
    static const int work[] = {1, 100};
    for (int w = 0; w < 2; w++) {
        int m = work[w];
        double bare_step = bare_ns(&b, res, fast, m, false);
        double bare_io = bare_ns(&b, res, fast, m, true);
        double inproc = hermes_ns(fmu_yaml(false), fast, m, true);
        printf("substeps %3d: bare doStep %.1f ns, bare set+doStep+get %.1f ns, Hermes in-process %.1f ns/frame: "
               "%.2fx the bare set/step/get loop (target <= 1.3x), %.2fx doStep alone\n",
               m, bare_step, bare_io, inproc, inproc / bare_io, inproc / bare_step);
        fflush(stdout);
        double iso = hermes_ns(fmu_yaml(true), slow, m, true);
        double twin = hermes_ns(twin_yaml(m), slow, m, false);
        printf("substeps %3d: isolated FMU %.1f ns/frame, process module doing the same work %.1f ns/frame: %.2fx\n",
               m, iso, twin, iso / twin);
        fflush(stdout);
    }
    unlink(tok);
    res[strlen(res) - 1] = '\0';
    rmdir(res);
    dlclose(dl);
    return 0;
}
