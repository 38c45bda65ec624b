/* Test process module: one executable, behaviour chosen by argv.
 *   proc_module MODE [N] [options]
 * Modes:
 *   noop            answer every command, touch nothing
 *   echo            out = in * 2 + frame; counters stages/resets/steps; last_frame, last_dt
 *   order           pos = order.counter; order.counter += 1 (ordering within a frame)
 *   crash N         raise(SIGKILL) while stepping frame N
 *   segv N          die of SIGSEGV while stepping frame N
 *   exit N          exit(0) right after answering step N (dies between frames)
 *   fail N          answer step N with error 5 and a message
 *   finish N        answer step N with hermes_module_finish ("landed at frame N"): the run
 *                   ends normally after that frame; at each stage, check that finish
 *                   outside a step is refused (HERMES_ESTATE), else fail the stage
 *   hang N          never answer step N (sleeps), SIGTERM ignored with --ignore-term
 *   busy N          like hang, but publishes its pid in signal 'busy' first
 *   early-exit      exit(3) before opening the handle
 *   refuse          open, refuse start-up with a message, exit(1)
 *   slow-hello S    sleep S seconds before opening
 *   work US         busy for US microseconds in every step (benchmarks)
 * Options: --marker PATH  write "terminated\n" to PATH on terminate
 *          --cpu C        pin to CPU C (benchmarks)
 * Every mode writes its pid into its signal 'pid' when it has one. */
#include <hermes/hermes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static void sleep_forever(void)
{
    for (;;)
        pause();
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: proc_module MODE [N] [--marker PATH] [--cpu C]\n");
        return 2;
    }
    const char *mode = argv[1];
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : -1;
    const char *marker = NULL;
    bool ignore_term = false;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--marker") && i + 1 < argc)
            marker = argv[++i];
        else if (!strcmp(argv[i], "--ignore-term"))
            ignore_term = true;
        else if (!strcmp(argv[i], "--cpu") && i + 1 < argc) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(atoi(argv[++i]), &set);
            if (sched_setaffinity(0, sizeof set, &set) != 0)
                perror("sched_setaffinity");
        }
    }
    if (ignore_term)
        signal(SIGTERM, SIG_IGN);
    if (!strcmp(mode, "early-exit"))
        return 3;
    if (!strcmp(mode, "slow-hello"))
        sleep((unsigned)n);

    hermes_module_t *m;
    if (hermes_module_open(&m) != 0) {
        fprintf(stderr, "proc_module: %s\n", hermes_last_error());
        return 1;
    }
    if (!strcmp(mode, "refuse")) {
        hermes_module_done(m, 7, "missing calibration table");
        hermes_module_close(m);
        return 1;
    }
    double *pid = hermes_module_slot(m, "pid");
    double *in = hermes_module_slot(m, "in"), *out = hermes_module_slot(m, "out");
    double *stages = hermes_module_slot(m, "stages"), *resets = hermes_module_slot(m, "resets");
    double *steps = hermes_module_slot(m, "steps"), *last_frame = hermes_module_slot(m, "last_frame");
    double *last_dt = hermes_module_slot(m, "last_dt");
    double *counter = hermes_module_slot(m, "order.counter"), *pos = hermes_module_slot(m, "pos");
    double *busy = hermes_module_slot(m, "busy");
    if (!strcmp(mode, "echo") && !(in && out && stages && resets && steps && last_frame && last_dt)) {
        hermes_module_done(m, 1, "echo mode needs signals in, out, stages, resets, steps, last_frame, last_dt");
        hermes_module_close(m);
        return 1;
    }
    if (!strcmp(mode, "order") && !(counter && pos)) {
        hermes_module_done(m, 1, "order mode needs signals order.counter and pos");
        hermes_module_close(m);
        return 1;
    }
    long nst = 0, nre = 0, nsp = 0;
    uint64_t frame;
    double dt;
    int cmd;
    while ((cmd = hermes_module_wait(m, &frame, &dt)) > 0) {
        if (pid)
            *pid = (double)getpid();
        if (cmd == HERMES_CMD_TERMINATE) {
            if (marker) {
                FILE *f = fopen(marker, "w");
                if (f) {
                    fputs("terminated\n", f);
                    fclose(f);
                }
            }
            break;
        }
        if (cmd == HERMES_CMD_STAGE) {
            nst++;
            if (!strcmp(mode, "finish") && hermes_module_finish(m, "too early") != HERMES_ESTATE) {
                hermes_module_done(m, 9, "hermes_module_finish outside a step was accepted");
                continue;
            }
        }
        else if (cmd == HERMES_CMD_RESET)
            nre++;
        else if (cmd == HERMES_CMD_STEP) {
            nsp++;
            if ((long)frame == n) {
                if (!strcmp(mode, "crash"))
                    raise(SIGKILL);
                if (!strcmp(mode, "segv")) {
                    /* raise() rather than a NULL store, which sanitizers turn into SIGABRT */
                    signal(SIGSEGV, SIG_DFL);
                    raise(SIGSEGV);
                }
                if (!strcmp(mode, "hang"))
                    sleep_forever();
                if (!strcmp(mode, "busy")) {
                    if (busy)
                        *busy = 1.0;
                    sleep_forever();
                }
                if (!strcmp(mode, "fail")) {
                    char msg[64];
                    snprintf(msg, sizeof msg, "boom at frame %llu", (unsigned long long)frame);
                    hermes_module_done(m, 5, msg);
                    continue;
                }
                if (!strcmp(mode, "finish")) {
                    char msg[64];
                    snprintf(msg, sizeof msg, "landed at frame %llu", (unsigned long long)frame);
                    if (hermes_module_finish(m, msg) != 0)
                        hermes_module_done(m, 9, hermes_last_error());
                    continue;
                }
                if (!strcmp(mode, "exit")) {
                    hermes_module_done(m, 0, NULL);
                    hermes_module_close(m);
                    return 0;
                }
            }
            if (!strcmp(mode, "echo"))
                *out = *in * 2.0 + (double)frame;
            if (!strcmp(mode, "work"))
                for (double end = mono_us() + (double)n; mono_us() < end;)
                    ;
            if (!strcmp(mode, "order")) {
                *pos = *counter;
                *counter += 1.0;
            }
        }
        if (!strcmp(mode, "echo")) {
            *stages = (double)nst;
            *resets = (double)nre;
            *steps = (double)nsp;
            *last_frame = (double)frame;
            *last_dt = dt;
        }
    }
    hermes_module_close(m);
    return cmd < 0 ? 1 : 0;
}
