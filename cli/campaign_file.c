/* hermes campaign: reads and checks campaign files (libyaml document API) and computes run values. */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "campaign.h"

struct reader {
    const char    *path;
    yaml_document_t doc;
    char          *err;
    size_t         errcap;
};

__attribute__((format(printf, 3, 4))) static int fail_at(struct reader *r, const yaml_node_t *n, const char *fmt, ...)
{
    int k = n ? snprintf(r->err, r->errcap, "%s:%lu:%lu: ", r->path, (unsigned long)n->start_mark.line + 1,
                         (unsigned long)n->start_mark.column + 1)
              : snprintf(r->err, r->errcap, "%s: ", r->path);
    if (k < 0 || (size_t)k >= r->errcap)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err + k, r->errcap - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

static yaml_node_t *node(struct reader *r, int id)
{
    return yaml_document_get_node(&r->doc, id);
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int get_double(struct reader *r, const yaml_node_t *n, const char *what, double *out)
{
    const char *s = scalar(n);
    if (!s)
        return fail_at(r, n, "%s: expected a number", what);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v))
        return fail_at(r, n, "%s: '%s' is not a finite number", what, s);
    *out = v;
    return 0;
}

static int get_u64(struct reader *r, const yaml_node_t *n, const char *what, uint64_t *out)
{
    const char *s = scalar(n);
    if (!s)
        return fail_at(r, n, "%s: expected a non-negative integer", what);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (end == s || *end || errno == ERANGE || strchr(s, '-'))
        return fail_at(r, n, "%s: '%s' is not a non-negative integer (0 .. 2^64-1)", what, s);
    *out = v;
    return 0;
}

static int get_string(struct reader *r, const yaml_node_t *n, const char *what, char **out)
{
    const char *s = scalar(n);
    if (!s || !*s)
        return fail_at(r, n, "%s: expected a non-empty string", what);
    if (!(*out = strdup(s)))
        return fail_at(r, n, "out of memory");
    return 0;
}

/* A string, or a list of strings. */
static int get_strings(struct reader *r, const yaml_node_t *n, const char *what, char ***out, uint32_t *count)
{
    if (n->type == YAML_SCALAR_NODE) {
        *out = calloc(1, sizeof **out);
        if (!*out)
            return fail_at(r, n, "out of memory");
        *count = 1;
        return get_string(r, n, what, &(*out)[0]);
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return fail_at(r, n, "%s: expected a string or a list of strings", what);
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    *out = calloc(cnt ? cnt : 1, sizeof **out);
    if (!*out)
        return fail_at(r, n, "out of memory");
    *count = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        if (get_string(r, node(r, *it), what, &(*out)[*count]) != 0)
            return -1;
        (*count)++;
    }
    return 0;
}

static bool is_map(const yaml_node_t *n)
{
    return n && n->type == YAML_MAPPING_NODE;
}

/* Duplicate keys are errors (libyaml keeps both). */
static int check_keys(struct reader *r, const yaml_node_t *map, const char *where, const char *const *allowed)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(r, p->key);
        const char *key = scalar(k);
        if (!key)
            return fail_at(r, k, "%s: keys must be plain strings", where);
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            ok = ok || !strcmp(*a, key);
        if (!ok) {
            char list[512] = "";
            for (const char *const *a = allowed; *a; a++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", a == allowed ? "" : ", ", *a);
            return fail_at(r, k, "%s: unknown key '%s' (expected one of: %s)", where, key, list);
        }
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++)
            if (scalar(node(r, q->key)) && !strcmp(scalar(node(r, q->key)), key))
                return fail_at(r, k, "%s: key '%s' appears twice", where, key);
    }
    return 0;
}

static yaml_node_t *lookup(struct reader *r, const yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const char *k = scalar(node(r, p->key));
        if (k && !strcmp(k, key))
            return node(r, p->value);
    }
    return NULL;
}

static int read_dispersion(struct reader *r, const yaml_node_t *n, uint32_t idx, struct cmp_dispersion *d)
{
    char where[64];
    snprintf(where, sizeof where, "dispersions[%u]", idx);
    if (!is_map(n))
        return fail_at(r, n, "%s: expected a mapping {signal: ..., normal|uniform|choice: ...}", where);
    static const char *const keys[] = {"signal", "normal", "uniform", "choice", NULL};
    if (check_keys(r, n, where, keys) != 0)
        return -1;
    yaml_node_t *sig = lookup(r, n, "signal");
    if (!sig)
        return fail_at(r, n, "%s: missing 'signal' (qualified name, e.g. vehicle.mass)", where);
    d->line = (int)sig->start_mark.line + 1;
    d->col = (int)sig->start_mark.column + 1;
    if (get_string(r, sig, where, &d->signal) != 0)
        return -1;
    if (!strchr(d->signal, '.'))
        return fail_at(r, sig, "%s: signal '%s' must be qualified as module.signal", where, d->signal);
    yaml_node_t *nn = lookup(r, n, "normal"), *un = lookup(r, n, "uniform"), *cn = lookup(r, n, "choice");
    int kinds = !!nn + !!un + !!cn;
    if (kinds != 1)
        return fail_at(r, n, "%s: give exactly one distribution: normal, uniform or choice", where);
    hermes_distribution_init(&d->dist);
    const yaml_node_t *dn = nn ? nn : un ? un : cn;
    if (nn) {
        d->dist.kind = HERMES_DIST_NORMAL;
        if (!is_map(nn))
            return fail_at(r, nn, "%s.normal: expected {mean: M, sigma: S[, min: A][, max: B]}", where);
        static const char *const nk[] = {"mean", "sigma", "min", "max", NULL};
        if (check_keys(r, nn, where, nk) != 0)
            return -1;
        yaml_node_t *mean = lookup(r, nn, "mean"), *sigma = lookup(r, nn, "sigma");
        if (!mean || !sigma)
            return fail_at(r, nn, "%s.normal: needs mean and sigma", where);
        if (get_double(r, mean, "normal.mean", &d->dist.p1) || get_double(r, sigma, "normal.sigma", &d->dist.p2))
            return -1;
        yaml_node_t *mn = lookup(r, nn, "min"), *mx = lookup(r, nn, "max");
        d->dist.min = -DBL_MAX;
        d->dist.max = DBL_MAX;
        if ((mn && get_double(r, mn, "normal.min", &d->dist.min)) ||
            (mx && get_double(r, mx, "normal.max", &d->dist.max)))
            return -1;
        d->dist.truncated = mn || mx;
    } else if (un) {
        d->dist.kind = HERMES_DIST_UNIFORM;
        if (!is_map(un))
            return fail_at(r, un, "%s.uniform: expected {low: A, high: B}", where);
        static const char *const uk[] = {"low", "high", NULL};
        if (check_keys(r, un, where, uk) != 0)
            return -1;
        yaml_node_t *lo = lookup(r, un, "low"), *hi = lookup(r, un, "high");
        if (!lo || !hi)
            return fail_at(r, un, "%s.uniform: needs low and high", where);
        if (get_double(r, lo, "uniform.low", &d->dist.p1) || get_double(r, hi, "uniform.high", &d->dist.p2))
            return -1;
    } else {
        d->dist.kind = HERMES_DIST_CHOICE;
        const yaml_node_t *list = cn;
        if (is_map(cn)) {   /* choice: {values: [...]} */
            static const char *const ck[] = {"values", NULL};
            if (check_keys(r, cn, where, ck) != 0)
                return -1;
            list = lookup(r, cn, "values");
        }
        if (!list || list->type != YAML_SEQUENCE_NODE ||
            list->data.sequence.items.top == list->data.sequence.items.start)
            return fail_at(r, list ? list : cn, "%s.choice: expected a non-empty list of numbers", where);
        size_t cnt = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
        if (!(d->values = calloc(cnt, sizeof *d->values)))
            return fail_at(r, cn, "out of memory");
        for (size_t i = 0; i < cnt; i++) {
            yaml_node_t *v = node(r, list->data.sequence.items.start[i]);
            const char *s = scalar(v);
            if (s && (!strcmp(s, "true") || !strcmp(s, "false")))
                d->values[i] = !strcmp(s, "true");
            else if (get_double(r, v, "choice value", &d->values[i]))
                return -1;
        }
        d->dist.values = d->values;
        d->dist.value_count = (uint32_t)cnt;
    }
    if (hermes_distribution_check(&d->dist) != 0)
        return fail_at(r, dn, "%s: %s", where, hermes_last_error());
    return 0;
}

static int read_outputs(struct reader *r, const yaml_node_t *n, struct campaign *c)
{
    if (!is_map(n))
        return fail_at(r, n, "outputs: expected a mapping {final: [...], min: [...], max: [...]}");
    static const char *const keys[] = {"final", "min", "max", NULL};
    if (check_keys(r, n, "outputs", keys) != 0)
        return -1;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = scalar(node(r, p->key));
        enum cmp_stat st = !strcmp(k, "final") ? STAT_FINAL : !strcmp(k, "min") ? STAT_MIN : STAT_MAX;
        yaml_node_t *v = node(r, p->value);
        char **names = NULL;
        uint32_t cnt = 0;
        char what[32];
        snprintf(what, sizeof what, "outputs.%s", k);
        int rc = get_strings(r, v, what, &names, &cnt);
        if (rc == 0) {
            struct cmp_output *o = realloc(c->out, (c->nout + cnt) * sizeof *o + 1);
            if (!o)
                rc = fail_at(r, v, "out of memory");
            else
                c->out = o;
        }
        for (uint32_t i = 0; i < cnt; i++) {
            const yaml_node_t *at = v->type == YAML_SEQUENCE_NODE ? node(r, v->data.sequence.items.start[i]) : v;
            if (rc == 0) {
                for (uint32_t j = 0; j < c->nout && rc == 0; j++)
                    if (c->out[j].stat == st && !strcmp(c->out[j].signal, names[i]))
                        rc = fail_at(r, v, "%s: '%s' is listed twice", what, names[i]);
                if (rc == 0 && !strchr(names[i], '.'))
                    rc = fail_at(r, v, "%s: signal '%s' must be qualified as module.signal", what, names[i]);
            }
            if (rc == 0) {
                c->out[c->nout++] = (struct cmp_output){names[i], st, (int)at->start_mark.line + 1,
                                                        (int)at->start_mark.column + 1};
                names[i] = NULL;
            }
            free(names[i]);
        }
        free(names);
        if (rc)
            return rc;
    }
    return 0;
}

static int read_slurm(struct reader *r, const yaml_node_t *n, struct campaign *c)
{
    if (!is_map(n))
        return fail_at(r, n, "slurm: expected a mapping {limit: N, time: T, partition: P, options: [...]}");
    static const char *const keys[] = {"limit", "time", "partition", "options", NULL};
    if (check_keys(r, n, "slurm", keys) != 0)
        return -1;
    yaml_node_t *v;
    if ((v = lookup(r, n, "limit"))) {
        uint64_t lim;
        if (get_u64(r, v, "slurm.limit", &lim))
            return -1;
        if (lim == 0 || lim > 1000000)
            return fail_at(r, v, "slurm.limit: must be 1 .. 1000000");
        c->slurm_limit = (uint32_t)lim;
    }
    if ((v = lookup(r, n, "time")) && get_string(r, v, "slurm.time", &c->slurm_time))
        return -1;
    if ((v = lookup(r, n, "partition")) && get_string(r, v, "slurm.partition", &c->slurm_partition))
        return -1;
    if ((v = lookup(r, n, "options")) && get_strings(r, v, "slurm.options", &c->slurm_extra, &c->nslurm_extra))
        return -1;
    return 0;
}

static char *resolve(const char *file, const char *rel)
{
    char *out;
    if (rel[0] == '/') {
        out = strdup(rel);
    } else {
        char dir[PATH_MAX];
        const char *slash = strrchr(file, '/');
        if (slash) {
            snprintf(dir, sizeof dir, "%.*s", (int)(slash - file), file);
        } else {
            snprintf(dir, sizeof dir, ".");
        }
        char abs[PATH_MAX];
        if (!realpath(dir, abs))
            snprintf(abs, sizeof abs, "%s", dir);
        size_t n = strlen(abs) + strlen(rel) + 2;
        out = malloc(n);
        if (out)
            snprintf(out, n, "%s/%s", abs, rel);
    }
    if (!out)
        return NULL;
    char real[PATH_MAX];
    if (realpath(out, real)) {
        free(out);
        out = strdup(real);
    }
    return out;
}

static int read_top(struct reader *r, const yaml_node_t *root, struct campaign *c)
{
    if (!is_map(root))
        return fail_at(r, root, "a campaign file is a mapping (base, runs, seed, dispersions, outputs, ...)");
    static const char *const keys[] = {"base", "runs", "seed", "end_time", "dispersions", "outputs",
                                       "record", "restore", "slurm", NULL};
    if (check_keys(r, root, "campaign", keys) != 0)
        return -1;
    yaml_node_t *v;
    char *base = NULL;
    if (!(v = lookup(r, root, "base")))
        return fail_at(r, root, "missing 'base' (path of the base configuration, relative to this file)");
    if (get_string(r, v, "base", &base))
        return -1;
    c->base = resolve(r->path, base);
    free(base);
    if (!c->base)
        return fail_at(r, v, "out of memory");
    if (!(v = lookup(r, root, "runs")))
        return fail_at(r, root, "missing 'runs' (number of runs)");
    if (get_u64(r, v, "runs", &c->runs))
        return -1;
    if (c->runs == 0 || c->runs > 10000000)
        return fail_at(r, v, "runs: must be 1 .. 10000000");
    if (!(v = lookup(r, root, "seed")))
        return fail_at(r, root, "missing 'seed' (campaign seed, 0 .. 2^64-1)");
    if (get_u64(r, v, "seed", &c->seed))
        return -1;
    if ((v = lookup(r, root, "end_time"))) {
        if (get_double(r, v, "end_time", &c->end_time))
            return -1;
        if (c->end_time <= 0)
            return fail_at(r, v, "end_time: must be > 0 seconds");
        c->has_end_time = true;
    }
    if ((v = lookup(r, root, "dispersions"))) {
        if (v->type != YAML_SEQUENCE_NODE)
            return fail_at(r, v, "dispersions: expected a list");
        size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        if (!(c->disp = calloc(cnt ? cnt : 1, sizeof *c->disp)))
            return fail_at(r, v, "out of memory");
        for (size_t i = 0; i < cnt; i++) {
            yaml_node_t *dn = node(r, v->data.sequence.items.start[i]);
            if (read_dispersion(r, dn, (uint32_t)i, &c->disp[i]) != 0) {
                c->ndisp = (uint32_t)i + 1;
                return -1;
            }
            c->ndisp = (uint32_t)i + 1;
            for (uint32_t j = 0; j < i; j++)
                if (!strcmp(c->disp[j].signal, c->disp[i].signal))
                    return fail_at(r, lookup(r, dn, "signal"),
                                   "dispersions[%zu]: signal '%s' is already dispersed at line %d", i,
                                   c->disp[i].signal, c->disp[j].line);
        }
    }
    if ((v = lookup(r, root, "outputs")) && read_outputs(r, v, c))
        return -1;
    if ((v = lookup(r, root, "record"))) {
        const char *s = scalar(v);
        if (!s || (strcmp(s, "true") && strcmp(s, "false")))
            return fail_at(r, v, "record: expected true or false");
        c->record = !strcmp(s, "true");
        if (c->record && !hermes_recording_supported())
            return fail_at(r, v, "record: this hermes was built without recording (meson -Drecording=enabled, "
                                 "needs libhdf5-dev)");
    }
    if ((v = lookup(r, root, "restore"))) {
        char *rel = NULL;
        if (get_string(r, v, "restore", &rel))
            return -1;
        c->restore = resolve(r->path, rel);
        free(rel);
        if (!c->restore)
            return fail_at(r, v, "out of memory");
        c->restore_line = (int)v->start_mark.line + 1;
        c->restore_col = (int)v->start_mark.column + 1;
        if (c->record)
            return fail_at(r, v, "restore: cannot be combined with record: true yet (docs/checkpoints.md, limits)");
    }
    if ((v = lookup(r, root, "slurm")) && read_slurm(r, v, c))
        return -1;
    return 0;
}

int campaign_load(struct campaign *c, const char *path, char *err, size_t errcap)
{
    memset(c, 0, sizeof *c);
    struct reader r = {.path = path, .err = err, .errcap = errcap};
    if (!(c->path = strdup(path)))
        return fail_at(&r, NULL, "out of memory");
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return fail_at(&r, NULL, "out of memory");
    }
    yaml_parser_set_input_file(&parser, f);
    int rc;
    if (!yaml_parser_load(&parser, &r.doc)) {
        snprintf(err, errcap, "%s:%lu:%lu: YAML syntax error: %s%s%s", path,
                 (unsigned long)parser.problem_mark.line + 1, (unsigned long)parser.problem_mark.column + 1,
                 parser.problem ? parser.problem : "syntax error", parser.context ? " " : "",
                 parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        fclose(f);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&r.doc);
    if (!root)
        rc = fail_at(&r, NULL, "the campaign file is empty");
    else
        rc = read_top(&r, root, c);
    yaml_document_delete(&r.doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

void campaign_free(struct campaign *c)
{
    free(c->path);
    free(c->base);
    free(c->restore);
    for (uint32_t i = 0; i < c->ndisp; i++) {
        free(c->disp[i].signal);
        free(c->disp[i].values);
    }
    free(c->disp);
    for (uint32_t i = 0; i < c->nout; i++)
        free(c->out[i].signal);
    free(c->out);
    free(c->slurm_time);
    free(c->slurm_partition);
    for (uint32_t i = 0; i < c->nslurm_extra; i++)
        free(c->slurm_extra[i]);
    free(c->slurm_extra);
    memset(c, 0, sizeof *c);
}

const char *campaign_stat_name(enum cmp_stat s)
{
    return s == STAT_FINAL ? "final" : s == STAT_MIN ? "min" : "max";
}

/* Type of a declared signal, or NONE when the config has no such signal. */
/* The type of signal @p qname (NONE: no such signal); *computed (when not
 * NULL) says why it takes no initial value (an FMU output), else NULL. */
static hermes_type_t signal_type(const hermes_config_t *cfg, const char *qname, const char **computed)
{
    if (computed)
        *computed = NULL;
    uint32_t n = hermes_config_module_count(cfg);
    for (uint32_t i = 0; i < n; i++) {
        hermes_module_info_t mi;
        if (hermes_config_module(cfg, i, &mi) != 0)
            continue;
        size_t ml = strlen(mi.name);
        if (strncmp(qname, mi.name, ml) != 0 || qname[ml] != '.')
            continue;
        for (uint32_t j = 0; j < mi.signal_count; j++) {
            hermes_signal_spec_t sp;
            if (hermes_config_signal(cfg, i, j, &sp) == 0 && !strcmp(sp.name, qname + ml + 1)) {
                if (computed)
                    *computed = hermes_fmu_signal_computed(cfg, i, j);
                return sp.type ? sp.type : HERMES_TYPE_F64;
            }
        }
    }
    return HERMES_TYPE_NONE;
}

int campaign_check_config(const struct campaign *c, const hermes_config_t *cfg, char *err, size_t errcap)
{
    for (uint32_t i = 0; i < c->ndisp; i++) {
        const struct cmp_dispersion *d = &c->disp[i];
        const char *computed;
        hermes_type_t t = signal_type(cfg, d->signal, &computed);
        if (t == HERMES_TYPE_NONE) {
            snprintf(err, errcap, "%s:%d:%d: dispersions[%u]: the base config %s declares no signal '%s'", c->path,
                     d->line, d->col, i, c->base, d->signal);
            return -1;
        }
        if (computed) {
            snprintf(err, errcap, "%s:%d:%d: dispersions[%u]: signal '%s' is %s: the FMU computes it, so every run "
                     "would be the same (disperse an input or a parameter)", c->path, d->line, d->col, i, d->signal,
                     computed);
            return -1;
        }
        bool integral = t == HERMES_TYPE_I32 || t == HERMES_TYPE_I64 || t == HERMES_TYPE_BOOL;
        if (integral && d->dist.kind != HERMES_DIST_CHOICE) {
            snprintf(err, errcap, "%s:%d:%d: dispersions[%u]: signal '%s' is %s: only 'choice' suits an integer or "
                                  "bool signal",
                     c->path, d->line, d->col, i, d->signal, hermes_type_name(t));
            return -1;
        }
        for (uint32_t k = 0; d->dist.kind == HERMES_DIST_CHOICE && k < d->dist.value_count; k++)
            if (hermes_type_check(t, d->values[k]) != 0) {
                snprintf(err, errcap, "%s:%d:%d: dispersions[%u]: choice value %.17g does not fit %s signal '%s'",
                         c->path, d->line, d->col, i, d->values[k], hermes_type_name(t), d->signal);
                return -1;
            }
    }
    for (uint32_t i = 0; i < c->nout; i++) {
        const struct cmp_output *o = &c->out[i];
        if (!strncmp(o->signal, HERMES_HEALTH_MODULE ".", strlen(HERMES_HEALTH_MODULE) + 1))
            continue;   /* timing signals: created by the scheduler, checked at run time */
        if (signal_type(cfg, o->signal, NULL) == HERMES_TYPE_NONE) {
            snprintf(err, errcap, "%s:%d:%d: outputs.%s: the base config %s declares no signal '%s'", c->path,
                     o->line, o->col, campaign_stat_name(o->stat), c->base, o->signal);
            return -1;
        }
    }
    return 0;
}

int campaign_values(const struct campaign *c, const hermes_config_t *cfg, uint64_t index, double *values,
                    uint64_t *run_seed, char *err, size_t errcap)
{
    *run_seed = hermes_campaign_run_seed(c->seed, index);
    for (uint32_t i = 0; i < c->ndisp; i++) {
        const struct cmp_dispersion *d = &c->disp[i];
        if (hermes_campaign_draw(c->seed, index, i + 1, &d->dist, &values[i]) != 0) {
            snprintf(err, errcap, "%s:%d:%d: dispersions[%u] (%s), run %llu: %s", c->path, d->line, d->col, i,
                     d->signal, (unsigned long long)index, hermes_last_error());
            return -1;
        }
        hermes_type_t t = signal_type(cfg, d->signal, NULL);
        if (t == HERMES_TYPE_F32 && hermes_type_check(t, values[i]) != 0) {
            snprintf(err, errcap, "%s:%d:%d: dispersions[%u] (%s), run %llu: %.17g does not fit f32", c->path,
                     d->line, d->col, i, d->signal, (unsigned long long)index, values[i]);
            return -1;
        }
    }
    return 0;
}
