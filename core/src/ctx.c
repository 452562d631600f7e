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
#define PVS_API_SETTING(name, env, option, metavar, kind, dflt, meaning) #name,
#include "pvestorage_api.def"
    NULL,
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

/* A setting's kind: its value checked and shown as settings show it
 * (malloc()ed), or NULL with what a valid value looks like in *want. */
typedef char *(*kind_fn)(const char *value, const char **want);

static char *kind_PATH(const char *value, const char **want)
{
    *want = "is not an absolute path";
    return value[0] == '/' ? strdup(value) : NULL;
}

static char *kind_DIR(const char *value, const char **want)
{
    *want = "is not an absolute path";
    if (value[0] != '/')
        return NULL;
    size_t n = strlen(value);
    while (n > 1 && value[n - 1] == '/')
        n--;
    return strndup(value, n);
}

static char *kind_SECONDS(const char *value, const char **want)
{
    char *end;
    errno = 0;
    long t = strtol(value, &end, 10);
    *want = "(seconds, 1..3600)";
    if (end == value || *end || errno || t < 1 || t > 3600)
        return NULL;
    return pvs_asprintf("%ld", t);
}

static char *kind_VERSION(const char *value, const char **want)
{
    int ma, mi, used = parse_kernel_version(value, &ma, &mi);
    *want = "(MAJOR.MINOR)";
    return used < 0 || value[used] ? NULL : pvs_asprintf("%d.%d", ma, mi);
}

static const kind_fn setting_kinds[] = {
#define PVS_API_SETTING(name, env, option, metavar, kind, dflt, meaning) kind_##kind,
#include "pvestorage_api.def"
};

static int setting_index(const char *name)
{
    for (int i = 0; setting_names[i]; i++)
        if (strcmp(setting_names[i], name) == 0)
            return i;
    return -1;
}

/* "unknown setting 'X' (known: root, rbd_command, ...)" */
static int unknown_setting(const char *name, pvs_error *err)
{
    char known[256] = "";
    for (size_t i = 0; setting_names[i]; i++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", setting_names[i]);
    return pvs_fail(err, PVS_EINVAL, "unknown setting '%s' (known: %s)\n", name, known);
}

/* The fields the core reads, from the values. */
static void derive(pvs_settings *set)
{
    set->root = set->text[PVS_SET_root];
    set->rbd_command = set->text[PVS_SET_rbd_command];
    set->ceph_timeout = atoi(set->text[PVS_SET_ceph_timeout]);
    if (parse_kernel_version(set->text[PVS_SET_kernel_version], &set->kernel_major, &set->kernel_minor) < 0)
        set->kernel_major = set->kernel_minor = 0;
}

/* Apply one setting to a set being built (not yet published). */
static int set_setting(pvs_settings *set, const char *name, const char *value, pvs_error *err)
{
    if (!name)
        return pvs_fail(err, PVS_EINVAL, "setting name missing\n");
    if (!value)
        return pvs_fail(err, PVS_EINVAL, "setting '%s' needs a value\n", name);
    int i = setting_index(name);
    if (i < 0)
        return unknown_setting(name, err);
    const char *want = NULL;
    errno = 0;
    char *text = setting_kinds[i](value, &want);
    if (!text)
        return errno == ENOMEM ? pvs_oom(err)
                               : pvs_fail(err, PVS_EINVAL, "invalid value for setting '%s': '%s' %s\n", name,
                                          value, want);
    free(set->text[i]);
    set->text[i] = text;
    derive(set);
    return 0;
}

static pvs_settings *settings_copy(const pvs_settings *from)
{
    pvs_settings *set = calloc(1, sizeof *set);
    if (!set)
        return NULL;
    set->refs = 1;
    for (size_t i = 0; i < PVS_NSETTINGS; i++)
        if (!(set->text[i] = strdup(from->text[i]))) {
            pvs_settings_free(set);
            return NULL;
        }
    derive(set);
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

/* The set in force for ctx, a reference taken (a call's view keeps its
 * snapshot; a long-lived context's set is swapped under its lock). */
static pvs_settings *settings_ref(const pvs_ctx *ctx)
{
    pthread_mutex_lock(&ctx->base->lock);
    pvs_settings *set = ctx->set;
    set->refs++;
    pthread_mutex_unlock(&ctx->base->lock);
    return set;
}

int pvs_ctx_get_setting(const pvs_ctx *ctx, const char *name, char **value, pvs_error *err)
{
    *value = NULL;
    int i = name ? setting_index(name) : -1;
    if (i < 0)
        return name ? unknown_setting(name, err) : pvs_fail(err, PVS_EINVAL, "setting name missing\n");
    pvs_settings *set = settings_ref(ctx);
    *value = strdup(set->text[i]);
    pvs_settings_unref(ctx->base, set);
    return *value ? 0 : pvs_oom(err);
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
static const char *const setting_env[] = {
#define PVS_API_SETTING(name, env, option, metavar, kind, dflt, meaning) env,
#include "pvestorage_api.def"
};

static const char *const setting_defaults[] = {
#define PVS_API_SETTING(name, env, option, metavar, kind, dflt, meaning) dflt,
#include "pvestorage_api.def"
};

/* The running kernel's MAJOR.MINOR, "0.0" when uname cannot tell. */
static char *running_kernel(void)
{
    struct utsname u;
    int ma = 0, mi = 0;
    if (uname(&u) != 0 || parse_kernel_version(u.release, &ma, &mi) <= 0)
        ma = mi = 0;
    return pvs_asprintf("%d.%d", ma, mi);
}

/* The error of environment variable i: its name before the message. */
static int environment_error(size_t i, pvs_error *err)
{
    char *msg = err ? err->message : NULL;
    if (msg) {
        err->message = pvs_asprintf("environment %s: %s", setting_env[i], msg);
        free(msg);
        if (!err->message)
            pvs_oom(err);
    }
    return err ? err->code : PVS_EINVAL;
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
    for (size_t i = 0; i < PVS_NSETTINGS; i++)
        if (!(set->text[i] = setting_defaults[i] ? strdup(setting_defaults[i]) : running_kernel())) {
            pvs_oom(err);
            goto fail;
        }
    derive(set);
    for (size_t i = 0; setting_names[i]; i++) {
        /* not in a set-user-ID or set-group-ID program: its caller does not choose its root */
        const char *v = secure_getenv(setting_env[i]);
        if (v && *v && set_setting(set, setting_names[i], v, err)) {
            environment_error(i, err);
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

