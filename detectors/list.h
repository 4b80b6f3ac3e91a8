/*
 * list.h - the one list of built-in detectors, an X-macro:
 *   SW_DETECTOR(name, stem)
 * `name` is the ops struct sw_<name>_ops, its config section detectors.<name>
 * and its symbol prefix; `stem` is its source detectors/<stem>.c and its test
 * tests/detectors/test_<stem>.c (one file may export several detectors).
 *
 * This list drives:
 *   - the registry (detectors/registry.c: registration order = the order of
 *     config sections, of the aggregator's built-in symbols and of the
 *     detector index that breaks ties between hits of one event: append new
 *     detectors at the end to keep existing output byte-identical);
 *   - the build (detectors/CMakeLists.txt compiles every stem);
 *   - the tests (tests/detectors/CMakeLists.txt builds test_<stem> for every
 *     stem; tests/detectors/test_registry.c fails when a listed detector has
 *     no test, no section in configs/stanzawatch.yaml or no symbols).
 * CMake reads the SW_DETECTOR lines with a regex: keep one entry per line.
 */
SW_DETECTOR(content, content)
SW_DETECTOR(classifier, classifier)
SW_DETECTOR(muc_flood, muc_flood)
SW_DETECTOR(muc_raid, muc_raid)
SW_DETECTOR(room_spam, room_spam)
SW_DETECTOR(sub_burst, sub_burst)
SW_DETECTOR(sub_burst_domain, sub_burst)
SW_DETECTOR(sub_slow, sub_slow)
SW_DETECTOR(msg_spam, msg_spam)
SW_DETECTOR(presence_churn, presence_churn)
SW_DETECTOR(over_limit, over_limit)
SW_DETECTOR(wave, wave)
