/* fuzz_guest.c - a guest's configuration text (sections, [PENDING] with its
 * delete: list, snapshots, special sections, drive property strings):
 * never crashes, leaks or fails, with the pending changes applied and
 * without; the result always has the documented shape; every volume is a
 * volume ID of a key get_current_vm_volumes walks, no key twice, in that
 * walk's order; a warning is one message ending in a newline; without a
 * [PENDING] section both readings give the same volumes.  The same bytes
 * as a /proc/PID/cmdline: a QEMU with this pid file is only found where
 * the bytes name it. */
#define _GNU_SOURCE 1   /* memmem */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

static void check_strings(const json_t *list, int messages)
{
    size_t i;
    json_t *v;
    if (!json_is_array(list))
        abort();
    json_array_foreach(list, i, v) {
        const char *s = json_string_value(v);
        size_t n = s ? strlen(s) : 0;
        if (!s || (messages && (n == 0 || s[n - 1] != '\n')))
            abort();
    }
}

/* the rank of key in the walk (valid_drive_names, then vmstate), or -1 */
static int walk_rank(const char *key)
{
    char buf[16];
    const char *k;
    for (int i = 0; (k = pvs_vmconf_volume_key(i, buf)); i++)
        if (strcmp(k, key) == 0)
            return i;
    return -1;
}

static json_t *parse_checked(const uint8_t *data, size_t size, int flags)
{
    json_t *g = NULL;
    if (pvs_vm_config_parse((const char *)data, size, 120, flags, &g, NULL) != 0 || !json_is_object(g))
        abort();
    json_t *os = json_object_get(g, "ostype"), *p = json_object_get(g, "pending"), *v;
    if (!(json_is_null(os) || json_is_string(os)) || !json_is_boolean(json_object_get(g, "resume")))
        abort();
    if (!json_is_null(p) && (!json_is_boolean(json_object_get(p, "applied"))
                             || ((flags & PVS_GUEST_CURRENT) && json_is_true(json_object_get(p, "applied")))))
        abort();
    if (!json_is_null(p)) {
        check_strings(json_object_get(p, "set"), 0);
        check_strings(json_object_get(p, "deleted"), 0);
    }
    check_strings(json_object_get(g, "warnings"), 1);
    size_t i;
    int last = -1;
    json_array_foreach(json_object_get(g, "volumes"), i, v) {
        const char *key = json_string_value(json_object_get(v, "key"));
        const char *volid = json_string_value(json_object_get(v, "volid"));
        int rank = key ? walk_rank(key) : -1;
        if (!volid || pvs_parse_volume_id(volid, NULL, NULL, NULL) != 0 || rank <= last)
            abort();   /* not a volume, not a walked key, a key twice or out of order */
        last = rank;
    }
    return g;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *start = parse_checked(data, size, 0), *current = parse_checked(data, size, PVS_GUEST_CURRENT);
    if (json_is_null(json_object_get(start, "pending"))
        && !json_equal(json_object_get(start, "volumes"), json_object_get(current, "volumes")))
        abort();
    json_decref(start);
    json_decref(current);
    static const char pidfile[] = "/var/run/qemu-server/100.pid";
    if (pvs_qemu_cmdline_has_pidfile((const char *)data, size, pidfile)
        && (!memmem(data, size, pidfile, sizeof pidfile - 1) || size < 4))
        abort();
    return 0;
}
