/* Stale-segment sweep for `hermes clean` and scheduler start-up. A segment
 * outlives its run when the orchestrator is killed (SIGKILL) before it can
 * shm_unlink; the owner pid in the header tells whether the run is gone. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backplane/layout.h"
#include "common/util.h"

/* Owner pid of segment @p name, or 0 when unknown. */
static pid_t segment_owner(const char *name)
{
    char path[300];
    snprintf(path, sizeof path, "/%s", name);
    pid_t owner = 0;
    int fd = shm_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return 0;  /* another user's, or gone meanwhile: not ours to judge */
    struct stat st;
    if (fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(struct hermes_shm_header)) {
        void *base = mmap(NULL, sizeof(struct hermes_shm_header), PROT_READ, MAP_SHARED, fd, 0);
        if (base != MAP_FAILED) {
            const struct hermes_shm_header *h = base;
            if (h->magic == HERMES_SHM_MAGIC && h->owner_pid > 0)
                owner = (pid_t)h->owner_pid;
            munmap(base, sizeof(struct hermes_shm_header));
        }
    }
    close(fd);
    if (owner == 0) {
        /* Header not written yet (creator died between shm_open and setup):
         * fall back to the pid of a generated name. */
        const char *d = name + strlen(HERMES_SEGMENT_PREFIX);
        char *end;
        long v = strtol(d, &end, 10);
        if (end != d && *end == '-' && v > 0 && v <= 0x7fffffffL)
            owner = (pid_t)v;
    }
    return owner;
}

HERMES_API int hermes_backplane_sweep(bool remove, hermes_sweep_fn cb, void *ctx)
{
    DIR *dir = opendir("/dev/shm");
    if (!dir)
        return hermes__fail(HERMES_ESYS, "cannot read /dev/shm: %s", strerror(errno));
    const size_t plen = strlen(HERMES_SEGMENT_PREFIX);
    int found = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (strncmp(de->d_name, HERMES_SEGMENT_PREFIX, plen) != 0)
            continue;
        pid_t owner = segment_owner(de->d_name);
        if (owner <= 0 || owner == getpid())
            continue;
        if (kill(owner, 0) == 0 || errno != ESRCH)
            continue;  /* alive, or alive under another user (EPERM) */
        found++;
        bool removed = false;
        if (remove) {
            char path[300];
            snprintf(path, sizeof path, "/%s", de->d_name);
            removed = shm_unlink(path) == 0;
            hermes__log(removed ? HERMES_LOG_INFO : HERMES_LOG_WARN, "backplane",
                        "event=sweep segment=%s owner=%d removed=%d", de->d_name, (int)owner, (int)removed);
        }
        if (cb)
            cb(ctx, de->d_name, (int)owner, removed);
    }
    closedir(dir);
    return found;
}
