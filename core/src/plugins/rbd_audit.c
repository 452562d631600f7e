/* rbd_audit.c - every guest's kernel-mapped RBD volumes against what its
 * hints need (pvestorage audit): a Windows guest's disk mapped without
 * rxbounce is found, with the command that fixes it when that is safe (the
 * guest is not running).  A volume finds its device only through the rbd
 * plugin's parse_volname, as a map does.  Reads only. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../guest.h"
#include "rbd.h"

/* the kernel's view of an image: mapped (1) with its options, or not (0);
 * -1 with e set when it cannot be told */
static int kernel_view(pvs_ctx *ctx, const char *storeid, const json_t *scfg, const char *image, int *id,
                       char **opts, pvs_error *e)
{
    rbd_opts o;
    char fsid[37] = "";
    char *dev = NULL;
    int mapped = -1;
    if (rbd_opts_get(ctx, storeid, scfg, &o, e))
        return -1;
    if (rbd_cluster_fsid(ctx, storeid, scfg, &o, fsid, e) == 0 && (dev = rbd_dev_path(ctx, &o, fsid, image)))
        mapped = rbd_device_state(ctx, dev, id, e);
    if (mapped == 1)
        *opts = rbd_map_options(ctx, *id);
    free(dev);
    rbd_opts_clear(&o);
    return mapped < 0 ? -1 : mapped;
}

/* the image a volume of a krbd storage is, as its plugin's parse_volname
 * finds it (a linked clone's own name): 1 with *image, 0 for another kind
 * of storage, -1 with e set when the name does not parse */
static int krbd_image(pvs_ctx *ctx, const json_t *scfg, const char *storeid, const char *volname, char **image,
                      pvs_error *e)
{
    const char *type = pvs_scfg_str(scfg, "type");
    if (!type || strcmp(type, "rbd") != 0 || !pvs_scfg_bool(scfg, "krbd", 0))
        return 0;
    pvs_volname v = { 0 };
    const pvs_plugin *p = pvs_storage_plugin(ctx, storeid, scfg, e);
    int rc = !p ? -1 : pvs_plugin_parse_volname(p, volname, &v, e) ? -1 : (*image = strdup(v.name)) ? 1 : -1;
    if (rc < 0 && !e->message)
        pvs_oom(e);
    pvs_volname_clear(&v);
    return rc;
}

/* one krbd volume of a guest: its device and options, whether they give
 * what the guest's hints need, and what to do when they do not */
static json_t *audit_record(pvs_ctx *ctx, const json_t *scfg, const char *storeid, const char *image,
                            const char *key, const char *volid, int windows, int running, long long vmid)
{
    pvs_error e = PVS_ERROR_INIT;
    char *opts = NULL;
    int id = -1, mapped = kernel_view(ctx, storeid, scfg, image, &id, &opts, &e);
    int ok = mapped == 0 || (mapped == 1 && (!windows || (opts && rbd_has_option(opts, "rxbounce"))));
    json_t *rec = json_pack("{s:I, s:s, s:o, s:b, s:b, s:o, s:o, s:b}", "vmid", (json_int_t)vmid, "key", key, "volid",
                            pvs_json_bytes(volid), "windows", windows, "running", running,
                            "device", mapped == 1 ? json_sprintf("/dev/rbd%d", id) : json_null(), "options",
                            pvs_json_bytes(opts), "in_order", ok);
    json_t *cmd = !ok && mapped == 1 && !running
                      ? json_pack("[s, s, o, s, s, s, s]", "pvestorage", "map", pvs_json_bytes(volid),
                                  "--hint", "guest-is-windows=1", "--hint", "plugin-may-deactivate-volume=1")
                      : json_null();
    json_object_set_new(rec, "command", cmd);
    json_object_set_new(rec, "remedy", ok ? json_null()
                        : mapped < 0 ? json_string("the mapping could not be looked at (see error)")
                        : running ? json_string("mapped without rxbounce while the guest runs: remap it once the "
                                                "guest is shut down (the remap needs an unmap)")
                                  : json_string("mapped without rxbounce and the guest is not running: remap it "
                                                "with the command"));
    if (e.message)
        json_object_set_new(rec, "error", pvs_message_json(e.message));
    pvs_error_clear(&e);
    free(opts);
    return rec;
}

static void guest_error(json_t *errors, long long vmid, const char *key, const char *message)
{
    char *m = key ? pvs_asprintf("%s: %s", key, message) : NULL;
    json_array_append_new(errors, json_pack("{s:I, s:o}", "vmid", (json_int_t)vmid, "error",
                                            pvs_message_json(m ? m : message)));
    free(m);
}

/* a guest's volume: its record when it is on krbd, NULL otherwise; a name
 * its plugin does not parse is the guest's error (never pasted into a
 * device path: "../../../rbd0" would be another guest's device) */
static json_t *audit_volume(pvs_ctx *ctx, const json_t *cfg, const char *key, const char *volid, int windows,
                            int running, long long vmid, json_t *errors)
{
    char *storeid = NULL, *volname = NULL, *image = NULL;
    if (pvs_parse_volume_id(volid, &storeid, &volname, NULL))
        return NULL;
    const json_t *scfg = pvs_storage_config(cfg, storeid, NULL);
    pvs_error e = PVS_ERROR_INIT;
    json_t *rec = NULL;
    int krbd = scfg ? krbd_image(ctx, scfg, storeid, volname, &image, &e) : 0;
    if (krbd < 0)
        guest_error(errors, vmid, key, e.message);
    else if (krbd)
        rec = audit_record(ctx, scfg, storeid, image, key, volid, windows, running, vmid);
    pvs_error_clear(&e);
    free(image);
    free(storeid);
    free(volname);
    return rec;
}

static int audit_in(pvs_ctx *call, const json_t *cfg, json_t **out, pvs_error *err)
{
    size_t n;
    long long *ids = pvs_host_dir_numbers(call, "/etc/pve/qemu-server", ".conf", LLONG_MAX, &n);
    json_t *vols = json_array(), *errors = json_array();
    *out = json_pack("{s:o, s:o}", "volumes", vols, "guest_errors", errors);
    if (!*out) {
        free(ids);
        return pvs_oom(err);
    }
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *g = NULL, *v;
        pvs_error e = PVS_ERROR_INIT;
        int windows, running = pvs_guest_running(call, ids[i]);
        if (pvs_guest_audit_read(call, ids[i], running, &g, &windows, &e)) {   /* one guest's file: reported */
            guest_error(errors, ids[i], NULL, e.message ? e.message : "unknown error");
            pvs_error_clear(&e);
            continue;
        }
        size_t k;
        json_array_foreach(json_object_get(g, "volumes"), k, v) {
            json_t *rec = audit_volume(call, cfg, json_string_value(json_object_get(v, "key")),
                                       json_string_value(json_object_get(v, "volid")), windows, running, ids[i],
                                       errors);
            if (rec && !json_is_true(json_object_get(rec, "in_order")))
                bad++;
            if (rec)
                json_array_append_new(vols, rec);
        }
        json_decref(g);
    }
    free(ids);
    json_object_set_new(*out, "needs_action", json_integer((json_int_t)(bad + json_array_size(errors))));
    return 0;
}

int pvs_audit(pvs_ctx *ctx, const json_t *cfg, json_t **out, pvs_error *err)
{
    *out = NULL;
    PVS_CALL(audit_in(call, cfg, out, err));
}
