/* Process modules, orchestrator side: spawn, handshake, supervision, timeouts.
 *
 * Each process module gets one supervisor thread that lives exactly as long
 * as its child. The supervisor forks the child (so PR_SET_PDEATHSIG, which is
 * tied to the forking *thread*, fires only if the whole orchestrator dies; the
 * host may create the scheduler on any thread), then sleeps in poll() on the
 * child's pidfd. When the child exits it reaps it, sets the DEAD bit of the
 * module's reply futex word and wakes it, so a scheduler waiting for a reply
 * returns at once; if no command is in flight (paused, between frames) it
 * fails the run through the module's `fail` callback.
 *
 * Who reports a death is decided by `phase`: the scheduler thread moves
 * IDLE -> BUSY around each command, the supervisor moves IDLE -> POSTING ->
 * REPORTED. Both sides are seq_cst, and the scheduler re-checks `dead` after
 * returning to IDLE, so exactly one of them reports a death. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backplane/layout.h"
#include "config/internal.h"
#include "hermes/module.h"
#include "scheduler/drivers/driver.h"
#include "scheduler/drivers/process_wake.h"
#include "common/util.h"

extern char **environ;

/* Longest grace period at shutdown (terminate reply, then SIGTERM). */
#define MAX_GRACE_NS    1000000000u

enum phase { PH_IDLE, PH_BUSY, PH_POSTING, PH_REPORTED, PH_CLOSING };
enum wait_result { W_ANSWERED, W_DEAD, W_TIMEOUT };

struct proc {
    struct hermes__module  *m;
    void                  (*on_close)(void *ctx);  /* after the child is gone (the owner's cleanup), or NULL */
    void                   *close_ctx;
    struct hermes_shm_ctrl *ctrl;
    uint32_t                seq;          /* go.seq of the last command */
    uint32_t                last_cmd;
    uint64_t                last_frame;
    double                  dt;
    double                  timeout_s;
    uint64_t                timeout_ns, grace_ns;
    uint64_t                deadline;     /* of the command in flight */
    bool                    ready;        /* start-up handshake completed */
    bool                    hung;         /* a command timed out */

    char                   *path;
    char                  **argv, **envp;

    pid_t                   pid;
    int                     pidfd;        /* -1: polled with waitpid(WNOHANG) */
    int                     efd;          /* eventfd: close() asks the supervisor to finish */
    pthread_t               sup;
    bool                    sup_started;

    pthread_mutex_t         mu;           /* spawn hand-off */
    pthread_cond_t          cv;
    bool                    spawned;
    int                     spawn_errno;  /* exec or fork errno, 0 when running */
    const char             *spawn_what;

    char                    state_path[192];  /* checkpoint exchanges (process_wake.h) */

    _Atomic int             phase;
    _Atomic bool            dead;
    int                     wstatus;      /* valid once dead; -1: unknown (reaped elsewhere) */
};

/* Commands as named in messages. */
#define CMD_NAME_TABLE(X)                        \
    X(HERMES_CMD_STAGE, "stage")                 \
    X(HERMES_CMD_STEP, "step")                   \
    X(HERMES_CMD_RESET, "reset")                 \
    X(HERMES_CMD_TERMINATE, "terminate")         \
    X(HERMES__CMD_HELLO, "start-up handshake")   \
    X(HERMES__CMD_SAVE, "state save")            \
    X(HERMES__CMD_LOAD, "state load")

static const char *cmd_name(uint32_t cmd)
{
#define X(value, text) case value: return text;
    switch (cmd) {
    CMD_NAME_TABLE(X)
    }
#undef X
    return "command";
}

/* "was killed by signal 9 (SIGKILL)", "exited with status 3". */
static void describe_status(int wstatus, char *buf, size_t n)
{
    if (wstatus == -1)
        snprintf(buf, n, "exited (status unavailable: reaped elsewhere)");
    else if (WIFEXITED(wstatus))
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(wstatus));
    else if (WIFSIGNALED(wstatus)) {
        const char *abbr = sigabbrev_np(WTERMSIG(wstatus));
        snprintf(buf, n, "was killed by signal %d (SIG%s)%s", WTERMSIG(wstatus), abbr ? abbr : "?",
                 WCOREDUMP(wstatus) ? ", core dumped" : "");
    } else
        snprintf(buf, n, "ended with wait status 0x%x", (unsigned)wstatus);
}

static bool is_dead(struct proc *p) { return atomic_load_explicit(&p->dead, memory_order_seq_cst); }

/* ---- child ---------------------------------------------------------------- */

/* Runs in the forked child: async-signal-safe calls only. */
static void child_exec(const struct proc *p, int errfd, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)   /* the orchestrator died before prctl took effect */
        _exit(125);
    /* Own process group: a terminal's Ctrl-C reaches hermes, which then shuts
     * the modules down in order, instead of killing them mid-frame. */
    setpgid(0, 0);
    /* Ignored signals survive exec (lws ignores SIGPIPE); the supervisor
     * blocks everything. Give the program a pristine signal state. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Only 0, 1, 2 go to the module, plus the close-on-exec error pipe on 3. */
    if (errfd != 3) {
        if (dup3(errfd, 3, O_CLOEXEC) < 0)
            _exit(126);
        errfd = 3;
    }
    if (close_range(4, ~0u, 0) != 0)
        for (int fd = 4; fd < 65536; fd++)
            close(fd);
    execve(p->path, p->argv, p->envp);
    int e = errno;
    ssize_t w = write(errfd, &e, sizeof e);
    (void)w;
    _exit(127);
}

/* ---- supervisor ------------------------------------------------------------ */

static void spawn_report(struct proc *p, int err, const char *what)
{
    pthread_mutex_lock(&p->mu);
    p->spawn_errno = err;
    p->spawn_what = what;
    p->spawned = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void mark_dead(struct proc *p, int wstatus)
{
    p->wstatus = wstatus;
    atomic_store_explicit(&p->dead, true, memory_order_seq_cst);
    hermes__wake_or(&p->ctrl->done, HERMES__WAKE_DEAD);
    char how[96];
    describe_status(wstatus, how, sizeof how);
    int expect = PH_IDLE;
    if (atomic_compare_exchange_strong(&p->phase, &expect, PH_POSTING)) {
        char msg[400];
        if (p->last_cmd == HERMES_CMD_STEP)
            snprintf(msg, sizeof msg, "module '%s' (pid %d) %s between frames (last step: frame %llu)", p->m->name,
                     (int)p->pid, how, (unsigned long long)p->last_frame);
        else
            snprintf(msg, sizeof msg, "module '%s' (pid %d) %s while idle (last command: %s)", p->m->name,
                     (int)p->pid, how, cmd_name(p->last_cmd));
        hermes__log(HERMES_LOG_ERROR, "process", "event=child_died module=%s pid=%d status=\"%s\" phase=idle",
                    p->m->name, (int)p->pid, how);
        p->m->fail(p->m->fail_ctx, msg);
        atomic_store_explicit(&p->phase, PH_REPORTED, memory_order_seq_cst);
    } else {
        hermes__log(expect == PH_CLOSING ? HERMES_LOG_DEBUG : HERMES_LOG_ERROR, "process",
                    "event=child_exited module=%s pid=%d status=\"%s\"", p->m->name, (int)p->pid, how);
    }
}

static void *supervise(void *arg)
{
    struct proc *p = arg;
    int ep[2];
    if (pipe2(ep, O_CLOEXEC) != 0) {
        spawn_report(p, errno, "pipe2");
        return NULL;
    }
    pid_t parent = getpid();
    pid_t c = fork();
    if (c == 0)
        child_exec(p, ep[1], parent);
    int fork_errno = errno;
    close(ep[1]);
    if (c < 0) {
        close(ep[0]);
        spawn_report(p, fork_errno, "fork");
        return NULL;
    }
    p->pid = c;
    /* The child is ours until we reap it, so the pid cannot be reused here. */
    p->pidfd = pidfd_open(c, 0);
    int exec_errno = 0;
    ssize_t r;
    while ((r = read(ep[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR)
        ;
    close(ep[0]);
    if (r != (ssize_t)sizeof exec_errno)
        exec_errno = 0;   /* EOF: execve succeeded and closed the pipe */
    spawn_report(p, exec_errno, "execve");

    int st = -1;
    for (;;) {
        struct pollfd f[2] = {{p->efd, POLLIN, 0}, {p->pidfd, POLLIN, 0}};
        int n = poll(f, p->pidfd >= 0 ? 2u : 1u, p->pidfd >= 0 ? -1 : 10);
        pid_t w = waitpid(c, &st, WNOHANG);
        if (w == c)
            break;
        if (w < 0 && errno == ECHILD) {
            st = -1;
            break;
        }
        if (n > 0 && (f[0].revents & POLLIN)) {
            /* close() has run out of patience: the child had its terminate
             * command and its SIGTERM grace period. */
            if (p->pidfd < 0 || pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0) != 0)
                kill(c, SIGKILL);
            while ((w = waitpid(c, &st, 0)) < 0 && errno == EINTR)
                ;
            if (w != c)
                st = -1;
            break;
        }
    }
    mark_dead(p, st);
    return NULL;
}

/* ---- commands ---------------------------------------------------------------- */

/* Wait until the reply word answers @p seq, the child dies, or @p deadline;
 * spinning first only with @p spin (and the word's budget). */
static enum wait_result await(struct proc *p, uint32_t seq, uint64_t deadline, bool spin)
{
    struct hermes_shm_wake *w = &p->ctrl->done;
    uint32_t v = atomic_load_explicit(&w->seq, memory_order_acquire);
    for (;;) {
        if ((v & HERMES__WAKE_SEQ) == seq)
            return W_ANSWERED;
        if (v & HERMES__WAKE_DEAD)
            return W_DEAD;
        uint32_t nv = hermes__wake_wait_spin(w, v, deadline, spin ? w->spin_ns : 0);
        if (nv == v)
            return W_TIMEOUT;
        v = nv;
    }
}

/* Back to IDLE after a command; report a death that happened meanwhile. */
static void settle(struct proc *p)
{
    atomic_store_explicit(&p->phase, PH_IDLE, memory_order_seq_cst);
    if (!is_dead(p))
        return;
    int expect = PH_IDLE;
    if (atomic_compare_exchange_strong(&p->phase, &expect, PH_POSTING)) {
        char how[96], msg[400];
        describe_status(p->wstatus, how, sizeof how);
        snprintf(msg, sizeof msg, "module '%s' (pid %d) %s after answering %s (frame %llu)", p->m->name, (int)p->pid,
                 how, cmd_name(p->last_cmd), (unsigned long long)p->last_frame);
        p->m->fail(p->m->fail_ctx, msg);
        atomic_store_explicit(&p->phase, PH_REPORTED, memory_order_seq_cst);
    }
}

static void post_command(struct proc *p, uint32_t cmd, uint64_t frame, double dt)
{
    struct hermes_shm_ctrl *c = p->ctrl;
    c->cmd = cmd;
    c->frame = frame;
    c->dt = dt;
    p->seq = (p->seq + 1) & HERMES__WAKE_SEQ;
    p->last_cmd = cmd;
    p->last_frame = frame;
    hermes__wake_post(&c->go, p->seq);
}

/* First half of a command: claim the module and post. -1 with errbuf set
 * when it died or hung earlier. */
static int begin(struct proc *p, uint32_t cmd, uint64_t frame, double dt)
{
    struct hermes__module *m = p->m;
    int expect = PH_IDLE;
    if (!atomic_compare_exchange_strong(&p->phase, &expect, PH_BUSY)) {
        /* Died (or hung) earlier. A supervisor may be posting the death
         * meanwhile; never wait for it: the owner may hold the lock its fail
         * callback takes. Its message goes elsewhere (scheduler/drivers/driver.h). */
        char how[96];
        if (is_dead(p))
            describe_status(p->wstatus, how, sizeof how);
        else
            snprintf(how, sizeof how, "stopped answering earlier");
        snprintf(m->errbuf, sizeof m->errbuf, "process (pid %d) %s before this %s", (int)p->pid, how,
                 cmd_name(cmd));
        return -1;
    }
    post_command(p, cmd, frame, dt);
    p->deadline = hermes__now_ns() + p->timeout_ns;
    return 0;
}

/* Second half: wait for the answer of the command begin() posted. */
static int finish(struct proc *p, bool spin)
{
    struct hermes__module *m = p->m;
    uint32_t cmd = p->last_cmd;
    enum wait_result r = await(p, p->seq, p->deadline, spin);
    if (r == W_ANSWERED) {
        int status = p->ctrl->status;
        if (status == HERMES__STATUS_FINISH && cmd == HERMES_CMD_STEP) {
            char why[sizeof p->ctrl->msg];  /* a copy: the child may write its shared memory */
            hermes__strlcpy(why, p->ctrl->msg, sizeof why);
            m->finish(m->fail_ctx, m, why);
            status = 0;
        }
        if (status != 0) {
            if (p->ctrl->msg[0])
                hermes__strlcpy(m->errbuf, p->ctrl->msg, sizeof m->errbuf);
            else
                snprintf(m->errbuf, sizeof m->errbuf, "module reported error %d", status);
        }
        settle(p);
        return status != 0 ? -1 : 0;
    }
    atomic_store_explicit(&p->phase, PH_REPORTED, memory_order_seq_cst);
    if (r == W_DEAD) {
        char how[96];
        describe_status(p->wstatus, how, sizeof how);
        snprintf(m->errbuf, sizeof m->errbuf, "process (pid %d) %s during %s", (int)p->pid, how, cmd_name(cmd));
    } else {
        p->hung = true;
        snprintf(m->errbuf, sizeof m->errbuf, "process (pid %d) did not answer %s within %g s (execution.step_timeout)",
                 (int)p->pid, cmd_name(cmd), p->timeout_s);
    }
    hermes__log(HERMES_LOG_ERROR, "process", "event=%s module=%s pid=%d command=%s frame=%llu",
                r == W_DEAD ? "died" : "timeout", m->name, (int)p->pid, cmd_name(cmd),
                (unsigned long long)p->last_frame);
    return -1;
}

static int command(struct proc *p, uint32_t cmd, uint64_t frame, double dt)
{
    return begin(p, cmd, frame, dt) != 0 ? -1 : finish(p, true);
}

static int proc_step(void *state, uint64_t frame, double dt)
{
    return command(state, HERMES_CMD_STEP, frame, dt);
}

static int proc_step_begin(void *state, uint64_t frame, double dt)
{
    return begin(state, HERMES_CMD_STEP, frame, dt);
}

static int proc_step_end(void *state, bool spin) { return finish(state, spin); }

static int proc_stage(struct hermes__module *m)
{
    struct proc *p = m->impl;
    return command(p, HERMES_CMD_STAGE, 0, p->dt);
}

static int proc_reset(struct hermes__module *m)
{
    struct proc *p = m->impl;
    return command(p, HERMES_CMD_RESET, 0, p->dt);
}

/* Checkpoints: the module writes its state to p->state_path on SAVE and
 * reads it on LOAD; the file never outlives the exchange. */
static int proc_state_save(struct hermes__module *m, void **buf, size_t *len)
{
    struct proc *p = m->impl;
    unlink(p->state_path);
    int rc = command(p, HERMES__CMD_SAVE, p->last_frame, p->dt);
    unsigned char *b = NULL;
    size_t n = 0;
    int frc = rc == 0 ? hermes__read_file(p->state_path, SIZE_MAX, &b, &n) : 0;
    if (frc == HERMES_ENOENT)
        snprintf(m->errbuf, sizeof m->errbuf, "its state file %s is missing", p->state_path);
    else if (frc)
        snprintf(m->errbuf, sizeof m->errbuf, "cannot read its state file %s: %s", p->state_path,
                 frc == HERMES_ENOMEM ? "out of memory" : strerror(errno));
    unlink(p->state_path);
    if (rc || frc) {
        free(b);
        return -1;
    }
    *buf = b;
    *len = n;
    return 0;
}

static int proc_state_load(struct hermes__module *m, const void *buf, size_t len)
{
    struct proc *p = m->impl;
    FILE *f = fopen(p->state_path, "wbe");
    bool ok = f && (len == 0 || fwrite(buf, 1, len, f) == len);  /* an empty state may come as NULL */
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok) {
        snprintf(m->errbuf, sizeof m->errbuf, "cannot write its state file %s: %s", p->state_path, strerror(errno));
        unlink(p->state_path);
        return -1;
    }
    int rc = command(p, HERMES__CMD_LOAD, p->last_frame, p->dt);
    unlink(p->state_path);
    return rc;
}

/* Wait for the child's death until @p deadline. */
static bool wait_dead(struct proc *p, uint64_t deadline)
{
    struct hermes_shm_wake *w = &p->ctrl->done;
    uint32_t v = atomic_load_explicit(&w->seq, memory_order_acquire);
    while (!(v & HERMES__WAKE_DEAD)) {
        uint32_t nv = hermes__wake_wait(w, v, deadline);
        if (nv == v)
            return false;
        v = nv;
    }
    return true;
}

static void send_signal(struct proc *p, int sig)
{
    if (p->pidfd >= 0 && pidfd_send_signal(p->pidfd, sig, NULL, 0) == 0)
        return;
    if (!is_dead(p))
        kill(p->pid, sig);
}

/* Normal shutdown: terminate command, then SIGTERM after the grace period,
 * then SIGKILL; the supervisor reaps. Also the cleanup of a failed open. */
static void proc_close(struct hermes__module *m)
{
    struct proc *p = m->impl;
    if (!p)
        return;
    if (p->sup_started) {
        int ph = atomic_exchange_explicit(&p->phase, PH_CLOSING, memory_order_seq_cst);
        if (p->spawn_errno == 0 && p->pid > 0) {
            if (ph == PH_IDLE && p->ready && !p->hung && !is_dead(p)) {
                post_command(p, HERMES_CMD_TERMINATE, p->last_frame, p->dt);
                await(p, p->seq, hermes__now_ns() + p->grace_ns, true);
            }
            if (!wait_dead(p, hermes__now_ns() + p->grace_ns)) {
                hermes__log(HERMES_LOG_WARN, "process", "event=sigterm module=%s pid=%d", m->name, (int)p->pid);
                send_signal(p, SIGTERM);
                if (!wait_dead(p, hermes__now_ns() + p->grace_ns))
                    hermes__log(HERMES_LOG_WARN, "process", "event=sigkill module=%s pid=%d", m->name, (int)p->pid);
            }
        }
        uint64_t one = 1;
        ssize_t w = write(p->efd, &one, sizeof one);  /* the supervisor SIGKILLs a survivor and reaps */
        (void)w;
        pthread_join(p->sup, NULL);
    }
    if (p->pidfd >= 0)
        close(p->pidfd);
    if (p->efd >= 0)
        close(p->efd);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->path);
    hermes__free_strv(p->argv, SIZE_MAX);
    hermes__free_strv(p->envp, SIZE_MAX);
    if (p->on_close)
        p->on_close(p->close_ctx);
    free(p);
    m->impl = NULL;
    m->state = NULL;
}

/* ---- open ------------------------------------------------------------------- */

static char *fmt_env(const char *key, const char *value) { return hermes__asprintf("%s=%s", key, value); }

static bool env_is_ours(const char *kv)
{
    static const char *const keys[] = {HERMES_ENV_BACKPLANE, HERMES_ENV_MODULE, HERMES_ENV_MODULE_CONFIG,
                                       HERMES_ENV_PARENT_PID, HERMES_ENV_SEED, HERMES_ENV_BASE_RATE};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        size_t k = strlen(keys[i]);
        if (strncmp(kv, keys[i], k) == 0 && kv[k] == '=')
            return true;
    }
    return false;
}

/* argv and envp are built before fork: the child may not allocate. */
static int build_exec(struct proc *p, const hermes_module_info_t *info, hermes_backplane_t *bp,
                      const hermes_config_t *cfg)
{
    p->path = hermes__strdup(info->path);
    p->argv = calloc((size_t)info->arg_count + 2, sizeof *p->argv);
    if (!p->path || !p->argv)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    if (!(p->argv[0] = hermes__strdup(info->path)))
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < info->arg_count; i++)
        if (!(p->argv[i + 1] = hermes__strdup(info->args[i])))
            return hermes__fail(HERMES_ENOMEM, "out of memory");
    size_t n = 0;
    for (char **e = environ; e && *e; e++)
        n++;
    p->envp = calloc(n + 7, sizeof *p->envp);
    if (!p->envp)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!env_is_ours(environ[i]) && !(p->envp[k++] = hermes__strdup(environ[i])))
            return hermes__fail(HERMES_ENOMEM, "out of memory");
    char pid[24];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    if (!(p->envp[k++] = fmt_env(HERMES_ENV_BACKPLANE, hermes_backplane_name(bp))) ||
        !(p->envp[k++] = fmt_env(HERMES_ENV_MODULE, p->m->name)) ||
        !(p->envp[k++] = fmt_env(HERMES_ENV_PARENT_PID, pid)) ||
        (info->config_path && !(p->envp[k++] = fmt_env(HERMES_ENV_MODULE_CONFIG, info->config_path))))
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    uint64_t seed;
    char seed_s[24];
    if (hermes_config_seed(cfg, &seed) == 0 && (snprintf(seed_s, sizeof seed_s, "%llu", (unsigned long long)seed),
                                                !(p->envp[k++] = fmt_env(HERMES_ENV_SEED, seed_s))))
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    hermes_execution_t ex;
    char rate_s[32];
    if (hermes_config_execution(cfg, &ex) == 0 && (snprintf(rate_s, sizeof rate_s, "%.17g", ex.rate_hz),
                                                    !(p->envp[k++] = fmt_env(HERMES_ENV_BASE_RATE, rate_s))))
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    return 0;
}

/* Who may spin (process_wake.h). A module alone waits for its next command
 * while every other module steps, so it spins only when all process modules
 * have a CPU; a member of a schedule group waits only while the other
 * members finish the frame (the scheduler sleeps meanwhile), so it spins
 * when the members of its group have a CPU each. */
static void spin_policy(const hermes_config_t *cfg, uint32_t index, uint32_t *orch_ns, uint32_t *mod_ns)
{
    uint32_t nproc = 0, group = UINT32_MAX, gsize = 0, n = hermes_config_schedule_count(cfg);
    for (uint32_t i = 0; i < hermes_config_module_count(cfg); i++) {
        hermes_module_info_t mi;
        if (hermes_config_module(cfg, i, &mi) == 0 &&
            (mi.type == HERMES_MODULE_PROCESS || (mi.type == HERMES_MODULE_FMU && hermes__config_fmu_isolate(cfg, i))))
            nproc++;  /* an FMU with isolate: true is a process module too */
    }
    for (uint32_t k = 0, mi; k < n && group == UINT32_MAX; k++)
        if (hermes_config_schedule_at(cfg, k, &mi) == 0 && mi == index)
            hermes_config_schedule_group(cfg, k, &group);
    for (uint32_t k = 0, g; k < n; k++)
        gsize += hermes_config_schedule_group(cfg, k, &g) == 0 && g == group;
    hermes__spin_budget(gsize >= 2 ? gsize - 1 : nproc, orch_ns, mod_ns);
}

static int start_failed(struct proc *p, int code, const char *fmt, ...) HERMES_PRINTF(3, 4);
static int start_failed(struct proc *p, int code, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    hermes__log(HERMES_LOG_ERROR, "process", "event=start_failed module=%s pid=%d", p->m->name, (int)p->pid);
    return hermes__fail(code, "module '%s' (pid %d) %s", p->m->name, (int)p->pid, what);
}

int hermes__process_open(struct hermes__module *m, const hermes_config_t *cfg, hermes_backplane_t *bp)
{
    hermes_module_info_t info;
    int rc = hermes_config_module(cfg, m->config_index, &info);
    if (rc)
        return rc;
    return hermes__process_open_exec(m, cfg, bp, &info, NULL, NULL);
}

int hermes__process_open_exec(struct hermes__module *m, const hermes_config_t *cfg, hermes_backplane_t *bp,
                              const hermes_module_info_t *exec, void (*on_close)(void *ctx), void *close_ctx)
{
    const hermes_module_info_t info = *exec;
    int rc;
    struct hermes_shm_ctrl *ctrl = NULL;
    for (uint32_t i = 0; i < hermes_backplane_module_count(bp) && !ctrl; i++)
        if (strcmp(hermes_backplane_module_name(bp, i), m->name) == 0)
            ctrl = hermes__bp_ctrl(bp, i);
    struct proc *p = ctrl && info.path && *info.path ? calloc(1, sizeof *p) : NULL;
    if (!p) {
        if (on_close)
            on_close(close_ctx);
        if (!info.path || !*info.path)
            return hermes__fail(HERMES_EMODULE, "module '%s': process module has no executable", m->name);
        if (!ctrl)
            return hermes__fail(HERMES_EMODULE, "module '%s' has no control block in the backplane", m->name);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    p->on_close = on_close;
    p->close_ctx = close_ctx;
    p->m = m;
    p->ctrl = ctrl;
    p->pidfd = -1;
    p->efd = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    m->impl = p;
    m->state = p;
    m->terminate = proc_close;

    hermes_execution_t ex;
    hermes_config_execution(cfg, &ex);
    p->dt = 1.0 / ex.rate_hz;
    p->timeout_s = ex.step_timeout > 0 ? ex.step_timeout : HERMES_DEFAULT_STEP_TIMEOUT;
    p->timeout_ns = (uint64_t)(p->timeout_s * 1e9);
    p->grace_ns = p->timeout_ns < MAX_GRACE_NS ? p->timeout_ns : MAX_GRACE_NS;
    if ((rc = build_exec(p, &info, bp, cfg)) != 0)
        return rc;
    if ((p->efd = eventfd(0, EFD_CLOEXEC)) < 0)
        return hermes__fail(HERMES_ESYS, "module '%s': eventfd: %s", m->name, strerror(errno));

    /* The command line the child will find: the start-up handshake. */
    uint32_t orch_spin, mod_spin;
    spin_policy(cfg, m->config_index, &orch_spin, &mod_spin);
    memset((char *)ctrl + sizeof ctrl->name, 0, sizeof *ctrl - sizeof ctrl->name);
    ctrl->go.spin_ns = mod_spin;
    ctrl->done.spin_ns = orch_spin;
    ctrl->protocol = HERMES_MODULE_PROTOCOL;
    ctrl->orch_pid = (int32_t)getpid();
    ctrl->cmd = HERMES__CMD_HELLO;
    ctrl->dt = p->dt;
    p->seq = 1;
    p->last_cmd = HERMES__CMD_HELLO;
    atomic_store_explicit(&ctrl->go.seq, 1u, memory_order_seq_cst);
    atomic_store_explicit(&p->phase, PH_BUSY, memory_order_seq_cst);

    /* The supervisor runs with every signal blocked, so process-directed
     * signals go to the host's threads; the child unblocks them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&p->sup, NULL, supervise, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0)
        return hermes__fail(HERMES_ESYS, "module '%s': cannot start supervisor thread: %s", m->name, strerror(e));
    p->sup_started = true;

    pthread_mutex_lock(&p->mu);
    while (!p->spawned)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    if (p->spawn_errno != 0) {
        if (p->pid > 0)
            return hermes__fail(HERMES_EMODULE, "module '%s': cannot execute '%s': %s", m->name, p->path,
                                strerror(p->spawn_errno));
        return hermes__fail(HERMES_ESYS, "module '%s': %s: %s", m->name, p->spawn_what, strerror(p->spawn_errno));
    }
    hermes__log(HERMES_LOG_INFO, "process", "event=spawned module=%s pid=%d path=%s spin_ns=%u/%u", m->name,
                (int)p->pid, p->path, orch_spin, mod_spin);

    switch (await(p, 1u, hermes__now_ns() + p->timeout_ns, true)) {
    case W_DEAD: {
        char how[96];
        describe_status(p->wstatus, how, sizeof how);
        return start_failed(p, HERMES_EMODULE, "%s before its start-up handshake", how);
    }
    case W_TIMEOUT:
        p->hung = true;
        return start_failed(p, HERMES_EMODULE, "did not complete its start-up handshake within %g s "
                            "(execution.step_timeout)", p->timeout_s);
    case W_ANSWERED:
        break;
    }
    if (ctrl->mod_protocol != HERMES_MODULE_PROTOCOL)
        return start_failed(p, HERMES_EABI, "speaks process protocol %u; this Hermes speaks %u",
                            ctrl->mod_protocol, HERMES_MODULE_PROTOCOL);
    if (ctrl->status != 0)
        return start_failed(p, HERMES_EMODULE, "refused to start: %s",
                            ctrl->msg[0] ? ctrl->msg : "(no message)");
    p->ready = true;
    if (ctrl->mod_flags & HERMES__MOD_STATE) {
        hermes__state_path(p->state_path, sizeof p->state_path, hermes_backplane_name(bp), m->name);
        m->state_kind = HERMES__STATE_OPS;
        m->state_save = proc_state_save;
        m->state_load = proc_state_load;
    }
    m->step = proc_step;
    m->step_begin = proc_step_begin;
    m->step_end = proc_step_end;
    m->stage = proc_stage;
    m->reset = proc_reset;
    settle(p);
    return 0;
}
