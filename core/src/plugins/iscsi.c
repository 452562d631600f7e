/* iscsi.c - the iscsi plugin as upstream's ISCSIPlugin.pm (pve-storage
 * 9.1.7) drives open-iscsi: the sessions (one iscsiadm --mode session per
 * call), the node records' portals, login or a rate-limited rescan on
 * activation, logout on deactivation, and the LUNs as sysfs shows them
 * (iscsi_dev.c).  Every command has upstream's argv and messages and runs
 * through the core's runner (command.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "iscsi.h"

#define ISCSIADM "/usr/bin/iscsiadm"
#define RESCAN_STAMP "/var/run/pve-iscsi-rescan.lock"
#define RESCAN_EVERY 10   /* seconds */
#define PING_TIMEOUT_MS 2000

/* ---- output lines as upstream's regular expressions read them ---- */

static int blank(char c)   /* Perl's \s */
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* the blank-separated words of a line that does not start with a blank,
 * copied into buf: how many (max + 1: more than max), or 0 */
static int words(const char *line, size_t n, char *buf, char **w, int max)
{
    if (!n || blank(line[0]))
        return 0;
    memcpy(buf, line, n);
    buf[n] = '\0';
    int k = 0;
    for (char *p = buf; *p;) {
        if (k == max)
            return max + 1;
        w[k++] = p;
        while (*p && !blank(*p))
            p++;
        while (*p && blank(*p))
            *p++ = '\0';
    }
    return k;
}

/* a word PORTAL,TPGT as (\S+:\d+),\S+ takes it: PORTAL (cut in place), or NULL */
static char *portal_of(char *word)
{
    for (char *c = strrchr(word, ','); c; c = c > word ? memrchr(word, ',', (size_t)(c - word)) : NULL) {
        char *d = c;
        while (d > word && d[-1] >= '0' && d[-1] <= '9')
            d--;
        if (c[1] && d < c && d - word >= 2 && d[-1] == ':') {
            *c = '\0';
            return word;
        }
    }
    return NULL;
}

/* ISCSI_TARGET_RE, ^(\S+:\d+)\,\S+\s+(\S+)\s*$: 1 with the portal and the target */
static int target_line(const char *line, size_t n, char *buf, char **portal, char **target)
{
    char *w[3];
    if (words(line, n, buf, w, 2) != 2 || !(*portal = portal_of(w[0])))
        return 0;
    *target = w[1];
    return 1;
}

/* ---- iscsiadm ---- */

/* assert_iscsi_support: 0 when iscsiadm is there; else (noerr) warned and
 * 1, or the error */
static int assert_support(pvs_ctx *ctx, int noerr, pvs_error *err)
{
    char *f = pvs_host_path(ctx, ISCSIADM);
    int ok = f && access(f, X_OK) == 0;
    free(f);
    if (ok)
        return 0;
    if (!noerr)
        return pvs_fail(err, PVS_ESTORAGE, "error: no iscsi support - please install open-iscsi\n");
    pvs_warn(ctx, "warning: no iscsi support - please install open-iscsi\n");
    return 1;
}

/* an iscsiadm that changes something: its output goes to the info sink as
 * upstream's goes to stdout (none for quiet) */
static int iscsiadm(pvs_ctx *ctx, const char *const *argv, int quiet, pvs_error *err)
{
    pvs_command_opts o = { 0 };
    char *out = NULL;
    int rc = pvs_command(ctx, argv, &o, &out, err);
    if (out && *out && !quiet)
        pvs_info(ctx, "%s", out);
    free(out);
    return rc;
}

/* rc and err of a command upstream runs in an eval that warns: only an
 * interruption goes on */
static int warned(pvs_ctx *ctx, int rc, pvs_error *e, pvs_error *err)
{
    if (rc == PVS_EINTR || rc == PVS_ENOMEM) {
        pvs_error_move(err, e);
        return rc;
    }
    if (rc)
        pvs_warn(ctx, "%s", e->message ? e->message : "iscsiadm failed\n");
    pvs_error_clear(e);
    return 0;
}

/* ---- sessions ---- */

/* tcp: [SID] PORTAL,TPGT TARGET (FLASH): { TARGET: [ {session_id, portal} ] } */
static void session_line(const char *line, size_t n, void *data)
{
    char *buf = malloc(n + 1), *w[6], *portal = NULL;
    size_t l = 0;
    if (buf && words(line, n, buf, w, 5) == 5 && !strcmp(w[0], "tcp:") && (l = strlen(w[1])) >= 3
        && w[1][0] == '[' && w[1][l - 1] == ']')
        portal = portal_of(w[2]);
    json_t *list = portal ? json_object_get(data, w[3]) : NULL;
    if (portal && !list)
        json_object_set_new_nocheck(data, w[3], list = json_array());
    if (portal) {
        w[1][l - 1] = '\0';
        json_array_append_new(list, json_pack("{s:o, s:o}", "session_id", pvs_json_bytes(w[1] + 1), "portal",
                                              pvs_json_bytes(portal)));
    }
    free(buf);
}

/* ": No active sessions." at the end, as /: No active sessions.$/i matches */
static int no_sessions(const char *msg)
{
    size_t n = msg ? strlen(msg) : 0;
    if (n && msg[n - 1] == '\n')
        n--;
    return n >= 21 && msg[n - 1] != '\n' && strncasecmp(msg + n - 21, ": no active sessions", 20) == 0;
}

/* iscsi_session_list: every session (an object) into *res */
static int session_list(pvs_ctx *ctx, json_t **res, pvs_error *err)
{
    *res = NULL;
    int rc = assert_support(ctx, 0, err);
    if (rc)
        return rc;
    static const char *const argv[] = { ISCSIADM, "--mode", "session", NULL };
    pvs_command_opts o = { .errmsg = "iscsi session scan failed", .reads = 1 };
    char *out = NULL;
    pvs_error e = PVS_ERROR_INIT;
    rc = pvs_command(ctx, argv, &o, &out, &e);
    if (rc && !no_sessions(e.message)) {
        pvs_error_move(err, &e);
    } else {   /* "No active sessions." is none */
        rc = (*res = json_object()) ? 0 : pvs_oom(err);
        if (*res && out)
            pvs_split_lines(out, session_line, *res);
    }
    pvs_error_clear(&e);
    free(out);
    return rc;
}

/* iscsi_session: the target's sessions (an array, or NULL for none) as
 * cache has them, listed once per cache */
static int sessions_of(pvs_ctx *ctx, json_t *cache, const char *target, json_t **sessions, pvs_error *err)
{
    *sessions = NULL;
    json_t *all = cache ? json_object_get(cache, "iscsi_sessions") : NULL;
    if (!cache)
        return pvs_oom(err);
    if (!all) {
        int rc = session_list(ctx, &all, err);
        if (rc)
            return rc;
        if (json_object_set_new(cache, "iscsi_sessions", all))
            return pvs_oom(err);
    }
    *sessions = json_object_get(all, target);
    return 0;
}

/* iscsi_test_session: 1 when sysfs says the session is logged in */
static int session_up(pvs_ctx *ctx, const char *sid, pvs_error *err)
{
    if (!*sid || sid[strspn(sid, "0123456789")])
        return pvs_fail(err, PVS_EINVAL, "session_id: '%s' is not a number\n", sid);
    char *path = pvs_asprintf("/sys/class/iscsi_session/session%s/state", sid), *state = NULL;
    int rc = path ? iscsi_first_line(ctx, path, &state, err) : pvs_oom(err);
    int up = !rc && state && !strcmp(state, "LOGGED_IN");
    free(path);
    free(state);
    return rc ? rc : up;
}

/* ---- portals ---- */

static int connect_by(const struct addrinfo *ai, long long deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return 0;
    int ok = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
    if (!ok && errno == EINPROGRESS) {
        struct pollfd p = { fd, POLLOUT, 0 };
        long long left = deadline - pvs_now_ms();
        int soerr = 1;
        socklen_t sl = sizeof soerr;
        ok = left > 0 && poll(&p, 1, (int)left) == 1 && !getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) && !soerr;
    }
    close(fd);
    return ok;
}

/* PVE::Network::tcp_ping(HOST, PORT, 2): a TCP connection can be made
 * within 2 seconds (and the call's deadline) */
static int tcp_ping(pvs_ctx *ctx, const char *host, const char *port)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
    if (getaddrinfo(host, port, &hints, &res))
        return 0;
    long long left = pvs_call_left_ms(ctx), deadline = pvs_now_ms() + (left < PING_TIMEOUT_MS ? left : PING_TIMEOUT_MS);
    int ok = 0;
    for (const struct addrinfo *ai = res; ai && !ok; ai = ai->ai_next)
        ok = connect_by(ai, deadline);
    freeaddrinfo(res);
    return ok;
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* iscsi_test_portal: a logged-in session of target (if any) through the
 * portal, else a TCP connection to it: 1, 0, or an error */
static int portal_up(pvs_ctx *ctx, json_t *cache, const char *target, const char *portal, pvs_error *err)
{
    json_t *sessions = NULL, *s;
    int rc = target ? sessions_of(ctx, cache, target, &sessions, err) : 0;
    size_t i;
    json_array_foreach(sessions, i, s) {
        if (rc || strcmp(portal, str(s, "portal")))
            continue;
        int up = session_up(ctx, str(s, "session_id"), err);
        if (up)
            return up;
    }
    char host[256], port[32];
    if (rc || !pvs_host_and_port(portal, host, sizeof host, port, sizeof port) || !*host)
        return rc;
    return tcp_ping(ctx, host, *port && strcmp(port, "0") ? port : "3260");
}

typedef struct node_lines {
    const char *target;
    json_t *portals;
} node_lines;

static void node_line(const char *line, size_t n, void *data)
{
    node_lines *d = data;
    char *buf = malloc(n + 1), *portal, *target;
    if (buf && target_line(line, n, buf, &portal, &target) && !strcmp(target, d->target))
        json_array_append_new(d->portals, pvs_json_bytes(portal));
    free(buf);
}

/* iscsi_portals: the target's portals in the node records (iscsiadm
 * --mode node), or [portal_in] when there are none (a failure warned) */
static int node_portals(pvs_ctx *ctx, const char *target, const char *portal_in, json_t **list, pvs_error *err)
{
    *list = NULL;
    int rc = assert_support(ctx, 0, err);
    if (rc)
        return rc;
    static const char *const argv[] = { ISCSIADM, "--mode", "node", NULL };
    pvs_command_opts o = { .reads = 1 };
    char *out = NULL;
    pvs_error e = PVS_ERROR_INIT;
    node_lines d = { target, json_array() };
    rc = pvs_command(ctx, argv, &o, &out, &e);
    if (!rc && out && d.portals)
        pvs_split_lines(out, node_line, &d);
    free(out);
    if (!(rc = warned(ctx, rc, &e, err)) && d.portals && !json_array_size(d.portals))
        json_array_append_new(d.portals, pvs_json_bytes(portal_in));
    if (!rc && !d.portals)
        rc = pvs_oom(err);
    if (rc)
        json_decref(d.portals);
    else
        *list = d.portals;
    return rc;
}

/* ---- login, logout, rescan ---- */

static void count_target(const char *line, size_t n, void *data)
{
    char *buf = malloc(n + 1), *portal, *target;
    if (buf && target_line(line, n, buf, &portal, &target))
        ++*(size_t *)data;
    free(buf);
}

/* iscsi_discovery: sendtargets to each portal that is up, until one
 * names targets (which iscsiadm records in its node records) */
static int discovery(pvs_ctx *ctx, const char *target, const json_t *portals, json_t *cache, pvs_error *err)
{
    size_t found = 0;
    int rc = assert_support(ctx, 0, err);
    for (size_t i = 0; !rc && !found && i < json_array_size(portals); i++) {
        const char *portal = json_string_value(json_array_get(portals, i));
        int up = portal_up(ctx, cache, target, portal, err);
        if (up <= 0) {
            rc = up;
            continue;
        }
        const char *argv[] = { ISCSIADM, "--mode", "discovery", "--type", "sendtargets", "--portal", portal, NULL };
        pvs_command_opts o = { 0 };
        char *out = NULL;
        pvs_error e = PVS_ERROR_INIT;
        int r = pvs_command(ctx, argv, &o, &out, &e);
        if (out)   /* what it said counts even when it failed, which is not told */
            pvs_split_lines(out, count_target, &found);
        if (r == PVS_EINTR)
            rc = (pvs_error_move(err, &e), r);
        pvs_error_clear(&e);
        free(out);
    }
    return rc;
}

/* iscsi_login: discovery and the retry setting (failures warned), login */
static int login(pvs_ctx *ctx, const char *target, const json_t *portals, json_t *cache, pvs_error *err)
{
    int rc = assert_support(ctx, 0, err);
    pvs_error e = PVS_ERROR_INIT;
    if (!rc)
        rc = warned(ctx, discovery(ctx, target, portals, cache, &e), &e, err);
    /* no retries: pvestatd is not held up, its next round tries again */
    const char *update[] = { ISCSIADM, "--mode", "node", "--targetname", target, "--op", "update", "--name",
                             "node.session.initial_login_retry_max", "--value", "0", NULL };
    if (!rc)
        rc = warned(ctx, iscsiadm(ctx, update, 0, &e), &e, err);
    const char *argv[] = { ISCSIADM, "--mode", "node", "--targetname", target, "--login", NULL };
    return rc ? rc : iscsiadm(ctx, argv, 0, err);
}

static int logout(pvs_ctx *ctx, const char *target, pvs_error *err)
{
    int rc = assert_support(ctx, 0, err);
    const char *argv[] = { ISCSIADM, "--mode", "node", "--targetname", target, "--logout", NULL };
    return rc ? rc : iscsiadm(ctx, argv, 0, err);
}

/* the rescan's rate limit: due when the stamp file is missing (then made)
 * or was touched more than 10 seconds ago (then touched); a dry run
 * touches nothing */
static int rescan_due(pvs_ctx *ctx)
{
    char *f = pvs_host_path(ctx, RESCAN_STAMP);
    struct stat st;
    int due = 1;
    if (f && stat(f, &st)) {
        int fd = pvs_dry_run(ctx) ? -1 : open(f, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
        if (fd >= 0) {
            futimens(fd, NULL);
            close(fd);
        }
    } else if (f) {
        time_t d = time(NULL) - st.st_atime;
        due = d < 0 || d > RESCAN_EVERY;
        if (due && !pvs_dry_run(ctx))
            utimensat(AT_FDCWD, f, NULL, 0);
    }
    free(f);
    return due;
}

/* iscsi_session_rescan: each session looks for new LUNs (failures warned) */
static int rescan(pvs_ctx *ctx, const json_t *sessions, pvs_error *err)
{
    int rc = assert_support(ctx, 0, err);
    if (rc || !rescan_due(ctx))
        return rc;
    for (size_t i = 0; !rc && i < json_array_size(sessions); i++) {
        const char *argv[] = { ISCSIADM, "--mode", "session", "--sid",
                               str(json_array_get(sessions, i), "session_id"), "--rescan", NULL };
        pvs_error e = PVS_ERROR_INIT;
        rc = warned(ctx, iscsiadm(ctx, argv, 1, &e), &e, err);
    }
    return rc;
}

/* ---- the storage ---- */

/* a login is due when the target has no session, or none through one of
 * the portals */
static int must_login(const json_t *sessions, const json_t *portals)
{
    if (!sessions)
        return 1;
    for (size_t i = 0; i < json_array_size(portals); i++) {
        const char *p = json_string_value(json_array_get(portals, i));
        int seen = 0;
        for (size_t k = 0; k < json_array_size(sessions) && !seen; k++)
            seen = !strcmp(p, str(json_array_get(sessions, k), "portal"));
        if (!seen)
            return 1;
    }
    return 0;
}

/* ISCSIPlugin::activate_storage: login (a failure warned) or rescan */
static int activate(pvs_ctx *ctx, const json_t *scfg, pvs_error *err)
{
    if (assert_support(ctx, 1, err))
        return 0;
    json_t *cache = pvs_call_cache(ctx), *sessions = NULL, *portals = NULL;
    const char *target = str(scfg, "target");
    int rc = sessions_of(ctx, cache, target, &sessions, err);
    if (!rc)
        rc = node_portals(ctx, target, str(scfg, "portal"), &portals, err);
    pvs_error e = PVS_ERROR_INIT;
    if (!rc && must_login(sessions, portals))
        rc = warned(ctx, login(ctx, target, portals, cache, &e), &e, err);
    else if (!rc)
        rc = rescan(ctx, sessions, err);
    json_decref(portals);
    return rc;
}

/* ISCSIPlugin::check_connection (with a session list of its own): 1 when
 * a portal of the target is up, 0, or an error */
static int connected(pvs_ctx *ctx, const json_t *scfg, pvs_error *err)
{
    const char *target = str(scfg, "target");
    json_t *cache = json_object(), *portals = NULL;
    int rc = cache ? node_portals(ctx, target, str(scfg, "portal"), &portals, err) : pvs_oom(err), up = 0;
    for (size_t i = 0; !rc && !up && i < json_array_size(portals); i++) {
        int r = portal_up(ctx, cache, target, json_string_value(json_array_get(portals, i)), err);
        rc = r < 0 ? r : 0;
        up = r > 0;
    }
    json_decref(portals);
    json_decref(cache);
    return rc ? rc : up;
}

static int iscsi_check_connection(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                                  pvs_error *err)
{
    (void)self;
    int up = connected(ctx, scfg, err);
    if (!up)
        pvs_fail(err, PVS_ESTORAGE, "storage '%s' is not online\n", storeid);
    return up > 0;
}

/* PVE::Storage::activate_storage's connection check (only this plugin
 * has one upstream among those in C), then the plugin's activation */
static int iscsi_activate_storage(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                                  pvs_error *err)
{
    (void)self;
    pvs_error e = PVS_ERROR_INIT;
    int up = connected(ctx, scfg, &e), rc = 0;
    if (up == PVS_EINTR || up == PVS_ENOMEM)
        rc = (pvs_error_move(err, &e), up);
    else if (up < 0)   /* its message ends in a newline of its own: upstream keeps both */
        rc = pvs_fail(err, PVS_ESTORAGE, "connection check for storage '%s' failed - %s\n", storeid,
                      e.message ? e.message : "\n");
    else if (!up)
        rc = pvs_fail(err, PVS_ESTORAGE, "storage '%s' is not online\n", storeid);
    pvs_error_clear(&e);
    return rc ? rc : activate(ctx, scfg, err);
}

/* logout when the target has a session (a session list of its own, as
 * PVE::Storage gives the plugin a fresh cache) */
static int iscsi_deactivate_storage(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                                    pvs_error *err)
{
    (void)self, (void)storeid;
    if (assert_support(ctx, 1, err))
        return 0;
    json_t *cache = json_object(), *sessions = NULL;
    const char *target = str(scfg, "target");
    int rc = cache ? sessions_of(ctx, cache, target, &sessions, err) : pvs_oom(err);
    if (!rc && sessions)
        rc = logout(ctx, target, err);
    json_decref(cache);
    return rc;
}

/* active when the target has a session (the call's session list) */
static int iscsi_status(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                        pvs_storage_usage *u, pvs_error *err)
{
    (void)self, (void)storeid;
    json_t *sessions = NULL;
    const char *target = str(scfg, "target");
    int rc = sessions_of(ctx, pvs_call_cache(ctx), target, &sessions, err);
    if (rc)
        return rc;
    memset(u, 0, sizeof *u);
    u->active = sessions != NULL;
    if (!sessions)
        pvs_fail(err, PVS_ESTORAGE, "no iSCSI session to target '%s'\n", target);
    return 0;
}

/* ---- volumes ---- */

int iscsi_volname(const char *volname, const char *name, size_t n, pvs_volname *out, pvs_error *err)
{
    (void)volname;
    memset(out, 0, sizeof *out);
    out->vtype = strdup("images");
    out->name = strndup(name, n);
    out->format = strdup("raw");
    if (!out->vtype || !out->name || !out->format) {
        pvs_volname_clear(out);
        return pvs_oom(err);
    }
    return 0;
}

/* C.I.L.NAME: ^\d+\.\d+\.\d+\.([^/\s]+)$, the name being a /dev/disk/by-id entry */
static int iscsi_parse_volname(const pvs_plugin *self, const char *volname, pvs_volname *out, pvs_error *err)
{
    (void)self;
    memset(out, 0, sizeof *out);
    const char *p = volname;
    for (int k = 0; k < 3 && p; k++) {
        size_t d = strspn(p, "0123456789");
        p = d && p[d] == '.' ? p + d + 1 : NULL;
    }
    if (!p || !*p || p[strcspn(p, "/ \t\n\r\f\v")])
        return pvs_fail(err, PVS_EINVAL, "unable to parse iscsi volume name '%s'\n", volname);
    return iscsi_volname(volname, p, strlen(p), out, err);
}

/* filesystem_path: /dev/disk/by-id/NAME; no snapshots */
static int iscsi_path(pvs_ctx *ctx, const pvs_plugin *self, const json_t *scfg, const char *volname,
                      const char *storeid, const char *snapname, char **path, pvs_error *err)
{
    (void)scfg, (void)storeid;
    if (snapname)
        return pvs_fail(err, PVS_EINVAL, "snapshot is not possible on iscsi storage\n");
    pvs_volname v;
    int rc = pvs_plugin_parse_volname_in(ctx, self, volname, &v, err);
    if (rc)
        return rc;
    *path = pvs_asprintf("/dev/disk/by-id/%s", v.name);
    pvs_volname_clear(&v);
    return *path ? 0 : pvs_oom(err);
}

/* the LUN's device must belong to a session of the storage's target */
static int iscsi_activate_volume(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                                 const char *volname, const char *snapname, const json_t *hints, pvs_error *err)
{
    (void)hints;
    char *path = NULL;
    int rc = iscsi_path(ctx, self, scfg, volname, storeid, snapname, &path, err);
    if (!rc)   /* path is /dev/disk/by-id/NAME */
        rc = iscsi_volume_of_target(ctx, volname, path + 16, str(scfg, "target"), err);
    free(path);
    return rc;
}

/* list_images: the LUNs of the target's sessions (no guest owns one:
 * none for a guest's listing); sysfs is read once per call */
static int iscsi_list_volumes(pvs_ctx *ctx, const pvs_plugin *self, const char *storeid, const json_t *scfg,
                              long long vmid, json_t **out, pvs_error *err)
{
    (void)self;
    json_t *cache = pvs_call_cache(ctx), *devs = cache ? json_object_get(cache, "iscsi_devices") : NULL, *info;
    if (!cache)
        return pvs_oom(err);
    if (!devs && (!(devs = iscsi_device_list(ctx, err)) || json_object_set_new(cache, "iscsi_devices", devs)))
        return err && err->code ? err->code : pvs_oom(err);
    if (!(*out = json_array()))
        return pvs_oom(err);
    const char *volname;
    json_object_foreach(json_object_get(devs, str(scfg, "target")), volname, info) {
        json_t *o = vmid < 0 ? json_deep_copy(info) : NULL;
        if (o) {
            json_object_set_new(o, "volid", pvs_json_volid(storeid, NULL, volname));
            json_object_set_new(o, "content", json_string("images"));
            json_array_append_new(*out, o);
        }
    }
    return 0;
}

/* ---- the plugin ---- */

const pvs_property iscsi_properties[] = {
    PVS_PROP("target", "string"),
    PVS_PROP("portal", "string", .format = "pve-storage-portal-dns"),
    PVS_PROPS_END,
};
const pvs_plugin_option iscsi_options[] = {
    PVS_FIXED("portal"), PVS_FIXED("target"), PVS_OPT("nodes"), PVS_OPT("disable"),
    PVS_OPT("content"), PVS_OPT("bwlimit"), PVS_OPTIONS_END,
};
const char *const iscsi_content[] = { "images", "none", NULL };
const char *const iscsi_content_default[] = { "images", NULL };
const pvs_plugin pvs_iscsi_plugin = {
    PVS_NODE_PLUGIN("iscsi"),
    .shared = 1,
    .options = iscsi_options, .content_valid = iscsi_content, .content_default = iscsi_content_default,
    .properties = iscsi_properties,
    /* ISCSIPlugin's methods; deactivate_volume (nothing), map (the path)
     * and unmap are the base's */
    .parse_volname = iscsi_parse_volname, .path = iscsi_path,
    .check_connection = iscsi_check_connection,
    .activate_storage = iscsi_activate_storage, .deactivate_storage = iscsi_deactivate_storage,
    .activate_volume = iscsi_activate_volume,
    .status = iscsi_status, .list_volumes = iscsi_list_volumes,
};
