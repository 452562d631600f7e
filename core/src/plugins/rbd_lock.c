/* rbd_lock.c - check-then-map of one image is done by one process at a
 * time: two callers that both find an image unmapped would map it twice
 * (rbd0 and rbd1 for one image).  An flock(2) per image, under the root's
 * run directory; the lock goes with the file descriptor, so a crashed
 * holder never leaves it taken. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rbd.h"

#define LOCK_DIR "/run/pvestorage/lock"

/* Lock files are named by a hash of the key: any image name fits in a file
 * name, and two keys sharing a hash only ever wait for each other. */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc && errno != EEXIST)
            return -1;
    }
    return mkdir(path, 0755) && errno != EEXIST ? -1 : 0;
}

static int lock_one(pvs_ctx *ctx, const char *dir, uint64_t h, const char *name, int *fd_out,
                    pvs_error *err)
{
    char *path = pvs_asprintf("%s/rbd-%016llx.lock", dir, (unsigned long long)h);
    if (!path)
        return pvs_oom(err);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        pvs_fail(err, PVS_EIO, "unable to lock rbd volume %s: cannot open '%s': %s\n", name, path,
                 strerror(e));
        free(path);
        return PVS_EIO;
    }
    int rc = 0;
    while (!rc && flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR)
            rc = pvs_fail(err, PVS_EIO, "unable to lock rbd volume %s: '%s': %s\n", name, path,
                          strerror(errno));
        else if (pvs_call_left_ms(ctx) <= 0)
            rc = pvs_fail(err, PVS_ETIMEDOUT, "unable to lock rbd volume %s within ceph_timeout (%d s): "
                                              "another process holds '%s'\n", name, ctx->set->ceph_timeout,
                          path);
        else
            usleep(5000);
    }
    free(path);
    if (rc)
        close(fd);
    else
        *fd_out = fd;
    return rc;
}

int rbd_lock_images(pvs_ctx *ctx, const char *const *keys, const char *const *names, size_t n,
                    rbd_locks *l, pvs_error *err)
{
    l->fds = NULL;
    l->n = 0;
    uint64_t *h = calloc(n ? n * 2 : 1, sizeof *h);   /* hashes, then the sorted unique ones */
    char *dir = pvs_host_path(ctx, LOCK_DIR);
    l->fds = calloc(n ? n : 1, sizeof *l->fds);
    int rc = h && dir && l->fds ? 0 : pvs_oom(err);
    if (!rc && mkdirs(dir) != 0)
        rc = pvs_fail(err, PVS_EIO, "unable to lock rbd volume %s: cannot create '%s': %s\n",
                      n ? names[0] : "", dir, strerror(errno));
    size_t m = 0;
    for (size_t i = 0; !rc && i < n; i++)
        h[n + i] = h[i] = fnv1a(keys[i]);
    if (!rc) {
        qsort(h + n, n, sizeof *h, cmp_u64);
        for (size_t i = 0; i < n; i++)
            if (i == 0 || h[n + i] != h[n + i - 1])
                h[n + m++] = h[n + i];
    }
    for (size_t k = 0; !rc && k < m; k++) {
        size_t who = 0;   /* a volume of this hash, for the message */
        while (h[who] != h[n + k])
            who++;
        if (!(rc = lock_one(ctx, dir, h[n + k], names[who], &l->fds[l->n], err)))
            l->n++;
    }
    free(h);
    free(dir);
    if (rc)
        rbd_unlock_images(l);
    return rc;
}

void rbd_unlock_images(rbd_locks *l)
{
    for (size_t i = 0; i < l->n; i++)
        close(l->fds[i]);
    free(l->fds);
    l->fds = NULL;
    l->n = 0;
}
