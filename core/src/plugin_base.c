/* plugin_base.c - what every file-based storage inherits from Proxmox's
 * base plugin (PVE::Storage::Plugin): volume names (SPEC §5 dir) and the
 * path layout under a storage's path, content sub directories included.
 * The plugin layer: plugin.c applies these defaults, dir uses them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define MAX_COUNT (1LL << 30)

/* The properties every storage type may use (Proxmox's defaultData). */
const pvs_property pvs_base_properties[] = {
    PVS_PROP("type", "string"),
    PVS_PROP("storage", "string", .format = "pve-storage-id"),
    PVS_PROP("nodes", "string", .format = "pve-node-list"),
    PVS_PROP("content", "string", .format = "pve-storage-content-list"),
    PVS_PROP("disable", "boolean"),
    PVS_PROP("prune-backups", "string", .format = "prune-backups"),
    PVS_PROP("max-protected-backups", "integer", .minimum = "-1"),
    PVS_PROP("shared", "boolean"),
    PVS_PROP("subdir", "string", .format = "pve-storage-path"),
    PVS_PROP("format", "string", .enum_values = "raw, qcow2, subvol, vmdk"),
    PVS_PROP("preallocation", "string", .enum_values = "off, metadata, falloc, full",
             .default_value = "metadata"),
    PVS_PROP("content-dirs", "string", .format = "pve-dir-override-list"),
    PVS_PROP("options", "string", .format = "pve-storage-options"),
    PVS_PROP("port", "integer", .minimum = "1", .maximum = "65535"),
    PVS_PROP("snapshot-as-volume-chain", "boolean", .default_value = "0"),
    PVS_PROPS_END,
};

void pvs_volname_clear(pvs_volname *v)
{
    if (!v)
        return;
    free(v->vtype);
    free(v->name);
    free(v->vmid);
    free(v->basename);
    free(v->basevmid);
    free(v->isbase);
    free(v->format);
    memset(v, 0, sizeof *v);
}

static int guest_id(const char *s)
{
    return *s && s[strspn(s, "0123456789")] == '\0';
}

/* What a parse_volname result is, whoever wrote the plugin (C, Perl,
 * Python): upstream's every parse_volname returns at least the vtype, the
 * name and the format, and a vmid or basevmid it gives is a guest ID.  The
 * callers rely on that (paths, listings, content checks), so anything else
 * is the plugin's error, named, and not a crash further on. */
static int volname_checked(const pvs_plugin *p, const char *volname, pvs_volname *v, pvs_error *err)
{
    const char *missing = !v->vtype || !*v->vtype ? "vtype"
                          : !v->name || !*v->name ? "name"
                          : !v->format || !*v->format ? "format" : NULL;
    const char *bad = v->vmid && !guest_id(v->vmid) ? "vmid" : v->basevmid && !guest_id(v->basevmid) ? "basevmid"
                                                                                                : NULL;
    int rc = 0;
    if (!v->vtype && !v->name && !v->vmid && !v->basename && !v->basevmid && !v->isbase && !v->format)
        rc = pvs_plugin_fail(err, PVS_EPLUGIN, p, "parse_volname", volname, "returned nothing");
    else if (missing)
        rc = pvs_plugin_fail(err, PVS_EPLUGIN, p, "parse_volname", volname, "returned no %s", missing);
    else if (bad)
        rc = pvs_plugin_fail(err, PVS_EPLUGIN, p, "parse_volname", volname, "returned %s '%s', which is not a guest ID",
                             bad, strcmp(bad, "vmid") ? v->basevmid : v->vmid);
    if (rc)
        pvs_volname_clear(v);
    return rc;
}

int pvs_foreign_parse_volname(pvs_ctx *ctx, const pvs_plugin *p, const char *volname, pvs_volname *out,
                              pvs_error *err)
{
    pvs_method_args a = { .volname = volname };
    pvs_method_result r = { 0 };
    int rc = p->foreign(ctx, p, PVS_METHOD_parse_volname, &a, &r, err);
    *out = r.volname;
    free(r.text);
    return rc;
}

int pvs_plugin_parse_volname_in(pvs_ctx *ctx, const pvs_plugin *p, const char *volname, pvs_volname *out,
                                pvs_error *err)
{
    memset(out, 0, sizeof *out);
    if (!volname)
        return pvs_fail(err, PVS_EINVAL, "volume name missing\n");
    if (!p->parse_volname)   /* the base plugin's names */
        return pvs_base_parse_volname(p, volname, out, err);
    pvs_error_clear(err);   /* so that a failure without a word is told */
    /* a foreign plugin's, with the call it runs in (the slot has none) */
    int raw = PVS_PLUGIN_HAS(p, foreign) && p->foreign ? pvs_foreign_parse_volname(ctx, p, volname, out, err)
                                                        : p->parse_volname(p, volname, out, err);
    int rc = pvs_plugin_outcome(p, "parse_volname", volname, raw, err);
    if (rc) {
        pvs_volname_clear(out);   /* what a failing plugin left behind */
        return rc;
    }
    return volname_checked(p, volname, out, err);
}

int pvs_plugin_parse_volname(const pvs_plugin *p, const char *volname, pvs_volname *out, pvs_error *err)
{
    return pvs_plugin_parse_volname_in(NULL, p, volname, out, err);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static size_t span_digits(const char *s)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    return n;
}

static int has_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_space(s[i]))
            return 1;
    return 0;
}

static int ends_with(const char *s, size_t n, const char *suffix, int nocase)
{
    size_t m = strlen(suffix);
    if (n < m)
        return 0;
    return nocase ? strncasecmp(s + n - m, suffix, m) == 0 : memcmp(s + n - m, suffix, m) == 0;
}

/* The suffix from list that s ends with, with at least one character before
 * it, or NULL. */
static const char *ext_of(const char *s, size_t n, const char *const *list, int nocase)
{
    for (; *list; list++)
        if (n > strlen(*list) && ends_with(s, n, *list, nocase))
            return *list;
    return NULL;
}

static const char *const image_exts[] = { ".raw", ".qcow2", ".vmdk", ".subvol", NULL };
static const char *const iso_exts[] = { ".iso", ".img", NULL };
static const char *const vztmpl_exts[] = { ".tar.gz", ".tar.xz", ".tar.zst", ".tar.bz2", ".tar", NULL };
static const char *const backup_exts[] = {
    ".tgz", ".tar.gz", ".tar.lzo", ".tar.zst", ".tar.bz2", ".tar",
    ".vma.gz", ".vma.lzo", ".vma.zst", ".vma.bz2", ".vma", NULL,
};
static const char *const import_exts[] = { ".ova", ".ovf", ".qcow2", ".raw", ".vmdk", NULL };
static const char *const ova_disk_exts[] = { ".qcow2", ".raw", ".vmdk", NULL };

/* [ a-zA-Z0-9\-\.\+\=\_] (Proxmox's SAFE_CHAR_WITH_WHITESPACE_CLASS_RE) */
static int safe_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || strchr(" -.+=_", c)))
            return 0;
    }
    return 1;
}

static int set_volname(pvs_volname *out, pvs_error *err, const char *vtype, const char *name,
                       size_t name_len, const char *vmid, size_t vmid_len, const char *format)
{
    out->vtype = strdup(vtype);
    out->name = strndup(name, name_len);
    out->vmid = vmid ? strndup(vmid, vmid_len) : NULL;
    out->format = format ? strdup(format) : NULL;
    if (!out->vtype || !out->name || (vmid && !out->vmid) || (format && !out->format)) {
        pvs_volname_clear(out);
        return pvs_oom(err);
    }
    return 0;
}

/* An image file name: (vm-|base-|subvol-)VMID-NAME.FMT, or a legacy name.
 * On success *fmt is the format (static) and *isbase 1 for base images. */
static int parse_name_dir(const char *name, size_t n, const char **fmt, int *isbase,
                          pvs_error *err)
{
    const char *ext = memchr(name, '/', n) || has_space(name, n) ? NULL
                                                                  : ext_of(name, n, image_exts, 0);
    if (ext) {
        *fmt = ext + 1;
        size_t stem = n - strlen(ext);
        *isbase = stem > 5 && strncmp(name, "base-", 5) == 0;
        int snapshot = strncmp(name, "snap-", 5) == 0 && strcmp(ext, ".qcow2") == 0;
        int prefixed = 0;
        static const char *const prefixes[] = { "vm-", "base-", "subvol-", NULL };
        for (const char *const *p = prefixes; *p && !prefixed; p++) {
            size_t pl = strlen(*p);
            if (stem > pl && strncmp(name, *p, pl) == 0) {
                size_t d = span_digits(name + pl);
                prefixed = d > 0 && pl + d + 1 < stem && name[pl + d] == '-';
            }
        }
        if (!prefixed && snapshot)
            return pvs_fail(err, PVS_EINVAL, "'%.*s' is a snapshot filename, not a volume!\n",
                            (int)n, name);
        return 0;
    }
    return pvs_fail(err, PVS_EINVAL, "unable to parse volume filename '%.*s'\n", (int)n, name);
}

static int images_volname(const char *volname, pvs_volname *out, pvs_error *err)
{
    size_t len = strlen(volname);
    size_t d1 = span_digits(volname);
    const char *rest = volname + d1 + 1;   /* after "VMID/" */
    size_t rest_len = len - d1 - 1;

    /* linked clone BASEVMID/BASENAME/VMID/NAME: the last "/VMID/" wins (greedy \S+) */
    for (size_t j = rest_len; j-- > 1;) {
        if (rest[j] != '/')
            continue;
        size_t d = span_digits(rest + j + 1);
        if (!d || rest[j + 1 + d] != '/' || !rest[j + 2 + d])
            continue;
        const char *fmt;
        int isbase;
        const char *name = rest + j + 2 + d;
        if (parse_name_dir(rest, j, &fmt, &isbase, err)
            || parse_name_dir(name, strlen(name), &fmt, &isbase, err))
            return err ? err->code : PVS_EINVAL;
        if (set_volname(out, err, "images", name, strlen(name), rest + j + 1, d, fmt))
            return PVS_ENOMEM;
        out->basename = strndup(rest, j);
        out->basevmid = strndup(volname, d1);
        out->isbase = isbase ? strdup("base-") : NULL;
        if (!out->basename || !out->basevmid || (isbase && !out->isbase)) {
            pvs_volname_clear(out);
            return pvs_oom(err);
        }
        return 0;
    }
    const char *fmt;
    int isbase;
    if (parse_name_dir(rest, rest_len, &fmt, &isbase, err))
        return err ? err->code : PVS_EINVAL;
    if (set_volname(out, err, "images", rest, rest_len, volname, d1, fmt))
        return PVS_ENOMEM;
    if (isbase && !(out->isbase = strdup("base-"))) {
        pvs_volname_clear(out);
        return pvs_oom(err);
    }
    return 0;
}

/* "PREFIX/NAME" with NAME free of '/': NAME or NULL */
static const char *under(const char *volname, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (strncmp(volname, prefix, pl) != 0 || !volname[pl] || strchr(volname + pl, '/'))
        return NULL;
    return volname + pl;
}

int pvs_base_parse_volname(const pvs_plugin *self, const char *volname, pvs_volname *out,
                             pvs_error *err)
{
    (void)self;
    const char *name;
    const char *ext;
    size_t len = strlen(volname);

    /* Upstream's patterns alone keep names inside the storage: a '/' is
     * allowed only where a sub directory is meant, so "/etc/x", "iso/../x"
     * and "100/../../x.raw" fail with its messages. */
    size_t d = span_digits(volname);
    if (d && volname[d] == '/' && volname[d + 1] && !has_space(volname, len))
        return images_volname(volname, out, err);

    if ((name = under(volname, "iso/")) && ext_of(name, strlen(name), iso_exts, 1))
        return set_volname(out, err, "iso", name, strlen(name), NULL, 0, "raw");
    if ((name = under(volname, "vztmpl/")) && ext_of(name, strlen(name), vztmpl_exts, 1))
        return set_volname(out, err, "vztmpl", name, strlen(name), NULL, 0, "raw");
    if ((name = under(volname, "backup/")) && ext_of(name, strlen(name), backup_exts, 0)) {
        /* vzdump-(openvz|lxc|qemu)-VMID-... names carry the guest's vmid */
        static const char *const kinds[] = { "vzdump-openvz-", "vzdump-lxc-", "vzdump-qemu-", NULL };
        for (const char *const *k = kinds; *k; k++) {
            size_t kl = strlen(*k);
            size_t vd = strncmp(name, *k, kl) == 0 ? span_digits(name + kl) : 0;
            if (vd && name[kl + vd] == '-' && name[kl + vd + 1])
                return set_volname(out, err, "backup", name, strlen(name), name + kl, vd, "raw");
        }
        return set_volname(out, err, "backup", name, strlen(name), NULL, 0, "raw");
    }
    /* upstream takes "snippets/.." too (the storage's own directory): not here */
    if ((name = under(volname, "snippets/")) && strcmp(name, ".") && strcmp(name, ".."))
        return set_volname(out, err, "snippets", name, strlen(name), NULL, 0, "raw");
    if (strncmp(volname, "import/", 7) == 0) {
        name = volname + 7;
        const char *ova = strstr(name, ".ova/");
        const char *disk = ova ? ova + 5 : NULL;
        /* SAFE+.ova/SAFE+.(qcow2|raw|vmdk): the member's name is checked too */
        if (ova && ova > name && safe_chars(name, (size_t)(ova - name)) && safe_chars(disk, strlen(disk))
            && (ext = ext_of(disk, strlen(disk), ova_disk_exts, 0))) {
            char fmt[16];
            snprintf(fmt, sizeof fmt, "ova+%s", ext + 1);
            return set_volname(out, err, "import", name, strlen(name), NULL, 0, fmt);
        }
        if (!strchr(name, '/') && safe_chars(name, strlen(name))
            && (ext = ext_of(name, strlen(name), import_exts, 0)))
            return set_volname(out, err, "import", name, strlen(name), NULL, 0, ext + 1);
    }
    return pvs_fail(err, PVS_EINVAL, "unable to parse directory volume name '%s'\n", volname);
}

char *pvs_get_subdir(const json_t *scfg, const char *vtype, pvs_error *err)
{
    return pvs_base_get_subdir(scfg, vtype, err);
}

char *pvs_base_get_subdir(const json_t *scfg, const char *vtype, pvs_error *err)
{
    const char *path = pvs_scfg_str(scfg, "path");
    if (!path || !*path) {
        pvs_fail(err, PVS_EINVAL, "storage definition has no path\n");
        return NULL;
    }
    const char *sub = json_string_value(json_object_get(json_object_get(scfg, "content-dirs"), vtype));
    if (!sub)
        sub = pvs_vtype_subdir(vtype);
    if (!sub) {
        pvs_fail(err, PVS_EINVAL, "unknown vtype '%s'\n", vtype);
        return NULL;
    }
    char *dir = pvs_asprintf("%s/%s", path, sub);
    if (!dir)
        pvs_oom(err);
    return dir;
}

int pvs_base_filesystem_path(pvs_ctx *ctx, const pvs_plugin *p, const json_t *scfg, const char *volname,
                             const char *snapname, char **path, pvs_volname *vn, pvs_error *err)
{
    pvs_volname local;
    pvs_volname *v = vn ? vn : &local;
    *path = NULL;
    int rc = pvs_plugin_parse_volname_in(ctx, p, volname, v, err);
    if (rc)
        return rc;
    /* volume chains: a snapshot is its own file, snap-SNAP-NAME ("current" is the volume) */
    if (pvs_scfg_bool(scfg, "snapshot-as-volume-chain", 0) && snapname && *snapname
        && strcmp(snapname, "0") && strcmp(snapname, "current")) {
        char *snapfile = pvs_asprintf("snap-%s-%s", snapname, v->name);
        if (!snapfile)
            rc = pvs_oom(err);
        free(v->name);
        v->name = snapfile;
    }
    if (rc) {
        /* out of memory: below */
    } else if (strcmp(v->vtype, "images") == 0 && !v->vmid) {   /* (an iSCSI LUN's name has none) */
        rc = pvs_plugin_fail(err, PVS_EPLUGIN, p, "parse_volname", volname,
                             "returned an images volume without a vmid: it has no path under the storage");
    } else if (snapname && (!v->format || (strcmp(v->format, "qcow2") && strcmp(v->format, "qed")))) {
        rc = pvs_fail(err, PVS_EINVAL, "can't snapshot this image format\n");
    } else {
        char *dir = pvs_base_get_subdir(scfg, v->vtype, err);
        if (!dir)
            rc = err ? err->code : PVS_EINVAL;
        else if (strcmp(v->vtype, "images") == 0)
            *path = pvs_asprintf("%s/%s/%s", dir, v->vmid, v->name);
        else
            *path = pvs_asprintf("%s/%s", dir, v->name);
        if (dir && !*path)
            rc = pvs_oom(err);
        free(dir);
    }
    if (rc || !vn)
        pvs_volname_clear(v);
    return rc;
}


/* File::Spec->canonpath of an absolute path: no repeated or trailing
 * slashes, no "." components, no ".." right under the root. */
static void canonpath(char *p)
{
    char *o = p;
    for (const char *i = p; *i;) {
        if (i[0] == '/' && (o > p && o[-1] == '/')) {   /* // */
            i++;
        } else if (i[0] == '.' && (i[1] == '/' || !i[1]) && o > p && o[-1] == '/') {   /* /./ */
            i += i[1] ? 2 : 1;
        } else if (i[0] == '.' && i[1] == '.' && (i[2] == '/' || !i[2]) && o == p + 1) {   /* /../ */
            i += i[2] ? 3 : 2;
        } else {
            *o++ = *i++;
        }
    }
    while (o > p + 1 && o[-1] == '/')
        o--;
    *o = '\0';
}

int pvs_dir_check_config(const pvs_plugin *self, const char *storeid, json_t *section, int after,
                         pvs_error *err)
{
    (void)self, (void)storeid;
    const char *path = pvs_scfg_str(section, "path");
    if (!after || !path)
        return 0;
    int ok = path[0] == '/' && path[1];
    for (const char *c = path; ok && *c; c++)
        ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
             strchr("-/_.@", *c);
    if (!ok)
        return pvs_fail(err, PVS_EINVAL, "illegal path for directory storage: %s\n", path);
    char *canon = strdup(path);
    if (!canon)
        return pvs_oom(err);
    canonpath(canon);
    json_object_set_new(section, "path", json_string(canon));
    free(canon);
    return 0;
}
