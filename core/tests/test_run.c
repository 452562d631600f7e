/* test_run.c - the command runner: argv without a shell, captured output,
 * exit status, timeout. */
#include "helpers.h"
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

/* nothing is left for us to reap, zombie or not */
static void assert_no_children(void)
{
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

static void test_capture(void **state)
{
    (void)state;
    pvs_run_result r;
    pvs_error err = PVS_ERROR_INIT;
    const char *argv[] = { "/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL };
    assert_int_equal(pvs_run(argv, 10, &r, &err), 0);
    assert_int_equal(r.exit_status, 3);
    assert_string_equal(r.out, "out\n");
    assert_string_equal(r.err, "err\n");
    assert_false(r.timed_out);
    pvs_run_result_clear(&r);
}

static void test_no_shell(void **state)
{
    (void)state;
    pvs_run_result r;
    /* metacharacters reach the program as one literal argument */
    const char *argv[] = { "/bin/echo", "a; rm -rf / $(id) `x` | y", NULL };
    assert_int_equal(pvs_run(argv, 10, &r, NULL), 0);
    assert_string_equal(r.out, "a; rm -rf / $(id) `x` | y\n");
    assert_int_equal(r.exit_status, 0);
    pvs_run_result_clear(&r);
}

static void test_missing_program(void **state)
{
    (void)state;
    pvs_run_result r;
    pvs_error err = PVS_ERROR_INIT;
    const char *argv[] = { "/nonexistent/rbd", "map", NULL };
    assert_int_equal(pvs_run(argv, 10, &r, &err), PVS_ENOENT);
    assert_string_equal(err.message, "unable to run '/nonexistent/rbd': No such file or directory\n");
    pvs_error_clear(&err);
    pvs_run_result_clear(&r);
}

/* argv runs into a 1 s timeout: killed, reported, and the caller is back soon */
static void expect_timeout(const char *const *argv)
{
    pvs_run_result r;
    time_t t0 = time(NULL);
    assert_int_equal(pvs_run(argv, 1, &r, NULL), 0);
    assert_true(r.timed_out);
    assert_int_equal(r.exit_status, -1);
    assert_true(time(NULL) - t0 < 10);
    pvs_run_result_clear(&r);
}

static void test_timeout(void **state)
{
    (void)state;
    const char *argv[] = { "/bin/sleep", "30", NULL };
    expect_timeout(argv);
    assert_no_children();
}

/* on timeout the command's whole process group goes, not just the command */
static void test_timeout_kills_the_group(void **state)
{
    (void)state;
    char *dir = make_tempdir(), pidfile[600], script[1400];
    snprintf(pidfile, sizeof pidfile, "%s/child.pid", dir);
    snprintf(script, sizeof script, "sleep 300 & echo $! > %s; wait", pidfile);
    const char *argv[] = { "/bin/sh", "-c", script, NULL };
    expect_timeout(argv);
    FILE *f = fopen(pidfile, "r");
    int pid = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%d", &pid), 1);
    fclose(f);
    int alive = 1;
    for (int i = 0; i < 200 && alive; i++) {   /* reaped by init once killed */
        char p[64], st[256] = "";
        snprintf(p, sizeof p, "/proc/%d/stat", pid);
        FILE *s = fopen(p, "r");
        size_t n = s ? fread(st, 1, sizeof st - 1, s) : 0;
        if (s)
            fclose(s);
        st[n] = '\0';
        const char *r = strrchr(st, ')');
        alive = r && r[2] != 'Z' && r[2] != 'X';
        if (alive)
            usleep(10000);
    }
    assert_false(alive);
    assert_no_children();
    remove_tree(dir);
    free(dir);
}

static void test_lingering_process(void **state)
{
    (void)state;
    /* closes its output, then sleeps: the timeout still holds */
    const char *argv[] = { "/bin/sh", "-c", "exec >/dev/null 2>&1; sleep 30", NULL };
    expect_timeout(argv);
}

static void test_large_output(void **state)
{
    (void)state;
    pvs_run_result r;
    const char *argv[] = { "/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a; head -c 200000 /dev/zero | tr '\\0' b >&2", NULL };
    assert_int_equal(pvs_run(argv, 20, &r, NULL), 0);
    assert_int_equal(strlen(r.out), 300000);
    assert_int_equal(strlen(r.err), 200000);
    pvs_run_result_clear(&r);
}

static int slow_check(const char *arg)
{
    (void)arg;
    sleep(30);
    return 1;
}

static int true_check(const char *arg)
{
    return strcmp(arg, "yes") == 0;
}

static void test_fork_check(void **state)
{
    (void)state;
    assert_int_equal(pvs_fork_check(true_check, "yes", 5), 1);
    assert_int_equal(pvs_fork_check(true_check, "no", 5), 0);
    time_t t0 = time(NULL);
    assert_int_equal(pvs_fork_check(slow_check, "", 1), -1);
    assert_true(time(NULL) - t0 < 10);
    assert_no_children();   /* the stuck child was killed and reaped */
}

/* within a call: the check gets what is left of the call's deadline */
static void test_fork_check_call_deadline(void **state)
{
    (void)state;
    pvs_ctx *ctx = pvs_ctx_new(NULL);
    assert_int_equal(pvs_ctx_set(ctx, "ceph_timeout", "1", NULL), 0);
    pvs_ctx view, *call = pvs_call_begin(ctx, &view);
    time_t t0 = time(NULL);
    assert_int_equal(pvs_fork_check_call(call, slow_check, "", 30), -1);
    assert_true(time(NULL) - t0 < 5);
    assert_no_children();
    /* the deadline has passed: a command is not even started */
    pvs_run_result r;
    const char *argv[] = { "/bin/echo", "x", NULL };
    assert_int_equal(pvs_run_call(call, argv, &r, NULL), 0);
    assert_true(r.timed_out);
    assert_string_equal(r.out, "");
    pvs_run_result_clear(&r);
    pvs_call_end(call, &view);
    pvs_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capture),
        cmocka_unit_test(test_no_shell),
        cmocka_unit_test(test_missing_program),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_timeout_kills_the_group),
        cmocka_unit_test(test_lingering_process),
        cmocka_unit_test(test_large_output),
        cmocka_unit_test(test_fork_check),
        cmocka_unit_test(test_fork_check_call_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
