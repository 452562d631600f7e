/* iscsidirect.c - the iscsidirect plugin as upstream's
 * ISCSIDirectPlugin.pm (pve-storage 9.1.7): QEMU reaches the LUNs itself
 * through libiscsi (iscsi://PORTAL/TARGET/LUN), nothing is activated on
 * the node, and the LUNs are listed by libiscsi's iscsi-ls. */
#include <stdlib.h>
#include <string.h>

#include "iscsi.h"

#define SNAPSHOT_ERROR "volume snapshot is not possible on iscsi device\n"

static int snap_true(const char *snapname)   /* Perl truth */
{
    return snapname && *snapname && strcmp(snapname, "0") != 0;
}

/* lunN: ^lun(\d+)$, the name being N as written */
static int direct_parse_volname(const pvs_plugin *self, const char *volname, pvs_volname *out, pvs_error *err)
{
    (void)self;
    memset(out, 0, sizeof *out);
    size_t d = strncmp(volname, "lun", 3) ? 0 : strspn(volname + 3, "0123456789");
    if (!d || volname[3 + d])
        return pvs_fail(err, PVS_EINVAL, "unable to parse iscsi volume name '%s'\n", volname);
    return iscsi_volname(volname, volname + 3, d, out, err);
}

static int direct_path(pvs_ctx *ctx, const pvs_plugin *self, const json_t *scfg, const char *volname,
                       const char *storeid, const char *snapname, char **path, pvs_error *err)
{
    (void)storeid;
    if (snapname)
        return pvs_fail(err, PVS_EINVAL, SNAPSHOT_ERROR);
    pvs_volname v;
    int rc = pvs_plugin_parse_volname_in(ctx, self, volname, &v, err);
    if (rc)
        return rc;
    const char *portal = pvs_scfg_str(scfg, "portal"), *target = pvs_scfg_str(scfg, "target");
    *path = pvs_asprintf("iscsi://%s/%s/%s", portal ? portal : "", target ? target : "", v.name);
    pvs_volname_clear(&v);
    return *path ? 0 : pvs_oom(err);
}

/* nothing to do on the node; only a snapshot is refused */
static int direct_activate_volume(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                                  const char *volname, const char *snapname, const json_t *hints, pvs_error *err)
{
    (void)ctx, (void)self, (void)storeid, (void)scfg, (void)volname, (void)hints;
    return snap_true(snapname) ? pvs_fail(err, PVS_EINVAL, SNAPSHOT_ERROR) : 0;
}

static int direct_deactivate_volume(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                                    const char *volname, const char *snapname, pvs_error *err)
{
    return direct_activate_volume(ctx, self, storeid, scfg, volname, snapname, NULL, err);
}

/* always there (upstream cannot tell): no sizes, active */
static int direct_status(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                         pvs_storage_usage *u, pvs_error *err)
{
    (void)ctx, (void)self, (void)storeid, (void)scfg, (void)err;
    memset(u, 0, sizeof *u);
    u->active = 1;
    return 0;
}

/* ---- iscsi-ls ---- */

static int blank(char c)   /* Perl's \s */
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static size_t blanks(const char *s)
{
    size_t n = 0;
    while (blank(s[n]))
        n++;
    return n;
}

/* Lun:(\d+)\s+([A-Za-z0-9\-\_\.\:]*)\s+\(Size:([0-9\.]*)(k|M|G|T)\) at p:
 * the LUN's digits (*lun, *lunlen) and its size in bytes */
static int lun_at(const char *p, const char **lun, size_t *lunlen, double *size)
{
    static const char name_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:";
    if (strncmp(p, "Lun:", 4))
        return 0;
    size_t d = strspn(p + 4, "0123456789"), b1 = d ? blanks(p + 4 + d) : 0;
    const char *q = p + 4 + d + b1;
    size_t nm = strspn(q, name_chars), b2 = blanks(q + nm);
    if (!b1 || (!nm && b1 < 2) || (nm && !b2))
        return 0;   /* an empty name needs two blanks: one on each side */
    q += nm + b2;
    if (strncmp(q, "(Size:", 6))
        return 0;
    size_t num = strspn(q + 6, "0123456789.");
    const char *unit = strchr("kMGT", q[6 + num]);
    if (!q[6 + num] || !unit || q[7 + num] != ')')
        return 0;
    *lun = p + 4;
    *lunlen = d;
    *size = strtod(q + 6, NULL) * (double)(1ULL << (10 * (unit - "kMGT" + 1)));
    return 1;
}

/* one line of iscsi-ls -s: { lunN: { name, size, format } } (the last
 * LUN of a number counts) */
static void ls_line(const char *line, size_t n, void *data)
{
    char *buf = strndup(line, n);
    for (const char *p = buf ? strstr(buf, "Lun:") : NULL; p; p = strstr(p + 1, "Lun:")) {
        const char *lun;
        size_t d;
        double size;
        if (!lun_at(p, &lun, &d, &size))
            continue;
        char *name = pvs_asprintf("lun%.*s", (int)d, lun);
        if (name)   /* bytes: whole ones (upstream's product may have a fraction) */
            json_object_set_new(data, name, json_pack("{s:s, s:I, s:s}", "name", name, "size", (json_int_t)size,
                                                      "format", "raw"));
        free(name);
        break;
    }
    free(buf);
}

/* iscsi_ls: every LUN behind the portal (of every target there), or NULL
 * with the error; a LUN that is not ready (TESTUNITREADY failed with
 * SENSE KEY) ends the listing without failing it */
static json_t *iscsi_ls(pvs_ctx *ctx, const json_t *scfg, pvs_error *err)
{
    const char *portal = pvs_scfg_str(scfg, "portal");
    char *url = pvs_asprintf("iscsi://%s", portal ? portal : "");
    const char *argv[] = { "/usr/bin/iscsi-ls", "-s", url, NULL };
    pvs_command_opts o = { .errmsg = "iscsi error", .reads = 1, .quiet = 1 };
    char *out = NULL;
    pvs_error e = PVS_ERROR_INIT;
    int rc = url ? pvs_command(ctx, argv, &o, &out, &e) : pvs_oom(&e);
    json_t *list = NULL;
    if (rc && (!e.message || !strstr(e.message, "TESTUNITREADY failed with SENSE KEY")))
        pvs_error_move(err, &e);
    else if (!(list = json_object()))
        pvs_oom(err);
    else if (out)
        pvs_split_lines(out, ls_line, list);
    pvs_error_clear(&e);
    free(out);
    free(url);
    return list;
}

static int has_images(const json_t *scfg)
{
    return pvs_scfg_bool(json_object_get(scfg, "content"), "images", 0);
}

/* the base's list_volumes over list_images: the LUNs for the images
 * content (no guest owns one: none for a guest's listing) */
static int direct_list_volumes(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                               long long vmid, json_t **out, pvs_error *err)
{
    (void)self;
    json_t *luns = has_images(scfg) ? iscsi_ls(ctx, scfg, err) : json_object(), *info;
    if (!luns)
        return err && err->code ? err->code : pvs_oom(err);
    if (!(*out = json_array())) {
        json_decref(luns);
        return pvs_oom(err);
    }
    const char *name;
    json_object_foreach(luns, name, info) {
        if (vmid >= 0)
            break;
        json_object_set_new(info, "volid", pvs_json_volid(storeid, NULL, name));
        json_object_set_new(info, "content", json_string("images"));
        json_array_append(*out, info);
    }
    json_decref(luns);
    return 0;
}

const pvs_plugin pvs_iscsidirect_plugin = {
    PVS_NODE_PLUGIN("iscsidirect"),
    .shared = 1,
    .options = iscsi_options, .content_valid = iscsi_content, .content_default = iscsi_content_default,
    /* ISCSIDirectPlugin's methods; (de)activate_storage do nothing, map is
     * the path (the URL), unmap nothing */
    .parse_volname = direct_parse_volname, .path = direct_path,
    .activate_volume = direct_activate_volume, .deactivate_volume = direct_deactivate_volume,
    .status = direct_status, .list_volumes = direct_list_volumes,
};
