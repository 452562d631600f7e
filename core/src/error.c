/* error.c - pvs_error handling and the string buffer every message is built in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void pvs_error_clear(pvs_error *err)
{
    if (!err)
        return;
    free(err->message);
    free(err->stderr_text);
    err->code = 0;
    err->message = NULL;
    err->exit_status = -1;
    err->stderr_text = NULL;
    err->message_len = 0;
}

size_t pvs_error_length(const pvs_error *err)
{
    if (!err || !err->message)
        return 0;
    return err->message_len ? err->message_len : strlen(err->message);
}

void pvs_error_move(pvs_error *dst, pvs_error *src)
{
    if (!dst) {
        pvs_error_clear(src);
        return;
    }
    pvs_error_clear(dst);
    *dst = *src;
    src->code = 0;
    src->message = NULL;
    src->exit_status = -1;
    src->stderr_text = NULL;
    src->message_len = 0;
}

static const char oom_message[] = "out of memory\n";

int pvs_vfail(pvs_error *err, int code, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    pvs_error_clear(err);
    err->code = code;
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n >= 0) {
        err->message = malloc((size_t)n + 1);
        if (err->message)
            vsnprintf(err->message, (size_t)n + 1, fmt, ap);
    }
    if (!err->message)
        err->message = strdup(oom_message);
    return code;
}

int pvs_fail(pvs_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pvs_vfail(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int pvs_error_set(pvs_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = pvs_vfail(err, code, fmt, ap);
    va_end(ap);
    return rc;
}

int pvs_oom(pvs_error *err)
{
    return pvs_fail(err, PVS_ENOMEM, "%s", oom_message);
}

/* ---- a plugin's faults, named ---- */

int pvs_plugin_fail(pvs_error *err, int code, const pvs_plugin *p, const char *method, const char *arg,
                    const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    pvs_vfail(err, code, fmt, ap);   /* the rest first; the prefix goes before it */
    va_end(ap);
    const char *name = p && PVS_PLUGIN_HAS(p, name) && p->name ? p->name : p && p->type ? p->type : "?";
    char *msg = pvs_asprintf("storage plugin %s: %s(%s%s%s) %s\n", name, method, arg ? "'" : "", arg ? arg : "",
                             arg ? "'" : "", err->message);
    if (msg) {
        free(err->message);
        err->message = msg;
    }
    return code;
}

int pvs_plugin_outcome(const pvs_plugin *p, const char *method, const char *arg, int rc, pvs_error *err)
{
    if (rc > 0)   /* not one of ours: the plugin's own number */
        rc = PVS_EPLUGIN;
    if (rc && err && !err->message)
        return pvs_plugin_fail(err, rc, p, method, arg, "failed without saying why");
    if (rc && err)
        err->code = rc;
    return rc;
}

/* ---- strbuf ---- */

void sb_init(strbuf *sb)
{
    sb->s = NULL;
    sb->len = sb->cap = 0;
    sb->failed = 0;
}

void sb_free(strbuf *sb)
{
    free(sb->s);
    sb_init(sb);
}

static int sb_grow(strbuf *sb, size_t extra)
{
    if (sb->failed)
        return -1;
    if (sb->len + extra + 1 <= sb->cap)
        return 0;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < sb->len + extra + 1)
        cap *= 2;
    char *s = realloc(sb->s, cap);
    if (!s) {
        sb->failed = 1;
        return -1;
    }
    sb->s = s;
    sb->cap = cap;
    return 0;
}

void sb_addn(strbuf *sb, const char *s, size_t n)
{
    if (sb_grow(sb, n))
        return;
    memcpy(sb->s + sb->len, s, n);
    sb->len += n;
    sb->s[sb->len] = '\0';
}

void sb_add(strbuf *sb, const char *s)
{
    sb_addn(sb, s, strlen(s));
}

void sb_addf(strbuf *sb, const char *fmt, ...)
{
    va_list ap, cp;
    va_start(ap, fmt);
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n >= 0 && !sb_grow(sb, (size_t)n)) {
        vsnprintf(sb->s + sb->len, (size_t)n + 1, fmt, ap);
        sb->len += (size_t)n;
    } else {
        sb->failed = 1;
    }
    va_end(ap);
}

void sb_add_printable(strbuf *sb, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0') {
            sb_addn(sb, s + start, i - start);
            sb_addn(sb, "\\0", 2);
            start = i + 1;
        }
    }
    sb_addn(sb, s + start, n - start);
}

char *sb_take(strbuf *sb)
{
    if (sb->failed) {
        sb_free(sb);
        return NULL;
    }
    char *s = sb->s ? sb->s : strdup("");
    sb_init(sb);
    return s;
}

char *pvs_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *pvs_asprintf(const char *fmt, ...)
{
    va_list ap, cp;
    va_start(ap, fmt);
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

int pvs_check_nul(const char *what, const char *s, size_t n, pvs_error *err)
{
    if (!memchr(s, '\0', n))
        return 0;
    strbuf sb;
    sb_init(&sb);
    sb_add_printable(&sb, s, n);
    char *shown = sb_take(&sb);
    if (!shown)
        return pvs_oom(err);
    pvs_fail(err, PVS_EINVAL, "%s '%s' contains a NUL byte\n", what, shown);
    free(shown);
    return PVS_EINVAL;
}

int pvs_error_exit_status(const pvs_error *err)
{
    return err && err->code == PVS_ECOMMAND && err->exit_status >= 0 ? err->exit_status : -1;
}
