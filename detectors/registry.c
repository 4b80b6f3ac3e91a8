/*
 * registry.c - the single list of built-in detectors. Adding a detector means
 * adding its ops here and nowhere else in the engine.
 */
#include "sw/detector.h"

#include <stdio.h>
#include <string.h>

extern const struct sw_detector_ops sw_content_ops;
extern const struct sw_detector_ops sw_classifier_ops;
extern const struct sw_detector_ops sw_muc_flood_ops;
extern const struct sw_detector_ops sw_muc_raid_ops;
extern const struct sw_detector_ops sw_room_spam_ops;
extern const struct sw_detector_ops sw_sub_burst_ops;
extern const struct sw_detector_ops sw_sub_burst_domain_ops;
extern const struct sw_detector_ops sw_sub_slow_ops;
extern const struct sw_detector_ops sw_msg_spam_ops;
extern const struct sw_detector_ops sw_presence_churn_ops;
extern const struct sw_detector_ops sw_wave_ops;

static const struct sw_detector_ops *const registry[] = {
    &sw_content_ops,          &sw_classifier_ops, &sw_muc_flood_ops,
    &sw_muc_raid_ops,         &sw_room_spam_ops,  &sw_sub_burst_ops,
    &sw_sub_burst_domain_ops, &sw_sub_slow_ops,   &sw_msg_spam_ops,
    &sw_presence_churn_ops,   &sw_wave_ops,       NULL,
};

const struct sw_detector_ops *const *sw_registry_list(void)
{
    return registry;
}

const struct sw_detector_ops *sw_registry_find(const char *name)
{
    for (size_t i = 0; registry[i] != NULL; i++) {
        if (strcmp(registry[i]->name, name) == 0) {
            return registry[i];
        }
    }
    return NULL;
}

int sw_registry_register_conf(struct sw_errbuf *eb)
{
    char section[128];
    for (size_t i = 0; registry[i] != NULL; i++) {
        const struct sw_detector_ops *ops = registry[i];
        if (ops->abi != SW_DETECTOR_ABI) {
            return sw_errbuf_set(eb, SW_EINVAL, "detector %s: ABI %u, engine expects %u", ops->name,
                                 ops->abi, SW_DETECTOR_ABI);
        }
        snprintf(section, sizeof(section), "detectors.%s", ops->name);
        int rc = sw_conf_register(section, ops->schema, ops->settings_size);
        if (rc < 0) {
            return sw_errbuf_set(eb, rc, "detector %s: cannot register config section", ops->name);
        }
    }
    return 0;
}
