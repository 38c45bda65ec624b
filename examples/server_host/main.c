/* A custom C host that serves its own simulation loop over WebSocket: no
 * scheduler, no YAML. The host owns a backplane, steps a pendulum itself,
 * publishes each frame, and hands the server a control table (pause, resume,
 * reset, step, set, state) plus state events through hermes_server_post_event().
 *
 *   hermes-example-server-host [--port N] [--seconds S]
 *   python3 examples/python_client/client.py ws://127.0.0.1:N/ --resume
 */
#include <hermes/hermes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RATE_HZ 200.0

struct host {
    hermes_backplane_t *bp;
    hermes_server_t    *srv;
    double             *theta, *omega, *length, *damping;  /* live slots */
    pthread_mutex_t     mu;         /* held by the loop only while computing one frame */
    hermes_state_t      state;      /* under mu */
    uint64_t            frame;      /* under mu */
    uint64_t            steps;      /* pending single steps, under mu */
    bool                reset;      /* under mu */
};

/* ---- control table: runs on the server's control thread -------------------- */

static void announce(struct host *h, hermes_event_t ev)
{
    if (h->srv)
        hermes_server_post_event(h->srv, ev, h->frame, NULL);
}

static int ctl_pause(void *ctx)
{
    struct host *h = ctx;
    pthread_mutex_lock(&h->mu);
    bool changed = h->state == HERMES_STATE_RUNNING;
    h->state = HERMES_STATE_PAUSED;
    if (changed)
        announce(h, HERMES_EVENT_PAUSED);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

static int ctl_resume(void *ctx)
{
    struct host *h = ctx;
    pthread_mutex_lock(&h->mu);
    bool changed = h->state == HERMES_STATE_PAUSED;
    h->state = HERMES_STATE_RUNNING;
    if (changed)
        announce(h, HERMES_EVENT_RUNNING);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

static int ctl_reset(void *ctx)
{
    struct host *h = ctx;
    pthread_mutex_lock(&h->mu);
    h->reset = true;  /* applied by the loop at the next frame boundary */
    pthread_mutex_unlock(&h->mu);
    return 0;
}

static int ctl_step(void *ctx, uint64_t count, uint64_t *target)
{
    struct host *h = ctx;
    pthread_mutex_lock(&h->mu);
    int rc = 0;
    if (h->state != HERMES_STATE_PAUSED) {
        rc = HERMES_ESTATE;  /* the server turns this into an error reply */
    } else {
        h->steps += count;
        *target = h->frame + h->steps;
    }
    pthread_mutex_unlock(&h->mu);
    return rc;
}

static int ctl_set(void *ctx, hermes_signal_t sig, double value)
{
    struct host *h = ctx;
    pthread_mutex_lock(&h->mu);  /* between frames */
    int rc = hermes_backplane_write(h->bp, sig, value);
    if (rc == 0 && h->state != HERMES_STATE_RUNNING)
        hermes_backplane_publish(h->bp, h->frame, (uint64_t)llround((double)h->frame * 1e9 / RATE_HZ));
    pthread_mutex_unlock(&h->mu);
    return rc;
}

static hermes_state_t ctl_state(void *ctx)
{
    struct host *h = ctx;
    pthread_mutex_lock(&h->mu);
    hermes_state_t st = h->state;
    pthread_mutex_unlock(&h->mu);
    return st;
}

/* ---- the host's own loop ---------------------------------------------------- */

static void initial(struct host *h)
{
    *h->theta = 1.0;
    *h->omega = 0.0;
    h->frame = 0;
    hermes_backplane_publish(h->bp, 0, 0);
}

static void step(struct host *h)
{
    const double dt = 1.0 / RATE_HZ, g = 9.81;
    double a = -g / *h->length * sin(*h->theta) - *h->damping * *h->omega;
    *h->omega += a * dt;
    *h->theta += *h->omega * dt;
    h->frame++;
    hermes_backplane_publish(h->bp, h->frame, (uint64_t)llround((double)h->frame * 1e9 / RATE_HZ));
}

static void log_line(void *ctx, hermes_log_level_t level, const char *component, const char *msg)
{
    (void)ctx;
    (void)level;
    fprintf(stderr, "%s: %s\n", component, msg);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int port = 8766;
    double seconds = 60;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
    }
    if (hermes_version() != HERMES_VERSION_NUMBER)
        fprintf(stderr, "warning: built against hermes %s, running %s\n", HERMES_VERSION_STRING,
                hermes_version_string());
    hermes_log_set(log_line, NULL, HERMES_LOG_INFO);

    hermes_signal_spec_t specs[] = {
        {"pendulum", "theta", HERMES_TYPE_F64, "rad", false, 1.0},
        {"pendulum", "omega", HERMES_TYPE_F64, "rad/s", false, 0.0},
        {"pendulum", "length", HERMES_TYPE_F64, "m", true, 1.0},
        {"pendulum", "damping", HERMES_TYPE_F64, "1/s", true, 0.1},
    };
    hermes_backplane_config_t bc;
    hermes_backplane_config_init(&bc);
    bc.signals = specs;
    bc.signal_count = 4;
    struct host h;
    memset(&h, 0, sizeof h);
    pthread_mutex_init(&h.mu, NULL);
    h.state = HERMES_STATE_PAUSED;
    if (hermes_backplane_create(&h.bp, &bc) != 0) {
        fprintf(stderr, "backplane: %s\n", hermes_last_error());
        return 1;
    }
    const char *names[] = {"pendulum.theta", "pendulum.omega", "pendulum.length", "pendulum.damping"};
    double **slots[] = {&h.theta, &h.omega, &h.length, &h.damping};
    for (int i = 0; i < 4; i++) {
        hermes_signal_t s;
        hermes_backplane_find(h.bp, names[i], &s);
        *slots[i] = hermes_backplane_slot(h.bp, s);
    }
    initial(&h);

    hermes_server_control_t ctl;
    hermes_server_control_init(&ctl);
    ctl.ctx = &h;
    ctl.pause = ctl_pause;
    ctl.resume = ctl_resume;
    ctl.reset = ctl_reset;
    ctl.step = ctl_step;
    ctl.set = ctl_set;
    ctl.state = ctl_state;
    hermes_server_config_t sc;
    hermes_server_config_init(&sc);
    sc.port = (uint16_t)port;
    hermes_server_t *srv = NULL;
    if (hermes_server_create(&srv, h.bp, &sc, &ctl) != 0 || hermes_server_start(srv) != 0) {
        fprintf(stderr, "server: %s\n", hermes_last_error());
        hermes_server_destroy(srv);
        hermes_backplane_destroy(h.bp);
        return 1;
    }
    pthread_mutex_lock(&h.mu);
    h.srv = srv;
    pthread_mutex_unlock(&h.mu);
    printf("serving pendulum on ws://127.0.0.1:%u/ for %g s (paused; a client resumes it)\n", hermes_server_port(srv),
           seconds);
    fflush(stdout);

    /* Paced loop with absolute deadlines; frames run only while running or stepping. */
    double start = now_s(), next = start;
    while (now_s() - start < seconds) {
        next += 1.0 / RATE_HZ;
        pthread_mutex_lock(&h.mu);
        if (h.reset) {
            h.reset = false;
            h.steps = 0;
            h.state = HERMES_STATE_PAUSED;
            initial(&h);
            announce(&h, HERMES_EVENT_RESET);
        } else if (h.state == HERMES_STATE_RUNNING || h.steps) {
            step(&h);
            if (h.steps)
                h.steps--;
        }
        pthread_mutex_unlock(&h.mu);
        double wait = next - now_s();
        if (wait > 0) {
            struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
            nanosleep(&ts, NULL);
        } else {
            next = now_s();
        }
    }
    pthread_mutex_lock(&h.mu);
    h.state = HERMES_STATE_STOPPED;
    announce(&h, HERMES_EVENT_STOPPED);
    pthread_mutex_unlock(&h.mu);
    hermes_server_stats_t st;
    hermes_server_stats(srv, &st);
    hermes_server_destroy(srv);  /* the stopped event goes out, then a 1001 close */
    printf("done: %llu frames, %llu telemetry frames sent to %llu connections\n", (unsigned long long)h.frame,
           (unsigned long long)st.frames_sent, (unsigned long long)st.connections);
    hermes_backplane_destroy(h.bp);
    pthread_mutex_destroy(&h.mu);
    return 0;
}
