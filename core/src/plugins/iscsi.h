/* iscsi.h - what the iscsi and iscsidirect plugins share: their
 * storage.cfg schema (iscsi.c), upstream's name rules, and the sysfs side
 * of the kernel's iSCSI sessions (iscsi_dev.c). */
#ifndef PVS_PLUGINS_ISCSI_H
#define PVS_PLUGINS_ISCSI_H

#include "../internal.h"

/* ISCSIPlugin's properties and the options both plugins take */
extern const pvs_property iscsi_properties[];
extern const pvs_plugin_option iscsi_options[];
extern const char *const iscsi_content[];
extern const char *const iscsi_content_default[];

/* a parsed name: images, NAME, no owner, raw (both plugins' parse_volname) */
int iscsi_volname(const char *volname, const char *name, size_t n, pvs_volname *out, pvs_error *err);

/* ---- iscsi_dev.c: what sysfs and /dev/disk/by-id say ---- */

/* PVE::Tools::file_read_firstline of a host path (under the root setting):
 * 0 with *line the first line without its newline (malloc()ed), or NULL
 * when the file does not exist or is empty; an open that fails otherwise
 * is "file 'PATH' exists but open for reading failed - ERRNO" */
int iscsi_first_line(pvs_ctx *ctx, const char *path, char **line, pvs_error *err);
/* upstream's iscsi_device_list: { TARGET: { C.I.L.BYID: { format, size,
 * vmid, channel, id, lun } } } from the sessions in sysfs, or NULL with
 * its error */
json_t *iscsi_device_list(pvs_ctx *ctx, pvs_error *err);
/* upstream's activate_volume test: the block device behind
 * /dev/disk/by-id/NAME (through device mapper slaves) belongs to a
 * session of target; else the error upstream dies with */
int iscsi_volume_of_target(pvs_ctx *ctx, const char *volname, const char *name, const char *target,
                           pvs_error *err);

#endif
