/* hermes_h5table_write(): values read back with h5py bit for bit, argument
 * errors, an I/O failure that leaves the previous file whole, and the stub of
 * a build without HDF5. */
#include "test_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char tmpdir[128];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hermes-test-h5table-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int count_entries(const char *d)
{
    DIR *dd = opendir(d);
    int n = 0;
    struct dirent *e;
    while (dd && (e = readdir(dd)))
        n += e->d_name[0] != '.';
    if (dd)
        closedir(dd);
    return n;
}

/* Every kind of value, groups from '/', attributes, NULL text. */
static void test_h5table_roundtrip(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/t.h5", tmpdir);
    const double f[5] = {M_PI, -0.0, 5e-324, NAN, 1.7976931348623157e308};
    const uint64_t u[5] = {0, 1, UINT64_MAX, 9007199254740993u, 42};
    const char *const txt[5] = {"ok", NULL, "d\xc3\xa9j\xc3\xa0 vu", "a,b \"c\"\nd", ""};
    const hermes_h5table_column_t cols[] = {
        {.name = "u", .type = HERMES_H5TABLE_U64, .u64 = u},
        {.name = "grp/sub/x.y", .type = HERMES_H5TABLE_F64, .f64 = f},
        {.name = "grp/t:1", .type = HERMES_H5TABLE_TEXT, .text = txt},
    };
    const hermes_h5table_attr_t attrs[] = {
        {.name = "n", .type = HERMES_H5TABLE_U64, .u64 = UINT64_MAX},
        {.name = "x", .type = HERMES_H5TABLE_F64, .f64 = 0.1},
        {.name = "s", .type = HERMES_H5TABLE_TEXT, .text = "\xce\xbb"},
        {.name = "empty", .type = HERMES_H5TABLE_TEXT, .text = NULL},
    };
    if (!hermes_recording_supported()) {
        assert_hermes_rc(hermes_h5table_write(path, cols, 3, 5, attrs, 4), HERMES_ESTATE);
        assert_contains(hermes_last_error(), "-Drecording=enabled");
        assert_int_equal(access(path, F_OK), -1);
        return;
    }
    assert_hermes_ok(hermes_h5table_write(path, cols, 3, 5, attrs, 4));
    /* Replacing an existing file, a table of no rows, one of no columns. */
    assert_hermes_ok(hermes_h5table_write(path, cols, 3, 0, NULL, 0));
    assert_hermes_ok(hermes_h5table_write(path, NULL, 0, 0, attrs, 4));   /* attributes only */
    assert_hermes_ok(hermes_h5table_write(path, cols, 3, 5, attrs, 4));
    assert_int_equal(count_entries(tmpdir), 1);   /* no temporary left */
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644);
#ifdef HERMES_PYTHON
    static const char script[] =
        "import h5py, math, struct, sys\n"
        "import numpy as np\n"
        "f = h5py.File(sys.argv[1], 'r')\n"
        "b = lambda x: struct.pack('<d', x)\n"
        "assert list(f.attrs['columns']) == ['u', 'grp/sub/x.y', 'grp/t:1'], f.attrs['columns']\n"
        "assert f['u'].dtype == np.uint64 and [int(v) for v in f['u'][:]] == [0, 1, 2**64 - 1, 2**53 + 1, 42]\n"
        "x = f['grp']['sub']['x.y']\n"
        "assert x.dtype == np.float64 and x.shape == (5,)\n"
        "want = [math.pi, -0.0, 5e-324, float('nan'), 1.7976931348623157e308]\n"
        "for g, w in zip(x[:], want):\n"
        "    assert (math.isnan(g) and math.isnan(w)) or b(float(g)) == b(w), (g, w)\n"
        "t = f['grp/t:1']\n"
        "i = h5py.check_string_dtype(t.dtype)\n"
        "assert i.encoding == 'utf-8' and i.length is None, i\n"
        "assert list(t.asstr()[:]) == ['ok', '', 'd\\u00e9j\\u00e0 vu', 'a,b \"c\"\\nd', ''], list(t.asstr()[:])\n"
        "assert f.attrs['n'].dtype == np.uint64 and int(f.attrs['n']) == 2**64 - 1\n"
        "assert b(float(f.attrs['x'])) == b(0.1)\n"
        "assert f.attrs['s'] == '\\u03bb' and f.attrs['empty'] == ''\n"
        "print('h5table ok')\n";
    char spath[300], cmd[1000];
    snprintf(spath, sizeof spath, "%s/check.py", tmpdir);
    FILE *sf = fopen(spath, "w");
    assert_non_null(sf);
    fputs(script, sf);
    fclose(sf);
    snprintf(cmd, sizeof cmd, "timeout 60 %s %s %s 2>&1", HERMES_PYTHON, spath, path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    if (st != 0)
        fail_msg("h5py check failed: %s", out);
    assert_contains(out, "h5table ok");
    unlink(spath);
#else
    print_message("not read back: /usr/bin/python3 with h5py missing\n");
#endif
}

static void test_h5table_bad_arguments(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/bad.h5", tmpdir);
    const double f[2] = {1, 2};
    const uint64_t u[2] = {1, 2};
    hermes_h5table_column_t c[2] = {{.name = "a", .type = HERMES_H5TABLE_F64, .f64 = f},
                                    {.name = "b", .type = HERMES_H5TABLE_U64, .u64 = u}};
    hermes_h5table_attr_t a[2] = {{.name = "k", .type = HERMES_H5TABLE_U64, .u64 = 1},
                                  {.name = "l", .type = HERMES_H5TABLE_F64, .f64 = 1}};
    if (!hermes_recording_supported()) {   /* the stub refuses every call the same way */
        assert_hermes_rc(hermes_h5table_write(path, c, 2, 2, a, 2), HERMES_ESTATE);
        assert_hermes_rc(hermes_h5table_write(NULL, NULL, 0, 0, NULL, 0), HERMES_ESTATE);
        return;
    }
    assert_hermes_rc(hermes_h5table_write(NULL, c, 2, 2, a, 2), HERMES_EINVAL);
    assert_hermes_rc(hermes_h5table_write(path, NULL, 2, 2, a, 2), HERMES_EINVAL);
    assert_hermes_rc(hermes_h5table_write(path, c, 2, 2, NULL, 2), HERMES_EINVAL);
    const char *bad_names[] = {"", "/a", "a/", "x//y", "a/b"};   /* "a/b" collides with column "a" */
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        c[1].name = bad_names[i];
        assert_hermes_rc(hermes_h5table_write(path, c, 2, 2, a, 2), HERMES_EINVAL);
    }
    c[1].name = "a";
    assert_hermes_rc(hermes_h5table_write(path, c, 2, 2, a, 2), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "collide");
    c[1].name = "b";
    c[1].type = (hermes_h5table_type_t)9;
    assert_hermes_rc(hermes_h5table_write(path, c, 2, 2, a, 2), HERMES_EINVAL);
    c[1].type = HERMES_H5TABLE_TEXT;   /* text type, but only u64 values given */
    assert_hermes_rc(hermes_h5table_write(path, c, 2, 2, a, 2), HERMES_EINVAL);
    assert_contains(hermes_last_error(), "'b': no values");
    c[1].type = HERMES_H5TABLE_U64;
    a[1].name = "columns";
    assert_hermes_rc(hermes_h5table_write(path, c, 2, 2, a, 2), HERMES_EINVAL);
    a[1].name = "k";
    assert_hermes_rc(hermes_h5table_write(path, c, 2, 2, a, 2), HERMES_EINVAL);
    a[1].name = "l";
    a[1].type = HERMES_H5TABLE_NONE;
    assert_hermes_rc(hermes_h5table_write(path, c, 2, 2, a, 2), HERMES_EINVAL);
    a[1].type = HERMES_H5TABLE_F64;
    assert_int_equal(access(path, F_OK), -1);
    /* No such directory: HERMES_ESYS naming the file. */
    char nodir[300];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir.h5", tmpdir);
    assert_hermes_rc(hermes_h5table_write(nodir, c, 2, 2, a, 2), HERMES_ESYS);
    assert_contains(hermes_last_error(), nodir);
}

/* A write that fails halfway (file size limit) leaves the previous file as it
 * was and no temporary. In a child, so the limit stays there. */
static void test_h5table_failure_keeps_old_file(void **state)
{
    (void)state;
    if (!hermes_recording_supported())
        skip();
    char d[300], path[400];
    snprintf(d, sizeof d, "%s/fsize", tmpdir);
    assert_int_equal(mkdir(d, 0755), 0);
    snprintf(path, sizeof path, "%s/t.h5", d);
    const uint64_t small[3] = {7, 8, 9};
    hermes_h5table_column_t c = {.name = "v", .type = HERMES_H5TABLE_U64, .u64 = small};
    assert_hermes_ok(hermes_h5table_write(path, &c, 1, 3, NULL, 0));
    struct stat before;
    assert_int_equal(stat(path, &before), 0);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {256 * 1024, 256 * 1024};
        setrlimit(RLIMIT_FSIZE, &rl);
        size_t n = 1u << 20;   /* 8 MiB of values */
        uint64_t *big = calloc(n, sizeof *big);
        if (!big)
            _exit(10);
        hermes_h5table_column_t cb = {.name = "v", .type = HERMES_H5TABLE_U64, .u64 = big};
        int rc = hermes_h5table_write(path, &cb, 1, n, NULL, 0);
        _exit(rc == HERMES_ESYS && strstr(hermes_last_error(), path) ? 0 : 11);
    }
    assert_true(pid > 0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    struct stat after;
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(after.st_ino, before.st_ino);
    assert_int_equal(after.st_size, before.st_size);
    assert_int_equal(count_entries(d), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h5table_roundtrip),
        cmocka_unit_test(test_h5table_bad_arguments),
        cmocka_unit_test(test_h5table_failure_keeps_old_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
