/* zfspool.c - local ZFS pools as upstream's ZFSPoolPlugin.pm (pve-storage
 * 9.1.7) drives them: zvols (raw) under /dev/zvol/POOL, subvols (datasets)
 * under the pool's mount point; the pool imported and mounted when the
 * mount table does not show it; every zfs and zpool command with
 * upstream's argv, timeouts ("zfs error" messages) through the core's
 * runner (command.c). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../internal.h"

static const char *zfs_dataset(const json_t *scfg)
{
    return pvs_scfg_str(scfg, "pool");
}

/* upstream's zfs_request as a command-line caller (not a worker task) has
 * it: errmsg "zfs error", 10 s unless told otherwise */
static int zfs_run(pvs_ctx *ctx, const char *const *argv, int timeout_s, int reads, char **out, pvs_error *err)
{
    pvs_command_opts o = { .errmsg = "zfs error", .timeout_s = timeout_s ? timeout_s : 10, .reads = reads };
    return pvs_command(ctx, argv, &o, out, err);
}

/* ---- names ---- */

/* (KIND)-(\d+)-\S+ over s[0, n) (no blanks in it), KIND one of kinds: the
 * kind's index and the VMID's span, or -1 */
static int name_shape(const char *s, size_t n, const char *const *kinds, size_t *vmid_at, size_t *vmid_len)
{
    for (int k = 0; kinds[k]; k++) {
        size_t kl = strlen(kinds[k]);
        if (n <= kl + 1 || strncmp(s, kinds[k], kl) || s[kl] != '-')
            continue;
        size_t d = 0;
        while (kl + 1 + d < n && s[kl + 1 + d] >= '0' && s[kl + 1 + d] <= '9')
            d++;
        if (d && kl + 2 + d < n && s[kl + 1 + d] == '-') {
            *vmid_at = kl + 1, *vmid_len = d;
            return k;
        }
    }
    return -1;
}

static const char *const any_kind[] = { "base", "basevol", "vm", "subvol", NULL };
static const char *const base_kind[] = { "base", "basevol", NULL };

/* upstream's (BASE/)?NAME split: the prefix as long as it can be (the
 * rightmost '/' at which both sides have their shapes), else none */
static int split_volname(const char *v, size_t *rest, int *kind, size_t *at, size_t *len, size_t *bat,
                         size_t *blen)
{
    size_t n = strlen(v);
    for (size_t i = n; i-- > 0;) {
        if (v[i] != '/')
            continue;
        if (name_shape(v, i, base_kind, bat, blen) >= 0
            && (*kind = name_shape(v + i + 1, n - i - 1, any_kind, at, len)) >= 0) {
            *rest = i + 1;
            return 1;
        }
    }
    *rest = 0;
    return (*kind = name_shape(v, n, any_kind, at, len)) >= 0;
}

static int zfs_parse_volname(const pvs_plugin *self, const char *volname, pvs_volname *out, pvs_error *err)
{
    (void)self;
    memset(out, 0, sizeof *out);
    size_t rest, at, len, bat = 0, blen = 0;
    int kind;
    if (!*volname || strpbrk(volname, " \t\n\r\f\v")
        || !split_volname(volname, &rest, &kind, &at, &len, &bat, &blen))
        return pvs_fail(err, PVS_EINVAL, "unable to parse zfs volume name '%s'\n", volname);
    const char *name = volname + rest;
    int base = kind == 0 || kind == 1, subvol = kind == 1 || kind == 3;
    out->vtype = strdup("images");
    out->name = strdup(name);
    out->vmid = strndup(name + at, len);
    out->format = strdup(subvol ? "subvol" : "raw");
    out->isbase = base ? strdup("1") : NULL;
    if (rest) {
        out->basename = strndup(volname, rest - 1);
        out->basevmid = strndup(volname + bat, blen);
    }
    if (!out->vtype || !out->name || !out->vmid || !out->format || (base && !out->isbase)
        || (rest && (!out->basename || !out->basevmid))) {
        pvs_volname_clear(out);
        return pvs_oom(err);
    }
    return 0;
}

/* a zvol's device: /dev/zvol/POOL/NAME */
static char *zvol_device(const json_t *scfg, const char *name)
{
    return pvs_asprintf("/dev/zvol/%s/%s", zfs_dataset(scfg), name);
}

/* a subvol's directory (MOUNTPOINT/NAME, the mount point /POOL unless
 * configured) or a zvol's device, @SNAP for a snapshot */
static int zfs_path(pvs_ctx *ctx, const pvs_plugin *self, const json_t *scfg, const char *volname,
                    const char *storeid, const char *snapname, char **path, pvs_error *err)
{
    (void)storeid;
    pvs_volname v;
    int rc = pvs_plugin_parse_volname_in(ctx, self, volname, &v, err);
    if (rc)
        return rc;
    const char *pool = zfs_dataset(scfg), *mp = pvs_scfg_str(scfg, "mountpoint");
    char *p = strcmp(v.format, "subvol") != 0 ? zvol_device(scfg, v.name)
              : mp ? pvs_asprintf("%s/%s", mp, v.name) : pvs_asprintf("/%s/%s", pool, v.name);
    *path = p && snapname ? pvs_asprintf("%s@%s", p, snapname) : p;
    if (*path != p)
        free(p);
    pvs_volname_clear(&v);
    return *path ? 0 : pvs_oom(err);
}

/* ---- the pool ---- */

/* the mount table shows a zfs mount of the dataset or one below it */
static int dataset_mounted(pvs_ctx *ctx, const char *dataset)
{
    json_t *mounts = pvs_call_mounts(ctx), *m;
    size_t i, n = strlen(dataset);
    json_array_foreach(mounts, i, m) {
        const char *src = json_string_value(json_array_get(m, 0));
        const char *type = json_string_value(json_array_get(m, 2));
        if (type && strcmp(type, "zfs") == 0 && src && strncmp(src, dataset, n) == 0
            && (src[n] == '\0' || src[n] == '/'))
            return 1;
    }
    return 0;
}

/* upstream's $pool_imported: zpool list names the pool (a failure is warned) */
static int pool_imported(pvs_ctx *ctx, const char *pool)
{
    const char *argv[] = { "zpool", "list", "-o", "name", "-H", pool, NULL };
    char *out = NULL;
    pvs_error e = PVS_ERROR_INIT;
    if (zfs_run(ctx, argv, 0, 1, &out, &e))
        pvs_warn(ctx, "%s\n", e.message ? e.message : "zfs error\n");   /* upstream's warn "$@\n" */
    int rc = e.code == 0 && out && strstr(out, pool) != NULL;
    pvs_error_clear(&e);
    free(out);
    return rc;
}

static int activation_failed(const char *storeid, pvs_error *e, pvs_error *err)
{
    int code = e->code;
    pvs_fail(err, code, "could not activate storage '%s', %s\n", storeid, e->message ? e->message : "\n");
    pvs_error_clear(e);
    return code;
}

static int zfs_activate_storage(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                                pvs_error *err)
{
    (void)self;
    const char *dataset = zfs_dataset(scfg);
    if (dataset_mounted(ctx, dataset))
        return 0;
    char *pool = strndup(dataset, strcspn(dataset, "/"));
    if (!pool)
        return pvs_oom(err);
    pvs_error e = PVS_ERROR_INIT;
    if (!pool_imported(ctx, pool)) {
        const char *argv[] = { "zpool", "import", "-d", "/dev/disk/by-id/", "-o", "cachefile=none", pool, NULL };
        if (zfs_run(ctx, argv, 15, 0, NULL, &e) && !pool_imported(ctx, pool)) {
            free(pool);
            return activation_failed(storeid, &e, err);
        }
        pvs_error_clear(&e);
    }
    free(pool);
    static const char *const mount_all[] = { "zfs", "mount", "-a", NULL };
    return zfs_run(ctx, mount_all, 0, 0, NULL, &e) ? activation_failed(storeid, &e, err) : 0;
}

/* ---- volumes ---- */

/* upstream's zfs_wait_for_zvol_link: the zvol's device, checked once a
 * second for 10 s (within the call's deadline); not waited for in a dry
 * run (nothing was imported) */
static int wait_for_zvol(pvs_ctx *ctx, const json_t *scfg, const char *volname, const char *name, pvs_error *err)
{
    char *dev = zvol_device(scfg, name);
    int rc = dev ? 0 : pvs_oom(err);
    const int timeout = 10;
    for (int i = 1; !rc && !pvs_host_is_block(ctx, dev) && !pvs_dry_run(ctx); i++) {
        if (i == timeout || pvs_call_left_ms(ctx) < 1000) {
            rc = pvs_fail(err, i == timeout ? PVS_ENOENT : PVS_ETIMEDOUT,
                          "timeout: no zvol device link for '%s' found after %d sec.\n", volname, i == timeout ? timeout : i - 1);
            break;
        }
        nanosleep(&(struct timespec){ 1, 0 }, NULL);
    }
    free(dev);
    return rc;
}

/* a subvol: mounted unless zfs says it is */
static int mount_subvol(pvs_ctx *ctx, const char *dataset, pvs_error *err)
{
    const char *get[] = { "zfs", "get", "-o", "value", "-Hp", "mounted", dataset, NULL };
    char *out = NULL;
    int rc = zfs_run(ctx, get, 0, 1, &out, err);
    int yes = out && (strcmp(out, "yes") == 0 || strncmp(out, "yes\n", 4) == 0);
    free(out);
    if (rc || yes)
        return rc;
    const char *mount[] = { "zfs", "mount", dataset, NULL };
    return zfs_run(ctx, mount, 0, 0, NULL, err);
}

static int zfs_activate_volume(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                               const char *volname, const char *snapname, const json_t *hints, pvs_error *err)
{
    (void)storeid, (void)hints;
    if (snapname)
        return 0;   /* upstream checks nothing for a snapshot */
    pvs_volname v;
    int rc = pvs_plugin_parse_volname_in(ctx, self, volname, &v, err);
    if (rc)
        return rc;
    if (strcmp(v.format, "subvol") == 0) {
        char *dataset = pvs_asprintf("%s/%s", zfs_dataset(scfg), v.name);
        rc = dataset ? mount_subvol(ctx, dataset, err) : pvs_oom(err);
        free(dataset);
    } else {
        rc = wait_for_zvol(ctx, scfg, volname, v.name, err);
    }
    pvs_volname_clear(&v);
    return rc;
}

/* ---- status and listing ---- */

static long long digits_or_zero(const char *s, size_t n)
{
    return n && strspn(s, "0123456789") == n ? strtoll(s, NULL, 10) : 0;
}

/* the pool's (or dataset's) available and used bytes; a failure is warned
 * and the storage is not active */
static int zfs_status(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                      pvs_storage_usage *u, pvs_error *err)
{
    (void)self, (void)storeid, (void)err;
    const char *argv[] = { "zfs", "get", "-o", "value", "-Hp", "available,used", zfs_dataset(scfg), NULL };
    char *out = NULL;
    pvs_error e = PVS_ERROR_INIT;
    if (zfs_run(ctx, argv, 0, 1, &out, &e)) {
        pvs_warn(ctx, "%s", e.message ? e.message : "zfs error\n");
        pvs_error_clear(&e);
        free(out);
        return 0;
    }
    const char *l0 = out ? out : "", *l1 = l0 + strcspn(l0, "\n");
    l1 += *l1 == '\n';
    u->avail = digits_or_zero(l0, strcspn(l0, "\n"));
    u->used = digits_or_zero(l1, strcspn(l1, "\n"));
    u->total = u->avail + u->used;
    u->active = 1;
    free(out);
    return 0;
}

typedef struct zvol_scan {
    pvs_ctx *ctx;
    const char *storeid, *pool;
    long long vmid;
    json_t *out;
} zvol_scan;

/* a listed dataset's entry, as upstream's list_images makes it */
static json_t *zvol_entry(zvol_scan *s, const char *name, const char *owner, long long size, const char *format,
                          const char *origin)
{
    size_t pl = strlen(s->pool);
    const char *parent = origin && strncmp(origin, s->pool, pl) == 0 && origin[pl] == '/' && origin[pl + 1]
                             ? origin + pl + 1 : origin;
    const char *at = parent ? strstr(parent, "@__base__") : NULL;
    char *base = at && at != parent && strcmp(at, "@__base__") == 0 ? strndup(parent, (size_t)(at - parent)) : NULL;
    json_t *o = json_pack("{s:o, s:s, s:s, s:I, s:s, s:s*, s:I}", "volid", pvs_json_volid(s->storeid, base, name),
                          "content", pvs_image_content(s->ctx, owner), "format", format, "size", size, "name", name,
                          "parent", parent, "vmid", strtoll(owner, NULL, 10));
    if (o && !parent)
        json_object_set_new(o, "parent", json_null());
    free(base);
    return o;
}

/* one line of zfs list: NAME VOLSIZE ORIGIN TYPE REFQUOTA, split at blanks */
static void zvol_line(const char *line, size_t n, void *data)
{
    zvol_scan *s = data;
    char *buf = strndup(line, n), *save, *f[5] = { 0 };
    for (int i = 0; buf && i < 5; i++)
        f[i] = strtok_r(i ? NULL : buf, " \t", &save);
    const char *slash = f[4] ? strrchr(f[0], '/') : NULL, *name = slash ? slash + 1 : NULL;
    size_t at, len, pl = strlen(s->pool);
    int filesystem = f[3] && strcmp(f[3], "filesystem") == 0, volume = f[3] && strcmp(f[3], "volume") == 0;
    if ((filesystem || volume) && name && (size_t)(slash - f[0]) == pl && strncmp(f[0], s->pool, pl) == 0
        && name_shape(name, strlen(name), any_kind, &at, &len) >= 0) {
        char owner[32];
        snprintf(owner, sizeof owner, "%.*s", (int)(len < 31 ? len : 31), name + at);
        long long size = volume ? strtoll(f[1], NULL, 10) : strcmp(f[4], "none") ? strtoll(f[4], NULL, 10) : 0;
        char want[32];
        snprintf(want, sizeof want, "%lld", s->vmid);
        if (s->vmid < 0 || strcmp(owner, want) == 0)
            json_array_append_new(s->out, zvol_entry(s, name, owner, size, volume ? "raw" : "subvol",
                                                     strcmp(f[2], "-") ? f[2] : NULL));
    }
    free(buf);
}

/* upstream's zfs_list_zvol and list_images: the pool's zvols and subvols
 * (vm-, base-, subvol-, basevol- names), linked clones under their base */
static int zfs_list_volumes(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                            long long vmid, json_t **out, pvs_error *err)
{
    (void)self;
    const char *pool = zfs_dataset(scfg);
    const char *argv[] = { "zfs", "list", "-o", "name,volsize,origin,type,refquota", "-t", "volume,filesystem",
                           "-d1", "-Hp", pool, NULL };
    char *text = NULL;
    int rc = zfs_run(ctx, argv, 10, 1, &text, err);
    if (!rc && !(*out = json_array()))
        rc = pvs_oom(err);
    zvol_scan s = { ctx, storeid, pool, vmid, rc ? NULL : *out };
    if (!rc && text)
        pvs_split_lines(text, zvol_line, &s);
    free(text);
    return rc;
}

static const pvs_property zfspool_properties[] = {
    PVS_PROP("blocksize", "string", .format = "pve-storage-zfs-blocksize"),
    PVS_PROP("sparse", "boolean"),
    PVS_PROP("mountpoint", "string", .format = "pve-storage-path"),
    PVS_PROPS_END,
};
static const pvs_plugin_option zfspool_options[] = {
    PVS_FIXED("pool"), PVS_OPT("blocksize"), PVS_OPT("sparse"), PVS_OPT("nodes"),
    PVS_OPT("disable"), PVS_OPT("content"), PVS_OPT("bwlimit"), PVS_OPT("mountpoint"),
    PVS_OPTIONS_END,
};
#define ZFSPOOL_CONTENT ((const char *const[]){ "images", "rootdir", NULL })

const pvs_plugin pvs_zfspool_plugin = {
    PVS_NODE_PLUGIN("zfspool"),
    .options = zfspool_options, .properties = zfspool_properties,
    .content_valid = ZFSPOOL_CONTENT, .content_default = ZFSPOOL_CONTENT,
    .formats = (const char *const[]){ "raw", "subvol", NULL }, .format_default = "raw",
    /* ZFSPoolPlugin's methods; deactivation, map and unmap are the base's
     * (nothing; the path) */
    .parse_volname = zfs_parse_volname, .path = zfs_path,
    .activate_storage = zfs_activate_storage, .activate_volume = zfs_activate_volume,
    .status = zfs_status, .list_volumes = zfs_list_volumes,
};
