/* fuzz_sysfs.c - the kernel side read from a generated tree: the input
 * becomes the target of the udev link /dev/rbd-pve/FSID/pool1/vm-1-disk-0
 * (first line) and /sys/devices/rbd/0/config_info (the rest).  The
 * resolver must end (bounded length and link depth, no fixed arrays), a
 * device is only ever the kernel's rbd device N, and config_info only ever
 * yields its second field, with any secret=VALUE shown as secret=<hidden>. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "plugins/rbd.h"

#define FSID "00000000-1111-2222-3333-444444444444"

static pvs_ctx *ctx;
static char root[64];
static int can_mknod;

static void write_text(const char *rel, const char *text, size_t n)
{
    char p[256];
    snprintf(p, sizeof p, "%s%s", root, rel);
    FILE *f = fopen(p, "w");
    if (f) {
        fwrite(text, 1, n, f);
        fclose(f);
    }
}

/* every secret=... token of the options is secret=<hidden> */
static void check_no_secret(const char *opts)
{
    for (const char *p = opts; p && *p;) {
        size_t n = strcspn(p, ",");
        if (n >= 7 && strncmp(p, "secret=", 7) == 0 && !(n == 15 && strncmp(p, "secret=<hidden>", 15) == 0))
            abort();
        p += n + (p[n] == ',');
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    strcpy(root, "/tmp/pvs-fuzz-sysfs.XXXXXX");
    if (!mkdtemp(root))
        abort();
    char p[256];
    const char *dirs[] = { "/dev", "/dev/rbd-pve", "/dev/rbd-pve/" FSID, "/dev/rbd-pve/" FSID "/pool1",
                           "/sys", "/sys/devices", "/sys/devices/rbd", "/sys/devices/rbd/0", NULL };
    for (int i = 0; dirs[i]; i++) {
        snprintf(p, sizeof p, "%s%s", root, dirs[i]);
        mkdir(p, 0755);
    }
    snprintf(p, sizeof p, "%s/dev/rbd0", root);
    can_mknod = mknod(p, S_IFBLK | 0600, makedev(251, 0)) == 0;
    write_text("/sys/devices/rbd/0/major", "251\n", 4);
    write_text("/sys/devices/rbd/0/minor", "0\n", 2);
    ctx = pvs_ctx_new(NULL);
    pvs_ctx_set(ctx, "root", root, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    size_t tlen = nl ? (size_t)(nl - (const char *)data) : size;
    char *target = strndup((const char *)data, tlen);
    char link[256];
    snprintf(link, sizeof link, "%s/dev/rbd-pve/" FSID "/pool1/vm-1-disk-0", root);
    unlink(link);
    if (*target && symlink(target, link) != 0) {
        free(target);
        return 0;
    }
    free(target);
    write_text("/sys/devices/rbd/0/config_info", nl ? nl + 1 : "", nl ? size - tlen - 1 : 0);

    int id;
    pvs_error err = PVS_ERROR_INIT;
    int rc = rbd_device_state(ctx, "/dev/rbd-pve/" FSID "/pool1/vm-1-disk-0", &id, &err);
    if (rc == 1 && (!can_mknod || id != 0))
        abort();   /* only the one real rbd node counts */
    if (rc < 0 && !err.message)
        abort();
    pvs_error_clear(&err);
    char *opts = rbd_map_options(ctx, 0);
    if (opts && (strchr(opts, ' ') || strchr(opts, '\t') || strchr(opts, '\n')))
        abort();
    check_no_secret(opts);
    rbd_has_option(opts, "rxbounce");
    free(opts);
    /* the same parse on the whole input as one line */
    char *line = strndup((const char *)data, size);
    opts = rbd_config_info_options(line);
    check_no_secret(opts);
    free(opts);
    free(line);
    return 0;
}
