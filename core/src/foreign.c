/* foreign.c - the storage.cfg schema of a plugin written in Perl or Python,
 * from the JSON its binding converted (upstream's `properties`, `options`
 * and `plugindata`): one reading of upstream's plugin declarations, whatever
 * the language. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct pvs_schema {
    pvs_property *props;
    pvs_plugin_option *opts;
    const char **content_valid, **content_default, **formats, **sensitive;
    const char *format_default;
    char **strings;           /* every string the tables point to */
    size_t nstrings;
};

/* Hand p (malloc()ed) to the schema; frees it when it cannot. */
static void *own(pvs_schema *sc, void *p, int *oom)
{
    char **grown = p ? realloc(sc->strings, (sc->nstrings + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(p);
        *oom = 1;
        return NULL;
    }
    sc->strings = grown;
    return sc->strings[sc->nstrings++] = p;
}

/* A copy of s owned by the schema (NULL for NULL). */
static const char *keep(pvs_schema *sc, const char *s, int *oom)
{
    return s ? own(sc, strdup(s), oom) : NULL;
}

/* A scalar as upstream's Perl would print it ("0", "65535", "1.5"). */
static const char *scalar_text(pvs_schema *sc, const json_t *v, int *oom)
{
    char buf[64];
    if (json_is_string(v))
        return keep(sc, json_string_value(v), oom);
    if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, sizeof buf, "%.15g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, sizeof buf, "%d", json_is_true(v));
    else
        return NULL;
    return keep(sc, buf, oom);
}

/* Perl's truth of a converted value */
static int truthy(const json_t *v)
{
    if (json_is_string(v))
        return json_string_length(v) && strcmp(json_string_value(v), "0") != 0;
    if (json_is_integer(v))
        return json_integer_value(v) != 0;
    if (json_is_real(v))
        return json_real_value(v) != 0;
    return json_is_true(v) || json_is_object(v) || json_is_array(v);
}

static const char *enum_text(pvs_schema *sc, const json_t *e, int *oom)
{
    if (!json_is_array(e))
        return NULL;
    strbuf sb;
    sb_init(&sb);
    size_t i;
    json_t *item;
    json_array_foreach(e, i, item) {
        char buf[64] = "";
        if (json_is_string(item))
            sb_addf(&sb, "%s%s", i ? ", " : "", json_string_value(item));
        else if (json_is_integer(item) && snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(item)))
            sb_addf(&sb, "%s%s", i ? ", " : "", buf);
    }
    const char *s = keep(sc, sb.s ? sb.s : "", oom);
    sb_free(&sb);
    return s;
}

static void property_from(pvs_schema *sc, pvs_property *p, const char *name, const json_t *d, int *oom)
{
    p->name = keep(sc, name, oom);
    p->type = json_is_string(json_object_get(d, "type")) ? keep(sc, json_string_value(json_object_get(d, "type")), oom) : NULL;
    p->format = json_is_string(json_object_get(d, "format")) ? keep(sc, json_string_value(json_object_get(d, "format")), oom) : NULL;
    p->pattern = json_is_string(json_object_get(d, "pattern")) ? keep(sc, json_string_value(json_object_get(d, "pattern")), oom) : NULL;
    p->enum_values = enum_text(sc, json_object_get(d, "enum"), oom);
    p->minimum = scalar_text(sc, json_object_get(d, "minimum"), oom);
    p->maximum = scalar_text(sc, json_object_get(d, "maximum"), oom);
    p->default_value = scalar_text(sc, json_object_get(d, "default"), oom);
    json_t *ml = json_object_get(d, "maxLength");
    p->max_length = json_is_integer(ml) && json_integer_value(ml) > 0 && json_integer_value(ml) < (1 << 30)
                        ? (int)json_integer_value(ml) : 0;
}

/* The keys of an object whose values are true, NULL-terminated. */
static const char **true_keys(pvs_schema *sc, const json_t *o, int *oom)
{
    if (!json_is_object(o))
        return NULL;
    const char **list = own(sc, calloc(json_object_size(o) + 1, sizeof *list), oom);
    if (!list)
        return NULL;
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
        if (truthy(v))
            list[n++] = keep(sc, k, oom);
    return list;
}

static void plugindata_from(pvs_schema *sc, const json_t *pd, int *oom)
{
    json_t *content = json_object_get(pd, "content"), *format = json_object_get(pd, "format");
    sc->content_valid = true_keys(sc, json_array_get(content, 0), oom);
    sc->content_default = true_keys(sc, json_array_get(content, 1), oom);
    sc->formats = true_keys(sc, json_array_get(format, 0), oom);
    sc->format_default = scalar_text(sc, json_array_get(format, 1), oom);
    sc->sensitive = true_keys(sc, json_object_get(pd, "sensitive-properties"), oom);
}

pvs_schema *pvs_schema_from_json(const json_t *properties, const json_t *options,
                                 const json_t *plugindata, pvs_error *err)
{
    pvs_schema *sc = calloc(1, sizeof *sc);
    size_t np = json_is_object(properties) ? json_object_size(properties) : 0;
    size_t no = json_is_object(options) ? json_object_size(options) : 0;
    int oom = !sc || !(sc->props = calloc(np + 1, sizeof *sc->props)) ||
              !(sc->opts = calloc(no + 1, sizeof *sc->opts));
    const char *k;
    json_t *v;
    size_t i = 0;
    if (!oom && np)
        json_object_foreach((json_t *)properties, k, v)
            property_from(sc, &sc->props[i++], k, v, &oom);
    i = 0;
    if (!oom && no)
        json_object_foreach((json_t *)options, k, v) {
            sc->opts[i].name = keep(sc, k, &oom);
            sc->opts[i].required = !truthy(json_object_get(v, "optional"));
            sc->opts[i++].fixed = truthy(json_object_get(v, "fixed"));
        }
    if (!oom)
        plugindata_from(sc, plugindata, &oom);
    if (oom) {
        pvs_schema_free(sc);
        pvs_oom(err);
        return NULL;
    }
    return sc;
}

void pvs_schema_apply(const pvs_schema *sc, pvs_plugin *t)
{
    t->properties = sc->props;
    t->options = sc->opts;
    t->content_valid = sc->content_valid;
    t->content_default = sc->content_default;
    t->formats = sc->formats;
    t->format_default = sc->format_default;
    t->sensitive_properties = sc->sensitive;
}

void pvs_schema_free(pvs_schema *sc)
{
    if (!sc)
        return;
    for (size_t i = 0; i < sc->nstrings; i++)
        free(sc->strings[i]);
    free(sc->strings);
    free(sc->props);
    free(sc->opts);
    free(sc);
}
