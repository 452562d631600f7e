/* test_hints.c - the hint table, is_hint_supported, every acceptance rule
 * and message of verify_hints (SPEC §2), and the exports. */
#include "helpers.h"
#include "hint_items.h"

#define HDR "internal error - hints are not valid: 400 Parameter verification failed.\n"
#define BOOLFAIL(k, v) HDR k ": type check ('boolean') failed - got " v "\n"
#define UNKNOWN "property is not defined in schema and the schema does not allow additional properties"

/* One case of core/tests/data/hint_vectors.json, which the Perl and
 * Python suites read too: the hints and the exact error (null: valid). */
static void check_vector(const json_t *hints, const json_t *want)
{
    const char *message = json_string_value(want);
    char *shown = json_dumps(hints, JSON_ENCODE_ANY | JSON_SORT_KEYS);
    pvs_error err = PVS_ERROR_INIT;
    int rc = pvs_verify_hints(hints, &err);
    if (!message) {
        if (rc != 0)
            fail_msg("%s: expected valid, got %s", shown, err.message);
        assert_null(err.message);
    } else {
        if (rc != PVS_EHINTS)
            fail_msg("%s: expected an error, got %d", shown, rc);
        assert_int_equal(err.code, PVS_EHINTS);
        if (strcmp(err.message, message) != 0)
            fail_msg("%s:\nexpected: [%s]\ngot:      [%s]", shown, message, err.message);
        /* noerr: the same judgement without a message */
        assert_int_equal(pvs_verify_hints(hints, NULL), PVS_EHINTS);
    }
    /* the caller's hints are never modified */
    char *after = json_dumps(hints, JSON_ENCODE_ANY | JSON_SORT_KEYS);
    assert_string_equal(shown, after);
    free(shown);
    free(after);
    pvs_error_clear(&err);
}

/* the shared vectors (a new reference) */
static json_t *load_vectors(void)
{
    const char *dir = getenv("PVS_TEST_DATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/hint_vectors.json", dir ? dir : "core/tests/data");
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (!doc)
        fail_msg("%s: %s", path, jerr.text);
    json_t *vectors = json_incref(json_object_get(doc, "vectors"));
    json_decref(doc);
    assert_true(json_array_size(vectors) > 40);
    return vectors;
}

static void test_vectors(void **state)
{
    (void)state;
    json_t *vectors = load_vectors(), *v;
    size_t i;
    json_array_foreach(vectors, i, v)
        check_vector(json_object_get(v, "hints"), json_object_get(v, "error"));
    json_decref(vectors);
}

/* Perl prints every zero, a negative one too, as "0" (perl -e 'print -1*0.0'):
 * accepted, as Proxmox accepts it, and false. */
static void test_negative_zero(void **state)
{
    (void)state;
    json_t *h = json_loads("{\"guest-is-windows\": -0.0}", 0, NULL);
    check_vector(h, NULL);
    assert_int_equal(pvs_hint_bool(h, "guest-is-windows"), 0);
    json_decref(h);
}

/* The items path (bindings' fast path) judges exactly as the JSON path:
 * every vector whose hints are an object, item by item. */
static void test_items_agree(void **state)
{
    (void)state;
    json_t *vectors = load_vectors(), *v;
    size_t i;
    json_array_foreach(vectors, i, v) {
        json_t *h = json_object_get(v, "hints");
        if (!json_is_object(h))
            continue;
        pvs_hint_item items[8];
        size_t n = hint_items_of(h, items, 8);
        pvs_error a = PVS_ERROR_INIT, b = PVS_ERROR_INIT;
        assert_int_equal(pvs_verify_hint_items(items, n, &a), pvs_verify_hints(h, &b));
        if (a.message || b.message)
            assert_string_equal(a.message, b.message);
        pvs_error_clear(&a);
        pvs_error_clear(&b);
    }
    json_decref(vectors);
}

/* Many errors are sorted by key (n log n: bench_core measures it), equal
 * keys keeping the order they were found in. */
static void test_many_errors_sorted(void **state)
{
    (void)state;
    enum { N = 100000 };
    pvs_hint_item *items = calloc(N, sizeof *items);
    char (*keys)[16] = calloc(N, 16);
    for (size_t i = 0; i < N; i++) {
        snprintf(keys[i], 16, "k%06zu", (i * 7919) % N);   /* a permutation */
        items[i].key = keys[i];
        items[i].keylen = strlen(keys[i]);
        items[i].value.kind = PVS_V_INT;
    }
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_verify_hint_items(items, N, &err), PVS_EHINTS);
    const char *p = strchr(err.message, '\n') + 1;
    for (size_t i = 0; i < N; i++) {
        char want[16];
        snprintf(want, sizeof want, "k%06zu: ", i);
        if (strncmp(p, want, strlen(want)) != 0)
            fail_msg("line %zu: expected %s, got %.20s", i, want, p);
        p = strchr(p, '\n') + 1;
    }
    assert_int_equal(*p, '\0');
    pvs_error_clear(&err);
    free(items);
    free(keys);
}

static void test_absent(void **state)
{
    (void)state;
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_verify_hints(NULL, &err), 0);
    json_t *null = json_null();
    assert_int_equal(pvs_verify_hints(null, &err), 0);
    assert_null(err.message);
}

static void test_foreign_and_cycle(void **state)
{
    (void)state;
    pvs_error err = PVS_ERROR_INIT;
    json_t *h = json_object();
    json_object_set_new(h, "guest-is-windows", pvs_foreign_value("CODE"));
    assert_int_equal(pvs_verify_hints(h, &err), PVS_EHINTS);
    assert_string_equal(err.message, BOOLFAIL("guest-is-windows", "CODE"));
    json_object_set_new(h, "guest-is-windows", pvs_foreign_value("Foo::Bar"));
    assert_int_equal(pvs_verify_hints(h, &err), PVS_EHINTS);
    assert_string_equal(err.message, BOOLFAIL("guest-is-windows", "Foo::Bar"));
    json_decref(h);

    /* a blessed object as the hints themselves */
    json_t *obj = pvs_foreign_value("Foo");
    assert_int_equal(pvs_verify_hints(obj, &err), PVS_EHINTS);
    assert_string_equal(err.message, HDR "_root: type check ('object') failed\n");
    json_decref(obj);

    json_t *cyc = pvs_cyclic_value();
    assert_int_equal(pvs_verify_hints(cyc, &err), PVS_EHINTS);
    assert_string_equal(err.message, HDR "_root: data structure contains recursive cycles\n");
    json_decref(cyc);

    /* real data with a key like the marker's is still data */
    json_t *look = json_pack("{s:s}", "pvs-foreign", "CODE");
    json_t *h2 = json_pack("{s:O}", "guest-is-windows", look);
    assert_int_equal(pvs_verify_hints(h2, &err), PVS_EHINTS);
    assert_string_equal(err.message, BOOLFAIL("guest-is-windows", "HASH"));
    json_decref(look);
    json_decref(h2);
    pvs_error_clear(&err);
}

static void test_nul_in_key(void **state)
{
    (void)state;
    pvs_error err = PVS_ERROR_INIT;
    json_t *h = json_object();
    json_object_setn_new(h, "a\0b", 3, json_true());
    assert_int_equal(pvs_verify_hints(h, &err), PVS_EHINTS);
    /* the key's bytes as they are: upstream's $@ holds the NUL byte */
    static const char want[] = HDR "a\0b: " UNKNOWN "\n";
    assert_int_equal(pvs_error_length(&err), sizeof want - 1);
    assert_memory_equal(err.message, want, sizeof want - 1);
    json_decref(h);
    pvs_error_clear(&err);
    /* and a value's */
    h = json_pack("{s:s#}", "guest-is-windows", "1\0", (int)2);
    assert_int_equal(pvs_verify_hints(h, &err), PVS_EHINTS);
    static const char want2[] = BOOLFAIL("guest-is-windows", "'1\0'");
    assert_int_equal(pvs_error_length(&err), sizeof want2 - 1);
    assert_memory_equal(err.message, want2, sizeof want2 - 1);
    json_decref(h);
    pvs_error_clear(&err);
}

/* qemu-server's generate_storage_hints / windows_version */
static void test_storage_hints(void **state)
{
    (void)state;
    static const char *const windows[] = { "wxp", "w2k", "w2k3", "w2k8", "wvista", "win7", "win8", "win10",
                                           "win11", "win00", NULL };
    static const char *const others[] = { "l26", "l24", "solaris", "other", "win", "win0", "Win10", "win10x",
                                          "w2k12", "", NULL };
    for (const char *const *o = windows; *o; o++)
        if (!pvs_guest_is_windows(*o))
            fail_msg("%s is Windows", *o);
    for (const char *const *o = others; *o; o++)
        if (pvs_guest_is_windows(*o))
            fail_msg("%s is not Windows", *o);
    assert_false(pvs_guest_is_windows(NULL));
    json_t *h = pvs_storage_hints("win11", 1);
    json_t *want = json_pack("{s:i, s:i}", "guest-is-windows", 1, "plugin-may-deactivate-volume", 1);
    assert_true(json_equal(h, want));
    assert_int_equal(pvs_verify_hints(h, NULL), 0);
    json_decref(h);
    json_decref(want);
    h = pvs_storage_hints(NULL, 0);
    want = json_pack("{s:i, s:i}", "guest-is-windows", 0, "plugin-may-deactivate-volume", 0);
    assert_true(json_equal(h, want));
    json_decref(h);
    json_decref(want);
}

static void test_is_hint_supported(void **state)
{
    (void)state;
    assert_true(pvs_is_hint_supported("guest-is-windows"));
    assert_true(pvs_is_hint_supported("plugin-may-deactivate-volume"));
    assert_false(pvs_is_hint_supported("Guest-Is-Windows"));
    assert_false(pvs_is_hint_supported("guest-is-windows "));
    assert_false(pvs_is_hint_supported("guest-is-win"));
    assert_false(pvs_is_hint_supported(""));
    assert_false(pvs_is_hint_supported(NULL));
}

static void test_hint_bool(void **state)
{
    (void)state;
    json_t *h = json_loads("{\"guest-is-windows\": \"1\", \"plugin-may-deactivate-volume\": 0.0}", 0, NULL);
    assert_int_equal(pvs_hint_bool(h, "guest-is-windows"), 1);
    assert_int_equal(pvs_hint_bool(h, "plugin-may-deactivate-volume"), 0);
    json_decref(h);
    h = json_loads("{\"guest-is-windows\": null}", 0, NULL);
    assert_int_equal(pvs_hint_bool(h, "guest-is-windows"), -1);
    assert_int_equal(pvs_hint_bool(h, "plugin-may-deactivate-volume"), -1);
    assert_int_equal(pvs_hint_bool(NULL, "guest-is-windows"), -1);
    json_decref(h);
    /* one rule: what verify accepts as 1 is true, what it rejects is no boolean */
    h = json_loads("{\"guest-is-windows\": 1.0000000000000002, \"plugin-may-deactivate-volume\": \"yes\"}",
                   0, NULL);
    assert_int_equal(pvs_hint_bool(h, "guest-is-windows"), 1);
    assert_int_equal(pvs_hint_bool(h, "plugin-may-deactivate-volume"), -1);
    json_decref(h);
}

static void test_exports(void **state)
{
    (void)state;
    json_t *props = pvs_hints_properties();
    json_t *want = json_loads(
        "{\"guest-is-windows\": {\"type\": \"boolean\", \"optional\": 1, \"description\": "
        "\"true if the volume belongs to a Windows VM guest\"},"
        " \"plugin-may-deactivate-volume\": {\"type\": \"boolean\", \"optional\": 1, \"description\": "
        "\"true if the plugin may deactivate the volume in order to apply a hint\"}}", 0, NULL);
    assert_true(json_equal(props, want));
    json_t *fmt = pvs_hints_format();
    assert_string_equal(json_string_value(json_object_get(fmt, "type")), "object");
    assert_int_equal(json_integer_value(json_object_get(fmt, "additionalProperties")), 0);
    assert_true(json_equal(json_object_get(fmt, "properties"), want));
    json_t *schema = pvs_hints_json_schema();
    assert_string_equal(json_string_value(json_object_get(schema, "$schema")),
                        "https://json-schema.org/draft/2020-12/schema");
    assert_true(json_is_false(json_object_get(schema, "additionalProperties")));
    assert_int_equal(json_object_size(json_object_get(schema, "properties")), 2);
    size_t n;
    const pvs_hint_def *defs = pvs_hint_defs(&n);
    assert_int_equal(n, 2);
    assert_string_equal(defs[0].name, "guest-is-windows");
    json_decref(props);
    json_decref(want);
    json_decref(fmt);
    json_decref(schema);
}

/* hints with a cycle: judged at the top level under a 'download' key (as
 * upstream's validate), else refused as a cycle */
static void test_cyclic_hints(void **state)
{
    (void)state;
    pvs_error err = PVS_ERROR_INIT;
    json_t *top = json_pack("{s:o, s:b}", "download", pvs_foreign_value("HASH"), "guest-is-windows", 1);
    json_t *h = pvs_cyclic_hints(top);
    assert_ptr_equal(h, top);
    assert_int_equal(pvs_verify_hints(h, &err), PVS_EHINTS);
    assert_non_null(strstr(err.message, "download: property is not defined in schema"));
    pvs_error_clear(&err);
    json_decref(h);
    h = pvs_cyclic_hints(json_pack("{s:b}", "guest-is-windows", 1));
    assert_int_equal(pvs_verify_hints(h, &err), PVS_EHINTS);
    assert_non_null(strstr(err.message, "cycle"));
    pvs_error_clear(&err);
    json_decref(h);
    h = pvs_cyclic_hints(NULL);   /* no top level to judge */
    assert_int_equal(pvs_verify_hints(h, NULL), PVS_EHINTS);
    json_decref(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_negative_zero),
        cmocka_unit_test(test_items_agree),
        cmocka_unit_test(test_many_errors_sorted),
        cmocka_unit_test(test_absent),
        cmocka_unit_test(test_foreign_and_cycle),
        cmocka_unit_test(test_nul_in_key),
        cmocka_unit_test(test_is_hint_supported),
        cmocka_unit_test(test_storage_hints),
        cmocka_unit_test(test_hint_bool),
        cmocka_unit_test(test_exports),
        cmocka_unit_test(test_cyclic_hints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
