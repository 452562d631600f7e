/* report.c - what a reporting call did to each volume (pvs_*_report): one
 * record per volume ID in the caller's order, filled in by the storage
 * layer and the plugins as each volume has its turn.  Everything here is a
 * no-op for a call that does not report. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

json_t *pvs_json_bytes(const char *s)
{
    return s ? json_stringn_nocheck(s, strlen(s)) : json_null();
}

json_t *pvs_json_volid(const char *storeid, const char *base, const char *name)
{
    char *v = base ? pvs_asprintf("%s:%s/%s", storeid, base, name) : pvs_asprintf("%s:%s", storeid, name);
    json_t *j = v ? pvs_json_bytes(v) : NULL;
    free(v);
    return j;
}

int pvs_report_prepare(pvs_ctx *call, const char *const *volids, size_t n, pvs_error *err)
{
    if (!call->report)
        return 0;
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_pack("{s:o, s:n, s:n, s:[]}", "volid", pvs_json_bytes(volids[i]), "path", "action", "warnings");
        if (!r || json_array_append_new(call->report, r))
            return pvs_oom(err);
    }
    return 0;
}

void pvs_report_select(pvs_ctx *call, const char *storeid, const char *volname)
{
    if (!call->report)
        return;
    size_t i, sl = strlen(storeid);
    json_t *r;
    call->report_current = NULL;
    json_array_foreach(call->report, i, r) {
        const char *v = json_string_value(json_object_get(r, "volid"));
        if (json_is_null(json_object_get(r, "action")) && v
            && strncmp(v, storeid, sl) == 0 && v[sl] == ':' && strcmp(v + sl + 1, volname) == 0) {
            json_object_set_new(r, "reached", json_true());
            call->report_current = r;
            return;
        }
    }
}

void pvs_report_set(pvs_ctx *call, const char *key, json_t *value)
{
    if (call->report_current)
        json_object_set_new(call->report_current, key, value);
    else
        json_decref(value);
}

void pvs_report_command(pvs_ctx *call, const char *const *argv)
{
    if (!call->report_current)
        return;
    json_t *cmds = json_object_get(call->report_current, "commands"), *a = json_array();
    if (!cmds)
        json_object_set_new(call->report_current, "commands", cmds = json_array());
    for (size_t i = 0; argv[i]; i++)
        json_array_append_new(a, pvs_json_bytes(argv[i]));
    json_array_append_new(cmds, a);
}

json_t *pvs_message_json(const char *message)
{
    size_t n = strlen(message);
    return json_stringn_nocheck(message, n && message[n - 1] == '\n' ? n - 1 : n);
}

void pvs_report_warning(pvs_ctx *call, const char *message)
{
    if (call->report_current)
        json_array_append_new(json_object_get(call->report_current, "warnings"), pvs_message_json(message));
}

void pvs_report_done(pvs_ctx *call, const char *action, const char *path)
{
    json_t *r = call->report_current;
    if (!r)
        return;
    if (json_is_null(json_object_get(r, "action")))
        json_object_set_new(r, "action", pvs_json_bytes(action));
    if (path && json_is_null(json_object_get(r, "path")))
        json_object_set_new(r, "path", pvs_json_bytes(path));
}

void pvs_report_finish(pvs_ctx *call, int rc, const pvs_error *err)
{
    if (!call->report)
        return;
    if (rc && call->report_current && json_is_null(json_object_get(call->report_current, "action"))) {
        json_object_set_new(call->report_current, "action", json_string("failed"));
        json_object_set_new(call->report_current, "error",
                            err && err->message ? pvs_message_json(err->message) : json_string("unknown error"));
    }
    call->report_current = NULL;
    for (size_t i = json_array_size(call->report); i-- > 0;) {
        json_t *r = json_array_get(call->report, i);
        if (!json_object_get(r, "reached"))
            json_array_remove(call->report, i);
        else
            json_object_del(r, "reached");
    }
}

int pvs_dry_run(const pvs_ctx *ctx)
{
    return ctx->dry_run;
}

void pvs_report_action(pvs_ctx *ctx, const char *action)
{
    pvs_report_done(ctx, action, NULL);
}
