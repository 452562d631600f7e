/* builtin.c - the plugins every context has from the start: the one list
 * of them, so the context knows none by name. */
#include "../internal.h"

const pvs_plugin *const pvs_builtin_plugins[] = {
    &pvs_dir_plugin,
    &pvs_rbd_plugin,
    NULL,
};
