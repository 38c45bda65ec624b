/* For bench_python.py: a stand-in for hermes_module_wait() with the same signature
 * that answers at once (STEP for frames 0 .. n-1, then TERMINATE), so the Python
 * module loop's own per-frame cost is measured without the process handshake. */
#include <stdint.h>

static uint64_t frames_left, next_frame;

__attribute__((visibility("default"))) void stub_reset(uint64_t n)
{
    frames_left = n;
    next_frame = 0;
}

__attribute__((visibility("default"))) int stub_wait(void *m, uint64_t *frame, double *dt)
{
    (void)m;
    if (frames_left == 0)
        return 4; /* HERMES_CMD_TERMINATE */
    frames_left--;
    *frame = next_frame++;
    *dt = 0.001;
    return 2; /* HERMES_CMD_STEP */
}
