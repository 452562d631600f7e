/* fuzz_config.c - storage.cfg text: never crashes, leaks or fails; the
 * result always has the documented shape. */
#include <stdint.h>
#include <stdlib.h>

#include "pvestorage.h"

static pvs_ctx *ctx;

static void quiet(void *data, const char *msg)
{
    (void)data, (void)msg;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    ctx = pvs_ctx_new(NULL);
    pvs_ctx_set_warn(ctx, quiet, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *cfg = pvs_config_parse(ctx, "fuzz.cfg", (const char *)data, size, NULL);
    if (!cfg || !json_is_object(json_object_get(cfg, "ids")) || !json_is_object(json_object_get(cfg, "order")))
        abort();
    const char *id;
    json_t *scfg, *order = json_object_get(cfg, "order");
    /* each section is an object with a type, or null (skipped, as upstream
     * keeps it undef); each is in order, but the default 'local' */
    if (!json_is_object(json_object_get(json_object_get(cfg, "ids"), "local")))
        abort();
    json_object_foreach(json_object_get(cfg, "ids"), id, scfg) {
        int implicit = json_object_get(scfg, "priority") != NULL;
        if (!json_is_null(scfg) && !json_is_string(json_object_get(scfg, "type")))
            abort();
        if (!implicit && !json_is_integer(json_object_get(order, id)))
            abort();
        if (json_object_get(scfg, "content") && !json_is_object(json_object_get(scfg, "content")))
            abort();
    }
    json_decref(cfg);
    return 0;
}
