/* schemas.c - the storage types this library knows but does not implement:
 * their properties, options, content types and formats as upstream's
 * plugins declare them (pve-storage 9.1), so a node's whole storage.cfg
 * parses as upstream parses it.  A table without methods serves the
 * configuration only; a volume call on such a storage fails with one clear
 * error until a plugin (C, Perl or Python) is registered for the type. */
#include "../internal.h"

#define SCHEMA(t, shared_)                                                       \
    .size = PVS_PLUGIN_SIZE, .type = #t, .api = PVS_APIVER, .shared = shared_,     \
    .options = t##_options, .content_valid = t##_content, .content_default = t##_content_default

const char *const pvs_no_secrets[] = { NULL };

/* cifs and cephfs mount at /mnt/pve/STOREID unless told otherwise */
static int mount_path_default(const pvs_plugin *self, const char *storeid, json_t *section, int after,
                              pvs_error *err)
{
    (void)self;
    if (after || json_object_get(section, "path"))
        return 0;
    char *path = pvs_asprintf("/mnt/pve/%s", storeid);
    if (!path)
        return pvs_error_set(err, PVS_ENOMEM, "out of memory\n");
    json_object_set_new(section, "path", json_string(path));
    free(path);
    return 0;
}
static const char *const password_secret[] = { "password", NULL };

/* ---- zfs (over iSCSI; zfspool is zfspool.c) ---- */

static const pvs_property zfs_properties[] = {
    PVS_PROP("iscsiprovider", "string"),
    PVS_PROP("nowritecache", "boolean"),
    PVS_PROP("comstar_tg", "string"),
    PVS_PROP("comstar_hg", "string"),
    PVS_PROP("lio_tpg", "string"),
    PVS_PROP("zfs-base-path", "string", .format = "pve-storage-path"),
    PVS_PROPS_END,
};
static const pvs_plugin_option zfs_options[] = {
    PVS_OPT("nodes"), PVS_OPT("disable"), PVS_FIXED("portal"), PVS_FIXED("target"),
    PVS_FIXED("pool"), PVS_FIXED("blocksize"), PVS_FIXED("iscsiprovider"),
    PVS_OPT("nowritecache"), PVS_OPT("sparse"), PVS_OPT("comstar_hg"), PVS_OPT("comstar_tg"),
    PVS_OPT("lio_tpg"), PVS_OPT("content"), PVS_OPT("bwlimit"), PVS_OPT("zfs-base-path"),
    PVS_OPTIONS_END,
};
static const char *const zfs_content[] = { "images", NULL };
static const char *const zfs_content_default[] = { "images", NULL };

const pvs_plugin pvs_zfs_schema = {
    SCHEMA(zfs, 1), .properties = zfs_properties, .sensitive_properties = pvs_no_secrets,
};

/* ---- nfs, cifs, cephfs: mounted file systems ---- */

static const char *const file_content[] = {
    "images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import", NULL,
};
static const char *const file_formats[] = { "raw", "qcow2", "vmdk", NULL };

static const pvs_property nfs_properties[] = {
    PVS_PROP("export", "string", .format = "pve-storage-path"),
    PVS_PROP("server", "string", .format = "pve-storage-server"),
    PVS_PROPS_END,
};
static const pvs_plugin_option nfs_options[] = {
    PVS_FIXED("path"), PVS_OPT("content-dirs"), PVS_FIXED("server"), PVS_FIXED("export"),
    PVS_OPT("nodes"), PVS_OPT("disable"), PVS_OPT("prune-backups"),
    PVS_OPT("max-protected-backups"), PVS_OPT("options"), PVS_OPT("content"), PVS_OPT("format"),
    PVS_OPT("mkdir"), PVS_OPT("create-base-path"), PVS_OPT("create-subdirs"), PVS_OPT("bwlimit"),
    PVS_OPT("preallocation"), PVS_FIXED_OPT("snapshot-as-volume-chain"), PVS_OPTIONS_END,
};
#define nfs_content file_content
static const char *const nfs_content_default[] = { "images", NULL };

const pvs_plugin pvs_nfs_schema = {
    SCHEMA(nfs, 1), .properties = nfs_properties, .formats = file_formats,
    .format_default = "raw", .sensitive_properties = pvs_no_secrets,
};

static const pvs_property cifs_properties[] = {
    PVS_PROP("share", "string"),
    PVS_PROP("password", "string", .max_length = 256),
    PVS_PROP("domain", "string", .max_length = 256),
    PVS_PROP("smbversion", "string", .enum_values = "default, 2.0, 2.1, 3, 3.0, 3.11",
             .default_value = "default"),
    PVS_PROPS_END,
};
static const pvs_plugin_option cifs_options[] = {
    PVS_FIXED("path"), PVS_OPT("content-dirs"), PVS_FIXED("server"), PVS_FIXED("share"),
    PVS_OPT("subdir"), PVS_OPT("nodes"), PVS_OPT("disable"), PVS_OPT("prune-backups"),
    PVS_OPT("max-protected-backups"), PVS_OPT("content"), PVS_OPT("format"), PVS_OPT("username"),
    PVS_OPT("password"), PVS_OPT("domain"), PVS_OPT("smbversion"), PVS_OPT("mkdir"),
    PVS_OPT("create-base-path"), PVS_OPT("create-subdirs"), PVS_OPT("bwlimit"),
    PVS_OPT("preallocation"), PVS_OPT("options"), PVS_FIXED_OPT("snapshot-as-volume-chain"),
    PVS_OPTIONS_END,
};
#define cifs_content file_content
static const char *const cifs_content_default[] = { "images", NULL };

const pvs_plugin pvs_cifs_schema = {
    SCHEMA(cifs, 1), .properties = cifs_properties, .formats = file_formats,
    .format_default = "raw", .sensitive_properties = password_secret, .check_config = mount_path_default,
};

static const pvs_property cephfs_properties[] = {
    PVS_PROP("fuse", "boolean"),
    PVS_PROP("fs-name", "string", .format = "pve-configid"),
    PVS_PROPS_END,
};
static const pvs_plugin_option cephfs_options[] = {
    PVS_FIXED("path"), PVS_OPT("content-dirs"), PVS_OPT("monhost"), PVS_OPT("nodes"),
    PVS_OPT("subdir"), PVS_OPT("disable"), PVS_OPT("options"), PVS_OPT("username"),
    PVS_OPT("content"), PVS_OPT("format"), PVS_OPT("mkdir"), PVS_OPT("create-base-path"),
    PVS_OPT("create-subdirs"), PVS_OPT("fuse"), PVS_OPT("bwlimit"), PVS_OPT("keyring"),
    PVS_OPT("prune-backups"), PVS_OPT("max-protected-backups"), PVS_OPT("fs-name"),
    PVS_OPTIONS_END,
};
static const char *const cephfs_content[] = { "vztmpl", "iso", "backup", "snippets", "import", NULL };
static const char *const cephfs_content_default[] = { "backup", NULL };
static const char *const keyring_secret[] = { "keyring", NULL };

const pvs_plugin pvs_cephfs_schema = {
    SCHEMA(cephfs, 1), .properties = cephfs_properties, .sensitive_properties = keyring_secret,
    .check_config = mount_path_default,
};

/* ---- pbs ---- */

static const pvs_property pbs_properties[] = {
    PVS_PROP("datastore", "string"),
    PVS_PROP("fingerprint", "string", .pattern = "([A-Fa-f0-9]{2}:){31}[A-Fa-f0-9]{2}"),
    PVS_PROP("encryption-key", "string"),
    PVS_PROP("master-pubkey", "string"),
    PVS_PROPS_END,
};
static const pvs_plugin_option pbs_options[] = {
    PVS_FIXED("server"), PVS_FIXED("datastore"), PVS_OPT("namespace"), PVS_OPT("port"),
    PVS_OPT("nodes"), PVS_OPT("disable"), PVS_OPT("content"), PVS_OPT("username"),
    PVS_OPT("password"), PVS_OPT("encryption-key"), PVS_OPT("master-pubkey"),
    PVS_OPT("prune-backups"), PVS_OPT("max-protected-backups"), PVS_OPT("fingerprint"),
    PVS_OPTIONS_END,
};
static const char *const pbs_content[] = { "backup", "none", NULL };
static const char *const pbs_content_default[] = { "backup", NULL };
static const char *const pbs_secrets[] = { "encryption-key", "master-pubkey", "password", NULL };

const pvs_plugin pvs_pbs_schema = {
    SCHEMA(pbs, 1), .properties = pbs_properties, .sensitive_properties = pbs_secrets,
};

/* ---- btrfs ---- */

static const pvs_property btrfs_properties[] = {
    PVS_PROP("nocow", "boolean", .default_value = "0"),
    PVS_PROPS_END,
};
static const pvs_plugin_option btrfs_options[] = {
    PVS_FIXED("path"), PVS_OPT("nodes"), PVS_OPT("shared"), PVS_OPT("disable"),
    PVS_OPT("prune-backups"), PVS_OPT("max-protected-backups"), PVS_OPT("content"),
    PVS_OPT("format"), PVS_OPT("is_mountpoint"), PVS_OPT("nocow"), PVS_OPT("mkdir"),
    PVS_OPT("create-base-path"), PVS_OPT("create-subdirs"), PVS_OPT("preallocation"),
    PVS_OPTIONS_END,
};
static const char *const btrfs_content[] = {
    "images", "rootdir", "vztmpl", "iso", "backup", "snippets", "none", "import", NULL,
};
static const char *const btrfs_content_default[] = { "images", "rootdir", NULL };
static const char *const btrfs_formats[] = { "raw", "subvol", NULL };

const pvs_plugin pvs_btrfs_schema = {
    SCHEMA(btrfs, 0), .properties = btrfs_properties, .formats = btrfs_formats,
    .format_default = "raw", .sensitive_properties = pvs_no_secrets, .check_config = pvs_dir_check_config,
};

/* ---- esxi ---- */

static const pvs_property esxi_properties[] = {
    PVS_PROP("skip-cert-verification", "boolean", .default_value = "false"),
    PVS_PROPS_END,
};
static const pvs_plugin_option esxi_options[] = {
    PVS_OPT("nodes"), PVS_OPT("shared"), PVS_OPT("disable"), PVS_OPT("content"),
    PVS_REQ("server"), PVS_REQ("username"), PVS_OPT("password"),
    PVS_OPT("skip-cert-verification"), PVS_OPT("port"), PVS_OPTIONS_END,
};
static const char *const esxi_content[] = { "import", NULL };
static const char *const esxi_content_default[] = { "import", NULL };

const pvs_plugin pvs_esxi_schema = {
    SCHEMA(esxi, 0), .properties = esxi_properties, .formats = file_formats,
    .format_default = "raw", .sensitive_properties = password_secret,
};
