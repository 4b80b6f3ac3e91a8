/*
 * tap_component.c - placeholder until the XEP-0114 component tap lands.
 */
#include "live_int.h"

int lt_component_start(struct lt_tap *t, struct sw_errbuf *eb)
{
    return sw_errbuf_set(eb, SW_ECONF, "tap %s: type component is not implemented yet", t->name);
}

void lt_component_fini(struct lt_tap *t)
{
    (void)t;
}
