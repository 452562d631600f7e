/* guest_running.c - is a guest running on this node?  qemu-server's
 * vm_running_locally, read under the root setting: the first line of
 * /var/run/qemu-server/VMID.pid is a pid; /proc/PID/cmdline is a QEMU
 * (argv[0] ends in "kvm" or is a "qemu-*" binary) whose -pidfile is that
 * very file; /proc/PID/stat says it is not a zombie.  A pid file modified in
 * the future is warned about, as there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "internal.h"

/* argv[0] as parse_cmdline accepts it: m|kvm$| or m@(?:^|/)qemu-[^/]+$@ */
static int is_qemu(const char *cmd)
{
    size_t n = strlen(cmd);
    if (n >= 3 && strcmp(cmd + n - 3, "kvm") == 0)
        return 1;
    const char *base = strrchr(cmd, '/');
    base = base ? base + 1 : cmd;
    return strncmp(base, "qemu-", 5) == 0 && base[5] != '\0';
}

static int is_pidfile_option(const char *opt)
{
    return strcmp(opt, "pidfile") == 0 || strcmp(opt, "pidfile\n") == 0;   /* Perl's $ before a last \n */
}

/* parse_cmdline on /proc/PID/cmdline: its first line split at NULs; argv[0]
 * must be a QEMU; "-x" or "--x" names an option, the next argument that is
 * not empty or "0" is its value, an option right after an option leaves the
 * first without one; does -pidfile end up with PIDFILE as its value? */
int pvs_qemu_cmdline_has_pidfile(const char *text, size_t len, const char *pidfile)
{
    const char *nl = memchr(text, '\n', len);
    size_t end = nl ? (size_t)(nl - text) + 1 : len;
    char *line = malloc(end + 1);
    if (!line)
        return 0;
    memcpy(line, text, end);
    line[end] = '\0';
    const char *pending = NULL, *value = NULL;
    int ok = end > 0 && line[0] && strcmp(line, "0") != 0 && is_qemu(line);
    for (size_t i = 0; ok && i < end; i += strlen(line + i) + 1) {
        const char *p = line + i;
        if (!*p || strcmp(p, "0") == 0)
            continue;   /* Perl's "next if !$p" */
        if (p[0] == '-' && !memchr(p, '\n', strlen(p) - 1)) {
            if (pending && is_pidfile_option(pending))
                value = NULL;   /* "-pidfile -x": no value */
            pending = p + (p[1] == '-' ? 2 : 1);
        } else if (pending) {
            if (is_pidfile_option(pending))
                value = p;
            pending = NULL;
        }
    }
    int match = ok && value && strcmp(value, pidfile) == 0;
    free(line);
    return match;
}

/* check_process_running: /proc/PID/stat is this pid's and its state is not Z */
static int alive(pvs_ctx *ctx, const char *pid)
{
    char rel[64];
    size_t len = 0;
    snprintf(rel, sizeof rel, "/proc/%s/stat", pid);
    char *stat = pvs_host_read(ctx, rel, &len, NULL);
    size_t n = strlen(pid);
    const char *close = stat ? strrchr(stat, ')') : NULL;
    int ok = close && strncmp(stat, pid, n) == 0 && strncmp(stat + n, " (", 2) == 0 && close[1] == ' '
             && close[2] && close[2] != ' ' && close[2] != 'Z' && close[3] == ' ';
    free(stat);
    return ok;
}

int pvs_guest_running(pvs_ctx *ctx, long long vmid)
{
    char pidfile[64], rel[64];
    snprintf(pidfile, sizeof pidfile, "/var/run/qemu-server/%lld.pid", vmid);
    char *path = pvs_host_path(ctx, pidfile);
    struct stat st;
    if (path && stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime > time(NULL))
        pvs_warn(ctx, "file '%s' modified in future\n", pidfile);
    size_t len = 0;
    char *text = path ? pvs_read_regular_file(path, &len, NULL) : NULL;
    free(path);
    size_t digits = text ? strspn(text, "0123456789") : 0;
    int running = 0;
    /* m/^(\d+)$/ on the first line: the digits end the file or that line */
    if (digits > 0 && digits < 20 && (digits == len || text[digits] == '\n')) {
        text[digits] = '\0';
        snprintf(rel, sizeof rel, "/proc/%s/cmdline", text);
        char *cmd = pvs_host_read(ctx, rel, &len, NULL);
        running = cmd && pvs_qemu_cmdline_has_pidfile(cmd, len, pidfile) && alive(ctx, text);
        free(cmd);
    }
    free(text);
    return running;
}
