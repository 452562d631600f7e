/* fuzz_volname.c - volume IDs, and every plugin's parse_volname and path,
 * with a path-escape oracle: a name that parses yields a path inside its
 * storage, with no '..' component. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static pvs_ctx *ctx;
static json_t *dir_scfg, *rbd_scfg, *krbd_scfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    setenv("PVESTORAGE_ROOT", "/nonexistent/pvs-fuzz-root", 1);
    ctx = pvs_ctx_new(NULL);
    pvs_ctx_set_warn(ctx, NULL, NULL);
    dir_scfg = json_pack("{s:s, s:s}", "type", "dir", "path", "/srv/store");
    rbd_scfg = json_pack("{s:s, s:s}", "type", "rbd", "pool", "pool1");
    krbd_scfg = json_pack("{s:s, s:s, s:i, s:s}", "type", "rbd", "pool", "pool1", "krbd", 1, "fsid",
                          "00000000-1111-2222-3333-444444444444");
    return 0;
}

static int has_dotdot(const char *p)
{
    for (const char *s = p; (s = strstr(s, "..")); s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == '\0'))
            return 1;
    return 0;
}

static void check_path(const pvs_plugin *p, const json_t *scfg, const char *volname, const char *snap,
                       const char *prefix)
{
    char *path = NULL;
    if (pvs_plugin_path(ctx, p, scfg, volname, "st1", snap, &path, NULL) == 0) {
        if (!path || strncmp(path, prefix, strlen(prefix)) != 0 || has_dotdot(path))
            abort();
    }
    free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    char *storeid = NULL, *volname = NULL;
    if (pvs_parse_volume_id(s, &storeid, &volname, NULL) == 0 && (!storeid || !volname))
        abort();
    free(storeid);
    free(volname);
    /* the input as a volume name, and split at a NUL as name + snapshot */
    const char *snap = strlen(s) < size ? s + strlen(s) + 1 : NULL;
    const pvs_plugin *plugins[] = { &pvs_dir_plugin, &pvs_rbd_plugin };
    for (int i = 0; i < 2; i++) {
        pvs_volname v;
        if (pvs_plugin_parse_volname(plugins[i], s, &v, NULL) == 0) {
            if (!v.vtype || !v.name)
                abort();
            pvs_volname_clear(&v);
        }
    }
    check_path(&pvs_dir_plugin, dir_scfg, s, snap, "/srv/store/");
    check_path(&pvs_rbd_plugin, rbd_scfg, s, snap, "rbd:pool1/");
    check_path(&pvs_rbd_plugin, krbd_scfg, s, snap, "/dev/rbd-pve/00000000-1111-2222-3333-444444444444/pool1/");
    free(s);
    return 0;
}
