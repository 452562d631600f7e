/* rbd_list.c - the guest images of an rbd storage's pool (upstream's
 * list_images over `rbd ls -l`), through librbd in one bounded job:
 * vm-VMID-* and base-VMID-* images, their size, and a linked clone's base
 * in its volume ID (BASE/NAME) as upstream writes it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rbd.h"

typedef struct list_job {
    rbd_job j;
    rbd_conn *c;
    char *pool, *ns, *storeid;
    long long vmid;
    json_t *out;
    pvs_error err;
} list_job;

static void list_release(rbd_job *j)
{
    list_job *l = (list_job *)j;
    rbd_conn_put(l->c);
    free(l->pool);
    free(l->ns);
    free(l->storeid);
    json_decref(l->out);
    pvs_error_clear(&l->err);
    free(l);
}

/* the guest of a vm-VMID-... or base-VMID-... name, or -1 for other images */
static long long image_vmid(const char *name)
{
    const char *p = !strncmp(name, "vm-", 3) ? name + 3 : !strncmp(name, "base-", 5) ? name + 5 : NULL;
    if (!p || *p < '0' || *p > '9')
        return -1;
    char *end;
    long long v = strtoll(p, &end, 10);
    return *end == '-' && end[1] && !strpbrk(end, " \t\n") ? v : -1;
}

/* a linked clone's base image in the same pool, or NULL */
static char *base_of(rbd_image_t img, const char *pool)
{
    rbd_linked_image_spec_t parent;
    rbd_snap_spec_t snap;
    if (rbd_get_parent(img, &parent, &snap) < 0)
        return NULL;
    char *base = NULL;
    if (parent.pool_name && strcmp(parent.pool_name, pool) == 0 && parent.image_name
        && strncmp(parent.image_name, "base-", 5) == 0)
        base = strdup(parent.image_name);
    rbd_linked_image_spec_cleanup(&parent);
    rbd_snap_spec_cleanup(&snap);
    return base;
}

static void list_image(list_job *l, rados_ioctx_t io, const char *name, long long owner)
{
    rbd_image_t img;
    uint64_t size = 0;
    char *base = NULL;
    if (rbd_open_read_only(io, name, &img, NULL) < 0)
        return;   /* removed meanwhile */
    rbd_get_size(img, &size);
    base = base_of(img, l->pool);
    rbd_close(img);
    json_t *o = json_pack("{s:o}", "volid", pvs_json_volid(l->storeid, base, name));
    json_object_update_new(o, json_pack("{s:s, s:s, s:I, s:I}", "content", "images", "format", "raw", "size",
                                        (json_int_t)size, "vmid", (json_int_t)owner));
    if (base)
        json_object_set_new(o, "parent", pvs_json_bytes(base));
    json_array_append_new(l->out, o);
    free(base);
}

static void list_run(rbd_job *j)
{
    list_job *l = (list_job *)j;
    rados_ioctx_t io;
    if (rbd_open_ioctx(l->c, l->pool, l->ns, &io, &l->err))
        return;
    size_t n = 64;
    rbd_image_spec_t *v = NULL;
    int rc;
    do {
        rbd_image_spec_t *w = realloc(v, (n ? n : 1) * sizeof *w);
        if (!w) {
            rc = -ENOMEM;
            break;
        }
        v = w;
    } while ((rc = rbd_list2(io, v, &n)) == -ERANGE);
    char eb[128];
    if (rc < 0) {
        pvs_fail(&l->err, PVS_ECLUSTER, "rbd error: rbd: listing images failed: %s\n", rbd_strerr(rc, eb, sizeof eb));
        n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        long long owner = image_vmid(v[i].name);
        if (owner >= 0 && (l->vmid < 0 || owner == l->vmid))
            list_image(l, io, v[i].name, owner);
    }
    if (rc >= 0)
        rbd_image_spec_list_cleanup(v, n);
    free(v);
    rados_ioctx_destroy(io);
}

int rbd_list_images(pvs_ctx *ctx, const char *storeid, const rbd_opts *o, long long vmid, json_t **out,
                    pvs_error *err)
{
    list_job *l = calloc(1, sizeof *l);
    if (!l)
        return pvs_oom(err);
    rbd_job_init(&l->j, list_run, list_release);
    l->err.exit_status = -1;
    l->vmid = vmid;
    l->pool = strdup(o->pool);
    l->ns = pvs_strdup(o->namespace_);
    l->storeid = strdup(storeid);
    l->out = json_array();
    int rc;
    if (!l->pool || !l->storeid || !l->out || (o->namespace_ && !l->ns))
        rc = pvs_oom(err);
    else if (!(rc = rbd_conn_get(ctx, storeid, o, &l->c, err)) && (rc = rbd_job_wait(ctx, &l->j))) {
        rbd_conn_drop(o, l->c);
        rc = rbd_timeout_error(ctx, "listing images", storeid, err);
    }
    if (!rc && l->err.code)
        rc = l->err.code, pvs_error_move(err, &l->err);
    if (!rc)
        *out = json_incref(l->out);
    rbd_job_put(&l->j);
    return rc;
}
