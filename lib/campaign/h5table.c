/* A table of columns written to an HDF5 file atomically: one 1-D dataset per column, scalar root attributes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "hermes/h5table.h"
#include "recording/layout.h"
#include "common/util.h"

#define COLUMNS_ATTR "columns"

static int bad_path(const char *name)
{
    size_t n = strlen(name);
    return n == 0 || name[0] == '/' || name[n - 1] == '/' || strstr(name, "//") != NULL;
}

/* "a" and "a/b" cannot both be: a is a dataset, not a group. */
static int clash(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na == nb)
        return !strcmp(a, b);
    if (na > nb)
        return clash(b, a);
    return !strncmp(a, b, na) && b[na] == '/';
}

static int check(const char *path, const hermes_h5table_column_t *cols, uint32_t ncols, uint64_t nrows,
                 const hermes_h5table_attr_t *attrs, uint32_t nattrs)
{
    if (!path || !path[0] || (ncols && !cols) || (nattrs && !attrs))
        return hermes__fail(HERMES_EINVAL, "hermes_h5table_write: NULL argument");
    for (uint32_t i = 0; i < ncols; i++) {
        const hermes_h5table_column_t *c = &cols[i];
        if (!c->name || bad_path(c->name))
            return hermes__fail(HERMES_EINVAL, "hermes_h5table_write: column %u: bad name '%s'", i,
                                c->name ? c->name : "(null)");
        const void *values = c->type == HERMES_H5TABLE_F64 ? (const void *)c->f64
                           : c->type == HERMES_H5TABLE_U64 ? (const void *)c->u64
                           : c->type == HERMES_H5TABLE_TEXT ? (const void *)c->text : NULL;
        if (c->type != HERMES_H5TABLE_F64 && c->type != HERMES_H5TABLE_U64 && c->type != HERMES_H5TABLE_TEXT)
            return hermes__fail(HERMES_EINVAL, "hermes_h5table_write: column '%s': unknown type %d", c->name,
                                (int)c->type);
        if (nrows && !values)
            return hermes__fail(HERMES_EINVAL, "hermes_h5table_write: column '%s': no values", c->name);
        for (uint32_t k = 0; k < i; k++)
            if (clash(cols[k].name, c->name))
                return hermes__fail(HERMES_EINVAL, "hermes_h5table_write: columns '%s' and '%s' collide",
                                    cols[k].name, c->name);
    }
    for (uint32_t i = 0; i < nattrs; i++) {
        const hermes_h5table_attr_t *a = &attrs[i];
        if (!a->name || !a->name[0] || !strcmp(a->name, COLUMNS_ATTR))
            return hermes__fail(HERMES_EINVAL, "hermes_h5table_write: attribute %u: bad name '%s'", i,
                                a->name ? a->name : "(null)");
        if (a->type != HERMES_H5TABLE_F64 && a->type != HERMES_H5TABLE_U64 && a->type != HERMES_H5TABLE_TEXT)
            return hermes__fail(HERMES_EINVAL, "hermes_h5table_write: attribute '%s': unknown type %d", a->name,
                                (int)a->type);
        for (uint32_t k = 0; k < i; k++)
            if (!strcmp(attrs[k].name, a->name))
                return hermes__fail(HERMES_EINVAL, "hermes_h5table_write: attribute '%s' given twice", a->name);
    }
    return 0;
}

static hid_t text_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
        H5Tclose(t);
        t = -1;
    }
    return t;
}

/* Strings with NULL entries replaced by "" (HDF5 would store a null string). */
static const char **text_values(const char *const *v, uint64_t n)
{
    const char **out = malloc((size_t)(n ? n : 1) * sizeof *out);
    for (uint64_t i = 0; out && i < n; i++)
        out[i] = v[i] ? v[i] : "";
    return out;
}

/* Write one dataset or attribute value set; 0, -1 (HDF5 error) or -2 (out of memory). */
static int write_column(hid_t file, hid_t lcpl, const hermes_h5table_column_t *c, uint64_t nrows)
{
    hsize_t dims[1] = {(hsize_t)nrows};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t type = c->type == HERMES_H5TABLE_F64 ? H5Tcopy(H5T_IEEE_F64LE)
               : c->type == HERMES_H5TABLE_U64 ? H5Tcopy(H5T_STD_U64LE) : text_type();
    hid_t d = space >= 0 && type >= 0 ? H5Dcreate2(file, c->name, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int rc = d >= 0 ? 0 : -1;
    if (rc == 0 && nrows) {
        if (c->type == HERMES_H5TABLE_F64) {
            rc = H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, c->f64) < 0 ? -1 : 0;
        } else if (c->type == HERMES_H5TABLE_U64) {
            rc = H5Dwrite(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, c->u64) < 0 ? -1 : 0;
        } else {
            const char **v = text_values(c->text, nrows);
            rc = !v ? -2 : H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0 ? -1 : 0;
            free(v);
        }
    }
    if (d >= 0 && H5Dclose(d) < 0 && rc == 0)
        rc = -1;
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

static int write_attr(hid_t file, const hermes_h5table_attr_t *a)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t type = a->type == HERMES_H5TABLE_F64 ? H5Tcopy(H5T_IEEE_F64LE)
               : a->type == HERMES_H5TABLE_U64 ? H5Tcopy(H5T_STD_U64LE) : text_type();
    hid_t at = space >= 0 && type >= 0 ? H5Acreate2(file, a->name, type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int rc = at >= 0 ? 0 : -1;
    if (rc == 0) {
        const char *s = a->text ? a->text : "";
        herr_t w = a->type == HERMES_H5TABLE_F64   ? H5Awrite(at, H5T_NATIVE_DOUBLE, &a->f64)
                   : a->type == HERMES_H5TABLE_U64 ? H5Awrite(at, H5T_NATIVE_UINT64, &a->u64)
                                                   : H5Awrite(at, type, &s);
        rc = w < 0 ? -1 : 0;
    }
    if (at >= 0 && H5Aclose(at) < 0 && rc == 0)
        rc = -1;
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

static int write_names(hid_t file, const hermes_h5table_column_t *cols, uint32_t ncols)
{
    const char **names = malloc((size_t)(ncols ? ncols : 1) * sizeof *names);
    if (!names)
        return -2;
    for (uint32_t i = 0; i < ncols; i++)
        names[i] = cols[i].name;
    hsize_t dims[1] = {ncols};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t type = text_type();
    hid_t at = space >= 0 && type >= 0 ? H5Acreate2(file, COLUMNS_ATTR, type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int rc = at >= 0 && (!ncols || H5Awrite(at, type, names) >= 0) ? 0 : -1;
    if (at >= 0 && H5Aclose(at) < 0 && rc == 0)
        rc = -1;
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    free(names);
    return rc;
}

HERMES_API int hermes_h5table_write(const char *path, const hermes_h5table_column_t *cols, uint32_t ncols,
                                    uint64_t nrows, const hermes_h5table_attr_t *attrs, uint32_t nattrs)
{
    int rc = check(path, cols, ncols, nrows, attrs, nattrs);
    if (rc)
        return rc;
    hermes__h5_quiet();
    /* The temporary is in the same directory, so the rename is atomic. */
    char *tmp = hermes__asprintf("%s.tmp-XXXXXX", path);
    if (!tmp)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = hermes__fail(HERMES_ESYS, "'%s': cannot create a temporary file: %s", path, strerror(errno));
        free(tmp);
        return rc;
    }
    fchmod(fd, 0644);   /* mkstemp makes it 0600; a results table is for everyone who reads the directory */
    close(fd);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    hid_t file = -1;
    int step = -1;   /* -1: HDF5 error, -2: out of memory */
    const char *what = "cannot create";
    if (fapl >= 0 && lcpl >= 0 && H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0 &&
        H5Pset_create_intermediate_group(lcpl, 1) >= 0)
        file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (file >= 0) {
        step = 0;
        what = "cannot write";
        for (uint32_t i = 0; step == 0 && i < ncols; i++)
            step = write_column(file, lcpl, &cols[i], nrows);
        for (uint32_t i = 0; step == 0 && i < nattrs; i++)
            step = write_attr(file, &attrs[i]);
        if (step == 0)
            step = write_names(file, cols, ncols);
        if (H5Fclose(file) < 0 && step == 0) {
            step = -1;
            what = "cannot close";
        }
    }
    int err = errno;
    char h5[256] = "";
    if (step == -1)
        hermes__h5_message(h5, sizeof h5);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (step == 0 && rename(tmp, path) != 0) {
        err = errno;
        rc = hermes__fail(HERMES_ESYS, "'%s': cannot rename '%s' to it: %s", path, tmp, strerror(err));
    } else if (step == -2) {
        rc = hermes__fail(HERMES_ENOMEM, "out of memory");
    } else if (step == -1) {
        rc = hermes__fail(HERMES_ESYS, "'%s': %s the HDF5 file (HDF5: %s; system: %s)", path, what, h5,
                          strerror(err));
    }
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}
