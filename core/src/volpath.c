/* volpath.c - PVE::Storage::path_to_volume_id: which volume a file path is,
 * for the storages that have a path.  An API entry at the storage level. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "internal.h"

/* path is DIR/NAME with NAME a single component: NAME, or NULL */
static const char *file_in(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (strncmp(path, dir, n) != 0 || path[n] != '/' || !path[n + 1] || strchr(path + n + 1, '/'))
        return NULL;
    return path + n + 1;
}

/* Does name parse (0), or is it no volume of p (1)?  Only an interruption
 * (a foreign plugin's KeyboardInterrupt...) is an error: it stops the call. */
static int parses(pvs_ctx *ctx, const pvs_plugin *p, const char *name, pvs_volname *v, pvs_error *err)
{
    pvs_error e = PVS_ERROR_INIT;
    int rc = pvs_plugin_parse_volname_in(ctx, p, name, v, &e);
    if (rc == PVS_EINTR) {
        pvs_error_move(err, &e);
        return rc;
    }
    pvs_error_clear(&e);
    return rc ? 1 : 0;
}

/* IMAGEDIR/VMID/NAME, an existing file whose name is an image's: its volume
 * ID in *volid (NULL when it is none) */
static int image_volid(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid, const char *imagedir, const char *path,
                       char **volid, pvs_error *err)
{
    size_t n = strlen(imagedir);
    *volid = NULL;
    if (strncmp(path, imagedir, n) != 0 || path[n] != '/')
        return 0;
    const char *vmid = path + n + 1, *slash = strchr(vmid, '/');
    if (!slash || slash == vmid || strchr(slash + 1, '/'))
        return 0;
    for (const char *c = vmid; c < slash; c++)
        if (*c < '0' || *c > '9')
            return 0;
    char *volname = pvs_asprintf("%.*s/%s", (int)(slash - vmid), vmid, slash + 1);
    pvs_volname v;
    struct stat st;
    int rc = volname ? parses(ctx, p, volname, &v, err) : pvs_oom(err);
    if (rc == 0) {
        pvs_volname_clear(&v);
        if (stat(path, &st) == 0 && !(*volid = pvs_asprintf("%s:%s", storeid, volname)))
            rc = pvs_oom(err);
    }
    free(volname);
    return rc < 0 ? rc : 0;
}

/* The volume ID of path on one storage (NULL when none), its content type
 * in *vtype. */
static int volid_on(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid, const json_t *scfg, const char *path,
                    const char **vtype, char **volid, pvs_error *err)
{
    static const char *const kinds[] = { "iso", "vztmpl", "backup", "snippets", "import", NULL };
    char *imagedir = pvs_base_get_subdir(scfg, "images", NULL);
    int rc = imagedir ? image_volid(ctx, p, storeid, imagedir, path, volid, err) : 0;
    free(imagedir);
    if (*volid || rc) {
        *vtype = "images";
        return rc;
    }
    for (const char *const *k = kinds; *k && !*volid && !rc; k++) {
        char *dir = pvs_base_get_subdir(scfg, *k, NULL);
        const char *name = dir ? file_in(path, dir) : NULL;
        char *candidate = name ? pvs_asprintf("%s/%s", *k, name) : NULL;
        pvs_volname v;
        /* the name must be one the base plugin takes for that content type */
        if (candidate && (rc = parses(ctx, p, candidate, &v, err)) == 0) {
            /* import files are of the safe characters, without blanks */
            if (v.vtype && strcmp(v.vtype, *k) == 0 && (strcmp(*k, "import") || !strchr(v.name, ' '))) {
                *volid = pvs_asprintf("%s:%s", storeid, candidate);
                *vtype = *k;
            }
            pvs_volname_clear(&v);
        }
        rc = rc < 0 ? rc : 0;
        free(candidate);
        free(dir);
    }
    return rc;
}

/* A volume ID given for a path: its storage must have a path and the name
 * must parse; ("", NULL) otherwise. */
static int given_volid(pvs_ctx *ctx, const json_t *cfg, const char *storeid, const char *volname,
                       const char *volid, char **vtype, char **out, pvs_error *err)
{
    json_t *scfg = json_object_get(json_object_get(cfg, "ids"), storeid);
    const pvs_plugin *p = pvs_plugin_lookup(ctx, pvs_scfg_str(scfg, "type"), NULL);
    if (!json_is_object(scfg) || !pvs_scfg_str(scfg, "path") || !*pvs_scfg_str(scfg, "path") || !p)
        return 0;
    pvs_volname v;
    int rc = pvs_plugin_parse_volname_in(ctx, p, volname, &v, err);
    if (rc)
        return rc;
    *vtype = v.vtype;
    v.vtype = NULL;
    pvs_volname_clear(&v);
    if (!(*out = strdup(volid)))
        return pvs_oom(err);
    return 0;
}

static int path_to_volid_in(pvs_ctx *ctx, const json_t *cfg, const char *path, char **vtype,
                            char **volid, pvs_error *err)
{
    char *storeid, *volname;
    if (pvs_parse_volume_id(path, &storeid, &volname, NULL) == 0) {
        int rc = given_volid(ctx, cfg, storeid, volname, path, vtype, volid, err);
        free(storeid);
        free(volname);
        return rc;
    }
    char real[PATH_MAX];
    const char *p = realpath(path, real) ? real : path;   /* abs_path($path) || $path */
    const char *id;
    json_t *scfg;
    /* upstream walks the storages in hash order: here, in the file's order */
    json_object_foreach(json_object_get(cfg, "ids"), id, scfg) {
        const pvs_plugin *pl = pvs_plugin_lookup(ctx, pvs_scfg_str(scfg, "type"), NULL);
        const char *kind = NULL;
        if (!json_is_object(scfg) || !pvs_scfg_str(scfg, "path") || !pl)
            continue;
        int rc = volid_on(ctx, pl, id, scfg, p, &kind, volid, err);
        if (rc)
            return rc;
        if (*volid) {
            if (!(*vtype = strdup(kind)))
                return pvs_oom(err);
            return 0;
        }
    }
    return 0;
}

int pvs_path_to_volume_id(pvs_ctx *ctx, const json_t *cfg, const char *path, char **vtype,
                          char **volid, pvs_error *err)
{
    *vtype = *volid = NULL;
    if (!path)
        return pvs_fail(err, PVS_EINVAL, "path missing\n");
    PVS_CALL(path_to_volid_in(call, cfg, path, vtype, volid, err));
}
