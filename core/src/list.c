/* list.c - the volumes on a storage (pvestorage list, upstream's
 * PVE::Storage::volume_list / pvesm list): a plugin's own list_volumes, or
 * the directories of a storage with a path.  Reads only. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* A qcow2 image's virtual size (its header: magic, then the size at byte
 * 24, big-endian), as qemu-img reports it; -1 if fd is not a qcow2 image. */
static long long qcow2_size(int fd)
{
    unsigned char h[32];
    if (pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h || memcmp(h, "QFI\xfb", 4) != 0)
        return -1;
    uint64_t v = 0;
    for (int i = 24; i < 32; i++)
        v = v << 8 | h[i];
    return v > INT64_MAX ? -1 : (long long)v;
}

long long pvs_qcow2_virtual_size(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    long long v = fd >= 0 ? qcow2_size(fd) : -1;
    if (fd >= 0)
        close(fd);
    return v;
}

/* size and used space of an image: what qemu-img info says (virtual size
 * for qcow2, the file's size otherwise); a directory (subvol) has size 0.  A
 * FIFO, device or dangling link is no image: 0 is returned for those. */
static int image_sizes(const char *path, const char *format, long long *size, long long *used)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    *used = (long long)st.st_blocks * 512;
    *size = S_ISREG(st.st_mode) ? st.st_size : 0;
    if (S_ISDIR(st.st_mode))
        return strcmp(format, "subvol") == 0;
    if (!S_ISREG(st.st_mode))
        return 0;
    if (strcmp(format, "qcow2") == 0) {
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        long long v = fd >= 0 ? qcow2_size(fd) : -1;
        if (fd >= 0)
            close(fd);
        if (v >= 0)
            *size = v;
    }
    return 1;
}

/* upstream's format of a file that is not an image: iso, tgz/txz/tzst/
 * tbz2/tar, vma.zst/tar.gz/tgz..., snippet, ova/ovf/qcow2/raw/vmdk */
static char *file_format(const char *vtype, const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!strcmp(vtype, "iso"))
        return strdup("iso");
    if (!strcmp(vtype, "snippets"))
        return strdup("snippet");
    if (!strcmp(vtype, "vztmpl")) {
        size_t n = strlen(name);
        return n > 4 && !strcmp(name + n - 4, ".tar") ? strdup("tar") : pvs_asprintf("t%s", dot ? dot + 1 : "");
    }
    if (!strcmp(vtype, "backup")) {
        const char *e = NULL;
        for (const char *p = name; (p = strchr(p, '.')); p++)
            if (!strncmp(p, ".tar", 4) || !strncmp(p, ".vma", 4) || !strncmp(p, ".tgz", 4))
                e = p;
        return strdup(e ? e + 1 : "");
    }
    return strdup(dot ? dot + 1 : "");   /* import */
}

/* an image's content: rootdir for a container's, as upstream asks the
 * cluster's guest list (here: the guest's configuration file) */
const char *pvs_image_content(pvs_ctx *ctx, const char *vmid)
{
    char *conf = pvs_asprintf("/etc/pve/lxc/%s.conf", vmid);
    char *host = conf ? pvs_host_path(ctx, conf) : NULL;
    struct stat st;
    int lxc = host && stat(host, &st) == 0;
    free(conf);
    free(host);
    return lxc ? "rootdir" : "images";
}

static json_t *image_entry(pvs_ctx *ctx, const char *host, const pvs_volname *v, const json_t *content)
{
    long long size = 0, used = 0;
    const char *ct = pvs_image_content(ctx, v->vmid);
    if (!pvs_scfg_bool(content, ct, 0) || !image_sizes(host, v->format, &size, &used))
        return NULL;
    return json_pack("{s:s, s:s, s:I, s:I, s:I}", "content", ct, "format", v->format, "size", (json_int_t)size,
                     "used", (json_int_t)used, "vmid", (json_int_t)atoll(v->vmid));
}

static json_t *file_entry(const char *host, const pvs_volname *v)
{
    struct stat st;
    if (stat(host, &st) != 0 || S_ISDIR(st.st_mode))
        return NULL;
    char *format = file_format(v->vtype, v->name);
    json_t *o = json_pack("{s:s, s:o, s:I, s:I}", "content", v->vtype, "format", pvs_json_bytes(format), "size",
                          (json_int_t)st.st_size, "ctime", (json_int_t)st.st_ctime);
    if (o && v->vmid)
        json_object_set_new(o, "vmid", json_integer(atoll(v->vmid)));
    free(format);
    return o;
}

/* One entry of a sub directory: a volume if the plugin's own name rules
 * take it (volname) as a volume of this content type.  A name they do not
 * take (EINVAL, what parse_volname fails with) is no volume; anything else
 * (a plugin's malformed result, an interruption, memory) is the listing's
 * error. */
static int add_entry(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid, const json_t *scfg,
                     const char *volname, const char *vtype, long long vmid, json_t *out, pvs_error *err)
{
    pvs_volname v = { 0 };
    char *path = NULL;
    pvs_error e = PVS_ERROR_INIT;
    int rc = pvs_base_filesystem_path(ctx, p, scfg, volname, NULL, &path, &v, &e);
    if (rc == 0 && strcmp(v.vtype, vtype) == 0 && (vmid < 0 || (v.vmid && atoll(v.vmid) == vmid))) {
        /* a storage's own paths are the host's as they are (the dir plugin's
         * too); only the node's files (/etc/pve, /sys) are under the root */
        json_t *o = strcmp(vtype, "images") ? file_entry(path, &v)
                                            : image_entry(ctx, path, &v, json_object_get(scfg, "content"));
        if (o) {
            json_object_set_new(o, "volid", pvs_json_volid(storeid, NULL, volname));
            json_array_append_new(out, o);
        }
    }
    if (rc && rc != PVS_EINVAL)
        pvs_error_move(err, &e);
    pvs_error_clear(&e);
    free(path);
    pvs_volname_clear(&v);
    return rc == PVS_EINVAL ? 0 : rc;
}

/* every entry of DIR, "PREFIX/NAME" handed to add_entry */
static int scan(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid, const json_t *scfg, const char *dir,
                const char *prefix, const char *vtype, long long vmid, json_t *out, pvs_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = 0;
    while (!rc && d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *volname = pvs_asprintf("%s/%s", prefix, e->d_name);
        rc = volname ? add_entry(ctx, p, storeid, scfg, volname, vtype, vmid, out, err) : pvs_oom(err);
        free(volname);
    }
    if (d)
        closedir(d);
    return rc;
}

/* images/VMID/NAME for every guest directory (or only vmid's) */
static int scan_images(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid, const json_t *scfg,
                       long long vmid, json_t *out, pvs_error *err)
{
    char *dir = pvs_base_get_subdir(scfg, "images", NULL);
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    int rc = 0;
    while (!rc && d && (e = readdir(d))) {
        const char *s = e->d_name;
        if (!*s || s[strspn(s, "0123456789")] || (vmid >= 0 && atoll(s) != vmid))
            continue;
        char *sub = pvs_asprintf("%s/%s", dir, s);
        rc = sub ? scan(ctx, p, storeid, scfg, sub, s, "images", vmid, out, err) : pvs_oom(err);
        free(sub);
    }
    if (d)
        closedir(d);
    free(dir);
    return rc;
}

int pvs_base_list_volumes(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid, const json_t *scfg,
                          long long vmid, json_t *out, pvs_error *err)
{
    static const char *const others[] = { "iso", "vztmpl", "backup", "snippets", "import", NULL };
    static const char *const shared[] = { "iso", "vztmpl", NULL };   /* no guest's: not with vmid */
    const json_t *content = json_object_get(scfg, "content");
    const char *path = pvs_scfg_str(scfg, "path");
    if (!path || !*path)
        return pvs_fail(err, PVS_EINVAL, "storage '%s' has no path and its plugin cannot list volumes\n",
                        storeid);
    int rc = 0;
    if (pvs_scfg_bool(content, "images", 0) || pvs_scfg_bool(content, "rootdir", 0))
        rc = scan_images(ctx, p, storeid, scfg, vmid, out, err);
    for (size_t i = 0; !rc && others[i]; i++) {
        if (!pvs_scfg_bool(content, others[i], 0) || (vmid >= 0 && i < 2 && shared[i]))
            continue;
        char *dir = pvs_base_get_subdir(scfg, others[i], NULL);
        if (dir)
            rc = scan(ctx, p, storeid, scfg, dir, others[i], others[i], vmid, out, err);
        free(dir);
    }
    return rc;
}

static int by_volid(const void *a, const void *b)
{
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "volid")),
                  json_string_value(json_object_get(*(json_t *const *)b, "volid")));
}

static int sort_by_volid(json_t *list, pvs_error *err)
{
    size_t n = json_array_size(list);
    json_t **v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return pvs_oom(err);
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(list, i));
    qsort(v, n, sizeof *v, by_volid);
    json_array_clear(list);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, v[i]);
    free(v);
    return 0;
}

/* a plugin's list: an array of objects with a string volid each */
static int list_checked(const char *storeid, json_t *list, pvs_error *err)
{
    size_t i;
    json_t *o;
    if (!json_is_array(list))
        return pvs_fail(err, PVS_EPLUGIN, "the plugin of storage '%s' listed no array\n", storeid);
    json_array_foreach(list, i, o)
        if (!json_is_string(json_object_get(o, "volid")))
            return pvs_fail(err, PVS_EPLUGIN, "the plugin of storage '%s' listed a volume without a volid\n",
                            storeid);
    return 0;
}

static int list_in(pvs_ctx *call, const json_t *cfg, const char *storeid, long long vmid, json_t **out,
                   pvs_error *err)
{
    const json_t *scfg = pvs_storage_config(cfg, storeid, err);
    const pvs_plugin *p = scfg ? pvs_storage_plugin(call, storeid, scfg, err) : NULL;
    if (!p)
        return err ? err->code : PVS_ENOENT;
    int rc;
    if (PVS_PLUGIN_HAS(p, list_volumes) && p->list_volumes) {
        json_t *list = NULL;
        rc = pvs_plugin_outcome(p, "list_volumes", storeid, p->list_volumes(call, p, storeid, scfg, vmid, &list, err),
                                err);
        if (!rc && !(rc = list_checked(storeid, list, err)))
            *out = json_incref(list);
        json_decref(list);
    } else {
        *out = json_array();
        rc = *out ? pvs_base_list_volumes(call, p, storeid, scfg, vmid, *out, err) : pvs_oom(err);
    }
    if (!rc)
        rc = sort_by_volid(*out, err);
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int pvs_list_volumes(pvs_ctx *ctx, const json_t *cfg, const char *storeid, long long vmid, json_t **out,
                     pvs_error *err)
{
    *out = NULL;
    PVS_CALL(list_in(call, cfg, storeid, vmid, out, err));
}
