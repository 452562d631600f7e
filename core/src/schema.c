/* schema.c - values of storage sections: the property checks of upstream's
 * JSON schema (PVE::JSONSchema::check_prop, property strings, list formats)
 * with its messages, the scfg accessors every plugin uses, and the content
 * types' default sub directories.  Below the plugin layer and the
 * configuration parser; the named string formats are in formats.c. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

/* content type -> default sub directory (SPEC §5 dir) */
static const char *const vtype_subdirs[][2] = {
    { "images", "images" },       { "rootdir", "private" },
    { "iso", "template/iso" },    { "vztmpl", "template/cache" },
    { "backup", "dump" },         { "snippets", "snippets" },
    { "import", "import" },
};

const char *pvs_vtype_subdir(const char *vtype)
{
    for (size_t i = 0; i < sizeof vtype_subdirs / sizeof vtype_subdirs[0]; i++)
        if (strcmp(vtype_subdirs[i][0], vtype) == 0)
            return vtype_subdirs[i][1];
    return NULL;
}

const char *pvs_scfg_str(const json_t *scfg, const char *key)
{
    return json_string_value(json_object_get(scfg, key));
}

int pvs_scfg_bool(const json_t *scfg, const char *key, int dflt)
{
    json_t *v = json_object_get(scfg, key);
    if (json_is_integer(v))
        return json_integer_value(v) != 0;
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_string(v))
        return strcmp(json_string_value(v), "0") != 0 && json_string_value(v)[0];
    return dflt;
}


/* ---- lists ---- */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* PVE::Tools::split_list: items separated by commas, semicolons, whitespace */
int pvs_split_list(const char *s, pvs_item_fn fn, void *data)
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
            return PVS_ENOMEM;
        int rc = fn(item, data);
        free(item);
        if (rc)
            return rc;
        s += n;
    }
    return 0;
}

/* ---- numbers, as Perl sees them ---- */

/* ^[+-]?\d+$ */
static int is_integer(const char *v)
{
    v += *v == '+' || *v == '-';
    if (!*v)
        return 0;
    for (; *v; v++)
        if (*v < '0' || *v > '9')
            return 0;
    return 1;
}

static size_t digits(const char *v)
{
    size_t n = 0;
    while (v[n] >= '0' && v[n] <= '9')
        n++;
    return n;
}

/* ^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$ */
static int is_number(const char *v)
{
    v += *v == '+' || *v == '-';
    size_t i = digits(v), f = 0;
    v += i;
    if (*v == '.') {
        f = digits(v + 1);
        v += 1 + f;
    }
    if (!i && !f)
        return 0;
    if (*v == 'e' || *v == 'E') {
        v++;
        v += *v == '+' || *v == '-';
        size_t e = digits(v);
        if (!e)
            return 0;
        v += e;
    }
    return *v == '\0';
}

/* ---- check_prop ---- */

static int check_type(const pvs_property *p, const char *v, strbuf *why)
{
    const char *t = p->type ? p->type : "string";
    int ok = strcmp(t, "boolean") == 0   ? strcmp(v, "0") == 0 || strcmp(v, "1") == 0
             : strcmp(t, "integer") == 0 ? is_integer(v)
             : strcmp(t, "number") == 0  ? is_number(v)
                                         : 1;
    if (!ok)
        sb_addf(why, "type check ('%s') failed - got '%s'", t, v);
    return ok ? 0 : -1;
}

static int check_pattern(const char *pattern, const char *v, strbuf *why)
{
    char *re = pvs_asprintf("^%s$", pattern);
    regex_t rx;
    int rc = re ? regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) : -1;
    free(re);
    if (rc)   /* not a POSIX pattern (a foreign plugin's Perl regex): not checked */
        return 0;
    rc = regexec(&rx, v, 0, NULL, 0);
    regfree(&rx);
    if (rc)
        sb_add(why, "value does not match the regex pattern");
    return rc ? -1 : 0;
}

static int check_range(const pvs_property *p, const char *v, strbuf *why)
{
    if (!is_number(v))
        return 0;
    double x = strtod(v, NULL);
    if (p->maximum && x > strtod(p->maximum, NULL)) {
        sb_addf(why, "value must have a maximum value of %s", p->maximum);
        return -1;
    }
    if (p->minimum && x < strtod(p->minimum, NULL)) {
        sb_addf(why, "value must have a minimum value of %s", p->minimum);
        return -1;
    }
    return 0;
}

static int check_enum(const char *e, const char *v, strbuf *why)
{
    size_t n = strlen(v);
    for (const char *c = e; *c;) {
        size_t len = strcspn(c, ",");
        if (len == n && memcmp(c, v, n) == 0)
            return 0;
        c += len;
        while (*c == ',' || *c == ' ')
            c++;
    }
    sb_addf(why, "value '%s' does not have a value in the enumeration '%s'", v, e);
    return -1;
}

static int check_format(const char *format, const char *v, strbuf *why);

/* check_prop for a defined scalar, in upstream's order; the message has
 * no final newline of its own (a format's message keeps its one). */
static int check_scalar(const pvs_property *p, const char *v, strbuf *why)
{
    if (check_type(p, v, why))
        return -1;
    if (p->format && check_format(p->format, v, why))
        return -1;
    if (p->pattern && check_pattern(p->pattern, v, why))
        return -1;
    if (p->max_length > 0 && strlen(v) > (size_t)p->max_length) {
        sb_addf(why, "value may only be %d characters long", p->max_length);
        return -1;
    }
    if (check_range(p, v, why))
        return -1;
    return p->enum_values ? check_enum(p->enum_values, v, why) : 0;
}

int pvs_property_check(const pvs_property *p, const char *v, strbuf *why)
{
    if (check_scalar(p, v, why) == 0)
        return 0;
    sb_add(why, "\n");
    return -1;
}

/* ---- property strings: upstream's hash formats ---- */

#define KEEP(n) { "keep-" n, "integer", NULL, NULL, "0", NULL, NULL, 0, NULL }
#define LIMIT(n) { n, "number", NULL, NULL, "0", NULL, NULL, 0, NULL }
static const pvs_property prune_props[] = {
    { "keep-all", "boolean", NULL, NULL, NULL, NULL, NULL, 0, NULL },
    KEEP("last"), KEEP("hourly"), KEEP("daily"), KEEP("weekly"), KEEP("monthly"), KEEP("yearly"),
};
static const pvs_property bwlimit_props[] = {
    LIMIT("default"), LIMIT("restore"), LIMIT("migration"), LIMIT("clone"), LIMIT("move"),
};

#define NPROPS 8

/* PVE::Storage::Plugin::validate_prune_backups */
static int prune_validate(char *const *vals, strbuf *why)
{
    int other = 0;
    for (size_t i = 1; i < sizeof prune_props / sizeof prune_props[0]; i++)
        other |= vals[i] && strtod(vals[i], NULL) > 0;
    if (other && vals[0] && strcmp(vals[0], "0") != 0 && vals[0][0]) {
        sb_add(why, "keep-all cannot be set together with other options.\n");
        return -1;
    }
    return 0;
}

static const struct hash_format {
    const char *name;
    const pvs_property *props;
    size_t n;
    int (*validate)(char *const *vals, strbuf *why);
} hash_formats[] = {
    { "prune-backups", prune_props, sizeof prune_props / sizeof prune_props[0], prune_validate },
    { "bwlimit", bwlimit_props, sizeof bwlimit_props / sizeof bwlimit_props[0], NULL },
};

const char *pvs_parse_boolean(const char *v)
{
    static const char *const yes[] = { "1", "on", "yes", "true" }, *const no[] = { "0", "off", "no", "false" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return "1";
        if (strcasecmp(v, no[i]) == 0)
            return "0";
    }
    return v;
}

/* A parsed property string: values by the format's keys, and the keys it
 * does not define ("\nk1\nk2\n"), which upstream reports with the checks. */
typedef struct parsed {
    char *vals[NPROPS];
    strbuf unknown;
} parsed;

static int known_unknown(const parsed *ps, const char *k, size_t klen)
{
    for (const char *c = ps->unknown.s; c && (c = strchr(c, '\n')) && c[1]; c++)
        if (strncmp(c + 1, k, klen) == 0 && c[1 + klen] == '\n')
            return 1;
    return 0;
}

/* One "k=v" part into ps; -1 with the message. */
static int property_part(const struct hash_format *hf, const char *part, parsed *ps, strbuf *why)
{
    const char *eq = strchr(part, '=');
    if (!eq)
        return sb_add(why, "value without key, but schema does not define a default key\n"), -1;
    if (eq == part || !eq[1])
        return sb_add(why, "missing key in comma-separated list property\n"), -1;
    int klen = (int)(eq - part);
    size_t i = 0;
    while (i < hf->n && (strlen(hf->props[i].name) != (size_t)klen ||
                         memcmp(hf->props[i].name, part, (size_t)klen) != 0))
        i++;
    if (i < hf->n ? ps->vals[i] != NULL : known_unknown(ps, part, (size_t)klen))
        return sb_addf(why, "duplicate key in comma-separated list property: %.*s\n", klen, part), -1;
    if (i == hf->n) {
        sb_addf(&ps->unknown, "%s%.*s\n", ps->unknown.len ? "" : "\n", klen, part);
        return 0;
    }
    const char *v = strcmp(hf->props[i].type, "boolean") == 0 ? pvs_parse_boolean(eq + 1) : eq + 1;
    return (ps->vals[i] = strdup(v)) ? 0 : -1;
}

/* check_object: each defined key checked, each undefined one refused */
static void check_object(const struct hash_format *hf, parsed *ps, strbuf *errs)
{
    for (size_t i = 0; i < hf->n; i++) {
        strbuf one;
        sb_init(&one);
        if (ps->vals[i] && check_scalar(&hf->props[i], ps->vals[i], &one))
            sb_addf(errs, "%s: %s\n", hf->props[i].name, one.s ? one.s : "");
        sb_free(&one);
    }
    for (const char *c = ps->unknown.s; c && *c && c[1]; c = strchr(c + 1, '\n'))
        sb_addf(errs, "%.*s: property is not defined in schema and the schema does not allow "
                      "additional properties\n", (int)strcspn(c + 1, "\n"), c + 1);
}

/* PVE::JSONSchema::parse_property_string, then check_object */
static int property_string(const struct hash_format *hf, const char *data, strbuf *why)
{
    parsed ps = { { 0 }, { 0 } };
    int rc = 0;
    for (const char *c = data; !rc && *c;) {
        size_t n = strcspn(c, ",");
        char *part = strndup(c, n);
        const char *t = part;
        while (t && *t && is_space(*t))
            t++;
        rc = !part ? -1 : *t ? property_part(hf, part, &ps, why) : 0;
        free(part);
        c += n + (c[n] == ',');
    }
    strbuf errs;
    sb_init(&errs);
    if (!rc)
        check_object(hf, &ps, &errs);
    if (!rc && errs.len) {
        sb_addf(why, "format error\n%s", errs.s);
        rc = -1;
    }
    sb_free(&errs);
    if (!rc && hf->validate)
        rc = hf->validate(ps.vals, why);
    for (size_t i = 0; i < NPROPS; i++)
        free(ps.vals[i]);
    sb_free(&ps.unknown);
    return rc;
}

/* ---- named formats ---- */

typedef struct list_check {
    pvs_format_fn fn;
    strbuf *why;
} list_check;

static int list_item(const char *item, void *data)
{
    list_check *lc = data;
    return lc->fn(item, lc->why) ? -1 : 0;
}

/* The format's own check (NAME, NAME-list, NAME-opt); a name this library
 * does not know is a foreign plugin's and is not checked. */
static int format_body(const char *format, const char *v, strbuf *why)
{
    if (strcmp(format, "regex") == 0)
        return 0;
    for (size_t i = 0; i < sizeof hash_formats / sizeof hash_formats[0]; i++)
        if (strcmp(hash_formats[i].name, format) == 0)
            return property_string(&hash_formats[i], v, why);
    size_t n = strlen(format);
    int list = n > 5 && strcmp(format + n - 5, "-list") == 0;
    int opt = n > 4 && strcmp(format + n - 4, "-opt") == 0;
    char *name = strndup(format, n - (list ? 5 : opt ? 4 : 0));
    pvs_format_fn fn = name ? pvs_string_format(name) : NULL;
    free(name);
    if (!fn)
        return 0;
    if (list) {
        list_check lc = { fn, why };
        return pvs_split_list(v, list_item, &lc) ? -1 : 0;
    }
    if (opt && (!*v || strcmp(v, "0") == 0))
        return 0;
    return fn(v, why);
}

static int check_format(const char *format, const char *v, strbuf *why)
{
    strbuf inner;
    sb_init(&inner);
    int rc = format_body(format, v, &inner);
    if (rc)
        sb_addf(why, "invalid format - %s", inner.s ? inner.s : "");
    sb_free(&inner);
    return rc;
}
