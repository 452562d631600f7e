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
    "\tmaxfiles 5\n"
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
        "   \"content-dirs\": {\"iso\": \"isos\", \"backup\": \"dumps/vz\"}, \"create-subdirs\": 0, \"maxfiles\": 5,"
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

static const char broken[] =
    "dir: good\n"                                   /* 1 */
    "\tpath /srv/good\n"                            /* 2 */
    "\tdisable maybe\n"                             /* 3 */
    "\tcontent images,bogus\n"                      /* 4 */
    "\tfrobnicate 1\n"                              /* 5 */
    "\tpath /srv/twice\n"                           /* 6 */
    "\tmaxfiles many\n"                             /* 7 */
    "\tformat qcow3\n"                              /* 8 */
    "\tcontent-dirs iso=../escape\n"                /* 9 */
    "\n"                                            /* 10 */
    "zfspool: tank\n"                               /* 11 */
    "\tpool tank/data\n"                            /* 12 */
    "\n"                                            /* 13 */
    "dir: bad!id\n"                                 /* 14 */
    "\tpath /x\n"                                   /* 15 */
    "\n"                                            /* 16 */
    "dir: nopath\n"                                 /* 17 */
    "\tcontent iso\n"                               /* 18 */
    "\n"                                            /* 19 */
    "garbage line\n"                                /* 20 */
    "dir: relpath\n"                                /* 21 */
    "\tpath relative/dir\n"                         /* 22 */
    "\tcontent none,iso\n"                          /* 23 */
    "\n"                                            /* 24 */
    "dir: good\n"                                   /* 25 */
    "\tpath /srv/dup\n"                             /* 26 */
    "\n"                                            /* 27 */
    "dir: last\n"                                   /* 28 */
    "\tpath /srv/last\n";                           /* 29 */

static void test_broken_lines(void **state)
{
    (void)state;
    warnings w;
    pvs_ctx *ctx = test_ctx(&w);
    json_t *cfg = pvs_config_parse(ctx, "F", broken, strlen(broken), NULL);
    assert_non_null(cfg);
    const char *want =
        "file F line 3 (section 'good') - unable to parse value of 'disable': type check ('boolean') failed - got 'maybe'\n"
        "storage does not support content type 'bogus'\n"
        "file F line 5 (section 'good') - unable to parse value of 'frobnicate': unexpected property 'frobnicate'\n"
        "file F line 6 (section 'good') - unable to parse value of 'path': duplicate attribute\n"
        "file F line 7 (section 'good') - unable to parse value of 'maxfiles': type check ('integer') failed - got 'many'\n"
        "file F line 8 (section 'good') - unable to parse value of 'format': value 'qcow3' does not have a value in the enumeration 'raw, qcow2, vmdk, subvol'\n"
        "file F line 9 (section 'good') - unable to parse value of 'content-dirs': invalid format - '../escape' is not a relative path inside the storage\n"
        "file F line 11 (skip section 'tank'): unsupported type 'zfspool'\n"
        "file F line 14 (skip section 'bad!id'): storage ID 'bad!id' contains illegal characters\n"
        /* a section's own errors carry the line of its last line, as upstream's errprefix */
        "file F line 18 (skip section 'nopath'): missing value for required option 'path'\n"
        "file F line 20 - ignore config line: garbage line\n"
        "file F line 22 (section 'relpath') - unable to parse value of 'path': invalid format - value does not look like a valid absolute path\n"
        "file F line 23 (section 'relpath') - unable to parse value of 'content': unable to combine 'none' with other content types\n"
        "file F line 23 (skip section 'relpath'): missing value for required option 'path'\n"
        "file F line 26 (skip section 'good'): duplicate storage ID, keeping the first\n";
    assert_string_equal(w.buf, want);
    /* what survived: the good parts, in order */
    json_t *good = pvs_storage_config(cfg, "good", NULL);
    assert_non_null(good);
    assert_string_equal(json_string_value(json_object_get(good, "path")), "/srv/good");
    json_t *content = json_object_get(good, "content");
    assert_int_equal(json_object_size(content), 1);
    assert_non_null(json_object_get(content, "images"));
    assert_null(json_object_get(good, "disable"));
    assert_null(json_object_get(good, "frobnicate"));
    assert_non_null(pvs_storage_config(cfg, "last", NULL));
    assert_null(pvs_storage_config(cfg, "tank", NULL));
    assert_null(pvs_storage_config(cfg, "nopath", NULL));
    json_t *order = json_object_get(cfg, "order");
    assert_int_equal(json_object_size(order), 2);
    assert_int_equal(json_integer_value(json_object_get(order, "good")), 1);
    assert_int_equal(json_integer_value(json_object_get(order, "last")), 2);
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
        assert_int_equal(json_object_size(json_object_get(cfg, "ids")), i >= 2 ? 1 : 0);
        if (i >= 2)
            assert_string_equal(json_string_value(json_object_get(pvs_storage_config(cfg, "x1", NULL), "path")), "/a");
        json_decref(cfg);
    }
    assert_string_equal(w.buf, "");
    /* NUL bytes and invalid UTF-8 are warned, not fatal */
    static const char nul[] = "dir: x2\n\tpath /a\n\tprune-backups a\0b\n\tbwlimit \xff\xfe\n";
    json_t *cfg = pvs_config_parse(ctx, "F", nul, sizeof nul - 1, NULL);
    assert_non_null(pvs_storage_config(cfg, "x2", NULL));
    assert_string_equal(w.buf,
        "file F line 3 (section 'x2') - ignore config line: \tprune-backups a\\0b\n"
        "file F line 4 (section 'x2') - unable to parse value of 'bwlimit': value is not valid UTF-8\n");
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
    { "widgets", "integer", NULL, NULL, 1, 10 },
    { "colour", "string", NULL, "red, green", 0, -1 },
    { NULL, NULL, NULL, NULL, 0, -1 },
};
static const pvs_plugin_option widget_options[] = {
    { "widgets", 1 }, { "colour", 0 }, { "nodes", 0 }, { "pool", 0 }, { NULL, 0 },
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
        " \"d1\": {\"type\": \"dir\", \"path\": \"/srv/d1\", \"content\": {\"images\": 1, \"rootdir\": 1}}}",
        0, NULL);
    if (!json_equal(json_object_get(cfg, "ids"), want))
        fail_msg("parsed: %s", json_dumps(json_object_get(cfg, "ids"), JSON_SORT_KEYS));
    assert_string_equal(w.buf,
        "file storage.cfg line 7 (section 'w2') - unable to parse value of 'widgets': value may have a maximum value of 10\n"
        "file storage.cfg line 8 (section 'w2') - unable to parse value of 'colour': value 'blue' does not have a "
        "value in the enumeration 'red, green'\n"
        "file storage.cfg line 8 (skip section 'w2'): missing value for required option 'widgets'\n"
        "file storage.cfg line 12 (section 'd1') - unable to parse value of 'widgets': unexpected property 'widgets'\n");
    json_decref(want);
    json_decref(cfg);
    pvs_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_realistic),
        cmocka_unit_test(test_broken_lines),
        cmocka_unit_test(test_edge_files),
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_plugin_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
