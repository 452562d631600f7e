/*
 * pvestorage.h - Proxmox VE storage layer core: volume activation and
 * mapping with hints (storage API version 15).
 *
 * One value model crosses every boundary: jansson's json_t.  Hints, a storage
 * section (scfg) and a parsed storage configuration are json_t objects.
 *
 * Conventions (read these once, they hold for every function below):
 *  - Functions returning int return 0 on success or a negative PVS_E* code,
 *    and then fill the caller's pvs_error (which may be NULL when the caller
 *    does not care).  Error messages are the exact user-facing text, ending
 *    in "\n" like Proxmox's die() strings.
 *  - json_t arguments are *borrowed* unless the documentation says "stolen";
 *    json_t results are *new references* the caller must json_decref().
 *  - char * results are malloc()ed and freed by the caller with free().
 *  - Nothing here keeps global mutable state: all state lives in a pvs_ctx.
 *    One context may be used from several threads at once.  Each call
 *    works with the settings in force when it began; ceph_timeout bounds
 *    the whole call (one deadline, every cluster step and command in it).
 */
#ifndef PVESTORAGE_H
#define PVESTORAGE_H

#include <stddef.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; everything declared here is
 * its exported API. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define PVS_VERSION "0.1.0"

#include "pvestorage_api.h"

/* Storage plugin API version and age: plugins implementing API versions
 * PVS_APIVER - PVS_APIAGE .. PVS_APIVER are accepted. */
#define PVS_APIVER 15
#define PVS_APIAGE 6

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* The codes and what each means: the errors of pvestorage_api.def. */
enum {
    PVS_OK = 0,
#define PVS_API_ERROR(name, value, python_class, python_base, meaning) PVS_E##name = value,
#include "pvestorage_api.def"
};

typedef struct pvs_error {
    int code;            /* 0 or a PVS_E* code */
    char *message;       /* exact message, ends in "\n"; NULL when code == 0 */
    int exit_status;     /* PVS_ECOMMAND: exit status, or -1 (signal/timeout) */
    char *stderr_text;   /* PVS_ECOMMAND: the command's captured stderr, or NULL */
    size_t message_len;  /* the message's length when it holds NUL bytes (a hint's
                            value, as upstream shows it); 0: up to its NUL */
} pvs_error;

#define PVS_ERROR_INIT { 0, NULL, -1, NULL, 0 }

/* The length of err's message in bytes (NUL bytes in it included). */
size_t pvs_error_length(const pvs_error *err);

/* The exit status an error reports: a command's (PVS_ECOMMAND that
 * exited), else -1 (no status: a signal, a timeout, not a command). */
int pvs_error_exit_status(const pvs_error *err);

/* Release what an error holds and reset it to PVS_ERROR_INIT. */
void pvs_error_clear(pvs_error *err);
/* Fill err (if not NULL) with code and a printf-formatted message, for
 * plugins; returns code. */
int pvs_error_set(pvs_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* For bindings handing over native strings: 0 if s (n bytes) holds no NUL
 * byte, else PVS_EINVAL "WHAT 'S' contains a NUL byte" (NUL shown as \0). */
int pvs_check_nul(const char *what, const char *s, size_t n, pvs_error *err);

/* A short name of an error code ("EHINTS", ...), for logs and bindings. */
const char *pvs_strerror(int code);

/* ------------------------------------------------------------------ */
/* Text for a person: command lines to paste, names to show            */
/* ------------------------------------------------------------------ */

/* Names from the host (rbd images, files, pools) may hold any byte.  One
 * rule decides what a terminal shows as it is: printable ASCII and valid
 * UTF-8, except C1 controls and the characters that reorder or break a line
 * on screen (U+061C, U+200E, U+200F, U+2028, U+2029, U+202A..U+202E,
 * U+2066..U+2069).  Every other byte (C0 controls such as newline and ESC,
 * DEL, bytes that are not UTF-8) is written as an escape: \n, \r, \t or
 * \xHH. */

/* argv (NULL-terminated, borrowed) as one line for bash: pasting it gives
 * back exactly argv.  A word of only [A-Za-z0-9_./=:,@+%-] stays bare (not
 * the first word when it holds '=' or is a reserved word); any other word
 * is single-quoted, a quote written '\'', and the bytes the rule above
 * escapes in bash's $'\xHH' form, so the line holds no control byte and no
 * byte that is not UTF-8.  Returns a malloc()ed string (caller frees), or
 * NULL when out of memory. */
char *pvs_shell_quote_argv(const char *const *argv);

/* s (n bytes, NUL bytes allowed) for a terminal, as `ls -b` shows a name:
 * what the rule above escapes as \n, \r, \t or \xHH, a backslash as \\,
 * the rest as it is.  Returns a malloc()ed string (caller frees), or NULL
 * when out of memory. */
char *pvs_visible_text(const char *s, size_t n);

/* The length (1..4) of the valid UTF-8 sequence at s (at most n bytes: no
 * overlong form, no surrogate, nothing above U+10FFFF), or 0. */
size_t pvs_utf8_char_len(const char *s, size_t n);

/* ------------------------------------------------------------------ */
/* Context: host settings, plugin registry, warning sink               */
/* ------------------------------------------------------------------ */

typedef struct pvs_ctx pvs_ctx;

/* Receives each warning (a complete message, ending in "\n"). */
typedef void (*pvs_warn_fn)(void *data, const char *message);

/* A new context with the default settings, overridden by the environment
 * (PVESTORAGE_ROOT, PVESTORAGE_RBD_COMMAND, PVESTORAGE_CEPH_TIMEOUT,
 * PVESTORAGE_KERNEL_VERSION) and the built-in plugins registered.
 * Returns NULL and fills err on failure (a bad environment value). */
pvs_ctx *pvs_ctx_new(pvs_error *err);
void pvs_ctx_free(pvs_ctx *ctx);

/* Set one host setting by name (pvestorage_api.def: "root", "rbd_command",
 * "ceph_timeout" in seconds, 1..3600, "kernel_version" as "MAJOR.MINOR").  An unknown name
 * or a bad value is an error and leaves the context unchanged. */
int pvs_ctx_set(pvs_ctx *ctx, const char *name, const char *value, pvs_error *err);

/* Set n settings at once, all or nothing: the first unknown name or bad
 * value is the error and nothing changes.  Calls already under way keep
 * the settings they began with, so this never waits for them and may be
 * called from a warning sink. */
int pvs_ctx_configure(pvs_ctx *ctx, const char *const *names, const char *const *values,
                      size_t n, pvs_error *err);

/* The current value of a setting as a string, *value malloc()ed: a copy
 * taken under the context's lock, so a concurrent pvs_ctx_configure never
 * frees what a caller still reads.  An unknown name is PVS_EINVAL. */
int pvs_ctx_get_setting(const pvs_ctx *ctx, const char *name, char **value, pvs_error *err);

/* The names of all settings (pvestorage_api.def), NULL-terminated (static). */
const char *const *pvs_ctx_setting_names(void);

/* Where warnings go.  The default sink writes them to stderr.
 * fn == NULL restores the default. */
void pvs_ctx_set_warn(pvs_ctx *ctx, pvs_warn_fn fn, void *data);
/* Where informational messages go: what upstream prints on standard
 * output (e.g. "enable RBD image features this kernel RBD drivers
 * supports: ..."), a whole line ending in "\n".  NULL restores the
 * default, stdout, as upstream. */
void pvs_ctx_set_info(pvs_ctx *ctx, pvs_warn_fn fn, void *data);

/* For bindings: a call opened by the caller on a long-lived ctx, for the
 * API functions it then makes with it (they join it: one deadline of
 * ceph_timeout from here, the settings in force now).  Its warnings and
 * informational lines go to the context's sinks with data instead of
 * theirs, and the foreign plugins it reaches get data back with
 * pvs_call_data: per-call state without thread-local variables.  NULL
 * when out of memory or when ctx is already a call.  Close it once. */
pvs_ctx *pvs_call_open(pvs_ctx *ctx, void *data);
void pvs_call_close(pvs_ctx *call);
/* The data a call was opened with, or NULL (no call, or one the library
 * opened itself). */
void *pvs_call_data(const pvs_ctx *ctx);

/* ------------------------------------------------------------------ */
/* Hints                                                               */
/* ------------------------------------------------------------------ */

typedef struct pvs_hint_def {
    const char *name;
    const char *type;         /* JSON schema type, "boolean" */
    int optional;
    const char *description;
} pvs_hint_def;

/* The hint table (static, never NULL) and its length. */
const pvs_hint_def *pvs_hint_defs(size_t *count);

/* 1 iff name is a defined hint (exact, case-sensitive), else 0. */
int pvs_is_hint_supported(const char *name);

/* Verify hints (borrowed).  hints == NULL (absent) is valid.
 * Returns 0 when valid, PVS_EHINTS (message as SPEC §2) when not. */
int pvs_verify_hints(const json_t *hints, pvs_error *err);

/* The boolean a hint value stands for: 1, 0, or -1 when the hint is
 * absent, null or not a valid boolean.  The same judgement that
 * pvs_verify_hints() applies decides it (one rule). */
int pvs_hint_bool(const json_t *hints, const char *name);

/* A value as a binding sees it, judged without building JSON (the fast
 * path of verify_hints for a plain map of scalars).  Strings are bytes
 * (len), not NUL-terminated; PVS_V_REF names the native reference type
 * ("HASH", "ARRAY", "CODE", a class name) in s. */
enum { PVS_V_NULL, PVS_V_BOOL, PVS_V_INT, PVS_V_UINT, PVS_V_REAL, PVS_V_STRING, PVS_V_REF };

typedef struct pvs_value {
    int kind;
    int b;                /* PVS_V_BOOL */
    json_int_t i;         /* PVS_V_INT */
    unsigned long long u; /* PVS_V_UINT: integers above the signed range */
    double d;             /* PVS_V_REAL */
    const char *s;        /* PVS_V_STRING (len bytes), PVS_V_REF (type name) */
    size_t len;
} pvs_value;

typedef struct pvs_hint_item {
    const char *key;      /* len bytes, any bytes */
    size_t keylen;
    pvs_value value;
} pvs_hint_item;

/* verify_hints for a plain map given as n key/value items (borrowed):
 * the same result and messages as pvs_verify_hints on the equivalent
 * object. */
int pvs_verify_hint_items(const pvs_hint_item *items, size_t n, pvs_error *err);
/* The boolean value stands for (1, 0), or -1 for null or an invalid one. */
int pvs_hint_value_bool(const pvs_value *value);
/* The value a JSON value is (borrowed strings point into j). */
void pvs_value_from_json(const json_t *j, pvs_value *v);

/* Proxmox's $hints_properties: { NAME: { type, optional, description } }. */
json_t *pvs_hints_properties(void);
/* Proxmox's $hints_format: { type: object, additionalProperties: false,
 * properties: <the above> } (Proxmox writes additionalProperties as 0). */
json_t *pvs_hints_format(void);
/* The hints format as a JSON Schema (draft 2020-12) document. */
json_t *pvs_hints_json_schema(void);

/* qemu-server's rule for the hints of a VM (generate_storage_hints): a new
 * object { "guest-is-windows": 0|1, "plugin-may-deactivate-volume": 0|1 }.
 * guest-is-windows is 1 when ostype names Windows (windows_version: wxp,
 * w2k, w2k3, w2k8, wvista, winN); may_deactivate is 1 at VM start. */
json_t *pvs_storage_hints(const char *ostype, int may_deactivate);
/* 1 iff ostype names a Windows guest, as qemu-server's windows_version. */
int pvs_guest_is_windows(const char *ostype);

/* Values a binding cannot express in JSON, for pvs_verify_hints():
 * a native reference that is neither a plain map nor a plain list (a code
 * reference, a scalar reference, an object of class NAME...) reported as
 * "got TYPE_NAME"; and a native structure with a reference cycle.
 * Both return new references; they never collide with converted data. */
json_t *pvs_foreign_value(const char *type_name);
json_t *pvs_cyclic_value(void);

/* How deep a value a binding converts may nest (deeper is refused as
 * "nested too deeply"), and how many items verify_hints' fast path
 * (pvs_verify_hint_items) takes. */
#define PVS_MAX_DEPTH 512
#define PVS_HINT_ITEMS_MAX 8

/* Hints with a reference cycle, given as their top level (an object whose
 * nested values are pvs_foreign_value()s; stolen): upstream checks no
 * cycles when the top holds a 'download' key, and judges the top level
 * alone, so that is returned; otherwise the cycle marker
 * (pvs_cyclic_value).  NULL when out of memory. */
json_t *pvs_cyclic_hints(json_t *top);

/* ------------------------------------------------------------------ */
/* Volume IDs, configuration                                           */
/* ------------------------------------------------------------------ */

/* Split "STOREID:VOLNAME".  On success *storeid and *volname are malloc()ed
 * (either pointer may be NULL when not wanted). */
int pvs_parse_volume_id(const char *volid, char **storeid, char **volname, pvs_error *err);

/* The storages a call on n volume IDs (or, with storeids, storage IDs)
 * reads of a configuration: each once, in order, malloc()ed into *out
 * (*nout of them; free each and the array).  A bindings converts only
 * these sections, so a call costs the same whatever the configuration's
 * size; an unparsable ID names none (the call reports it in its turn). */
int pvs_config_sections_for(const char *const *ids, size_t n, int storeids, char ***out, size_t *nout,
                            pvs_error *err);

/* Parse storage.cfg text (filename is used in warnings only).  Bad lines and
 * values are warned through the ctx and skipped; parsing never fails on
 * content.  Returns a new { ids: {...}, order: {...} } object. */
json_t *pvs_config_parse(pvs_ctx *ctx, const char *filename, const char *text,
                         size_t len, pvs_error *err);
/* Read and parse a storage.cfg file; an unreadable file is PVS_EIO. */
json_t *pvs_config_read(pvs_ctx *ctx, const char *path, pvs_error *err);

/* The section of storeid in cfg (borrowed from cfg), or NULL and
 * PVS_ENOENT "storage 'X' does not exist". */
json_t *pvs_storage_config(const json_t *cfg, const char *storeid, pvs_error *err);

/* ------------------------------------------------------------------ */
/* Plugins                                                             */
/* ------------------------------------------------------------------ */

/* parse_volname result; absent fields are NULL. */
typedef struct pvs_volname {
    char *vtype, *name, *vmid, *basename, *basevmid, *isbase, *format;
} pvs_volname;

void pvs_volname_clear(pvs_volname *v);

/* A property of storage.cfg sections, as Proxmox plugins declare them in
 * `properties`: how a value is checked (upstream's JSON-schema rules and
 * messages) and stored.  The base properties (content, nodes, disable, ...)
 * come with the library; a plugin declares the ones it adds, and any plugin
 * may use any known property in its options.  Unset fields (NULL, 0) do not
 * constrain the value. */
typedef struct pvs_property {
    const char *name;
    const char *type;          /* "string", "boolean", "integer" or "number";
                                  booleans and numbers are stored as numbers */
    const char *format;        /* a named format: "pve-storage-path",
                                  "pve-storage-content", "pve-node",
                                  "pve-dir-override", "pve-storage-server",
                                  "pve-storage-portal-dns", "pve-storage-vgname",
                                  "pve-volume-id", "pve-storage-options",
                                  "pve-storage-zfs-blocksize", "pve-configid",
                                  "pve-storage-id", "ip", "dns-name", "uuid",
                                  "prune-backups", "bwlimit"; NAME-list checks
                                  each item of a list, NAME-opt allows "".  A
                                  name the library does not know is not checked
                                  (a foreign plugin's own format). */
    const char *enum_values;   /* "a, b, c": only these values, or NULL */
    const char *minimum;       /* numbers: the range, as upstream writes it ("0") */
    const char *maximum;
    const char *pattern;       /* POSIX extended regex for the whole value */
    int max_length;            /* strings: at most this many bytes, 0: no limit */
    const char *default_value; /* documentation only: what unset means */
} pvs_property;

/* A property a plugin accepts in its storage.cfg sections (upstream's
 * `options`): required unless optional, fixed once created. */
typedef struct pvs_plugin_option {
    const char *name;     /* a base property or one a registered plugin declares */
    int required;
    int fixed;
} pvs_plugin_option;

/* Table-writing helpers for plugins: */
/* options as upstream writes them: optional, required, fixed
 * (required, set at creation), fixed but optional. */
#define PVS_OPT(n) { n, 0, 0 }
#define PVS_REQ(n) { n, 1, 0 }
#define PVS_FIXED(n) { n, 1, 1 }
#define PVS_FIXED_OPT(n) { n, 0, 1 }
#define PVS_OPTIONS_END { NULL, 0, 0 }
/* A property: name, type, then designated fields (.format, .enum_values...). */
#define PVS_PROP(n, t, ...) { .name = n, .type = t, __VA_ARGS__ }
#define PVS_PROPS_END { .name = NULL }

typedef struct pvs_plugin pvs_plugin;

/* A storage plugin: a const table of functions.  Unset (NULL) methods take
 * the base-plugin default.  scfg and hints are borrowed.
 *
 * The table can grow: set size to PVS_PLUGIN_SIZE (the size of the table
 * the plugin was built against).  A newer library reads only the fields a
 * plugin's size covers; an older one refuses a plugin built for a larger
 * table. */
/* The plugin methods by number, in pvestorage_api.def's order (the order
 * of their slots below): PVS_METHOD_parse_volname, PVS_METHOD_path, ... */
enum {
#define PVS_API_METHOD(name, result, required, meaning, ...) PVS_METHOD_##name,
#include "pvestorage_api.def"
    PVS_NMETHODS
};

/* A method's arguments by their names in pvestorage_api.def; each method
 * reads those it takes. */
typedef struct pvs_method_args {
    const char *storeid, *volname, *snapname;
    const json_t *scfg, *hints;
} pvs_method_args;

/* What a method gave: text (a path, an identity, an action; malloc()ed or
 * NULL) or, from parse_volname, the fields of the name. */
typedef struct pvs_method_result {
    char *text;
    pvs_volname volname;
} pvs_method_result;

void pvs_method_result_clear(pvs_method_result *r);

/* A binding's one entry for every method of a plugin written in Perl or
 * Python: method m with the arguments in a, its result in r (ctx is the
 * call it runs in, or NULL for a parse_volname called without one).  The
 * binding tells its plugin pvs_dry_run(ctx).  0, or a PVS_E* code with err
 * filled. */
typedef int (*pvs_foreign_fn)(pvs_ctx *ctx, const pvs_plugin *self, int m, const pvs_method_args *a,
                              pvs_method_result *r, pvs_error *err);

/* What a storage holds, as upstream's status gives it (bytes). */
typedef struct pvs_storage_usage {
    long long total, avail, used;
    int active;
} pvs_storage_usage;

struct pvs_plugin {
    size_t size;                                /* PVS_PLUGIN_SIZE */
    const char *type;
    int api;                                    /* storage API version */
    const pvs_plugin_option *options;           /* NULL-name terminated */
    const char *const *content_valid;           /* NULL-terminated */
    const char *const *content_default;         /* NULL-terminated */
    int shared;                                 /* storages are always shared */

    int (*parse_volname)(const pvs_plugin *self, const char *volname,
                         pvs_volname *out, pvs_error *err);
    int (*path)(pvs_ctx *ctx, const pvs_plugin *self, const json_t *scfg,
                const char *volname, const char *storeid, const char *snapname,
                char **path, pvs_error *err);
    int (*activate_storage)(pvs_ctx *ctx, const pvs_plugin *self,
                            const char *storeid, const json_t *scfg, pvs_error *err);
    int (*activate_volume)(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid,
                           const json_t *scfg, const char *volname,
                           const char *snapname, const json_t *hints, pvs_error *err);
    int (*deactivate_volume)(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid,
                             const json_t *scfg, const char *volname,
                             const char *snapname, pvs_error *err);
    int (*map_volume)(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid,
                      const json_t *scfg, const char *volname, const char *snapname,
                      const json_t *hints, char **path, pvs_error *err);
    int (*unmap_volume)(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid,
                        const json_t *scfg, const char *volname,
                        const char *snapname, pvs_error *err);
    /* Optional: activate several volumes of one storage at once, when a
     * plugin can save round trips that way (rbd opens all images together).
     * Same semantics as activate_volume on each, in order.  Without it,
     * pvs_activate_volumes calls activate_volume per volume. */
    int (*activate_volumes)(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid,
                            const json_t *scfg, const char *const *volnames, size_t n,
                            const char *snapname, const json_t *hints, pvs_error *err);
    /* Optional: frees the plugin's per-context state (pvs_plugin_state)
     * when the context is freed. */
    void (*state_free)(void *state);
    /* The properties this plugin adds to storage.cfg (NULL-name
     * terminated), or NULL. */
    const pvs_property *properties;
    /* The image formats its storages take (NULL-terminated; NULL: the type
     * has no format option) and the default one. */
    const char *const *formats;
    const char *format_default;
    /* Properties whose values are secrets upstream keeps under
     * /etc/pve/priv (NULL-terminated), or NULL. */
    const char *const *sensitive_properties;
    /* What messages call the plugin (a Perl or Python class name), or NULL
     * for its type. */
    const char *name;
    /* Optional: the plugin's own check of a parsed storage.cfg section
     * (upstream's check_config override), called with after = 0 before the
     * generic checks (to fill in defaults) and with after = 1 once they
     * passed (to refuse or normalise values).  A failure skips the section,
     * its message warned as the reason. */
    int (*check_config)(const pvs_plugin *self, const char *storeid, json_t *section, int after,
                        pvs_error *err);
    /* Optional: whether the storage can be reached now (upstream's
     * check_connection): 1, or 0 with the reason in err.  Without it a
     * storage with a path is online when the path is a directory. */
    int (*check_connection)(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid,
                            const json_t *scfg, pvs_error *err);
    /* Optional: the volumes on the storage (see pvs_list_volumes), only
     * vmid's when vmid >= 0, in any order.  Without it a storage with a
     * path is listed from its directories. */
    int (*list_volumes)(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid,
                        const json_t *scfg, long long vmid, json_t **out, pvs_error *err);
    /* Optional (API 14): a unique identifier of the storage instance behind
     * the section (upstream's get_identity($scfg, $storeid)), its form the
     * plugin's own; *id malloc()ed, or NULL for none (undef).  Without it
     * the call fails as upstream's base method dies. */
    int (*get_identity)(pvs_ctx *ctx, const pvs_plugin *self, const json_t *scfg, const char *storeid,
                        char **id, pvs_error *err);
    /* For bindings: the one entry of a plugin written in another language
     * (see pvs_plugin_set_foreign), or NULL. */
    pvs_foreign_fn foreign;
    /* What the plugin can do besides its methods: PVS_PLUGIN_* bits. */
    unsigned capabilities;
    /* Optional: a volume's state against what activating it with hints
     * would make (the audit asks, for each guest's volume, with the hints
     * qemu-server starts the guest with).  *finding NULL: nothing to say
     * for this volume (it is not of a kind the plugin maps); else a new
     * object { "mapped": true|false|null (null: it could not look; then
     * "error" says why), "device", "options" (null when not mapped),
     * "in_order": bool, "problem": what is wrong when not in order }.
     * A failure (a name that does not parse) is the guest's error. */
    int (*audit_volume)(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                        const char *volname, const json_t *hints, json_t **finding, pvs_error *err);
    /* Optional: upstream's deactivate_storage (lvm: the volume group's
     * logical volumes, zfspool: nothing, iscsi: the session). */
    int (*deactivate_storage)(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                              pvs_error *err);
    /* Optional: upstream's status, as pvesm status shows it: sizes in
     * bytes; active 0 (all sizes 0) when the storage is not there, the
     * reason then in err with a return of 0.  Without it the status call
     * tells only whether the storage can be reached. */
    int (*status)(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                  pvs_storage_usage *usage, pvs_error *err);
};

/* The plugin honours a dry run itself: in one (pvs_dry_run) it reads and
 * changes nothing.  Without it, no method of the plugin runs in a dry run
 * (the report says skipped-dry-run). */
#define PVS_PLUGIN_DRY_RUN 1u

/* A foreign plugin's pvestorage_capabilities declaration (a list of
 * names of pvestorage_api.def's capabilities, or NULL/null for none) as
 * PVS_PLUGIN_* bits; an unknown name or another shape is PVS_EINVAL. */
int pvs_capabilities_from_json(const json_t *names, unsigned *bits, pvs_error *err);

/* A plugin's storage.cfg schema built from JSON as upstream's plugins
 * declare it, for plugins written in other languages: `properties`
 * ({ NAME: { type, format, enum, pattern, minimum, maximum, maxLength,
 * default } }), `options` ({ NAME: { optional, fixed } }) and `plugindata`
 * ({ content: [ {VALID...}, {DEFAULT...} ], format: [ {VALID...}, DEFAULT ],
 * "sensitive-properties": {...} }); any may be NULL.  Keys and values the
 * library does not use (descriptions, completion code) are ignored; a format
 * that is not a name, or a pattern that is not a string, checks nothing.
 * pvs_schema_apply points a table's schema fields into s, which must then
 * outlive the table. */
typedef struct pvs_schema pvs_schema;
pvs_schema *pvs_schema_from_json(const json_t *properties, const json_t *options,
                                 const json_t *plugindata, pvs_error *err);
void pvs_schema_apply(const pvs_schema *s, pvs_plugin *table);
void pvs_schema_free(pvs_schema *s);

#define PVS_PLUGIN_SIZE (sizeof(pvs_plugin))

/* Register a plugin in ctx (the table is borrowed and must outlive ctx).
 * Checks plugin->api against PVS_APIVER/PVS_APIAGE (PVS_EAPI, messages as
 * SPEC §3) and warns when the plugin implements an older API. */
int pvs_register_plugin(pvs_ctx *ctx, const pvs_plugin *plugin, pvs_error *err);

/* The plugin's state in ctx (a cache, connections), made on first use by
 * create() and freed with the context by plugin->state_free.  The context
 * owns the slot and knows nothing of what is in it; the state guards
 * itself against concurrent calls.  NULL if p is not registered in ctx or
 * create() failed. */
void *pvs_plugin_state(pvs_ctx *ctx, const pvs_plugin *p, void *(*create)(void));

/* For plugins and bindings: what a plugin did wrong (a malformed result,
 * an error that cannot be told), as one message naming the culprit:
 * "storage plugin NAME: METHOD('ARG') " followed by the formatted rest and
 * "\n", NAME being the plugin's name (a class) or else its type, ARG what
 * the method was asked about (a volume name; NULL: none).  Fills err (if
 * not NULL) with code; returns code. */
int pvs_plugin_fail(pvs_error *err, int code, const pvs_plugin *p, const char *method, const char *arg,
                    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

/* 1 iff p has any method: a table without methods describes a type's
 * storage.cfg sections only (the library knows every upstream type that
 * way), and volume calls on its storages fail until a plugin is registered. */
int pvs_plugin_implemented(const pvs_plugin *p);

/* p's capabilities (PVS_PLUGIN_* bits; 0 for an older table). */
unsigned pvs_plugin_capabilities(const pvs_plugin *p);

/* The plugin for a storage type, or NULL and PVS_ENOENT. */
const pvs_plugin *pvs_plugin_lookup(const pvs_ctx *ctx, const char *type, pvs_error *err);

/* Plugin methods with the base-plugin defaults applied.  Arguments are in
 * Proxmox's order.  hints are verified by the storage-level calls, not here.
 * A plugin's results are input, checked here for every caller: a
 * parse_volname result holds at least vtype, name and format (as every
 * upstream parse_volname returns), and its vmid and basevmid, when given,
 * are guest IDs (digits); path and map_volume give a path; a plugin's
 * failure always carries a message.  Anything else is PVS_EPLUGIN, the
 * message naming the plugin, the method and the volume. */
int pvs_plugin_parse_volname(const pvs_plugin *p, const char *volname,
                             pvs_volname *out, pvs_error *err);
int pvs_plugin_path(pvs_ctx *ctx, const pvs_plugin *p, const json_t *scfg,
                    const char *volname, const char *storeid, const char *snapname,
                    char **path, pvs_error *err);
int pvs_plugin_activate_storage(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid,
                                const json_t *scfg, pvs_error *err);
int pvs_plugin_activate_volume(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid,
                               const json_t *scfg, const char *volname,
                               const char *snapname, const json_t *hints, pvs_error *err);
int pvs_plugin_deactivate_volume(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid,
                                 const json_t *scfg, const char *volname,
                                 const char *snapname, pvs_error *err);
int pvs_plugin_map_volume(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid,
                          const json_t *scfg, const char *volname, const char *snapname,
                          const json_t *hints, char **path, pvs_error *err);
int pvs_plugin_unmap_volume(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid,
                            const json_t *scfg, const char *volname,
                            const char *snapname, pvs_error *err);
/* get_identity: *id is the plugin's answer (malloc()ed, or NULL for none);
 * a plugin without the method fails PVS_EPLUGIN "get_identity not
 * implemented for this plugin", as upstream's base method dies. */
int pvs_plugin_get_identity(pvs_ctx *ctx, const pvs_plugin *p, const json_t *scfg, const char *storeid,
                            char **id, pvs_error *err);
/* deactivate_storage: nothing without the method, as upstream's base */
int pvs_plugin_deactivate_storage(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid, const json_t *scfg,
                                  pvs_error *err);
/* status: 1 when the plugin has the method (*usage filled), 0 when it has
 * none, or a PVS_E* code */
int pvs_plugin_status(pvs_ctx *ctx, const pvs_plugin *p, const char *storeid, const json_t *scfg,
                      pvs_storage_usage *usage, pvs_error *err);

/* Method m (PVS_METHOD_*) of p, as the pvs_plugin_<method> call above: the
 * arguments it takes from a, its result in r (cleared first; the caller
 * clears it after).  What bindings expose the methods of plugins with. */
int pvs_plugin_call(pvs_ctx *ctx, const pvs_plugin *p, int m, const pvs_method_args *a, pvs_method_result *r,
                    pvs_error *err);

/* For bindings: make t a foreign plugin's table.  fn is its one entry;
 * the slot of each method m whose bit (1u << m) is set in methods points
 * at an adaptor of the core that calls fn with the method's number and
 * arguments (an activate_volume's action goes to pvs_report_action). */
void pvs_plugin_set_foreign(pvs_plugin *t, pvs_foreign_fn fn, unsigned methods);

/* ------------------------------------------------------------------ */
/* Storage-level calls (PVE::Storage)                                  */
/* ------------------------------------------------------------------ */

/* volids: array of n volume IDs.  snapname and hints may be NULL. */
int pvs_activate_volumes(pvs_ctx *ctx, const json_t *cfg, const char *const *volids,
                         size_t n, const char *snapname, const json_t *hints,
                         pvs_error *err);
int pvs_deactivate_volumes(pvs_ctx *ctx, const json_t *cfg, const char *const *volids,
                           size_t n, const char *snapname, pvs_error *err);
/* On success *path is the mapped path (malloc()ed). */
int pvs_map_volume(pvs_ctx *ctx, const json_t *cfg, const char *volid,
                   const char *snapname, const json_t *hints, char **path,
                   pvs_error *err);
int pvs_unmap_volume(pvs_ctx *ctx, const json_t *cfg, const char *volid,
                     const char *snapname, pvs_error *err);
/* PVE::Storage::path: the path of a volume, without activating it. */
int pvs_path(pvs_ctx *ctx, const json_t *cfg, const char *volid,
             const char *snapname, char **path, pvs_error *err);

/* The calls on one volume or one storage by number (PVS_ONE_*, the rows
 * of pvestorage_api.def), for bindings that reach them through one entry:
 * the arguments by name (volid or storeid; snapname and hints may be
 * NULL), the text result (a path, an identity; malloc()ed or NULL). */
enum {
#define PVS_API_ONE(name, result, required, meaning, ...) PVS_ONE_##name,
#include "pvestorage_api.def"
    PVS_N_ONE_CALLS
};

typedef struct pvs_one_args {
    const char *volid, *storeid, *snapname;
    const json_t *hints;
} pvs_one_args;

int pvs_one_call(pvs_ctx *ctx, int c, const json_t *cfg, const pvs_one_args *a, char **text, pvs_error *err);
/* Every storage of cfg, in the file's order, as an operator looks at it:
 * a new array of { "storage", "type", "enabled", "active", "content",
 * "shared" } objects, with "total", "used" and "avail" (bytes, as
 * upstream's status computes them) when the storage's plugin tells them
 * (lvm, lvmthin ...); active is true or false (then "reason" says why), or
 * null for a type this library cannot look at.  Reads only: nothing is
 * created, mapped or activated (upstream's storage_info activates each
 * storage first: an inactive thin pool is active here only once a volume
 * call activated it). */
int pvs_storage_status(pvs_ctx *ctx, const json_t *cfg, json_t **out, pvs_error *err);
/* pvs_activate_volumes and pvs_map_volume, reporting what they did to each
 * volume: *report is a new array (also after a failure) of one record per
 * volume reached, in the caller's order: { "volid", "path", "action",
 * "warnings": [...] } and, for kernel RBD, "options_before" and
 * "options_after" (the kernel's map options, null when not mapped) and
 * "commands" (each rbd argv run).  action is activated, mapped,
 * already-mapped, remapped, remap-skipped-unsafe, remap-failed (then "error"
 * has the unmap's message), remap-skipped-deadline, options-unknown, not-implemented, skipped-dry-run, failed (then "error"
 * has the message), or what a plugin reported (pvs_report_action).  With
 * PVS_DRY_RUN every read is done and nothing is changed -- no map, unmap,
 * feature update, mkdir or lock file -- and the records say what the real
 * call would do, with the commands it would run. */
#define PVS_DRY_RUN 1
int pvs_activate_volumes_report(pvs_ctx *ctx, const json_t *cfg, const char *const *volids, size_t n,
                                const char *snapname, const json_t *hints, int flags, json_t **report,
                                pvs_error *err);
int pvs_map_volume_report(pvs_ctx *ctx, const json_t *cfg, const char *volid, const char *snapname,
                          const json_t *hints, int flags, char **path, json_t **report, pvs_error *err);
/* A guest's configuration as qemu-server reads it (parse_vm_config):
 * sections ([PENDING], [special:NAME], snapshots; an unknown one is
 * skipped), each value checked against qemu-server's property schema and
 * dropped with qemu-server's warning when it fails (a drive's property
 * string, booleans, numbers, volume IDs; a format that bears on no volume,
 * such as net0's, is not checked), the last of a key given twice kept.
 * A new object:
 *   { "ostype": string or null,
 *     "volumes": [ { "key", "volid" } ]  -- get_current_vm_volumes: the
 *        drive keys in qemu-server's order (ide, scsi, virtio, sata,
 *        efidisk0, tpmstate0), then vmstate; unused disks, cdrom
 *        none/cdrom, files by path and drives parse_drive refuses are not
 *        volumes,
 *     "resume": bool  -- vm_start resumes it (lock suspended, a vmstate),
 *        so its pending changes are not applied,
 *     "pending": null when the file has none, else { "applied": bool,
 *        "set": [keys], "deleted": [keys] } -- what vmconfig_apply_pending
 *        changes (sorted; "!KEY" deletions included, nothing is freed),
 *     "warnings": [ qemu-server's messages, "vm VMID - ..." ] }.
 * Without PVS_GUEST_CURRENT the result is the configuration vm_start runs
 * with: the pending changes applied unless the VM resumes.  Nothing is
 * ever written back (qemu-server writes the applied file).  These calls
 * know no storage configuration: a forced deletion ("!KEY") goes through,
 * as upstream's does when it cannot tell the volume's owner (the flow
 * below asks the storages).  _read takes ROOT/etc/pve/qemu-server/VMID.conf
 * and also gives each warning to the context's warning sink.  All results
 * are new references. */
#define PVS_GUEST_CURRENT 2   /* the current section as it is, pending changes not applied */
int pvs_vm_config_parse(const char *text, size_t len, long long vmid, int flags, json_t **out, pvs_error *err);
int pvs_vm_config_read(pvs_ctx *ctx, long long vmid, int flags, json_t **out, pvs_error *err);
/* The same with PVS_GUEST_CURRENT (the current section); _parse knows no
 * guest ID, so its warnings say "vm 0". */
int pvs_guest_config_parse(const char *text, size_t len, json_t **out, pvs_error *err);
int pvs_guest_config_read(pvs_ctx *ctx, long long vmid, json_t **out, pvs_error *err);
/* The VM-start flow in one call: the configuration vm_start runs with
 * (pvs_vm_config_read: pending changes applied unless the VM resumes, or
 * with PVS_GUEST_CURRENT in flags the current section -- an incoming
 * migration's start), its warnings given to the context; its volumes, each
 * checked as qemu-server does (its storage exists and takes its content
 * type; an error names the disk key); the hints generate_storage_hints
 * computes (guest-is-windows from that configuration's ostype,
 * plugin-may-deactivate-volume from may_deactivate: 1 at VM start); a
 * forced pending deletion asks cfg for the volume's owner, and refuses to
 * drop the guest's own disk a snapshot or another drive still uses; then
 * pvs_activate_volumes_report (PVS_DRY_RUN: a plan, and an info line says
 * which pending changes were applied).  *hints (when not NULL) gets the
 * hints used.  The configuration file is not changed. */
int pvs_activate_guest(pvs_ctx *ctx, const json_t *cfg, long long vmid, int may_deactivate, int flags,
                       json_t **report, json_t **hints, pvs_error *err);
/* Every guest under ROOT/etc/pve/qemu-server against its kernel RBD
 * mappings (pvestorage audit), reads only: a new { "volumes": [...],
 * "guest_errors": [ { "vmid", "error" } ], "needs_action": N }, one record
 * per krbd volume of a guest's current section: "vmid", "key", "volid",
 * "windows" (by the current section while the guest runs; by the
 * configuration its next start runs with, pending changes applied, when it
 * does not), "running" (its pid file under ROOT/var/run/qemu-server names
 * a live QEMU), "device" and "options" (null when not mapped), "in_order"
 * (false for a Windows guest's volume mapped without rxbounce, or one
 * whose mapping cannot be looked at: then "error"), "remedy" (what to do)
 * and "command" (the argv that remaps it, only when that is safe: the
 * guest is not running).  A volume is matched to its device through its
 * plugin's parse_volname (the image name, its namespace); one whose name
 * does not parse, or a configuration that cannot be read, is a guest
 * error ("KEY: message" for a volume).  The guests' configuration
 * warnings go to the context's warning sink. */
int pvs_audit(pvs_ctx *ctx, const json_t *cfg, json_t **out, pvs_error *err);
/* For plugins: 1 in a dry run (read, change nothing), and the action of
 * the volume being worked on in a reporting call (a no-op otherwise). */
int pvs_dry_run(const pvs_ctx *ctx);
void pvs_report_action(pvs_ctx *ctx, const char *action);


/* The volumes on one storage (pvesm list): a new array, sorted by volid, of
 * { "volid", "content", "format", "size", "used"?, "vmid"?, "parent"? }
 * objects -- only the guest vmid's when vmid >= 0.  Storages with a path
 * are read from their directories (sizes as qemu-img tells them: a qcow2
 * image's virtual size), rbd storages from the cluster.  Reads only. */
int pvs_list_volumes(pvs_ctx *ctx, const json_t *cfg, const char *storeid, long long vmid,
                     json_t **out, pvs_error *err);
/* The kernel RBD devices mapped on this host (under the root setting): a new
 * array of { "device", "id", "pool", "namespace", "image", "snapshot",
 * "options", "volid" } in device order; volid is the volume of a storage of
 * cfg (its pool and namespace) or null.  Reads only. */
int pvs_mapped_devices(pvs_ctx *ctx, const json_t *cfg, json_t **out, pvs_error *err);

/* pvs_path, with what upstream's PVE::Storage::path gives in list context:
 * the volume's owner (the VMID) and content type, as its plugin's
 * parse_volname finds them (NULL when the name has none).  All malloc()ed. */
int pvs_path_info(pvs_ctx *ctx, const json_t *cfg, const char *volid, const char *snapname,
                  char **path, char **owner, char **vtype, pvs_error *err);

/* PVE::Storage::path_to_volume_id: which volume a file is.  A volume ID is
 * checked against its storage (which must have a path; its name must
 * parse) and given back as it is; an absolute path (symbolic links
 * resolved) is looked up in the content directories of the storages that
 * have a path.  *vtype and *volid are malloc()ed, or both NULL when the path
 * is no volume (upstream's ('')).  An image is found by its file name
 * (VMID/NAME); a linked clone is not recognised as one. */
int pvs_path_to_volume_id(pvs_ctx *ctx, const json_t *cfg, const char *path, char **vtype,
                          char **volid, pvs_error *err);

/* The base plugin's get_subdir: STORAGE_PATH/SUBDIR of a content type,
 * content-dirs applied ("storage definition has no path", "unknown vtype"). */
char *pvs_get_subdir(const json_t *scfg, const char *vtype, pvs_error *err);
/* The identity of the storage instance behind storeid (the storage API's
 * GET .../storage/STOREID/identity): the storage must exist, be enabled and
 * be available on this node (upstream's storage_check_enabled), then its
 * plugin's get_identity answers.  *type is the storage's type, *id the
 * plugin's identifier or NULL (none); both malloc()ed. */
/* PVE::Storage::deactivate_storage: the storage's plugin releases it
 * (lvm: vgchange -aln of its volume group); a plugin without the method
 * has nothing to do. */
int pvs_deactivate_storage(pvs_ctx *ctx, const json_t *cfg, const char *storeid, pvs_error *err);
int pvs_get_identity(pvs_ctx *ctx, const json_t *cfg, const char *storeid, char **type, char **id,
                     pvs_error *err);
/* Activate one storage (checks disable, runs the plugin's activate_storage). */
int pvs_activate_storage(pvs_ctx *ctx, const json_t *cfg, const char *storeid,
                         pvs_error *err);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* PVESTORAGE_H */
