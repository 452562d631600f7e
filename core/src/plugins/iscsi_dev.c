/* iscsi_dev.c - the kernel's side of iSCSI as upstream's ISCSIPlugin.pm
 * reads it: the LUNs of each session (sysfs), their stable names
 * (/dev/disk/by-id), and whether a device belongs to a target (udevadm's
 * device path, device mapper slaves, the session's target name).  Every
 * host path is read under the root setting.  Where upstream takes the
 * first matching directory entry in readdir order, the entries are taken
 * in byte order here, so the answer does not depend on the file system. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iscsi.h"

int iscsi_first_line(pvs_ctx *ctx, const char *path, char **line, pvs_error *err)
{
    *line = NULL;
    char *host = pvs_host_path(ctx, path);
    FILE *f = host ? fopen(host, "r") : NULL;
    int e = errno;
    free(host);
    if (!host)
        return pvs_oom(err);
    if (!f)
        return e == ENOENT ? 0
                           : pvs_fail(err, PVS_EIO, "file '%s' exists but open for reading failed - %s\n", path,
                                      strerror(e));
    size_t cap = 0;
    ssize_t n = getline(line, &cap, f);
    fclose(f);
    if (n <= 0) {
        free(*line);
        *line = NULL;
    } else if ((*line)[n - 1] == '\n') {
        (*line)[n - 1] = '\0';
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the entries of a host directory in byte order (NULL-terminated, without
 * . and ..), or NULL when it cannot be read */
static char **entries(pvs_ctx *ctx, const char *dir)
{
    char *host = pvs_host_path(ctx, dir);
    DIR *d = host ? opendir(host) : NULL;
    free(host);
    if (!d)
        return NULL;
    size_t n = 0, cap = 16;
    char **v = malloc(cap * sizeof *v);
    struct dirent *de;
    while (v && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n + 1 >= cap) {
            char **w = realloc(v, (cap *= 2) * sizeof *v);
            if (!w)
                break;
            v = w;
        }
        if (!(v[n] = strdup(de->d_name)))
            break;
        n++;
    }
    closedir(d);
    if (v) {
        v[n] = NULL;
        qsort(v, n, sizeof *v, by_name);
    }
    return v;
}

static void entries_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static size_t digits(const char *s)
{
    return strspn(s, "0123456789");
}

static int is_dir(pvs_ctx *ctx, const char *path)
{
    char *host = pvs_host_path(ctx, path);
    struct stat st;
    int d = host && stat(host, &st) == 0 && S_ISDIR(st.st_mode);
    free(host);
    return d;
}

/* Perl's \S+ / [A-Za-z]\S* over a whole name (no blank in it) */
static int no_blank(const char *s)
{
    return !s[strcspn(s, " \t\n\r\f\v")];
}

static int letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ---- /dev/disk/by-id ---- */

/* a by-id link's target ^../../([^/]+): the kernel name, or NULL */
static char *kernel_name(const char *link, char *buf, size_t size)
{
    size_t n = strlen(link);
    if (n < 7 || link[2] != '/' || link[5] != '/' || memchr(link, '\n', 5))
        return NULL;
    size_t k = strcspn(link + 6, "/");
    if (!k || k >= size)
        return NULL;
    snprintf(buf, size, "%.*s", (int)k, link + 6);
    return buf;
}

static int partition(const char *name)
{
    const char *p = strstr(name, "-part");
    while (p && (!p[5] || p[5 + digits(p + 5)]))
        p = strstr(p + 1, "-part");
    return p != NULL;
}

/* load_stable_scsi_paths: { KERNELNAME: scsi-... / dm-uuid-mpath-... } (the
 * last such name of a device, in byte order) */
static json_t *stable_paths(pvs_ctx *ctx)
{
    json_t *res = json_object();
    char **v = entries(ctx, "/dev/disk/by-id");
    for (size_t i = 0; res && v && v[i]; i++) {
        if (partition(v[i]) || (strncmp(v[i], "scsi-", 5) && strncmp(v[i], "dm-uuid-mpath-", 14)))
            continue;
        char *link = pvs_asprintf("/dev/disk/by-id/%s", v[i]), *host = link ? pvs_host_path(ctx, link) : NULL;
        char dest[PATH_MAX], name[NAME_MAX + 1];
        ssize_t n = host ? readlink(host, dest, sizeof dest - 1) : -1;
        if (n > 0) {
            dest[n] = '\0';
            if (kernel_name(dest, name, sizeof name))
                json_object_set_new_nocheck(res, name, pvs_json_bytes(v[i]));
        }
        free(link);
        free(host);
    }
    entries_free(v);
    return res;
}

/* ---- sysfs ---- */

/* the rest of the first entry of dir named PREFIX + rest with ok(rest)
 * (malloc()ed), or NULL */
static char *first_entry(pvs_ctx *ctx, const char *dir, const char *prefix, int (*ok)(const char *rest))
{
    char **v = entries(ctx, dir), *found = NULL;
    size_t pl = strlen(prefix);
    for (size_t i = 0; v && v[i] && !found; i++)
        if (!strncmp(v[i], prefix, pl) && ok(v[i] + pl))
            found = strdup(v[i] + pl);
    entries_free(v);
    return found;
}

static int target_host(const char *rest)   /* target(\d+):.* */
{
    size_t d = digits(rest);
    return d && rest[d] == ':' && !strchr(rest + d, '\n');
}

static int block_name(const char *rest)   /* [A-Za-z]\S* */
{
    return letter(rest[0]) && no_blank(rest);
}

static int some_name(const char *rest)   /* \S+ */
{
    return rest[0] && no_blank(rest);
}

static int perl_true(const char *s)
{
    return s && *s && strcmp(s, "0") != 0;
}

/* HOST:(\d+):(\d+):(\d+): the three numbers' spans into f (in buf) */
static int hctl(const char *name, const char *host, char *buf, size_t size, char **f)
{
    size_t hl = strlen(host), n = strlen(name);
    if (strncmp(name, host, hl) || name[hl] != ':' || n - hl >= size)
        return 0;
    memcpy(buf, name + hl + 1, n - hl);
    char *p = buf;
    for (int k = 0; k < 3; k++) {
        size_t d = digits(p);
        if (!d || (k < 2 && p[d] != ':') || (k == 2 && p[d]))
            return 0;
        f[k] = p;
        p[d] = '\0';
        p += d + 1;
    }
    return 1;
}

/* a LUN's block device: its kernel name, or its multipath holder's */
static char *lun_bdev(pvs_ctx *ctx, const char *ent)
{
    char *blockdir = pvs_asprintf("/sys/bus/scsi/devices/%s/block", ent), *bdev = NULL;
    if (blockdir && is_dir(ctx, blockdir)) {   /* newer kernels */
        char *dir = pvs_asprintf("%s/", blockdir);
        bdev = dir ? first_entry(ctx, dir, "", block_name) : NULL;
        free(dir);
    } else if (blockdir) {
        blockdir[strlen(blockdir) - 6] = '\0';
        bdev = first_entry(ctx, blockdir, "block:", some_name);
    }
    free(blockdir);
    char *holders = perl_true(bdev) ? pvs_asprintf("/sys/block/%s/holders", bdev) : NULL;
    char *holder = holders && is_dir(ctx, holders) ? first_entry(ctx, holders, "", block_name) : NULL;
    free(holders);
    if (perl_true(holder)) {
        free(bdev);
        return holder;
    }
    free(holder);
    return bdev;
}

/* the first line of a sysfs file by printf, into *line (NULL: none) */
static int sys_line(pvs_ctx *ctx, char **line, pvs_error *err, const char *fmt, const char *a)
{
    char *path = pvs_asprintf(fmt, a);
    int rc = path ? iscsi_first_line(ctx, path, line, err) : pvs_oom(err);
    free(path);
    return rc;
}

/* one disk of a session's host (ENT = HOST:C:I:L) into luns */
static int add_lun(pvs_ctx *ctx, const char *ent, char **f, const json_t *stable, json_t *luns, pvs_error *err)
{
    char *type = NULL, *bdev = NULL, *size = NULL;
    int rc = sys_line(ctx, &type, err, "/sys/bus/scsi/devices/%s/type", ent);
    if (!rc && type && !strcmp(type, "0"))   /* disks only */
        bdev = lun_bdev(ctx, ent);
    const char *byid = perl_true(bdev) ? json_string_value(json_object_get(stable, bdev)) : NULL;
    if (!rc && perl_true(byid))
        rc = sys_line(ctx, &size, err, "/sys/block/%s/size", bdev);
    if (!rc && perl_true(size)) {
        char *volname = pvs_asprintf("%s.%s.%s.%s", f[0], f[1], f[2], byid);
        json_t *o = json_pack("{s:s, s:I, s:i, s:I, s:I, s:I}", "format", "raw", "size",
                              (json_int_t)(strtod(size, NULL) * 512), "vmid", 0, "channel",
                              (json_int_t)strtoll(f[0], NULL, 10), "id", (json_int_t)strtoll(f[1], NULL, 10),
                              "lun", (json_int_t)strtoll(f[2], NULL, 10));
        rc = volname && o && !json_object_set_new_nocheck(luns, volname, o) ? 0 : pvs_oom(err);
        free(volname);
    }
    free(type);
    free(bdev);
    free(size);
    return rc;
}

/* the disks of session ENT (sessionN) into res->{TARGET} */
static int add_session(pvs_ctx *ctx, const char *ent, char **devs, const json_t *stable, json_t *res,
                       pvs_error *err)
{
    char *target = NULL, *dir = pvs_asprintf("/sys/class/iscsi_session/%s/device", ent);
    int rc = sys_line(ctx, &target, err, "/sys/class/iscsi_session/%s/targetname", ent);
    char *host = !rc && perl_true(target) && dir ? first_entry(ctx, dir, "target", target_host) : NULL;
    if (host)
        host[digits(host)] = '\0';
    json_t *luns = host ? json_object_get(res, target) : NULL;
    if (host && !luns && json_object_set_new_nocheck(res, target, luns = json_object()))
        rc = pvs_oom(err);
    for (size_t i = 0; !rc && host && devs && devs[i]; i++) {
        char buf[256], *f[3];
        if (hctl(devs[i], host, buf, sizeof buf, f))
            rc = add_lun(ctx, devs[i], f, stable, luns, err);
    }
    free(dir);
    free(target);
    free(host);
    return rc;
}

json_t *iscsi_device_list(pvs_ctx *ctx, pvs_error *err)
{
    json_t *stable = stable_paths(ctx), *res = json_object();
    char **sessions = entries(ctx, "/sys/class/iscsi_session"), **devs = entries(ctx, "/sys/bus/scsi/devices");
    int rc = stable && res ? 0 : pvs_oom(err);
    for (size_t i = 0; !rc && sessions && sessions[i]; i++) {
        const char *s = sessions[i];
        if (!strncmp(s, "session", 7) && digits(s + 7) && !s[7 + digits(s + 7)])
            rc = add_session(ctx, s, devs, stable, res, err);
    }
    entries_free(sessions);
    entries_free(devs);
    json_decref(stable);
    if (rc) {
        json_decref(res);
        return NULL;
    }
    return res;
}

/* ---- a volume's device and its target ---- */

typedef struct last_line {
    char *line;
} last_line;

static void keep_last(const char *line, size_t n, void *data)
{
    last_line *l = data;
    free(l->line);
    l->line = strndup(line, n);
}

/* upstream's udev_query_path: udevadm's /devices/... path of DEV */
static int udev_path(pvs_ctx *ctx, const char *dev, char **path, pvs_error *err)
{
    *path = NULL;
    if (strncmp(dev, "/dev/", 5) || !dev[5] || strchr(dev, '\n'))
        return pvs_fail(err, PVS_EINVAL, "invalid device for udevadm path query\n");
    const char *argv[] = { "udevadm", "info", "--query=path", dev, NULL };
    pvs_command_opts o = { .reads = 1 };
    char *out = NULL;
    pvs_error e = PVS_ERROR_INIT;
    int rc = pvs_command(ctx, argv, &o, &out, &e);
    last_line l = { NULL };
    if (!rc && out)
        pvs_split_lines(out, keep_last, &l);
    free(out);
    if (rc == PVS_EINTR || rc == PVS_ENOMEM)
        pvs_error_move(err, &e);
    else if (rc)
        pvs_fail(err, rc, "failed to query device path for '%s': %s\n", dev, e.message ? e.message : "\n");
    else if (!l.line || strncmp(l.line, "/devices/", 9) || !l.line[9] || strchr(l.line, '\n'))
        rc = pvs_fail(err, PVS_ESTORAGE, "invalid resolved device path\n");
    pvs_error_clear(&e);
    if (rc)
        free(l.line);
    else
        *path = l.line;
    return rc;
}

/* upstream's resolve_virtual_devices: a device mapper device's slaves
 * (each once, by name), down to the real devices, into leaves */
static int resolve_virtual(pvs_ctx *ctx, const char *path, json_t *visited, json_t *leaves, int depth,
                           pvs_error *err)
{
    if (strncmp(path, "/devices/virtual/block/", 23))
        return json_array_append_new(leaves, pvs_json_bytes(path)) ? pvs_oom(err) : 0;
    char *dir = pvs_asprintf("/sys/%s/slaves", path), **v = dir ? entries(ctx, dir) : NULL;
    int rc = dir ? 0 : pvs_oom(err);
    for (size_t i = 0; !rc && v && v[i]; i++) {
        if (v[i][0] == '.' || !v[i][1] || strchr(v[i], '\n') || json_object_get(visited, v[i]))
            continue;   /* ([^.].+), not seen yet */
        json_object_set_new_nocheck(visited, v[i], json_true());
        char *dev = pvs_asprintf("/dev/%s", v[i]), *sub = NULL;
        pvs_error e = PVS_ERROR_INIT;
        int r = dev ? udev_path(ctx, dev, &sub, &e) : PVS_ENOMEM;
        if (!r && depth < 64)
            rc = resolve_virtual(ctx, sub, visited, leaves, depth + 1, err);
        else if (r == PVS_EINTR || r == PVS_ENOMEM)   /* else: a slave that cannot be asked is skipped */
            rc = e.message ? (pvs_error_move(err, &e), r) : pvs_oom(err);
        pvs_error_clear(&e);
        free(dev);
        free(sub);
    }
    entries_free(v);
    free(dir);
    return rc;
}

/* a leaf ^/devices/platform/host\d+/session(\d+)/target\d+:\d:\d of a
 * session whose target name is target: 1, else 0 (or an error) */
static int leaf_of_target(pvs_ctx *ctx, const char *leaf, const char *target, pvs_error *err)
{
    if (strncmp(leaf, "/devices/platform/host", 22))
        return 0;
    const char *p = leaf + 22;
    size_t hd = digits(p);
    if (!hd || strncmp(p + hd, "/session", 8))
        return 0;
    const char *sid = p + hd + 8;
    size_t sd = digits(sid);
    const char *t = sid + sd;
    if (!sd || strncmp(t, "/target", 7) || !digits(t + 7))
        return 0;
    t += 7 + digits(t + 7);
    if (t[0] != ':' || !digits(t + 1) || t[2] != ':' || !digits(t + 3))
        return 0;
    char *path = pvs_asprintf("/sys/class/iscsi_session/session%.*s/targetname", (int)sd, sid), *name = NULL;
    int rc = path ? iscsi_first_line(ctx, path, &name, err) : pvs_oom(err);
    int found = !rc && perl_true(name) && !strcmp(name, target);
    free(path);
    free(name);
    return rc ? rc : found;
}

/* a resolved host path as the node names it: without the root setting */
static const char *unrooted(const pvs_ctx *ctx, const char *real, char *rootbuf)
{
    const char *root = ctx->set->root;
    if (!strcmp(root, "/") || !realpath(root, rootbuf))
        return real;
    size_t n = strlen(rootbuf);
    return !strncmp(real, rootbuf, n) && real[n] == '/' ? real + n : real;
}

/* the realpath of /dev/disk/by-id/NAME, a block device, into dev */
static int by_id_device(pvs_ctx *ctx, const char *name, char *dev, size_t size, pvs_error *err)
{
    char *path = pvs_asprintf("/dev/disk/by-id/%s", name), *host = path ? pvs_host_path(ctx, path) : NULL;
    char real[PATH_MAX], root[PATH_MAX];
    struct stat st;
    int rc = 0;
    if (!host)
        rc = pvs_oom(err);
    else if (!realpath(host, real))
        rc = pvs_fail(err, PVS_ENOENT, "failed to get realpath for '%s': %s\n", path, strerror(errno));
    else if (snprintf(dev, size, "%s", unrooted(ctx, real, root)), stat(real, &st) || !S_ISBLK(st.st_mode))
        rc = pvs_fail(err, PVS_ESTORAGE, "resolved realpath '%s' is not a block device\n", dev);
    free(path);
    free(host);
    return rc;
}

int iscsi_volume_of_target(pvs_ctx *ctx, const char *volname, const char *name, const char *target,
                           pvs_error *err)
{
    char dev[PATH_MAX], *devpath = NULL;
    int rc = by_id_device(ctx, name, dev, sizeof dev, err);
    if (!rc)
        rc = udev_path(ctx, dev, &devpath, err);
    json_t *visited = json_object(), *leaves = json_array();
    if (!rc)
        rc = visited && leaves ? resolve_virtual(ctx, devpath, visited, leaves, 0, err) : pvs_oom(err);
    int found = 0;
    for (size_t i = 0; !rc && !found && i < json_array_size(leaves); i++) {
        int r = leaf_of_target(ctx, json_string_value(json_array_get(leaves, i)), target, err);
        rc = r < 0 ? r : 0;
        found = r > 0;
    }
    if (!rc && !found)
        rc = pvs_fail(err, PVS_ESTORAGE, "volume '%s' not part of target '%s'\n", volname, target);
    json_decref(visited);
    json_decref(leaves);
    free(devpath);
    return rc;
}
