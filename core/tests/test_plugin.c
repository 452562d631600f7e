/* test_plugin.c - plugin registration and the API version check (SPEC §3). */
#include "helpers.h"
#include <pthread.h>

static pvs_plugin make_plugin(const char *type, int api)
{
    pvs_plugin p = { 0 };
    p.size = PVS_PLUGIN_SIZE;
    p.type = type;
    p.api = api;
    return p;
}

static void test_constants(void **state)
{
    (void)state;
    assert_int_equal(PVS_APIVER, 15);
    assert_int_equal(PVS_APIAGE, 6);
}

static void test_versions(void **state)
{
    (void)state;
    warnings w;
    pvs_ctx *ctx = test_ctx(&w);
    pvs_error err = PVS_ERROR_INIT;

    pvs_plugin newer = make_plugin("newer", 16);
    assert_int_equal(pvs_register_plugin(ctx, &newer, &err), PVS_EAPI);
    assert_string_equal(err.message, "implements an API version newer than current (16 > 15)\n");
    pvs_plugin old = make_plugin("old", 8);
    assert_int_equal(pvs_register_plugin(ctx, &old, &err), PVS_EAPI);
    assert_string_equal(err.message, "API version too old, please update the plugin (8 < 9)\n");
    assert_null(pvs_plugin_lookup(ctx, "newer", NULL));
    assert_null(pvs_plugin_lookup(ctx, "old", NULL));
    assert_string_equal(w.buf, "");

    /* 9..14 load with a warning, 15 silently */
    static pvs_plugin ok[7];
    static const char *const names[] = { "v9", "v10", "v11", "v12", "v13", "v14", "v15" };
    for (int i = 0; i < 7; i++) {
        ok[i] = make_plugin(names[i], 9 + i);
        assert_int_equal(pvs_register_plugin(ctx, &ok[i], &err), 0);
        assert_ptr_equal(pvs_plugin_lookup(ctx, names[i], NULL), &ok[i]);
    }
    assert_string_equal(w.buf,
        "Plugin \"v9\" is implementing an older storage API, an upgrade is recommended\n"
        "Plugin \"v10\" is implementing an older storage API, an upgrade is recommended\n"
        "Plugin \"v11\" is implementing an older storage API, an upgrade is recommended\n"
        "Plugin \"v12\" is implementing an older storage API, an upgrade is recommended\n"
        "Plugin \"v13\" is implementing an older storage API, an upgrade is recommended\n"
        "Plugin \"v14\" is implementing an older storage API, an upgrade is recommended\n");

    /* one type, one plugin */
    pvs_plugin dup = make_plugin("v15", 15);
    assert_int_equal(pvs_register_plugin(ctx, &dup, &err), PVS_EINVAL);
    assert_string_equal(err.message, "duplicate storage plugin type 'v15'\n");
    assert_null(pvs_plugin_lookup(ctx, "nosuchtype", &err));
    assert_string_equal(err.message, "unknown storage type 'nosuchtype'\n");
    pvs_error_clear(&err);
    pvs_ctx_free(ctx);
}

/* The table carries its size: one built for a table this library does not
 * know is refused with a clear error, before anything else is read. */
static void test_table_size(void **state)
{
    (void)state;
    pvs_ctx *ctx = test_ctx(NULL);
    pvs_error err = PVS_ERROR_INIT;
    pvs_plugin p = make_plugin("sized", 13);
    p.size = 0;   /* not set: a plugin built without PVS_PLUGIN_SIZE */
    assert_int_equal(pvs_register_plugin(ctx, &p, &err), PVS_EINVAL);
    assert_non_null(strstr(err.message, "plugin table of size 0 is not one this library knows"));
    p.size = PVS_PLUGIN_SIZE + 64;   /* built against a newer pvestorage.h */
    assert_int_equal(pvs_register_plugin(ctx, &p, &err), PVS_EINVAL);
    assert_null(pvs_plugin_lookup(ctx, "sized", NULL));
    p.size = PVS_PLUGIN_SIZE;
    assert_int_equal(pvs_register_plugin(ctx, &p, &err), 0);
    pvs_error_clear(&err);
    pvs_ctx_free(ctx);
}

/* A plugin's state: made on first use, the same afterwards, freed with
 * the context by the plugin's own destructor; the context never looks in. */
static int states_made, states_freed;

static void *make_state(void)
{
    states_made++;
    return strdup("cache");
}

static void free_state(void *st)
{
    assert_string_equal(st, "cache");
    states_freed++;
    free(st);
}

static void test_plugin_state(void **state)
{
    (void)state;
    pvs_ctx *ctx = test_ctx(NULL);
    static pvs_plugin p;
    p = make_plugin("stateful", 13);
    p.state_free = free_state;
    pvs_plugin stranger = make_plugin("stranger", 13);
    assert_null(pvs_plugin_state(ctx, &p, make_state));   /* not registered */
    assert_int_equal(pvs_register_plugin(ctx, &p, NULL), 0);
    assert_null(pvs_plugin_state(ctx, &p, NULL));          /* nothing made yet */
    void *a = pvs_plugin_state(ctx, &p, make_state);
    assert_string_equal(a, "cache");
    assert_ptr_equal(pvs_plugin_state(ctx, &p, make_state), a);
    assert_null(pvs_plugin_state(ctx, &stranger, make_state));
    assert_int_equal(states_made, 1);
    pvs_ctx_free(ctx);
    assert_int_equal(states_freed, 1);
}

/* A setting's value, copied into a buffer of the test's own. */
static const char *setting(pvs_ctx *ctx, const char *name)
{
    static char buf[256];
    char *v = NULL;
    assert_int_equal(pvs_ctx_get_setting(ctx, name, &v, NULL), 0);
    snprintf(buf, sizeof buf, "%s", v);
    free(v);
    return buf;
}

/* Readers copy a setting while another thread keeps replacing it: each
 * copy is whole (under ASan, a read of a freed set would be caught). */
static void *configure_storm(void *arg)
{
    pvs_ctx *ctx = arg;
    for (int i = 0; i < 2000; i++)
        pvs_ctx_set(ctx, "root", i % 2 ? "/srv/one" : "/srv/other/", NULL);
    return NULL;
}

static void test_settings_threads(void **state)
{
    (void)state;
    pvs_ctx *ctx = test_ctx(NULL);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, configure_storm, ctx), 0);
    int whole = 0;
    for (int i = 0; i < 2000; i++) {
        char *v = NULL;
        assert_int_equal(pvs_ctx_get_setting(ctx, "root", &v, NULL), 0);
        whole += strcmp(v, "/") == 0 || strcmp(v, "/srv/one") == 0 || strcmp(v, "/srv/other") == 0;
        free(v);
    }
    pthread_join(t, NULL);
    assert_int_equal(whole, 2000);
    pvs_ctx_free(ctx);
}

static void test_settings(void **state)
{
    (void)state;
    pvs_ctx *ctx = test_ctx(NULL);
    pvs_error err = PVS_ERROR_INIT;
    assert_string_equal(setting(ctx, "root"), "/");
    assert_string_equal(setting(ctx, "rbd_command"), "/usr/bin/rbd");
    assert_string_equal(setting(ctx, "ceph_timeout"), "60");
    assert_int_equal(pvs_ctx_set(ctx, "root", "/tmp/x//", &err), 0);
    assert_string_equal(setting(ctx, "root"), "/tmp/x");
    assert_int_equal(pvs_ctx_set(ctx, "kernel_version", "5.15", &err), 0);
    assert_string_equal(setting(ctx, "kernel_version"), "5.15");
    assert_int_equal(pvs_ctx_set(ctx, "kernel_version", "5.15.0-1", &err), PVS_EINVAL);
    assert_string_equal(err.message, "invalid value for setting 'kernel_version': '5.15.0-1' (MAJOR.MINOR)\n");
    assert_string_equal(setting(ctx, "kernel_version"), "5.15");
    assert_int_equal(pvs_ctx_set(ctx, "ceph_timeout", "0", &err), PVS_EINVAL);
    assert_string_equal(err.message, "invalid value for setting 'ceph_timeout': '0' (seconds, 1..3600)\n");
    assert_int_equal(pvs_ctx_set(ctx, "root", "relative", &err), PVS_EINVAL);
    assert_int_equal(pvs_ctx_set(ctx, "rbd_command", "rbd", &err), PVS_EINVAL);
    assert_int_equal(pvs_ctx_set(ctx, "colour", "blue", &err), PVS_EINVAL);
    assert_string_equal(err.message, "unknown setting 'colour' (known: root, rbd_command, ceph_timeout, kernel_version)\n");
    char *v = (char *)"x";
    assert_int_equal(pvs_ctx_get_setting(ctx, "colour", &v, &err), PVS_EINVAL);
    assert_null(v);
    assert_string_equal(err.message, "unknown setting 'colour' (known: root, rbd_command, ceph_timeout, kernel_version)\n");
    pvs_error_clear(&err);
    pvs_ctx_free(ctx);

    /* the environment, read when a context is created */
    setenv("PVESTORAGE_ROOT", "/srv/fake", 1);
    setenv("PVESTORAGE_CEPH_TIMEOUT", "7", 1);
    setenv("PVESTORAGE_KERNEL_VERSION", "4.19", 1);
    setenv("PVESTORAGE_RBD_COMMAND", "/opt/rbd", 1);
    ctx = test_ctx(NULL);
    assert_string_equal(setting(ctx, "root"), "/srv/fake");
    assert_string_equal(setting(ctx, "ceph_timeout"), "7");
    assert_string_equal(setting(ctx, "kernel_version"), "4.19");
    assert_string_equal(setting(ctx, "rbd_command"), "/opt/rbd");
    pvs_ctx_free(ctx);
    setenv("PVESTORAGE_CEPH_TIMEOUT", "soon", 1);
    assert_null(pvs_ctx_new(&err));
    assert_string_equal(err.message, "environment PVESTORAGE_CEPH_TIMEOUT: invalid value for setting "
                                     "'ceph_timeout': 'soon' (seconds, 1..3600)\n");
    pvs_error_clear(&err);
    unsetenv("PVESTORAGE_ROOT");
    unsetenv("PVESTORAGE_CEPH_TIMEOUT");
    unsetenv("PVESTORAGE_KERNEL_VERSION");
    unsetenv("PVESTORAGE_RBD_COMMAND");
}

/* Every upstream type is known, as a table that describes its sections;
 * a plugin registered for such a type replaces it (once), and its volumes
 * go to that plugin. */
static int nfs_activations;

static int nfs_activate(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                        const char *volname, const char *snapname, const json_t *hints, pvs_error *err)
{
    (void)ctx, (void)self, (void)scfg, (void)snapname, (void)hints, (void)err;
    assert_string_equal(storeid, "nfs-iso");
    assert_string_equal(volname, "iso/x.iso");
    nfs_activations++;
    return 0;
}

static const pvs_property nfs_properties[] = {
    PVS_PROP("export", "string", .format = "pve-storage-path"),
    PVS_PROP("server", "string", .format = "pve-storage-server"),
    PVS_PROPS_END,
};
static const pvs_plugin_option nfs_options[] = {
    PVS_FIXED("path"), PVS_FIXED("server"), PVS_FIXED("export"), PVS_OPT("content"), PVS_OPTIONS_END,
};
static const char *const nfs_content[] = { "iso", "images", NULL };

static void test_replace_a_known_type(void **state)
{
    (void)state;
    warnings w;
    pvs_ctx *ctx = test_ctx(&w);
    pvs_error err = PVS_ERROR_INIT;
    static const char text[] = "nfs: nfs-iso\n\tpath /mnt/pve/nfs-iso\n\tserver 192.0.2.1\n\texport /e\n\tcontent iso\n";
    json_t *cfg = pvs_config_parse(ctx, "storage.cfg", text, strlen(text), &err);
    assert_string_equal(w.buf, "");
    const char *vols[] = { "nfs-iso:iso/x.iso" };
    assert_int_equal(pvs_activate_volumes(ctx, cfg, vols, 1, NULL, NULL, &err), PVS_ENOENT);
    assert_string_equal(err.message, "storage 'nfs-iso' has type 'nfs', for which no plugin is registered "
                                     "(a plugin can be registered for it)\n");
    pvs_plugin nfs = make_plugin("nfs", 13);
    nfs.options = nfs_options;
    nfs.content_valid = nfs_content;
    nfs.properties = nfs_properties;
    nfs.activate_volume = nfs_activate;
    assert_int_equal(pvs_register_plugin(ctx, &nfs, &err), 0);
    assert_ptr_equal(pvs_plugin_lookup(ctx, "nfs", NULL), &nfs);
    assert_int_equal(pvs_activate_volumes(ctx, cfg, vols, 1, NULL, NULL, &err), 0);
    assert_int_equal(nfs_activations, 1);
    /* a registered plugin is not replaced behind its back */
    pvs_plugin again = nfs;
    assert_int_equal(pvs_register_plugin(ctx, &again, &err), PVS_EINVAL);
    assert_string_equal(err.message, "duplicate storage plugin type 'nfs'\n");
    /* the section config's rules: a property is declared once, an option is a property */
    pvs_plugin clash = make_plugin("clash", 13);
    static const pvs_property pool[] = { PVS_PROP("pool", "string"), PVS_PROPS_END };
    clash.properties = pool;
    assert_int_equal(pvs_register_plugin(ctx, &clash, &err), PVS_EINVAL);
    assert_string_equal(err.message, "duplicate property 'pool'\n");
    pvs_plugin undefined = make_plugin("undefined", 13);
    static const pvs_plugin_option zzz[] = { PVS_OPT("zzz"), PVS_OPTIONS_END };
    undefined.options = zzz;
    assert_int_equal(pvs_register_plugin(ctx, &undefined, &err), PVS_EINVAL);
    assert_string_equal(err.message, "undefined property 'zzz'\n");
    assert_null(pvs_plugin_lookup(ctx, "clash", NULL));
    pvs_error_clear(&err);
    json_decref(cfg);
    pvs_ctx_free(ctx);
}

/* a reporting call through C plugins: one that says what it did, one with
 * no activate_volume (not-implemented), and neither asked in a dry run */
static int said_activations;
static int say_attached(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                        const char *volname, const char *snapname, const json_t *hints, pvs_error *err)
{
    (void)self, (void)storeid, (void)scfg, (void)volname, (void)snapname, (void)hints, (void)err;
    said_activations++;
    pvs_report_action(ctx, "attached");
    return 0;
}

static int no_deactivation(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                           const char *volname, const char *snapname, pvs_error *err)
{
    (void)ctx, (void)self, (void)storeid, (void)scfg, (void)volname, (void)snapname, (void)err;
    return 0;
}

static void test_plugin_actions(void **state)
{
    (void)state;
    pvs_ctx *ctx = test_ctx(NULL);
    pvs_error err = PVS_ERROR_INIT;
    static const pvs_plugin_option opts[] = { PVS_OPT("content"), PVS_OPTIONS_END };
    static const char *const content[] = { "images", NULL };
    pvs_plugin says = make_plugin("says", 13), quiet = make_plugin("quiet", 13);
    says.options = quiet.options = opts;
    says.content_valid = quiet.content_valid = content;
    says.activate_volume = say_attached;
    quiet.deactivate_volume = no_deactivation;
    assert_int_equal(pvs_register_plugin(ctx, &says, &err), 0);
    assert_int_equal(pvs_register_plugin(ctx, &quiet, &err), 0);
    static const char text[] = "says: s1\n\tcontent images\n\nquiet: q1\n\tcontent images\n";
    json_t *cfg = pvs_config_parse(ctx, "storage.cfg", text, strlen(text), &err), *rep = NULL;
    const char *vols[] = { "s1:100/vm-100-disk-0.raw", "q1:100/vm-100-disk-1.raw" };
    assert_int_equal(pvs_activate_volumes_report(ctx, cfg, vols, 2, NULL, NULL, 0, &rep, &err), 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rep, 0), "action")), "attached");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rep, 1), "action")), "not-implemented");
    assert_int_equal(said_activations, 1);
    json_decref(rep);
    assert_int_equal(pvs_activate_volumes_report(ctx, cfg, vols, 2, NULL, NULL, PVS_DRY_RUN, &rep, &err), 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rep, 0), "action")), "skipped-dry-run");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rep, 1), "action")), "skipped-dry-run");
    assert_int_equal(said_activations, 1);   /* not asked */
    json_decref(rep);
    /* an action outside a reporting call changes nothing */
    assert_int_equal(pvs_activate_volumes(ctx, cfg, vols, 1, NULL, NULL, &err), 0);
    assert_int_equal(said_activations, 2);
    json_decref(cfg);
    pvs_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constants),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_table_size),
        cmocka_unit_test(test_plugin_state),
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_settings_threads),
        cmocka_unit_test(test_replace_a_known_type),
        cmocka_unit_test(test_plugin_actions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
