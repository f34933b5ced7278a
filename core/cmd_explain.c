/*
 * dadras explain: not built yet (placeholder so the dispatcher links).
 */
#include "core/cli.h"

int cmd_explain(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_not_built("explain");
}
