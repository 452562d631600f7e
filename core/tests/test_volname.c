/* test_volname.c - volume IDs, the dir plugin's parse_volname and paths. */
#include "helpers.h"

typedef struct vcase {
    const char *volname;
    /* vtype, name, vmid, basename, basevmid, isbase, format; NULL = absent */
    const char *want[7];
    const char *error;   /* expected message instead */
} vcase;

#define OK(v, a, b, c, d, e, f, g) { v, { a, b, c, d, e, f, g }, NULL }
#define ERR(v, msg) { v, { 0 }, msg }
#define BADDIR(v) ERR(v, "unable to parse directory volume name '" v "'\n")

static const vcase cases[] = {
    /* images */
    OK("100/vm-100-disk-0.raw", "images", "vm-100-disk-0.raw", "100", NULL, NULL, NULL, "raw"),
    OK("100/vm-100-disk-1.qcow2", "images", "vm-100-disk-1.qcow2", "100", NULL, NULL, NULL, "qcow2"),
    OK("100/vm-100-disk-2.vmdk", "images", "vm-100-disk-2.vmdk", "100", NULL, NULL, NULL, "vmdk"),
    OK("100/subvol-100-disk-0.subvol", "images", "subvol-100-disk-0.subvol", "100", NULL, NULL, NULL, "subvol"),
    OK("100/base-100-disk-0.qcow2", "images", "base-100-disk-0.qcow2", "100", NULL, NULL, "base-", "qcow2"),
    OK("9999999/vm-9999999-cloudinit.qcow2", "images", "vm-9999999-cloudinit.qcow2", "9999999", NULL, NULL, NULL, "qcow2"),
    OK("100/legacy-name.raw", "images", "legacy-name.raw", "100", NULL, NULL, NULL, "raw"),
    OK("100/vm-100-disk-0.raw.qcow2", "images", "vm-100-disk-0.raw.qcow2", "100", NULL, NULL, NULL, "qcow2"),
    ERR("100/vm-100-disk-0.img", "unable to parse volume filename 'vm-100-disk-0.img'\n"),
    ERR("100/vm-100-disk-0", "unable to parse volume filename 'vm-100-disk-0'\n"),
    ERR("100/.raw", "unable to parse volume filename '.raw'\n"),
    ERR("100/sub/vm-100-disk-0.raw", "unable to parse volume filename 'sub/vm-100-disk-0.raw'\n"),
    ERR("100/snap-foo-vm-100-disk-0.qcow2", "'snap-foo-vm-100-disk-0.qcow2' is a snapshot filename, not a volume!\n"),
    BADDIR("100/vm 100.raw"),
    BADDIR("abc/vm-100-disk-0.raw"),
    BADDIR("100/"),
    /* linked clones */
    OK("100/base-100-disk-0.qcow2/101/vm-101-disk-0.qcow2", "images", "vm-101-disk-0.qcow2", "101",
       "base-100-disk-0.qcow2", "100", NULL, "qcow2"),
    OK("100/base-100-disk-0.raw/101/base-101-disk-1.raw", "images", "base-101-disk-1.raw", "101",
       "base-100-disk-0.raw", "100", "base-", "raw"),
    ERR("100/base-100-disk-0.img/101/vm-101-disk-0.qcow2",
        "unable to parse volume filename 'base-100-disk-0.img'\n"),
    ERR("100/base-100-disk-0.raw/101/vm-101-disk-0.bin",
        "unable to parse volume filename 'vm-101-disk-0.bin'\n"),
    /* iso */
    OK("iso/debian-12.iso", "iso", "debian-12.iso", NULL, NULL, NULL, NULL, "raw"),
    OK("iso/Windows Server 2022.ISO", "iso", "Windows Server 2022.ISO", NULL, NULL, NULL, NULL, "raw"),
    OK("iso/virtio-win.img", "iso", "virtio-win.img", NULL, NULL, NULL, NULL, "raw"),
    BADDIR("iso/debian-12.qcow2"),
    BADDIR("iso/sub/debian.iso"),
    BADDIR("iso/.iso"),
    /* vztmpl, every compression */
    OK("vztmpl/debian-12-standard_12.2-1_amd64.tar.zst", "vztmpl", "debian-12-standard_12.2-1_amd64.tar.zst", NULL, NULL, NULL, NULL, "raw"),
    OK("vztmpl/alpine.tar.gz", "vztmpl", "alpine.tar.gz", NULL, NULL, NULL, NULL, "raw"),
    OK("vztmpl/alpine.tar.xz", "vztmpl", "alpine.tar.xz", NULL, NULL, NULL, NULL, "raw"),
    OK("vztmpl/alpine.tar.bz2", "vztmpl", "alpine.tar.bz2", NULL, NULL, NULL, NULL, "raw"),
    OK("vztmpl/alpine.tar", "vztmpl", "alpine.tar", NULL, NULL, NULL, NULL, "raw"),
    BADDIR("vztmpl/alpine.tar.lzo"),
    BADDIR("vztmpl/alpine.zip"),
    /* backups, with and without a vmid */
    OK("backup/vzdump-qemu-100-2024_01_01-00_00_00.vma.zst", "backup", "vzdump-qemu-100-2024_01_01-00_00_00.vma.zst", "100", NULL, NULL, NULL, "raw"),
    OK("backup/vzdump-lxc-101-2024_01_01-00_00_00.tar.gz", "backup", "vzdump-lxc-101-2024_01_01-00_00_00.tar.gz", "101", NULL, NULL, NULL, "raw"),
    OK("backup/vzdump-openvz-102-2010_01_01-00_00_00.tgz", "backup", "vzdump-openvz-102-2010_01_01-00_00_00.tgz", "102", NULL, NULL, NULL, "raw"),
    OK("backup/vzdump-qemu-103-x.vma.lzo", "backup", "vzdump-qemu-103-x.vma.lzo", "103", NULL, NULL, NULL, "raw"),
    OK("backup/vzdump-qemu-104-x.vma.bz2", "backup", "vzdump-qemu-104-x.vma.bz2", "104", NULL, NULL, NULL, "raw"),
    OK("backup/vzdump-lxc-105-x.tar", "backup", "vzdump-lxc-105-x.tar", "105", NULL, NULL, NULL, "raw"),
    OK("backup/vzdump-qemu-106-x.vma", "backup", "vzdump-qemu-106-x.vma", "106", NULL, NULL, NULL, "raw"),
    OK("backup/my-manual-backup.tar.zst", "backup", "my-manual-backup.tar.zst", NULL, NULL, NULL, NULL, "raw"),
    OK("backup/vzdump-qemu-abc-x.vma", "backup", "vzdump-qemu-abc-x.vma", NULL, NULL, NULL, NULL, "raw"),
    BADDIR("backup/vzdump-qemu-100-x.vma.xz"),
    BADDIR("backup/vzdump-qemu-100-x.zip"),
    /* snippets; upstream has no rootdir/ names */
    BADDIR("rootdir/100"),
    BADDIR("rootdir/abc"),
    OK("snippets/user-data.yaml", "snippets", "user-data.yaml", NULL, NULL, NULL, NULL, "raw"),
    OK("snippets/hook script.pl", "snippets", "hook script.pl", NULL, NULL, NULL, NULL, "raw"),
    BADDIR("snippets/sub/hook.pl"),
    BADDIR("snippets/"),
    /* import, incl. disks inside an ova */
    OK("import/appliance.ova", "import", "appliance.ova", NULL, NULL, NULL, NULL, "ova"),
    OK("import/appliance.ovf", "import", "appliance.ovf", NULL, NULL, NULL, NULL, "ovf"),
    OK("import/disk image.qcow2", "import", "disk image.qcow2", NULL, NULL, NULL, NULL, "qcow2"),
    OK("import/disk.raw", "import", "disk.raw", NULL, NULL, NULL, NULL, "raw"),
    OK("import/disk.vmdk", "import", "disk.vmdk", NULL, NULL, NULL, NULL, "vmdk"),
    OK("import/appliance.ova/disk1.vmdk", "import", "appliance.ova/disk1.vmdk", NULL, NULL, NULL, NULL, "ova+vmdk"),
    OK("import/appliance.ova/disk-2.qcow2", "import", "appliance.ova/disk-2.qcow2", NULL, NULL, NULL, NULL, "ova+qcow2"),
    BADDIR("import/appliance.ova/disk1.iso"),
    BADDIR("import/bad;name.ova"),
    BADDIR("import/disk.img"),
    /* traversal and absolute paths: upstream's patterns refuse them, with its
     * messages (checked against upstream's own parse_volname); "snippets/.."
     * upstream takes (the storage's directory), we refuse */
    BADDIR("snippets/.."),
    BADDIR("snippets/."),
    BADDIR("iso/../../../etc/shadow.iso"),
    ERR("100/../vm-100-disk-0.raw", "unable to parse volume filename '../vm-100-disk-0.raw'\n"),
    BADDIR("../100/vm-100-disk-0.raw"),
    BADDIR("/etc/passwd"),
    BADDIR("/100/vm-100-disk-0.raw"),
    ERR("100/x/101/y/vm-101-disk-0.raw", "unable to parse volume filename 'x'\n"),
    /* an ova member's name is checked too */
    BADDIR("import/x.ova/d!sk.vmdk"),
    OK("import/x.ova/disk 1.vmdk", "import", "x.ova/disk 1.vmdk", NULL, NULL, NULL, NULL, "ova+vmdk"),
    BADDIR("import/x.ova/sub/disk.vmdk"),
    OK("snippets/..hidden", "snippets", "..hidden", NULL, NULL, NULL, NULL, "raw"),
    BADDIR("other/file"),
    BADDIR(""),
};

static const pvs_plugin *dir_plugin(pvs_ctx *ctx)
{
    const pvs_plugin *p = pvs_plugin_lookup(ctx, "dir", NULL);
    assert_non_null(p);
    return p;
}

static void test_parse_volname(void **state)
{
    (void)state;
    pvs_ctx *ctx = test_ctx(NULL);
    const pvs_plugin *p = dir_plugin(ctx);
    size_t n = sizeof cases / sizeof cases[0];
    assert_true(n >= 40);
    for (size_t i = 0; i < n; i++) {
        const vcase *c = &cases[i];
        pvs_volname v;
        pvs_error err = PVS_ERROR_INIT;
        int rc = pvs_plugin_parse_volname(p, c->volname, &v, &err);
        if (c->error) {
            if (rc == 0)
                fail_msg("'%s': expected error '%s', got vtype %s", c->volname, c->error, v.vtype);
            if (strcmp(err.message, c->error))
                fail_msg("'%s':\nexpected [%s]\ngot      [%s]", c->volname, c->error, err.message);
        } else {
            if (rc != 0)
                fail_msg("'%s': unexpected error %s", c->volname, err.message);
            const char *got[7] = { v.vtype, v.name, v.vmid, v.basename, v.basevmid, v.isbase, v.format };
            for (int k = 0; k < 7; k++) {
                int same = (!got[k] && !c->want[k]) || (got[k] && c->want[k] && !strcmp(got[k], c->want[k]));
                if (!same)
                    fail_msg("'%s' field %d: expected %s, got %s", c->volname, k,
                             c->want[k] ? c->want[k] : "(absent)", got[k] ? got[k] : "(absent)");
            }
        }
        pvs_volname_clear(&v);
        pvs_error_clear(&err);
    }
    pvs_ctx_free(ctx);
}

static void check_path(pvs_ctx *ctx, const json_t *scfg, const char *volname, const char *snap,
                       const char *want, const char *want_err)
{
    char *path = NULL;
    pvs_error err = PVS_ERROR_INIT;
    int rc = pvs_plugin_path(ctx, dir_plugin(ctx), scfg, volname, "local", snap, &path, &err);
    if (want) {
        if (rc)
            fail_msg("%s: %s", volname, err.message);
        assert_string_equal(path, want);
    } else {
        assert_int_not_equal(rc, 0);
        assert_null(path);
        assert_string_equal(err.message, want_err);
    }
    free(path);
    pvs_error_clear(&err);
}

static void test_paths(void **state)
{
    (void)state;
    pvs_ctx *ctx = test_ctx(NULL);
    json_t *scfg = json_pack("{s:s, s:s}", "type", "dir", "path", "/var/lib/vz");
    check_path(ctx, scfg, "100/vm-100-disk-0.raw", NULL, "/var/lib/vz/images/100/vm-100-disk-0.raw", NULL);
    check_path(ctx, scfg, "100/base-100-disk-0.qcow2/101/vm-101-disk-0.qcow2", NULL,
               "/var/lib/vz/images/101/vm-101-disk-0.qcow2", NULL);
    check_path(ctx, scfg, "iso/a.iso", NULL, "/var/lib/vz/template/iso/a.iso", NULL);
    check_path(ctx, scfg, "vztmpl/a.tar.zst", NULL, "/var/lib/vz/template/cache/a.tar.zst", NULL);
    check_path(ctx, scfg, "backup/vzdump-qemu-1-x.vma", NULL, "/var/lib/vz/dump/vzdump-qemu-1-x.vma", NULL);
    check_path(ctx, scfg, "snippets/a.yaml", NULL, "/var/lib/vz/snippets/a.yaml", NULL);
    check_path(ctx, scfg, "import/a.ova", NULL, "/var/lib/vz/import/a.ova", NULL);
    /* snapshots: qcow2 keeps them inside the file */
    check_path(ctx, scfg, "100/vm-100-disk-1.qcow2", "snap1", "/var/lib/vz/images/100/vm-100-disk-1.qcow2", NULL);
    check_path(ctx, scfg, "100/vm-100-disk-0.raw", "snap1", NULL, "can't snapshot this image format\n");
    check_path(ctx, scfg, "iso/a.iso", "snap1", NULL, "can't snapshot this image format\n");
    check_path(ctx, scfg, "snippets/..", NULL, NULL, "unable to parse directory volume name 'snippets/..'\n");
    /* volume chains: a snapshot is a file of its own (upstream's get_snap_name) */
    json_object_set_new(scfg, "snapshot-as-volume-chain", json_integer(1));
    check_path(ctx, scfg, "100/vm-100-disk-1.qcow2", "snap1", "/var/lib/vz/images/100/snap-snap1-vm-100-disk-1.qcow2", NULL);
    check_path(ctx, scfg, "100/vm-100-disk-1.qcow2", "current", "/var/lib/vz/images/100/vm-100-disk-1.qcow2", NULL);
    check_path(ctx, scfg, "100/vm-100-disk-0.raw", "snap1", NULL, "can't snapshot this image format\n");
    json_object_del(scfg, "snapshot-as-volume-chain");
    /* content-dirs override */
    json_object_set_new(scfg, "content-dirs", json_pack("{s:s, s:s}", "iso", "isos", "images", "vm/disks"));
    check_path(ctx, scfg, "iso/a.iso", NULL, "/var/lib/vz/isos/a.iso", NULL);
    check_path(ctx, scfg, "100/vm-100-disk-0.raw", NULL, "/var/lib/vz/vm/disks/100/vm-100-disk-0.raw", NULL);
    check_path(ctx, scfg, "snippets/a.yaml", NULL, "/var/lib/vz/snippets/a.yaml", NULL);
    json_object_del(scfg, "path");
    check_path(ctx, scfg, "iso/a.iso", NULL, NULL, "storage definition has no path\n");
    json_decref(scfg);
    pvs_ctx_free(ctx);
}

static void test_volume_id(void **state)
{
    (void)state;
    static const struct { const char *volid, *storeid, *volname; } ok[] = {
        { "local:100/vm-100-disk-0.raw", "local", "100/vm-100-disk-0.raw" },
        { "ceph-pool.1:vm-100-disk-0", "ceph-pool.1", "vm-100-disk-0" },
        { "Local_2:iso/x.iso", "Local_2", "iso/x.iso" },
        { "ab:c:d", "ab", "c:d" },
        { "a1:x", "a1", "x" },
    };
    static const char *const bad[] = {
        "local", "local:", ":vm-100", "l:x", "1local:x", "local-:x", "lo cal:x", "-local:x",
        "local:a\nb", "",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *s, *v;
        assert_int_equal(pvs_parse_volume_id(ok[i].volid, &s, &v, NULL), 0);
        assert_string_equal(s, ok[i].storeid);
        assert_string_equal(v, ok[i].volname);
        free(s);
        free(v);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pvs_error err = PVS_ERROR_INIT;
        char *s = (char *)1, *v = (char *)1;
        assert_int_equal(pvs_parse_volume_id(bad[i], &s, &v, &err), PVS_EINVAL);
        assert_null(s);
        assert_null(v);
        char want[256];
        snprintf(want, sizeof want, "unable to parse volume ID '%s'\n", bad[i]);
        assert_string_equal(err.message, want);
        pvs_error_clear(&err);
    }
}

static void test_check_nul(void **state)
{
    (void)state;
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_check_nul("volume ID", "local:x", 7, &err), 0);
    assert_int_equal(pvs_check_nul("volume ID", "local:x\0y", 9, &err), PVS_EINVAL);
    assert_string_equal(err.message, "volume ID 'local:x\\0y' contains a NUL byte\n");
    pvs_error_clear(&err);
}

/* the sections a call converts: each named storage once, in order; an
 * unparsable volume ID names none */
static void test_config_sections_for(void **state)
{
    (void)state;
    const char *vols[] = { "sb:vm-1-disk-0", "sa:iso/x.iso", "sb:vm-1-disk-1", "no colon", "sa:2", "x:1" };
    char **names;
    size_t n;
    assert_int_equal(pvs_config_sections_for(vols, 6, 0, &names, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "sb");
    assert_string_equal(names[1], "sa");
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    const char *stores[] = { "local", "local", "ceph" };
    assert_int_equal(pvs_config_sections_for(stores, 3, 1, &names, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(names[1], "ceph");
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    assert_int_equal(pvs_config_sections_for(NULL, 0, 0, &names, &n, NULL), 0);
    assert_int_equal(n, 0);
    assert_null(names);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_volname),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_volume_id),
        cmocka_unit_test(test_check_nul),
        cmocka_unit_test(test_config_sections_for),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
