/* test_rbd.c - the rbd plugin against a real Ceph cluster (one monitor, one
 * memstore OSD on loopback, started by scripts/ceph-fixture.sh) with the
 * kernel side emulated by fake-rbd.  The core's code paths are the real ones. */
#include "rbd_fixture.h"

#include <signal.h>
#include <sys/wait.h>

/* ---- the decision table: gw {absent,0,1} x pm {absent,0,1} x device state ---- */

/* a clean emulated kernel, the device in state st (see device_state) */
static void reset_kernel(fx *f, int st)
{
    char d[1024];
    snprintf(d, sizeof d, "%s/dev", f->root);
    remove_tree(d);
    snprintf(d, sizeof d, "%s/sys", f->root);
    remove_tree(d);
    device_state(f, st);
    clear_warnings(f);
}

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
                reset_kernel(f, st);   /* a clean kernel for each case */
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
    /* upstream's run_rbd_command reports the line before rbd's last one, and
     * its warn adds a newline to the message's own */
    snprintf(want, sizeof want, "could not unmap to apply rxbounce - can't unmap rbd device %s: "
             "rbd: sysfs write failed\n\n", f->dev);
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
    snprintf(want, sizeof want, "can't map rbd volume %s: rbd: sysfs write failed\n", f->image);
    assert_string_equal(err.message, want);
    assert_int_equal(err.exit_status, 5);
    assert_non_null(strstr(err.stderr_text, "rbd: sysfs write failed\nrbd: map failed: (5) Input/output error\n"));
    assert_null(path);
    pvs_error_clear(&err);
}

/* upstream's run_rbd_command, line by line: an rbd whose map fails with a
 * given stderr (a script in front of fake-rbd) */
static void test_rbd_error_lines(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    static const struct { const char *stderr_text; int code; const char *want; } cases[] = {
        /* the line before the last, its librbd log prefix dropped */
        { "2024-01-02 03:04:05.123456 7f09f94d0760 -1 librbd: image is locked\nrbd: map failed: (16) busy\n", 16,
          "image is locked" },
        /* one line: that one */
        { "rbd: oops\n", 1, "rbd: oops" },
        /* the last line empty (Perl-false): the one before it */
        { "rbd: first\nrbd: second\n\n", 1, "rbd: second" },
        /* \r ends a line too */
        { "progress 10%\rrbd: failed\r", 1, "progress 10%" },
        /* nothing said */
        { "", 3, "exit code 3" },
    };
    char script[1024], volid[128], want[512];
    snprintf(script, sizeof script, "%s/failing-rbd", f->root);
    snprintf(volid, sizeof volid, "ceph:%s", f->image);
    assert_int_equal(pvs_ctx_set(f->ctx, "rbd_command", script, NULL), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[2048];
        snprintf(text, sizeof text, "#!/bin/sh\ncase \" $* \" in *\" map \"*) printf '%%s' '%s' >&2; exit %d;; esac\n"
                                    "exec %s \"$@\"\n", cases[i].stderr_text, cases[i].code, getenv("PVS_FAKE_RBD"));
        write_file(script, text);
        chmod(script, 0755);
        char *path = NULL;
        pvs_error err = PVS_ERROR_INIT;
        assert_int_equal(pvs_map_volume(f->ctx, f->cfg, volid, NULL, NULL, &path, &err), PVS_ECOMMAND);
        snprintf(want, sizeof want, "can't map rbd volume %s: %s\n", f->image, cases[i].want);
        assert_string_equal(err.message, want);
        pvs_error_clear(&err);
    }
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
    snprintf(text, sizeof text, "rbd: dead\n\tpool rbd\n\tmonhost 127.0.0.1:9\n\tkrbd 1\n");
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
    for (const char *c = mon_addr; *c; c++)
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
    /* an external cluster without a ceph.conf of its own: reading (path,
     * above) wrote nothing; the first call that runs rbd writes one naming
     * its keyring right before its command (upstream's
     * ceph_create_configuration), and the calls after it use it */
    char conf[1024], text[2048];
    snprintf(conf, sizeof conf, "%s/etc/pve/priv/ceph/ext.conf", f->root);
    assert_int_equal(access(conf, F_OK), -1);
    assert_int_equal(pvs_activate_volumes(f->ctx, f->cfg, ext, 1, NULL, h, &err), 0);
    snprintf(want, sizeof want,
             "[\"-p\",\"rbd\",\"-m\",\"%s\",\"--auth_supported\",\"cephx\",\"-n\",\"client.admin\","
             "\"--keyring\",\"%s/etc/pve/priv/ceph/ext.keyring\",\"map\",\"%s\",\"--options\",\"rxbounce\"]\n",
             mon_addr, f->root, f->image);
    assert_string_equal(take_log(f), want);
    FILE *cf = fopen(conf, "r");
    assert_non_null(cf);
    size_t tn = fread(text, 1, sizeof text - 1, cf);
    fclose(cf);
    text[tn] = '\0';
    snprintf(want, sizeof want, "[global]\n\tkeyring = %s/etc/pve/priv/ceph/ext.keyring\n\n", f->root);
    assert_string_equal(text, want);
    assert_int_equal(pvs_deactivate_volumes(f->ctx, f->cfg, ext, 1, NULL, &err), 0);
    snprintf(want, sizeof want, "[\"-p\",\"rbd\",\"-c\",\"%s\",\"-m\",", conf);
    assert_non_null(strstr(take_log(f), want));   /* the next call: with it */
    json_decref(h);
    pvs_error_clear(&err);
}

/* deactivation unmaps a mapped device whatever krbd says now (upstream
 * calls unmap_volume unconditionally): krbd may have been switched off
 * while the guest ran */
static void test_deactivate_after_krbd_off(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    pvs_error err = PVS_ERROR_INIT;
    char volid[128];
    snprintf(volid, sizeof volid, "ceph:%s", f->image);
    const char *vols[] = { volid };
    assert_int_equal(pvs_activate_volumes(f->ctx, f->cfg, vols, 1, NULL, NULL, &err), 0);
    assert_non_null(strstr(take_log(f), "\"map\""));
    json_t *cfg = json_deep_copy(f->cfg);
    json_object_set_new(json_object_get(json_object_get(cfg, "ids"), "ceph"), "krbd", json_integer(0));
    assert_int_equal(pvs_deactivate_volumes(f->ctx, cfg, vols, 1, NULL, &err), 0);
    assert_non_null(strstr(take_log(f), "\"unmap\""));
    /* nothing mapped: nothing to do */
    assert_int_equal(pvs_deactivate_volumes(f->ctx, cfg, vols, 1, NULL, &err), 0);
    assert_string_equal(take_log(f), "");
    json_decref(cfg);
    pvs_error_clear(&err);
}

/* upstream prints the features it changes on stdout: the info sink gets
 * that line (a fresh image with layering alone, kernel 6.1) */
static void test_feature_change_info(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    warnings info;
    memset(&info, 0, sizeof info);
    pvs_ctx_set_info(f->ctx, collect_warning, &info);
    pvs_error err = PVS_ERROR_INIT;
    char volid[128], *path = NULL;
    snprintf(volid, sizeof volid, "ceph:%s", f->image);
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, volid, NULL, NULL, &path, &err), 0);
    free(path);
    assert_string_equal(info.buf, "enable RBD image features this kernel RBD drivers supports: "
                                  "fast-diff,object-map,exclusive-lock\n");
    assert_string_equal(f->w.buf, "");
    pvs_ctx_set_info(f->ctx, NULL, NULL);
    pvs_error_clear(&err);
}

/* a sink that notes whether the volume was mapped when a message came */
typedef struct seen_while {
    fx *f;
    int unmapped_messages, messages;
} seen_while;

static void note_device(void *data, const char *msg)
{
    (void)msg;
    seen_while *s = data;
    char p[1024];
    snprintf(p, sizeof p, "%s%s", s->f->root, s->f->dev);
    s->messages++;
    s->unmapped_messages += access(p, F_OK) != 0;
}

/* nothing reaches the sinks between the unmap of a remap and the map that
 * restores the volume (a dying handler or a closed output there would
 * leave the disk unmapped): the feature change's line comes after the map */
static void test_nothing_written_while_unmapped(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    seen_while s = { f, 0, 0 };
    pvs_ctx_set_info(f->ctx, note_device, &s);
    pvs_ctx_set_warn(f->ctx, note_device, &s);
    device_state(f, 1);
    char volid[128], *path = NULL;
    snprintf(volid, sizeof volid, "ceph:%s", f->image);
    json_t *h = hints_of(1, 1);
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, volid, NULL, h, &path, &err), 0);
    assert_int_equal(s.messages, 1);   /* "enable RBD image features ..." */
    assert_int_equal(s.unmapped_messages, 0);
    assert_string_equal(map_options(f), "name=admin,key=client.admin,rxbounce");
    free(path);
    json_decref(h);
    pvs_ctx_set_info(f->ctx, NULL, NULL);
    take_log(f);
}

static void test_activate_many(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char names[5][64], volids[5][400];
    const char *vols[5];
    for (int i = 0; i < 5; i++) {
        snprintf(names[i], sizeof names[i], "vm-%d-disk-%d", 500 + i, (int)getpid());
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

/* ---- outcomes: each action, and a dry run that plans what the real call does ---- */


/* the one record of a map_volume_report call, checked for what every record has */
static json_t *one_record(json_t *report, const char *volid)
{
    assert_int_equal(json_array_size(report), 1);
    json_t *r = json_array_get(report, 0);
    assert_string_equal(json_string_value(json_object_get(r, "volid")), volid);
    assert_true(json_is_array(json_object_get(r, "warnings")));
    return r;
}

static void test_report_actions(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char volid[128];
    snprintf(volid, sizeof volid, "ceph:%s", f->image);
    /* kernel state, may-deactivate -> the action (a Windows guest) */
    static const struct { int st, pm; const char *action; } cases[] = {
        { 0, 1, "mapped" }, { 1, 1, "remapped" }, { 1, 0, "remap-skipped-unsafe" },
        { 2, 1, "already-mapped" }, { 3, 1, "options-unknown" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reset_kernel(f, cases[i].st);
        char before[1024];
        snprintf(before, sizeof before, "%s", map_options(f) ? map_options(f) : "(none)");
        json_t *h = hints_of(1, cases[i].pm), *plan = NULL, *done = NULL;
        pvs_error err = PVS_ERROR_INIT;
        char *path = NULL;
        /* the dry run: every read, no rbd command, the kernel as it was */
        assert_int_equal(pvs_map_volume_report(f->ctx, f->cfg, volid, NULL, h, PVS_DRY_RUN, &path, &plan, &err), 0);
        assert_string_equal(take_log(f), "");
        assert_string_equal(map_options(f) ? map_options(f) : "(none)", before);
        assert_string_equal(path, f->dev);
        free(path);
        json_t *p = one_record(plan, volid);
        if (strcmp(json_string_value(json_object_get(p, "action")), cases[i].action))
            fail_msg("case %zu dry run: %s, expected %s", i, json_string_value(json_object_get(p, "action")),
                     cases[i].action);
        /* the real call does what the plan said, with the same commands */
        clear_warnings(f);
        assert_int_equal(pvs_map_volume_report(f->ctx, f->cfg, volid, NULL, h, 0, &path, &done, &err), 0);
        free(path);
        json_t *d = one_record(done, volid);
        assert_string_equal(json_string_value(json_object_get(d, "action")), cases[i].action);
        json_t *dc = json_object_get(d, "commands"), *pc = json_object_get(p, "commands");
        assert_true((!dc && !pc) || json_equal(dc, pc));   /* none at all, or the same */
        size_t ncmd = json_array_size(json_object_get(d, "commands")), lines = 0;
        for (const char *l = take_log(f); (l = strchr(l, '\n')); l++)
            lines++;
        assert_int_equal(lines, ncmd);
        /* options before and after, as the kernel has them */
        json_t *ob = json_object_get(d, "options_before"), *oa = json_object_get(d, "options_after");
        if (cases[i].st == 0)
            assert_true(json_is_null(ob));
        if (cases[i].st == 3)
            assert_true(json_is_null(ob) && json_is_null(oa));
        if (!strcmp(cases[i].action, "mapped") || !strcmp(cases[i].action, "remapped"))
            assert_string_equal(json_string_value(oa), "name=admin,key=client.admin,rxbounce");
        if (!strcmp(cases[i].action, "remapped"))
            assert_string_equal(json_string_value(ob), "name=admin,key=client.admin");
        /* the warning is the volume's */
        if (!strcmp(cases[i].action, "remap-skipped-unsafe")) {
            char w[512];
            snprintf(w, sizeof w, "not unmapping volume %s to apply rxbounce since it is not safe", f->image);
            assert_string_equal(json_string_value(json_array_get(json_object_get(d, "warnings"), 0)), w);
        }
        json_decref(plan);
        json_decref(done);
        json_decref(h);
    }
    /* the unmap of a remap fails: the volume stays as it was, and says so */
    reset_kernel(f, 1);
    setenv("FAKE_RBD_FAIL", "unmap", 1);
    json_t *h = hints_of(1, 1), *rep = NULL;
    pvs_error err = PVS_ERROR_INIT;
    char *path = NULL;
    assert_int_equal(pvs_map_volume_report(f->ctx, f->cfg, volid, NULL, h, 0, &path, &rep, &err), 0);
    unsetenv("FAKE_RBD_FAIL");
    free(path);
    assert_string_equal(json_string_value(json_object_get(one_record(rep, volid), "action")), "remap-failed");
    json_decref(rep);
    take_log(f);
    /* a missing image: the volume failed, with the call's message */
    const char *vols[] = { volid, "ceph:vm-999-disk-404" };
    reset_kernel(f, 0);
    assert_int_equal(pvs_activate_volumes_report(f->ctx, f->cfg, vols, 2, NULL, h, 0, &rep, &err), PVS_ENOENT);
    assert_int_equal(json_array_size(rep), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rep, 0), "action")), "mapped");
    json_t *bad = json_array_get(rep, 1);
    assert_string_equal(json_string_value(json_object_get(bad, "action")), "failed");
    assert_string_equal(json_string_value(json_object_get(bad, "error")),
                        "rbd error: rbd: error opening image vm-999-disk-404: (2) No such file or directory");
    pvs_error_clear(&err);
    json_decref(rep);
    /* a librbd storage (no krbd): QEMU opens the image itself, nothing to map */
    char lib[128];
    snprintf(lib, sizeof lib, "lib:%s", f->image);
    const char *libvol[] = { lib };
    assert_int_equal(pvs_activate_volumes_report(f->ctx, f->cfg, libvol, 1, NULL, h, 0, &rep, &err), 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rep, 0), "action")), "activated");
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(rep, 0), "path")), "rbd:rbd/"));
    json_decref(rep);
    /* the plan of the same list: the first volume is already mapped now */
    assert_int_equal(pvs_activate_volumes_report(f->ctx, f->cfg, vols, 1, NULL, h, PVS_DRY_RUN, &rep, &err), 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rep, 0), "action")), "already-mapped");
    json_decref(rep);
    take_log(f);
    json_decref(h);
}

/* the VM-start flow: a Windows 11 guest with its disk, EFI disk and TPM
 * state on krbd and a cdrom iso on dir, each mapped with rxbounce in
 * qemu-server's order; the dry run plans exactly that and changes nothing */
static void test_vm_start_flow(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char efi[64], tpm[64], p[1024], text[2048];
    int vmid = atoi(f->image + 3);
    snprintf(efi, sizeof efi, "vm-%d-disk-e%d", vmid, (int)getpid());
    snprintf(tpm, sizeof tpm, "vm-%d-disk-t%d", vmid, (int)getpid());
    create_image(NULL, efi, RBD_FEATURE_LAYERING);
    create_image(NULL, tpm, RBD_FEATURE_LAYERING);
    snprintf(p, sizeof p, "%s/store/template/iso", f->root);
    mkdirs(p);
    strcat(p, "/virtio-win.iso");
    write_file(p, "");
    snprintf(text, sizeof text, "rbd: ceph\n\tpool rbd\n\tkrbd 1\n\tcontent images\n\n"
                                "dir: isostore\n\tpath %s/store\n\tcontent iso\n", f->root);
    json_t *cfg = pvs_config_parse(f->ctx, "storage.cfg", text, strlen(text), NULL);
    snprintf(p, sizeof p, "%s/etc/pve/qemu-server", f->root);
    mkdirs(p);
    snprintf(p, sizeof p, "%s/etc/pve/qemu-server/%d.conf", f->root, vmid);
    snprintf(text, sizeof text, "bios: ovmf\nostype: win11\ntpmstate0: ceph:%s,size=4M,version=v2.0\n"
                                "scsi0: ceph:%s,discard=on,size=8M\nefidisk0: ceph:%s,efitype=4m,size=1M\n"
                                "ide2: isostore:iso/virtio-win.iso,media=cdrom\nide0: none,media=cdrom\n"
                                "unused0: ceph:vm-%d-disk-404\n\n[before-update]\nscsi1: ceph:vm-%d-disk-405\n",
             tpm, f->image, efi, vmid, vmid);
    write_file(p, text);
    reset_kernel(f, 0);
    json_t *plan = NULL, *done = NULL, *hints = NULL;
    pvs_error err = PVS_ERROR_INIT;
    if (pvs_activate_guest(f->ctx, cfg, vmid, 1, PVS_DRY_RUN, &plan, &hints, &err))
        fail_msg("dry run: %s", err.message);
    assert_string_equal(take_log(f), "");
    assert_null(map_options(f));
    const char *want_ids[4] = { "isostore:iso/virtio-win.iso", NULL, NULL, NULL };
    char ids[3][128];
    snprintf(ids[0], sizeof ids[0], "ceph:%s", f->image);
    snprintf(ids[1], sizeof ids[1], "ceph:%s", efi);
    snprintf(ids[2], sizeof ids[2], "ceph:%s", tpm);
    for (int i = 0; i < 3; i++)
        want_ids[i + 1] = ids[i];
    assert_int_equal(json_array_size(plan), 4);
    assert_int_equal(pvs_activate_guest(f->ctx, cfg, vmid, 1, 0, &done, NULL, &err), 0);
    assert_int_equal(json_array_size(done), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *pr = json_array_get(plan, i), *dr = json_array_get(done, i);
        assert_string_equal(json_string_value(json_object_get(dr, "volid")), want_ids[i]);
        const char *want = i == 0 ? "activated" : "mapped";
        assert_string_equal(json_string_value(json_object_get(pr, "action")), want);
        assert_string_equal(json_string_value(json_object_get(dr, "action")), want);
        json_t *pc = json_object_get(pr, "commands"), *dc = json_object_get(dr, "commands");
        assert_true((!pc && !dc) || json_equal(pc, dc));
        if (i > 0) {   /* each krbd disk of the Windows guest: rxbounce */
            assert_string_equal(json_string_value(json_object_get(dr, "options_after")),
                                "name=admin,key=client.admin,rxbounce");
            json_t *argv = json_array_get(dc, 0);
            assert_string_equal(json_string_value(json_array_get(argv, json_array_size(argv) - 1)), "rxbounce");
        }
    }
    char *h = json_dumps(hints, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(h, "{\"guest-is-windows\":1,\"plugin-may-deactivate-volume\":1}");
    free(h);
    /* the maps ran in qemu-server's order: scsi0, efidisk0, tpmstate0 */
    const char *log = take_log(f), *a = strstr(log, f->image), *b = strstr(log, efi), *c = strstr(log, tpm);
    assert_true(a && b && c && a < b && b < c);
    const char *vols[] = { ids[0], ids[1], ids[2] };
    assert_int_equal(pvs_deactivate_volumes(f->ctx, cfg, vols, 3, NULL, &err), 0);
    take_log(f);
    json_decref(plan);
    json_decref(done);
    json_decref(hints);
    json_decref(cfg);
    remove_image(NULL, efi);
    remove_image(NULL, tpm);
}

/* audit: a Windows guest's disk mapped without rxbounce needs action, with
 * the fix only while the guest is not running; with rxbounce, or a Linux
 * guest's disk, all is in order -- the command's exit status says so */
static void test_audit(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char rel[128], text[512], volid[128];
    int vmid = atoi(f->image + 3);
    snprintf(volid, sizeof volid, "ceph:%s", f->image);
    snprintf(rel, sizeof rel, "etc/pve/qemu-server/%d.conf", vmid);
    snprintf(text, sizeof text, "ostype: win11\nscsi0: %s,size=8M\nunused0: ceph:vm-%d-disk-404\n", volid, vmid);
    put_file(f->root, rel, text);
    put_file(f->root, "etc/pve/qemu-server/9999.conf", "ostype: l26\nscsi0: ceph:vm-9999-disk-0\n");
    snprintf(text, sizeof text, "rbd: ceph\n\tpool rbd\n\tkrbd 1\n\tcontent images\n");
    put_file(f->root, "etc/pve/storage.cfg", text);
    reset_kernel(f, 1);   /* mapped without rxbounce */
    json_t *res = NULL;
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_audit(f->ctx, f->cfg, &res, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(res, "needs_action")), 1);
    json_t *vols = json_object_get(res, "volumes"), *r = json_array_get(vols, 0);
    assert_int_equal(json_array_size(vols), 2);   /* the guest's disk, and the Linux guest's (not mapped) */
    assert_string_equal(json_string_value(json_object_get(r, "volid")), volid);
    assert_string_equal(json_string_value(json_object_get(r, "device")), "/dev/rbd0");
    assert_string_equal(json_string_value(json_object_get(r, "options")), "name=admin,key=client.admin");
    assert_true(json_is_false(json_object_get(r, "in_order")));
    char *cmd = json_dumps(json_object_get(r, "command"), JSON_COMPACT);
    snprintf(text, sizeof text, "[\"pvestorage\",\"map\",\"%s\",\"--hint\",\"guest-is-windows=1\",\"--hint\","
             "\"plugin-may-deactivate-volume=1\"]", volid);
    assert_string_equal(cmd, text);
    free(cmd);
    assert_true(json_is_true(json_object_get(json_array_get(vols, 1), "in_order")));
    json_decref(res);
    /* the guest runs (its pid file names a QEMU started with that pid file,
     * in ROOT/proc) -- no command */
    snprintf(rel, sizeof rel, "var/run/qemu-server/%d.pid", vmid);
    put_file(f->root, rel, "4242\n");
    put_file(f->root, "proc/4242/stat", "4242 (kvm) S 1 4242 4242 0 -1\n");
    snprintf(text, sizeof text, "%s/proc/4242/cmdline", f->root);
    FILE *cl = fopen(text, "wb");
    assert_non_null(cl);
    fprintf(cl, "/usr/bin/kvm%c-id%c%d%c-pidfile%c/var/run/qemu-server/%d.pid%c", 0, 0, vmid, 0, 0, vmid, 0);
    fclose(cl);
    assert_int_equal(pvs_audit(f->ctx, f->cfg, &res, &err), 0);
    r = json_array_get(json_object_get(res, "volumes"), 0);
    assert_true(json_is_true(json_object_get(r, "running")));
    assert_true(json_is_null(json_object_get(r, "command")));
    assert_non_null(strstr(json_string_value(json_object_get(r, "remedy")), "once the guest is shut down"));
    json_decref(res);
    /* the command: exit 1 while something needs action, 0 once it is in order */
    const char *cli = getenv("PVS_CLI");
    const char *audit[] = { cli, "--root", f->root, "--json", "audit", NULL };
    pvs_run_result out;
    assert_int_equal(pvs_run(audit, 60, &out, NULL), 0);
    assert_int_equal(out.exit_status, 1);
    json_t *doc = json_loads(out.out, 0, NULL);
    assert_true(json_is_true(json_object_get(doc, "ok")) && json_is_false(json_object_get(doc, "in_order")));
    json_decref(doc);
    pvs_run_result_clear(&out);
    /* the remedy, carried out once the guest is stopped */
    snprintf(text, sizeof text, "%s/%s", f->root, rel);
    unlink(text);
    const char *fix[] = { cli, "--root", f->root, "--rbd-command", getenv("PVS_FAKE_RBD"), "map", volid, "--hint",
                          "guest-is-windows=1", "--hint", "plugin-may-deactivate-volume=1", NULL };
    assert_int_equal(pvs_run(fix, 60, &out, NULL), 0);
    assert_int_equal(out.exit_status, 0);
    pvs_run_result_clear(&out);
    assert_int_equal(pvs_run(audit, 60, &out, NULL), 0);
    assert_int_equal(out.exit_status, 0);
    doc = json_loads(out.out, 0, NULL);
    assert_true(json_is_true(json_object_get(doc, "in_order")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(doc, "volumes"), 0), "options")),
                        "name=admin,key=client.admin,rxbounce");
    json_decref(doc);
    pvs_run_result_clear(&out);
    take_log(f);
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
    /* --json: what upstream prints (the features it enabled) is in the
     * result, and what was done to the volume */
    assert_int_equal(r.exit_status, 0);
    json_t *out = json_loads(r.out, 0, NULL);
    assert_non_null(out);
    assert_true(json_is_true(json_object_get(out, "ok")));
    assert_string_equal(json_string_value(json_object_get(out, "path")), f->dev);
    snprintf(want, sizeof want, "[\"enable RBD image features this kernel RBD drivers supports: "
             "fast-diff,object-map,exclusive-lock\"]");
    char *info = json_dumps(json_object_get(out, "info"), JSON_COMPACT);
    assert_string_equal(info, want);
    free(info);
    json_t *rec = json_array_get(json_object_get(out, "volumes"), 0);
    assert_string_equal(json_string_value(json_object_get(rec, "volid")), volid);
    assert_string_equal(json_string_value(json_object_get(rec, "action")), "mapped");
    assert_true(json_is_null(json_object_get(rec, "options_before")));
    assert_string_equal(json_string_value(json_object_get(rec, "options_after")), "name=admin,key=client.admin,rxbounce");
    json_t *argv0 = json_array_get(json_object_get(rec, "commands"), 0);
    size_t na = json_array_size(argv0);
    assert_true(na > 4);
    assert_string_equal(json_string_value(json_array_get(argv0, na - 4)), "map");
    assert_string_equal(json_string_value(json_array_get(argv0, na - 1)), "rxbounce");
    json_decref(out);
    pvs_run_result_clear(&r);
    assert_string_equal(map_options(f), "name=admin,key=client.admin,rxbounce");
    /* the image is listed from the cluster (librbd), and the device as that volume */
    const char *list[] = { cli, "--root", f->root, "--json", "list", "ceph", "--vmid", NULL, NULL };
    char vmid[16];
    snprintf(vmid, sizeof vmid, "%.*s", (int)strcspn(f->image + 3, "-"), f->image + 3);
    list[7] = vmid;
    assert_int_equal(pvs_run(list, 60, &r, NULL), 0);
    assert_int_equal(r.exit_status, 0);
    json_t *doc = json_loads(r.out, 0, NULL), *vols = json_object_get(doc, "volumes");
    assert_int_equal(json_array_size(vols), 1);
    json_t *vol = json_array_get(vols, 0);
    assert_string_equal(json_string_value(json_object_get(vol, "volid")), volid);
    assert_string_equal(json_string_value(json_object_get(vol, "format")), "raw");
    assert_int_equal(json_integer_value(json_object_get(vol, "size")), 8 << 20);   /* as created */
    assert_int_equal(json_integer_value(json_object_get(vol, "vmid")), atoi(vmid));
    json_decref(doc);
    pvs_run_result_clear(&r);
    const char *mapped[] = { cli, "--root", f->root, "--json", "mapped", NULL };
    assert_int_equal(pvs_run(mapped, 60, &r, NULL), 0);
    doc = json_loads(r.out, 0, NULL);
    json_t *dev = json_array_get(json_object_get(doc, "devices"), 0);
    assert_string_equal(json_string_value(json_object_get(dev, "volid")), volid);
    assert_string_equal(json_string_value(json_object_get(dev, "options")), "name=admin,key=client.admin,rxbounce");
    assert_string_equal(json_string_value(json_object_get(dev, "image")), f->image);
    json_decref(doc);
    pvs_run_result_clear(&r);
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

/* the command's output closed (| true, a dropped ssh session) while it
 * remaps a Windows guest's disk: it must not die between the unmap and the
 * map (issue: SIGPIPE left the disk unmapped) -- one device before, one
 * after, now with rxbounce, and the write error said at the end */
static void test_closed_output_during_remap(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char cfgpath[1024], volid[128];
    snprintf(cfgpath, sizeof cfgpath, "%s/etc/pve/storage.cfg", f->root);
    write_file(cfgpath, "rbd: ceph\n\tpool rbd\n\tkrbd 1\n");
    snprintf(volid, sizeof volid, "ceph:%s", f->image);
    device_state(f, 1);   /* mapped without rxbounce; its features differ from the kernel's */
    const char *cli = getenv("PVS_CLI"), *fake = getenv("PVS_FAKE_RBD");
    for (int text = 1; text >= 0; text--) {
        int out[2], err[2];
        assert_int_equal(pipe(out), 0);
        assert_int_equal(pipe(err), 0);
        close(out[0]);   /* nobody reads stdout */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            dup2(out[1], 1);
            dup2(err[1], 2);
            signal(SIGPIPE, SIG_DFL);
            /* text: the feature change's info line comes between unmap and map */
            const char *argv[] = { cli, "--root", f->root, "--rbd-command", fake, "--kernel-version",
                                   text ? "6.1" : "4.19", text ? "--quiet" : "--json", "map", volid, "--hint",
                                   "guest-is-windows=1", "--hint", "plugin-may-deactivate-volume=1", NULL };
            execv(cli, (char *const *)argv);
            _exit(127);
        }
        close(out[1]);
        close(err[1]);
        char msg[4096];
        read_to_end(err[0], msg, sizeof msg);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status))
            fail_msg("the command died of signal %d (stderr: %s)", WTERMSIG(status), msg);
        assert_int_equal(WEXITSTATUS(status), 1);
        assert_non_null(strstr(msg, "pvestorage: write error on standard output: Broken pipe\n"));
        assert_string_equal(map_options(f), "name=admin,key=client.admin,rxbounce");
        char p[1024];
        snprintf(p, sizeof p, "%s/sys/devices/rbd/1", f->root);
        assert_false(is_directory(p));   /* one device: the remap replaced it */
        /* back to without rxbounce for the --json round */
        const char *unmap[] = { fake, "unmap", f->dev, NULL };
        pvs_run_result r;
        assert_int_equal(pvs_run(unmap, 30, &r, NULL), 0);
        pvs_run_result_clear(&r);
        device_state(f, 1);
    }
    take_log(f);
}

/* an external cluster without a ceph.conf of its own: a dry run and the
 * commands that only read (status, list, mapped, audit) write nothing, and
 * the plan is the run -- the real call then runs exactly the commands the
 * dry run showed, and writes the file right before them (upstream's
 * ceph_create_configuration; used from the next call on) */
static void test_dry_run_writes_nothing(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char volid[128], conf[1024], cfgpath[1024], text[1024];
    snprintf(volid, sizeof volid, "ext:%s", f->image);
    snprintf(conf, sizeof conf, "%s/etc/pve/priv/ceph/ext.conf", f->root);
    snprintf(cfgpath, sizeof cfgpath, "%s/etc/pve/storage.cfg", f->root);
    snprintf(text, sizeof text, "rbd: ext\n\tpool rbd\n\tmonhost %s\n\tkrbd 1\n", mon_addr);
    write_file(cfgpath, text);
    snprintf(text, sizeof text, "ostype: win10\nscsi0: %s\n", volid);
    put_file(f->root, "etc/pve/qemu-server/100.conf", text);
    const char *cli = getenv("PVS_CLI");
    const char *reads[][4] = { { "status", NULL }, { "list", "ext", NULL }, { "mapped", NULL }, { "audit", NULL } };
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        const char *argv[] = { cli, "--root", f->root, "--json", reads[i][0], reads[i][1], NULL };
        pvs_run_result r;
        assert_int_equal(pvs_run(argv, 60, &r, NULL), 0);
        pvs_run_result_clear(&r);
        if (access(conf, F_OK) == 0)
            fail_msg("'%s' wrote %s", reads[i][0], conf);
    }
    json_t *h = hints_of(1, 1), *plan = NULL, *done = NULL;
    pvs_error err = PVS_ERROR_INIT;
    char *path = NULL;
    assert_int_equal(pvs_map_volume_report(f->ctx, f->cfg, volid, NULL, h, PVS_DRY_RUN, &path, &plan, &err), 0);
    free(path);
    assert_int_equal(access(conf, F_OK), -1);
    assert_string_equal(take_log(f), "");
    assert_int_equal(pvs_map_volume_report(f->ctx, f->cfg, volid, NULL, h, 0, &path, &done, &err), 0);
    free(path);
    assert_int_equal(access(conf, F_OK), 0);
    json_t *pc = json_object_get(json_array_get(plan, 0), "commands"), *dc = json_object_get(json_array_get(done, 0), "commands");
    assert_int_equal(json_array_size(pc), 1);
    assert_true(json_equal(pc, dc));
    char *want = json_dumps(json_array_get(pc, 0), JSON_COMPACT);
    char *log = take_log(f);
    /* the log's line is the argv after argv[0] */
    const char *first = strchr(want, ',');
    assert_non_null(first);
    char line[2048];
    snprintf(line, sizeof line, "[%s\n", first + 1);
    assert_string_equal(log, line);
    free(want);
    json_decref(plan);
    json_decref(done);
    json_decref(h);
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
        cmocka_unit_test_setup_teardown(test_deactivate_after_krbd_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feature_change_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nothing_written_while_unmapped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rbd_error_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_actions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vm_start_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_output_during_remap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dry_run_writes_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
