/* Start-up cost: config load to frame 0 for 10,000 and 100,000 signals (and
 * 1,000 vs 10,000 wires, 4 signals a wire), beside a libyaml event pass over
 * the same file measured in the same run. Prints figures; asserts nothing.
 * Goals (issue 13): frame 0 <= 3x the event pass; 100k/10k signals and
 * 10k/1k wires time ratios <= 15 (linear would be 10).
 *
 *   bench_startup [--wall] [SIGNALS...]     default 10000 100000
 *
 * Times are CPU time of this process by default (on a shared machine, time
 * spent descheduled is not start-up cost); --wall measures CLOCK_MONOTONIC.
 *
 * Times are the best of ROUNDS rounds; "x" ratios are the median of the
 * per-round ratios (each round measures the pass and Hermes back to back,
 * which holds up better on a shared machine). "load" is hermes_config_load
 * (read, pre-pass, libcyaml, conversion, validation); "frame 0" adds
 * hermes_scheduler_create (backplane) and hermes_scheduler_stage. */
#include <hermes/hermes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "../tests/config_gen.h"

#ifndef HERMES_BUILDTYPE
#define HERMES_BUILDTYPE "unknown"
#endif

#define ROUNDS 5

static clockid_t clock_id = CLOCK_PROCESS_CPUTIME_ID;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(clock_id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The reference: read the file and pull every libyaml event, nothing else. */
static double event_pass(const char *path, long *events)
{
    double t0 = now_s();
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *text = malloc((size_t)n + 1);
    size_t got = fread(text, 1, (size_t)n, f);
    fclose(f);
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, text, got);
    *events = 0;
    for (int done = 0; !done;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev))
            break;
        done = ev.type == YAML_STREAM_END_EVENT;
        (*events)++;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    free(text);
    return now_s() - t0;
}

/* load (and, with @p stage, scheduler create + stage) of @p path, seconds. */
static double start(const char *path, int stage)
{
    double t0 = now_s();
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    if (hermes_config_load(&cfg, path, &err) != 0) {
        fprintf(stderr, "bench_startup: %s\n", err.message);
        exit(1);
    }
    double t = now_s() - t0;
    if (stage) {
        hermes_scheduler_t *s = NULL;
        if (hermes_scheduler_create(&s, cfg, NULL) != 0 || hermes_scheduler_stage(s) != 0) {
            fprintf(stderr, "bench_startup: %s\n", hermes_last_error());
            exit(1);
        }
        t = now_s() - t0;
        hermes_scheduler_destroy(s);
    }
    hermes_config_destroy(cfg);
    return t;
}

struct result {
    double pass, load, frame0;         /* best of the rounds, seconds */
    double load_ratio, frame0_ratio;   /* median of the per-round ratios to the pass */
    long   events;
    size_t bytes;
};

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static struct result measure(uint32_t nsig, uint32_t nwire)
{
    struct result r = {1e30, 1e30, 1e30, 0, 0, 0, 0};
    double lr[ROUNDS], fr[ROUNDS];
    char *text = gen_config(nsig, nwire, 2, &r.bytes);
    if (!text) {
        fprintf(stderr, "bench_startup: %u wires do not fit %u signals\n", nwire, nsig);
        exit(2);
    }
    char path[] = "/tmp/hermes-bench-startup-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, text, r.bytes) != (ssize_t)r.bytes) {
        perror("bench_startup: temp file");
        exit(1);
    }
    close(fd);
    free(text);
    for (int i = 0; i < ROUNDS; i++) {
        double p = event_pass(path, &r.events), l = start(path, 0), f = start(path, 1);
        lr[i] = l / p;
        fr[i] = f / p;
        r.pass = p < r.pass ? p : r.pass;
        r.load = l < r.load ? l : r.load;
        r.frame0 = f < r.frame0 ? f : r.frame0;
    }
    unlink(path);
    qsort(lr, ROUNDS, sizeof *lr, by_value);
    qsort(fr, ROUNDS, sizeof *fr, by_value);
    r.load_ratio = lr[ROUNDS / 2];
    r.frame0_ratio = fr[ROUNDS / 2];
    return r;
}

static void print(const char *what, uint32_t nsig, uint32_t nwire, const struct result *r)
{
    printf("%-9s %7u signals %6u wires %5.1f MB %8ld events: event pass %8.1f ms  load+validate %8.1f ms "
           "(%4.2fx)  frame 0 %8.1f ms (%4.2fx)\n",
           what, nsig, nwire, (double)r->bytes / 1e6, r->events, r->pass * 1e3, r->load * 1e3, r->load_ratio,
           r->frame0 * 1e3, r->frame0_ratio);
}

int main(int argc, char **argv)
{
    uint32_t sizes[8] = {10000, 100000};
    int nsizes = 2;
    int first = 1;
    if (argc > 1 && strcmp(argv[1], "--wall") == 0) {
        clock_id = CLOCK_MONOTONIC;
        first = 2;
    }
    if (argc > first) {
        nsizes = 0;
        for (int i = first; i < argc && nsizes < 8; i++)
            sizes[nsizes++] = (uint32_t)strtoul(argv[i], NULL, 10);
    }
    printf("bench_startup: build type %s, %s time, best of %d rounds; (x) = median per-round ratio to the libyaml "
           "event pass\n",
           HERMES_BUILDTYPE, clock_id == CLOCK_MONOTONIC ? "wall" : "process CPU", ROUNDS);
    struct result sig[8];
    for (int i = 0; i < nsizes; i++) {
        sig[i] = measure(sizes[i], 0);
        print("signals", sizes[i], 0, &sig[i]);
    }
    struct result w1 = measure(4000, 1000), w10 = measure(40000, 10000);
    print("wires", 4000, 1000, &w1);
    print("wires", 40000, 10000, &w10);
    if (nsizes >= 2)
        printf("scale: frame 0 %u/%u signals %.2f (event pass %.2f); 10000/1000 wires %.2f (goal <= 15)\n",
               sizes[nsizes - 1], sizes[0], sig[nsizes - 1].frame0 / sig[0].frame0,
               sig[nsizes - 1].pass / sig[0].pass, w10.frame0 / w1.frame0);
    printf("goal: frame 0 <= 3x the event pass\n");
    return 0;
}
