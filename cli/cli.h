/*
 * cli.h - the stanzawatch command line, the composition root: the one part
 * of the project that names every other (core, text, engine, detectors,
 * reporter) and wires them: config sections, detector list, aggregator,
 * outputs. One file per command (cmd_<name>.c); main.c dispatches.
 * Exit codes: 0 ok, 1 input or parse error, 2 usage or config error.
 */
#ifndef SW_CLI_H
#define SW_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sw/conf.h"
#include "sw/log.h"

#define EXIT_INPUT 1
#define EXIT_USAGE 2
#define EXIT_MALFORMED 3 /* replay finished, malformed stanzas were skipped */

/* Help texts, printed by the command's -h and by 'stanzawatch help CMD'. */
extern const char cli_usage_replay[];
extern const char cli_usage_check[];
extern const char cli_usage_dump[];
extern const char cli_usage_reload[];
extern const char cli_usage_run[];
extern const char cli_usage_run_more[]; /* printed after cli_usage_run */

/* Commands: argv[0] is the command name; return the exit code. */
int cli_cmd_replay(int argc, char **argv);
int cli_cmd_check_config(int argc, char **argv);
int cli_cmd_dump_config(int argc, char **argv);
int cli_cmd_reload(int argc, char **argv);
int cli_cmd_run(int argc, char **argv);

/* sections.c */
/** Register every config section (engine, detectors, aggregate, reporter);
 *  prints the reason and returns SW_E* on failure. Call once. */
int cli_register_sections(void);
/** sw_conf_load(@path) printing "file:line: reason" on failure. */
int cli_load_conf(const char *path, struct sw_conf **out);

/* common.c */
struct sw_reporter;
struct sw_reporter_settings;
/** engine.log_level name -> level (NULL or unknown: info). */
enum sw_log_level cli_log_level(const char *name);
/** Give the live reporter up to @drain_ms to empty its spool, then stop it
 *  (consumes @r); says what is left. */
void cli_drain_reporter(struct sw_reporter *r, const struct sw_reporter_settings *rs,
                        int64_t drain_ms);
struct sw_output_ops;
struct sw_pipeline_stats;
/** Flush @fp and close it unless it is stdout (NULL: nothing); says
 *  "writing @path failed" and returns -1 if a write, flush or close failed. */
int cli_close_file(FILE *fp, const char *path);
/** Close the first *@n outputs (all of them, even after a failure) and set
 *  *@n to 0; -1 if any close failed. */
int cli_close_outputs(struct sw_output_ops *v, size_t *n);
/** Write "PID\n" to @path atomically; says why and returns -1 on failure. */
int cli_write_pid(const char *path);
/** --stats-json: the statistics as JSON to @path ("-": stdout), a file
 *  written atomically; says why and returns -1 on failure. */
int cli_write_stats(const char *path, const struct sw_pipeline_stats *st);
struct sw_aggregate;
struct sw_hit_stage;
/** The aggregator over @outs (@n) and its hit stage for the pipeline; says
 *  why and returns -1 on failure. */
int cli_aggregate_start(const struct sw_conf *conf, struct sw_output_ops *outs, size_t n,
                        struct sw_aggregate **agg, struct sw_hit_stage *stage);

#endif
