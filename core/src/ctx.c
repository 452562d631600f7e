/* ctx.c - the context: host settings (SPEC §9), warning sink, registry. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

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

static void settings_free(pvs_settings *set)
{
    if (!set)
        return;
    free(set->root);
    free(set->rbd_command);
    free(set);
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
        settings_free(set);
        return NULL;
    }
    return set;
}

/* Drop a reference taken under base->lock. */
static void settings_unref(pvs_ctx *base, pvs_settings *set)
{
    pthread_mutex_lock(&base->lock);
    int last = --set->refs == 0;
    pthread_mutex_unlock(&base->lock);
    if (last)
        settings_free(set);
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
            settings_free(set);
            return rc;
        }
    }
    /* publish: calls under way keep the set they began with */
    pthread_mutex_lock(&base->lock);
    pvs_settings *old = base->set;
    base->set = set;
    pthread_mutex_unlock(&base->lock);
    settings_unref(base, old);
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
        const char *v = getenv(setting_env[i]);
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
    settings_free(set);
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
    if (!(ctx->set = initial_settings(err)))
        goto fail;
    if (pvs_register_plugin(ctx, &pvs_dir_plugin, err) || pvs_register_plugin(ctx, &pvs_rbd_plugin, err))
        goto fail;
    return ctx;

fail:
    pvs_ctx_free(ctx);
    return NULL;
}

static void reap_orphans(pvs_ctx *base, int wait)
{
    pthread_mutex_lock(&base->lock);
    size_t k = 0;
    for (size_t i = 0; i < base->norphans; i++) {
        pid_t w;
        while ((w = waitpid(base->orphans[i], NULL, wait ? 0 : WNOHANG)) < 0 && errno == EINTR)
            ;
        if (w == 0)
            base->orphans[k++] = base->orphans[i];   /* still there */
    }
    base->norphans = k;
    pthread_mutex_unlock(&base->lock);
}

void pvs_adopt_orphan(pvs_ctx *ctx, pid_t pid)
{
    pvs_ctx *base = ctx->base;
    pthread_mutex_lock(&base->lock);
    pid_t *v = realloc(base->orphans, (base->norphans + 1) * sizeof *v);
    if (v) {
        base->orphans = v;
        base->orphans[base->norphans++] = pid;
    }
    pthread_mutex_unlock(&base->lock);
    if (!v)   /* no room to remember it: wait for it now rather than leave a zombie */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
}

void pvs_ctx_free(pvs_ctx *ctx)
{
    if (!ctx)
        return;
    reap_orphans(ctx, 1);
    free(ctx->orphans);
    pvs_rbd_state_free(ctx->rbd_state);
    pthread_mutex_destroy(&ctx->lock);
    settings_free(ctx->set);
    free(ctx);
}

long long pvs_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

pvs_ctx *pvs_call_begin(pvs_ctx *ctx, pvs_ctx *view)
{
    if (ctx->deadline_ms)
        return ctx;
    memset(view, 0, sizeof *view);
    view->base = ctx;
    pthread_mutex_lock(&ctx->lock);
    view->set = ctx->set;
    view->set->refs++;
    view->warn_fn = ctx->warn_fn;
    view->warn_data = ctx->warn_data;
    pthread_mutex_unlock(&ctx->lock);
    view->deadline_ms = pvs_now_ms() + (long long)view->set->ceph_timeout * 1000;
    if (ctx->norphans)
        reap_orphans(ctx, 0);
    return view;
}

void pvs_call_end(pvs_ctx *call, pvs_ctx *view)
{
    if (call != view)
        return;
    settings_unref(view->base, view->set);
    view->set = NULL;
}

long long pvs_call_left_ms(const pvs_ctx *call)
{
    if (!call->deadline_ms)
        return (long long)call->set->ceph_timeout * 1000;
    long long left = call->deadline_ms - pvs_now_ms();
    return left > 0 ? left : 0;
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
    const char *root = ctx->set->root;
    if (strcmp(root, "/") == 0)
        return strdup(path);
    return pvs_asprintf("%s%s", root, path);
}
