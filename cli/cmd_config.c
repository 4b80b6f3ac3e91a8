/*
 * cmd_config.c - `stanzawatch check-config` (load, validate, set up and tear
 * down every enabled detector) and `stanzawatch dump-config` (print the
 * effective configuration as YAML, or with --annotated the defaults with
 * every key's help generated from the schemas).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "sw/conf.h"
#include "sw/detector.h"
#include "sw/sw.h"

const char cli_usage_check[] =
    "Usage: stanzawatch check-config FILE\n"
    "\n"
    "Load and validate FILE with every section's schema, then set up and tear down\n"
    "every enabled detector as a replay would (rule files compiled, list and model\n"
    "files read). Prints 'FILE: ok' and exits 0, or prints 'file:line: key: reason'\n"
    "(or 'FILE: detector NAME: reason') and exits 2. Unknown keys, wrong types and\n"
    "out-of-range values are errors.\n";

const char cli_usage_dump[] =
    "Usage: stanzawatch dump-config [-c FILE | --annotated]\n"
    "\n"
    "Print the effective configuration (FILE merged over the built-in defaults, or\n"
    "the defaults alone) as YAML. Loading the output gives the same configuration.\n"
    "--annotated prints the defaults with each key's help, type and range as a\n"
    "comment above it, generated from the schemas: the starting point of a new\n"
    "detector's section in configs/stanzawatch.yaml.\n";

/*
 * Run every enabled detector's setup() on @conf and tear it down again, as a
 * replay would at start: a rule file with a bad regex, a missing list or model
 * file is a configuration error only setup() can see. Prints the first failure
 * as "FILE: detector NAME: reason". Returns 0 or the failing setup's SW_E*.
 */
static int check_detectors(const struct sw_conf *conf)
{
    const struct sw_detector_ops *const *list = sw_registry_list();
    char section[160];
    for (size_t i = 0; list[i] != NULL; i++) {
        const struct sw_detector_ops *ops = list[i];
        snprintf(section, sizeof(section), "detectors.%s", ops->name);
        const void *settings = sw_conf_section(conf, section);
        /* settings structs start with `bool enabled` (detector.h) */
        if (settings == NULL || !*(const bool *)settings || ops->setup == NULL) {
            continue;
        }
        struct sw_errbuf eb;
        void *shared = NULL;
        eb.msg[0] = '\0';
        int rc = ops->setup(settings, &shared, &eb);
        if (rc < 0) {
            fprintf(stderr, "%s: detector %s: %s\n", sw_conf_path(conf), ops->name,
                    eb.msg[0] ? eb.msg : sw_strerror(rc));
            return rc;
        }
        if (ops->teardown != NULL) {
            ops->teardown(shared);
        }
    }
    return 0;
}

int cli_cmd_check_config(int argc, char **argv)
{
    struct sw_conf *conf = NULL;
    if (argc != 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(cli_usage_check, argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : EXIT_USAGE;
    }
    if (cli_register_sections() < 0 || cli_load_conf(argv[1], &conf) < 0) {
        return EXIT_USAGE;
    }
    int rc = check_detectors(conf);
    if (rc == 0) {
        printf("%s: ok\n", argv[1]);
    }
    sw_conf_free(conf);
    return rc < 0 ? EXIT_USAGE : 0;
}

int cli_cmd_dump_config(int argc, char **argv)
{
    const char *path = NULL;
    struct sw_conf *conf = NULL;
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(cli_usage_dump, stdout);
        return 0;
    }
    bool annotated = argc == 2 && strcmp(argv[1], "--annotated") == 0;
    if (argc == 3 && (strcmp(argv[1], "-c") == 0 || strcmp(argv[1], "--config") == 0)) {
        path = argv[2];
    } else if (argc != 1 && !annotated) {
        fputs(cli_usage_dump, stderr);
        return EXIT_USAGE;
    }
    if (annotated) {
        return cli_register_sections() < 0     ? EXIT_USAGE
               : sw_conf_dump_help(stdout) < 0 ? EXIT_INPUT
                                               : 0;
    }
    if (cli_register_sections() < 0 || cli_load_conf(path, &conf) < 0) {
        return EXIT_USAGE;
    }
    int rc = sw_conf_dump(conf, stdout);
    sw_conf_free(conf);
    return rc < 0 ? EXIT_INPUT : 0;
}
