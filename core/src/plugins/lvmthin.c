/* lvmthin.c - LVM thin pools as upstream's LvmThinPlugin.pm (pve-storage
 * 9.1.7) drives them: the pool and each volume activated once (the call's
 * one lvs listing tells what is active already); only snapshots and base
 * volumes deactivated; the rest is the lvm plugin's (lvm.c). */
#include <stdlib.h>
#include <string.h>

#include "lvm.h"

static int thin_parse_volname(const pvs_plugin *self, const char *volname, pvs_volname *out, pvs_error *err)
{
    (void)self;
    memset(out, 0, sizeof *out);
    if (lvm_check_name(volname, err))
        return PVS_EINVAL;
    char owner[32];
    int base = strncmp(volname, "base-", 5) == 0;
    if (!lvm_owner(volname, 1, owner, sizeof owner) || !volname[(base ? 5 : 3) + strlen(owner) + 1])
        return pvs_fail(err, PVS_EINVAL, "unable to parse lvm volume name '%s'\n", volname);
    return lvm_volname(volname, owner, base, "raw", out, err);   /* raw, whatever the suffix */
}

static int thin_path(pvs_ctx *ctx, const pvs_plugin *self, const json_t *scfg, const char *volname,
                     const char *storeid, const char *snapname, char **path, pvs_error *err)
{
    (void)storeid;
    return lvm_device_path(ctx, self, scfg, volname, snapname, 1, path, err);
}

/* upstream's $activate_lv: an LV of the call's listing, activated (-K:
 * also when it skips activation, as snapshots and base volumes do) unless
 * the listing shows it active */
static int activate_lv(pvs_ctx *ctx, const char *vg, const char *lv, pvs_error *err)
{
    json_t *lvs = lvm_lvs(ctx, err);
    if (!lvs)
        return err ? err->code : PVS_ENOMEM;
    json_t *info = json_object_get(json_object_get(lvs, vg), lv);
    if (!info)
        return pvs_fail(err, PVS_ENOENT, "no such logical volume %s/%s\n", vg, lv);
    const char *state = json_string_value(json_object_get(info, "lv_state"));
    if (state && strcmp(state, "a") == 0)
        return 0;
    char *target = pvs_asprintf("%s/%s", vg, lv), *errmsg = pvs_asprintf("activating LV '%s/%s' failed", vg, lv);
    const char *argv[] = { "lvchange", "-ay", "-K", target, NULL };
    int rc = target && errmsg ? lvm_run(ctx, argv, errmsg, err) : pvs_oom(err);
    if (!rc)
        json_object_set_new(info, "lv_state", json_string("a"));   /* what the call knows now */
    free(target);
    free(errmsg);
    return rc;
}

static int thin_activate_storage(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                                 pvs_error *err)
{
    int rc = lvm_activate_storage(ctx, self, storeid, scfg, err);
    return rc ? rc : activate_lv(ctx, lvm_vg(scfg), pvs_scfg_str(scfg, "thinpool"), err);
}

/* the LV of a volume or its snapshot (snapshots are named by Perl truth) */
static char *thin_lv(const char *volname, const char *snapname)
{
    return lvm_snap_true(snapname) ? pvs_asprintf("snap_%s_%s", volname, snapname) : strdup(volname);
}

static int thin_activate_volume(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                                const char *volname, const char *snapname, const json_t *hints, pvs_error *err)
{
    (void)self, (void)storeid, (void)hints;
    char *lv = thin_lv(volname, snapname);
    int rc = lv ? activate_lv(ctx, lvm_vg(scfg), lv, err) : pvs_oom(err);
    free(lv);
    return rc;
}

/* only snapshots and base volumes: the others are kept active */
static int thin_deactivate_volume(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                                  const char *volname, const char *snapname, pvs_error *err)
{
    (void)self, (void)storeid;
    if (!lvm_snap_true(snapname) && strncmp(volname, "base-", 5) != 0)
        return 0;
    const char *vg = lvm_vg(scfg);
    char *lv = thin_lv(volname, snapname), *target = lv ? pvs_asprintf("%s/%s", vg, lv) : NULL;
    char *errmsg = target ? pvs_asprintf("deactivate_volume '%s' error", target) : NULL;
    const char *argv[] = { "lvchange", "-an", target, NULL };
    int rc = errmsg ? lvm_run(ctx, argv, errmsg, err) : pvs_oom(err);
    json_t *cache = pvs_call_cache(ctx);
    json_t *info = cache && lv ? json_object_get(json_object_get(json_object_get(cache, "lvs"), vg), lv) : NULL;
    if (!rc && info)
        json_object_set_new(info, "lv_state", json_string("-"));
    free(errmsg);
    free(target);
    free(lv);
    return rc;
}

/* the pool's size and use (its data; metadata is not counted) */
static int thin_status(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                       pvs_storage_usage *u, pvs_error *err)
{
    (void)self, (void)storeid;
    json_t *lvs = lvm_lvs(ctx, err);
    if (!lvs)
        return err ? err->code : PVS_ENOMEM;
    json_t *vg = json_object_get(lvs, lvm_vg(scfg));
    json_t *pool = vg ? json_object_get(vg, pvs_scfg_str(scfg, "thinpool")) : NULL;
    const char *type = json_string_value(json_object_get(pool, "lv_type"));
    long long size = json_integer_value(json_object_get(pool, "lv_size"));
    if (!vg || !pool || !type || strcmp(type, "t") != 0 || !size) {   /* upstream's empty list: not active */
        pvs_fail(err, PVS_ESTORAGE, !vg ? "volume group '%s' not found\n" : "no thin pool '%s/%s'\n",
                 lvm_vg(scfg), pvs_scfg_str(scfg, "thinpool"));
        return 0;
    }
    const char *state = json_string_value(json_object_get(pool, "lv_state"));
    u->total = size;
    u->used = json_integer_value(json_object_get(pool, "used"));
    u->avail = size - u->used;
    u->active = state && strcmp(state, "a") == 0;
    if (!u->active)
        pvs_fail(err, PVS_ESTORAGE, "thin pool '%s/%s' is not active\n", lvm_vg(scfg), pvs_scfg_str(scfg, "thinpool"));
    return 0;
}

/* upstream's list_images: vm- and base- thin volumes of the pool */
static int thin_list_volumes(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                             long long vmid, json_t **out, pvs_error *err)
{
    (void)self;
    json_t *lvs = lvm_lvs(ctx, err), *info;
    if (!lvs)
        return err ? err->code : PVS_ENOMEM;
    if (!(*out = json_array()))
        return pvs_oom(err);
    const char *lv, *pool = pvs_scfg_str(scfg, "thinpool");
    json_object_foreach(json_object_get(lvs, lvm_vg(scfg)), lv, info) {
        const char *type = json_string_value(json_object_get(info, "lv_type"));
        const char *in = json_string_value(json_object_get(info, "pool_lv"));
        char owner[32];
        if (lvm_owner(lv, 1, owner, sizeof owner) && type && strcmp(type, "V") == 0 && in && pool
            && strcmp(in, pool) == 0 && lvm_wanted(owner, vmid))
            json_array_append_new(*out, lvm_list_entry(ctx, storeid, lv, owner, info));
    }
    return 0;
}

static const pvs_property thin_properties[] = {
    PVS_PROP("thinpool", "string", .format = "pve-storage-vgname"),
    PVS_PROPS_END,
};
static const pvs_plugin_option thin_options[] = {
    PVS_FIXED("thinpool"), PVS_FIXED("vgname"), PVS_OPT("nodes"), PVS_OPT("disable"),
    PVS_OPT("content"), PVS_OPT("bwlimit"), PVS_OPTIONS_END,
};
static const char *const thin_content[] = { "images", "rootdir", NULL };

const pvs_plugin pvs_lvmthin_plugin = {
    PVS_NODE_PLUGIN("lvmthin"),
    .options = thin_options, .content_valid = thin_content, .content_default = thin_content,
    .properties = thin_properties,   /* no format option */
    /* LvmThinPlugin's methods; deactivate_storage is LVMPlugin's */
    .parse_volname = thin_parse_volname, .path = thin_path,
    .activate_storage = thin_activate_storage, .deactivate_storage = lvm_deactivate_storage,
    .activate_volume = thin_activate_volume, .deactivate_volume = thin_deactivate_volume,
    .status = thin_status, .list_volumes = thin_list_volumes,
};
