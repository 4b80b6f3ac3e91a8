/*
 * gen_lure.c - text of swgen's content scenarios and their benign
 * look-alikes; see gen_lure.h.
 *
 * Spam ("lures") is written the way spammers who know about filters write it:
 * a pitch in one of seven languages (crypto doubling, pharma, dating, money
 * from home, giveaways, followers, account phishing, "join my group"), a link
 * through a shortener or a chat invite, and per message a different
 * obfuscation of some words: leet digits, Cyrillic look-alike letters,
 * zero-width characters inside words, fullwidth or mathematical letters,
 * spaced or dotted letters, a defanged link ("bit . ly", "t[.]me"). Nothing
 * here is tuned to the content rules: the pitches are the campaigns'
 * own words (configs/rules/ was read to know which families exist, not to
 * hit its regexes), so some lines match a rule and some do not.
 *
 * Waves use one spun template per campaign ({a|b|c} choices per message) and
 * two or three shared link targets, sometimes with a per-message query.
 *
 * Benign text: ordinary links people share, warnings that quote a spam line,
 * chat about crypto and medicine, feed items, price tickers, raid reactions.
 *
 * Threading: pure functions of their seed arguments, writing into the
 * caller's buffer; no state.
 */
#include "gen_lure.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "gen_text.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- bounded appends ---- */

struct out {
    char *p;
    size_t n, cap;
    bool full; /* cut once: nothing more is appended */
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->cap == 0 || o->full) {
        return;
    }
    if (o->n + n >= o->cap) {
        n = o->cap - 1 - o->n;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
            n--; /* never cut inside a UTF-8 sequence */
        }
        o->full = true;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = '\0';
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* one code point as UTF-8 */
static void put_cp(struct out *o, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    if (o->n + n < o->cap) { /* never cut a character */
        put(o, b, n);
    }
}

/* ---- obfuscation of one ASCII word ---- */

enum obf {
    OBF_NONE,
    OBF_LEET,      /* fr33 b1tc0in */
    OBF_CYRILLIC,  /* Latin letters replaced by Cyrillic look-alikes */
    OBF_ZW,        /* zero-width characters inside the word */
    OBF_FULLWIDTH, /* ｆｒｅｅ */
    OBF_MATH,      /* 𝐟𝐫𝐞𝐞 (mathematical bold) */
    OBF_SPACED,    /* f r e e / f.r.e.e */
    N_OBF
};

static uint32_t cyrillic_of(char c)
{
    switch (c) {
    case 'a':
        return 0x0430;
    case 'e':
        return 0x0435;
    case 'o':
        return 0x043E;
    case 'p':
        return 0x0440;
    case 'c':
        return 0x0441;
    case 'x':
        return 0x0445;
    case 'y':
        return 0x0443;
    case 'i':
        return 0x0456;
    case 'A':
        return 0x0410;
    case 'B':
        return 0x0412;
    case 'E':
        return 0x0415;
    case 'K':
        return 0x041A;
    case 'M':
        return 0x041C;
    case 'H':
        return 0x041D;
    case 'O':
        return 0x041E;
    case 'P':
        return 0x0420;
    case 'C':
        return 0x0421;
    case 'T':
        return 0x0422;
    case 'X':
        return 0x0425;
    default:
        return 0;
    }
}

static char leet_of(char c, uint64_t *s)
{
    switch (c) {
    case 'a':
        return gen_text_pick(s, 3) ? '4' : '@';
    case 'e':
        return '3';
    case 'i':
        return gen_text_pick(s, 2) ? '1' : '!';
    case 'o':
        return '0';
    case 's':
        return gen_text_pick(s, 2) ? '5' : '$';
    case 't':
        return '7';
    default:
        return c;
    }
}

static void put_word(struct out *o, const char *w, size_t n, enum obf how, uint64_t *s)
{
    static const uint32_t zw[] = {0x200B, 0x200C, 0x2060, 0x00AD, 0xFEFF};
    uint32_t zwc = zw[gen_text_pick(s, N_OF(zw))];
    char sep = gen_text_pick(s, 2) ? ' ' : '.';
    for (size_t i = 0; i < n; i++) {
        char c = w[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        switch (how) {
        case OBF_LEET:
            /* most, not all, of the letters that have a digit */
            put_cp(o, (uint32_t)(unsigned char)(gen_text_pick(s, 4) ? leet_of(c, s) : c));
            break;
        case OBF_CYRILLIC: {
            uint32_t cy = cyrillic_of(c);
            put_cp(o, cy && gen_text_pick(s, 3) ? cy : (uint32_t)(unsigned char)c);
            break;
        }
        case OBF_ZW:
            put_cp(o, (uint32_t)(unsigned char)c);
            if (alpha && i + 1 < n && gen_text_pick(s, 3) == 0) {
                put_cp(o, zwc);
            }
            break;
        case OBF_FULLWIDTH:
            put_cp(o, c > 0x20 && c < 0x7F ? 0xFF01u + (uint32_t)(c - 0x21)
                                           : (uint32_t)(unsigned char)c);
            break;
        case OBF_MATH:
            if (c >= 'a' && c <= 'z') {
                put_cp(o, 0x1D41Au + (uint32_t)(c - 'a'));
            } else if (c >= 'A' && c <= 'Z') {
                put_cp(o, 0x1D400u + (uint32_t)(c - 'A'));
            } else {
                put_cp(o, (uint32_t)(unsigned char)c);
            }
            break;
        case OBF_SPACED:
            put_cp(o, (uint32_t)(unsigned char)c);
            if (i + 1 < n) {
                put(o, &sep, 1);
            }
            break;
        default:
            put_cp(o, (uint32_t)(unsigned char)c);
            break;
        }
    }
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Copy @src (ASCII except where the pitch itself is in another script) into
 * @o, obfuscating each word of 3+ ASCII letters with probability @pct_word
 * percent, one method per message (two for some). Links and domains (a
 * space-delimited token with '/' or a dot between letters) stay as they are:
 * the spammer wants them clicked.
 */
static void obfuscate(struct out *o, const char *src, uint32_t pct_word, uint64_t *s)
{
    enum obf m1 = (enum obf)(1 + gen_text_pick(s, N_OBF - 1));
    enum obf m2 = gen_text_pick(s, 3) == 0 ? (enum obf)(1 + gen_text_pick(s, N_OBF - 1)) : m1;
    const char *p = src;
    while (*p) {
        if (*p == ' ') {
            put(o, p++, 1);
            continue;
        }
        const char *te = p;
        bool link = false;
        while (*te && *te != ' ') {
            if (*te == '/' || (*te == '.' && te > p && is_alpha(te[-1]) && is_alpha(te[1]))) {
                link = true;
            }
            te++;
        }
        if (link) {
            put(o, p, (size_t)(te - p));
            p = te;
            continue;
        }
        while (p < te) {
            if (!is_alpha(*p)) {
                put(o, p++, 1);
                continue;
            }
            const char *e = p;
            while (e < te && is_alpha(*e)) {
                e++;
            }
            size_t n = (size_t)(e - p);
            if (n >= 3 && gen_text_pick(s, 100) < pct_word) {
                put_word(o, p, n, gen_text_pick(s, 2) ? m1 : m2, s);
            } else {
                put(o, p, n);
            }
            p = e;
        }
    }
}

/* ---- links ---- */

static void make_link(char *dst, size_t cap, uint64_t campaign, unsigned which, bool defang)
{
    static const char *const shorteners[] = {"bit.ly", "cutt.ly", "tinyurl.com", "rb.gy",
                                             "is.gd",  "t.ly",    "shorturl.at", "clck.ru",
                                             "ow.ly",  "u.to"};
    static const char *const invites[] = {"t.me/+",         "t.me/joinchat/",
                                          "discord.gg/",    "chat.whatsapp.com/",
                                          "signal.group/#", "wa.me/"};
    uint64_t s = campaign * 0x2545F4914F6CDD1DULL + which;
    char tok[GEN_TOKEN_MAX + 1];
    uint32_t kind = gen_text_pick(&s, 3);
    if (kind == 0) {
        const char *inv = invites[gen_text_pick(&s, N_OF(invites))];
        gen_token(tok, gen_text_next(&s), 10 + (int)gen_text_pick(&s, 8));
        snprintf(dst, cap, "%s%s%s", gen_text_pick(&s, 2) ? "https://" : "", inv, tok);
    } else if (kind == 1) {
        const char *sh = shorteners[gen_text_pick(&s, N_OF(shorteners))];
        gen_token(tok, gen_text_next(&s), 5 + (int)gen_text_pick(&s, 3));
        snprintf(dst, cap, "%s%s/%s", gen_text_pick(&s, 3) ? "https://" : "", sh, tok);
    } else {
        /* a throwaway landing page */
        static const char *const tld[] = {"xyz", "top", "online", "site", "click", "shop", "icu"};
        char host[GEN_TOKEN_MAX + 1];
        gen_token(host, gen_text_next(&s), 6 + (int)gen_text_pick(&s, 5));
        gen_token(tok, gen_text_next(&s), 4 + (int)gen_text_pick(&s, 4));
        snprintf(dst, cap, "https://%s.%s/%s", host, tld[gen_text_pick(&s, N_OF(tld))], tok);
    }
    if (defang) {
        /* "bit.ly/x" -> "bit . ly/x" or "bit[.]ly/x": the first dot of the host */
        char *dot = strchr(dst + (strncmp(dst, "https://", 8) == 0 ? 8 : 0), '.');
        if (dot != NULL) {
            char rest[256];
            snprintf(rest, sizeof(rest), "%s", dot + 1);
            snprintf(dot, cap - (size_t)(dot - dst), "%s%s", (campaign & 1) ? "[.]" : " . ", rest);
        }
    }
}

/* ---- pitches ---- */

/* %s is the link; %d an amount. 8 families x 7 languages. */
static const char *const pitches[8][7] = {
    {/* crypto */
     "Free bitcoin airdrop is live, claim your free tokens before it ends: %s",
     "Bitcoin Airdrop: hol dir jetzt deine gratis Token, nur heute %s",
     "Airdrop de bitcoin gratis, reclama tus tokens aqui %s",
     "Airdrop crypto gratuit, recupere tes tokens maintenant %s",
     "Бесплатный airdrop bitcoin, забери свои токены тут %s",
     "Airdrop de bitcoin gratis, pegue seus tokens agora %s",
     "Airdrop bitcoin gratis, richiedi i tuoi token qui %s"},
    {/* pharma */
     "buy viagra and cialis online without prescription, cheap meds shipped discreetly %s",
     "Viagra und Cialis ohne Rezept, diskreter Versand %s",
     "compra viagra y cialis sin receta, envio discreto %s",
     "viagra et cialis sans ordonnance, livraison discrete %s",
     "виагра и сиалис без рецепта, доставка %s", "viagra e cialis sem receita, entrega discreta %s",
     "viagra e cialis senza ricetta, spedizione discreta %s"},
    {/* dating */
     "hot singles in your area want to meet tonight, see photos %s",
     "Heisse Singles in deiner Naehe wollen dich treffen %s",
     "chicas solteras cerca de ti quieren conocerte %s",
     "des celibataires pres de chez toi veulent te rencontrer %s",
     "одинокие девушки рядом с тобой хотят познакомиться %s",
     "solteiras perto de voce querem te conhecer %s",
     "ragazze single vicino a te vogliono conoscerti %s"},
    {/* money */
     "Earn $%d per day working from home, no experience needed, details %s",
     "Verdiene %d Euro am Tag von zu Hause, ohne Erfahrung %s",
     "Gana %d dolares al dia desde casa sin experiencia %s",
     "Gagnez %d euros par jour depuis chez vous %s",
     "Заработок от %d$ в день из дома, без опыта %s",
     "Ganhe %d reais por dia trabalhando em casa %s", "Guadagna %d euro al giorno da casa %s"},
    {/* giveaway */
     "FREE NITRO giveaway for the first 100 members, claim your free nitro %s",
     "Gratis Nitro Gewinnspiel, die ersten 100 bekommen es %s",
     "Sorteo de Nitro gratis para los primeros 100 %s",
     "Nitro gratuit pour les 100 premiers membres %s",
     "Бесплатный Nitro для первых 100 участников %s",
     "Nitro gratis para os primeiros 100 membros %s", "Nitro gratis per i primi 100 membri %s"},
    {/* followers */
     "Cheap instagram followers and likes, real accounts, best price %s",
     "Guenstige Instagram Follower und Likes, echte Accounts %s",
     "seguidores de instagram baratos y likes reales %s",
     "followers instagram pas chers et likes reels %s", "дешевые подписчики и лайки instagram %s",
     "seguidores instagram baratos e curtidas reais %s",
     "follower instagram economici e like reali %s"},
    {/* phishing */
     "Your account will be suspended today, verify your identity here %s",
     "Dein Konto wird heute gesperrt, bestaetige hier %s",
     "Tu cuenta sera suspendida hoy, verifica aqui %s",
     "Votre compte sera suspendu aujourd'hui, verifiez ici %s",
     "Ваш аккаунт будет заблокирован сегодня, подтвердите тут %s",
     "Sua conta sera suspensa hoje, confirme aqui %s",
     "Il tuo account sara sospeso oggi, verifica qui %s"},
    {/* group invite */
     "join our private signals group, 300%% profit last week %s",
     "Tritt unserer privaten Signalgruppe bei, 300%% Gewinn %s",
     "unete a nuestro grupo privado de senales, 300%% de ganancia %s",
     "rejoins notre groupe prive de signaux, 300%% de profit %s",
     "вступай в нашу закрытую группу сигналов, 300%% прибыли %s",
     "entre no nosso grupo privado de sinais, 300%% de lucro %s",
     "unisciti al nostro gruppo privato di segnali, 300%% di profitto %s"},
};

void gen_lure(char *dst, size_t cap, uint64_t campaign, uint64_t r)
{
    uint64_t c = campaign;
    uint32_t family = gen_text_pick(&c, 8);
    uint32_t lang =
        gen_text_pick(&c, 3) == 0 ? 0 : gen_text_pick(&c, 7); /* English a bit more often */
    int amount = 200 + 50 * (int)gen_text_pick(&c, 17);
    uint64_t s = r;
    /* sometimes the campaign switches language for one message */
    if (gen_text_pick(&s, 6) == 0) {
        lang = gen_text_pick(&s, 7);
    }
    char link[128];
    make_link(link, sizeof(link), campaign, gen_text_pick(&s, 3), gen_text_pick(&s, 5) == 0);
    char plain[512];
    if (family == 3) {
        snprintf(plain, sizeof(plain), pitches[family][lang], amount, link);
    } else {
        snprintf(plain, sizeof(plain), pitches[family][lang], link);
    }
    static const char *const pre[] = {"", "", "", "hey all, ", "guys ", ">>> ", "!!! ", "psst "};
    struct out o = {dst, 0, cap, false};
    if (cap) {
        dst[0] = '\0';
    }
    puts_(&o, pre[gen_text_pick(&s, N_OF(pre))]);
    obfuscate(&o, plain, 30 + gen_text_pick(&s, 50), &s);
    if (gen_text_pick(&s, 3) == 0) {
        static const char *const tail[] = {" 🔥🔥", " 💰", " ✅", " !!", " ;)", " 🚀"};
        puts_(&o, tail[gen_text_pick(&s, N_OF(tail))]);
    }
}

/* ---- waves ---- */

/* spun template: {a|b|c} chooses one; @L is the link */
static const char *const wave_tpl[] = {
    "{Hi|Hey|Hello|Hii|Hi there}{!|,|} {I saw your profile|I found you in a group|a friend gave me "
    "your contact|we talked last year}{.|,|} {look at|check|see} {my photos|my new page|this|what "
    "I "
    "found} {here|->|:} @L",
    "{Hello|Good evening|Hi} {dear|friend|my friend|}{,|.|} {you won|you have been selected "
    "for|you "
    "are eligible for} {a free gift|a prize|a reward} {,|-} {claim|get|collect} it {here|now|today}"
    " @L",
    "{Hey|Yo|Hi}{,|!|} {crypto|bitcoin|BTC} {is going up|is pumping|will x10} {this week|soon|"
    "tonight}{,|.|!} {join|enter} {our|my} {group|channel|signals} @L {before it closes|now|fast}",
    "{Hola|Hallo|Salut|Hi}{!|,|} {are you|r u} {still|} {looking for|interested in} {work|a job|"
    "extra income}{?|??} {we pay|up to} {200|300|500}{$|€} {a day|daily|per day} @L",
    "{Hi|Hello}{ dear|} {I am|this is} {Anna|Maria|Olga|Julia|Sofia}{,|.|} {I am new here|I am "
    "lonely tonight|I want to chat}{ :)| ;)|} {write me|add me|see my pics} @L",
};

static void spin(struct out *o, const char *tpl, const char *link, uint64_t *s)
{
    const char *p = tpl;
    while (*p) {
        if (*p == '{') {
            const char *e = strchr(p, '}');
            int n = 1;
            for (const char *q = p + 1; q < e; q++) {
                n += *q == '|';
            }
            int k = (int)gen_text_pick(s, (uint32_t)n);
            const char *q = p + 1;
            for (int i = 0; i < k; i++) {
                q = strchr(q, '|') + 1;
            }
            const char *qe = q;
            while (qe < e && *qe != '|') {
                qe++;
            }
            put(o, q, (size_t)(qe - q));
            p = e + 1;
        } else if (*p == '@' && p[1] == 'L') {
            puts_(o, link);
            p += 2;
        } else {
            put(o, p, 1);
            p++;
        }
    }
}

void gen_wave_text(char *dst, size_t cap, uint64_t campaign, uint64_t r)
{
    uint64_t c = campaign;
    const char *tpl = wave_tpl[gen_text_pick(&c, N_OF(wave_tpl))];
    unsigned n_links = 2 + gen_text_pick(&c, 2);
    uint64_t s = r;
    char link[160];
    make_link(link, sizeof(link), campaign, gen_text_pick(&s, n_links), false);
    if (gen_text_pick(&s, 2) == 0 && strchr(link, '?') == NULL) {
        /* a per-message tracking query on the shared target */
        char q[GEN_TOKEN_MAX + 1];
        gen_token(q, gen_text_next(&s), 6);
        size_t l = strlen(link);
        snprintf(link + l, sizeof(link) - l, "?%s=%s", gen_text_pick(&s, 2) ? "ref" : "u", q);
    }
    struct out o = {dst, 0, cap, false};
    if (cap) {
        dst[0] = '\0';
    }
    char plain[512];
    struct out po = {plain, 0, sizeof(plain), false};
    plain[0] = '\0';
    spin(&po, tpl, link, &s);
    /* a third of a wave's messages are lightly obfuscated */
    if (gen_text_pick(&s, 3) == 0) {
        obfuscate(&o, plain, 25, &s);
    } else {
        puts_(&o, plain);
    }
}

/* ---- benign ---- */

void gen_link_share(char *dst, size_t cap, uint64_t r)
{
    uint64_t s = r;
    static const char *const intro[] = {
        "look at this: ",
        "this is great ",
        "new release is out: ",
        "found it: ",
        "here you go ",
        "the talk from yesterday ",
        "",
        "docs are here ",
        "bus times changed, see ",
        "the recipe: ",
        "for those asking, ",
    };
    static const char *const site[] = {
        "https://www.youtube.com/watch?v=%s",
        "https://github.com/prosody/prosody/issues/%u",
        "https://en.wikipedia.org/wiki/%s",
        "https://xmpp.org/extensions/xep-0%u.html",
        "https://lwn.net/Articles/%u/",
        "https://www.bbc.co.uk/news/articles/%s",
        "https://docs.python.org/3/library/%s.html",
        "https://bit.ly/%s",
        "https://codeberg.org/%s/notes",
        "https://www.openstreetmap.org/node/%u",
        "https://tinyurl.com/%s",
        "https://news.ycombinator.com/item?id=%u",
    };
    char tok[GEN_TOKEN_MAX + 1];
    gen_token(tok, gen_text_next(&s), 6 + (int)gen_text_pick(&s, 5));
    unsigned num = 100 + gen_text_pick(&s, 900000);
    uint32_t k = gen_text_pick(&s, N_OF(site));
    /* shorteners now and then: people use them too */
    if ((k == 7 || k == 10) && gen_text_pick(&s, 2)) {
        k = 0;
    }
    char url[160];
    if (strstr(site[k], "%u") != NULL) {
        snprintf(url, sizeof(url), site[k], k == 3 ? 100 + num % 300 : num);
    } else {
        snprintf(url, sizeof(url), site[k], tok);
    }
    snprintf(dst, cap, "%s%s", intro[gen_text_pick(&s, N_OF(intro))], url);
}

void gen_warning(char *dst, size_t cap, uint64_t spam_seed, uint64_t r)
{
    uint64_t s = r;
    static const char *const fmt[] = {
        "careful, this is spam: \"%s\"",
        "don't click that, it's a scam: %s",
        "got this from a stranger, anyone else? > %s",
        "FYI spam going around: %s",
        "PSA: if you get \"%s\" just block and report",
        "lol someone sent me \"%s\" as if",
        "is this legit? %s",
    };
    char spam[1024];
    gen_lure(spam, sizeof(spam), spam_seed, gen_text_next(&s));
    snprintf(dst, cap, fmt[gen_text_pick(&s, N_OF(fmt))], spam);
}

void gen_topic(char *dst, size_t cap, uint64_t r)
{
    uint64_t s = r;
    static const char *const lines[] = {
        "bitcoin dropped again, glad I sold some last month",
        "anyone using a hardware wallet for eth? which one",
        "the crypto tax rules here are a nightmare",
        "I still don't understand why people buy NFTs",
        "mining bitcoin at home costs more in power than it makes",
        "my bank blocked a transfer to an exchange, had to call them",
        "is monero still delisted everywhere?",
        "my doctor switched me from ibuprofen to paracetamol",
        "the pharmacy was out of insulin again, third time this month",
        "got my flu shot today, arm hurts a bit",
        "does anyone know if you can take aspirin with antibiotics?",
        "after the surgery they gave me tramadol, made me so dizzy",
        "generic meds are the same thing, just cheaper",
        "my prescription ran out and the doctor is on holiday",
        "someone in the family group shared a fake cure again, sigh",
        "price of btc is all over the news today",
        "I lost 50 euros on some token, lesson learned",
        "the blood test results are fine, relieved",
    };
    const char *l = lines[gen_text_pick(&s, N_OF(lines))];
    static const char *const tail[] = {"", "", ".", " :(", " lol", "?", " tbh"};
    snprintf(dst, cap, "%s%s", l, tail[gen_text_pick(&s, N_OF(tail))]);
}

void gen_rss_item(char *dst, size_t cap, uint64_t feed, uint64_t k)
{
    static const char *const feeds[] = {"LWN",         "Planet Debian", "heise",    "XMPP News",
                                        "Hacker News", "Tagesschau",    "BBC World"};
    char hl[200];
    gen_headline(hl, sizeof(hl), k * 31 + feed * 7);
    /* drop the "News: " prefix and the news.example link of gen_headline */
    const char *h = strncmp(hl, "News: ", 6) == 0 ? hl + 6 : hl;
    char *cut = strstr(hl, " - read more");
    if (cut != NULL) {
        *cut = '\0';
    }
    snprintf(dst, cap, "[%s] %s https://feeds.example/%s/%llu", feeds[feed % N_OF(feeds)], h,
             feed % 2 ? "item" : "a", (unsigned long long)(k * 7 + feed));
}

void gen_price(char *dst, size_t cap, uint64_t k, uint64_t r)
{
    uint64_t s = r ^ k;
    double btc = 41000.0 + (double)(k % 97) * 37.5 + (double)gen_text_pick(&s, 1000) / 10.0;
    double eth = 2200.0 + (double)(k % 89) * 3.25 + (double)gen_text_pick(&s, 1000) / 100.0;
    double xmr = 140.0 + (double)(k % 31) * 0.5 + (double)gen_text_pick(&s, 100) / 100.0;
    int d1 = (int)gen_text_pick(&s, 600) - 300, d2 = (int)gen_text_pick(&s, 600) - 300,
        d3 = (int)gen_text_pick(&s, 400) - 200;
    snprintf(dst, cap, "BTC/EUR %.2f (%+.2f%%) | ETH/EUR %.2f (%+.2f%%) | XMR/EUR %.2f (%+.2f%%)",
             btc, d1 / 100.0, eth, d2 / 100.0, xmr, d3 / 100.0);
}

void gen_bystander(char *dst, size_t cap, const char *spam, uint64_t r)
{
    uint64_t s = r;
    static const char *const l[] = {
        "stop",
        "mods??",
        "@mods",
        "wtf is this",
        "again??",
        "ugh spam",
        "report them",
        "can someone kick these",
        "not again",
        "admins please",
        "lol bots",
        "block and move on",
        "this room needs captcha",
    };
    uint32_t k = gen_text_pick(&s, 100);
    if (k < 25 && spam != NULL) {
        /* quoting a spam line back, as a complaint */
        static const char *const q[] = {"> %s\nseriously?", "\"%s\" yeah right",
                                        "who falls for \"%s\"", "%s <- don't click"};
        snprintf(dst, cap, q[gen_text_pick(&s, N_OF(q))], spam);
    } else {
        snprintf(dst, cap, "%s", l[gen_text_pick(&s, N_OF(l))]);
    }
}

void gen_raid_quote(char *dst, size_t cap, const char *spam, uint64_t r)
{
    uint64_t s = r;
    static const char *const q[] = {"stop posting \"%s\"", "> %s\nseriously?",
                                    "\"%s\" yeah right",   "who falls for \"%s\"",
                                    "%s <- don't click",   "ugh, \"%s\" again"};
    snprintf(dst, cap, q[gen_text_pick(&s, N_OF(q))], spam);
}

const char *gen_mod_line(uint64_t r)
{
    static const char *const l[] = {
        "on it", "cleaning up, sorry folks", "kicked, room is members-only for a while",
        "thanks for the pings, handled", "please don't reply to them, just ping a mod"};
    return l[r % N_OF(l)];
}

const char *gen_answer(uint64_t r)
{
    static const char *const l[] = {
        "who is this?", "stop spamming me", "??", "no thanks", "how did you get my address?",
        "reported"};
    return l[r % N_OF(l)];
}
