/* AFAP frames/s of the demo (examples/launch) with 10 subscribed WebSocket
 * clients versus none, in the same run. Clients: bench_fanout_client (separate
 * process) subscribed to "*". Prints figures; target ratio >= 0.9.
 * usage: bench_fanout_afap CONFIG CLIENT_EXE [clients] [seconds]            */
#include <hermes/hermes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *run_main(void *arg)
{
    hermes_scheduler_run(arg);
    return NULL;
}

/* frames/s over @p secs after a 1 s warm-up; with clients when @p exe. */
static double measure(hermes_config_t *cfg, const char *exe, int nclients, double secs, char *line, size_t cap)
{
    hermes_scheduler_t *s = NULL;
    if (hermes_scheduler_create(&s, cfg, NULL) != 0 || hermes_scheduler_stage(s) != 0) {
        fprintf(stderr, "scheduler: %s\n", hermes_last_error());
        exit(1);
    }
    hermes_server_t *srv = NULL;
    FILE *clients = NULL;
    if (exe) {
        hermes_server_control_t ctl;
        hermes_server_control_from_scheduler(s, &ctl);
        hermes_server_config_t sc;
        hermes_server_config_init(&sc);
        sc.sim_config = cfg;
        if (hermes_server_create(&srv, hermes_scheduler_backplane(s), &sc, &ctl) != 0 || hermes_server_start(srv) != 0) {
            fprintf(stderr, "server: %s\n", hermes_last_error());
            exit(1);
        }
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "%s %u %d 1 %g '{\"action\":\"subscribe\",\"params\":{\"signals\":[\"*\"]}}'", exe,
                 hermes_server_port(srv), nclients, secs);
        clients = popen(cmd, "r");
        sleep_s(0.3);  /* let them connect and subscribe */
    }
    pthread_t th;
    pthread_create(&th, NULL, run_main, s);
    sleep_s(exe ? 0.7 : 1.0);
    uint64_t f0 = hermes_scheduler_frame(s);
    double t0 = now_s();
    sleep_s(secs);
    uint64_t f1 = hermes_scheduler_frame(s);
    double t1 = now_s();
    hermes_scheduler_stop(s);
    pthread_join(th, NULL);
    line[0] = '\0';
    if (clients) {
        if (!fgets(line, (int)cap, clients))
            line[0] = '\0';
        pclose(clients);
        size_t l = strlen(line);
        if (l && line[l - 1] == '\n')
            line[l - 1] = '\0';
    }
    hermes_server_destroy(srv);
    hermes_scheduler_destroy(s);
    return (double)(f1 - f0) / (t1 - t0);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CONFIG CLIENT_EXE [clients] [seconds]\n", argv[0]);
        return 2;
    }
    int n = argc > 3 ? atoi(argv[3]) : 10;
    double secs = argc > 4 ? atof(argv[4]) : 3.0;
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    if (hermes_config_load(&cfg, argv[1], &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    hermes_execution_t ex;
    hermes_config_execution(cfg, &ex);
    ex.mode = HERMES_MODE_AFAP;
    ex.has_end_time = false;
    hermes_config_set_execution(cfg, &ex);
    char line[512];
    double none = measure(cfg, NULL, 0, secs, line, sizeof line);
    double with = measure(cfg, argv[2], n, secs, line, sizeof line);
    char unused[8];
    double none2 = measure(cfg, NULL, 0, secs, unused, sizeof unused);  /* again: drift check */
    printf("bench_fanout_afap: demo %s in afap, %g s per phase\n", argv[1], secs);
    printf("  no clients      : %.0f frames/s (repeat %.0f)\n", none, none2);
    printf("  %2d clients (*)  : %.0f frames/s   [%s]\n", n, with, line);
    printf("  ratio with/without = %.3f (target >= 0.9)\n", with / ((none + none2) / 2));
    hermes_config_destroy(cfg);
    return 0;
}
