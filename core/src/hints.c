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

json_t *pvs_cyclic_hints(json_t *top)
{
    if (json_is_object(top) && json_object_get(top, "download"))
        return top;
    json_decref(top);
    return pvs_cyclic_value();
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

/* ---- boolean judgement: one rule for what is accepted and what it means ---- */

/* A number as Perl prints it: %.15g, every zero (negative too) as "0". */
static void perl_number(char *buf, size_t size, double d)
{
    if (isnan(d))
        snprintf(buf, size, "NaN");
    else if (isinf(d))
        snprintf(buf, size, d < 0 ? "-Inf" : "Inf");
    else if (d == 0)
        snprintf(buf, size, "0");
    else
        snprintf(buf, size, "%.15g", d);
}

/* Judge a value: 1 when it is an acceptable boolean (null included), with
 * *truth 1 or 0 (-1 for null: not given); else 0 and the "type check"
 * message appended to msg (when msg is not NULL). */
static int judge(const pvs_value *v, strbuf *msg, int *truth)
{
    char num[64];
    const char *s = num;
    size_t n;
    *truth = -1;
    switch (v->kind) {
    case PVS_V_NULL:
        return 1;
    case PVS_V_BOOL:
        *truth = v->b != 0;
        return 1;
    case PVS_V_INT:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, v->i);
        break;
    case PVS_V_UINT:
        snprintf(num, sizeof num, "%llu", (unsigned long long)v->u);
        break;
    case PVS_V_REAL:
        perl_number(num, sizeof num, v->d);
        break;
    case PVS_V_STRING:
        s = v->s;
        break;
    default:
        if (msg)
            sb_addf(msg, "type check ('boolean') failed - got %s", v->s ? v->s : "HASH");
        return 0;
    }
    /* numbers and strings alike by the text Perl would see */
    n = v->kind == PVS_V_STRING ? v->len : strlen(num);
    if (n == 1 && (s[0] == '0' || s[0] == '1')) {
        *truth = s[0] == '1';
        return 1;
    }
    if (msg) {
        /* the value's bytes as they are, NUL bytes too (upstream's $@ holds them) */
        sb_add(msg, "type check ('boolean') failed - got '");
        sb_addn(msg, s, n);
        sb_add(msg, "'");
    }
    return 0;
}

void pvs_value_from_json(const json_t *j, pvs_value *v)
{
    memset(v, 0, sizeof *v);
    switch (j ? json_typeof(j) : JSON_NULL) {
    case JSON_NULL: v->kind = PVS_V_NULL; break;
    case JSON_TRUE: v->kind = PVS_V_BOOL; v->b = 1; break;
    case JSON_FALSE: v->kind = PVS_V_BOOL; v->b = 0; break;
    case JSON_INTEGER: v->kind = PVS_V_INT; v->i = json_integer_value(j); break;
    case JSON_REAL: v->kind = PVS_V_REAL; v->d = json_real_value(j); break;
    case JSON_STRING:
        v->kind = PVS_V_STRING;
        v->s = json_string_value(j);
        v->len = json_string_length(j);
        break;
    case JSON_ARRAY: v->kind = PVS_V_REF; v->s = "ARRAY"; break;
    default:
        v->kind = PVS_V_REF;
        v->s = pvs_foreign_type(j);
        if (!v->s)
            v->s = "HASH";
        break;
    }
}

int pvs_hint_bool(const json_t *hints, const char *name)
{
    pvs_value v;
    int truth;
    pvs_value_from_json(json_is_object(hints) ? json_object_get(hints, name) : NULL, &v);
    return judge(&v, NULL, &truth) ? truth : -1;
}

int pvs_hint_value_bool(const pvs_value *v)
{
    int truth;
    return judge(v, NULL, &truth) ? truth : -1;
}

/* ---- verify_hints ---- */

typedef struct hint_err {
    char *path;     /* the key's bytes, or "_root" */
    char *msg;
    size_t pathlen, msglen;   /* both may hold NUL bytes */
    size_t seq;     /* the order found: keeps the sort stable */
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
        sb_addn(&p, key, keylen);
    size_t pathlen = p.len, msglen = msg->len;
    char *path = sb_take(&p);
    char *text = sb_take(msg);
    if (path && text && e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 4;
        hint_err *v = realloc(e->v, cap * sizeof *v);
        if (v) {
            e->v = v;
            e->cap = cap;
        }
    }
    if (!path || !text || e->n == e->cap) {
        free(path);
        free(text);
        e->failed = 1;
        return;
    }
    e->v[e->n].path = path;
    e->v[e->n].msg = text;
    e->v[e->n].pathlen = pathlen;
    e->v[e->n].msglen = msglen;
    e->v[e->n].seq = e->n;
    e->n++;
}

static int cmp_err(const void *a, const void *b)
{
    const hint_err *x = a, *y = b;   /* Perl's sort: bytes, then length */
    int c = memcmp(x->path, y->path, x->pathlen < y->pathlen ? x->pathlen : y->pathlen);
    if (!c)
        c = (x->pathlen > y->pathlen) - (x->pathlen < y->pathlen);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int errs_report(hint_errs *e, pvs_error *err)
{
    int rc;
    if (e->failed) {
        rc = pvs_oom(err);
    } else {
        qsort(e->v, e->n, sizeof *e->v, cmp_err);
        strbuf sb;
        sb_init(&sb);
        sb_add(&sb, "internal error - hints are not valid: 400 Parameter verification failed.\n");
        for (size_t i = 0; i < e->n; i++) {
            const hint_err *h = &e->v[i];
            if (i > 0 && h[-1].pathlen == h->pathlen && memcmp(h[-1].path, h->path, h->pathlen) == 0) {
                /* two errors on one path: joined by a literal backslash-n, as Proxmox does */
                sb.len--; /* drop the "\n" of the previous line */
                sb_add(&sb, "\\n");
            } else {
                sb_addn(&sb, h->path, h->pathlen);
                sb_add(&sb, ": ");
            }
            sb_addn(&sb, h->msg, h->msglen);
            sb_add(&sb, "\n");
        }
        size_t len = sb.len;
        char *text = sb_take(&sb);
        if (text && err) {
            pvs_error_clear(err);
            err->code = rc = PVS_EHINTS;
            err->message = text;
            err->message_len = memchr(text, '\0', len) ? len : 0;
        } else {
            free(text);
            rc = text ? PVS_EHINTS : pvs_oom(err);
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

/* One property: an unknown key, or a known one whose value is no boolean. */
static void check_item(hint_errs *errs, const char *key, size_t keylen, const pvs_value *value)
{
    int truth;
    strbuf msg;
    sb_init(&msg);
    if (!find_hint(key, keylen))
        sb_add(&msg, "property is not defined in schema and the schema does not allow additional properties");
    else if (judge(value, &msg, &truth))
        return;
    errs_add(errs, key, keylen, &msg);
}

int pvs_verify_hint_items(const pvs_hint_item *items, size_t n, pvs_error *err)
{
    hint_errs errs = { NULL, 0, 0, 0 };
    for (size_t i = 0; i < n; i++)
        check_item(&errs, items[i].key, items[i].keylen, &items[i].value);
    if (errs.n == 0 && !errs.failed)
        return 0;
    return errs_report(&errs, err);
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
        pvs_value v;
        pvs_value_from_json(value, &v);
        check_item(&errs, key, keylen, &v);
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

/* ---- the upper layer's rule (qemu-server) ---- */

int pvs_guest_is_windows(const char *ostype)
{
    static const char *const named[] = { "wxp", "w2k3", "w2k", "w2k8", "wvista", NULL };
    if (!ostype)
        return 0;
    for (const char *const *n = named; *n; n++)
        if (strcmp(ostype, *n) == 0)
            return 1;
    /* ^win(\d+)$: the version, true as Perl sees it ("0" is false, "00" is not) */
    const char *d = strncmp(ostype, "win", 3) == 0 ? ostype + 3 : NULL;
    size_t n = d ? strspn(d, "0123456789") : 0;
    return n && !d[n] && strcmp(d, "0") != 0;
}

json_t *pvs_storage_hints(const char *ostype, int may_deactivate)
{
    return json_pack("{s:i, s:i}", "guest-is-windows", pvs_guest_is_windows(ostype),
                     "plugin-may-deactivate-volume", may_deactivate ? 1 : 0);
}
