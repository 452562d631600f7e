/* status.c - every storage of a configuration as an operator looks at it
 * (pvestorage status): reads only.  An API entry at the storage level. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

typedef struct entry {
    const char *id;
    long long order;
} entry;

static int by_order(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    return x->order != y->order ? (x->order > y->order) - (x->order < y->order) : strcmp(x->id, y->id);
}

static json_t *content_list(const json_t *scfg)
{
    json_t *list = json_array(), *v;
    const char *k;
    json_object_foreach(json_object_get(scfg, "content"), k, v)
        if (pvs_scfg_bool(json_object_get(scfg, "content"), k, 0))
            json_array_append_new(list, json_string(k));
    /* sorted: the set's order means nothing */
    size_t n = json_array_size(list);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(json_string_value(json_array_get(list, j - 1)),
                                           json_string_value(json_array_get(list, j))) > 0; j--) {
            json_t *t = json_incref(json_array_get(list, j));
            json_array_set(list, j, json_array_get(list, j - 1));
            json_array_set_new(list, j - 1, t);
        }
    return list;
}

/* sizes as upstream's status gives them (bytes), when the plugin has it */
static int usage(pvs_ctx *call, const pvs_plugin *p, const char *id, const json_t *scfg, json_t *o,
                 pvs_error *err)
{
    pvs_storage_usage u;
    int rc = pvs_plugin_status(call, p, id, scfg, &u, err);
    if (rc != 1)
        return rc < 0 ? 0 : -1;
    if (u.total || u.active)
        json_object_update_new(o, json_pack("{s:I, s:I, s:I}", "total", (json_int_t)u.total, "used",
                                            (json_int_t)u.used, "avail", (json_int_t)u.avail));
    return u.active;
}

/* true / false with the reason / null when this library cannot tell */
static void activity(pvs_ctx *call, const char *id, const json_t *scfg, json_t *o)
{
    const pvs_plugin *p = pvs_plugin_lookup(call, pvs_scfg_str(scfg, "type"), NULL);
    const char *path = pvs_scfg_str(scfg, "path");
    pvs_error err = PVS_ERROR_INIT;
    int active = p && pvs_plugin_implemented(p) ? usage(call, p, id, scfg, o, &err) : -1;
    if (active >= 0)
        ;   /* the plugin's status said */
    else if (p && PVS_PLUGIN_HAS(p, check_connection) && p->check_connection)
        active = p->check_connection(call, p, id, scfg, &err) == 1;
    else if (p && pvs_plugin_implemented(p) && path && *path)
        active = pvs_fork_check_call(call, is_dir, path, 2) == 1
                     ? 1 : (pvs_fail(&err, PVS_ESTORAGE, "directory '%s' does not exist or is unreachable\n", path), 0);
    json_object_set_new(o, "active", active < 0 ? json_null() : json_boolean(active));
    if (active == 0 && err.message)
        json_object_set_new(o, "reason", pvs_message_json(err.message));
    pvs_error_clear(&err);
}

static int status_in(pvs_ctx *call, const json_t *cfg, json_t **out, pvs_error *err)
{
    json_t *ids = json_object_get(cfg, "ids"), *order = json_object_get(cfg, "order");
    size_t n = json_object_size(ids), m = 0;
    entry *e = calloc(n ? n : 1, sizeof *e);
    if (!e || !(*out = json_array())) {
        free(e);
        return pvs_oom(err);
    }
    const char *id;
    json_t *scfg;
    json_object_foreach(ids, id, scfg)
        if (json_is_object(scfg))
            e[m++] = (entry){ id, json_integer_value(json_object_get(order, id)) };
    qsort(e, m, sizeof *e, by_order);
    for (size_t i = 0; i < m; i++) {
        scfg = json_object_get(ids, e[i].id);
        json_t *o = json_pack("{s:s, s:s?, s:b, s:o, s:b}", "storage", e[i].id, "type",
                              pvs_scfg_str(scfg, "type"), "enabled", !pvs_scfg_bool(scfg, "disable", 0),
                              "content", content_list(scfg), "shared", pvs_scfg_bool(scfg, "shared", 0));
        if (o && json_object_get(o, "enabled") == json_true())
            activity(call, e[i].id, scfg, o);
        else if (o)
            json_object_set_new(o, "active", json_false());
        json_array_append_new(*out, o);
    }
    free(e);
    return 0;
}

int pvs_storage_status(pvs_ctx *ctx, const json_t *cfg, json_t **out, pvs_error *err)
{
    *out = NULL;
    PVS_CALL(status_in(call, cfg, out, err));
}
