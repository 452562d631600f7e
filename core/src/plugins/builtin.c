/* builtin.c - the plugins every context has from the start: the one list
 * of them, so the context knows none by name. */
#include "../internal.h"

const pvs_plugin *const pvs_builtin_plugins[] = {
    &pvs_dir_plugin,
    &pvs_rbd_plugin,
    /* upstream's other types, in the order PVE::Storage registers them */
    &pvs_lvm_plugin,
    &pvs_lvmthin_plugin,
    &pvs_nfs_schema,
    &pvs_cifs_schema,
    &pvs_iscsi_plugin,
    &pvs_cephfs_schema,
    &pvs_iscsidirect_plugin,
    &pvs_zfspool_plugin,
    &pvs_zfs_schema,
    &pvs_pbs_schema,
    &pvs_btrfs_schema,
    &pvs_esxi_schema,
    NULL,
};
