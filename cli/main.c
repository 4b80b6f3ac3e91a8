/*
 * main.c - the stanzawatch command line: replay, run, check-config,
 * dump-config, train, reload, help. Dispatches to one cli/cmd_<name>.c per command (train
 * lives with the classifier's model code, detectors/classifier.c), which map
 * errors to exit codes:
 *   0 ok, 1 input or parse error (file:line:col printed), 2 usage or config
 *   error (file:line: reason printed), 3 replay finished but skipped
 *   malformed stanzas (each printed as file:line:col).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "sw/classifier.h"
#include "sw/share.h"
#include "sw/sw.h"

static const char usage_main[] =
    "Usage: stanzawatch COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "stanzawatch watches an XMPP server's stanza mirror, catches chat-room flooders\n"
    "and raids, subscription and message spammers, spam waves, spam content and\n"
    "oversize-stanza senders, and turns them into incidents (JSON Lines, XEP-0268\n"
    "reports to trusted peers, block lists).\n"
    "\n"
    "Commands:\n"
    "  replay [OPTIONS] CAPTURE...   run the detectors over stanza captures\n"
    "  run [OPTIONS]                 watch a live server through the configured taps\n"
    "  check-config FILE             validate a configuration file\n"
    "  dump-config [-c FILE | --annotated]\n"
    "                                print the effective configuration as YAML\n"
    "  train ...                     train the content classifier (see help train)\n"
    "  reload [--pid-file F]         make a running run/replay re-read its config (SIGHUP)\n"
    "  retract [-c FILE] JID|DOMAIN  take entities off the published block list and feeds\n"
    "  help [COMMAND]                show help for a command\n"
    "  --version                     print the version\n"
    "\n"
    "Exit status: 0 success, 1 input or parse error, 2 usage or configuration error,\n"
    "3 replay analysed everything but skipped malformed stanzas ('help COMMAND'\n"
    "gives each command's options and exit statuses).\n";

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stdout);
        return 0;
    }
    const char *c = argv[1];
    if (strcmp(c, "replay") == 0) {
        fputs(cli_usage_replay, stdout);
    } else if (strcmp(c, "run") == 0) {
        fputs(cli_usage_run, stdout);
        fputs(cli_usage_run_more, stdout);
    } else if (strcmp(c, "check-config") == 0) {
        fputs(cli_usage_check, stdout);
    } else if (strcmp(c, "dump-config") == 0) {
        fputs(cli_usage_dump, stdout);
    } else if (strcmp(c, "reload") == 0) {
        fputs(cli_usage_reload, stdout);
    } else if (strcmp(c, "retract") == 0) {
        char *rargv[] = {(char *)"retract", (char *)"--help", NULL};
        return sw_share_cmd_retract(2, rargv);
    } else if (strcmp(c, "train") == 0) {
        char *targv[] = {(char *)"train", (char *)"--help", NULL};
        return sw_train_main(2, targv);
    } else {
        fprintf(stderr, "stanzawatch: no such command '%s'\n", c);
        fputs(usage_main, stderr);
        return EXIT_USAGE;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("stanzawatch %s\n", SW_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        return cmd_help(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "replay") == 0) {
        return cli_cmd_replay(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "run") == 0) {
        return cli_cmd_run(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "check-config") == 0) {
        return cli_cmd_check_config(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "dump-config") == 0) {
        return cli_cmd_dump_config(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "reload") == 0) {
        return cli_cmd_reload(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "retract") == 0) {
        return cli_register_sections() < 0 ? EXIT_USAGE : sw_share_cmd_retract(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "train") == 0) {
        return sw_train_main(argc - 1, argv + 1);
    }
    fprintf(stderr, "stanzawatch: unknown command '%s'\n\n", cmd);
    fputs(usage_main, stderr);
    return EXIT_USAGE;
}
