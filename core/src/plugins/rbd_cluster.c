/* rbd_cluster.c - librados/librbd: one cached connection per storage,
 * the cluster FSID, image features brought in line with the kernel. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

#include "rbd.h"

typedef struct conn {
    char *key;            /* storeid and every connection parameter */
    rados_t cluster;
} conn;

typedef struct rbd_state {
    conn *v;
    size_t n, cap;
} rbd_state;

void pvs_rbd_state_free(void *p)
{
    rbd_state *s = p;
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        rados_shutdown(s->v[i].cluster);
        free(s->v[i].key);
    }
    free(s->v);
    free(s);
}

static const char *strerr(int rc, char *buf, size_t size)
{
    snprintf(buf, size, "(%d) %s", -rc, strerror(-rc));
    return buf;
}

static int conf_set(rados_t c, const char *k, const char *v)
{
    return v ? rados_conf_set(c, k, v) : 0;
}

static int connect_cluster(pvs_ctx *ctx, const char *storeid, const rbd_opts *o, rados_t *out,
                           pvs_error *err)
{
    char name[256], timeout[16], eb[128];
    snprintf(name, sizeof name, "client.%s", o->user);
    snprintf(timeout, sizeof timeout, "%d", ctx->ceph_timeout);
    rados_t c;
    int rc = rados_create2(&c, "ceph", name, 0);
    if (rc < 0)
        return pvs_fail(err, PVS_ECLUSTER, "rbd error: cannot create a cluster handle for storage '%s': %s\n",
                        storeid, strerr(rc, eb, sizeof eb));
    /* nothing from the default search path: only what the storage says */
    if (o->conf && (rc = rados_conf_read_file(c, o->conf)) < 0) {
        rados_shutdown(c);
        return pvs_fail(err, PVS_ECLUSTER, "rbd error: cannot read '%s': %s\n", o->conf,
                        strerr(rc, eb, sizeof eb));
    }
    if ((rc = conf_set(c, "mon_host", o->mon_host)) < 0 || (rc = conf_set(c, "keyring", o->keyring)) < 0
        || (rc = rados_conf_set(c, "auth_client_required", o->auth)) < 0
        || (rc = rados_conf_set(c, "client_mount_timeout", timeout)) < 0
        || (rc = rados_conf_set(c, "rados_mon_op_timeout", timeout)) < 0
        || (rc = rados_conf_set(c, "rados_osd_op_timeout", timeout)) < 0
        || (rc = rados_conf_set(c, "log_to_stderr", "false")) < 0
        || (rc = rados_conf_set(c, "err_to_stderr", "false")) < 0
        || (rc = rados_conf_set(c, "log_file", "")) < 0
        /* no client cache: we only read metadata, and opening is cheaper without it */
        || (rc = rados_conf_set(c, "rbd_cache", "false")) < 0) {
        rados_shutdown(c);
        return pvs_fail(err, PVS_ECLUSTER, "rbd error: bad connection settings for storage '%s': %s\n",
                        storeid, strerr(rc, eb, sizeof eb));
    }
    if ((rc = rados_connect(c)) < 0) {
        rados_shutdown(c);
        return pvs_fail(err, rc == -ETIMEDOUT ? PVS_ETIMEDOUT : PVS_ECLUSTER,
                        "rbd error: cannot connect to the cluster of storage '%s': %s\n", storeid,
                        strerr(rc, eb, sizeof eb));
    }
    *out = c;
    return 0;
}

/* The cached connection of a storage, made on first use. */
static int get_cluster(pvs_ctx *ctx, const char *storeid, const rbd_opts *o, rados_t *out,
                       pvs_error *err)
{
    char *key = pvs_asprintf("%s\n%s\n%s\n%s\n%s\n%s", storeid, o->conf ? o->conf : "",
                             o->mon_host ? o->mon_host : "", o->keyring ? o->keyring : "", o->auth,
                             o->user);
    if (!key)
        return pvs_oom(err);
    pthread_mutex_lock(&ctx->lock);
    rbd_state *s = ctx->rbd_state;
    for (size_t i = 0; s && i < s->n; i++)
        if (strcmp(s->v[i].key, key) == 0) {
            *out = s->v[i].cluster;
            pthread_mutex_unlock(&ctx->lock);
            free(key);
            return 0;
        }
    pthread_mutex_unlock(&ctx->lock);

    /* connect without the lock: other storages need not wait for this one */
    rados_t c;
    int rc = connect_cluster(ctx, storeid, o, &c, err);
    if (rc) {
        free(key);
        return rc;
    }
    pthread_mutex_lock(&ctx->lock);
    s = ctx->rbd_state;
    if (!s)
        s = ctx->rbd_state = calloc(1, sizeof *s);
    for (size_t i = 0; s && i < s->n; i++)
        if (strcmp(s->v[i].key, key) == 0) {   /* another thread was faster */
            *out = s->v[i].cluster;
            pthread_mutex_unlock(&ctx->lock);
            rados_shutdown(c);
            free(key);
            return 0;
        }
    if (s && s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        conn *v = realloc(s->v, cap * sizeof *v);
        if (v) {
            s->v = v;
            s->cap = cap;
        }
    }
    if (!s || s->n == s->cap) {
        pthread_mutex_unlock(&ctx->lock);
        rados_shutdown(c);
        free(key);
        return pvs_oom(err);
    }
    s->v[s->n].key = key;
    s->v[s->n].cluster = c;
    s->n++;
    pthread_mutex_unlock(&ctx->lock);
    *out = c;
    return 0;
}

/* [global] fsid of a ceph.conf (keys may use blanks or underscores) */
static char *conf_fsid(const char *path)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return NULL;
    char line[1024], *fsid = NULL;
    int global = 0;
    while (!fsid && fgets(line, sizeof line, f)) {
        char *p = line + strspn(line, " \t");
        p[strcspn(p, "\r\n#;")] = '\0';
        if (*p == '[') {
            global = strncmp(p, "[global]", 8) == 0;
            continue;
        }
        if (!global || strncmp(p, "fsid", 4) != 0)
            continue;
        p += 4;
        p += strspn(p, " \t");
        if (*p != '=')
            continue;
        p++;
        p += strspn(p, " \t");
        size_t n = strcspn(p, " \t");
        fsid = strndup(p, n);
    }
    fclose(f);
    return fsid;
}

static int valid_fsid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
            return 0;
    }
    return 1;
}

int rbd_cluster_fsid(pvs_ctx *ctx, const char *storeid, const json_t *scfg, const rbd_opts *o,
                     char fsid[37], pvs_error *err)
{
    const char *given = pvs_scfg_str(scfg, "fsid");
    char *found = NULL;
    char buf[64];
    if (!given && !o->mon_host)
        given = found = conf_fsid(o->conf);   /* a managed cluster: its ceph.conf */
    if (!given) {
        rados_t c;
        int rc = get_cluster(ctx, storeid, o, &c, err);
        if (rc)
            return rc;
        rc = rados_cluster_fsid(c, buf, sizeof buf);
        if (rc < 0) {
            char eb[128];
            return pvs_fail(err, PVS_ECLUSTER, "rbd error: cannot get the cluster fsid of storage '%s': %s\n",
                            storeid, strerr(rc, eb, sizeof eb));
        }
        given = buf;
    }
    int ok = valid_fsid(given);
    if (ok) {
        for (int i = 0; i < 36; i++)
            fsid[i] = (char)(given[i] >= 'A' && given[i] <= 'F' ? given[i] - 'A' + 'a' : given[i]);
        fsid[36] = '\0';
    }
    free(found);
    return ok ? 0 : pvs_fail(err, PVS_EINVAL, "cluster fsid has invalid format\n");
}

static const struct { uint64_t bit; const char *name; } feature_names[] = {
    { RBD_FEATURE_EXCLUSIVE_LOCK, "exclusive-lock" },
    { RBD_FEATURE_OBJECT_MAP, "object-map" },
    { RBD_FEATURE_FAST_DIFF, "fast-diff" },
    { RBD_FEATURE_DEEP_FLATTEN, "deep-flatten" },
};

static void feature_list(uint64_t mask, const uint64_t *order, size_t n, strbuf *sb)
{
    for (size_t i = 0; i < n; i++) {
        if (!(mask & order[i]))
            continue;
        for (size_t k = 0; k < sizeof feature_names / sizeof feature_names[0]; k++)
            if (feature_names[k].bit == order[i]) {
                if (sb->len)
                    sb_add(sb, ",");
                sb_add(sb, feature_names[k].name);
            }
    }
}

/* The features the running kernel's krbd wants on and off. */
static void kernel_features(const pvs_ctx *ctx, uint64_t *enable, uint64_t *disable)
{
    int ma = ctx->kernel_major, mi = ctx->kernel_minor;
    *enable = *disable = 0;
    if (ma > 5 || (ma == 5 && mi >= 3))
        *enable |= RBD_FEATURE_FAST_DIFF | RBD_FEATURE_OBJECT_MAP;   /* deep-flatten cannot come back */
    else
        *disable |= RBD_FEATURE_FAST_DIFF | RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_DEEP_FLATTEN;
    if (ma >= 5)
        *enable |= RBD_FEATURE_EXCLUSIVE_LOCK;
    else
        *disable |= RBD_FEATURE_EXCLUSIVE_LOCK;
}

/* Check an image opened read-only: *change is set when its features differ
 * from what the kernel wants. */
static int check_open_image(pvs_ctx *ctx, rbd_image_t img, const char *image, const char *snapname,
                            int *change, pvs_error *err)
{
    char eb[128];
    uint64_t features = 0, enable, disable;
    bool snap_exists = true;
    int rc = rbd_get_features(img, &features);
    if (rc >= 0 && snapname)
        rc = rbd_snap_exists(img, snapname, &snap_exists);
    if (rc < 0)
        return pvs_fail(err, PVS_ECLUSTER, "rbd error: rbd: error reading image %s: %s\n", image,
                        strerr(rc, eb, sizeof eb));
    if (!snap_exists)
        return pvs_fail(err, PVS_ENOENT, "rbd error: rbd: error setting snapshot context: "
                                         "(2) No such file or directory (snapshot '%s' of image %s)\n",
                        snapname, image);
    kernel_features(ctx, &enable, &disable);
    *change = (disable & features) || (enable & ~features);
    return 0;
}

/* Bring the features of an image in line with the kernel (opened for writing). */
static int update_image(pvs_ctx *ctx, rados_ioctx_t io, const char *image, pvs_error *err)
{
    char eb[128];
    rbd_image_t img;
    int rc = rbd_open(io, image, &img, NULL);
    if (rc < 0)
        return pvs_fail(err, rc == -ENOENT ? PVS_ENOENT : PVS_ECLUSTER,
                        "rbd error: rbd: error opening image %s: %s\n", image, strerr(rc, eb, sizeof eb));
    uint64_t features = 0, enable, disable;
    rbd_get_features(img, &features);
    kernel_features(ctx, &enable, &disable);
    uint64_t to_disable = disable & features, to_enable = enable & ~features;
    static const uint64_t disable_order[] = { RBD_FEATURE_FAST_DIFF, RBD_FEATURE_OBJECT_MAP,
                                              RBD_FEATURE_DEEP_FLATTEN, RBD_FEATURE_EXCLUSIVE_LOCK };
    static const uint64_t enable_order[] = { RBD_FEATURE_EXCLUSIVE_LOCK, RBD_FEATURE_OBJECT_MAP,
                                             RBD_FEATURE_FAST_DIFF };
    rc = 0;
    int r;
    if (to_disable && (r = rbd_update_features(img, to_disable, 0)) < 0) {
        strbuf sb;
        sb_init(&sb);
        feature_list(to_disable, disable_order, 4, &sb);
        rc = pvs_fail(err, PVS_ECLUSTER,
                      "could not disable krbd-incompatible image features '%s' for rbd image: %s: %s\n",
                      sb.s ? sb.s : "", image, strerr(r, eb, sizeof eb));
        sb_free(&sb);
    }
    if (!rc && to_enable && (r = rbd_update_features(img, to_enable, 1)) < 0) {
        /* the kernel copes without them: warn, as Proxmox does */
        strbuf sb;
        sb_init(&sb);
        feature_list(to_enable, enable_order, 3, &sb);
        pvs_warn(ctx, "could not enable RBD image features '%s' for rbd image: %s: %s\n",
                 sb.s ? sb.s : "", image, strerr(r, eb, sizeof eb));
        sb_free(&sb);
    }
    rbd_close(img);
    return rc;
}

enum { OIDLEN = 512 };

/* One rbd object-class call on each object whose status is still 0, all in
 * flight at once; status[i] becomes the call's result (bytes or -errno). */
static void exec_all(rados_ioctx_t io, size_t n, char (*oids)[OIDLEN], const char *method, const char *in,
                     size_t inlen, char *out, size_t outlen, int *status, rados_completion_t *c)
{
    for (size_t i = 0; i < n; i++) {
        c[i] = NULL;
        if (status[i])
            continue;
        status[i] = rados_aio_create_completion2(NULL, NULL, &c[i]);
        if (!status[i])
            status[i] = rados_aio_exec(io, oids[i], c[i], "rbd", method, in, inlen, out + i * outlen, outlen);
    }
    for (size_t i = 0; i < n; i++) {
        if (!c[i])
            continue;
        if (!status[i]) {
            rados_aio_wait_for_complete(c[i]);
            status[i] = rados_aio_get_return_value(c[i]);
        }
        rados_aio_release(c[i]);
        c[i] = NULL;
    }
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int b = 7; b >= 0; b--)
        v = v << 8 | p[b];
    return v;
}

/* Image features read without opening the image: the rbd object class on
 * rbd_id.NAME (get_id) and rbd_header.ID (get_features), for all images at
 * once.  An image open costs a full librbd ImageCtx (about a millisecond of
 * CPU each); these are two small reads.  status[i]: 0 and features[i] set,
 * -ENOENT for a missing image, another error: ask librbd instead. */
static void peek_features(rados_ioctx_t io, const char *const *images, size_t n, uint64_t *features,
                          int *status)
{
    enum { IDLEN = 128 };
    char (*oids)[OIDLEN] = calloc(n, OIDLEN);
    unsigned char *out = calloc(n, IDLEN);
    rados_completion_t *c = calloc(n, sizeof *c);
    for (size_t i = 0; i < n; i++)
        status[i] = oids && out && c ? 0 : -ENOMEM;
    if (!oids || !out || !c)
        goto done;
    for (size_t i = 0; i < n; i++)
        snprintf(oids[i], OIDLEN, "rbd_id.%s", images[i]);
    exec_all(io, n, oids, "get_id", NULL, 0, (char *)out, IDLEN, status, c);
    for (size_t i = 0; i < n; i++) {
        if (status[i] < 0)
            continue;
        /* the id: a u32 length (little endian) and the bytes */
        const unsigned char *o = out + i * IDLEN;
        uint32_t len = (uint32_t)o[0] | (uint32_t)o[1] << 8 | (uint32_t)o[2] << 16 | (uint32_t)o[3] << 24;
        if (status[i] < 4 || len == 0 || len + 4 > (uint32_t)status[i] || len + 4 >= IDLEN) {
            status[i] = -EINVAL;
            continue;
        }
        snprintf(oids[i], OIDLEN, "rbd_header.%.*s", (int)len, (const char *)o + 4);
        status[i] = 0;
    }
    /* get_features(snap_id = CEPH_NOSNAP, read_only = true): features, incompatible */
    static const char in[9] = { (char)0xfe, (char)0xff, (char)0xff, (char)0xff, (char)0xff,
                                (char)0xff, (char)0xff, (char)0xff, 1 };
    exec_all(io, n, oids, "get_features", in, sizeof in, (char *)out, IDLEN, status, c);
    for (size_t i = 0; i < n; i++) {
        if (status[i] >= 0 && status[i] < 8)
            status[i] = -EINVAL;
        if (status[i] < 0)
            continue;
        features[i] = le64(out + i * IDLEN);
        status[i] = 0;
    }
done:
    free(oids);
    free(out);
    free(c);
}

int rbd_sync_features(pvs_ctx *ctx, const char *storeid, const rbd_opts *o,
                      const char *const *images, size_t n, const char *snapname, pvs_error *err)
{
    if (n == 0)
        return 0;
    rados_t c;
    int rc = get_cluster(ctx, storeid, o, &c, err);
    if (rc)
        return rc;
    char eb[128];
    rados_ioctx_t io;
    if ((rc = rados_ioctx_create(c, o->pool, &io)) < 0)
        return pvs_fail(err, rc == -ENOENT ? PVS_ENOENT : PVS_ECLUSTER,
                        "rbd error: rbd: error opening pool '%s': %s\n", o->pool, strerr(rc, eb, sizeof eb));
    if (o->namespace_)
        rados_ioctx_set_namespace(io, o->namespace_);

    uint64_t *features = calloc(n, sizeof *features), enable, disable;
    int *status = calloc(n, sizeof *status), *change = calloc(n, sizeof *change);
    rbd_image_t *imgs = calloc(n, sizeof *imgs);
    rbd_completion_t *comps = calloc(n, sizeof *comps);
    int *opened = calloc(n, sizeof *opened);
    if (!features || !status || !change || !imgs || !comps || !opened) {
        rc = pvs_oom(err);
        goto out;
    }
    kernel_features(ctx, &enable, &disable);
    peek_features(io, images, n, features, status);

    /* librbd itself for whatever the peek could not tell (and for snapshots,
     * whose existence only an open image answers): opened all at once,
     * read-only, so no watch is registered */
    for (size_t i = 0; i < n; i++) {
        opened[i] = 1;   /* not opened */
        if (status[i] == 0 && !snapname) {
            change[i] = (disable & features[i]) || (enable & ~features[i]);
            continue;
        }
        if (status[i] == -ENOENT)
            continue;
        opened[i] = rbd_aio_create_completion(NULL, NULL, &comps[i]);
        if (opened[i] == 0)
            opened[i] = rbd_aio_open_read_only(io, images[i], &imgs[i], NULL, comps[i]);
        if (opened[i] < 0 && comps[i]) {
            rbd_aio_release(comps[i]);
            comps[i] = NULL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!comps[i])
            continue;
        rbd_aio_wait_for_complete(comps[i]);
        opened[i] = (int)rbd_aio_get_return_value(comps[i]);
        rbd_aio_release(comps[i]);
        comps[i] = NULL;
    }
    /* the first problem in the caller's order is the one reported */
    for (size_t i = 0; i < n && !rc; i++) {
        int missing = status[i] == -ENOENT ? -ENOENT : (opened[i] < 0 ? opened[i] : 0);
        if (missing)
            rc = pvs_fail(err, missing == -ENOENT ? PVS_ENOENT : PVS_ECLUSTER,
                          "rbd error: rbd: error opening image %s: %s\n", images[i],
                          strerr(missing, eb, sizeof eb));
        else if (opened[i] == 0)
            rc = check_open_image(ctx, imgs[i], images[i], snapname, &change[i], err);
    }
    for (size_t i = 0; i < n; i++)
        if (opened[i] == 0 && rbd_aio_create_completion(NULL, NULL, &comps[i]) == 0
            && rbd_aio_close(imgs[i], comps[i]) < 0) {
            rbd_aio_release(comps[i]);
            comps[i] = NULL;
            rbd_close(imgs[i]);
        }
    for (size_t i = 0; i < n; i++)
        if (opened[i] == 0 && comps[i]) {
            rbd_aio_wait_for_complete(comps[i]);
            rbd_aio_release(comps[i]);
        }
    /* the few that need a change are opened for writing, one by one */
    for (size_t i = 0; i < n && !rc; i++)
        if (change[i])
            rc = update_image(ctx, io, images[i], err);
out:
    free(features);
    free(status);
    free(change);
    free(imgs);
    free(comps);
    free(opened);
    rados_ioctx_destroy(io);
    return rc;
}
