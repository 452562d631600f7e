/* fuzz_hints.c - verify_hints on any JSON: never crashes or leaks, and the
 * oracles hold: the items path (bindings' fast path) judges exactly as the
 * JSON path, noerr gives the same verdict, pvs_hint_bool agrees with the
 * verdict, and the hints are not modified. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pvestorage.h"
#include "../hint_items.h"

static void check_items(json_t *h, int rc, const char *msg)
{
    enum { MAX = 64 };
    if (!json_is_object(h) || json_object_size(h) > MAX)
        return;
    pvs_hint_item items[MAX];
    size_t n = hint_items_of(h, items, MAX);
    pvs_error e = PVS_ERROR_INIT;
    if (pvs_verify_hint_items(items, n, &e) != rc)
        abort();
    if ((msg == NULL) != (e.message == NULL) || (msg && strcmp(msg, e.message) != 0))
        abort();
    pvs_error_clear(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *h = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!h)
        return 0;
    char *before = json_dumps(h, JSON_ENCODE_ANY | JSON_SORT_KEYS);
    pvs_error err = PVS_ERROR_INIT;
    int rc = pvs_verify_hints(h, &err);
    if (pvs_verify_hints(h, NULL) != rc || (rc && (!err.message || rc != PVS_EHINTS)))
        abort();
    check_items(h, rc, err.message);
    size_t n;
    const pvs_hint_def *defs = pvs_hint_defs(&n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        /* a verified hint is absent/null (-1) or stands for 1 or 0 */
        int b = pvs_hint_bool(h, defs[i].name);
        json_t *v = json_object_get(h, defs[i].name);
        if (b < -1 || b > 1 || (b == -1 && v && !json_is_null(v)))
            abort();
    }
    char *after = json_dumps(h, JSON_ENCODE_ANY | JSON_SORT_KEYS);
    if ((before == NULL) != (after == NULL) || (before && strcmp(before, after) != 0))
        abort();
    free(before);
    free(after);
    pvs_error_clear(&err);
    json_decref(h);
    return 0;
}
