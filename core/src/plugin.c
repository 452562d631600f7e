/* plugin.c - the plugin registry, the API version check (SPEC §3) and the
 * base-plugin defaults every plugin inherits. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The first table: every field up to activate_volumes. */
#define PLUGIN_SIZE_V1 (offsetof(pvs_plugin, activate_volumes) + sizeof(void (*)(void)))

int pvs_register_plugin(pvs_ctx *ctx, const pvs_plugin *plugin, pvs_error *err)
{
    if (!plugin)
        return pvs_fail(err, PVS_EINVAL, "plugin missing\n");
    if (plugin->size < PLUGIN_SIZE_V1 || plugin->size > PVS_PLUGIN_SIZE)
        return pvs_fail(err, PVS_EINVAL, "plugin table of size %zu is not one this library knows "
                                         "(%zu..%zu): build the plugin against this pvestorage.h\n",
                        plugin->size, (size_t)PLUGIN_SIZE_V1, (size_t)PVS_PLUGIN_SIZE);
    if (!plugin->type || !*plugin->type)
        return pvs_fail(err, PVS_EINVAL, "plugin has no type\n");
    int api = plugin->api;
    if (api > PVS_APIVER)
        return pvs_fail(err, PVS_EAPI, "implements an API version newer than current (%d > %d)\n",
                        api, PVS_APIVER);
    if (api < PVS_APIVER - PVS_APIAGE)
        return pvs_fail(err, PVS_EAPI, "API version too old, please update the plugin (%d < %d)\n",
                        api, PVS_APIVER - PVS_APIAGE);

    pvs_ctx *base = ctx->base;
    pthread_mutex_lock(&base->lock);
    int rc = 0;
    size_t i;
    for (i = 0; i < base->nplugins; i++)
        if (strcmp(base->plugins[i]->type, plugin->type) == 0)
            break;
    if (i == base->nplugins && base->nplugins == PVS_MAX_PLUGINS)
        rc = pvs_fail(err, PVS_EINVAL, "too many storage plugins (at most %d)\n", PVS_MAX_PLUGINS);
    else if (i < base->nplugins && base->plugins[i] != plugin)
        rc = pvs_fail(err, PVS_EINVAL, "duplicate storage plugin type '%s'\n", plugin->type);
    else if (i == base->nplugins)
        base->plugins[base->nplugins++] = plugin;
    pthread_mutex_unlock(&base->lock);
    if (rc)
        return rc;

    if (api != PVS_APIVER)
        pvs_warn(ctx, "Plugin \"%s\" is implementing an older storage API, an upgrade is recommended\n",
                 plugin->type);
    return 0;
}

void *pvs_plugin_state(pvs_ctx *ctx, const pvs_plugin *p, void *(*create)(void))
{
    pvs_ctx *base = ctx->base;
    void *state = NULL;
    pthread_mutex_lock(&base->lock);
    for (size_t i = 0; i < base->nplugins; i++)
        if (base->plugins[i] == p) {
            if (!base->states[i] && create)
                base->states[i] = create();
            state = base->states[i];
            break;
        }
    pthread_mutex_unlock(&base->lock);
    return state;
}

const pvs_plugin *pvs_plugin_lookup(const pvs_ctx *ctx, const char *type, pvs_error *err)
{
    const pvs_ctx *base = ctx->base;
    for (size_t i = 0; type && i < base->nplugins; i++)
        if (strcmp(base->plugins[i]->type, type) == 0)
            return base->plugins[i];
    pvs_fail(err, PVS_ENOENT, "unknown storage type '%s'\n", type ? type : "");
    return NULL;
}

/* ---- methods with the base-plugin defaults ---- */

/* Each method below is an API entry: it runs as one call (one deadline),
 * or as part of the call it is made from. */
int pvs_plugin_path(pvs_ctx *ctx, const pvs_plugin *p, const json_t *scfg, const char *volname,
                    const char *storeid, const char *snapname, char **path, pvs_error *err)
{
    *path = NULL;
    if (!p->path)
        return pvs_base_filesystem_path(p, scfg, volname, snapname, path, NULL, err);
    PVS_CALL(p->path(call, p, scfg, volname, storeid, snapname, path, err));
}

int pvs_plugin_activate_storage(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid,
                                const json_t *scfg, pvs_error *err)
{
    if (!p->activate_storage)
        return 0;
    PVS_CALL(p->activate_storage(call, p, storeid, scfg, err));
}

int pvs_plugin_activate_volume(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid,
                               const json_t *scfg, const char *volname, const char *snapname,
                               const json_t *hints, pvs_error *err)
{
    if (!p->activate_volume)
        return 0;
    PVS_CALL(p->activate_volume(call, p, storeid, scfg, volname, snapname, hints, err));
}

int pvs_plugin_deactivate_volume(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid,
                                 const json_t *scfg, const char *volname, const char *snapname,
                                 pvs_error *err)
{
    if (!p->deactivate_volume)
        return 0;
    PVS_CALL(p->deactivate_volume(call, p, storeid, scfg, volname, snapname, err));
}

int pvs_plugin_map_volume(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid,
                          const json_t *scfg, const char *volname, const char *snapname,
                          const json_t *hints, char **path, pvs_error *err)
{
    *path = NULL;
    if (!p->map_volume)   /* base plugin: the path is all there is to map */
        return pvs_plugin_path(ctx, p, scfg, volname, storeid, snapname, path, err);
    PVS_CALL(p->map_volume(call, p, storeid, scfg, volname, snapname, hints, path, err));
}

int pvs_plugin_unmap_volume(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid,
                            const json_t *scfg, const char *volname, const char *snapname,
                            pvs_error *err)
{
    if (!p->unmap_volume)
        return 0;
    PVS_CALL(p->unmap_volume(call, p, storeid, scfg, volname, snapname, err));
}
