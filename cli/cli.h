/* cli.h - the pieces of the pvestorage command, so that the fuzz target
 * can run the command's argument handling in-process. */
#ifndef PVS_CLI_H
#define PVS_CLI_H

#include <stdio.h>

#include "pvestorage.h"

/* The whole command: what main() does, returning the exit status. */
int pvs_cli_main(int argc, char **argv);

/* Print v as one line of JSON; bytes that are not UTF-8 as \udcXX. */
void cli_print_json(FILE *f, const json_t *v);
/* A JSON string of any bytes (printed by cli_print_json). */
json_t *cli_string(const char *s);

#endif
