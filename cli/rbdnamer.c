/* pvestorage-rbdnamer - the name udev gives a kernel RBD device under
 * /dev/rbd-pve, as Proxmox's rule names it: FSID/POOL[/NAMESPACE]/IMAGE[@SNAP]
 * from /sys/devices/rbd/N/.  udev runs it as PROGRAM="... %k" with the kernel
 * name (rbd0, or rbd0p1 for a partition: the rule adds -part%n).
 *
 *   pvestorage-rbdnamer [--root DIR] rbdN[pM]
 *
 * Prints the name and a newline, exit status 0.  Anything it cannot name
 * safely (a name that is not rbdN[pM], a missing device or attribute, a
 * value that is empty, too long, or holds a '/', white space, a control
 * character or a NUL byte) is said on standard error with exit status 1 and
 * nothing on standard output: udev then makes no link rather than a wrong
 * one (udev would split a name at white space into several links).
 * Usage errors exit 2.  No dependency but libc: it runs from udev. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VALUE_MAX 4096

/* N of "rbdN" or "rbdNpM", or -1 */
static long device_number(const char *kname)
{
    if (strncmp(kname, "rbd", 3) != 0)
        return -1;
    const char *p = kname + 3;
    size_t n = strspn(p, "0123456789");
    if (n == 0 || n > 9 || (p[n] != '\0' && p[n] != 'p'))
        return -1;
    if (p[n] == 'p') {
        size_t m = strspn(p + n + 1, "0123456789");
        if (m == 0 || m > 9 || p[n + 1 + m] != '\0')
            return -1;
    }
    return strtol(p, NULL, 10);
}

/* The attribute's one line, or NULL (said why); *missing when it does not exist. */
static char *attribute(const char *root, long id, const char *name, int *missing)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/sys/devices/rbd/%ld/%s", root, id, name);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    *missing = fd < 0 && errno == ENOENT;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (!*missing)
            fprintf(stderr, "pvestorage-rbdnamer: %s: %s\n", path, fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char *buf = malloc(VALUE_MAX + 2);
    ssize_t n = buf ? read(fd, buf, VALUE_MAX + 1) : -1;
    close(fd);
    if (n < 0 || n > VALUE_MAX) {
        fprintf(stderr, "pvestorage-rbdnamer: %s: %s\n", path, n < 0 ? "cannot read" : "value too long");
        free(buf);
        return NULL;
    }
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    buf[n] = '\0';
    if (strlen(buf) != (size_t)n) {
        fprintf(stderr, "pvestorage-rbdnamer: %s: holds a NUL byte\n", path);
        free(buf);
        return NULL;
    }
    return buf;
}

/* 1 iff v can be one path component of a udev link name */
static int usable(const char *name, const char *v, int may_be_empty)
{
    const char *why = !*v && !may_be_empty ? "is empty" : NULL;
    for (const unsigned char *p = (const unsigned char *)v; *p && !why; p++)
        if (*p == '/')
            why = "holds a '/'";
        else if (*p <= ' ' || *p == 0x7f)
            why = "holds white space or a control character";
    if (why)
        fprintf(stderr, "pvestorage-rbdnamer: %s %s\n", name, why);
    return !why;
}

int main(int argc, char **argv)
{
    const char *root = "";
    if (argc == 4 && strcmp(argv[1], "--root") == 0)
        root = argv[2];
    else if (argc != 2) {
        fprintf(stderr, "usage: pvestorage-rbdnamer [--root DIR] rbdN[pM]\n");
        return 2;
    }
    const char *kname = argv[argc - 1];
    long id = device_number(kname);
    if (id < 0) {
        fprintf(stderr, "pvestorage-rbdnamer: '%s' is not a kernel rbd device name (rbdN or rbdNpM)\n", kname);
        return 1;
    }
    static const char *const names[] = { "cluster_fsid", "pool", "pool_ns", "name", "current_snap" };
    char *v[5] = { NULL };
    int ok = 1;
    for (int i = 0; i < 5 && ok; i++) {
        int missing;
        v[i] = attribute(root, id, names[i], &missing);
        if (!v[i] && missing && i == 2)
            v[i] = strdup("");   /* a kernel before namespaces */
        else if (!v[i] && missing)
            fprintf(stderr, "pvestorage-rbdnamer: %s: no such device or attribute %s\n", kname, names[i]);
        ok = v[i] && usable(names[i], v[i], i == 2);
    }
    if (ok)
        printf("%s/%s%s%s/%s%s%s\n", v[0], v[1], *v[2] ? "/" : "", v[2], v[3], strcmp(v[4], "-") ? "@" : "",
               strcmp(v[4], "-") ? v[4] : "");
    for (int i = 0; i < 5; i++)
        free(v[i]);
    return ok && fflush(stdout) == 0 ? 0 : 1;
}
