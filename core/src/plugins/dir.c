/* dir.c - the dir plugin (SPEC §5 dir): activation of a directory storage;
 * names and paths are the base plugin's (plugin_base.c). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../internal.h"

#define ACTIVATE_TIMEOUT 2   /* seconds for a stat of the storage path, as Proxmox */

/* ---- activation ---- */

/* mkdir -p, using only the stack: it runs in a forked child.  -1 with
 * errno of the first component that failed, as File::Path reports it (a
 * file where a directory should be is EEXIST). */
static int mkpath(const char *path)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        struct stat st;
        if (mkdir(buf, 0755) && (errno != EEXIST || stat(buf, &st) || !S_ISDIR(st.st_mode)))
            return -1;   /* errno: mkdir's (EEXIST for a file in the way) */
        buf[i] = c;
    }
    return 0;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int mkpath_and_check(const char *path)
{
    mkpath(path);
    return is_dir(path);
}

static int path_is_mounted(const char *mp)
{
    FILE *f = fopen("/proc/self/mounts", "r");
    if (!f)
        return 0;
    char real[PATH_MAX];
    const char *canon = realpath(mp, real) ? real : mp;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char *save, *dev = strtok_r(line, " ", &save), *dir = strtok_r(NULL, " ", &save);
        if (!dev || !dir)
            continue;
        pvs_unescape_mount(dir);
        found = strcmp(dir, mp) == 0 || strcmp(dir, canon) == 0;
    }
    fclose(f);
    return found;
}

/* Proxmox's parse_is_mountpoint: a boolean means the path itself, anything
 * else is the mount point's path; NULL when no mount is expected. */
static const char *expected_mountpoint(const json_t *scfg)
{
    const char *mp = pvs_scfg_str(scfg, "is_mountpoint");
    if (!mp)
        return NULL;
    static const char *const yes[] = { "1", "on", "yes", "true", NULL };
    static const char *const no[] = { "0", "off", "no", "false", NULL };
    for (int i = 0; yes[i]; i++) {
        if (strcasecmp(mp, yes[i]) == 0)
            return pvs_scfg_str(scfg, "path");
        if (strcasecmp(mp, no[i]) == 0)
            return NULL;
    }
    return mp;
}

/* the content types with a directory, sorted as upstream walks them */
static const char *const vtypes[] = { "backup", "images", "import", "iso", "rootdir", "snippets",
                                      "vztmpl", NULL };

static int subdir_failed(const char *sub, const char *vtype, int e, pvs_error *err)
{
    const char *prompt = e == EACCES || e == EPERM || e == EROFS
                             ? " - ensure that you have read and write access to your storage!" : "";
    return pvs_fail(err, PVS_ESTORAGE, "failed to create content directory '%s' for content '%s' - %s%s\n",
                    sub, vtype, strerror(e), prompt);
}

/* each content type's directory (backup's too when the storage holds
 * containers: their migration uses it) */
static int create_subdirs(const json_t *scfg, json_t *content, pvs_error *err)
{
    for (const char *const *vt = vtypes; *vt; vt++) {
        if (!json_object_get(content, *vt)
            && !(strcmp(*vt, "backup") == 0 && json_object_get(content, "rootdir")))
            continue;
        char *sub = pvs_base_get_subdir(scfg, *vt, err);
        if (!sub)
            return err ? err->code : PVS_EINVAL;
        int rc = mkpath(sub) ? subdir_failed(sub, *vt, errno, err) : 0;
        free(sub);
        if (rc)
            return rc;
    }
    return 0;
}

/* two content types must not share a directory (as far as it exists) */
static int distinct_subdirs(const char *storeid, const json_t *scfg, json_t *content, pvs_error *err)
{
    char seen[8][PATH_MAX];
    int n = 0, rc = 0;
    for (const char *const *vt = vtypes; *vt && !rc; vt++) {
        if (!json_object_get(content, *vt))
            continue;
        char *sub = pvs_base_get_subdir(scfg, *vt, err);
        if (!sub)
            return err ? err->code : PVS_EINVAL;
        if (realpath(sub, seen[n])) {
            for (int i = 0; i < n && !rc; i++)
                if (strcmp(seen[i], seen[n]) == 0)
                    rc = pvs_fail(err, PVS_ESTORAGE, "storage '%s' uses directory %s for multiple content types\n",
                                  storeid, seen[n]);
            n++;
        }
        free(sub);
    }
    return rc;
}

static int dir_activate_storage(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid,
                                const json_t *scfg, pvs_error *err)
{
    (void)ctx;
    const char *path = pvs_scfg_str(scfg, "path");
    if (!path || !*path)
        return pvs_fail(err, PVS_EINVAL, "storage definition has no path\n");

    const char *mp = expected_mountpoint(scfg);
    if (mp && !path_is_mounted(mp))
        return pvs_fail(err, PVS_ESTORAGE,
                        "unable to activate storage '%s' - directory is expected to be a mount "
                        "point but is not mounted: '%s'\n", storeid, mp);

    /* The base path is created unless create-base-path (or the old mkdir) is
     * 0, as Proxmox does; both the mkdir and the check run in a child with a
     * timeout, because they hang on an unresponsive mount. */
    json_t *cbp = json_object_get(scfg, "create-base-path");
    int create_base = cbp ? pvs_scfg_bool(scfg, "create-base-path", 1) : pvs_scfg_bool(scfg, "mkdir", 1);
    int dry = pvs_dry_run(ctx);   /* a dry run creates nothing: what is missing would be created */
    if (pvs_fork_check_call(ctx, create_base && !dry ? mkpath_and_check : is_dir, path, ACTIVATE_TIMEOUT) != 1
        && !(dry && create_base))
        return pvs_fail(err, PVS_ESTORAGE,
                        "unable to activate storage '%s' - directory '%s' does not exist or is "
                        "unreachable\n", storeid, path);

    json_t *content = json_object_get(scfg, "content");
    if (!json_is_object(content))
        return 0;
    json_t *cs = json_object_get(scfg, "create-subdirs");
    int create = cs ? pvs_scfg_bool(scfg, "create-subdirs", 1) : pvs_scfg_bool(scfg, "mkdir", 1);
    int rc = create && !dry ? create_subdirs(scfg, content, err) : 0;
    (void)self;
    return rc ? rc : distinct_subdirs(storeid, scfg, content, err);
}

static int dir_activate_volume(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid,
                               const json_t *scfg, const char *volname, const char *snapname,
                               const json_t *hints, pvs_error *err)
{
    (void)hints;   /* files need no hints */
    char *path;
    if (pvs_base_filesystem_path(ctx, self, scfg, volname, snapname, &path, NULL, err))
        return err ? err->code : PVS_EINVAL;
    struct stat st;
    int rc = 0;
    if (stat(path, &st) != 0)
        rc = pvs_fail(err, PVS_ENOENT, "volume '%s:%s' does not exist\n", storeid, volname);
    free(path);
    return rc;
}

static int dir_deactivate_volume(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid,
                                 const json_t *scfg, const char *volname, const char *snapname,
                                 pvs_error *err)
{
    /* nothing to release for files: upstream does nothing, whatever the name */
    (void)ctx, (void)self, (void)storeid, (void)scfg, (void)volname, (void)snapname, (void)err;
    return 0;
}

static const pvs_property dir_properties[] = {
    PVS_PROP("path", "string", .format = "pve-storage-path"),
    PVS_PROP("mkdir", "boolean", .default_value = "yes"),
    PVS_PROP("create-base-path", "boolean", .default_value = "yes"),
    PVS_PROP("create-subdirs", "boolean", .default_value = "yes"),
    PVS_PROP("is_mountpoint", "string", .default_value = "no"),
    PVS_PROP("bwlimit", "string", .format = "bwlimit"),
    PVS_PROPS_END,
};

static const pvs_plugin_option dir_options[] = {
    PVS_FIXED("path"), PVS_OPT("content-dirs"), PVS_OPT("nodes"), PVS_OPT("shared"),
    PVS_OPT("disable"), PVS_OPT("prune-backups"), PVS_OPT("max-protected-backups"),
    PVS_OPT("content"), PVS_OPT("format"), PVS_OPT("mkdir"), PVS_OPT("create-base-path"),
    PVS_OPT("create-subdirs"), PVS_OPT("is_mountpoint"), PVS_OPT("bwlimit"),
    PVS_OPT("preallocation"), PVS_FIXED_OPT("snapshot-as-volume-chain"), PVS_OPTIONS_END,
};

static const char *const dir_content_valid[] = {
    "images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import", "none", NULL,
};
static const char *const dir_content_default[] = { "images", "rootdir", NULL };
static const char *const dir_formats[] = { "raw", "qcow2", "vmdk", "subvol", NULL };
static const char *const dir_secrets[] = { NULL };

const pvs_plugin pvs_dir_plugin = {
    .size = PVS_PLUGIN_SIZE,
    .type = "dir",
    .api = PVS_APIVER,
    .options = dir_options,
    .content_valid = dir_content_valid,
    .content_default = dir_content_default,
    .shared = 0,
    .parse_volname = pvs_base_parse_volname,
    .path = NULL,   /* the base plugin's filesystem path */
    .activate_storage = dir_activate_storage,
    .activate_volume = dir_activate_volume,
    .deactivate_volume = dir_deactivate_volume,
    .map_volume = NULL,     /* the path */
    .unmap_volume = NULL,   /* nothing to do */
    .properties = dir_properties,
    .formats = dir_formats,
    .format_default = "raw",
    .sensitive_properties = dir_secrets,
    .check_config = pvs_dir_check_config,
    .capabilities = PVS_PLUGIN_DRY_RUN,
};
