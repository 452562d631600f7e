/* activate_vm.c - hand a VM's volumes to the storage layer with the hints
 * qemu-server would pass at VM start.
 *
 *   cc activate_vm.c $(pkg-config --cflags --libs pvestorage) -o activate_vm
 *   ./activate_vm STORAGE_CFG OSTYPE VOLID...
 *
 * Prints each volume's path; the storage layer's warnings go to stderr. */
#include <pvestorage.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s STORAGE_CFG OSTYPE VOLID...\n", argv[0]);
        return 2;
    }
    pvs_error err = PVS_ERROR_INIT;
    pvs_ctx *ctx = pvs_ctx_new(&err);
    json_t *cfg = ctx ? pvs_config_read(ctx, argv[1], &err) : NULL;
    /* guest-is-windows from the VM's ostype, plugin-may-deactivate-volume 1 at start */
    json_t *hints = pvs_storage_hints(argv[2], 1);
    const char *const *vols = (const char *const *)argv + 3;
    size_t n = (size_t)argc - 3;
    int rc = cfg && hints ? pvs_activate_volumes(ctx, cfg, vols, n, NULL, hints, &err) : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *path = NULL;
        rc = pvs_path(ctx, cfg, vols[i], NULL, &path, &err);
        if (rc == 0)
            printf("%s %s\n", vols[i], path);
        free(path);
    }
    if (rc)
        fputs(err.message ? err.message : "cannot start\n", stderr);
    pvs_error_clear(&err);
    json_decref(hints);
    json_decref(cfg);
    pvs_ctx_free(ctx);
    return rc ? 1 : 0;
}
