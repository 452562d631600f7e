/* rbd_mapped.c - the kernel RBD devices mapped on this host, as the kernel
 * lists them under /sys/devices/rbd (under the root setting), each with the
 * volume of a storage when one matches its pool and namespace.  Reads only:
 * pvestorage mapped, and what an operator compares with the guests. */
#include <stdlib.h>
#include <string.h>

#include "rbd.h"

/* the first rbd storage of cfg (file order) on pool/namespace, or NULL */
static const char *matching_storage(const json_t *cfg, const char *pool, const char *ns)
{
    const json_t *ids = json_object_get(cfg, "ids"), *order = json_object_get(cfg, "order");
    const char *best = NULL, *id;
    long long best_order = 0;
    json_t *scfg;
    json_object_foreach((json_t *)ids, id, scfg) {
        const char *p = pvs_scfg_str(scfg, "pool"), *n = pvs_scfg_str(scfg, "namespace");
        if (!pvs_scfg_str(scfg, "type") || strcmp(pvs_scfg_str(scfg, "type"), "rbd") != 0
            || strcmp(p ? p : "rbd", pool) != 0 || strcmp(n ? n : "", ns ? ns : "") != 0)
            continue;
        long long o = json_integer_value(json_object_get(order, id));
        if (!best || o < best_order)
            best = id, best_order = o;
    }
    return best;
}

static json_t *device_entry(pvs_ctx *ctx, const json_t *cfg, int id)
{
    char dev[32];
    snprintf(dev, sizeof dev, "/dev/rbd%d", id);
    char *pool = rbd_sysfs_line(ctx, id, "pool"), *ns = rbd_sysfs_line(ctx, id, "pool_ns"),
         *image = rbd_sysfs_line(ctx, id, "name"), *snap = rbd_sysfs_line(ctx, id, "current_snap"),
         *opts = rbd_map_options(ctx, id);
    if (ns && !*ns)
        free(ns), ns = NULL;
    if (snap && (!*snap || strcmp(snap, "-") == 0))
        free(snap), snap = NULL;
    const char *storeid = pool && image ? matching_storage(cfg, pool, ns) : NULL;
    json_t *o = json_pack("{s:s, s:i, s:o, s:o, s:o, s:o, s:o, s:o}", "device", dev, "id", id, "pool",
                          pvs_json_bytes(pool), "namespace", pvs_json_bytes(ns), "image", pvs_json_bytes(image),
                          "snapshot", pvs_json_bytes(snap), "options", pvs_json_bytes(opts), "volid",
                          storeid ? pvs_json_volid(storeid, NULL, image) : json_null());
    free(pool), free(ns), free(image), free(snap), free(opts);
    return o;
}

static int mapped_in(pvs_ctx *call, const json_t *cfg, json_t **out, pvs_error *err)
{
    size_t n;
    long long *ids = pvs_host_dir_numbers(call, "/sys/devices/rbd", "", 1 << 20, &n);
    if (!(*out = json_array())) {
        free(ids);
        return pvs_oom(err);
    }
    for (size_t i = 0; i < n; i++)
        json_array_append_new(*out, device_entry(call, cfg, (int)ids[i]));
    free(ids);
    return 0;
}

int pvs_mapped_devices(pvs_ctx *ctx, const json_t *cfg, json_t **out, pvs_error *err)
{
    *out = NULL;
    PVS_CALL(mapped_in(call, cfg, out, err));
}
