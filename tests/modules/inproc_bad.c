/* Deliberately broken inproc libraries for the scheduler tests, selected at
 * build time: -DBAD_ABI (wrong ABI version), -DNO_ENTRY (no entry point),
 * -DINIT_FAIL (init reports an error), -DSTEP_FAIL (step fails at frame 10). */
#include <hermes/inproc.h>
#include <stdio.h>

static char *errbuf;

static int init(void **state, const hermes_inproc_env_t *env)
{
    *state = NULL;
    errbuf = env->errbuf;
#ifdef INIT_FAIL
    snprintf(env->errbuf, env->errbuf_size, "calibration table missing");
    return -1;
#else
    (void)env;
    return 0;
#endif
}

static int step(void *state, uint64_t frame, double dt)
{
    (void)state;
    (void)dt;
#ifdef STEP_FAIL
    if (frame == 10) {
        snprintf(errbuf, 64, "actuator saturated");
        return -1;
    }
#else
    (void)frame;
#endif
    return 0;
}

#ifdef BAD_ABI
static const hermes_inproc_module_t table = {999, 0, init, NULL, step, NULL, NULL, NULL, NULL, NULL};
#else
static const hermes_inproc_module_t table = {HERMES_INPROC_ABI_VERSION, 0, init, NULL, step, NULL, NULL, NULL, NULL, NULL};
#endif

#ifdef NO_ENTRY
__attribute__((visibility("default"))) const hermes_inproc_module_t *wrong_name(void);
__attribute__((visibility("default"))) const hermes_inproc_module_t *wrong_name(void) { return &table; }
#else
HERMES_INPROC_EXPORT(table)
#endif
