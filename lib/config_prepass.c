/* The libyaml pre-pass of a config file: YAML syntax errors with exact
 * positions, the top-level shape, duplicate keys, the module names under
 * `modules:` (libcyaml's schema needs them) and the position of every node. */
#include "config_internal.h"

#include <stdlib.h>
#include <string.h>

#include <yaml.h>

struct pframe {
    bool    is_map;
    bool    expect_key;
    bool    is_modules;   /* the mapping under top-level `modules:` */
    char   *path;
    long    idx;          /* next sequence index */
    char   *key;          /* current key (maps) */
    int     kline, kcol;
    char  **keys;         /* keys seen so far, for duplicate detection */
    uint32_t nkeys, capkeys;
};

struct prepass {
    hermes_config_t *cfg;
    hermes_error_t  *err;
    struct pframe   *st;
    uint32_t         depth, capst;
    bool             root_seen;
    bool             have_modules;
    char           **modnames;  /* module names in file order */
    uint32_t         nmod, capmod;
};

static void pframe_free(struct pframe *f)
{
    free(f->path);
    free(f->key);
    hermes__free_strv(f->keys, f->nkeys);
}

static int push_frame(struct prepass *pp, bool is_map, char *path)
{
    if (hermes__grow((void **)&pp->st, &pp->capst, pp->depth + 1, sizeof *pp->st) != 0) {
        free(path);
        return hermes__config_nomem();
    }
    struct pframe *f = &pp->st[pp->depth++];
    memset(f, 0, sizeof *f);
    f->is_map = is_map;
    f->expect_key = true;
    f->path = path;
    return 0;
}

static int pp_node(struct prepass *pp, const yaml_event_t *ev)
{
    hermes_config_t *cfg = pp->cfg;
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    bool is_container = ev->type == YAML_MAPPING_START_EVENT || ev->type == YAML_SEQUENCE_START_EVENT;

    if (pp->depth == 0) {
        pp->root_seen = true;
        if (ev->type == YAML_MAPPING_START_EVENT) {
            char *root = hermes__strdup("");
            return root ? push_frame(pp, true, root) : hermes__config_nomem();
        }
        if (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.length == 0 &&
            ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            return hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, NULL, line, col, "configuration is empty");
        return hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, NULL, line, col,
                                   "top level must be a mapping (modules:, wiring:, execution:, server:)");
    }

    struct pframe *top = &pp->st[pp->depth - 1];
    if (top->is_map && top->expect_key) {
        if (ev->type != YAML_SCALAR_EVENT) {
            return hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, top->path, line, col,
                                       "mapping keys must be plain scalars");
        }
        char *key = malloc(ev->data.scalar.length + 1);
        if (!key)
            return hermes__config_nomem();
        memcpy(key, ev->data.scalar.value, ev->data.scalar.length);
        key[ev->data.scalar.length] = '\0';
        for (uint32_t k = 0; k < top->nkeys; k++) {
            if (strcmp(top->keys[k], key) != 0)
                continue;
            char *child = top->path[0] ? hermes__asprintf("%s.%s", top->path, key) : hermes__strdup(key);
            if (!child) {
                free(key);
                return hermes__config_nomem();
            }
            const struct cfg_pos *first = hermes__config_pos_find(cfg, child);
            int fl = first ? first->kline : 0;
            int rc = top->is_modules
                ? hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, child, line, col,
                                      "duplicate module name '%s' (first defined on line %d)", key, fl)
                : hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, child, line, col,
                                      "duplicate key '%s' (first on line %d)",
                                      key, fl);
            free(child);
            free(key);
            return rc;
        }
        if (hermes__grow((void **)&top->keys, &top->capkeys, top->nkeys + 1, sizeof *top->keys) != 0) {
            free(key);
            return hermes__config_nomem();
        }
        top->keys[top->nkeys++] = key;
        if (top->is_modules) {
            if (hermes__grow((void **)&pp->modnames, &pp->capmod, pp->nmod + 1, sizeof *pp->modnames) != 0)
                return hermes__config_nomem();
            if (!(pp->modnames[pp->nmod] = hermes__strdup(key)))
                return hermes__config_nomem();
            pp->nmod++;
        }
        free(top->key);
        top->key = hermes__strdup(key);
        if (!top->key)
            return hermes__config_nomem();
        top->kline = line;
        top->kcol = col;
        top->expect_key = false;
        return 0;
    }

    /* A value: record its position under its dotted path. */
    char *child;
    int kline = line, kcol = col;
    if (top->is_map) {
        child = top->path[0] ? hermes__asprintf("%s.%s", top->path, top->key) : hermes__strdup(top->key);
        kline = top->kline;
        kcol = top->kcol;
        top->expect_key = true;
    } else {
        child = hermes__asprintf("%s[%ld]", top->path, top->idx++);
    }
    if (!child)
        return hermes__config_nomem();
    bool is_null = false;
    if (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        const char *v = (const char *)ev->data.scalar.value;
        is_null = ev->data.scalar.length == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
                  strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
    }
    int rc = hermes__config_pos_add(cfg, child, kline, kcol, line, col, is_null);
    if (rc) {
        free(child);
        return rc;
    }
    bool modules_map = pp->depth == 1 && strcmp(child, "modules") == 0;
    if (modules_map) {
        pp->have_modules = true;
        if (ev->type != YAML_MAPPING_START_EVENT) {
            rc = hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, child, line, col,
                                     "must be a mapping of module names to modules");
            free(child);
            return rc;
        }
    }
    if (top->is_modules && ev->type != YAML_MAPPING_START_EVENT) {
        rc = hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, child, line, col,
                                 "module '%s' must be a mapping (type:, signals:, ...)", top->key);
        free(child);
        return rc;
    }
    if (!is_container) {
        free(child);
        return 0;
    }
    if ((rc = push_frame(pp, ev->type == YAML_MAPPING_START_EVENT, child)) != 0)
        return rc;
    pp->st[pp->depth - 1].is_modules = modules_map;
    return 0;
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
            if (parser.error == YAML_MEMORY_ERROR) {
                rc = hermes__config_nomem();
                break;
            }
            int line = 0, col = 0;
            if (parser.error != YAML_READER_ERROR) {
                line = (int)parser.problem_mark.line + 1;
                col = (int)parser.problem_mark.column + 1;
            }
            const char *problem = parser.problem ? parser.problem : "syntax error";
            if (parser.context)
                rc = hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, NULL, line, col, "YAML syntax error: %s %s",
                                         problem,
                                         parser.context);
            else
                rc = hermes__config_fail(cfg, pp->err, HERMES_ECONFIG, NULL, line, col, "YAML syntax error: %s",
                                         problem);
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
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            if (pp->depth > 0)
                pframe_free(&pp->st[--pp->depth]);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    while (pp->depth > 0)
        pframe_free(&pp->st[--pp->depth]);
    free(pp->st);
    pp->st = NULL;
    pp->capst = 0;
    if (rc)
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


int hermes__config_prepass(hermes_config_t *cfg, hermes_error_t *err, const char *text, size_t len, char ***names,
                           uint32_t *count)
{
    struct prepass pp;
    memset(&pp, 0, sizeof pp);
    pp.cfg = cfg;
    pp.err = err;
    int rc = prepass_run(&pp, text, len);
    if (rc) {
        hermes__free_strv(pp.modnames, pp.nmod);
        return rc;
    }
    *names = pp.modnames;
    *count = pp.nmod;
    return 0;
}
