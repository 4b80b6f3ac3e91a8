/*
 * incident.h - fixtures shared by the report-format tests (IODEF 1.0 and 2.0,
 * XEP-0268): hostile evidence text (control bytes, markup, CDATA end, invalid
 * and cut UTF-8, a surrogate, a non-character) and the evidence and rooms of
 * a MUC flood, so every format is shown the same bytes to escape.
 *
 * Header-only (static functions) so each test binary is self-contained.
 */
#ifndef SW_TEST_INCIDENT_H
#define SW_TEST_INCIDENT_H

#include <stdio.h>
#include <string.h>

#include "sw/incident.h"

static const char sw_test_hostile[] =
    "evil \x01\x02\x7f<script>&amp;]]>\"'\xff\xfe\xc0\xaf overlong "
    "\xed\xa0\x80 surrogate \xef\xbf\xbe nonchar \xe2\x82 cut";

/* @n evidence stanzas 10 ms apart from first_seen, ids and bodies hostile, in
 * lobby@rooms.a.test; rooms lobby@ and help@rooms.a.test. */
static inline void sw_test_muc_evidence(struct sw_incident *inc, unsigned n)
{
    inc->n_evidence = n;
    for (unsigned i = 0; i < n; i++) {
        struct sw_incident_evidence *e = &inc->evidence[i];
        e->ev_seq = 100 + i;
        e->t_ms = inc->first_seen + i * 10;
        snprintf(e->stanza_id, sizeof(e->stanza_id), "id-%u<&>'\"", i);
        snprintf(e->room, sizeof(e->room), "lobby@rooms.a.test");
        memcpy(e->body, sw_test_hostile, sizeof(sw_test_hostile));
    }
    inc->n_rooms = 2;
    snprintf(inc->rooms[0], SW_JID_TEXT, "lobby@rooms.a.test");
    snprintf(inc->rooms[1], SW_JID_TEXT, "help@rooms.a.test");
}

#endif
