/* fuzz_plugin.c - a plugin's results are input.  A C plugin whose
 * parse_volname and path give what the fuzz input says (any fields, any
 * bytes, any return code, with or without a message) is driven through
 * pvs_path, pvs_list_volumes, pvs_activate_volumes (plain and reporting)
 * and pvs_deactivate_volumes.  Oracles: no crash, no leak (ASan), every
 * failure carries a message and its code, every success what it promises
 * (a path; a listing of volumes with a volid and a format; a parse_volname
 * result with vtype, name, format and guest IDs).
 *
 * Input: byte 0, bits 0-6 which of the 7 parse_volname fields are set,
 * bit 7 whether the plugin has a path method; byte 1, the return codes of
 * parse_volname (low nibble) and path (high nibble): 0 success, 1
 * PVS_EINVAL, 2 PVS_EPLUGIN without a message, 3 PVS_EINTR, 4 a positive
 * number, else success; then the field values and the path, separated by
 * '\n' (a NUL byte ends a value early). */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static pvs_ctx *ctx;
static json_t *cfg;
static char dir[] = "/tmp/pvs-fuzz-plugin-XXXXXX";

/* the current input, as the plugin answers */
static struct {
    unsigned fields, has_path, parse_rc, path_rc;
    char *value[8];   /* the 7 fields, then the path */
} in;

static int code_of(unsigned selector, pvs_error *err)
{
    switch (selector) {
    case 1: return pvs_error_set(err, PVS_EINVAL, "unable to parse volume name\n");
    case 2: return PVS_EPLUGIN;   /* and no message */
    case 3: return pvs_error_set(err, PVS_EINTR, "interrupted\n");
    case 4: return 5;
    default: return 0;
    }
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int fz_parse_volname(const pvs_plugin *self, const char *volname, pvs_volname *out, pvs_error *err)
{
    (void)self, (void)volname;
    char **f[7] = { &out->vtype, &out->name, &out->vmid, &out->basename, &out->basevmid, &out->isbase, &out->format };
    for (int i = 0; i < 7; i++)
        *f[i] = in.fields & (1u << i) ? dup_or_null(in.value[i]) : NULL;
    return code_of(in.parse_rc, err);   /* a failing plugin may leave fields behind: the core frees them */
}

static int fz_path(pvs_ctx *c, const pvs_plugin *self, const json_t *scfg, const char *volname, const char *storeid,
                   const char *snapname, char **path, pvs_error *err)
{
    (void)c, (void)self, (void)scfg, (void)volname, (void)storeid, (void)snapname;
    *path = dup_or_null(in.value[7]);
    return code_of(in.path_rc, err);
}

static int fz_activate(pvs_ctx *c, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                       const char *volname, const char *snapname, const json_t *hints, pvs_error *err)
{
    (void)c, (void)self, (void)storeid, (void)scfg, (void)volname, (void)snapname, (void)hints, (void)err;
    return 0;
}

static int fz_deactivate(pvs_ctx *c, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                         const char *volname, const char *snapname, pvs_error *err)
{
    (void)c, (void)self, (void)storeid, (void)scfg, (void)volname, (void)snapname;
    return code_of(in.parse_rc, err);
}

static pvs_plugin with_path, without_path;

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void cleanup(void)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void put(const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    if (f)
        fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    setenv("PVESTORAGE_ROOT", "/nonexistent/pvs-fuzz-root", 1);
    ctx = pvs_ctx_new(NULL);
    pvs_ctx_set_warn(ctx, NULL, NULL);
    if (!mkdtemp(dir))
        abort();
    atexit(cleanup);
    char sub[256];
    const char *subs[] = { "images", "images/100", "template", "template/iso", NULL };
    for (int i = 0; subs[i]; i++) {
        snprintf(sub, sizeof sub, "%s/%s", dir, subs[i]);
        mkdir(sub, 0755);
    }
    put("images/100/vm-100-disk-0.raw");
    put("images/100/vm-100-disk-1.qcow2");
    put("template/iso/x.iso");
    pvs_plugin base = { .size = PVS_PLUGIN_SIZE, .api = PVS_APIVER, .parse_volname = fz_parse_volname,
                        .activate_volume = fz_activate, .deactivate_volume = fz_deactivate };
    with_path = without_path = base;
    with_path.type = "fzpath";
    with_path.name = "Fuzz::WithPath";
    with_path.path = fz_path;
    without_path.type = "fzbase";
    if (pvs_register_plugin(ctx, &with_path, NULL) || pvs_register_plugin(ctx, &without_path, NULL))
        abort();
    cfg = json_pack("{s:{s:{s:s, s:s, s:{s:i, s:i}}, s:{s:s, s:s, s:{s:i, s:i}}}}", "ids", "wp", "type", "fzpath",
                    "path", dir, "content", "images", 1, "iso", 1, "bp", "type", "fzbase", "path", dir, "content",
                    "images", 1, "iso", 1);
    return 0;
}

/* every failure says what, under the code it returned */
static void check_failure(int rc, const pvs_error *err)
{
    if (rc && (!err->message || !*err->message || err->code != rc))
        abort();
    if (!rc && err->message)
        abort();
}

static int guest_id(const char *s)
{
    return *s && s[strspn(s, "0123456789")] == '\0';
}

static void check_volname(const pvs_plugin *p)
{
    pvs_volname v;
    pvs_error err = PVS_ERROR_INIT;
    int rc = pvs_plugin_parse_volname(p, "100/vm-100-disk-0.raw", &v, &err);
    check_failure(rc, &err);
    if (!rc && (!v.vtype || !*v.vtype || !v.name || !*v.name || !v.format || !*v.format
                || (v.vmid && !guest_id(v.vmid)) || (v.basevmid && !guest_id(v.basevmid))))
        abort();
    if (rc && (v.vtype || v.name || v.vmid || v.format))   /* nothing half-filled handed on */
        abort();
    pvs_volname_clear(&v);
    pvs_error_clear(&err);
}

static void check_storage(const char *storeid)
{
    pvs_error err = PVS_ERROR_INIT;
    char volid[64], *path = NULL;
    snprintf(volid, sizeof volid, "%s:100/vm-100-disk-0.raw", storeid);
    int rc = pvs_path(ctx, cfg, volid, NULL, &path, &err);
    check_failure(rc, &err);
    if (!rc != (path && *path))
        abort();
    free(path);
    pvs_error_clear(&err);

    json_t *list = NULL;
    rc = pvs_list_volumes(ctx, cfg, storeid, -1, &list, &err);
    check_failure(rc, &err);
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o)
        if (!json_is_string(json_object_get(o, "volid")) || !json_is_string(json_object_get(o, "format")))
            abort();
    if (!rc != (list != NULL))
        abort();
    json_decref(list);
    pvs_error_clear(&err);

    const char *vols[] = { volid, volid };
    check_failure(pvs_activate_volumes(ctx, cfg, vols, 2, NULL, NULL, &err), &err);
    pvs_error_clear(&err);
    json_t *report = NULL;
    rc = pvs_activate_volumes_report(ctx, cfg, vols, 2, NULL, NULL, 0, &report, &err);
    check_failure(rc, &err);
    json_decref(report);
    pvs_error_clear(&err);
    check_failure(pvs_deactivate_volumes(ctx, cfg, vols, 2, NULL, &err), &err);
    pvs_error_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    memset(&in, 0, sizeof in);
    in.fields = data[0] & 0x7f;
    in.has_path = data[0] >> 7;
    in.parse_rc = data[1] & 0xf;
    in.path_rc = data[1] >> 4;
    char *text = malloc(size - 1);
    memcpy(text, data + 2, size - 2);
    text[size - 2] = '\0';
    /* the values, one a line; a field not given stays unset */
    char *line = text;
    for (int i = 0; i < 8 && line; i++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        in.value[i] = line;
        line = nl ? nl + 1 : NULL;
    }
    check_volname(&with_path);
    check_storage("bp");
    if (in.has_path)
        check_storage("wp");
    free(text);
    return 0;
}
