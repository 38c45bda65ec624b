/* Test process module for campaigns: aborts (a crash, not an error answer)
 * when its input `level` exceeds the threshold given as argv[1] (default 1).
 * It publishes the run's seed (HERMES_SEED through hermes_module_seed()) as
 * two 32-bit halves, `seed_hi` and `seed_lo`, and -1 in both without one. */
#include <hermes/hermes.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    double threshold = argc > 1 ? strtod(argv[1], NULL) : 1.0;
    hermes_module_t *m;
    if (hermes_module_open(&m) != 0) {
        fprintf(stderr, "tripwire: %s\n", hermes_last_error());
        return 1;
    }
    double *level = hermes_module_slot(m, "level");
    double *hi = hermes_module_slot(m, "seed_hi"), *lo = hermes_module_slot(m, "seed_lo");
    if (!level || !hi || !lo) {
        hermes_module_done(m, 1, "tripwire needs signals level, seed_hi and seed_lo");
        hermes_module_close(m);
        return 1;
    }
    uint64_t seed = 0;
    bool has_seed = hermes_module_seed(m, &seed) == 0;
    uint64_t frame;
    double dt;
    int cmd;
    while ((cmd = hermes_module_wait(m, &frame, &dt)) > 0 && cmd != HERMES_CMD_TERMINATE) {
        *hi = has_seed ? (double)(seed >> 32) : -1;
        *lo = has_seed ? (double)(seed & 0xffffffffu) : -1;
        if (cmd == HERMES_CMD_STEP && *level > threshold && frame >= 10)
            abort();
    }
    hermes_module_close(m);
    return cmd < 0 ? 1 : 0;
}
