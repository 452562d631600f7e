/* guest_audit.c - every guest's volumes against its hints (pvestorage
 * audit): the guests and what their next start would pass (the hints
 * qemu-server computes, by the configuration a stopped guest starts with),
 * each volume's plugin asked through its audit_volume, and the remedy --
 * with the command that fixes it when that is safe (the guest is not
 * running).  Reads only. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

static void guest_error(json_t *errors, long long vmid, const char *key, const char *message)
{
    char *m = key ? pvs_asprintf("%s: %s", key, message) : NULL;
    json_array_append_new(errors, json_pack("{s:I, s:o}", "vmid", (json_int_t)vmid, "error",
                                            pvs_message_json(m ? m : message)));
    free(m);
}

/* `pvestorage map VOLID --hint NAME=1 ...`: the map that gives the volume
 * what the guest's hints need */
static json_t *fix_command(const char *volid, const json_t *hints)
{
    json_t *cmd = json_pack("[s, s, o]", "pvestorage", "map", pvs_json_bytes(volid));
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)hints, name, v) {
        char *arg = pvs_asprintf("%s=%d", name, json_is_true(v) || json_integer_value(v) ? 1 : 0);
        json_array_append_new(cmd, json_string("--hint"));
        json_array_append_new(cmd, arg ? json_string(arg) : json_null());
        free(arg);
    }
    return cmd;
}

static json_t *remedy(const json_t *f, int running)
{
    const char *problem = json_string_value(json_object_get(f, "problem"));
    if (json_is_true(json_object_get(f, "in_order")))
        return json_null();
    if (!problem)
        return json_string("the mapping could not be looked at (see error)");
    return running ? json_sprintf("%s while the guest runs: remap it once the guest is shut down (the remap "
                                  "needs an unmap)", problem)
                   : json_sprintf("%s and the guest is not running: remap it with the command", problem);
}

/* one volume's record: the guest's facts, then what its plugin found */
static json_t *audit_record(const json_t *f, const char *key, const char *volid, const json_t *hints, int running,
                            long long vmid)
{
    int ok = json_is_true(json_object_get(f, "in_order"));
    json_t *rec = json_pack("{s:I, s:s, s:o, s:b, s:b, s:O, s:O, s:b}", "vmid", (json_int_t)vmid, "key", key,
                            "volid", pvs_json_bytes(volid), "windows", pvs_hint_bool(hints, "guest-is-windows") == 1,
                            "running", running, "device", json_object_get(f, "device"), "options",
                            json_object_get(f, "options"), "in_order", ok);
    int fixable = !ok && json_is_true(json_object_get(f, "mapped")) && !running;
    json_object_set_new(rec, "command", fixable ? fix_command(volid, hints) : json_null());
    json_object_set_new(rec, "remedy", remedy(f, running));
    if (json_object_get(f, "error"))
        json_object_set(rec, "error", json_object_get(f, "error"));
    return rec;
}

/* a guest's volume: its record when its plugin has something to say,
 * NULL otherwise; a name its plugin does not parse is the guest's error
 * (never pasted into a device path: "../../../rbd0" would be another
 * guest's device) */
static json_t *audit_volume(pvs_ctx *ctx, const json_t *cfg, const char *key, const char *volid,
                            const json_t *hints, int running, long long vmid, json_t *errors)
{
    char *storeid = NULL, *volname = NULL;
    if (pvs_parse_volume_id(volid, &storeid, &volname, NULL))
        return NULL;
    const json_t *scfg = pvs_storage_config(cfg, storeid, NULL);
    const pvs_plugin *p = scfg ? pvs_storage_plugin(ctx, storeid, scfg, NULL) : NULL;
    pvs_error e = PVS_ERROR_INIT;
    json_t *f = NULL, *rec = NULL;
    if (p && PVS_PLUGIN_HAS(p, audit_volume) && p->audit_volume
        && p->audit_volume(ctx, p, storeid, scfg, volname, hints, &f, &e))
        guest_error(errors, vmid, key, e.message ? e.message : "unknown error\n");
    else if (f)
        rec = audit_record(f, key, volid, hints, running, vmid);
    json_decref(f);
    pvs_error_clear(&e);
    free(storeid);
    free(volname);
    return rec;
}

/* one guest: its volumes' records, counted in *bad when not in order */
static void audit_guest(pvs_ctx *call, const json_t *cfg, long long vmid, json_t *vols, json_t *errors, size_t *bad)
{
    json_t *g = NULL, *hints = NULL, *v;
    pvs_error e = PVS_ERROR_INIT;
    int running = pvs_guest_running(call, vmid);
    if (pvs_guest_audit_read(call, vmid, running, &g, &hints, &e)) {   /* one guest's file: reported */
        guest_error(errors, vmid, NULL, e.message ? e.message : "unknown error");
        pvs_error_clear(&e);
        return;
    }
    size_t k;
    json_array_foreach(json_object_get(g, "volumes"), k, v) {
        json_t *rec = audit_volume(call, cfg, json_string_value(json_object_get(v, "key")),
                                   json_string_value(json_object_get(v, "volid")), hints, running, vmid, errors);
        if (rec && !json_is_true(json_object_get(rec, "in_order")))
            (*bad)++;
        if (rec)
            json_array_append_new(vols, rec);
    }
    json_decref(hints);
    json_decref(g);
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
    for (size_t i = 0; i < n; i++)
        audit_guest(call, cfg, ids[i], vols, errors, &bad);
    free(ids);
    json_object_set_new(*out, "needs_action", json_integer((json_int_t)(bad + json_array_size(errors))));
    return 0;
}

int pvs_audit(pvs_ctx *ctx, const json_t *cfg, json_t **out, pvs_error *err)
{
    *out = NULL;
    PVS_CALL(audit_in(call, cfg, out, err));
}
