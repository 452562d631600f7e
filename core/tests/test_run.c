/* test_run.c - the command runner: argv without a shell, captured output,
 * exit status, timeout. */
#include "helpers.h"
#include "internal.h"

#include <time.h>

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

static void test_argv_string(void **state)
{
    (void)state;
    const char *argv[] = { "/usr/bin/rbd", "-p", "rbd", "map", "vm-1 x", "it's", NULL };
    char *s = pvs_argv_string(argv);
    assert_string_equal(s, "/usr/bin/rbd -p rbd map 'vm-1 x' 'it'\\''s'");
    free(s);
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
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capture),
        cmocka_unit_test(test_no_shell),
        cmocka_unit_test(test_missing_program),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_lingering_process),
        cmocka_unit_test(test_large_output),
        cmocka_unit_test(test_argv_string),
        cmocka_unit_test(test_fork_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
