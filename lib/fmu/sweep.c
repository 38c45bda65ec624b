/* FMU unpack folders on disk: where they go (hermes-fmu-<pid>-XXXXXX under
 * $TMPDIR or /tmp), removing one, and the sweep of stale ones whose owner
 * process is gone (`hermes clean`). Built with or without FMU support. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hermes/fmu.h"
#include "fmu/sweep.h"
#include "common/util.h"

const char *hermes__fmu_tmpdir(void)
{
    const char *tmp = getenv("TMPDIR");
    return tmp && *tmp ? tmp : "/tmp";
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st; (void)flag; (void)f;
    remove(p);
    return 0;
}

int hermes__fmu_remove_tree(const char *dir)
{
    if (!dir)
        return 0;
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    struct stat st;
    return lstat(dir, &st) == 0 ? -1 : 0;
}

/* The pid in "hermes-fmu-<pid>-XXXXXX", or 0. */
static pid_t owner_of(const char *name)
{
    const char *d = name + strlen(HERMES_FMU_DIR_PREFIX);
    char *end;
    long v = strtol(d, &end, 10);
    if (end == d || *end != '-' || v <= 0 || v > 0x7fffffffL || d[0] == '-' || d[0] == '+')
        return 0;
    return (pid_t)v;
}

HERMES_API int hermes_fmu_sweep(bool remove, hermes_fmu_sweep_fn cb, void *ctx)
{
    const char *tmp = hermes__fmu_tmpdir();
    DIR *dir = opendir(tmp);
    if (!dir)
        return hermes__fail(HERMES_ESYS, "cannot read %s: %s", tmp, strerror(errno));
    const size_t plen = strlen(HERMES_FMU_DIR_PREFIX);
    int found = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (strncmp(de->d_name, HERMES_FMU_DIR_PREFIX, plen) != 0)
            continue;
        pid_t owner = owner_of(de->d_name);
        if (owner <= 0 || owner == getpid() || kill(owner, 0) == 0 || errno != ESRCH)
            continue;  /* unknown, ours, alive, or alive under another user (EPERM) */
        char *path = hermes__asprintf("%s/%s", tmp, de->d_name);
        struct stat st;
        if (!path || lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid()) {
            free(path);
            continue;
        }
        found++;
        bool removed = remove && hermes__fmu_remove_tree(path) == 0;
        if (remove)
            hermes__log(removed ? HERMES_LOG_INFO : HERMES_LOG_WARN, "fmu", "event=sweep folder=%s owner=%d removed=%d",
                        path, (int)owner, (int)removed);
        if (cb)
            cb(ctx, path, (int)owner, removed);
        free(path);
    }
    closedir(dir);
    return found;
}
