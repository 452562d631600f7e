/* config.c - storage.cfg, Proxmox's section config format (SPEC §4).
 *
 * Every problem in the file is warned and skipped, never fatal, with
 * Proxmox's wording: existing tooling greps for these lines. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef enum { P_STRING, P_BOOL, P_INT, P_ENUM, P_PATH, P_CONTENT, P_NODES,
               P_CONTENT_DIRS, P_UUID } prop_kind;

/* A property as the parser checks it. */
typedef struct prop_def {
    const pvs_property *p;
    prop_kind kind;
} prop_def;

static prop_kind kind_of(const pvs_property *p)
{
    static const struct { const char *format; prop_kind kind; } formats[] = {
        { "pve-storage-path", P_PATH },         { "pve-storage-content-list", P_CONTENT },
        { "pve-node-list", P_NODES },           { "pve-dir-override-list", P_CONTENT_DIRS },
        { "uuid", P_UUID },
    };
    if (p->type && strcmp(p->type, "boolean") == 0)
        return P_BOOL;
    if (p->type && strcmp(p->type, "integer") == 0)
        return P_INT;
    if (p->enum_values)
        return P_ENUM;
    for (size_t i = 0; p->format && i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(formats[i].format, p->format) == 0)
            return formats[i].kind;
    return P_STRING;
}

static const pvs_property *find_in(const pvs_property *list, const char *name)
{
    for (; list && list->name; list++)
        if (strcmp(list->name, name) == 0)
            return list;
    return NULL;
}

/* A property by name: the base ones, then those the registered plugins
 * declare (as Proxmox's section config merges every plugin's properties). */
static int find_prop(const pvs_ctx *ctx, const char *name, prop_def *out)
{
    const pvs_property *p = find_in(pvs_base_properties, name);
    const pvs_ctx *base = ctx->base;
    for (size_t i = 0; !p && i < base->nplugins; i++)
        if (PVS_PLUGIN_HAS(base->plugins[i], properties))
            p = find_in(base->plugins[i]->properties, name);
    if (!p)
        return 0;
    out->p = p;
    out->kind = kind_of(p);
    return 1;
}

static int plugin_has_option(const pvs_plugin *p, const char *name, int *required)
{
    for (const pvs_plugin_option *o = p->options; o && o->name; o++)
        if (strcmp(o->name, name) == 0) {
            if (required)
                *required = o->required;
            return 1;
        }
    return 0;
}

static int in_list(const char *const *list, const char *s)
{
    for (; list && *list; list++)
        if (strcmp(*list, s) == 0)
            return 1;
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* PVE::Tools::split_list: items separated by commas, semicolons, whitespace */
typedef int (*item_fn)(const char *item, void *data, pvs_error *err);

static int split_list(const char *s, item_fn fn, void *data, pvs_error *err)
{
    while (*s) {
        while (*s && (*s == ',' || *s == ';' || is_space(*s)))
            s++;
        size_t n = 0;
        while (s[n] && s[n] != ',' && s[n] != ';' && !is_space(s[n]))
            n++;
        if (!n)
            break;
        char *item = strndup(s, n);
        if (!item)
            return pvs_oom(err);
        int rc = fn(item, data, err);
        free(item);
        if (rc)
            return rc;
        s += n;
    }
    return 0;
}

typedef struct list_ctx {
    pvs_ctx *ctx;
    const pvs_plugin *plugin;
    json_t *out;
} list_ctx;

static int content_item(const char *item, void *data, pvs_error *err)
{
    list_ctx *lc = data;
    if (!in_list(lc->plugin->content_valid, item)) {
        pvs_warn(lc->ctx, "storage does not support content type '%s'\n", item);
        return 0;
    }
    if (json_object_set_new(lc->out, item, json_integer(1)))
        return pvs_fail(err, PVS_EINVAL, "invalid content type '%s'\n", item);
    return 0;
}

static int node_item(const char *item, void *data, pvs_error *err)
{
    list_ctx *lc = data;
    /* pve-node: [a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])? */
    size_t n = strlen(item);
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        char c = item[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        ok = alnum || (c == '-' && i > 0 && i < n - 1);
    }
    if (!ok)
        return pvs_fail(err, PVS_EINVAL, "invalid format - value '%s' does not look like a valid node name\n", item);
    json_object_set_new(lc->out, item, json_integer(1));
    return 0;
}

/* a relative path without '..' components (pve-dir-override) */
static int safe_subdir(const char *p)
{
    if (!*p || p[0] == '/')
        return 0;
    for (const char *c = p; *c;) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if (n == 2 && c[0] == '.' && c[1] == '.')
            return 0;
        c += n;
        if (*c == '/')
            c++;
    }
    return 1;
}

static int content_dir_item(const char *item, void *data, pvs_error *err)
{
    list_ctx *lc = data;
    const char *eq = strchr(item, '=');
    if (!eq || eq == item)
        return pvs_fail(err, PVS_EINVAL, "invalid format - '%s' is not of the form CONTENT=PATH\n", item);
    char *vtype = strndup(item, (size_t)(eq - item));
    if (!vtype)
        return pvs_oom(err);
    int rc = 0;
    if (!safe_subdir(eq + 1))
        rc = pvs_fail(err, PVS_EINVAL,
                      "invalid format - '%s' is not a relative path inside the storage\n", eq + 1);
    else if (!pvs_vtype_subdir(vtype) || !in_list(lc->plugin->content_valid, vtype))
        pvs_warn(lc->ctx, "storage does not support content type '%s'\n", vtype);
    else
        json_object_set_new(lc->out, vtype, json_string(eq + 1));
    free(vtype);
    return rc;
}

static int valid_uuid(const char *s)
{
    static const int dash[] = { 8, 13, 18, 23 };
    if (strlen(s) != 36)
        return 0;
    for (int i = 0, d = 0; i < 36; i++) {
        if (d < 4 && i == dash[d]) {
            if (s[i] != '-')
                return 0;
            d++;
        } else if (!strchr("0123456789abcdefABCDEF", s[i])) {
            return 0;
        }
    }
    return 1;
}

/* Parse the value of one property; returns a new json value or NULL with err. */
static json_t *parse_value(pvs_ctx *ctx, const pvs_plugin *plugin, const prop_def *pd,
                           const char *v, pvs_error *err)
{
    switch (pd->kind) {
    case P_BOOL:
        if (strcmp(v, "0") && strcmp(v, "1")) {
            pvs_fail(err, PVS_EINVAL, "type check ('boolean') failed - got '%s'\n", v);
            return NULL;
        }
        return json_integer(v[0] == '1');
    case P_INT: {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (end == v || *end || errno) {
            pvs_fail(err, PVS_EINVAL, "type check ('integer') failed - got '%s'\n", v);
            return NULL;
        }
        long long min = pd->p->minimum, max = pd->p->maximum;
        if (min <= max && (n < min || n > max)) {
            pvs_fail(err, PVS_EINVAL, n < min ? "value must have a minimum value of %lld\n"
                                              : "value may have a maximum value of %lld\n",
                     n < min ? min : max);
            return NULL;
        }
        return json_integer(n);
    }
    case P_ENUM: {
        const char *e = pd->p->enum_values;
        size_t n = strlen(v);
        for (const char *c = e; *c;) {
            const char *end = strchr(c, ',');
            size_t len = end ? (size_t)(end - c) : strlen(c);
            if (len == n && memcmp(c, v, n) == 0)
                return json_string(v);
            c += len;
            while (*c == ',' || *c == ' ')
                c++;
        }
        pvs_fail(err, PVS_EINVAL, "value '%s' does not have a value in the enumeration '%s'\n", v, e);
        return NULL;
    }
    case P_PATH:
        if (v[0] != '/' || strpbrk(v, ";()")) {
            pvs_fail(err, PVS_EINVAL, "invalid format - value does not look like a valid absolute path\n");
            return NULL;
        }
        return json_string(v);
    case P_UUID:
        if (!valid_uuid(v)) {
            pvs_fail(err, PVS_EINVAL, "invalid format - value does not look like a valid UUID\n");
            return NULL;
        }
        return json_string(v);
    case P_CONTENT:
    case P_NODES:
    case P_CONTENT_DIRS: {
        list_ctx lc = { ctx, plugin, json_object() };
        if (!lc.out) {
            pvs_oom(err);
            return NULL;
        }
        item_fn fn = pd->kind == P_CONTENT ? content_item
                   : pd->kind == P_NODES ? node_item : content_dir_item;
        if (split_list(v, fn, &lc, err)) {
            json_decref(lc.out);
            return NULL;
        }
        if (pd->kind == P_CONTENT && json_object_get(lc.out, "none") && json_object_size(lc.out) > 1) {
            json_decref(lc.out);
            pvs_fail(err, PVS_EINVAL, "unable to combine 'none' with other content types\n");
            return NULL;
        }
        return lc.out;
    }
    case P_STRING:
    default:
        return json_string(v);
    }
}

/* ---- the section parser ---- */

typedef struct parser {
    pvs_ctx *ctx;
    const char *filename;
    const char *text;
    size_t len, pos;
    int lineno;
    json_t *ids, *order;
    int pri;
    int last_line;   /* of the section's header or its last line: where its errors are */
} parser;

/* The next line that is not a comment, or NULL at the end; *n its length. */
static const char *next_line(parser *ps, size_t *n)
{
    while (ps->pos < ps->len) {
        const char *line = ps->text + ps->pos;
        const char *nl = memchr(line, '\n', ps->len - ps->pos);
        size_t len = nl ? (size_t)(nl - line) : ps->len - ps->pos;
        ps->pos += len + (nl ? 1 : 0);
        ps->lineno++;
        size_t i = 0;
        while (i < len && is_space(line[i]))
            i++;
        if (i < len && line[i] == '#')
            continue;
        *n = len;
        return line;
    }
    return NULL;
}

static void warn_line(parser *ps, const char *section, const char *line, size_t n)
{
    strbuf sb;
    sb_init(&sb);
    if (section)
        sb_addf(&sb, "file %s line %d (section '%s') - ignore config line: ", ps->filename,
                ps->lineno, section);
    else
        sb_addf(&sb, "file %s line %d - ignore config line: ", ps->filename, ps->lineno);
    sb_add_printable(&sb, line, n);
    sb_add(&sb, "\n");
    char *msg = sb_take(&sb);
    if (msg)
        pvs_warn(ps->ctx, "%s", msg);
    free(msg);
}

/* "TYPE: STOREID" (^(\S+):\s*(\S+)\s*$); 0 if the line is not a header. */
static int parse_header(const char *line, size_t n, char **type, char **id)
{
    while (n && is_space(line[n - 1]))
        n--;
    if (!n || is_space(line[0]) || memchr(line, '\0', n))
        return 0;
    size_t ws = 0;
    while (ws < n && !is_space(line[ws]))
        ws++;
    size_t split;   /* index of the ':' ending TYPE */
    size_t idstart;
    if (ws < n) {
        if (ws < 2 || line[ws - 1] != ':')
            return 0;
        split = ws - 1;
        idstart = ws;
        while (idstart < n && is_space(line[idstart]))
            idstart++;
        for (size_t i = idstart; i < n; i++)
            if (is_space(line[i]))
                return 0;
    } else {
        /* greedy \S+ before the ':': the last ':' that has something after it */
        const char *c = NULL;
        for (size_t i = n - 1; i > 0; i--)
            if (line[i - 1] == ':') {
                c = line + i - 1;
                break;
            }
        if (!c || c == line)
            return 0;
        split = (size_t)(c - line);
        idstart = split + 1;
    }
    if (idstart >= n)
        return 0;
    *type = strndup(line, split);
    *id = strndup(line + idstart, n - idstart);
    if (!*type || !*id) {
        free(*type);
        free(*id);
        return 0;
    }
    for (char *t = *type; *t; t++)
        if (*t >= 'A' && *t <= 'Z')
            *t = (char)(*t - 'A' + 'a');
    return 1;
}

/* "  KEY VALUE" (^\s+(\S+)(\s+(.*\S))?\s*$); 0 if the line is not one. */
static int parse_kv(const char *line, size_t n, char **key, char **value)
{
    if (!n || !is_space(line[0]) || memchr(line, '\0', n))
        return 0;
    while (n && is_space(line[n - 1]))
        n--;
    size_t i = 0;
    while (i < n && is_space(line[i]))
        i++;
    if (i == n)
        return 0;
    size_t k = i;
    while (i < n && !is_space(line[i]))
        i++;
    *key = strndup(line + k, i - k);
    while (i < n && is_space(line[i]))
        i++;
    *value = i < n ? strndup(line + i, n - i) : NULL;
    return *key != NULL;
}

static void section_value(parser *ps, const pvs_plugin *plugin, const char *id, json_t *sec,
                          const char *key, const char *value)
{
    pvs_error err = PVS_ERROR_INIT;
    prop_def def;
    const prop_def *pd = find_prop(ps->ctx, key, &def) ? &def : NULL;
    json_t *v = NULL;
    if (json_object_get(sec, key))
        pvs_fail(&err, PVS_EINVAL, "duplicate attribute\n");
    else if (!pd || !plugin_has_option(plugin, key, NULL))
        pvs_fail(&err, PVS_EINVAL, "unexpected property '%s'\n", key);
    else if (!value && pd->kind != P_BOOL)
        pvs_fail(&err, PVS_EINVAL, "got undefined value\n");
    else if (!(v = parse_value(ps->ctx, plugin, pd, value ? value : "1", &err)) && !err.code)
        pvs_fail(&err, PVS_EINVAL, "value is not valid UTF-8\n");
    if (v && json_object_set_new(sec, key, v))
        pvs_fail(&err, PVS_EINVAL, "property name is not valid UTF-8\n");
    if (err.code)
        pvs_warn(ps->ctx, "file %s line %d (section '%s') - unable to parse value of '%s': %s",
                 ps->filename, ps->lineno, id, key, err.message);
    pvs_error_clear(&err);
}

/* Defaults and required options once a section is complete; 0 to keep it. */
static int finish_section(parser *ps, const pvs_plugin *plugin, const char *id, json_t *sec)
{
    for (const pvs_plugin_option *o = plugin->options; o && o->name; o++)
        if (o->required && !json_object_get(sec, o->name)) {
            pvs_warn(ps->ctx, "file %s line %d (skip section '%s'): missing value for required option '%s'\n",
                     ps->filename, ps->last_line, id, o->name);
            return -1;
        }
    if (json_object_get(ps->ids, id)) {
        pvs_warn(ps->ctx, "file %s line %d (skip section '%s'): duplicate storage ID, keeping the first\n",
                 ps->filename, ps->last_line, id);
        return -1;
    }
    if (!json_object_get(sec, "content") && plugin->content_default) {
        json_t *c = json_object();
        for (const char *const *d = plugin->content_default; *d; d++)
            json_object_set_new(c, *d, json_integer(1));
        json_object_set_new(sec, "content", c);
    }
    if (plugin->shared)
        json_object_set_new(sec, "shared", json_integer(1));
    json_object_set_new(sec, "type", json_string(plugin->type));
    return 0;
}

static void parse_section(parser *ps, const char *type, const char *id)
{
    const char *why = NULL;
    char *whybuf = NULL;
    const pvs_plugin *plugin = pvs_plugin_lookup(ps->ctx, type, NULL);
    if (!pvs_storeid_valid(id))
        why = whybuf = pvs_asprintf("storage ID '%s' contains illegal characters", id);
    else if (!plugin)
        why = whybuf = pvs_asprintf("unsupported type '%s'", type);
    if (why)
        pvs_warn(ps->ctx, "file %s line %d (skip section '%s'): %s\n", ps->filename, ps->lineno,
                 id, why);
    free(whybuf);

    json_t *sec = why ? NULL : json_object();
    const char *line;
    size_t n;
    ps->last_line = ps->lineno;
    while ((line = next_line(ps, &n)) && n > 0) {
        if (!sec)
            continue;
        ps->last_line = ps->lineno;
        char *key = NULL, *value = NULL;
        if (parse_kv(line, n, &key, &value))
            section_value(ps, plugin, id, sec, key, value);
        else
            warn_line(ps, id, line, n);
        free(key);
        free(value);
    }
    if (sec && finish_section(ps, plugin, id, sec) == 0) {
        json_object_set(ps->ids, id, sec);
        json_object_set_new(ps->order, id, json_integer(ps->pri++));
    }
    json_decref(sec);
}

json_t *pvs_config_parse(pvs_ctx *ctx, const char *filename, const char *text, size_t len,
                         pvs_error *err)
{
    parser ps = { ctx, filename ? filename : "-", text ? text : "", text ? len : 0, 0, 0,
                  json_object(), json_object(), 1, 0 };
    json_t *cfg = json_pack("{s:o, s:o}", "ids", ps.ids, "order", ps.order);
    if (!cfg) {
        pvs_oom(err);
        return NULL;
    }
    const char *line;
    size_t n;
    while ((line = next_line(&ps, &n))) {
        if (n == 0)
            continue;
        char *type = NULL, *id = NULL;
        if (parse_header(line, n, &type, &id))
            parse_section(&ps, type, id);
        else
            warn_line(&ps, NULL, line, n);
        free(type);
        free(id);
    }
    return cfg;
}

/* storage.cfg is a few kilobytes; anything near this is not one. */
#define CONFIG_MAX_BYTES (16u << 20)

/* The whole of a regular file, at most CONFIG_MAX_BYTES: a FIFO, a device
 * (/dev/zero) or a directory is refused before it can block or spin. */
static char *read_regular_file(const char *path, size_t *len, pvs_error *err)
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

json_t *pvs_config_read(pvs_ctx *ctx, const char *path, pvs_error *err)
{
    size_t len;
    char *text = read_regular_file(path, &len, err);
    if (!text)
        return NULL;
    json_t *cfg = pvs_config_parse(ctx, path, text, len, err);
    free(text);
    return cfg;
}

json_t *pvs_storage_config(const json_t *cfg, const char *storeid, pvs_error *err)
{
    json_t *scfg = json_object_get(json_object_get(cfg, "ids"), storeid ? storeid : "");
    if (!json_is_object(scfg))
        pvs_fail(err, PVS_ENOENT, "storage '%s' does not exist\n", storeid ? storeid : "");
    return json_is_object(scfg) ? scfg : NULL;
}
