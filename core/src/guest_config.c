/* guest_config.c - a VM's configuration file read as qemu-server's
 * parse_vm_config reads it: the sections ([PENDING], [special:NAME],
 * snapshots; an unknown one skipped), each "key: value" checked by its
 * check_type against the property schema ($confdesc, the drives' property
 * strings) and dropped with upstream's warning when it fails, the last of
 * a key given twice kept.  Also parse_drive's own rules, which decide
 * whether a drive has a volume at all.  Knows no storage: guest.c above
 * applies the pending changes and lists the volumes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "guest.h"

/* Perl's \s */
static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Perl's truth of a string value: defined, not "" and not "0" */
static int perl_true(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && *s && strcmp(s, "0") != 0;
}

/* ---- the property schema ($confdesc), from qemu-server ---- */

/* drive kinds: the property-string schema a drive key's value follows */
enum { D_IDE = 1, D_SCSI = 2, D_SATA = 4, D_VIRTIO = 8, D_EFI = 16, D_TPM = 32, D_UNUSED = 64 };
#define D_BUS (D_IDE | D_SCSI | D_SATA | D_VIRTIO)
#define D_FILE (D_BUS | D_EFI | D_TPM)

typedef struct vm_key {
    const char *name;
    int count;            /* 0: the key itself; N: NAME0 .. NAME(N-1) */
    char type;            /* b(oolean), i(nteger), n(umber), s(tring) */
    const char *format;   /* upstream's format (HASH: an inline property string), or NULL */
    int drive;            /* the drive kind, for the drive keys */
} vm_key;

/* json_config_properties(): every key qemu-server knows.  Of the formats,
 * those that bear on a guest's volumes are checked here (the drives, the
 * volume IDs) and a few simple ones; a format such as net0's or boot's
 * property string is not (see check_format below). */
static const vm_key vm_keys[] = {
    { "acpi", 0, 'b', NULL, 0 }, { "affinity", 0, 's', "pve-cpuset", 0 }, { "agent", 0, 's', "HASH", 0 },
    { "allow-ksm", 0, 'b', NULL, 0 }, { "amd-sev", 0, 's', "pve-qemu-sev-fmt", 0 }, { "arch", 0, 's', NULL, 0 },
    { "args", 0, 's', NULL, 0 }, { "audio0", 0, 's', "HASH", 0 }, { "autostart", 0, 'b', NULL, 0 },
    { "balloon", 0, 'i', NULL, 0 }, { "bios", 0, 's', NULL, 0 }, { "boot", 0, 's', "pve-qm-boot", 0 },
    { "bootdisk", 0, 's', "pve-qm-bootdisk", 0 }, { "cdrom", 0, 's', "pve-qm-ide", D_IDE },
    { "cicustom", 0, 's', "pve-qm-cicustom", 0 }, { "cipassword", 0, 's', NULL, 0 }, { "citype", 0, 's', NULL, 0 },
    { "ciupgrade", 0, 'b', NULL, 0 }, { "ciuser", 0, 's', NULL, 0 }, { "cores", 0, 'i', NULL, 0 },
    { "cpu", 0, 's', "pve-vm-cpu-conf", 0 }, { "cpulimit", 0, 'n', NULL, 0 }, { "cpuunits", 0, 'i', NULL, 0 },
    { "description", 0, 's', NULL, 0 }, { "efidisk0", 0, 's', "HASH", D_EFI }, { "freeze", 0, 'b', NULL, 0 },
    { "hookscript", 0, 's', "pve-volume-id", 0 }, { "hostpci", 16, 's', "pve-qm-hostpci", 0 },
    { "hotplug", 0, 's', "pve-hotplug-features", 0 }, { "hugepages", 0, 's', NULL, 0 },
    { "ide", 4, 's', "HASH", D_IDE }, { "intel-tdx", 0, 's', "pve-qemu-tdx-fmt", 0 },
    { "ipconfig", 32, 's', "pve-qm-ipconfig", 0 }, { "ivshmem", 0, 's', "HASH", 0 },
    { "keephugepages", 0, 'b', NULL, 0 }, { "keyboard", 0, 's', NULL, 0 }, { "kvm", 0, 'b', NULL, 0 },
    { "localtime", 0, 'b', NULL, 0 }, { "lock", 0, 's', NULL, 0 }, { "machine", 0, 's', "HASH", 0 },
    { "memory", 0, 's', "HASH", 0 }, { "meta", 0, 's', "HASH", 0 }, { "migrate_downtime", 0, 'n', NULL, 0 },
    { "migrate_speed", 0, 'i', NULL, 0 }, { "name", 0, 's', "dns-name", 0 },
    { "nameserver", 0, 's', "address-list", 0 }, { "net", 32, 's', "HASH", 0 }, { "numa", 0, 'b', NULL, 0 },
    { "numa", 8, 's', "HASH", 0 }, { "onboot", 0, 'b', NULL, 0 }, { "ostype", 0, 's', NULL, 0 },
    { "parallel", 3, 's', NULL, 0 }, { "parent", 0, 's', "pve-configid", 0 }, { "protection", 0, 'b', NULL, 0 },
    { "reboot", 0, 'b', NULL, 0 }, { "rng0", 0, 's', "pve-qm-rng", 0 }, { "running-nets-host-mtu", 0, 's', NULL, 0 },
    { "runningcpu", 0, 's', NULL, 0 }, { "runningmachine", 0, 's', "HASH", 0 }, { "sata", 6, 's', "HASH", D_SATA },
    { "scsi", 31, 's', "HASH", D_SCSI }, { "scsihw", 0, 's', NULL, 0 }, { "searchdomain", 0, 's', NULL, 0 },
    { "serial", 4, 's', NULL, 0 }, { "shares", 0, 'i', NULL, 0 }, { "smbios1", 0, 's', "pve-qm-smbios1", 0 },
    { "smp", 0, 'i', NULL, 0 }, { "snaptime", 0, 'i', NULL, 0 }, { "sockets", 0, 'i', NULL, 0 },
    { "spice_enhancements", 0, 's', "HASH", 0 }, { "sshkeys", 0, 's', "urlencoded", 0 },
    { "startdate", 0, 's', NULL, 0 }, { "startup", 0, 's', "pve-startup-order", 0 }, { "tablet", 0, 'b', NULL, 0 },
    { "tags", 0, 's', "pve-tag-list", 0 }, { "tdf", 0, 'b', NULL, 0 }, { "template", 0, 'b', NULL, 0 },
    { "tpmstate0", 0, 's', "HASH", D_TPM }, { "unused", 256, 's', "HASH", D_UNUSED }, { "usb", 14, 's', "HASH", 0 },
    { "vcpus", 0, 'i', NULL, 0 }, { "vga", 0, 's', "HASH", 0 }, { "virtio", 16, 's', "HASH", D_VIRTIO },
    { "virtiofs", 10, 's', "HASH", 0 }, { "vmgenid", 0, 's', NULL, 0 }, { "vmstate", 0, 's', "pve-volume-id", 0 },
    { "vmstatestorage", 0, 's', "pve-storage-id", 0 }, { "watchdog", 0, 's', "pve-qm-watchdog", 0 },
};

/* the [special:fleecing] section's own schema */
static const vm_key fleecing_keys[] = { { "fleecing-images", 0, 's', "pve-volume-id-list", 0 } };

typedef struct vm_schema {
    const vm_key *keys;
    size_t n;
} vm_schema;

static const vm_schema confdesc = { vm_keys, sizeof vm_keys / sizeof vm_keys[0] };
static const vm_schema fleecing = { fleecing_keys, 1 };

/* NAME, or NAME followed by an index below count written as Perl writes a number */
static int key_is(const vm_key *k, const char *key)
{
    size_t n = strlen(k->name);
    if (strncmp(key, k->name, n) != 0)
        return 0;
    const char *d = key + n;
    if (!k->count)
        return *d == '\0';
    if (d[0] < '0' || d[0] > '9' || (d[0] == '0' && d[1]) || strspn(d, "0123456789") != strlen(d) || strlen(d) > 3)
        return 0;
    return atoi(d) < k->count;
}

static const vm_key *schema_key(const vm_schema *s, const char *key)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (key_is(&s->keys[i], key))
            return &s->keys[i];
    return NULL;
}

int pvs_vmconf_is_drive(const char *key)
{
    const vm_key *k = schema_key(&confdesc, key);
    return k && k->drive && k->drive != D_UNUSED && strcmp(key, "cdrom") != 0;
}

/* valid_drive_names, then vmstate (get_current_vm_volumes' extra key) */
const char *pvs_vmconf_volume_key(int i, char buf[16])
{
    static const struct { const char *bus; int count; } buses[] = {
        { "ide", 4 }, { "scsi", 31 }, { "virtio", 16 }, { "sata", 6 },
    };
    static const char *const single[] = { "efidisk0", "tpmstate0", "vmstate" };
    for (size_t b = 0; b < sizeof buses / sizeof buses[0]; i -= buses[b++].count)
        if (i < buses[b].count) {
            snprintf(buf, 16, "%s%d", buses[b].bus, i % 100);   /* i < count: two digits */
            return buf;
        }
    return i >= 0 && i < 3 ? single[i] : NULL;
}

/* ---- the drives' property strings (PVE::QemuServer::Drive) ---- */

typedef struct drive_prop {
    pvs_property p;       /* type, enum, minimum, pattern, maxLength (formats: fmt) */
    int kinds;            /* the drive kinds whose schema has it */
    char fmt;             /* q: pve-volume-id-or-qm-path, v: pve-volume-id, s: disk-size, u: urlencoded */
    const char *alias;    /* the key it stands for */
} drive_prop;

#define DP(n, t, e, min, pat, len, k, f) { { n, t, NULL, e, min, NULL, pat, len, NULL }, k, f, NULL }
#define BOOL(n, k) DP(n, "boolean", NULL, NULL, NULL, 0, k, 0)
#define INT(n, min) DP(n, "integer", NULL, min, NULL, 0, D_BUS, 0)
#define NUM(n) DP(n, "number", NULL, NULL, NULL, 0, D_BUS, 0)
#define ENUM(n, e, k) DP(n, "string", e, NULL, NULL, 0, k, 0)
#define ALIAS(n, to, k) { { n, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL }, k, 0, to }
#define THROTTLE(n) INT(n, NULL), INT(n "_rd", NULL), INT(n "_wr", NULL)
#define LENGTHS(n) INT(n "_max_length", "1"), INT(n "_rd_max_length", "1"), INT(n "_wr_max_length", "1"), \
    ALIAS(n "_rd_length", n "_rd_max_length", D_BUS), ALIAS(n "_wr_length", n "_wr_max_length", D_BUS)

/* Perl's [A-Za-z0-9\-_\s]{,N} and qr/^(0x)[0-9a-fA-F]{16}/ as POSIX patterns */
static const drive_prop drive_props[] = {
    ALIAS("volume", "file", D_FILE | D_UNUSED),
    DP("file", "string", NULL, NULL, NULL, 0, D_FILE, 'q'), DP("file", "string", NULL, NULL, NULL, 0, D_UNUSED, 'v'),
    ENUM("media", "cdrom, disk", D_BUS), BOOL("snapshot", D_BUS),
    ENUM("cache", "none, writethrough, writeback, unsafe, directsync", D_BUS),
    ENUM("format", "raw, qcow, qed, qcow2, vmdk, cloop", D_BUS | D_EFI), ENUM("format", "raw, qcow2, vmdk", D_TPM),
    DP("size", "string", NULL, NULL, NULL, 0, D_FILE, 's'), BOOL("backup", D_BUS), BOOL("replicate", D_BUS),
    ENUM("rerror", "ignore, report, stop", D_BUS), ENUM("werror", "enospc, ignore, report, stop", D_BUS),
    ENUM("aio", "native, threads, io_uring", D_BUS), ENUM("discard", "ignore, on", D_BUS),
    BOOL("detect_zeroes", D_BUS), DP("serial", "string", NULL, NULL, NULL, 60, D_BUS, 'u'), BOOL("shared", D_BUS),
    THROTTLE("bps"), THROTTLE("iops"), NUM("mbps"), NUM("mbps_rd"), NUM("mbps_wr"),
    NUM("mbps_max"), NUM("mbps_rd_max"), NUM("mbps_wr_max"), INT("iops_max", NULL), INT("iops_rd_max", NULL),
    INT("iops_wr_max", NULL), LENGTHS("bps"), LENGTHS("iops"),
    DP("model", "string", NULL, NULL, NULL, 120, D_IDE, 'u'), BOOL("ssd", D_IDE | D_SCSI | D_SATA),
    DP("wwn", "string", NULL, NULL, "(0x)[0-9a-fA-F]{16}", 0, D_IDE | D_SCSI | D_SATA, 0),
    BOOL("iothread", D_SCSI | D_VIRTIO), BOOL("ro", D_SCSI | D_VIRTIO), BOOL("scsiblock", D_SCSI),
    DP("product", "string", NULL, NULL, "[-A-Za-z0-9_[:space:]]{0,16}", 0, D_SCSI, 0),
    DP("vendor", "string", NULL, NULL, "[-A-Za-z0-9_[:space:]]{0,8}", 0, D_SCSI, 0),
    DP("queues", "integer", NULL, "2", NULL, 0, D_SCSI, 0),
    ENUM("efitype", "2m, 4m", D_EFI), BOOL("pre-enrolled-keys", D_EFI),
    ENUM("ms-cert", "2011, 2023, 2023w, 2023k", D_EFI), ENUM("version", "v1.2, v2.0", D_TPM),
};
#define N_DRIVE_PROPS (sizeof drive_props / sizeof drive_props[0])

static const drive_prop *drive_prop_find(int kind, const char *name)
{
    for (size_t i = 0; i < N_DRIVE_PROPS; i++)
        if ((drive_props[i].kinds & kind) && strcmp(drive_props[i].p.name, name) == 0)
            return &drive_props[i];
    return NULL;
}

/* PVE::JSONSchema::parse_size's pattern: ^(\d+(\.\d+)?)([KMGT](?:iB)?)?$ */
static int is_disk_size(const char *v)
{
    size_t i = strspn(v, "0123456789");
    if (!i)
        return 0;
    if (v[i] == '.') {
        size_t f = strspn(v + i + 1, "0123456789");
        if (!f)
            return 0;
        i += 1 + f;
    }
    if (v[i] && strchr("KMGT", v[i]))
        i += strncmp(v + i + 1, "iB", 2) == 0 ? 3 : 1;
    return v[i] == '\0';
}

/* the formats this file checks itself: 0, or -1 with upstream's message */
static int own_format(char fmt, const char *v, strbuf *why)
{
    if (fmt == 'q' && (strcmp(v, "none") == 0 || strcmp(v, "cdrom") == 0 || v[0] == '/'))
        return 0;   /* verify_volume_id_or_qm_path */
    if (fmt == 'q' || fmt == 'v')
        return pvs_string_format("pve-volume-id")(v, why);
    if (fmt == 's' && !is_disk_size(v))
        return sb_addf(why, "value does not look like a valid disk size: %s\n", v), -1;
    if (fmt == 'u' && strspn(v, "-%abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.!~*'()")
                          != strlen(v))
        return sb_addf(why, "invalid urlencoded string: %s\n", v), -1;
    return 0;
}

static int fail(strbuf *why, const char *fmt, const char *arg)
{
    sb_addf(why, fmt, arg);
    return -1;
}

static int is_dropped(const char *key)   /* parse_drive's $DROPPED_PROPERTIES */
{
    return strcmp(key, "cyls") == 0 || strcmp(key, "heads") == 0 || strcmp(key, "secs") == 0
           || strcmp(key, "trans") == 0;
}

/* one "k=v" part of parse_property_string, k before the first '=' */
static int drive_pair(int kind, const char *part, const char *eq, int skip_dropped, json_t *res, strbuf *why)
{
    char *key = strndup(part, (size_t)(eq - part));
    if (!key)
        return fail(why, "%s", "out of memory\n");
    const drive_prop *dp = drive_prop_find(kind, key);
    int rc = skip_dropped && is_dropped(key) ? 1 : 0;
    if (!rc && json_object_get(res, key))
        rc = fail(why, "duplicate key in comma-separated list property: %s\n", key);
    if (!rc && dp && dp->alias) {   /* upstream names the target when it is there already */
        if (json_object_get(res, dp->alias))
            rc = fail(why, "key '%s' is already defined (via alias)\n", dp->alias);
        dp = drive_prop_find(kind, dp->alias);
    }
    const char *v = dp && strcmp(dp->p.type, "boolean") == 0 ? pvs_parse_boolean(eq + 1) : eq + 1;
    if (!rc && json_object_set_new_nocheck(res, dp ? dp->p.name : key, pvs_json_bytes(v)))
        rc = fail(why, "%s", "out of memory\n");
    free(key);
    return rc < 0 ? -1 : 0;
}

/* one part: k=v, the default key's bare value (file), or nothing */
static int drive_part(int kind, const char *part, int skip_dropped, json_t *res, int *had_default, strbuf *why)
{
    const char *t = part, *eq = strchr(part, '=');
    while (is_ws(*t))
        t++;
    if (!*t)
        return 0;
    if (eq && eq != part && eq[1])
        return drive_pair(kind, part, eq, skip_dropped, res, why);
    if (eq)
        return fail(why, "%s", "missing key in comma-separated list property\n");
    /* Perl's !$res->{file}: a file=0 given before is taken over */
    if (*had_default || perl_true(json_object_get(res, "file")))
        return fail(why, "duplicate key in comma-separated list property: %s\n", "file");
    *had_default = 1;
    return json_object_set_new_nocheck(res, "file", pvs_json_bytes(part)) ? fail(why, "%s", "out of memory\n") : 0;
}

/* PVE::JSONSchema::parse_property_string's parts (split on ',') into res */
static int drive_parts(int kind, const char *data, int skip_dropped, json_t *res, strbuf *why)
{
    int had_default = 0, rc = 0;
    for (const char *c = data; !rc;) {
        size_t n = strcspn(c, ",");
        char *part = strndup(c, n);
        rc = part ? drive_part(kind, part, skip_dropped, res, &had_default, why) : fail(why, "%s", "out of memory\n");
        free(part);
        if (!c[n])
            break;
        c += n + 1;
    }
    return rc;
}

static int by_name(const void *a, const void *b)   /* a line memory ran out for comes first */
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    return !x || !y ? (x != NULL) - (y != NULL) : strcmp(x, y);
}

/* "format error" and one "KEY: MESSAGE" line per key, sorted (upstream
 * lists them in hash order) */
static void format_errors(json_t *errors, strbuf *why)
{
    size_t n = json_object_size(errors), i = 0;
    char **lines = calloc(n ? n : 1, sizeof *lines);
    const char *k;
    json_t *v;
    json_object_foreach(errors, k, v)
        if (lines)
            lines[i++] = pvs_asprintf("%s: %s", k, json_string_value(v));
    if (lines)
        qsort(lines, n, sizeof *lines, by_name);
    sb_add(why, "format error\n");
    for (i = 0; lines && i < n; i++) {
        sb_add(why, lines[i] ? lines[i] : "");
        free(lines[i]);
    }
    free(lines);
}

/* one value against its property, as check_prop: 0, or -1 with the message */
static int drive_prop_check(const drive_prop *dp, const char *v, strbuf *why)
{
    strbuf inner;
    sb_init(&inner);
    int rc = dp->fmt ? own_format(dp->fmt, v, &inner) : 0;
    if (rc)
        sb_addf(why, "invalid format - %s\n", inner.s ? inner.s : "");
    sb_free(&inner);
    return rc ? rc : pvs_property_check(&dp->p, v, why);
}

static void add_error(json_t *errors, const char *key, strbuf *msg)
{
    json_object_set_new_nocheck(errors, key, pvs_json_bytes(msg->s ? msg->s : ""));
    sb_free(msg);
}

/* check_object on a parsed drive: each property of its kind, then the keys
 * its schema does not have; 0, or -1 with "format error" and the list */
static int drive_check(int kind, json_t *res, strbuf *why)
{
    json_t *errors = json_object(), *v;
    const char *key;
    for (size_t i = 0; i < N_DRIVE_PROPS; i++) {
        const drive_prop *dp = &drive_props[i];
        strbuf one;
        sb_init(&one);
        if (!(dp->kinds & kind) || dp->alias)
            continue;
        if (!(v = json_object_get(res, dp->p.name))) {   /* only file is not optional */
            if (strcmp(dp->p.name, "file") == 0)
                sb_add(&one, "property is missing and it is not optional\n");
        } else {
            drive_prop_check(dp, json_string_value(v), &one);
        }
        if (one.len)
            add_error(errors, dp->p.name, &one);
    }
    json_object_foreach(res, key, v) {
        strbuf one;
        sb_init(&one);
        if (!drive_prop_find(kind, key))
            sb_add(&one, "property is not defined in schema and the schema does not allow additional properties\n");
        if (one.len)
            add_error(errors, key, &one);
    }
    int rc = json_object_size(errors) ? -1 : 0;
    if (rc)
        format_errors(errors, why);
    json_decref(errors);
    return rc;
}

/* check_format of a drive key's value: its property string, checked */
static int drive_value_check(int kind, const char *value, strbuf *why)
{
    json_t *res = json_object();
    int rc = res ? drive_parts(kind, value, 0, res, why) : fail(why, "%s", "out of memory\n");
    if (!rc)
        rc = drive_check(kind, res, why);
    json_decref(res);
    return rc;
}

/* ---- parse_drive's own rules (after the property string) ---- */

void pvs_vmconf_warn(json_t *warnings, const char *fmt, const char *a, const char *b)
{
    char *m = pvs_asprintf(fmt, a, b);
    if (m)
        json_array_append_new(warnings, pvs_json_bytes(m));
    free(m);
}

/* bps* become mbps* ("%.3f" of upstream's boolean: a true string), then
 * each limit needs what it limits; a drive that breaks a rule is none */
static int drive_rules(const char *key, json_t *res, json_t *warnings)
{
    static const char *const bps[] = { "bps", "bps_rd", "bps_wr" };
    static const char *const needs[][2] = {
        { "mbps_max", "mbps" }, { "mbps_rd_max", "mbps_rd" }, { "mbps_wr_max", "mbps_wr" },
        { "miops_max", "miops" }, { "miops_rd_max", "miops_rd" }, { "miops_wr_max", "miops_wr" },
        { "bps_max_length", "mbps_max" }, { "bps_rd_max_length", "mbps_rd_max" },
        { "bps_wr_max_length", "mbps_wr_max" }, { "iops_max_length", "iops_max" },
        { "iops_rd_max_length", "iops_rd_max" }, { "iops_wr_max_length", "iops_wr_max" },
    };
    int error = 0;
    for (size_t i = 0; i < 3; i++) {
        char m[16];
        snprintf(m, sizeof m, "m%s", bps[i]);
        if (json_object_del(res, bps[i]) != 0)
            continue;
        if (json_object_get(res, m))
            pvs_vmconf_warn(warnings, "both %s and %s specified\n", bps[i], m), error++;
        else
            json_object_set_new(res, m, json_string("0.000"));
    }
    for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++)
        if (perl_true(json_object_get(res, needs[i][0])) && !perl_true(json_object_get(res, needs[i][1])))
            pvs_vmconf_warn(warnings, "%s requires %s\n", needs[i][0], needs[i][1]), error++;
    static const char *const exclusive[][2] = {
        { "mbps_rd", "mbps" }, { "mbps_wr", "mbps" }, { "iops_rd", "iops" }, { "iops_wr", "iops" },
    };
    for (size_t i = 0; !error && i < 4; i++)
        error = perl_true(json_object_get(res, exclusive[i][0])) && perl_true(json_object_get(res, exclusive[i][1]));
    const char *media = json_string_value(json_object_get(res, "media"));
    if (!error && media && strcmp(media, "cdrom") == 0)   /* a cdrom takes no snapshot or format, and no virtio */
        error = perl_true(json_object_get(res, "snapshot")) || perl_true(json_object_get(res, "format"))
                || strncmp(key, "virtio", 6) == 0;
    if (!error && perl_true(json_object_get(res, "size")))
        error = !is_disk_size(json_string_value(json_object_get(res, "size")));
    return !error;
}

/* m@[:/](?:vm-\d+-)?cloudinit(?:\.$QEMU_FORMAT_RE)?$@ */
int pvs_vmconf_is_cloudinit(const char *file)
{
    static const char *const formats[] = { "", ".raw", ".qcow", ".qcow2", ".qed", ".vmdk", ".cloop" };
    for (const char *p = file; (p = strstr(p, "cloudinit")); p++) {
        const char *b = p;
        if (b - file >= 4 && b[-1] == '-') {   /* vm-\d+- before it */
            const char *d = b - 1;
            while (d > file && d[-1] >= '0' && d[-1] <= '9')
                d--;
            if (d < b - 1 && d - file >= 3 && strncmp(d - 3, "vm-", 3) == 0)
                b = d - 3;
        }
        int sep_ok = b > file && (b[-1] == ':' || b[-1] == '/');
        for (size_t f = 0; sep_ok && f < sizeof formats / sizeof formats[0]; f++)
            if (strcmp(p + 9, formats[f]) == 0)
                return 1;
    }
    return 0;
}

char *pvs_vmconf_volume_file(const char *key, const char *value, int *cdrom, json_t *warnings)
{
    if (cdrom)
        *cdrom = 0;
    if (strcmp(key, "vmstate") == 0)   /* parse_volume: the volume ID itself */
        return pvs_parse_volume_id(value, NULL, NULL, NULL) == 0 ? strdup(value) : NULL;
    const vm_key *k = schema_key(&confdesc, key);
    json_t *res = k && k->drive ? json_object() : NULL;
    strbuf why;
    sb_init(&why);
    int ok = res && drive_parts(k->drive, value, 1, res, &why) == 0 && drive_check(k->drive, res, &why) == 0
             && drive_rules(key, res, warnings);
    sb_free(&why);   /* parse_drive's eval: no message */
    const char *file = ok ? json_string_value(json_object_get(res, "file")) : NULL;
    const char *media = json_string_value(json_object_get(res, "media"));
    if (cdrom && file)
        *cdrom = media && strcmp(media, "cdrom") == 0;
    char *out = file ? strdup(file) : NULL;
    json_decref(res);
    return out;
}

/* ---- qemu-server's check_type ---- */

static int volume_id_item(const char *item, void *data)
{
    return pvs_string_format("pve-volume-id")(item, data);
}

/* PVE::JSONSchema::check_format as check_type calls it (its message bare):
 * the drives, volume IDs and a few simple formats; the other named ones
 * (net0's, boot's ... property strings) are not checked here */
static int check_format(const vm_key *k, const char *v, strbuf *why)
{
    if (k->drive)
        return drive_value_check(k->drive, v, why);
    if (strcmp(k->format, "urlencoded") == 0)
        return own_format('u', v, why);
    if (strcmp(k->format, "pve-qm-bootdisk") == 0)
        return pvs_vmconf_is_drive(v) ? 0 : fail(why, "invalid boot disk '%s'\n", v);
    if (strcmp(k->format, "pve-volume-id-list") == 0)
        return pvs_split_list(v, volume_id_item, why) ? -1 : 0;
    pvs_format_fn fn = pvs_string_format(k->format);
    return fn ? fn(v, why) : 0;
}

static int all_digits(const char *v)
{
    return *v && strspn(v, "0123456789") == strlen(v);
}

/* ^\d+(\.\d+)?$ */
static int is_plain_number(const char *v)
{
    const char *dot = strchr(v, '.');
    if (!dot)
        return all_digits(v);
    char *i = strndup(v, (size_t)(dot - v));
    int ok = i && all_digits(i) && all_digits(dot + 1);
    free(i);
    return ok;
}

/* the value check_type returns (malloc()ed), or NULL with its message */
static char *check_type(const vm_schema *s, const char *key, const char *v, strbuf *why)
{
    const vm_key *k = schema_key(s, key);
    static const char *const names[] = { "boolean", "integer", "number" };
    const char *t = k ? strchr("bin", k->type) : NULL;
    if (!k)
        return fail(why, "unknown setting '%s'\n", key), NULL;
    if (strpbrk(v, "\n\r"))
        return fail(why, "%s", "property contains a line feed\n"), NULL;
    if (t && k->type == 'b' && pvs_parse_boolean(v) != v)
        return strdup(pvs_parse_boolean(v));
    if (t && k->type == 'i' && all_digits(v))
        return strdup(v + strspn(v, "0") - (v[strspn(v, "0")] == '\0'));   /* int(): 007 is 7 */
    if (t && k->type == 'n' && is_plain_number(v))
        return strdup(v);
    if (t) {
        sb_addf(why, "type check ('%s') failed - got '%s'\n", names[t - "bin"], v);
        return NULL;
    }
    if (k->format)
        return check_format(k, v, why) ? NULL : strdup(v);
    size_t n = strlen(v);   /* s/^\"(.*)\"$/$1/ */
    return n >= 2 && v[0] == '"' && v[n - 1] == '"' ? strndup(v + 1, n - 2) : strdup(v);
}

/* ---- parse_vm_config: sections and lines ---- */

typedef struct vm_parser {
    long long vmid;
    pvs_vmconf *c;
    json_t *specials;               /* the special sections seen, for their duplicates */
    json_t *conf;                   /* where this section's keys go; NULL: skipped */
    const vm_schema *schema;
    int pending, cloudinit;         /* the section is [PENDING] / [special:cloudinit] */
    strbuf descr;                   /* its description ("#" and description: lines) */
    int has_descr, oom;
} vm_parser;

static void vm_warn(vm_parser *ps, const char *fmt, ...) PVS_PRINTF(2, 3);
static void vm_warn(vm_parser *ps, const char *fmt, ...)
{
    strbuf sb;
    sb_init(&sb);
    sb_addf(&sb, "vm %lld - ", ps->vmid);
    va_list ap;
    va_start(ap, fmt);
    char *m = NULL;
    if (vasprintf(&m, fmt, ap) < 0)
        m = NULL;
    va_end(ap);
    sb_add(&sb, m ? m : "");
    free(m);
    char *s = sb_take(&sb);
    if (!s || json_array_append_new(ps->c->warnings, pvs_json_bytes(s)))
        ps->oom = 1;
    free(s);
}

/* a new section's object in parent under name (duplicates replace, after
 * upstream's warning) */
static json_t *new_section(vm_parser *ps, json_t *parent, const char *name, const char *what)
{
    if (json_object_get(parent, name))
        vm_warn(ps, "duplicate %s: %s\n", what, name);
    json_t *o = json_object();
    if (!o || json_object_set_new(parent, name, o))
        ps->oom = 1;
    return o;
}

static int is_letter(char c)
{
    unsigned char l = (unsigned char)c | 0x20;
    return l >= 'a' && l <= 'z';
}

/* [a-z][a-z0-9_\-]+, case-insensitive */
static int snapshot_name(const char *s, size_t n)
{
    int ok = n >= 2 && is_letter(s[0]);
    for (size_t i = 1; ok && i < n; i++)
        ok = is_letter(s[i]) || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-';
    return ok;
}

static void vm_set(vm_parser *ps, const char *key, const char *value);

/* the description lines so far, \s+$ trimmed, to the section they are in
 * (upstream keeps them decoded; here as written) */
static void finish_description(vm_parser *ps)
{
    while (ps->descr.len && is_ws(ps->descr.s[ps->descr.len - 1]))
        ps->descr.s[--ps->descr.len] = '\0';
    if (ps->has_descr && ps->conf)
        vm_set(ps, "description", ps->descr.s ? ps->descr.s : "");
    ps->has_descr = 0;
    sb_free(&ps->descr);
}

static void add_description(vm_parser *ps, const char *text, size_t n, int newline)
{
    ps->has_descr = 1;
    sb_addn(&ps->descr, text, n);
    if (newline)
        sb_add(&ps->descr, "\n");
    ps->oom |= ps->descr.failed;
}

static void enter(vm_parser *ps, json_t *conf, const vm_schema *schema, int pending, int cloudinit)
{
    ps->conf = conf;
    ps->schema = schema;
    ps->pending = pending;
    ps->cloudinit = cloudinit;
}

/* the four section patterns, in upstream's order; 1 when line is a header */
static int vm_header(vm_parser *ps, const char *line)
{
    size_t n = strlen(line);
    while (n && is_ws(line[n - 1]))
        n--;   /* \]\s*$ */
    if (line[0] != '[' || n < 2 || line[n - 1] != ']' || memchr(line + 1, ']', n - 2))
        return 0;
    char *name = strndup(line + 1, n - 2);
    size_t len = n - 2;
    if (!name)
        return ps->oom = 1;
    finish_description(ps);   /* the section before has ended */
    if (strcasecmp(name, "PENDING") == 0) {
        if (ps->c->pending)
            vm_warn(ps, "duplicate section: %s\n", "pending");
        json_decref(ps->c->pending);
        ps->oom |= !(ps->c->pending = json_object());
        enter(ps, ps->c->pending, &confdesc, 1, 0);
    } else if (len > 8 && strncasecmp(name, "special:", 8) == 0
               && (strcmp(name + 8, "cloudinit") == 0 || strcmp(name + 8, "fleecing") == 0)) {
        /* the names come from a qr// of their own: not case-insensitive */
        int cloudinit = strcmp(name + 8, "cloudinit") == 0;
        ps->c->cloudinit |= cloudinit;
        enter(ps, new_section(ps, ps->specials, name + 8, "special section"), cloudinit ? &confdesc : &fleecing, 0,
              cloudinit);
    } else if (snapshot_name(name, len)) {
        enter(ps, new_section(ps, ps->c->snapshots, name, "snapshot section"), &confdesc, 0, 0);
    } else {
        vm_warn(ps, "skipping unknown section: '%s'\n", name);
        enter(ps, NULL, NULL, 0, 0);
    }
    free(name);
    return 1;
}

/* KEY:\s*(.*\S)\s*$ -- the value's start and length (trimmed), or NULL */
static const char *named_value(const char *line, const char *key, size_t *len)
{
    size_t n = strlen(key);
    if (strncmp(line, key, n) != 0 || line[n] != ':')
        return NULL;
    const char *v = line + n + 1, *e = v + strlen(v);
    while (is_ws(*v))
        v++;
    while (e > v && is_ws(e[-1]))
        e--;
    *len = (size_t)(e - v);
    return *v ? v : NULL;
}

/* snapstate:\s*(prepare|delete)\s*$ anywhere in the line (unanchored
 * upstream): the state, or NULL */
static const char *snapstate_line(const char *line)
{
    for (const char *p = line; (p = strstr(p, "snapstate:")); p++) {
        const char *v = p + 10;
        while (is_ws(*v))
            v++;
        const char *state = strncmp(v, "prepare", 7) == 0 ? "prepare" : strncmp(v, "delete", 6) == 0 ? "delete" : NULL;
        for (v += state ? strlen(state) : 0; state && is_ws(*v); v++)
            ;
        if (state && !*v)
            return state;
    }
    return NULL;
}

/* ^([a-z][a-z_\-]*\d*):\s*(.+?)\s*$: the key's length (0: no match) and
 * the value's start and length (the last character when all is space) */
static size_t key_value(const char *line, const char **v, size_t *vlen)
{
    size_t k = 0;
    if (!(line[0] >= 'a' && line[0] <= 'z'))
        return 0;
    for (k = 1; (line[k] >= 'a' && line[k] <= 'z') || line[k] == '_' || line[k] == '-'; k++)
        ;
    k += strspn(line + k, "0123456789");
    if (line[k] != ':' || !line[k + 1])
        return 0;
    const char *s = line + k + 1, *e = s + strlen(s);
    while (is_ws(*s) && s[1])
        s++;
    while (e - s > 1 && is_ws(e[-1]))
        e--;
    *v = s;
    *vlen = (size_t)(e - s);
    return k;
}

static void vm_set(vm_parser *ps, const char *key, const char *value)
{
    if (json_object_set_new_nocheck(ps->conf, key, pvs_json_bytes(value)))
        ps->oom = 1;
}

/* a "key: value" line: checked as check_type checks it, kept or warned */
static void vm_key_line(vm_parser *ps, char *key, const char *value)
{
    if (ps->cloudinit) {   /* informative only: not validated upstream */
        vm_set(ps, key, value);
        return;
    }
    strbuf why;
    sb_init(&why);
    char *v = check_type(ps->schema, key, value, &why);
    if (!v)
        vm_warn(ps, "unable to parse value of '%s' - %s", key, why.s ? why.s : "");
    else
        vm_set(ps, strcmp(key, "cdrom") == 0 ? "ide2" : key, v);
    free(v);
    sb_free(&why);
}

static void vm_set_n(vm_parser *ps, const char *key, const char *v, size_t n)
{
    char *value = strndup(v, n);
    if (value)
        vm_set(ps, key, value);
    ps->oom |= !value;
    free(value);
}

/* one line of a section that is not skipped, in upstream's order */
static void vm_line(vm_parser *ps, const char *line)
{
    const char *v;
    size_t vlen, klen;
    if (line[0] == '#') {
        add_description(ps, line + 1, strlen(line + 1), 1);
    } else if ((v = named_value(line, "description", &vlen))) {
        add_description(ps, v, vlen, 0);
    } else if ((v = snapstate_line(line))) {
        vm_set(ps, "snapstate", v);   /* a snapshot's state (the current section drops it) */
    } else if ((v = named_value(line, "args", &vlen))) {
        vm_set_n(ps, "args", v, vlen);   /* not checked upstream */
    } else if ((v = named_value(line, "delete", &vlen))) {
        if (ps->pending)
            vm_set_n(ps, "delete", v, vlen);   /* its list is read when it is applied */
        else
            vm_warn(ps, "property 'delete' is only allowed in [PENDING]\n");
    } else if ((klen = key_value(line, &v, &vlen))) {
        char *key = strndup(line, klen), *value = strndup(v, vlen);
        if (key && value)
            vm_key_line(ps, key, value);
        ps->oom |= !key || !value;
        free(key);
        free(value);
    } else {
        vm_warn(ps, "unable to parse config: %s\n", line);
    }
}

/* a line holding a NUL byte: upstream's Perl would take the byte, a C
 * string cannot; it is refused as unparsable (no configuration qemu-server
 * writes holds one) */
static void vm_nul_line(vm_parser *ps, const char *line, size_t n)
{
    if (!ps->conf)
        return;
    strbuf sb;
    sb_init(&sb);
    sb_add_printable(&sb, line, n);
    vm_warn(ps, "unable to parse config: %s\n", sb.s ? sb.s : "");
    sb_free(&sb);
}

static void vm_text_line(vm_parser *ps, const char *line, size_t n)
{
    if (memchr(line, '\0', n)) {
        vm_nul_line(ps, line, n);
        return;
    }
    char *l = strndup(line, n);
    const char *t = l;
    while (t && is_ws(*t))
        t++;
    if (!l)
        ps->oom = 1;
    else if (*t && !vm_header(ps, l) && ps->conf)   /* ^\s*$ lines are skipped */
        vm_line(ps, l);
    free(l);
}

int pvs_vmconf_parse(const char *text, size_t len, long long vmid, pvs_vmconf *c)
{
    memset(c, 0, sizeof *c);
    c->main = json_object();
    c->snapshots = json_object();
    c->warnings = json_array();
    vm_parser ps = { vmid, c, json_object(), c->main, &confdesc, 0, 0, { 0 }, 0, 0 };
    ps.oom = !c->main || !c->snapshots || !c->warnings || !ps.specials;
    for (size_t i = 0; !ps.oom && i < len;) {   /* split(/\n/, $raw) */
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        vm_text_line(&ps, text + i, n);
        i += n + 1;
    }
    finish_description(&ps);
    json_object_del(c->main, "snapstate");   /* "just to be sure" */
    json_decref(ps.specials);
    if (ps.oom) {
        pvs_vmconf_clear(c);
        return PVS_ENOMEM;
    }
    return 0;
}

void pvs_vmconf_clear(pvs_vmconf *c)
{
    json_decref(c->main);
    json_decref(c->pending);
    json_decref(c->snapshots);
    json_decref(c->warnings);
    memset(c, 0, sizeof *c);
}
