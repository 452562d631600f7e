/* pvestorage - the command line front end of the core (SPEC §8).
 *
 * Conversion only: argv to core calls, results to stdout, the core's exact
 * messages to stderr.  Exit 0 on success, 1 on an error, 2 on a usage error
 * (and what else a command documents in its row of commands[]: audit 3). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define EXIT_USAGE 2

typedef struct cli {
    pvs_ctx *ctx;
    const char *config;
    int json;
    const char *snapname;
    json_t *hints;        /* from --hint/--hints, NULL when none */
    int hints_given;
    int json_schema;
    long long vmid;       /* list --vmid, -1 when not given */
    int dry_run;          /* activate/map --dry-run */
    long long vm;         /* activate --vm VMID, -1 when not given */
    int may_deactivate;   /* activate --vm ... --may-deactivate */
    json_t *volumes;      /* activate/map: the per-volume records, for --json */
    json_t *info;         /* --json: informational lines, for the result */
    json_t *warnings;     /* --json: the warnings, for the result */
    int quiet;            /* --quiet: no warnings */
} cli;

static const char *prog = "pvestorage";

/* --help: the usage line (the settings' options from pvestorage_api.def), the
 * commands (from the table below), then the global options */
static const char global_about[] =
    "\n"
    "Activate and map Proxmox VE storage volumes, with hints (storage API %d).\n"
    "\n"
    "commands:\n";

static const char global_options[] =
    "  --json                one JSON document on stdout for every outcome\n"
    "  --quiet               no warnings\n"
    "  --help, --version\n"
    "\n"
    "Run 'pvestorage COMMAND --help' for a command's options; see pvestorage(1).\n";

/* The exit statuses a command documents, as a set of bits */
#define EXIT_BIT(status) (1u << (status))
#define EXITS_COMMON (EXIT_BIT(0) | EXIT_BIT(1) | EXIT_BIT(EXIT_USAGE))   /* done, failed, usage error */
#define EXIT_AUDIT_UNKNOWN 3   /* audit: it could not audit at all (monitoring's "unknown") */

/* The one description of a command: --help's list, the command's own
 * --help, the argument checks and the exit statuses (the fuzz target's
 * oracle) all come from its row in commands[]. */
/* A command's own options, by what they are for (see command_options) */
enum { OPT_SNAPSHOT = 1, OPT_HINTS = 2, OPT_SCHEMA = 4, OPT_VMID = 8, OPT_DRY = 16, OPT_VM = 32 };

typedef struct command {
    const char *name;
    const char *args;          /* usage of positional arguments */
    int min_args, max_args;    /* max -1: unlimited */
    unsigned opts;             /* the OPT_* options it accepts */
    const char *summary;       /* one line, for the list of commands */
    const char *help;
    unsigned exits;            /* EXIT_BIT()s of the statuses it may end with */
    int (*run)(cli *c, int argc, char **argv);
} command;

/* --json: one document for every outcome, the same envelope for every
 * command: {"ok": true, RESULT..., "warnings": [...], "info": [...]} or
 * {"ok": false, "error": {...}, "warnings": [...], "info": [...]}.  What
 * the storage layer warns and prints (feature changes) is collected. */
static json_t *line_string(const char *message, size_t n)
{
    char *copy = strndup(message, n && message[n - 1] == '\n' ? n - 1 : n);
    json_t *j = copy ? cli_string(copy) : NULL;
    free(copy);
    return j;
}

static void collect_info(void *data, const char *message)
{
    cli *c = data;
    json_array_append_new(c->info, line_string(message, strlen(message)));
}

static void collect_warning(void *data, const char *message)
{
    cli *c = data;
    json_array_append_new(c->warnings, line_string(message, strlen(message)));
}

static void drop_warning(void *data, const char *message)
{
    (void)data, (void)message;
}

static void print_envelope(cli *c, int ok, json_t *body)
{
    json_t *o = json_pack("{s:b}", "ok", ok);
    json_object_update(o, body);
    json_object_set_new(o, "warnings", c->warnings ? json_incref(c->warnings) : json_array());
    json_object_set_new(o, "info", c->info ? json_incref(c->info) : json_array());
    if (c->volumes)
        json_object_set(o, "volumes", c->volumes);
    cli_print_json(stdout, o);
    json_decref(o);
}

static void print_json(cli *c, json_t *v)
{
    print_envelope(c, 1, v);
}

static int fail(cli *c, pvs_error *err)
{
    if (c->json) {
        json_t *e = json_pack("{s:s, s:o, s:o, s:o}", "code", pvs_strerror(err->code),
                              "message", err->message ? line_string(err->message, pvs_error_length(err))
                                                      : json_string("unknown error"),
                              "exit_status", pvs_error_exit_status(err) >= 0
                                                 ? json_integer(pvs_error_exit_status(err)) : json_null(),
                              "stderr", err->stderr_text ? cli_string(err->stderr_text) : json_null());
        json_t *body = json_pack("{s:o}", "error", e);
        print_envelope(c, 0, body);
        json_decref(body);
    } else if (err->message) {
        fwrite(err->message, 1, pvs_error_length(err), stderr);   /* NUL bytes and all */
    } else {
        fputs("unknown error\n", stderr);
    }
    pvs_error_clear(err);
    return 1;
}

static json_t *load_config(cli *c, pvs_error *err)
{
    char *dflt = NULL;
    const char *path = c->config;
    if (!path) {
        char *root = NULL;
        if (pvs_ctx_get_setting(c->ctx, "root", &root, err))
            return NULL;
        dflt = malloc(strlen(root) + sizeof "/etc/pve/storage.cfg");
        if (dflt)
            sprintf(dflt, "%s/etc/pve/storage.cfg", strcmp(root, "/") ? root : "");
        free(root);
        if (!dflt) {
            fputs("out of memory\n", stderr);
            return NULL;
        }
        path = dflt;
    }
    json_t *cfg = pvs_config_read(c->ctx, path, err);
    free(dflt);
    return cfg;
}

static json_t *string_array(int argc, char **argv)
{
    json_t *a = json_array();
    for (int i = 0; a && i < argc; i++)
        json_array_append_new(a, cli_string(argv[i]));
    return a;
}

static int usage_error(cli *c, const char *fmt, const char *arg);

/* Text output shows names from the host (images, pools, files), which may
 * hold any byte: every cell goes through pvs_visible_text, so a terminal
 * shows ESC, CR, newline ... as escapes and acts on none.  TEXT padded to
 * WIDTH, then END. */
static void put_cell(const char *text, int width, const char *end)
{
    if (!text)
        text = "";
    char *shown = pvs_visible_text(text, strlen(text));
    printf("%-*s%s", width, shown ? shown : "", end);
    free(shown);
}

/* a table cell: the string under KEY, or "-" */
static const char *cell(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

/* A command (a JSON array of strings) as a line for a person to paste into
 * bash: the core's one quoting, pvs_shell_quote_argv.  Prints PREFIX, the
 * line, a newline. */
static void put_command_line(const char *prefix, const json_t *cmd)
{
    size_t i, n = json_array_size(cmd);
    const char **argv = calloc(n + 1, sizeof *argv);
    json_t *a;
    if (!argv)
        return;
    json_array_foreach(cmd, i, a)
        argv[i] = json_string_value(a) ? json_string_value(a) : "";
    char *line = pvs_shell_quote_argv(argv);
    if (line)
        printf("%s%s\n", prefix, line);
    free(line);
    free(argv);
}

/* --dry-run without --json: the plan, a volume a line, each command below it */
static void print_plan(const json_t *records)
{
    size_t i, j;
    json_t *r, *cmd;
    json_array_foreach(records, i, r) {
        const char *path = json_string_value(json_object_get(r, "path"));
        put_cell(json_string_value(json_object_get(r, "volid")), 0, ": ");
        put_cell(json_string_value(json_object_get(r, "action")), 0, path ? " " : "\n");
        if (path)
            put_cell(path, 0, "\n");
        json_array_foreach(json_object_get(r, "commands"), j, cmd)
            put_command_line("  would run: ", cmd);
    }
}

/* activate and deactivate: a list of volumes, the list back in --json
 * (activate: with each volume's record; --dry-run: the records alone) */
static int volumes_cmd(cli *c, int argc, char **argv, int activate)
{
    pvs_error err = PVS_ERROR_INIT;
    json_t *cfg = load_config(c, &err);
    if (!cfg)
        return fail(c, &err);
    const char *const *vols = (const char *const *)argv;
    int rc = activate ? pvs_activate_volumes_report(c->ctx, cfg, vols, (size_t)argc, c->snapname, c->hints,
                                                    c->dry_run ? PVS_DRY_RUN : 0, &c->volumes, &err)
                      : pvs_deactivate_volumes(c->ctx, cfg, vols, (size_t)argc, c->snapname, &err);
    json_decref(cfg);
    if (rc)
        return fail(c, &err);
    if (c->json) {
        json_t *o = c->dry_run ? json_pack("{s:b}", "dry_run", 1)
                               : json_pack("{s:o}", activate ? "activated" : "deactivated", string_array(argc, argv));
        print_json(c, o);
        json_decref(o);
    } else if (c->dry_run) {
        print_plan(c->volumes);
    }
    return 0;
}

/* activate --vm: the VM-start flow, qemu-server's volumes and hints */
static int activate_vm(cli *c)
{
    pvs_error err = PVS_ERROR_INIT;
    json_t *cfg = load_config(c, &err), *hints = NULL;
    if (!cfg)
        return fail(c, &err);
    int rc = pvs_activate_guest(c->ctx, cfg, c->vm, c->may_deactivate, c->dry_run ? PVS_DRY_RUN : 0, &c->volumes,
                                &hints, &err);
    json_decref(cfg);
    if (rc) {
        json_decref(hints);
        return fail(c, &err);
    }
    if (c->json) {
        json_t *o = json_pack("{s:I, s:o}", "vmid", (json_int_t)c->vm, "hints", hints);
        if (c->dry_run)
            json_object_set_new(o, "dry_run", json_true());
        else {
            json_t *ids = json_array(), *r;
            size_t i;
            json_array_foreach(c->volumes, i, r)
                json_array_append(ids, json_object_get(r, "volid"));
            json_object_set_new(o, "activated", ids);
        }
        print_json(c, o);
        json_decref(o);
        return 0;
    }
    json_decref(hints);
    if (c->dry_run)
        print_plan(c->volumes);
    return 0;
}

static int cmd_activate(cli *c, int argc, char **argv)
{
    if (c->vm >= 0 && argc > 0)
        return usage_error(c, "activate: either --vm or volume IDs%s", "");
    if (c->vm < 0 && c->may_deactivate)
        return usage_error(c, "--may-deactivate belongs to --vm%s", "");
    if (c->vm >= 0)
        return activate_vm(c);
    if (argc == 0)
        return usage_error(c, "activate: expected VOLID... or --vm VMID%s", "");
    return volumes_cmd(c, argc, argv, 1);
}

static int cmd_deactivate(cli *c, int argc, char **argv)
{
    return volumes_cmd(c, argc, argv, 0);
}

/* map and path: both print a path */
static int print_path(cli *c, const char *volid, int map)
{
    pvs_error err = PVS_ERROR_INIT;
    json_t *cfg = load_config(c, &err);
    if (!cfg)
        return fail(c, &err);
    char *path = NULL;
    int rc = map ? pvs_map_volume_report(c->ctx, cfg, volid, c->snapname, c->hints, c->dry_run ? PVS_DRY_RUN : 0,
                                         &path, &c->volumes, &err)
                 : pvs_path(c->ctx, cfg, volid, c->snapname, &path, &err);
    json_decref(cfg);
    if (rc)
        return fail(c, &err);
    if (c->json) {
        json_t *o = json_pack("{s:o, s:o}", "volid", cli_string(volid), "path", cli_string(path));
        if (c->dry_run)
            json_object_set_new(o, "dry_run", json_true());
        print_json(c, o);
        json_decref(o);
    } else if (c->dry_run) {
        print_plan(c->volumes);
    } else {
        puts(path);
    }
    free(path);
    return 0;
}

static int cmd_map(cli *c, int argc, char **argv)
{
    (void)argc;
    return print_path(c, argv[0], 1);
}

static int cmd_path(cli *c, int argc, char **argv)
{
    (void)argc;
    return print_path(c, argv[0], 0);
}

/* The storage API's identity call: the plugin's identifier of the instance
 * behind a storage alone on stdout (nothing when it has none). */
static int cmd_identity(cli *c, int argc, char **argv)
{
    (void)argc;
    char *type = NULL, *id = NULL;
    pvs_error err = PVS_ERROR_INIT;
    json_t *cfg = load_config(c, &err);
    int rc = cfg ? pvs_get_identity(c->ctx, cfg, argv[0], &type, &id, &err) : -1;
    json_decref(cfg);
    if (rc)
        return fail(c, &err);
    if (c->json) {
        json_t *o = json_pack("{s:o, s:o, s:o}", "storage", cli_string(argv[0]), "type", cli_string(type), "id",
                              id ? cli_string(id) : json_null());
        print_json(c, o);
        json_decref(o);
    } else if (id) {
        puts(id);
    }
    free(type);
    free(id);
    return 0;
}

static int cmd_unmap(cli *c, int argc, char **argv)
{
    (void)argc;
    pvs_error err = PVS_ERROR_INIT;
    json_t *cfg = load_config(c, &err);
    if (!cfg)
        return fail(c, &err);
    int rc = pvs_unmap_volume(c->ctx, cfg, argv[0], c->snapname, &err);
    json_decref(cfg);
    if (rc)
        return fail(c, &err);
    if (c->json) {
        json_t *o = json_pack("{s:o, s:b}", "volid", cli_string(argv[0]), "unmapped", 1);
        print_json(c, o);
        json_decref(o);
    }
    return 0;
}

/* The listing commands: the configuration, then one call giving a list;
 * --json prints {key: list} (and 0 is returned with *list NULL), text
 * output is the caller's. */
typedef int (*list_fn)(pvs_ctx *ctx, const json_t *cfg, const char *arg, long long vmid, json_t **out,
                       pvs_error *err);

static int listing(cli *c, list_fn fn, const char *arg, const char *key, json_t **list)
{
    pvs_error err = PVS_ERROR_INIT;
    json_t *cfg = load_config(c, &err);
    *list = NULL;
    if (!cfg)
        return fail(c, &err);
    int rc = fn(c->ctx, cfg, arg, c->vmid, list, &err);
    json_decref(cfg);
    if (rc)
        return fail(c, &err);
    if (c->json) {
        json_t *o = json_pack("{s:o}", key, *list);
        if (arg)
            json_object_set_new(o, "storage", json_string(arg));
        print_json(c, o);
        json_decref(o);
        *list = NULL;
    }
    return 0;
}

static int status_fn(pvs_ctx *ctx, const json_t *cfg, const char *arg, long long vmid, json_t **out,
                     pvs_error *err)
{
    (void)arg, (void)vmid;
    return pvs_storage_status(ctx, cfg, out, err);
}

static int mapped_fn(pvs_ctx *ctx, const json_t *cfg, const char *arg, long long vmid, json_t **out,
                     pvs_error *err)
{
    (void)arg, (void)vmid;
    return pvs_mapped_devices(ctx, cfg, out, err);
}

/* every storage: type, enabled, active, content */
static int cmd_status(cli *c, int argc, char **argv)
{
    (void)argc, (void)argv;
    json_t *list;
    int rc = listing(c, status_fn, NULL, "storages", &list);
    if (rc || !list)
        return rc;
    printf("%-20s %-12s %-8s %-8s %14s %14s %14s %s\n", "STORAGE", "TYPE", "ENABLED", "ACTIVE", "TOTAL", "USED",
           "AVAIL", "CONTENT");
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s) {
        json_t *active = json_object_get(s, "active"), *ct;
        size_t j;
        put_cell(json_string_value(json_object_get(s, "storage")), 20, " ");
        put_cell(json_string_value(json_object_get(s, "type")), 12, " ");
        put_cell(json_is_true(json_object_get(s, "enabled")) ? "yes" : "no", 8, " ");
        put_cell(json_is_null(active) ? "-" : json_is_true(active) ? "yes" : "no", 8, " ");
        static const char *const sizes[] = { "total", "used", "avail" };
        for (int k = 0; k < 3; k++) {
            json_t *v = json_object_get(s, sizes[k]);
            if (v)
                printf("%14" JSON_INTEGER_FORMAT " ", json_integer_value(v));
            else
                printf("%14s ", "-");
        }
        json_array_foreach(json_object_get(s, "content"), j, ct) {
            fputs(j ? "," : "", stdout);
            put_cell(json_string_value(ct), 0, "");
        }
        putchar('\n');
    }
    json_decref(list);
    return 0;
}

/* the volumes on one storage */
static int cmd_list(cli *c, int argc, char **argv)
{
    (void)argc;
    json_t *list;
    int rc = listing(c, pvs_list_volumes, argv[0], "volumes", &list);
    if (rc || !list)
        return rc;
    printf("%-44s %-8s %-8s %14s %s\n", "VOLID", "FORMAT", "CONTENT", "SIZE", "VMID");
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        json_t *vmid = json_object_get(v, "vmid");
        put_cell(cell(v, "volid"), 44, " ");
        put_cell(cell(v, "format"), 8, " ");
        put_cell(cell(v, "content"), 8, " ");
        printf("%14" JSON_INTEGER_FORMAT " ", json_integer_value(json_object_get(v, "size")));
        if (vmid)
            printf("%" JSON_INTEGER_FORMAT "\n", json_integer_value(vmid));
        else
            puts("-");
    }
    json_decref(list);
    return 0;
}

/* the kernel RBD devices and the volumes they are */
static int cmd_mapped(cli *c, int argc, char **argv)
{
    (void)argc, (void)argv;
    json_t *list;
    int rc = listing(c, mapped_fn, NULL, "devices", &list);
    if (rc || !list)
        return rc;
    printf("%-12s %-10s %-10s %-24s %-10s %-36s %s\n", "DEVICE", "POOL", "NAMESPACE", "IMAGE", "SNAPSHOT",
           "VOLID", "OPTIONS");
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d) {
        const char *f[7] = { "device", "pool", "namespace", "image", "snapshot", "volid", "options" };
        const int w[7] = { 12, 10, 10, 24, 10, 36, 0 };
        for (int k = 0; k < 7; k++)
            put_cell(cell(d, f[k]), w[k], k < 6 ? " " : "\n");
    }
    json_decref(list);
    return 0;
}

/* every guest's krbd volumes against its hints: exit 1 when one needs action,
 * 3 when the audit itself could not be done (monitoring's "unknown") */
static int cmd_audit(cli *c, int argc, char **argv)
{
    (void)argc, (void)argv;
    pvs_error err = PVS_ERROR_INIT;
    json_t *cfg = load_config(c, &err), *res = NULL;
    int rc = cfg ? pvs_audit(c->ctx, cfg, &res, &err) : -1;
    json_decref(cfg);
    if (rc) {
        fail(c, &err);
        return EXIT_AUDIT_UNKNOWN;
    }
    json_int_t need = json_integer_value(json_object_get(res, "needs_action"));
    if (c->json) {
        json_object_set_new(res, "in_order", json_boolean(need == 0));
        print_json(c, res);
        json_decref(res);
        return need ? 1 : 0;
    }
    printf("%-6s %-10s %-36s %-10s %-8s %s\n", "VMID", "KEY", "VOLID", "DEVICE", "RUNNING", "STATUS");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(res, "volumes"), i, r) {
        const char *remedy = json_string_value(json_object_get(r, "remedy"));
        printf("%-6" JSON_INTEGER_FORMAT " ", json_integer_value(json_object_get(r, "vmid")));
        put_cell(cell(r, "key"), 10, " ");
        put_cell(cell(r, "volid"), 36, " ");
        put_cell(cell(r, "device"), 10, " ");
        put_cell(json_is_true(json_object_get(r, "running")) ? "yes" : "no", 8, " ");
        put_cell(remedy ? remedy : "in order", 0, "\n");
        if (json_is_array(json_object_get(r, "command")))
            put_command_line("       fix: ", json_object_get(r, "command"));
    }
    json_array_foreach(json_object_get(res, "guest_errors"), i, r) {
        printf("%-6" JSON_INTEGER_FORMAT " error: ", json_integer_value(json_object_get(r, "vmid")));
        put_cell(cell(r, "error"), 0, "\n");
    }
    printf("%" JSON_INTEGER_FORMAT " need%s action\n", need, need == 1 ? "s" : "");
    json_decref(res);
    return need ? 1 : 0;
}

static int cmd_verify_hints(cli *c, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    pvs_error err = PVS_ERROR_INIT;
    if (pvs_verify_hints(c->hints, &err))
        return fail(c, &err);
    if (c->json) {
        json_t *o = json_pack("{s:b, s:O?}", "valid", 1, "hints", c->hints);
        print_json(c, o);
        json_decref(o);
    } else {
        puts(c->hints ? "hints are valid" : "no hints given");
    }
    return 0;
}

static int cmd_hints(cli *c, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    if (c->json_schema) {   /* a schema document, not a result */
        json_t *o = pvs_hints_json_schema();
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (s)
            puts(s);
        free(s);
        json_decref(o);
        return 0;
    }
    if (c->json) {
        json_t *o = json_pack("{s:o}", "hints", pvs_hints_properties());
        print_json(c, o);
        json_decref(o);
        return 0;
    }
    size_t n;
    const pvs_hint_def *defs = pvs_hint_defs(&n);
    printf("%-30s %-8s %-9s %s\n", "NAME", "TYPE", "OPTIONAL", "DESCRIPTION");
    for (size_t i = 0; i < n; i++)
        printf("%-30s %-8s %-9s %s\n", defs[i].name, defs[i].type, defs[i].optional ? "yes" : "no",
               defs[i].description);
    return 0;
}

static const command commands[] = {
    { "activate", "VOLID...|--vm VMID", 0, -1, OPT_SNAPSHOT | OPT_HINTS | OPT_DRY | OPT_VM, "activate volumes (and their storages), or a VM's",
      "Activate volumes: verify the hints, activate each storage once, then each\n"
      "volume through its plugin with the hints.  --dry-run: every read, no change;\n"
      "prints what each volume would get and the commands it would run.\n"
      "--vm VMID: the VM-start flow -- the guest's volumes from\n"
      "/etc/pve/qemu-server/VMID.conf and the hints qemu-server computes (its ostype;\n"
      "--may-deactivate: plugin-may-deactivate-volume, as at VM start).", EXITS_COMMON, cmd_activate },
    { "deactivate", "VOLID...", 1, -1, OPT_SNAPSHOT, "deactivate volumes",
      "Deactivate volumes; goes on past a failing volume and fails at the end.", EXITS_COMMON, cmd_deactivate },
    { "map", "VOLID", 1, 1, OPT_SNAPSHOT | OPT_HINTS | OPT_DRY, "map a volume, print its path",
      "Map a volume with hints and print its path (--dry-run: the plan).", EXITS_COMMON, cmd_map },
    { "unmap", "VOLID", 1, 1, OPT_SNAPSHOT, "unmap a volume", "Unmap a volume.", EXITS_COMMON, cmd_unmap },
    { "path", "VOLID", 1, 1, OPT_SNAPSHOT, "print the path of a volume",
      "Print the path of a volume alone on stdout.", EXITS_COMMON, cmd_path },
    { "identity", "STORAGE", 1, 1, 0, "the identifier of the instance behind a storage",
      "Print the identifier of the storage instance behind STORAGE, as its plugin's\n"
      "get_identity tells it (storage API 14); nothing when it has none.  A plugin\n"
      "without get_identity fails, as upstream's base plugin does.", EXITS_COMMON, cmd_identity },
    { "status", "", 0, 0, 0, "each storage: type, enabled, active, content",
      "Each storage: type, enabled, active (reachable now), content. Reads only.", EXITS_COMMON, cmd_status },
    { "list", "STORAGE", 1, 1, OPT_VMID, "the volumes on a storage",
      "The volumes on a storage (sizes in bytes); --vmid N: only guest N's.\n"
      "Dir storages are read from their directories, rbd storages from the cluster.", EXITS_COMMON, cmd_list },
    { "mapped", "", 0, 0, 0, "the kernel RBD devices and their volumes",
      "The kernel RBD devices of this host: device, pool, namespace, image, snapshot,\n"
      "the volume ID when a storage matches, and the map options. Reads only.", EXITS_COMMON, cmd_mapped },
    { "audit", "", 0, 0, 0, "guests' kernel RBD mappings against their hints",
      "Every guest's kernel-mapped RBD volumes against its hints: a Windows guest's\n"
      "disk mapped without rxbounce needs action (the fix when the guest is not\n"
      "running). Exit 0 when all is in order, 1 when something needs action, 3 when\n"
      "it could not audit at all.", EXITS_COMMON | EXIT_BIT(EXIT_AUDIT_UNKNOWN), cmd_audit },
    { "verify-hints", "", 0, 0, OPT_HINTS, "check hints given with --hint/--hints",
      "Verify hints as storage calls do; exit 1 with the error when invalid.", EXITS_COMMON, cmd_verify_hints },
    { "hints", "", 0, 0, OPT_SCHEMA, "the defined hints (--json-schema: a JSON Schema)",
      "List the defined hints; --json-schema prints the format as a JSON Schema\n"
      "(draft 2020-12) document.", EXITS_COMMON, cmd_hints },
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

const char *cli_command_name(size_t i)
{
    return i < N_COMMANDS ? commands[i].name : NULL;
}

static const command *find_command(const char *name)
{
    for (size_t i = 0; name && i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int cli_exit_documented(const char *name, int status)
{
    const command *cmd = find_command(name);
    unsigned exits = cmd ? cmd->exits : EXITS_COMMON;   /* before a command: --help, a usage error ... */
    return status >= 0 && status < 32 && (exits & EXIT_BIT(status));
}

/* --help: the list of commands is the table's */
/* "usage: pvestorage [--config FILE] [--root DIR] ...", wrapped */
static void print_usage_line(FILE *f)
{
    const pvs_api_setting *set = pvs_api_settings();
    int col = fprintf(f, "usage: %s [--config FILE]", prog);
    for (size_t i = 0; set[i].name; i++) {
        if (col + (int)strlen(set[i].option) + (int)strlen(set[i].metavar) + 6 > 79)
            col = fprintf(f, "\n                 ") - 1;
        col += fprintf(f, " [--%s %s]", set[i].option, set[i].metavar);
    }
    fprintf(f, "\n                  [--json] [--quiet] COMMAND [ARGS]\n");
}

static void print_global_usage(FILE *f)
{
    print_usage_line(f);
    fprintf(f, global_about, PVS_APIVER);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", commands[i].name, *commands[i].args ? " " : "", commands[i].args);
        fprintf(f, "  %-28s %s\n", left, commands[i].summary);
    }
    fputs("\nglobal options:\n"
          "  --config FILE         storage.cfg to use (default ROOT/etc/pve/storage.cfg)\n", f);
    const pvs_api_setting *set = pvs_api_settings();
    for (size_t i = 0; set[i].name; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s %s", set[i].option, set[i].metavar);
        if (strlen(left) > 21)
            fprintf(f, "  %s\n  %-21s %s", left, "", set[i].meaning);
        else
            fprintf(f, "  %-21s %s", left, set[i].meaning);
        fprintf(f, set[i].default_value ? " (default %s)\n" : "\n", set[i].default_value);
    }
    fputs(global_options, f);
}

/* The usage of each option bit, in --help's order */
static const struct {
    unsigned bit;
    const char *usage;
} option_usage[] = {
    { OPT_SNAPSHOT, " [--snapshot NAME]" },
    { OPT_HINTS, " [--hint NAME=VALUE]... [--hints JSON]" },
    { OPT_SCHEMA, " [--json-schema]" },
    { OPT_VMID, " [--vmid N]" },
    { OPT_DRY, " [--dry-run]" },
    { OPT_VM, " [--may-deactivate]" },
};

static void command_usage(FILE *f, const command *cmd)
{
    fprintf(f, "usage: %s [GLOBAL OPTIONS] %s%s%s", prog, cmd->name, *cmd->args ? " " : "", cmd->args);
    for (size_t i = 0; i < sizeof option_usage / sizeof option_usage[0]; i++)
        if (cmd->opts & option_usage[i].bit)
            fputs(option_usage[i].usage, f);
    fprintf(f, "\n\n%s\n", cmd->help);
    if (cmd->opts & OPT_HINTS)
        fputs("\n  --hint NAME=VALUE  one hint, e.g. guest-is-windows=1 (repeatable); VALUE\n"
              "                     is read as JSON when it is true/false/null or a number\n"
              "  --hints JSON       all hints as one JSON object\n", f);
    if (cmd->opts & OPT_SNAPSHOT)
        fputs("  --snapshot NAME    the snapshot of the volume\n", f);
}

/* A usage error (exit 2): on stderr with a pointer to --help, or with
 * --json as the envelope's error (code EUSAGE), like every outcome. */
static int usage_message(cli *c, const char *msg)
{
    if (c->json) {
        json_t *body = json_pack("{s:{s:s, s:o, s:n, s:n}}", "error", "code", "EUSAGE", "message",
                                 cli_string(msg), "exit_status", "stderr");
        print_envelope(c, 0, body);
        json_decref(body);
    } else {
        fprintf(stderr, "%s: %s\nTry '%s --help'.\n", prog, msg, prog);
    }
    return EXIT_USAGE;
}

static int usage_error(cli *c, const char *fmt, const char *arg)
{
    char msg[1024];
    snprintf(msg, sizeof msg, fmt, arg);
    return usage_message(c, msg);
}

static int add_hint(cli *c, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return usage_error(c, "--hint expects NAME=VALUE, got '%s'", arg);
    char *name = strndup(arg, (size_t)(eq - arg));
    const char *text = eq + 1;
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    if (v && (json_is_object(v) || json_is_array(v) || json_is_string(v))) {
        json_decref(v);
        v = NULL;
    }
    if (!v)
        v = json_string(text);
    int rc = 0;
    if (!c->hints)
        c->hints = json_object();
    if (!name || !v || !c->hints) {
        rc = usage_error(c, "out of memory%s", "");
    } else if (json_object_get(c->hints, name)) {
        rc = usage_error(c, "hint '%s' given twice", name);
    } else if (json_object_set_new(c->hints, name, v)) {
        v = NULL;
        rc = usage_error(c, "hint name '%s' is not valid UTF-8", name);
    } else {
        v = NULL;
    }
    json_decref(v);
    free(name);
    return rc;
}

static int set_hints_json(cli *c, const char *arg)
{
    json_error_t jerr;
    json_t *v = json_loads(arg, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v) {
        char msg[512];
        snprintf(msg, sizeof msg, "invalid --hints JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                 jerr.column);
        return usage_message(c, msg);
    }
    c->hints = json_is_null(v) ? NULL : v;
    if (!c->hints)
        json_decref(v);
    return 0;
}

#define DONE (-1)   /* an option that ends the command there, with exit 0 (--help) */

enum { O_HINT = 256, O_HINTS, O_SNAP, O_SCHEMA, O_VMID, O_DRY, O_VM, O_MAY };

/* 0 when cmd takes the option (bit), else the usage error "--OPTION
 * belongs to the 'A' command" or "... the 'A' and 'B' commands". */
static int option_belongs(cli *c, const command *cmd, unsigned bit, const char *option)
{
    if (cmd->opts & bit)
        return 0;
    char msg[256];
    size_t n = (size_t)snprintf(msg, sizeof msg, "%s belongs to the", option), found = 0;
    for (size_t i = 0; i < N_COMMANDS; i++)
        found += (commands[i].opts & bit) != 0;
    for (size_t i = 0, k = 0; i < N_COMMANDS && n < sizeof msg; i++)
        if (commands[i].opts & bit)
            n += (size_t)snprintf(msg + n, sizeof msg - n, "%s '%s'", k++ == 0 ? "" : k == found ? " and" : ",",
                                  commands[i].name);
    if (n < sizeof msg)
        snprintf(msg + n, sizeof msg - n, " command%s", found > 1 ? "s" : "");
    return usage_message(c, msg);
}

/* --vm / --vmid: a guest ID, for the one command each belongs to */
static int guest_id_option(cli *c, const command *cmd, int o, const char *arg)
{
    int rc = option_belongs(c, cmd, o == O_VM ? OPT_VM : OPT_VMID, o == O_VM ? "--vm" : "--vmid");
    if (rc)
        return rc;
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (errno || end == arg || *end || v < 0)
        return usage_error(c, o == O_VM ? "--vm: '%s' is not a guest ID" : "--vmid: '%s' is not a guest ID", arg);
    *(o == O_VM ? &c->vm : &c->vmid) = v;
    return 0;
}

/* --hint (repeatable) or --hints (once), not both; counts: how many of each so far */
static int hints_option(cli *c, const command *cmd, int o, const char *arg, int counts[2])
{
    if (!(cmd->opts & OPT_HINTS))
        return usage_error(c, "'%s' takes no hints", cmd->name);
    if (o == O_HINT ? counts[1] : (counts[1] || counts[0]))
        return usage_error(c, "use either --hints or --hint (%s)", "not both, --hints once");
    counts[o == O_HINTS]++;
    return o == O_HINT ? add_hint(c, arg) : set_hints_json(c, arg);
}

/* One option of a command: 0, DONE, or the exit status to stop with. */
static int command_option(cli *c, const command *cmd, int o, char **argv, int counts[2])
{
    switch (o) {
    case 'h':
        command_usage(stdout, cmd);
        return DONE;
    case 'j':
        c->json = 1;
        return 0;
    case O_HINT:
    case O_HINTS:
        return hints_option(c, cmd, o, optarg, counts);
    case O_SNAP:
        if (!(cmd->opts & OPT_SNAPSHOT))
            return usage_error(c, "'%s' takes no --snapshot", cmd->name);
        c->snapname = optarg;
        return 0;
    case O_SCHEMA:
        c->json_schema = 1;
        return option_belongs(c, cmd, OPT_SCHEMA, "--json-schema");
    case O_DRY:
        c->dry_run = 1;
        return option_belongs(c, cmd, OPT_DRY, "--dry-run");
    case O_VMID:
    case O_VM:
        return guest_id_option(c, cmd, o, optarg);
    case O_MAY:
        c->may_deactivate = 1;
        return option_belongs(c, cmd, OPT_VM, "--may-deactivate");
    default:
        return usage_error(c, "unknown or incomplete option '%s'", argv[optind - 1]);
    }
}

static int run_command(cli *c, const command *cmd, int argc, char **argv)
{
    static const struct option opts[] = {
        { "hint", required_argument, NULL, O_HINT },
        { "hints", required_argument, NULL, O_HINTS },
        { "snapshot", required_argument, NULL, O_SNAP },
        { "json-schema", no_argument, NULL, O_SCHEMA },
        { "vmid", required_argument, NULL, O_VMID },
        { "dry-run", no_argument, NULL, O_DRY },
        { "vm", required_argument, NULL, O_VM },
        { "may-deactivate", no_argument, NULL, O_MAY },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int counts[2] = { 0, 0 }, o, rc;
    optind = 0;   /* glibc: start over on a new argv */
    opterr = 0;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1)
        if ((rc = command_option(c, cmd, o, argv, counts)))
            return rc;
    /* getopt permuted the options after the volume IDs out of the way */
    int nargs = argc - optind;
    char **args = argv + optind;
    if (nargs < cmd->min_args || (cmd->max_args >= 0 && nargs > cmd->max_args)) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s: expected %s%s", cmd->name, cmd->min_args ? cmd->args : "no arguments",
                 cmd->max_args < 0 ? "" : (nargs > cmd->max_args ? " (too many arguments)" : ""));
        if (c->json)
            return usage_message(c, msg);
        fprintf(stderr, "%s %s\n", prog, msg);
        command_usage(stderr, cmd);
        return EXIT_USAGE;
    }
    if (c->json && (c->info = json_array()) && (c->warnings = json_array())) {
        pvs_ctx_set_info(c->ctx, collect_info, c);   /* text mode: stdout, as upstream */
        pvs_ctx_set_warn(c->ctx, collect_warning, c);   /* text mode: stderr */
    }
    if (c->quiet)
        pvs_ctx_set_warn(c->ctx, drop_warning, NULL);
    return cmd->run(c, nargs, args);
}

/* --api (for the coverage tests and tools): the library's description
 * (pvestorage_api.h) with this command's own commands, as JSON. */
static int print_api(cli *c)
{
    (void)c;
    json_t *api = pvs_api_description(), *names = json_array();
    for (size_t i = 0; api && names && i < N_COMMANDS; i++)
        json_array_append_new(names, json_string(commands[i].name));
    if (!api || !names || json_object_set_new(api, "commands", names)) {
        json_decref(api);
        fputs("out of memory\n", stderr);
        return 1;
    }
    char *text = json_dumps(api, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(api);
    if (text)
        puts(text);
    free(text);
    return text ? DONE : 1;
}

enum { G_CONFIG = 256, G_VERSION, G_API, G_SETTING };   /* G_SETTING + i: setting i's option */

/* One global option (before the command): 0, DONE, or the exit status. */
static int global_option(cli *c, int o, char **argv)
{
    const pvs_api_setting *set = pvs_api_settings();
    int nset = 0;
    while (set[nset].name)
        nset++;
    switch (o) {
    case G_CONFIG: c->config = optarg; return 0;
    case 'j': c->json = 1; return 0;
    case 'q': c->quiet = 1; return 0;
    case 'h':
        print_global_usage(stdout);
        return DONE;
    case G_VERSION:
        printf("pvestorage %s (storage API %d, age %d)\n", PVS_VERSION, PVS_APIVER, PVS_APIAGE);
        return DONE;
    case G_API:
        return print_api(c);
    default:
        if (o < G_SETTING || o >= G_SETTING + nset)
            return usage_error(c, "unknown or incomplete option '%s'", argv[optind - 1]);
    }
    const char *setting = set[o - G_SETTING].name;
    pvs_error err = PVS_ERROR_INIT;
    if (pvs_ctx_set(c->ctx, setting, optarg, &err) == 0)
        return 0;
    size_t n = strlen(err.message);
    if (n && err.message[n - 1] == '\n')
        err.message[n - 1] = '\0';
    int rc = usage_message(c, err.message);
    pvs_error_clear(&err);
    return rc;
}

int pvs_cli_run(int argc, char **argv, const char **command_run)
{
    struct option opts[32] = {
        { "config", required_argument, NULL, G_CONFIG },
        { "json", no_argument, NULL, 'j' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, G_VERSION },
        { "api", no_argument, NULL, G_API },
    };
    const pvs_api_setting *set = pvs_api_settings();
    for (size_t i = 0, k = 6; set[i].name && k < 31; i++, k++)
        opts[k] = (struct option){ set[i].option, required_argument, NULL, G_SETTING + (int)i };
    pvs_error err = PVS_ERROR_INIT;
    cli c = { .vmid = -1, .vm = -1 };
    const command *cmd = NULL;
    if (command_run)
        *command_run = NULL;
    /* --json anywhere: even a usage error is reported in JSON */
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        c.json |= strcmp(argv[i], "--json") == 0;
    c.ctx = pvs_ctx_new(&err);
    if (!c.ctx)
        return fail(&c, &err);
    int o, rc = 0;
    optind = 0;   /* glibc: start over (the command may run more than once in a process) */
    opterr = 0;
    while (rc == 0 && (o = getopt_long(argc, argv, "+hq", opts, NULL)) != -1)
        rc = global_option(&c, o, argv);
    if (rc == 0 && optind >= argc) {
        rc = usage_error(&c, "no command given%s", "");
    } else if (rc == 0 && !(cmd = find_command(argv[optind]))) {
        rc = usage_error(&c, "unknown command '%s'", argv[optind]);
    } else if (rc == 0) {
        if (command_run)
            *command_run = cmd->name;
        rc = run_command(&c, cmd, argc - optind, argv + optind);
    }
    json_decref(c.hints);
    json_decref(c.info);
    json_decref(c.warnings);
    json_decref(c.volumes);
    pvs_ctx_free(c.ctx);
    return rc == DONE ? 0 : rc;
}

int pvs_cli_main(int argc, char **argv)
{
    return pvs_cli_run(argc, argv, NULL);
}
