/* Foxglove messages built from the server's signal catalog: the channel catalog (one channel
 * per module, JSON Schema of its signals nested by their dotted local names,
 * plus the "hermes" channel), the per-tick JSON payloads, serverInfo,
 * advertise, advertiseServices, parameterValues, status, and the binary
 * layouts. Pure functions: no sockets, no threads (docs/foxglove.md).
 * Payloads come from a template compiled once per channel: literal text
 * (keys, braces) between value slots, so a tick costs one memcpy per slot
 * plus the number formatting; jansson is used only for the one-off texts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hermes/config.h"
#include "hermes/version.h"
#include "server/foxglove/foxglove.h"
#include "server/foxglove/tree.h"
#include "server/text.h"
#include "common/util.h"

enum slot_kind { SLOT_SIGNAL, SLOT_STATE, SLOT_FRAME, SLOT_TIME };

/* The longest state name written into a payload (longer ones are cut). */
#define STATE_MAX 16u
#define SLOT_MAX  (HERMES_FG_DOUBLE_MAX > STATE_MAX + 2 ? HERMES_FG_DOUBLE_MAX : STATE_MAX + 2)

struct slot {
    uint32_t lit_off, lit_len;  /* literal text before the value */
    uint8_t  kind;
    uint8_t  type;              /* hermes_type_t of a signal */
    uint32_t index;             /* backplane slot of a signal */
};

struct channel {
    char        *module, *topic, *schema_name, *schema;
    char        *lit;
    size_t       lit_len;
    struct slot *slots;
    uint32_t     nslots;
    uint32_t     tail_off, tail_len;
    size_t       bound;
};

struct sigpath {
    uint32_t channel;  /* 0: not mapped */
    char    *path;
};

struct hermes__fg_catalog {
    struct channel *ch;
    uint32_t        n;
    struct sigpath *sig;
    uint32_t        nsig;
    char           *advertise;
    size_t          advertise_len;
};

static char *sb_take(struct hermes__text *b, size_t *len)
{
    if (b->oom || !b->p) {
        free(b->p);
        return NULL;
    }
    *len = b->len;
    return b->p;
}

/* Dump @p j (reference stolen) to a malloc'd NUL-terminated string. */
static char *dump(json_t *j, size_t *len)
{
    if (!j)
        return NULL;
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (s)
        *len = strlen(s);
    return s;
}

/* json_string() refuses invalid UTF-8; keep the ASCII and mark the rest. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (j)
        return j;
    char *c = hermes__strdup(s);
    if (!c)
        return NULL;
    for (char *p = c; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(c);
    free(c);
    return j;
}

/* ---- schema and template ----------------------------------------------------- */

static void leaf_schema(struct hermes__text *b, const struct hermes__fg_node *n)
{
    const char *type = "number";
    char desc[160];
    switch (n->kind) {
    case SLOT_STATE:
        type = "string";
        snprintf(desc, sizeof desc, "run state: idle, paused, running, stopped or error");
        break;
    case SLOT_FRAME:
        type = "integer";
        snprintf(desc, sizeof desc, "last completed frame");
        break;
    case SLOT_TIME:
        snprintf(desc, sizeof desc, "simulation time of that frame, s");
        break;
    default:
        if (n->type == HERMES_TYPE_BOOL)
            type = "boolean";
        else if (n->type == HERMES_TYPE_I32 || n->type == HERMES_TYPE_I64)
            type = "integer";
        snprintf(desc, sizeof desc, "%s%s%s%s", hermes_type_name(n->type), n->unit && n->unit[0] ? ", unit " : "",
                 n->unit ? n->unit : "", n->writable ? ", writable" : ", read-only");
        break;
    }
    hermes__text_str(b, "{\"type\":\"");
    hermes__text_str(b, type);
    hermes__text_str(b, "\",\"title\":");
    hermes__text_json_lossy(b, n->title);
    hermes__text_str(b, ",\"description\":");
    hermes__text_json_lossy(b, desc);
    hermes__text_put(b, "}", 1);
}

/* {"type":"object","properties":{...} without the closing brace, so the
 * caller can add keys (the channel's title). */
static void tree_schema(struct hermes__text *b, const struct hermes__fg_node *obj)
{
    hermes__text_str(b, "{\"type\":\"object\",\"properties\":{");
    for (const struct hermes__fg_node *c = obj->child; c; c = c->next) {
        if (c != obj->child)
            hermes__text_put(b, ",", 1);
        hermes__text_json(b, c->key);
        hermes__text_put(b, ":", 1);
        if (c->leaf) {
            leaf_schema(b, c);
        } else {
            tree_schema(b, c);
            hermes__text_put(b, "}", 1);
        }
    }
    hermes__text_put(b, "}", 1);
}

struct tmpl {
    struct hermes__text    lit;
    size_t       pending;  /* start of the literal run not yet given to a slot */
    struct slot *slots;
    uint32_t     n, cap;
    bool         oom;
};

static void tmpl_slot(struct tmpl *t, const struct hermes__fg_node *leaf)
{
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? 2 * t->cap : 16;
        struct slot *s = realloc(t->slots, cap * sizeof *s);
        if (!s) {
            t->oom = true;
            return;
        }
        t->slots = s;
        t->cap = cap;
    }
    struct slot *s = &t->slots[t->n++];
    s->lit_off = (uint32_t)t->pending;
    s->lit_len = (uint32_t)(t->lit.len - t->pending);
    s->kind = leaf->kind;
    s->type = (uint8_t)leaf->type;
    s->index = leaf->index;
    t->pending = t->lit.len;
}

/* Record each signal's path while walking (paths[index] = "a.b.c"). */
static void tree_template(struct tmpl *t, const struct hermes__fg_node *obj, const char *prefix, struct sigpath *paths,
                          uint32_t npaths, uint32_t channel)
{
    hermes__text_put(&t->lit, "{", 1);
    bool first = true;
    for (const struct hermes__fg_node *c = obj->child; c; c = c->next) {
        if (!first)
            hermes__text_put(&t->lit, ",", 1);
        first = false;
        hermes__text_put(&t->lit, "\"", 1);
        hermes__text_str(&t->lit, c->key);
        hermes__text_put(&t->lit, "\":", 2);
        size_t plen = strlen(prefix) + strlen(c->key) + 2;
        char *path = malloc(plen);
        if (!path) {
            t->oom = true;
            return;
        }
        snprintf(path, plen, "%s%s%s", prefix, prefix[0] ? "." : "", c->key);
        if (c->leaf) {
            tmpl_slot(t, c);
            if (c->kind == SLOT_SIGNAL && c->index < npaths && !paths[c->index].path) {
                paths[c->index].path = path;
                paths[c->index].channel = channel;
                path = NULL;
            }
        } else {
            tree_template(t, c, path, paths, npaths, channel);
        }
        free(path);
    }
    hermes__text_put(&t->lit, "}", 1);
}

static void channel_free(struct channel *c)
{
    free(c->module);
    free(c->topic);
    free(c->schema_name);
    free(c->schema);
    free(c->lit);
    free(c->slots);
}

static struct hermes__fg_node *leaf_new(uint8_t kind, const hermes_signal_info_t *in, uint32_t index, const char *title)
{
    struct hermes__fg_node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->leaf = true;
    n->kind = kind;
    if (in) {
        n->type = in->type;
        n->index = index;
        n->title = in->name;
        n->unit = in->unit;
        n->writable = in->writable;
    } else {
        n->title = title;
    }
    return n;
}

/* Build channel @p c (id @p id) of module @p module from the signal list. */
/* Its signals are info[sig[0..nsig)], in catalog order. */
static int build_channel(struct channel *c, uint32_t id, const char *module, const hermes_signal_info_t *info,
                         uint32_t total, const uint32_t *sig, uint32_t nsig, bool health, struct sigpath *paths)
{
    struct hermes__fg_tree tree;
    memset(&tree, 0, sizeof tree);
    int rc = 0;
    if (health) {
        static const struct {
            uint8_t     kind;
            const char *key, *title;
        } extra[] = {{SLOT_STATE, "state", HERMES_HEALTH_MODULE ".state"},
                     {SLOT_FRAME, "frame", HERMES_HEALTH_MODULE ".frame"},
                     {SLOT_TIME, "time", HERMES_HEALTH_MODULE ".time"}};
        for (size_t i = 0; i < sizeof extra / sizeof *extra && !rc; i++) {
            struct hermes__fg_node *n = leaf_new(extra[i].kind, NULL, 0, extra[i].title);
            rc = n ? hermes__fg_tree_insert(&tree, extra[i].key, n) : HERMES_ENOMEM;
            if (rc && n && !n->key)
                free(n);
        }
    }
    for (uint32_t j = 0; j < nsig && !rc; j++) {
        uint32_t k = sig[j];
        struct hermes__fg_node *n = leaf_new(SLOT_SIGNAL, &info[k], k, NULL);
        rc = n ? hermes__fg_tree_insert(&tree, info[k].local_name, n) : HERMES_ENOMEM;
        if (rc && n && !n->key)
            free(n);
    }
    if (!rc) {
        c->module = hermes__strdup(module);
        size_t ml = strlen(module);
        char *key = hermes__fg_sanitize(module, ml);
        size_t tl = ml + 2;
        c->topic = malloc(tl);
        if (c->topic && key)
            snprintf(c->topic, tl, "/%s", key);
        free(key);
        size_t sl = ml + 16;
        c->schema_name = malloc(sl);
        if (c->schema_name)
            snprintf(c->schema_name, sl, "hermes.%s", module);
        struct hermes__text sch = {0};
        tree_schema(&sch, &tree.root);
        hermes__text_str(&sch, ",\"title\":");
        hermes__text_json_lossy(&sch, c->schema_name);
        hermes__text_put(&sch, "}", 1);
        size_t len = 0;
        c->schema = sb_take(&sch, &len);
        struct tmpl t;
        memset(&t, 0, sizeof t);
        tree_template(&t, &tree.root, "", paths, total, id);
        if (t.oom || t.lit.oom) {
            free(t.lit.p);
            free(t.slots);
            rc = HERMES_ENOMEM;
        } else {
            c->lit = t.lit.p;
            c->lit_len = t.lit.len;
            c->slots = t.slots;
            c->nslots = t.n;
            c->tail_off = (uint32_t)t.pending;
            c->tail_len = (uint32_t)(t.lit.len - t.pending);
            c->bound = c->lit_len + (size_t)c->nslots * SLOT_MAX;
        }
        if (!c->module || !c->topic || !c->schema_name || !c->schema)
            rc = HERMES_ENOMEM;
    }
    hermes__fg_tree_free(&tree);
    return rc;
}

static char *build_advertise(const hermes__fg_catalog_t *cat, size_t *len)
{
    struct hermes__text b = {0};
    hermes__text_str(&b, "{\"op\":\"advertise\",\"channels\":[");
    for (uint32_t i = 0; i < cat->n; i++) {
        const struct channel *c = &cat->ch[i];
        char id[32];
        snprintf(id, sizeof id, "%s{\"id\":%u,\"topic\":", i ? "," : "", i + 1);
        hermes__text_str(&b, id);
        hermes__text_json_lossy(&b, c->topic);
        hermes__text_str(&b, ",\"encoding\":\"json\",\"schemaName\":");
        hermes__text_json_lossy(&b, c->schema_name);
        hermes__text_str(&b, ",\"schema\":");
        hermes__text_json(&b, c->schema);
        hermes__text_str(&b, ",\"schemaEncoding\":\"jsonschema\"}");
    }
    hermes__text_str(&b, "]}");
    return sb_take(&b, len);
}

/* Modules in order of first appearance (the health channel always exists),
 * each signal's module as an index, and the signals grouped by module
 * (by[start[m] .. start[m + 1])): one hashed pass and a counting sort. */
struct groups {
    const char **mods;
    uint32_t     nm, *start, *by;
};

static int group_modules(struct groups *g, const hermes_signal_info_t *info, uint32_t total)
{
    memset(g, 0, sizeof *g);
    g->mods = calloc((size_t)total + 1, sizeof *g->mods);
    uint32_t *of = malloc(((size_t)total + 1) * sizeof *of);
    json_t *seen = json_object();  /* module name -> index */
    g->by = malloc(((size_t)total + 1) * sizeof *g->by);
    g->start = calloc((size_t)total + 3, sizeof *g->start);
    int rc = g->mods && of && seen && g->by && g->start ? 0 : HERMES_ENOMEM;
    for (uint32_t k = 0; k < total && !rc; k++) {
        json_t *m = json_object_get(seen, info[k].module);
        if (m) {
            of[k] = (uint32_t)json_integer_value(m);
            continue;
        }
        of[k] = g->nm;
        g->mods[g->nm] = info[k].module;
        if (json_object_set_new(seen, info[k].module, json_integer(g->nm++)) != 0)
            rc = HERMES_ENOMEM;
    }
    if (!rc && !json_object_get(seen, HERMES_HEALTH_MODULE))
        g->mods[g->nm++] = HERMES_HEALTH_MODULE;
    json_decref(seen);
    for (uint32_t k = 0; k < total && !rc; k++)
        g->start[of[k] + 2]++;
    for (uint32_t m = 0; m < g->nm && !rc; m++)
        g->start[m + 2] += g->start[m + 1];
    for (uint32_t k = 0; k < total && !rc; k++)
        g->by[g->start[of[k] + 1]++] = k;
    free(of);
    return rc;
}

static void groups_free(struct groups *g)
{
    free(g->mods);
    free(g->start);
    free(g->by);
}

int hermes__fg_catalog_create(hermes__fg_catalog_t **out, const hermes_signal_info_t *info, uint32_t total)
{
    *out = NULL;
    hermes__fg_catalog_t *cat = calloc(1, sizeof *cat);
    struct groups g;
    int rc = group_modules(&g, info, total);
    if (cat)
        cat->sig = calloc(total ? total : 1, sizeof *cat->sig);
    if (!cat || !cat->sig || rc) {
        groups_free(&g);
        hermes__fg_catalog_destroy(cat);
        return hermes__fail(HERMES_ENOMEM, "out of memory");
    }
    cat->nsig = total;
    cat->ch = calloc(g.nm, sizeof *cat->ch);
    rc = cat->ch ? 0 : HERMES_ENOMEM;
    for (uint32_t m = 0; m < g.nm && !rc; m++) {
        rc = build_channel(&cat->ch[m], m + 1, g.mods[m], info, total, g.by + g.start[m], g.start[m + 1] - g.start[m],
                           strcmp(g.mods[m], HERMES_HEALTH_MODULE) == 0, cat->sig);
        cat->n = m + 1;
    }
    groups_free(&g);
    if (!rc && !(cat->advertise = build_advertise(cat, &cat->advertise_len)))
        rc = HERMES_ENOMEM;
    if (rc) {
        hermes__fg_catalog_destroy(cat);
        return hermes__fail(HERMES_ENOMEM, "out of memory building the Foxglove channels");
    }
    *out = cat;
    return 0;
}

void hermes__fg_catalog_destroy(hermes__fg_catalog_t *cat)
{
    if (!cat)
        return;
    for (uint32_t i = 0; i < cat->n; i++)
        channel_free(&cat->ch[i]);
    free(cat->ch);
    if (cat->sig)
        for (uint32_t i = 0; i < cat->nsig; i++)
            free(cat->sig[i].path);
    free(cat->sig);
    free(cat->advertise);
    free(cat);
}

uint32_t hermes__fg_channel_count(const hermes__fg_catalog_t *cat) { return cat ? cat->n : 0; }

static const struct channel *chan(const hermes__fg_catalog_t *cat, uint32_t id)
{
    return cat && id >= 1 && id <= cat->n ? &cat->ch[id - 1] : NULL;
}

const char *hermes__fg_channel_topic(const hermes__fg_catalog_t *cat, uint32_t id)
{
    const struct channel *c = chan(cat, id);
    return c ? c->topic : NULL;
}

const char *hermes__fg_channel_schema(const hermes__fg_catalog_t *cat, uint32_t id, const char **name)
{
    const struct channel *c = chan(cat, id);
    if (name)
        *name = c ? c->schema_name : NULL;
    return c ? c->schema : NULL;
}

size_t hermes__fg_channel_bound(const hermes__fg_catalog_t *cat, uint32_t id)
{
    const struct channel *c = chan(cat, id);
    return c ? c->bound : 0;
}

const char *hermes__fg_signal_path(const hermes__fg_catalog_t *cat, uint32_t index, uint32_t *channel)
{
    if (!cat || index >= cat->nsig || !cat->sig[index].path)
        return NULL;
    if (channel)
        *channel = cat->sig[index].channel;
    return cat->sig[index].path;
}

/* ---- per-tick payload --------------------------------------------------------- */

size_t hermes__fg_encode(const hermes__fg_catalog_t *cat, uint32_t id, const hermes__fg_tick_t *tick, char *out)
{
    const struct channel *c = chan(cat, id);
    if (!c)
        return 0;
    char *p = out;
    for (uint32_t i = 0; i < c->nslots; i++) {
        const struct slot *s = &c->slots[i];
        memcpy(p, c->lit + s->lit_off, s->lit_len);
        p += s->lit_len;
        switch (s->kind) {
        case SLOT_SIGNAL: {
            double v = tick->values[s->index];
            if (s->type == HERMES_TYPE_BOOL && !isnan(v)) {
                if (v != 0) {
                    memcpy(p, "true", 4);
                    p += 4;
                } else {
                    memcpy(p, "false", 5);
                    p += 5;
                }
            } else {
                p += hermes__fg_format_double(v, p);
            }
            break;
        }
        case SLOT_STATE: {
            const char *st = tick->state ? tick->state : "unknown";
            size_t n = strnlen(st, STATE_MAX);
            *p++ = '"';
            for (size_t k = 0; k < n; k++)  /* state names are plain ASCII; be safe anyway */
                *p++ = (st[k] >= 'a' && st[k] <= 'z') ? st[k] : '_';
            *p++ = '"';
            break;
        }
        case SLOT_FRAME:
            p += hermes__fg_format_u64(tick->frame, p);
            break;
        case SLOT_TIME:
            p += hermes__fg_format_double((double)tick->time_ns / 1e9, p);
            break;
        }
    }
    memcpy(p, c->lit + c->tail_off, c->tail_len);
    p += c->tail_len;
    return (size_t)(p - out);
}

/* ---- binary layouts ------------------------------------------------------------ */

void hermes__fg_put_message_header(unsigned char *p, uint32_t subscription, uint64_t time_ns)
{
    p[0] = HERMES_FG_OP_MESSAGE_DATA;
    hermes__put_le32(p + 1, subscription);
    hermes__put_le64(p + 5, time_ns);
}

void hermes__fg_put_time(unsigned char *p, uint64_t time_ns)
{
    p[0] = HERMES_FG_OP_TIME;
    hermes__put_le64(p + 1, time_ns);
}

int hermes__fg_parse_call(const unsigned char *msg, size_t len, hermes__fg_call_t *out)
{
    if (len < 1)
        return hermes__fail(HERMES_EINVAL, "empty binary message");
    if (msg[0] != HERMES_FG_OP_SERVICE_CALL_REQUEST)
        return hermes__fail(HERMES_EINVAL, "binary opcode 0x%02x is not supported (only 0x02 service call requests)",
                            msg[0]);
    if (len < 13)
        return hermes__fail(HERMES_EINVAL, "service call request of %zu bytes is shorter than its 13-byte header", len);
    out->service = hermes__get_le32(msg + 1);
    out->call = hermes__get_le32(msg + 5);
    uint32_t el = hermes__get_le32(msg + 9);
    if (el > len - 13)
        return hermes__fail(HERMES_EINVAL, "service call request: encoding length %u exceeds the message", el);
    out->encoding = (const char *)msg + 13;
    out->encoding_len = el;
    out->data = msg + 13 + el;
    out->data_len = len - 13 - el;
    return 0;
}

size_t hermes__fg_call_response_size(size_t payload_len) { return 13 + 4 + payload_len; }

void hermes__fg_put_call_response(unsigned char *out, uint32_t service, uint32_t call, const char *payload,
                                  size_t payload_len)
{
    out[0] = HERMES_FG_OP_SERVICE_CALL_RESPONSE;
    hermes__put_le32(out + 1, service);
    hermes__put_le32(out + 5, call);
    hermes__put_le32(out + 9, 4);
    memcpy(out + 13, "json", 4);
    if (payload_len)
        memcpy(out + 17, payload, payload_len);
}

/* ---- JSON texts ------------------------------------------------------------------ */

char *hermes__fg_module_rates(const hermes_module_rate_t *rates, const char *const *modules, uint32_t n)
{
    json_t *o = json_object();
    for (uint32_t i = 0; i < n; i++) {
        if (!rates[i].divisor)
            continue;
        json_t *r = json_object();
        json_object_set_new(r, "rate_hz", json_real(rates[i].rate_hz));
        json_object_set_new(r, "divisor", json_integer(rates[i].divisor));
        json_object_set_new(r, "offset", json_integer(rates[i].offset));
        json_object_set_new(o, modules[i], r);
    }
    size_t len = 0;
    return dump(o, &len);
}

char *hermes__fg_server_info(const char *name, const char *session_id, const char *run_id, const char *rates,
                             size_t *len)
{
    json_t *j = json_object();
    json_object_set_new(j, "op", json_string("serverInfo"));
    json_object_set_new(j, "name", jstr(name));
    json_t *caps = json_array();
    json_array_append_new(caps, json_string("time"));
    json_array_append_new(caps, json_string("parameters"));
    json_array_append_new(caps, json_string("services"));
    json_object_set_new(j, "capabilities", caps);
    json_t *enc = json_array();
    json_array_append_new(enc, json_string("json"));
    json_object_set_new(j, "supportedEncodings", enc);
    json_t *meta = json_object();
    json_object_set_new(meta, "run_id", jstr(run_id));
    json_object_set_new(meta, "hermes_version", json_string(HERMES_VERSION_STRING));
    if (rates)  /* metadata values are strings: the JSON text of hermes__fg_module_rates() */
        json_object_set_new(meta, "module_rates", jstr(rates));
    json_object_set_new(j, "metadata", meta);
    json_object_set_new(j, "sessionId", jstr(session_id));
    return dump(j, len);
}

char *hermes__fg_advertise(const hermes__fg_catalog_t *cat, size_t *len)
{
    if (!cat || !cat->advertise)
        return NULL;
    char *s = malloc(cat->advertise_len + 1);
    if (s) {
        memcpy(s, cat->advertise, cat->advertise_len + 1);
        *len = cat->advertise_len;
    }
    return s;
}

static json_t *svc_def(const char *schema_name, const char *schema)
{
    json_t *o = json_object();
    json_object_set_new(o, "encoding", json_string("json"));
    json_object_set_new(o, "schemaName", json_string(schema_name));
    json_object_set_new(o, "schemaEncoding", json_string("jsonschema"));
    json_object_set_new(o, "schema", json_string(schema));
    return o;
}

char *hermes__fg_advertise_services(size_t *len)
{
    static const char empty_req[] = "{\"type\":\"object\",\"properties\":{}}";
    static const char step_req[] =
        "{\"type\":\"object\",\"properties\":{\"count\":{\"type\":\"integer\",\"minimum\":1,\"default\":1,"
        "\"description\":\"frames to run (the run must be paused)\"}}}";
    static const char resp[] =
        "{\"type\":\"object\",\"properties\":{\"state\":{\"type\":\"string\"},\"frame\":{\"type\":\"integer\"}}}";
    static const char step_resp[] =
        "{\"type\":\"object\",\"properties\":{\"state\":{\"type\":\"string\"},\"frame\":{\"type\":\"integer\","
        "\"description\":\"frame shown once the steps are done\"},\"count\":{\"type\":\"integer\"}}}";
    static const char ckpt_resp[] =
        "{\"type\":\"object\",\"properties\":{\"state\":{\"type\":\"string\"},\"frame\":{\"type\":\"integer\"},"
        "\"file\":{\"type\":\"string\",\"description\":\"checkpoint-FRAME-N.hckpt in the run's checkpoint folder\"}}}";
    static const struct {
        const char *name, *type, *req_name, *req, *resp_name, *resp;
    } svc[HERMES_FG_SVC_COUNT] = {
        {"/hermes/pause", "hermes/Pause", "hermes/Pause_Request", empty_req, "hermes/Pause_Response", resp},
        {"/hermes/resume", "hermes/Resume", "hermes/Resume_Request", empty_req, "hermes/Resume_Response", resp},
        {"/hermes/step", "hermes/Step", "hermes/Step_Request", step_req, "hermes/Step_Response", step_resp},
        {"/hermes/reset", "hermes/Reset", "hermes/Reset_Request", empty_req, "hermes/Reset_Response", resp},
        {"/hermes/checkpoint", "hermes/Checkpoint", "hermes/Checkpoint_Request", empty_req,
         "hermes/Checkpoint_Response", ckpt_resp},
    };
    json_t *list = json_array();
    for (int i = 0; i < HERMES_FG_SVC_COUNT; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(i + 1));
        json_object_set_new(o, "name", json_string(svc[i].name));
        json_object_set_new(o, "type", json_string(svc[i].type));
        json_object_set_new(o, "request", svc_def(svc[i].req_name, svc[i].req));
        json_object_set_new(o, "response", svc_def(svc[i].resp_name, svc[i].resp));
        /* older clients read only these two */
        json_object_set_new(o, "requestSchema", json_string(svc[i].req));
        json_object_set_new(o, "responseSchema", json_string(svc[i].resp));
        json_array_append_new(list, o);
    }
    json_t *j = json_object();
    json_object_set_new(j, "op", json_string("advertiseServices"));
    json_object_set_new(j, "services", list);
    return dump(j, len);
}

char *hermes__fg_status(int level, const char *message, const char *id, size_t *len)
{
    json_t *j = json_object();
    json_object_set_new(j, "op", json_string("status"));
    json_object_set_new(j, "level", json_integer(level));
    json_object_set_new(j, "message", jstr(message));
    if (id)
        json_object_set_new(j, "id", jstr(id));
    return dump(j, len);
}

char *hermes__fg_call_failure(uint32_t service, uint32_t call, const char *message, size_t *len)
{
    json_t *j = json_object();
    json_object_set_new(j, "op", json_string("serviceCallFailure"));
    json_object_set_new(j, "serviceId", json_integer(service));
    json_object_set_new(j, "callId", json_integer(call));
    json_object_set_new(j, "message", jstr(message));
    return dump(j, len);
}

/* One parameter: name, and the value unless it is not finite (undefined). */
static void put_parameter(struct hermes__text *b, const hermes_signal_info_t *in, double v, bool first)
{
    if (!first)
        hermes__text_put(b, ",", 1);
    hermes__text_str(b, "{\"name\":");
    hermes__text_json(b, in->name);
    if (isfinite(v)) {
        char num[HERMES_FG_DOUBLE_MAX + 1];
        hermes__text_str(b, ",\"value\":");
        if (in->type == HERMES_TYPE_BOOL) {
            hermes__text_str(b, v != 0 ? "true" : "false");
        } else {
            hermes__text_put(b, num, hermes__fg_format_double(v, num));
            if (in->type == HERMES_TYPE_F64 || in->type == HERMES_TYPE_F32)
                hermes__text_str(b, ",\"type\":\"float64\"");
        }
    }
    hermes__text_put(b, "}", 1);
}

char *hermes__fg_parameter_values(const hermes_signal_info_t *info, uint32_t total, const double *values,
                                  const uint32_t *indices, size_t n, const char *id, size_t *len)
{
    struct hermes__text b;
    memset(&b, 0, sizeof b);
    hermes__text_str(&b, "{\"op\":\"parameterValues\",\"parameters\":[");
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (indices[i] >= total)
            continue;
        put_parameter(&b, &info[indices[i]], values ? values[indices[i]] : NAN, first);
        first = false;
    }
    hermes__text_put(&b, "]", 1);
    if (id) {
        hermes__text_str(&b, ",\"id\":");
        hermes__text_json(&b, id);
    }
    hermes__text_put(&b, "}", 1);
    return sb_take(&b, len);
}
