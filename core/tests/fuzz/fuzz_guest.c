/* fuzz_guest.c - a guest's configuration text: never crashes, leaks or
 * fails; the result always has the documented shape, and every volume is a
 * volume ID of a drive key.  The same bytes as a /proc/PID/cmdline: a QEMU
 * with this pid file is only found where the bytes name it. */
#define _GNU_SOURCE 1   /* memmem */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *g = NULL;
    if (pvs_guest_config_parse((const char *)data, size, &g, NULL) != 0 || !json_is_object(g))
        abort();
    json_t *os = json_object_get(g, "ostype"), *vols = json_object_get(g, "volumes"), *v;
    if (!(json_is_null(os) || json_is_string(os)) || !json_is_array(vols))
        abort();
    size_t i;
    json_array_foreach(vols, i, v) {
        const char *key = json_string_value(json_object_get(v, "key"));
        const char *volid = json_string_value(json_object_get(v, "volid"));
        if (!key || !volid || pvs_parse_volume_id(volid, NULL, NULL, NULL) != 0 || strncmp(key, "unused", 6) == 0)
            abort();
    }
    json_decref(g);
    static const char pidfile[] = "/var/run/qemu-server/100.pid";
    if (pvs_qemu_cmdline_has_pidfile((const char *)data, size, pidfile)
        && (!memmem(data, size, pidfile, sizeof pidfile - 1) || size < 4))
        abort();
    return 0;
}
