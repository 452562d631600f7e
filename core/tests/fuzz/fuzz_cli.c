/* fuzz_cli.c - the command's argument handling, in-process: the input is
 * argv (NUL-separated).  Never crashes or leaks; ends with an exit status
 * the command that ran documents (its row of the command table: 0, 1, 2,
 * and 3 for audit; 0, 1, 2 when no command ran).  Options
 * that would point the command at real host files are left out, and the
 * root is a directory that does not exist, so nothing outside is touched. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "../../../cli/cli.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    setenv("PVESTORAGE_ROOT", "/nonexistent/pvs-fuzz-root", 1);
    setenv("PVESTORAGE_RBD_COMMAND", "/bin/false", 1);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);   /* libFuzzer reports on stderr; the command's output goes nowhere */
    close(null);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { MAX_ARGS = 16 };
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = "pvestorage";
    for (char *p = buf; p < buf + size && argc <= MAX_ARGS; p += strlen(p) + 1) {
        if (strncmp(p, "--co", 4) == 0 || strncmp(p, "--ro", 4) == 0 || strncmp(p, "--rb", 4) == 0)
            goto out;
        argv[argc++] = p;
    }
    argv[argc] = NULL;
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    const char *command = NULL;
    int rc = pvs_cli_run(argc, argv, &command);
    fclose(stderr);
    stderr = saved;
    if (!cli_exit_documented(command, rc)) {
        fprintf(stderr, "fuzz_cli: '%s' exited %d, which it does not document\n", command ? command : "(none)", rc);
        abort();
    }
out:
    free(buf);
    return 0;
}
