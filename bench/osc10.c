/* Benchmark process module: 10 signals s0..s9, s_i += (i + 1) * dt each frame
 * (the C twin of bench/osc10.py, for bench_python.py). */
#include <stdio.h>
#include <hermes/module.h>

int main(void)
{
    hermes_module_t *m;
    if (hermes_module_open(&m) != 0) {
        fprintf(stderr, "osc10: %s\n", hermes_last_error());
        return 1;
    }
    double *s[10];
    for (int i = 0; i < 10; i++) {
        char name[8];
        snprintf(name, sizeof name, "s%d", i);
        if (!(s[i] = hermes_module_slot(m, name))) {
            hermes_module_done(m, 1, "missing signal");
            hermes_module_close(m);
            return 1;
        }
    }
    uint64_t frame;
    double dt;
    int cmd;
    while ((cmd = hermes_module_wait(m, &frame, &dt)) > 0 && cmd != HERMES_CMD_TERMINATE)
        if (cmd == HERMES_CMD_STEP)
            for (int i = 0; i < 10; i++)
                *s[i] += (i + 1) * dt;
    hermes_module_close(m);
    return cmd < 0;
}
