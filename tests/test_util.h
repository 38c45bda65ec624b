/* Shared helpers for the cmocka tests. */
#ifndef HERMES_TEST_UTIL_H
#define HERMES_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hermes/hermes.h>

#define assert_hermes_ok(expr)                                                                   \
    do {                                                                                         \
        int rc_ = (expr);                                                                        \
        if (rc_ != 0)                                                                            \
            fail_msg("%s -> %s: %s", #expr, hermes_err_name(rc_), hermes_last_error());          \
    } while (0)

#define assert_hermes_rc(expr, code)                                                             \
    do {                                                                                         \
        int rc_ = (expr);                                                                        \
        if (rc_ != (code))                                                                       \
            fail_msg("%s -> %s, expected %s (%s)", #expr, hermes_err_name(rc_), hermes_err_name(code), \
                     hermes_last_error());                                                       \
    } while (0)

#define assert_contains(hay, needle)                                                             \
    do {                                                                                         \
        const char *h_ = (hay);                                                                  \
        if (!h_ || !strstr(h_, (needle)))                                                        \
            fail_msg("'%s' does not contain '%s'", h_ ? h_ : "(null)", (needle));                \
    } while (0)

static inline double test_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Run ARGV (NULL-terminated) in @p cwd (NULL: here) with stdout+stderr in
 * @p out (NULL: /dev/null), bounded by @p seconds (then SIGKILL to its
 * process group). The exit status, or -1. */
static inline int test_run_cmd(const char *cwd, const char *out, double seconds, const char *const *argv)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out ? out : "/dev/null", O_CREAT | O_TRUNC | O_WRONLY, 0644);
        if (fd < 0 || (cwd && chdir(cwd) != 0))
            _exit(127);
        dup2(fd, 1);
        dup2(fd, 2);
        setpgid(0, 0);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    double end = test_now() + seconds;
    int st;
    while (waitpid(pid, &st, WNOHANG) != pid) {
        if (test_now() > end) {
            kill(-pid, SIGKILL);
            waitpid(pid, &st, 0);
            fprintf(stderr, "%s: timed out after %.0f s\n", argv[0], seconds);
            return -1;
        }
        usleep(10000);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The first MiB of the file @p path, NUL-terminated and malloc'd; NULL when
 * it cannot be opened. */
static inline char *test_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    (void)n;
    fclose(f);
    return buf;
}

/* A run name unique to this process and call. */
static inline const char *test_run_name(char *buf, size_t cap, const char *what)
{
    static int n;
    snprintf(buf, cap, "hermes-test-%s-%ld-%d", what, (long)getpid(), n++);
    return buf;
}

/* A scheduler for @p cfg on a fresh run name (written to @p run). */
static inline hermes_scheduler_t *test_scheduler_create(hermes_config_t *cfg, char *run, size_t cap, const char *what)
{
    hermes_scheduler_options_t opt;
    hermes_scheduler_options_init(&opt);
    opt.run_name = test_run_name(run, cap, what);
    hermes_scheduler_t *s = NULL;
    assert_hermes_ok(hermes_scheduler_create(&s, cfg, &opt));
    return s;
}

/* Published value of signal @p qname of @p s's backplane. */
static inline double test_published(hermes_scheduler_t *s, const char *qname)
{
    hermes_backplane_t *bp = hermes_scheduler_backplane(s);
    hermes_signal_t id;
    if (hermes_backplane_find(bp, qname, &id) != 0)
        fail_msg("no signal %s", qname);
    double v = 0.0;
    assert_hermes_ok(hermes_backplane_snapshot(bp, &id.index, 1, &v, NULL, NULL));
    return v;
}

#ifdef HERMES_TEST_BUILDDIR
#define TEST_DEMO_DIR HERMES_TEST_BUILDDIR "/../examples/launch"
/* The demo's config (examples/launch, built next to its modules) in @p mode;
 * @p text: its YAML as given instead of the file (NULL: the file). */
static inline hermes_config_t *test_load_demo_text(hermes_mode_t mode, const char *text)
{
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    int rc = text ? hermes_config_parse(&cfg, text, strlen(text), "launch.yaml", TEST_DEMO_DIR, &err)
                  : hermes_config_load(&cfg, TEST_DEMO_DIR "/launch.yaml", &err);
    if (rc != 0)
        fail_msg("%s", err.message);
    hermes_execution_t ex;
    assert_hermes_ok(hermes_config_execution(cfg, &ex));
    ex.mode = mode;
    assert_hermes_ok(hermes_config_set_execution(cfg, &ex));
    return cfg;
}

static inline hermes_config_t *test_load_demo(hermes_mode_t mode) { return test_load_demo_text(mode, NULL); }
#endif

static inline int shm_exists(const char *run_name)
{
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/%s", run_name);
    return access(path, F_OK) == 0;
}

/* Whether any line of the text file @p path contains @p needle (false when
 * it cannot be opened). */
static inline bool file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

#endif
