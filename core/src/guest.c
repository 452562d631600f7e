/* guest.c - a VM's start as qemu-server does it, in one call: the guest's
 * configuration (ROOT/etc/pve/qemu-server/VMID.conf, the current section
 * only), its volumes in qemu-server's order (get_current_vm_volumes: every
 * drive key whose file is a volume ID, then vmstate; unused disks, cdrom
 * none/cdrom and files by absolute path are not volumes), the hints of
 * generate_storage_hints, then the storage layer's activation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* qemu-server's valid_drive_names, in its order (the order matters there:
 * it picks the boot disk), then the extra key vmstate */
static const struct { const char *bus; int count; } drive_buses[] = {
    { "ide", 4 }, { "scsi", 31 }, { "virtio", 16 }, { "sata", 6 },
};
static const char *const single_keys[] = { "efidisk0", "tpmstate0", "vmstate", NULL };

/* the position of KEY in that order, or -1 for a key that is no drive */
static int drive_rank(const char *key)
{
    int rank = 0;
    for (size_t b = 0; b < sizeof drive_buses / sizeof drive_buses[0]; b++) {
        size_t n = strlen(drive_buses[b].bus);
        const char *d = key + n;
        if (strncmp(key, drive_buses[b].bus, n) == 0 && *d >= '0' && *d <= '9' && (d[1] == '\0'
            || (d[0] != '0' && d[1] >= '0' && d[1] <= '9' && d[2] == '\0'))) {
            int i = atoi(d);
            return i < drive_buses[b].count ? rank + i : -1;
        }
        rank += drive_buses[b].count;
    }
    for (size_t i = 0; single_keys[i]; i++)
        if (strcmp(key, single_keys[i]) == 0)
            return rank + (int)i;
    return -1;
}

/* the file of a drive's property string: the first item without '=', or
 * file=...; vmstate's value is the volume ID itself */
static char *drive_file(const char *key, const char *value)
{
    if (strcmp(key, "vmstate") == 0)
        return strdup(value);
    for (const char *p = value; *p;) {
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        if (!eq)
            return strndup(p, n);
        if (eq - p == 4 && strncmp(p, "file", 4) == 0)
            return strndup(eq + 1, n - 5);
        p += n + (p[n] == ',');
    }
    return NULL;
}

typedef struct guest_vol {
    int rank;
    char *key, *volid;
} guest_vol;

static int by_rank(const void *a, const void *b)
{
    return ((const guest_vol *)a)->rank - ((const guest_vol *)b)->rank;
}

/* one "key: value" line of the current section */
static int guest_line(char *line, json_t *out, guest_vol **v, size_t *n, size_t *cap)
{
    char *colon = strchr(line, ':');
    if (!colon || colon == line)
        return 0;
    *colon = '\0';
    char *value = colon + 1 + strspn(colon + 1, " \t");
    for (size_t l = strlen(value); l && (value[l - 1] == ' ' || value[l - 1] == '\t' || value[l - 1] == '\r');)
        value[--l] = '\0';
    if (strcmp(line, "ostype") == 0)
        return json_object_set_new(out, "ostype", pvs_json_bytes(value)) ? -1 : 0;
    int rank = drive_rank(line);
    char *file = rank >= 0 ? drive_file(line, value) : NULL;
    if (!file || pvs_parse_volume_id(file, NULL, NULL, NULL) != 0) {
        free(file);   /* none, cdrom, /dev/..., an unparsable value: no volume */
        return 0;
    }
    if (*n == *cap) {
        guest_vol *w = realloc(*v, (*cap = *cap ? *cap * 2 : 16) * sizeof *w);
        if (!w) {
            free(file);
            return -1;
        }
        *v = w;
    }
    (*v)[(*n)++] = (guest_vol){ rank, strdup(line), file };
    return 0;
}

int pvs_guest_config_parse(const char *text, size_t len, json_t **out, pvs_error *err)
{
    *out = json_pack("{s:n, s:[]}", "ostype", "volumes");
    char *copy = strndup(text, len);
    guest_vol *v = NULL;
    size_t n = 0, cap = 0;
    int rc = *out && copy ? 0 : -1;
    for (char *save = NULL, *line = copy ? strtok_r(copy, "\n", &save) : NULL; !rc && line;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '[')
            break;   /* a snapshot's or the pending changes' section: not the current one */
        if (line[0] != '#')
            rc = guest_line(line, *out, &v, &n, &cap);
    }
    if (n)
        qsort(v, n, sizeof *v, by_rank);
    json_t *vols = json_object_get(*out, "volumes");
    for (size_t i = 0; i < n; i++) {
        if (!rc && (!v[i].key || json_array_append_new(vols, json_pack("{s:s, s:o}", "key", v[i].key, "volid",
                                                                       pvs_json_bytes(v[i].volid)))))
            rc = -1;
        free(v[i].key);
        free(v[i].volid);
    }
    free(v);
    free(copy);
    if (rc) {
        json_decref(*out);
        *out = NULL;
        return pvs_oom(err);
    }
    return 0;
}

int pvs_guest_config_read(pvs_ctx *ctx, long long vmid, json_t **out, pvs_error *err)
{
    *out = NULL;
    if (vmid < 0)
        return pvs_fail(err, PVS_EINVAL, "invalid guest ID %lld\n", vmid);
    char conf[64];
    snprintf(conf, sizeof conf, "/etc/pve/qemu-server/%lld.conf", vmid);
    size_t len;
    char *text = pvs_host_read(ctx, conf, &len, err);
    int rc = !text ? (err ? err->code : PVS_EIO) : pvs_guest_config_parse(text, len, out, err);
    free(text);
    return rc;
}

/* qemu-server's check_volume_storage_type, the disk key named */
static int check_volume(pvs_ctx *ctx, const json_t *cfg, const char *key, const char *volid, pvs_error *err)
{
    char *storeid = NULL, *volname = NULL;
    pvs_volname v = { 0 };
    pvs_error e = PVS_ERROR_INIT;
    const json_t *scfg = NULL;
    const pvs_plugin *p = NULL;
    int rc = pvs_parse_volume_id(volid, &storeid, &volname, &e);
    if (!rc && (!(scfg = pvs_storage_config(cfg, storeid, &e)) || !(p = pvs_storage_plugin(ctx, storeid, scfg, &e))))
        rc = e.code;
    if (!rc && !(rc = pvs_plugin_parse_volname(p, volname, &v, &e))
        && !pvs_scfg_bool(json_object_get(scfg, "content"), v.vtype, 0))
        rc = pvs_fail(&e, PVS_ESTORAGE, "storage '%s' does not support content-type '%s'\n", storeid, v.vtype);
    if (rc)
        pvs_fail(err, rc, "%s: %s", key, e.message ? e.message : "unknown error\n");
    pvs_error_clear(&e);
    pvs_volname_clear(&v);
    free(storeid);
    free(volname);
    return rc;
}

static int activate_guest_in(pvs_ctx *call, const json_t *cfg, long long vmid, int may_deactivate, int flags,
                             json_t **report, json_t **hints_out, pvs_error *err)
{
    json_t *guest = NULL;
    int rc = pvs_guest_config_read(call, vmid, &guest, err);
    json_t *vols = json_object_get(guest, "volumes");
    size_t n = json_array_size(vols);
    const char **volids = rc ? NULL : calloc(n ? n : 1, sizeof *volids);
    if (!rc && !volids)
        rc = pvs_oom(err);
    for (size_t i = 0; !rc && i < n; i++) {
        json_t *d = json_array_get(vols, i);
        volids[i] = json_string_value(json_object_get(d, "volid"));
        rc = check_volume(call, cfg, json_string_value(json_object_get(d, "key")), volids[i], err);
    }
    json_t *hints = rc ? NULL : pvs_storage_hints(json_string_value(json_object_get(guest, "ostype")), may_deactivate);
    if (!rc)
        rc = pvs_activate_report_in(call, cfg, volids, n, NULL, hints, flags, report, err);
    if (hints_out)
        *hints_out = json_incref(hints);
    json_decref(hints);
    free(volids);
    json_decref(guest);
    return rc;
}

int pvs_activate_guest(pvs_ctx *ctx, const json_t *cfg, long long vmid, int may_deactivate, int flags,
                       json_t **report, json_t **hints, pvs_error *err)
{
    *report = NULL;
    if (hints)
        *hints = NULL;
    PVS_CALL(activate_guest_in(call, cfg, vmid, may_deactivate, flags, report, hints, err));
}
