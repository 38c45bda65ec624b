/* Process-module stepping cost against the raw wake-up round trip.
 *
 *   (a) round trip of the wake-up primitive (lib/scheduler/drivers/process_wake.h, the code the
 *       library runs) between two bare processes, plus a process-shared
 *       sem_t pair for comparison;
 *   (b) ns per frame of a scheduler with 1 no-op process module;
 *   (c) the same with 4 no-op process modules;
 * and the ratios (b)/(a) and (c)/(4a), each for two placements: everything
 * on one CPU, and orchestrator on CPU 0 with the module(s) on CPU 1. Spin
 * budgets follow the library's policy (HERMES_SPIN_US unset) and, as a
 * second row, blocking only (HERMES_SPIN_US=0); the reference uses the same
 * budgets. Prints figures, asserts nothing.
 *   bench_process NOOP_MODULE_EXE [seconds_per_measurement]
 * Links the static core for the private wake-up header. */
#include <errno.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hermes/hermes.h>

#include "scheduler/drivers/process_wake.h"

static double secs = 0.5;
static const char *noop_exe;
static int ncpu;

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu < 0) {
        for (int i = 0; i < ncpu; i++)
            CPU_SET(i, &set);
    } else {
        CPU_SET(cpu, &set);
    }
    sched_setaffinity(0, sizeof set, &set);
}

struct pair {
    struct hermes_shm_ctrl ctrl;   /* go: parent -> child, done: child -> parent */
    sem_t a, b;
    _Atomic int stop;
    _Atomic uint64_t iters;
};

/* Round trip in ns: parent posts go, child answers done (both through the
 * library's primitive) or the sem_t pair when @p use_sem. */
static double raw_rt(int cpu_parent, int cpu_child, uint32_t spin_parent, uint32_t spin_child, bool use_sem)
{
    struct pair *p = mmap(NULL, sizeof *p, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    memset(p, 0, sizeof *p);
    p->ctrl.go.spin_ns = spin_child;
    p->ctrl.done.spin_ns = spin_parent;
    sem_init(&p->a, 1, 0);
    sem_init(&p->b, 1, 0);
    pid_t c = fork();
    if (c == 0) {
        pin(cpu_child);
        uint32_t seen = 0;
        for (;;) {
            if (use_sem) {
                sem_wait(&p->a);
                if (atomic_load(&p->stop))
                    _exit(0);
                sem_post(&p->b);
            } else {
                seen = hermes__wake_wait(&p->ctrl.go, seen, UINT64_MAX);
                if (atomic_load(&p->stop))
                    _exit(0);
                hermes__wake_post(&p->ctrl.done, seen);
            }
        }
    }
    pin(cpu_parent);
    uint32_t seq = 0;
    uint64_t n = 0, t0 = 0, warm = 1000;
    uint64_t budget = (uint64_t)(secs * 1e9);
    for (;; n++) {
        if (n == warm)
            t0 = hermes__now_ns();
        if (n > warm && (n & 63) == 0 && hermes__now_ns() - t0 > budget)
            break;
        if (use_sem) {
            sem_post(&p->a);
            sem_wait(&p->b);
        } else {
            seq = (seq + 1) & HERMES__WAKE_SEQ;
            hermes__wake_post(&p->ctrl.go, seq);
            while (hermes__wake_wait(&p->ctrl.done, seq - 1, UINT64_MAX) != seq)
                ;
        }
    }
    double ns = (double)(hermes__now_ns() - t0) / (double)(n - warm);
    atomic_store(&p->stop, 1);
    if (use_sem)
        sem_post(&p->a);
    else
        hermes__wake_post(&p->ctrl.go, seq + 1);
    waitpid(c, NULL, 0);
    munmap(p, sizeof *p);
    pin(-1);
    return ns;
}

/* Frame of the bare primitive with @p n child processes stepped in turn
 * (the same traffic as (c) without Hermes): ns per frame. */
static double raw_multi(int n, int cpu_parent, int cpu_child, uint32_t spin_parent, uint32_t spin_child)
{
    struct hermes_shm_ctrl *c = mmap(NULL, sizeof *c * (size_t)n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                                     -1, 0);
    if (c == MAP_FAILED)
        return -1;
    memset(c, 0, sizeof *c * (size_t)n);
    pid_t kids[8];
    for (int i = 0; i < n; i++) {
        c[i].go.spin_ns = spin_child;
        c[i].done.spin_ns = spin_parent;
        if ((kids[i] = fork()) == 0) {
            pin(cpu_child);
            uint32_t seen = 0;
            for (;;) {
                seen = hermes__wake_wait(&c[i].go, seen, UINT64_MAX);
                if (seen == HERMES__WAKE_SEQ)
                    _exit(0);
                hermes__wake_post(&c[i].done, seen);
            }
        }
    }
    pin(cpu_parent);
    uint32_t seq = 0;
    uint64_t f = 0, t0 = 0, warm = 500;
    for (;; f++) {
        if (f == warm)
            t0 = hermes__now_ns();
        if (f > warm && (f & 15) == 0 && hermes__now_ns() - t0 > (uint64_t)(secs * 1e9))
            break;
        seq++;
        for (int i = 0; i < n; i++) {
            hermes__wake_post(&c[i].go, seq);
            while (hermes__wake_wait(&c[i].done, seq - 1, UINT64_MAX) != seq)
                ;
        }
    }
    double ns = (double)(hermes__now_ns() - t0) / (double)(f - warm);
    for (int i = 0; i < n; i++) {
        hermes__wake_post(&c[i].go, HERMES__WAKE_SEQ);
        waitpid(kids[i], NULL, 0);
    }
    munmap(c, sizeof *c * (size_t)n);
    pin(-1);
    return ns;
}

/* ns per frame of a scheduler with @p nmods no-op process modules pinned to
 * @p cpu_mod, the stepping thread pinned to @p cpu_orch. */
static double hermes_frame(int nmods, int cpu_orch, int cpu_mod)
{
    hermes_config_t *cfg = NULL;
    if (hermes_config_create(&cfg) != 0)
        return -1;
    hermes_execution_t ex = {HERMES_MODE_AFAP, 1000.0, 0.0, false, 5.0};
    hermes_config_set_execution(cfg, &ex);
    char cpuarg[16];
    snprintf(cpuarg, sizeof cpuarg, "%d", cpu_mod);
    const char *args[] = {"noop", "-1", "--cpu", cpuarg};
    for (int i = 0; i < nmods; i++) {
        char name[16];
        snprintf(name, sizeof name, "noop%d", i);
        hermes_config_add_module(cfg, name, HERMES_MODULE_PROCESS, noop_exe);
        hermes_config_set_module_args(cfg, name, args, 4);
        hermes_config_add_signal(cfg, name, "x", HERMES_TYPE_F64, NULL, false, 0.0);
    }
    hermes_scheduler_t *s = NULL;
    double ns = -1;
    /* Created unpinned: the spin policy sees the machine, as in production. */
    if (hermes_scheduler_create(&s, cfg, NULL) != 0 || hermes_scheduler_stage(s) != 0) {
        fprintf(stderr, "bench_process: %s\n", hermes_last_error());
        goto out;
    }
    pin(cpu_orch);
    hermes_scheduler_step(s, 2000, NULL);  /* warm-up */
    uint64_t t0 = hermes__now_ns(), frames = 0, batch = 500;
    while (hermes__now_ns() - t0 < (uint64_t)(secs * 1e9)) {
        if (hermes_scheduler_step(s, batch, NULL) != 0) {
            fprintf(stderr, "bench_process: %s\n", hermes_last_error());
            goto out;
        }
        frames += batch;
    }
    ns = (double)(hermes__now_ns() - t0) / (double)frames;
out:
    pin(-1);
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
    return ns;
}

static void row(const char *placement, const char *spin, int co, int cm, uint32_t orch_spin, uint32_t mod_spin1,
                uint32_t mod_spin4)
{
    double a1 = raw_rt(co, cm, orch_spin, mod_spin1, false);
    double a4 = mod_spin4 == mod_spin1 ? a1 : raw_rt(co, cm, orch_spin, mod_spin4, false);
    double r4 = raw_multi(4, co, cm, orch_spin, mod_spin4);
    double b = hermes_frame(1, co, cm);
    double c = hermes_frame(4, co, cm);
    printf("%-18s %-15s (a) %7.0f ns  (b) %7.0f ns/frame  (c) %7.0f ns/frame  (b)/(a) %5.2f  (c)/(4a) %5.2f\n",
           placement, spin, a1, b, c, b / a1, c / (4 * a4));
    printf("%-18s %-15s     bare 4-child frame %7.0f ns (4a = %.0f ns%s)  (c)/bare %5.2f\n", "", "", r4, 4 * a4,
           a4 != a1 ? ", modules blocking" : "", c / r4);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_process NOOP_MODULE_EXE [seconds]\n");
        return 2;
    }
    noop_exe = argv[1];
    if (argc > 2)
        secs = atof(argv[2]);
    cpu_set_t set;
    sched_getaffinity(0, sizeof set, &set);
    ncpu = CPU_COUNT(&set);
    printf("bench_process: %d CPUs, %.2f s per measurement, %s\n", ncpu, secs, HERMES_VERSION_STRING);

    printf("\nreference primitives, blocking only (no spin):\n");
    printf("  futex pair (lib/scheduler/drivers/process_wake.h)   one CPU %8.0f ns   across CPUs %8.0f ns\n",
           raw_rt(0, 0, 0, 0, false), ncpu > 1 ? raw_rt(0, 1, 0, 0, false) : -1.0);
    printf("  process-shared sem_t pair         one CPU %8.0f ns   across CPUs %8.0f ns\n",
           raw_rt(0, 0, 0, 0, true), ncpu > 1 ? raw_rt(0, 1, 0, 0, true) : -1.0);
    if (ncpu > 1)
        printf("  futex pair, both spinning 20 us   one CPU %8.0f ns   across CPUs %8.0f ns\n",
               raw_rt(0, 0, 20000, 20000, false), raw_rt(0, 1, 20000, 20000, false));

    /* The library's default policy on this machine (see spin_policy() in
     * lib/scheduler/drivers/process.c): orchestrator spins with >= 2 CPUs; modules spin only
     * when every process module plus the orchestrator has a CPU. */
    uint32_t o = ncpu >= 2 ? 20000u : 0u;
    uint32_t m1 = ncpu >= 2 ? 20000u : 0u, m4 = ncpu >= 5 ? 20000u : 0u;
    printf("\nHermes vs reference (same placement and spin budgets for both):\n");
    unsetenv("HERMES_SPIN_US");
    row("one CPU (0/0)", "default policy", 0, 0, o, m1, m4);
    if (ncpu > 1)
        row("across CPUs (0/1)", "default policy", 0, 1, o, m1, m4);
    setenv("HERMES_SPIN_US", "0", 1);
    row("one CPU (0/0)", "blocking only", 0, 0, 0, 0, 0);
    if (ncpu > 1)
        row("across CPUs (0/1)", "blocking only", 0, 1, 0, 0, 0);
    unsetenv("HERMES_SPIN_US");
    printf("\ntarget: both ratios <= 1.3\n");
    return 0;
}
