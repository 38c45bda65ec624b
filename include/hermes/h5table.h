/** @file h5table.h  Writing a table of columns to an HDF5 file.
 *
 * One call writes a whole table: each column becomes a 1-D dataset of nrows
 * values named by the column (a '/' in a name makes groups, so
 * "final/vehicle.speed" is dataset "vehicle.speed" in group "final"), and a
 * few scalar attributes go on the root group. The root also gets attribute
 * "columns": the column names in the order given (HDF5 lists members
 * alphabetically), so a reader can rebuild the table in its original order.
 * `hermes campaign collect` writes DIR/results.h5 with it (docs/campaigns.md).
 *
 * Types: HERMES_H5TABLE_F64 columns are IEEE float64, HERMES_H5TABLE_U64
 * columns unsigned 64-bit integers, HERMES_H5TABLE_TEXT columns (and text
 * attributes) variable-length UTF-8 strings.
 *
 * The file is written atomically: into a temporary file next to @p path,
 * renamed over @p path only when complete, so a reader never sees half a
 * table and a failed call leaves an existing file untouched.
 *
 * Needs libhdf5 at build time (meson option -Drecording, the same as
 * recording, see recorder.h): without it hermes_recording_supported() is
 * false and every call of hermes_h5table_write() fails with HERMES_ESTATE
 * (before any argument check) and a message saying how to enable it.
 *
 * Threading: hermes_h5table_write() may be called from any thread; it keeps
 * no state between calls.
 * Ownership: every input is borrowed for the call only. */
#ifndef HERMES_H5TABLE_H
#define HERMES_H5TABLE_H

#include <stdint.h>
#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Type of a column or attribute. */
typedef enum hermes_h5table_type {
    HERMES_H5TABLE_NONE = 0,
    HERMES_H5TABLE_F64  = 1,  /**< double (float64) */
    HERMES_H5TABLE_U64  = 2,  /**< uint64_t */
    HERMES_H5TABLE_TEXT = 3   /**< UTF-8 string, variable length */
} hermes_h5table_type_t;

/** One column: nrows values of one type. */
typedef struct hermes_h5table_column {
    const char           *name;  /**< dataset path: not empty, no leading, trailing or double '/'  @nonnull */
    hermes_h5table_type_t type;
    const double         *f64;   /**< HERMES_H5TABLE_F64: nrows values (NaN for "no value") */
    const uint64_t       *u64;   /**< HERMES_H5TABLE_U64: nrows values */
    const char *const    *text;  /**< HERMES_H5TABLE_TEXT: nrows strings; a NULL entry is written as "" */
} hermes_h5table_column_t;

/** One scalar attribute of the root group. */
typedef struct hermes_h5table_attr {
    const char           *name;  /**< not empty, not "columns" (reserved)  @nonnull */
    hermes_h5table_type_t type;
    double                f64;
    uint64_t              u64;
    const char           *text;  /**< HERMES_H5TABLE_TEXT; NULL is written as "" */
} hermes_h5table_attr_t;

/**
 * Write a table of @p ncols columns of @p nrows rows, and @p nattrs root
 * attributes, to the HDF5 file @p path, replacing it atomically (see the
 * file comment).
 * @param[in] path   file to create or replace  @nonnull
 * @param[in] cols   @p ncols columns (NULL when ncols is 0)
 * @param[in] attrs  @p nattrs attributes (NULL when nattrs is 0)
 * @return 0; HERMES_EINVAL (NULL argument, bad or duplicate name, unknown
 *         type, missing values of a column); HERMES_ESYS (the file or its
 *         temporary could not be created, written or renamed: the message
 *         names the file, the HDF5 error and errno); HERMES_ENOMEM;
 *         HERMES_ESTATE (built without HDF5).
 * @since 0.1
 * Context: any thread.
 */
HERMES_API int hermes_h5table_write(const char *path, const hermes_h5table_column_t *cols, uint32_t ncols,
                                    uint64_t nrows, const hermes_h5table_attr_t *attrs, uint32_t nattrs);

#ifdef __cplusplus
}
#endif
#endif
