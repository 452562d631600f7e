/* run.c - the only way the core starts processes: argv, no shell, output
 * captured, a timeout.  Also the bounded-wait check for dead mounts. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

extern char **environ;

void pvs_run_result_clear(pvs_run_result *res)
{
    free(res->out);
    free(res->err);
    res->out = res->err = NULL;
    res->exit_status = -1;
    res->signal = 0;
    res->timed_out = 0;
}

#define now_ms pvs_now_ms

static void *reap_when_gone(void *arg)
{
    pid_t pid = (pid_t)(intptr_t)arg;
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return NULL;
}

/* A killed child that the kernel still holds (a check stuck in a dead
 * mount's request, where even SIGKILL waits): a detached thread of its own
 * reaps it the moment it exits, so no zombie waits for the next call of a
 * long-running caller.  The thread takes no signal of the host's. */
static void reap_later(pvs_ctx *ctx, pid_t pid)
{
    pthread_attr_t a;
    pthread_t t;
    sigset_t all, old;
    sigfillset(&all);
    int rc = pthread_attr_init(&a);
    if (!rc) {
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&a, 64 * 1024);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        rc = pthread_create(&t, &a, reap_when_gone, (void *)(intptr_t)pid);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&a);
    }
    if (rc == 0)
        return;
    if (ctx)   /* no thread to be had: the context reaps it at a later call */
        pvs_adopt_orphan(ctx, pid);
    else
        reap_when_gone((void *)(intptr_t)pid);
}

/* After SIGKILL to a child's group: reap the child, waiting a moment for
 * it to exit; one that has not is handed to reap_later. */
static void kill_and_reap(pvs_ctx *ctx, pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    long long until = now_ms() + 100;
    for (;;) {
        pid_t w = waitpid(pid, NULL, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR))
            return;
        if (now_ms() >= until)
            break;
        usleep(2000);
    }
    reap_later(ctx, pid);
}

static void close_pair(int p[2])
{
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
}

/* Start argv with stdin from /dev/null and stdout/stderr into out[0]/out[1]
 * (the read ends, returned open), in a process group of its own and with
 * default signal handling whatever the host (Perl, Python) set. */
static int spawn(const char *path, const char *const *argv, char *const *envp, pid_t *pid, int out[2],
                 pvs_error *err)
{
    int po[2] = { -1, -1 }, pe[2] = { -1, -1 };
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) {
        int e = errno;
        close_pair(po);
        close_pair(pe);
        return pvs_fail(err, PVS_EIO, "unable to run '%s' - pipe: %s\n", argv[0], strerror(e));
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawnattr_init(&attr);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    /* a timeout kills the command and whatever it started */
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
    int rc = posix_spawn(pid, path, &fa, &attr, (char *const *)argv, envp ? envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(po[1]);
    close(pe[1]);
    out[0] = po[0];
    out[1] = pe[0];
    if (rc == 0)
        return 0;
    close_pair(out);
    return pvs_fail(err, rc == ENOENT ? PVS_ENOENT : PVS_ECOMMAND, "unable to run '%s': %s\n", argv[0],
                    strerror(rc));
}

/* Read both pipes until they close or the deadline (0: timed out); closes them. */
static int collect(int fd[2], strbuf bufs[2], long long deadline)
{
    struct pollfd fds[2] = { { fd[0], POLLIN, 0 }, { fd[1], POLLIN, 0 } };
    int open_fds = 2, in_time = 1;
    while (open_fds > 0) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            in_time = 0;
            break;
        }
        int n = poll(fds, 2, (int)(left > 1000000 ? 1000000 : left));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !fds[i].revents)
                continue;
            char buf[4096];
            ssize_t r = read(fds[i].fd, buf, sizeof buf);
            if (r > 0) {
                sb_addn(&bufs[i], buf, (size_t)r);
            } else if (r == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    return in_time;
}

/* The output is closed; the process may still linger (or hold on to a
 * dead mount): it gets until the deadline too.  0: timed out. */
static int wait_exit(pid_t pid, int *status, long long deadline)
{
    useconds_t pause = 20;   /* it is usually exiting already: look again soon, then less often */
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR))
            return 1;
        if (w == 0 && now_ms() >= deadline)
            return 0;
        if (w == 0)
            usleep(pause);
        pause = pause < 2000 ? pause * 2 : 2000;
    }
}

static int run_until(pvs_ctx *ctx, const char *path, const char *const *argv, char *const *envp,
                     long long deadline, pvs_run_result *res, pvs_error *err)
{
    res->out = res->err = NULL;
    res->exit_status = -1;
    res->signal = 0;
    res->timed_out = 0;
    strbuf bufs[2];
    sb_init(&bufs[0]);
    sb_init(&bufs[1]);
    int status = 0;
    if (now_ms() >= deadline) {   /* the call's time is up: do not even start it */
        res->timed_out = 1;
    } else {
        pid_t pid;
        int fd[2];
        int rc = spawn(path, argv, envp, &pid, fd, err);
        if (rc)
            return rc;
        res->timed_out = !collect(fd, bufs, deadline) || !wait_exit(pid, &status, deadline);
        if (res->timed_out)
            kill_and_reap(ctx, pid);
    }
    res->exit_status = WIFEXITED(status) && !res->timed_out ? WEXITSTATUS(status) : -1;
    res->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    res->out = sb_take(&bufs[0]);
    res->err = sb_take(&bufs[1]);
    if (!res->out || !res->err) {
        pvs_run_result_clear(res);
        return pvs_oom(err);
    }
    return 0;
}

int pvs_run(const char *const *argv, int timeout_s, pvs_run_result *res, pvs_error *err)
{
    return run_until(NULL, argv[0], argv, NULL, now_ms() + (long long)timeout_s * 1000, res, err);
}

int pvs_run_call(pvs_ctx *call, const char *const *argv, pvs_run_result *res, pvs_error *err)
{
    return pvs_run_call_exec(call, argv[0], argv, NULL, 0, res, err);
}

int pvs_run_call_exec(pvs_ctx *call, const char *path, const char *const *argv, char *const *envp,
                      long long timeout_ms, pvs_run_result *res, pvs_error *err)
{
    long long left = pvs_call_left_ms(call);
    if (timeout_ms > 0 && timeout_ms < left)
        left = timeout_ms;
    return run_until(call->base, path, argv, envp, now_ms() + left, res, err);
}

static int fork_until(pvs_ctx *ctx, int (*fn)(const char *arg), const char *arg, long long deadline);

int pvs_fork_check(int (*fn)(const char *arg), const char *arg, int timeout_s)
{
    return fork_until(NULL, fn, arg, now_ms() + (long long)timeout_s * 1000);
}

int pvs_fork_check_call(pvs_ctx *call, int (*fn)(const char *arg), const char *arg, int timeout_s)
{
    long long left = pvs_call_left_ms(call), bound = (long long)timeout_s * 1000;
    return fork_until(call->base, fn, arg, now_ms() + (left < bound ? left : bound));
}

static int fork_until(pvs_ctx *ctx, int (*fn)(const char *arg), const char *arg, long long deadline)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC))
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close_pair(p);
        return -1;
    }
    if (pid == 0) {
        /* only async-signal-safe work here: the parent may have threads */
        setpgid(0, 0);
        char c = fn(arg) ? '1' : '0';
        ssize_t w = write(p[1], &c, 1);
        _exit(w == 1 ? 0 : 1);
    }
    close(p[1]);
    setpgid(pid, pid);   /* whichever of the two runs first */
    struct pollfd fd = { p[0], POLLIN, 0 };
    int result = -1;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            break;
        int n = poll(&fd, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0) {
            char c;
            if (read(p[0], &c, 1) == 1)
                result = c == '1';
        }
        break;
    }
    close(p[0]);
    if (result < 0) {
        /* a child stuck on a dead mount may not die at once */
        kill_and_reap(ctx, pid);
    } else {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    return result;
}
