/* Checkpoints (issue 21): write and restore time at 10^3 and 10^5 signals
 * (one injection module holding them plus an inproc module with 32 KiB of
 * state), the bytes written, beside write()+fsync()+rename() and read() of
 * the same number of bytes in the same folder, measured in the same run; and
 * the pause a checkpoint causes in a realtime 100 Hz run: the longest gap
 * between frame boundaries around the checkpoint's frame, against the same
 * run without one.
 *
 * usage: bench_checkpoint [DIR]   (DIR: where the files go, default /tmp) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hermes/hermes.h>
#include <hermes/inproc.h>

#include "bench_util.h"

#ifndef BUILD_TYPE
#define BUILD_TYPE "unknown"
#endif

#define MODEL_DOUBLES 4096   /* 32 KiB of module state */
#define REPEATS 15
#define RT_FRAMES 400        /* 4 s at 100 Hz */
#define RT_CKPT 200

/* ---- the inproc module: its state is an array it updates each step ---- */
struct model {
    double *out;
    double  x[MODEL_DOUBLES];
};

static int m_init(void **state, const hermes_inproc_env_t *env)
{
    struct model *m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    m->out = env->slots[0];
    *state = m;
    return 0;
}
static int m_stage(void *state) { (void)state; return 0; }
static int m_step(void *state, uint64_t frame, double dt)
{
    struct model *m = state;
    m->x[frame % MODEL_DOUBLES] += dt;
    *m->out = m->x[frame % MODEL_DOUBLES];
    return 0;
}
static int m_reset(void *state)
{
    struct model *m = state;
    memset(m->x, 0, sizeof m->x);
    return 0;
}
static void m_terminate(void *state) { free(state); }
static size_t m_size(void *state)
{
    (void)state;
    return sizeof(double) * MODEL_DOUBLES;
}
static int m_save(void *state, void *buf, size_t size)
{
    memcpy(buf, ((struct model *)state)->x, size);
    return 0;
}
static int m_load(void *state, const void *buf, size_t size)
{
    if (size != sizeof(double) * MODEL_DOUBLES)
        return -1;
    memcpy(((struct model *)state)->x, buf, size);
    return 0;
}
static const hermes_inproc_module_t model_table = {
    HERMES_INPROC_ABI_VERSION, 0, m_init, m_stage, m_step, m_reset, m_terminate, m_size, m_save, m_load,
};

static hermes_config_t *make_config(uint32_t nsig, hermes_mode_t mode, uint64_t frames)
{
    hermes_config_t *cfg;
    CHECK(hermes_config_create(&cfg));
    CHECK(hermes_config_add_module(cfg, "inj", HERMES_MODULE_INJECTION, NULL));
    char name[32];
    for (uint32_t i = 0; i < nsig; i++) {
        snprintf(name, sizeof name, "s%u", i);
        CHECK(hermes_config_add_signal(cfg, "inj", name, HERMES_TYPE_F64, NULL, true, (double)i * 0.5));
    }
    CHECK(hermes_config_add_module(cfg, "model", HERMES_MODULE_INPROC, NULL));
    CHECK(hermes_config_set_module_callbacks(cfg, "model", &model_table));
    CHECK(hermes_config_add_signal(cfg, "model", "y", HERMES_TYPE_F64, NULL, false, 0));
    hermes_execution_t ex = {mode, 100.0, (double)frames / 100.0, true, HERMES_DEFAULT_STEP_TIMEOUT};
    CHECK(hermes_config_set_execution(cfg, &ex));
    hermes_error_t err;
    if (hermes_config_validate(cfg, &err) != 0) {
        fprintf(stderr, "validate: %s\n", err.message);
        exit(1);
    }
    return cfg;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

/* The reference: @p len bytes written to a temporary, fsynced, renamed, the folder fsynced. */
static double ref_write(const char *dir, const char *buf, size_t len)
{
    char tmp[4200], fin[4200];
    snprintf(tmp, sizeof tmp, "%s/ref.tmp", dir);
    snprintf(fin, sizeof fin, "%s/ref.bin", dir);
    double t0 = now();
    int fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0 || write(fd, buf, len) != (ssize_t)len || fsync(fd) != 0 || close(fd) != 0 || rename(tmp, fin) != 0) {
        fprintf(stderr, "reference write: %s\n", strerror(errno));
        exit(1);
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return now() - t0;
}

static double ref_read(const char *dir, char *buf, size_t len)
{
    char fin[4200];
    snprintf(fin, sizeof fin, "%s/ref.bin", dir);
    double t0 = now();
    int fd = open(fin, O_RDONLY);
    if (fd < 0 || read(fd, buf, len) != (ssize_t)len) {
        fprintf(stderr, "reference read: %s\n", strerror(errno));
        exit(1);
    }
    close(fd);
    return now() - t0;
}

static void write_restore(const char *dir, uint32_t nsig)
{
    char path[4200], ref[4200];
    snprintf(path, sizeof path, "%s/bench-%u.hckpt", dir, nsig);
    snprintf(ref, sizeof ref, "%s/ref.bin", dir);
    hermes_config_t *cfg = make_config(nsig, HERMES_MODE_AFAP, 1000);
    hermes_scheduler_t *s;
    CHECK(hermes_scheduler_create(&s, cfg, NULL));
    CHECK(hermes_scheduler_stage(s));
    CHECK(hermes_scheduler_step(s, 10, NULL));
    double w[REPEATS], r[REPEATS], rw[REPEATS], rr[REPEATS];
    for (int i = 0; i < REPEATS; i++) {
        double t0 = now();
        CHECK(hermes_scheduler_checkpoint(s, path));
        w[i] = now() - t0;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        exit(1);
    }
    for (int i = 0; i < REPEATS; i++) {
        double t0 = now();
        CHECK(hermes_scheduler_restore(s, path));
        r[i] = now() - t0;
    }
    size_t len = (size_t)st.st_size;
    char *buf = malloc(len);
    if (!buf)
        exit(1);
    memset(buf, 0x5a, len);
    for (int i = 0; i < REPEATS; i++) {
        rw[i] = ref_write(dir, buf, len);
        rr[i] = ref_read(dir, buf, len);
    }
    free(buf);
    printf("  %6u signals + 32 KiB module state: file %8lld bytes | checkpoint %7.3f ms (reference "
           "write+fsync+rename %7.3f ms) | restore %7.3f ms (reference read %6.3f ms)\n",
           nsig, (long long)st.st_size, median(w, REPEATS) * 1e3, median(rw, REPEATS) * 1e3,
           median(r, REPEATS) * 1e3, median(rr, REPEATS) * 1e3);
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
    unlink(path);
    unlink(ref);
}

/* Realtime: when each frame boundary is reached. */
struct rt {
    double t[RT_FRAMES + 2];
};

static int rt_hook(void *ctx, uint64_t frame, uint64_t tick, hermes_frame_kind_t kind)
{
    (void)tick;
    (void)kind;
    struct rt *r = ctx;
    if (frame <= RT_FRAMES)
        r->t[frame] = now();
    return 0;
}

/* Over frames [lo, hi): the longest gap between two frame boundaries beyond
 * the 10 ms period (the pause: the realtime loop may re-anchor its schedule
 * after a late frame, so gaps, not lateness against frame 1, show it), and
 * the median gap beyond the period. In ms. */
static void pauses(const struct rt *r, uint64_t lo, uint64_t hi, double *max, double *med)
{
    static double v[RT_FRAMES];
    int n = 0;
    double m = 0;
    for (uint64_t f = lo; f < hi; f++) {
        double extra = (r->t[f] - r->t[f - 1] - 0.01) * 1e3;
        v[n++] = extra;
        if (extra > m)
            m = extra;
    }
    *max = m;
    *med = median(v, n);
}

/* out: max, median of the checkpoint's frames, of those before, of those after. */
static void realtime(const char *dir, uint32_t nsig, bool ckpt, double out[6])
{
    char path[4200];
    snprintf(path, sizeof path, "%s/rt-%u.hckpt", dir, nsig);
    hermes_config_t *cfg = make_config(nsig, HERMES_MODE_REALTIME, RT_FRAMES);
    hermes_scheduler_t *s;
    static struct rt r;
    memset(&r, 0, sizeof r);
    CHECK(hermes_scheduler_create(&s, cfg, NULL));
    CHECK(hermes_scheduler_set_frame_hook(s, rt_hook, &r));
    CHECK(hermes_scheduler_stage(s));
    if (ckpt)
        CHECK(hermes_scheduler_checkpoint_at(s, RT_CKPT, path));
    CHECK(hermes_scheduler_run(s));
    if (ckpt && hermes_scheduler_checkpoint_failures(s) != 0) {
        fprintf(stderr, "the realtime checkpoint failed\n");
        exit(1);
    }
    hermes_scheduler_destroy(s);
    hermes_config_destroy(cfg);
    unlink(path);
    pauses(&r, RT_CKPT - 2, RT_CKPT + 10, &out[0], &out[1]);
    pauses(&r, 10, RT_CKPT - 10, &out[2], &out[3]);
    pauses(&r, RT_CKPT + 20, RT_FRAMES, &out[4], &out[5]);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    printf("bench_checkpoint (build type %s), files in %s\n", BUILD_TYPE, dir);
    printf("write and restore (median of %d; the scheduler paused at frame 10):\n", REPEATS);
    write_restore(dir, 1000);
    write_restore(dir, 100000);
    printf("realtime 100 Hz, %d frames, checkpoint at frame %d; the gap between frame boundaries beyond the 10 ms "
           "period, in ms (max / median):\n", RT_FRAMES,
           RT_CKPT);
    const uint32_t sizes[2] = {1000, 100000};
    for (int k = 0; k < 2; k++) {
        double with[6], without[6];
        realtime(dir, sizes[k], false, without);
        realtime(dir, sizes[k], true, with);
        printf("  %6u signals, frames %3d..%3d (the checkpoint's): %8.3f / %7.3f with it, %7.3f / %6.3f without\n",
               sizes[k], RT_CKPT - 2, RT_CKPT + 9, with[0], with[1], without[0], without[1]);
        printf("                 frames  10..%3d (before):          %8.3f / %7.3f with it, %7.3f / %6.3f without\n",
               RT_CKPT - 11, with[2], with[3], without[2], without[3]);
        printf("                 frames %3d..%3d (after):           %8.3f / %7.3f with it, %7.3f / %6.3f without\n",
               RT_CKPT + 20, RT_FRAMES - 1, with[4], with[5], without[4], without[5]);
    }
    return 0;
}
