/* lvm.c - LVM as upstream's LVMPlugin.pm (pve-storage 9.1.7) drives it:
 * the call's one vgs and lvs listing, and the lvm plugin (a volume group;
 * raw volumes, or qcow2 volume chains with snapshot-as-volume-chain).
 * Every command runs with upstream's argv and messages through the core's
 * runner (command.c); lvmthin builds on what is here (lvmthin.c). */
#include <stdlib.h>
#include <string.h>

#include "lvm.h"

/* ---- names ---- */

static int alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int lvm_check_name(const char *name, pvs_error *err)
{
    size_t n = strlen(name);
    int ok = n >= 2 && alnum(name[0]) && alnum(name[n - 1]);
    for (size_t i = 1; ok && i + 1 < n; i++)
        ok = alnum(name[i]) || name[i] == '-' || name[i] == '_' || name[i] == '.';
    return ok ? 0 : pvs_fail(err, PVS_EINVAL, "lvm name '%s' contains illegal characters\n", name);
}

int lvm_snap_true(const char *snapname)
{
    return snapname && *snapname && strcmp(snapname, "0") != 0;
}

const char *lvm_vg(const json_t *scfg)
{
    return pvs_scfg_str(scfg, "vgname");
}

/* ---- the listings ---- */

static long long num(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}

/* a line of vgs or lvs, trimmed and split at ':' (at most max fields) */
static int fields(const char *line, size_t n, char *buf, char **f, int max)
{
    while (n && (*line == ' ' || *line == '\t'))
        line++, n--;
    while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    memcpy(buf, line, n);
    buf[n] = '\0';
    int k = 0;
    for (char *p = buf; n && k < max;) {
        f[k++] = p;
        char *c = strchr(p, ':');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    return k;
}

static void vgs_line(const char *line, size_t n, void *data)
{
    char *buf = malloc(n + 1), *f[4];
    int k = buf ? fields(line, n, buf, f, 4) : 0;
    if (k && *f[0] && !json_object_get(data, f[0]))   /* the first row of a VG counts */
        json_object_set_new(data, f[0], json_pack("{s:I, s:I, s:I}", "size", num(k > 1 ? f[1] : NULL), "free",
                                                  num(k > 2 ? f[2] : NULL), "lvcount", num(k > 3 ? f[3] : NULL)));
    free(buf);
}

/* the call's listing under key (upstream's $cache): argv run once per
 * call, each line of its output given to line; a failed run is only
 * warned when tolerated (what it listed still counts), else its error */
static json_t *listing(pvs_ctx *ctx, const char *key, const char *const *argv,
                       void (*line)(const char *, size_t, void *), int tolerated, pvs_error *err)
{
    json_t *cache = pvs_call_cache(ctx), *l = cache ? json_object_get(cache, key) : NULL;
    if (l || !cache)
        return l ? l : (pvs_oom(err), NULL);
    pvs_command_opts o = { .reads = 1, .no_medium = 1 };
    char *out = NULL;
    pvs_error e = PVS_ERROR_INIT;
    int rc = pvs_command(ctx, argv, &o, &out, &e);
    if (rc && tolerated)
        pvs_warn(ctx, "%s", e.message ? e.message : "listing failed\n");
    else if (rc)
        pvs_error_move(err, &e);
    pvs_error_clear(&e);
    l = rc && !tolerated ? NULL : json_object();
    if (l && out)
        pvs_split_lines(out, line, l);
    free(out);
    if ((!rc || tolerated) && (!l || json_object_set_new(cache, key, l)))
        return pvs_oom(err), NULL;
    return l;
}

json_t *lvm_vgs(pvs_ctx *ctx, pvs_error *err)
{
    static const char *const argv[] = { "/sbin/vgs", "--separator", ":", "--noheadings", "--units", "b",
                                        "--unbuffered", "--nosuffix", "--options",
                                        "vg_name,vg_size,vg_free,lv_count", NULL };
    return listing(ctx, "vgs", argv, vgs_line, 1, err);   /* vgs exits 5 without clvmd and still lists */
}

/* lvs' 12 fields; tags may hold ':' (LVM allows it): the fields after
 * them are taken from the end */
enum { LV_VG, LV_NAME, LV_SIZE, LV_ATTR, LV_POOL, LV_DATA, LV_META, LV_SNAP, LV_UUID, LV_TAGS, LV_MSIZE, LV_TIME,
       LV_NFIELDS };

static json_t *lv_entry(char **f)
{
    const char *attr = f[LV_ATTR] ? f[LV_ATTR] : "";
    size_t al = strlen(attr);
    char type[2] = { al > 0 ? attr[0] : '\0', 0 }, state[2] = { al > 4 ? attr[4] : '\0', 0 };
    long long size = num(f[LV_SIZE]);
    json_t *o = json_pack("{s:I, s:s, s:s}", "lv_size", size, "lv_state", state, "lv_type", type);
    if (o && f[LV_POOL] && *f[LV_POOL] && strcmp(f[LV_POOL], "0"))
        json_object_set_new(o, "pool_lv", json_string(f[LV_POOL]));
    if (o && f[LV_TAGS] && *f[LV_TAGS] && strcmp(f[LV_TAGS], "0"))
        json_object_set_new(o, "tags", json_string(f[LV_TAGS]));
    if (o && f[LV_TIME] && *f[LV_TIME])
        json_object_set_new(o, "ctime", json_integer(num(f[LV_TIME])));
    if (o && type[0] == 't') {   /* a thin pool: what it holds */
        double data = f[LV_DATA] ? strtod(f[LV_DATA], NULL) : 0, meta = f[LV_META] ? strtod(f[LV_META], NULL) : 0;
        long long msize = num(f[LV_MSIZE]);
        json_object_update_new(o, json_pack("{s:I, s:I, s:I}", "metadata_size", msize, "metadata_used",
                                            (json_int_t)(meta * (double)msize / 100), "used",
                                            (json_int_t)(data * (double)size / 100)));
    }
    return o;
}

static void lvs_line(const char *line, size_t n, void *data)
{
    char *buf = malloc(n + 1), *raw[64], *f[LV_NFIELDS] = { 0 };
    int k = buf ? fields(line, n, buf, raw, 64) : 0;
    for (int i = 0; i < k && i < LV_TAGS; i++)
        f[i] = raw[i];
    if (k > LV_NFIELDS) {   /* tags with ':': put back together */
        for (int i = LV_TAGS + 1; i < k - 2; i++)
            raw[i][-1] = ':';
        f[LV_TAGS] = raw[LV_TAGS], f[LV_MSIZE] = raw[k - 2], f[LV_TIME] = raw[k - 1];
    } else {
        for (int i = LV_TAGS; i < k; i++)
            f[i] = raw[i];
    }
    if (k > LV_NAME && *f[LV_VG] && strcmp(f[LV_VG], "0") && *f[LV_NAME] && strcmp(f[LV_NAME], "0")) {
        json_t *vg = json_object_get(data, f[LV_VG]);
        if (!vg)
            json_object_set_new(data, f[LV_VG], vg = json_object());
        json_object_set_new(vg, f[LV_NAME], lv_entry(f));
    }
    free(buf);
}

json_t *lvm_lvs(pvs_ctx *ctx, pvs_error *err)
{
    static const char *const argv[] = {
        "/sbin/lvs", "--separator", ":", "--noheadings", "--units", "b", "--unbuffered", "--nosuffix", "--config",
        "report/time_format=\"%s\"", "--options",
        "vg_name,lv_name,lv_size,lv_attr,pool_lv,data_percent,metadata_percent,snap_percent,uuid,tags,metadata_size,"
        "time",
        NULL
    };
    return listing(ctx, "lvs", argv, lvs_line, 0, err);
}

int lvm_run(pvs_ctx *ctx, const char *const *argv, const char *errmsg, pvs_error *err)
{
    pvs_command_opts o = { .errmsg = errmsg };
    return pvs_command(ctx, argv, &o, NULL, err);
}

json_t *lvm_list_entry(pvs_ctx *ctx, const char *storeid, const char *lv, const char *owner, const json_t *info)
{
    json_t *o = json_pack("{s:o, s:s, s:s, s:O, s:I}", "volid", pvs_json_volid(storeid, NULL, lv), "content",
                          pvs_image_content(ctx, owner), "format", "raw", "size",
                          json_object_get(info, "lv_size"), "vmid", num(owner));
    json_t *ctime = json_object_get(info, "ctime");
    if (o && ctime)
        json_object_set(o, "ctime", ctime);
    return o;
}

int lvm_owner(const char *lv, int base_too, char *owner, size_t size)
{
    size_t p = strncmp(lv, "vm-", 3) == 0 ? 3 : base_too && strncmp(lv, "base-", 5) == 0 ? 5 : 0;
    size_t d = p ? strspn(lv + p, "0123456789") : 0;
    if (!d || lv[p + d] != '-' || d >= size)
        return 0;
    snprintf(owner, size, "%.*s", (int)d, lv + p);
    return 1;
}

int lvm_wanted(const char *owner, long long vmid)
{
    char want[32];
    snprintf(want, sizeof want, "%lld", vmid);
    return vmid < 0 || strcmp(owner, want) == 0;   /* upstream compares the strings */
}

/* ---- the lvm plugin ---- */

int lvm_volname(const char *volname, const char *owner, int base, const char *format, pvs_volname *out,
                pvs_error *err)
{
    out->vtype = strdup("images");
    out->name = strdup(volname);
    out->vmid = strdup(owner);
    out->isbase = base ? strdup("base") : NULL;
    out->format = strdup(format);
    if (!out->vtype || !out->name || !out->vmid || !out->format || (base && !out->isbase)) {
        pvs_volname_clear(out);
        return pvs_oom(err);
    }
    return 0;
}

static int lvm_parse_volname(const pvs_plugin *self, const char *volname, pvs_volname *out, pvs_error *err)
{
    (void)self;
    memset(out, 0, sizeof *out);
    if (lvm_check_name(volname, err))
        return PVS_EINVAL;
    char owner[32];
    if (!lvm_owner(volname, 0, owner, sizeof owner) || !volname[3 + strlen(owner) + 1])
        return pvs_fail(err, PVS_EINVAL, "unable to parse lvm volume name '%s'\n", volname);
    size_t n = strlen(volname);
    int qcow2 = n > 6 && strcmp(volname + n - 6, ".qcow2") == 0;
    return lvm_volname(volname, owner, 0, qcow2 ? "qcow2" : "raw", out, err);
}

/* /dev/VG/NAME.  A snapshot: on lvmthin /dev/VG/snap_NAME_SNAP (any snapshot
 * name that is set); on lvm only a qcow2 chain's, snap_NAME-WITHOUT-EXT_SNAP.qcow2
 * for a Perl-true name other than "current" (the volume itself) */
int lvm_device_path(pvs_ctx *ctx, const pvs_plugin *self, const json_t *scfg, const char *volname,
                    const char *snapname, int thin, char **path, pvs_error *err)
{
    pvs_volname v;
    int rc = pvs_plugin_parse_volname_in(ctx, self, volname, &v, err);
    if (rc)
        return rc;
    if (!thin && snapname && strcmp(v.format, "qcow2") != 0) {
        pvs_volname_clear(&v);
        return pvs_fail(err, PVS_EINVAL, "snapshot is working with qcow2 format only\n");
    }
    const char *vg = lvm_vg(scfg);
    if (thin && snapname) {
        *path = pvs_asprintf("/dev/%s/snap_%s_%s", vg, v.name, snapname);
    } else if (!thin && lvm_snap_true(snapname) && strcmp(snapname, "current") != 0) {
        char *dot = strrchr(v.name, '.');
        int stem = dot && dot != v.name ? (int)(dot - v.name) : (int)strlen(v.name);
        *path = pvs_asprintf("/dev/%s/snap_%.*s_%s.qcow2", vg, stem, v.name, snapname);
    } else {
        *path = pvs_asprintf("/dev/%s/%s", vg, v.name);
    }
    pvs_volname_clear(&v);
    return *path ? 0 : pvs_oom(err);
}

static int lvm_path(pvs_ctx *ctx, const pvs_plugin *self, const json_t *scfg, const char *volname,
                    const char *storeid, const char *snapname, char **path, pvs_error *err)
{
    (void)storeid;
    return lvm_device_path(ctx, self, scfg, volname, snapname, 0, path, err);
}

int lvm_activate_storage(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                         pvs_error *err)
{
    (void)self, (void)storeid;
    json_t *vgs = lvm_vgs(ctx, err), *cache = pvs_call_cache(ctx);
    if (!vgs)
        return err ? err->code : PVS_ENOMEM;
    /* a volume group not seen: scan for it, once per call */
    if (json_object_get(cache, "vgscaned") || json_object_get(vgs, lvm_vg(scfg)))
        return 0;
    json_object_set_new(cache, "vgscaned", json_true());
    static const char *const argv[] = { "/sbin/vgscan", "--ignorelockingfailure", "--mknodes", NULL };
    pvs_command_opts o = { 0 };
    pvs_error e = PVS_ERROR_INIT;
    int rc = pvs_command(ctx, argv, &o, NULL, &e);
    if (rc == PVS_EINTR)
        pvs_error_move(err, &e);
    else if (rc)
        pvs_warn(ctx, "%s", e.message ? e.message : "vgscan failed\n");
    pvs_error_clear(&e);
    return rc == PVS_EINTR ? rc : 0;
}

int lvm_deactivate_storage(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                           pvs_error *err)
{
    (void)self, (void)storeid;
    const char *vg = lvm_vg(scfg);
    const char *argv[] = { "/sbin/vgchange", "-aln", vg, NULL };
    char *errmsg = pvs_asprintf("can't deactivate VG '%s'", vg);
    int rc = errmsg ? lvm_run(ctx, argv, errmsg, err) : pvs_oom(err);
    free(errmsg);
    return rc;
}

/* what lvchange selects: the volume, or a qcow2 volume's whole chain of
 * snapshots in this volume group (--select, upstream's fix #7143) */
typedef struct lvm_target {
    char *select;        /* the --select filter, or NULL: the path */
    char *what;          /* for messages */
} lvm_target;

static int target_of(pvs_ctx *ctx, const pvs_plugin *self, const json_t *scfg, const char *volname,
                     const char *path, lvm_target *t, pvs_error *err)
{
    memset(t, 0, sizeof *t);
    pvs_volname v;
    int rc = pvs_plugin_parse_volname_in(ctx, self, volname, &v, err);
    if (rc)
        return rc;
    if (strcmp(v.format, "qcow2") == 0) {
        size_t n = strlen(v.name);
        if (n > 6 && strcmp(v.name + n - 6, ".qcow2") == 0)
            v.name[n - 6] = '\0';
        strbuf re;
        sb_init(&re);
        for (const char *p = v.name; *p; p++)
            sb_add(&re, *p == '.' ? "\\." : (char[]){ *p, 0 });
        char *name_re = sb_take(&re);
        t->select = name_re ? pvs_asprintf("vg_name = \"%s\" && lv_name =~ '^(%s|snap_%s_.+)\\.qcow2$'",
                                           lvm_vg(scfg), name_re, name_re) : NULL;
        t->what = pvs_asprintf("volume chain for LV '%s'", path);
        free(name_re);
        rc = t->select && t->what ? 0 : pvs_oom(err);
    } else {
        t->what = pvs_asprintf("LV '%s'", path);
        rc = t->what ? 0 : pvs_oom(err);
    }
    pvs_volname_clear(&v);
    return rc;
}

/* lvchange FLAG TARGET with the errmsg "can't VERB TARGET[ SUFFIX]" */
static int lvchange(pvs_ctx *ctx, const char *flag, const char *path, const lvm_target *t, const char *verb,
                    const char *suffix, pvs_error *err)
{
    const char *argv[] = { "/sbin/lvchange", flag, t->select ? "--select" : path, t->select, NULL };
    char *errmsg = pvs_asprintf("can't %s %s%s", verb, t->what, suffix);
    int rc = errmsg ? lvm_run(ctx, argv, errmsg, err) : pvs_oom(err);
    free(errmsg);
    return rc;
}

/* activate: lvchange -aey, then --refresh; deactivate: lvchange -aln, if
 * the device is there at all */
static int lvm_volume_change(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                             const char *volname, const char *snapname, int activate, pvs_error *err)
{
    char *path = NULL;
    int rc = lvm_path(ctx, self, scfg, volname, storeid, snapname, &path, err);
    if (rc || (!activate && !pvs_host_is_block(ctx, path))) {
        free(path);
        return rc;
    }
    lvm_target t;
    rc = target_of(ctx, self, scfg, volname, path, &t, err);
    if (!rc && activate && !(rc = lvchange(ctx, "-aey", path, &t, "activate", "", err)))
        rc = lvchange(ctx, "--refresh", path, &t, "refresh", " for activation", err);
    else if (!rc && !activate)
        rc = lvchange(ctx, "-aln", path, &t, "deactivate", "", err);
    free(t.select);
    free(t.what);
    free(path);
    return rc;
}

static int lvm_activate_volume(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                               const char *volname, const char *snapname, const json_t *hints, pvs_error *err)
{
    (void)hints;   /* LVM needs none */
    return lvm_volume_change(ctx, self, storeid, scfg, volname, snapname, 1, err);
}

static int lvm_deactivate_volume(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                                 const char *volname, const char *snapname, pvs_error *err)
{
    return lvm_volume_change(ctx, self, storeid, scfg, volname, snapname, 0, err);
}

/* the volume group's size and free space */
static int lvm_status(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                      pvs_storage_usage *u, pvs_error *err)
{
    (void)self, (void)storeid;
    json_t *vgs = lvm_vgs(ctx, err), *vg = vgs ? json_object_get(vgs, lvm_vg(scfg)) : NULL;
    if (!vgs)
        return err ? err->code : PVS_ENOMEM;
    if (!vg) {   /* upstream's undef: not active */
        pvs_fail(err, PVS_ESTORAGE, "volume group '%s' not found\n", lvm_vg(scfg));
        return 0;
    }
    u->total = json_integer_value(json_object_get(vg, "size"));
    u->avail = json_integer_value(json_object_get(vg, "free"));
    u->used = u->total - u->avail;
    u->active = 1;
    return 0;
}

static int tagged(const json_t *info)
{
    const char *tags = json_string_value(json_object_get(info, "tags"));
    for (const char *p = tags; p && *p;) {   /* (^|,)pve-vm-\d+(,|$) */
        size_t n = strcspn(p, ",");
        size_t d = n > 7 && strncmp(p, "pve-vm-", 7) == 0 ? strspn(p + 7, "0123456789") : 0;
        if (d && 7 + d == n)
            return 1;
        p += n + (p[n] == ',');
    }
    return 0;
}

/* a qcow2 volume's size: its virtual size when it is active (upstream
 * asks qemu-img; the header says the same), else what the LV takes
 * (approximate-size, upstream's fix #6819) */
static void qcow2_sizes(pvs_ctx *ctx, const json_t *scfg, const char *lv, const json_t *info, json_t *o)
{
    json_object_set_new(o, "format", json_string("qcow2"));
    const char *state = json_string_value(json_object_get(info, "lv_state"));
    long long v = -1;
    if (state && strcmp(state, "a") == 0) {
        char *dev = pvs_asprintf("/dev/%s/%s", lvm_vg(scfg), lv), *host = dev ? pvs_host_path(ctx, dev) : NULL;
        v = host ? pvs_qcow2_virtual_size(host) : -1;
        free(dev);
        free(host);
    }
    if (v >= 0) {
        json_object_set_new(o, "size", json_integer(v));
    } else {
        json_object_set(o, "approximate-size", json_object_get(o, "size"));
        json_object_del(o, "size");
    }
}

/* upstream's list_images: vm-VMID-* volumes that are plain, mirrored or
 * RAID LVs (tagged pve-vm-ID ones only with tagged_only) */
static int lvm_list_volumes(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                            long long vmid, json_t **out, pvs_error *err)
{
    json_t *lvs = lvm_lvs(ctx, err), *info;
    if (!lvs)
        return err ? err->code : PVS_ENOMEM;
    const char *lv;
    if (!(*out = json_array()))
        return pvs_oom(err);
    json_object_foreach(json_object_get(lvs, lvm_vg(scfg)), lv, info) {
        const char *type = json_string_value(json_object_get(info, "lv_type"));
        char owner[32];
        if (!lvm_owner(lv, 0, owner, sizeof owner) || (pvs_scfg_bool(scfg, "tagged_only", 0) && !tagged(info))
            || !type || strlen(type) != 1 || !strchr("-mMrR", type[0]) || !lvm_wanted(owner, vmid))
            continue;
        pvs_volname v;
        pvs_error e = PVS_ERROR_INIT;
        if (pvs_plugin_parse_volname_in(ctx, self, lv, &v, &e)) {   /* upstream's whole listing dies of it */
            pvs_warn(ctx, "%s", e.message ? e.message : "bad volume name\n");
        } else {
            json_t *o = lvm_list_entry(ctx, storeid, lv, owner, info);
            if (o && strcmp(v.format, "qcow2") == 0)
                qcow2_sizes(ctx, scfg, lv, info, o);
            json_array_append_new(*out, o);
            pvs_volname_clear(&v);
        }
        pvs_error_clear(&e);
    }
    return 0;
}

const pvs_property lvm_properties[] = {
    PVS_PROP("vgname", "string", .format = "pve-storage-vgname"),
    PVS_PROP("base", "string", .format = "pve-volume-id"),
    PVS_PROP("saferemove", "boolean"),
    PVS_PROP("saferemove-stepsize", "integer", .enum_values = "1, 2, 4, 8, 16, 32", .default_value = "32"),
    PVS_PROP("saferemove_throughput", "string"),
    PVS_PROP("tagged_only", "boolean"),
    PVS_PROPS_END,
};
static const pvs_plugin_option lvm_options[] = {
    PVS_FIXED("vgname"), PVS_OPT("nodes"), PVS_OPT("shared"), PVS_OPT("disable"),
    PVS_OPT("saferemove"), PVS_OPT("saferemove-stepsize"), PVS_OPT("saferemove_throughput"),
    PVS_OPT("content"), PVS_FIXED_OPT("base"), PVS_OPT("tagged_only"), PVS_OPT("bwlimit"),
    PVS_OPT("snapshot-as-volume-chain"), PVS_OPTIONS_END,
};
static const char *const lvm_content[] = { "images", "rootdir", NULL };
static const char *const lvm_content_default[] = { "images", NULL };
static const char *const lvm_formats[] = { "raw", "qcow2", NULL };

const pvs_plugin pvs_lvm_plugin = {
    PVS_NODE_PLUGIN("lvm"),
    .options = lvm_options, .content_valid = lvm_content, .content_default = lvm_content_default,
    .properties = lvm_properties, .formats = lvm_formats, .format_default = "raw",
    /* LVMPlugin's methods; map and unmap are the base's (the path) */
    .parse_volname = lvm_parse_volname, .path = lvm_path,
    .activate_storage = lvm_activate_storage, .deactivate_storage = lvm_deactivate_storage,
    .activate_volume = lvm_activate_volume, .deactivate_volume = lvm_deactivate_volume,
    .status = lvm_status, .list_volumes = lvm_list_volumes,
};
