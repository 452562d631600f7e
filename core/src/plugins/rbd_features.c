/* rbd_features.c - image features brought in line with the running kernel's
 * krbd (SPEC §5 rbd, step 3): read for many images at once, changed one
 * image at a time, each step a bounded job (see rbd_cluster.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbd.h"

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
    int ma = ctx->set->kernel_major, mi = ctx->set->kernel_minor;
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

/* ---- reading: a job for all images ---- */

typedef struct read_job {
    rbd_job j;
    rbd_conn *c;
    char *pool, *ns, *snap;
    char **images;
    size_t n;
    uint64_t enable, disable;
    rbd_feat *feats;      /* n results */
    pvs_error err;        /* for all of them (the pool) */
} read_job;

static void read_release(rbd_job *j)
{
    read_job *r = (read_job *)j;
    for (size_t i = 0; i < r->n; i++) {
        free(r->images ? r->images[i] : NULL);
        if (r->feats)
            pvs_error_clear(&r->feats[i].err);
    }
    free(r->images);
    free(r->feats);
    free(r->pool);
    free(r->ns);
    free(r->snap);
    pvs_error_clear(&r->err);
    rbd_conn_put(r->c);
    free(r);
}

int rbd_open_ioctx(rbd_conn *c, const char *pool, const char *ns, rados_ioctx_t *io, pvs_error *err)
{
    char eb[128];
    int rc = rados_ioctx_create(c->cluster, pool, io);
    if (rc < 0)
        return pvs_fail(err, rc == -ENOENT ? PVS_ENOENT : rc == -ETIMEDOUT ? PVS_ETIMEDOUT : PVS_ECLUSTER,
                        "rbd error: rbd: error opening pool '%s': %s\n", pool, rbd_strerr(rc, eb, sizeof eb));
    if (ns)
        rados_ioctx_set_namespace(*io, ns);
    return 0;
}

static void image_error(rbd_feat *f, int rc, const char *what, const char *image)
{
    char eb[128];
    pvs_fail(&f->err, rc == -ENOENT ? PVS_ENOENT : rc == -ETIMEDOUT ? PVS_ETIMEDOUT : PVS_ECLUSTER,
             "rbd error: rbd: error %s image %s: %s\n", what, image, rbd_strerr(rc, eb, sizeof eb));
}

/* An image librbd opened read-only: its features, and the snapshot's existence. */
static void check_open_image(read_job *r, size_t i, rbd_image_t img)
{
    uint64_t features = 0;
    bool snap_exists = true;
    int rc = rbd_get_features(img, &features);
    if (rc >= 0 && r->snap)
        rc = rbd_snap_exists(img, r->snap, &snap_exists);
    if (rc < 0)
        image_error(&r->feats[i], rc, "reading", r->images[i]);
    else if (!snap_exists)
        pvs_fail(&r->feats[i].err, PVS_ENOENT, "rbd error: rbd: error setting snapshot context: "
                                               "(2) No such file or directory (snapshot '%s' of image %s)\n",
                 r->snap, r->images[i]);
    else
        r->feats[i].change = (r->disable & features) || (r->enable & ~features);
}

/* librbd itself for what the object-class peek could not tell (and for
 * snapshots, whose existence only an open image answers): all opened at
 * once, read-only, so no watch is registered. */
static void read_with_librbd(read_job *r, rados_ioctx_t io, const int *status)
{
    size_t n = r->n;
    rbd_image_t *imgs = calloc(n, sizeof *imgs);
    rbd_completion_t *comps = calloc(n, sizeof *comps);
    int *opened = calloc(n, sizeof *opened);
    for (size_t i = 0; imgs && comps && opened && i < n; i++) {
        opened[i] = 1;   /* not asked */
        if ((status[i] == 0 && !r->snap) || status[i] == -ENOENT || status[i] == -ETIMEDOUT)
            continue;   /* answered by the peek */
        opened[i] = rbd_aio_create_completion(NULL, NULL, &comps[i]);
        if (opened[i] == 0)
            opened[i] = rbd_aio_open_read_only(io, r->images[i], &imgs[i], NULL, comps[i]);
        if (opened[i] < 0 && comps[i]) {
            rbd_aio_release(comps[i]);
            comps[i] = NULL;
        }
    }
    for (size_t i = 0; imgs && comps && opened && i < n; i++) {
        if (comps[i]) {
            rbd_aio_wait_for_complete(comps[i]);
            opened[i] = (int)rbd_aio_get_return_value(comps[i]);
            rbd_aio_release(comps[i]);
        }
        if (opened[i] < 0)
            image_error(&r->feats[i], opened[i], "opening", r->images[i]);
        else if (opened[i] == 0) {
            check_open_image(r, i, imgs[i]);
            rbd_close(imgs[i]);
        }
    }
    if (!imgs || !comps || !opened)
        for (size_t i = 0; i < n; i++)
            pvs_oom(&r->feats[i].err);
    free(imgs);
    free(comps);
    free(opened);
}

static void read_run(rbd_job *j)
{
    read_job *r = (read_job *)j;
    rados_ioctx_t io;
    if (rbd_open_ioctx(r->c, r->pool, r->ns, &io, &r->err))
        return;
    uint64_t *features = calloc(r->n, sizeof *features);
    int *status = calloc(r->n, sizeof *status);
    if (!features || !status) {
        pvs_oom(&r->err);
    } else {
        peek_features(io, (const char *const *)r->images, r->n, features, status);
        for (size_t i = 0; i < r->n; i++) {
            if (status[i] == -ENOENT)
                image_error(&r->feats[i], -ENOENT, "opening", r->images[i]);
            else if (status[i] == -ETIMEDOUT)
                image_error(&r->feats[i], -ETIMEDOUT, "reading", r->images[i]);
            else if (status[i] == 0 && !r->snap)
                r->feats[i].change = (r->disable & features[i]) || (r->enable & ~features[i]);
        }
        read_with_librbd(r, io, status);
    }
    free(features);
    free(status);
    rados_ioctx_destroy(io);
}

static read_job *read_job_new(pvs_ctx *ctx, const rbd_opts *o, const char *const *images, size_t n,
                              const char *snapname)
{
    read_job *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    rbd_job_init(&r->j, read_run, read_release);
    r->err.exit_status = -1;
    r->n = n;
    r->images = calloc(n, sizeof *r->images);
    r->feats = calloc(n, sizeof *r->feats);
    r->pool = strdup(o->pool);
    r->ns = pvs_strdup(o->namespace_);
    r->snap = pvs_strdup(snapname);
    int bad = !r->images || !r->feats || !r->pool || (o->namespace_ && !r->ns) || (snapname && !r->snap);
    for (size_t i = 0; !bad && i < n; i++) {
        r->feats[i].err.exit_status = -1;
        bad = !(r->images[i] = strdup(images[i]));
    }
    kernel_features(ctx, &r->enable, &r->disable);
    if (bad) {
        rbd_job_put(&r->j);
        return NULL;
    }
    return r;
}

int rbd_read_features(pvs_ctx *ctx, const char *storeid, const rbd_opts *o, const char *const *images,
                      size_t n, const char *snapname, rbd_feat *feats, pvs_error *err)
{
    if (n == 0)
        return 0;
    read_job *r = read_job_new(ctx, o, images, n, snapname);
    if (!r)
        return pvs_oom(err);
    int rc = rbd_conn_get(ctx, storeid, o, &r->c, err);
    if (!rc && (rc = rbd_job_wait(ctx, &r->j))) {
        rbd_conn_drop(o, r->c);   /* it hangs: the next call connects anew */
        rc = rbd_timeout_error(ctx, "reading image features", storeid, err);
    }
    if (!rc && r->err.code)
        rc = r->err.code, pvs_error_move(err, &r->err);
    for (size_t i = 0; !rc && i < n; i++) {
        feats[i].change = r->feats[i].change;
        pvs_error_move(&feats[i].err, &r->feats[i].err);
    }
    rbd_job_put(&r->j);
    return rc;
}

/* ---- changing: a job per image ---- */

typedef struct update_job {
    rbd_job j;
    rbd_conn *c;
    char *pool, *ns, *image;
    uint64_t enable, disable;
    char *warning;                /* a failed enable: warned by the caller */
    char *disabling, *enabling;   /* the features changed, as upstream prints them */
    pvs_error err;
} update_job;

static void update_release(rbd_job *j)
{
    update_job *u = (update_job *)j;
    rbd_conn_put(u->c);
    free(u->pool);
    free(u->ns);
    free(u->image);
    free(u->warning);
    free(u->disabling);
    free(u->enabling);
    pvs_error_clear(&u->err);
    free(u);
}

static const uint64_t disable_order[] = { RBD_FEATURE_FAST_DIFF, RBD_FEATURE_OBJECT_MAP,
                                          RBD_FEATURE_DEEP_FLATTEN, RBD_FEATURE_EXCLUSIVE_LOCK };
static const uint64_t enable_order[] = { RBD_FEATURE_FAST_DIFF, RBD_FEATURE_OBJECT_MAP,
                                         RBD_FEATURE_EXCLUSIVE_LOCK };

static char *features_text(uint64_t mask, const uint64_t *order, size_t n)
{
    strbuf sb;
    sb_init(&sb);
    feature_list(mask, order, n, &sb);
    return sb_take(&sb);
}

static void update_run(rbd_job *j)
{
    update_job *u = (update_job *)j;
    char eb[128];
    rados_ioctx_t io;
    if (rbd_open_ioctx(u->c, u->pool, u->ns, &io, &u->err))
        return;
    rbd_image_t img;
    int rc = rbd_open(io, u->image, &img, NULL);
    if (rc < 0) {
        pvs_fail(&u->err, rc == -ENOENT ? PVS_ENOENT : PVS_ECLUSTER, "rbd error: rbd: error opening image %s: %s\n",
                 u->image, rbd_strerr(rc, eb, sizeof eb));
        rados_ioctx_destroy(io);
        return;
    }
    uint64_t features = 0;
    rbd_get_features(img, &features);
    uint64_t disabled = u->disable & features, enabled = u->enable & ~features;
    u->disabling = disabled ? features_text(disabled, disable_order, 4) : NULL;
    if (disabled && (rc = rbd_update_features(img, disabled, 0)) < 0) {
        pvs_fail(&u->err, PVS_ECLUSTER, "could not disable krbd-incompatible image features '%s' for rbd "
                                        "image: %s: %s\n", u->disabling ? u->disabling : "", u->image,
                 rbd_strerr(rc, eb, sizeof eb));
    } else if (enabled) {
        u->enabling = features_text(enabled, enable_order, 3);
        /* the kernel copes without them: a warning, as Proxmox's */
        if ((rc = rbd_update_features(img, enabled, 1)) < 0)
            u->warning = pvs_asprintf("could not enable krbd-compatible image features '%s' for rbd image: "
                                      "%s: %s\n", u->enabling ? u->enabling : "", u->image,
                                      rbd_strerr(rc, eb, sizeof eb));
    }
    rbd_close(img);
    rados_ioctx_destroy(io);
}

int rbd_change_features(pvs_ctx *ctx, const char *storeid, const rbd_opts *o, const char *image,
                        pvs_error *err)
{
    update_job *u = calloc(1, sizeof *u);
    if (!u)
        return pvs_oom(err);
    rbd_job_init(&u->j, update_run, update_release);
    u->err.exit_status = -1;
    u->pool = strdup(o->pool);
    u->ns = pvs_strdup(o->namespace_);
    u->image = strdup(image);
    kernel_features(ctx, &u->enable, &u->disable);
    int rc;
    if (!u->pool || !u->image || (o->namespace_ && !u->ns))
        rc = pvs_oom(err);
    else if (!(rc = rbd_conn_get(ctx, storeid, o, &u->c, err)) && (rc = rbd_job_wait(ctx, &u->j))) {
        rbd_conn_drop(o, u->c);
        rc = rbd_timeout_error(ctx, "changing image features", storeid, err);
    }
    /* upstream prints what it changes before it tries (its stdout: the info sink) */
    if (!rc && u->disabling)
        pvs_info(ctx, "disable RBD image features this kernel RBD drivers is not compatible with: %s\n",
                 u->disabling);
    if (!rc && u->err.code)
        rc = u->err.code, pvs_error_move(err, &u->err);
    if (!rc && u->enabling)
        pvs_info(ctx, "enable RBD image features this kernel RBD drivers supports: %s\n", u->enabling);
    if (!rc && u->warning)
        pvs_warn(ctx, "%s", u->warning);
    rbd_job_put(&u->j);
    return rc;
}
