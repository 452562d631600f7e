/* lvm.h - what the lvm and lvmthin plugins share (lvm.c): LVM names, the
 * call's vgs and lvs listings, the common plugin methods. */
#ifndef PVS_PLUGINS_LVM_H
#define PVS_PLUGINS_LVM_H

#include "../internal.h"

/* upstream's parse_lvm_name: letters, digits, - _ . and alphanumeric at
 * both ends (at least two characters); else "lvm name '...' contains
 * illegal characters" */
int lvm_check_name(const char *name, pvs_error *err);
/* Perl truth of a snapshot name: set, not "" and not "0" */
int lvm_snap_true(const char *snapname);
/* upstream's vgs (lvm_vgs): { VG: { size, free, lvcount } }, once per call
 * (borrowed from the call's cache); a failure is only warned (vgs exits 5
 * without clvmd and still lists).  NULL when out of memory. */
json_t *lvm_vgs(pvs_ctx *ctx, pvs_error *err);
/* upstream's lvs of every volume group (lvm_list_volumes), once per call:
 * { VG: { LV: { lv_size, lv_state, lv_type, pool_lv?, tags?, ctime?, used?,
 * metadata_size?, metadata_used? } } } (borrowed), or NULL with its error */
json_t *lvm_lvs(pvs_ctx *ctx, pvs_error *err);
/* run an lvm command (argv) with upstream's errmsg: 0 or its error */
int lvm_run(pvs_ctx *ctx, const char *const *argv, const char *errmsg, pvs_error *err);
/* one entry of a listing: { volid, content, format, size, vmid, ctime? } */
json_t *lvm_list_entry(pvs_ctx *ctx, const char *storeid, const char *lv, const char *owner,
                       const json_t *info);
/* the VMID of a vm-VMID-... name (base-VMID-... too when base_too) in
 * owner: 1, or 0 for another name */
int lvm_owner(const char *lv, int base_too, char *owner, size_t size);
/* 1 iff a listing for vmid (-1: every guest) takes owner's volumes */
int lvm_wanted(const char *owner, long long vmid);
/* a parsed name's fields (images, the name, owner, base, format) */
int lvm_volname(const char *volname, const char *owner, int base, const char *format, pvs_volname *out,
                pvs_error *err);
/* a volume's (or snapshot's) device path, by lvm's or (thin) lvmthin's rule */
int lvm_device_path(pvs_ctx *ctx, const pvs_plugin *self, const json_t *scfg, const char *volname,
                    const char *snapname, int thin, char **path, pvs_error *err);
/* the storage's vgname (checked by the schema; NULL only if unset) */
const char *lvm_vg(const json_t *scfg);

/* LVMPlugin's methods that LvmThinPlugin inherits */
int lvm_activate_storage(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                         pvs_error *err);
int lvm_deactivate_storage(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                           pvs_error *err);

extern const pvs_property lvm_properties[];

#endif
