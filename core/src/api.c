/* api.c - the rows of pvestorage_api.def as tables (pvestorage_api.h) and
 * as JSON, and the names of the error codes. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const pvs_api_error errors[] = {
    { "OK", NULL, NULL, "success", PVS_OK },
#define PVS_API_ERROR(name, value, cls, base, meaning) { "E" #name, cls, base, meaning, value },
#include "pvestorage_api.def"
    { NULL, NULL, NULL, NULL, 0 },
};

static const pvs_api_setting settings[] = {
#define PVS_API_SETTING(name, env, option, metavar, kind, dflt, meaning) \
    { #name, env, option, metavar, #kind, dflt, meaning },
#include "pvestorage_api.def"
    { NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};

static const pvs_api_call calls[] = {
#define PVS_API_CALL(name, c, perl, python, command, meaning) { #name, c, perl, python, command, meaning },
#include "pvestorage_api.def"
    { NULL, NULL, NULL, NULL, NULL, NULL },
};

static const pvs_api_value values[] = {
#define PVS_API_VALUE(name, perl, python, meaning) { #name, perl, python, meaning },
#include "pvestorage_api.def"
    { NULL, NULL, NULL, NULL },
};

static const pvs_api_method methods[] = {
#define PVS_API_METHOD(name, result, required, meaning, ...) { #name, #result, meaning, required, { __VA_ARGS__ } },
#include "pvestorage_api.def"
    { NULL, NULL, NULL, 0, { NULL } },
};

static const pvs_api_method one_calls[] = {
#define PVS_API_ONE(name, result, required, meaning, ...) { #name, #result, meaning, required, { __VA_ARGS__ } },
#include "pvestorage_api.def"
    { NULL, NULL, NULL, 0, { NULL } },
};

static const pvs_api_capability capabilities[] = {
#define PVS_API_CAPABILITY(name, bit, meaning) { #name, meaning, bit },
#include "pvestorage_api.def"
    { NULL, NULL, 0 },
};

const pvs_api_capability *pvs_api_capabilities(void)
{
    return capabilities;
}

/* "unknown capability 'X' (known: dry_run, ...)", the names from the rows */
static int unknown_capability(const char *name, pvs_error *err)
{
    char known[256] = "";
    for (size_t i = 0; capabilities[i].name; i++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", capabilities[i].name);
    return pvs_fail(err, PVS_EINVAL, "pvestorage_capabilities: unknown capability '%s' (known: %s)\n",
                    name ? name : "(not a name)", known);
}

int pvs_capabilities_from_json(const json_t *names, unsigned *bits, pvs_error *err)
{
    *bits = 0;
    if (!names || json_is_null(names))
        return 0;
    if (!json_is_array(names))
        return pvs_fail(err, PVS_EINVAL, "pvestorage_capabilities must be a list of names\n");
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v) {
        const char *name = json_string_value(v);
        size_t k = 0;
        while (name && capabilities[k].name && strcmp(capabilities[k].name, name) != 0)
            k++;
        if (!name || !capabilities[k].name)
            return unknown_capability(name, err);
        *bits |= capabilities[k].bit;
    }
    return 0;
}

const pvs_api_method *pvs_api_one_calls(void)
{
    return one_calls;
}

const pvs_api_error *pvs_api_errors(void)
{
    return errors;
}

const pvs_api_setting *pvs_api_settings(void)
{
    return settings;
}

const pvs_api_call *pvs_api_calls(void)
{
    return calls;
}

const pvs_api_value *pvs_api_values(void)
{
    return values;
}

const pvs_api_method *pvs_api_methods(void)
{
    return methods;
}

int pvs_api_method_takes(const pvs_api_method *m, const char *name)
{
    for (size_t i = 0; i < PVS_API_MAX_ARGS && m->args[i]; i++)
        if (strcmp(m->args[i], name) == 0)
            return 1;
    return 0;
}

const char *pvs_strerror(int code)
{
    for (size_t i = 0; errors[i].name; i++)
        if (errors[i].code == code)
            return errors[i].name;
    return "EUNKNOWN";
}

/* A section as an array of objects.  Each row of the section's table is
 * read as its first n string columns (every row struct starts with them,
 * the name first), named by keys; NULL columns are null. */
static json_t *section(const void *rows, size_t stride, const char *const *keys, size_t n)
{
    json_t *a = json_array();
    for (const char *r = rows; a && *(const char *const *)(const void *)r; r += stride) {
        const char *const *col = (const char *const *)(const void *)r;
        json_t *o = json_object();
        for (size_t i = 0; o && i < n; i++)
            if (json_object_set_new(o, keys[i], col[i] ? json_string(col[i]) : json_null()))
                json_decref(o), o = NULL;
        if (json_array_append_new(a, o))
            json_decref(a), a = NULL;
    }
    return a;
}

/* A method's "arguments" (their names) and "required" (how many are) */
static int method_arguments(json_t *row, const pvs_api_method *m)
{
    json_t *args = json_array();
    for (size_t i = 0; args && i < PVS_API_MAX_ARGS && m->args[i]; i++)
        if (json_array_append_new(args, json_string(m->args[i])))
            json_decref(args), args = NULL;
    return !args || json_object_set_new(row, "arguments", args)
           || json_object_set_new(row, "required", json_integer(m->required));
}

json_t *pvs_api_description(void)
{
    static const char *const ek[] = { "name", "python_class", "python_base", "meaning" };
    static const char *const sk[] = { "name", "environment", "option", "metavar", "kind", "default", "meaning" };
    static const char *const ck[] = { "name", "c", "perl", "python", "command", "meaning" };
    static const char *const vk[] = { "name", "perl", "python", "meaning" };
    static const char *const mk[] = { "name", "result", "meaning" };
    json_t *e = section(errors, sizeof errors[0], ek, 4), *s = section(settings, sizeof settings[0], sk, 7);
    json_t *c = section(calls, sizeof calls[0], ck, 6), *v = section(values, sizeof values[0], vk, 4);
    static const char *const pk[] = { "name", "meaning" };
    json_t *m = section(methods, sizeof methods[0], mk, 3), *o = section(one_calls, sizeof one_calls[0], mk, 3);
    json_t *p = section(capabilities, sizeof capabilities[0], pk, 2);
    for (size_t i = 0; e && errors[i].name; i++)
        if (json_object_set_new(json_array_get(e, i), "code", json_integer(errors[i].code)))
            json_decref(e), e = NULL;
    for (size_t i = 0; m && methods[i].name; i++)
        if (method_arguments(json_array_get(m, i), &methods[i]))
            json_decref(m), m = NULL;
    for (size_t i = 0; o && one_calls[i].name; i++)
        if (method_arguments(json_array_get(o, i), &one_calls[i]))
            json_decref(o), o = NULL;
    if (!e || !s || !c || !v || !m || !o || !p) {
        json_decref(e), json_decref(s), json_decref(c), json_decref(v), json_decref(m), json_decref(o);
        json_decref(p);
        return NULL;
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:i}", "errors", e, "settings", s, "calls", c,
                     "one_calls", o, "capabilities", p, "values", v, "methods", m, "apiver", PVS_APIVER, "apiage",
                     PVS_APIAGE);
}
