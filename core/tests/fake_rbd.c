/* fake-rbd - the kernel side of `rbd map`/`rbd unmap`, emulated for tests on
 * machines without the rbd kernel module.  Every other subcommand runs the
 * real rbd.  The emulation builds what Linux 6.1's krbd and udev build (as
 * t/kernel/50-fake-rbd-agrees.t checks against the real kernel in the test
 * guest), under $FAKE_RBD_ROOT:
 *   /sys/devices/rbd/N/ with the kernel's 17 attribute files, modes and value
 *     shapes (config_info 0400: "MONS OPTIONS POOL IMAGE SNAP" as rbd writes
 *     it, _pool_ns= after the caller's options, only with a namespace)
 *   /sys/block/rbdN/ro (1 for a snapshot: it maps read-only)
 *   /dev/rbdN (a block node as devtmpfs makes it: 0600, minor = N * 16)
 *   /dev/rbd-pve/FSID/POOL[/NS]/IMAGE[@SNAP] -> ../../../rbdN  (udev's link)
 * and prints /dev/rbdN as rbd does.  As the real rbd and kernel: an unknown
 * map option is refused by rbd (exit 22), queue_depth=0 by the kernel (exit
 * 22); an open device (some process holds /dev/rbdN) refuses to unmap (16).
 *
 * Environment: FAKE_RBD_ROOT (required for map/unmap), FAKE_RBD_FSID
 * (required for map), FAKE_RBD_MAJOR (the block major, the kernel assigns one
 * at load: default 254), FAKE_RBD_LOG (append each argv as a JSON array line),
 * FAKE_RBD_FAIL (comma list: map, unmap: fail like the kernel refusing),
 * FAKE_RBD_OLD_PATHS=1 (make /dev/rbd/POOL[/NS]/IMAGE links, the pre-rbd-pve
 * layout), FAKE_RBD_NO_PVE_LINK=1 (no rbd-pve link: a host without the udev
 * rule), FAKE_RBD_CHECK_IMAGE=0 (skip asking the cluster whether the image
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

/* The real rbd's `info --format json` of the image (and snapshot): 1 and
 * its JSON in out when it exists (rbd said why on stderr otherwise). */
static int image_info(const opts *o, const char *spec, char *out, size_t size)
{
    out[0] = '\0';
    const char *check = getenv("FAKE_RBD_CHECK_IMAGE");
    if (check && strcmp(check, "0") == 0)
        return 1;
    const char *real = getenv("FAKE_RBD_REAL");
    const char *args[24];
    int n = 0, fds[2];
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
    args[n++] = "--format";
    args[n++] = "json";
    args[n++] = spec;
    args[n] = NULL;
    if (pipe(fds) != 0)
        return 0;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execv(args[0], (char **)args);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t r;
    while (len < size - 1 && (r = read(fds[0], out + len, size - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = '\0';
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A number or string after "KEY": in rbd's JSON, or def. */
static void json_field(const char *json, const char *key, char *out, size_t size, const char *def)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    snprintf(out, size, "%s", def);
    if (!p)
        return;
    p += strlen(pat);
    p += *p == '"';
    size_t n = strcspn(p, "\",}");
    snprintf(out, size, "%.*s", (int)n, p);
}

/* the features bit mask of rbd's "features":[...] names */
static unsigned long long json_features(const char *json)
{
    static const char *const names[] = { "layering", "striping", "exclusive-lock", "object-map", "fast-diff",
                                         "deep-flatten", "journaling", "data-pool", "operations", NULL };
    const char *p = strstr(json, "\"features\":[");
    const char *end = p ? strchr(p, ']') : NULL;
    unsigned long long bits = 0;
    for (int i = 0; p && end && names[i]; i++) {
        char q[40];
        snprintf(q, sizeof q, "\"%s\"", names[i]);
        const char *hit = strstr(p, q);
        if (hit && hit < end)
            bits |= 1ULL << i;
    }
    return bits;
}

/* The monitors as rbd writes them: -m as given, else the v1 addresses of
 * the configuration's mon host line. */
static void mons_of(const opts *o, char *out, size_t size)
{
    snprintf(out, size, "%s", o->mon ? o->mon : "127.0.0.1:6789");
    FILE *f = o->mon || !o->conf ? NULL : fopen(o->conf, "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f)) {
        char *k = line + strspn(line, " \t");
        if (strncmp(k, "mon host", 8) != 0 && strncmp(k, "mon_host", 8) != 0)
            continue;
        size_t n = 0;
        for (char *v = strstr(k, "v1:"); v && n < size - 1; v = strstr(v + 3, "v1:"))
            n += (size_t)snprintf(out + n, size - n, "%s%.*s", n ? "," : "", (int)strcspn(v + 3, ",]\n"), v + 3);
        break;
    }
    if (f)
        fclose(f);
}

/* rbd's own check of --options: 0, or its exit status having said why */
static int check_options(const char *options)
{
    static const char *const known[] = { "fsid", "ip", "share", "noshare", "crc", "nocrc", "cephx_require_signatures",
        "nocephx_require_signatures", "tcp_nodelay", "notcp_nodelay", "cephx_sign_messages", "nocephx_sign_messages",
        "mount_timeout", "osd_request_timeout", "lock_timeout", "osdkeepalive", "osd_idle_ttl", "rw", "ro",
        "read_only", "read_write", "queue_depth", "lock_on_read", "exclusive", "notrim", "abort_on_full", "alloc_size",
        "crush_location", "read_from_replica", "compression_hint", "ms_mode", "rxbounce", "udev", "noudev", NULL };
    for (const char *p = options; p && *p;) {
        size_t len = strcspn(p, ","), key = strcspn(p, ",=");
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++)
            ok = strlen(known[i]) == key && strncmp(p, known[i], key) == 0;
        if (!ok) {
            fprintf(stderr, "rbd: unknown map option '%.*s'\nrbd: couldn't parse map options\n", (int)len, p);
            return 22;
        }
        p += len + (p[len] == ',');
    }
    return 0;
}

/* the kernel's refusal of a value rbd passed on */
static int kernel_refuses(const char *options)
{
    for (const char *p = options; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len == 13 && strncmp(p, "queue_depth=0", 13) == 0)
            return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

/* a free device ID: its fresh /sys/devices/rbd/ID directory */
static int new_device_dir(char *dir, size_t size)
{
    for (int id = 0; id < 4096; id++) {
        snprintf(dir, size, "%s/sys/devices/rbd/%d", root, id);
        if (mkdir(dir, 0755) == 0)
            return id;
        if (errno == ENOENT) {
            mkdirs(dir);
            return id;
        }
    }
    return -1;
}

static int make_node(int id, const char *dir)
{
    char node[PATH_MAX];
    snprintf(node, sizeof node, "%s/dev", root);
    mkdirs(node);
    snprintf(node, sizeof node, "%s/dev/rbd%d", root, id);
    const char *m = getenv("FAKE_RBD_MAJOR");
    unsigned major_ = m && *m ? (unsigned)atoi(m) : 254;
    if (mknod(node, S_IFBLK | 0600, makedev(major_, (unsigned)id * 16)) != 0) {
        int e = errno;
        rmdir(dir);
        fprintf(stderr, "rbd: sysfs write failed\nrbd: map failed: (%d) %s\n", e, strerror(e));
        return e;
    }
    char num[32];
    snprintf(num, sizeof num, "%u", major_);
    write_file(dir, "major", num, 0444);
    snprintf(num, sizeof num, "%d", id * 16);
    write_file(dir, "minor", num, 0444);
    return 0;
}

/* the attributes besides major/minor, as Linux 6.1 shows them */
static void write_attributes(const opts *o, const char *dir, const char *config, const char *image,
                             const char *snap, const char *info)
{
    const char *fsid = getenv("FAKE_RBD_FSID");
    unsigned long hash = 5381;   /* one kernel client per distinct options */
    for (const char *p = config; *p && *p != ' '; p++)
        hash = hash * 33 + (unsigned char)*p;
    for (const char *p = strchr(config, ' ') ? strchr(config, ' ') + 1 : ""; *p && *p != ' '; p++)
        hash = hash * 33 + (unsigned char)*p;
    char v[256], size[64], id[128];
    write_file(dir, "config_info", config, 0400);   /* root-only, as the kernel's */
    write_file(dir, "cluster_fsid", fsid, 0444);
    write_file(dir, "pool", o->pool, 0444);
    write_file(dir, "pool_id", "1", 0444);
    write_file(dir, "pool_ns", o->ns ? o->ns : "", 0444);
    write_file(dir, "name", image, 0444);
    write_file(dir, "current_snap", snap, 0444);
    write_file(dir, "snap_id", strcmp(snap, "-") ? "4" : "18446744073709551614", 0444);
    json_field(info, "size", size, sizeof size, "8388608");
    write_file(dir, "size", size, 0444);
    json_field(info, "id", id, sizeof id, "10204e7e5cad");
    write_file(dir, "image_id", id, 0444);
    snprintf(v, sizeof v, "0x%016llx", json_features(info));
    write_file(dir, "features", v, 0444);
    write_file(dir, "parent", "(no parent image)", 0444);
    snprintf(v, sizeof v, "client%lu", 4096 + hash % 100000);
    write_file(dir, "client_id", v, 0444);
    snprintf(v, sizeof v, "127.0.0.1:0/%lu", 1000000000 + hash % 3000000000UL);
    write_file(dir, "client_addr", v, 0444);
    write_file(dir, "uevent", "DEVTYPE=rbd", 0644);
    write_file(dir, "refresh", "", 0200);
    char top[PATH_MAX];
    snprintf(top, sizeof top, "%s/sys/devices/rbd", root);
    write_file(top, "uevent", "", 0644);
}

static void write_ro(int id, int ro)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/sys/block/rbd%d", root, id);
    mkdirs(dir);
    write_file(dir, "ro", ro ? "1" : "0", 0444);
}

/* udev's link, relative like the rule makes it */
static int make_link(const opts *o, int id)
{
    const char *fsid = getenv("FAKE_RBD_FSID"), *old = getenv("FAKE_RBD_OLD_PATHS"),
               *nopve = getenv("FAKE_RBD_NO_PVE_LINK");
    int old_layout = old && strcmp(old, "1") == 0;
    if (!old_layout && nopve && strcmp(nopve, "1") == 0)
        return 0;
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
    snprintf(target + strlen(target), sizeof target - strlen(target), "rbd%d", id);
    snprintf(link, sizeof link, "%s/%s", linkdir, o->arg);
    unlink(link);
    if (symlink(target, link) != 0) {
        fprintf(stderr, "fake-rbd: symlink %s: %s\n", link, strerror(errno));
        return 1;
    }
    return 0;
}

static int do_map(const opts *o)
{
    const char *fsid = getenv("FAKE_RBD_FSID");
    if (!o->arg || !fsid) {
        fprintf(stderr, "fake-rbd: map needs an image and FAKE_RBD_FSID\n");
        return 22;
    }
    int rc = check_options(o->options);
    static char info[65536];
    if (rc)
        return rc;
    if (!image_info(o, o->arg, info, sizeof info))
        return 2;   /* rbd info already said why on stderr */
    if (failing("map")) {
        fprintf(stderr, "rbd: sysfs write failed\nrbd: map failed: (5) Input/output error\n");
        return 5;
    }
    if (kernel_refuses(o->options)) {
        printf("In some cases useful info is found in syslog - try \"dmesg | tail\".\n");
        fprintf(stderr, "rbd: sysfs write failed\nrbd: map failed: (22) Invalid argument\n");
        return 22;
    }
    char image[PATH_MAX], snap[PATH_MAX] = "-", dir[PATH_MAX], mons[1024];
    snprintf(image, sizeof image, "%s", o->arg);
    char *at = strchr(image, '@');
    if (at) {
        snprintf(snap, sizeof snap, "%s", at + 1);
        *at = '\0';
    }
    int id = new_device_dir(dir, sizeof dir);
    if (id < 0 || (rc = make_node(id, dir)) != 0)
        return id < 0 ? 16 : rc;
    char config[PATH_MAX * 4], user[256];
    snprintf(user, sizeof user, "%s", strncmp(o->name, "client.", 7) == 0 ? o->name + 7 : o->name);
    mons_of(o, mons, sizeof mons);
    snprintf(config, sizeof config, "%s name=%s,key=client.%s%s%s%s%s %s %s %s", mons, user, user,
             o->options ? "," : "", o->options ? o->options : "", o->ns ? ",_pool_ns=" : "", o->ns ? o->ns : "",
             o->pool, image, snap);
    write_attributes(o, dir, config, image, snap, info);
    write_ro(id, at != NULL);
    if (make_link(o, id))
        return 1;
    printf("/dev/rbd%d\n", id);
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

/* 1 iff some process holds the node open, as the kernel's open count says */
static int node_is_open(const char *node)
{
    DIR *proc = opendir("/proc");
    struct dirent *p, *f;
    int open_ = 0;
    while (proc && !open_ && (p = readdir(proc))) {
        if (p->d_name[0] < '0' || p->d_name[0] > '9')
            continue;
        char fddir[300], link[600], target[PATH_MAX];
        snprintf(fddir, sizeof fddir, "/proc/%s/fd", p->d_name);
        DIR *fds = opendir(fddir);
        while (fds && !open_ && (f = readdir(fds))) {
            snprintf(link, sizeof link, "%s/%s", fddir, f->d_name);
            ssize_t n = readlink(link, target, sizeof target - 1);
            if (n > 0) {
                target[n] = '\0';
                open_ = strcmp(target, node) == 0;
            }
        }
        if (fds)
            closedir(fds);
    }
    if (proc)
        closedir(proc);
    return open_;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
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
    if (node_is_open(node)) {
        fprintf(stderr, "rbd: sysfs write failed\nrbd: unmap failed: (16) Device or resource busy\n");
        return 16;
    }
    unlink(node);
    snprintf(unmap_target, sizeof unmap_target, "%s", base);
    char dir[PATH_MAX * 2];
    snprintf(dir, sizeof dir, "%s/dev/rbd-pve", root);
    nftw(dir, drop_links, 16, FTW_PHYS);
    snprintf(dir, sizeof dir, "%s/dev/rbd", root);
    nftw(dir, drop_links, 16, FTW_PHYS);
    snprintf(dir, sizeof dir, "%s/sys/block/rbd%d", root, id);
    nftw(dir, remove_entry, 16, FTW_PHYS | FTW_DEPTH);
    snprintf(dir, sizeof dir, "%s/sys/devices/rbd/%d", root, id);
    nftw(dir, remove_entry, 16, FTW_PHYS | FTW_DEPTH);
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
