/*
 * The dadras command line: one executable, git-style subcommands. Each
 * subcommand lives in core/cmd_<name>.c and returns a process exit status.
 *
 * Exit statuses (batch-format.md "Quarantine and exit status"; cron jobs act
 * on them without parsing output):
 */
#ifndef ADJ_CORE_CLI_H
#define ADJ_CORE_CLI_H

enum cli_exit {
    CLI_EXIT_OK = 0,          /* Every batch verified, nothing rejected. */
    CLI_EXIT_REJECTED = 1,    /* Verified, but some documents rejected. */
    CLI_EXIT_UNVERIFIED = 2,  /* A batch unverified or a batch-level error. */
    CLI_EXIT_USAGE = 64,      /* EX_USAGE */
    CLI_EXIT_IOERR = 74,      /* EX_IOERR: a file could not be read or written. */
};

int cmd_check(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_ledger(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_eval(int argc, char **argv);

/* Prints "dadras: NAME is not built yet" and returns CLI_EXIT_USAGE. */
int cli_not_built(const char *name);

#endif
