/* The library's description (pvestorage_api.h) against the library itself:
 * each described C function is exported by libpvestorage.so, each method a
 * slot of pvs_plugin, each error code named both ways, each setting one
 * pvs_ctx_set knows; and the JSON description holds every row. */
#include "helpers.h"

#include <dlfcn.h>

#include "pvestorage.h"

/* a method row that is no slot of pvs_plugin does not compile */
static void methods_are_slots(void)
{
#define PVS_API_METHOD(name, result, required, meaning, ...) (void)offsetof(pvs_plugin, name);
#include "pvestorage_api.def"
}

/* the method numbers follow the rows, which follow the slots */
static void test_method_numbers(void **state)
{
    (void)state;
    const pvs_api_method *m = pvs_api_methods();
    size_t n = 0;
    for (; m[n].name; n++)
        assert_true(m[n].required >= 0 && m[n].args[m[n].required > 0 ? m[n].required - 1 : 0] != NULL);
    assert_int_equal(n, PVS_NMETHODS);
    /* the bindings hand args to their parsers as a NULL-terminated list */
    for (size_t i = 0; i < n; i++)
        assert_null(m[i].args[PVS_API_MAX_ARGS - 1]);
    const pvs_api_method *one = pvs_api_one_calls();
    size_t k = 0;
    for (; one[k].name; k++) {
        assert_null(one[k].args[PVS_API_MAX_ARGS - 1]);
        assert_string_equal(one[k].args[0], "cfg");
    }
    assert_int_equal(k, PVS_N_ONE_CALLS);
    assert_string_equal(one[PVS_ONE_get_identity].name, "get_identity");
    assert_string_equal(m[PVS_METHOD_path].name, "path");
    assert_string_equal(m[PVS_METHOD_get_identity].name, "get_identity");
    assert_true(offsetof(pvs_plugin, parse_volname) < offsetof(pvs_plugin, path));
    assert_true(offsetof(pvs_plugin, unmap_volume) < offsetof(pvs_plugin, get_identity));
}

static void test_c_functions_exported(void **state)
{
    (void)state;
    methods_are_slots();
    const char *lib = getenv("PVS_LIBRARY");
    if (!lib)
        skip();   /* (run by ctest, which names the library) */
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(h);
    const pvs_api_call *c = pvs_api_calls();
    int checked = 0;
    for (size_t i = 0; c[i].name; i++) {
        assert_non_null(c[i].c);
        if (c[i].c[0] == '-') {
            assert_true(strlen(c[i].c) > 10);   /* absent on purpose, and why */
            continue;
        }
        if (!dlsym(h, c[i].c))
            fail_msg("%s: %s is not exported", c[i].name, c[i].c);
        checked++;
    }
    assert_true(checked > 20);
    dlclose(h);
}

static void test_error_names(void **state)
{
    (void)state;
    const pvs_api_error *e = pvs_api_errors();
    size_t n = 0;
    for (; e[n].name; n++) {
        assert_string_equal(pvs_strerror(e[n].code), e[n].name);
        for (size_t k = 0; k < n; k++)
            assert_int_not_equal(e[k].code, e[n].code);
    }
    assert_int_equal(n, 14);   /* OK and PVS_ENOMEM .. PVS_EINTR */
    assert_string_equal(pvs_strerror(PVS_EHINTS), "EHINTS");
    assert_string_equal(pvs_strerror(PVS_EINTR), "EINTR");
    assert_string_equal(pvs_strerror(-99), "EUNKNOWN");
}

static void test_settings_described(void **state)
{
    (void)state;
    pvs_ctx *ctx = test_ctx(NULL);
    const pvs_api_setting *s = pvs_api_settings();
    const char *const *names = pvs_ctx_setting_names();
    size_t i = 0;
    for (; s[i].name; i++) {
        assert_string_equal(names[i], s[i].name);
        char *v = NULL;
        assert_int_equal(pvs_ctx_get_setting(ctx, s[i].name, &v, NULL), 0);
        if (s[i].default_value)
            assert_string_equal(v, s[i].default_value);
        assert_int_equal(pvs_ctx_set(ctx, s[i].name, v, NULL), 0);   /* its own value is valid */
        free(v);
        assert_non_null(s[i].environment);
        assert_non_null(s[i].option);
    }
    assert_null(names[i]);
    pvs_ctx_free(ctx);
}

static void test_description_json(void **state)
{
    (void)state;
    json_t *d = pvs_api_description();
    assert_non_null(d);
    assert_int_equal(json_integer_value(json_object_get(d, "apiver")), PVS_APIVER);
    assert_int_equal(json_integer_value(json_object_get(d, "apiage")), PVS_APIAGE);
    size_t calls = 0, methods = 0;
    while (pvs_api_calls()[calls].name)
        calls++;
    while (pvs_api_methods()[methods].name)
        methods++;
    assert_int_equal(json_array_size(json_object_get(d, "calls")), calls);
    assert_int_equal(json_array_size(json_object_get(d, "methods")), methods);
    json_t *m = json_array_get(json_object_get(d, "methods"), methods - 1);
    assert_string_equal(json_string_value(json_object_get(m, "name")), "get_identity");
    assert_string_equal(json_string_value(json_array_get(json_object_get(m, "arguments"), 1)), "storeid");
    assert_int_equal(json_integer_value(json_object_get(m, "required")), 2);
    json_t *e = json_array_get(json_object_get(d, "errors"), 3);
    assert_string_equal(json_string_value(json_object_get(e, "name")), "EHINTS");
    assert_int_equal(json_integer_value(json_object_get(e, "code")), PVS_EHINTS);
    json_decref(d);
}

/* every row says where it is in each language, or why it is not */
static void test_every_column_filled(void **state)
{
    (void)state;
    const pvs_api_call *c = pvs_api_calls();
    for (size_t i = 0; c[i].name; i++) {
        const char *cols[] = { c[i].c, c[i].perl, c[i].python, c[i].command, c[i].meaning };
        for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++)
            if (!cols[k] || !*cols[k] || strcmp(cols[k], "-") == 0)
                fail_msg("call %s: column %zu is empty", c[i].name, k);
    }
    const pvs_api_value *v = pvs_api_values();
    for (size_t i = 0; v[i].name; i++)
        assert_true(v[i].perl && *v[i].perl && v[i].python && *v[i].python);
    const pvs_api_method *m = pvs_api_methods();
    for (size_t i = 0; m[i].name; i++)
        assert_true(strcmp(m[i].result, "none") == 0 || strcmp(m[i].result, "path") == 0
                    || strcmp(m[i].result, "identity") == 0 || strcmp(m[i].result, "action") == 0
                    || strcmp(m[i].result, "volname") == 0);
}

/* the exit status every language reports: a command's that exited only */
static void test_exit_status(void **state)
{
    (void)state;
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_error_exit_status(NULL), -1);
    assert_int_equal(pvs_error_exit_status(&err), -1);
    err.code = PVS_ECOMMAND, err.exit_status = 3;
    assert_int_equal(pvs_error_exit_status(&err), 3);
    err.exit_status = -1;   /* killed, timed out */
    assert_int_equal(pvs_error_exit_status(&err), -1);
    err.code = PVS_EINVAL, err.exit_status = 3;
    assert_int_equal(pvs_error_exit_status(&err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_method_numbers),
        cmocka_unit_test(test_c_functions_exported),
        cmocka_unit_test(test_error_names),
        cmocka_unit_test(test_settings_described),
        cmocka_unit_test(test_description_json),
        cmocka_unit_test(test_every_column_filled),
        cmocka_unit_test(test_exit_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
