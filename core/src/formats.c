/* formats.c - the named string formats of storage properties, as
 * pve-common's and pve-storage's registered format validators check them:
 * the same accepted values and the same messages.  A leaf: it calls no
 * other file of the core but volid.c. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int fail(strbuf *why, const char *fmt, const char *v)
{
    sb_addf(why, fmt, v);
    return -1;
}

static int is_alnum(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* PVE::ParseUtils' $IPV4RE / $IPV6RE: glibc's inet_pton takes the same
 * forms (no leading zeros in IPv4 octets, no zone index). */
static int is_ipv4(const char *v)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, v, buf) == 1;
}

static int is_ipv6(const char *v)
{
    unsigned char buf[16];
    return inet_pton(AF_INET6, v, buf) == 1;
}

/* [a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])? over n bytes */
static int is_label(const char *s, size_t n)
{
    if (!n || !is_alnum((unsigned char)s[0]) || !is_alnum((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 1; i + 1 < n; i++)
        if (!is_alnum((unsigned char)s[i]) && s[i] != '-')
            return 0;
    return 1;
}

static int is_dns_name(const char *v)
{
    for (;;) {
        const char *dot = strchr(v, '.');
        size_t n = dot ? (size_t)(dot - v) : strlen(v);
        if (!is_label(v, n))
            return 0;
        if (!dot)
            return 1;
        v = dot + 1;
    }
}

static int node_name(const char *v, strbuf *why)
{
    return is_label(v, strlen(v)) ? 0 : fail(why, "value does not look like a valid node name\n", v);
}

static int storage_path(const char *v, strbuf *why)
{
    /* m|^/[^;\(\)]+|: only the start is anchored */
    if (v[0] == '/' && v[1] && !strchr(";()", v[1]))
        return 0;
    return fail(why, "value does not look like a valid absolute path\n", v);
}

static int content_type(const char *v, strbuf *why)
{
    static const char *const all[] = { "images", "rootdir", "vztmpl", "iso", "backup",
                                       "snippets", "none", "import", NULL };
    for (const char *const *c = all; *c; c++)
        if (strcmp(*c, v) == 0)
            return 0;
    return fail(why, "invalid content type '%s'\n", v);
}

/* ^([a-z]+)=([^.]*(?:\.?[^.]+)+)$: no "..", no trailing dot; a path under
 * 1023 bytes whose components are under 255 */
static int dir_override(const char *v, strbuf *why)
{
    const char *eq = strchr(v, '=');
    size_t n = eq ? (size_t)(eq - v) : 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] < 'a' || v[i] > 'z')
            n = 0;
    const char *path = eq ? eq + 1 : "";
    size_t len = strlen(path);
    if (!n || !len || strstr(path, "..") || path[len - 1] == '.' ||
        (len == 1 && path[0] == '.'))
        return fail(why, "invalid override '%s'\n", v);
    char *ct = strndup(v, n);
    int rc = ct ? content_type(ct, why) : -1;
    free(ct);
    if (rc)
        return rc;
    size_t comp = 0;
    for (const char *c = path; *c; c++) {
        comp = *c == '/' ? 0 : comp + 1;
        if (comp >= 255)
            return fail(why, "invalid override '%s'\n", v);
    }
    return len < 1023 ? 0 : fail(why, "invalid override '%s'\n", v);
}

static int server(const char *v, strbuf *why)
{
    if (is_ipv4(v) || is_ipv6(v) || is_dns_name(v))
        return 0;
    return fail(why, "value does not look like a valid server name or IP address\n", v);
}

/* [[:alnum:]\-.]+ */
static int is_hostish(const char *s, size_t n)
{
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
            return 0;
    return 1;
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

static void set_span(char *out, size_t size, const char *s, size_t n)
{
    if (!out)
        return;
    n = n < size ? n : size - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* PVE::Tools::parse_host_and_port: HOST[:PORT], [ADDR][:PORT], IPV6[.PORT].
 * 1 with the host (brackets gone) and the port ("" for none), or 0. */
int pvs_host_and_port(const char *v, char *host, size_t hostsz, char *port, size_t portsz)
{
    char buf[256];
    size_t len = strlen(v);
    const char *colon = strrchr(v, ':');
    set_span(port, portsz, "", 0);
    if (len >= sizeof buf)
        return is_hostish(v, len) ? (set_span(host, hostsz, v, len), 1) : 0;
    if (v[0] == '[') {
        const char *close = strchr(v, ']');
        if (!close || (close[1] && (close[1] != ':' || !all_digits(close + 2))))
            return 0;
        set_span(buf, sizeof buf, v + 1, (size_t)(close - v - 1));
        if (!is_ipv6(buf) && !is_ipv4(buf) && !is_hostish(buf, strlen(buf)))
            return 0;
        set_span(host, hostsz, buf, strlen(buf));
        if (close[1])
            set_span(port, portsz, close + 2, strlen(close + 2));
        return 1;
    }
    size_t h = colon && all_digits(colon + 1) ? (size_t)(colon - v) : len;
    set_span(buf, sizeof buf, v, h);
    if (is_ipv4(buf) || is_hostish(buf, h)) {
        set_span(host, hostsz, v, h);
        if (h < len)
            set_span(port, portsz, colon + 1, strlen(colon + 1));
        return 1;
    }
    if (is_ipv6(v))
        return set_span(host, hostsz, v, len), 1;
    const char *dot = strrchr(v, '.');
    if (dot && all_digits(dot + 1)) {
        set_span(buf, sizeof buf, v, (size_t)(dot - v));
        if (is_ipv6(buf)) {
            set_span(host, hostsz, buf, strlen(buf));
            set_span(port, portsz, dot + 1, strlen(dot + 1));
            return 1;
        }
    }
    return 0;
}

int pvs_is_ipv6(const char *s)
{
    return is_ipv6(s);
}

static int host_and_port(const char *v)
{
    return pvs_host_and_port(v, NULL, 0, NULL, 0);
}

static int portal_dns(const char *v, strbuf *why)
{
    return host_and_port(v) ? 0 : fail(why, "value does not look like a valid portal address\n", v);
}

static int vgname(const char *v, strbuf *why)
{
    size_t n = strlen(v);
    int ok = n >= 2 && is_alnum((unsigned char)v[0]) && is_alnum((unsigned char)v[n - 1]);
    for (size_t i = 1; ok && i + 1 < n; i++)
        ok = is_alnum((unsigned char)v[i]) || strchr("-_.", v[i]);
    return ok ? 0 : fail(why, "lvm name '%s' contains illegal characters\n", v);
}

static int volume_id(const char *v, strbuf *why)
{
    /* ^([a-z][a-z0-9\-\_\.]*[a-z0-9]):(.+)$: the ID cannot hold a ':' */
    const char *c = strchr(v, ':');
    char *id = c ? strndup(v, (size_t)(c - v)) : NULL;
    int ok = id && c[1] && pvs_storeid_valid(id);
    free(id);
    return ok ? 0 : fail(why, "unable to parse volume ID '%s'\n", v);
}

static int mount_options(const char *v, strbuf *why)
{
    int ok = *v != '\0';
    for (const char *c = v; *c && ok; c++)
        ok = !isspace((unsigned char)*c);
    return ok ? 0 : fail(why, "invalid options '%s'\n", v);
}

static int zfs_blocksize(const char *v, strbuf *why)
{
    if (!*v)
        return 0;
    char *end;
    unsigned long long num = v[0] >= '1' && v[0] <= '9' ? strtoull(v, &end, 10) : 0;
    if (!num || (*end && (end[1] || !strchr("kKmM", *end))))
        return fail(why, "invalid ZFS blocksize format '%s'. Use a positive number "
                         "(no leading zeros) with an optional 'k' or 'm' suffix.\n", v);
    unsigned long long mult = *end == 'k' || *end == 'K' ? 1024 : *end ? 1024 * 1024 : 1;
    if (num <= (16ULL << 20) && num * mult >= 512 && num * mult <= (16ULL << 20) &&
        ((num * mult) & (num * mult - 1)) == 0)
        return 0;
    return fail(why, "value '%s' is not a valid ZFS blocksize. Must be a power of 2 "
                     "between 512B and 16MiB (e.g., 4k, 8k, 16k, 64k, 1m).\n", v);
}

static int config_id(const char *v, strbuf *why)
{
    size_t n = strlen(v);
    int ok = n >= 2 && is_alnum((unsigned char)v[0]) && !(v[0] >= '0' && v[0] <= '9');
    for (size_t i = 1; ok && i < n; i++)
        ok = is_alnum((unsigned char)v[i]) || v[i] == '_' || v[i] == '-';
    return ok ? 0 : fail(why, "invalid configuration ID '%s'\n", v);
}

static int storage_id(const char *v, strbuf *why)
{
    if (strlen(v) < 2)
        return fail(why, "storage ID '%s' cannot be shorter than 2 characters\n", v);
    return pvs_storeid_valid(v) ? 0 : fail(why, "storage ID '%s' contains illegal characters\n", v);
}

static int ip(const char *v, strbuf *why)
{
    return is_ipv4(v) || is_ipv6(v) ? 0 : fail(why, "value does not look like a valid IP address\n", v);
}

static int dns_name(const char *v, strbuf *why)
{
    return is_dns_name(v) ? 0 : fail(why, "value does not look like a valid DNS name\n", v);
}

static int uuid(const char *v, strbuf *why)
{
    static const int dash[] = { 8, 13, 18, 23 };
    int ok = strlen(v) == 36;
    for (int i = 0, d = 0; ok && i < 36; i++) {
        if (d < 4 && i == dash[d])
            ok = v[i] == '-', d++;
        else
            ok = isxdigit((unsigned char)v[i]) != 0;
    }
    return ok ? 0 : fail(why, "value does not look like a valid UUID\n", v);
}

static const struct {
    const char *name;
    pvs_format_fn fn;
} formats[] = {
    { "pve-storage-path", storage_path },     { "pve-storage-content", content_type },
    { "pve-node", node_name },                { "pve-dir-override", dir_override },
    { "pve-storage-server", server },         { "pve-storage-portal-dns", portal_dns },
    { "pve-storage-vgname", vgname },         { "pve-volume-id", volume_id },
    { "pve-storage-options", mount_options }, { "pve-storage-zfs-blocksize", zfs_blocksize },
    { "pve-configid", config_id },            { "pve-storage-id", storage_id },
    { "ip", ip },                             { "dns-name", dns_name },
    { "uuid", uuid },
};

pvs_format_fn pvs_string_format(const char *name)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(formats[i].name, name) == 0)
            return formats[i].fn;
    return NULL;
}

int pvs_content_type_valid(const char *ct)
{
    strbuf why;
    sb_init(&why);
    int rc = content_type(ct, &why);
    sb_free(&why);
    return rc == 0;
}
