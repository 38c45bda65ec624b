/* The hermes protocol's schema message: modules and their signals, wiring,
 * execution and limits, written once as text from the signal catalog at
 * create (the per-client fields are spliced in by hermes.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hermes/version.h"
#include "server/proto.h"
#include "server/text.h"

/* ---- the modules as text (one pass, no jansson object per signal) ---------- */

/* A key and its string value; a value json_string() would refuse (not
 * UTF-8) leaves the key out, as the jansson schema did. */
static void tb_member(struct hermes__text *b, const char *key, const char *v)
{
    if (!hermes__text_utf8_ok(v))
        return;
    hermes__text_str(b, key);
    hermes__text_json(b, v);
}

static void signal_text(struct hermes__text *b, const hermes_signal_info_t *in)
{
    hermes__text_put(b, "{", 1);
    tb_member(b, "\"name\":", in->local_name);
    hermes__text_str(b, hermes__text_utf8_ok(in->local_name) ? ",\"type\":\"" : "\"type\":\"");
    hermes__text_str(b, hermes_type_name(in->type));
    hermes__text_put(b, "\"", 1);
    if (in->unit[0])  /* no key when there is no unit: "" would read as a unit */
        tb_member(b, ",\"unit\":", in->unit);
    hermes__text_str(b, in->writable ? ",\"writable\":true}" : ",\"writable\":false}");
}

/* `,"rate_hz":R,"divisor":N,"offset":O` of module @p name when the source
 * knows its rate (R printed by jansson, as json_real does everywhere). */
static void rate_text(struct hermes__text *b, const hermes_server_source_t *src, const char *name)
{
    hermes_module_rate_t r;
    if (!src->module_rate || src->module_rate(src->ctx, name, &r) != 0)
        return;
    json_t *hz = json_real(r.rate_hz);
    char *t = hz ? json_dumps(hz, JSON_ENCODE_ANY) : NULL;
    json_decref(hz);
    if (!t) {
        b->oom = true;
        return;
    }
    char tail[64];
    snprintf(tail, sizeof tail, ",\"divisor\":%llu,\"offset\":%llu", (unsigned long long)r.divisor,
             (unsigned long long)r.offset);
    hermes__text_str(b, ",\"rate_hz\":");
    hermes__text_str(b, t);
    hermes__text_str(b, tail);
    free(t);
}

/* {name: {"signals": [...], "rate_hz", "divisor", "offset"}} in catalog
 * module order (the rate keys when the source knows them), each module's
 * signals in catalog order: modules hashed once, signals placed by a
 * counting sort. */
static char *modules_text(const struct hermes__catalog *cat, const hermes_server_source_t *src, size_t *len)
{
    uint32_t nm = cat->nmodules;
    json_t *idx = json_object();
    uint32_t *start = calloc((size_t)nm + 2, sizeof *start), *by = malloc(((size_t)cat->n + 1) * sizeof *by);
    uint32_t *of = malloc(((size_t)cat->n + 1) * sizeof *of);
    struct hermes__text b = {0};
    b.oom = !idx || !start || !by || !of;
    for (uint32_t m = 0; m < nm && !b.oom; m++)
        b.oom = json_object_set_new(idx, cat->modules[m], json_integer(m)) != 0;
    for (uint32_t k = 0; k < cat->n && !b.oom; k++) {
        json_t *m = json_object_get(idx, cat->info[k].module);
        of[k] = m ? (uint32_t)json_integer_value(m) : UINT32_MAX;  /* every module is listed */
        if (of[k] != UINT32_MAX)
            start[of[k] + 2]++;
    }
    for (uint32_t m = 0; m < nm && !b.oom; m++)
        start[m + 2] += start[m + 1];
    for (uint32_t k = 0; k < cat->n && !b.oom; k++)
        if (of[k] != UINT32_MAX)
            by[start[of[k] + 1]++] = k;
    hermes__text_put(&b, "{", 1);
    for (uint32_t m = 0; m < nm && !b.oom; m++) {
        if (m)
            hermes__text_put(&b, ",", 1);
        hermes__text_json(&b, cat->modules[m]);
        hermes__text_str(&b, ":{\"signals\":[");
        for (uint32_t j = start[m]; j < start[m + 1]; j++) {
            if (j > start[m])
                hermes__text_put(&b, ",", 1);
            signal_text(&b, &cat->info[by[j]]);
        }
        hermes__text_str(&b, "]");
        rate_text(&b, src, cat->modules[m]);
        hermes__text_str(&b, "}");
    }
    hermes__text_put(&b, "}", 1);
    json_decref(idx);
    free(start);
    free(by);
    free(of);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

static json_t *wiring_json(const hermes_server_source_t *src)
{
    json_t *wiring = json_array();
    uint32_t nw = wiring && src->wire_count && src->wire ? src->wire_count(src->ctx) : 0;
    for (uint32_t i = 0; i < nw; i++) {
        hermes_wire_info_t w;
        if (src->wire(src->ctx, i, &w) != 0)
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "src", json_string(w.src));
        json_object_set_new(o, "dst", json_string(w.dst));
        json_object_set_new(o, "gain", isfinite(w.gain) ? json_real(w.gain) : json_null());
        json_object_set_new(o, "offset", isfinite(w.offset) ? json_real(w.offset) : json_null());
        json_array_append_new(wiring, o);
    }
    return wiring;
}

static json_t *root_json(const hermes_server_t *s)
{
    const struct hermes__server_info *in = hermes__server_info(s);
    json_t *root = json_object();
    json_t *wiring = wiring_json(in->source);
    if (!root || !wiring) {
        json_decref(root);
        json_decref(wiring);
        return NULL;
    }
    json_object_set_new(root, "type", json_string("schema"));
    json_object_set_new(root, "protocol", json_integer(HERMES_PROTOCOL_VERSION));
    json_object_set_new(root, "server", json_string("hermes " HERMES_VERSION_STRING));
    json_object_set_new(root, "run_id", json_string(in->run_id));
    hermes_execution_t ex;
    if (in->source->execution && in->source->execution(in->source->ctx, &ex) == 0) {
        json_object_set_new(root, "rate_hz", json_real(ex.rate_hz));
        json_object_set_new(root, "mode", json_string(hermes_mode_name(ex.mode)));
        json_object_set_new(root, "end_time", ex.has_end_time ? json_real(ex.end_time) : json_null());
    }
    json_object_set_new(root, "wiring", wiring);
    json_object_set_new(root, "telemetry_hz", json_real(in->telemetry_hz));
    json_object_set_new(root, "signal_count", json_integer(in->catalog->n));
    json_object_set_new(root, "max_message", json_integer(in->max_message));
    json_object_set_new(root, "byte_order", json_string("little"));
    return root;
}

char *hermes__schema_text(const hermes_server_t *s, size_t *len)
{
    json_t *root = root_json(s);
    size_t rl = root ? json_dumpb(root, NULL, 0, JSON_COMPACT) : 0, ml = 0;
    char *mods = rl >= 2 ? modules_text(hermes__server_info(s)->catalog, hermes__server_info(s)->source, &ml) : NULL;
    static const char key[] = ",\"modules\":";
    char *text = mods ? malloc(rl + sizeof key + ml + 1) : NULL;
    if (text && json_dumpb(root, text, rl, JSON_COMPACT) == rl) {
        size_t at = rl - 1;  /* over the root's closing brace */
        memcpy(text + at, key, sizeof key - 1);
        at += sizeof key - 1;
        memcpy(text + at, mods, ml);
        at += ml;
        text[at++] = '}';
        text[at] = '\0';
        *len = at;
    } else {
        free(text);
        text = NULL;
    }
    free(mods);
    json_decref(root);
    return text;
}
