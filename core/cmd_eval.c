/*
 * dadras eval: not built yet (placeholder so the dispatcher links).
 */
#include "core/cli.h"

int cmd_eval(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_not_built("eval");
}
