/* plugin.c - the plugin registry, the API version check (SPEC §3) and the
 * base-plugin defaults every plugin inherits. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The first table: every field up to activate_volumes. */
#define PLUGIN_SIZE_V1 (offsetof(pvs_plugin, activate_volumes) + sizeof(void (*)(void)))

static int check_table(const pvs_plugin *plugin, pvs_error *err)
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
    return 0;
}

static const pvs_property *props_of(const pvs_plugin *p)
{
    return PVS_PLUGIN_HAS(p, properties) ? p->properties : NULL;
}

static int declares(const pvs_property *list, const char *name)
{
    for (; list && list->name; list++)
        if (strcmp(list->name, name) == 0)
            return 1;
    return 0;
}

/* 1 iff a plugin other than the one at index skip (or the base) declares name. */
static int declared_elsewhere(const pvs_ctx *base, size_t skip, const char *name)
{
    if (declares(pvs_base_properties, name))
        return 1;
    for (size_t i = 0; i < base->nplugins; i++)
        if (i != skip && declares(props_of(base->plugins[i]), name))
            return 1;
    return 0;
}

/* Upstream's section config init: every property declared once, every
 * option a declared property.  Called with the base's lock held; skip is
 * the index of the plugin being replaced (or nplugins). */
static int check_schema(const pvs_ctx *base, size_t skip, const pvs_plugin *plugin, pvs_error *err)
{
    for (const pvs_property *p = props_of(plugin); p && p->name; p++)
        if (declared_elsewhere(base, skip, p->name))
            return pvs_fail(err, PVS_EINVAL, "duplicate property '%s'\n", p->name);
    for (const pvs_plugin_option *o = plugin->options; o && o->name; o++)
        if (!declares(props_of(plugin), o->name) && !declared_elsewhere(base, skip, o->name))
            return pvs_fail(err, PVS_EINVAL, "undefined property '%s'\n", o->name);
    return 0;
}

/* Put plugin in the registry (base's lock held): a new type is added, a
 * built-in one is replaced once, its state kept until the context goes. */
static int enter(pvs_ctx *base, const pvs_plugin *plugin, int builtin, pvs_error *err)
{
    size_t i = 0;
    while (i < base->nplugins && strcmp(base->plugins[i]->type, plugin->type) != 0)
        i++;
    if (i < base->nplugins && base->plugins[i] == plugin)
        return 0;
    if (i < base->nplugins && !base->builtin[i])
        return pvs_fail(err, PVS_EINVAL, "duplicate storage plugin type '%s'\n", plugin->type);
    if (i == base->nplugins && base->nplugins == PVS_MAX_PLUGINS)
        return pvs_fail(err, PVS_EINVAL, "too many storage plugins (at most %d)\n", PVS_MAX_PLUGINS);
    int rc = check_schema(base, i, plugin, err);
    if (rc)
        return rc;
    if (i < base->nplugins) {
        base->retired[base->nretired] = base->plugins[i];
        base->retired_states[base->nretired++] = base->states[i];
        base->states[i] = NULL;
    }
    /* lookups read without the lock: the slot is filled before it counts */
    base->builtin[i] = builtin;
    __atomic_store_n(&base->plugins[i], plugin, __ATOMIC_RELEASE);
    if (i == base->nplugins)
        __atomic_store_n(&base->nplugins, i + 1, __ATOMIC_RELEASE);
    return 0;
}

int pvs_register_plugin(pvs_ctx *ctx, const pvs_plugin *plugin, pvs_error *err)
{
    return pvs_plugin_register(ctx, plugin, 0, err);
}

int pvs_plugin_register(pvs_ctx *ctx, const pvs_plugin *plugin, int builtin, pvs_error *err)
{
    int rc = check_table(plugin, err);
    if (rc)
        return rc;
    pvs_ctx *base = ctx->base;
    pthread_mutex_lock(&base->lock);
    rc = enter(base, plugin, builtin, err);
    pthread_mutex_unlock(&base->lock);
    if (rc)
        return rc;
    if (plugin->api != PVS_APIVER)
        pvs_warn(ctx, "Plugin \"%s\" is implementing an older storage API, an upgrade is recommended\n",
                 PVS_PLUGIN_HAS(plugin, name) && plugin->name ? plugin->name : plugin->type);
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
    for (size_t i = 0, n = pvs_plugin_count(base); type && i < n; i++) {
        const pvs_plugin *p = pvs_plugin_at(base, i);
        if (strcmp(p->type, type) == 0)
            return p;
    }
    pvs_fail(err, PVS_ENOENT, "unknown storage type '%s'\n", type ? type : "");
    return NULL;
}

size_t pvs_plugin_count(const pvs_ctx *base)
{
    return __atomic_load_n(&base->nplugins, __ATOMIC_ACQUIRE);
}

const pvs_plugin *pvs_plugin_at(const pvs_ctx *base, size_t i)
{
    return __atomic_load_n(&base->plugins[i], __ATOMIC_ACQUIRE);
}

int pvs_plugin_implemented(const pvs_plugin *p)
{
    return p->parse_volname || p->path || p->activate_storage || p->activate_volume ||
           p->deactivate_volume || p->map_volume || p->unmap_volume ||
           (PVS_PLUGIN_HAS(p, get_identity) && p->get_identity);
}

unsigned pvs_plugin_capabilities(const pvs_plugin *p)
{
    return PVS_PLUGIN_HAS(p, capabilities) ? p->capabilities : 0;
}

/* ---- methods with the base-plugin defaults ---- */

/* A path a plugin's path or map_volume gave: there must be one (upstream's
 * callers hand it to QEMU and the kernel as it is). */
static int path_checked(const pvs_plugin *p, const char *method, const char *volname, int rc, char **path,
                        pvs_error *err)
{
    rc = pvs_plugin_outcome(p, method, volname, rc, err);
    if (!rc && (!*path || !**path))
        rc = pvs_plugin_fail(err, PVS_EPLUGIN, p, method, volname, "returned no path");
    if (rc) {
        free(*path);
        *path = NULL;
    }
    return rc;
}

/* Each method below is an API entry: it runs as one call (one deadline),
 * or as part of the call it is made from.  err starts empty, so a plugin
 * that fails without a word is told from one that said why. */
int pvs_plugin_path(pvs_ctx *ctx, const pvs_plugin *p, const json_t *scfg, const char *volname,
                    const char *storeid, const char *snapname, char **path, pvs_error *err)
{
    *path = NULL;
    if (!p->path)
        return pvs_base_filesystem_path(ctx, p, scfg, volname, snapname, path, NULL, err);
    pvs_error_clear(err);
    PVS_CALL(path_checked(p, "path", volname, p->path(call, p, scfg, volname, storeid, snapname, path, err), path,
                          err));
}

int pvs_plugin_activate_storage(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid,
                                const json_t *scfg, pvs_error *err)
{
    if (!p->activate_storage)
        return 0;
    pvs_error_clear(err);
    PVS_CALL(pvs_plugin_outcome(p, "activate_storage", storeid, p->activate_storage(call, p, storeid, scfg, err),
                                err));
}

int pvs_plugin_activate_volume(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid,
                               const json_t *scfg, const char *volname, const char *snapname,
                               const json_t *hints, pvs_error *err)
{
    if (!p->activate_volume)
        return 0;
    pvs_error_clear(err);
    PVS_CALL(pvs_plugin_outcome(p, "activate_volume", volname,
                                p->activate_volume(call, p, storeid, scfg, volname, snapname, hints, err), err));
}

int pvs_plugin_deactivate_volume(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid,
                                 const json_t *scfg, const char *volname, const char *snapname,
                                 pvs_error *err)
{
    if (!p->deactivate_volume)
        return 0;
    pvs_error_clear(err);
    PVS_CALL(pvs_plugin_outcome(p, "deactivate_volume", volname,
                                p->deactivate_volume(call, p, storeid, scfg, volname, snapname, err), err));
}

int pvs_plugin_map_volume(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid,
                          const json_t *scfg, const char *volname, const char *snapname,
                          const json_t *hints, char **path, pvs_error *err)
{
    *path = NULL;
    if (!p->map_volume)   /* base plugin: the path is all there is to map */
        return pvs_plugin_path(ctx, p, scfg, volname, storeid, snapname, path, err);
    pvs_error_clear(err);
    PVS_CALL(path_checked(p, "map_volume", volname,
                          p->map_volume(call, p, storeid, scfg, volname, snapname, hints, path, err), path, err));
}

int pvs_plugin_unmap_volume(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid,
                            const json_t *scfg, const char *volname, const char *snapname,
                            pvs_error *err)
{
    if (!p->unmap_volume)
        return 0;
    pvs_error_clear(err);
    PVS_CALL(pvs_plugin_outcome(p, "unmap_volume", volname,
                                p->unmap_volume(call, p, storeid, scfg, volname, snapname, err), err));
}

/* upstream's base get_identity dies: the concept of a backend identity
 * does not apply to every storage */
int pvs_plugin_get_identity(pvs_ctx *ctx, const pvs_plugin *p, const json_t *scfg, const char *storeid,
                            char **id, pvs_error *err)
{
    *id = NULL;
    if (!PVS_PLUGIN_HAS(p, get_identity) || !p->get_identity)
        return pvs_fail(err, PVS_EPLUGIN, "get_identity not implemented for this plugin\n");
    pvs_error_clear(err);
    PVS_CALL(pvs_plugin_outcome(p, "get_identity", storeid, p->get_identity(call, p, scfg, storeid, id, err),
                                err));
}

int pvs_plugin_deactivate_storage(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid, const json_t *scfg,
                                  pvs_error *err)
{
    if (!PVS_PLUGIN_HAS(p, deactivate_storage) || !p->deactivate_storage)
        return 0;
    pvs_error_clear(err);
    PVS_CALL(pvs_plugin_outcome(p, "deactivate_storage", storeid, p->deactivate_storage(call, p, storeid, scfg, err),
                                err));
}

static int status_outcome(const pvs_plugin *p, const char *storeid, int rc, pvs_error *err)
{
    rc = pvs_plugin_outcome(p, "status", storeid, rc, err);
    return rc ? rc : 1;
}

int pvs_plugin_status(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid, const json_t *scfg,
                      pvs_storage_usage *usage, pvs_error *err)
{
    memset(usage, 0, sizeof *usage);
    if (!PVS_PLUGIN_HAS(p, status) || !p->status)
        return 0;
    pvs_error_clear(err);
    PVS_CALL(status_outcome(p, storeid, p->status(call, p, storeid, scfg, usage, err), err));
}
