/*
 * progress.h - internal: the replay progress bar on stderr (engine/progress.c).
 * Used by the control thread only.
 */
#ifndef SW_PROGRESS_H
#define SW_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct sw_progress {
    bool enabled;  /* requested and stderr is a TTY */
    bool shown;    /* something is on the line now */
    int64_t total; /* bytes, -1 unknown */
    uint64_t start_ns, last_ns;
    uint64_t last_stanzas;
    double rate; /* smoothed stanzas/s */
};

void sw_progress_init(struct sw_progress *pr, bool want, int64_t total);
/** Redraw with @bytes read and @stanzas parsed so far (rate-limited to ~5/s). */
void sw_progress_update(struct sw_progress *pr, uint64_t bytes, uint64_t stanzas);
/** Erase the bar (end of replay). */
void sw_progress_clear(struct sw_progress *pr);

#endif
