/* ctx.c - the context: host settings (SPEC §9), warning sink, registry. */
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

static int set_setting(pvs_ctx *ctx, const char *name, const char *value, pvs_error *err)
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
        free(ctx->root);
        ctx->root = root;
    } else if (strcmp(name, "rbd_command") == 0) {
        if (value[0] != '/')
            return pvs_fail(err, PVS_EINVAL,
                            "invalid value for setting 'rbd_command': '%s' is not an absolute path\n",
                            value);
        char *cmd = strdup(value);
        if (!cmd)
            return pvs_oom(err);
        free(ctx->rbd_command);
        ctx->rbd_command = cmd;
    } else if (strcmp(name, "ceph_timeout") == 0) {
        char *end;
        errno = 0;
        long t = strtol(value, &end, 10);
        if (end == value || *end || errno || t < 1 || t > 3600)
            return pvs_fail(err, PVS_EINVAL,
                            "invalid value for setting 'ceph_timeout': '%s' (seconds, 1..3600)\n",
                            value);
        ctx->ceph_timeout = (int)t;
        snprintf(ctx->ceph_timeout_str, sizeof ctx->ceph_timeout_str, "%d", ctx->ceph_timeout);
    } else if (strcmp(name, "kernel_version") == 0) {
        int ma, mi, used = parse_kernel_version(value, &ma, &mi);
        if (used < 0 || value[used])
            return pvs_fail(err, PVS_EINVAL,
                            "invalid value for setting 'kernel_version': '%s' (MAJOR.MINOR)\n",
                            value);
        ctx->kernel_major = ma;
        ctx->kernel_minor = mi;
        snprintf(ctx->kernel_version_str, sizeof ctx->kernel_version_str, "%d.%d", ma, mi);
    } else {
        return pvs_fail(err, PVS_EINVAL, "unknown setting '%s' (known: root, rbd_command, "
                                         "ceph_timeout, kernel_version)\n", name);
    }
    return 0;
}

int pvs_ctx_set(pvs_ctx *ctx, const char *name, const char *value, pvs_error *err)
{
    return set_setting(ctx, name, value, err);
}

const char *pvs_ctx_get(const pvs_ctx *ctx, const char *name)
{
    if (!name)
        return NULL;
    if (strcmp(name, "root") == 0)
        return ctx->root;
    if (strcmp(name, "rbd_command") == 0)
        return ctx->rbd_command;
    if (strcmp(name, "ceph_timeout") == 0)
        return ctx->ceph_timeout_str;
    if (strcmp(name, "kernel_version") == 0)
        return ctx->kernel_version_str;
    return NULL;
}

void pvs_ctx_set_warn(pvs_ctx *ctx, pvs_warn_fn fn, void *data)
{
    ctx->warn_fn = fn ? fn : stderr_sink;
    ctx->warn_data = fn ? data : NULL;
}

pvs_ctx *pvs_ctx_new(pvs_error *err)
{
    pvs_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        pvs_oom(err);
        return NULL;
    }
    pthread_mutex_init(&ctx->lock, NULL);
    ctx->warn_fn = stderr_sink;

    struct utsname u;
    int ma = 0, mi = 0;
    if (uname(&u) == 0 && parse_kernel_version(u.release, &ma, &mi) > 0) {
        ctx->kernel_major = ma;
        ctx->kernel_minor = mi;
    }
    snprintf(ctx->kernel_version_str, sizeof ctx->kernel_version_str, "%d.%d",
             ctx->kernel_major, ctx->kernel_minor);

    if (set_setting(ctx, "root", "/", err) || set_setting(ctx, "rbd_command", "/usr/bin/rbd", err)
        || set_setting(ctx, "ceph_timeout", "60", err))
        goto fail;
    for (size_t i = 0; setting_names[i]; i++) {
        const char *v = getenv(setting_env[i]);
        if (v && *v && set_setting(ctx, setting_names[i], v, err)) {
            /* name the variable, not the setting: that is what the user wrote */
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
    if (pvs_register_plugin(ctx, &pvs_dir_plugin, err) || pvs_register_plugin(ctx, &pvs_rbd_plugin, err))
        goto fail;
    return ctx;

fail:
    pvs_ctx_free(ctx);
    return NULL;
}

void pvs_ctx_free(pvs_ctx *ctx)
{
    if (!ctx)
        return;
    pvs_rbd_state_free(ctx->rbd_state);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx->root);
    free(ctx->rbd_command);
    free(ctx);
}

void pvs_warn(pvs_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pvs_error tmp = PVS_ERROR_INIT;
    pvs_vfail(&tmp, PVS_EINVAL, fmt, ap);
    va_end(ap);
    if (tmp.message)
        ctx->warn_fn(ctx->warn_data, tmp.message);
    pvs_error_clear(&tmp);
}

char *pvs_host_path(const pvs_ctx *ctx, const char *path)
{
    if (strcmp(ctx->root, "/") == 0)
        return strdup(path);
    return pvs_asprintf("%s%s", ctx->root, path);
}
