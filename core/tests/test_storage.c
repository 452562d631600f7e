/* test_storage.c - storage-level calls on a temp tree (SPEC §6). */
#include "helpers.h"
#include "internal.h"

typedef struct fixture {
    char *dir;
    pvs_ctx *ctx;
    warnings w;
    json_t *cfg;
} fixture;

static json_t *parse(fixture *f, const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_t *cfg = pvs_config_parse(f->ctx, "storage.cfg", text, strlen(text), NULL);
    assert_non_null(cfg);
    return cfg;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = make_tempdir();
    f->ctx = test_ctx(&f->w);
    f->cfg = parse(f,
        "dir: store\n\tpath %s/local\n\tcontent images,iso,rootdir\n\n"
        "dir: off\n\tpath %s/off\n\tdisable 1\n\n"
        "dir: nosub\n\tpath %s/nosub\n\tcreate-subdirs 0\n\n"
        "dir: nobase\n\tpath %s/nobase\n\tcreate-base-path 0\n\n"
        "dir: oldmkdir\n\tpath %s/oldmkdir\n\tmkdir 0\n\n"
        "dir: mnt\n\tpath %s/mnt\n\tis_mountpoint 1\n\n"
        "dir: mnt2\n\tpath %s/mnt2\n\tis_mountpoint %s/elsewhere\n\n"
        "dir: root-mnt\n\tpath /.\n\tis_mountpoint yes\n\tcontent none\n",
        f->dir, f->dir, f->dir, f->dir, f->dir, f->dir, f->dir, f->dir);
    assert_string_equal(f->w.buf, "");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    json_decref(f->cfg);
    pvs_ctx_free(f->ctx);
    remove_tree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static char *at(fixture *f, const char *rel)
{
    static char buf[8][1024];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%s/%s", f->dir, rel);
    return buf[i];
}

static void expect_error(int rc, pvs_error *err, int code, const char *msg)
{
    assert_int_equal(rc, code);
    assert_string_equal(err->message, msg);
    pvs_error_clear(err);
}

static void test_activate_existing_and_missing(void **state)
{
    fixture *f = *state;
    pvs_error err = PVS_ERROR_INIT;
    const char *vol[] = { "store:100/vm-100-disk-0.raw" };
    json_t *hints = json_pack("{s:b, s:b}", "guest-is-windows", 1, "plugin-may-deactivate-volume", 1);

    /* missing: the storage is activated (base path and subdirs made), the volume fails */
    expect_error(pvs_activate_volumes(f->ctx, f->cfg, vol, 1, NULL, hints, &err), &err, PVS_ENOENT,
                 "volume 'store:100/vm-100-disk-0.raw' does not exist\n");
    assert_true(is_directory(at(f, "local/images")));
    assert_true(is_directory(at(f, "local/template/iso")));
    assert_true(is_directory(at(f, "local/private")));
    assert_true(is_directory(at(f, "local/dump")));   /* rootdir brings backup's dir */
    assert_false(is_directory(at(f, "local/snippets")));

    mkdirs(at(f, "local/images/100"));
    write_file(at(f, "local/images/100/vm-100-disk-0.raw"), "");
    assert_int_equal(pvs_activate_volumes(f->ctx, f->cfg, vol, 1, NULL, hints, &err), 0);
    assert_null(err.message);

    char *path = NULL;
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, vol[0], NULL, hints, &path, &err), 0);
    assert_string_equal(path, at(f, "local/images/100/vm-100-disk-0.raw"));
    free(path);
    assert_int_equal(pvs_path(f->ctx, f->cfg, vol[0], NULL, &path, &err), 0);
    assert_string_equal(path, at(f, "local/images/100/vm-100-disk-0.raw"));
    free(path);
    /* upstream's path in list context: the owner and the content type too */
    char *owner, *vtype, *volid;
    assert_int_equal(pvs_path_info(f->ctx, f->cfg, vol[0], NULL, &path, &owner, &vtype, &err), 0);
    assert_string_equal(owner, "100");
    assert_string_equal(vtype, "images");
    free(path), free(owner), free(vtype);
    /* and back: the volume a file is */
    assert_int_equal(pvs_path_to_volume_id(f->ctx, f->cfg, at(f, "local/images/100/vm-100-disk-0.raw"),
                                           &vtype, &volid, &err), 0);
    assert_string_equal(vtype, "images");
    assert_string_equal(volid, "store:100/vm-100-disk-0.raw");
    free(vtype), free(volid);
    assert_int_equal(pvs_path_to_volume_id(f->ctx, f->cfg, "/etc/passwd", &vtype, &volid, &err), 0);
    assert_null(vtype);
    assert_null(volid);
    assert_int_equal(pvs_unmap_volume(f->ctx, f->cfg, vol[0], NULL, &err), 0);
    assert_string_equal(f->w.buf, "");
    json_decref(hints);
}

static void test_invalid_hints_activate_nothing(void **state)
{
    fixture *f = *state;
    pvs_error err = PVS_ERROR_INIT;
    const char *vol[] = { "store:100/vm-100-disk-0.raw" };
    json_t *bad = json_pack("{s:s}", "guest-is-windows", "yes");
    expect_error(pvs_activate_volumes(f->ctx, f->cfg, vol, 1, NULL, bad, &err), &err, PVS_EHINTS,
                 "internal error - hints are not valid: 400 Parameter verification failed.\n"
                 "guest-is-windows: type check ('boolean') failed - got 'yes'\n");
    assert_false(is_directory(at(f, "store")));
    char *path = (char *)1;
    expect_error(pvs_map_volume(f->ctx, f->cfg, vol[0], NULL, bad, &path, &err), &err, PVS_EHINTS,
                 "internal error - hints are not valid: 400 Parameter verification failed.\n"
                 "guest-is-windows: type check ('boolean') failed - got 'yes'\n");
    assert_null(path);
    /* an empty list does nothing, not even check the hints (as upstream) */
    assert_int_equal(pvs_activate_volumes(f->ctx, f->cfg, NULL, 0, NULL, bad, &err), 0);
    json_decref(bad);
}

static void test_bad_ids_activate_nothing(void **state)
{
    fixture *f = *state;
    pvs_error err = PVS_ERROR_INIT;
    const char *vols[] = { "store:100/vm-100-disk-0.raw", "nope:iso/x.iso" };
    expect_error(pvs_activate_volumes(f->ctx, f->cfg, vols, 2, NULL, NULL, &err), &err, PVS_ENOENT,
                 "storage 'nope' does not exist\n");
    assert_false(is_directory(at(f, "store")));
    const char *vols2[] = { "store:100/vm-100-disk-0.raw", "garbage" };
    expect_error(pvs_activate_volumes(f->ctx, f->cfg, vols2, 2, NULL, NULL, &err), &err, PVS_EINVAL,
                 "unable to parse volume ID 'garbage'\n");
    assert_false(is_directory(at(f, "store")));
    /* a section of a type with no plugin here (as upstream's parser gives it) */
    json_t *cfg = json_deep_copy(f->cfg);
    json_object_set_new(json_object_get(cfg, "ids"), "nfs-iso",
                        json_pack("{s:s, s:s, s:s}", "type", "nfs", "server", "192.0.2.1", "export", "/iso"));
    const char *vols3[] = { "store:100/vm-100-disk-0.raw", "nfs-iso:iso/x.iso" };
    expect_error(pvs_activate_volumes(f->ctx, cfg, vols3, 2, NULL, NULL, &err), &err, PVS_ENOENT,
                 "storage 'nfs-iso' has type 'nfs', for which no plugin is registered "
                 "(a plugin can be registered for it)\n");
    assert_false(is_directory(at(f, "store")));
    expect_error(pvs_activate_storage(f->ctx, cfg, "nfs-iso", &err), &err, PVS_ENOENT,
                 "storage 'nfs-iso' has type 'nfs', for which no plugin is registered "
                 "(a plugin can be registered for it)\n");
    json_decref(cfg);
}

static void test_storage_activation_rules(void **state)
{
    fixture *f = *state;
    pvs_error err = PVS_ERROR_INIT;
    char msg[2048];

    expect_error(pvs_activate_storage(f->ctx, f->cfg, "off", &err), &err, PVS_ESTORAGE,
                 "storage 'off' is disabled\n");
    assert_false(is_directory(at(f, "off")));

    /* create-subdirs 0: base path made, no subdirs */
    assert_int_equal(pvs_activate_storage(f->ctx, f->cfg, "nosub", &err), 0);
    assert_true(is_directory(at(f, "nosub")));
    assert_false(is_directory(at(f, "nosub/images")));

    /* create-base-path 0 (and the old mkdir 0): a missing path is an error */
    snprintf(msg, sizeof msg, "unable to activate storage 'nobase' - directory '%s' does not exist or is unreachable\n",
             at(f, "nobase"));
    expect_error(pvs_activate_storage(f->ctx, f->cfg, "nobase", &err), &err, PVS_ESTORAGE, msg);
    snprintf(msg, sizeof msg, "unable to activate storage 'oldmkdir' - directory '%s' does not exist or is unreachable\n",
             at(f, "oldmkdir"));
    expect_error(pvs_activate_storage(f->ctx, f->cfg, "oldmkdir", &err), &err, PVS_ESTORAGE, msg);
    mkdirs(at(f, "nobase"));
    assert_int_equal(pvs_activate_storage(f->ctx, f->cfg, "nobase", &err), 0);
    assert_true(is_directory(at(f, "nobase/images")));

    /* a file where the directory belongs */
    write_file(at(f, "oldmkdir"), "not a directory");
    snprintf(msg, sizeof msg, "unable to activate storage 'oldmkdir' - directory '%s' does not exist or is unreachable\n",
             at(f, "oldmkdir"));
    expect_error(pvs_activate_storage(f->ctx, f->cfg, "oldmkdir", &err), &err, PVS_ESTORAGE, msg);

    /* mount points: a temp dir is not one, / is */
    mkdirs(at(f, "mnt"));
    snprintf(msg, sizeof msg, "unable to activate storage 'mnt' - directory is expected to be a mount point but is not mounted: '%s'\n",
             at(f, "mnt"));
    expect_error(pvs_activate_storage(f->ctx, f->cfg, "mnt", &err), &err, PVS_ESTORAGE, msg);
    snprintf(msg, sizeof msg, "unable to activate storage 'mnt2' - directory is expected to be a mount point but is not mounted: '%s'\n",
             at(f, "elsewhere"));
    expect_error(pvs_activate_storage(f->ctx, f->cfg, "mnt2", &err), &err, PVS_ESTORAGE, msg);
    assert_false(is_directory(at(f, "mnt2")));
    assert_int_equal(pvs_activate_storage(f->ctx, f->cfg, "root-mnt", &err), 0);
    expect_error(pvs_activate_storage(f->ctx, f->cfg, "gone", &err), &err, PVS_ENOENT,
                 "storage 'gone' does not exist\n");

    /* content directories: upstream's messages (checked against its activate_storage) */
    json_t *cfg = parse(f, "dir: shared-dir\n\tpath %s/sd\n\tcontent iso,images\n\tcontent-dirs iso=same,images=same\n\n"
                           "dir: blocked\n\tpath %s/bl\n\tcontent iso\n", f->dir, f->dir);
    snprintf(msg, sizeof msg, "storage 'shared-dir' uses directory %s for multiple content types\n", at(f, "sd/same"));
    expect_error(pvs_activate_storage(f->ctx, cfg, "shared-dir", &err), &err, PVS_ESTORAGE, msg);
    mkdirs(at(f, "bl"));
    write_file(at(f, "bl/template"), "a file in the way");
    snprintf(msg, sizeof msg, "failed to create content directory '%s' for content 'iso' - File exists\n",
             at(f, "bl/template/iso"));
    expect_error(pvs_activate_storage(f->ctx, cfg, "blocked", &err), &err, PVS_ESTORAGE, msg);
    json_decref(cfg);
}

/* ---- deactivation goes on past failures: a plugin that fails on "bad-" ---- */

typedef struct calls {
    char log[1024];
} calls;

static calls deact_calls;

static int flaky_deactivate(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid,
                            const json_t *scfg, const char *volname, const char *snapname,
                            pvs_error *err)
{
    (void)ctx, (void)self, (void)scfg, (void)snapname;
    strcat(deact_calls.log, volname);
    strcat(deact_calls.log, ";");
    if (strncmp(volname, "bad-", 4) == 0)
        return pvs_fail(err, PVS_EIO, "can't deactivate %s:%s - device busy\n", storeid, volname);
    return 0;
}

static const pvs_plugin_option flaky_options[] = { PVS_OPT("nodes"), PVS_OPTIONS_END };
static const char *const flaky_content[] = { "images", NULL };
static const pvs_plugin flaky = {
    .size = PVS_PLUGIN_SIZE, .type = "flaky", .api = PVS_APIVER, .options = flaky_options,
    .content_valid = flaky_content, .content_default = flaky_content,
    .deactivate_volume = flaky_deactivate,
};

static void test_deactivate_continues(void **state)
{
    fixture *f = *state;
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_register_plugin(f->ctx, &flaky, &err), 0);
    json_t *cfg = parse(f, "flaky: fl\n\tnodes pve1\n\ndir: store\n\tpath %s/local\n", f->dir);
    assert_string_equal(f->w.buf, "");
    const char *vols[] = { "fl:bad-1", "fl:good-1", "store:100/vm-100-disk-0.raw", "fl:bad-2",
                           "store:iso/x.iso", "store:not-a-volume" };
    deact_calls.log[0] = '\0';
    /* a dir name that is no volume deactivates (nothing), as upstream */
    expect_error(pvs_deactivate_volumes(f->ctx, cfg, vols, 6, NULL, &err), &err, PVS_EPARTIAL,
                 "volume deactivation failed: fl:bad-1 fl:bad-2\n");
    assert_string_equal(deact_calls.log, "bad-1;good-1;bad-2;");
    assert_string_equal(f->w.buf,
        "can't deactivate fl:bad-1 - device busy\n"
        "can't deactivate fl:bad-2 - device busy\n");

    /* a bad ID anywhere deactivates nothing */
    deact_calls.log[0] = '\0';
    const char *bad[] = { "fl:good-1", "nope:x" };
    expect_error(pvs_deactivate_volumes(f->ctx, cfg, bad, 2, NULL, &err), &err, PVS_ENOENT,
                 "storage 'nope' does not exist\n");
    assert_string_equal(deact_calls.log, "");
    const char *all_good[] = { "fl:good-1", "store:100/vm-100-disk-0.raw" };
    assert_int_equal(pvs_deactivate_volumes(f->ctx, cfg, all_good, 2, NULL, &err), 0);
    json_decref(cfg);
}

/* API 14's get_identity: the plugin's own identifier of the instance */
static int widget_identity(pvs_ctx *ctx, const pvs_plugin *self, const json_t *scfg, const char *storeid,
                           char **id, pvs_error *err)
{
    (void)ctx, (void)self, (void)scfg;
    if (strcmp(storeid, "broken") == 0)
        return pvs_fail(err, PVS_ECLUSTER, "cannot reach the array of '%s'\n", storeid);
    if (strcmp(storeid, "anon") == 0)
        return 0;   /* no identity to tell: undef */
    if (asprintf(id, "serial-%s", storeid) < 0)
        return pvs_fail(err, PVS_ENOMEM, "out of memory\n");
    return 0;
}

static const pvs_plugin identified = {
    .size = PVS_PLUGIN_SIZE, .type = "identified", .api = 14, .options = flaky_options,
    .content_valid = flaky_content, .content_default = flaky_content,
    .get_identity = widget_identity,
};

static void test_get_identity(void **state)
{
    fixture *f = *state;
    pvs_error err = PVS_ERROR_INIT;
    char *type = NULL, *id = NULL;
    /* a plugin without the method fails as upstream's base method dies */
    expect_error(pvs_get_identity(f->ctx, f->cfg, "store", &type, &id, &err), &err, PVS_EPLUGIN,
                 "get_identity not implemented for this plugin\n");
    assert_null(type);
    assert_null(id);
    expect_error(pvs_get_identity(f->ctx, f->cfg, "off", &type, &id, &err), &err, PVS_ESTORAGE,
                 "storage 'off' is disabled\n");
    expect_error(pvs_get_identity(f->ctx, f->cfg, "gone", &type, &id, &err), &err, PVS_ENOENT,
                 "storage 'gone' does not exist\n");

    assert_int_equal(pvs_register_plugin(f->ctx, &identified, &err), 0);
    assert_string_equal(f->w.buf, "Plugin \"identified\" is implementing an older storage API, "
                                  "an upgrade is recommended\n");
    json_t *cfg = parse(f, "identified: arr\n\nidentified: anon\n\nidentified: broken\n\n"
                           "identified: elsewhere\n\tnodes no-such-node\n");
    assert_int_equal(pvs_get_identity(f->ctx, cfg, "arr", &type, &id, &err), 0);
    assert_string_equal(type, "identified");
    assert_string_equal(id, "serial-arr");
    free(type), free(id);
    assert_int_equal(pvs_get_identity(f->ctx, cfg, "anon", &type, &id, &err), 0);
    assert_string_equal(type, "identified");
    assert_null(id);
    free(type);
    expect_error(pvs_get_identity(f->ctx, cfg, "broken", &type, &id, &err), &err, PVS_ECLUSTER,
                 "cannot reach the array of 'broken'\n");
    assert_null(type);
    assert_int_equal(pvs_get_identity(f->ctx, cfg, "elsewhere", &type, &id, &err), PVS_ESTORAGE);
    assert_non_null(strstr(err.message, "storage 'elsewhere' is not available on node '"));
    pvs_error_clear(&err);
    json_decref(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_activate_existing_and_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_hints_activate_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_ids_activate_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage_activation_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deactivate_continues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_identity, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
