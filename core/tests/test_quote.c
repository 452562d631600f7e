/* test_quote.c - the lines printed for a person to paste into bash, and the
 * names shown on a terminal (quote.c): what bash makes of a line is exactly
 * the argv, whatever the names hold; nothing a terminal acts on is printed. */
#include "paste.h"

static void expect_line(const char *const *argv, const char *want)
{
    char *line = pvs_shell_quote_argv(argv);
    assert_non_null(line);
    assert_string_equal(line, want);
    free(line);
}

/* the forms: bare words, '...' with '\'' for a quote, $'\xHH' escapes */
static void test_forms(void **state)
{
    (void)state;
    expect_line((const char *[]){ "/usr/bin/rbd", "-p", "rbd", "map", "vm-1 x", "it's", NULL },
                "/usr/bin/rbd -p rbd map 'vm-1 x' 'it'\\''s'");
    expect_line((const char *[]){ "pvestorage", "map", "ceph:vm-100-disk-0;touch${IFS}x", "--hint",
                                  "guest-is-windows=1", NULL },
                "pvestorage map 'ceph:vm-100-disk-0;touch${IFS}x' --hint guest-is-windows=1");
    expect_line((const char *[]){ "x", "a\nb", "\x1b[2J", "", "\xff", "'", NULL },
                "x 'a'$'\\n''b' $'\\x1b''[2J' '' $'\\xff' \\'");
    /* valid UTF-8 is shown as it is; C1 controls and bidi overrides are not */
    expect_line((const char *[]){ "x", "gr\xc3\xbcn", "\xc2\x9b" "6n", "a\xe2\x80\xae" "b", NULL },
                "x 'gr\xc3\xbcn' $'\\xc2\\x9b''6n' 'a'$'\\xe2\\x80\\xae''b'");
    /* the first word is the command: no assignment, no reserved word */
    expect_line((const char *[]){ "A=1", "A=1", NULL }, "'A=1' A=1");
    expect_line((const char *[]){ "if", "if", NULL }, "'if' if");
    expect_line((const char *[]){ NULL }, "");
}

/* every hostile argument comes back from bash as it was, and the line holds
 * nothing but printable ASCII */
static void test_round_trip(void **state)
{
    (void)state;
    char *scratch = make_tempdir();
    const char *hostile[] = {
        "/usr/bin/rbd", "vm-100-disk-0;touch${IFS}x", "$(touch y)", "`touch z`", "it's", "'", "''", "\\", "\\'",
        "a\nb", "\n", "\r\n", "\t", "\x1b[2J\x1b]0;title\x07", "\x7f", "\xff\xfe", "\xc3", "\xc2\x9b",
        "\xe2\x80\xae" "cod.exe", "", " ", "~", "~root", "*", "?", "[a]", "!!", "!$", "#x", "-n", "--", "a=b",
        "$HOME", "${IFS}", "$'\\x41'", "\"quoted\"", "&&", "|", ";", "<x", ">x", "(", "{a,b}", "%1", "a b  c",
        "\x01\x02\x1f", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", NULL,
    };
    char *line = pvs_shell_quote_argv(hostile);
    assert_non_null(line);
    assert_ascii_line(line);
    assert_pastes_as(line, hostile, scratch, 0);
    free(line);
    /* as a command line (words no command is named, so bash hands them to its
     * command_not_found_handle): the command word is no assignment and no
     * reserved word */
    const char *first[] = { "A=1", "if", "while", "!", "{", "a\nb", "pvs-no-such;touch${IFS}x", NULL };
    for (size_t i = 0; first[i]; i++) {
        const char *argv[] = { first[i], "x=1", "then", NULL };
        line = pvs_shell_quote_argv(argv);
        assert_ascii_line(line);
        assert_pastes_as(line, argv, scratch, 1);
        free(line);
    }
    remove_tree(scratch);
    free(scratch);
}

/* the core's own messages name commands with the same helper */
/* a name for a terminal: escapes as ls -b shows them, NUL bytes too */
static void test_visible_text(void **state)
{
    (void)state;
    const char name[] = "vm-1\x1b[2J\nb\\c\xff\xc2\x9b\xe2\x80\xae gr\xc3\xbcn\t\r\x7f\0z";
    char *v = pvs_visible_text(name, sizeof name - 1);
    assert_string_equal(v, "vm-1\\x1b[2J\\nb\\\\c\\xff\\xc2\\x9b\\xe2\\x80\\xae gr\xc3\xbcn\\t\\r\\x7f\\x00z");
    free(v);
    v = pvs_visible_text("", 0);
    assert_string_equal(v, "");
    free(v);
}

static void test_utf8_char_len(void **state)
{
    (void)state;
    assert_int_equal(pvs_utf8_char_len("a", 1), 1);
    assert_int_equal(pvs_utf8_char_len("\xc3\xbc", 2), 2);
    assert_int_equal(pvs_utf8_char_len("\xc3\xbc", 1), 0);                 /* cut short */
    assert_int_equal(pvs_utf8_char_len("\xe2\x82\xac", 3), 3);
    assert_int_equal(pvs_utf8_char_len("\xf0\x9f\x98\x80", 4), 4);
    assert_int_equal(pvs_utf8_char_len("\xc0\xaf", 2), 0);                 /* overlong */
    assert_int_equal(pvs_utf8_char_len("\xe0\x80\xaf", 3), 0);             /* overlong */
    assert_int_equal(pvs_utf8_char_len("\xed\xa0\x80", 3), 0);             /* a surrogate */
    assert_int_equal(pvs_utf8_char_len("\xf4\x90\x80\x80", 4), 0);         /* above U+10FFFF */
    assert_int_equal(pvs_utf8_char_len("\x80", 1), 0);
    assert_int_equal(pvs_utf8_char_len("", 0), 0);
}

/* how upstream's messages name a command: String::ShellQuote 1.04 on each
 * word alone (the expected forms are what Debian's module printed) */
static void test_perl_quote(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        { "report/time_format=\"%s\"", "'report/time_format=\"%s\"'" }, { "cachefile=none", "'cachefile=none'" },
        { "a'b", "'a'\\''b'" }, { "'", "\\'" }, { "''", "\"''\"" }, { "", "''" }, { "/sbin/lvs", "/sbin/lvs" },
        { "-o", "-o" }, { "a b", "'a b'" }, { "x'''y", "'x'\"'''\"'y'" }, { "^!%+,-./:@_", "^!%+,-./:@_" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[] = { cases[i][0], NULL };
        char *q = pvs_perl_quote_argv(argv);
        assert_string_equal(q, cases[i][1]);
        free(q);
    }
    const char *argv[] = { "/sbin/zpool", "import", "-o", "cachefile=none", "tank", NULL };
    char *q = pvs_perl_quote_argv(argv);
    assert_string_equal(q, "/sbin/zpool import -o 'cachefile=none' tank");   /* bash would keep it bare */
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_visible_text),
        cmocka_unit_test(test_utf8_char_len),
        cmocka_unit_test(test_perl_quote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
