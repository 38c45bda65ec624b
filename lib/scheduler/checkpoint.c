/* Checkpoints of a scheduler at a frame boundary and restoring them (docs/checkpoints.md); the file is lib/checkpoint/format.c. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/format.h"
#include "common/util.h"
#include "hermes/scheduler.h"
#include "scheduler/internal.h"

static const char *type_name(hermes_module_type_t t)
{
    switch (t) {
    case HERMES_MODULE_INJECTION: return "injection";
    case HERMES_MODULE_INPROC: return "inproc";
    case HERMES_MODULE_PROCESS: return "process";
    case HERMES_MODULE_FMU: return "fmu";
    default: return "unknown";
    }
}

/* Injection modules have nothing beyond their signals. */
static int state_kind(const struct hermes__module *m)
{
    return m->type == HERMES_MODULE_INJECTION ? HERMES__STATE_NONE : m->state_kind;
}

HERMES_API int hermes_scheduler_checkpoint_check(const hermes_scheduler_t *s)
{
    if (!s)
        return hermes__fail(HERMES_EINVAL, "scheduler is NULL");
    if (s->ckpt_replay)
        return 0;  /* restored by replaying the journal: no module state needed */
    for (uint32_t i = 0; i < s->nmods; i++)
        if (state_kind(&s->mods[i]) == HERMES__STATE_UNSUPPORTED && s->mods[i].type == HERMES_MODULE_FMU)
            return hermes__fail(HERMES_ENOTSUP,
                                "module '%s' (fmu): the FMU does not declare the FMU state capability "
                                "(canGetAndSetFMUstate and canSerializeFMUstate in FMI 2, canGetAndSetFMUState and "
                                "canSerializeFMUState in FMI 3), so this run cannot take checkpoints "
                                "(docs/checkpoints.md)", s->mods[i].name);
        else if (state_kind(&s->mods[i]) == HERMES__STATE_UNSUPPORTED)
            return hermes__fail(HERMES_ENOTSUP,
                                "module '%s' (%s) has no state support, so this run cannot take checkpoints "
                                "(docs/checkpoints.md: give it state callbacks, or restore with `restore: replay`)",
                                s->mods[i].name, type_name(s->mods[i].type));
    return 0;
}

/* The run's identity and values; module state saved when @p with_state. */
static int build(hermes_scheduler_t *s, struct hermes__ckpt *c, bool with_state, char *msg, size_t cap)
{
    memset(c, 0, sizeof *c);
    c->frame = s->frame;
    c->time_ns = time_of(s, s->frame);
    c->ticks = s->ticks;
    c->rate_hz = s->rate_hz;
    c->has_seed = hermes_config_seed(s->cfg, &c->seed) == 0;
    c->journal_position = s->ticks;
    if (s->ckpt_replay) {
        c->flags |= HERMES__CKPT_REPLAY;
        c->journal = s->jr;  /* borrowed */
        c->njournal = s->njr;
    }
    c->mods = calloc(s->nmods ? s->nmods : 1, sizeof *c->mods);
    c->nsigs = hermes_backplane_count(s->bp);
    c->sigs = calloc(c->nsigs ? c->nsigs : 1, sizeof *c->sigs);
    if (!c->mods || !c->sigs)
        return snprintf(msg, cap, "out of memory"), HERMES_ENOMEM;
    for (uint32_t i = 0; i < s->nmods; i++, c->nmods++) {
        struct hermes__module *m = &s->mods[i];
        struct hermes__ckpt_module *cm = &c->mods[i];
        cm->name = (char *)m->name;  /* borrowed: not freed (see release) */
        cm->type = (uint32_t)m->type;
        cm->rate_div = m->rate_div;
        cm->rate_offset = m->rate_offset;
        cm->rate_next = m->rate_next;
        if (!with_state || state_kind(m) != HERMES__STATE_OPS || s->ckpt_replay)
            continue;  /* replay: the journal brings every module to this frame */
        void *buf = NULL;
        size_t len = 0;
        m->errbuf[0] = '\0';
        if (m->state_save(m, &buf, &len) != 0) {
            snprintf(msg, cap, "module '%s': state save failed: %s", m->name, m->errbuf[0] ? m->errbuf : "(no message)");
            return HERMES_EMODULE;
        }
        cm->state_kind = 1;
        cm->state = buf;
        cm->state_len = len;
    }
    for (uint32_t i = 0; i < c->nsigs; i++) {
        const struct hermes_shm_signal *d = &s->bp->dir[i];
        c->sigs[i].name = (char *)d->name;  /* borrowed */
        c->sigs[i].type = d->type;
        memcpy(&c->sigs[i].bits, &s->live[i], sizeof c->sigs[i].bits);
    }
    c->config_hash = hermes__ckpt_identity_hash(c);
    return 0;
}

/* Free what build() allocated (names are borrowed). */
static void release(struct hermes__ckpt *c)
{
    for (uint32_t i = 0; i < c->nmods; i++)
        free(c->mods[i].state);
    free(c->mods);
    free(c->sigs);
}

int hermes__sched_checkpoint_write(hermes_scheduler_t *s, const char *path, char *msg, size_t cap)
{
    int rc = hermes_scheduler_checkpoint_check(s);
    if (rc) {
        hermes__strlcpy(msg, hermes_last_error(), cap);
        return rc;
    }
    char gen[PATH_MAX], name[64];
    if (!path) {  /* a generated name in the checkpoint folder; the name goes back in msg */
        if (!s->ckpt_dir) {
            snprintf(msg, cap, "this run has no checkpoint folder (hermes run --checkpoint-dir DIR)");
            return HERMES_ESTATE;
        }
        snprintf(name, sizeof name, "checkpoint-%llu-%u.hckpt", (unsigned long long)s->frame, ++s->ckpt_seq);
        if (snprintf(gen, sizeof gen, "%s/%s", s->ckpt_dir, name) >= (int)sizeof gen) {
            snprintf(msg, cap, "checkpoint folder path too long");
            return HERMES_EINVAL;
        }
        path = gen;
    }
    if (s->ckpt_replay_lost) {
        snprintf(msg, cap, "the replay journal lost an entry (out of memory): this run cannot take checkpoints");
        return HERMES_ENOMEM;
    }
    uint64_t t0 = hermes__now_ns();
    struct hermes__ckpt c;
    rc = build(s, &c, true, msg, cap);
    if (rc == 0 && (rc = hermes__ckpt_write(path, &c)) != 0)
        hermes__strlcpy(msg, hermes_last_error(), cap);
    release(&c);
    if (rc == 0 && path == gen)
        hermes__strlcpy(msg, name, cap);
    if (rc == 0)
        hermes__log(HERMES_LOG_INFO, "scheduler", "event=checkpoint frame=%llu path=\"%s\" ms=%.1f",
                    (unsigned long long)s->frame, path, (double)(hermes__now_ns() - t0) * 1e-6);
    else
        hermes__log(HERMES_LOG_ERROR, "scheduler", "event=checkpoint_failed frame=%llu error=\"%s\"",
                    (unsigned long long)s->frame, msg);
    return rc;
}

HERMES_API int hermes_scheduler_checkpoint_at(hermes_scheduler_t *s, uint64_t frame, const char *path)
{
    if (!s || !path || !*path)
        return hermes__fail(HERMES_EINVAL, "hermes_scheduler_checkpoint_at: NULL scheduler or empty path");
    if (s->in_run)
        return hermes__fail(HERMES_ESTATE, "checkpoints are scheduled before run()");
    int rc = hermes_scheduler_checkpoint_check(s);
    if (rc)
        return rc;
    struct ckpt_at *a = realloc(s->ckpt_at, (s->nckpt_at + 1) * sizeof *a);
    if (!a)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    s->ckpt_at = a;
    char *p = hermes__strdup(path);
    if (!p)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    uint32_t k = s->nckpt_at++;
    while (k > 0 && a[k - 1].frame > frame) {  /* keep them in frame order */
        a[k] = a[k - 1];
        k--;
    }
    a[k] = (struct ckpt_at){frame, p};
    while (s->ckpt_next < s->nckpt_at && s->ckpt_at[s->ckpt_next].frame < s->frame)
        s->ckpt_next++;  /* already past (a restored run): never taken */
    return 0;
}

void hermes__sched_checkpoints_due(hermes_scheduler_t *s)
{
    char msg[512];
    while (s->ckpt_next < s->nckpt_at && s->frame >= s->ckpt_at[s->ckpt_next].frame) {
        if (hermes__sched_checkpoint_write(s, s->ckpt_at[s->ckpt_next].path, msg, sizeof msg) != 0)
            s->ckpt_failed++;  /* logged; the run goes on */
        s->ckpt_next++;
    }
}

HERMES_API uint32_t hermes_scheduler_checkpoint_failures(const hermes_scheduler_t *s)
{
    return s ? s->ckpt_failed : 0;
}

HERMES_API int hermes_scheduler_set_checkpoint_dir(hermes_scheduler_t *s, const char *dir)
{
    if (!s)
        return hermes__fail(HERMES_EINVAL, "scheduler is NULL");
    if (s->in_run)
        return hermes__fail(HERMES_ESTATE, "the checkpoint folder is set before run()");
    char *copy = NULL;
    if (dir) {
        struct stat st;
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            return hermes__fail(HERMES_ENOENT, "checkpoint folder '%s' is not a folder", dir);
        if (access(dir, W_OK) != 0)
            return hermes__fail(HERMES_ESYS, "checkpoint folder '%s' is not writable: %s", dir, strerror(errno));
        if (!(copy = hermes__strdup(dir)))
            return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    free(s->ckpt_dir);
    s->ckpt_dir = copy;
    return 0;
}

void hermes__sched_checkpoints_free(hermes_scheduler_t *s)
{
    free(s->jr);
    s->jr = NULL;
    free(s->ckpt_dir);
    s->ckpt_dir = NULL;
    for (uint32_t i = 0; i < s->nckpt_at; i++)
        free(s->ckpt_at[i].path);
    free(s->ckpt_at);
    s->ckpt_at = NULL;
    s->nckpt_at = s->ckpt_next = 0;
}

/* ---- restore ---------------------------------------------------------------------- */

/* The first difference between this run and the checkpoint's, or 0. */
static int compare(const struct hermes__ckpt *mine, const struct hermes__ckpt *file, const char *path)
{
    if (mine->nmods != file->nmods)
        return hermes__fail(HERMES_ECONFIG, "checkpoint '%s' is of another config: it has %u modules, this run %u",
                            path, file->nmods, mine->nmods);
    for (uint32_t i = 0; i < mine->nmods; i++) {
        const struct hermes__ckpt_module *a = &mine->mods[i], *b = &file->mods[i];
        if (strcmp(a->name, b->name) || a->type != b->type)
            return hermes__fail(HERMES_ECONFIG, "checkpoint '%s' is of another config: module %u is '%s' (%s) there, "
                                "'%s' (%s) here", path, i, b->name, type_name((hermes_module_type_t)b->type), a->name,
                                type_name((hermes_module_type_t)a->type));
        if (a->rate_div != b->rate_div || a->rate_offset != b->rate_offset)
            return hermes__fail(HERMES_ECONFIG, "checkpoint '%s' is of another config: module '%s' runs every %u "
                                "frames from %u there, every %u from %u here", path, a->name, b->rate_div,
                                b->rate_offset, a->rate_div, a->rate_offset);
    }
    if (mine->rate_hz != file->rate_hz)
        return hermes__fail(HERMES_ECONFIG, "checkpoint '%s' is of another config: execution.rate_hz %g there, %g here",
                            path, file->rate_hz, mine->rate_hz);
    if (mine->nsigs != file->nsigs)
        return hermes__fail(HERMES_ECONFIG, "checkpoint '%s' is of another config: %u signals there, %u here", path,
                            file->nsigs, mine->nsigs);
    for (uint32_t i = 0; i < mine->nsigs; i++) {
        const struct hermes__ckpt_signal *a = &mine->sigs[i], *b = &file->sigs[i];
        if (strcmp(a->name, b->name))
            return hermes__fail(HERMES_ECONFIG, "checkpoint '%s' is of another config: signal %u is '%s' there, '%s' "
                                "here", path, i, b->name, a->name);
        if (a->type != b->type)
            return hermes__fail(HERMES_ECONFIG, "checkpoint '%s' is of another config: signal '%s' is %s there, %s "
                                "here", path, a->name, hermes_type_name((hermes_type_t)b->type),
                                hermes_type_name((hermes_type_t)a->type));
    }
    return 0;
}

/* Load every module's state; the first failure names its module. */
static int load_states(hermes_scheduler_t *s, const struct hermes__ckpt *file, const char *path)
{
    for (uint32_t i = 0; i < s->nmods; i++) {
        struct hermes__module *m = &s->mods[i];
        const struct hermes__ckpt_module *cm = &file->mods[i];
        int kind = state_kind(m);
        if (kind == HERMES__STATE_NONE)
            continue;
        if (kind != HERMES__STATE_OPS || !cm->state_kind)
            return hermes__fail(HERMES_ENOTSUP, "module '%s': %s", m->name,
                                kind != HERMES__STATE_OPS ? "has no state support, so it cannot be restored"
                                                          : "the checkpoint holds no state for it");
        m->errbuf[0] = '\0';
        if (m->state_load(m, cm->state, (size_t)cm->state_len) != 0)
            return hermes__fail(HERMES_EMODULE, "module '%s': cannot load its state from checkpoint '%s': %s", m->name,
                                path, m->errbuf[0] ? m->errbuf : "(no message)");
    }
    return 0;
}

HERMES_API int hermes_scheduler_set_checkpoint_replay(hermes_scheduler_t *s, bool on)
{
    if (!s)
        return hermes__fail(HERMES_EINVAL, "scheduler is NULL");
    if (s->staged || s->in_run)
        return hermes__fail(HERMES_ESTATE, "restore: replay is chosen before stage()");
    s->ckpt_replay = on;
    return 0;
}

/* Bring the staged run to the checkpoint's frame by running it afap from
 * frame 0 with its journal's sets and resets at their frames (no hooks, lazy
 * publication), then check every model signal against the file. */
static int replay(hermes_scheduler_t *s, const struct hermes__ckpt *f, const char *path)
{
    hermes_frame_hook_fn hook = s->frame_hook;
    s->frame_hook = NULL;
    s->pub_lazy = true;
    int rc = 0;
    uint32_t k = 0;
    while (rc == 0 && (k < f->njournal || s->frame < f->frame)) {
        const struct hermes__ckpt_jentry *e = k < f->njournal ? &f->journal[k] : NULL;
        if (e && e->frame == s->frame) {
            if (e->kind == HERMES_COMMAND_SET && e->index < hermes_backplane_count(s->bp))
                s->live[e->index] = e->value;
            else if (e->kind == HERMES_COMMAND_RESET && hermes__sched_reset_all(s) != 0)
                rc = hermes__fail(HERMES_EMODULE, "replaying checkpoint '%s': reset failed: %s", path, s->error);
            k++;
        } else if (s->frame < (e ? e->frame : f->frame)) {
            if (hermes__sched_do_frame(s) != 0)
                rc = hermes__fail(HERMES_EMODULE, "replaying checkpoint '%s' at frame %llu: %s", path,
                                  (unsigned long long)s->frame, s->error);
        } else {
            rc = hermes__fail(HERMES_EFORMAT, "checkpoint '%s': its journal is out of order at entry %u", path, k);
        }
    }
    s->pub_lazy = false;
    s->frame_hook = hook;
    for (uint32_t i = 0; rc == 0 && i < f->nsigs; i++) {
        if (!strncmp(f->sigs[i].name, "hermes.", 7))
            continue;  /* timing */
        uint64_t bits;
        memcpy(&bits, &s->live[i], sizeof bits);
        if (bits != f->sigs[i].bits)
            rc = hermes__fail(HERMES_EMODULE, "replaying checkpoint '%s' did not reproduce it: signal '%s' differs at "
                              "frame %llu (a module is not deterministic, or its inputs differ)", path,
                              f->sigs[i].name, (unsigned long long)f->frame);
    }
    return rc;
}

HERMES_API int hermes_scheduler_restore(hermes_scheduler_t *s, const char *path)
{
    if (!s || !path)
        return hermes__fail(HERMES_EINVAL, "hermes_scheduler_restore: NULL argument");
    if (!s->staged || s->in_run || hermes__sched_get_state(s) != HERMES_STATE_PAUSED)
        return hermes__fail(HERMES_ESTATE, "restore needs a staged scheduler that is paused and not running (state %s)",
                            hermes_state_name(hermes__sched_get_state(s)));
    struct hermes__ckpt file, mine;
    int rc = hermes__ckpt_read(path, &file);
    if (rc)
        return rc;
    char msg[512];
    if ((rc = build(s, &mine, false, msg, sizeof msg)) != 0) {
        release(&mine);
        hermes__ckpt_free(&file);
        return hermes__fail(rc, "%s", msg);
    }
    rc = compare(&mine, &file, path);
    if (rc == 0 && file.config_hash != hermes__ckpt_identity_hash(&file))
        rc = hermes__fail(HERMES_EFORMAT, "checkpoint '%s': its identity hash does not match its contents", path);
    if (rc == 0 && s->end_frame != UINT64_MAX && file.frame > s->end_frame)
        rc = hermes__fail(HERMES_ERANGE, "checkpoint '%s' is at frame %llu, after this run's end (frame %llu)", path,
                          (unsigned long long)file.frame, (unsigned long long)s->end_frame);
    bool by_replay = (file.flags & HERMES__CKPT_REPLAY) != 0;
    if (rc == 0 && by_replay)
        rc = replay(s, &file, path);
    else if (rc == 0)
        rc = load_states(s, &file, path);
    if (rc == 0) {
        for (uint32_t i = 0; i < file.nsigs; i++)
            memcpy(&s->live[i], &file.sigs[i].bits, sizeof s->live[i]);
        for (uint32_t i = 0; i < s->nmods; i++)
            s->mods[i].rate_next = file.mods[i].rate_next;
        s->frame = file.frame;
        s->ticks = file.ticks;
        s->epoch_ns = 0;
        while (s->ckpt_next < s->nckpt_at && s->ckpt_at[s->ckpt_next].frame < s->frame)
            s->ckpt_next++;
        publish(s);
        if (by_replay && s->ckpt_replay) {  /* the journal goes on from the checkpoint's */
            s->njr = 0;
            for (uint32_t i = 0; i < file.njournal; i++)
                hermes__sched_journal_note(s, (hermes_command_kind_t)file.journal[i].kind, file.journal[i].index,
                                           file.journal[i].value, file.journal[i].frame);
        }
        hermes__log(HERMES_LOG_INFO, "scheduler", "event=restored frame=%llu path=\"%s\"%s",
                    (unsigned long long)s->frame, path, by_replay ? " by=replay" : "");
    }
    release(&mine);
    hermes__ckpt_free(&file);
    return rc;
}
