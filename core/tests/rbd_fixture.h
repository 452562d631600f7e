/* rbd_fixture.h - what the tests against the real Ceph test cluster share:
 * the cluster (from the fixture's env file), a fresh root with a node's
 * /etc/pve per test, fake-rbd as the rbd command, and helpers to put the
 * emulated kernel in a state and read back what happened. */
#ifndef PVS_RBD_FIXTURE_H
#define PVS_RBD_FIXTURE_H

#include "helpers.h"
#include "internal.h"

#include <rados/librados.h>
#include <rbd/librbd.h>

#define FAKE_LOG_MAX 65536

static char cluster_conf[1024], cluster_keyring[1024], cluster_fsid[64], mon_addr[256];
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

static inline void read_env_file(void)
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
            /* "[v2:127.0.0.1:P,v1:127.0.0.1:Q]": the v1 address as a storage.cfg
             * monhost writes it (IP:PORT; upstream's format takes no "v2:") */
            char *s = strstr(v, "v1:");
            if (s)
                snprintf(mon_addr, sizeof mon_addr, "%.*s", (int)strcspn(s + 3, ",]"), s + 3);
        }
    }
    fclose(f);
}

static inline int group_setup(void **state)
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

static inline int group_teardown(void **state)
{
    (void)state;
    if (cluster)
        rados_shutdown(cluster);
    return 0;
}

/* create an image (in a namespace when ns) with the given features */
static inline void create_image(const char *ns, const char *name, uint64_t features)
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

/* remove an image a test made (the cluster outlives the test) */
static inline void remove_image(const char *ns, const char *name)
{
    rados_ioctx_t io;
    if (rados_ioctx_create(cluster, "rbd", &io) != 0)
        return;
    if (ns)
        rados_ioctx_set_namespace(io, ns);
    rbd_remove(io, name);
    rados_ioctx_destroy(io);
}

static inline uint64_t image_features(const char *ns, const char *name)
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

static inline void create_snap(const char *name, const char *snap)
{
    rados_ioctx_t io;
    assert_int_equal(rados_ioctx_create(cluster, "rbd", &io), 0);
    rbd_image_t img;
    assert_int_equal(rbd_open(io, name, &img, NULL), 0);
    assert_int_equal(rbd_snap_create(img, snap), 0);
    rbd_close(img);
    rados_ioctx_destroy(io);
}

static inline void cp_file(const char *from, const char *to)
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

static inline int setup(void **state)
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
             mon_addr, mon_addr);
    f->cfg = pvs_config_parse(f->ctx, "storage.cfg", text, strlen(text), NULL);
    assert_string_equal(f->w.buf, "");
    snprintf(f->log, sizeof f->log, "%s/rbd.log", f->root);
    setenv("FAKE_RBD_ROOT", f->root, 1);
    setenv("FAKE_RBD_FSID", cluster_fsid, 1);
    setenv("FAKE_RBD_LOG", f->log, 1);
    unsetenv("FAKE_RBD_FAIL");
    unsetenv("FAKE_RBD_OLD_PATHS");
    /* the whole pid: the plain and the sanitizer runs share one cluster, and
     * pid % 1000 of two runs can meet */
    snprintf(f->image, sizeof f->image, "vm-%d-disk-%d", 100 + image_counter, (int)getpid());
    image_counter++;
    create_image(NULL, f->image, RBD_FEATURE_LAYERING);
    snprintf(f->dev, sizeof f->dev, "/dev/rbd-pve/%s/rbd/%s", cluster_fsid, f->image);
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    fx *f = *state;
    if (!f)
        return 0;
    json_decref(f->cfg);
    pvs_ctx_free(f->ctx);
    remove_image(NULL, f->image);
    remove_tree(f->root);
    free(f->root);
    free(f);
    *state = NULL;
    return 0;
}

#define NEED_ROOT() do { if (geteuid() != 0) { skip(); } } while (0)

/* the argv lines fake-rbd recorded since the last call, then cleared */
static inline char *take_log(fx *f)
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

static inline void clear_warnings(fx *f)
{
    f->w.buf[0] = '\0';
    f->w.count = 0;
}

/* the connection arguments every rbd call of storage 'ceph' carries */
static inline void conn_args(fx *f, char *out, size_t size)
{
    snprintf(out, size,
             "\"-p\",\"rbd\",\"-c\",\"%s/etc/pve/ceph.conf\",\"--auth_supported\",\"cephx\",\"-n\","
             "\"client.admin\",\"--keyring\",\"%s/etc/pve/priv/ceph/ceph.keyring\"",
             f->root, f->root);
}

/* put the device in a state: 0 not mapped, 1 mapped without rxbounce,
 * 2 mapped with rxbounce, 3 mapped but config_info unreadable */
static inline void device_state(fx *f, int state)
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

static inline char *map_options(fx *f)
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

static inline json_t *hints_of(int gw, int pm)
{
    json_t *h = json_object();
    if (gw >= 0)
        json_object_set_new(h, "guest-is-windows", json_integer(gw));
    if (pm >= 0)
        json_object_set_new(h, "plugin-may-deactivate-volume", json_integer(pm));
    return h;
}

#endif
