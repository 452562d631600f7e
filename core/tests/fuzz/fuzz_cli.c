/* fuzz_cli.c - the command's argument handling, in-process: the input is
 * argv (NUL-separated).  Never crashes or leaks; exits 0, 1 or 2.  Options
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
    int rc = pvs_cli_main(argc, argv);
    fclose(stderr);
    stderr = saved;
    if (rc < 0 || rc > 2)
        abort();
out:
    free(buf);
    return 0;
}
