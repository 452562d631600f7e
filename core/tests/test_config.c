/* test_config.c - storage.cfg parsing: a realistic file, broken lines. */
#include "helpers.h"

static const char realistic[] =
    "# storage.cfg of a small cluster\n"
    "dir: local\n"
    "\tpath /var/lib/vz\n"
    "\tcontent iso,vztmpl,backup\n"
    "\tprune-backups keep-last=3\n"
    "\n"
    "dir: fast-ssd\n"
    "        path /mnt/ssd\n"
    "        content images,rootdir\n"
    "        nodes pve1, pve2\n"
    "        is_mountpoint yes\n"
    "        shared 0\n"
    "        disable\n"
    "\n"
    "# a comment between sections\n"
    "DIR: Archive.1\n"
    "\tpath /srv/archive\n"
    "\t# a comment inside a section\n"
    "\tcontent-dirs iso=isos;backup=dumps/vz\n"
    "\tcreate-subdirs 0\n"
    "\n"
    "dir: plain\n"
    "\tpath /srv/plain\n";

static void test_realistic(void **state)
{
    (void)state;
    warnings w;
    pvs_ctx *ctx = test_ctx(&w);
    pvs_error err = PVS_ERROR_INIT;
    json_t *cfg = pvs_config_parse(ctx, "/etc/pve/storage.cfg", realistic, strlen(realistic), &err);
    assert_non_null(cfg);
    assert_string_equal(w.buf, "");

    json_t *want = json_loads(
        "{\"ids\": {"
        " \"local\": {\"type\": \"dir\", \"path\": \"/var/lib/vz\","
        "   \"content\": {\"iso\": 1, \"vztmpl\": 1, \"backup\": 1}, \"prune-backups\": \"keep-last=3\"},"
        " \"fast-ssd\": {\"type\": \"dir\", \"path\": \"/mnt/ssd\", \"content\": {\"images\": 1, \"rootdir\": 1},"
        "   \"nodes\": {\"pve1\": 1, \"pve2\": 1}, \"is_mountpoint\": \"yes\", \"shared\": 0, \"disable\": 1},"
        " \"Archive.1\": {\"type\": \"dir\", \"path\": \"/srv/archive\","
        "   \"content-dirs\": {\"iso\": \"isos\", \"backup\": \"dumps/vz\"}, \"create-subdirs\": 0,"
        "   \"content\": {\"images\": 1, \"rootdir\": 1}},"
        " \"plain\": {\"type\": \"dir\", \"path\": \"/srv/plain\", \"content\": {\"images\": 1, \"rootdir\": 1}}"
        "}, \"order\": {\"local\": 1, \"fast-ssd\": 2, \"Archive.1\": 3, \"plain\": 4}}", 0, NULL);
    assert_non_null(want);
    if (!json_equal(cfg, want)) {
        char *got = json_dumps(cfg, JSON_SORT_KEYS);
        fail_msg("parsed: %s", got);
    }
    assert_non_null(pvs_storage_config(cfg, "plain", &err));
    assert_null(pvs_storage_config(cfg, "nope", &err));
    assert_int_equal(err.code, PVS_ENOENT);
    assert_string_equal(err.message, "storage 'nope' does not exist\n");
    pvs_error_clear(&err);
    json_decref(want);
    json_decref(cfg);
    pvs_ctx_free(ctx);
}

/* Upstream's messages for bad values are checked against upstream's own
 * output (test_upstream_bad_values); this is what survives, and the one
 * intended difference: a duplicate ID keeps the first section. */
static const char broken[] =
    "dir: good\n"                                   /* 1 */
    "\tpath /srv/good\n"                            /* 2 */
    "\tdisable maybe\n"                             /* 3 */
    "\tcontent images,bogus\n"                      /* 4 */
    "\n"                                            /* 5 */
    "dir: nopath\n"                                 /* 6 */
    "\tcontent iso\n"                               /* 7 */
    "\n"                                            /* 8 */
    "dir: good\n"                                   /* 9 */
    "\tpath /srv/dup\n"                             /* 10 */
    "\n"                                            /* 11 */
    "dir: last\n"                                   /* 12 */
    "\tpath /srv/last\n";                           /* 13 */

static void test_broken_lines(void **state)
{
    (void)state;
    warnings w;
    pvs_ctx *ctx = test_ctx(&w);
    json_t *cfg = pvs_config_parse(ctx, "F", broken, strlen(broken), NULL);
    assert_non_null(cfg);
    const char *want =
        "file F line 3 (section 'good') - unable to parse value of 'disable': type check ('boolean') failed - got 'maybe'\n"
        "file F line 4 (section 'good') - unable to parse value of 'content': invalid format - invalid content type 'bogus'\n\n"
        /* a section's own errors carry the line of its last line, as upstream's errprefix */
        "file F line 7 (skip section 'nopath'): missing value for required option 'path'\n"
        "file F line 10 (skip section 'good'): duplicate storage ID, keeping the first\n";
    assert_string_equal(w.buf, want);
    json_t *good = pvs_storage_config(cfg, "good", NULL);
    assert_non_null(good);
    assert_string_equal(json_string_value(json_object_get(good, "path")), "/srv/good");
    assert_null(json_object_get(good, "disable"));
    /* a skipped section is null in ids (upstream: undef), and has an order */
    json_t *ids = json_object_get(cfg, "ids");
    assert_true(json_is_null(json_object_get(ids, "nopath")));
    pvs_error err = PVS_ERROR_INIT;
    assert_null(pvs_storage_config(cfg, "nopath", &err));
    assert_string_equal(err.message, "storage 'nopath' does not exist\n");
    pvs_error_clear(&err);
    json_t *order = json_object_get(cfg, "order");
    assert_int_equal(json_object_size(order), 3);
    assert_int_equal(json_integer_value(json_object_get(order, "good")), 1);
    assert_int_equal(json_integer_value(json_object_get(order, "nopath")), 2);
    assert_int_equal(json_integer_value(json_object_get(order, "last")), 3);
    /* the implicit local storage every node has */
    assert_string_equal(json_string_value(json_object_get(json_object_get(ids, "local"), "path")), "/var/lib/vz");
    assert_null(json_object_get(order, "local"));
    json_decref(cfg);
    pvs_ctx_free(ctx);
}

static void test_edge_files(void **state)
{
    (void)state;
    warnings w;
    pvs_ctx *ctx = test_ctx(&w);
    /* empty, comments only, no trailing newline, CRLF */
    static const char *const texts[] = { "", "# nothing\n\n", "dir: x1\n\tpath /a", "dir: x1\r\n\tpath /a\r\n" };
    for (size_t i = 0; i < 4; i++) {
        json_t *cfg = pvs_config_parse(ctx, "F", texts[i], strlen(texts[i]), NULL);
        assert_non_null(cfg);
        /* and the implicit 'local' */
        assert_int_equal(json_object_size(json_object_get(cfg, "ids")), i >= 2 ? 2 : 1);
        if (i >= 2)
            assert_string_equal(json_string_value(json_object_get(pvs_storage_config(cfg, "x1", NULL), "path")), "/a");
        json_decref(cfg);
    }
    assert_string_equal(w.buf, "");
    /* NUL bytes and invalid UTF-8 are warned, not fatal */
    static const char nul[] = "dir: x2\n\tpath /a\n\tprune-backups a\0b\n\tis_mountpoint \xff\xfe\n";
    json_t *cfg = pvs_config_parse(ctx, "F", nul, sizeof nul - 1, NULL);
    assert_non_null(pvs_storage_config(cfg, "x2", NULL));
    assert_string_equal(w.buf,
        "file F line 3 (section 'x2') - ignore config line: \tprune-backups a\\0b\n"
        "file F line 4 (section 'x2') - unable to parse value of 'is_mountpoint': value is not valid UTF-8\n");
    json_decref(cfg);
    pvs_ctx_free(ctx);
}

static void test_read_file(void **state)
{
    (void)state;
    warnings w;
    pvs_ctx *ctx = test_ctx(&w);
    char *dir = make_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/storage.cfg", dir);
    pvs_error err = PVS_ERROR_INIT;
    assert_null(pvs_config_read(ctx, path, &err));
    assert_int_equal(err.code, PVS_ENOENT);
    char want[600];
    snprintf(want, sizeof want, "unable to read '%s' - No such file or directory\n", path);
    assert_string_equal(err.message, want);
    write_file(path, realistic);
    json_t *cfg = pvs_config_read(ctx, path, &err);
    assert_non_null(cfg);
    assert_int_equal(json_object_size(json_object_get(cfg, "ids")), 4);
    json_decref(cfg);
    pvs_error_clear(&err);
    remove_tree(dir);
    free(dir);
    pvs_ctx_free(ctx);
}

/* The parser is driven by the registered plugins: a plugin declares the
 * properties it adds, as data, and any type may then use them in its
 * options; a type that does not list one gets 'unexpected property'. */
static const pvs_property widget_properties[] = {
    PVS_PROP("widgets", "integer", .minimum = "1", .maximum = "10"),
    PVS_PROP("colour", "string", .enum_values = "red, green"),
    PVS_PROPS_END,
};
static const pvs_plugin_option widget_options[] = {
    PVS_REQ("widgets"), PVS_OPT("colour"), PVS_OPT("nodes"), PVS_OPT("pool"), PVS_OPTIONS_END,
};
static const char *const widget_content[] = { "images", NULL };
static const pvs_plugin widget_plugin = {
    .size = PVS_PLUGIN_SIZE, .type = "widget", .api = PVS_APIVER, .options = widget_options,
    .content_valid = widget_content, .content_default = widget_content,
    .properties = widget_properties,
};

static void test_plugin_properties(void **state)
{
    (void)state;
    warnings w;
    pvs_ctx *ctx = test_ctx(&w);
    static const char text[] = "widget: w1\n\twidgets 5\n\tcolour green\n\tpool rbd2\n\n"
                               "widget: w2\n\twidgets 11\n\tcolour blue\n\n"
                               "dir: d1\n\tpath /srv/d1\n\twidgets 3\n";
    json_t *cfg = pvs_config_parse(ctx, "storage.cfg", text, strlen(text), NULL);
    /* before the plugin is registered, its type is unknown */
    assert_null(json_object_get(json_object_get(cfg, "ids"), "w1"));
    assert_non_null(strstr(w.buf, "(skip section 'w1'): unsupported type 'widget'"));
    json_decref(cfg);
    w.buf[0] = '\0';
    assert_int_equal(pvs_register_plugin(ctx, &widget_plugin, NULL), 0);
    cfg = pvs_config_parse(ctx, "storage.cfg", text, strlen(text), NULL);
    json_t *want = json_loads(
        "{\"w1\": {\"type\": \"widget\", \"widgets\": 5, \"colour\": \"green\", \"pool\": \"rbd2\","
        "         \"content\": {\"images\": 1}},"
        " \"d1\": {\"type\": \"dir\", \"path\": \"/srv/d1\", \"content\": {\"images\": 1, \"rootdir\": 1}},"
        " \"w2\": null,"
        " \"local\": {\"type\": \"dir\", \"priority\": 0, \"path\": \"/var/lib/vz\", \"prune-backups\": \"keep-all=1\","
        "   \"content\": {\"backup\": 1, \"images\": 1, \"iso\": 1, \"rootdir\": 1, \"snippets\": 1, \"vztmpl\": 1}}}",
        0, NULL);
    if (!json_equal(json_object_get(cfg, "ids"), want))
        fail_msg("parsed: %s", json_dumps(json_object_get(cfg, "ids"), JSON_SORT_KEYS));
    assert_string_equal(w.buf,
        "file storage.cfg line 7 (section 'w2') - unable to parse value of 'widgets': value must have a maximum value of 10\n"
        "file storage.cfg line 8 (section 'w2') - unable to parse value of 'colour': value 'blue' does not have a "
        "value in the enumeration 'red, green'\n"
        "file storage.cfg line 8 (skip section 'w2'): missing value for required option 'widgets'\n"
        "file storage.cfg line 12 (section 'd1') - unable to parse value of 'widgets': unexpected property 'widgets'\n");
    json_decref(want);
    json_decref(cfg);
    pvs_ctx_free(ctx);
}

/* What upstream's own parser made of the same files (see
 * scripts/upstream-golden.sh): a node with every storage type parses to the
 * same ids, values, content sets and order with no warning; bad values are
 * warned with upstream's messages, in upstream's order, and skipped. */
static void check_upstream_file(const char *name)
{
    char path[4096];
    const char *data = getenv("PVS_TEST_DATA");
    if (!data)
        fail_msg("PVS_TEST_DATA is not set: run this test through ctest");
    warnings w;
    pvs_ctx *ctx = test_ctx(&w);
    snprintf(path, sizeof path, "%s/%s.upstream.json", data, name);
    json_t *want = json_load_file(path, 0, NULL);
    assert_non_null(want);
    snprintf(path, sizeof path, "%s/%s.cfg", data, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *text = calloc(1, 1 << 16);
    assert_true(fread(text, 1, (1 << 16) - 1, f) > 0);
    fclose(f);
    json_t *cfg = pvs_config_parse(ctx, "/etc/pve/storage.cfg", text, strlen(text), NULL);
    if (!json_equal(json_object_get(cfg, "ids"), json_object_get(want, "ids")) ||
        !json_equal(json_object_get(cfg, "order"), json_object_get(want, "order")))
        fail_msg("%s parsed: %s", name, json_dumps(cfg, JSON_SORT_KEYS));
    char expected[16384] = "";
    size_t i;
    json_t *msg;
    json_array_foreach(json_object_get(want, "warnings"), i, msg)
        strncat(expected, json_string_value(msg), sizeof expected - strlen(expected) - 1);
    assert_string_equal(w.buf, expected);
    assert_int_equal(w.count, (int)json_array_size(json_object_get(want, "warnings")));
    free(text);
    json_decref(cfg);
    json_decref(want);
    pvs_ctx_free(ctx);
}

static void test_upstream_node(void **state)
{
    (void)state;
    check_upstream_file("node");
}

static void test_upstream_bad_values(void **state)
{
    (void)state;
    check_upstream_file("bad");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_realistic),
        cmocka_unit_test(test_broken_lines),
        cmocka_unit_test(test_edge_files),
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_plugin_properties),
        cmocka_unit_test(test_upstream_node),
        cmocka_unit_test(test_upstream_bad_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
