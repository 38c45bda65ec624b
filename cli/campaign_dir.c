/* hermes campaign: the campaign directory: file helpers, DIR/plan.json and the base config as planned, run summaries. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "campaign_dir.h"

/* ---- file helpers -------------------------------------------------------------- */

char *fs_path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

char *fs_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t k = fread(buf + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Write @p data to @p path through a temporary file and rename: readers
 * never see half a file, and a writer killed halfway leaves none. (No fsync:
 * the promise is about crashed runs, not crashed machines, and fsync costs
 * milliseconds per file on shared cluster file systems.) */
int fs_write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp)
        return -1;
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        free(tmp);
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    int rc = off == len ? 0 : -1;
    if (close(fd) != 0)
        rc = -1;
    if (rc == 0)
        rc = rename(tmp, path);
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

int fs_copy_file(const char *from, const char *to)
{
    size_t len;
    char *text = fs_read_file(from, &len);
    if (!text)
        return -1;
    int rc = fs_write_atomic(to, text, len, 0644);
    free(text);
    return rc;
}

int fs_rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *p = fs_path_join(path, e->d_name);
        if (!p || fs_rm_tree(p) != 0)
            rc = -1;
        free(p);
    }
    closedir(d);
    return rmdir(path) == 0 && rc == 0 ? 0 : -1;
}

bool fs_pid_alive(long pid)
{
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

char *fs_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
    fputc('"', f);
}

int fs_make_dir(const char *path)
{
    return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* ---- the planned campaign directory ---------------------------------------- */

void plan_free(struct plan *p)
{
    free(p->base);
    free(p->base_dir);
    campaign_free(&p->c);
    memset(p, 0, sizeof *p);
}

int plan_open(struct plan *p, const char *dir, char *err, size_t errcap)
{
    memset(p, 0, sizeof *p);
    p->dir = (char *)dir;
    char *path = fs_path_join(dir, "plan.json");
    json_error_t je;
    json_t *j = path ? json_load_file(path, 0, &je) : NULL;
    if (!j) {
        snprintf(err, errcap, "%s: not a planned campaign directory (%s); run `hermes campaign plan` first",
                 path ? path : dir, path ? je.text : "out of memory");
        free(path);
        return C_IO;
    }
    const char *base = NULL, *base_dir = NULL, *seed = NULL;
    json_int_t fmt = 0, runs = 0;
    if (json_unpack_ex(j, &je, 0, "{s:I, s:s, s:s, s:I, s:s}", "format", &fmt, "base", &base, "base_dir", &base_dir,
                       "runs", &runs, "seed", &seed) != 0 ||
        fmt != PLAN_FORMAT || runs <= 0) {
        snprintf(err, errcap, "%s: unreadable plan (%s)", path, fmt != PLAN_FORMAT ? "unknown format" : je.text);
        json_decref(j);
        free(path);
        return C_IO;
    }
    p->base = strdup(base);
    p->base_dir = strdup(base_dir);
    p->runs = (uint64_t)runs;
    p->seed = strtoull(seed, NULL, 10);
    json_decref(j);
    free(path);
    char *cpath = fs_path_join(dir, "campaign.yaml");
    int rc = cpath && p->base && p->base_dir ? campaign_load(&p->c, cpath, err, errcap) : -1;
    free(cpath);
    if (rc)
        return C_INVALID;
    return 0;
}

/* Load the base config as planned: the copy in DIR/base.yaml, with relative
 * paths resolved against the original's directory. */
int plan_config(const struct plan *p, hermes_config_t **cfg, char *err, size_t errcap)
{
    char *path = fs_path_join(p->dir, "base.yaml");
    size_t len = 0;
    char *text = path ? fs_read_file(path, &len) : NULL;
    if (!text) {
        snprintf(err, errcap, "%s: cannot read: %s", path ? path : p->dir, strerror(errno));
        free(path);
        return C_IO;
    }
    hermes_error_t e;
    int rc = hermes_config_parse(cfg, text, len, p->base, p->base_dir, &e);
    free(text);
    free(path);
    if (rc) {
        snprintf(err, errcap, "%s", e.message);
        return C_INVALID;
    }
    return 0;
}

int plan_load(struct plan *p, const char *dir)
{
    char err[2048];
    int rc = plan_open(p, dir, err, sizeof err);
    if (rc) {
        fprintf(stderr, "hermes: %s\n", err);
        plan_free(p);
    }
    return rc;
}

/* ---- run summaries ------------------------------------------------------------ */

json_t *summary_load(const char *dir, uint64_t index)
{
    char rel[64];
    snprintf(rel, sizeof rel, "runs/%" PRIu64 "/summary.json", index);
    char *p = fs_path_join(dir, rel);
    json_t *j = p ? json_load_file(p, 0, NULL) : NULL;
    free(p);
    return j;
}

enum run_state summary_state(const json_t *sum)
{
    const char *st = sum ? json_string_value(json_object_get(sum, "status")) : NULL;
    return !st ? RS_MISSING : !strcmp(st, "ok") ? RS_OK : RS_FAILED;
}
