/* cli.h - the pieces of the pvestorage command, so that the fuzz target
 * can run the command's argument handling in-process. */
#ifndef PVS_CLI_H
#define PVS_CLI_H

#include <stdio.h>

#include "pvestorage.h"

/* The whole command: what main() does, returning the exit status. */
int pvs_cli_main(int argc, char **argv);
/* The same; *command_run (when not NULL) is set to the name of the command
 * that ran (static), or NULL when none did (--help, --version, a usage
 * error before a command was found). */
int pvs_cli_run(int argc, char **argv, const char **command_run);
/* The name of the command table's I-th command; NULL past the last. */
const char *cli_command_name(size_t i);
/* 1 if STATUS is an exit status the command NAME documents (for NULL, or a
 * name that is no command: those of --help and usage errors, 0, 1, 2). */
int cli_exit_documented(const char *name, int status);

/* Print v as one line of JSON; bytes that are not UTF-8 as \udcXX. */
void cli_print_json(FILE *f, const json_t *v);
/* A JSON string of any bytes (printed by cli_print_json). */
json_t *cli_string(const char *s);

#endif
