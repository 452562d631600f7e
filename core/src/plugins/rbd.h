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
    char *mon_host;       /* external cluster: the monitors, ','-separated */
    char *keyring;        /* NULL when there is none: no auth */
    const char *auth;     /* "cephx" or "none" */
    char *user;           /* "admin" by default */
} rbd_opts;

int rbd_opts_get(pvs_ctx *ctx, const char *storeid, const json_t *scfg, rbd_opts *o,
                 pvs_error *err);
void rbd_opts_clear(rbd_opts *o);

/* ---- rbd_cluster.c: librados/librbd ---- */

/* The cluster FSID: the section's fsid, else the managed cluster's ceph.conf
 * [global] fsid, else asked from the cluster. */
int rbd_cluster_fsid(pvs_ctx *ctx, const char *storeid, const json_t *scfg, const rbd_opts *o,
                     char fsid[37], pvs_error *err);
/* Bring the images' features in line with the kernel (SPEC §5 rbd, step 3);
 * a missing image or snapshot is an error.  The images are opened
 * concurrently, so n images cost about one round trip, not n. */
int rbd_sync_features(pvs_ctx *ctx, const char *storeid, const rbd_opts *o,
                      const char *const *images, size_t n, const char *snapname, pvs_error *err);

/* ---- rbd_sysfs.c: the kernel's view, under the ctx root ---- */

/* Host path of the mapped device of IMAGE[@SNAP] (SPEC §5 rbd device paths). */
char *rbd_dev_path(pvs_ctx *ctx, const rbd_opts *o, const char *fsid, const char *name);
/* 1 and *id (N of /dev/rbdN; -1 if unknown) when host path is a block device. */
int rbd_device_mapped(pvs_ctx *ctx, const char *host_path, int *id);
/* The map options of /dev/rbdN (malloc()ed, comma-separated), or NULL when
 * they cannot be read. */
char *rbd_map_options(pvs_ctx *ctx, int id);
/* 1 iff option is one of the comma-separated tokens of options. */
int rbd_has_option(const char *options, const char *option);

#endif
