/* rbd_audit.c - the rbd plugin's judgement for audit_volume: a krbd
 * volume's kernel mapping against what activating it with a guest's hints
 * would make (a Windows guest's disk needs rxbounce).  rbd.c looks at the
 * kernel; the guests, their hints and the remedies are the guest floor's
 * (guest_audit.c). */
#include <stdlib.h>
#include <string.h>

#include "rbd.h"

/* what the kernel shows against what the hints need (rxbounce for a
 * Windows guest, as activation maps it) */
json_t *rbd_audit_finding(int mapped, int id, const char *opts, int windows, const pvs_error *e)
{
    int ok = mapped == 0 || (mapped == 1 && (!windows || (opts && rbd_has_option(opts, "rxbounce"))));
    json_t *f = json_pack("{s:o, s:o, s:o, s:b}", "mapped", mapped < 0 ? json_null() : json_boolean(mapped == 1),
                          "device", mapped == 1 ? json_sprintf("/dev/rbd%d", id) : json_null(), "options",
                          pvs_json_bytes(opts), "in_order", ok);
    if (f && !ok && mapped == 1)
        json_object_set_new(f, "problem", json_string("mapped without rxbounce"));
    if (f && e->message)
        json_object_set_new(f, "error", pvs_message_json(e->message));
    return f;
}
