/* libFuzzer harness: YAML configuration loader (bytes in, config or error out). */
#include <hermes/hermes.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hermes_config_t *cfg = NULL;
    hermes_error_t err;
    int rc = hermes_config_parse(&cfg, (const char *)data, size, "fuzz.yaml", "/nonexistent", &err);
    if (rc == 0) {
        /* Walk everything a host would read. */
        uint32_t n = hermes_config_module_count(cfg);
        for (uint32_t i = 0; i < n; i++) {
            hermes_module_info_t mi;
            hermes_config_module(cfg, i, &mi);
            for (uint32_t j = 0; j < mi.signal_count; j++) {
                hermes_signal_spec_t sp;
                hermes_config_signal(cfg, i, j, &sp);
            }
        }
        hermes_config_validate(cfg, &err);
        hermes_config_destroy(cfg);
    } else if (cfg != NULL || err.message[0] == '\0') {
        __builtin_trap();   /* failures must leave no config and explain themselves */
    }
    return 0;
}
