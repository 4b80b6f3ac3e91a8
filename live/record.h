/*
 * record.h - the socket tap's records: what a server-side module writes per
 * stanza (deploy/prosody/mod_stanzawatch.lua, deploy/ejabberd/...erl) and
 * how the tap turns one back into the stanza XML the parser reads.
 *
 * Formats (deploy/prosody/README.md says the same for operators):
 *  - plain stanza: <message .../>, <presence .../>, <iq .../> as is;
 *  - record 1: <w [n='SEQ'] [t='MS']>STANZA</w>, STANZA a whole stanza or
 *    the module's compact one (stanza element + the children the parser
 *    reads); n left out = the previous record's + 1, t = the previous one's;
 *  - record 2 (only after the tap's hello, LT_REC_HELLO, was read by the
 *    module; an old module never sends it, an old tap never says hello, so
 *    every pairing works):
 *      <m|p [n='SEQ'] [t='MS'] (k='K' | d='K' f='FROM' [o='TO'] [y='TYPE'])
 *           [i='ID'] (/> | >TEXT</m|p>)
 *    m a message, p a presence; d='K' defines key K (1..LT_REC_KEYS) of
 *    this connection as the triple from/to/type (values as escaped
 *    attribute text, from='' for an absent from) and uses it, k='K' uses
 *    the last definition of K. TEXT is the message's first <body/> or the
 *    presence's first <status/> (escaped text); "/>" = no such child. It
 *    stands for exactly the stanza record 1 would carry:
 *      <message from='FROM'[ to='TO'][ type='TYPE'][ id='ID']>[<body>TEXT</body>]</message>
 *    (presence: <status/>), so the parser's event is the same. Everything
 *    else (other children the parser reads, over-limit stanzas) stays
 *    record 1. A module resets its keys by redefining them from 1; a
 *    definition replaces the old one.
 *
 * A hostile peer: values must be single-quoted, keys in range, a connection's
 * definitions at most LT_REC_DICT_BYTES in all, unknown attributes refused;
 * anything else is an error (the caller counts it as junk and skips it).
 *
 * Threading: an lt_rec_conn belongs to one connection (one thread).
 * Ownership: lt_rec_conn_init/_free; a record's stanza points into the input
 * or into the lt_rec_conn's scratch (valid until the next call).
 */
#ifndef SW_LIVE_RECORD_H
#define SW_LIVE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* the tap writes this once on every connection, after the peer's first
 * bytes (the module only looks for "records='2'") */
#define LT_REC_HELLO "<stanzawatch records='2'/>\n"
#define LT_REC_KEYS 4096u
#define LT_REC_DICT_BYTES (1024u * 1024u)

struct lt_rec_conn {
    char **ent; /* [LT_REC_KEYS + 1]: " from='..'[ to='..'][ type='..']", NULL = undefined */
    uint32_t *entlen;
    size_t dict_bytes;
    char *scratch; /* the expanded stanza */
    size_t scap;
};

struct lt_rec {
    bool numbered; /* a record (not a plain stanza, not <w/>): it takes a sequence number */
    bool has_n, has_t;
    uint64_t n, t;
    const char *stanza; /* NULL: nothing to queue (<w/>, whitespace only) */
    size_t len;
};

void lt_rec_conn_init(struct lt_rec_conn *c);
void lt_rec_conn_free(struct lt_rec_conn *c);
/** One top-level element [@s, @s + @n) from the splitter: fills @out.
 *  Returns 0, or SW_EPARSE with *@why a static reason (a bad record 2),
 *  or SW_ENOMEM. */
int lt_rec_parse(struct lt_rec_conn *c, const char *s, size_t n, struct lt_rec *out,
                 const char **why);

#endif
