/* fake-rbd - the kernel side of `rbd map`/`rbd unmap`, emulated for tests on
 * machines without the rbd kernel module.  Every other subcommand runs the
 * real rbd.  The emulation builds what krbd and udev would build, under
 * $FAKE_RBD_ROOT:
 *   /sys/devices/rbd/N/{config_info,cluster_fsid,pool,pool_ns,name,current_snap}
 *   /dev/rbdN (a block node: mknod, needs root)
 *   /dev/rbd-pve/FSID/POOL[/NS]/IMAGE[@SNAP] -> ../../../rbdN  (udev's link)
 * and prints /dev/rbdN as rbd does.
 *
 * Environment: FAKE_RBD_ROOT (required for map/unmap), FAKE_RBD_FSID
 * (required for map), FAKE_RBD_LOG (append each argv as a JSON array line),
 * FAKE_RBD_FAIL (comma list: map, unmap: fail like the kernel refusing),
 * FAKE_RBD_OLD_PATHS=1 (make /dev/rbd/POOL[/NS]/IMAGE links, the pre-rbd-pve
 * layout), FAKE_RBD_CHECK_IMAGE=0 (skip asking the cluster whether the image
 * exists), FAKE_RBD_REAL (the real rbd, default /usr/bin/rbd). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *root;

static void log_argv(int argc, char **argv)
{
    const char *log = getenv("FAKE_RBD_LOG");
    if (!log || !*log)
        return;
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0)
        return;
    char buf[8192];
    size_t n = 0;
    buf[n++] = '[';
    for (int i = 1; i < argc && n < sizeof buf - 8; i++) {
        if (i > 1)
            buf[n++] = ',';
        buf[n++] = '"';
        for (const char *p = argv[i]; *p && n < sizeof buf - 8; p++) {
            if (*p == '"' || *p == '\\')
                buf[n++] = '\\';
            buf[n++] = *p;
        }
        buf[n++] = '"';
    }
    buf[n++] = ']';
    buf[n++] = '\n';
    ssize_t w = write(fd, buf, n);
    (void)w;
    close(fd);
}

static int failing(const char *op)
{
    const char *f = getenv("FAKE_RBD_FAIL");
    if (!f)
        return 0;
    size_t n = strlen(op);
    for (const char *p = f; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, op, n) == 0)
            return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

static void mkdirs(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    mkdir(buf, 0755);
}

static int write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "%s\n", text);
    fclose(f);
    return chmod(path, mode);
}

typedef struct opts {
    const char *pool, *ns, *conf, *mon, *name, *keyring, *options;
    const char *op, *sub, *arg;
} opts;

static void parse(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->pool = "rbd";
    o->name = "client.admin";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(flag, field) if (strcmp(a, flag) == 0 && v) { o->field = v; i++; continue; }
        OPT("-p", pool) OPT("--pool", pool) OPT("--namespace", ns) OPT("-c", conf) OPT("--conf", conf)
        OPT("-m", mon) OPT("--mon_host", mon) OPT("-n", name) OPT("--name", name) OPT("--keyring", keyring)
        OPT("-k", keyring) OPT("-o", options) OPT("--options", options)
        if (strcmp(a, "--auth_supported") == 0 || strcmp(a, "--id") == 0) {
            i++;
            continue;
        }
#undef OPT
        if (!o->op)
            o->op = a;
        else if (strcmp(o->op, "device") == 0 && !o->sub)
            o->sub = a;
        else if (!o->arg)
            o->arg = a;
    }
    if (o->op && strcmp(o->op, "device") == 0) {
        o->op = o->sub;
        o->sub = NULL;
    }
}

static int run_real(char **argv)
{
    const char *real = getenv("FAKE_RBD_REAL");
    if (!real || !*real)
        real = "/usr/bin/rbd";
    argv[0] = (char *)real;
    execv(real, argv);
    fprintf(stderr, "fake-rbd: cannot run %s: %s\n", real, strerror(errno));
    return 127;
}

/* the real rbd says whether the image (and snapshot) exists */
static int image_exists(const opts *o, const char *spec)
{
    const char *check = getenv("FAKE_RBD_CHECK_IMAGE");
    if (check && strcmp(check, "0") == 0)
        return 1;
    const char *real = getenv("FAKE_RBD_REAL");
    const char *args[24];
    int n = 0;
    args[n++] = real && *real ? real : "/usr/bin/rbd";
    args[n++] = "-p";
    args[n++] = o->pool;
    if (o->ns) {
        args[n++] = "--namespace";
        args[n++] = o->ns;
    }
    if (o->conf) {
        args[n++] = "-c";
        args[n++] = o->conf;
    }
    if (o->mon) {
        args[n++] = "-m";
        args[n++] = o->mon;
    }
    args[n++] = "-n";
    args[n++] = o->name;
    if (o->keyring) {
        args[n++] = "--keyring";
        args[n++] = o->keyring;
    }
    args[n++] = "info";
    args[n++] = spec;
    args[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execv(args[0], (char **)args);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int do_map(const opts *o)
{
    const char *fsid = getenv("FAKE_RBD_FSID");
    if (!o->arg || !fsid) {
        fprintf(stderr, "fake-rbd: map needs an image and FAKE_RBD_FSID\n");
        return 22;
    }
    if (!image_exists(o, o->arg))
        return 2;   /* rbd info already said why on stderr */
    if (failing("map")) {
        fprintf(stderr, "rbd: sysfs write failed\nrbd: map failed: (5) Input/output error\n");
        return 5;
    }
    char image[PATH_MAX], snap[PATH_MAX] = "-";
    snprintf(image, sizeof image, "%s", o->arg);
    char *at = strchr(image, '@');
    if (at) {
        snprintf(snap, sizeof snap, "%s", at + 1);
        *at = '\0';
    }
    char dir[PATH_MAX];
    int id;
    for (id = 0; id < 4096; id++) {
        snprintf(dir, sizeof dir, "%s/sys/devices/rbd/%d", root, id);
        if (mkdir(dir, 0755) == 0)
            break;
        if (errno == ENOENT) {
            mkdirs(dir);
            break;
        }
    }
    char node[PATH_MAX], nodename[32];
    snprintf(nodename, sizeof nodename, "rbd%d", id);
    snprintf(node, sizeof node, "%s/dev", root);
    mkdirs(node);
    snprintf(node, sizeof node, "%s/dev/%s", root, nodename);
    if (mknod(node, S_IFBLK | 0600, makedev(251, (unsigned)id * 16)) != 0) {
        int e = errno;
        rmdir(dir);
        fprintf(stderr, "rbd: sysfs write failed\nrbd: map failed: (%d) %s\n", e, strerror(e));
        return e;
    }
    char config[PATH_MAX * 4], user[256];
    snprintf(user, sizeof user, "%s", strncmp(o->name, "client.", 7) == 0 ? o->name + 7 : o->name);
    snprintf(config, sizeof config, "%s name=%s,key=client.%s%s%s%s%s %s %s %s",
             o->mon ? o->mon : "127.0.0.1:6789", user, user, o->ns ? ",_pool_ns=" : "",
             o->ns ? o->ns : "", o->options ? "," : "", o->options ? o->options : "", o->pool,
             image, snap);
    write_file(dir, "config_info", config, 0400);   /* root-only, as the kernel's */
    write_file(dir, "cluster_fsid", fsid, 0444);
    write_file(dir, "pool", o->pool, 0444);
    write_file(dir, "pool_ns", o->ns ? o->ns : "", 0444);
    write_file(dir, "name", image, 0444);
    write_file(dir, "current_snap", snap, 0444);
    char num[32];   /* single_major: one major for all devices, minor = id << 4 */
    write_file(dir, "major", "251", 0444);
    snprintf(num, sizeof num, "%d", id * 16);
    write_file(dir, "minor", num, 0444);

    /* udev's link, relative like the rule makes it */
    const char *old = getenv("FAKE_RBD_OLD_PATHS");
    int old_layout = old && strcmp(old, "1") == 0;
    char linkdir[PATH_MAX], link[PATH_MAX * 2], target[PATH_MAX];
    if (old_layout)
        snprintf(linkdir, sizeof linkdir, "%s/dev/rbd/%s%s%s", root, o->pool, o->ns ? "/" : "", o->ns ? o->ns : "");
    else
        snprintf(linkdir, sizeof linkdir, "%s/dev/rbd-pve/%s/%s%s%s", root, fsid, o->pool, o->ns ? "/" : "",
                 o->ns ? o->ns : "");
    mkdirs(linkdir);
    int depth = 0;
    for (const char *p = linkdir + strlen(root) + strlen("/dev"); *p; p++)
        depth += *p == '/';
    target[0] = '\0';
    for (int i = 0; i < depth; i++)
        strcat(target, "../");
    strcat(target, nodename);
    snprintf(link, sizeof link, "%s/%s", linkdir, o->arg);
    unlink(link);
    if (symlink(target, link) != 0) {
        fprintf(stderr, "fake-rbd: symlink %s: %s\n", link, strerror(errno));
        return 1;
    }
    printf("/dev/%s\n", nodename);
    return 0;
}

static char unmap_target[PATH_MAX];

static int drop_links(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type != FTW_SL)
        return 0;
    char buf[PATH_MAX];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *base = strrchr(buf, '/');
    base = base ? base + 1 : buf;
    if (strcmp(base, unmap_target) == 0)
        unlink(path);
    return 0;
}

static int do_unmap(const opts *o)
{
    if (!o->arg) {
        fprintf(stderr, "rbd: unmap requires an image or device\n");
        return 22;
    }
    if (failing("unmap")) {
        fprintf(stderr, "rbd: sysfs write failed\nrbd: unmap failed: (16) Device or resource busy\n");
        return 16;
    }
    char path[PATH_MAX], buf[PATH_MAX];
    snprintf(path, sizeof path, "%s%s", root, o->arg);
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    const char *base;
    if (n > 0) {
        buf[n] = '\0';
        base = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
    } else {
        base = strrchr(o->arg, '/') ? strrchr(o->arg, '/') + 1 : o->arg;
    }
    int id;
    char node[PATH_MAX * 2];
    struct stat st;
    snprintf(node, sizeof node, "%s/dev/%s", root, base);
    if (sscanf(base, "rbd%d", &id) != 1 || stat(node, &st) != 0 || !S_ISBLK(st.st_mode)) {
        fprintf(stderr, "rbd: '%s' is not a block device\nrbd: unmap failed: (22) Invalid argument\n", o->arg);
        return 22;
    }
    unlink(node);
    snprintf(unmap_target, sizeof unmap_target, "%s", base);
    char dir[PATH_MAX * 2];
    snprintf(dir, sizeof dir, "%s/dev/rbd-pve", root);
    nftw(dir, drop_links, 16, FTW_PHYS);
    snprintf(dir, sizeof dir, "%s/dev/rbd", root);
    nftw(dir, drop_links, 16, FTW_PHYS);
    static const char *const files[] = { "config_info", "cluster_fsid", "pool", "pool_ns", "name",
                                         "current_snap", "major", "minor", NULL };
    snprintf(dir, sizeof dir, "%s/sys/devices/rbd/%d", root, id);
    for (int i = 0; files[i]; i++) {
        char f[PATH_MAX * 3];
        snprintf(f, sizeof f, "%s/%s", dir, files[i]);
        unlink(f);
    }
    rmdir(dir);
    return 0;
}

int main(int argc, char **argv)
{
    log_argv(argc, argv);
    opts o;
    parse(argc, argv, &o);
    int map = o.op && strcmp(o.op, "map") == 0, unmap = o.op && strcmp(o.op, "unmap") == 0;
    if (!map && !unmap)
        return run_real(argv);
    root = getenv("FAKE_RBD_ROOT");
    if (!root || root[0] != '/') {
        fprintf(stderr, "fake-rbd: FAKE_RBD_ROOT must be an absolute path\n");
        return 22;
    }
    return map ? do_map(&o) : do_unmap(&o);
}
