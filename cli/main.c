/* main.c - the pvestorage command (the work is in cli.c). */
#include "cli.h"

int main(int argc, char **argv)
{
    return pvs_cli_main(argc, argv);
}
