/* modelDescription.xml (FMI 2.0 and 3.x co-simulation) read with expat: the
 * variables that become signals, their types, starts and units (also from
 * declared types), the ones that do not and why, and the name-mapping rule
 * that turns FMI names into Hermes signal names. */
#include <expat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmu/fmu.h"
#include "common/names.h"
#include "common/util.h"

/* A declared type's unit (TypeDefinitions), for variables with declaredType. */
struct typedef_unit {
    char *name, *unit;
};

struct parse {
    XML_Parser                p;
    const char               *label;
    bool                      locals;
    struct hermes__fmu_model *md;
    int                       depth;
    bool                      root_seen, has_cs, has_me, in_vars, in_types, in_var, keep;
    const char               *skip_why;   /* the current variable is not a signal: why (static text) */
    char                     *declared;   /* the current variable's declaredType */
    char                     *type_name;  /* FMI 2 SimpleType being read */
    struct hermes__fmu_var    cur;
    uint32_t                  cap, capskip;
    struct typedef_unit      *types;
    uint32_t                  ntypes, captypes;
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
        ps->md->version = 3;
    else if (strncmp(v, "2.0", 3) == 0 && (v[3] == '\0' || v[3] == '.'))
        ps->md->version = 2;
    else
        FAIL("fmiVersion '%s' is not 2.0 or 3.x", v);
    const char *g = attr(a, ps->md->version == 3 ? "instantiationToken" : "guid");
    if (!(ps->md->token = hermes__strdup(g ? g : "")))
        FAIL("out of memory");
    ps->root_seen = true;
}

static bool parse_num(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
        end++;
    if (end == s || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* name, valueReference, causality, variability: the part FMI 2's
 * ScalarVariable and FMI 3's typed elements share. */
static void variable_start(struct parse *ps, const char **a)
{
    memset(&ps->cur, 0, sizeof ps->cur);
    ps->in_var = true;
    ps->keep = false;
    ps->skip_why = NULL;
    const char *name = attr(a, "name"), *vr = attr(a, "valueReference");
    const char *caus = attr(a, "causality"), *var = attr(a, "variability"), *dt = attr(a, "declaredType");
    if (!name || !vr)
        FAIL("a variable needs a name and a valueReference");
    if (!(ps->cur.fmi_name = hermes__strdup(name)) || (dt && !(ps->declared = hermes__strdup(dt))))
        FAIL("out of memory");
    char *end;
    unsigned long v = strtoul(vr, &end, 10);
    if (end == vr || *end || v > UINT32_MAX)
        FAIL("variable '%s': invalid valueReference '%s'", name, vr);
    ps->cur.vr = (uint32_t)v;
    if (!caus)
        caus = "local";
    ps->keep = true;
    if (strcmp(caus, "output") == 0)
        ps->cur.causality = FMU_OUTPUT;
    else if (strcmp(caus, "input") == 0)
        ps->cur.causality = FMU_INPUT;
    else if (strcmp(caus, "parameter") == 0)
        ps->cur.causality = FMU_PARAMETER;
    else if (strcmp(caus, "local") == 0 || strcmp(caus, "calculatedParameter") == 0)
        ps->cur.causality = FMU_LOCAL;
    else if (strcmp(caus, "independent") == 0)
        ps->skip_why = "the independent variable (time)";
    else if (strcmp(caus, "structuralParameter") == 0)
        ps->skip_why = "a structural parameter";
    else
        ps->skip_why = "unknown causality";
    ps->cur.constant = var && strcmp(var, "constant") == 0;
    ps->cur.fixed = ps->cur.constant || (var && strcmp(var, "fixed") == 0);
    if (!ps->skip_why && ps->cur.causality == FMU_LOCAL && !ps->locals)
        ps->skip_why = "a local (add locals: true)";
}

/* The FMI 2 type element or the FMI 3 variable element @p el: the kind,
 * start and unit; anything else makes the variable not a signal. */
static void typed(struct parse *ps, const char *el, const char **a)
{
    static const struct { const char *el; enum hermes__fmu_kind kind; hermes_type_t type; int version; } k[] = {
        {"Real", FMU_FLOAT64, HERMES_TYPE_F64, 2},        {"Integer", FMU_INT32, HERMES_TYPE_I32, 2},
        {"Boolean", FMU_BOOLEAN, HERMES_TYPE_BOOL, 0},    {"Enumeration", FMU_ENUM, HERMES_TYPE_I32, 2},
        {"Enumeration", FMU_ENUM, HERMES_TYPE_I64, 3},    {"Float64", FMU_FLOAT64, HERMES_TYPE_F64, 3},
        {"Float32", FMU_FLOAT32, HERMES_TYPE_F32, 3},     {"Int8", FMU_INT8, HERMES_TYPE_I32, 3},
        {"UInt8", FMU_UINT8, HERMES_TYPE_I32, 3},         {"Int16", FMU_INT16, HERMES_TYPE_I32, 3},
        {"UInt16", FMU_UINT16, HERMES_TYPE_I32, 3},       {"Int32", FMU_INT32, HERMES_TYPE_I32, 3},
        {"UInt32", FMU_UINT32, HERMES_TYPE_I64, 3},       {"Int64", FMU_INT64, HERMES_TYPE_I64, 3},
        {"UInt64", FMU_UINT64, HERMES_TYPE_F64, 3},  /* i64 stops at 2^63; the FMU edge checks the range */
    };
    struct hermes__fmu_var *c = &ps->cur;
    size_t i = 0;
    for (; i < sizeof k / sizeof k[0]; i++)
        if (strcmp(el, k[i].el) == 0 && (k[i].version == 0 || k[i].version == ps->md->version))
            break;
    if (i == sizeof k / sizeof k[0]) {
        if (!ps->skip_why)
            ps->skip_why = strcmp(el, "String") == 0   ? "a String variable"
                           : strcmp(el, "Binary") == 0 ? "a Binary variable"
                           : strcmp(el, "Clock") == 0  ? "a Clock"
                                                       : "a type Hermes does not map";
        return;
    }
    c->kind = k[i].kind;
    c->type = k[i].type;
    if (ps->md->version == 2) {
        const char *dt = attr(a, "declaredType");
        if (dt && !ps->declared && !(ps->declared = hermes__strdup(dt)))
            FAIL("out of memory");
    }
    const char *s = attr(a, "start"), *u = attr(a, "unit");
    c->has_start = s != NULL;
    if (s && c->kind == FMU_BOOLEAN) {
        if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
            c->start = 1;
        else if (strcmp(s, "false") != 0 && strcmp(s, "0") != 0)
            FAIL("variable '%s': invalid Boolean start '%s'", c->fmi_name, s);
    } else if (s && !parse_num(s, &c->start)) {
        if (strchr(s, ' '))
            ps->skip_why = "an array";
        else
            FAIL("variable '%s': invalid start '%s'", c->fmi_name, s);
    }
    if (u && *u && !c->unit && !(c->unit = hermes__strdup(u)))
        FAIL("out of memory");
}

static void add_skipped(struct parse *ps, const char *why)
{
    if (ps->md->nskipped == ps->capskip &&
        hermes__grow((void **)&ps->md->skipped, &ps->capskip, ps->md->nskipped + 1, sizeof *ps->md->skipped) != 0)
        FAIL("out of memory");
    ps->md->skipped[ps->md->nskipped++] = (struct hermes__fmu_skipped){ps->cur.fmi_name, why};
    ps->cur.fmi_name = NULL;
}

static void variable_end(struct parse *ps)
{
    struct hermes__fmu_var *c = &ps->cur;
    if (!ps->keep || ps->rc)
        return;
    if (ps->skip_why) {
        add_skipped(ps, ps->skip_why);
        return;
    }
    for (uint32_t i = 0; !c->unit && ps->declared && i < ps->ntypes; i++)
        if (strcmp(ps->types[i].name, ps->declared) == 0 && ps->types[i].unit &&
            !(c->unit = hermes__strdup(ps->types[i].unit)))
            FAIL("out of memory");
    if (!(c->name = hermes__fmu_map_name(c->fmi_name)))
        FAIL("out of memory");
    if (ps->md->nvar == ps->cap && hermes__grow((void **)&ps->md->var, &ps->cap, ps->md->nvar + 1, sizeof *c) != 0)
        FAIL("out of memory");
    ps->md->var[ps->md->nvar++] = *c;
    memset(c, 0, sizeof *c);
}

static void clear_cur(struct parse *ps)
{
    free(ps->cur.fmi_name);
    free(ps->cur.name);
    free(ps->cur.unit);
    free(ps->declared);
    ps->declared = NULL;
    memset(&ps->cur, 0, sizeof ps->cur);
    ps->in_var = ps->keep = false;
}

/* TypeDefinitions: FMI 2 <SimpleType name><Real unit/></SimpleType>, FMI 3
 * <Float64Type name unit/>; only the units are kept. */
static void type_definition(struct parse *ps, const char *el, const char **a)
{
    const char *name = NULL, *unit = attr(a, "unit");
    if (ps->md->version == 2 && ps->depth == 3 && strcmp(el, "SimpleType") == 0) {
        free(ps->type_name);
        const char *n = attr(a, "name");
        ps->type_name = n ? hermes__strdup(n) : NULL;
        return;
    }
    if (ps->md->version == 2 && ps->depth == 4)
        name = ps->type_name;
    else if (ps->md->version == 3 && ps->depth == 3)
        name = attr(a, "name");
    if (!name || !unit || !*unit)
        return;
    if (ps->ntypes == ps->captypes &&
        hermes__grow((void **)&ps->types, &ps->captypes, ps->ntypes + 1, sizeof *ps->types) != 0)
        FAIL("out of memory");
    struct typedef_unit *t = &ps->types[ps->ntypes];
    t->name = hermes__strdup(name);
    t->unit = hermes__strdup(unit);
    ps->ntypes++;
    if (!t->name || !t->unit)
        FAIL("out of memory");
}

static void co_simulation(struct parse *ps, const char **a)
{
    const char *id = attr(a, "modelIdentifier");
    if (!id || !*id)
        FAIL("CoSimulation has no modelIdentifier");
    if (strchr(id, '/') || strcmp(id, "..") == 0)
        FAIL("invalid modelIdentifier '%s'", id);
    if (!(ps->md->identifier = hermes__strdup(id)))
        FAIL("out of memory");
    ps->has_cs = true;
    bool v3 = ps->md->version == 3;
    const char *gs = attr(a, v3 ? "canGetAndSetFMUState" : "canGetAndSetFMUstate");
    const char *ser = attr(a, v3 ? "canSerializeFMUState" : "canSerializeFMUstate");
    ps->md->can_state = gs && ser && (!strcmp(gs, "true") || !strcmp(gs, "1")) &&
                        (!strcmp(ser, "true") || !strcmp(ser, "1"));
}

static void XMLCALL on_start(void *ud, const char *el, const char **a)
{
    struct parse *ps = ud;
    ps->depth++;
    if (ps->rc)
        return;
    if (ps->depth == 1) {
        if (strcmp(el, "fmiModelDescription") != 0)
            FAIL("root element is <%s>, not <fmiModelDescription>", el);
        root(ps, a);
    } else if (ps->depth == 2) {
        ps->in_vars = strcmp(el, "ModelVariables") == 0;
        ps->in_types = strcmp(el, "TypeDefinitions") == 0;
        if (strcmp(el, "CoSimulation") == 0)
            co_simulation(ps, a);
        else if (strcmp(el, "ModelExchange") == 0)
            ps->has_me = true;
    } else if (ps->in_types) {
        type_definition(ps, el, a);
    } else if (ps->in_vars && ps->depth == 3) {
        if (ps->md->version == 2 && strcmp(el, "ScalarVariable") != 0)
            return;
        variable_start(ps, a);
        if (ps->md->version == 3)
            typed(ps, el, a);
    } else if (ps->in_vars && ps->depth == 4 && ps->in_var) {
        if (ps->md->version == 2 && strcmp(el, "Annotations") != 0)  /* the type element; tool annotations aside */
            typed(ps, el, a);
        else if (strcmp(el, "Dimension") == 0 && !ps->skip_why)
            ps->skip_why = "an array";
    }
}

static void XMLCALL on_end(void *ud, const char *el)
{
    struct parse *ps = ud;
    (void)el;
    if (ps->depth == 3 && ps->in_var) {
        variable_end(ps);
        clear_cur(ps);
    }
    if (ps->depth == 2)
        ps->in_vars = ps->in_types = false;
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
    clear_cur(&ps);
    for (uint32_t i = 0; i < ps.ntypes; i++) {
        free(ps.types[i].name);
        free(ps.types[i].unit);
    }
    free(ps.types);
    free(ps.type_name);
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
    for (uint32_t i = 0; i < m->nskipped; i++)
        free(m->skipped[i].fmi_name);
    free(m->skipped);
    free(m->var);
    free(m->identifier);
    free(m->token);
    memset(m, 0, sizeof *m);
}
