/* rbd.h - pieces of the rbd plugin shared between its files. */
#ifndef PVS_RBD_H
#define PVS_RBD_H

#include "../internal.h"

/* How to reach a storage's cluster: what Proxmox's ceph_connect_option gives.
 * conf and keyring are host paths as the ctx root makes them. */
typedef struct rbd_opts {
    char *pool;           /* "rbd" by default */
    char *namespace_;     /* NULL when none */
    char *conf;           /* ceph.conf to read, or NULL */
    char *conf_to_write;  /* an external cluster's own ceph.conf, written before
                             the call's first rbd command (used from the next call) */
    char *mon_host;       /* external cluster: the monitors, ','-separated */
    char *keyring;        /* NULL when there is none: no auth */
    const char *auth;     /* "cephx" or "none" */
    char *user;           /* "admin" by default */
    struct rbd_state *cache;   /* the context's connection cache (the plugin's state) */
} rbd_opts;

int rbd_opts_get(pvs_ctx *ctx, const char *storeid, const json_t *scfg, rbd_opts *o,
                 pvs_error *err);
void rbd_opts_clear(rbd_opts *o);

/* ---- rbd_cluster.c: connections, bounded jobs, FSID ---- */

#include <rados/librados.h>
#include <rbd/librbd.h>

/* A cached cluster connection, reference-counted: the cache holds one
 * reference, each user (a call, a job still running) one more. */
typedef struct rbd_conn {
    char *key;
    rados_t cluster;
    int refs;
} rbd_conn;

/* The storage's connection (a new reference), connecting on first use
 * within the call's deadline. */
int rbd_conn_get(pvs_ctx *ctx, const char *storeid, const rbd_opts *o, rbd_conn **out, pvs_error *err);
void rbd_conn_put(rbd_conn *c);
/* The plugin's per-context state: the connection cache. */
void *rbd_state_new(void);
void rbd_state_free(void *state);
/* Take c out of the cache (it hangs): the next call connects anew. */
void rbd_conn_drop(const rbd_opts *o, rbd_conn *c);

/* A cluster step run on a thread of its own, so the caller can stop
 * waiting at the call's deadline.  Embed it first in the job's struct;
 * release frees that struct once neither the caller nor the worker needs it. */
typedef struct rbd_job {
    pthread_mutex_t m;
    pthread_cond_t cv;
    int refs, done;
    void (*run)(struct rbd_job *);
    void (*release)(struct rbd_job *);
} rbd_job;

void rbd_job_init(rbd_job *j, void (*run)(rbd_job *), void (*release)(rbd_job *));
/* Run j and wait until it is done (0) or the call's deadline (PVS_ETIMEDOUT). */
int rbd_job_wait(pvs_ctx *ctx, rbd_job *j);
void rbd_job_put(rbd_job *j);
int rbd_timeout_error(pvs_ctx *ctx, const char *what, const char *storeid, pvs_error *err);
const char *rbd_strerr(int rc, char *buf, size_t size);
/* An I/O context on pool (and namespace ns, or NULL), with rbd's messages. */
int rbd_open_ioctx(rbd_conn *c, const char *pool, const char *ns, rados_ioctx_t *io, pvs_error *err);
/* The guest images of the storage's pool (vmid's only when >= 0): rbd_list.c */
int rbd_list_images(pvs_ctx *ctx, const char *storeid, const rbd_opts *o, long long vmid, json_t **out,
                    pvs_error *err);

/* The cluster FSID: the section's fsid, else the managed cluster's ceph.conf
 * [global] fsid, else asked from the cluster. */
int rbd_cluster_fsid(pvs_ctx *ctx, const char *storeid, const json_t *scfg, const rbd_opts *o,
                     char fsid[37], pvs_error *err);

/* ---- rbd_features.c: image features against the kernel's krbd ---- */

typedef struct rbd_feat {
    int change;           /* the features differ from what the kernel wants */
    pvs_error err;        /* the image (or its snapshot) cannot be used */
} rbd_feat;

/* Read n images at once (about one round trip, not n).  A failure that
 * concerns them all (connection, pool, deadline) is the return value. */
int rbd_read_features(pvs_ctx *ctx, const char *storeid, const rbd_opts *o, const char *const *images,
                      size_t n, const char *snapname, rbd_feat *feats, pvs_error *err);
/* Change one image's features; a failed enable is a warning, as Proxmox's. */
int rbd_change_features(pvs_ctx *ctx, const char *storeid, const rbd_opts *o, const char *image,
                        pvs_error *err);

/* ---- rbd_sysfs.c: the kernel's view, under the ctx root ---- */

/* Host path of the mapped device of IMAGE[@SNAP] (SPEC §5 rbd device paths). */
char *rbd_dev_path(pvs_ctx *ctx, const rbd_opts *o, const char *fsid, const char *name);
/* 1 and *id (N of /dev/rbdN) when host_path is the block node of the kernel
 * rbd device N; 0 when nothing is there; an error when something else is
 * there (not a block device, not an rbd device, an unresolvable link). */
int rbd_device_state(pvs_ctx *ctx, const char *host_path, int *id, pvs_error *err);
/* The map options of /dev/rbdN (malloc()ed, comma-separated), or NULL when
 * they cannot be read.  A secret never leaves: secret=... reads as
 * secret=<hidden> (rbd_config_info_options). */
char *rbd_map_options(pvs_ctx *ctx, int id);
/* The options field of a config_info line ("MONS OPTIONS POOL IMAGE SNAP"),
 * secret=VALUE written as secret=<hidden>; NULL when there is none. */
char *rbd_config_info_options(const char *line);
/* The first line of /sys/devices/rbd/ID/NAME (under the root), or NULL. */
char *rbd_sysfs_line(pvs_ctx *ctx, int id, const char *name);
/* 1 iff option is one of the comma-separated tokens of options. */
int rbd_has_option(const char *options, const char *option);

/* ---- rbd_lock.c: check-then-map, one process at a time per image ---- */

typedef struct rbd_locks {
    int *fds;
    size_t n;
} rbd_locks;

/* Lock n images, keys[i] naming image i across processes (FSID/POOL/...),
 * names[i] for messages: in a fixed order, so two callers never wait on
 * each other, and waiting at most until the call's deadline.  The lock
 * files live in ROOT/run/pvestorage/lock. */
int rbd_lock_images(pvs_ctx *ctx, const char *const *keys, const char *const *names, size_t n,
                    rbd_locks *l, pvs_error *err);
void rbd_unlock_images(rbd_locks *l);

/* What audit_volume finds (rbd_audit.c): the kernel's view of a volume
 * (mapped 1 as device id with opts, 0, or -1 with e saying why it could not
 * be told) against what a guest's hints need (windows: rxbounce). */
json_t *rbd_audit_finding(int mapped, int id, const char *opts, int windows, const pvs_error *e);

#endif
