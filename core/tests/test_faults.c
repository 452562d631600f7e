/* test_faults.c - the promises under faults, against the real test cluster
 * and the emulated kernel: one deadline per call (a frozen OSD or monitor,
 * a monitor that never answers, a hanging rbd), nothing left unmapped
 * without a report, the caller's order of side effects, every spawned
 * process reaped (its whole group killed on timeout), a forked child with a
 * connection of its own, one map per image across processes, and hostile
 * device links.  Each timing assertion is a bound: one ceph_timeout plus a
 * small slack, never a speed measurement. */
#include "rbd_fixture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#define SLACK_MS 2000

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- frozen daemons: SIGSTOP by the pid in the cluster's pid file ---- */

static pid_t frozen[2];

static pid_t daemon_pid(const char *name)
{
    char dir[1024], p[1100];
    snprintf(dir, sizeof dir, "%s", cluster_conf);
    snprintf(p, sizeof p, "%s/run/%s.pid", dirname(dir), name);
    FILE *f = fopen(p, "r");
    int pid = 0;
    if (!f || fscanf(f, "%d", &pid) != 1 || pid <= 0)
        fail_msg("no pid in %s", p);
    fclose(f);
    return (pid_t)pid;
}

static void thaw(void)
{
    for (int i = 0; i < 2; i++)
        if (frozen[i] > 0) {
            kill(frozen[i], SIGCONT);
            frozen[i] = 0;
        }
}

static void freeze(int slot, const char *name)
{
    frozen[slot] = daemon_pid(name);
    assert_int_equal(kill(frozen[slot], SIGSTOP), 0);
}

static int teardown_thaw(void **state)
{
    thaw();
    return teardown(state);
}

/* ---- helpers ---- */

static char *new_image(fx *f, int n)
{
    static char names[8][96];
    snprintf(names[n], sizeof names[n], "%s-%d", f->image, n);
    create_image(NULL, names[n], RBD_FEATURE_LAYERING);
    return names[n];
}

static void write_script(const char *path, const char *text)
{
    write_file(path, text);
    assert_int_equal(chmod(path, 0755), 0);
}

/* an rbd command whose OP (map, unmap) hangs, with a child of its own that
 * would outlive it (its pid appended to pidfile); every other subcommand
 * goes to fake-rbd */
static void hanging_rbd(fx *f, const char *op, char *script, char *pidfile, size_t n)
{
    char text[4096];
    snprintf(script, n, "%s/hanging-rbd", f->root);
    snprintf(pidfile, n, "%s/sleeper.pid", f->root);
    snprintf(text, sizeof text,
             "#!/bin/sh\ncase \" $* \" in *\" %s \"*) sleep 300 & echo $! >> %s; wait; exit 1;; esac\n"
             "exec %s \"$@\"\n", op, pidfile, getenv("PVS_FAKE_RBD"));
    write_script(script, text);
}

/* 1 when pid is still running (not gone, not a zombie) */
static int running(pid_t pid)
{
    char p[64], stat[512] = "";
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(p, "r");
    if (!f)
        return 0;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *r = strrchr(stat, ')');
    return r && r[1] == ' ' && r[2] != 'Z' && r[2] != 'X';
}

/* no child of ours is left, zombie or not */
static void assert_no_children(void)
{
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

static int count_lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* ---- nothing left unmapped without a report; the caller's order ---- */

static void test_remap_then_missing(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    device_state(f, 1);   /* A mapped without rxbounce */
    char a[128], want[512];
    snprintf(a, sizeof a, "ceph:%s", f->image);
    json_t *h = hints_of(1, 1);
    pvs_error err = PVS_ERROR_INIT;
    /* B first: it fails before A is touched */
    const char *b_first[] = { "ceph:vm-999-disk-404", a };
    assert_int_equal(pvs_activate_volumes(f->ctx, f->cfg, b_first, 2, NULL, h, &err), PVS_ENOENT);
    assert_string_equal(err.message, "rbd error: rbd: error opening image vm-999-disk-404: (2) No such file or directory\n");
    assert_string_equal(take_log(f), "");
    assert_string_equal(map_options(f), "name=admin,key=client.admin");
    /* A first: A is remapped with rxbounce, then B fails; A is not left unmapped */
    const char *a_first[] = { a, "ceph:vm-999-disk-404" };
    assert_int_equal(pvs_activate_volumes(f->ctx, f->cfg, a_first, 2, NULL, h, &err), PVS_ENOENT);
    assert_string_equal(err.message, "rbd error: rbd: error opening image vm-999-disk-404: (2) No such file or directory\n");
    const char *log = take_log(f);
    assert_int_equal(count_lines_with(log, "\"unmap\""), 1);
    assert_int_equal(count_lines_with(log, "\"map\""), 1);
    assert_string_equal(map_options(f), "name=admin,key=client.admin,rxbounce");
    /* the map after the unmap fails: the error says the volume is no longer mapped */
    device_state(f, 0);
    char d[1024];
    snprintf(d, sizeof d, "%s/dev", f->root);
    remove_tree(d);
    snprintf(d, sizeof d, "%s/sys", f->root);
    remove_tree(d);
    device_state(f, 1);
    setenv("FAKE_RBD_FAIL", "map", 1);
    char *path = NULL;
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, a, NULL, h, &path, &err), PVS_ECOMMAND);
    snprintf(want, sizeof want, "can't map rbd volume %s: rbd: sysfs write failed\n"
             "volume '%s' was unmapped to apply rxbounce and is no longer mapped\n", f->image, a);
    assert_string_equal(err.message, want);
    assert_null(map_options(f));   /* indeed not mapped */
    pvs_error_clear(&err);
    json_decref(h);
}

static void test_list_order(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char a[128], b[128], dirpath[1024];
    snprintf(a, sizeof a, "ceph:%s", new_image(f, 1));
    snprintf(b, sizeof b, "ceph:%s", new_image(f, 2));
    snprintf(dirpath, sizeof dirpath, "%s/store", f->root);
    json_object_set_new(json_object_get(f->cfg, "ids"), "dirst",
                        json_pack("{s:s, s:s, s:{s:i}}", "type", "dir", "path", dirpath, "content", "images", 1));
    pvs_error err = PVS_ERROR_INIT;
    /* [rbd a, dir missing, rbd b]: a is mapped, the call stops at the dir volume, b is not */
    const char *vols[] = { a, "dirst:100/vm-100-disk-9.raw", b };
    int rc = pvs_activate_volumes(f->ctx, f->cfg, vols, 3, NULL, NULL, &err);
    assert_string_equal(err.message, "volume 'dirst:100/vm-100-disk-9.raw' does not exist\n");
    assert_int_equal(rc, PVS_ENOENT);
    const char *log = take_log(f);
    assert_non_null(strstr(log, a + 5));
    assert_null(strstr(log, b + 5));
    /* [rbd b, rbd missing]: b is mapped first, as upstream */
    const char *vols2[] = { b, "ceph:vm-999-disk-404" };
    assert_int_equal(pvs_activate_volumes(f->ctx, f->cfg, vols2, 2, NULL, NULL, &err), PVS_ENOENT);
    assert_non_null(strstr(take_log(f), b + 5));
    pvs_error_clear(&err);
}

/* ---- one deadline per call ---- */

static void test_hanging_rbd(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char script[1024], pidfile[1024];
    hanging_rbd(f, "map", script, pidfile, sizeof script);
    assert_int_equal(pvs_ctx_set(f->ctx, "rbd_command", script, NULL), 0);
    assert_int_equal(pvs_ctx_set(f->ctx, "ceph_timeout", "3", NULL), 0);
    char vols[4][128];
    const char *v[4];
    for (int i = 0; i < 4; i++) {
        snprintf(vols[i], sizeof vols[i], "ceph:%s", new_image(f, i + 1));
        v[i] = vols[i];
    }
    pvs_error err = PVS_ERROR_INIT;
    long long t0 = now_ms();
    assert_int_equal(pvs_activate_volumes(f->ctx, f->cfg, v, 4, NULL, NULL, &err), PVS_ETIMEDOUT);
    long long took = now_ms() - t0;
    if (took > 3000 + SLACK_MS)
        fail_msg("four hanging maps took %lld ms: more than one ceph_timeout (3 s)", took);
    assert_non_null(strstr(err.message, "failed: got timeout\n"));
    /* the command's whole process group is gone, and nothing is left to reap */
    FILE *pf = fopen(pidfile, "r");
    assert_non_null(pf);
    int pid, n = 0;
    while (fscanf(pf, "%d", &pid) == 1) {
        n++;
        for (int i = 0; i < 100 && running(pid); i++)
            usleep(10000);
        if (running(pid))
            fail_msg("the hanging rbd's child %d still runs", pid);
    }
    fclose(pf);
    assert_int_equal(n, 1);   /* the deadline was spent on the first map: the others never started */
    assert_no_children();
    pvs_error_clear(&err);
}

/* map image name with fake-rbd, without rxbounce (a disk mapped before) */
static void fake_map(fx *f, const char *name)
{
    char conf[1024], keyring[1024];
    snprintf(conf, sizeof conf, "%s/etc/pve/ceph.conf", f->root);
    snprintf(keyring, sizeof keyring, "%s/etc/pve/priv/ceph/ceph.keyring", f->root);
    const char *argv[] = { getenv("PVS_FAKE_RBD"), "-p", "rbd", "-c", conf, "--keyring", keyring, "map", name, NULL };
    pvs_run_result r;
    assert_int_equal(pvs_run(argv, 30, &r, NULL), 0);
    assert_int_equal(r.exit_status, 0);
    pvs_run_result_clear(&r);
}

/* A Windows guest's three disks, mapped without rxbounce, and the unmap of
 * the first remap hangs: as upstream, a failed unmap is a warning and the
 * disk stays mapped as it was; the call's one deadline is spent there, so
 * the other two are not even tried, and say so (not "got timeout") */
static void test_hanging_unmap_during_remap(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char script[1024], pidfile[1024], vols[3][128], want[2048];
    hanging_rbd(f, "unmap", script, pidfile, sizeof script);
    const char *v[3];
    for (int i = 0; i < 3; i++) {
        const char *name = new_image(f, i + 1);
        fake_map(f, name);
        snprintf(vols[i], sizeof vols[i], "ceph:%s", name);
        v[i] = vols[i];
    }
    take_log(f);
    assert_int_equal(pvs_ctx_set(f->ctx, "rbd_command", script, NULL), 0);
    assert_int_equal(pvs_ctx_set(f->ctx, "ceph_timeout", "3", NULL), 0);
    json_t *h = hints_of(1, 1), *report = NULL;
    pvs_error err = PVS_ERROR_INIT;
    long long t0 = now_ms();
    assert_int_equal(pvs_activate_volumes_report(f->ctx, f->cfg, v, 3, NULL, h, 0, &report, &err), 0);
    if (now_ms() - t0 > 3000 + SLACK_MS)
        fail_msg("the remap took %lld ms: more than one ceph_timeout (3 s)", now_ms() - t0);
    const char *want_actions[] = { "remap-failed", "remap-skipped-deadline", "remap-skipped-deadline" };
    for (int i = 0; i < 3; i++) {
        json_t *r = json_array_get(report, (size_t)i);
        assert_string_equal(json_string_value(json_object_get(r, "action")), want_actions[i]);
        assert_string_equal(json_string_value(json_object_get(r, "options_after")), "name=admin,key=client.admin");
        const char *w = json_string_value(json_array_get(json_object_get(r, "warnings"), 0));
        assert_non_null(w);
        if (i == 0) {
            assert_non_null(json_object_get(r, "error"));
            assert_non_null(strstr(w, "could not unmap to apply rxbounce - can't unmap rbd device "));
            assert_non_null(strstr(w, "failed: got timeout"));
            assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "failed: got timeout"));
        } else {
            snprintf(want, sizeof want, "not unmapping volume %s to apply rxbounce: the call's deadline "
                     "(ceph_timeout) has passed", v[i] + 5);
            assert_string_equal(w, want);
            assert_null(json_object_get(r, "error"));
        }
    }
    FILE *pf = fopen(pidfile, "r");
    assert_non_null(pf);
    int pid, n = 0;
    while (fscanf(pf, "%d", &pid) == 1)
        n++;
    fclose(pf);
    assert_int_equal(n, 1);   /* one unmap started */
    assert_no_children();
    json_decref(report);
    json_decref(h);
    pvs_error_clear(&err);
}

/* map with a daemon frozen: over within one ceph_timeout (3 s) with the
 * timeout error, nothing mapped; returns the message */
static char *map_with_frozen(fx *f, int slot, const char *daemon)
{
    static char msg[512];
    char a[128];
    snprintf(a, sizeof a, "ceph:%s", f->image);
    assert_int_equal(pvs_ctx_set(f->ctx, "ceph_timeout", "3", NULL), 0);
    freeze(slot, daemon);
    char *path = NULL;
    pvs_error err = PVS_ERROR_INIT;
    long long t0 = now_ms();
    int rc = pvs_map_volume(f->ctx, f->cfg, a, NULL, NULL, &path, &err);
    long long took = now_ms() - t0;
    thaw();
    assert_int_equal(rc, PVS_ETIMEDOUT);
    if (took > 3000 + SLACK_MS)
        fail_msg("a frozen %s held the call for %lld ms (ceph_timeout 3 s)", daemon, took);
    snprintf(msg, sizeof msg, "%s", err.message);
    assert_string_equal(take_log(f), "");   /* nothing mapped */
    pvs_error_clear(&err);
    return msg;
}

static void test_frozen_osd(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    assert_string_equal(map_with_frozen(f, 0, "osd.0"),
                        "rbd error: reading image features for storage 'ceph' did not finish within ceph_timeout (3 s)\n");
    /* the OSD is back: the next call works (on a new connection) */
    char a[128], *path = NULL;
    snprintf(a, sizeof a, "ceph:%s", f->image);
    assert_int_equal(pvs_ctx_set(f->ctx, "ceph_timeout", "20", NULL), 0);
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, a, NULL, NULL, &path, NULL), 0);
    assert_string_equal(path, f->dev);
    free(path);
}

static void test_frozen_monitor(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    /* librados' own connect timeout (whole seconds, under the call's) ends it */
    assert_string_equal(map_with_frozen(f, 1, "mon.a"),
                        "rbd error: cannot connect to the cluster of storage 'ceph': (110) Connection timed out\n");
}

/* a monitor address that accepts connections and never answers */
static void test_silent_monitor(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(s, 16), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    char text[512];
    snprintf(text, sizeof text, "rbd: silent\n\tpool rbd\n\tmonhost 127.0.0.1:%d\n\tkrbd 1\n", ntohs(sa.sin_port));
    json_t *cfg = pvs_config_parse(f->ctx, "storage.cfg", text, strlen(text), NULL);
    assert_int_equal(pvs_ctx_set(f->ctx, "ceph_timeout", "3", NULL), 0);
    char *path = NULL;
    pvs_error err = PVS_ERROR_INIT;
    long long t0 = now_ms();
    int rc = pvs_map_volume(f->ctx, cfg, "silent:vm-100-disk-0", NULL, NULL, &path, &err);
    long long took = now_ms() - t0;
    close(s);
    assert_int_equal(rc, PVS_ETIMEDOUT);
    if (took > 3000 + SLACK_MS)
        fail_msg("a silent monitor held the call for %lld ms (ceph_timeout 3 s)", took);
    assert_string_equal(err.message,
                        "rbd error: cannot connect to the cluster of storage 'silent': (110) Connection timed out\n");
    assert_string_equal(f->w.buf, "");   /* librados' own log stays out of the process's stderr and warnings */
    json_decref(cfg);
    pvs_error_clear(&err);
}

/* A configuration handed over already parsed (a Perl or Python caller's
 * hash) is not checked by the parser: the monitor list is validated before
 * librados ever sees it, and the user gets one clear error. */
static void test_garbage_monhost(void **state)
{
    fx *f = *state;
    static const char *const bad[][2] = {
        { "garbage!!,;;[::x", "garbage!!" },
        { "127.0.0.1:1 [::1", "[::1" },
    };
    for (size_t i = 0; i < 2; i++) {
        json_t *cfg = json_pack("{s:{s:{s:s, s:s, s:s, s:i}}}", "ids", "g1", "type", "rbd", "pool", "rbd",
                                "monhost", bad[i][0], "krbd", 1);
        char *path = NULL, want[256];
        pvs_error err = PVS_ERROR_INIT;
        assert_int_equal(pvs_path(f->ctx, cfg, "g1:vm-100-disk-0", NULL, &path, &err), PVS_EINVAL);
        snprintf(want, sizeof want, "rbd error: invalid monitor address '%s' in monhost of storage 'g1'\n", bad[i][1]);
        assert_string_equal(err.message, want);
        pvs_error_clear(&err);
        json_decref(cfg);
    }
}

static void test_wrong_keyring(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char p[1024];
    /* the managed cluster: its ceph.conf names the monitor's msgr2 address,
     * where the monitor says no at once (msgr1 lets the client retry until
     * the deadline; a storage.cfg monhost, as upstream's, has no "v2:") */
    snprintf(p, sizeof p, "%s/etc/pve/priv/ceph/ceph.keyring", f->root);
    write_file(p, "[client.admin]\n\tkey = AQBc8+ZkAAAAABAAq2Q1/0eW6YFVb+9s5xWb1g==\n");
    assert_int_equal(pvs_ctx_set(f->ctx, "ceph_timeout", "5", NULL), 0);
    char *path = NULL;
    pvs_error err = PVS_ERROR_INIT;
    long long t0 = now_ms();
    int rc = pvs_map_volume(f->ctx, f->cfg, "ceph:vm-100-disk-0", NULL, NULL, &path, &err);
    long long took = now_ms() - t0;
    assert_int_equal(rc, PVS_ECLUSTER);
    assert_string_equal(err.message,
                        "rbd error: cannot connect to the cluster of storage 'ceph': (13) Permission denied\n");
    if (took > 5000 + SLACK_MS)
        fail_msg("a wrong key took %lld ms", took);
    assert_string_equal(take_log(f), "");
    pvs_error_clear(&err);
}

/* ---- processes ---- */

static void test_fork_uses_own_connection(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char a[128], b[128];
    snprintf(a, sizeof a, "ceph:%s", f->image);
    snprintf(b, sizeof b, "ceph:%s", new_image(f, 1));
    char *path = NULL;
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, a, NULL, NULL, &path, NULL), 0);   /* connection cached */
    free(path);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(30);   /* a hang is a failure, not a stalled suite */
        pvs_error err = PVS_ERROR_INIT;
        int rc = pvs_map_volume(f->ctx, f->cfg, b, NULL, NULL, &path, &err);
        if (rc)
            fprintf(stderr, "child: %s", err.message);
        _exit(rc == 0 ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("the forked child failed (status %#x): it must connect on its own", status);
    assert_non_null(strstr(take_log(f), b + 5));
    /* and the parent's connection still works */
    assert_int_equal(pvs_unmap_volume(f->ctx, f->cfg, b, NULL, NULL), 0);
}

static void test_two_processes_map_once(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char a[128];
    snprintf(a, sizeof a, "ceph:%s", f->image);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0) {
            alarm(60);
            close(go[1]);
            char c;
            if (read(go[0], &c, 1) != 0)   /* wait for the start */
                _exit(3);
            pvs_ctx *ctx = pvs_ctx_new(NULL);
            pvs_ctx_set(ctx, "root", f->root, NULL);
            pvs_ctx_set(ctx, "rbd_command", getenv("PVS_FAKE_RBD"), NULL);
            pvs_ctx_set(ctx, "kernel_version", "6.1", NULL);
            char *path = NULL;
            pvs_error err = PVS_ERROR_INIT;
            int rc = pvs_map_volume(ctx, f->cfg, a, NULL, NULL, &path, &err);
            if (rc)
                fprintf(stderr, "child %d: %s", i, err.message);
            _exit(rc == 0 && strcmp(path, f->dev) == 0 ? 0 : 1);
        }
    }
    close(go[0]);
    close(go[1]);   /* both start at once */
    for (int i = 0; i < 2; i++) {
        int status;
        assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_int_equal(count_lines_with(take_log(f), "\"map\""), 1);
    char p[1024];
    snprintf(p, sizeof p, "%s/sys/devices/rbd/1", f->root);
    assert_false(is_directory(p));   /* no second device for the same image */
}

static void test_lock_wait_is_bounded(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char a[128], lockdir[1024];
    snprintf(a, sizeof a, "ceph:%s", f->image);
    char *path = NULL;
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, a, NULL, NULL, &path, NULL), 0);
    free(path);
    /* another holder of the image's lock (the only lock file so far) */
    snprintf(lockdir, sizeof lockdir, "%s/run/pvestorage/lock", f->root);
    DIR *d = opendir(lockdir);
    assert_non_null(d);
    struct dirent *e;
    int fd = -1;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            char p[2048];
            snprintf(p, sizeof p, "%s/%s", lockdir, e->d_name);
            fd = open(p, O_RDWR);
        }
    closedir(d);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    assert_int_equal(pvs_ctx_set(f->ctx, "ceph_timeout", "2", NULL), 0);
    pvs_error err = PVS_ERROR_INIT;
    long long t0 = now_ms();
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, a, NULL, NULL, &path, &err), PVS_ETIMEDOUT);
    long long took = now_ms() - t0;
    close(fd);
    assert_true(took >= 1900 && took <= 2000 + SLACK_MS);
    char want[256];
    snprintf(want, sizeof want, "unable to lock rbd volume %s within ceph_timeout (2 s): another process holds '",
             f->image);
    assert_true(strncmp(err.message, want, strlen(want)) == 0);
    pvs_error_clear(&err);
}

/* ---- hostile device links ---- */

static void test_not_an_rbd_device(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char p[1024], link[1024], a[128], want[1024];
    snprintf(a, sizeof a, "ceph:%s", f->image);
    snprintf(link, sizeof link, "%s%s", f->root, f->dev);
    char *dir = strdup(link);
    mkdirs(dirname(dir));
    free(dir);
    snprintf(p, sizeof p, "%s/dev/sda", f->root);
    assert_int_equal(mknod(p, S_IFBLK | 0600, makedev(8, 0)), 0);
    assert_int_equal(symlink("../../../sda", link), 0);
    char *path = NULL;
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, a, NULL, NULL, &path, &err), PVS_EINVAL);
    snprintf(want, sizeof want, "'%s' is not a kernel rbd device (it is '/dev/sda')\n", f->dev);
    assert_string_equal(err.message, want);
    /* named like one, but not the node sysfs says rbd0 is */
    snprintf(p, sizeof p, "%s/dev/rbd0", f->root);
    assert_int_equal(mknod(p, S_IFBLK | 0600, makedev(8, 0)), 0);
    snprintf(p, sizeof p, "%s/sys/devices/rbd/0", f->root);
    mkdirs(p);
    strcat(p, "/major");
    write_file(p, "251\n");
    unlink(link);
    assert_int_equal(symlink("../../../rbd0", link), 0);
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, a, NULL, NULL, &path, &err), PVS_EINVAL);
    snprintf(want, sizeof want, "'%s' is not a kernel rbd device (it is '/dev/rbd0')\n", f->dev);
    assert_string_equal(err.message, want);
    assert_string_equal(take_log(f), "");
    pvs_error_clear(&err);
}

/* A link whose directory plus relative target has more than 2048
 * components, and which still resolves to a block node: a real directory
 * 2045 levels deep (made with mkdirat: its path is longer than PATH_MAX). */
static void test_deep_link(void **state)
{
    NEED_ROOT();
    fx *f = *state;
    char link[1024], a[128];
    snprintf(a, sizeof a, "ceph:%s", f->image);
    snprintf(link, sizeof link, "%s%s", f->root, f->dev);
    char *dir = strdup(link);
    char *linkdir = dirname(dir);
    mkdirs(linkdir);
    enum { DEPTH = 2045 };
    int fd = open(linkdir, O_RDONLY | O_DIRECTORY);
    for (int i = 0; i < DEPTH; i++) {
        assert_int_equal(mkdirat(fd, "x", 0755), 0);
        int next = openat(fd, "x", O_RDONLY | O_DIRECTORY);
        close(fd);
        fd = next;
    }
    assert_int_equal(mknodat(fd, "rbd0", S_IFBLK | 0600, makedev(251, 0)), 0);
    close(fd);
    char *target = malloc(DEPTH * 2 + 8);
    target[0] = '\0';
    for (int i = 0; i < DEPTH; i++)
        strcat(target, "x/");
    strcat(target, "rbd0");
    assert_int_equal(symlink(target, link), 0);
    free(target);
    char *path = NULL;
    pvs_error err = PVS_ERROR_INIT;
    assert_int_equal(pvs_map_volume(f->ctx, f->cfg, a, NULL, NULL, &path, &err), PVS_EINVAL);
    char want[1024];
    snprintf(want, sizeof want, "cannot resolve device path '%s': path too long\n", f->dev);
    assert_string_equal(err.message, want);
    pvs_error_clear(&err);
    /* the tree is too deep for remove_tree's paths: take it down from inside */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && rm -rf x", linkdir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

int main(void)
{
    atexit(thaw);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_remap_then_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hanging_rbd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hanging_unmap_during_remap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frozen_osd, setup, teardown_thaw),
        cmocka_unit_test_setup_teardown(test_frozen_monitor, setup, teardown_thaw),
        cmocka_unit_test_setup_teardown(test_silent_monitor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_monhost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_keyring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_uses_own_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_processes_map_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_wait_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_an_rbd_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_link, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
