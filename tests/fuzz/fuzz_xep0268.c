/*
 * fuzz_xep0268.c - libFuzzer target for the inbound XEP-0268/IODEF parser
 * (reporter/xep0268.c): the input is one inbound stanza as libstrophe would
 * hand it over.
 *
 * Properties, beyond "no crash, no leak, no UB" (ASan/UBSan in scripts/fuzz):
 * the result is 0, SW_EPARSE or SW_ELIMIT; every string of the message is
 * NUL-terminated within its field; n_offenders is bounded; the parse is the
 * same with and without the DOCTYPE/ENTITY string prefilter whenever the
 * prefilter lets the input through (the prefilter is only a shortcut: with
 * it off, the fuzzer drives DTDs and entities into libxml2 itself); a tighter
 * depth limit never turns SW_ELIMIT into success.
 *
 * Seeds: tests/fuzz/corpus_xep0268 (ctest fuzz.xep0268_corpus replays them).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "../../reporter/reporter_int.h"
#include "sw/reporter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LIMIT (64 * 1024)

static void check_terminated(const struct sw_xep0268_msg *m)
{
    /* memchr within each field: a missing NUL reads past it and aborts */
    const char *f[] = {m->iq_type,        m->iq_id,       m->from,        m->to,
                       m->incident_name,  m->incident_id, m->purpose,     m->report_time,
                       m->severity,       m->impact_type, m->description, m->expectation,
                       m->history_action, m->contact_jid};
    const size_t n[] = {sizeof(m->iq_type),        sizeof(m->iq_id),
                        sizeof(m->from),           sizeof(m->to),
                        sizeof(m->incident_name),  sizeof(m->incident_id),
                        sizeof(m->purpose),        sizeof(m->report_time),
                        sizeof(m->severity),       sizeof(m->impact_type),
                        sizeof(m->description),    sizeof(m->expectation),
                        sizeof(m->history_action), sizeof(m->contact_jid)};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (memchr(f[i], '\0', n[i]) == NULL) {
            abort();
        }
    }
    if (m->n_offenders > SW_XEP0268_MAX_OFFENDERS) {
        abort();
    }
    for (uint32_t i = 0; i < m->n_offenders; i++) {
        if (memchr(m->offenders[i], '\0', sizeof(m->offenders[i])) == NULL) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        xmlInitParser();
        init = 1;
    }
    static struct sw_xep0268_msg a, b;
    const char *buf = (const char *)data;
    int ra = sw_xep0268_parse_ex(buf, size, LIMIT, 32, true, &a);
    if (ra != 0 && ra != SW_EPARSE && ra != SW_ELIMIT) {
        abort();
    }
    check_terminated(&a);
    int rb = sw_xep0268_parse_ex(buf, size, LIMIT, 32, false, &b);
    if (rb != 0 && rb != SW_EPARSE && rb != SW_ELIMIT) {
        abort();
    }
    check_terminated(&b);
    if (ra == 0 && (rb != 0 || memcmp(&a, &b, sizeof(a)) != 0)) {
        abort(); /* the prefilter let it through: the parser alone must agree */
    }
    if (ra == SW_ELIMIT && size <= LIMIT) {
        struct sw_xep0268_msg c;
        if (sw_xep0268_parse_ex(buf, size, LIMIT, 8, true, &c) == 0) {
            abort(); /* too deep at 32 but fine at 8? */
        }
    }
    return 0;
}
