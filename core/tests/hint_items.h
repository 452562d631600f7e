/* hint_items.h - a hints object as the items the bindings' fast path hands
 * to pvs_verify_hint_items (for the tests and the fuzz target that check
 * both paths judge alike). */
#ifndef PVS_TEST_HINT_ITEMS_H
#define PVS_TEST_HINT_ITEMS_H

#include "pvestorage.h"

/* Fill at most max items from obj (borrowed); returns how many. */
static inline size_t hint_items_of(json_t *obj, pvs_hint_item *items, size_t max)
{
    size_t n = 0;
    const char *k;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach(obj, k, klen, v) {
        if (n == max)
            break;
        items[n].key = k;
        items[n].keylen = klen;
        pvs_value_from_json(v, &items[n++].value);
    }
    return n;
}

#endif
