/*
 * datadir.c - where the built-in defaults find the shipped data files
 * (configs/rules/default.yaml, configs/models/chat.swnb, ...).
 *
 * A relative path read from a config file is relative to that file's
 * directory (engine/conf.c). A relative path that is a *built-in default* has
 * no file, so it is resolved against the data directory found here, the
 * directory that holds the shipped stanzawatch.yaml and everything it names:
 *
 *   1. the binary runs from this build tree (its real path lies under
 *      SW_BUILD_DIR, compiled in by CMake): the source tree's configs/
 *      (SW_SOURCE_CONFIG_DIR), so tests and scripts/demo use the files they
 *      ship, never a stale installed copy;
 *   2. relative to the binary: <dir of the binary>/SW_REL_CONFIG_DIR (the
 *      install layout, bindir -> sysconfdir/stanzawatch, computed by CMake),
 *      so a relocated install (DESTDIR, --prefix moved) still finds its data;
 *   3. the compiled-in install directory SW_INSTALL_CONFIG_DIR
 *      (${CMAKE_INSTALL_FULL_SYSCONFDIR}/stanzawatch).
 * Candidates 2 and 3 count only if they hold stanzawatch.yaml; when none does,
 * 3 is returned anyway, so an error names the place the files belong.
 * configs/stanzawatch.yaml names the same files relative to itself, so the
 * shipped file and the defaults bind to the same absolute paths (the test in
 * tests/engine/test_settings.c compares the two dumps).
 *
 * Threading: computed once (pthread_once), then read-only. Ownership: the
 * returned string is static.
 */
#include "sw/conf.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SW_SOURCE_CONFIG_DIR
#define SW_SOURCE_CONFIG_DIR ""
#endif
#ifndef SW_BUILD_DIR
#define SW_BUILD_DIR ""
#endif
#ifndef SW_REL_CONFIG_DIR
#define SW_REL_CONFIG_DIR "../etc/stanzawatch"
#endif
#ifndef SW_INSTALL_CONFIG_DIR
#define SW_INSTALL_CONFIG_DIR "/etc/stanzawatch"
#endif

static pthread_once_t data_once = PTHREAD_ONCE_INIT;
static char data_dir[PATH_MAX];

static bool has_config(const char *dir)
{
    char p[PATH_MAX + 32];
    struct stat st;
    if (strlen(dir) >= PATH_MAX) {
        return false;
    }
    snprintf(p, sizeof(p), "%.*s/stanzawatch.yaml", PATH_MAX - 1, dir);
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Copy realpath(@dir) (or @dir itself when it cannot be resolved) to data_dir. */
static void set_dir(const char *dir)
{
    char abs[PATH_MAX];
    const char *d = realpath(dir, abs) != NULL ? abs : dir;
    snprintf(data_dir, sizeof(data_dir), "%.*s", PATH_MAX - 1, d);
}

static void find_data_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char build[PATH_MAX];
        size_t blen;
        if (SW_BUILD_DIR[0] != '\0' && realpath(SW_BUILD_DIR, build) != NULL &&
            (blen = strlen(build)) > 0 && strncmp(exe, build, blen) == 0 && exe[blen] == '/' &&
            has_config(SW_SOURCE_CONFIG_DIR)) {
            set_dir(SW_SOURCE_CONFIG_DIR);
            return;
        }
        char *slash = strrchr(exe, '/');
        if (slash != NULL) {
            char cand[PATH_MAX + 64];
            *slash = '\0';
            snprintf(cand, sizeof(cand), "%s/%s", exe, SW_REL_CONFIG_DIR);
            if (has_config(cand)) {
                set_dir(cand);
                return;
            }
        }
    }
    set_dir(SW_INSTALL_CONFIG_DIR);
}

const char *sw_conf_data_dir(void)
{
    pthread_once(&data_once, find_data_dir);
    return data_dir;
}
