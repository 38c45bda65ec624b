/* FMU archives: reading modelDescription.xml and unpacking into a private
 * 0700 temporary folder with libzip, refusing entries that escape it
 * (absolute paths, "..", symlinks) and archives too large once unpacked. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "fmu/fmu.h"
#include "fmu/sweep.h"
#include "common/util.h"

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int open_zip(const char *fmu, zip_t **out)
{
    int zerr = 0;
    struct stat st;
    if (stat(fmu, &st) != 0)
        return hermes__fail(HERMES_ENOENT, "FMU %s: %s", fmu, strerror(errno));
    zip_t *z = zip_open(fmu, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (!z) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        int rc = hermes__fail(HERMES_ECONFIG, "FMU %s: not a valid zip archive (%s)", fmu, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return rc;
    }
    *out = z;
    return 0;
}

static int read_file(const char *path, char **xml, size_t *len)
{
    int rc = hermes__read_file(path, HERMES_FMU_MAX_XML, (unsigned char **)xml, len);
    if (rc == HERMES_EFORMAT)
        return hermes__fail(HERMES_ECONFIG, "%s: larger than %u MiB", path, HERMES_FMU_MAX_XML >> 20);
    if (rc)
        return hermes__fail(HERMES_ECONFIG, "%s: %s", path, rc == HERMES_ENOMEM ? "out of memory" : strerror(errno));
    return 0;
}

int hermes__fmu_read_description(const char *fmu, char **xml, size_t *len)
{
    *xml = NULL;
    if (is_dir(fmu)) {
        char *p = hermes__asprintf("%s/modelDescription.xml", fmu);
        if (!p)
            return hermes__fail(HERMES_ENOMEM, "out of memory");
        int rc = read_file(p, xml, len);
        free(p);
        return rc;
    }
    zip_t *z;
    int rc = open_zip(fmu, &z);
    if (rc)
        return rc;
    zip_stat_t st;
    if (zip_stat(z, "modelDescription.xml", 0, &st) != 0) {
        zip_discard(z);
        return hermes__fail(HERMES_ECONFIG, "FMU %s: no modelDescription.xml in the archive", fmu);
    }
    if (!(st.valid & ZIP_STAT_SIZE) || st.size > HERMES_FMU_MAX_XML) {
        zip_discard(z);
        return hermes__fail(HERMES_ECONFIG, "FMU %s: modelDescription.xml is too large", fmu);
    }
    char *buf = malloc((size_t)st.size + 1);
    zip_file_t *zf = buf ? zip_fopen(z, "modelDescription.xml", 0) : NULL;
    zip_int64_t got = zf ? zip_fread(zf, buf, st.size) : -1;
    if (zf)
        zip_fclose(zf);
    zip_discard(z);
    if (got < 0 || (zip_uint64_t)got != st.size) {
        free(buf);
        return hermes__fail(HERMES_ECONFIG, "FMU %s: cannot read modelDescription.xml (damaged archive)", fmu);
    }
    buf[got] = '\0';
    *xml = buf;
    *len = (size_t)got;
    return 0;
}

/* An entry name that stays inside the folder: relative, no ".." component. */
static bool safe_name(const char *n)
{
    if (!*n || n[0] == '/' || strchr(n, '\\'))
        return false;
    for (const char *p = n; *p;) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == 2 && p[0] == '.' && p[1] == '.')
            return false;
        p += l + (e ? 1 : 0);
    }
    return true;
}

static bool is_symlink_entry(zip_t *z, zip_uint64_t i)
{
    zip_uint8_t os;
    zip_uint32_t attr;
    if (zip_file_get_external_attributes(z, i, 0, &os, &attr) != 0 || os != ZIP_OPSYS_UNIX)
        return false;
    return ((attr >> 16) & S_IFMT) == S_IFLNK;
}

static int make_parents(char *path)
{
    for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        int r = mkdir(path, 0700);
        *p = '/';
        if (r != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

static int extract(zip_t *z, zip_uint64_t i, const char *name, const char *dir, zip_uint64_t size)
{
    char *path = hermes__asprintf("%s/%s", dir, name);
    if (!path)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    int rc = 0;
    size_t l = strlen(path);
    if (make_parents(path) != 0) {
        rc = hermes__fail(HERMES_ECONFIG, "cannot create %s: %s", path, strerror(errno));
    } else if (path[l - 1] == '/') {
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            rc = hermes__fail(HERMES_ECONFIG, "cannot create %s: %s", path, strerror(errno));
    } else {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
        zip_file_t *zf = fd >= 0 ? zip_fopen_index(z, i, 0) : NULL;
        char buf[65536];
        zip_uint64_t total = 0;
        zip_int64_t r = zf ? 1 : -1;
        while (zf && (r = zip_fread(zf, buf, sizeof buf)) > 0) {
            total += (zip_uint64_t)r;
            if (total > size || write(fd, buf, (size_t)r) != (ssize_t)r) {
                r = -1;
                break;
            }
        }
        if (zf)
            zip_fclose(zf);
        if (fd >= 0)
            close(fd);
        if (r < 0 || total != size)
            rc = hermes__fail(HERMES_ECONFIG, "cannot unpack entry '%s' (damaged archive or disk full)", name);
    }
    free(path);
    return rc;
}

static int unpack_all(zip_t *z, const char *fmu, const char *dir)
{
    zip_int64_t n = zip_get_num_entries(z, 0);
    zip_uint64_t total = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t st;
        if (zip_stat_index(z, (zip_uint64_t)i, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME))
            return hermes__fail(HERMES_ECONFIG, "FMU %s: damaged archive (entry %lld)", fmu, (long long)i);
        if (!safe_name(st.name))
            return hermes__fail(HERMES_ECONFIG, "FMU %s: entry '%s' escapes the unpack folder", fmu, st.name);
        if (is_symlink_entry(z, (zip_uint64_t)i))
            return hermes__fail(HERMES_ECONFIG, "FMU %s: entry '%s' is a symbolic link", fmu, st.name);
        total += st.size;
        if (total > HERMES_FMU_MAX_UNPACKED)
            return hermes__fail(HERMES_ECONFIG, "FMU %s: unpacked size exceeds the limit of %llu MiB", fmu,
                                (unsigned long long)(HERMES_FMU_MAX_UNPACKED >> 20));
    }
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t st;
        zip_stat_index(z, (zip_uint64_t)i, 0, &st);
        int rc = extract(z, (zip_uint64_t)i, st.name, dir, st.size);
        if (rc) {
            char msg[512];
            hermes__strlcpy(msg, hermes_last_error(), sizeof msg);
            return hermes__fail(rc, "FMU %s: %s", fmu, msg);
        }
    }
    return 0;
}

int hermes__fmu_unpack(const char *fmu, char **dir, bool *owned)
{
    *dir = NULL;
    *owned = false;
    if (is_dir(fmu)) {
        *dir = hermes__strdup(fmu);
        return *dir ? 0 : hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    zip_t *z;
    int rc = open_zip(fmu, &z);
    if (rc)
        return rc;
    /* The owner's pid in the name: hermes_fmu_sweep() removes the folder
     * once that process is gone (a crash or SIGKILL skips the removal). */
    char *d = hermes__asprintf("%s/hermes-fmu-%ld-XXXXXX", hermes__fmu_tmpdir(), (long)getpid());
    if (!d) {
        zip_discard(z);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    if (!mkdtemp(d)) {  /* mode 0700 */
        rc = hermes__fail(HERMES_ECONFIG, "FMU %s: cannot create a folder to unpack into: %s", fmu, strerror(errno));
        free(d);
        zip_discard(z);
        return rc;
    }
    rc = unpack_all(z, fmu, d);
    zip_discard(z);
    if (rc) {
        hermes__error_saved_t e;
        hermes__error_save(&e);
        hermes__fmu_remove(d);
        free(d);
        return hermes__error_restore(rc, &e);
    }
    *dir = d;
    *owned = true;
    return 0;
}

void hermes__fmu_remove(const char *dir)
{
    hermes__fmu_remove_tree(dir);
}
