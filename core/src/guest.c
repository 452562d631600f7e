/* guest.c - a VM's start as qemu-server's vm_start does it, in one call:
 * the configuration vm_start runs with (guest_config.c reads the file as
 * parse_vm_config does; the pending changes are applied here as
 * vmconfig_apply_pending applies them, unless the VM resumes), its volumes
 * in get_current_vm_volumes' order (every drive key whose file is a volume
 * ID, then vmstate; unused disks, cdrom none/cdrom and files by absolute
 * path are not volumes), the hints of generate_storage_hints, then the
 * storage layer's activation.  Unlike qemu-server, nothing is written
 * back: the file stays as it is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

/* ---- vmconfig_apply_pending, on the configuration in memory ---- */

static int add_delete(const char *entry, void *keys)
{
    return json_object_set_new_nocheck(keys, entry + (entry[0] == '!'), json_integer(entry[0] == '!')) ? PVS_ENOMEM
                                                                                                        : 0;
}

/* parse_pending_delete: split_list's separators, "!KEY" forces (the key
 * -> 1 when forced; the last of a key given twice wins); a false value
 * ("" or "0", as Perl's "return {} if !$data") deletes nothing */
static json_t *pending_deletes(const char *data)
{
    json_t *keys = json_object();
    if (keys && data && *data && strcmp(data, "0") != 0)
        pvs_split_list(data, add_delete, keys);
    return keys;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* the keys of o in Perl's sort order (a NULL-terminated, malloc()ed list) */
static const char **sorted_keys(const json_t *o)
{
    size_t n = json_object_size(o), i = 0;
    const char **keys = calloc(n + 1, sizeof *keys), *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
        if (keys)
            keys[i++] = k;
    if (keys)
        qsort(keys, n, sizeof *keys, by_key);
    return keys;
}

/* parse_drive of a drive key's value, for its warnings (qemu-server
 * parses each drive it replaces or writes) */
static void parse_drive_warnings(const json_t *conf, const char *key, json_t *warnings)
{
    const char *v = json_string_value(json_object_get(conf, key));
    if (v && pvs_vmconf_is_drive(key))
        free(pvs_vmconf_volume_file(key, v, NULL, warnings));
}

/* One application of the pending changes: the configuration it changes,
 * and what it reports.  With a storage configuration (cfg), the volumes'
 * owners and storages are asked as qemu-server asks them. */
typedef struct vm_apply {
    const pvs_vmconf *c;
    long long vmid;
    pvs_ctx *call;
    const json_t *cfg;
    json_t *conf, *warnings, *set, *deleted;
    int cloudinit;   /* the [special:cloudinit] section is still there */
    json_t *start_ostype;   /* out: the ostype the next start runs with (a new reference, or NULL) */
} vm_apply;

/* is_volume_in_use's scan of one section: another drive (no cdrom) with
 * that very volume (qemu-server also compares their storage paths) */
static int uses_volume(const json_t *section, const char *skip, const char *volid, json_t *warnings)
{
    const char **keys = sorted_keys(section);
    int used = 0;
    for (size_t i = 0; keys && keys[i] && !used; i++) {
        const char *v = json_string_value(json_object_get(section, keys[i]));
        int cdrom;
        char *file = pvs_vmconf_is_drive(keys[i]) && (!skip || strcmp(keys[i], skip) != 0)
                         ? pvs_vmconf_volume_file(keys[i], v, &cdrom, warnings) : NULL;
        used = file && !cdrom && strcmp(file, volid) == 0;
        free(file);
    }
    free(keys);
    return used;
}

/* vm_is_volid_owner: PVE::Storage::path names the guest as the volume's
 * owner (unknown without a storage configuration: then, as upstream when
 * it cannot tell, it does not) */
static int owns(vm_apply *a, const char *volid)
{
    char *path = NULL, *owner = NULL, *vtype = NULL;
    pvs_error e = PVS_ERROR_INIT;
    int rc = a->cfg ? pvs_path_info(a->call, a->cfg, volid, NULL, &path, &owner, &vtype, &e) : 1;
    if (rc < 0)
        pvs_vmconf_warn(a->warnings, "ownership of volume '%s' could not be determined: %s", volid,
                   e.message ? e.message : "unknown error\n");
    int own = !rc && owner && strtoll(owner, NULL, 10) == a->vmid;
    pvs_error_clear(&e);
    free(path);
    free(owner);
    free(vtype);
    return own;
}

/* vmconfig_register_unused_drive of a detached or replaced drive: its
 * volume would become an unused disk (not a volume at start); the warnings
 * are qemu-server's.  A cloud-init drive takes its section along. */
static void register_unused(vm_apply *a, const char *key)
{
    int cdrom = 0;
    const char *v = json_string_value(json_object_get(a->conf, key));
    char *file = v && pvs_vmconf_is_drive(key) ? pvs_vmconf_volume_file(key, v, &cdrom, a->warnings) : NULL;
    char *storeid = NULL;
    if (file && pvs_vmconf_is_cloudinit(file))
        a->cloudinit = 0;
    else if (file && !cdrom && a->cfg && pvs_parse_volume_id(file, &storeid, NULL, NULL) == 0) {
        if (pvs_storage_config(a->cfg, storeid, NULL))
            owns(a, file);
        else
            pvs_vmconf_warn(a->warnings, "storage '%s' no longer exists, volume '%s' will be removed from config\n", storeid, file);
    }
    free(storeid);
    free(file);
}

/* try_deallocate_drive of a forced deletion: the guest's own volume (not a
 * cdrom's) that another drive or a snapshot still uses cannot go, and its
 * key stays; otherwise qemu-server frees it -- not here.  A drive that
 * does not parse is asked about as upstream asks about its undef file. */
static int deallocate_refused(vm_apply *a, const char *key)
{
    int cdrom = 0;
    const char *v = json_string_value(json_object_get(a->conf, key)), *name, **names = NULL;
    if (!v || !pvs_vmconf_is_drive(key))
        return 0;
    char *file = pvs_vmconf_volume_file(key, v, &cdrom, a->warnings);
    int may = (!file || !cdrom || pvs_vmconf_is_cloudinit(file)) && (!file || file[0] != '/')
              && owns(a, file ? file : "") && file;
    int used = may && uses_volume(a->conf, key, file, a->warnings);
    if (may && !used)
        names = sorted_keys(a->c->snapshots);
    for (size_t i = 0; names && (name = names[i]) && !used; i++)
        used = uses_volume(json_object_get(a->c->snapshots, name), NULL, file, a->warnings);
    if (used)
        pvs_vmconf_warn(a->warnings, "unable to apply pending change %s : unable to delete '%s' - volume is still in use "
                      "(snapshot?)\n", key, file);
    free(names);
    free(file);
    return used;
}

/* the deletions first, in sorted order: an unused disk's is an error there
 * (the key stays); a drive is detached (its volume becomes unused, or with
 * "!" is freed: nothing of that is done here, the key goes) */
static void apply_deletes(vm_apply *a)
{
    json_t *dels = pending_deletes(json_string_value(json_object_get(a->c->pending, "delete")));
    const char **keys = sorted_keys(dels);
    for (size_t i = 0; keys && keys[i]; i++) {
        int forced = json_integer_value(json_object_get(dels, keys[i])) != 0;
        if (strncmp(keys[i], "unused", 6) == 0) {
            pvs_vmconf_warn(a->warnings, "unable to apply pending change %s : internal error%s", keys[i], "\n");
            continue;
        }
        if (forced && deallocate_refused(a, keys[i]))
            continue;
        if (!forced)
            register_unused(a, keys[i]);
        if (json_object_get(a->conf, keys[i]) && !json_object_del(a->conf, keys[i]))
            json_array_append_new(a->deleted, pvs_json_bytes(keys[i]));
    }
    free(keys);
    json_decref(dels);
}

/* then each pending value, where it changes something (cleanup_pending
 * drops the others): a replaced drive's volume becomes unused */
static void apply_values(vm_apply *a)
{
    const json_t *pending = a->c->pending;
    const char **keys = sorted_keys(pending);
    for (size_t i = 0; keys && keys[i]; i++) {
        json_t *v = json_object_get(pending, keys[i]), *cur = json_object_get(a->conf, keys[i]);
        if (strcmp(keys[i], "delete") == 0 || (cur && json_equal(cur, v)))
            continue;
        register_unused(a, keys[i]);
        parse_drive_warnings(pending, keys[i], a->warnings);
        json_object_set_nocheck(a->conf, keys[i], v);
        json_array_append_new(a->set, pvs_json_bytes(keys[i]));
    }
    free(keys);
}

/* qemu-server then writes the file: write_vm_config parses each drive, and
 * once more (has_cloudinit) when there is a [special:cloudinit] section */
static void write_warnings(vm_apply *a)
{
    const char **keys = sorted_keys(a->conf), *key;
    char buf[16];
    for (size_t i = 0; keys && keys[i]; i++)
        parse_drive_warnings(a->conf, keys[i], a->warnings);
    free(keys);
    for (int i = 0; a->cloudinit && (key = pvs_vmconf_volume_key(i, buf)); i++)
        parse_drive_warnings(a->conf, key, a->warnings);
}

/* ---- the configuration vm_start runs with, and its volumes ---- */

static json_t *vm_volumes(const json_t *conf, json_t *warnings)
{
    json_t *vols = json_array();
    char buf[16];
    const char *key;
    for (int i = 0; vols && (key = pvs_vmconf_volume_key(i, buf)); i++) {
        const char *value = json_string_value(json_object_get(conf, key));
        char *file = value ? pvs_vmconf_volume_file(key, value, NULL, warnings) : NULL;
        if (file && pvs_parse_volume_id(file, NULL, NULL, NULL) == 0
            && json_array_append_new(vols, json_pack("{s:s, s:o}", "key", key, "volid", pvs_json_bytes(file)))) {
            json_decref(vols);
            vols = NULL;
        }
        free(file);
    }
    return vols;
}

/* vm_start's resume: a suspended lock or a saved state (then no pending
 * change is applied) */
static int resumes(const json_t *conf)
{
    const char *lock = json_string_value(json_object_get(conf, "lock"));
    return (lock && strcmp(lock, "suspended") == 0) || json_object_get(conf, "vmstate") != NULL;
}

/* the result from the parsed configuration c (its warnings taken over);
 * the pending changes are always worked out, to say what they are */
static json_t *vm_result(pvs_vmconf *c, vm_apply *a, int flags)
{
    int resume = resumes(c->main), has = c->pending && json_object_size(c->pending) > 0;
    int apply = has && !resume && !(flags & PVS_GUEST_CURRENT);
    if (!apply)
        a->cfg = NULL;   /* only said, not applied: no plugin (nor cluster) is asked about owners */
    a->c = c;
    a->cloudinit = c->cloudinit;
    a->conf = json_deep_copy(c->main);
    a->warnings = json_array();
    a->set = json_array();
    a->deleted = json_array();
    int ok = a->conf && a->warnings && a->set && a->deleted;
    if (has && ok) {
        apply_deletes(a);
        apply_values(a);
        write_warnings(a);
    }
    if (apply)
        json_array_extend(c->warnings, a->warnings);
    const json_t *conf = apply ? a->conf : c->main;
    a->start_ostype = json_incref(json_object_get(has && !resume ? a->conf : c->main, "ostype"));
    json_t *vols = ok ? vm_volumes(conf, c->warnings) : NULL;
    json_t *out = vols ? json_pack("{s:O?, s:o, s:b, s:o, s:O}", "ostype", json_object_get(conf, "ostype"),
                                   "volumes", vols, "resume", resume, "pending",
                                   has ? json_pack("{s:b, s:O, s:O}", "applied", apply, "set", a->set, "deleted",
                                                   a->deleted)
                                       : json_null(), "warnings", c->warnings) : NULL;
    json_decref(a->conf);
    json_decref(a->warnings);
    json_decref(a->set);
    json_decref(a->deleted);
    return out;
}

static int vm_parse(const char *text, size_t len, vm_apply *a, int flags, json_t **out, pvs_error *err)
{
    pvs_vmconf c;
    *out = NULL;
    if (pvs_vmconf_parse(text, len, a->vmid, &c))
        return pvs_oom(err);
    *out = vm_result(&c, a, flags);
    pvs_vmconf_clear(&c);
    return *out ? 0 : pvs_oom(err);
}

int pvs_vm_config_parse(const char *text, size_t len, long long vmid, int flags, json_t **out, pvs_error *err)
{
    vm_apply a = { .vmid = vmid };
    int rc = vm_parse(text, len, &a, flags, out, err);
    json_decref(a.start_ostype);
    return rc;
}

int pvs_vm_config_parse_in(pvs_ctx *call, const json_t *cfg, const char *text, size_t len, long long vmid, int flags,
                           json_t **out, pvs_error *err)
{
    vm_apply a = { .vmid = vmid, .call = call, .cfg = cfg };
    int rc = vm_parse(text, len, &a, flags, out, err);
    json_decref(a.start_ostype);
    return rc;
}

static char *read_conf(pvs_ctx *ctx, long long vmid, size_t *len, pvs_error *err)
{
    if (vmid < 0) {
        pvs_fail(err, PVS_EINVAL, "invalid guest ID %lld\n", vmid);
        return NULL;
    }
    char conf[64];
    snprintf(conf, sizeof conf, "/etc/pve/qemu-server/%lld.conf", vmid);
    return pvs_host_read(ctx, conf, len, err);
}

/* the warnings of a configuration, to the call's (qemu-server warns them
 * and goes on) */
static void give_warnings(pvs_ctx *call, const json_t *guest)
{
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(guest, "warnings"), i, w)
        pvs_warn(call, "%s", json_string_value(w));
}

/* ROOT/etc/pve/qemu-server/VMID.conf; cfg, when not NULL, tells the
 * volumes' owners */
static int vm_config_read_in(pvs_ctx *call, const json_t *cfg, long long vmid, int flags, json_t **out,
                             pvs_error *err)
{
    size_t len;
    char *text = read_conf(call, vmid, &len, err);
    int rc = !text ? (err ? err->code : PVS_EIO) : pvs_vm_config_parse_in(call, cfg, text, len, vmid, flags, out, err);
    if (!rc)
        give_warnings(call, *out);
    free(text);
    return rc;
}

int pvs_vm_config_read(pvs_ctx *ctx, long long vmid, int flags, json_t **out, pvs_error *err)
{
    *out = NULL;
    PVS_CALL(vm_config_read_in(call, NULL, vmid, flags, out, err));
}

int pvs_guest_config_parse(const char *text, size_t len, json_t **out, pvs_error *err)
{
    return pvs_vm_config_parse(text, len, 0, PVS_GUEST_CURRENT, out, err);
}

int pvs_guest_config_read(pvs_ctx *ctx, long long vmid, json_t **out, pvs_error *err)
{
    return pvs_vm_config_read(ctx, vmid, PVS_GUEST_CURRENT, out, err);
}

int pvs_guest_audit_read(pvs_ctx *call, long long vmid, int running, json_t **out, json_t **hints, pvs_error *err)
{
    size_t len;
    vm_apply a = { .vmid = vmid };
    char *text = read_conf(call, vmid, &len, err);
    int rc = !text ? (err ? err->code : PVS_EIO) : vm_parse(text, len, &a, PVS_GUEST_CURRENT, out, err);
    if (!rc)
        give_warnings(call, *out);
    /* stopped: its next start applies the pending changes (their ostype) */
    const json_t *ostype = running || rc ? json_object_get(rc ? NULL : *out, "ostype") : a.start_ostype;
    /* qemu-server's generate_storage_hints($conf, 1), as its start passes them */
    *hints = rc ? NULL : pvs_storage_hints(json_string_value(ostype), 1);
    json_decref(a.start_ostype);
    free(text);
    if (!rc && !*hints) {
        json_decref(*out);
        *out = NULL;
        rc = pvs_oom(err);
    }
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
    if (!rc && !(rc = pvs_plugin_parse_volname_in(ctx, p, volname, &v, &e))
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

static void add_list(strbuf *sb, const json_t *keys, const char *what)
{
    size_t i;
    json_t *k;
    if (!json_array_size(keys))
        return;
    sb_add(sb, sb->len ? "; " : "");
    json_array_foreach(keys, i, k)
        sb_addf(sb, "%s%s", i ? ", " : "", json_string_value(k));
    sb_addf(sb, " %s", what);
}

/* a dry run says what it did with the pending changes */
static void pending_info(pvs_ctx *call, long long vmid, const json_t *guest)
{
    const json_t *p = json_object_get(guest, "pending");
    if (!json_is_object(p))
        return;
    strbuf sb;
    sb_init(&sb);
    add_list(&sb, json_object_get(p, "set"), "set");
    add_list(&sb, json_object_get(p, "deleted"), "deleted");
    if (json_is_true(json_object_get(p, "applied")))
        pvs_info(call, "vm %lld - pending changes applied as vm_start applies them (the configuration file is "
                 "not changed): %s\n", vmid, sb.s ? sb.s : "nothing changes");
    else if (json_is_true(json_object_get(guest, "resume")))
        pvs_info(call, "vm %lld - pending changes not applied: the VM resumes from its saved state\n", vmid);
    else
        pvs_info(call, "vm %lld - pending changes not applied: the current configuration was asked for\n", vmid);
    sb_free(&sb);
}

static int activate_guest_in(pvs_ctx *call, const json_t *cfg, long long vmid, int may_deactivate, int flags,
                             json_t **report, json_t **hints_out, pvs_error *err)
{
    json_t *guest = NULL;
    int rc = vm_config_read_in(call, cfg, vmid, flags & PVS_GUEST_CURRENT, &guest, err);
    if (!rc && (flags & PVS_DRY_RUN))
        pending_info(call, vmid, guest);
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
        rc = pvs_activate_report_in(call, cfg, volids, n, NULL, hints, flags & PVS_DRY_RUN, report, err);
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
