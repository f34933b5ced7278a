/*
 * dadras rules: not built yet (placeholder so the dispatcher links).
 */
#include "core/cli.h"

int cmd_rules(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_not_built("rules");
}
