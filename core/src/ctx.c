/* ctx.c - the context: host settings (SPEC §9), the warning sink, the
 * registry of built-in plugins.  The composition root: it calls the rest of
 * the core, nothing calls back into it (what a call needs is in host.c). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "internal.h"

static const char *const setting_names[] = {
    "root", "rbd_command", "ceph_timeout", "kernel_version", NULL,
};

static const char *const setting_env[] = {
    "PVESTORAGE_ROOT", "PVESTORAGE_RBD_COMMAND", "PVESTORAGE_CEPH_TIMEOUT",
    "PVESTORAGE_KERNEL_VERSION", NULL,
};

const char *const *pvs_ctx_setting_names(void)
{
    return setting_names;
}

static void stderr_sink(void *data, const char *message)
{
    (void)data;
    fputs(message, stderr);
}

static int parse_kernel_version(const char *v, int *major, int *minor)
{
    char *end;
    errno = 0;
    long ma = strtol(v, &end, 10);
    if (end == v || *end != '.' || errno || ma < 0 || ma > 1000)
        return -1;
    const char *m = end + 1;
    long mi = strtol(m, &end, 10);
    if (end == m || errno || mi < 0 || mi > 1000)
        return -1;
    /* uname's release goes on ("6.1.0-18-amd64"); an explicit setting may not */
    *major = (int)ma;
    *minor = (int)mi;
    return (int)(end - v);
}

/* Apply one setting to a set being built (not yet published). */
static int set_setting(pvs_settings *set, const char *name, const char *value, pvs_error *err)
{
    if (!name)
        return pvs_fail(err, PVS_EINVAL, "setting name missing\n");
    if (!value)
        return pvs_fail(err, PVS_EINVAL, "setting '%s' needs a value\n", name);

    if (strcmp(name, "root") == 0) {
        if (value[0] != '/')
            return pvs_fail(err, PVS_EINVAL,
                            "invalid value for setting 'root': '%s' is not an absolute path\n", value);
        size_t n = strlen(value);
        while (n > 1 && value[n - 1] == '/')
            n--;
        char *root = n == 1 ? strdup("/") : strndup(value, n);
        if (!root)
            return pvs_oom(err);
        free(set->root);
        set->root = root;
    } else if (strcmp(name, "rbd_command") == 0) {
        if (value[0] != '/')
            return pvs_fail(err, PVS_EINVAL,
                            "invalid value for setting 'rbd_command': '%s' is not an absolute path\n",
                            value);
        char *cmd = strdup(value);
        if (!cmd)
            return pvs_oom(err);
        free(set->rbd_command);
        set->rbd_command = cmd;
    } else if (strcmp(name, "ceph_timeout") == 0) {
        char *end;
        errno = 0;
        long t = strtol(value, &end, 10);
        if (end == value || *end || errno || t < 1 || t > 3600)
            return pvs_fail(err, PVS_EINVAL,
                            "invalid value for setting 'ceph_timeout': '%s' (seconds, 1..3600)\n",
                            value);
        set->ceph_timeout = (int)t;
        snprintf(set->ceph_timeout_str, sizeof set->ceph_timeout_str, "%d", set->ceph_timeout);
    } else if (strcmp(name, "kernel_version") == 0) {
        int ma, mi, used = parse_kernel_version(value, &ma, &mi);
        if (used < 0 || value[used])
            return pvs_fail(err, PVS_EINVAL,
                            "invalid value for setting 'kernel_version': '%s' (MAJOR.MINOR)\n",
                            value);
        set->kernel_major = ma;
        set->kernel_minor = mi;
        snprintf(set->kernel_version_str, sizeof set->kernel_version_str, "%d.%d", ma, mi);
    } else {
        return pvs_fail(err, PVS_EINVAL, "unknown setting '%s' (known: root, rbd_command, "
                                         "ceph_timeout, kernel_version)\n", name);
    }
    return 0;
}

static pvs_settings *settings_copy(const pvs_settings *from)
{
    pvs_settings *set = calloc(1, sizeof *set);
    if (!set)
        return NULL;
    *set = *from;
    set->refs = 1;
    set->root = strdup(from->root);
    set->rbd_command = strdup(from->rbd_command);
    if (!set->root || !set->rbd_command) {
        pvs_settings_free(set);
        return NULL;
    }
    return set;
}

int pvs_ctx_configure(pvs_ctx *ctx, const char *const *names, const char *const *values, size_t n,
                      pvs_error *err)
{
    pvs_ctx *base = ctx->base;
    pthread_mutex_lock(&base->lock);
    pvs_settings *set = settings_copy(base->set);
    pthread_mutex_unlock(&base->lock);
    if (!set)
        return pvs_oom(err);
    for (size_t i = 0; i < n; i++) {
        int rc = set_setting(set, names[i], values[i], err);
        if (rc) {
            pvs_settings_free(set);
            return rc;
        }
    }
    /* publish: calls under way keep the set they began with */
    pthread_mutex_lock(&base->lock);
    pvs_settings *old = base->set;
    base->set = set;
    pthread_mutex_unlock(&base->lock);
    pvs_settings_unref(base, old);
    return 0;
}

int pvs_ctx_set(pvs_ctx *ctx, const char *name, const char *value, pvs_error *err)
{
    return pvs_ctx_configure(ctx, &name, &value, 1, err);
}

const char *pvs_ctx_get(const pvs_ctx *ctx, const char *name)
{
    const pvs_settings *set = ctx->set;
    if (!name)
        return NULL;
    if (strcmp(name, "root") == 0)
        return set->root;
    if (strcmp(name, "rbd_command") == 0)
        return set->rbd_command;
    if (strcmp(name, "ceph_timeout") == 0)
        return set->ceph_timeout_str;
    if (strcmp(name, "kernel_version") == 0)
        return set->kernel_version_str;
    return NULL;
}

void pvs_ctx_set_warn(pvs_ctx *ctx, pvs_warn_fn fn, void *data)
{
    ctx->warn_fn = fn ? fn : stderr_sink;
    ctx->warn_data = fn ? data : NULL;
}

static void stdout_sink(void *data, const char *message)
{
    (void)data;
    fputs(message, stdout);
    fflush(stdout);
}

void pvs_ctx_set_info(pvs_ctx *ctx, pvs_warn_fn fn, void *data)
{
    ctx->info_fn = fn ? fn : stdout_sink;
    ctx->info_data = fn ? data : NULL;
}

/* The defaults, then the environment (naming the variable in an error). */
static pvs_settings *initial_settings(pvs_error *err)
{
    pvs_settings *set = calloc(1, sizeof *set);
    if (!set) {
        pvs_oom(err);
        return NULL;
    }
    set->refs = 1;
    struct utsname u;
    int ma = 0, mi = 0;
    if (uname(&u) == 0 && parse_kernel_version(u.release, &ma, &mi) > 0) {
        set->kernel_major = ma;
        set->kernel_minor = mi;
    }
    snprintf(set->kernel_version_str, sizeof set->kernel_version_str, "%d.%d", ma, mi);
    if (set_setting(set, "root", "/", err) || set_setting(set, "rbd_command", "/usr/bin/rbd", err)
        || set_setting(set, "ceph_timeout", "60", err))
        goto fail;
    for (size_t i = 0; setting_names[i]; i++) {
        /* not in a set-user-ID or set-group-ID program: its caller does not choose its root */
        const char *v = secure_getenv(setting_env[i]);
        if (v && *v && set_setting(set, setting_names[i], v, err)) {
            char *msg = err ? err->message : NULL;
            if (msg) {
                err->message = pvs_asprintf("environment %s: %s", setting_env[i], msg);
                free(msg);
                if (!err->message)
                    pvs_oom(err);
            }
            goto fail;
        }
    }
    return set;
fail:
    pvs_settings_free(set);
    return NULL;
}

pvs_ctx *pvs_ctx_new(pvs_error *err)
{
    pvs_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        pvs_oom(err);
        return NULL;
    }
    pthread_mutex_init(&ctx->lock, NULL);
    ctx->base = ctx;
    ctx->warn_fn = stderr_sink;
    ctx->info_fn = stdout_sink;
    if (!(ctx->set = initial_settings(err)))
        goto fail;
    for (size_t i = 0; pvs_builtin_plugins[i]; i++)
        if (pvs_plugin_register(ctx, pvs_builtin_plugins[i], 1, err))
            goto fail;
    return ctx;

fail:
    pvs_ctx_free(ctx);
    return NULL;
}

static void free_state(const pvs_plugin *p, void *state)
{
    if (state && PVS_PLUGIN_HAS(p, state_free) && p->state_free)
        p->state_free(state);
}

void pvs_ctx_free(pvs_ctx *ctx)
{
    if (!ctx)
        return;
    pvs_reap_orphans(ctx, 1);
    free(ctx->orphans);
    for (size_t i = 0; i < ctx->nplugins; i++)
        free_state(ctx->plugins[i], ctx->states[i]);
    for (size_t i = 0; i < ctx->nretired; i++)
        free_state(ctx->retired[i], ctx->retired_states[i]);
    pthread_mutex_destroy(&ctx->lock);
    pvs_settings_free(ctx->set);
    free(ctx);
}

