/*
 * sections.c - the config sections of every part, registered in one place:
 * the engine's own (settings.c), one per detector (registry), the
 * aggregator's, the live reporter's and the live taps' (taps, metrics); and the config load every
 * command shares. Control thread, once at start-up.
 */
#include <stdio.h>

#include "cli.h"
#include "sw/detector.h"
#include "sw/incident.h"
#include "sw/live.h"
#include "sw/reporter.h"
#include "sw/settings.h"
#include "sw/share.h"
#include "sw/sw.h"

int cli_register_sections(void)
{
    struct sw_errbuf eb;
    int rc = sw_settings_register();
    if (rc == 0) {
        rc = sw_registry_register_conf(&eb);
        if (rc < 0) {
            fprintf(stderr, "stanzawatch: %s\n", eb.msg);
            return rc;
        }
    }
    if (rc == 0) {
        rc = sw_aggregate_register_conf(sw_registry_list());
    }
    if (rc == 0) {
        rc = sw_reporter_register_conf();
    }
    if (rc == 0) {
        rc = sw_share_register_conf();
    }
    if (rc == 0) {
        rc = sw_live_register_conf();
    }
    if (rc < 0) {
        fprintf(stderr, "stanzawatch: cannot register config sections: %s\n", sw_strerror(rc));
    }
    return rc;
}

int cli_load_conf(const char *path, struct sw_conf **out)
{
    struct sw_errbuf eb;
    eb.msg[0] = '\0';
    int rc = sw_conf_load(path, out, &eb);
    if (rc < 0) {
        fprintf(stderr, "%s\n", eb.msg[0] ? eb.msg : sw_strerror(rc));
    }
    return rc;
}
