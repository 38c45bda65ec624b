/* The hermes protocol's schema message: modules and their signals, wiring,
 * execution and limits, built once from the signal catalog at create. */
#include <math.h>

#include "hermes/version.h"
#include "server/proto.h"

static json_t *signal_json(const hermes_signal_info_t *in)
{
    json_t *sig = json_object();
    json_object_set_new(sig, "name", json_string(in->local_name));
    json_object_set_new(sig, "type", json_string(hermes_type_name(in->type)));
    if (in->unit[0])  /* no key when there is no unit: "" would read as a unit */
        json_object_set_new(sig, "unit", json_string(in->unit));
    json_object_set_new(sig, "writable", json_boolean(in->writable));
    return sig;
}

/* "modules": {name: {"signals": [...], "rate_hz", "divisor", "offset"}} in
 * catalog module order (the rate keys when the source knows them). */
static json_t *modules_json(const struct hermes__catalog *cat, const hermes_server_source_t *src)
{
    json_t *mods = json_object();
    if (!mods)
        return NULL;
    for (uint32_t i = 0; i < cat->nmodules; i++) {
        json_t *m = json_object();
        json_object_set_new(m, "signals", json_array());
        hermes_module_rate_t r;
        if (src->module_rate && src->module_rate(src->ctx, cat->modules[i], &r) == 0) {
            json_object_set_new(m, "rate_hz", json_real(r.rate_hz));
            json_object_set_new(m, "divisor", json_integer(r.divisor));
            json_object_set_new(m, "offset", json_integer(r.offset));
        }
        json_object_set_new(mods, cat->modules[i], m);
    }
    /* Signals of one module are usually contiguous: look the list up once per run. */
    const char *last = NULL;
    json_t *list = NULL;
    for (uint32_t k = 0; k < cat->n; k++) {
        const hermes_signal_info_t *in = &cat->info[k];
        if (!last || strcmp(last, in->module) != 0) {
            last = in->module;
            list = json_object_get(json_object_get(mods, in->module), "signals");
        }
        if (list)
            json_array_append_new(list, signal_json(in));
    }
    return mods;
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

json_t *hermes__schema_build(const hermes_server_t *s)
{
    const struct hermes__server_info *in = hermes__server_info(s);
    json_t *root = json_object();
    json_t *mods = modules_json(in->catalog, in->source);
    json_t *wiring = wiring_json(in->source);
    if (!root || !mods || !wiring) {
        json_decref(root);
        json_decref(mods);
        json_decref(wiring);
        return NULL;
    }
    json_object_set_new(root, "type", json_string("schema"));
    json_object_set_new(root, "protocol", json_integer(HERMES_PROTOCOL_VERSION));
    json_object_set_new(root, "server", json_string("hermes " HERMES_VERSION_STRING));
    json_object_set_new(root, "run_id", json_string(in->run_id));
    json_object_set_new(root, "modules", mods);
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
