/* test_plugin_results.c - a plugin's results are input: a C plugin that
 * returns incomplete or malformed results, or fails without a message,
 * gets one clear error naming it, the method and the volume, through every
 * caller (pvs_path, pvs_list_volumes, pvs_map_volume, the activation), and
 * an interruption (PVS_EINTR) is never taken for one volume's failure. */
#include "helpers.h"

/* What the plugin's parse_volname gives: which fields, with what values. */
static const char *give_vtype, *give_name, *give_vmid, *give_basevmid, *give_format;

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int given_parse_volname(const pvs_plugin *self, const char *volname, pvs_volname *out, pvs_error *err)
{
    (void)self;
    if (strncmp(volname, "100/", 4) != 0)   /* not its name: as upstream, an error */
        return pvs_error_set(err, PVS_EINVAL, "unable to parse volume name '%s'\n", volname);
    out->vtype = dup_or_null(give_vtype);
    out->name = dup_or_null(give_name);
    out->vmid = dup_or_null(give_vmid);
    out->basevmid = dup_or_null(give_basevmid);
    out->format = dup_or_null(give_format);
    return 0;
}

static void give(const char *vtype, const char *name, const char *vmid, const char *basevmid, const char *format)
{
    give_vtype = vtype, give_name = name, give_vmid = vmid, give_basevmid = basevmid, give_format = format;
}

/* *p: a plugin of TYPE with that parse_volname and the methods set in
 * *extra, registered in ctx (p must outlive ctx) */
static void enter(pvs_ctx *ctx, pvs_plugin *p, const char *type, const pvs_plugin *extra)
{
    *p = extra ? *extra : (pvs_plugin){ 0 };
    p->size = PVS_PLUGIN_SIZE;
    p->type = type;
    p->api = PVS_APIVER;
    p->parse_volname = given_parse_volname;
    assert_int_equal(pvs_register_plugin(ctx, p, NULL), 0);
}

/* one storage of type TYPE at DIR with images, as parse_config gives it */
static json_t *one_storage(const char *type, const char *dir)
{
    return json_pack("{s:{s:{s:s, s:s, s:{s:i}}}}", "ids", "st", "type", type, "path", dir, "content", "images", 1);
}

static void expect_path_error(pvs_ctx *ctx, const json_t *cfg, const char *message)
{
    pvs_error err = PVS_ERROR_INIT;
    char *path = (char *)"untouched";
    assert_int_equal(pvs_path(ctx, cfg, "st:100/vm-100-disk-0.raw", NULL, &path, &err), PVS_EPLUGIN);
    assert_null(path);   /* and nothing left to free */
    assert_string_equal(err.message, message);
    pvs_error_clear(&err);
}

/* parse_volname results without vtype, name or format, or with a vmid
 * that is no guest ID: pvs_path (the base path layout) says so */
static void test_incomplete_parse_volname(void **state)
{
    static pvs_plugin p;
    pvs_ctx *ctx = test_ctx(NULL);
    (void)state;
    enter(ctx, &p, "given", NULL);
    json_t *cfg = one_storage("given", "/srv/given");

    give(NULL, NULL, NULL, NULL, NULL);   /* Perl's "return ()" */
    expect_path_error(ctx, cfg, "storage plugin given: parse_volname('100/vm-100-disk-0.raw') returned nothing\n");
    give("images", "vm-100-disk-0.raw", "100", NULL, NULL);
    expect_path_error(ctx, cfg, "storage plugin given: parse_volname('100/vm-100-disk-0.raw') returned no format\n");
    give(NULL, "vm-100-disk-0.raw", "100", NULL, "raw");
    expect_path_error(ctx, cfg, "storage plugin given: parse_volname('100/vm-100-disk-0.raw') returned no vtype\n");
    give("images", "", "100", NULL, "raw");
    expect_path_error(ctx, cfg, "storage plugin given: parse_volname('100/vm-100-disk-0.raw') returned no name\n");
    give("images", "vm-100-disk-0.raw", "HASH(0x55d0)", NULL, "raw");
    expect_path_error(ctx, cfg, "storage plugin given: parse_volname('100/vm-100-disk-0.raw') returned vmid "
                                "'HASH(0x55d0)', which is not a guest ID\n");
    give("images", "vm-100-disk-0.raw", "100", "-1", "raw");
    expect_path_error(ctx, cfg, "storage plugin given: parse_volname('100/vm-100-disk-0.raw') returned basevmid "
                                "'-1', which is not a guest ID\n");
    give("images", "vm-100-disk-0.raw", NULL, NULL, "raw");   /* an iSCSI LUN's: no vmid */
    expect_path_error(ctx, cfg, "storage plugin given: parse_volname('100/vm-100-disk-0.raw') returned an images "
                                "volume without a vmid: it has no path under the storage\n");

    /* the same rule for every caller: the method itself, and the path of a map */
    pvs_volname v;
    pvs_error err = PVS_ERROR_INIT;
    give("images", "vm-100-disk-0.raw", "100", NULL, NULL);
    assert_int_equal(pvs_plugin_parse_volname(&p, "100/vm-100-disk-0.raw", &v, &err), PVS_EPLUGIN);
    assert_null(v.vtype);   /* nothing half-filled is handed on */
    char *path = NULL;
    assert_int_equal(pvs_map_volume(ctx, cfg, "st:100/vm-100-disk-0.raw", NULL, NULL, &path, &err), PVS_EPLUGIN);
    assert_string_equal(err.message, "storage plugin given: parse_volname('100/vm-100-disk-0.raw') returned no format\n");
    give("images", "vm-100-disk-0.raw", "100", NULL, "raw");
    assert_int_equal(pvs_path(ctx, cfg, "st:100/vm-100-disk-0.raw", NULL, &path, &err), 0);
    assert_string_equal(path, "/srv/given/images/100/vm-100-disk-0.raw");
    free(path);
    pvs_error_clear(&err);
    json_decref(cfg);
    pvs_ctx_free(ctx);
}

/* The listing takes its names through the plugin's parse_volname: a name
 * it does not take is no volume, a malformed result is the listing's error */
static void test_listing_with_incomplete_results(void **state)
{
    (void)state;
    pvs_ctx *ctx = test_ctx(NULL);
    static pvs_plugin p;
    enter(ctx, &p, "listed", NULL);
    char *dir = make_tempdir();
    put_file(dir, "images/100/vm-100-disk-0.raw", "");
    put_file(dir, "images/101/not-its-own.raw", "");   /* parse_volname refuses it */
    json_t *cfg = one_storage("listed", dir), *list = NULL;
    pvs_error err = PVS_ERROR_INIT;

    give("images", "vm-100-disk-0.raw", "100", NULL, "raw");
    assert_int_equal(pvs_list_volumes(ctx, cfg, "st", -1, &list, &err), 0);
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "volid")),
                        "st:100/vm-100-disk-0.raw");
    json_decref(list);
    give("images", "vm-100-disk-0.raw", "100", NULL, NULL);
    assert_int_equal(pvs_list_volumes(ctx, cfg, "st", -1, &list, &err), PVS_EPLUGIN);
    assert_null(list);
    assert_string_equal(err.message, "storage plugin listed: parse_volname('100/vm-100-disk-0.raw') returned no format\n");
    give(NULL, NULL, NULL, NULL, NULL);
    assert_int_equal(pvs_list_volumes(ctx, cfg, "st", 100, &list, &err), PVS_EPLUGIN);
    assert_string_equal(err.message, "storage plugin listed: parse_volname('100/vm-100-disk-0.raw') returned nothing\n");
    pvs_error_clear(&err);
    json_decref(cfg);
    remove_tree(dir);
    free(dir);
    pvs_ctx_free(ctx);
}

/* path and map_volume must give a path; a method that fails must say why */
static int no_path(pvs_ctx *ctx, const pvs_plugin *self, const json_t *scfg, const char *volname,
                   const char *storeid, const char *snapname, char **path, pvs_error *err)
{
    (void)ctx, (void)self, (void)scfg, (void)volname, (void)storeid, (void)snapname, (void)err;
    *path = strdup(strcmp(volname, "empty") == 0 ? "" : "/dev/x");
    if (strcmp(volname, "none") == 0) {
        free(*path);
        *path = NULL;
    }
    return 0;
}

static int map_nothing(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                       const char *volname, const char *snapname, const json_t *hints, char **path, pvs_error *err)
{
    (void)ctx, (void)self, (void)storeid, (void)scfg, (void)volname, (void)snapname, (void)hints, (void)err;
    *path = NULL;
    return 0;
}

static int fail_silently(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                         const char *volname, const char *snapname, const json_t *hints, pvs_error *err)
{
    (void)ctx, (void)self, (void)storeid, (void)scfg, (void)volname, (void)snapname, (void)hints, (void)err;
    return strcmp(volname, "positive") == 0 ? 1 : PVS_ESTORAGE;   /* and no message */
}

static void test_paths(void **state)
{
    (void)state;
    pvs_ctx *ctx = test_ctx(NULL);
    static pvs_plugin p;
    enter(ctx, &p, "pathless",
          &(pvs_plugin){ .name = "My::Pathless", .path = no_path, .map_volume = map_nothing });
    json_t *cfg = one_storage("pathless", "/srv/p");
    pvs_error err = PVS_ERROR_INIT;
    char *path = NULL;
    assert_int_equal(pvs_path(ctx, cfg, "st:empty", NULL, &path, &err), PVS_EPLUGIN);
    assert_string_equal(err.message, "storage plugin My::Pathless: path('empty') returned no path\n");
    assert_int_equal(pvs_path(ctx, cfg, "st:none", NULL, &path, &err), PVS_EPLUGIN);
    assert_string_equal(err.message, "storage plugin My::Pathless: path('none') returned no path\n");
    assert_int_equal(pvs_map_volume(ctx, cfg, "st:x", NULL, NULL, &path, &err), PVS_EPLUGIN);
    assert_string_equal(err.message, "storage plugin My::Pathless: map_volume('x') returned no path\n");
    assert_null(path);
    pvs_error_clear(&err);
    json_decref(cfg);
    pvs_ctx_free(ctx);
}

static void test_silent_failures(void **state)
{
    static pvs_plugin p;
    pvs_ctx *ctx = test_ctx(NULL);
    (void)state;
    enter(ctx, &p, "silent", &(pvs_plugin){ .name = "My::Silent", .activate_volume = fail_silently });
    json_t *cfg = one_storage("silent", "/srv/p");
    pvs_error err = PVS_ERROR_INIT;
    const char *vols[] = { "st:quiet", "st:positive" };
    assert_int_equal(pvs_activate_volumes(ctx, cfg, vols, 1, NULL, NULL, &err), PVS_ESTORAGE);
    assert_string_equal(err.message, "storage plugin My::Silent: activate_volume('quiet') failed without saying why\n");
    assert_int_equal(pvs_activate_volumes(ctx, cfg, vols + 1, 1, NULL, NULL, &err), PVS_EPLUGIN);
    assert_string_equal(err.message,
                        "storage plugin My::Silent: activate_volume('positive') failed without saying why\n");
    pvs_error_clear(&err);
    json_decref(cfg);
    pvs_ctx_free(ctx);
}

/* PVS_EINTR: the call stops.  deactivate_volumes goes on past a volume's
 * failure, never past an interruption; a reporting call keeps it too. */
static int deactivations;

static int deactivate_until_interrupted(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid,
                                        const json_t *scfg, const char *volname, const char *snapname,
                                        pvs_error *err)
{
    (void)ctx, (void)self, (void)storeid, (void)scfg, (void)snapname;
    deactivations++;
    if (strcmp(volname, "busy") == 0)
        return pvs_error_set(err, PVS_ESTORAGE, "busy is busy\n");
    if (strcmp(volname, "stop") == 0)
        return pvs_error_set(err, PVS_EINTR, "interrupted\n");
    return 0;
}

static int path_interrupted(pvs_ctx *ctx, const pvs_plugin *self, const json_t *scfg, const char *volname,
                            const char *storeid, const char *snapname, char **path, pvs_error *err)
{
    (void)ctx, (void)self, (void)scfg, (void)volname, (void)storeid, (void)snapname;
    *path = NULL;
    return pvs_error_set(err, PVS_EINTR, "interrupted while asked for a path\n");
}

static int activate_fine(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                         const char *volname, const char *snapname, const json_t *hints, pvs_error *err)
{
    (void)ctx, (void)self, (void)storeid, (void)scfg, (void)volname, (void)snapname, (void)hints, (void)err;
    return 0;
}

static void test_interruption_stops_the_call(void **state)
{
    (void)state;
    warnings w;
    pvs_ctx *ctx = test_ctx(&w);
    static pvs_plugin p;
    enter(ctx, &p, "stopping",
          &(pvs_plugin){ .deactivate_volume = deactivate_until_interrupted, .activate_volume = activate_fine,
                         .path = path_interrupted });
    json_t *cfg = one_storage("stopping", "/srv/s"), *rep = NULL;
    pvs_error err = PVS_ERROR_INIT;
    const char *vols[] = { "st:busy", "st:stop", "st:never" };
    assert_int_equal(pvs_deactivate_volumes(ctx, cfg, vols, 3, NULL, &err), PVS_EINTR);
    assert_string_equal(err.message, "interrupted\n");
    assert_int_equal(deactivations, 2);   /* past busy, not past the interruption */
    assert_string_equal(w.buf, "busy is busy\n");
    assert_string_equal(pvs_strerror(PVS_EINTR), "EINTR");
    /* a reporting call asks the path for its record: an interruption there stops it */
    assert_int_equal(pvs_activate_volumes_report(ctx, cfg, vols + 2, 1, NULL, NULL, 0, &rep, &err), PVS_EINTR);
    assert_string_equal(err.message, "interrupted while asked for a path\n");
    json_decref(rep);
    pvs_error_clear(&err);
    json_decref(cfg);
    pvs_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_incomplete_parse_volname),
        cmocka_unit_test(test_listing_with_incomplete_results),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_silent_failures),
        cmocka_unit_test(test_interruption_stops_the_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
