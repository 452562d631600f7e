/* hints.c - the hint table and verify_hints (SPEC §2).
 *
 * The table is data: adding a hint is one row, and the property export, the
 * JSON Schema export and every binding follow it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const pvs_hint_def hint_defs[] = {
    { "guest-is-windows", "boolean", 1,
      "true if the volume belongs to a Windows VM guest" },
    { "plugin-may-deactivate-volume", "boolean", 1,
      "true if the plugin may deactivate the volume in order to apply a hint" },
};

#define NHINTS (sizeof(hint_defs) / sizeof(hint_defs[0]))

const pvs_hint_def *pvs_hint_defs(size_t *count)
{
    if (count)
        *count = NHINTS;
    return hint_defs;
}

static const pvs_hint_def *find_hint(const char *name, size_t len)
{
    for (size_t i = 0; i < NHINTS; i++)
        if (strlen(hint_defs[i].name) == len && memcmp(hint_defs[i].name, name, len) == 0)
            return &hint_defs[i];
    return NULL;
}

int pvs_is_hint_supported(const char *name)
{
    return name && find_hint(name, strlen(name)) != NULL;
}

/* ---- values bindings cannot express in JSON ----
 * An object whose only key is not valid UTF-8: converted native data always
 * has valid UTF-8 keys (jansson checks them), so the two cannot collide. */
static const char foreign_key[] = "\xff" "pvs-foreign";
static const char cyclic_key[] = "\xff" "pvs-cyclic";

json_t *pvs_foreign_value(const char *type_name)
{
    json_t *o = json_object();
    json_t *s = json_string(type_name ? type_name : "UNKNOWN");
    if (!o || !s || json_object_set_new_nocheck(o, foreign_key, s)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *pvs_cyclic_value(void)
{
    json_t *o = json_object();
    if (!o || json_object_set_new_nocheck(o, cyclic_key, json_true())) {
        json_decref(o);
        return NULL;
    }
    return o;
}

const char *pvs_foreign_type(const json_t *v)
{
    if (!json_is_object(v) || json_object_size(v) != 1)
        return NULL;
    return json_string_value(json_object_get(v, foreign_key));
}

int pvs_is_cyclic_value(const json_t *v)
{
    return json_is_object(v) && json_object_size(v) == 1 && json_object_get(v, cyclic_key);
}

/* ---- boolean judgement ---- */

/* A number as Perl prints it: integers plainly, others with %.15g. */
static void perl_number(char *buf, size_t size, double d)
{
    if (isnan(d))
        snprintf(buf, size, "NaN");
    else if (isinf(d))
        snprintf(buf, size, d < 0 ? "-Inf" : "Inf");
    else
        snprintf(buf, size, "%.15g", d);
}

/* 1 if v is an acceptable boolean (or null); else 0 and the
 * "type check" message appended to msg. */
static int judge_boolean(const json_t *v, strbuf *msg)
{
    char num[64];
    const char *type;

    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_TRUE:
    case JSON_FALSE:
        return 1;
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(v);
        if (i == 0 || i == 1)
            return 1;
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, i);
        sb_addf(msg, "type check ('boolean') failed - got '%s'", num);
        return 0;
    }
    case JSON_REAL:
        perl_number(num, sizeof num, json_real_value(v));
        if (strcmp(num, "0") == 0 || strcmp(num, "1") == 0)
            return 1;
        sb_addf(msg, "type check ('boolean') failed - got '%s'", num);
        return 0;
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (n == 1 && (s[0] == '0' || s[0] == '1'))
            return 1;
        sb_add(msg, "type check ('boolean') failed - got '");
        sb_add_printable(msg, s, n);
        sb_add(msg, "'");
        return 0;
    }
    case JSON_ARRAY:
        type = "ARRAY";
        break;
    case JSON_OBJECT:
    default:
        type = pvs_foreign_type(v);
        if (!type)
            type = "HASH";
        break;
    }
    sb_addf(msg, "type check ('boolean') failed - got %s", type);
    return 0;
}

int pvs_hint_bool(const json_t *hints, const char *name)
{
    const json_t *v = json_is_object(hints) ? json_object_get(hints, name) : NULL;
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_TRUE: return 1;
    case JSON_FALSE: return 0;
    case JSON_INTEGER: return json_integer_value(v) == 1;
    case JSON_REAL: return json_real_value(v) == 1.0;
    case JSON_STRING: return strcmp(json_string_value(v), "1") == 0;
    default: return -1;
    }
}

/* ---- verify_hints ---- */

typedef struct hint_err {
    char *path;     /* printable key, or "_root" */
    char *msg;
} hint_err;

typedef struct hint_errs {
    hint_err *v;
    size_t n, cap;
    int failed;
} hint_errs;

static void errs_add(hint_errs *e, const char *key, size_t keylen, strbuf *msg)
{
    strbuf p;
    sb_init(&p);
    /* Proxmox's path quirk: "" and "0" are false in Perl, so they land on _root */
    if (keylen == 0 || (keylen == 1 && key[0] == '0'))
        sb_add(&p, "_root");
    else
        sb_add_printable(&p, key, keylen);
    char *path = sb_take(&p);
    char *text = sb_take(msg);
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 4;
        hint_err *v = path && text ? realloc(e->v, cap * sizeof *v) : NULL;
        if (!v) {
            free(path);
            free(text);
            e->failed = 1;
            return;
        }
        e->v = v;
        e->cap = cap;
    }
    if (!path || !text) {
        free(path);
        free(text);
        e->failed = 1;
        return;
    }
    e->v[e->n].path = path;
    e->v[e->n].msg = text;
    e->n++;
}

static int cmp_err(const void *a, const void *b)
{
    const hint_err *x = a, *y = b;
    return strcmp(x->path, y->path);
}

static int errs_report(hint_errs *e, pvs_error *err)
{
    int rc;
    if (e->failed) {
        rc = pvs_oom(err);
    } else {
        /* stable: a merge keeps the first message of a path first */
        for (size_t i = 0; i < e->n; i++)
            for (size_t j = i; j > 0 && cmp_err(&e->v[j - 1], &e->v[j]) > 0; j--) {
                hint_err t = e->v[j];
                e->v[j] = e->v[j - 1];
                e->v[j - 1] = t;
            }
        strbuf sb;
        sb_init(&sb);
        sb_add(&sb, "internal error - hints are not valid: 400 Parameter verification failed.\n");
        for (size_t i = 0; i < e->n; i++) {
            if (i > 0 && strcmp(e->v[i - 1].path, e->v[i].path) == 0) {
                /* two errors on one path: joined by a literal backslash-n, as Proxmox does */
                sb.len--; /* drop the "\n" of the previous line */
                sb_addf(&sb, "\\n%s\n", e->v[i].msg);
            } else {
                sb_addf(&sb, "%s: %s\n", e->v[i].path, e->v[i].msg);
            }
        }
        char *text = sb_take(&sb);
        if (text) {
            rc = pvs_fail(err, PVS_EHINTS, "%s", text);
            free(text);
        } else {
            rc = pvs_oom(err);
        }
    }
    for (size_t i = 0; i < e->n; i++) {
        free(e->v[i].path);
        free(e->v[i].msg);
    }
    free(e->v);
    return rc;
}

static int root_error(pvs_error *err, const char *what)
{
    return pvs_fail(err, PVS_EHINTS,
                    "internal error - hints are not valid: 400 Parameter verification failed.\n"
                    "_root: %s\n", what);
}

int pvs_verify_hints(const json_t *hints, pvs_error *err)
{
    if (!hints || json_is_null(hints))
        return 0;
    if (pvs_is_cyclic_value(hints))
        return root_error(err, "data structure contains recursive cycles");
    if (!json_is_object(hints) || pvs_foreign_type(hints))
        return root_error(err, "type check ('object') failed");

    hint_errs errs = { NULL, 0, 0, 0 };
    const char *key;
    size_t keylen;
    json_t *value;
    json_object_keylen_foreach((json_t *)hints, key, keylen, value) {
        strbuf msg;
        sb_init(&msg);
        if (!find_hint(key, keylen))
            sb_add(&msg, "property is not defined in schema and the schema does not allow additional properties");
        else if (judge_boolean(value, &msg))
            continue;
        errs_add(&errs, key, keylen, &msg);
    }
    if (errs.n == 0 && !errs.failed)
        return 0;
    return errs_report(&errs, err);
}

/* ---- exports ---- */

json_t *pvs_hints_properties(void)
{
    json_t *props = json_object();
    for (size_t i = 0; props && i < NHINTS; i++) {
        json_t *p = json_pack("{s:s, s:i, s:s}", "type", hint_defs[i].type,
                              "optional", hint_defs[i].optional,
                              "description", hint_defs[i].description);
        if (!p || json_object_set_new(props, hint_defs[i].name, p)) {
            json_decref(props);
            return NULL;
        }
    }
    return props;
}

json_t *pvs_hints_format(void)
{
    json_t *props = pvs_hints_properties();
    if (!props)
        return NULL;
    return json_pack("{s:s, s:i, s:o}", "type", "object", "additionalProperties", 0,
                     "properties", props);
}

json_t *pvs_hints_json_schema(void)
{
    json_t *props = json_object();
    for (size_t i = 0; props && i < NHINTS; i++) {
        /* Proxmox booleans: true/false, 0/1 (numbers equal to them), "0"/"1";
         * a null value counts as "not given". */
        json_t *p = json_pack("{s:s, s:[{s:s}, {s:[i, i, s, s]}, {s:s}]}",
                              "description", hint_defs[i].description,
                              "anyOf", "type", hint_defs[i].type,
                              "enum", 0, 1, "0", "1",
                              "type", "null");
        if (!p || json_object_set_new(props, hint_defs[i].name, p)) {
            json_decref(props);
            return NULL;
        }
    }
    if (!props)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:o}",
                     "$schema", "https://json-schema.org/draft/2020-12/schema",
                     "$id", "urn:pvestorage:hints",
                     "title", "Proxmox VE storage hints (storage API 13)",
                     "description", "Facts about a guest that upper layers pass to storage "
                                    "plugins' activate_volume and map_volume.",
                     "type", "object",
                     "additionalProperties", 0,
                     "properties", props);
}
