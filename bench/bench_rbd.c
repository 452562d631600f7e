/* bench_rbd.c - activating N existing krbd images through the core (one
 * cached connection, images opened concurrently, emulated map) against the
 * Proxmox approach (one `rbd info --format json` process per image, then the
 * same emulated map).  Needs root (mknod) and a test cluster:
 *   bash bench/run_bench_rbd.sh [N]        (starts and stops one) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pvestorage.h"
#include "internal.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run_or_die(const char *const *argv)
{
    pvs_run_result r;
    if (pvs_run(argv, 60, &r, NULL) || r.exit_status != 0) {
        fprintf(stderr, "failed: %s: %s\n", argv[0], r.err ? r.err : "");
        exit(1);
    }
    pvs_run_result_clear(&r);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s ROOT FAKE_RBD FSID N\n", argv[0]);
        return 2;
    }
    const char *root = argv[1], *fake = argv[2];
    int n = atoi(argv[4]);
    char conf[1024], keyring[1024];
    snprintf(conf, sizeof conf, "%s/etc/pve/ceph.conf", root);
    snprintf(keyring, sizeof keyring, "%s/etc/pve/priv/ceph/ceph.keyring", root);

    pvs_error err = PVS_ERROR_INIT;
    pvs_ctx *ctx = pvs_ctx_new(&err);
    pvs_ctx_set(ctx, "root", root, NULL);
    pvs_ctx_set(ctx, "rbd_command", fake, NULL);
    pvs_ctx_set(ctx, "kernel_version", "6.1", NULL);
    const char *text = "rbd: ceph\n\tpool rbd\n\tkrbd 1\n";
    json_t *cfg = pvs_config_parse(ctx, "bench", text, strlen(text), NULL);

    char **vols = calloc((size_t)n, sizeof *vols), **names = calloc((size_t)n, sizeof *names);
    for (int i = 0; i < n; i++) {
        names[i] = pvs_asprintf("vm-%d-disk-0", 1000 + i);
        vols[i] = pvs_asprintf("ceph:%s", names[i]);
    }
    char sys[1200], dev[1200];
    snprintf(sys, sizeof sys, "%s/sys", root);
    snprintf(dev, sizeof dev, "%s/dev", root);
    const char *rm[] = { "/bin/rm", "-rf", sys, dev, NULL };

    /* warm: the cached connection, as on a node that already talked to the cluster */
    char *path;
    if (pvs_map_volume(ctx, cfg, vols[0], NULL, NULL, &path, &err)) {
        fprintf(stderr, "%s", err.message);
        return 1;
    }
    free(path);
    run_or_die(rm);

    double best_core = 1e9, best_pve = 1e9;
    for (int round = 0; round < 3; round++) {
        double t0 = now();
        if (pvs_activate_volumes(ctx, cfg, (const char *const *)vols, (size_t)n, NULL, NULL, &err)) {
            fprintf(stderr, "%s", err.message);
            return 1;
        }
        double core = now() - t0;
        run_or_die(rm);

        t0 = now();
        for (int i = 0; i < n; i++) {
            const char *info[] = { "/usr/bin/rbd", "-p", "rbd", "-c", conf, "--auth_supported", "cephx", "-n",
                                   "client.admin", "--keyring", keyring, "info", "--format", "json", names[i], NULL };
            pvs_run_result r;
            if (pvs_run(info, 60, &r, NULL) || r.exit_status != 0 || !strstr(r.out, "\"features\"")) {
                fprintf(stderr, "rbd info failed: %s\n", r.err ? r.err : "");
                return 1;
            }
            json_t *j = json_loads(r.out, 0, NULL);   /* Proxmox decodes it, too */
            json_decref(j);
            pvs_run_result_clear(&r);
            const char *map[] = { fake, "-p", "rbd", "-c", conf, "--auth_supported", "cephx", "-n", "client.admin",
                                  "--keyring", keyring, "map", names[i], NULL };
            run_or_die(map);
        }
        double pve = now() - t0;
        run_or_die(rm);
        if (core < best_core)
            best_core = core;
        if (pve < best_pve)
            best_pve = pve;
    }
    printf("activate %d krbd images (feature check + emulated map), best of 3:\n", n);
    printf("  core (cached connection, batched reads):    %8.1f ms  (%.2f ms/image)\n", best_core * 1e3, best_core * 1e3 / n);
    printf("  Proxmox approach (rbd info per image):      %8.1f ms  (%.2f ms/image)\n", best_pve * 1e3, best_pve * 1e3 / n);
    printf("  ratio: %.1fx\n", best_pve / best_core);
    json_decref(cfg);
    pvs_ctx_free(ctx);
    return 0;
}
