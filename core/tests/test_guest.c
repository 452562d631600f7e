/* test_guest.c - a VM's configuration read as qemu-server reads it at VM
 * start, and the VM-start flow on dir storages (rbd: test_rbd.c); the
 * audit against an emulated kernel device. */
#include <sys/sysmacros.h>
#include <sys/time.h>

#include "guest.h"
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

/* ---- against upstream's own results ---- */

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* the warnings, sorted, one per line of the result (as the golden file has them) */
static char *sorted_warnings(const json_t *list)
{
    size_t n = json_array_size(list), i;
    const char **w = calloc(n + 1, sizeof *w);
    json_t *v;
    json_array_foreach(list, i, v)
        w[i] = json_string_value(v);
    qsort(w, n, sizeof *w, by_string);
    json_t *sorted = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(sorted, json_string(w[i]));
    free(w);
    char *s = json_dumps(sorted, JSON_INDENT(1));
    json_decref(sorted);
    return s;
}

static void expect_upstream(const char *name, const char *mode, const json_t *want, const json_t *got)
{
    json_t *vols = json_array(), *v;
    size_t i;
    json_array_foreach(json_object_get(got, "volumes"), i, v)
        json_array_append(vols, json_object_get(v, "volid"));
    char *wv = json_dumps(json_object_get(want, "volumes"), JSON_COMPACT), *gv = json_dumps(vols, JSON_COMPACT);
    char *ww = sorted_warnings(json_object_get(want, "warnings")), *gw = sorted_warnings(json_object_get(got, "warnings"));
    const char *wo = json_string_value(json_object_get(want, "ostype")), *go = json_string_value(json_object_get(got, "ostype"));
    if (strcmp(wv, gv) != 0 || strcmp(ww, gw) != 0 || (wo ? !go || strcmp(wo, go) : go != NULL))
        fail_msg("%s (%s): upstream: volumes %s ostype %s warnings %s\nhere: volumes %s ostype %s warnings %s", name,
                 mode, wv, wo ? wo : "-", ww, gv, go ? go : "-", gw);
    free(wv);
    free(gv);
    free(ww);
    free(gw);
    json_decref(vols);
}

/* core/tests/data/guests.json as qemu-server's own VM start reads it
 * (scripts/upstream-guest-golden.sh made guests.upstream.json): the same
 * volumes, ostype and warnings, with the pending changes applied and
 * without them */
static void test_upstream_configs(void **state)
{
    (void)state;
    json_t *cases = load_data("guests.json"), *golden = load_data("guests.upstream.json"), *c;
    const char *data = getenv("PVS_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/guests.cfg", data);
    pvs_ctx *ctx = test_ctx(NULL);
    pvs_error err = PVS_ERROR_INIT;
    json_t *cfg = pvs_config_read(ctx, path, &err);
    assert_non_null(cfg);
    /* the rbd path needs the cluster's fsid (upstream's tests set it so) */
    json_object_set_new(json_object_get(json_object_get(cfg, "ids"), "ceph"), "fsid",
                        json_string("11111111-2222-3333-4444-555555555555"));
    size_t i;
    assert_int_equal(json_array_size(cases), json_object_size(golden));
    json_array_foreach(cases, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *text = json_string_value(json_object_get(c, "text"));
        for (int current = 0; current < 2; current++) {
            json_t *got = NULL;
            assert_int_equal(pvs_vm_config_parse_in(ctx, cfg, text, strlen(text), 120,
                                                    current ? PVS_GUEST_CURRENT : 0, &got, &err), 0);
            expect_upstream(name, current ? "current" : "start",
                            json_object_get(json_object_get(golden, name), current ? "current" : "start"), got);
            json_decref(got);
        }
    }
    json_decref(cfg);
    json_decref(cases);
    json_decref(golden);
    pvs_ctx_free(ctx);
}

/* ---- the VM-start flow ---- */

typedef struct guest_fx {
    char dir[512];
    warnings w, info;
    pvs_ctx *ctx;
    json_t *cfg;
} guest_fx;

/* a node with a dir storage "store" (images, iso) under a test root */
static void guest_fx_init(guest_fx *f)
{
    char *tmp = make_tempdir(), text[2048];
    snprintf(f->dir, sizeof f->dir, "%s", tmp);
    free(tmp);
    const char *files[] = { "store/images/100/vm-100-disk-0.qcow2", "store/images/100/vm-100-disk-1.raw",
                            "store/images/100/vm-100-disk-2.raw", "store/template/iso/virtio.iso" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        put_file(f->dir, files[i], "");
    snprintf(text, sizeof text, "dir: store\n\tpath %s/store\n\tcontent images,iso\n", f->dir);
    f->ctx = test_ctx(&f->w);
    memset(&f->info, 0, sizeof f->info);
    pvs_ctx_set_info(f->ctx, collect_warning, &f->info);
    pvs_error err = PVS_ERROR_INIT;
    f->cfg = pvs_config_parse(f->ctx, "storage.cfg", text, strlen(text), &err);
    assert_non_null(f->cfg);
    assert_int_equal(pvs_ctx_set(f->ctx, "root", f->dir, &err), 0);
}

static void guest_fx_free(guest_fx *f)
{
    json_decref(f->cfg);
    pvs_ctx_free(f->ctx);
    remove_tree(f->dir);
}

/* pvs_activate_guest: the records' volume IDs ("a b ..."), the hints, and
 * what was warned and said */
static void start_vm(guest_fx *f, long long vmid, int flags, const char *want_vols, const char *want_hints)
{
    json_t *rep = NULL, *hints = NULL, *r;
    pvs_error err = PVS_ERROR_INIT;
    memset(&f->w, 0, sizeof f->w);
    memset(&f->info, 0, sizeof f->info);
    if (pvs_activate_guest(f->ctx, f->cfg, vmid, 1, flags, &rep, &hints, &err))
        fail_msg("vm %lld: %s", vmid, err.message);
    char got[1024] = "";
    size_t i;
    json_array_foreach(rep, i, r)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? " " : "",
                 json_string_value(json_object_get(r, "volid")));
    assert_string_equal(got, want_vols);
    char *h = json_dumps(hints, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(h, want_hints);
    free(h);
    json_decref(rep);
    json_decref(hints);
}

static char *conf_text(guest_fx *f, long long vmid)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/etc/pve/qemu-server/%lld.conf", f->dir, vmid);
    size_t len;
    char *text = pvs_read_regular_file(p, &len, NULL);
    assert_non_null(text);
    return text;
}

#define WIN_START "{\"guest-is-windows\":1,\"plugin-may-deactivate-volume\":1}"
#define LINUX_START "{\"guest-is-windows\":0,\"plugin-may-deactivate-volume\":1}"

/* a Linux guest made Windows while it ran: the start applies the pending
 * ostype, the added disk and the deletions ("!" forces, ';' separates),
 * says so in a dry run, warns qemu-server's configuration warnings, and
 * leaves the file as it is */
static void test_start_applies_pending(void **state)
{
    (void)state;
    guest_fx f;
    guest_fx_init(&f);
    const char *conf = "ostype: l26\nscsi0: store:100/vm-100-disk-0.qcow2,size=1G\n"
                       "virtio0: store:100/vm-100-disk-2.raw\nide2: store:iso/virtio.iso,media=cdrom\ncores: x\n"
                       "\n[PENDING]\ndelete: !virtio0;ide2\nostype: win11\nsata1: store:100/vm-100-disk-1.raw\n"
                       "[PENDING]\nostype: win11\nsata1: store:100/vm-100-disk-1.raw\ndelete: !virtio0;ide2\n";
    put_file(f.dir, "etc/pve/qemu-server/100.conf", conf);
    start_vm(&f, 100, PVS_DRY_RUN, "store:100/vm-100-disk-0.qcow2 store:100/vm-100-disk-1.raw", WIN_START);
    assert_string_equal(f.w.buf, "vm 100 - unable to parse value of 'cores' - type check ('integer') failed - got 'x'\n"
                                 "vm 100 - duplicate section: pending\n");
    assert_string_equal(f.info.buf, "vm 100 - pending changes applied as vm_start applies them (the configuration "
                                    "file is not changed): ostype, sata1 set; ide2, virtio0 deleted\n");
    start_vm(&f, 100, 0, "store:100/vm-100-disk-0.qcow2 store:100/vm-100-disk-1.raw", WIN_START);
    assert_string_equal(f.info.buf, "");
    char *after = conf_text(&f, 100);
    assert_string_equal(after, conf);   /* qemu-server would have written the applied file */
    free(after);
    /* an incoming migration's start: the current section as it is */
    start_vm(&f, 100, PVS_DRY_RUN | PVS_GUEST_CURRENT,
             "store:iso/virtio.iso store:100/vm-100-disk-0.qcow2 store:100/vm-100-disk-2.raw", LINUX_START);
    assert_string_equal(f.info.buf, "vm 100 - pending changes not applied: the current configuration was asked for\n");
    /* a hibernated guest resumes: its pending changes stay pending */
    put_file(f.dir, "etc/pve/qemu-server/101.conf", "ostype: l26\nscsi0: store:100/vm-100-disk-0.qcow2\n"
                                                   "vmstate: store:100/vm-100-disk-1.raw\n[PENDING]\nostype: win11\n");
    start_vm(&f, 101, PVS_DRY_RUN, "store:100/vm-100-disk-0.qcow2 store:100/vm-100-disk-1.raw", LINUX_START);
    assert_string_equal(f.info.buf, "vm 101 - pending changes not applied: the VM resumes from its saved state\n");
    /* a pending deletion of ostype: no longer a Windows guest */
    put_file(f.dir, "etc/pve/qemu-server/102.conf", "ostype: win10\nscsi0: store:100/vm-100-disk-0.qcow2\n"
                                                   "[PENDING]\ndelete: ostype\n");
    start_vm(&f, 102, 0, "store:100/vm-100-disk-0.qcow2", LINUX_START);
    guest_fx_free(&f);
}

/* a drive key given twice activates its last volume only, as qemu-server
 * (a Perl hash) keeps it; a value qemu-server refuses is no volume */
static void test_last_key_wins(void **state)
{
    (void)state;
    guest_fx f;
    guest_fx_init(&f);
    put_file(f.dir, "etc/pve/qemu-server/100.conf",
             "scsi0: store:100/vm-100-disk-0.qcow2\nostype: win11\nscsi0: store:100/vm-100-disk-1.raw\n"
             "ostype: l26\nsata0: store:100/vm-100-disk-2.raw,cache=fast\n");
    start_vm(&f, 100, 0, "store:100/vm-100-disk-1.raw", LINUX_START);
    assert_string_equal(f.w.buf, "vm 100 - unable to parse value of 'sata0' - format error\ncache: value 'fast' does "
                                 "not have a value in the enumeration 'none, writethrough, writeback, unsafe, "
                                 "directsync'\n");
    guest_fx_free(&f);
}

/* what pvs_vm_config_parse says beside the volumes; a line holding a NUL
 * byte is refused (qemu-server's Perl would take the byte) */
static void test_parse_result(void **state)
{
    (void)state;
    static const char text[] = "ostype: win11\nscsi0: st:vm-1-disk-0\nscsi1: st:vm-1-\0disk-1\n[PENDING]\n"
                               "delete: scsi0,ostype\nscsi2: st:vm-1-disk-2\nostype: win11\n";
    json_t *g = NULL;
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_vm_config_parse(text, sizeof text - 1, 7, 0, &g, &err), 0);
    char *s = json_dumps(g, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(s, "{\"ostype\":\"win11\",\"pending\":{\"applied\":true,\"deleted\":[\"ostype\","
                           "\"scsi0\"],\"set\":[\"ostype\",\"scsi2\"]},\"resume\":false,\"volumes\":[{\"key\":"
                           "\"scsi2\",\"volid\":\"st:vm-1-disk-2\"}],\"warnings\":[\"vm 7 - unable to parse config: "
                           "scsi1: st:vm-1-\\\\0disk-1\\n\"]}");
    free(s);
    json_decref(g);
    /* the old call: the current section, no guest ID known */
    assert_int_equal(pvs_guest_config_parse(text, sizeof text - 1, &g, &err), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(g, "warnings"), 0)),
                        "vm 0 - unable to parse config: scsi1: st:vm-1-\\0disk-1\n");
    assert_false(json_is_true(json_object_get(json_object_get(g, "pending"), "applied")));
    json_decref(g);
}

/* ---- the audit, against an emulated kernel ---- */

#define FSID "11111111-2222-3333-4444-555555555555"

/* ROOT/dev/rbdID mapped from IMAGE of pool rbd with OPTIONS, as the kernel
 * and udev show it */
static void map_device(const char *root, int id, const char *image, const char *options)
{
    char p[1024], t[512];
    snprintf(p, sizeof p, "%s/dev/rbd%d", root, id);
    put_file(root, "dev/.keep", "");
    assert_int_equal(mknod(p, S_IFBLK | 0600, makedev(251, (unsigned)id * 16)), 0);
    snprintf(p, sizeof p, "sys/devices/rbd/%d/major", id);
    put_file(root, p, "251\n");
    snprintf(p, sizeof p, "sys/devices/rbd/%d/minor", id);
    snprintf(t, sizeof t, "%d\n", id * 16);
    put_file(root, p, t);
    snprintf(p, sizeof p, "sys/devices/rbd/%d/config_info", id);
    snprintf(t, sizeof t, "127.0.0.1:6789 %s rbd %s -\n", options, image);
    put_file(root, p, t);
    snprintf(p, sizeof p, "dev/rbd-pve/%s/rbd/.keep", FSID);
    put_file(root, p, "");
    snprintf(p, sizeof p, "%s/dev/rbd-pve/%s/rbd/%s", root, FSID, image);
    snprintf(t, sizeof t, "../../../rbd%d", id);
    assert_int_equal(symlink(t, p), 0);
}

/* a guest's volume finds its device only through the rbd plugin's
 * parse_volname: "ceph:../../../rbd0" is never looked up (another guest's
 * device is there) but a guest error, and a linked clone is found by its
 * own image name; a stopped guest is judged by the ostype its next start
 * applies */
static void test_audit_devices(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("SKIP: test_audit_devices needs root (mknod of the emulated /dev/rbdN)\n");
        skip();
    }
    char *root = make_tempdir();
    put_file(root, "etc/pve/ceph.conf", "[global]\n\tfsid = " FSID "\n");
    const char *text = "rbd: ceph\n\tpool rbd\n\tkrbd 1\n\tcontent images\n";
    warnings w;
    pvs_ctx *ctx = test_ctx(&w);
    pvs_error err = PVS_ERROR_INIT;
    json_t *cfg = pvs_config_parse(ctx, "storage.cfg", text, strlen(text), &err), *res = NULL;
    assert_int_equal(pvs_ctx_set(ctx, "root", root, &err), 0);
    map_device(root, 0, "vm-100-disk-0", "name=admin,key=client.admin");
    map_device(root, 1, "vm-102-disk-0", "name=admin,key=client.admin");
    map_device(root, 2, "vm-103-disk-0", "name=admin,key=client.admin");
    put_file(root, "etc/pve/qemu-server/100.conf", "ostype: l26\nscsi0: ceph:vm-100-disk-0\n");
    put_file(root, "etc/pve/qemu-server/101.conf", "ostype: win11\nscsi0: ceph:../../../rbd0\n");
    put_file(root, "etc/pve/qemu-server/102.conf", "ostype: l26\nscsi0: ceph:vm-102-disk-0\n[PENDING]\nostype: win11\n");
    put_file(root, "etc/pve/qemu-server/103.conf", "ostype: win10\nvirtio0: ceph:base-9-disk-0/vm-103-disk-0\n");
    assert_int_equal(pvs_audit(ctx, cfg, &res, &err), 0);
    char *s = json_dumps(res, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(s, "{\"guest_errors\":[{\"error\":\"scsi0: unable to parse rbd volume name '../../../rbd0'\","
                           "\"vmid\":101}],\"needs_action\":3,\"volumes\":[{\"command\":null,\"device\":\"/dev/rbd0\","
                           "\"in_order\":true,\"key\":\"scsi0\",\"options\":\"name=admin,key=client.admin\",\"remedy\":null,"
                           "\"running\":false,\"vmid\":100,\"volid\":\"ceph:vm-100-disk-0\",\"windows\":false},"
                           "{\"command\":[\"pvestorage\",\"map\",\"ceph:vm-102-disk-0\",\"--hint\",\"guest-is-windows=1\","
                           "\"--hint\",\"plugin-may-deactivate-volume=1\"],\"device\":\"/dev/rbd1\",\"in_order\":false,"
                           "\"key\":\"scsi0\",\"options\":\"name=admin,key=client.admin\",\"remedy\":\"mapped without "
                           "rxbounce and the guest is not running: remap it with the command\",\"running\":false,"
                           "\"vmid\":102,\"volid\":\"ceph:vm-102-disk-0\",\"windows\":true},{\"command\":[\"pvestorage\","
                           "\"map\",\"ceph:base-9-disk-0/vm-103-disk-0\",\"--hint\",\"guest-is-windows=1\",\"--hint\","
                           "\"plugin-may-deactivate-volume=1\"],\"device\":\"/dev/rbd2\",\"in_order\":false,\"key\":"
                           "\"virtio0\",\"options\":\"name=admin,key=client.admin\",\"remedy\":\"mapped without rxbounce and "
                           "the guest is not running: remap it with the command\",\"running\":false,\"vmid\":103,"
                           "\"volid\":\"ceph:base-9-disk-0/vm-103-disk-0\",\"windows\":true}]}");
    free(s);
    assert_string_equal(w.buf, "");
    json_decref(res);
    json_decref(cfg);
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
        cmocka_unit_test(test_upstream_configs),
        cmocka_unit_test(test_start_applies_pending),
        cmocka_unit_test(test_last_key_wins),
        cmocka_unit_test(test_parse_result),
        cmocka_unit_test(test_audit_devices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
