/* test_node.c - a node's own storages (lvm, lvmthin ...) against upstream:
 * each case of data/node_cases.json runs through the C API with the node's
 * tools answering as the case says (fake-node under a test root), and what
 * we run (every argv), return, fail with and warn must be what upstream's
 * storage layer did with the same answers (data/node_cases.upstream.json, made
 * by scripts/upstream-node-golden.sh from upstream's own code). */
#include <errno.h>
#include <sys/sysmacros.h>

#include "helpers.h"
#include "internal.h"
#include "node_case.h"

static const char *const tools[] = { "vgs", "lvs", "lvchange", "vgscan", "vgchange", "udevadm", "zpool", "zfs",
                                     "iscsiadm", "blockdev", "iscsi-ls", NULL };

/* a root with the tools, the case's answers and its block devices; 0 when
 * a device cannot be made here (not root) */
static int make_root(const char *root, const json_t *c)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/sbin", root);
    mkdirs(p);
    for (int i = 0; tools[i]; i++) {
        snprintf(p, sizeof p, "%s/sbin/%s", root, tools[i]);
        assert_int_equal(symlink(getenv("PVS_FAKE_NODE"), p), 0);
    }
    snprintf(p, sizeof p, "%s/responses.json", root);
    json_t *r = json_pack("{s:O}", "responses", json_object_get(c, "responses"));
    assert_int_equal(json_dump_file(r, p, 0), 0);
    json_decref(r);
    setenv("FAKE_NODE_CASE", p, 1);
    snprintf(p, sizeof p, "%s/log", root);
    setenv("FAKE_NODE_LOG", p, 1);
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(c, "devices"), i, d) {
        snprintf(p, sizeof p, "%s%s", root, json_string_value(d));
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(p, '/') - p), p);
        mkdirs(dir);
        if (mknod(p, S_IFBLK | 0600, makedev(7, 200)) != 0)
            return 0;
    }
    node_case_files(root, c);
    return 1;
}

static const char **volids(const json_t *call)
{
    json_t *v = json_object_get(call, "volids");
    const char **out = calloc(json_array_size(v) + 1, sizeof *out);
    for (size_t i = 0; i < json_array_size(v); i++)
        out[i] = json_string_value(json_array_get(v, i));
    return out;
}

static json_t *status_of(pvs_ctx *ctx, const json_t *cfg, const char *storeid, pvs_error *err)
{
    const json_t *scfg = pvs_storage_config(cfg, storeid, err);
    const pvs_plugin *p = scfg ? pvs_plugin_lookup(ctx, pvs_scfg_str(scfg, "type"), err) : NULL;
    pvs_storage_usage u;
    pvs_error why = PVS_ERROR_INIT;
    if (!p || pvs_plugin_status(ctx, p, storeid, scfg, &u, &why) != 1) {
        pvs_error_move(err, &why);
        return NULL;
    }
    pvs_error_clear(&why);
    if (!u.active)   /* as storage_info takes it: an inactive storage's sizes mean nothing */
        return json_pack("{s:i}", "active", 0);
    return json_pack("{s:I, s:I, s:I, s:i}", "total", u.total, "avail", u.avail, "used", u.used, "active",
                     u.active);
}

/* the case's call: its result (JSON null when it has none) */
static json_t *run_call(pvs_ctx *ctx, const json_t *cfg, const json_t *call, pvs_error *err)
{
    const char *op = json_string_value(json_object_get(call, "op"));
    const char *snap = json_string_value(json_object_get(call, "snapname"));
    const char *sid = json_string_value(json_object_get(call, "storeid"));
    const char *volid = json_string_value(json_object_get(call, "volid"));
    const char **v = volids(call);
    size_t n = json_array_size(json_object_get(call, "volids"));
    json_t *res = json_null();
    char *path = NULL;
    if (!strcmp(op, "activate"))
        pvs_activate_volumes(ctx, cfg, v, n, snap, NULL, err);
    else if (!strcmp(op, "deactivate"))
        pvs_deactivate_volumes(ctx, cfg, v, n, snap, err);
    else if (!strcmp(op, "activate_storage"))
        pvs_activate_storage(ctx, cfg, sid, err);
    else if (!strcmp(op, "deactivate_storage"))
        pvs_deactivate_storage(ctx, cfg, sid, err);
    else if (!strcmp(op, "path") && !pvs_path(ctx, cfg, volid, snap, &path, err))
        res = json_string(path);
    else if (!strcmp(op, "status"))
        res = status_of(ctx, cfg, sid, err);
    else if (!strcmp(op, "list")) {
        json_t *vm = json_object_get(call, "vmid");
        if (pvs_list_volumes(ctx, cfg, sid, vm ? json_integer_value(vm) : -1, &res, err))
            res = json_null();
    }
    free(path);
    free(v);
    return res ? res : json_null();
}

static json_t *logged(const char *root)
{
    char p[4096], line[65536];
    snprintf(p, sizeof p, "%s/log", root);
    json_t *a = json_array();
    FILE *f = fopen(p, "r");
    while (f && fgets(line, sizeof line, f))
        json_array_append_new(a, json_loads(line, 0, NULL));
    if (f)
        fclose(f);
    return a;
}

static json_t *warning_lines(const char *buf)
{
    json_t *a = json_array();
    for (const char *p = buf; *p;) {
        size_t n = strcspn(p, "\n");
        json_array_append_new(a, json_stringn(p, n));
        p += n + (p[n] == '\n');
    }
    /* as Perl's split drops them: no empty lines at the end */
    while (json_array_size(a) && !json_string_length(json_array_get(a, json_array_size(a) - 1)))
        json_array_remove(a, json_array_size(a) - 1);
    return a;
}

static void expect_json(const char *what, const char *name, json_t *got, json_t *want)
{
    if (json_equal(got, want))
        return;
    char *g = json_dumps(got, JSON_ENCODE_ANY | JSON_SORT_KEYS), *w = json_dumps(want, JSON_ENCODE_ANY | JSON_SORT_KEYS);
    print_error("%s: %s differs from upstream\n  ours:     %s\n  upstream: %s\n", name, what, g, w);
    free(g);
    free(w);
    fail();
}

static void run_case(const json_t *spec, const json_t *c, const json_t *gold)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    char *root = make_tempdir();
    if (!make_root(root, c)) {
        print_message("[  SKIP    ] %s: cannot make block devices here (%s)\n", name, strerror(errno));
        free(root);
        return;
    }
    warnings w;
    pvs_ctx *ctx = test_ctx(&w);
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_ctx_set(ctx, "root", root, &err), 0);
    const char *text = json_string_value(json_object_get(spec, "storage_cfg"));
    json_t *cfg = pvs_config_parse(ctx, "storage.cfg", text, strlen(text), &err);
    assert_non_null(cfg);
    json_t *res = run_call(ctx, cfg, json_object_get(c, "call"), &err);
    json_t *ours = json_pack("{s:o, s:o, s:o, s:o}", "commands", logged(root), "result", res, "error",
                             err.message ? json_string(err.message) : json_null(), "warnings", warning_lines(w.buf));
    static const char *const keys[] = { "commands", "result", "error", "warnings", NULL };
    for (int k = 0; keys[k]; k++)
        expect_json(keys[k], name, json_object_get(ours, keys[k]), json_object_get(gold, keys[k]));
    json_decref(ours);
    pvs_error_clear(&err);
    json_decref(cfg);
    pvs_ctx_free(ctx);
    remove_tree(root);
    free(root);
}

static void test_cases_agree_with_upstream(void **state)
{
    (void)state;
    json_t *spec = load_data("node_cases.json"), *gold = load_data("node_cases.upstream.json");
    json_t *cases = json_object_get(spec, "cases"), *golds = json_object_get(gold, "cases");
    assert_int_equal(json_array_size(cases), json_array_size(golds));
    pid_t portal = node_case_listen();
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i), *g = json_array_get(golds, i);
        assert_string_equal(json_string_value(json_object_get(c, "name")), json_string_value(json_object_get(g, "name")));
        run_case(spec, c, g);
    }
    node_case_unlisten(portal);
    json_decref(spec);
    json_decref(gold);
}

/* ---- single cases beside upstream's ---- */

typedef struct node_fx {
    char *root;
    pvs_ctx *ctx;
    json_t *cfg;
    warnings w;
} node_fx;

/* a root whose tools answer as responses (JSON) says, and storage.cfg text */
static void fx_setup(node_fx *f, const char *responses, const char *text)
{
    f->root = make_tempdir();
    json_t *c = json_loads(responses, 0, NULL);
    assert_non_null(c);
    assert_true(make_root(f->root, c));
    json_decref(c);
    f->ctx = test_ctx(&f->w);
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_ctx_set(f->ctx, "root", f->root, &err), 0);
    f->cfg = pvs_config_parse(f->ctx, "storage.cfg", text, strlen(text), &err);
    assert_non_null(f->cfg);
}

/* the fixture gone; the commands it ran (JSON text, malloc()ed) */
static char *fx_teardown(node_fx *f)
{
    json_t *log = logged(f->root);
    char *s = json_dumps(log, JSON_COMPACT);
    json_decref(log);
    json_decref(f->cfg);
    pvs_ctx_free(f->ctx);
    remove_tree(f->root);
    free(f->root);
    return s;
}

/* on purpose unlike upstream: a tag holding ':' (LVM allows it) does not
 * shift the fields after it (upstream's split reads the tag's rest as the
 * metadata size and loses the creation time) */
static void test_tag_with_colon(void **state)
{
    (void)state;
    node_fx f;
    fx_setup(&f, "{\"responses\": [{\"cmd\": \"lvs\", \"out\":"
                 " \"  san:vm-201-disk-0:5368709120:-wi-------:::::l3:pve-vm-201,note:a:b::1700000042\\n\"}]}",
             "lvm: tg\n\tvgname san\n\ttagged_only 1\n");
    json_t *list = NULL;
    pvs_error err = PVS_ERROR_INIT;
    if (pvs_list_volumes(f.ctx, f.cfg, "tg", -1, &list, &err))
        fail_msg("%s", err.message);
    assert_int_equal(json_array_size(list), 1);
    json_t *v = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(v, "volid")), "tg:vm-201-disk-0");
    assert_int_equal(json_integer_value(json_object_get(v, "ctime")), 1700000042);
    assert_int_equal(json_integer_value(json_object_get(v, "size")), 5368709120LL);
    json_decref(list);
    free(fx_teardown(&f));
}

/* ---- zfspool, where we are our own reference ---- */

static const char ZFS_CFG[] = "zfspool: local-zfs\n\tpool rpool/data\n\nzfspool: tank\n\tpool tank\n";

/* the mount table shows the dataset (or one below it) mounted: nothing
 * runs; a dataset whose name merely begins the same does not count */
static void test_zfs_mounted_dataset_is_active(void **state)
{
    (void)state;
    static const char *const tables[][2] = {
        { "rpool/data/subvol-100-disk-0 /rpool/data/subvol-100-disk-0 zfs rw,xattr 0 0\n", "[]" },
        { "rpool/data /rpool/data zfs rw 0 0\n", "[]" },
        { "rpool/database /rpool/database zfs rw 0 0\nrpool/data /x ext4 rw 0 0\n",
          "[[\"zpool\",\"list\",\"-o\",\"name\",\"-H\",\"rpool\"],[\"zfs\",\"mount\",\"-a\"]]" },
    };
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        node_fx f;
        fx_setup(&f, "{\"responses\": [{\"cmd\": \"zpool\", \"out\": \"rpool\\n\"}]}", ZFS_CFG);
        put_file(f.root, "proc/mounts", tables[i][0]);
        pvs_error err = PVS_ERROR_INIT;
        assert_int_equal(pvs_activate_storage(f.ctx, f.cfg, "local-zfs", &err), 0);
        char *log = fx_teardown(&f);
        assert_string_equal(log, tables[i][1]);
        free(log);
    }
}

/* a call's storages are activated in the order of their first volumes
 * (upstream's order is Perl's hash order) */
static void test_zfs_storages_in_callers_order(void **state)
{
    (void)state;
    node_fx f;
    fx_setup(&f, "{\"responses\": [{\"cmd\": \"zpool\", \"out\": \"rpool\\ntank\\n\"}]}", ZFS_CFG);
    const char *volids[] = { "tank:vm-1-disk-0", "local-zfs:vm-2-disk-0", "tank:vm-3-disk-0" };
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_activate_volumes(f.ctx, f.cfg, volids, 3, "s1", NULL, &err), 0);
    char *log = fx_teardown(&f);
    assert_string_equal(log, "[[\"zpool\",\"list\",\"-o\",\"name\",\"-H\",\"tank\"],[\"zfs\",\"mount\",\"-a\"],"
                             "[\"zpool\",\"list\",\"-o\",\"name\",\"-H\",\"rpool\"],[\"zfs\",\"mount\",\"-a\"]]");
    free(log);
}

/* a dry run asks whether the pool is imported, and plans the import and
 * the mount without running them or waiting for the zvol's device */
static void test_zfs_dry_run(void **state)
{
    (void)state;
    node_fx f;
    fx_setup(&f, "{\"responses\": [{\"cmd\": \"zpool\", \"has\": [\"list\"], \"exit\": 1,"
                  " \"err\": \"cannot open 'tank': no such pool\\n\"}]}", ZFS_CFG);
    const char *volids[] = { "tank:vm-1-disk-0" };
    json_t *plan = NULL;
    pvs_error err = PVS_ERROR_INIT;
    time_t t0 = time(NULL);
    int rc = pvs_activate_volumes_report(f.ctx, f.cfg, volids, 1, NULL, NULL, PVS_DRY_RUN, &plan, &err);
    if (rc)
        fail_msg("%s", err.message);
    assert_true(time(NULL) - t0 < 5);
    json_t *cmds = json_object_get(json_array_get(plan, 0), "commands");
    assert_int_equal(json_array_size(cmds), 3);   /* list, import, mount -a */
    assert_string_equal(json_string_value(json_array_get(json_array_get(cmds, 1), 1)), "import");
    json_decref(plan);
    char *log = fx_teardown(&f);
    assert_string_equal(log, "[[\"zpool\",\"list\",\"-o\",\"name\",\"-H\",\"tank\"]]");
    free(log);
}

/* the wait for a zvol's device ends with the call's deadline */
static void test_zfs_zvol_wait_within_deadline(void **state)
{
    (void)state;
    node_fx f;
    fx_setup(&f, "{\"responses\": [{\"cmd\": \"zpool\", \"out\": \"tank\\n\"}]}", ZFS_CFG);
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_ctx_set(f.ctx, "ceph_timeout", "3", &err), 0);
    const char *volids[] = { "tank:vm-1-disk-0" };
    time_t t0 = time(NULL);
    assert_int_equal(pvs_activate_volumes(f.ctx, f.cfg, volids, 1, NULL, NULL, &err), PVS_ETIMEDOUT);
    assert_true(time(NULL) - t0 <= 4);
    assert_non_null(strstr(err.message, "timeout: no zvol device link for 'vm-1-disk-0' found after"));
    pvs_error_clear(&err);
    free(fx_teardown(&f));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases_agree_with_upstream),
        cmocka_unit_test(test_tag_with_colon),
        cmocka_unit_test(test_zfs_mounted_dataset_is_active),
        cmocka_unit_test(test_zfs_storages_in_callers_order),
        cmocka_unit_test(test_zfs_dry_run),
        cmocka_unit_test(test_zfs_zvol_wait_within_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
