/* modelDescription.xml (FMI 2.0 co-simulation) read with expat: the
 * variables that become signals, their types, starts and units, and the
 * name-mapping rule that turns FMI names into Hermes signal names. */
#include <expat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmu/fmu.h"
#include "common/names.h"
#include "common/util.h"

struct parse {
    XML_Parser                p;
    const char               *label;
    bool                      locals;
    struct hermes__fmu_model *md;
    int                       depth;
    bool                      root_seen, has_cs, has_me, in_var, keep;
    struct hermes__fmu_var    cur;
    uint32_t                  cap;
    int                       rc;
    char                      msg[512];
};

char *hermes__fmu_map_name(const char *n)
{
    size_t l = strlen(n);
    char *out = malloc(l + 2);
    if (!out)
        return NULL;
    char *o = out;
    bool alpha0 = (n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z') || n[0] == '_';
    if (!alpha0)
        *o++ = '_';
    for (const char *p = n; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  (c == '.' && p[1] != '\0' && p[1] != '.' && p != n);
        *o++ = ok ? c : '_';
    }
    *o = '\0';
    return out;
}

static void failp(struct parse *ps, const char *fmt, ...) HERMES_PRINTF(2, 3);
static void failp(struct parse *ps, const char *fmt, ...)
{
    if (ps->rc)
        return;
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    snprintf(ps->msg, sizeof ps->msg, "%s:%lu:%lu: %s", ps->label, (unsigned long)XML_GetCurrentLineNumber(ps->p),
             (unsigned long)XML_GetCurrentColumnNumber(ps->p) + 1, text);
    ps->rc = HERMES_ECONFIG;
    XML_StopParser(ps->p, XML_FALSE);
}

#define FAIL(...) do { failp(ps, __VA_ARGS__); return; } while (0)

static const char *attr(const char **a, const char *key)
{
    for (; a && a[0]; a += 2)
        if (strcmp(a[0], key) == 0)
            return a[1];
    return NULL;
}

static void root(struct parse *ps, const char **a)
{
    const char *v = attr(a, "fmiVersion");
    if (!v)
        FAIL("fmiModelDescription has no fmiVersion");
    if (v[0] == '3' && (v[1] == '\0' || v[1] == '.'))
        FAIL("fmiVersion %s: FMI 3.0 is not supported by this Hermes yet (FMI 2.0 is)", v);
    if (strcmp(v, "2.0") != 0)
        FAIL("fmiVersion '%s' is not 2.0 or 3.x", v);
    ps->md->version = 2;
    const char *g = attr(a, "guid");
    if (!(ps->md->token = hermes__strdup(g ? g : "")))
        FAIL("out of memory");
    ps->root_seen = true;
}

static bool parse_num(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static void scalar_variable(struct parse *ps, const char **a)
{
    memset(&ps->cur, 0, sizeof ps->cur);
    ps->in_var = true;
    ps->keep = false;
    const char *name = attr(a, "name"), *vr = attr(a, "valueReference");
    const char *caus = attr(a, "causality"), *var = attr(a, "variability");
    if (!name || !vr)
        FAIL("ScalarVariable needs a name and a valueReference");
    char *end;
    unsigned long v = strtoul(vr, &end, 10);
    if (end == vr || *end || v > UINT32_MAX)
        FAIL("ScalarVariable '%s': invalid valueReference '%s'", name, vr);
    ps->cur.vr = (uint32_t)v;
    if (!caus)
        caus = "local";
    if (strcmp(caus, "output") == 0)
        ps->cur.causality = FMU_OUTPUT;
    else if (strcmp(caus, "input") == 0)
        ps->cur.causality = FMU_INPUT;
    else if (strcmp(caus, "parameter") == 0)
        ps->cur.causality = FMU_PARAMETER;
    else if (strcmp(caus, "local") == 0 || strcmp(caus, "calculatedParameter") == 0)
        ps->cur.causality = FMU_LOCAL;
    else
        return;  /* independent: not a signal */
    ps->cur.fixed = var && (strcmp(var, "fixed") == 0 || strcmp(var, "constant") == 0);
    if (ps->cur.causality == FMU_LOCAL && !ps->locals)
        return;
    if (!(ps->cur.fmi_name = hermes__strdup(name)))
        FAIL("out of memory");
    ps->keep = true;
}

static void type_element(struct parse *ps, const char *el, const char **a)
{
    struct hermes__fmu_var *c = &ps->cur;
    if (strcmp(el, "Real") == 0) {
        c->kind = FMU_REAL;
        c->type = HERMES_TYPE_F64;
    } else if (strcmp(el, "Integer") == 0) {
        c->kind = FMU_INTEGER;
        c->type = HERMES_TYPE_I32;
    } else if (strcmp(el, "Boolean") == 0) {
        c->kind = FMU_BOOLEAN;
        c->type = HERMES_TYPE_BOOL;
    } else {
        if (ps->keep)
            ps->md->nskipped++;
        ps->keep = false;  /* String, Enumeration: not signals */
        return;
    }
    if (!ps->keep)
        return;
    const char *s = attr(a, "start"), *u = attr(a, "unit");
    if (s && c->kind == FMU_BOOLEAN) {
        if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
            c->start = 1;
        else if (strcmp(s, "false") != 0 && strcmp(s, "0") != 0)
            FAIL("variable '%s': invalid Boolean start '%s'", c->fmi_name, s);
    } else if (s && !parse_num(s, &c->start)) {
        FAIL("variable '%s': invalid start '%s'", c->fmi_name, s);
    }
    if (u && *u && !(c->unit = hermes__strdup(u)))
        FAIL("out of memory");
    if (!(c->name = hermes__fmu_map_name(c->fmi_name)))
        FAIL("out of memory");
    if (ps->md->nvar == ps->cap && hermes__grow((void **)&ps->md->var, &ps->cap, ps->md->nvar + 1, sizeof *c) != 0)
        FAIL("out of memory");
    ps->md->var[ps->md->nvar++] = *c;
    memset(c, 0, sizeof *c);
    ps->keep = false;
}

static void XMLCALL on_start(void *ud, const char *el, const char **a)
{
    struct parse *ps = ud;
    ps->depth++;
    if (ps->depth == 1) {
        if (strcmp(el, "fmiModelDescription") != 0)
            FAIL("root element is <%s>, not <fmiModelDescription>", el);
        root(ps, a);
        return;
    }
    if (ps->depth == 2 && strcmp(el, "CoSimulation") == 0) {
        const char *id = attr(a, "modelIdentifier");
        if (!id || !*id)
            FAIL("CoSimulation has no modelIdentifier");
        if (strchr(id, '/') || strcmp(id, "..") == 0)
            FAIL("invalid modelIdentifier '%s'", id);
        if (!(ps->md->identifier = hermes__strdup(id)))
            FAIL("out of memory");
        ps->has_cs = true;
    } else if (ps->depth == 2 && strcmp(el, "ModelExchange") == 0) {
        ps->has_me = true;
    } else if (ps->depth == 3 && strcmp(el, "ScalarVariable") == 0) {
        scalar_variable(ps, a);
    } else if (ps->depth == 4 && ps->in_var) {
        type_element(ps, el, a);
    }
}

static void XMLCALL on_end(void *ud, const char *el)
{
    struct parse *ps = ud;
    if (ps->depth == 3 && ps->in_var && strcmp(el, "ScalarVariable") == 0) {
        ps->in_var = false;
        free(ps->cur.fmi_name);
        free(ps->cur.name);
        free(ps->cur.unit);
        memset(&ps->cur, 0, sizeof ps->cur);
    }
    ps->depth--;
}

/* Two FMI names that map to the same signal name: an error. */
static int check_unique(struct parse *ps)
{
    struct hermes__names idx;
    hermes__names_init(&idx);
    int rc = 0;
    for (uint32_t i = 0; i < ps->md->nvar && !rc; i++) {
        uint32_t prev;
        const char *n = ps->md->var[i].name;
        int r = hermes__names_put(&idx, n, strlen(n), i, &prev);
        if (r < 0)
            rc = hermes__fail(HERMES_ENOMEM, "out of memory");
        else if (r > 0)
            rc = hermes__fail(HERMES_ECONFIG, "%s: variables '%s' and '%s' both map to the signal name '%s'",
                              ps->label, ps->md->var[prev].fmi_name, ps->md->var[i].fmi_name, n);
    }
    hermes__names_free(&idx);
    return rc;
}

int hermes__fmu_model_parse(const char *xml, size_t len, const char *label, bool locals,
                            struct hermes__fmu_model *out)
{
    memset(out, 0, sizeof *out);
    struct parse ps = {.label = label, .locals = locals, .md = out};
    ps.p = XML_ParserCreate(NULL);
    if (!ps.p)
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    XML_SetUserData(ps.p, &ps);
    XML_SetElementHandler(ps.p, on_start, on_end);
    if (XML_Parse(ps.p, xml, (int)len, XML_TRUE) == XML_STATUS_ERROR && !ps.rc)
        failp(&ps, "malformed XML: %s", XML_ErrorString(XML_GetErrorCode(ps.p)));
    XML_ParserFree(ps.p);
    free(ps.cur.fmi_name);
    free(ps.cur.name);
    free(ps.cur.unit);
    int rc = ps.rc ? hermes__fail(ps.rc, "%s", ps.msg) : 0;
    if (!rc && !ps.root_seen)
        rc = hermes__fail(HERMES_ECONFIG, "%s: no fmiModelDescription", label);
    if (!rc && !ps.has_cs)
        rc = hermes__fail(HERMES_ECONFIG, "%s: %s", label,
                          ps.has_me ? "a model-exchange-only FMU; Hermes needs co-simulation"
                                    : "no <CoSimulation> element");
    if (!rc)
        rc = check_unique(&ps);
    if (rc)
        hermes__fmu_model_free(out);
    return rc;
}

void hermes__fmu_model_free(struct hermes__fmu_model *m)
{
    for (uint32_t i = 0; i < m->nvar; i++) {
        free(m->var[i].name);
        free(m->var[i].fmi_name);
        free(m->var[i].unit);
    }
    free(m->var);
    free(m->identifier);
    free(m->token);
    memset(m, 0, sizeof *m);
}
