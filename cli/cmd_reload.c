/*
 * cmd_reload.c - `stanzawatch reload`: send SIGHUP to the replay whose pid
 * is in the pid file.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cli.h"
#include "sw/file.h"

#define DEFAULT_PID_FILE "/run/stanzawatch/stanzawatch.pid"

const char cli_usage_reload[] =
    "Usage: stanzawatch reload [--pid-file FILE]\n"
    "\n"
    "Send SIGHUP to the stanzawatch whose pid is in FILE (default " DEFAULT_PID_FILE ",\n"
    "written by 'run --pid-file' or 'replay --pid-file'). It re-reads its\n"
    "configuration file (for 'run' the taps and metrics.listen too, see 'help run');\n"
    "an invalid file is logged by that process (\"reload failed, keeping the running\n"
    "config: REASON\"), which keeps running with the old one. Exit status: 0 once\n"
    "the signal is sent (not once it is applied: watch the log or\n"
    "stanzawatch_reloads_total); 1 the pid file cannot be read, holds no pid, or the\n"
    "process is gone; 2 usage.\n";

int cli_cmd_reload(int argc, char **argv)
{
    const char *path = DEFAULT_PID_FILE;
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(cli_usage_reload, stdout);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--pid-file") == 0) {
        path = argv[2];
    } else if (argc != 1) {
        fputs(cli_usage_reload, stderr);
        return EXIT_USAGE;
    }
    char *text = NULL;
    size_t len = 0;
    if (sw_file_read(path, 64, 0, &text, &len) != 0) {
        fprintf(stderr, "stanzawatch reload: %s: %s\n", path, strerror(errno));
        return EXIT_INPUT;
    }
    char *end = NULL;
    long pid = strtol(text, &end, 10);
    bool ok = end != text;
    free(text);
    if (!ok || pid <= 1) {
        fprintf(stderr, "stanzawatch reload: %s: no pid in the file\n", path);
        return EXIT_INPUT;
    }
    if (kill((pid_t)pid, SIGHUP) != 0) {
        fprintf(stderr, "stanzawatch reload: pid %ld: %s\n", pid, strerror(errno));
        return EXIT_INPUT;
    }
    printf("sent SIGHUP to %ld\n", pid);
    return 0;
}
