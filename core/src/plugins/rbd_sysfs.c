/* rbd_sysfs.c - the kernel side of krbd, read through the ctx root:
 * /dev/rbd-pve/FSID/..., /dev/rbd/..., /dev/rbdN, /sys/devices/rbd/N/. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rbd.h"

/* "POOL[/NAMESPACE]/NAME" */
static char *rbd_path(const rbd_opts *o, const char *name)
{
    return o->namespace_ ? pvs_asprintf("%s/%s/%s", o->pool, o->namespace_, name)
                         : pvs_asprintf("%s/%s", o->pool, name);
}

/* Resolve a host path's symlinks inside the root (absolute targets are
 * host paths too); returns the host path it ends at, or NULL. */
static char *resolve_host(pvs_ctx *ctx, const char *host_path)
{
    char *cur = strdup(host_path);
    for (int hops = 0; cur && hops < 40; hops++) {
        char *full = pvs_host_path(ctx, cur);
        char target[PATH_MAX];
        ssize_t n = full ? readlink(full, target, sizeof target - 1) : -1;
        free(full);
        if (n < 0)
            return cur;   /* not a link (or gone): the end */
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
        /* normalise "a/b/../c" so the /dev/rbdN name can be read off */
        if (cur) {
            char *parts[PATH_MAX / 2];
            int np = 0;
            char *save, *tok;
            char *copy = strdup(cur);
            for (tok = copy ? strtok_r(copy, "/", &save) : NULL; tok; tok = strtok_r(NULL, "/", &save)) {
                if (strcmp(tok, ".") == 0)
                    continue;
                if (strcmp(tok, "..") == 0) {
                    if (np)
                        np--;
                    continue;
                }
                parts[np++] = tok;
            }
            strbuf sb;
            sb_init(&sb);
            for (int i = 0; i < np; i++) {
                sb_add(&sb, "/");
                sb_add(&sb, parts[i]);
            }
            free(copy);
            free(cur);
            cur = sb_take(&sb);
        }
    }
    return cur;
}

int rbd_device_mapped(pvs_ctx *ctx, const char *host_path, int *id)
{
    *id = -1;
    char *full = pvs_host_path(ctx, host_path);
    struct stat st;
    int mapped = full && stat(full, &st) == 0 && S_ISBLK(st.st_mode);
    free(full);
    if (!mapped)
        return 0;
    char *dev = resolve_host(ctx, host_path);
    int n = -1, used = 0;
    if (dev && sscanf(dev, "/dev/rbd%d%n", &n, &used) == 1 && dev[used] == '\0' && n >= 0)
        *id = n;
    free(dev);
    return 1;
}

static char *read_first_line(pvs_ctx *ctx, const char *host_path)
{
    char *full = pvs_host_path(ctx, host_path);
    FILE *f = full ? fopen(full, "r") : NULL;
    free(full);
    if (!f)
        return NULL;
    char buf[4096];
    char *line = fgets(buf, sizeof buf, f) ? strdup(buf) : NULL;
    fclose(f);
    if (line)
        line[strcspn(line, "\r\n")] = '\0';
    return line;
}

char *rbd_map_options(pvs_ctx *ctx, int id)
{
    if (id < 0)
        return NULL;
    char path[64];
    snprintf(path, sizeof path, "/sys/devices/rbd/%d/config_info", id);
    /* "MONS OPTIONS POOL IMAGE SNAP"; may hold a secret on old kernels:
     * only the options field is kept, nothing is logged */
    char *line = read_first_line(ctx, path);
    if (!line)
        return NULL;
    size_t len = strlen(line);
    char *save, *f1 = strtok_r(line, " \t", &save), *f2 = f1 ? strtok_r(NULL, " \t", &save) : NULL;
    char *opts = f2 ? strdup(f2) : NULL;
    explicit_bzero(line, len);
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

char *rbd_dev_path(pvs_ctx *ctx, const rbd_opts *o, const char *fsid, const char *name)
{
    char *rel = rbd_path(o, name);
    if (!rel)
        return NULL;
    char *pve_path = pvs_asprintf("/dev/rbd-pve/%s/%s", fsid, rel);
    char *old_path = pvs_asprintf("/dev/rbd/%s", rel);
    free(rel);
    if (!pve_path || !old_path) {
        free(pve_path);
        free(old_path);
        return NULL;
    }
    /* mappings made before /dev/rbd-pve existed: only when they belong to this cluster */
    char *full_pve = pvs_host_path(ctx, pve_path), *full_old = pvs_host_path(ctx, old_path);
    struct stat st;
    int use_old = 0;
    if (full_pve && full_old && stat(full_pve, &st) != 0 && stat(full_old, &st) == 0) {
        int id;
        if (rbd_device_mapped(ctx, old_path, &id) && id >= 0) {
            char fsid_file[64];
            snprintf(fsid_file, sizeof fsid_file, "/sys/devices/rbd/%d/cluster_fsid", id);
            char *dev_fsid = read_first_line(ctx, fsid_file);
            use_old = dev_fsid && strcasecmp(dev_fsid, fsid) == 0;
            free(dev_fsid);
        }
    }
    free(full_pve);
    free(full_old);
    if (use_old) {
        free(pve_path);
        return old_path;
    }
    free(old_path);
    return pve_path;
}
