/*
 * distinct.c - exact small set -> HyperLogLog (see distinct.h).
 *
 * Layout: uint32 header (count of exact items, or SW_DISTINCT_HLL), then d
 * bytes. Exact: d/2 uint16 (d <= 64) or d/4 uint32 fingerprints, unsorted (<= 512;
 * detectors use 16, so a linear scan beats anything clever). HLL: m = 2d registers, two per byte,
 * low nibble = even register.
 */
#include "distinct.h"

#include <math.h>
#include <string.h>

/* Small counters (d <= 64) keep 16-bit fingerprints (twice the exact
 * capacity; a false merge among 16 items is ~0.2% likely and only
 * under-counts by one); larger ones 32-bit. The HLL reads the same bits. */
static unsigned fp_bits(size_t d)
{
    return d <= 64 ? 16 : 32;
}

static uint32_t fp_of(uint64_t h, unsigned bits)
{
    return (uint32_t)(h >> (64 - bits));
}

static uint32_t get_fp(const uint8_t *data, unsigned bits, uint32_t i)
{
    if (bits == 16) {
        uint16_t v;
        memcpy(&v, data + 2 * i, sizeof(v));
        return v;
    }
    uint32_t v;
    memcpy(&v, data + 4 * i, sizeof(v));
    return v;
}

static void put_fp(uint8_t *data, unsigned bits, uint32_t i, uint32_t fp)
{
    if (bits == 16) {
        uint16_t v = (uint16_t)fp;
        memcpy(data + 2 * i, &v, sizeof(v));
    } else {
        memcpy(data + 4 * i, &fp, sizeof(fp));
    }
}

/* ceil(log2(v)) for v >= 1; d is a power of two (distinct.h), so the
 * registers' log2(2d) is one tzcnt (the loop was ~40 instructions a call on
 * every add). */
static unsigned log2u(size_t v)
{
    if ((v & (v - 1)) == 0) {
        return (unsigned)__builtin_ctzll((unsigned long long)v);
    }
    unsigned b = 0;
    while (((size_t)1 << b) < v) {
        b++;
    }
    return b;
}

void sw_distinct_init(void *mem, size_t bytes)
{
    memset(mem, 0, bytes);
}

int sw_distinct_is_exact(const void *mem)
{
    uint32_t hdr;
    memcpy(&hdr, mem, sizeof(hdr));
    return hdr != SW_DISTINCT_HLL;
}

/* @fp has @bits meaningful low bits: index = top b of them, rank from the rest. */
static int hll_add(uint8_t *regs, unsigned b, unsigned bits, uint32_t fp)
{
    uint32_t x = fp << (32 - bits); /* left-align */
    uint32_t idx = b == 0 ? 0 : x >> (32 - b);
    uint32_t rest = x << b; /* bits - b meaningful bits */
    unsigned rank = rest == 0 ? bits - b + 1 : (unsigned)__builtin_clz(rest) + 1;
    if (rank > 15) {
        rank = 15;
    }
    uint8_t *p = &regs[idx >> 1];
    unsigned shift = (idx & 1u) ? 4 : 0;
    unsigned cur = (*p >> shift) & 0xFu;
    if (rank <= cur) {
        return 0;
    }
    *p = (uint8_t)((*p & ~(0xFu << shift)) | (rank << shift));
    return 1;
}

int sw_distinct_add(void *mem, size_t bytes, uint64_t h)
{
    uint8_t *m = mem;
    size_t d = bytes - 4;
    uint8_t *data = m + 4;
    unsigned bits = fp_bits(d);
    uint32_t fp = fp_of(h, bits);
    uint32_t hdr;
    memcpy(&hdr, m, sizeof(hdr));
    unsigned b = log2u(2 * d);
    if (hdr == SW_DISTINCT_HLL) {
        return hll_add(data, b, bits, fp);
    }
    uint32_t cap = (uint32_t)(d * 8 / bits);
    for (uint32_t i = 0; i < hdr; i++) {
        if (get_fp(data, bits, i) == fp) {
            return 0;
        }
    }
    if (hdr < cap) {
        put_fp(data, bits, hdr, fp);
        hdr++;
        memcpy(m, &hdr, sizeof(hdr));
        return 1;
    }
    /* Overflow: rebuild the same bytes as a HLL fed from the exact items. */
    uint32_t tmp[512];
    if (cap > 512) {
        cap = 512; /* d is bounded by the header comment; keep the stack bounded */
    }
    for (uint32_t i = 0; i < cap; i++) {
        tmp[i] = get_fp(data, bits, i);
    }
    memset(data, 0, d);
    for (uint32_t i = 0; i < cap; i++) {
        hll_add(data, b, bits, tmp[i]);
    }
    hll_add(data, b, bits, fp);
    hdr = SW_DISTINCT_HLL;
    memcpy(m, &hdr, sizeof(hdr));
    return 1;
}

uint32_t sw_distinct_count(const void *mem, size_t bytes)
{
    const uint8_t *m = mem;
    uint32_t hdr;
    memcpy(&hdr, m, sizeof(hdr));
    if (hdr != SW_DISTINCT_HLL) {
        return hdr;
    }
    size_t d = bytes - 4;
    const uint8_t *data = m + 4;
    double mm = (double)(2 * d);
    /* 2^-r for a 4-bit register r: the values ldexp(1.0, -r) gives (powers
     * of two are exact), from a table instead of two libm calls a byte. */
    static const double pow2_neg[16] = {
        0x1p-0, 0x1p-1, 0x1p-2,  0x1p-3,  0x1p-4,  0x1p-5,  0x1p-6,  0x1p-7,
        0x1p-8, 0x1p-9, 0x1p-10, 0x1p-11, 0x1p-12, 0x1p-13, 0x1p-14, 0x1p-15,
    };
    double sum = 0.0;
    unsigned zeros = 0;
    for (size_t i = 0; i < d; i++) {
        unsigned lo = data[i] & 0xFu;
        unsigned hi = data[i] >> 4;
        sum += pow2_neg[lo] + pow2_neg[hi];
        zeros += (lo == 0) + (hi == 0);
    }
    double alpha;
    if (mm <= 16) {
        alpha = 0.673;
    } else if (mm <= 32) {
        alpha = 0.697;
    } else if (mm <= 64) {
        alpha = 0.709;
    } else {
        alpha = 0.7213 / (1.0 + 1.079 / mm);
    }
    double e = alpha * mm * mm / sum;
    if (e <= 2.5 * mm && zeros > 0) {
        e = mm * log(mm / (double)zeros);
    }
    if (e > 4e9) {
        e = 4e9;
    }
    return (uint32_t)(e + 0.5);
}
