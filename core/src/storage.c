/* storage.c - the storage-level calls of PVE::Storage (SPEC §6). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static int dry_runs(const pvs_plugin *p)
{
    return (pvs_plugin_capabilities(p) & PVS_PLUGIN_DRY_RUN) != 0;
}

/* A volume resolved to its storage: everything a plugin call needs. */
typedef struct resolved {
    char *storeid;
    char *volname;
    const json_t *scfg;
    const pvs_plugin *plugin;
} resolved;

static void resolved_clear(resolved *r)
{
    free(r->storeid);
    free(r->volname);
    memset(r, 0, sizeof *r);
}

/* The plugin of a storage section: a type with no plugin in this context
 * is one clear error naming the storage and the type. */
const pvs_plugin *pvs_storage_plugin(const pvs_ctx *ctx, const char *storeid, const json_t *scfg,
                                        pvs_error *err)
{
    const char *type = pvs_scfg_str(scfg, "type");
    const pvs_plugin *p = type ? pvs_plugin_lookup(ctx, type, NULL) : NULL;
    if (p && !pvs_plugin_implemented(p))
        p = NULL;   /* a type whose sections parse, but no plugin serves */
    if (!p && type)
        pvs_fail(err, PVS_ENOENT, "storage '%s' has type '%s', for which no plugin is registered "
                                  "(a plugin can be registered for it)\n", storeid, type);
    else if (!p)
        pvs_fail(err, PVS_EINVAL, "storage '%s' has no type\n", storeid);
    return p;
}

static int resolve(const pvs_ctx *ctx, const json_t *cfg, const char *volid, resolved *r,
                   pvs_error *err)
{
    memset(r, 0, sizeof *r);
    if (pvs_parse_volume_id(volid, &r->storeid, &r->volname, err))
        return err ? err->code : PVS_EINVAL;
    r->scfg = pvs_storage_config(cfg, r->storeid, err);
    if (r->scfg)
        r->plugin = pvs_storage_plugin(ctx, r->storeid, r->scfg, err);
    if (!r->plugin) {
        int code = err ? err->code : PVS_ENOENT;
        resolved_clear(r);
        return code;
    }
    return 0;
}

/* Resolve every volume first, so a bad ID anywhere changes nothing. */
static int resolve_all(const pvs_ctx *ctx, const json_t *cfg, const char *const *volids, size_t n,
                       resolved **out, pvs_error *err)
{
    resolved *rs = calloc(n, sizeof *rs);
    if (!rs)
        return pvs_oom(err);
    for (size_t i = 0; i < n; i++) {
        int rc = resolve(ctx, cfg, volids[i], &rs[i], err);
        if (rc) {
            for (size_t j = 0; j < i; j++)
                resolved_clear(&rs[j]);
            free(rs);
            return rc;
        }
    }
    *out = rs;
    return 0;
}

static void free_all(resolved *rs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        resolved_clear(&rs[i]);
    free(rs);
}

/* storage_check_node: the short host name must be among the storage's nodes */
static int check_node(const char *storeid, const json_t *scfg, pvs_error *err)
{
    json_t *nodes = json_object_get(scfg, "nodes");
    if (!json_is_object(nodes) || json_object_size(nodes) == 0)
        return 0;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    host[strcspn(host, ".")] = '\0';
    if (json_object_get(nodes, host))
        return 0;
    return pvs_fail(err, PVS_ESTORAGE, "storage '%s' is not available on node '%s'\n", storeid, host);
}

/* storage_check_enabled: not disabled, and available on this node */
static int check_enabled(const char *storeid, const json_t *scfg, pvs_error *err)
{
    if (pvs_scfg_bool(scfg, "disable", 0))
        return pvs_fail(err, PVS_ESTORAGE, "storage '%s' is disabled\n", storeid);
    return check_node(storeid, scfg, err);
}

/* /sys/kernel/uevent_seqnum (under the root), as upstream reads it: 0
 * when it cannot be read or is no number */
static long long uevent_seqnum(pvs_ctx *ctx)
{
    size_t len;
    char *t = pvs_host_read(ctx, "/sys/kernel/uevent_seqnum", &len, NULL);
    char *end = NULL;
    long long v = t && *t >= '0' && *t <= '9' ? strtoll(t, &end, 10) : 0;
    if (end && *end && *end != '\n')
        v = 0;
    free(t);
    return v;
}

static int activate_storage_chain(pvs_ctx *ctx, const json_t *cfg, const char *storeid, const json_t *scfg,
                                  const pvs_plugin *plugin, int depth, pvs_error *err);

/* a storage on another one's volume (lvm on iscsi): that storage first,
 * in the same call */
static int activate_base(pvs_ctx *ctx, const json_t *cfg, const char *storeid, const char *base, int depth,
                         pvs_error *err)
{
    if (depth >= PVS_MAX_DEPTH)
        return pvs_fail(err, PVS_EINVAL, "storage '%s': its base storages nest too deep\n", storeid);
    char *bsid, *bvol;
    if (pvs_parse_volume_id(base, &bsid, &bvol, err))
        return err ? err->code : PVS_EINVAL;
    free(bvol);
    const json_t *bcfg = pvs_storage_config(cfg, bsid, err);
    const pvs_plugin *bp = bcfg ? pvs_storage_plugin(ctx, bsid, bcfg, err) : NULL;
    int rc = bp ? activate_storage_chain(ctx, cfg, bsid, bcfg, bp, depth + 1, err) : err ? err->code : PVS_ENOENT;
    free(bsid);
    return rc;
}

/* udevadm settle when the kernel sent uevents meanwhile (a new device
 * node may still be on its way); its outcome does not matter */
static void settle_after(pvs_ctx *ctx, json_t *cache, long long before)
{
    long long now = uevent_seqnum(ctx);
    if (now > before) {
        static const char *const settle[] = { "udevadm", "settle", "--timeout=30", NULL };
        pvs_command_opts o = { .quiet = 1 };
        pvs_error e = PVS_ERROR_INIT;
        pvs_command(ctx, settle, &o, NULL, &e);
        pvs_error_clear(&e);
    }
    if (cache)
        json_object_set_new(cache, "uevent_seqnum", json_integer(now));
}

/* PVE::Storage::activate_storage: once per call; a base storage first;
 * udev settled after the plugin when uevents happened */
static int activate_storage_chain(pvs_ctx *ctx, const json_t *cfg, const char *storeid, const json_t *scfg,
                                  const pvs_plugin *plugin, int depth, pvs_error *err)
{
    if (check_enabled(storeid, scfg, err))
        return PVS_ESTORAGE;
    json_t *cache = pvs_call_cache(ctx);
    json_t *done = cache ? json_object_get(cache, "activated") : NULL;
    if (done && json_object_get(done, storeid))
        return 0;
    if (ctx->dry_run && !dry_runs(plugin))
        return 0;   /* what it would do is its own: not asked in a dry run */
    json_int_t seq = cache ? json_integer_value(json_object_get(cache, "uevent_seqnum")) : 0;
    if (!seq)
        seq = uevent_seqnum(ctx);
    const char *base = pvs_scfg_str(scfg, "base");
    int rc = base && cfg ? activate_base(ctx, cfg, storeid, base, depth, err) : 0;
    if (!rc)
        rc = pvs_plugin_activate_storage(ctx, plugin, storeid, scfg, err);
    if (rc)
        return rc;
    settle_after(ctx, cache, seq);
    if (cache && !done)
        json_object_set_new(cache, "activated", done = json_object());
    if (done)
        json_object_set_new(done, storeid, json_true());
    return 0;
}

static int activate_one_storage(pvs_ctx *ctx, const json_t *cfg, const char *storeid, const json_t *scfg,
                                const pvs_plugin *plugin, pvs_error *err)
{
    return activate_storage_chain(ctx, cfg, storeid, scfg, plugin, 0, err);
}

/* A reporting call: the volume's record after its plugin returned -- the
 * plugin's own action, or what the storage layer knows: activated, mapped,
 * not-implemented (the plugin has no such method), skipped-dry-run (a
 * plugin that does not dry-run was not asked) -- and its path. */
static int report_volume(pvs_ctx *ctx, const resolved *r, const char *snapname, const char *action,
                         pvs_error *err)
{
    if (!ctx->report)
        return 0;
    char *path = NULL;
    pvs_error e = PVS_ERROR_INIT;
    /* a volume without a path is reported without one; an interruption
     * stops the call all the same */
    int rc = pvs_plugin_path(ctx, r->plugin, r->scfg, r->volname, r->storeid, snapname, &path, &e);
    if (rc == PVS_EINTR)
        pvs_error_move(err, &e);
    else
        pvs_report_done(ctx, action, path);
    pvs_error_clear(&e);
    free(path);
    return rc == PVS_EINTR ? rc : 0;
}

static const char *default_action(pvs_ctx *ctx, const pvs_plugin *p, int has_method, const char *done)
{
    return ctx->dry_run && !dry_runs(p) ? "skipped-dry-run" : has_method ? done : "not-implemented";
}

/* one volume through a plugin that does not batch */
static int activate_one_volume(pvs_ctx *ctx, const resolved *r, const char *snapname, const json_t *hints,
                               pvs_error *err)
{
    const pvs_plugin *p = r->plugin;
    pvs_report_select(ctx, r->storeid, r->volname);
    int rc = 0;
    if (!ctx->dry_run || dry_runs(p))
        rc = pvs_plugin_activate_volume(ctx, p, r->storeid, r->scfg, r->volname, snapname, hints, err);
    if (!rc)
        rc = report_volume(ctx, r, snapname, default_action(ctx, p, p->activate_volume != NULL, "activated"), err);
    return rc;
}

static int activate_storage_in(pvs_ctx *ctx, const json_t *cfg, const char *storeid, pvs_error *err)
{
    const json_t *scfg = pvs_storage_config(cfg, storeid, err);
    if (!scfg)
        return PVS_ENOENT;
    const pvs_plugin *plugin = pvs_storage_plugin(ctx, storeid, scfg, err);
    if (!plugin)
        return err ? err->code : PVS_ENOENT;
    return activate_one_storage(ctx, cfg, storeid, scfg, plugin, err);
}

static int activate_volumes_in(pvs_ctx *ctx, const json_t *cfg, const char *const *volids, size_t n,
                         const char *snapname, const json_t *hints, pvs_error *err)
{
    if (n == 0)
        return 0;   /* upstream does not even check the hints then */
    int rc = pvs_verify_hints(hints, err);
    if (rc)
        return rc;
    resolved *rs;
    if ((rc = resolve_all(ctx, cfg, volids, n, &rs, err)))
        return rc;
    if ((rc = pvs_report_prepare(ctx, volids, n, err))) {
        free_all(rs, n);
        return rc;
    }

    /* each storage once, in the order the volumes name them */
    for (size_t i = 0; i < n && !rc; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(rs[j].storeid, rs[i].storeid) == 0;
        if (!seen) {   /* what it runs is the first of its volumes' (a plan shows it there) */
            pvs_report_select(ctx, rs[i].storeid, rs[i].volname);
            rc = activate_one_storage(ctx, cfg, rs[i].storeid, rs[i].scfg, rs[i].plugin, err);
        }
    }
    /* in the caller's order, stopping at the first failure; a plugin that
     * batches gets each run of consecutive volumes of one storage at once
     * (it reads for all of them first, then changes them one by one) */
    const char **batch = calloc(n, sizeof *batch);
    if (!rc && !batch)
        rc = pvs_oom(err);
    for (size_t i = 0; i < n && !rc;) {
        if (!rs[i].plugin->activate_volumes || (ctx->dry_run && !dry_runs(rs[i].plugin))) {
            rc = activate_one_volume(ctx, &rs[i], snapname, hints, err);
            i++;
            continue;
        }
        size_t m = 0;
        for (; i + m < n && strcmp(rs[i + m].storeid, rs[i].storeid) == 0; m++)
            batch[m] = rs[i + m].volname;
        rc = pvs_plugin_outcome(rs[i].plugin, "activate_volumes", rs[i].storeid,
                                rs[i].plugin->activate_volumes(ctx, rs[i].plugin, rs[i].storeid, rs[i].scfg, batch,
                                                               m, snapname, hints, err), err);
        for (size_t k = 0; k < m && !rc; k++) {   /* what the plugin did not report itself */
            pvs_report_select(ctx, rs[i + k].storeid, rs[i + k].volname);
            rc = report_volume(ctx, &rs[i + k], snapname, "activated", err);
        }
        i += m;
    }
    free(batch);
    free_all(rs, n);
    return rc;
}

static int deactivate_volumes_in(pvs_ctx *ctx, const json_t *cfg, const char *const *volids, size_t n,
                           const char *snapname, pvs_error *err)
{
    if (n == 0)
        return 0;
    resolved *rs;
    int rc = resolve_all(ctx, cfg, volids, n, &rs, err);
    if (rc)
        return rc;
    strbuf failed;
    sb_init(&failed);
    /* past a volume's failure, as upstream; an interruption stops here */
    for (size_t i = 0; i < n && rc != PVS_EINTR; i++) {
        pvs_error e = PVS_ERROR_INIT;
        rc = pvs_plugin_deactivate_volume(ctx, rs[i].plugin, rs[i].storeid, rs[i].scfg, rs[i].volname, snapname, &e);
        if (rc == PVS_EINTR) {
            pvs_error_move(err, &e);
        } else if (rc) {
            pvs_warn(ctx, "%s", e.message ? e.message : "unknown error\n");
            sb_add(&failed, " ");
            sb_add(&failed, volids[i]);
        }
        pvs_error_clear(&e);
    }
    free_all(rs, n);
    if (rc != PVS_EINTR)
        rc = 0;
    if (!rc && (failed.len || failed.failed)) {
        rc = failed.failed ? pvs_oom(err)
                           : pvs_fail(err, PVS_EPARTIAL, "volume deactivation failed:%s\n", failed.s);
    }
    sb_free(&failed);
    return rc;
}

static int map_volume_in(pvs_ctx *ctx, const json_t *cfg, const char *volid, const char *snapname,
                   const json_t *hints, char **path, pvs_error *err)
{
    *path = NULL;
    int rc = pvs_verify_hints(hints, err);
    resolved r;
    if (rc || (rc = resolve(ctx, cfg, volid, &r, err)))
        return rc;
    if (!(rc = pvs_report_prepare(ctx, &volid, 1, err))) {
        pvs_report_select(ctx, r.storeid, r.volname);
        int asked = !ctx->dry_run || dry_runs(r.plugin);
        rc = asked ? pvs_plugin_map_volume(ctx, r.plugin, r.storeid, r.scfg, r.volname, snapname, hints, path, err)
                   : pvs_plugin_path(ctx, r.plugin, r.scfg, r.volname, r.storeid, snapname, path, err);
        if (!rc)
            pvs_report_done(ctx, default_action(ctx, r.plugin, 1, "mapped"), *path);   /* the base: the path */
    }
    resolved_clear(&r);
    return rc;
}

static int unmap_volume_in(pvs_ctx *ctx, const json_t *cfg, const char *volid, const char *snapname,
                     pvs_error *err)
{
    resolved r;
    int rc = resolve(ctx, cfg, volid, &r, err);
    if (rc)
        return rc;
    rc = pvs_plugin_unmap_volume(ctx, r.plugin, r.storeid, r.scfg, r.volname, snapname, err);
    resolved_clear(&r);
    return rc;
}

static int identity_in(pvs_ctx *ctx, const json_t *cfg, const char *storeid, char **type, char **id,
                       pvs_error *err)
{
    const json_t *scfg = pvs_storage_config(cfg, storeid, err);
    if (!scfg)
        return PVS_ENOENT;
    int rc = check_enabled(storeid, scfg, err);
    const pvs_plugin *plugin = rc ? NULL : pvs_storage_plugin(ctx, storeid, scfg, err);
    if (!rc && !plugin)
        rc = err ? err->code : PVS_ENOENT;
    if (!rc)
        rc = pvs_plugin_get_identity(ctx, plugin, scfg, storeid, id, err);
    if (!rc && !(*type = strdup(plugin->type)))
        rc = pvs_fail(err, PVS_ENOMEM, "out of memory\n");
    if (rc) {
        free(*id);
        *id = NULL;
    }
    return rc;
}

/* The path; owner and vtype (when asked) as the plugin's parse_volname
 * gives them, which is what upstream's path returns in list context. */
static int path_in(pvs_ctx *ctx, const json_t *cfg, const char *volid, const char *snapname, char **path,
                   char **owner, char **vtype, pvs_error *err)
{
    *path = NULL;
    resolved r;
    int rc = resolve(ctx, cfg, volid, &r, err);
    if (rc)
        return rc;
    rc = pvs_plugin_path(ctx, r.plugin, r.scfg, r.volname, r.storeid, snapname, path, err);
    pvs_volname v = { 0 };
    /* a plugin whose path works but whose names do not parse here (a Perl
     * class with path alone, the base plugin's names) just has no owner
     * and type to tell; its malformed result or an interruption is the
     * call's error */
    pvs_error e = PVS_ERROR_INIT;
    int prc = !rc && (owner || vtype) ? pvs_plugin_parse_volname_in(ctx, r.plugin, r.volname, &v, &e) : PVS_EINVAL;
    if (!prc) {
        if (owner)
            *owner = v.vmid, v.vmid = NULL;
        if (vtype)
            *vtype = v.vtype, v.vtype = NULL;
    } else if (!rc && prc != PVS_EINVAL) {
        rc = prc;
        pvs_error_move(err, &e);
    }
    pvs_error_clear(&e);
    pvs_volname_clear(&v);
    if (rc) {
        free(*path);
        *path = NULL;
    }
    resolved_clear(&r);
    return rc;
}

/* ---- the entry points: each is one call with one deadline ---- */


int pvs_activate_storage(pvs_ctx *ctx, const json_t *cfg, const char *storeid, pvs_error *err)
{
    PVS_CALL(activate_storage_in(call, cfg, storeid, err));
}

static int deactivate_storage_in(pvs_ctx *ctx, const json_t *cfg, const char *storeid, pvs_error *err)
{
    const json_t *scfg = pvs_storage_config(cfg, storeid, err);
    const pvs_plugin *plugin = scfg ? pvs_storage_plugin(ctx, storeid, scfg, err) : NULL;
    if (!plugin)
        return err ? err->code : PVS_ENOENT;
    if (ctx->dry_run && !dry_runs(plugin))
        return 0;
    return pvs_plugin_deactivate_storage(ctx, plugin, storeid, scfg, err);
}

int pvs_deactivate_storage(pvs_ctx *ctx, const json_t *cfg, const char *storeid, pvs_error *err)
{
    PVS_CALL(deactivate_storage_in(call, cfg, storeid, err));
}

int pvs_activate_volumes(pvs_ctx *ctx, const json_t *cfg, const char *const *volids, size_t n,
                         const char *snapname, const json_t *hints, pvs_error *err)
{
    PVS_CALL(activate_volumes_in(call, cfg, volids, n, snapname, hints, err));
}

int pvs_deactivate_volumes(pvs_ctx *ctx, const json_t *cfg, const char *const *volids, size_t n,
                           const char *snapname, pvs_error *err)
{
    PVS_CALL(deactivate_volumes_in(call, cfg, volids, n, snapname, err));
}

int pvs_map_volume(pvs_ctx *ctx, const json_t *cfg, const char *volid, const char *snapname,
                   const json_t *hints, char **path, pvs_error *err)
{
    *path = NULL;
    PVS_CALL(map_volume_in(call, cfg, volid, snapname, hints, path, err));
}

int pvs_unmap_volume(pvs_ctx *ctx, const json_t *cfg, const char *volid, const char *snapname,
                     pvs_error *err)
{
    PVS_CALL(unmap_volume_in(call, cfg, volid, snapname, err));
}

int pvs_path(pvs_ctx *ctx, const json_t *cfg, const char *volid, const char *snapname, char **path,
             pvs_error *err)
{
    *path = NULL;
    PVS_CALL(path_in(call, cfg, volid, snapname, path, NULL, NULL, err));
}

int pvs_path_info(pvs_ctx *ctx, const json_t *cfg, const char *volid, const char *snapname, char **path,
                  char **owner, char **vtype, pvs_error *err)
{
    *path = *owner = *vtype = NULL;
    PVS_CALL(path_in(call, cfg, volid, snapname, path, owner, vtype, err));
}

/* the same calls, reporting what they did to each volume, or (dry run) what
 * they would do */
typedef struct report_state {
    json_t *report, *current;
    int dry_run;
} report_state;

/* (a plugin may call back into a reporting call: the outer one's state is kept) */
static report_state report_begin(pvs_ctx *call, int flags)
{
    report_state outer = { call->report, call->report_current, call->dry_run };
    call->report = json_array();
    call->report_current = NULL;
    call->dry_run = (flags & PVS_DRY_RUN) != 0 || outer.dry_run;
    return outer;
}

static int report_end(pvs_ctx *call, report_state outer, int rc, json_t **report, pvs_error *err)
{
    if (!call->report && !rc)
        rc = pvs_oom(err);
    pvs_report_finish(call, rc, err);
    *report = call->report;
    call->report = outer.report;
    call->report_current = outer.current;
    call->dry_run = outer.dry_run;
    return rc;
}

int pvs_activate_report_in(pvs_ctx *call, const json_t *cfg, const char *const *volids, size_t n,
                              const char *snapname, const json_t *hints, int flags, json_t **report,
                              pvs_error *err)
{
    report_state outer = report_begin(call, flags);
    int rc = call->report ? activate_volumes_in(call, cfg, volids, n, snapname, hints, err) : 0;
    return report_end(call, outer, rc, report, err);
}

static int map_report_in(pvs_ctx *call, const json_t *cfg, const char *volid, const char *snapname,
                         const json_t *hints, int flags, char **path, json_t **report, pvs_error *err)
{
    report_state outer = report_begin(call, flags);
    int rc = call->report ? map_volume_in(call, cfg, volid, snapname, hints, path, err) : 0;
    return report_end(call, outer, rc, report, err);
}

int pvs_activate_volumes_report(pvs_ctx *ctx, const json_t *cfg, const char *const *volids, size_t n,
                                const char *snapname, const json_t *hints, int flags, json_t **report,
                                pvs_error *err)
{
    *report = NULL;
    PVS_CALL(pvs_activate_report_in(call, cfg, volids, n, snapname, hints, flags, report, err));
}

int pvs_map_volume_report(pvs_ctx *ctx, const json_t *cfg, const char *volid, const char *snapname,
                          const json_t *hints, int flags, char **path, json_t **report, pvs_error *err)
{
    *path = NULL;
    *report = NULL;
    PVS_CALL(map_report_in(call, cfg, volid, snapname, hints, flags, path, report, err));
}

int pvs_get_identity(pvs_ctx *ctx, const json_t *cfg, const char *storeid, char **type, char **id,
                     pvs_error *err)
{
    *type = *id = NULL;
    PVS_CALL(identity_in(call, cfg, storeid, type, id, err));
}
