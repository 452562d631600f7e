/* rbd.c - the rbd plugin (SPEC §5 rbd): krbd mapping with rxbounce for
 * Windows guests, remapping only when the hints say it is safe. */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rbd.h"

/* ---- volume names: ^((base-(\d+)-\S+)/)?((base)?(vm)?-(\d+)-\S+)$ ---- */

static int no_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' || s[i] == '\v')
            return 0;
    return 1;
}

static size_t digits(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

/* (base)?(vm)?-(\d+)-\S+ : returns 1 and the vmid span and base flag.
 * Image names never hold a '/': that keeps device paths inside the storage. */
static int image_name(const char *s, size_t n, const char **vmid, size_t *vmid_len, int *base)
{
    if (!no_space(s, n) || memchr(s, '/', n))
        return 0;
    size_t i = 0;
    *base = 0;
    if (n >= 4 && strncmp(s, "base", 4) == 0) {
        *base = 1;
        i = 4;
    }
    if (n - i >= 2 && strncmp(s + i, "vm", 2) == 0)
        i += 2;
    if (i >= n || s[i] != '-')
        return 0;
    size_t d = digits(s + i + 1, n - i - 1);
    if (!d || i + 1 + d >= n || s[i + 1 + d] != '-' || i + 2 + d >= n)
        return 0;
    *vmid = s + i + 1;
    *vmid_len = d;
    return 1;
}

static int rbd_parse_volname(const pvs_plugin *self, const char *volname, pvs_volname *out,
                             pvs_error *err)
{
    (void)self;
    const char *slash = strchr(volname, '/');
    const char *name = volname, *vmid, *bvmid = NULL;
    size_t vmid_len, bvmid_len = 0;
    int base, bbase;
    if (slash) {
        /* BASE/NAME: base-VMID-... / NAME */
        size_t pl = (size_t)(slash - volname);
        if (!(pl > 5 && strncmp(volname, "base-", 5) == 0
              && image_name(volname, pl, &bvmid, &bvmid_len, &bbase) && bbase))
            goto bad;
        name = slash + 1;
    }
    if (!image_name(name, strlen(name), &vmid, &vmid_len, &base))
        goto bad;
    out->vtype = strdup("images");
    out->name = strdup(name);
    out->vmid = strndup(vmid, vmid_len);
    out->basename = slash ? strndup(volname, (size_t)(slash - volname)) : NULL;
    out->basevmid = slash ? strndup(bvmid, bvmid_len) : NULL;
    out->isbase = base ? strdup("base") : NULL;
    out->format = strdup("raw");
    if (!out->vtype || !out->name || !out->vmid || !out->format || (slash && (!out->basename || !out->basevmid))
        || (base && !out->isbase)) {
        pvs_volname_clear(out);
        return pvs_oom(err);
    }
    return 0;
bad:
    return pvs_fail(err, PVS_EINVAL, "unable to parse rbd volume name '%s'\n", volname);
}

/* ---- connection options (Proxmox's ceph_connect_option) ---- */

void rbd_opts_clear(rbd_opts *o)
{
    free(o->pool);
    free(o->namespace_);
    free(o->conf);
    free(o->mon_host);
    free(o->keyring);
    free(o->user);
    free(o->conf_to_write);
    memset(o, 0, sizeof *o);
}

static int exists(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0;
}

/* PVE::CephConfig::hostlist: the monitors of a split_list, each as
 * HOST[:PORT] with an IPv6 address in brackets, joined by sep.  Upstream
 * turns an entry that is no address into ""; librados would then print
 * its complaints to the process's stdout and stderr, so here the first
 * such entry is the error (*bad, malloc()ed) instead. */
typedef struct hosts {
    strbuf sb;
    char sep;
    char *bad;
} hosts;

static int host_item(const char *item, void *data)
{
    hosts *h = data;
    char host[256], port[16];
    if (!pvs_host_and_port(item, host, sizeof host, port, sizeof port)) {
        h->bad = strdup(item);
        return 1;
    }
    if (h->sb.len)
        sb_addn(&h->sb, &h->sep, 1);
    sb_addf(&h->sb, pvs_is_ipv6(host) ? "[%s]%s%s" : "%s%s%s", host, *port ? ":" : "", port);
    return 0;
}

static char *hostlist(const char *list, char sep, char **bad)
{
    hosts h = { { 0 }, sep, NULL };
    sb_init(&h.sb);
    if (pvs_split_list(list, host_item, &h)) {
        sb_free(&h.sb);
        *bad = h.bad;
        return NULL;
    }
    return sb_take(&h.sb);
}

/* ceph_check_keyfile: a keyring file must hold a "[NAME] key = ...==";
 * only a regular file is read (a FIFO there cannot block the call) */
static int check_keyfile(const char *path, pvs_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    size_t n = 0;
    char *buf = pvs_read_regular_file(path, &n, NULL);
    regex_t rx;
    int ok = buf && n > 0
             && regcomp(&rx, "\\[[^[:space:]]+\\][[:space:]]*key[[:space:]]*=[[:space:]]*[^[:space:]]+==[[:space:]]*$",
                        REG_EXTENDED | REG_NOSUB | REG_NEWLINE) == 0;
    if (ok) {
        ok = regexec(&rx, buf, 0, NULL, 0) == 0;
        regfree(&rx);
    }
    if (buf)
        explicit_bzero(buf, n);
    free(buf);
    return ok ? 0 : pvs_fail(err, PVS_EINVAL, "Not a proper rbd authentication file: %s\n", path);
}

/* An external cluster without its own ceph.conf gets one naming its keyring,
 * as upstream's ceph_create_configuration writes it.  Only a call that runs
 * the rbd command writes it (run_rbd), right before its first
 * command, and, as upstream, the calls after it use it: reading (a dry run,
 * status, list, audit) changes nothing on disk. */
static int create_conf(const char *conf, const char *keyring, pvs_error *err)
{
    int fd = open(conf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    char *text = pvs_asprintf("[global]\n\tkeyring = %s\n\n", keyring);
    ssize_t len = text ? (ssize_t)strlen(text) : 0;
    int ok = fd >= 0 && text && write(fd, text, (size_t)len) == len;
    int e = errno;
    if (fd >= 0)
        close(fd);
    free(text);
    if (ok || (fd < 0 && e == EEXIST))
        return 0;
    return pvs_fail(err, PVS_EIO, "unable to write '%s' - %s\n", conf, strerror(e));
}

static int monitors(const char *storeid, const char *monhost, rbd_opts *o, pvs_error *err)
{
    char *bad = NULL;
    if ((o->mon_host = hostlist(monhost, ',', &bad)) || !bad)
        return o->mon_host ? 0 : pvs_oom(err);
    pvs_fail(err, PVS_EINVAL, "rbd error: invalid monitor address '%s' in monhost of storage '%s'\n", bad, storeid);
    free(bad);
    return PVS_EINVAL;
}

/* Which ceph.conf: the managed cluster's, or an external one's own (or the
 * one to write before the first rbd command: o->conf_to_write) */
static int cluster_conf(pvs_ctx *ctx, const char *storeid, const char *monhost, rbd_opts *o, pvs_error *err)
{
    char *custom = pvs_asprintf("/etc/pve/priv/ceph/%s.conf", storeid);
    char *path = custom ? pvs_host_path(ctx, custom) : NULL;
    free(custom);
    int rc = path ? 0 : pvs_oom(err);
    if (!rc && !monhost) {
        if (!(o->conf = pvs_host_path(ctx, "/etc/pve/ceph.conf")))
            rc = pvs_oom(err);
        else if (exists(path))
            pvs_warn(ctx, "ignoring custom ceph config for storage '%s', 'monhost' is not set "
                          "(assuming pveceph managed cluster)!\n", storeid);
    } else if (!rc && exists(path)) {
        o->conf = path;
        path = NULL;
    } else if (!rc && o->keyring) {
        o->conf_to_write = path;
        path = NULL;
    }
    free(path);
    return rc;
}

/* Ceph's argument parser takes any argument of the form --NAME=VALUE for a
 * configuration option, wherever it stands (-p --log-file=X sets the log
 * file of root's rbd): a value that begins with '-' is refused before
 * anything runs. */
static int argv_safe(const char *what, const char *value, const char *storeid, pvs_error *err)
{
    if (!value || value[0] != '-')
        return 0;
    return pvs_fail(err, PVS_EINVAL, "rbd error: invalid %s '%s' in storage '%s': it must not begin with '-'\n",
                    what, value, storeid);
}

int rbd_opts_get(pvs_ctx *ctx, const char *storeid, const json_t *scfg, rbd_opts *o, pvs_error *err)
{
    memset(o, 0, sizeof *o);
    const char *pool = pvs_scfg_str(scfg, "pool"), *ns = pvs_scfg_str(scfg, "namespace");
    const char *monhost = pvs_scfg_str(scfg, "monhost"), *user = pvs_scfg_str(scfg, "username");
    if (argv_safe("pool", pool, storeid, err) || argv_safe("namespace", ns, storeid, err)
        || argv_safe("username", user, storeid, err))
        return err ? err->code : PVS_EINVAL;
    /* the secret lives under /etc/pve/priv, never in storage.cfg */
    char *k = pvs_asprintf("/etc/pve/priv/ceph/%s.keyring", storeid);
    char *keyfile = k ? pvs_host_path(ctx, k) : NULL;
    free(k);
    o->cache = pvs_plugin_state(ctx, &pvs_rbd_plugin, rbd_state_new);
    o->pool = strdup(pool && *pool ? pool : "rbd");
    o->namespace_ = ns && *ns ? strdup(ns) : NULL;
    o->user = strdup(user && *user ? user : "admin");
    int rc = !keyfile || !o->pool || !o->user || (ns && *ns && !o->namespace_) ? pvs_oom(err) : 0;
    if (!rc)
        rc = check_keyfile(keyfile, err);
    if (!rc && exists(keyfile)) {
        o->keyring = keyfile;
        keyfile = NULL;
    }
    free(keyfile);
    if (!rc)
        rc = cluster_conf(ctx, storeid, monhost, o, err);
    if (!rc && monhost)
        rc = monitors(storeid, monhost, o, err);
    o->auth = o->keyring ? "cephx" : "none";
    if (rc)
        rbd_opts_clear(o);
    return rc;
}

/* ---- the rbd command ---- */

#define MAX_ARGS 32

/* rbd [-p POOL] [--namespace NS] [-c CONF] [-m MONS] [--auth_supported A]
 *     [-n client.USER] [--keyring K] OP ARGS... */
static void rbd_argv(pvs_ctx *ctx, const rbd_opts *o, const char *op, const char **args,
                     const char **argv, char *userbuf, size_t userbuf_size)
{
    int n = 0;
    argv[n++] = ctx->set->rbd_command;
    argv[n++] = "-p";
    argv[n++] = o->pool;
    if (o->namespace_ && strcmp(op, "unmap") != 0) {   /* unmap fails with --namespace */
        argv[n++] = "--namespace";
        argv[n++] = o->namespace_;
    }
    if (o->conf) {
        argv[n++] = "-c";
        argv[n++] = o->conf;
    }
    if (o->mon_host) {
        argv[n++] = "-m";
        argv[n++] = o->mon_host;
    }
    argv[n++] = "--auth_supported";
    argv[n++] = o->auth;
    snprintf(userbuf, userbuf_size, "client.%s", o->user);
    argv[n++] = "-n";
    argv[n++] = userbuf;
    if (o->keyring) {
        argv[n++] = "--keyring";
        argv[n++] = o->keyring;
    }
    argv[n++] = op;
    for (int i = 0; args[i] && n < MAX_ARGS - 1; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
}

/* "2014-02-06 11:51:59.839135 7f09f94d0760 -1 librbd: MESSAGE": MESSAGE
 * (upstream's run_rbd_command drops that log prefix), or NULL */
static const char *librbd_message(const char *line)
{
    const char *p = line;
    static const char shape[] = "dddd-dd-dd dd:dd:dd.";
    for (size_t i = 0; i < sizeof shape - 1; i++, p++)
        if (shape[i] == 'd' ? !(*p >= '0' && *p <= '9') : *p != shape[i])
            return NULL;
    size_t n = strspn(p, "0123456789");
    if (!n || p[n] != ' ')
        return NULL;
    p += n + 1;
    n = strspn(p, "0123456789abcdef");
    if (!n || p[n] != ' ')
        return NULL;
    p += n + 1;
    n = strspn(p, "-0123456789");
    if (!n || strncmp(p + n, " librbd: ", 9) != 0)
        return NULL;
    return p + n + 9;
}

/* Perl's truth of a line */
static int truthy(const char *s, size_t n)
{
    return n && !(n == 1 && s[0] == '0');
}

/* What upstream's run_rbd_command (over run_command with an errmsg) says
 * of rbd's stderr: run_command keeps the last line for its own message and
 * hands the lines before it (Perl-true ones) to run_rbd_command, whose last
 * such line, when there is one, is the message instead.  Lines end at
 * "\n", "\r\n", "\r" or backspaces.  *last gets the last line (malloc()ed,
 * NULL when none is Perl-true); the return value the earlier one. */
static char *stderr_lines(const char *text, char **last)
{
    char *prev = NULL;
    *last = NULL;
    for (const char *p = text ? text : ""; *p;) {
        size_t n = strcspn(p, "\n\r\b");
        if (*last) {   /* a line before another: run_rbd_command sees it */
            free(prev);
            prev = *last;
        }
        *last = truthy(p, n) ? strndup(p, n) : NULL;
        p += n;
        if (*p == '\r')
            p += p[1] == '\n' ? 2 : 1;
        else if (*p == '\n')
            p++;
        else
            p += strspn(p, "\b");
    }
    if (prev) {
        const char *m = librbd_message(prev);
        if (m) {
            char *msg = strdup(m);
            free(prev);
            prev = msg;
        }
    }
    return prev;
}

static int run_rbd(pvs_ctx *ctx, rbd_opts *o, const char *const *argv, const char *errmsg, pvs_error *err)
{
    pvs_report_command(ctx, argv);   /* a reporting call lists what it runs */
    if (pvs_dry_run(ctx))
        return 0;                    /* ... or would run */
    int rc = 0;
    if (o->conf_to_write && (rc = create_conf(o->conf_to_write, o->keyring, err)))
        return rc;
    free(o->conf_to_write);          /* once per call */
    o->conf_to_write = NULL;
    pvs_run_result r;
    rc = pvs_run_call(ctx, argv, &r, err);
    if (rc) {
        /* could not even start it: say what we tried to do */
        char *why = err && err->message ? strdup(err->message) : NULL;
        pvs_fail(err, rc, "%s: %s", errmsg, why ? why : "cannot run the rbd command\n");
        free(why);
        pvs_run_result_clear(&r);
        return rc;
    }
    if (r.exit_status == 0) {
        pvs_run_result_clear(&r);
        return 0;
    }
    char *last, *line = stderr_lines(r.err, &last);
    char *cmd = pvs_shell_quote_argv(argv);   /* named as a person can paste it */
    if (r.timed_out)   /* our deadline: upstream's run has none */
        rc = pvs_fail(err, PVS_ETIMEDOUT, "%s: command '%s' failed: got timeout\n", errmsg, cmd ? cmd : argv[0]);
    else if (line || last)
        rc = pvs_fail(err, PVS_ECOMMAND, "%s: %s\n", errmsg, line ? line : last);
    else {
        char why[64];
        pvs_command_cause(&r, why, sizeof why);
        rc = pvs_fail(err, PVS_ECOMMAND, "%s: %s\n", errmsg, why);
    }
    free(last);
    if (err) {
        err->exit_status = r.exit_status;
        err->stderr_text = r.err;
        r.err = NULL;
    }
    free(line);
    free(cmd);
    pvs_run_result_clear(&r);
    return rc;
}

static int unmap_device(pvs_ctx *ctx, rbd_opts *o, const char *dev, pvs_error *err)
{
    const char *argv[MAX_ARGS];
    const char *args[] = { dev, NULL };
    char user[256];
    rbd_argv(ctx, o, "unmap", args, argv, user, sizeof user);
    char *errmsg = pvs_asprintf("can't unmap rbd device %s", dev);
    int rc = errmsg ? run_rbd(ctx, o, argv, errmsg, err) : pvs_oom(err);
    free(errmsg);
    return rc;
}

/* ---- plugin methods ---- */

/* What every call on one storage needs once: its options and cluster FSID. */
typedef struct rbd_store {
    rbd_opts o;
    char fsid[37];     /* "" when not asked for */
} rbd_store;

static int rbd_store_get(pvs_ctx *ctx, const char *storeid, const json_t *scfg, int want_fsid,
                         rbd_store *st, pvs_error *err)
{
    memset(st, 0, sizeof *st);
    int rc = rbd_opts_get(ctx, storeid ? storeid : "", scfg, &st->o, err);
    if (!rc && want_fsid && (rc = rbd_cluster_fsid(ctx, storeid ? storeid : "", scfg, &st->o, st->fsid, err)))
        rbd_opts_clear(&st->o);
    return rc;
}

/* One volume of a call: its parsed name, IMAGE[@SNAP], and (krbd) its
 * device and what the kernel says about it. */
typedef struct rbd_vol {
    pvs_volname v;
    char *name;        /* IMAGE[@SNAP] */
    char *dev;         /* host path of the kernel device */
    char *lock_key;    /* FSID/POOL[/NS]/IMAGE[@SNAP] */
    int mapped, id;
    int rxbounce;      /* mapped with it: 1, without: 0, unknown: -1 */
    char *options;     /* the kernel's map options (read for a reporting call or a Windows guest) */
    int remap;         /* to be unmapped and mapped again with rxbounce */
    rbd_feat feat;
    pvs_error err;     /* what stops this volume, reported at its turn */
} rbd_vol;

static void rbd_vol_clear(rbd_vol *rv)
{
    pvs_volname_clear(&rv->v);
    free(rv->name);
    free(rv->dev);
    free(rv->lock_key);
    if (rv->options)
        explicit_bzero(rv->options, strlen(rv->options));
    free(rv->options);
    pvs_error_clear(&rv->feat.err);
    pvs_error_clear(&rv->err);
    memset(rv, 0, sizeof *rv);
}

/* A snapshot name as upstream's "if $snapname" sees it: "" and "0" are none. */
static const char *snapshot(const char *snapname)
{
    return snapname && *snapname && strcmp(snapname, "0") != 0 ? snapname : NULL;
}

static int rbd_vol_get(const pvs_plugin *self, const char *volname, const char *snapname, rbd_vol *rv,
                       pvs_error *err)
{
    snapname = snapshot(snapname);
    memset(rv, 0, sizeof *rv);
    rv->feat.err.exit_status = rv->err.exit_status = -1;
    int rc = pvs_plugin_parse_volname(self, volname, &rv->v, err);
    if (!rc && snapname && strchr(snapname, '/'))   /* it becomes part of a device path */
        rc = pvs_fail(err, PVS_EINVAL, "invalid snapshot name '%s'\n", snapname);
    if (!rc) {
        rv->name = snapname ? pvs_asprintf("%s@%s", rv->v.name, snapname) : strdup(rv->v.name);
        if (!rv->name)
            rc = pvs_oom(err);
    }
    if (rc)
        rbd_vol_clear(rv);
    return rc;
}

static int rbd_vol_dev(pvs_ctx *ctx, const rbd_store *st, rbd_vol *rv, pvs_error *err)
{
    const rbd_opts *o = &st->o;
    rv->dev = rbd_dev_path(ctx, o, st->fsid, rv->name);
    rv->lock_key = o->namespace_ ? pvs_asprintf("%s/%s/%s/%s", st->fsid, o->pool, o->namespace_, rv->name)
                                 : pvs_asprintf("%s/%s/%s", st->fsid, o->pool, rv->name);
    return rv->dev && rv->lock_key ? 0 : pvs_oom(err);
}

/* QEMU's librbd path: rbd:POOL/[NS/]IMAGE[@SNAP]:conf=...:mon_host=...:id=...:keyring=... */
static char *librbd_path(const rbd_store *st, const rbd_vol *rv)
{
    const rbd_opts *o = &st->o;
    strbuf sb;
    sb_init(&sb);
    sb_addf(&sb, "rbd:%s/", o->pool);
    if (o->namespace_)
        sb_addf(&sb, "%s/", o->namespace_);
    sb_add(&sb, rv->name);
    if (o->conf)
        sb_addf(&sb, ":conf=%s", o->conf);
    if (o->mon_host) {
        char *bad = NULL, *hosts = hostlist(o->mon_host, ';', &bad);
        free(bad);
        sb_add(&sb, ":mon_host=");
        for (const char *p = hosts; p && *p; p++)
            sb_add(&sb, *p == ':' ? "\\:" : (char[]){ *p, '\0' });
        free(hosts);
        sb_addf(&sb, ":auth_supported=%s", o->auth);
    }
    if (o->keyring)
        sb_addf(&sb, ":id=%s:keyring=%s", o->user, o->keyring);
    return sb_take(&sb);
}

static int rbd_path_m(pvs_ctx *ctx, const pvs_plugin *self, const json_t *scfg, const char *volname,
                      const char *storeid, const char *snapname, char **path, pvs_error *err)
{
    int krbd = pvs_scfg_bool(scfg, "krbd", 0);
    rbd_vol rv;
    rbd_store st;
    int rc = rbd_vol_get(self, volname, snapname, &rv, err);
    if (rc)
        return rc;
    if (!(rc = rbd_store_get(ctx, storeid, scfg, krbd, &st, err))) {
        if (krbd && !(rc = rbd_vol_dev(ctx, &st, &rv, err))) {
            *path = rv.dev;
            rv.dev = NULL;
        } else if (!krbd && !(*path = librbd_path(&st, &rv))) {
            rc = pvs_oom(err);
        }
        rbd_opts_clear(&st.o);
    }
    rbd_vol_clear(&rv);
    return rc;
}

/* A reporting call's map options of a volume: before the change, and after
 * it (read again from the kernel; null in a dry run, which changed nothing) */
static void report_options(pvs_ctx *ctx, const rbd_vol *rv, int changed)
{
    if (!ctx->report)
        return;
    pvs_report_set(ctx, "options_before", pvs_json_bytes(rv->mapped ? rv->options : NULL));
    char *after = NULL;
    int id = -1;
    if (!changed)
        after = rv->mapped && rv->options ? strdup(rv->options) : NULL;
    else if (!pvs_dry_run(ctx) && rbd_device_state(ctx, rv->dev, &id, NULL) == 1)
        after = rbd_map_options(ctx, id);
    pvs_report_set(ctx, "options_after", pvs_json_bytes(after));
    free(after);
}

/* What the kernel says about a volume, and what step 1 of SPEC §5 rbd
 * map_volume decides for it: a Windows guest's volume mapped without
 * rxbounce is remapped when the hints say that is safe.  Reads only. */
static int look_at_volume(pvs_ctx *ctx, rbd_vol *rv, int windows, int may_deactivate, pvs_error *err)
{
    rv->rxbounce = -1;
    int rc = rbd_device_state(ctx, rv->dev, &rv->id, err);
    if (rc < 0)
        return rc;
    rv->mapped = rc;
    if (!rv->mapped || (!windows && !ctx->report))
        return 0;
    rv->options = rbd_map_options(ctx, rv->id);
    if (!windows)
        return 0;
    if (rv->options)
        rv->rxbounce = rbd_has_option(rv->options, "rxbounce");
    rv->remap = rv->rxbounce == 0 && may_deactivate;
    return 0;
}

/* A volume that stays as it is mapped: step 1's warnings for a Windows
 * guest, and what a reporting call says of it. */
static void keep_mapped(pvs_ctx *ctx, const rbd_vol *rv, const char *volname, int windows)
{
    char devnode[32];
    snprintf(devnode, sizeof devnode, "/dev/rbd%d", rv->id);
    const char *action = "already-mapped";
    if (windows && rv->rxbounce < 0) {
        pvs_warn(ctx, "cannot read map options of %s, not remapping volume %s\n", devnode, volname);
        action = "options-unknown";
    } else if (windows && rv->rxbounce == 0) {
        pvs_warn(ctx, "not unmapping volume %s to apply rxbounce since it is not safe\n", volname);
        action = "remap-skipped-unsafe";
    }
    report_options(ctx, rv, 0);
    pvs_report_done(ctx, action, rv->dev);
}

/* An error after the volume was unmapped for a remap says so. */
static int no_longer_mapped(pvs_error *err, const char *storeid, const char *volname, int rc)
{
    if (err && err->message) {
        char *m = pvs_asprintf("%svolume '%s:%s' was unmapped to apply rxbounce and is no longer mapped\n",
                               err->message, storeid, volname);
        if (m) {
            free(err->message);
            err->message = m;
        }
    }
    return rc;
}

static int map_device(pvs_ctx *ctx, rbd_opts *o, const rbd_vol *rv, int windows, pvs_error *err)
{
    const char *argv[MAX_ARGS];
    const char *args[] = { rv->name, windows ? "--options" : NULL, "rxbounce", NULL };
    char user[256];
    rbd_argv(ctx, o, "map", args, argv, user, sizeof user);
    char *errmsg = pvs_asprintf("can't map rbd volume %s", rv->name);
    int rc = errmsg ? run_rbd(ctx, o, argv, errmsg, err) : pvs_oom(err);
    free(errmsg);
    return rc;
}

/* The unmap of a remap.  As upstream, a failed unmap is a warning and the
 * volume stays mapped as it was (1: go on with the map, 0: it stays).  The
 * call's deadline is one for all its volumes: once it has passed, an unmap
 * is not even started, and the volume says so. */
static int remap_unmap(pvs_ctx *ctx, rbd_store *st, rbd_vol *rv, const char *volname)
{
    pvs_error e = PVS_ERROR_INIT;
    const char *action = "remap-failed";
    if (!pvs_dry_run(ctx) && pvs_call_left_ms(ctx) == 0) {
        pvs_warn(ctx, "not unmapping volume %s to apply rxbounce: the call's deadline (ceph_timeout) has passed\n",
                 volname);
        action = "remap-skipped-deadline";
    } else if (unmap_device(ctx, &st->o, rv->dev, &e)) {
        /* upstream: warn "... - $@\n", $@ ending in its own newline */
        pvs_warn(ctx, "could not unmap to apply rxbounce - %s\n", e.message ? e.message : "unknown error\n");
        pvs_report_set(ctx, "error", pvs_message_json(e.message ? e.message : "unknown error"));
    }
    pvs_error_clear(&e);
    int id;
    if (pvs_dry_run(ctx) || rbd_device_state(ctx, rv->dev, &id, NULL) == 0)
        return 1;
    report_options(ctx, rv, 0);
    pvs_report_done(ctx, action, rv->dev);
    return 0;   /* still mapped, as it was: upstream returns the path */
}

/* After a map: the path to return is the mapped block device.  Where no
 * udev rule made the rbd-pve link (a host with neither Proxmox's rule nor
 * ours), that is what path() finds instead: Ceph's own /dev/rbd link or
 * the kernel's /dev/rbdN; a warning says why. */
static void linked_device(pvs_ctx *ctx, const rbd_store *st, rbd_vol *rv)
{
    int id;
    if (rbd_device_state(ctx, rv->dev, &id, NULL) == 1)
        return;
    char *dev = rbd_dev_path(ctx, &st->o, st->fsid, rv->name);
    if (!dev || rbd_device_state(ctx, dev, &id, NULL) != 1) {
        free(dev);
        return;
    }
    pvs_warn(ctx, "no udev rule made '%s' (install pvestorage's or Proxmox's rule); using %s\n", rv->dev, dev);
    free(rv->dev);
    rv->dev = dev;
}

/* The changes for one volume, everything that can fail for it checked
 * first: the unmap of a remap comes right before the map that replaces it,
 * and nothing is written between the two (messages are held back). */
static int change_volume(pvs_ctx *ctx, const char *storeid, rbd_store *st, rbd_vol *rv,
                         const char *volname, int windows, pvs_error *err)
{
    if (rv->feat.err.code) {
        int rc = rv->feat.err.code;
        pvs_error_move(err, &rv->feat.err);
        return rc;
    }
    int unmapped = 0, rc = 0;
    if (rv->remap) {
        pvs_hold_messages(ctx);
        if (!(unmapped = remap_unmap(ctx, st, rv, volname))) {
            pvs_release_messages(ctx);
            return 0;
        }
    }
    if (rv->feat.change) {
        pvs_report_set(ctx, "features_changed", json_true());
        if (!pvs_dry_run(ctx))
            rc = rbd_change_features(ctx, storeid, &st->o, rv->v.name, err);
    }
    if (!rc)
        rc = map_device(ctx, &st->o, rv, windows, err);
    pvs_release_messages(ctx);
    if (!rc && !pvs_dry_run(ctx))
        linked_device(ctx, st, rv);
    if (!rc) {
        report_options(ctx, rv, 1);
        pvs_report_done(ctx, unmapped ? "remapped" : "mapped", rv->dev);
    }
    return rc && unmapped ? no_longer_mapped(err, storeid, volname, rc) : rc;
}

/* Parse every name (an error waits for its volume's turn); then the
 * storage, whose failure is the first volume's. */
static int prepare(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                   const char *const *volnames, size_t n, const char *snapname, rbd_vol *rvs,
                   rbd_store *st, pvs_error *err)
{
    for (size_t i = 0; i < n; i++) {
        pvs_error e = PVS_ERROR_INIT;
        if (rbd_vol_get(self, volnames[i], snapname, &rvs[i], &e) == PVS_ENOMEM)
            return pvs_oom(err);
        pvs_error_move(&rvs[i].err, &e);
    }
    if (n && rvs[0].err.code) {
        int rc = rvs[0].err.code;
        pvs_error_move(err, &rvs[0].err);
        return rc;
    }
    int rc = rbd_store_get(ctx, storeid, scfg, 1, st, err);
    for (size_t i = 0; !rc && i < n; i++)
        if (!rvs[i].err.code)
            rc = rbd_vol_dev(ctx, st, &rvs[i], err);
    if (rc)
        rbd_opts_clear(&st->o);
    return rc;
}

/* Every read of a batch, under the images' locks: device states, map
 * options, then the features of the images to be mapped, all at once. */
static int look_at_all(pvs_ctx *ctx, const char *storeid, rbd_store *st, rbd_vol *rvs, size_t n,
                       const char *snapname, int windows, int may, pvs_error *err)
{
    const char **images = calloc(n ? n : 1, sizeof *images);
    size_t *which = calloc(n ? n : 1, sizeof *which), m = 0;
    rbd_feat *feats = calloc(n ? n : 1, sizeof *feats);
    if (!images || !which || !feats) {
        free(images), free(which), free(feats);
        return pvs_oom(err);
    }
    for (size_t i = 0; i < n; i++) {
        rbd_vol *rv = &rvs[i];
        if (rv->err.code || look_at_volume(ctx, rv, windows, may, &rv->err) || (rv->mapped && !rv->remap))
            continue;
        which[m] = i;
        feats[m].err.exit_status = -1;
        images[m++] = rv->v.name;
    }
    pvs_error all = PVS_ERROR_INIT;
    int rc = rbd_read_features(ctx, storeid, &st->o, images, m, snapname, feats, &all);
    for (size_t k = 0; k < m; k++) {
        rbd_feat *f = &rvs[which[k]].feat;
        if (rc)   /* a failure of the whole read is each volume's that needed it */
            pvs_fail(&f->err, rc, "%s", all.message ? all.message : "unknown error\n");
        f->change = feats[k].change;
        if (!rc)
            pvs_error_move(&f->err, &feats[k].err);
        pvs_error_clear(&feats[k].err);
    }
    pvs_error_clear(&all);
    free(images), free(which), free(feats);
    return 0;
}

/* map_volume (SPEC §5 rbd) for n volumes of one storage: reads for all of
 * them first, then each volume's changes in the caller's order, stopping
 * at the first failure. */
static int map_many(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                    const char *const *volnames, size_t n, const char *snapname, const json_t *hints,
                    char **paths, pvs_error *err)
{
    int windows = pvs_hint_bool(hints, "guest-is-windows") == 1;
    int may = pvs_hint_bool(hints, "plugin-may-deactivate-volume") == 1;
    snapname = snapshot(snapname);
    rbd_vol *rvs = calloc(n ? n : 1, sizeof *rvs);
    const char **keys = calloc(n ? n * 2 : 1, sizeof *keys), **names = keys ? keys + n : NULL;
    rbd_store st;
    rbd_locks locks = { NULL, 0 };
    size_t nlocks = 0;
    int rc = rvs && keys ? prepare(ctx, self, storeid, scfg, volnames, n, snapname, rvs, &st, err)
                         : pvs_oom(err);
    int have_store = !rc;
    for (size_t i = 0; !rc && i < n; i++)
        if (rvs[i].lock_key) {
            keys[nlocks] = rvs[i].lock_key;
            names[nlocks++] = rvs[i].name;
        }
    /* a dry run takes no lock: that would create lock files */
    if (!rc && (pvs_dry_run(ctx) || !(rc = rbd_lock_images(ctx, keys, names, nlocks, &locks, err))))
        rc = look_at_all(ctx, storeid, &st, rvs, n, snapname, windows, may, err);
    for (size_t i = 0; !rc && i < n; i++) {
        rbd_vol *rv = &rvs[i];
        pvs_report_select(ctx, storeid, volnames[i]);
        if (rv->err.code) {
            rc = rv->err.code;
            pvs_error_move(err, &rv->err);
        } else if (rv->mapped && !rv->remap) {
            keep_mapped(ctx, rv, volnames[i], windows);
        } else {
            rc = change_volume(ctx, storeid, &st, rv, volnames[i], windows, err);
        }
    }
    rbd_unlock_images(&locks);
    for (size_t i = 0; rvs && i < n; i++) {
        if (!rc && paths) {
            paths[i] = rvs[i].dev;
            rvs[i].dev = NULL;
        }
        rbd_vol_clear(&rvs[i]);
    }
    if (have_store)
        rbd_opts_clear(&st.o);
    free(rvs);
    free(keys);
    return rc;
}

static int rbd_map(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                   const char *volname, const char *snapname, const json_t *hints, char **path,
                   pvs_error *err)
{
    return map_many(ctx, self, storeid, scfg, &volname, 1, snapname, hints, path, err);
}

static int rbd_unmap(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                     const char *volname, const char *snapname, pvs_error *err)
{
    rbd_vol rv;
    rbd_store st;
    int rc = prepare(ctx, self, storeid, scfg, &volname, 1, snapname, &rv, &st, err);
    if (rc) {
        rbd_vol_clear(&rv);   /* parsed before the storage failed */
        return rc;
    }
    rbd_locks locks;
    const char *key = rv.lock_key, *name = rv.name;
    if (!(rc = rbd_lock_images(ctx, &key, &name, 1, &locks, err))) {
        int mapped = rbd_device_state(ctx, rv.dev, &rv.id, err);
        rc = mapped < 0 ? mapped : mapped ? unmap_device(ctx, &st.o, rv.dev, err) : 0;
        rbd_unlock_images(&locks);
    }
    rbd_opts_clear(&st.o);
    rbd_vol_clear(&rv);
    return rc;
}

static int rbd_activate_volumes(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid,
                                const json_t *scfg, const char *const *volnames, size_t n,
                                const char *snapname, const json_t *hints, pvs_error *err)
{
    if (!pvs_scfg_bool(scfg, "krbd", 0))
        return 0;   /* QEMU opens librbd volumes itself */
    return map_many(ctx, self, storeid, scfg, volnames, n, snapname, hints, NULL, err);
}

static int rbd_activate_volume(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid,
                               const json_t *scfg, const char *volname, const char *snapname,
                               const json_t *hints, pvs_error *err)
{
    return rbd_activate_volumes(ctx, self, storeid, scfg, &volname, 1, snapname, hints, err);
}

/* upstream unmaps a mapped device whatever krbd says now (it may have been
 * switched off while the volume was mapped) */
static int rbd_deactivate_volume(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid,
                                 const json_t *scfg, const char *volname, const char *snapname,
                                 pvs_error *err)
{
    return rbd_unmap(ctx, self, storeid, scfg, volname, snapname, err);
}

/* upstream's check_connection: the cluster answers */
static int rbd_check_connection(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid,
                                const json_t *scfg, pvs_error *err)
{
    (void)self;
    rbd_opts o;
    rbd_conn *c = NULL;
    if (rbd_opts_get(ctx, storeid, scfg, &o, err))
        return 0;
    int rc = rbd_conn_get(ctx, storeid, &o, &c, err);
    if (!rc)
        rbd_conn_put(c);
    rbd_opts_clear(&o);
    return rc ? 0 : 1;
}

/* upstream's list_images: the pool's vm-/base- images */
static int rbd_list_volumes(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                            long long vmid, json_t **out, pvs_error *err)
{
    (void)self;
    rbd_opts o;
    if (rbd_opts_get(ctx, storeid, scfg, &o, err))
        return err ? err->code : PVS_EINVAL;
    int rc = rbd_list_images(ctx, storeid, &o, vmid, out, err);
    rbd_opts_clear(&o);
    return rc;
}

static const pvs_property rbd_properties[] = {
    PVS_PROP("monhost", "string", .format = "pve-storage-portal-dns-list"),
    PVS_PROP("pool", "string"),
    PVS_PROP("data-pool", "string"),
    PVS_PROP("namespace", "string"),
    PVS_PROP("username", "string"),
    PVS_PROP("authsupported", "string"),
    PVS_PROP("krbd", "boolean", .default_value = "0"),
    PVS_PROP("keyring", "string"),
    PVS_PROPS_END,
};

static const pvs_plugin_option rbd_options[] = {
    PVS_OPT("nodes"), PVS_OPT("disable"), PVS_OPT("monhost"), PVS_OPT("pool"),
    PVS_OPT("data-pool"), PVS_OPT("namespace"), PVS_OPT("username"), PVS_OPT("content"),
    PVS_OPT("krbd"), PVS_OPT("keyring"), PVS_OPT("bwlimit"), PVS_OPTIONS_END,
};

static const char *const rbd_content_valid[] = { "images", "rootdir", NULL };
static const char *const rbd_content_default[] = { "images", NULL };
static const char *const rbd_secrets[] = { "keyring", NULL };

/* ---- audit_volume ---- */

/* the kernel's view of an image: mapped (1) with its options, or not (0);
 * -1 with e set when it cannot be told */
static int kernel_view(pvs_ctx *ctx, const char *storeid, const json_t *scfg, const char *image, int *id,
                       char **opts, pvs_error *e)
{
    rbd_opts o;
    char fsid[37] = "";
    char *dev = NULL;
    int mapped = -1;
    if (rbd_opts_get(ctx, storeid, scfg, &o, e))
        return -1;
    if (rbd_cluster_fsid(ctx, storeid, scfg, &o, fsid, e) == 0 && (dev = rbd_dev_path(ctx, &o, fsid, image)))
        mapped = rbd_device_state(ctx, dev, id, e);
    if (mapped == 1)
        *opts = rbd_map_options(ctx, *id);
    free(dev);
    rbd_opts_clear(&o);
    return mapped < 0 ? -1 : mapped;
}

/* A volume's mapping against the hints (plugin table): only krbd volumes
 * are mapped; the image is found through parse_volname, as a map finds it. */
static int rbd_audit_volume(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                            const char *volname, const json_t *hints, json_t **out, pvs_error *err)
{
    *out = NULL;
    if (!pvs_scfg_bool(scfg, "krbd", 0))
        return 0;   /* librbd: QEMU opens the image itself, nothing is mapped */
    pvs_volname v = { 0 };
    int rc = pvs_plugin_parse_volname(self, volname, &v, err);
    if (rc)
        return rc;
    pvs_error e = PVS_ERROR_INIT;
    char *opts = NULL;
    int id = -1, mapped = kernel_view(ctx, storeid, scfg, v.name, &id, &opts, &e);
    *out = rbd_audit_finding(mapped, id, opts, pvs_hint_bool(hints, "guest-is-windows") == 1, &e);
    pvs_error_clear(&e);
    free(opts);
    pvs_volname_clear(&v);
    return *out ? 0 : pvs_oom(err);
}

const pvs_plugin pvs_rbd_plugin = {
    .size = PVS_PLUGIN_SIZE,
    .type = "rbd",
    .api = PVS_APIVER,
    .options = rbd_options,
    .content_valid = rbd_content_valid,
    .content_default = rbd_content_default,
    .shared = 1,
    .parse_volname = rbd_parse_volname,
    .path = rbd_path_m,
    .activate_storage = NULL,   /* nothing to do */
    .activate_volume = rbd_activate_volume,
    .activate_volumes = rbd_activate_volumes,
    .deactivate_volume = rbd_deactivate_volume,
    .map_volume = rbd_map,
    .unmap_volume = rbd_unmap,
    .state_free = rbd_state_free,
    .properties = rbd_properties,
    .sensitive_properties = rbd_secrets,
    .check_connection = rbd_check_connection,
    .list_volumes = rbd_list_volumes,
    .capabilities = PVS_PLUGIN_DRY_RUN,
    .audit_volume = rbd_audit_volume,
};
