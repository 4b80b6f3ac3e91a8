/*
 * cli.h - the stanzawatch command line, the composition root: the one part
 * of the project that names every other (core, text, engine, detectors,
 * reporter) and wires them: config sections, detector list, aggregator,
 * outputs. One file per command (cmd_<name>.c); main.c dispatches.
 * Exit codes: 0 ok, 1 input or parse error, 2 usage or config error.
 */
#ifndef SW_CLI_H
#define SW_CLI_H

#include "sw/conf.h"

#define EXIT_INPUT 1
#define EXIT_USAGE 2
#define EXIT_MALFORMED 3 /* replay finished, malformed stanzas were skipped */

/* Help texts, printed by the command's -h and by 'stanzawatch help CMD'. */
extern const char cli_usage_replay[];
extern const char cli_usage_check[];
extern const char cli_usage_dump[];
extern const char cli_usage_reload[];

/* Commands: argv[0] is the command name; return the exit code. */
int cli_cmd_replay(int argc, char **argv);
int cli_cmd_check_config(int argc, char **argv);
int cli_cmd_dump_config(int argc, char **argv);
int cli_cmd_reload(int argc, char **argv);

/* sections.c */
/** Register every config section (engine, detectors, aggregate, reporter);
 *  prints the reason and returns SW_E* on failure. Call once. */
int cli_register_sections(void);
/** sw_conf_load(@path) printing "file:line: reason" on failure. */
int cli_load_conf(const char *path, struct sw_conf **out);

#endif
