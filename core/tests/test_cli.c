/* test_cli.c - the pvestorage command as a user runs it: exit codes,
 * stdout, the exact stderr messages, --json. */
#include <sys/sysmacros.h>

#include "helpers.h"
#include "internal.h"
#include "paste.h"
#include "../../cli/cli.h"

#include <sys/sysmacros.h>
#include <sys/wait.h>

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

/* a source file of the tree, whole (malloc()ed) */
static char *source_file(const char *rel)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", getenv("PVS_SOURCE_DIR"), rel);
    FILE *f = fopen(p, "r");
    if (!f)
        fail_msg("cannot read %s", p);
    char *text = calloc(1, 1 << 20);
    size_t n = fread(text, 1, (1 << 20) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* NAME added to the space-separated LIST (of size n) unless it is there */
static void add_name(char *list, size_t n, const char *name, size_t len)
{
    char word[128], padded[1100];
    snprintf(word, sizeof word, " %.*s ", (int)len, name);
    snprintf(padded, sizeof padded, " %s ", list);
    if (!strstr(padded, word))
        snprintf(list + strlen(list), n - strlen(list), "%s%.*s", *list ? " " : "", (int)len, name);
}

/* --help lists every command of the command's table, in its order, and so
 * do the man page's COMMANDS and the completion; each has its own --help */
static void test_every_command_listed(void **state)
{
    (void)state;
    char table[1024] = "", help[1024] = "", man[1024] = "", completion[1024] = "";
    for (size_t i = 0; cli_command_name(i); i++)
        add_name(table, sizeof table, cli_command_name(i), strlen(cli_command_name(i)));
    assert_int_equal(strlen(table) > 0, 1);
    out o = run("--help", NULL);
    assert_int_equal(o.status, 0);
    const char *p = strstr(o.out, "\ncommands:\n");
    assert_non_null(p);
    for (p += strlen("\ncommands:\n"); strncmp(p, "  ", 2) == 0; p = strchr(p, '\n') + 1)
        add_name(help, sizeof help, p + 2, strcspn(p + 2, " \n"));
    out_free(&o);
    char *text = source_file("cli/pvestorage.1"), *end = strstr(text, "\n.SH HINTS");
    for (char *tp = strstr(text, "\n.SH COMMANDS"); tp && (tp = strstr(tp + 1, "\n.TP\n\\fB")) && tp < end;) {
        char *name = tp + strlen("\n.TP\n\\fB");
        add_name(man, sizeof man, name, strcspn(name, "\\ "));
    }
    free(text);
    text = source_file("cli/pvestorage.bash-completion");
    p = strstr(text, "commands=\"");
    assert_non_null(p);
    p += strlen("commands=\"");
    snprintf(completion, sizeof completion, "%.*s", (int)strcspn(p, "\""), p);
    free(text);
    assert_string_equal(help, table);
    assert_string_equal(man, table);
    assert_string_equal(completion, table);
    for (size_t i = 0; cli_command_name(i); i++) {
        char want[256];
        snprintf(want, sizeof want, "usage: pvestorage [GLOBAL OPTIONS] %s", cli_command_name(i));
        o = run(cli_command_name(i), "--help", NULL);
        assert_int_equal(o.status, 0);
        assert_int_equal(strncmp(o.out, want, strlen(want)), 0);
        out_free(&o);
    }
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

/* identity: no built-in plugin has one (upstream's dir and rbd plugins have none) */
static void test_identity(void **state)
{
    (void)state;
    expect(run("--config", cfgpath, "identity", "store", NULL), 1, "",
           "get_identity not implemented for this plugin\n");
    expect(run("--config", cfgpath, "--json", "identity", "store", NULL), 1,
           "{\"ok\":false,\"error\":{\"code\":\"EPLUGIN\",\"message\":\"get_identity not implemented for this "
           "plugin\",\"exit_status\":null,\"stderr\":null},\"warnings\":[],\"info\":[]}\n", "");
    expect(run("--config", cfgpath, "identity", "nope", NULL), 1, "", "storage 'nope' does not exist\n");
    out o = run("--config", cfgpath, "identity", NULL);
    assert_int_equal(o.status, 2);
    assert_non_null(strstr(o.err, "usage: pvestorage [GLOBAL OPTIONS] identity STORAGE\n"));
    out_free(&o);
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
        { "nfs-iso:iso/x.iso", "nfs" },
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
    /* lvmthin: its plugin asks lvs, which this root does not have */
    assert_true(json_is_false(json_object_get(thin, "active")));
    assert_non_null(strstr(json_string_value(json_object_get(thin, "reason")), "command '/sbin/lvs --separator :"));
    assert_null(json_object_get(thin, "total"));
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
    /* a file name that is not UTF-8 is a volume like any other: the byte as
     * an escape in the table, \udcXX in JSON (it used to crash the listing) */
    put_file(root, "s/images/102/vm-102-disk-\xff.raw", "");
    expect(run("--root", root, "--config", p, "list", "vmonly", "--vmid", "102", NULL), 0,
           "VOLID                                        FORMAT   CONTENT            SIZE VMID\n"
           "vmonly:102/vm-102-disk-\\xff.raw              raw      images                0 102\n", "");
    o = run("--root", root, "--config", p, "--json", "list", "vmonly", "--vmid", "102", NULL);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "\"volid\":\"vmonly:102/vm-102-disk-\\udcff.raw\""));
    out_free(&o);
    expect(run("--config", p, "list", "store", "--vmid", "x", NULL), 2, "",
           "pvestorage: --vmid: 'x' is not a guest ID\nTry 'pvestorage --help'.\n");
    expect(run("--config", p, "path", "--vmid", "1", "store:iso/virtio.iso", NULL), 2, "",
           "pvestorage: --vmid belongs to the 'list' command\nTry 'pvestorage --help'.\n");
    snprintf(p, sizeof p, "%s/thin.cfg", dir);
    write_file(p, "nfs: iso\n\tserver 192.0.2.1\n\texport /iso\n\tpath /mnt/pve/iso\n");
    snprintf(want, sizeof want, "storage 'iso' has type 'nfs', for which no plugin is registered "
                                "(a plugin can be registered for it)\n");
    expect(run("--config", p, "list", "iso", NULL), 1, "", want);
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

#define TEST_FSID "11111111-2222-3333-4444-555555555555"

/* a kernel rbd device N of a managed cluster (fsid TEST_FSID) under root:
 * its block node, sysfs attributes, config_info and udev's link for
 * IMAGE; 0, or -1 without root (mknod) */
static int fake_krbd(const char *root, int id, const char *image, const char *config_info)
{
    char p[1200], rel[300], target[64];
    put_file(root, "etc/pve/ceph.conf", "[global]\n\tfsid = " TEST_FSID "\n\tmon_host = 127.0.0.1:1\n");
    snprintf(p, sizeof p, "%s/dev/rbd%d", root, id);
    put_file(root, "dev/.keep", "");
    unlink(p);
    if (mknod(p, S_IFBLK | 0600, makedev(251, (unsigned)id * 16)) != 0)
        return -1;
    const char *attrs[][2] = { { "major", "251" }, { "pool", "rbd" }, { "pool_ns", "" }, { "name", image },
                               { "current_snap", "-" }, { "config_info", config_info } };
    char minor[16];
    snprintf(minor, sizeof minor, "%d", id * 16);
    snprintf(rel, sizeof rel, "sys/devices/rbd/%d/minor", id);
    put_file(root, rel, minor);
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        snprintf(rel, sizeof rel, "sys/devices/rbd/%d/%s", id, attrs[i][0]);
        put_file(root, rel, attrs[i][1]);
    }
    snprintf(rel, sizeof rel, "dev/rbd-pve/" TEST_FSID "/rbd/%s", image);
    put_file(root, rel, "");
    snprintf(p, sizeof p, "%s/%s", root, rel);
    unlink(p);
    snprintf(target, sizeof target, "../../../rbd%d", id);
    return symlink(target, p);
}

/* a mapping's secret (rbd map -o secret=..., or an old kernel's
 * config_info) is never shown: not by mapped, audit or a report, dry run
 * included -- secret=<hidden>, as the kernel's own debugfs says */
static void test_secret_hidden(void **state)
{
    (void)state;
    char root[700], cfg[1024];
    node_root(root, sizeof root, "secretroot", "etc/pve/qemu-server");
    const char *secret = "AQBzTPRjAAAAABAAm8Yg0ZxgYQ+1nLp2rUxGeg==";
    char info[512];
    snprintf(info, sizeof info, "127.0.0.1:6789 name=admin,secret=%s,rxbounce rbd vm-100-disk-0 -\n", secret);
    if (fake_krbd(root, 0, "vm-100-disk-0", info) != 0) {
        print_message("SKIP: test_secret_hidden needs root (mknod of a block node)\n");
        skip();
    }
    snprintf(info, sizeof info, "127.0.0.1:6789 secret=%s rbd vm-100-disk-1 -\n", secret);
    assert_int_equal(fake_krbd(root, 1, "vm-100-disk-1", info), 0);
    put_file(root, "etc/pve/qemu-server/100.conf", "ostype: win11\nscsi0: ceph:vm-100-disk-0\nscsi1: ceph:vm-100-disk-1\n");
    snprintf(cfg, sizeof cfg, "%s/etc/pve/storage.cfg", root);
    write_file(cfg, "rbd: ceph\n\tpool rbd\n\tkrbd 1\n");
    const char *runs[][8] = {
        { "--root", root, "mapped", NULL },
        { "--root", root, "--json", "mapped", NULL },
        { "--root", root, "audit", NULL },
        { "--root", root, "--json", "audit", NULL },
        { "--root", root, "--json", "map", "ceph:vm-100-disk-1", "--dry-run", "--hint", "guest-is-windows=1" },
        { "--root", root, "map", "ceph:vm-100-disk-1", "--dry-run", "--hint", "guest-is-windows=1" },
        { "--root", root, "--json", "activate", "--vm", "100", "--dry-run", NULL },
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        out o = run(runs[i][0], runs[i][1], runs[i][2], runs[i][3], runs[i][4], runs[i][5], runs[i][6], runs[i][7],
                    NULL);
        if (strstr(o.out, secret) || strstr(o.err, secret) || strstr(o.out, "AQBzTPRj"))
            fail_msg("run %zu shows the secret:\n%s%s", i, o.out, o.err);
        if (i != 2 && i != 5 && !strstr(o.out, "secret=<hidden>"))   /* those two show no options */
            fail_msg("run %zu does not show where the secret was:\n%s%s", i, o.out, o.err);
        out_free(&o);
    }
    out o = run("--root", root, "--json", "mapped", NULL);
    assert_non_null(strstr(o.out, "\"options\":\"name=admin,secret=<hidden>,rxbounce\""));
    assert_non_null(strstr(o.out, "\"options\":\"secret=<hidden>\""));
    out_free(&o);
    /* the report's options_before: the second disk, without rxbounce */
    o = run("--root", root, "--json", "map", "ceph:vm-100-disk-1", "--dry-run", "--hint", "guest-is-windows=1", NULL);
    assert_non_null(strstr(o.out, "\"options_before\":\"secret=<hidden>\""));
    assert_non_null(strstr(o.out, "\"action\":\"remap-skipped-unsafe\""));
    out_free(&o);
}

/* storage.cfg values never become options of root's rbd: Ceph's parser
 * takes any --NAME=VALUE argument for a configuration option (-p
 * --log-file=X would set rbd's log file), so a pool, namespace or user name
 * beginning with '-' is refused before anything runs -- a remap's unmap
 * included */
static void test_rbd_argv_injection(void **state)
{
    (void)state;
    char root[700], cfg[1024], script[1100], log[1100], text[2048], want[512];
    node_root(root, sizeof root, "injectroot", "etc/pve");
    if (fake_krbd(root, 0, "vm-100-disk-0", "127.0.0.1:6789 name=admin rbd vm-100-disk-0 -\n") != 0) {
        print_message("SKIP: test_rbd_argv_injection needs root (mknod of a block node)\n");
        skip();
    }
    snprintf(log, sizeof log, "%s/rbd-ran", root);
    snprintf(script, sizeof script, "%s/rbd", root);
    snprintf(text, sizeof text, "#!/bin/sh\necho \"$@\" >> %s\n", log);
    write_file(script, text);
    assert_int_equal(chmod(script, 0755), 0);
    snprintf(cfg, sizeof cfg, "%s/etc/pve/storage.cfg", root);
    const char *cases[][3] = {
        { "\tpool --log-file=injected.log\n", "pool", "--log-file=injected.log" },
        { "\tpool rbd\n\tnamespace --admin-socket=/tmp/x.asok\n", "namespace", "--admin-socket=/tmp/x.asok" },
        { "\tpool rbd\n\tusername -x\n", "username", "-x" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "rbd: ceph\n%s\tkrbd 1\n", cases[i][0]);
        write_file(cfg, text);
        snprintf(want, sizeof want, "rbd error: invalid %s '%s' in storage 'ceph': it must not begin with '-'\n",
                 cases[i][1], cases[i][2]);
        expect(run("--root", root, "--rbd-command", script, "map", "ceph:vm-100-disk-0", "--hint",
                   "guest-is-windows=1", "--hint", "plugin-may-deactivate-volume=1", NULL), 1, "", want);
        expect(run("--root", root, "--rbd-command", script, "map", "ceph:vm-100-disk-0", "--dry-run", NULL), 1, "",
               want);
        expect(run("--root", root, "--rbd-command", script, "unmap", "ceph:vm-100-disk-0", NULL), 1, "", want);
        assert_int_equal(access(log, F_OK), -1);   /* rbd never ran */
    }
}

/* a FIFO where a sysfs attribute belongs (a hostile or broken test root, a
 * bind mount): refused at once, not waited on -- the device is listed with
 * what could be read */
static void test_sysfs_fifo(void **state)
{
    (void)state;
    char root[700], p[1024];
    node_root(root, sizeof root, "fiforoot", "sys/devices/rbd/0");
    const char *files[][2] = { { "pool", "rbd" }, { "pool_ns", "" }, { "current_snap", "-" } };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "sys/devices/rbd/0/%s", files[i][0]);
        put_file(root, p, files[i][1]);
    }
    const char *fifos[] = { "name", "config_info" };
    for (size_t i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/sys/devices/rbd/0/%s", root, fifos[i]);
        assert_int_equal(mkfifo(p, 0600), 0);
    }
    snprintf(p, sizeof p, "%s/fifo.cfg", dir);
    write_file(p, "rbd: ceph\n\tpool rbd\n\tkrbd 1\n");
    expect(run("--root", root, "--config", p, "--json", "mapped", NULL), 0,
           "{\"ok\":true,\"devices\":[{\"device\":\"/dev/rbd0\",\"id\":0,\"pool\":\"rbd\",\"namespace\":null,"
           "\"image\":null,\"snapshot\":null,\"options\":null,\"volid\":null}],\"warnings\":[],\"info\":[]}\n", "");
}

/* a set-user-ID copy of the command run by another user: the caller's
 * environment does not choose its root (secure_getenv), as it would for a
 * plain run */
static void test_setuid_ignores_environment(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("SKIP: test_setuid_ignores_environment needs root (a set-user-ID copy)\n");
        skip();
    }
    char root[700], copy[800], plain[800], cfg[1024];
    node_root(root, sizeof root, "envroot", "etc/pve");
    snprintf(cfg, sizeof cfg, "%s/etc/pve/storage.cfg", root);
    write_file(cfg, "dir: from-env-root\n\tpath /srv/x\n");
    /* both copies where the other user can reach them (the build tree may
     * not be: a fresh clone under mktemp -d is 0700) */
    snprintf(copy, sizeof copy, "%s/pvestorage-suid", dir);
    snprintf(plain, sizeof plain, "%s/pvestorage-plain", dir);
    const char *cp[] = { "/bin/cp", getenv("PVS_CLI"), copy, NULL }, *cp2[] = { "/bin/cp", getenv("PVS_CLI"), plain, NULL };
    pvs_run_result r;
    assert_int_equal(pvs_run(cp, 30, &r, NULL), 0);
    pvs_run_result_clear(&r);
    assert_int_equal(pvs_run(cp2, 30, &r, NULL), 0);
    pvs_run_result_clear(&r);
    assert_int_equal(chmod(copy, 04755), 0);
    assert_int_equal(chmod(dir, 0755), 0);
    for (int suid = 0; suid < 2; suid++) {
        int out[2];
        assert_int_equal(pipe(out), 0);
        pid_t pid = fork();
        if (pid == 0) {
            dup2(out[1], 1);
            dup2(out[1], 2);
            if (setgid(65534) || setuid(65534))
                _exit(126);
            setenv("PVESTORAGE_ROOT", root, 1);
            execl(suid ? copy : plain, "pvestorage", "--json", "status", (char *)NULL);
            _exit(127);
        }
        close(out[1]);
        char text[8192];
        read_to_end(out[0], text, sizeof text);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) < 126);   /* it ran */
        if (suid)   /* the environment's root is not taken: not its storage.cfg */
            assert_null(strstr(text, "from-env-root"));
        else        /* a plain run as that user takes it */
            assert_non_null(strstr(text, "from-env-root"));
    }
}

/* names from the host in a table hold ESC[2J (clear the screen) and a
 * newline (a forged row): the terminal gets escapes it shows, and acts on
 * none; JSON keeps the bytes (as JSON escapes) */
static void test_tables_escape(void **state)
{
    (void)state;
    char root[700], p[1024], want[4096];
    node_root(root, sizeof root, "escroot", "s/images/103");
    put_file(root, "s/images/103/vm-103-disk-\x1b[2J.raw", "");
    put_file(root, "s/template/iso/a\x1b[2J\nstore:iso-forged.iso", "x");
    snprintf(p, sizeof p, "%s/esc.cfg", dir);
    char text[1024];
    snprintf(text, sizeof text, "dir: store\n\tpath %s/s\n\tcontent images,iso\n", root);
    write_file(p, text);
    expect(run("--config", p, "list", "store", NULL), 0,
           "VOLID                                        FORMAT   CONTENT            SIZE VMID\n"
           "store:103/vm-103-disk-\\x1b[2J.raw            raw      images                0 103\n"
           "store:iso/a\\x1b[2J\\nstore:iso-forged.iso     iso      iso                   1 -\n", "");
    out o = run("--config", p, "--json", "list", "store", NULL);
    assert_non_null(strstr(o.out, "\"volid\":\"store:iso/a\\u001b[2J\\u000astore:iso-forged.iso\""));
    out_free(&o);
    /* a dry run's volume line */
    snprintf(want, sizeof want, "store:103/vm-103-disk-\\x1b[2J.raw: activated %s/s/images/103/vm-103-disk-\\x1b[2J.raw\n",
             root);
    expect(run("--config", p, "activate", "--dry-run", "store:103/vm-103-disk-\x1b[2J.raw", NULL), 0, want, "");
    /* mapped: an image name, a pool and the options from sysfs */
    static const char *const dev[][2] = { { "pool", "r\x1b[2Jbd" }, { "pool_ns", "" }, { "name", "vm-7-disk-\x1b]0;x\x07" },
                                          { "current_snap", "-" }, { "config_info", "m o\x1b[2J,rxbounce r x -" } };
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "sys/devices/rbd/3/%s", dev[i][0]);
        put_file(root, p, dev[i][1]);
    }
    snprintf(p, sizeof p, "%s/esc.cfg", dir);
    expect(run("--root", root, "--config", p, "mapped", NULL), 0,
           "DEVICE       POOL       NAMESPACE  IMAGE                    SNAPSHOT   VOLID                                OPTIONS\n"
           "/dev/rbd3    r\\x1b[2Jbd -          vm-7-disk-\\x1b]0;x\\x07   -          -                                    o\\x1b[2J,rxbounce\n",
           "");
}

/* ---- what a person copies from the command's text: safe to paste ---- */

/* an rbd image name is any bytes but '/' and '@' (and what the volume
 * name pattern leaves out): one that would run commands if a printed line
 * were pasted unquoted, with a quote, ESC and a byte that is not UTF-8 */
#define HOSTILE_IMAGE "vm-100-disk-%d;touch${IFS}x'$(touch${IFS}y)\x1b[2J\xff"

/* the lines of text that start with prefix, the prefix cut off */
static size_t lines_after(char *text, const char *prefix, char **found, size_t max)
{
    size_t n = 0;
    for (char *line = strtok(text, "\n"); line && n < max; line = strtok(NULL, "\n"))
        if (strncmp(line, prefix, strlen(prefix)) == 0)
            found[n++] = line + strlen(prefix);
    return n;
}

/* audit: a Windows guest's disk mapped without rxbounce (a fake-rbd map
 * under the root) is offered a fix; pasting the fix line into bash gives
 * the very argv of the JSON "command", and runs nothing */
static void test_audit_fix_pastes(void **state)
{
    (void)state;
    if (geteuid() != 0 || !getenv("PVS_FAKE_RBD")) {
        print_message("SKIP: test_audit_fix_pastes needs root and fake-rbd (mknod of the emulated /dev/rbd0)\n");
        skip();
    }
    char root[700], p[1024], image[256], volid[300], text[1024];
    node_root(root, sizeof root, "auditfix", "etc/pve/qemu-server");
    snprintf(image, sizeof image, HOSTILE_IMAGE, (int)getpid());
    snprintf(volid, sizeof volid, "ceph:%s", image);
    put_file(root, "etc/pve/ceph.conf", "[global]\n\tfsid = 11111111-2222-3333-4444-555555555555\n");
    snprintf(text, sizeof text, "ostype: win11\nscsi0: %s,size=8M\n", volid);
    put_file(root, "etc/pve/qemu-server/100.conf", text);
    snprintf(p, sizeof p, "%s/auditfix.cfg", dir);
    write_file(p, "rbd: ceph\n\tpool rbd\n\tkrbd 1\n\tcontent images\n");
    setenv("FAKE_RBD_ROOT", root, 1);
    setenv("FAKE_RBD_FSID", "11111111-2222-3333-4444-555555555555", 1);
    setenv("FAKE_RBD_CHECK_IMAGE", "0", 1);
    const char *map[] = { getenv("PVS_FAKE_RBD"), "-p", "rbd", "map", image, NULL };
    pvs_run_result r;
    assert_int_equal(pvs_run(map, 30, &r, NULL), 0);
    assert_int_equal(r.exit_status, 0);
    pvs_run_result_clear(&r);
    out o = run("--root", root, "--config", p, "audit", NULL);
    assert_int_equal(o.status, 1);
    assert_null(strchr(o.out, '\x1b'));   /* the table shows the name, the terminal takes no escape from it */
    char *fix[4];
    assert_int_equal(lines_after(o.out, "       fix: ", fix, 4), 1);
    assert_ascii_line(fix[0]);
    const char *want[] = { "pvestorage", "map", volid, "--hint", "guest-is-windows=1", "--hint",
                           "plugin-may-deactivate-volume=1", NULL };
    char *scratch = make_tempdir();
    assert_pastes_as(fix[0], want, scratch, 0);
    remove_tree(scratch);
    free(scratch);
    out_free(&o);
}

/* the shared test cluster's ceph.conf and keyring (PVS_TEST_CEPH_ENV, or the
 * ctest fixture's PVS_CEPH_DIR/env), or 0 when there is none */
static int cluster_files(char *conf, char *keyring, size_t n)
{
    char envfile[1024];
    const char *env = getenv("PVS_TEST_CEPH_ENV"), *d = getenv("PVS_CEPH_DIR");
    snprintf(envfile, sizeof envfile, "%s", env && *env ? env : "");
    if (!*envfile && d)
        snprintf(envfile, sizeof envfile, "%s/env", d);
    const char *argv[] = { "/bin/bash", "-c", ". \"$0\" && printf '%s\\n%s\\n' \"$CEPH_TEST_CONF\" \"$CEPH_TEST_KEYRING\"",
                           envfile, NULL };
    pvs_run_result r;
    int ok = *envfile && pvs_run(argv, 10, &r, NULL) == 0 && r.exit_status == 0
             && sscanf(r.out, "%1023s %1023s", conf, keyring) == 2 && strlen(conf) < n && strlen(keyring) < n;
    if (*envfile)
        pvs_run_result_clear(&r);
    return ok;
}

/* create (an 8 MiB image) or remove an image on the test cluster */
static void rbd_image(const char *conf, const char *keyring, int create, const char *image)
{
    const char *argv[] = { "/usr/bin/rbd", "-c", conf, "--keyring", keyring, create ? "create" : "rm", image,
                           create ? "--size" : NULL, "8M", NULL };
    pvs_run_result r;
    assert_int_equal(pvs_run(argv, 60, &r, NULL), 0);
    if (r.exit_status != 0)
        fail_msg("rbd %s failed: %s", argv[5], r.err);
    pvs_run_result_clear(&r);
}

/* a dry run's "would run:" line pastes back to exactly the command the
 * real call runs (the plan's "commands") */
static void test_plan_pastes(void **state)
{
    (void)state;
    char conf[1024], keyring[1024], root[700], cfg[800], image[256], volid[300], p[1024], k[1024];
    if (!cluster_files(conf, keyring, sizeof conf)) {
        print_message("SKIP: test_plan_pastes needs the Ceph test cluster (PVS_TEST_CEPH_ENV), for the image's features\n");
        skip();
    }
    node_root(root, sizeof root, "planroot", "etc/pve/priv/ceph");
    snprintf(p, sizeof p, "%s/etc/pve/ceph.conf", root);
    snprintf(k, sizeof k, "%s/etc/pve/priv/ceph/ceph.keyring", root);
    const char *cp1[] = { "/bin/cp", conf, p, NULL }, *cp2[] = { "/bin/cp", keyring, k, NULL };
    pvs_run_result r;
    assert_int_equal(pvs_run(cp1, 10, &r, NULL), 0);
    pvs_run_result_clear(&r);
    assert_int_equal(pvs_run(cp2, 10, &r, NULL), 0);
    pvs_run_result_clear(&r);
    snprintf(cfg, sizeof cfg, "%s/plan.cfg", dir);
    write_file(cfg, "rbd: ceph\n\tpool rbd\n\tkrbd 1\n\tcontent images\n");
    snprintf(image, sizeof image, HOSTILE_IMAGE, (int)getpid());
    snprintf(volid, sizeof volid, "ceph:%s", image);
    rbd_image(conf, keyring, 1, image);
    out o = run("--root", root, "--config", cfg, "--kernel-version", "6.1", "--ceph-timeout", "20", "activate",
                "--dry-run", volid, "--hint", "guest-is-windows=1", NULL);
    rbd_image(conf, keyring, 0, image);
    if (o.status != 0)
        fail_msg("the dry run failed: %s", o.err);
    assert_null(strchr(o.out, '\x1b'));
    char *lines[4];
    assert_int_equal(lines_after(o.out, "  would run: ", lines, 4), 1);
    assert_ascii_line(lines[0]);
    const char *want[] = { "/usr/bin/rbd", "-p", "rbd", "-c", p, "--auth_supported", "cephx", "-n", "client.admin",
                           "--keyring", k, "map", image, "--options", "rxbounce", NULL };
    char *scratch = make_tempdir();
    assert_pastes_as(lines[0], want, scratch, 0);
    remove_tree(scratch);
    free(scratch);
    out_free(&o);
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
        cmocka_unit_test(test_every_command_listed),
        cmocka_unit_test(test_path_and_map),
        cmocka_unit_test(test_identity),
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
        cmocka_unit_test(test_setuid_ignores_environment),
        cmocka_unit_test(test_sysfs_fifo),
        cmocka_unit_test(test_secret_hidden),
        cmocka_unit_test(test_rbd_argv_injection),
        cmocka_unit_test(test_tables_escape),
        cmocka_unit_test(test_audit_fix_pastes),
        cmocka_unit_test(test_plan_pastes),
        cmocka_unit_test(test_activate_vm_pending),
        cmocka_unit_test(test_audit_volume_name),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
