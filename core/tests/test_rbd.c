/* test_rbd.c - the rbd plugin against a real Ceph cluster (one monitor, one
 * memstore OSD on loopback, started by scripts/ceph-fixture.sh) with the
 * kernel side emulated by fake-rbd.  The core's code paths are the real ones. */
#include "helpers.h"
#include "internal.h"

#include <rados/librados.h>
#include <rbd/librbd.h>

#define FAKE_LOG_MAX 65536

static char cluster_conf[1024], cluster_keyring[1024], cluster_fsid[64], mon_v2[256];
static rados_t cluster;
static int image_counter;

typedef struct fx {
    char *root;
    pvs_ctx *ctx;
    warnings w;
    json_t *cfg;
    char log[1100];
    char image[64];       /* a fresh image of this test */
    char dev[512];        /* its device path */
} fx;

static void read_env_file(void)
{
    const char *envfile = getenv("PVS_TEST_CEPH_ENV");
    char path[1024];
    if (!envfile || !*envfile) {
        const char *dir = getenv("PVS_CEPH_DIR");
        snprintf(path, sizeof path, "%s/env", dir ? dir : "");
        envfile = path;
    }
    FILE *f = fopen(envfile, "r");
    if (!f)
        fail_msg("no Ceph test cluster: cannot read %s (the ceph fixture should have started one)", envfile);
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *v = eq + 1;
        if (*v == '\'') {
            v++;
            v[strcspn(v, "'")] = '\0';
        }
        if (!strcmp(line, "CEPH_TEST_CONF"))
            snprintf(cluster_conf, sizeof cluster_conf, "%s", v);
        else if (!strcmp(line, "CEPH_TEST_KEYRING"))
            snprintf(cluster_keyring, sizeof cluster_keyring, "%s", v);
        else if (!strcmp(line, "CEPH_TEST_FSID"))
            snprintf(cluster_fsid, sizeof cluster_fsid, "%s", v);
        else if (!strcmp(line, "CEPH_TEST_MON_HOST")) {
            /* "[v2:127.0.0.1:P,v1:...]": the v2 address alone, as a storage.cfg monhost */
            char *s = strstr(v, "v2:");
            if (s)
                snprintf(mon_v2, sizeof mon_v2, "%.*s", (int)strcspn(s, ",]"), s);
        }
    }
    fclose(f);
}

static int group_setup(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("SKIP: test_rbd needs root (mknod of the emulated /dev/rbdN block nodes)\n");
        return 0;
    }
    read_env_file();
    if (rados_create2(&cluster, "ceph", "client.admin", 0) < 0 || rados_conf_read_file(cluster, cluster_conf) < 0
        || rados_conf_set(cluster, "keyring", cluster_keyring) < 0 || rados_connect(cluster) < 0)
        fail_msg("cannot connect to the test cluster (%s)", cluster_conf);
    rados_ioctx_t io;
    assert_int_equal(rados_ioctx_create(cluster, "rbd", &io), 0);
    rbd_namespace_create(io, "ns1");
    rados_ioctx_destroy(io);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (cluster)
        rados_shutdown(cluster);
    return 0;
}

/* create an image (in a namespace when ns) with the given features */
static void create_image(const char *ns, const char *name, uint64_t features)
{
    rados_ioctx_t io;
    assert_int_equal(rados_ioctx_create(cluster, "rbd", &io), 0);
    if (ns)
        rados_ioctx_set_namespace(io, ns);
    int order = 22;
    int rc = rbd_create2(io, name, 8 << 20, features, &order);
    if (rc < 0)
        fail_msg("rbd_create2 %s: %d", name, rc);
    rados_ioctx_destroy(io);
}

static uint64_t image_features(const char *ns, const char *name)
{
    rados_ioctx_t io;
    assert_int_equal(rados_ioctx_create(cluster, "rbd", &io), 0);
    if (ns)
        rados_ioctx_set_namespace(io, ns);
    rbd_image_t img;
    assert_int_equal(rbd_open(io, name, &img, NULL), 0);
    uint64_t f = 0;
    rbd_get_features(img, &f);
    rbd_close(img);
    rados_ioctx_destroy(io);
    return f;
}

static void create_snap(const char *name, const char *snap)
{
    rados_ioctx_t io;
    assert_int_equal(rados_ioctx_create(cluster, "rbd", &io), 0);
    rbd_image_t img;
    assert_int_equal(rbd_open(io, name, &img, NULL), 0);
    assert_int_equal(rbd_snap_create(img, snap), 0);
    rbd_close(img);
    rados_ioctx_destroy(io);
}

static void cp_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "r"), *b = fopen(to, "w");
    assert_non_null(a);
    assert_non_null(b);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0)
        fwrite(buf, 1, n, b);
    fclose(a);
    fclose(b);
}

static int setup(void **state)
{
    if (geteuid() != 0)
        return 0;
    fx *f = calloc(1, sizeof *f);
    f->root = make_tempdir();
    char p[1024], text[2048];
    snprintf(p, sizeof p, "%s/etc/pve/priv/ceph", f->root);
    mkdirs(p);
    snprintf(p, sizeof p, "%s/etc/pve/ceph.conf", f->root);
    cp_file(cluster_conf, p);
    snprintf(p, sizeof p, "%s/etc/pve/priv/ceph/ceph.keyring", f->root);
    cp_file(cluster_keyring, p);
    snprintf(p, sizeof p, "%s/etc/pve/priv/ceph/nsstore.keyring", f->root);
    cp_file(cluster_keyring, p);
    snprintf(p, sizeof p, "%s/etc/pve/priv/ceph/ext.keyring", f->root);
    cp_file(cluster_keyring, p);
    snprintf(p, sizeof p, "%s/etc/pve/priv/ceph/extlib.keyring", f->root);
    cp_file(cluster_keyring, p);
    f->ctx = test_ctx(&f->w);
    const char *fake = getenv("PVS_FAKE_RBD");
    assert_non_null(fake);
    assert_int_equal(pvs_ctx_set(f->ctx, "root", f->root, NULL), 0);
    assert_int_equal(pvs_ctx_set(f->ctx, "rbd_command", fake, NULL), 0);
    assert_int_equal(pvs_ctx_set(f->ctx, "kernel_version", "6.1", NULL), 0);
    assert_int_equal(pvs_ctx_set(f->ctx, "ceph_timeout", "10", NULL), 0);
    snprintf(text, sizeof text,
             "rbd: ceph\n\tpool rbd\n\tkrbd 1\n\tcontent images\n\n"
             "rbd: nsstore\n\tpool rbd\n\tnamespace ns1\n\tkrbd 1\n\n"
             "rbd: ext\n\tpool rbd\n\tmonhost %s\n\tkrbd 1\n\tusername admin\n\n"
             "rbd: lib\n\tpool rbd\n\tcontent images\n\n"
             "rbd: extlib\n\tmonhost %s\n",
             mon_v2, mon_v2);
    f->cfg = pvs_config_parse(f->ctx, "storage.cfg", text, strlen(text), NULL);
    assert_string_equal(f->w.buf, "");
    snprintf(f->log, sizeof f->log, "%s/rbd.log", f->root);
    setenv("FAKE_RBD_ROOT", f->root, 1);
    setenv("FAKE_RBD_FSID", cluster_fsid, 1);
    setenv("FAKE_RBD_LOG", f->log, 1);
    unsetenv("FAKE_RBD_FAIL");
    unsetenv("FAKE_RBD_OLD_PATHS");
    snprintf(f->image, sizeof f->image, "vm-%d-disk-%d", 100 + image_counter, getpid() % 1000);
    image_counter++;
    create_image(NULL, f->image, RBD_FEATURE_LAYERING);
    snprintf(f->dev, sizeof f->dev, "/dev/rbd-pve/%s/rbd/%s", cluster_fsid, f->image);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    if (!f)
        return 0;
    json_decref(f->cfg);
    pvs_ctx_free(f->ctx);
    remove_tree(f->root);
    free(f->root);
    free(f);
    *state = NULL;
    return 0;
}

#define NEED_ROOT() do { if (geteuid() != 0) { skip(); } } while (0)

/* the argv lines fake-rbd recorded since the last call, then cleared */
static char *take_log(fx *f)
{
    static char buf[FAKE_LOG_MAX];
    buf[0] = '\0';
    FILE *l = fopen(f->log, "r");
    if (l) {
        size_t n = fread(buf, 1, sizeof buf - 1, l);
        buf[n] = '\0';
        fclose(l);
        unlink(f->log);
    }
    return buf;
}

static void clear_warnings(fx *f)
{
    f->w.buf[0] = '\0';
    f->w.count = 0;
}

/* the connection arguments every rbd call of storage 'ceph' carries */
static void conn_args(fx *f, char *out, size_t size)
{
    snprintf(out, size,
             "\"-p\",\"rbd\",\"-c\",\"%s/etc/pve/ceph.conf\",\"--auth_supported\",\"cephx\",\"-n\","
             "\"client.admin\",\"--keyring\",\"%s/etc/pve/priv/ceph/ceph.keyring\"",
             f->root, f->root);
}

/* put the device in a state: 0 not mapped, 1 mapped without rxbounce,
 * 2 mapped with rxbounce, 3 mapped but config_info unreadable */
static void device_state(fx *f, int state)
{
    if (state == 0)
        return;
    char conf[1024], keyring[1024];
    snprintf(conf, sizeof conf, "%s/etc/pve/ceph.conf", f->root);
    snprintf(keyring, sizeof keyring, "%s/etc/pve/priv/ceph/ceph.keyring", f->root);
    const char *argv[] = { getenv("PVS_FAKE_RBD"), "-p", "rbd", "-c", conf, "--keyring", keyring, "map",
                           f->image, state == 2 ? "--options" : NULL, "rxbounce", NULL };
    pvs_run_result r;
    assert_int_equal(pvs_run(argv, 30, &r, NULL), 0);
    if (r.exit_status != 0)
        fail_msg("fake map failed: %s", r.err);
    pvs_run_result_clear(&r);
    if (state == 3) {
        char p[1024];
        snprintf(p, sizeof p, "%s/sys/devices/rbd/0/config_info", f->root);
        assert_int_equal(unlink(p), 0);
    }
    take_log(f);
}

static char *map_options(fx *f)
{
    static char buf[1024];
    char p[1024];
    snprintf(p, sizeof p, "%s/sys/devices/rbd/0/config_info", f->root);
    FILE *c = fopen(p, "r");
    if (!c)
        return NULL;
    char line[1024] = "";
    if (!fgets(line, sizeof line, c))
        line[0] = '\0';
    fclose(c);
    char *save, *a = strtok_r(line, " ", &save), *b = a ? strtok_r(NULL, " ", &save) : NULL;
    snprintf(buf, sizeof buf, "%s", b ? b : "");
    return buf;
}

static json_t *hints_of(int gw, int pm)
{
    json_t *h = json_object();
    if (gw >= 0)
        json_object_set_new(h, "guest-is-windows", json_integer(gw));
    if (pm >= 0)
        json_object_set_new(h, "plugin-may-deactivate-volume", json_integer(pm));
    return h;
}

/* ---- the decision table: gw {absent,0,1} x pm {absent,0,1} x device state ---- */

static void test_decision_table(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char conn[2048], volid[128];
    conn_args(f, conn, sizeof conn);
    snprintf(volid, sizeof volid, "ceph:%s", f->image);
    static const char *const states[] = { "not mapped", "mapped without rxbounce", "mapped with rxbounce",
                                          "config_info unreadable" };
    int cases = 0;
    for (int st = 0; st < 4; st++)
        for (int gw = -1; gw <= 1; gw++)
            for (int pm = -1; pm <= 1; pm++) {
                /* a clean kernel for each case */
                char d[1024];
                snprintf(d, sizeof d, "%s/dev", f->root);
                remove_tree(d);
                snprintf(d, sizeof d, "%s/sys", f->root);
                remove_tree(d);
                device_state(f, st);
                clear_warnings(f);
                json_t *h = hints_of(gw, pm);
                char *path = NULL;
                pvs_error err = PVS_ERROR_INIT;
                int rc = pvs_map_volume(f->ctx, f->cfg, volid, NULL, h, &path, &err);
                const char *log = take_log(f);
                char want_log[8192] = "", want_warn[1024] = "";
                const char *want_opts;
                int windows = gw == 1;
                if (st == 0) {
                    snprintf(want_log, sizeof want_log, "[%s,\"map\",\"%s\"%s]\n", conn, f->image,
                             windows ? ",\"--options\",\"rxbounce\"" : "");
                    want_opts = windows ? "name=admin,key=client.admin,rxbounce" : "name=admin,key=client.admin";
                } else if (st == 1 && windows && pm == 1) {
                    snprintf(want_log, sizeof want_log, "[%s,\"unmap\",\"%s\"]\n[%s,\"map\",\"%s\",\"--options\",\"rxbounce\"]\n",
                             conn, f->dev, conn, f->image);
                    want_opts = "name=admin,key=client.admin,rxbounce";
                } else if (st == 1) {
                    if (windows)
                        snprintf(want_warn, sizeof want_warn,
                                 "not unmapping volume %s to apply rxbounce since it is not safe\n", f->image);
                    want_opts = "name=admin,key=client.admin";
                } else if (st == 2) {
                    want_opts = "name=admin,key=client.admin,rxbounce";
                } else {
                    if (windows)
                        snprintf(want_warn, sizeof want_warn,
                                 "cannot read map options of /dev/rbd0, not remapping volume %s\n", f->image);
                    want_opts = NULL;
                }
                if (rc != 0)
                    fail_msg("[%s gw=%d pm=%d] map failed: %s", states[st], gw, pm, err.message);
                if (strcmp(log, want_log))
                    fail_msg("[%s gw=%d pm=%d] rbd calls:\n%s\nexpected:\n%s", states[st], gw, pm, log, want_log);
                if (strcmp(f->w.buf, want_warn))
                    fail_msg("[%s gw=%d pm=%d] warnings: [%s] expected [%s]", states[st], gw, pm, f->w.buf, want_warn);
                assert_string_equal(path, f->dev);
                const char *opts = map_options(f);
                if (want_opts)
                    assert_string_equal(opts, want_opts);
                else
                    assert_null(opts);
                free(path);
                json_decref(h);
                cases++;
            }
    assert_int_equal(cases, 36);
}

static void test_unmap_fails_during_remap(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char volid[128], want[2048];
    snprintf(volid, sizeof volid, "ceph:%s", f->image);
    device_state(f, 1);
    setenv("FAKE_RBD_FAIL", "unmap", 1);
    json_t *h = hints_of(1, 1);
    char *path = NULL;
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, volid, NULL, h, &path, &err), 0);
    snprintf(want, sizeof want, "could not unmap to apply rxbounce - can't unmap rbd device %s: "
             "rbd: unmap failed: (16) Device or resource busy\n", f->dev);
    assert_string_equal(f->w.buf, want);
    assert_string_equal(path, f->dev);   /* still mapped, path returned */
    assert_string_equal(map_options(f), "name=admin,key=client.admin");
    assert_non_null(strstr(take_log(f), "\"unmap\""));
    free(path);
    json_decref(h);
}

static void test_map_fails(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char volid[128], want[256];
    snprintf(volid, sizeof volid, "ceph:%s", f->image);
    setenv("FAKE_RBD_FAIL", "map", 1);
    char *path = NULL;
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, volid, NULL, NULL, &path, &err), PVS_ECOMMAND);
    snprintf(want, sizeof want, "can't map rbd volume %s: rbd: map failed: (5) Input/output error\n", f->image);
    assert_string_equal(err.message, want);
    assert_int_equal(err.exit_status, 5);
    assert_non_null(strstr(err.stderr_text, "rbd: sysfs write failed\nrbd: map failed: (5) Input/output error\n"));
    assert_null(path);
    pvs_error_clear(&err);
}

static void test_image_missing(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char *path = NULL;
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, "ceph:vm-999-disk-404", NULL, NULL, &path, &err), PVS_ENOENT);
    assert_string_equal(err.message, "rbd error: rbd: error opening image vm-999-disk-404: (2) No such file or directory\n");
    assert_string_equal(take_log(f), "");   /* no map attempted */
    const char *vols[] = { "ceph:vm-999-disk-404" };
    assert_int_equal(pvs_activate_volumes(f->ctx, f->cfg, vols, 1, NULL, NULL, &err), PVS_ENOENT);
    assert_string_equal(take_log(f), "");
    /* a missing snapshot, likewise */
    char volid[128];
    snprintf(volid, sizeof volid, "ceph:%s", f->image);
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, volid, "nosnap", NULL, &path, &err), PVS_ENOENT);
    assert_non_null(strstr(err.message, "snapshot 'nosnap'"));
    assert_string_equal(take_log(f), "");
    pvs_error_clear(&err);
}

static void test_cluster_unreachable(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    /* a port nothing listens on */
    char text[512];
    snprintf(text, sizeof text, "rbd: dead\n\tpool rbd\n\tmonhost v2:127.0.0.1:9\n\tkrbd 1\n");
    json_t *cfg = pvs_config_parse(f->ctx, "storage.cfg", text, strlen(text), NULL);
    assert_int_equal(pvs_ctx_set(f->ctx, "ceph_timeout", "2", NULL), 0);
    time_t t0 = time(NULL);
    char *path = NULL;
    pvs_error err = PVS_ERROR_INIT;
    int rc = pvs_map_volume(f->ctx, cfg, "dead:vm-100-disk-0", NULL, NULL, &path, &err);
    time_t took = time(NULL) - t0;
    assert_true(rc == PVS_ETIMEDOUT || rc == PVS_ECLUSTER);
    assert_string_equal(err.message, "rbd error: cannot connect to the cluster of storage 'dead': (110) Connection timed out\n");
    if (took > 8)
        fail_msg("an unreachable cluster took %lds with ceph_timeout 2", (long)took);
    assert_string_equal(take_log(f), "");
    pvs_error_clear(&err);
    json_decref(cfg);
}

static void test_namespace_and_snapshot(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    create_image("ns1", f->image, RBD_FEATURE_LAYERING);
    char volid[128], want[2048], dev[512];
    snprintf(volid, sizeof volid, "nsstore:%s", f->image);
    char *path = NULL;
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, volid, NULL, NULL, &path, &err), 0);
    snprintf(dev, sizeof dev, "/dev/rbd-pve/%s/rbd/ns1/%s", cluster_fsid, f->image);
    assert_string_equal(path, dev);
    free(path);
    snprintf(want, sizeof want,
             "[\"-p\",\"rbd\",\"--namespace\",\"ns1\",\"-c\",\"%s/etc/pve/ceph.conf\",\"--auth_supported\",\"cephx\","
             "\"-n\",\"client.admin\",\"--keyring\",\"%s/etc/pve/priv/ceph/nsstore.keyring\",\"map\",\"%s\"]\n",
             f->root, f->root, f->image);
    assert_string_equal(take_log(f), want);
    assert_true(image_features("ns1", f->image) & RBD_FEATURE_OBJECT_MAP);
    /* unmap carries no --namespace */
    assert_int_equal(pvs_unmap_volume(f->ctx, f->cfg, volid, NULL, &err), 0);
    snprintf(want, sizeof want,
             "[\"-p\",\"rbd\",\"-c\",\"%s/etc/pve/ceph.conf\",\"--auth_supported\",\"cephx\","
             "\"-n\",\"client.admin\",\"--keyring\",\"%s/etc/pve/priv/ceph/nsstore.keyring\",\"unmap\",\"%s\"]\n",
             f->root, f->root, dev);
    assert_string_equal(take_log(f), want);

    /* a snapshot maps as IMAGE@SNAP; features change on the image */
    create_snap(f->image, "s1");
    snprintf(volid, sizeof volid, "ceph:%s", f->image);
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, volid, "s1", NULL, &path, &err), 0);
    snprintf(dev, sizeof dev, "/dev/rbd-pve/%s/rbd/%s@s1", cluster_fsid, f->image);
    assert_string_equal(path, dev);
    free(path);
    assert_non_null(strstr(take_log(f), "\"map\",\"") );
    assert_true(image_features(NULL, f->image) & RBD_FEATURE_EXCLUSIVE_LOCK);
    pvs_error_clear(&err);
}

static void test_features_follow_kernel(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char volid[128];
    snprintf(volid, sizeof volid, "ceph:%s", f->image);
    char *path = NULL;
    assert_int_equal(image_features(NULL, f->image), RBD_FEATURE_LAYERING);
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, volid, NULL, NULL, &path, NULL), 0);
    free(path);
    assert_int_equal(image_features(NULL, f->image), RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK
                                                         | RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_FAST_DIFF);
    assert_int_equal(pvs_unmap_volume(f->ctx, f->cfg, volid, NULL, NULL), 0);
    /* kernel 5.0: fast-diff/object-map off, exclusive-lock stays */
    assert_int_equal(pvs_ctx_set(f->ctx, "kernel_version", "5.0", NULL), 0);
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, volid, NULL, NULL, &path, NULL), 0);
    free(path);
    assert_int_equal(image_features(NULL, f->image), RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK);
    assert_int_equal(pvs_unmap_volume(f->ctx, f->cfg, volid, NULL, NULL), 0);
    /* kernel 4.19: everything but layering off */
    assert_int_equal(pvs_ctx_set(f->ctx, "kernel_version", "4.19", NULL), 0);
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, volid, NULL, NULL, &path, NULL), 0);
    free(path);
    assert_int_equal(image_features(NULL, f->image), RBD_FEATURE_LAYERING);
    assert_string_equal(f->w.buf, "");
}

static void test_hostile_names(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    pvs_error err = PVS_ERROR_INIT;
    char *path = NULL;
    static const char *const bad[] = { "vm-100-disk-0;rm -rf /", "vm-100-disk-0/../../../etc/passwd",
                                       "../vm-100-disk-0", "vm-100-disk-0 x", "disk-0", "vm-abc-disk" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char volid[256], want[300];
        snprintf(volid, sizeof volid, "ceph:%s", bad[i]);
        snprintf(want, sizeof want, "unable to parse rbd volume name '%s'\n", bad[i]);
        assert_int_equal(pvs_map_volume(f->ctx, f->cfg, volid, NULL, NULL, &path, &err), PVS_EINVAL);
        assert_string_equal(err.message, want);
    }
    /* shell syntax that is a valid name reaches nobody's shell */
    unlink("pvs-pwned");
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, "ceph:vm-100-$(id>pvs-pwned)`id>pvs-pwned`", NULL, NULL,
                                    &path, &err), PVS_ENOENT);
    assert_string_equal(err.message, "rbd error: rbd: error opening image vm-100-$(id>pvs-pwned)`id>pvs-pwned`: "
                                     "(2) No such file or directory\n");
    assert_int_not_equal(access("pvs-pwned", F_OK), 0);
    assert_string_equal(take_log(f), "");
    pvs_error_clear(&err);
}

static void test_old_dev_path(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    setenv("FAKE_RBD_OLD_PATHS", "1", 1);
    device_state(f, 1);
    char volid[128], old[512];
    snprintf(volid, sizeof volid, "ceph:%s", f->image);
    snprintf(old, sizeof old, "/dev/rbd/rbd/%s", f->image);
    char *path = NULL;
    assert_int_equal(pvs_path(f->ctx, f->cfg, volid, NULL, &path, NULL), 0);
    assert_string_equal(path, old);   /* cluster_fsid matches: the old path */
    free(path);
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, volid, NULL, NULL, &path, NULL), 0);
    assert_string_equal(path, old);
    free(path);
    assert_string_equal(take_log(f), "");
    /* another cluster's device at the old path is not ours */
    char p[1024];
    snprintf(p, sizeof p, "%s/sys/devices/rbd/0/cluster_fsid", f->root);
    write_file(p, "00000000-0000-0000-0000-000000000000\n");
    assert_int_equal(pvs_path(f->ctx, f->cfg, volid, NULL, &path, NULL), 0);
    assert_string_equal(path, f->dev);
    free(path);
}

static void test_paths_and_activation(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char volid[128], want[2048];
    char *path = NULL;
    pvs_error err = PVS_ERROR_INIT;
    /* librbd access: QEMU's rbd: string */
    snprintf(volid, sizeof volid, "lib:%s", f->image);
    assert_int_equal(pvs_path(f->ctx, f->cfg, volid, NULL, &path, &err), 0);
    snprintf(want, sizeof want, "rbd:rbd/%s:conf=%s/etc/pve/ceph.conf", f->image, f->root);
    assert_string_equal(path, want);
    free(path);
    assert_int_equal(pvs_path(f->ctx, f->cfg, "ext:vm-1-disk-0", "snap", &path, &err), 0);
    char mon_escaped[512] = "";
    for (const char *c = mon_v2; *c; c++)
        strncat(mon_escaped, *c == ':' ? "\\:" : (char[]){ *c, 0 }, sizeof mon_escaped - strlen(mon_escaped) - 1);
    snprintf(want, sizeof want, "/dev/rbd-pve/%s/rbd/vm-1-disk-0@snap", cluster_fsid);
    assert_string_equal(path, want);   /* krbd: the device, fsid asked from the cluster */
    free(path);
    assert_int_equal(pvs_path(f->ctx, f->cfg, "extlib:vm-1-disk-0", NULL, &path, &err), 0);
    snprintf(want, sizeof want, "rbd:rbd/vm-1-disk-0:mon_host=%s:auth_supported=cephx:id=admin:keyring=%s/etc/pve/priv/ceph/extlib.keyring",
             mon_escaped, f->root);
    assert_string_equal(path, want);
    free(path);
    /* activation without krbd does nothing; with krbd it maps */
    const char *lib[] = { volid };
    assert_int_equal(pvs_activate_volumes(f->ctx, f->cfg, lib, 1, NULL, NULL, &err), 0);
    assert_string_equal(take_log(f), "");
    /* external cluster: -m, its keyring, the fsid from the cluster */
    snprintf(volid, sizeof volid, "ext:%s", f->image);
    json_t *h = hints_of(1, 1);
    const char *ext[] = { volid };
    assert_int_equal(pvs_activate_volumes(f->ctx, f->cfg, ext, 1, NULL, h, &err), 0);
    snprintf(want, sizeof want,
             "[\"-p\",\"rbd\",\"-m\",\"%s\",\"--auth_supported\",\"cephx\",\"-n\",\"client.admin\","
             "\"--keyring\",\"%s/etc/pve/priv/ceph/ext.keyring\",\"map\",\"%s\",\"--options\",\"rxbounce\"]\n",
             mon_v2, f->root, f->image);
    assert_string_equal(take_log(f), want);
    assert_int_equal(pvs_deactivate_volumes(f->ctx, f->cfg, ext, 1, NULL, &err), 0);
    assert_non_null(strstr(take_log(f), "\"unmap\""));
    json_decref(h);
    pvs_error_clear(&err);
}

static void test_activate_many(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char names[5][64], volids[5][400];
    const char *vols[5];
    for (int i = 0; i < 5; i++) {
        snprintf(names[i], sizeof names[i], "vm-%d-disk-%d", 500 + i, getpid() % 1000);
        create_image(NULL, names[i], RBD_FEATURE_LAYERING);
        snprintf(volids[i], sizeof volids[i], "ceph:%s", names[i]);
        vols[i] = volids[i];
    }
    json_t *h = hints_of(1, 1);
    pvs_error err = PVS_ERROR_INIT;
    /* a custom config for a managed cluster's storage is ignored, said once per call */
    char custom[1024];
    snprintf(custom, sizeof custom, "%s/etc/pve/priv/ceph/ceph.conf", f->root);
    write_file(custom, "[global]\n");
    clear_warnings(f);
    assert_int_equal(pvs_activate_volumes(f->ctx, f->cfg, vols, 5, NULL, h, &err), 0);
    assert_string_equal(f->w.buf, "ignoring custom ceph config for storage 'ceph', 'monhost' is not set "
                                  "(assuming pveceph managed cluster)!\n");
    unlink(custom);
    const char *log = take_log(f);
    const char *p = log;
    for (int i = 0; i < 5; i++) {   /* mapped in order */
        char needle[512];
        snprintf(needle, sizeof needle, "\"map\",\"%s\",\"--options\",\"rxbounce\"]", names[i]);
        p = strstr(p, needle);
        if (!p)
            fail_msg("map of %s missing or out of order in:\n%s", names[i], log);
        assert_true(image_features(NULL, names[i]) & RBD_FEATURE_FAST_DIFF);
    }
    /* again: all mapped with rxbounce, nothing to do */
    assert_int_equal(pvs_activate_volumes(f->ctx, f->cfg, vols, 5, NULL, h, &err), 0);
    assert_string_equal(take_log(f), "");
    assert_int_equal(pvs_deactivate_volumes(f->ctx, f->cfg, vols, 5, NULL, &err), 0);
    json_decref(h);
}

/* the command, as an operator runs it */
static void test_cli(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char cfgpath[1024], text[256], volid[128], want[1024];
    snprintf(cfgpath, sizeof cfgpath, "%s/etc/pve/storage.cfg", f->root);
    snprintf(text, sizeof text, "rbd: ceph\n\tpool rbd\n\tkrbd 1\n");
    write_file(cfgpath, text);   /* ROOT/etc/pve/storage.cfg: the default */
    snprintf(volid, sizeof volid, "ceph:%s", f->image);
    const char *cli = getenv("PVS_CLI"), *fake = getenv("PVS_FAKE_RBD");
    assert_non_null(cli);
    const char *map[] = { cli, "--root", f->root, "--rbd-command", fake, "--kernel-version", "6.1", "--json",
                          "map", volid, "--hint", "guest-is-windows=1", "--hint", "plugin-may-deactivate-volume=1",
                          NULL };
    pvs_run_result r;
    assert_int_equal(pvs_run(map, 60, &r, NULL), 0);
    snprintf(want, sizeof want, "{\"volid\":\"%s\",\"path\":\"%s\"}\n", volid, f->dev);
    assert_int_equal(r.exit_status, 0);
    assert_string_equal(r.out, want);
    pvs_run_result_clear(&r);
    assert_string_equal(map_options(f), "name=admin,key=client.admin,rxbounce");
    const char *unmap[] = { cli, "--root", f->root, "--rbd-command", fake, "unmap", volid, NULL };
    assert_int_equal(pvs_run(unmap, 60, &r, NULL), 0);
    assert_int_equal(r.exit_status, 0);
    pvs_run_result_clear(&r);
    assert_null(map_options(f));
    const char *missing[] = { cli, "--root", f->root, "--rbd-command", fake, "map", "ceph:vm-999-disk-404", NULL };
    assert_int_equal(pvs_run(missing, 60, &r, NULL), 0);
    assert_int_equal(r.exit_status, 1);
    assert_string_equal(r.err, "rbd error: rbd: error opening image vm-999-disk-404: (2) No such file or directory\n");
    pvs_run_result_clear(&r);
}

static void test_parse_volname(void **state)
{
    (void)state;
    pvs_ctx *ctx = test_ctx(NULL);
    const pvs_plugin *p = pvs_plugin_lookup(ctx, "rbd", NULL);
    pvs_volname v;
    assert_int_equal(pvs_plugin_parse_volname(p, "vm-100-disk-0", &v, NULL), 0);
    assert_string_equal(v.vtype, "images");
    assert_string_equal(v.name, "vm-100-disk-0");
    assert_string_equal(v.vmid, "100");
    assert_null(v.basename);
    assert_null(v.isbase);
    assert_string_equal(v.format, "raw");
    pvs_volname_clear(&v);
    assert_int_equal(pvs_plugin_parse_volname(p, "base-100-disk-0/vm-101-disk-0", &v, NULL), 0);
    assert_string_equal(v.name, "vm-101-disk-0");
    assert_string_equal(v.vmid, "101");
    assert_string_equal(v.basename, "base-100-disk-0");
    assert_string_equal(v.basevmid, "100");
    assert_null(v.isbase);
    pvs_volname_clear(&v);
    assert_int_equal(pvs_plugin_parse_volname(p, "base-100-disk-0", &v, NULL), 0);
    assert_string_equal(v.isbase, "base");
    pvs_volname_clear(&v);
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_plugin_parse_volname(p, "vm-100-disk-0/vm-101-disk-0", &v, &err), PVS_EINVAL);
    assert_string_equal(err.message, "unable to parse rbd volume name 'vm-100-disk-0/vm-101-disk-0'\n");
    pvs_error_clear(&err);
    pvs_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_volname),
        cmocka_unit_test_setup_teardown(test_decision_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unmap_fails_during_remap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cluster_unreachable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_namespace_and_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_features_follow_kernel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_dev_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paths_and_activation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_activate_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
