/* Benchmark process module, wide: its signals w0..wN-1 (N from argv[1]),
 * each advanced every step by a damped term and a sine of its own frequency
 * (about 20 ns of arithmetic per signal: CPU-bound, the step's cost grows
 * with the signals it writes, as a real model's does), or with argv[2]
 * "store" only incremented (memory-bound: the shape where the scheduler's
 * serial work per frame weighs most). For bench_groups. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hermes/module.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
    int store = argc > 2 && !strcmp(argv[2], "store");
    hermes_module_t *m;
    if (n <= 0 || hermes_module_open(&m) != 0) {
        fprintf(stderr, "wide: usage: wide N (%s)\n", n <= 0 ? "N missing" : hermes_last_error());
        return 1;
    }
    double **s = calloc((size_t)n, sizeof *s);
    for (long i = 0; s && i < n; i++) {
        char name[24];
        snprintf(name, sizeof name, "w%ld", i);
        if (!(s[i] = hermes_module_slot(m, name))) {
            hermes_module_done(m, 1, "missing signal");
            hermes_module_close(m);
            return 1;
        }
    }
    uint64_t frame;
    double dt;
    int cmd;
    while (s && (cmd = hermes_module_wait(m, &frame, &dt)) > 0 && cmd != HERMES_CMD_TERMINATE) {
        if (cmd == HERMES_CMD_STEP) {
            double t = (double)frame * dt;
            if (store)
                for (long i = 0; i < n; i++)
                    *s[i] += dt;
            else
                for (long i = 0; i < n; i++)
                    *s[i] = 0.999 * *s[i] + sin(t * (double)(i % 97 + 1)) * dt;
        }
        hermes_module_done(m, 0, NULL);
    }
    free(s);
    hermes_module_close(m);
    return 0;
}
