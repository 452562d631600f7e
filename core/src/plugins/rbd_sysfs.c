/* rbd_sysfs.c - the kernel side of krbd, read through the ctx root:
 * /dev/rbd-pve/FSID/..., /dev/rbd/..., /dev/rbdN, /sys/devices/rbd/N/. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "rbd.h"

#define MAX_LINK_HOPS 40   /* the kernel's own bound (ELOOP) */

/* "POOL[/NAMESPACE]/NAME" */
static char *rbd_path(const rbd_opts *o, const char *name)
{
    return o->namespace_ ? pvs_asprintf("%s/%s/%s", o->pool, o->namespace_, name)
                         : pvs_asprintf("%s/%s", o->pool, name);
}

/* Normalise an absolute path in place: "//", "." and ".." (which stops at
 * "/") go, so the /dev/rbdN name can be read off.  Linear, no arrays. */
static void normalise(char *path)
{
    char *out = path;   /* written behind p: the result only ever shrinks */
    const char *p = path;
    size_t len = 0;     /* of the result so far */
    while (*p) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (n == 0)
            break;
        if (n == 1 && p[0] == '.') {
            /* nothing */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (len && out[len - 1] != '/')
                len--;
            if (len)
                len--;
        } else {
            out[len] = '/';
            memmove(out + len + 1, p, n);
            len += n + 1;
        }
        p += n;
    }
    if (len == 0)
        len = 1;   /* "/" */
    out[0] = '/';
    out[len] = '\0';
}

/* Follow a host path's symlinks inside the root (absolute targets are host
 * paths too).  Returns the host path it ends at, or NULL and err: a target
 * longer than PATH_MAX or more than MAX_LINK_HOPS links. */
static char *resolve_host(pvs_ctx *ctx, const char *host_path, pvs_error *err)
{
    char *cur = strdup(host_path);
    if (!cur) {
        pvs_oom(err);
        return NULL;
    }
    char *target = malloc(PATH_MAX);
    for (int hops = 0; cur && target; hops++) {
        char *full = pvs_host_path(ctx, cur);
        ssize_t n = full ? readlink(full, target, PATH_MAX) : -1;
        free(full);
        if (n < 0) {
            free(target);
            return cur;   /* not a link (or gone): the end */
        }
        if (n >= PATH_MAX || hops >= MAX_LINK_HOPS) {
            pvs_fail(err, PVS_EINVAL, "cannot resolve device path '%s': %s\n", host_path,
                     n >= PATH_MAX ? "link target too long" : "too many levels of symbolic links");
            break;
        }
        target[n] = '\0';
        char *next;
        if (target[0] == '/') {
            next = strdup(target);
        } else {
            char *slash = strrchr(cur, '/');
            next = pvs_asprintf("%.*s/%s", (int)(slash - cur), cur, target);
        }
        free(cur);
        cur = next;
        if (cur && strlen(cur) >= PATH_MAX) {
            pvs_fail(err, PVS_EINVAL, "cannot resolve device path '%s': path too long\n", host_path);
            break;
        }
        if (cur)
            normalise(cur);
    }
    if (!cur || !target)
        pvs_oom(err);
    free(cur);
    free(target);
    return NULL;
}

/* The first line of a host file, without its line end, or NULL.  Only a
 * regular file is read (sysfs attributes are): a FIFO or device there is
 * refused before it can block.  The buffer is wiped: config_info may hold
 * a secret. */
static char *read_first_line(pvs_ctx *ctx, const char *host_path)
{
    size_t len;
    char *text = pvs_host_read(ctx, host_path, &len, NULL);
    if (!text)
        return NULL;
    char *line = strndup(text, strcspn(text, "\r\n"));   /* a NUL byte ends it too */
    explicit_bzero(text, len);
    free(text);
    return line;
}

char *rbd_sysfs_line(pvs_ctx *ctx, int id, const char *name)
{
    char path[96];
    snprintf(path, sizeof path, "/sys/devices/rbd/%d/%s", id, name);
    return read_first_line(ctx, path);
}

/* A number in /sys/devices/rbd/ID/NAME, or -1. */
static long sysfs_number(pvs_ctx *ctx, int id, const char *name)
{
    char path[96];
    snprintf(path, sizeof path, "/sys/devices/rbd/%d/%s", id, name);
    char *line = read_first_line(ctx, path), *end;
    long v = line ? strtol(line, &end, 10) : -1;
    if (line && (end == line || *end))
        v = -1;
    free(line);
    return v;
}

/* 1 iff the block node rdev is the kernel's rbd device ID. */
static int is_rbd_device(pvs_ctx *ctx, int id, dev_t rdev)
{
    long major_ = sysfs_number(ctx, id, "major"), minor_ = sysfs_number(ctx, id, "minor");
    if (major_ < 0 || (long)major(rdev) != major_)
        return 0;
    return minor_ < 0 || (long)minor(rdev) == minor_;   /* no minor file before single_major */
}

int rbd_device_state(pvs_ctx *ctx, const char *host_path, int *id, pvs_error *err)
{
    *id = -1;
    char *full = pvs_host_path(ctx, host_path);
    struct stat st;
    int exists = full && stat(full, &st) == 0;
    free(full);
    if (!exists)
        return 0;
    if (!S_ISBLK(st.st_mode))
        return pvs_fail(err, PVS_EINVAL, "'%s' exists but is not a block device\n", host_path);
    char *dev = resolve_host(ctx, host_path, err);
    if (!dev)
        return err ? err->code : PVS_EINVAL;
    int n = -1, used = 0;
    if (!(sscanf(dev, "/dev/rbd%d%n", &n, &used) == 1 && dev[used] == '\0' && n >= 0
          && is_rbd_device(ctx, n, st.st_rdev))) {
        pvs_fail(err, PVS_EINVAL, "'%s' is not a kernel rbd device (it is '%s')\n", host_path, dev);
        free(dev);
        return PVS_EINVAL;
    }
    free(dev);
    *id = n;
    return 1;
}

/* A secret's place in the options, as the kernel's own debugfs shows it. */
#define HIDDEN_SECRET "secret=<hidden>"

char *rbd_config_info_options(const char *line)
{
    /* "MONS OPTIONS POOL IMAGE SNAP": the second field */
    const char *p = line + strcspn(line, " \t");
    p += strspn(p, " \t");
    size_t n = strcspn(p, " \t");
    if (!n)
        return NULL;
    strbuf sb;
    sb_init(&sb);
    for (const char *tok = p, *end = p + n; tok < end;) {
        size_t len = strcspn(tok, ",");
        if (len > (size_t)(end - tok))
            len = (size_t)(end - tok);
        if (tok != p)
            sb_add(&sb, ",");
        if (len >= 7 && strncmp(tok, "secret=", 7) == 0)
            sb_add(&sb, HIDDEN_SECRET);   /* written instead of key= on old kernels or by hand */
        else
            sb_addn(&sb, tok, len);
        tok += len + 1;
    }
    return sb_take(&sb);
}

char *rbd_map_options(pvs_ctx *ctx, int id)
{
    if (id < 0)
        return NULL;
    char path[64];
    snprintf(path, sizeof path, "/sys/devices/rbd/%d/config_info", id);
    char *line = read_first_line(ctx, path);
    if (!line)
        return NULL;
    char *opts = rbd_config_info_options(line);
    explicit_bzero(line, strlen(line));
    free(line);
    return opts;
}

int rbd_has_option(const char *options, const char *option)
{
    size_t n = strlen(option);
    for (const char *p = options; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, option, n) == 0)
            return 1;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* 1 iff /sys/devices/rbd/ID/NAME holds exactly want ("" for an empty line). */
static int sysfs_is(pvs_ctx *ctx, int id, const char *name, const char *want, int nocase)
{
    char *v = rbd_sysfs_line(ctx, id, name);
    int same = v && (nocase ? strcasecmp(v, want) : strcmp(v, want)) == 0;
    free(v);
    return same;
}

/* A mapping made before /dev/rbd-pve existed: only when it belongs to this cluster. */
static int old_path_usable(pvs_ctx *ctx, const char *old_path, const char *fsid)
{
    int id;
    return rbd_device_state(ctx, old_path, &id, NULL) == 1 && sysfs_is(ctx, id, "cluster_fsid", fsid, 1);
}

/* The kernel's own answer where no udev link names a mapping (a host with
 * neither Proxmox's rule nor ours): the lowest device whose sysfs says this
 * cluster, pool, namespace, image and snapshot, as "/dev/rbdN", or NULL. */
static char *find_mapping(pvs_ctx *ctx, const rbd_opts *o, const char *fsid, const char *name)
{
    const char *at = strchr(name, '@');
    char *image = at ? strndup(name, (size_t)(at - name)) : strdup(name), *found = NULL;
    size_t n = 0;
    long long *ids = image && *fsid ? pvs_host_dir_numbers(ctx, "/sys/devices/rbd", "", 1 << 20, &n) : NULL;
    for (size_t i = 0; i < n && !found; i++) {
        int id = (int)ids[i], dev_id;
        if (!(sysfs_is(ctx, id, "cluster_fsid", fsid, 1) && sysfs_is(ctx, id, "pool", o->pool, 0)
              && sysfs_is(ctx, id, "pool_ns", o->namespace_ ? o->namespace_ : "", 0)
              && sysfs_is(ctx, id, "name", image, 0) && sysfs_is(ctx, id, "current_snap", at ? at + 1 : "-", 0)))
            continue;
        char *dev = pvs_asprintf("/dev/rbd%d", id);
        if (dev && rbd_device_state(ctx, dev, &dev_id, NULL) == 1 && dev_id == id)
            found = dev;
        else
            free(dev);
    }
    free(ids);
    free(image);
    return found;
}

char *rbd_dev_path(pvs_ctx *ctx, const rbd_opts *o, const char *fsid, const char *name)
{
    char *rel = rbd_path(o, name);
    if (!rel)
        return NULL;
    char *pve_path = pvs_asprintf("/dev/rbd-pve/%s/%s", fsid, rel);
    char *old_path = pvs_asprintf("/dev/rbd/%s", rel);
    free(rel);
    char *full_pve = pve_path ? pvs_host_path(ctx, pve_path) : NULL;
    char *full_old = old_path ? pvs_host_path(ctx, old_path) : NULL;
    struct stat st;
    int no_pve = full_pve && stat(full_pve, &st) != 0;
    int use_old = no_pve && full_old && stat(full_old, &st) == 0 && old_path_usable(ctx, old_path, fsid);
    free(full_pve);
    free(full_old);
    if (!full_pve || !full_old) {
        free(pve_path);
        free(old_path);
        return NULL;
    }
    char *kernel = no_pve && !use_old ? find_mapping(ctx, o, fsid, name) : NULL;
    if (kernel) {   /* mapped, and no link says so */
        free(pve_path);
        free(old_path);
        return kernel;
    }
    if (use_old) {
        free(pve_path);
        return old_path;
    }
    free(old_path);
    return pve_path;
}
