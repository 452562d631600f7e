/* command.c - upstream's run_command (pve-common PVE::Tools) for the
 * plugins that drive a node's own tools (lvm, zfs, iscsiadm, udevadm):
 * the same argv, the same environment, the same messages, within the
 * call's one deadline, its process group killed whole on timeout. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

extern char **environ;

/* the PATH of a Proxmox node, where a bare name is looked up under a root */
static const char node_path[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/* The file that runs for argv[0]: an absolute one under the root setting;
 * a bare one in PATH (the node's PATH under a root other than /).  NULL
 * when out of memory; the name itself when nothing is found (starting it
 * then fails as a missing file does). */
static char *command_file(pvs_ctx *call, const char *name)
{
    const char *root = call->set->root;
    int rooted = strcmp(root, "/") != 0;
    if (name[0] == '/')
        return rooted ? pvs_asprintf("%s%s", root, name) : strdup(name);
    if (strchr(name, '/'))
        return strdup(name);
    const char *path = rooted ? node_path : getenv("PATH");
    if (!path || !*path)
        path = node_path;
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        char *f = pvs_asprintf("%s%.*s/%s", rooted ? root : "", (int)n, p, name);
        if (!f || access(f, X_OK) == 0)
            return f;
        free(f);
        p += n + (p[n] == ':');
    }
    return strdup(name);
}

/* our environment with run_command's two settings */
static char **command_env(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 3, sizeof *env);
    if (!env)
        return NULL;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LC_ALL=", 7) && strncmp(environ[i], "LVM_SUPPRESS_FD_WARNINGS=", 25))
            env[m++] = environ[i];
    env[m++] = "LC_ALL=C";
    env[m++] = "LVM_SUPPRESS_FD_WARNINGS=1";
    return env;
}

void pvs_split_lines(const char *text, void (*fn)(const char *line, size_t n, void *data), void *data)
{
    const char *p = text;
    while (*p) {
        size_t n = strcspn(p, "\r\n\b");
        if (!p[n]) {
            fn(p, n, data);   /* the last one, without an end */
            return;
        }
        fn(p, n, data);
        const char *e = p + n;
        if (*e == '\n')
            e++;
        else if (*e == '\r')
            e += 1 + (e[1] == '\n');
        else
            e += strspn(e, "\b");
        p = e;
    }
}

/* stderr as upstream's errfunc sees it: every line warned, except (with
 * an errmsg) the last Perl-true one, held back for the error */
typedef struct err_lines {
    pvs_ctx *call;
    const pvs_command_opts *o;
    char *held;
} err_lines;

static int perl_true(const char *s, size_t n)
{
    return n > 1 || (n == 1 && s[0] != '0');
}

static void err_line(const char *line, size_t n, void *data)
{
    err_lines *e = data;
    if (e->o->no_medium && memmem(line, n, "open failed: No medium found", 28))
        return;
    if (!e->o->errmsg) {
        if (!e->o->quiet)
            pvs_warn(e->call, "%.*s\n", (int)n, line);
        return;
    }
    if (e->held && !e->o->quiet)
        pvs_warn(e->call, "%s\n", e->held);
    free(e->held);
    e->held = perl_true(line, n) ? strndup(line, n) : NULL;
}

void pvs_command_cause(const pvs_run_result *r, char *buf, size_t size)
{
    if (r->exit_status >= 0)
        snprintf(buf, size, "exit code %d", r->exit_status);
    else
        snprintf(buf, size, "got signal %d", r->signal ? r->signal : 9);
}

/* what run_command dies with for a command that ran and failed */
static int failed(const char *const *argv, const pvs_command_opts *o, const pvs_run_result *r,
                  const char *held, pvs_error *err)
{
    char *cmd = pvs_perl_quote_argv(argv);
    const char *c = cmd ? cmd : argv[0];
    char why[64];
    pvs_command_cause(r, why, sizeof why);
    int rc;
    if (r->timed_out)   /* upstream's timeout, or the call's deadline */
        rc = pvs_fail(err, PVS_ETIMEDOUT, "command '%s' failed: got timeout\n", c);
    else if (o->errmsg)
        rc = pvs_fail(err, PVS_ECOMMAND, "%s: %s\n", o->errmsg, held && r->exit_status > 0 ? held : why);
    else
        rc = pvs_fail(err, PVS_ECOMMAND, "command '%s' failed: %s\n", c, why);
    free(cmd);
    return rc;
}

static int not_started(const char *const *argv, const pvs_command_opts *o, pvs_error *err)
{
    char *why = err && err->message ? strdup(err->message) : NULL;
    if (why && *why)
        why[strlen(why) - 1] = '\0';
    char *cmd = pvs_perl_quote_argv(argv);
    int rc = o->errmsg ? pvs_fail(err, PVS_ECOMMAND, "%s: failed to execute: %s\n", o->errmsg, why ? why : argv[0])
                       : pvs_fail(err, PVS_ECOMMAND, "command '%s' failed: failed to execute: %s\n",
                                  cmd ? cmd : argv[0], why ? why : argv[0]);
    free(cmd);
    free(why);
    return rc;
}

static int run(pvs_ctx *call, const char *const *argv, const pvs_command_opts *o, pvs_run_result *r,
               pvs_error *err)
{
    char *file = command_file(call, argv[0]);
    char **env = command_env();
    int rc = file && env ? pvs_run_call_exec(call, file, argv, env, (long long)o->timeout_s * 1000, r, err)
                         : pvs_oom(err);
    free(file);
    free(env);
    return rc;
}

int pvs_command(pvs_ctx *call, const char *const *argv, const pvs_command_opts *o, char **out,
                pvs_error *err)
{
    if (out)
        *out = NULL;
    pvs_report_command(call, argv);   /* a reporting call lists what it runs */
    if (pvs_dry_run(call) && !o->reads)
        return 0;                     /* ... or would run */
    pvs_run_result r;
    int rc = run(call, argv, o, &r, err);
    if (rc) {
        pvs_run_result_clear(&r);
        return rc == PVS_ENOMEM ? rc : not_started(argv, o, err);
    }
    err_lines e = { call, o, NULL };
    pvs_split_lines(r.err, err_line, &e);
    if (r.exit_status == 0) {
        if (e.held && !o->quiet)
            pvs_warn(call, "%s\n", e.held);   /* upstream flushes it at the end */
    } else {
        rc = failed(argv, o, &r, e.held, err);
        if (err) {
            err->exit_status = r.exit_status;
            err->stderr_text = r.err;
            r.err = NULL;
        }
    }
    if (out)   /* a listing that failed may still have listed (vgs exits 5 without clvmd) */
        *out = r.out, r.out = NULL;
    free(e.held);
    pvs_run_result_clear(&r);
    return rc;
}
