/* test_cli.c - the pvestorage command as a user runs it: exit codes,
 * stdout, the exact stderr messages, --json. */
#include <sys/sysmacros.h>

#include "helpers.h"
#include "internal.h"

static char *dir;
static char cfgpath[600];

typedef struct out {
    int status;
    char *out, *err;
} out;

static out run(const char *a0, ...)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = getenv("PVS_CLI");
    va_list ap;
    va_start(ap, a0);
    for (const char *a = a0; a && n < 30; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    pvs_run_result r;
    pvs_error err = PVS_ERROR_INIT;
    if (pvs_run(argv, 30, &r, &err))
        fail_msg("cannot run the command: %s", err.message);
    out o = { r.exit_status, r.out, r.err };
    return o;
}

static void out_free(out *o)
{
    free(o->out);
    free(o->err);
}

static void expect(out o, int status, const char *stdout_text, const char *stderr_text)
{
    if (o.status != status)
        fail_msg("exit %d (expected %d)\nstdout: %s\nstderr: %s", o.status, status, o.out, o.err);
    if (stdout_text)
        assert_string_equal(o.out, stdout_text);
    if (stderr_text)
        assert_string_equal(o.err, stderr_text);
    out_free(&o);
}

static int setup(void **state)
{
    (void)state;
    if (!getenv("PVS_CLI"))
        fail_msg("PVS_CLI is not set (run through ctest)");
    dir = make_tempdir();
    snprintf(cfgpath, sizeof cfgpath, "%s/storage.cfg", dir);
    char text[2048];
    snprintf(text, sizeof text, "dir: store\n\tpath %s/store\n\tcontent images,iso\n", dir);
    write_file(cfgpath, text);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(dir);
    free(dir);
    return 0;
}

static void test_usage(void **state)
{
    (void)state;
    out o = run("--help", NULL);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "usage: pvestorage"));
    out_free(&o);
    o = run("activate", "--help", NULL);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "usage: pvestorage [GLOBAL OPTIONS] activate VOLID..."));
    assert_non_null(strstr(o.out, "--hint NAME=VALUE"));
    out_free(&o);
    expect(run(NULL), 2, "", "pvestorage: no command given\nTry 'pvestorage --help'.\n");
    expect(run("frob", NULL), 2, "", "pvestorage: unknown command 'frob'\nTry 'pvestorage --help'.\n");
    expect(run("--bogus", "path", "x:y", NULL), 2, "",
           "pvestorage: unknown or incomplete option '--bogus'\nTry 'pvestorage --help'.\n");
    expect(run("--root", "relative", "hints", NULL), 2, "",
           "pvestorage: invalid value for setting 'root': 'relative' is not an absolute path\n"
           "Try 'pvestorage --help'.\n");
    /* --json: a usage error is one JSON document too (exit 2, code EUSAGE) */
    expect(run("--json", "frob", NULL), 2,
           "{\"ok\":false,\"error\":{\"code\":\"EUSAGE\",\"message\":\"unknown command 'frob'\","
           "\"exit_status\":null,\"stderr\":null},\"warnings\":[],\"info\":[]}\n", "");
    expect(run("--config", cfgpath, "map", "--json", NULL), 2,
           "{\"ok\":false,\"error\":{\"code\":\"EUSAGE\",\"message\":\"map: expected VOLID\","
           "\"exit_status\":null,\"stderr\":null},\"warnings\":[],\"info\":[]}\n", "");
    o = run("--config", cfgpath, "map", NULL);
    assert_int_equal(o.status, 2);
    assert_non_null(strstr(o.err, "pvestorage map: expected VOLID"));
    out_free(&o);
    expect(run("--config", cfgpath, "unmap", "--hint", "guest-is-windows=1", "store:iso/a.iso", NULL), 2, "",
           "pvestorage: 'unmap' takes no hints\nTry 'pvestorage --help'.\n");
}

static void test_path_and_map(void **state)
{
    (void)state;
    char want[1024], json[2048];
    snprintf(want, sizeof want, "%s/store/template/iso/x.iso\n", dir);
    expect(run("--config", cfgpath, "path", "store:iso/x.iso", NULL), 0, want, "");
    expect(run("--config", cfgpath, "map", "store:iso/x.iso", "--hint", "guest-is-windows=1", NULL), 0, want, "");
    snprintf(json, sizeof json, "{\"ok\":true,\"volid\":\"store:iso/x.iso\",\"path\":\"%s/store/template/iso/x.iso\","
             "\"warnings\":[],\"info\":[],\"volumes\":[{\"volid\":\"store:iso/x.iso\",\"path\":"
             "\"%s/store/template/iso/x.iso\",\"action\":\"mapped\",\"warnings\":[]}]}\n", dir, dir);
    expect(run("--config", cfgpath, "--json", "map", "store:iso/x.iso", NULL), 0, json, "");
    expect(run("--config", cfgpath, "path", "nope:iso/x.iso", NULL), 1, "", "storage 'nope' does not exist\n");
    /* --json: one document for every outcome, failures included, nothing on stderr */
    expect(run("--config", cfgpath, "--json", "path", "nope:iso/x.iso", NULL), 1,
           "{\"ok\":false,\"error\":{\"code\":\"ENOENT\",\"message\":\"storage 'nope' does not exist\","
           "\"exit_status\":null,\"stderr\":null},\"warnings\":[],\"info\":[]}\n", "");
    expect(run("--config", cfgpath, "path", "store:iso/../../x.iso", NULL), 1, "",
           "unable to parse directory volume name 'iso/../../x.iso'\n");
    expect(run("--config", cfgpath, "path", "store:100/vm-100-disk-0.raw", "--snapshot", "s1", NULL), 1, "",
           "can't snapshot this image format\n");
}

static void test_activate(void **state)
{
    (void)state;
    const char *vol = "store:100/vm-100-disk-0.raw";
    expect(run("--config", cfgpath, "activate", vol, "--hint", "guest-is-windows=1",
               "--hint", "plugin-may-deactivate-volume=1", NULL),
           1, "", "volume 'store:100/vm-100-disk-0.raw' does not exist\n");
    char p[1024];
    snprintf(p, sizeof p, "%s/store/images/100", dir);
    mkdirs(p);
    strcat(p, "/vm-100-disk-0.raw");
    write_file(p, "");
    expect(run("--config", cfgpath, "activate", vol, "--hint", "guest-is-windows=1", NULL), 0, "", "");
    char json[2048];
    snprintf(json, sizeof json, "{\"ok\":true,\"activated\":[\"%s\"],\"warnings\":[],\"info\":[],\"volumes\":"
             "[{\"volid\":\"%s\",\"path\":\"%s\",\"action\":\"activated\",\"warnings\":[]}]}\n", vol, vol, p);
    expect(run("--config", cfgpath, "--json", "activate", vol, "--hints",
               "{\"guest-is-windows\": true, \"plugin-may-deactivate-volume\": true}", NULL), 0, json, "");
    /* a dry run: the plan, the same action, nothing else printed */
    snprintf(json, sizeof json, "%s: activated %s\n", vol, p);
    expect(run("--config", cfgpath, "activate", "--dry-run", vol, NULL), 0, json, "");
    expect(run("--config", cfgpath, "path", "--dry-run", vol, NULL), 2, "",
           "pvestorage: --dry-run belongs to the 'activate' and 'map' commands\nTry 'pvestorage --help'.\n");
    /* a failure: the failing volume's record says so, the ones after it are not there */
    out o = run("--config", cfgpath, "--json", "activate", vol, "store:100/vm-100-disk-9.raw", vol, NULL);
    assert_int_equal(o.status, 1);
    json_t *doc = json_loads(o.out, 0, NULL), *recs = json_object_get(doc, "volumes");
    assert_int_equal(json_array_size(recs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "action")), "activated");
    json_t *bad = json_array_get(recs, 1);
    assert_string_equal(json_string_value(json_object_get(bad, "action")), "failed");
    assert_string_equal(json_string_value(json_object_get(bad, "error")),
                        "volume 'store:100/vm-100-disk-9.raw' does not exist");
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "error"), "message")),
                        "volume 'store:100/vm-100-disk-9.raw' does not exist");
    json_decref(doc);
    out_free(&o);
    expect(run("--config", cfgpath, "activate", vol, "--hint", "guest-is-windows=yes", NULL), 1, "",
           "internal error - hints are not valid: 400 Parameter verification failed.\n"
           "guest-is-windows: type check ('boolean') failed - got 'yes'\n");
    expect(run("--config", cfgpath, "--json", "deactivate", vol, NULL), 0,
           "{\"ok\":true,\"deactivated\":[\"store:100/vm-100-disk-0.raw\"],\"warnings\":[],\"info\":[]}\n", "");
    /* upstream's dir plugin deactivates nothing, whatever the name */
    expect(run("--config", cfgpath, "deactivate", vol, "store:junk", NULL), 0, "", "");
    expect(run("--config", cfgpath, "--json", "unmap", vol, NULL), 0,
           "{\"ok\":true,\"volid\":\"store:100/vm-100-disk-0.raw\",\"unmapped\":true,\"warnings\":[],\"info\":[]}\n", "");
}

static void test_hints(void **state)
{
    (void)state;
    expect(run("verify-hints", "--hints", "{\"guest-is-windows\": \"yes\", \"x\": 1}", NULL), 1, "",
           "internal error - hints are not valid: 400 Parameter verification failed.\n"
           "guest-is-windows: type check ('boolean') failed - got 'yes'\n"
           "x: property is not defined in schema and the schema does not allow additional properties\n");
    expect(run("verify-hints", "--hints", "{bad", NULL), 2, "",
           "pvestorage: invalid --hints JSON: string or '}' expected near 'bad' (line 1, column 4)\n"
           "Try 'pvestorage --help'.\n");
    expect(run("verify-hints", "--hints", "[1]", NULL), 1, "",
           "internal error - hints are not valid: 400 Parameter verification failed.\n"
           "_root: type check ('object') failed\n");
    expect(run("--json", "verify-hints", "--hint", "guest-is-windows=true", "--hint",
               "plugin-may-deactivate-volume=0", NULL),
           0, "{\"ok\":true,\"valid\":true,\"hints\":{\"guest-is-windows\":true,\"plugin-may-deactivate-volume\":0},"
              "\"warnings\":[],\"info\":[]}\n", "");
    expect(run("verify-hints", "--hint", "guest-is-windows=1", NULL), 0, "hints are valid\n", "");
    expect(run("verify-hints", "--hint", "guest-is-windows", NULL), 2, "",
           "pvestorage: --hint expects NAME=VALUE, got 'guest-is-windows'\nTry 'pvestorage --help'.\n");
    expect(run("verify-hints", "--hint", "a=1", "--hint", "a=0", NULL), 2, "",
           "pvestorage: hint 'a' given twice\nTry 'pvestorage --help'.\n");
    out o = run("hints", NULL);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "guest-is-windows"));
    assert_non_null(strstr(o.out, "true if the volume belongs to a Windows VM guest"));
    out_free(&o);
    o = run("hints", "--json-schema", NULL);
    assert_int_equal(o.status, 0);
    json_t *schema = json_loads(o.out, 0, NULL);
    assert_non_null(schema);
    assert_string_equal(json_string_value(json_object_get(schema, "$schema")),
                        "https://json-schema.org/draft/2020-12/schema");
    json_decref(schema);
    out_free(&o);
}

static void test_config_warnings(void **state)
{
    (void)state;
    char p[700], text[1024], want[1024];
    snprintf(p, sizeof p, "%s/warn.cfg", dir);
    snprintf(text, sizeof text, "dir: store\n\tpath %s/store\n\tbogus 1\n", dir);
    write_file(p, text);
    snprintf(want, sizeof want,
             "file %s line 3 (section 'store') - unable to parse value of 'bogus': unknown property type\n", p);
    out o = run("--config", p, "path", "store:iso/a.iso", NULL);
    assert_int_equal(o.status, 0);
    assert_string_equal(o.err, want);
    out_free(&o);
    /* --quiet: no warnings */
    char path_line[1024];
    snprintf(path_line, sizeof path_line, "%s/store/template/iso/a.iso\n", dir);
    expect(run("--quiet", "--config", p, "path", "store:iso/a.iso", NULL), 0, path_line, "");
    /* --json: the warning is in the document, not on stderr */
    char json[2048];
    want[strlen(want) - 1] = '\0';
    snprintf(json, sizeof json, "{\"ok\":true,\"volid\":\"store:iso/a.iso\",\"path\":\"%s/store/template/iso/a.iso\","
                                "\"warnings\":[\"%s\"],\"info\":[]}\n", dir, want);
    expect(run("--config", p, "--json", "path", "store:iso/a.iso", NULL), 0, json, "");
    snprintf(p, sizeof p, "%s/missing.cfg", dir);
    snprintf(want, sizeof want, "unable to read '%s' - No such file or directory\n", p);
    expect(run("--config", p, "path", "store:iso/a.iso", NULL), 1, "", want);
    /* --root decides the default configuration path */
    snprintf(want, sizeof want, "unable to read '%s/etc/pve/storage.cfg' - No such file or directory\n", dir);
    expect(run("--root", dir, "path", "store:iso/a.iso", NULL), 1, "", want);
}

/* Names that are not UTF-8 are printed, never dropped: as \udcXX in JSON
 * (Python's surrogateescape takes them back to the same bytes). */
static void test_json_non_utf8(void **state)
{
    (void)state;
    char p[1024], want[2048];
    snprintf(p, sizeof p, "%s/store/images/101", dir);
    mkdirs(p);
    strcat(p, "/vm-101-\xff\x80.raw");
    write_file(p, "");
    snprintf(want, sizeof want, "{\"ok\":true,\"activated\":[\"store:101/vm-101-\\udcff\\udc80.raw\"],\"warnings\":[],"
             "\"info\":[],\"volumes\":[{\"volid\":\"store:101/vm-101-\\udcff\\udc80.raw\",\"path\":"
             "\"%s/store/images/101/vm-101-\\udcff\\udc80.raw\",\"action\":\"activated\",\"warnings\":[]}]}\n", dir);
    expect(run("--config", cfgpath, "--json", "activate", "store:101/vm-101-\xff\x80.raw", NULL), 0, want, "");
    snprintf(want, sizeof want, "{\"ok\":true,\"volid\":\"store:101/vm-101-\\udcff\\udc80.raw\",\"path\":"
             "\"%s/store/images/101/vm-101-\\udcff\\udc80.raw\",\"warnings\":[],\"info\":[]}\n", dir);
    expect(run("--config", cfgpath, "--json", "path", "store:101/vm-101-\xff\x80.raw", NULL), 0, want, "");
    /* valid UTF-8 stays as it is; quotes and control characters are escaped */
    expect(run("--config", cfgpath, "--json", "deactivate", "store:iso/gr\xc3\xbcn \"x\"\t.iso", NULL), 0,
           "{\"ok\":true,\"deactivated\":[\"store:iso/gr\xc3\xbcn \\\"x\\\"\\u0009.iso\"],\"warnings\":[],\"info\":[]}\n", "");
}

/* a monitor list librados could not parse never reaches it: the parser
 * drops it with upstream's warning (and the plugin checks hashes handed
 * over already parsed: test_faults) */
static void test_garbage_monhost(void **state)
{
    (void)state;
    char p[700], text[1024];
    snprintf(p, sizeof p, "%s/garbage.cfg", dir);
    snprintf(text, sizeof text, "rbd: g1\n\tpool rbd\n\tmonhost garbage!!,;;[::x\n\tkrbd 1\n");
    write_file(p, text);
    /* the parser refuses it as upstream's does (pve-storage-portal-dns-list) */
    out o = run("--config", p, "--ceph-timeout", "5", "path", "g1:vm-100-disk-0", NULL);
    char want[1024];
    snprintf(want, sizeof want, "file %s line 3 (section 'g1') - unable to parse value of 'monhost': "
                                "invalid format - value does not look like a valid portal address\n\n", p);
    if (strncmp(o.err, want, strlen(want)) != 0)
        fail_msg("stderr: %s", o.err);
    assert_int_equal(o.status, 1);
    free(o.out);
    free(o.err);
}

/* A real node's storage.cfg, every upstream type in it: no warning for
 * its valid sections; dir and rbd volumes work; a volume on a type served
 * by no plugin gets the one clear error. */
static void test_real_node(void **state)
{
    (void)state;
    char cfgpath[4096];
    snprintf(cfgpath, sizeof cfgpath, "%s/node.cfg", getenv("PVS_TEST_DATA"));
    expect(run("--root", dir, "--config", cfgpath, "path", "dir-ssd:100/vm-100-disk-0.qcow2", NULL), 0,
           "/mnt/ssd/vm-images/100/vm-100-disk-0.qcow2\n", "");
    expect(run("--root", dir, "--config", cfgpath, "path", "local:iso/x.iso", NULL), 0,
           "/var/lib/vz/template/iso/x.iso\n", "");
    out o = run("--root", dir, "--config", cfgpath, "path", "ceph-vm:vm-100-disk-0", NULL);
    assert_int_equal(o.status, 0);
    assert_string_equal(o.err, "");
    assert_int_equal(strncmp(o.out, "rbd:vm/vm-100-disk-0:mon_host=192.0.2.11;", 41), 0);
    free(o.out);
    free(o.err);
    static const char *const others[][2] = {
        { "local-lvm:vm-100-disk-0", "lvmthin" }, { "san-lvm:vm-100-disk-0", "lvm" },
        { "local-zfs:vm-100-disk-0", "zfspool" }, { "nfs-iso:iso/x.iso", "nfs" },
        { "pbs:backup/vm/100/2025-01-01T00:00:00Z", "pbs" }, { "esxi-import:ha-datacenter/ds/vm/vm.vmx", "esxi" },
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        char want[512], storeid[64];
        snprintf(storeid, sizeof storeid, "%.*s", (int)strcspn(others[i][0], ":"), others[i][0]);
        snprintf(want, sizeof want, "storage '%s' has type '%s', for which no plugin is registered "
                                    "(a plugin can be registered for it)\n", storeid, others[i][1]);
        expect(run("--root", dir, "--config", cfgpath, "activate", others[i][0], NULL), 1, "", want);
    }
}

/* a node's root of its own under the test's dir, with sub made in it */
static void node_root(char *root, size_t n, const char *name, const char *sub)
{
    char p[1024];
    snprintf(root, n, "%s/%s", dir, name);
    snprintf(p, sizeof p, "%s/%s", root, sub);
    mkdirs(p);
}

/* rbd, as upstream: IPv6 monitors in brackets, the keyring's file checked,
 * a managed cluster's fsid from its ceph.conf (no cluster needed here) */
static void test_rbd_connection_details(void **state)
{
    (void)state;
    char root[700], p[800], text[1024], want[1024];
    node_root(root, sizeof root, "rbdroot", "etc/pve/priv/ceph");
    snprintf(p, sizeof p, "%s/rbd.cfg", dir);
    snprintf(text, sizeof text, "rbd: v6\n\tpool vm\n\tmonhost fd00::1 [fd00::2]:3300;10.0.0.1:6789\n\n"
                                "rbd: managed\n\tpool vm\n\tkrbd 1\n");
    write_file(p, text);
    expect(run("--root", root, "--config", p, "path", "v6:vm-100-disk-0", NULL), 0,
           "rbd:vm/vm-100-disk-0:mon_host=[fd00\\:\\:1];[fd00\\:\\:2]\\:3300;10.0.0.1\\:6789:auth_supported=none\n", "");
    char key[900];
    snprintf(key, sizeof key, "%s/etc/pve/priv/ceph/v6.keyring", root);
    write_file(key, "[client.admin]\n\tno key here\n");
    snprintf(want, sizeof want, "Not a proper rbd authentication file: %s\n", key);
    expect(run("--root", root, "--config", p, "path", "v6:vm-100-disk-0", NULL), 1, "", want);
    snprintf(key, sizeof key, "%s/etc/pve/ceph.conf", root);
    write_file(key, "[global]\n\tmon_host = 127.0.0.1:1\n");
    expect(run("--root", root, "--config", p, "path", "managed:vm-100-disk-0", NULL), 1, "",
           "cluster fsid has invalid format\n");
}

/* status: each storage's type, enabled, active, content (reads only; the
 * one rbd storage's cluster is a closed loopback port) */
static void test_status(void **state)
{
    (void)state;
    char root[700], p[800], text[2048], want[4096];
    node_root(root, sizeof root, "statusroot", "etc/pve");
    snprintf(p, sizeof p, "%s/etc/pve/ceph.conf", root);
    write_file(p, "[global]\n\tfsid = 11111111-2222-3333-4444-555555555555\n\tmon_host = 127.0.0.1:1\n");
    snprintf(p, sizeof p, "%s/there", dir);
    mkdirs(p);
    snprintf(p, sizeof p, "%s/status.cfg", dir);
    snprintf(text, sizeof text,
             "dir: there\n\tpath %s/there\n\tcontent iso,images\n\n"
             "dir: gone\n\tpath %s/gone\n\n"
             "dir: off\n\tpath %s/there\n\tdisable\n\n"
             "lvmthin: thin\n\tthinpool data\n\tvgname pve\n\n"
             "rbd: ceph\n\tpool rbd\n\tkrbd 1\n", dir, dir, dir);
    write_file(p, text);
    out o = run("--root", root, "--config", p, "--ceph-timeout", "3", "--json", "status", NULL);
    assert_int_equal(o.status, 0);
    assert_string_equal(o.err, "");
    json_t *doc = json_loads(o.out, 0, NULL), *list = json_object_get(doc, "storages");
    assert_non_null(list);
    /* the file's order, after the implicit local */
    static const char *const ids[] = { "local", "there", "gone", "off", "thin", "ceph" };
    assert_int_equal(json_array_size(list), 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(list, i), "storage")), ids[i]);
    json_t *there = json_array_get(list, 1), *gone = json_array_get(list, 2), *off = json_array_get(list, 3);
    json_t *thin = json_array_get(list, 4), *ceph = json_array_get(list, 5);
    assert_true(json_is_true(json_object_get(there, "active")));
    char *c = json_dumps(json_object_get(there, "content"), 0);
    assert_string_equal(c, "[\"images\", \"iso\"]");
    free(c);
    assert_true(json_is_false(json_object_get(gone, "active")));
    snprintf(want, sizeof want, "directory '%s/gone' does not exist or is unreachable", dir);
    assert_string_equal(json_string_value(json_object_get(gone, "reason")), want);
    assert_true(json_is_false(json_object_get(off, "enabled")));
    assert_true(json_is_false(json_object_get(off, "active")));
    assert_true(json_is_null(json_object_get(thin, "active")));   /* no plugin here can tell */
    assert_string_equal(json_string_value(json_object_get(thin, "type")), "lvmthin");
    assert_true(json_is_false(json_object_get(ceph, "active")));
    assert_non_null(strstr(json_string_value(json_object_get(ceph, "reason")), "storage 'ceph'"));
    assert_true(json_is_true(json_object_get(ceph, "shared")));
    /* reads only: nothing created */
    snprintf(p, sizeof p, "%s/gone", dir);
    struct stat st;
    assert_int_not_equal(stat(p, &st), 0);
    json_decref(doc);
    out_free(&o);
}

/* list: a dir storage's volumes as pvesm list shows them -- qcow2 virtual
 * size, a container's disk as rootdir, backups by guest; what is no volume
 * (a FIFO, a stray file, a directory) is left out */
static void test_list(void **state)
{
    (void)state;
    char root[700], p[900], want[4096];
    node_root(root, sizeof root, "listroot", "s/images/100");
    put_file(root, "etc/pve/lxc/101.conf", "arch: amd64\n");
    /* a qcow2 header: magic, version 3, virtual size 4 GiB at byte 24 */
    static const unsigned char qcow2[32] = { 'Q', 'F', 'I', 0xfb, 0, 0, 0, 3, [24] = 0, 0, 0, 1, 0, 0, 0, 0 };
    snprintf(p, sizeof p, "%s/s/images/100/vm-100-disk-0.qcow2", root);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fwrite(qcow2, 1, sizeof qcow2, f);
    fclose(f);
    put_file(root, "s/images/101/vm-101-disk-0.raw", "0123456789");
    snprintf(p, sizeof p, "%s/s/images/100/vm-100-disk-1.raw", root);
    assert_int_equal(mkfifo(p, 0600), 0);
    snprintf(p, sizeof p, "%s/s/images/100/notes.txt", root);
    write_file(p, "x");
    put_file(root, "s/template/iso/virtio.iso", "iso");
    put_file(root, "s/dump/vzdump-qemu-100-2026_01_01-00_00_00.vma.zst", "");
    snprintf(p, sizeof p, "%s/list.cfg", dir);
    char text[2048];   /* the storages' paths are the host's; /etc/pve is under the root */
    snprintf(text, sizeof text, "dir: store\n\tpath %s/s\n\tcontent images,rootdir,iso,backup\n\n"
                                "dir: vmonly\n\tpath %s/s\n\tcontent images\n", root, root);
    write_file(p, text);
    expect(run("--root", root, "--config", p, "list", "store", NULL), 0,
           "VOLID                                        FORMAT   CONTENT            SIZE VMID\n"
           "store:100/vm-100-disk-0.qcow2                qcow2    images       4294967296 100\n"
           "store:101/vm-101-disk-0.raw                  raw      rootdir              10 101\n"
           "store:backup/vzdump-qemu-100-2026_01_01-00_00_00.vma.zst vma.zst  backup                0 100\n"
           "store:iso/virtio.iso                         iso      iso                   3 -\n", "");
    /* a guest's volumes: no iso; a container's disk is not an 'images' volume */
    out o = run("--root", root, "--config", p, "--json", "list", "store", "--vmid", "100", NULL);
    assert_int_equal(o.status, 0);
    json_t *doc = json_loads(o.out, 0, NULL), *vols = json_object_get(doc, "volumes");
    assert_int_equal(json_array_size(vols), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(vols, 0), "volid")),
                        "store:100/vm-100-disk-0.qcow2");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(vols, 0), "vmid")), 100);
    assert_string_equal(json_string_value(json_object_get(json_array_get(vols, 1), "format")), "vma.zst");
    json_decref(doc);
    out_free(&o);
    expect(run("--root", root, "--config", p, "list", "vmonly", NULL), 0,
           "VOLID                                        FORMAT   CONTENT            SIZE VMID\n"
           "vmonly:100/vm-100-disk-0.qcow2               qcow2    images       4294967296 100\n", "");
    expect(run("--root", root, "--config", p, "list", "nosuch", NULL), 1, "", "storage 'nosuch' does not exist\n");
    /* a file name that is not UTF-8 is a volume like any other: its bytes in
     * the table, \udcXX in JSON (it used to crash the listing) */
    put_file(root, "s/images/102/vm-102-disk-\xff.raw", "");
    expect(run("--root", root, "--config", p, "list", "vmonly", "--vmid", "102", NULL), 0,
           "VOLID                                        FORMAT   CONTENT            SIZE VMID\n"
           "vmonly:102/vm-102-disk-\xff.raw                 raw      images                0 102\n", "");
    o = run("--root", root, "--config", p, "--json", "list", "vmonly", "--vmid", "102", NULL);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "\"volid\":\"vmonly:102/vm-102-disk-\\udcff.raw\""));
    out_free(&o);
    expect(run("--config", p, "list", "store", "--vmid", "x", NULL), 2, "",
           "pvestorage: --vmid: 'x' is not a guest ID\nTry 'pvestorage --help'.\n");
    expect(run("--config", p, "path", "--vmid", "1", "store:iso/virtio.iso", NULL), 2, "",
           "pvestorage: --vmid belongs to the 'list' command\nTry 'pvestorage --help'.\n");
    snprintf(p, sizeof p, "%s/thin.cfg", dir);
    write_file(p, "lvmthin: thin\n\tthinpool data\n\tvgname pve\n");
    snprintf(want, sizeof want, "storage 'thin' has type 'lvmthin', for which no plugin is registered "
                                "(a plugin can be registered for it)\n");
    expect(run("--config", p, "list", "thin", NULL), 1, "", want);
}

/* mapped: the kernel's rbd devices (sysfs under the root) with the volume
 * of the storage on their pool and namespace */
static void test_mapped(void **state)
{
    (void)state;
    char root[700], p[1024], d[900];
    node_root(root, sizeof root, "mappedroot", "sys/devices/rbd/0");
    static const char *const dev0[][2] = { { "pool", "rbd" }, { "pool_ns", "" }, { "name", "vm-100-disk-0" },
                                           { "current_snap", "-" },
                                           { "config_info", "127.0.0.1:6789 name=admin,key=client.admin,rxbounce rbd vm-100-disk-0 -" } };
    static const char *const dev1[][2] = { { "pool", "other" }, { "pool_ns", "ns1" }, { "name", "base-9-disk-0" },
                                           { "current_snap", "s1" },
                                           { "config_info", "127.0.0.1:6789 name=admin,key=client.admin other base-9-disk-0 s1" } };
    for (int dev = 0; dev < 2; dev++) {
        snprintf(d, sizeof d, "%s/sys/devices/rbd/%d", root, dev == 0 ? 0 : 12);
        mkdirs(d);
        for (int i = 0; i < 5; i++) {
            snprintf(p, sizeof p, "%s/%s", d, dev == 0 ? dev0[i][0] : dev1[i][0]);
            write_file(p, dev == 0 ? dev0[i][1] : dev1[i][1]);
        }
    }
    snprintf(p, sizeof p, "%s/mapped.cfg", dir);
    write_file(p, "rbd: ceph\n\tpool rbd\n\tkrbd 1\n\nrbd: elsewhere\n\tpool other\n\tnamespace ns2\n");
    expect(run("--root", root, "--config", p, "mapped", NULL), 0,
           "DEVICE       POOL       NAMESPACE  IMAGE                    SNAPSHOT   VOLID                                OPTIONS\n"
           "/dev/rbd0    rbd        -          vm-100-disk-0            -          ceph:vm-100-disk-0                   name=admin,key=client.admin,rxbounce\n"
           "/dev/rbd12   other      ns1        base-9-disk-0            s1         -                                    name=admin,key=client.admin\n", "");
    expect(run("--root", root, "--config", p, "--json", "mapped", NULL), 0,
           "{\"ok\":true,\"devices\":[{\"device\":\"/dev/rbd0\",\"id\":0,\"pool\":\"rbd\",\"namespace\":null,"
           "\"image\":\"vm-100-disk-0\",\"snapshot\":null,\"options\":\"name=admin,key=client.admin,rxbounce\",\"volid\":\"ceph:vm-100-disk-0\"},"
           "{\"device\":\"/dev/rbd12\",\"id\":12,\"pool\":\"other\",\"namespace\":\"ns1\",\"image\":\"base-9-disk-0\","
           "\"snapshot\":\"s1\",\"options\":\"name=admin,key=client.admin\",\"volid\":null}],\"warnings\":[],\"info\":[]}\n", "");
    /* an image name that is not UTF-8 is listed, not dropped */
    static const char *const dev5[][2] = { { "pool", "rbd" }, { "pool_ns", "" }, { "name", "vm-100-disk-\xfe" },
                                           { "current_snap", "-" }, { "config_info", "127.0.0.1:6789 name=admin rbd x -" } };
    snprintf(d, sizeof d, "%s/sys/devices/rbd/5", root);
    mkdirs(d);
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", d, dev5[i][0]);
        write_file(p, dev5[i][1]);
    }
    snprintf(p, sizeof p, "%s/mapped.cfg", dir);
    out o = run("--root", root, "--config", p, "--json", "mapped", NULL);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "{\"device\":\"/dev/rbd5\",\"id\":5,\"pool\":\"rbd\",\"namespace\":null,"
                                  "\"image\":\"vm-100-disk-\\udcfe\",\"snapshot\":null,\"options\":\"name=admin\","
                                  "\"volid\":\"ceph:vm-100-disk-\\udcfe\"}"));
    out_free(&o);
    /* no device at all: an empty list, not an error */
    snprintf(d, sizeof d, "%s/empty", dir);
    mkdirs(d);
    expect(run("--root", d, "--config", p, "--json", "mapped", NULL), 0,
           "{\"ok\":true,\"devices\":[],\"warnings\":[],\"info\":[]}\n", "");
}

/* activate --vm: the guest's volumes and qemu-server's hints, in one call */
static void test_activate_vm(void **state)
{
    (void)state;
    char root[700], p[1024], want[4096];
    node_root(root, sizeof root, "vmroot", "etc/pve/qemu-server");
    put_file(dir, "store/images/100/vm-100-disk-0.raw", "");
    snprintf(p, sizeof p, "%s/store/images/100/vm-100-disk-0.raw", dir);
    put_file(root, "etc/pve/qemu-server/100.conf",
             "ostype: win10\nsata1: store:100/vm-100-disk-0.raw,size=1G\nide2: none,media=cdrom\n");
    snprintf(want, sizeof want, "{\"ok\":true,\"vmid\":100,\"hints\":{\"guest-is-windows\":1,"
             "\"plugin-may-deactivate-volume\":1},\"activated\":[\"store:100/vm-100-disk-0.raw\"],\"warnings\":[],"
             "\"info\":[],\"volumes\":[{\"volid\":\"store:100/vm-100-disk-0.raw\",\"path\":\"%s\",\"action\":"
             "\"activated\",\"warnings\":[]}]}\n", p);
    expect(run("--root", root, "--config", cfgpath, "--json", "activate", "--vm", "100", "--may-deactivate", NULL), 0,
           want, "");
    snprintf(want, sizeof want, "store:100/vm-100-disk-0.raw: activated %s\n", p);
    expect(run("--root", root, "--config", cfgpath, "activate", "--vm", "100", "--dry-run", NULL), 0, want, "");
    expect(run("--root", root, "--config", cfgpath, "activate", "--vm", "101", NULL), 1, "", NULL);
    expect(run("--config", cfgpath, "activate", "--vm", "100", "store:iso/x.iso", NULL), 2, "",
           "pvestorage: activate: either --vm or volume IDs\nTry 'pvestorage --help'.\n");
    expect(run("--config", cfgpath, "activate", "--may-deactivate", "store:iso/x.iso", NULL), 2, "",
           "pvestorage: --may-deactivate belongs to --vm\nTry 'pvestorage --help'.\n");
    expect(run("--config", cfgpath, "activate", NULL), 2, "",
           "pvestorage: activate: expected VOLID... or --vm VMID\nTry 'pvestorage --help'.\n");
    expect(run("--config", cfgpath, "map", "--vm", "100", "store:iso/x.iso", NULL), 2, "",
           "pvestorage: --vm belongs to the 'activate' command\nTry 'pvestorage --help'.\n");
}

/* audit's exit status is for monitoring: 0 in order, 1 needs action (an
 * unreadable guest configuration counts), 3 when it could not audit at all */
static void test_audit_status(void **state)
{
    (void)state;
    char root[700], p[1024], want[2048];
    node_root(root, sizeof root, "auditroot", "etc/pve/qemu-server");
    put_file(root, "etc/pve/qemu-server/100.conf", "ostype: win11\nsata0: store:100/vm-100-disk-0.raw\n");
    /* only files named VMID.conf are guests (as pmxcfs has them): these are not 102 */
    const char *not_guests[] = { "+102.conf", " 102.conf", "0102.conf", "102.conf~", "102.conf.tmp", "-1.conf" };
    for (size_t i = 0; i < sizeof not_guests / sizeof not_guests[0]; i++) {
        snprintf(p, sizeof p, "etc/pve/qemu-server/%s", not_guests[i]);
        put_file(root, p, "ostype: win11\n");
    }
    expect(run("--root", root, "--config", cfgpath, "--json", "audit", NULL), 0,
           "{\"ok\":true,\"volumes\":[],\"guest_errors\":[],\"needs_action\":0,\"in_order\":true,"
           "\"warnings\":[],\"info\":[]}\n", "");
    snprintf(p, sizeof p, "%s/etc/pve/qemu-server/101.conf", root);
    assert_int_equal(mkfifo(p, 0600), 0);
    snprintf(want, sizeof want, "VMID   KEY        VOLID                                DEVICE     RUNNING  STATUS\n"
             "101    error: unable to read '%s' - not a regular file\n1 needs action\n", p);
    expect(run("--root", root, "--config", cfgpath, "audit", NULL), 1, want, "");
    snprintf(p, sizeof p, "%s/no-such.cfg", root);
    snprintf(want, sizeof want, "unable to read '%s' - No such file or directory\n", p);
    expect(run("--root", root, "--config", p, "audit", NULL), 3, "", want);
}

/* activate --vm runs with the configuration vm_start runs with: the
 * pending ostype (Windows hints), disk and deletion applied, the dry run
 * says so on stdout, qemu-server's warnings on stderr (in --json the
 * "warnings" and "info" lists); the file is not changed */
static void test_activate_vm_pending(void **state)
{
    (void)state;
    char root[700], p[1024], want[4096];
    node_root(root, sizeof root, "pendroot", "etc/pve/qemu-server");
    put_file(dir, "store/images/110/vm-110-disk-0.raw", "");
    put_file(dir, "store/images/110/vm-110-disk-1.raw", "");
    const char *conf = "ostype: l26\nscsi0: store:110/vm-110-disk-0.raw\nscsi0: store:110/vm-110-disk-1.raw\n"
                       "ide2: store:iso/virtio.iso,media=cdrom\nfoo: bar\n\n[PENDING]\nostype: win11\n"
                       "sata1: store:110/vm-110-disk-0.raw\ndelete: ide2\n";
    put_file(root, "etc/pve/qemu-server/110.conf", conf);
    snprintf(want, sizeof want, "vm 110 - pending changes applied as vm_start applies them (the configuration file "
             "is not changed): ostype, sata1 set; ide2 deleted\nstore:110/vm-110-disk-1.raw: activated "
             "%s/store/images/110/vm-110-disk-1.raw\nstore:110/vm-110-disk-0.raw: activated "
             "%s/store/images/110/vm-110-disk-0.raw\n", dir, dir);
    expect(run("--root", root, "--config", cfgpath, "activate", "--vm", "110", "--dry-run", NULL), 0, want,
           "vm 110 - unable to parse value of 'foo' - unknown setting 'foo'\n");
    snprintf(want, sizeof want, "{\"ok\":true,\"vmid\":110,\"hints\":{\"guest-is-windows\":1,"
             "\"plugin-may-deactivate-volume\":1},\"activated\":[\"store:110/vm-110-disk-1.raw\","
             "\"store:110/vm-110-disk-0.raw\"],\"warnings\":[\"vm 110 - unable to parse value of 'foo' - unknown "
             "setting 'foo'\"],\"info\":[],\"volumes\":[{\"volid\":\"store:110/vm-110-disk-1.raw\",\"path\":"
             "\"%s/store/images/110/vm-110-disk-1.raw\",\"action\":\"activated\",\"warnings\":[]},{\"volid\":"
             "\"store:110/vm-110-disk-0.raw\",\"path\":\"%s/store/images/110/vm-110-disk-0.raw\",\"action\":"
             "\"activated\",\"warnings\":[]}]}\n", dir, dir);
    expect(run("--root", root, "--config", cfgpath, "--json", "activate", "--vm", "110", "--may-deactivate", NULL), 0,
           want, "");
    snprintf(p, sizeof p, "%s/etc/pve/qemu-server/110.conf", root);
    size_t len;
    char *after = pvs_read_regular_file(p, &len, NULL);
    assert_string_equal(after, conf);
    free(after);
}

/* audit: a volume name the rbd plugin does not parse is the guest's error
 * (exit 1), never a device path -- "../../../rbd0" would be the device of
 * another guest's disk */
static void test_audit_volume_name(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("SKIP: test_audit_volume_name needs root (mknod of an emulated /dev/rbd0)\n");
        skip();
    }
    char root[700], p[1024], want[2048];
    node_root(root, sizeof root, "auditname", "etc/pve/qemu-server");
    snprintf(p, sizeof p, "%s/rbd-audit.cfg", dir);
    write_file(p, "rbd: ceph\n\tpool rbd\n\tkrbd 1\n\tcontent images\n");
    put_file(root, "etc/pve/ceph.conf", "[global]\n\tfsid = 11111111-2222-3333-4444-555555555555\n");
    put_file(root, "dev/rbd-pve/11111111-2222-3333-4444-555555555555/rbd/.keep", "");
    put_file(root, "sys/devices/rbd/0/major", "251\n");
    put_file(root, "sys/devices/rbd/0/minor", "0\n");
    put_file(root, "sys/devices/rbd/0/config_info", "127.0.0.1:6789 name=admin,key=client.admin rbd vm-100-disk-0 -\n");
    char node[1024];
    snprintf(node, sizeof node, "%s/dev/rbd0", root);
    assert_int_equal(mknod(node, S_IFBLK | 0600, makedev(251, 0)), 0);
    put_file(root, "etc/pve/qemu-server/101.conf", "ostype: win11\nscsi0: ceph:../../../rbd0\n");
    snprintf(want, sizeof want, "VMID   KEY        VOLID                                DEVICE     RUNNING  STATUS\n"
             "101    error: scsi0: unable to parse rbd volume name '../../../rbd0'\n1 needs action\n");
    expect(run("--root", root, "--config", p, "audit", NULL), 1, want, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_path_and_map),
        cmocka_unit_test(test_activate),
        cmocka_unit_test(test_hints),
        cmocka_unit_test(test_config_warnings),
        cmocka_unit_test(test_json_non_utf8),
        cmocka_unit_test(test_garbage_monhost),
        cmocka_unit_test(test_real_node),
        cmocka_unit_test(test_rbd_connection_details),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_mapped),
        cmocka_unit_test(test_activate_vm),
        cmocka_unit_test(test_audit_status),
        cmocka_unit_test(test_activate_vm_pending),
        cmocka_unit_test(test_audit_volume_name),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
