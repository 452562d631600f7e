/* guest.h - the guest floor's shared pieces (not installed): a VM
 * configuration as qemu-server's parse_vm_config leaves it
 * (guest_config.c), and what the audit (guest_audit.c) asks of a guest
 * (guest.c). */
#ifndef PVS_GUEST_H
#define PVS_GUEST_H

#include "internal.h"

/* A parsed VM configuration.  Values are kept as qemu-server keeps them
 * after its check_type (booleans 1/0, integers as int() makes them,
 * strings without a format unquoted); a key given twice in a section has
 * its last value, as a Perl hash assignment gives it. */
typedef struct pvs_vmconf {
    json_t *main;        /* the current section: key -> value */
    json_t *pending;     /* the [PENDING] section with its "delete" line, or NULL when there is none */
    json_t *snapshots;   /* name -> a snapshot section */
    json_t *warnings;    /* upstream's warnings, in the order it gives them ("vm VMID - ...") */
    int cloudinit;       /* the file has a [special:cloudinit] section */
} pvs_vmconf;

/* parse_vm_config(".../VMID.conf", text): 0, or PVS_ENOMEM (c is then empty). */
int pvs_vmconf_parse(const char *text, size_t len, long long vmid, pvs_vmconf *c);
void pvs_vmconf_clear(pvs_vmconf *c);
/* The keys get_current_vm_volumes walks, in its order: valid_drive_names
 * (ide, scsi, virtio, sata, efidisk0, tpmstate0), then vmstate.  The i-th
 * one, written into buf, or NULL past the last. */
const char *pvs_vmconf_volume_key(int i, char buf[16]);
/* is_valid_drivename: a drive key, unused disks not included. */
int pvs_vmconf_is_drive(const char *key);
/* QemuConfig's parse_volume of a checked value of such a key: the
 * volume's file (malloc()ed), or NULL where qemu-server gets no volume
 * (parse_drive's own rules; their warnings are appended to warnings).
 * *cdrom (when not NULL) tells drive_is_cdrom: media=cdrom. */
char *pvs_vmconf_volume_file(const char *key, const char *value, int *cdrom, json_t *warnings);
/* Append a warning, fmt with the strings a and b, to warnings (nothing
 * when memory runs out). */
void pvs_vmconf_warn(json_t *warnings, const char *fmt, const char *a, const char *b);
/* drive_is_cloudinit, by the drive's file */
int pvs_vmconf_is_cloudinit(const char *file);

/* pvs_vm_config_parse within a call; the storage configuration cfg, when
 * not NULL, tells the volumes' owners as PVE::Storage::path does (a forced
 * deletion of the guest's own volume checks whether it is still in use). */
int pvs_vm_config_parse_in(pvs_ctx *call, const json_t *cfg, const char *text, size_t len, long long vmid, int flags,
                           json_t **out, pvs_error *err);

/* The audit's view of guest vmid (within a call): *out as
 * pvs_vm_config_read gives the current section (its warnings given to the
 * call), and *hints what its start passes (qemu-server's
 * generate_storage_hints($conf, 1)) -- by that section while the guest
 * runs, by the configuration its next start runs with (pending changes
 * applied) when it does not. */
int pvs_guest_audit_read(pvs_ctx *call, long long vmid, int running, json_t **out, json_t **hints,
                         pvs_error *err);

#endif
