/* calls.c - the storage-level calls on one volume or one storage by
 * number (pvestorage_api.def's PVS_API_ONE rows): what the bindings reach
 * them through, each with one entry for all. */
#include <stdlib.h>

#include "internal.h"

int pvs_one_call(pvs_ctx *ctx, int c, const json_t *cfg, const pvs_one_args *a, char **text, pvs_error *err)
{
    char *type = NULL;
    int rc;
    *text = NULL;
    switch (c) {
    case PVS_ONE_map_volume: return pvs_map_volume(ctx, cfg, a->volid, a->snapname, a->hints, text, err);
    case PVS_ONE_unmap_volume: return pvs_unmap_volume(ctx, cfg, a->volid, a->snapname, err);
    case PVS_ONE_path: return pvs_path(ctx, cfg, a->volid, a->snapname, text, err);
    case PVS_ONE_activate_storage: return pvs_activate_storage(ctx, cfg, a->storeid, err);
    case PVS_ONE_deactivate_storage: return pvs_deactivate_storage(ctx, cfg, a->storeid, err);
    case PVS_ONE_get_identity:
        rc = pvs_get_identity(ctx, cfg, a->storeid, &type, text, err);
        free(type);
        return rc;
    default: return pvs_fail(err, PVS_EINVAL, "no storage call number %d\n", c);
    }
}
