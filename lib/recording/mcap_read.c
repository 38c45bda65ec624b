/* Reading a Hermes MCAP file into a recording handle (hermes_recording_open
 * of a .mcap; `hermes replay FILE.mcap`, `hermes export FILE.mcap --csv`):
 * records read in order (a killed run's file up to its last complete
 * record), chunks decompressed, the signals taken from the channels' JSON
 * Schemas (each leaf's title is the qualified name, its description the type,
 * unit and writable flag, as server/foxglove/msg.c writes them), one row per
 * /hermes message, values parsed back from the JSON messages, the journal
 * from /hermes/journal, attributes from the metadata records and the config
 * attachment. Everything is held in memory. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#ifdef HERMES_HAVE_ZSTD
#include <zstd.h>
#endif
#ifdef HERMES_HAVE_LZ4
#include <lz4frame.h>
#endif

#include "recording/layout.h"
#include "recording/mcap.h"
#include "common/util.h"

static const unsigned char MAGIC[8] = {0x89, 'M', 'C', 'A', 'P', 0x30, '\r', '\n'};

struct leaf {
    char   **keys;   /* path in the message */
    uint32_t nkeys;
    int      role;   /* column >= 0, or ROLE_* */
};
enum { ROLE_SKIP = -1, ROLE_FRAME = -2, ROLE_TIME = -3 };

struct chan {
    uint16_t     id;
    int          kind;     /* CH_DATA, CH_JOURNAL, CH_OTHER */
    char        *schema;   /* JSON text */
    struct leaf *leaves;
    uint32_t     nleaves;
    uint64_t     count;    /* messages seen */
};
enum { CH_DATA, CH_JOURNAL, CH_OTHER };

struct hermes__mcap_mem {
    struct chan *ch;
    uint32_t     nch;
    char       **schemas;   /* by schema id */
    uint32_t     nschemas;
    double      *vals;      /* rows x n */
    uint64_t    *frames;
    double      *times;
    uint64_t     cap, nrows_hermes;
    uint32_t     ncols;
    json_t      *attrs;     /* string attributes */
    json_t      *rates;     /* the "module_rates" metadata: module -> JSON text */
    bool         footer, bad;
    char         why[256];
};

struct cur {
    const unsigned char *p;
    size_t               n, at;
    bool                 bad;
};

static uint64_t u64(struct cur *c)
{
    if (c->at + 8 > c->n) {
        c->bad = true;
        return 0;
    }
    uint64_t v = hermes__get_le64(c->p + c->at);
    c->at += 8;
    return v;
}
static uint32_t u32(struct cur *c)
{
    if (c->at + 4 > c->n) {
        c->bad = true;
        return 0;
    }
    uint32_t v = hermes__get_le32(c->p + c->at);
    c->at += 4;
    return v;
}
static uint16_t u16(struct cur *c)
{
    if (c->at + 2 > c->n) {
        c->bad = true;
        return 0;
    }
    uint16_t v = (uint16_t)(c->p[c->at] | (c->p[c->at + 1] << 8));
    c->at += 2;
    return v;
}
/* A string or u32-prefixed bytes: pointer into the record, length in *len. */
static const char *str(struct cur *c, size_t *len)
{
    size_t n = u32(c);
    if (c->bad || c->at + n > c->n) {
        c->bad = true;
        *len = 0;
        return "";
    }
    const char *s = (const char *)c->p + c->at;
    c->at += n;
    *len = n;
    return s;
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* ---- schemas into columns ------------------------------------------------------------- */

/* "f64, unit m, writable" (msg.c's leaf description) into a signal row. */
static void describe(struct rec_signal_row *row, const char *desc)
{
    const char *comma = strchr(desc, ',');
    size_t tl = comma ? (size_t)(comma - desc) : strlen(desc);
    snprintf(row->type, sizeof row->type, "%.*s", (int)(tl < sizeof row->type ? tl : sizeof row->type - 1), desc);
    const char *u = strstr(desc, ", unit ");
    if (u) {
        u += 7;
        const char *e = strstr(u, ", ");
        size_t ul = e ? (size_t)(e - u) : strlen(u);
        snprintf(row->unit, sizeof row->unit, "%.*s", (int)(ul < sizeof row->unit ? ul : sizeof row->unit - 1), u);
    }
    size_t dl = strlen(desc);
    row->writable = dl >= 9 && !strcmp(desc + dl - 9, ", writable");
    row->initial = NAN;
}

static int add_column(hermes_recording_t *rec, const char *name, const char *desc)
{
    struct hermes__mcap_mem *m = rec->mem;
    if (m->cap) {  /* a channel after the first message: not laid out as Hermes writes */
        snprintf(m->why, sizeof m->why, "a channel is declared after the first message (not a Hermes layout)");
        return -1;
    }
    struct rec_signal_row *s = realloc(rec->sigs, ((size_t)rec->n + 1) * sizeof *s);
    if (!s)
        return -1;
    rec->sigs = s;
    memset(&s[rec->n], 0, sizeof *s);
    hermes__strlcpy(s[rec->n].name, name, sizeof s[rec->n].name);
    describe(&s[rec->n], desc);
    m->ncols = ++rec->n;
    return (int)rec->n - 1;
}

static int walk(hermes_recording_t *rec, struct chan *c, json_t *obj, char **path, uint32_t depth, bool health)
{
    json_t *props = json_object_get(obj, "properties");
    const char *key;
    json_t *v;
    if (depth >= 32)
        return -1;
    json_object_foreach(props, key, v) {
        path[depth] = (char *)key;
        if (json_object_get(v, "properties")) {
            if (walk(rec, c, v, path, depth + 1, health) != 0)
                return -1;
            continue;
        }
        const char *title = json_string_value(json_object_get(v, "title"));
        const char *desc = json_string_value(json_object_get(v, "description"));
        int role = ROLE_SKIP;
        if (health && depth == 0 && !strcmp(key, "frame") && title && !strcmp(title, "hermes.frame"))
            role = ROLE_FRAME;
        else if (health && depth == 0 && !strcmp(key, "time") && title && !strcmp(title, "hermes.time"))
            role = ROLE_TIME;
        else if (!(health && depth == 0 && !strcmp(key, "state")) && title && desc)
            role = add_column(rec, title, desc);
        if (role == -1 && title && !(health && depth == 0 && !strcmp(key, "state")))
            return -1;
        struct leaf *l = realloc(c->leaves, ((size_t)c->nleaves + 1) * sizeof *l);
        if (!l)
            return -1;
        c->leaves = l;
        l = &l[c->nleaves++];
        l->role = role;
        l->nkeys = depth + 1;
        l->keys = calloc(depth + 1, sizeof *l->keys);
        if (!l->keys)
            return -1;
        for (uint32_t k = 0; k <= depth; k++)
            if (!(l->keys[k] = hermes__strdup(path[k])))
                return -1;
    }
    return 0;
}

/* Columns of a data channel from its schema, the first time it has a message. */
static int map_channel(hermes_recording_t *rec, struct chan *c, bool health)
{
    json_t *s = json_loads(c->schema ? c->schema : "", 0, NULL);
    char *path[32];
    int rc = s ? walk(rec, c, s, path, 0, health) : -1;
    json_decref(s);
    return rc;
}

/* ---- messages ---------------------------------------------------------------------------- */

static int grow_rows(struct hermes__mcap_mem *m, uint64_t row, uint32_t n)
{
    if (row < m->cap)
        return 0;
    uint64_t cap = m->cap ? 2 * m->cap : 1024;
    while (cap <= row)
        cap *= 2;
    double *v = realloc(m->vals, cap * (n ? n : 1) * sizeof *v);
    if (v)
        m->vals = v;
    uint64_t *f = realloc(m->frames, cap * sizeof *f);
    if (f)
        m->frames = f;
    double *t = realloc(m->times, cap * sizeof *t);
    if (t)
        m->times = t;
    if (!v || !f || !t)
        return -1;
    for (uint64_t r = m->cap; r < cap; r++)
        for (uint32_t k = 0; k < n; k++)
            m->vals[r * n + k] = NAN;
    m->cap = cap;
    return 0;
}

static double number(json_t *v)
{
    if (json_is_real(v))
        return json_real_value(v);
    if (json_is_integer(v))
        return (double)json_integer_value(v);
    if (json_is_true(v))
        return 1;
    if (json_is_false(v))
        return 0;
    return NAN;
}

static int data_message(hermes_recording_t *rec, struct chan *c, json_t *j)
{
    struct hermes__mcap_mem *m = rec->mem;
    uint64_t row = c->count++;
    if (grow_rows(m, row, m->ncols) != 0)
        return -1;
    for (uint32_t i = 0; i < c->nleaves; i++) {
        const struct leaf *l = &c->leaves[i];
        json_t *v = j;
        for (uint32_t k = 0; k < l->nkeys && v; k++)
            v = json_object_get(v, l->keys[k]);
        if (l->role >= 0)
            m->vals[row * m->ncols + (uint32_t)l->role] = number(v);
        else if (l->role == ROLE_FRAME)
            m->frames[row] = (uint64_t)number(v);
        else if (l->role == ROLE_TIME)
            m->times[row] = number(v);
    }
    return 0;
}

static int journal_message(hermes_recording_t *rec, json_t *j)
{
    struct rec_journal_row *jr = realloc(rec->journal, (rec->njournal + 1) * sizeof *jr);
    if (!jr)
        return -1;
    rec->journal = jr;
    jr = &jr[rec->njournal++];
    memset(jr, 0, sizeof *jr);
    const char *a = json_string_value(json_object_get(j, "action")), *sig = json_string_value(json_object_get(j, "signal"));
    hermes__strlcpy(jr->action, a ? a : "", sizeof jr->action);
    hermes__strlcpy(jr->signal, sig ? sig : "", sizeof jr->signal);
    jr->frame = (uint64_t)number(json_object_get(j, "frame"));
    jr->tick = (uint64_t)number(json_object_get(j, "tick"));
    jr->count = (uint64_t)number(json_object_get(j, "count"));
    jr->value = number(json_object_get(j, "value"));
    return 0;
}

static struct chan *find_chan(struct hermes__mcap_mem *m, uint16_t id)
{
    for (uint32_t i = 0; i < m->nch; i++)
        if (m->ch[i].id == id)
            return &m->ch[i];
    return NULL;
}

static int message(hermes_recording_t *rec, struct cur *c)
{
    struct hermes__mcap_mem *m = rec->mem;
    uint16_t id = u16(c);
    u32(c);
    u64(c);
    u64(c);
    struct chan *ch = find_chan(m, id);
    if (c->bad || !ch || ch->kind == CH_OTHER)
        return c->bad ? -1 : 0;
    /* Every number as a double (strtod): "-0" stays -0.0, integers below 2^53 are exact. */
    json_t *j = json_loadb((const char *)c->p + c->at, c->n - c->at, JSON_DECODE_INT_AS_REAL, NULL);
    if (!j)
        return -1;
    int rc = ch->kind == CH_DATA ? data_message(rec, ch, j) : journal_message(rec, j);
    json_decref(j);
    return rc;
}

/* ---- records ------------------------------------------------------------------------------- */

static int schema_record(struct hermes__mcap_mem *m, struct cur *c)
{
    uint16_t id = u16(c);
    size_t nl, el, dl;
    str(c, &nl);
    str(c, &el);
    const char *data = str(c, &dl);
    if (c->bad)
        return -1;
    if (id >= m->nschemas) {
        char **s = realloc(m->schemas, ((size_t)id + 1) * sizeof *s);
        if (!s)
            return -1;
        memset(s + m->nschemas, 0, ((size_t)id + 1 - m->nschemas) * sizeof *s);
        m->schemas = s;
        m->nschemas = (uint32_t)id + 1;
    }
    free(m->schemas[id]);
    return (m->schemas[id] = dupn(data, dl)) ? 0 : -1;
}

static int channel_record(hermes_recording_t *rec, struct cur *c)
{
    struct hermes__mcap_mem *m = rec->mem;
    uint16_t id = u16(c), sid = u16(c);
    size_t tl, el;
    const char *topic = str(c, &tl);
    const char *enc = str(c, &el);
    if (c->bad || find_chan(m, id))
        return c->bad ? -1 : 0;
    struct chan *ch = realloc(m->ch, ((size_t)m->nch + 1) * sizeof *ch);
    if (!ch)
        return -1;
    m->ch = ch;
    ch = &ch[m->nch++];
    memset(ch, 0, sizeof *ch);
    ch->id = id;
    bool json = el == 4 && !memcmp(enc, "json", 4);
    if (!json)
        ch->kind = CH_OTHER;
    else if (tl == 15 && !memcmp(topic, "/hermes/journal", 15))
        ch->kind = CH_JOURNAL;
    else if (tl == 14 && !memcmp(topic, "/hermes/events", 14))
        ch->kind = CH_OTHER;
    else
        ch->kind = CH_DATA;
    if (sid < m->nschemas && m->schemas[sid] && !(ch->schema = hermes__strdup(m->schemas[sid])))
        return -1;
    /* Columns now: every channel comes before the messages (rows hold every column). */
    if (ch->kind == CH_DATA)
        return map_channel(rec, ch, ch->schema && strstr(ch->schema, "\"title\":\"hermes.hermes\""));
    return 0;
}

static int metadata_record(struct hermes__mcap_mem *m, struct cur *c)
{
    size_t nl;
    const char *name = str(c, &nl);
    bool rates = nl == 12 && !memcmp(name, "module_rates", 12);
    bool ours = rates || (nl == 6 && !memcmp(name, "hermes", 6)) || (nl == 10 && !memcmp(name, "hermes.end", 10));
    json_t *into = rates ? m->rates : m->attrs;
    size_t bytes = u32(c), end = c->at + bytes;
    if (c->bad || end > c->n)
        return -1;
    while (ours && c->at < end && !c->bad) {
        size_t kl, vl;
        const char *k = str(c, &kl), *v = str(c, &vl);
        char *ks = dupn(k, kl), *vs = dupn(v, vl);
        if (!ks || !vs || json_object_set_new(into, ks, json_stringn_nocheck(vs, vl)) != 0) {
            free(ks);
            free(vs);
            return -1;
        }
        free(ks);
        free(vs);
    }
    return c->bad ? -1 : 0;
}

static int attachment_record(struct hermes__mcap_mem *m, struct cur *c)
{
    u64(c);
    u64(c);
    size_t nl, ml;
    const char *name = str(c, &nl), *media = str(c, &ml);
    uint64_t dl = u64(c);
    if (c->bad || c->at + dl > c->n)
        return -1;
    if (ml == 16 && !memcmp(media, "application/yaml", 16)) {
        json_object_set_new(m->attrs, "config", json_stringn_nocheck((const char *)c->p + c->at, (size_t)dl));
        json_object_set_new(m->attrs, "config_path", json_stringn_nocheck(name, nl));
    }
    return 0;
}

static int records(hermes_recording_t *rec, const unsigned char *p, size_t n, bool top);

static int chunk_record(hermes_recording_t *rec, struct cur *c)
{
    u64(c);
    u64(c);
    uint64_t usize = u64(c);
    uint32_t crc = u32(c);
    size_t cl;
    const char *comp = str(c, &cl);
    uint64_t len = u64(c);
    if (c->bad || c->at + len > c->n || usize > ((uint64_t)1 << 34))
        return -1;
    const unsigned char *src = c->p + c->at;
    if (cl == 0) {
        if (crc && hermes__crc32(0, src, (size_t)len) != crc) {
            snprintf(rec->mem->why, sizeof rec->mem->why, "a chunk's CRC does not match its records (damaged file)");
            return -1;
        }
        return records(rec, src, (size_t)len, false);
    }
    unsigned char *dst = malloc(usize ? (size_t)usize : 1);
    if (!dst)
        return -1;
    int rc = -1;
#ifdef HERMES_HAVE_ZSTD
    if (cl == 4 && !memcmp(comp, "zstd", 4))
        rc = ZSTD_decompress(dst, (size_t)usize, src, (size_t)len) == usize ? 0 : -1;
#endif
#ifdef HERMES_HAVE_LZ4
    if (cl == 3 && !memcmp(comp, "lz4", 3)) {
        LZ4F_dctx *d = NULL;
        size_t out = (size_t)usize, in = (size_t)len;
        if (!LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)) &&
            !LZ4F_isError(LZ4F_decompress(d, dst, &out, src, &in, NULL)) && out == usize)
            rc = 0;
        LZ4F_freeDecompressionContext(d);
    }
#endif
    if (rc == 0 && crc && hermes__crc32(0, dst, (size_t)usize) != crc) {
        snprintf(rec->mem->why, sizeof rec->mem->why, "a chunk's CRC does not match its records (damaged file)");
        rc = -1;
    }
    if (rc == 0)
        rc = records(rec, dst, (size_t)usize, false);
    else if (!rec->mem->why[0])
        snprintf(rec->mem->why, sizeof rec->mem->why, "a chunk compressed with '%.*s' cannot be read by this build",
                 (int)cl, comp);
    free(dst);
    return rc;
}

/* Records of @p p (the file after its magic, or a chunk's records). */
static int records(hermes_recording_t *rec, const unsigned char *p, size_t n, bool top)
{
    size_t at = 0;
    while (at + 9 <= n) {
        uint8_t op = p[at];
        uint64_t len = hermes__get_le64(p + at + 1);
        if (len > n - at - 9)
            break;  /* the record a killed writer did not finish */
        struct cur c = {p + at + 9, (size_t)len, 0, false};
        int rc = 0;
        switch (op) {
        case 0x03: rc = schema_record(rec->mem, &c); break;
        case 0x04: rc = channel_record(rec, &c); break;
        case 0x05: rc = message(rec, &c); break;
        case 0x06: rc = top ? chunk_record(rec, &c) : -1; break;
        case 0x09: rc = top ? attachment_record(rec->mem, &c) : -1; break;
        case 0x0C: rc = top ? metadata_record(rec->mem, &c) : -1; break;
        case 0x02: rec->mem->footer = true; break;
        case 0x0F: rec->mem->footer = true; return 0;  /* data end: the summary repeats what was read */
        default: break;
        }
        if (rc)
            return -1;
        at += 9 + (size_t)len;
    }
    return 0;
}

/* ---- the recording handle's side ----------------------------------------------------------- */

bool hermes__mcap_is(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char b[8];
    bool yes = f && fread(b, 1, 8, f) == 8 && !memcmp(b, MAGIC, 8);
    if (f)
        fclose(f);
    return yes;
}

static int load_fail(hermes_recording_t *rec, int code, const char *why)
{
    return hermes__fail(code, "recording '%s': %s", rec->path, why);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long sz = ftell(f);
        if (sz >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)sz + 1)) != NULL &&
            fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
            free(buf);
            buf = NULL;
        }
        *n = sz > 0 ? (size_t)sz : 0;
    }
    fclose(f);
    return buf;
}

/* Rows: the messages every data channel has (a killed run's channels agree
 * at a complete chunk); columns read from the messages' JSON. */
static void finish(hermes_recording_t *rec)
{
    struct hermes__mcap_mem *m = rec->mem;
    uint64_t rows = UINT64_MAX;
    for (uint32_t i = 0; i < m->nch; i++)
        if (m->ch[i].kind == CH_DATA && m->ch[i].count < rows)
            rows = m->ch[i].count;
    rec->rows = rows == UINT64_MAX ? 0 : rows;
    const char *rate = hermes__mcap_attr(rec, "rate_hz");
    rec->rate_hz = rate ? strtod(rate, NULL) : 0;
    rec->complete = m->footer && hermes__mcap_attr(rec, "end_reason");
}

int hermes__mcap_load(hermes_recording_t *rec)
{
    rec->mem = calloc(1, sizeof *rec->mem);
    if (!rec->mem || !(rec->mem->attrs = json_object()) || !(rec->mem->rates = json_object()))
        return load_fail(rec, HERMES_ENOMEM, "out of memory");
    size_t n = 0;
    unsigned char *buf = slurp(rec->path, &n);
    if (!buf) {
        char why[160];
        snprintf(why, sizeof why, "cannot read: %s", strerror(errno ? errno : EIO));
        return load_fail(rec, HERMES_ESYS, why);
    }
    int rc = n >= 8 && !memcmp(buf, MAGIC, 8) ? records(rec, buf + 8, n - 8, true) : -1;
    free(buf);
    const char *fmt = hermes__mcap_attr(rec, "format");
    if (rc != 0)
        return load_fail(rec, HERMES_EABI, rec->mem->why[0] ? rec->mem->why : "not a readable MCAP file");
    if (!fmt || strcmp(fmt, "hermes-mcap") != 0)
        return load_fail(rec, HERMES_EABI, "not a Hermes MCAP file (no 'hermes' metadata with format hermes-mcap)");
    rec->views = calloc(rec->n ? rec->n : 1, sizeof *rec->views);
    if (!rec->views)
        return load_fail(rec, HERMES_ENOMEM, "out of memory");
    for (uint32_t k = 0; k < rec->n; k++) {
        struct rec_signal_row *s = &rec->sigs[k];
        hermes_type_t t = HERMES_TYPE_F64;
        hermes_type_parse(s->type, &t);
        rec->views[k] = (hermes_recording_signal_t){s->name, t, s->unit, s->writable != 0, s->initial};
    }
    finish(rec);
    return 0;
}

void hermes__mcap_unload(hermes_recording_t *rec)
{
    struct hermes__mcap_mem *m = rec->mem;
    if (!m)
        return;
    for (uint32_t i = 0; i < m->nch; i++) {
        for (uint32_t l = 0; l < m->ch[i].nleaves; l++) {
            for (uint32_t k = 0; k < m->ch[i].leaves[l].nkeys; k++)
                free(m->ch[i].leaves[l].keys[k]);
            free(m->ch[i].leaves[l].keys);
        }
        free(m->ch[i].leaves);
        free(m->ch[i].schema);
    }
    free(m->ch);
    for (uint32_t i = 0; i < m->nschemas; i++)
        free(m->schemas[i]);
    free(m->schemas);
    free(m->vals);
    free(m->frames);
    free(m->times);
    json_decref(m->attrs);
    json_decref(m->rates);
    free(m);
    rec->mem = NULL;
}

const char *hermes__mcap_attr(const hermes_recording_t *rec, const char *name)
{
    return rec->mem ? json_string_value(json_object_get(rec->mem->attrs, name)) : NULL;
}

void hermes__mcap_read(const hermes_recording_t *rec, uint64_t first, uint64_t count, double *values,
                       uint64_t *frames, double *times)
{
    const struct hermes__mcap_mem *m = rec->mem;
    if (values && rec->n)
        memcpy(values, m->vals + first * rec->n, count * rec->n * sizeof *values);
    if (frames)
        memcpy(frames, m->frames + first, count * sizeof *frames);
    if (times)
        memcpy(times, m->times + first, count * sizeof *times);
}

int hermes__mcap_rates(const hermes_recording_t *rec, struct rec_rate_row **rows, uint64_t *n)
{
    *rows = NULL;
    *n = 0;
    size_t k = rec->mem ? json_object_size(rec->mem->rates) : 0;
    if (!k)
        return 0;
    struct rec_rate_row *r = calloc(k, sizeof *r);
    if (!r)
        return -1;
    const char *name;
    json_t *v;
    size_t i = 0;
    json_object_foreach(rec->mem->rates, name, v) {
        json_t *j = json_loads(json_string_value(v) ? json_string_value(v) : "", 0, NULL);
        hermes__strlcpy(r[i].name, name, sizeof r[i].name);
        r[i].rate_hz = number(json_object_get(j, "rate_hz"));
        r[i].divisor = (uint32_t)json_integer_value(json_object_get(j, "divisor"));
        r[i].offset = (uint32_t)json_integer_value(json_object_get(j, "offset"));
        json_decref(j);
        i++;
    }
    *rows = r;
    *n = i;
    return 0;
}
