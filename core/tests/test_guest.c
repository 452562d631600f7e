/* test_guest.c - a VM's configuration read as qemu-server reads it at VM
 * start, and the VM-start flow on dir storages (rbd: test_rbd.c). */
#include <sys/time.h>

#include "helpers.h"
#include "internal.h"

static char *volumes_of(const char *text)
{
    json_t *g = NULL;
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_guest_config_parse(text, strlen(text), &g, &err), 0);
    static char buf[4096];
    buf[0] = '\0';
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(g, "volumes"), i, v)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s=%s ", json_string_value(json_object_get(v, "key")),
                 json_string_value(json_object_get(v, "volid")));
    const char *os = json_string_value(json_object_get(g, "ostype"));
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "[%s]", os ? os : "-");
    json_decref(g);
    return buf;
}

/* qemu-server's order and rules: drives in valid_drive_names order, then
 * vmstate; cdrom none/cdrom, files by path and unused disks are not volumes;
 * an iso on a cdrom is; only the current section counts */
static void test_volumes_as_qemu_server(void **state)
{
    (void)state;
    assert_string_equal(volumes_of(
        "# a comment: scsi9: ceph:vm-1-disk-9\n"
        "boot: order=scsi0;ide2\n"
        "efidisk0: ceph:vm-100-disk-2,efitype=4m,pre-enrolled-keys=1,size=1M\n"
        "ide2: local:iso/virtio-win.iso,media=cdrom,size=708M\n"
        "ide0: none,media=cdrom\n"
        "ide1: cdrom,media=cdrom\n"
        "ostype: win11\n"
        "sata0: /dev/disk/by-id/ata-SSD,size=100G\n"
        "scsi10: file=local:100/vm-100-disk-3.qcow2,cache=writeback\n"
        "scsi0: ceph:vm-100-disk-0,discard=on,size=32G\n"
        "tpmstate0: ceph:vm-100-disk-1,size=4M,version=v2.0\n"
        "unused0: ceph:vm-100-disk-7\n"
        "virtio0: local:100/vm-100-disk-4.raw\n"
        "vmstate: local:100/vm-100-state-suspend-2026-11-25.raw\n"
        "scsi31: ceph:vm-100-disk-8\n"
        "vga: qxl\n"
        "\n"
        "[snap1]\n"
        "scsi1: ceph:vm-100-disk-5\n"
        "ostype: l26\n"),
        "ide2=local:iso/virtio-win.iso scsi0=ceph:vm-100-disk-0 scsi10=local:100/vm-100-disk-3.qcow2 "
        "virtio0=local:100/vm-100-disk-4.raw efidisk0=ceph:vm-100-disk-2 tpmstate0=ceph:vm-100-disk-1 "
        "vmstate=local:100/vm-100-state-suspend-2026-11-25.raw [win11]");
    /* the pending changes are not the current configuration either */
    assert_string_equal(volumes_of("scsi0: ceph:vm-1-disk-0\n[PENDING]\nscsi1: ceph:vm-1-disk-1\n"),
                        "scsi0=ceph:vm-1-disk-0 [-]");
    assert_string_equal(volumes_of(""), "[-]");
    /* bytes that are no configuration do not crash it */
    assert_string_equal(volumes_of(":\n::\nscsi0:\nscsi0: ,\nide9: a:b\nscsi01: a:b\n\xff: x\n"), "[-]");
}

static char dir[512];

static void write_conf(long long vmid, const char *text)
{
    char rel[64];
    snprintf(rel, sizeof rel, "etc/pve/qemu-server/%lld.conf", vmid);
    put_file(dir, rel, text);
}

/* the flow on dir storages: a Windows guest's hints, its volumes in order,
 * and the errors qemu-server gives, naming the disk */
static void test_start_flow(void **state)
{
    (void)state;
    char *tmp = make_tempdir(), p[1024], text[2048];
    snprintf(dir, sizeof dir, "%s", tmp);
    free(tmp);
    put_file(dir, "store/images/100/vm-100-disk-0.qcow2", "");
    put_file(dir, "store/template/iso/virtio.iso", "");
    snprintf(text, sizeof text, "dir: store\n\tpath %s/store\n\tcontent images,iso\n\n"
                                "dir: isos\n\tpath %s/store\n\tcontent iso\n", dir, dir);
    warnings w;
    pvs_ctx *ctx = test_ctx(&w);
    pvs_error err = PVS_ERROR_INIT;
    json_t *cfg = pvs_config_parse(ctx, "storage.cfg", text, strlen(text), &err), *rep = NULL, *hints = NULL;
    assert_non_null(cfg);
    assert_int_equal(pvs_ctx_set(ctx, "root", dir, &err), 0);
    write_conf(100, "ostype: win11\nscsi0: store:100/vm-100-disk-0.qcow2,size=1G\n"
                    "ide2: store:iso/virtio.iso,media=cdrom\nide0: none,media=cdrom\nunused0: store:100/vm-100-disk-9.raw\n");
    assert_int_equal(pvs_activate_guest(ctx, cfg, 100, 1, 0, &rep, &hints, &err), 0);
    char *h = json_dumps(hints, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(h, "{\"guest-is-windows\":1,\"plugin-may-deactivate-volume\":1}");
    free(h);
    assert_int_equal(json_array_size(rep), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rep, 0), "volid")), "store:iso/virtio.iso");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rep, 1), "action")), "activated");
    json_decref(rep);
    json_decref(hints);
    /* a Linux guest, not at VM start */
    write_conf(101, "ostype: l26\nvirtio0: store:100/vm-100-disk-0.qcow2\n");
    assert_int_equal(pvs_activate_guest(ctx, cfg, 101, 0, PVS_DRY_RUN, &rep, &hints, &err), 0);
    h = json_dumps(hints, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(h, "{\"guest-is-windows\":0,\"plugin-may-deactivate-volume\":0}");
    free(h);
    json_decref(rep);
    json_decref(hints);
    /* a disk on a missing storage, and one whose storage does not take it */
    write_conf(102, "scsi0: store:100/vm-100-disk-0.qcow2\nscsi1: gone:vm-102-disk-0\n");
    assert_int_equal(pvs_activate_guest(ctx, cfg, 102, 1, 0, &rep, NULL, &err), PVS_ENOENT);
    assert_string_equal(err.message, "scsi1: storage 'gone' does not exist\n");
    assert_null(rep);
    pvs_error_clear(&err);
    write_conf(103, "virtio1: isos:100/vm-100-disk-0.qcow2\n");
    assert_int_equal(pvs_activate_guest(ctx, cfg, 103, 1, 0, &rep, NULL, &err), PVS_ESTORAGE);
    assert_string_equal(err.message, "virtio1: storage 'isos' does not support content-type 'images'\n");
    pvs_error_clear(&err);
    /* no such guest, and a configuration that is no file */
    assert_int_equal(pvs_activate_guest(ctx, cfg, 999, 1, 0, &rep, NULL, &err), PVS_ENOENT);
    snprintf(p, sizeof p, "unable to read '%s/etc/pve/qemu-server/999.conf' - No such file or directory\n", dir);
    assert_string_equal(err.message, p);
    pvs_error_clear(&err);
    snprintf(p, sizeof p, "%s/etc/pve/qemu-server/104.conf", dir);
    assert_int_equal(mkfifo(p, 0600), 0);
    assert_int_equal(pvs_activate_guest(ctx, cfg, 104, 1, 0, &rep, NULL, &err), PVS_EIO);
    pvs_error_clear(&err);
    json_decref(cfg);
    pvs_ctx_free(ctx);
    remove_tree(dir);
}

static void put_bytes(const char *base, const char *rel, const char *data, size_t len)
{
    put_file(base, rel, "");
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}
#define PUT_BYTES(base, rel, lit) put_bytes(base, rel, lit, sizeof lit - 1)
#define KVM_100 "/usr/bin/kvm\0-id\0" "100\0-name\0win\0-pidfile\0/var/run/qemu-server/100.pid\0-daemonize\0"
#define STAT_S "4242 (kvm) S 1 4242 4242 0 -1 4194560 1 0 0 0 5 3 0 0 20 0 9 0 77 1000 50 18446744073709551615\n"

/* qemu-server's vm_running_locally, under the root: the pid file's first
 * line, a QEMU whose -pidfile is that file, not a zombie */
static void test_guest_running(void **state)
{
    (void)state;
    char *root = make_tempdir(), p[1024];
    warnings w;
    pvs_ctx *ctx = test_ctx(&w);
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_ctx_set(ctx, "root", root, &err), 0);
    assert_false(pvs_guest_running(ctx, 100));   /* no pid file */
    put_file(root, "var/run/qemu-server/100.pid", "4242\n");
    assert_false(pvs_guest_running(ctx, 100));   /* no such process */
    PUT_BYTES(root, "proc/4242/cmdline", KVM_100);
    put_file(root, "proc/4242/stat", STAT_S);
    assert_true(pvs_guest_running(ctx, 100));
    assert_false(pvs_guest_running(ctx, 101));   /* no pid file of its own */
    put_file(root, "var/run/qemu-server/100.pid", "4242");        /* no newline: the same */
    assert_true(pvs_guest_running(ctx, 100));
    put_file(root, "var/run/qemu-server/100.pid", "4242\nmore\n"); /* only the first line counts */
    assert_true(pvs_guest_running(ctx, 100));
    const char *bad_pids[] = { " 4242\n", "4242 \n", "+4242\n", "4242x\n", "", "\n4242\n" };
    for (size_t i = 0; i < sizeof bad_pids / sizeof bad_pids[0]; i++) {
        put_file(root, "var/run/qemu-server/100.pid", bad_pids[i]);
        assert_false(pvs_guest_running(ctx, 100));
    }
    put_bytes(root, "var/run/qemu-server/100.pid", "4242\0\n", 6);
    assert_false(pvs_guest_running(ctx, 100));
    put_file(root, "var/run/qemu-server/100.pid", "4242\n");
    /* the process must be a QEMU started with this very pid file */
    PUT_BYTES(root, "proc/4242/cmdline", "/usr/bin/qemu-system-x86_64\0-pidfile\0/var/run/qemu-server/100.pid\0");
    assert_true(pvs_guest_running(ctx, 100));
    PUT_BYTES(root, "proc/4242/cmdline", "/bin/bash\0-pidfile\0/var/run/qemu-server/100.pid\0");
    assert_false(pvs_guest_running(ctx, 100));   /* a reused pid */
    PUT_BYTES(root, "proc/4242/cmdline", "/usr/bin/kvm\0-pidfile\0/var/run/qemu-server/101.pid\0");
    assert_false(pvs_guest_running(ctx, 100));   /* another guest's */
    PUT_BYTES(root, "proc/4242/cmdline", "/usr/bin/kvm\0-pidfile\0-daemonize\0/var/run/qemu-server/100.pid\0");
    assert_false(pvs_guest_running(ctx, 100));   /* -pidfile without a value */
    PUT_BYTES(root, "proc/4242/cmdline", "/usr/bin/kvm\0--pidfile\0\0/var/run/qemu-server/100.pid\0");
    assert_true(pvs_guest_running(ctx, 100));    /* --option, empty arguments skipped */
    PUT_BYTES(root, "proc/4242/cmdline", "/usr/bin/kvm\n\0-pidfile\0/var/run/qemu-server/100.pid\0");
    assert_false(pvs_guest_running(ctx, 100));   /* the first line only */
    PUT_BYTES(root, "proc/4242/cmdline", "");
    assert_false(pvs_guest_running(ctx, 100));   /* a kernel thread's */
    PUT_BYTES(root, "proc/4242/cmdline", KVM_100);
    /* a zombie is not running; a stat of another pid is no evidence */
    put_file(root, "proc/4242/stat", "4242 (kvm) Z 1 4242\n");
    assert_false(pvs_guest_running(ctx, 100));
    put_file(root, "proc/4242/stat", "4243 (kvm) S 1 4242\n");
    assert_false(pvs_guest_running(ctx, 100));
    put_file(root, "proc/4242/stat", "4242 (kvm (odd) name) S 1 4242\n");
    assert_true(pvs_guest_running(ctx, 100));
    /* hostile pid files: a FIFO does not hang us, a huge number is no pid */
    put_file(root, "var/run/qemu-server/100.pid", "99999999999999999999999\n");
    assert_false(pvs_guest_running(ctx, 100));
    snprintf(p, sizeof p, "%s/var/run/qemu-server/102.pid", root);
    assert_int_equal(mkfifo(p, 0600), 0);
    assert_false(pvs_guest_running(ctx, 102));
    /* a pid file from the future is warned about, as qemu-server does */
    put_file(root, "var/run/qemu-server/100.pid", "4242\n");
    snprintf(p, sizeof p, "%s/var/run/qemu-server/100.pid", root);
    struct timeval tv[2] = { { time(NULL) + 3600, 0 }, { time(NULL) + 3600, 0 } };
    assert_int_equal(utimes(p, tv), 0);
    assert_true(pvs_guest_running(ctx, 100));
    assert_string_equal(w.buf, "file '/var/run/qemu-server/100.pid' modified in future\n");
    pvs_ctx_free(ctx);
    remove_tree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_volumes_as_qemu_server),
        cmocka_unit_test(test_start_flow),
        cmocka_unit_test(test_guest_running),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
