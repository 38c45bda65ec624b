/* The HDF5 table writer when libhdf5 was not available at build time: it explains how to enable it. */
#include "hermes/h5table.h"
#include "common/util.h"

HERMES_API int hermes_h5table_write(const char *path, const hermes_h5table_column_t *cols, uint32_t ncols,
                                    uint64_t nrows, const hermes_h5table_attr_t *attrs, uint32_t nattrs)
{
    (void)path;
    (void)cols;
    (void)ncols;
    (void)nrows;
    (void)attrs;
    (void)nattrs;
    return hermes__fail(HERMES_ESTATE, "HDF5 tables are not built into this libhermes: install libhdf5-dev and "
                                       "reconfigure with 'meson setup --reconfigure -Drecording=enabled BUILDDIR'");
}
