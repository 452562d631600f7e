/* main.c - the pvestorage command (the work is in cli.c). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int main(int argc, char **argv)
{
    /* A closed output (| head, a dropped ssh session) must not kill the
     * command between the unmap and the map of a remap: writes fail with
     * EPIPE instead, and the command says so at the end. */
    signal(SIGPIPE, SIG_IGN);
    int rc = pvs_cli_main(argc, argv);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "pvestorage: write error on standard output: %s\n", strerror(errno));
        if (rc == 0)
            rc = 1;
    }
    return rc;
}
