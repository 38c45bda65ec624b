/* The libyaml pre-pass of a config file: YAML syntax errors with exact
 * positions, the top-level shape, duplicate keys, the module names under
 * `modules:` (libcyaml's schema needs them), `execution.schedule` (its
 * entries are names or one level of lists of names, which libcyaml's schema
 * cannot express) and the positions of nodes.
 *
 * Positions cost a path string and a table entry per node, which would be
 * most of the start-up time of a config with 10^5 signals, while they only
 * serve error messages. So the pass at load time records the nodes outside
 * any sequence (sections, module fields: a few per module), and the first
 * lookup of a path inside a sequence (an error in signals[12345]) walks the
 * retained text once more and records every node (hermes__config_pos_complete). */
#include "config/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

/* Beyond this many keys a mapping indexes its keys for the duplicate check. */
#define LINEAR_KEYS 16

struct pkey {
    uint32_t off, len;  /* in the frame's key buffer */
    int      line;
};

/* One open mapping or sequence. Frames are reused: their buffers stay
 * allocated across pushes, so a file of many small mappings costs no
 * allocation per mapping. */
struct pframe {
    bool         is_map;
    bool         expect_key;
    bool         is_modules;  /* the mapping under top-level `modules:` */
    long         idx;         /* sequences: index of the next entry */
    char        *kbuf;        /* maps: every key so far, NUL-terminated, back to back */
    uint32_t     kbuf_len, kbuf_cap;
    struct pkey *keys;
    uint32_t     nkeys, capkeys;
    struct hermes__names kidx; /* key -> index, once nkeys > LINEAR_KEYS (points into kbuf) */
    int          kline, kcol;  /* position of the current key */
};

struct prepass {
    hermes_config_t *cfg;
    hermes_error_t  *err;
    bool             complete;   /* record every node; the text is known to be good */
    struct pframe   *st;
    uint32_t         depth, capst, nframes;  /* nframes: frames ever initialised */
    uint32_t         seq_depth;  /* sequences on the stack */
    bool             root_seen;
    bool             have_modules;
    char           **modnames;   /* module names in file order */
    uint32_t         nmod, capmod;
    /* execution.schedule: entries, their group numbers and YAML paths. */
    uint32_t         sched_level;  /* depth of its sequence frame; 0: not inside it */
    bool             have_sched;
    char           **sname, **sfield;
    uint32_t        *sgroup;
    uint32_t         nsched, capsname, capsfield, capsgroup, ngroups, group_len;
    int              group_line, group_col;  /* of the open inner list */
};

static const char *cur_key(const struct pframe *f) { return f->kbuf + f->keys[f->nkeys - 1].off; }

/* Dotted path of the current child of frame @p upto - 1, i.e. of the node
 * @p upto levels down (pp->depth: the node being read; pp->depth - 1: the top
 * frame's own node). Each frame names its current child: a map its last key,
 * a sequence its last index. Empty when it does not fit (paths are for
 * messages and positions only). */
static void node_path(const struct prepass *pp, uint32_t upto, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (uint32_t d = 0; d < upto; d++) {
        const struct pframe *f = &pp->st[d];
        int n = f->is_map ? snprintf(buf + o, cap - o, "%s%s", o ? "." : "", cur_key(f))
                          : snprintf(buf + o, cap - o, "[%ld]", f->idx - 1);
        if (n < 0 || (size_t)n >= cap - o) {
            buf[0] = '\0';
            return;
        }
        o += (size_t)n;
    }
}

static int push_frame(struct prepass *pp, bool is_map)
{
    if (pp->depth == pp->nframes) {
        if (hermes__grow((void **)&pp->st, &pp->capst, pp->depth + 1, sizeof *pp->st) != 0)
            return hermes__config_nomem();
        memset(&pp->st[pp->depth], 0, sizeof *pp->st);
        pp->nframes++;
    }
    struct pframe *f = &pp->st[pp->depth++];
    f->is_map = is_map;
    f->expect_key = true;
    f->is_modules = false;
    f->idx = 0;
    f->kbuf_len = 0;
    f->nkeys = 0;
    hermes__names_free(&f->kidx);
    if (!is_map)
        pp->seq_depth++;
    return 0;
}

static void pop_frame(struct prepass *pp)
{
    if (pp->depth > 0 && !pp->st[--pp->depth].is_map)
        pp->seq_depth--;
}

static int index_keys(struct pframe *f)
{
    hermes__names_free(&f->kidx);
    if (hermes__names_reserve(&f->kidx, f->nkeys * 2) != 0)
        return -1;
    for (uint32_t i = 0; i < f->nkeys; i++)
        if (hermes__names_put(&f->kidx, f->kbuf + f->keys[i].off, f->keys[i].len, i, NULL) < 0)
            return -1;
    return 0;
}

/* Index of @p key among the frame's keys, or -1. */
static int find_key(const struct pframe *f, const char *key, uint32_t len)
{
    if (f->nkeys > LINEAR_KEYS) {
        uint32_t i;
        return hermes__names_get(&f->kidx, key, len, &i) == 0 ? (int)i : -1;
    }
    for (uint32_t i = 0; i < f->nkeys; i++)
        if (f->keys[i].len == len && memcmp(f->kbuf + f->keys[i].off, key, len) == 0)
            return (int)i;
    return -1;
}

static int add_key(struct pframe *f, const char *key, uint32_t len, int line)
{
    uint32_t need = f->kbuf_len + len + 1;
    char *old = f->kbuf;
    if (hermes__grow((void **)&f->kbuf, &f->kbuf_cap, need, 1) != 0 ||
        hermes__grow((void **)&f->keys, &f->capkeys, f->nkeys + 1, sizeof *f->keys) != 0)
        return -1;
    memcpy(f->kbuf + f->kbuf_len, key, len);
    f->kbuf[f->kbuf_len + len] = '\0';
    f->keys[f->nkeys] = (struct pkey){f->kbuf_len, len, line};
    f->kbuf_len = need;
    f->nkeys++;
    if (f->nkeys <= LINEAR_KEYS)
        return 0;
    if (f->kbuf != old || f->nkeys == LINEAR_KEYS + 1)
        return index_keys(f);  /* the index points into kbuf: rebuild it when kbuf moved */
    return hermes__names_put(&f->kidx, f->kbuf + f->keys[f->nkeys - 1].off, len, f->nkeys - 1, NULL) < 0 ? -1 : 0;
}

/* A mapping key: check it, remember it and its position. */
static int pp_key(struct prepass *pp, struct pframe *top, const yaml_event_t *ev, int line, int col)
{
    hermes_config_t *cfg = pp->cfg;
    char path[512];
    if (ev->type != YAML_SCALAR_EVENT) {
        node_path(pp, pp->depth - 1, path, sizeof path);
        return hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, path, line, col, "mapping keys must be plain scalars");
    }
    const char *key = (const char *)ev->data.scalar.value;
    uint32_t len = (uint32_t)ev->data.scalar.length;
    int k = pp->complete ? -1 : find_key(top, key, len);
    if (add_key(top, key, len, line) != 0)
        return hermes__config_nomem();
    if (k >= 0) {
        node_path(pp, pp->depth, path, sizeof path);
        return top->is_modules
            ? hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, path, line, col,
                                  "duplicate module name '%s' (first defined on line %d)", cur_key(top),
                                  top->keys[k].line)
            : hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, path, line, col,
                                  "duplicate key '%s' (first on line %d)", cur_key(top), top->keys[k].line);
    }
    if (top->is_modules && !pp->complete) {
        char *name = hermes__strdup(cur_key(top));
        if (!name || hermes__grow((void **)&pp->modnames, &pp->capmod, pp->nmod + 1, sizeof *pp->modnames) != 0) {
            free(name);
            return hermes__config_nomem();
        }
        pp->modnames[pp->nmod++] = name;
    }
    top->kline = line;
    top->kcol = col;
    top->expect_key = false;
    return 0;
}

static bool plain_null(const yaml_event_t *ev)
{
    if (ev->type != YAML_SCALAR_EVENT || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)ev->data.scalar.value;
    return ev->data.scalar.length == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

/* A value (a scalar, alias, or the start of a mapping or sequence). */
static int pp_value(struct prepass *pp, struct pframe *top, const yaml_event_t *ev, int line, int col)
{
    hermes_config_t *cfg = pp->cfg;
    int kline = line, kcol = col;
    if (top->is_map) {
        kline = top->kline;
        kcol = top->kcol;
        top->expect_key = true;
    } else {
        top->idx++;
    }
    bool is_modules = pp->depth == 1 && strcmp(cur_key(top), "modules") == 0;
    /* At load, only nodes outside sequences (see the file comment). */
    if (pp->complete || pp->seq_depth == 0) {
        char buf[512];
        node_path(pp, pp->depth, buf, sizeof buf);
        char *path = hermes__strdup(buf);
        if (!path)
            return hermes__config_nomem();
        int rc = hermes__config_pos_add(cfg, path, kline, kcol, line, col, plain_null(ev));
        if (rc || pp->complete)
            return rc;
        if (is_modules) {
            pp->have_modules = true;
            if (ev->type != YAML_MAPPING_START_EVENT)
                return hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, buf, line, col,
                                           "must be a mapping of module names to modules");
        }
        if (top->is_modules && ev->type != YAML_MAPPING_START_EVENT)
            return hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, buf, line, col,
                                       "module '%s' must be a mapping (type:, signals:, ...)", cur_key(top));
    }
    return 0;
}

/* One node inside `execution.schedule` (the list, or one inner list). */
static int pp_schedule(struct prepass *pp, const yaml_event_t *ev, int line, int col)
{
    hermes_config_t *cfg = pp->cfg;
    bool inner = pp->depth == pp->sched_level + 1;
    char path[512];
    node_path(pp, pp->depth, path, sizeof path);
    if (ev->type == YAML_SEQUENCE_START_EVENT && !inner) {
        pp->ngroups++;
        pp->group_len = 0;
        pp->group_line = line;
        pp->group_col = col;
        return 0;
    }
    if (ev->type != YAML_SCALAR_EVENT)
        return hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, path, line, col, inner && ev->type ==
                                   YAML_SEQUENCE_START_EVENT ? "groups cannot be nested: a schedule entry is a "
                                   "module name or one list of module names" : "must be a module name%s",
                                   inner ? "" : " or a list of module names (a group)");
    char *name = hermes__strdup((const char *)ev->data.scalar.value), *field = hermes__strdup(path);
    if (!name || !field ||
        hermes__grow((void **)&pp->sname, &pp->capsname, pp->nsched + 1, sizeof *pp->sname) != 0 ||
        hermes__grow((void **)&pp->sfield, &pp->capsfield, pp->nsched + 1, sizeof *pp->sfield) != 0 ||
        hermes__grow((void **)&pp->sgroup, &pp->capsgroup, pp->nsched + 1, sizeof *pp->sgroup) != 0) {
        free(name);
        free(field);
        return hermes__config_nomem();
    }
    if (!inner)
        pp->ngroups++;
    else
        pp->group_len++;
    pp->sname[pp->nsched] = name;
    pp->sfield[pp->nsched] = field;
    pp->sgroup[pp->nsched++] = pp->ngroups;
    return 0;
}

/* End of a sequence inside `execution.schedule`. */
static int pp_schedule_end(struct prepass *pp)
{
    if (pp->depth == pp->sched_level)
        pp->sched_level = 0;  /* the schedule list itself */
    else if (pp->group_len == 0) {
        char path[512];
        node_path(pp, pp->depth - 1, path, sizeof path);
        return hermes__config_fail(pp->cfg, pp->err, HERMES_ECONFIG, path, pp->group_line, pp->group_col,
                                   "a group must list at least one module");
    }
    return 0;
}

static int pp_node(struct prepass *pp, const yaml_event_t *ev)
{
    hermes_config_t *cfg = pp->cfg;
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    bool is_map = ev->type == YAML_MAPPING_START_EVENT;
    bool is_container = is_map || ev->type == YAML_SEQUENCE_START_EVENT;

    if (pp->depth == 0) {
        pp->root_seen = true;
        if (is_map)
            return push_frame(pp, true);
        if (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.length == 0 &&
            ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            return hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, NULL, line, col, "configuration is empty");
        return hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, NULL, line, col,
                                   "top level must be a mapping (modules:, wiring:, execution:, server:)");
    }
    struct pframe *top = &pp->st[pp->depth - 1];
    if (top->is_map && top->expect_key)
        return pp_key(pp, top, ev, line, col);
    bool under_root = pp->depth == 1;
    int rc = pp_value(pp, top, ev, line, col);
    bool is_sched = !pp->complete && pp->depth == 2 && top->is_map && pp->st[0].is_map &&
                    strcmp(cur_key(&pp->st[0]), "execution") == 0 && strcmp(cur_key(top), "schedule") == 0;
    if (rc == 0 && pp->sched_level && !pp->complete)
        rc = pp_schedule(pp, ev, line, col);
    if (rc == 0 && is_sched) {
        pp->have_sched = true;
        if (ev->type == YAML_SEQUENCE_START_EVENT)
            pp->sched_level = pp->depth + 1;
        else if (!plain_null(ev)) {
            char path[512];
            node_path(pp, pp->depth, path, sizeof path);
            rc = hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, path, line, col,
                                     "wrong type: must be a list of module names and groups, e.g. [a, [b, c], d]");
        }
    }
    if (rc || !is_container)
        return rc;
    bool is_modules = under_root && strcmp(cur_key(top), "modules") == 0;
    if ((rc = push_frame(pp, is_map)) != 0)
        return rc;
    pp->st[pp->depth - 1].is_modules = is_modules;
    return 0;
}

static int syntax_error(struct prepass *pp, const yaml_parser_t *parser)
{
    if (parser->error == YAML_MEMORY_ERROR)
        return hermes__config_nomem();
    int line = 0, col = 0;
    if (parser->error != YAML_READER_ERROR) {
        line = (int)parser->problem_mark.line + 1;
        col = (int)parser->problem_mark.column + 1;
    }
    const char *problem = parser->problem ? parser->problem : "syntax error";
    return hermes__config_fail(pp->cfg, pp->err, HERMES_ECONFIG, NULL, line, col, "YAML syntax error: %s%s%s",
                               problem, parser->context ? " " : "", parser->context ? parser->context : "");
}

static int prepass_run(struct prepass *pp, const char *text, size_t len)
{
    hermes_config_t *cfg = pp->cfg;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return hermes__config_nomem();
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int docs = 0, rc = 0;
    bool done = false;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = syntax_error(pp, &parser);
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1)
                rc = hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, NULL, (int)ev.start_mark.line + 1,
                                         (int)ev.start_mark.column + 1, "only one YAML document is allowed");
            break;
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
            rc = pp_node(pp, &ev);
            break;
        case YAML_SEQUENCE_END_EVENT:
            if (pp->sched_level && !pp->complete)
                rc = pp_schedule_end(pp);
            pop_frame(pp);
            break;
        case YAML_MAPPING_END_EVENT:
            pop_frame(pp);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    for (uint32_t i = 0; i < pp->nframes; i++) {
        free(pp->st[i].kbuf);
        free(pp->st[i].keys);
        hermes__names_free(&pp->st[i].kidx);
    }
    free(pp->st);
    pp->st = NULL;
    pp->capst = pp->nframes = pp->depth = 0;
    if (rc || pp->complete)
        return rc;
    if (!pp->root_seen)
        return hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, NULL, 0, 0,
                                   "configuration is empty (no YAML document)");
    if (!pp->have_modules)
        return hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, "modules", 0, 0, "missing required section");
    if (pp->nmod == 0)
        return hermes__config_field_fail(cfg, pp->err, HERMES_ECONFIG, "modules", "at least one module is required");
    return 0;
}

void hermes__yaml_schedule_free(struct hermes__yaml_schedule *sc)
{
    hermes__free_strv(sc->names, sc->n);
    hermes__free_strv(sc->fields, sc->n);
    free(sc->group);
    memset(sc, 0, sizeof *sc);
}

int hermes__config_prepass(hermes_config_t *cfg, hermes_error_t *err, const char *text, size_t len, char ***names,
                           uint32_t *count, struct hermes__yaml_schedule *sched)
{
    struct prepass pp;
    memset(&pp, 0, sizeof pp);
    pp.cfg = cfg;
    pp.err = err;
    int rc = prepass_run(&pp, text, len);
    *sched = (struct hermes__yaml_schedule){.present = pp.have_sched, .names = pp.sname, .fields = pp.sfield,
                                            .group = pp.sgroup, .n = pp.nsched};
    if (rc) {
        hermes__yaml_schedule_free(sched);
        hermes__free_strv(pp.modnames, pp.nmod);
        return rc;
    }
    *names = pp.modnames;
    *count = pp.nmod;
    return 0;
}

void hermes__config_pos_complete(hermes_config_t *cfg)
{
    if (!cfg->text || cfg->pos_complete)
        return;
    cfg->pos_complete = true;
    struct prepass pp;
    memset(&pp, 0, sizeof pp);
    pp.cfg = cfg;
    pp.complete = true;
    prepass_run(&pp, cfg->text, cfg->text_len);  /* best effort: positions only refine messages */
}
