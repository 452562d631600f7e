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

static const pvs_property *find_in(const pvs_property *list, const char *name)
{
    for (; list && list->name; list++)
        if (strcmp(list->name, name) == 0)
            return list;
    return NULL;
}

/* A property by name: the base ones, then those the registered plugins
 * declare (as Proxmox's section config merges every plugin's properties). */
static const pvs_property *find_prop(const pvs_ctx *ctx, const char *name)
{
    const pvs_property *p = find_in(pvs_base_properties, name);
    const pvs_ctx *base = ctx->base;
    for (size_t i = 0, n = pvs_plugin_count(base); !p && i < n; i++) {
        const pvs_plugin *pl = pvs_plugin_at(base, i);
        if (PVS_PLUGIN_HAS(pl, properties))
            p = find_in(pl->properties, name);
    }
    return p;
}

static const pvs_plugin_option *find_option(const pvs_plugin *p, const char *name)
{
    for (const pvs_plugin_option *o = p->options; o && o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
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

/* Booleans and numbers are stored as numbers ($value + 0 upstream). */
static json_t *typed_value(const pvs_property *p, const char *v)
{
    const char *t = p->type ? p->type : "string";
    if (strcmp(t, "boolean") && strcmp(t, "integer") && strcmp(t, "number"))
        return json_string(v);
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*end && !errno)
        return json_integer(n);
    double d = strtod(v, NULL);
    return d == (double)(long long)d && d > -9e18 && d < 9e18 ? json_integer((long long)d) : json_real(d);
}

/* SectionConfig::check_value as parse_config calls it (with the schema
 * check): the value to store, or NULL with the message in why. */
static json_t *check_value(pvs_ctx *ctx, const pvs_plugin *plugin, const char *type,
                           const char *key, const char *value, strbuf *why)
{
    if (strcmp(key, "type") == 0 && value && strcmp(value, type) == 0)
        return json_string(value);
    const pvs_property *p = find_prop(ctx, key);
    if (!find_option(plugin, key))
        return sb_addf(why, "unexpected property '%s'\n", key), NULL;
    if (!value && p->type && strcmp(p->type, "boolean") == 0)
        value = "1";
    if (!value)
        return sb_add(why, "got undefined value\n"), NULL;
    if (strpbrk(value, "\r\n"))
        return sb_add(why, "property contains a line feed\n"), NULL;
    if (pvs_property_check(p, value, why))
        return NULL;
    json_t *v = typed_value(p, value);
    if (!v)
        sb_add(why, "value is not valid UTF-8\n");
    return v;
}

/* ---- decode_value: what the storage plugin makes of a checked value ---- */

typedef struct decode {
    pvs_ctx *ctx;
    const pvs_plugin *plugin;
    json_t *out;
} decode;

static int content_item(const char *item, void *data)
{
    decode *d = data;
    if (!in_list(d->plugin->content_valid, item))
        pvs_warn(d->ctx, "storage does not support content type '%s'\n", item);
    else
        json_object_set_new(d->out, item, json_integer(1));
    return 0;
}

static int node_item(const char *item, void *data)
{
    decode *d = data;
    json_object_set_new(d->out, item, json_integer(1));
    return 0;
}

static int content_dir_item(const char *item, void *data)
{
    decode *d = data;
    const char *eq = strchr(item, '=');
    char *ct = strndup(item, eq ? (size_t)(eq - item) : strlen(item));
    if (!ct)
        return PVS_ENOMEM;
    if (!in_list(d->plugin->content_valid, ct))
        pvs_warn(d->ctx, "storage does not support content type '%s'\n", ct);
    else
        json_object_set_new(d->out, ct, eq ? json_string(eq + 1) : json_null());
    free(ct);
    return 0;
}

/* content, nodes and content-dirs become sets and maps; a format the type
 * does not take is warned and dropped (*v set to NULL).  -1 with why when
 * the section cannot be kept. */
static int decode_value(pvs_ctx *ctx, const pvs_plugin *plugin, const char *key, json_t **v,
                        strbuf *why)
{
    const char *s = json_string_value(*v);
    pvs_item_fn fn = strcmp(key, "content") == 0 ? content_item
                     : strcmp(key, "nodes") == 0 ? node_item
                     : strcmp(key, "content-dirs") == 0 ? content_dir_item : NULL;
    if (s && strcmp(key, "format") == 0 && !in_list(PVS_PLUGIN_HAS(plugin, formats) ? plugin->formats : NULL, s)) {
        pvs_warn(ctx, "storage does not support format '%s'\n", s);
        json_decref(*v);
        *v = NULL;
        return 0;
    }
    if (!s || !fn)
        return 0;
    decode d = { ctx, plugin, json_object() };
    if (!d.out || pvs_split_list(s, fn, &d)) {
        json_decref(d.out);
        return sb_add(why, "out of memory\n"), -1;
    }
    json_decref(*v);
    *v = d.out;
    if (fn != content_item)
        return 0;
    if (json_object_get(d.out, "none") && json_object_size(d.out) > 1)
        return sb_add(why, "unable to combine 'none' with other content types\n"), -1;
    if (!json_object_size(d.out) && !in_list(plugin->content_valid, "none"))
        return sb_add(why, "storage does not support content type 'none'\n"), -1;
    return 0;
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

static void section_value(parser *ps, const pvs_plugin *plugin, const char *type, const char *id,
                          json_t *sec, const char *key, const char *value)
{
    strbuf why;
    sb_init(&why);
    json_t *v = NULL;
    if (!find_prop(ps->ctx, key))
        sb_add(&why, "unknown property type\n");
    else if (json_object_get(sec, key))
        sb_add(&why, "duplicate attribute\n");
    else if ((v = check_value(ps->ctx, plugin, type, key, value, &why)) && json_object_set_new(sec, key, v))
        sb_add(&why, "property name is not valid UTF-8\n");
    if (why.len || why.failed)
        pvs_warn(ps->ctx, "file %s line %d (section '%s') - unable to parse value of '%s': %s",
                 ps->filename, ps->lineno, id, key, why.s ? why.s : "out of memory\n");
    sb_free(&why);
}

/* SectionConfig::check_config at the end of a section: the values decoded,
 * every required option present.  0 to keep the section. */
static int check_config(parser *ps, const pvs_plugin *plugin, json_t *sec, strbuf *why)
{
    const char *key;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(sec, tmp, key, v) {
        json_t *d = json_incref(v);
        if (decode_value(ps->ctx, plugin, key, &d, why)) {
            json_decref(d);
            return -1;
        }
        if (d)
            json_object_set_new(sec, key, d);
        else
            json_object_del(sec, key);
    }
    for (const pvs_plugin_option *o = plugin->options; o && o->name; o++)
        if (o->required && !json_object_get(sec, o->name))
            return sb_addf(why, "missing value for required option '%s'\n", o->name), -1;
    return 0;
}

/* The plugin's own check_config (upstream's overrides), before or after. */
static int plugin_check(const pvs_plugin *plugin, const char *id, json_t *sec, int after, strbuf *why)
{
    if (!PVS_PLUGIN_HAS(plugin, check_config) || !plugin->check_config)
        return 0;
    pvs_error err = PVS_ERROR_INIT;
    int rc = plugin->check_config(plugin, id, sec, after, &err);
    if (rc)
        sb_add(why, err.message ? err.message : "invalid section\n");
    pvs_error_clear(&err);
    return rc ? -1 : 0;
}

/* The section into ids and order: a section that fails check_config is
 * kept as null, as upstream keeps it undef.  A second section of an ID
 * already defined is warned and dropped (upstream lets the last win). */
static void finish_section(parser *ps, const pvs_plugin *plugin, const char *id, json_t *sec)
{
    json_t *old = json_object_get(ps->ids, id);
    if (json_is_object(old)) {
        pvs_warn(ps->ctx, "file %s line %d (skip section '%s'): duplicate storage ID, keeping the first\n",
                 ps->filename, ps->last_line, id);
        return;
    }
    strbuf why;
    sb_init(&why);
    json_object_set_new(sec, "type", json_string(plugin->type));
    if (plugin_check(plugin, id, sec, 0, &why) || check_config(ps, plugin, sec, &why)
        || plugin_check(plugin, id, sec, 1, &why)) {
        pvs_warn(ps->ctx, "file %s line %d (skip section '%s'): %s", ps->filename, ps->last_line, id,
                 why.s ? why.s : "out of memory\n");
        sec = NULL;
    }
    sb_free(&why);
    json_object_set_new(ps->ids, id, sec ? json_incref(sec) : json_null());
    json_object_set_new(ps->order, id, json_integer(ps->pri++));
}

/* A line that ends a section: Perl's false ("" and "0"). */
static int ends_section(const char *line, size_t n)
{
    return n == 0 || (n == 1 && line[0] == '0');
}

static void parse_section(parser *ps, const char *type, const char *id)
{
    const char *why = NULL;
    char *whybuf = NULL;
    const pvs_plugin *plugin = pvs_plugin_lookup(ps->ctx, type, NULL);
    if (strlen(id) < 2)
        why = whybuf = pvs_asprintf("storage ID '%s' cannot be shorter than 2 characters", id);
    else if (!pvs_storeid_valid(id))
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
    while ((line = next_line(ps, &n)) && !ends_section(line, n)) {
        if (!sec)
            continue;
        ps->last_line = ps->lineno;
        char *key = NULL, *value = NULL;
        if (parse_kv(line, n, &key, &value))
            section_value(ps, plugin, type, id, sec, key, value);
        else
            warn_line(ps, id, line, n);
        free(key);
        free(value);
    }
    if (sec)
        finish_section(ps, plugin, id, sec);
    json_decref(sec);
}

/* ---- PVE::Storage::Plugin::parse_config: what every node has ---- */

#define LOCAL_PATH "/var/lib/vz"

/* 'local' is always a dir storage at /var/lib/vz, the same on every node:
 * one defined otherwise is replaced, one defined without a path gets it,
 * and it never has node restrictions. */
static void local_storage(json_t *ids)
{
    json_t *local = json_object_get(ids, "local");
    const char *path = json_string_value(json_object_get(local, "path"));
    if (!json_is_object(local) || strcmp(pvs_scfg_str(local, "type") ? pvs_scfg_str(local, "type") : "", "dir") != 0 ||
        (path && *path && strcmp(path, LOCAL_PATH) != 0)) {
        local = json_pack("{s:s, s:i, s:s, s:s, s:{s:i, s:i, s:i, s:i, s:i, s:i}}", "type", "dir",
                          "priority", 0, "path", LOCAL_PATH, "prune-backups", "keep-all=1", "content",
                          "backup", 1, "images", 1, "iso", 1, "rootdir", 1, "snippets", 1, "vztmpl", 1);
        json_object_set_new(ids, "local", local);   /* frees the old one, and path */
    } else if (!path || !*path) {
        json_object_set_new(local, "path", json_string(LOCAL_PATH));
    }
    json_object_del(local, "nodes");
}

/* Each storage's default content, and shared for the types that always are. */
static void storage_defaults(pvs_ctx *ctx, json_t *ids)
{
    const char *id;
    json_t *scfg;
    json_object_foreach(ids, id, scfg) {
        const pvs_plugin *p = pvs_plugin_lookup(ctx, pvs_scfg_str(scfg, "type"), NULL);
        if (!json_is_object(scfg) || !p)
            continue;
        if (!json_object_get(scfg, "content") && p->content_default) {
            json_t *c = json_object();
            for (const char *const *d = p->content_default; *d; d++)
                json_object_set_new(c, *d, json_integer(1));
            json_object_set_new(scfg, "content", c);
        }
        if (p->shared)
            json_object_set_new(scfg, "shared", json_integer(1));
    }
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
        if (ends_section(line, n))
            continue;
        char *type = NULL, *id = NULL;
        if (parse_header(line, n, &type, &id))
            parse_section(&ps, type, id);
        else
            warn_line(&ps, NULL, line, n);
        free(type);
        free(id);
    }
    local_storage(ps.ids);
    storage_defaults(ctx, ps.ids);
    return cfg;
}


json_t *pvs_config_read(pvs_ctx *ctx, const char *path, pvs_error *err)
{
    size_t len;
    char *text = pvs_read_regular_file(path, &len, err);
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
