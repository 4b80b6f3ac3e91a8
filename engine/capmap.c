/*
 * capmap.c - read-only mappings of capture files, so the reader hands the
 * parsers views of the page cache instead of read(2) copies (reader.c).
 *
 * A file truncated while mapped raises SIGBUS on any access past its new end,
 * in the reader (splitter) or in a parser thread. The process-wide SIGBUS
 * handler looks the address up in a small registry of live maps: inside one,
 * it maps anonymous zero pages over the rest of that map (MAP_FIXED, so the
 * faulting access retries and reads zeros), sets the map's flag and returns;
 * anywhere else it restores the previous action and lets the fault happen
 * again (re-raised when it was sent by kill). The reader checks the flag and
 * the file size before handing out a chunk and ends the capture at the
 * file's real end (reader.c, "Errors"). Bytes a parser already had in hand
 * when the file shrank read as zeros: those stanzas come out malformed.
 *
 * Memory: the whole file is mapped at once (address space only); the reader
 * drops (MADV_DONTNEED) what every parser gave back, so the mapped pages in
 * our RSS stay bounded by the chunks in flight, as with read() buffers.
 *
 * Cost: the kernel maps (fault-around) and unmaps (the drop) the file page by
 * page when its page cache holds 4 KB folios, as for a capture written in
 * small writes (swgen's stdio buffer); with 2 MB folios (written in large
 * writes) the reader's kernel time falls by ~70% with no change here (the
 * kernel already 2 MB-aligns the map). Measured and not used, as none moves
 * that per-page cost: MADV_POPULATE_READ per view (worse: GUP walks every
 * page on top of the fault-around), MADV_SEQUENTIAL, dropping in 8 MB steps,
 * munmap instead of MADV_DONTNEED, MADV_HUGEPAGE (2 MB folios on a cold read:
 * no gain); MADV_COLLAPSE refuses file maps (EINVAL) on the 6.18 test VM.
 */
#include "capmap.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CAPMAP_SLOTS 64

static struct {
    _Atomic uintptr_t base; /* 0: free */
    _Atomic uintptr_t end;  /* page-rounded end of the mapping */
    _Atomic int faulted;
} reg[CAPMAP_SLOTS];

static struct sigaction old_bus;
/* set before the handler is installed (sysconf is not async-signal-safe) */
static uintptr_t page_size;
static pthread_once_t bus_once = PTHREAD_ONCE_INIT;

static void bus_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    uintptr_t a = (uintptr_t)si->si_addr;
    for (int i = 0; i < CAPMAP_SLOTS; i++) {
        uintptr_t b = atomic_load_explicit(&reg[i].base, memory_order_acquire);
        uintptr_t e = atomic_load_explicit(&reg[i].end, memory_order_acquire);
        if (b != 0 && a >= b && a < e) {
            uintptr_t from = a & ~(page_size - 1);
            int saved = errno;
            void *z = mmap((void *)from, e - from, PROT_READ,
                           MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            errno = saved;
            if (z != MAP_FAILED) {
                atomic_store_explicit(&reg[i].faulted, 1, memory_order_release);
                return; /* the access retries and reads zeros */
            }
            break;
        }
    }
    /* not ours: the previous action (default: core dump) takes the fault */
    sigaction(SIGBUS, &old_bus, NULL);
    if (si->si_code <= 0) {
        raise(sig); /* sent by kill(): returning would not fault again */
    }
}

static void bus_install(void)
{
    page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
    struct sigaction sa = {0};
    sa.sa_sigaction = bus_handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &old_bus);
}

int sw_capmap_open(int fd, uint64_t size, struct sw_capmap **out)
{
    *out = NULL;
    if (size == 0 || size > (uint64_t)SIZE_MAX / 2) {
        return -EINVAL;
    }
    pthread_once(&bus_once, bus_install);
    struct sw_capmap *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return -ENOMEM;
    }
    int slot = -1;
    for (int i = 0; i < CAPMAP_SLOTS && slot < 0; i++) {
        uintptr_t z = 0;
        /* claim with a placeholder the handler never matches (end 0) */
        if (atomic_compare_exchange_strong(&reg[i].base, &z, (uintptr_t)1)) {
            slot = i;
        }
    }
    if (slot < 0) {
        free(m);
        return -EMFILE;
    }
    void *b = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    if (b == MAP_FAILED) {
        int e = errno;
        atomic_store(&reg[slot].base, 0);
        free(m);
        return -e;
    }
    uintptr_t pg = page_size;
    atomic_store(&reg[slot].faulted, 0);
    atomic_store(&reg[slot].end, ((uintptr_t)b + (uintptr_t)size + pg - 1) & ~(pg - 1));
    atomic_store(&reg[slot].base, (uintptr_t)b);
    m->base = b;
    m->len = size;
    m->fd = fd;
    m->slot = slot;
    m->faulted = &reg[slot].faulted;
    m->refs = 1;
    *out = m;
    return 0;
}

bool sw_capmap_intact(struct sw_capmap *m, uint64_t *size)
{
    struct stat st;
    bool faulted = sw_capmap_faulted(m);
    if (fstat(m->fd, &st) == 0 && (uint64_t)st.st_size < m->len) {
        *size = (uint64_t)st.st_size;
    } else if (faulted) {
        *size = 0; /* shrank and grew again: nothing after the fault is known good */
        return false;
    } else {
        *size = m->len;
        return true;
    }
    return false;
}

void sw_capmap_drop(struct sw_capmap *m, uint64_t upto)
{
    upto &= ~((uint64_t)page_size - 1);
    if (upto > m->dropped) {
        (void)madvise((char *)m->base + m->dropped, (size_t)(upto - m->dropped), MADV_DONTNEED);
        m->dropped = upto;
    }
}

void sw_capmap_ref(struct sw_capmap *m)
{
    m->refs++;
}

void sw_capmap_unref(struct sw_capmap *m)
{
    if (m == NULL || --m->refs > 0) {
        return;
    }
    atomic_store(&reg[m->slot].base, (uintptr_t)1); /* the handler stops matching it first */
    atomic_store(&reg[m->slot].end, 0);
    munmap((void *)m->base, (size_t)m->len);
    close(m->fd);
    atomic_store(&reg[m->slot].base, 0);
    free(m);
}
