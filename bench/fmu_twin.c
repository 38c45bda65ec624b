/* The process-module twin of tests/fmu/decay3.c for bench_fmu: the same
 * signals and the same arithmetic per step (x relaxes to u/k in `substeps`
 * exact pieces, n counts, below = x < 1, y = sel * x as a float), written
 * against hermes/module.h. usage: fmu_twin SUBSTEPS */
#include <hermes/hermes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int m = argc > 1 ? atoi(argv[1]) : 1;
    if (m < 1)
        m = 1;
    hermes_module_t *mod;
    if (hermes_module_open(&mod) != 0) {
        fprintf(stderr, "fmu_twin: %s\n", hermes_last_error());
        return 2;
    }
    double *x = hermes_module_slot(mod, "x"), *k = hermes_module_slot(mod, "k"), *x0 = hermes_module_slot(mod, "x0");
    double *u = hermes_module_slot(mod, "u"), *n = hermes_module_slot(mod, "n");
    double *below = hermes_module_slot(mod, "below"), *sel = hermes_module_slot(mod, "sel");
    double *y = hermes_module_slot(mod, "y");
    if (!x || !k || !x0 || !u || !n || !below || !sel || !y) {
        hermes_module_done(mod, 1, "fmu_twin: missing signals");
        return 1;
    }
    for (;;) {
        uint64_t frame;
        double dt;
        int cmd = hermes_module_wait(mod, &frame, &dt);
        if (cmd == HERMES_CMD_STAGE) {
            *x = *x0;
            *n = 0;
        } else if (cmd == HERMES_CMD_STEP) {
            double eq = *u / *k;
            for (int j = 0; j < m; j++)
                *x = eq + (*x - eq) * exp(-*k * (dt / m));
            *n += 1;
            *below = *x < 1.0;
            *y = (double)(float)(*sel * *x);
        } else if (cmd != HERMES_CMD_RESET) {
            break;
        }
    }
    hermes_module_close(mod);
    return 0;
}
