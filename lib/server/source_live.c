/* The live telemetry source: a hermes_server_source_t over a shared-memory
 * backplane (frames through the encoder) and the simulation config (wires,
 * execution, module rates). */
#include <string.h>

#include "hermes/encoder.h"
#include "server/source.h"

static uint32_t live_count(void *ctx) { return hermes_backplane_count(((struct hermes__live_source *)ctx)->bp); }

static int live_info(void *ctx, uint32_t index, hermes_signal_info_t *out)
{
    return hermes_backplane_info(((struct hermes__live_source *)ctx)->bp, index, out);
}

static uint32_t live_module_count(void *ctx)
{
    return hermes_backplane_module_count(((struct hermes__live_source *)ctx)->bp);
}

static const char *live_module_name(void *ctx, uint32_t i)
{
    return hermes_backplane_module_name(((struct hermes__live_source *)ctx)->bp, i);
}

static int live_open(void *ctx, const uint32_t *indices, uint32_t n, void **stream)
{
    hermes_encoder_t *enc = NULL;
    int rc = hermes_encoder_create_indices(&enc, ((struct hermes__live_source *)ctx)->bp, indices, n);
    *stream = enc;
    return rc;
}

static int live_encode(void *ctx, void *stream, void *buf, size_t cap)
{
    (void)ctx;
    return hermes_encoder_encode(stream, buf, cap, NULL, NULL);
}

static void live_close(void *ctx, void *stream)
{
    (void)ctx;
    hermes_encoder_destroy(stream);
}

static uint64_t live_frame(void *ctx) { return hermes_backplane_frame(((struct hermes__live_source *)ctx)->bp); }

static uint32_t live_wire_count(void *ctx)
{
    const hermes_config_t *cfg = ((struct hermes__live_source *)ctx)->sim_config;
    return cfg ? hermes_config_wire_count(cfg) : 0;
}

static int live_wire(void *ctx, uint32_t i, hermes_wire_info_t *out)
{
    return hermes_config_wire(((struct hermes__live_source *)ctx)->sim_config, i, out);
}

static int live_execution(void *ctx, hermes_execution_t *out)
{
    const hermes_config_t *cfg = ((struct hermes__live_source *)ctx)->sim_config;
    return cfg ? hermes_config_execution(cfg, out) : HERMES_ENOENT;
}

static int live_module_rate(void *ctx, const char *module, hermes_module_rate_t *out)
{
    const hermes_config_t *cfg = ((struct hermes__live_source *)ctx)->sim_config;
    uint32_t n = cfg ? hermes_config_module_count(cfg) : 0;
    for (uint32_t i = 0; i < n; i++) {
        hermes_module_info_t mi;
        if (hermes_config_module(cfg, i, &mi) == 0 && strcmp(mi.name, module) == 0)
            return hermes_config_module_rate(cfg, i, out);
    }
    return HERMES_ENOENT;   /* the health module "hermes", or no config */
}

void hermes__live_source(struct hermes__live_source *ctx_mem, hermes_backplane_t *bp, const hermes_config_t *sim_config,
                         hermes_server_source_t *out)
{
    ctx_mem->bp = bp;
    ctx_mem->sim_config = sim_config;
    hermes_server_source_init(out);
    out->ctx = ctx_mem;
    out->run_id = hermes_backplane_name(bp);
    out->signal_count = live_count;
    out->signal_info = live_info;
    out->module_count = live_module_count;
    out->module_name = live_module_name;
    out->stream_open = live_open;
    out->stream_encode = live_encode;
    out->stream_close = live_close;
    out->frame = live_frame;
    out->wire_count = live_wire_count;
    out->wire = live_wire;
    out->execution = live_execution;
    out->module_rate = live_module_rate;
}
