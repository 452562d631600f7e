/* test_hang.c - a storage path on a mount that stops answering, for real:
 * a FUSE file system whose daemon reads each request and never replies, so
 * a check that touches it sleeps in the kernel where even SIGKILL waits (as
 * on a hard NFS mount whose server is gone).  The calls end on time, and
 * once the mount answers again (here: its daemon is gone, which aborts the
 * connection) the checks' children are reaped at once, not at the next
 * call, and their reaper threads are gone too. */
#include "helpers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* answer FUSE_INIT, then read every request and answer none */
static void fuse_daemon(int fd)
{
    char buf[1 << 17];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < (ssize_t)sizeof(struct fuse_in_header))
            _exit(0);
        struct fuse_in_header *in = (struct fuse_in_header *)buf;
        if (in->opcode != FUSE_INIT)
            continue;   /* read, never answered: the caller waits in the kernel */
        struct fuse_init_in *ii = (struct fuse_init_in *)(in + 1);
        struct {
            struct fuse_out_header h;
            struct fuse_init_out o;
        } r;
        memset(&r, 0, sizeof r);
        r.h.len = sizeof r;
        r.h.unique = in->unique;
        r.o.major = FUSE_KERNEL_VERSION;
        r.o.minor = ii->minor < FUSE_KERNEL_MINOR_VERSION ? ii->minor : FUSE_KERNEL_MINOR_VERSION;
        r.o.max_write = 4096;
        r.o.max_readahead = ii->max_readahead;
        if (write(fd, &r, sizeof r) != (ssize_t)sizeof r)
            _exit(1);
    }
}

/* a hung mount at mnt: the daemon's pid, or -1 (why in reason) */
static pid_t hung_mount(const char *mnt, char *reason, size_t n)
{
    int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(reason, n, "cannot open /dev/fuse: %s", strerror(errno));
        return -1;
    }
    char opts[128];
    snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
    if (mount("pvs-hang", mnt, "fuse", MS_NOSUID | MS_NODEV, opts) != 0) {
        snprintf(reason, n, "cannot mount a FUSE file system: %s", strerror(errno));
        close(fd);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);   /* a failing test takes it along */
        fuse_daemon(fd);
    }
    close(fd);
    return pid;
}

/* our children that are zombies (exited, not reaped) */
static int zombie_children(void)
{
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char p[300], stat[512] = "";
        snprintf(p, sizeof p, "/proc/%s/stat", e->d_name);
        FILE *f = e->d_name[0] >= '0' && e->d_name[0] <= '9' ? fopen(p, "r") : NULL;
        if (!f)
            continue;
        size_t len = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[len] = '\0';
        const char *r = strrchr(stat, ')');
        char state;
        int ppid;
        if (r && sscanf(r + 1, " %c %d", &state, &ppid) == 2 && ppid == getpid() && state == 'Z')
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

static int threads_now(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static char *dir, mnt[512];
static pid_t daemon_pid = -1;

/* whatever happened: the daemon gone (the mount answers), then unmounted */
static int teardown(void **state)
{
    (void)state;
    if (daemon_pid > 0) {
        kill(daemon_pid, SIGKILL);
        waitpid(daemon_pid, NULL, 0);
    }
    daemon_pid = -1;
    if (dir) {
        umount2(mnt, MNT_DETACH);
        remove_tree(dir);
    }
    free(dir);
    dir = NULL;
    return 0;
}

static void test_hung_mount(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("SKIP: test_hung_mount needs root (a FUSE mount)\n");
        skip();
    }
    char reason[256], cfg[2048];
    dir = make_tempdir();
    snprintf(mnt, sizeof mnt, "%s/mnt", dir);
    mkdirs(mnt);
    pid_t daemon = daemon_pid = hung_mount(mnt, reason, sizeof reason);
    if (daemon < 0) {
        print_message("SKIP: test_hung_mount: %s\n", reason);
        skip();
    }
    int threads = threads_now();
    snprintf(cfg, sizeof cfg, "dir: hang-a\n\tpath %s/a\n\ndir: hang-b\n\tpath %s/b\n\ndir: hang-c\n\tpath %s/c\n", mnt, mnt, mnt);
    pvs_ctx *ctx = test_ctx(NULL);
    assert_int_equal(pvs_ctx_set(ctx, "ceph_timeout", "10", NULL), 0);
    json_t *c = pvs_config_parse(ctx, "storage.cfg", cfg, strlen(cfg), NULL), *out = NULL;
    pvs_error err = PVS_ERROR_INIT;
    long long t0 = now_ms();
    assert_int_equal(pvs_storage_status(ctx, c, &out, &err), 0);
    long long took = now_ms() - t0;
    if (took > 10000)
        fail_msg("three checks of a hung mount took %lld ms: more than one ceph_timeout (10 s)", took);
    /* the three on the hung mount, by name: the default 'local' comes first
     * and its state is the host's */
    size_t i, hung = 0;
    json_t *row;
    json_array_foreach(out, i, row) {
        if (strncmp(json_string_value(json_object_get(row, "storage")), "hang-", 5) == 0) {
            assert_true(json_is_false(json_object_get(row, "active")));
            hung++;
        }
    }
    assert_int_equal(hung, 3);
    json_decref(out);
    /* the mount answers again: the checks' children exit and are reaped
     * now, with no further call */
    kill(daemon, SIGKILL);
    waitpid(daemon, NULL, 0);
    daemon_pid = -1;
    int zombies = -1;
    for (int i = 0; i < 200 && (zombies = zombie_children()) != 0; i++)
        usleep(10000);
    if (zombies)
        fail_msg("%d checks' children were left unreaped after the mount answered", zombies);
    int now = -1;
    for (int i = 0; i < 200 && (now = threads_now()) != threads; i++)
        usleep(10000);
    assert_int_equal(now, threads);
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);   /* nothing left for anyone to reap */
    assert_int_equal(errno, ECHILD);
    json_decref(c);
    pvs_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_hung_mount, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
