/* host.c - what every part of the core uses of a context while it works:
 * the call (its settings snapshot and its one deadline), root-prefixed host
 * paths, the warning sink, and the children a timeout left to reap.  Below
 * ctx.c (the composition root), so nothing above calls back into it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

void pvs_settings_free(pvs_settings *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < PVS_NSETTINGS; i++)
        free(set->text[i]);
    free(set);
}

/* Drop a reference taken under base->lock. */
void pvs_settings_unref(pvs_ctx *base, pvs_settings *set)
{
    pthread_mutex_lock(&base->lock);
    int last = --set->refs == 0;
    pthread_mutex_unlock(&base->lock);
    if (last)
        pvs_settings_free(set);
}

void pvs_reap_orphans(pvs_ctx *base, int wait)
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
    view->info_fn = ctx->info_fn;
    view->info_data = ctx->info_data;
    pthread_mutex_unlock(&ctx->lock);
    view->deadline_ms = pvs_now_ms() + (long long)view->set->ceph_timeout * 1000;
    if (ctx->norphans)
        pvs_reap_orphans(ctx, 0);
    return view;
}

void pvs_call_end(pvs_ctx *call, pvs_ctx *view)
{
    if (call != view)
        return;
    pvs_settings_unref(view->base, view->set);
    view->set = NULL;
    json_decref(view->cache);
    view->cache = NULL;
}

json_t *pvs_call_cache(pvs_ctx *call)
{
    if (!call || !call->deadline_ms)
        return NULL;
    if (!call->cache)
        call->cache = json_object();
    return call->cache;
}

pvs_ctx *pvs_call_open(pvs_ctx *ctx, void *data)
{
    if (!ctx || ctx->deadline_ms)
        return NULL;
    pvs_ctx *view = malloc(sizeof *view);
    if (!view)
        return NULL;
    pvs_call_begin(ctx, view);
    view->call_data = data;
    view->warn_data = data;
    view->info_data = data;
    return view;
}

void pvs_call_close(pvs_ctx *call)
{
    if (!call)
        return;
    pvs_call_end(call, call);
    free(call);
}

void *pvs_call_data(const pvs_ctx *ctx)
{
    return ctx ? ctx->call_data : NULL;
}

long long pvs_call_left_ms(const pvs_ctx *call)
{
    if (!call->deadline_ms)
        return (long long)call->set->ceph_timeout * 1000;
    long long left = call->deadline_ms - pvs_now_ms();
    return left > 0 ? left : 0;
}

/* to the sink (or, while the call holds its messages, to the queue); a
 * warning also to the volume a reporting call works on */
static void emit(pvs_ctx *ctx, int info, const char *fmt, va_list ap)
{
    pvs_error tmp = PVS_ERROR_INIT;
    pvs_vfail(&tmp, PVS_EINVAL, fmt, ap);
    if (tmp.message && !info)
        pvs_report_warning(ctx, tmp.message);
    if (tmp.message && ctx->held) {
        json_t *m = json_pack("[b, s%]", info, tmp.message, strlen(tmp.message));
        if (!m || json_array_append_new(ctx->held, m))
            ctx->held_lost++;
    } else if (tmp.message) {
        (info ? ctx->info_fn : ctx->warn_fn)(info ? ctx->info_data : ctx->warn_data, tmp.message);
    }
    pvs_error_clear(&tmp);
}

void pvs_info(pvs_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(ctx, 1, fmt, ap);
    va_end(ap);
}

void pvs_warn(pvs_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(ctx, 0, fmt, ap);
    va_end(ap);
}

void pvs_hold_messages(pvs_ctx *call)
{
    if (!call->held)
        call->held = json_array();
}

void pvs_release_messages(pvs_ctx *call)
{
    json_t *held = call->held, *m;
    size_t i;
    call->held = NULL;
    json_array_foreach(held, i, m) {
        int info = json_is_true(json_array_get(m, 0));
        (info ? call->info_fn : call->warn_fn)(info ? call->info_data : call->warn_data,
                                               json_string_value(json_array_get(m, 1)));
    }
    json_decref(held);
    if (call->held_lost)
        call->warn_fn(call->warn_data, "out of memory: messages were lost\n");
    call->held_lost = 0;
}

char *pvs_host_path(const pvs_ctx *ctx, const char *path)
{
    const char *root = ctx->set->root;
    if (strcmp(root, "/") == 0)
        return strdup(path);
    return pvs_asprintf("%s%s", root, path);
}

static int by_value(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* the number N of a directory entry named exactly N SUFFIX (decimal, no sign,
 * no leading zero), or -1 */
static long long entry_number(const char *name, const char *suffix, long long max)
{
    size_t digits = strspn(name, "0123456789");
    if (digits == 0 || digits > 18 || (name[0] == '0' && digits > 1) || strcmp(name + digits, suffix) != 0)
        return -1;
    long long v = strtoll(name, NULL, 10);
    return v <= max ? v : -1;
}

long long *pvs_host_dir_numbers(pvs_ctx *ctx, const char *dir, const char *suffix, long long max, size_t *n)
{
    char *path = pvs_host_path(ctx, dir);
    DIR *d = path ? opendir(path) : NULL;
    long long *v = NULL, num;
    size_t cap = 0;
    struct dirent *e;
    *n = 0;
    while (d && (e = readdir(d))) {
        if ((num = entry_number(e->d_name, suffix, max)) < 0)
            continue;
        if (*n == cap) {
            long long *grown = realloc(v, (cap = cap ? 2 * cap : 32) * sizeof *v);
            if (!grown)
                break;
            v = grown;
        }
        v[(*n)++] = num;
    }
    if (d)
        closedir(d);
    free(path);
    if (v)
        qsort(v, *n, sizeof *v, by_value);
    return v;
}

/* storage.cfg is a few kilobytes, a sysfs attribute a line: anything near
 * this is none of the files read here. */
#define CONFIG_MAX_BYTES (16u << 20)

/* The whole of a regular file, at most CONFIG_MAX_BYTES: a FIFO, a device
 * (/dev/zero) or a directory is refused before it can block or spin. */
char *pvs_read_regular_file(const char *path, size_t *len, pvs_error *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        pvs_fail(err, e == ENOENT ? PVS_ENOENT : PVS_EIO, "unable to read '%s' - %s\n", path, strerror(e));
        return NULL;
    }
    const char *why = !S_ISREG(st.st_mode) ? "not a regular file"
                      : (unsigned long long)st.st_size > CONFIG_MAX_BYTES ? "file too large" : NULL;
    strbuf sb;
    sb_init(&sb);
    char buf[8192];
    ssize_t r = 0;
    while (!why && (r = read(fd, buf, sizeof buf)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            why = strerror(errno);
        else if (sb.len + (size_t)r > CONFIG_MAX_BYTES)
            why = "file too large";   /* it grew while we read */
        else
            sb_addn(&sb, buf, (size_t)r);
    }
    close(fd);
    if (why) {
        sb_free(&sb);
        pvs_fail(err, PVS_EIO, "unable to read '%s' - %s\n", path, why);
        return NULL;
    }
    *len = sb.len;
    char *text = sb_take(&sb);
    if (!text)
        pvs_oom(err);
    return text;
}

char *pvs_host_read(pvs_ctx *ctx, const char *path, size_t *len, pvs_error *err)
{
    char *full = pvs_host_path(ctx, path);
    char *text = full ? pvs_read_regular_file(full, len, err) : (pvs_oom(err), NULL);
    free(full);
    return text;
}

int pvs_host_is_block(const pvs_ctx *ctx, const char *path)
{
    char *host = pvs_host_path(ctx, path);
    struct stat st;
    int b = host && stat(host, &st) == 0 && S_ISBLK(st.st_mode);
    free(host);
    return b;
}
