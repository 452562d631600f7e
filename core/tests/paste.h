/* paste.h - what bash makes of a line a person pastes: the argv it runs.
 * For the tests of the lines printed to be pasted (pvs_shell_quote_argv,
 * the command's "fix:" and "would run:" lines). */
#ifndef PVS_TEST_PASTE_H
#define PVS_TEST_PASTE_H

#include "helpers.h"
#include "internal.h"

/* bash's words of LINE, read back as hex (one line each) and decoded: a
 * NULL-terminated malloc()ed argv, or NULL when bash failed.  As a command,
 * LINE runs as it is, its command word one bash cannot find; else it is
 * read as the arguments of `set --`.  bash runs in DIR, a scratch
 * directory: a line that is not safe to paste may run something there (the
 * tests look at what it left). */
static inline char **paste_into_bash(const char *line, const char *dir, int as_command)
{
    char *script = pvs_asprintf("cd -- \"$0\" || exit 97\n"
                                "words() { for a; do printf %%s \"$a\" | od -An -v -tx1 | tr -d ' \\n'; echo; done; }\n"
                                "command_not_found_handle() { words \"$@\"; }\n"
                                "%s%s%s\n", as_command ? "" : "set -- ", line, as_command ? "" : "\nwords \"$@\"");
    const char *argv[] = { "/bin/bash", "-c", script, dir, NULL };
    pvs_run_result r;
    if (pvs_run(argv, 30, &r, NULL) || r.exit_status != 0) {
        print_message("bash failed on the line [%s]: %s\n", line, r.err ? r.err : "");
        pvs_run_result_clear(&r);
        free(script);
        return NULL;
    }
    size_t n = 0;
    for (const char *p = r.out; *p; p++)
        n += *p == '\n';
    char **words = calloc(n + 1, sizeof *words);
    const char *p = r.out;
    for (size_t i = 0; i < n; i++) {
        size_t hex = strcspn(p, "\n");
        words[i] = calloc(hex / 2 + 1, 1);
        for (size_t k = 0; k + 1 < hex; k += 2)
            sscanf(p + k, "%2hhx", (unsigned char *)&words[i][k / 2]);
        p += hex + 1;
    }
    pvs_run_result_clear(&r);
    free(script);
    return words;
}

static inline void paste_free(char **words)
{
    for (size_t i = 0; words && words[i]; i++)
        free(words[i]);
    free(words);
}

/* LINE pasted into bash gives exactly WANT (NULL-terminated), and nothing
 * else happened in DIR */
static inline void assert_pastes_as(const char *line, const char *const *want, const char *dir, int as_command)
{
    char **got = paste_into_bash(line, dir, as_command);
    if (!got)
        fail_msg("bash could not take the line [%s]", line);
    size_t i = 0;
    for (; want[i] && got[i]; i++)
        if (strcmp(want[i], got[i]) != 0)
            fail_msg("the line [%s]: word %zu is [%s], not [%s]", line, i, got[i], want[i]);
    if (want[i] || got[i])
        fail_msg("the line [%s] gives %s words than the argv", line, got[i] ? "more" : "fewer");
    paste_free(got);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", dir);
    if (system(cmd) != 0)
        fail_msg("pasting [%s] left files in %s", line, dir);
}

/* a line for a terminal: printable ASCII only (a test's hostile names
 * have no character a terminal could show as it is beyond ASCII) */
static inline void assert_ascii_line(const char *line)
{
    for (const unsigned char *p = (const unsigned char *)line; *p; p++)
        if (*p < 0x20 || *p >= 0x7f)
            fail_msg("the line [%s] holds the byte 0x%02x", line, *p);
}

#endif
