/*
 * registry.c - the built-in detectors, generated from detectors/list.h (the
 * one place a detector is listed). Adding a detector means one line there;
 * nothing here changes.
 */
#include "sw/detector.h"

#include <stdio.h>

#define SW_DETECTOR(name, stem) extern const struct sw_detector_ops sw_##name##_ops;
#include "list.h"
#undef SW_DETECTOR

static const struct sw_detector_ops *const registry[] = {
#define SW_DETECTOR(name, stem) &sw_##name##_ops,
#include "list.h"
#undef SW_DETECTOR
    NULL,
};

const struct sw_detector_ops *const *sw_registry_list(void)
{
    return registry;
}

int sw_registry_register_conf(struct sw_errbuf *eb)
{
    char section[128];
    for (size_t i = 0; registry[i] != NULL; i++) {
        const struct sw_detector_ops *ops = registry[i];
        snprintf(section, sizeof(section), "detectors.%s", ops->name);
        int rc = sw_conf_register(section, ops->schema, ops->settings_size);
        if (rc < 0) {
            return sw_errbuf_set(eb, rc, "detector %s: cannot register config section", ops->name);
        }
    }
    return 0;
}
