/* internal.h - shared helpers of the core; not installed. */
#ifndef PVS_INTERNAL_H
#define PVS_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#include "pvestorage.h"

#define PVS_MAX_PLUGINS 64

#if defined(__GNUC__)
#define PVS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PVS_PRINTF(a, b)
#endif

/* Host settings (SPEC §9): immutable once published.  A context holds the
 * current set; each call takes a reference to the set in force when it
 * began, so a concurrent change never pulls a root from under a call. */
enum {
#define PVS_API_SETTING(name, env, option, metavar, kind, dflt, meaning) PVS_SET_##name,
#include "pvestorage_api.def"
    PVS_NSETTINGS
};

typedef struct pvs_settings {
    int refs;                 /* guarded by the base context's lock */
    char *text[PVS_NSETTINGS];   /* each value as pvs_ctx_get_setting shows it */
    /* derived from text[] */
    const char *root;         /* "/" or a prefix without trailing slash */
    const char *rbd_command;
    int ceph_timeout;         /* seconds */
    int kernel_major, kernel_minor;
} pvs_settings;

/* A context is either long-lived (what pvs_ctx_new returns: base == itself)
 * or a call: a view of a long-lived one made by pvs_call_begin for one API
 * call, carrying the settings snapshot and the call's one deadline. */
struct pvs_ctx {
    pvs_ctx *base;
    pvs_settings *set;
    long long deadline_ms;    /* monotonic; 0 for a long-lived context */

    pvs_warn_fn warn_fn;
    void *warn_data;
    pvs_warn_fn info_fn;
    void *info_data;

    /* a call that reports (pvs_*_report): one record per volume, and the
     * one being worked on; dry_run: every read, no change */
    json_t *report;
    json_t *report_current;
    int dry_run;
    /* messages held back (pvs_hold_messages): [info?, text] each */
    json_t *held;
    size_t held_lost;
    void *call_data;          /* pvs_call_open's data */
    /* upstream's $cache: what plugins read once per call (vgs, lvs, zfs
     * list ...) and the storages activated in it; freed with the call */
    json_t *cache;

    /* the rest is used on the base only */
    const pvs_plugin *plugins[PVS_MAX_PLUGINS];
    size_t nplugins;

    void *states[PVS_MAX_PLUGINS];   /* plugins[i]'s state (pvs_plugin_state) */
    int builtin[PVS_MAX_PLUGINS];    /* plugins[i] came with the library: replaceable once */
    /* built-in plugins replaced by a registered one, and their states:
     * a call may still be using them, so they go with the context */
    const pvs_plugin *retired[PVS_MAX_PLUGINS];
    void *retired_states[PVS_MAX_PLUGINS];
    size_t nretired;

    /* Guards the settings pointer, the registry and the state slots. */
    pthread_mutex_t lock;
    /* children killed on timeout that had not exited yet: reaped later */
    pid_t *orphans;
    size_t norphans;
};

/* The whole of a regular file of at most 16 MiB (host.c); a FIFO, device
 * or directory is refused before it can block. */
char *pvs_read_regular_file(const char *path, size_t *len, pvs_error *err);
/* the same for a host path under the root setting (ROOT/PATH) */
char *pvs_host_read(pvs_ctx *ctx, const char *path, size_t *len, pvs_error *err);
/* pvs_activate_volumes_report within a call (storage.c) */
int pvs_activate_report_in(pvs_ctx *call, const json_t *cfg, const char *const *volids, size_t n,
                           const char *snapname, const json_t *hints, int flags, json_t **report,
                           pvs_error *err);

/* ---- report.c: per-volume outcomes of a reporting call ---- */
/* One record per volume ID, in the caller's order, before anything runs. */
int pvs_report_prepare(pvs_ctx *call, const char *const *volids, size_t n, pvs_error *err);
/* The next record of STOREID:VOLNAME that has no action yet becomes the
 * current one (what warnings and actions go to). */
void pvs_report_select(pvs_ctx *call, const char *storeid, const char *volname);
/* Set KEY of the current record (value stolen). */
void pvs_report_set(pvs_ctx *call, const char *key, json_t *value);
/* Add an argv that was (or, dry-run, would be) run for the current volume. */
void pvs_report_command(pvs_ctx *call, const char *const *argv);
/* A warning, to the current record too. */
void pvs_report_warning(pvs_ctx *call, const char *message);
/* a name as JSON keeps it: its bytes as they are (a file name, an argument
 * need not be UTF-8; the bindings and the command convert), null for NULL */
json_t *pvs_json_bytes(const char *s);
/* the volume ID STOREID:NAME (STOREID:BASE/NAME for a linked clone), as bytes */
json_t *pvs_json_volid(const char *storeid, const char *base, const char *name);
/* a message as JSON keeps it: without its final newline, its bytes as they are */
json_t *pvs_message_json(const char *message);
/* The current record's action, unless it has one; its path when it has none. */
void pvs_report_done(pvs_ctx *call, const char *action, const char *path);
/* After the call: a failure is the current record's ("failed", "error");
 * records never reached are dropped. */
void pvs_report_finish(pvs_ctx *call, int rc, const pvs_error *err);

/* ---- error.c ---- */
/* Set err (if not NULL) to code with a printf-formatted message; returns code. */
int pvs_fail(pvs_error *err, int code, const char *fmt, ...) PVS_PRINTF(3, 4);
int pvs_vfail(pvs_error *err, int code, const char *fmt, va_list ap);
/* Out of memory; returns PVS_ENOMEM. */
int pvs_oom(pvs_error *err);
/* A plugin method's return code as its caller sees it: 0, or a PVS_E* code
 * whose error carries a message (one naming the plugin when the plugin
 * gave none; a positive code is PVS_EPLUGIN). */
int pvs_plugin_outcome(const pvs_plugin *p, const char *method, const char *arg, int rc, pvs_error *err);
/* Move src into dst (dst cleared first); src is left empty. */
void pvs_error_move(pvs_error *dst, pvs_error *src);

/* ---- strbuf (error.c) ---- */
typedef struct strbuf {
    char *s;
    size_t len, cap;
    int failed;               /* an allocation failed; contents are incomplete */
} strbuf;

void sb_init(strbuf *sb);
void sb_free(strbuf *sb);
void sb_addn(strbuf *sb, const char *s, size_t n);
void sb_add(strbuf *sb, const char *s);
void sb_addf(strbuf *sb, const char *fmt, ...) PVS_PRINTF(2, 3);
/* Append s (n bytes) with NUL bytes written as the two characters \0:
 * messages are C strings. */
void sb_add_printable(strbuf *sb, const char *s, size_t n);
/* Hand over the string (malloc()ed) or NULL if an allocation failed. */
char *sb_take(strbuf *sb);

char *pvs_strdup(const char *s);
char *pvs_asprintf(const char *fmt, ...) PVS_PRINTF(1, 2);

/* ---- host.c ---- */
void pvs_settings_free(pvs_settings *set);
/* Drop a reference to a settings set (taken under the base's lock). */
void pvs_settings_unref(pvs_ctx *base, pvs_settings *set);
/* Reap the children a timeout left behind (wait: until they are gone). */
void pvs_reap_orphans(pvs_ctx *base, int wait);
/* Begin an API call on ctx.  When ctx is already a call (an API function
 * used from inside another, or by a plugin), that call goes on: ctx is
 * returned and view is unused.  Otherwise view becomes a call with the
 * current settings and a deadline of ceph_timeout from now. */
pvs_ctx *pvs_call_begin(pvs_ctx *ctx, pvs_ctx *view);
void pvs_call_end(pvs_ctx *call, pvs_ctx *view);
/* Milliseconds left before the call's deadline (0 when it has passed). */
long long pvs_call_left_ms(const pvs_ctx *call);
/* The call's cache (an object, made on first use), or NULL outside a call
 * or when out of memory: a plugin then reads afresh. */
json_t *pvs_call_cache(pvs_ctx *call);
/* The body of an API entry point: evaluate expr (which uses `call`, the
 * ctx argument turned into a call) and return its result. */
#define PVS_CALL(expr)                                      \
    do {                                                    \
        pvs_ctx view_, *call = pvs_call_begin(ctx, &view_); \
        int rc_ = (expr);                                   \
        pvs_call_end(call, &view_);                         \
        return rc_;                                         \
    } while (0)
long long pvs_now_ms(void);
/* Keep a killed child that has not exited yet, to be reaped later. */
void pvs_adopt_orphan(pvs_ctx *ctx, pid_t pid);
void pvs_warn(pvs_ctx *ctx, const char *fmt, ...) PVS_PRINTF(2, 3);
/* An informational line (upstream's print to stdout), to the info sink. */
void pvs_info(pvs_ctx *ctx, const char *fmt, ...) PVS_PRINTF(2, 3);
/* Hold the call's warnings and informational lines back, in their order,
 * until pvs_release_messages hands them to the sinks: nothing is written
 * between an unmap and the map that restores the volume (a closed output
 * cannot stop the call there, a warning handler cannot run there). */
void pvs_hold_messages(pvs_ctx *call);
void pvs_release_messages(pvs_ctx *call);
/* ROOT + path for a host path ("/sys/..."); malloc()ed. */
char *pvs_host_path(const pvs_ctx *ctx, const char *path);
/* 1 iff the host path (under the root setting) is a block device, links followed */
int pvs_host_is_block(const pvs_ctx *ctx, const char *path);
/* the numbers N of the entries named N SUFFIX (plain decimal, at most MAX) in
 * the host directory DIR, ascending; NULL with *n 0 when there are none or
 * DIR cannot be read (a short list when memory runs out) */
long long *pvs_host_dir_numbers(pvs_ctx *ctx, const char *dir, const char *suffix, long long max, size_t *n);

/* ---- mounts.c ---- */
/* /proc/mounts' octal escapes (\040 ...) decoded in place */
void pvs_unescape_mount(char *s);
/* the call's mount table (ROOT/proc/mounts, read once per call): an array
 * of [source, target, fstype] (borrowed; empty when unreadable), or NULL
 * when out of memory */
json_t *pvs_call_mounts(pvs_ctx *call);

/* ---- guest_running.c ---- */
/* qemu-server's vm_running_locally under the root setting */
int pvs_guest_running(pvs_ctx *ctx, long long vmid);
/* parse_cmdline on /proc/PID/cmdline's bytes: a QEMU whose -pidfile is PIDFILE? */
int pvs_qemu_cmdline_has_pidfile(const char *text, size_t len, const char *pidfile);

/* ---- run.c ---- */
typedef struct pvs_run_result {
    int exit_status;          /* -1 when killed by a signal or the timeout */
    int signal;               /* the signal that killed it, or 0 */
    int timed_out;
    char *out;                /* captured stdout, NUL-terminated */
    char *err;                /* captured stderr, NUL-terminated */
} pvs_run_result;

/* Run argv[0] (a path) with argv, no shell, stdin from /dev/null, capturing
 * stdout and stderr, killed after timeout_s seconds.  Returns 0 when the
 * command ran (whatever its exit status) or an error if it could not be
 * started.  res is filled in either case; free it with pvs_run_result_clear. */
int pvs_run(const char *const *argv, int timeout_s, pvs_run_result *res, pvs_error *err);
/* The same, bounded by the call's deadline; the command runs in a process
 * group of its own, which is killed whole on timeout. */
int pvs_run_call(pvs_ctx *call, const char *const *argv, pvs_run_result *res, pvs_error *err);
/* The same, running the file path with argv (argv[0] is only its name)
 * and the environment envp (NULL: ours), within timeout_ms (0: none) and
 * the call's deadline. */
int pvs_run_call_exec(pvs_ctx *call, const char *path, const char *const *argv, char *const *envp,
                      long long timeout_ms, pvs_run_result *res, pvs_error *err);
void pvs_run_result_clear(pvs_run_result *res);

/* ---- command.c: upstream's run_command, for a node's own tools ---- */
typedef struct pvs_command_opts {
    const char *errmsg;   /* run_command's errmsg: the error is "ERRMSG: last stderr line" */
    int timeout_s;        /* run_command's timeout (0: none; the call's deadline holds anyway) */
    int reads;            /* it only looks: a dry run runs it too (else it is only reported) */
    int no_medium;        /* LVM's filter: stderr lines "open failed: No medium found" are dropped */
    int quiet;            /* stderr is not warned (the caller reads it: out_err) */
} pvs_command_opts;
/* Run argv as upstream's run_command does (no shell; LC_ALL=C and
 * LVM_SUPPRESS_FD_WARNINGS=1; an absolute argv[0] under the root setting, a
 * bare one looked up in PATH, or under the root in a node's PATH): listed
 * in a reporting call's commands; in a dry run, unless it reads, not run.
 * stderr lines are warned (the last one held back for the error when
 * errmsg is set).  0 with *out its stdout (malloc()ed, also when it
 * failed; NULL when it did not run), or PVS_ECOMMAND / PVS_ETIMEDOUT with upstream's message
 * (exit_status and stderr in err).  out may be NULL. */
int pvs_command(pvs_ctx *call, const char *const *argv, const pvs_command_opts *o, char **out,
                pvs_error *err);
/* why a command that ran failed, as run_command says it: "exit code N" or
 * "got signal N" (a killed one: 9) */
void pvs_command_cause(const pvs_run_result *r, char *buf, size_t size);
/* argv as upstream's messages name a command (PVE::Tools::cmd2string:
 * String::ShellQuote on each word); malloc()ed, NULL when out of memory. */
char *pvs_perl_quote_argv(const char *const *argv);
/* upstream's run_command's line split: lines end at \n, \r\n, \r or a run
 * of \b; fn(line, data) for each (a last one without an end too) */
void pvs_split_lines(const char *text, void (*fn)(const char *line, size_t n, void *data), void *data);

/* Run fn(arg) in a forked child with a timeout: returns 1 if it returned
 * true, 0 if false, -1 on timeout or failure (Proxmox's
 * run_fork_with_timeout, for checks that may hang on dead mounts). */
int pvs_fork_check(int (*fn)(const char *arg), const char *arg, int timeout_s);
/* The same within a call: bounded by timeout_s and the call's deadline; a
 * killed child is always reaped (later, if it is stuck in the kernel). */
int pvs_fork_check_call(pvs_ctx *call, int (*fn)(const char *arg), const char *arg, int timeout_s);

/* ---- hints.c ---- */
/* 1 iff v is a foreign value created by pvs_foreign_value/pvs_cyclic_value. */
const char *pvs_foreign_type(const json_t *v);
int pvs_is_cyclic_value(const json_t *v);

/* ---- plugin.c ---- */
/* pvs_register_plugin; a builtin one may later be replaced, once, by a
 * registered plugin of its type (the context's composition root marks them). */
int pvs_plugin_register(pvs_ctx *ctx, const pvs_plugin *plugin, int builtin, pvs_error *err);
/* The registry as lookups read it without the lock (a slot is filled
 * before it counts; a replaced table stays valid with the context). */
size_t pvs_plugin_count(const pvs_ctx *base);
const pvs_plugin *pvs_plugin_at(const pvs_ctx *base, size_t i);

/* ---- plugins ---- */
/* The built-in plugins, NULL-terminated (plugins/builtin.c). */
extern const pvs_plugin *const pvs_builtin_plugins[];
extern const pvs_plugin pvs_dir_plugin;
extern const pvs_plugin pvs_rbd_plugin;
extern const pvs_plugin pvs_lvm_plugin, pvs_lvmthin_plugin, pvs_zfspool_plugin;
extern const pvs_plugin pvs_iscsi_plugin, pvs_iscsidirect_plugin;
/* what every built-in plugin of a node's own storage types declares: its
 * type, today's API, no secret properties, dry runs served */
extern const char *const pvs_no_secrets[];
#define PVS_NODE_PLUGIN(t)                                                              \
    .size = PVS_PLUGIN_SIZE, .type = t, .api = PVS_APIVER, .sensitive_properties = pvs_no_secrets, \
    .capabilities = PVS_PLUGIN_DRY_RUN
/* The schema-only tables: types whose sections parse but whose volumes
 * need a registered plugin (plugins/schemas.c). */
extern const pvs_plugin pvs_zfs_schema, pvs_nfs_schema, pvs_cifs_schema, pvs_cephfs_schema,
    pvs_pbs_schema, pvs_btrfs_schema, pvs_esxi_schema;
/* 1 iff plugin p's table holds field (a plugin built for an older, smaller table may not). */
#define PVS_PLUGIN_HAS(p, field) \
    ((p)->size >= offsetof(pvs_plugin, field) + sizeof((p)->field))

/* ---- plugin_base.c: Proxmox's base plugin, inherited by file-based plugins ---- */
extern const pvs_property pvs_base_properties[];
int pvs_base_parse_volname(const pvs_plugin *self, const char *volname, pvs_volname *out,
                           pvs_error *err);
/* DirPlugin's check_config (dir and btrfs): a path of [-/a-zA-Z0-9_.@],
 * made canonical. */
int pvs_dir_check_config(const pvs_plugin *self, const char *storeid, json_t *section, int after,
                         pvs_error *err);
/* PATH/SUBDIR of a content type (content-dirs overrides the default), malloc()ed. */
char *pvs_base_get_subdir(const json_t *scfg, const char *vtype, pvs_error *err);
int pvs_base_filesystem_path(pvs_ctx *ctx, const pvs_plugin *p, const json_t *scfg, const char *volname,
                             const char *snapname, char **path, pvs_volname *vn, pvs_error *err);
/* pvs_plugin_parse_volname within the call ctx (or NULL): a foreign
 * plugin's parse_volname is given it, which its slot cannot carry. */
int pvs_plugin_parse_volname_in(pvs_ctx *ctx, const pvs_plugin *p, const char *volname, pvs_volname *out,
                                pvs_error *err);
/* A foreign plugin's parse_volname through its binding's entry. */
int pvs_foreign_parse_volname(pvs_ctx *ctx, const pvs_plugin *p, const char *volname, pvs_volname *out,
                              pvs_error *err);

/* ---- volid.c ---- */
/* 1 iff s matches the storage ID rule of SPEC §4. */
int pvs_storeid_valid(const char *s);

/* ---- formats.c ---- */
/* A named string format's check: 0, or -1 with upstream's message (ending
 * in a newline) appended to why. */
typedef int (*pvs_format_fn)(const char *v, strbuf *why);
/* The check of a named string format, or NULL for a name it does not know. */
pvs_format_fn pvs_string_format(const char *name);
/* PVE::Tools::parse_host_and_port: 1 with host and port (port "" when
 * none) copied into the buffers (either may be NULL), or 0. */
int pvs_host_and_port(const char *v, char *host, size_t hostsz, char *port, size_t portsz);
/* Net::IP::ip_is_ipv6 */
int pvs_is_ipv6(const char *s);
/* 1 iff ct is a content type of any storage (pve-storage-content). */
int pvs_content_type_valid(const char *ct);

/* ---- schema.c ---- */
/* PVE::Tools::split_list: fn(item) for each item of a comma, semicolon or
 * space separated list until it returns non-zero; that value, or 0. */
typedef int (*pvs_item_fn)(const char *item, void *data);
int pvs_split_list(const char *s, pvs_item_fn fn, void *data);
/* Check a storage.cfg value against its property as upstream's schema
 * check does: 0 when valid, else -1 with upstream's message (trailing
 * newlines as upstream dies with them) appended to why. */
int pvs_property_check(const pvs_property *p, const char *v, strbuf *why);
/* PVE::JSONSchema::parse_boolean: "1" or "0" for 1/on/yes/true and
 * 0/off/no/false (any case), else v itself */
const char *pvs_parse_boolean(const char *v);

/* ---- storage.c ---- */
/* The plugin serving a storage section, or NULL with one error naming the
 * storage and its type. */
const pvs_plugin *pvs_storage_plugin(const pvs_ctx *ctx, const char *storeid, const json_t *scfg,
                                     pvs_error *err);

/* ---- list.c ---- */
/* a guest image's content type: rootdir for a container's (upstream asks
 * the cluster's guest list; here: /etc/pve/lxc/VMID.conf), else images */
const char *pvs_image_content(pvs_ctx *ctx, const char *vmid);
/* the virtual size in a qcow2 header at path (a file or a device), or -1 */
long long pvs_qcow2_virtual_size(const char *path);
/* The volumes of a storage with a path, read from its directories. */
int pvs_base_list_volumes(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid, const json_t *scfg,
                          long long vmid, json_t *out, pvs_error *err);

/* ---- schema.c ---- */
/* content type -> default sub directory, or NULL for an unknown type */
const char *pvs_vtype_subdir(const char *vtype);
/* The string value of key in scfg, or NULL. */
const char *pvs_scfg_str(const json_t *scfg, const char *key);
/* The 0/1 value of a boolean key in scfg, or dflt when unset. */
int pvs_scfg_bool(const json_t *scfg, const char *key, int dflt);

#endif
