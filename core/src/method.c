/* method.c - the plugin methods by number: the dispatcher bindings expose a
 * plugin's methods through, and the adaptors a foreign plugin's slots point
 * at, which hand every method to the binding's one entry.  The C
 * signatures of the methods are written here and in pvestorage.h only. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void pvs_method_result_clear(pvs_method_result *r)
{
    free(r->text);
    r->text = NULL;
    pvs_volname_clear(&r->volname);
}

int pvs_plugin_call(pvs_ctx *ctx, const pvs_plugin *p, int m, const pvs_method_args *a, pvs_method_result *r,
                    pvs_error *err)
{
    memset(r, 0, sizeof *r);
    switch (m) {
    case PVS_METHOD_parse_volname: return pvs_plugin_parse_volname_in(ctx, p, a->volname, &r->volname, err);
    case PVS_METHOD_path:
        return pvs_plugin_path(ctx, p, a->scfg, a->volname, a->storeid, a->snapname, &r->text, err);
    case PVS_METHOD_activate_storage: return pvs_plugin_activate_storage(ctx, p, a->storeid, a->scfg, err);
    case PVS_METHOD_activate_volume:
        return pvs_plugin_activate_volume(ctx, p, a->storeid, a->scfg, a->volname, a->snapname, a->hints, err);
    case PVS_METHOD_deactivate_volume:
        return pvs_plugin_deactivate_volume(ctx, p, a->storeid, a->scfg, a->volname, a->snapname, err);
    case PVS_METHOD_map_volume:
        return pvs_plugin_map_volume(ctx, p, a->storeid, a->scfg, a->volname, a->snapname, a->hints, &r->text, err);
    case PVS_METHOD_unmap_volume:
        return pvs_plugin_unmap_volume(ctx, p, a->storeid, a->scfg, a->volname, a->snapname, err);
    case PVS_METHOD_get_identity: return pvs_plugin_get_identity(ctx, p, a->scfg, a->storeid, &r->text, err);
    default: return pvs_fail(err, PVS_EINVAL, "no plugin method number %d\n", m);
    }
}

/* ---- the adaptors: a slot's signature to the binding's one entry ---- */

/* Run method m of self through its binding; *text takes the text result. */
static int foreign(pvs_ctx *ctx, const pvs_plugin *self, int m, const pvs_method_args *a, char **text,
                   pvs_error *err)
{
    pvs_method_result r = { 0 };
    int rc = self->foreign(ctx, self, m, a, &r, err);
    if (text && !rc)
        *text = r.text, r.text = NULL;
    pvs_method_result_clear(&r);
    return rc;
}

/* (the core calls a foreign parse_volname with its call through
 * pvs_foreign_parse_volname; this slot is for callers without one) */
static int parse_volname(const pvs_plugin *self, const char *volname, pvs_volname *v, pvs_error *err)
{
    return pvs_foreign_parse_volname(NULL, self, volname, v, err);
}

static int path(pvs_ctx *ctx, const pvs_plugin *self, const json_t *scfg, const char *volname, const char *storeid,
                const char *snapname, char **out, pvs_error *err)
{
    pvs_method_args a = { .storeid = storeid, .volname = volname, .snapname = snapname, .scfg = scfg };
    return foreign(ctx, self, PVS_METHOD_path, &a, out, err);
}

static int activate_storage(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                            pvs_error *err)
{
    pvs_method_args a = { .storeid = storeid, .scfg = scfg };
    return foreign(ctx, self, PVS_METHOD_activate_storage, &a, NULL, err);
}

static int activate_volume(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                           const char *volname, const char *snapname, const json_t *hints, pvs_error *err)
{
    pvs_method_args a = { storeid, volname, snapname, scfg, hints };
    char *action = NULL;
    int rc = foreign(ctx, self, PVS_METHOD_activate_volume, &a, &action, err);
    if (!rc && action)
        pvs_report_action(ctx, action);
    free(action);
    return rc;
}

static int deactivate_volume(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                             const char *volname, const char *snapname, pvs_error *err)
{
    pvs_method_args a = { storeid, volname, snapname, scfg, NULL };
    return foreign(ctx, self, PVS_METHOD_deactivate_volume, &a, NULL, err);
}

static int map_volume(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                      const char *volname, const char *snapname, const json_t *hints, char **out, pvs_error *err)
{
    pvs_method_args a = { storeid, volname, snapname, scfg, hints };
    return foreign(ctx, self, PVS_METHOD_map_volume, &a, out, err);
}

static int unmap_volume(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                        const char *volname, const char *snapname, pvs_error *err)
{
    pvs_method_args a = { storeid, volname, snapname, scfg, NULL };
    return foreign(ctx, self, PVS_METHOD_unmap_volume, &a, NULL, err);
}

static int get_identity(pvs_ctx *ctx, const pvs_plugin *self, const json_t *scfg, const char *storeid, char **id,
                        pvs_error *err)
{
    pvs_method_args a = { .storeid = storeid, .scfg = scfg };
    return foreign(ctx, self, PVS_METHOD_get_identity, &a, id, err);
}

#define HAS(m) (methods & (1u << PVS_METHOD_##m))

void pvs_plugin_set_foreign(pvs_plugin *t, pvs_foreign_fn fn, unsigned methods)
{
    t->foreign = fn;
    t->parse_volname = HAS(parse_volname) ? parse_volname : NULL;
    t->path = HAS(path) ? path : NULL;
    t->activate_storage = HAS(activate_storage) ? activate_storage : NULL;
    t->activate_volume = HAS(activate_volume) ? activate_volume : NULL;
    t->deactivate_volume = HAS(deactivate_volume) ? deactivate_volume : NULL;
    t->map_volume = HAS(map_volume) ? map_volume : NULL;
    t->unmap_volume = HAS(unmap_volume) ? unmap_volume : NULL;
    t->get_identity = HAS(get_identity) ? get_identity : NULL;
}
