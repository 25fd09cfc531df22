/* Auditing (spec 6.4.1, Lynis ACCT-9630): the rules we ship are in force.
 * From `auditctl -l` (the kernel's list: LIVE) or a rules file. Also what
 * the spec's sample gets wrong and auditctl does not always say: a watch of
 * a path that does not exist (`-w /usr/local/bin/hl-`), a glob in -F path=
 * (auditctl takes it literally, so the rule matches nothing). */
#include "checks.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const required_keys[] = {"hl-config", "hl-data", "hl-executables",
                                            "hl-processes", "privilege-escalation", NULL};

static bool has_key(const char *line, const char *key)
{
    char a[96], b[96];
    snprintf(a, sizeof a, "-k %s", key);
    snprintf(b, sizeof b, "key=%s", key);
    const char *p = strstr(line, a);
    size_t n = strlen(a);
    if (!p) {
        p = strstr(line, b);
        n = strlen(b);
    }
    return p && (p[n] == '\0' || isspace((unsigned char) p[n]));
}

void check_audit_rules(cr_report_t *r, const char *rules, bool live)
{
    const char *id = "ACCT-9630";
    size_t n_rules = 0, bad = 0;
    char *copy = strdup(rules ? rules : "");
    bool found[8] = {0};
    char *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        while (isspace((unsigned char) *l))
            l++;
        if (!*l || *l == '#')
            continue;
        if (strcmp(l, "No rules") == 0)
            continue;
        if (l[0] != '-') {
            bad++;
            cr_add(r, id, "audit.syntax", CR_FAIL, "not an audit rule: %.200s", l);
            continue;
        }
        if (l[1] != 'w' && l[1] != 'a' && l[1] != 'A')
            continue; /* -D, -b, -f, -e: control lines */
        n_rules++;
        for (size_t k = 0; required_keys[k]; k++)
            if (has_key(l, required_keys[k]))
                found[k] = true;
        if (strncmp(l, "-w ", 3) == 0) {
            char path[1024];
            if (sscanf(l + 3, "%1023s", path) != 1 || path[0] != '/') {
                bad++;
                cr_add(r, id, "audit.watch", CR_FAIL, "watch without an absolute path: %.200s", l);
                continue;
            }
            /* The kernel needs the parent directory; a missing file is
             * watched for its creation, so it is only suspicious (the
             * spec's `-w /usr/local/bin/hl-` names a file nobody makes). */
            struct stat st;
            char parent[1024];
            snprintf(parent, sizeof parent, "%s", path);
            size_t pl = strlen(parent);
            while (pl > 1 && parent[pl - 1] == '/')
                parent[--pl] = '\0';
            char *slash = strrchr(parent, '/');
            if (slash)
                *(slash == parent ? slash + 1 : slash) = '\0';
            if (!live && stat(parent, &st) != 0) {
                bad++;
                cr_add(r, id, "audit.watch", CR_FAIL, "watches %s, whose directory does not exist", path);
            } else if (!live && stat(path, &st) != 0) {
                bad++;
                cr_add(r, id, "audit.watch", CR_WARN, "watches %s, which does not exist", path);
            }
        }
        const char *p = strstr(l, "path=");
        if (p) {
            char path[1024];
            sscanf(p + 5, "%1023s", path);
            if (strpbrk(path, "*?[")) {
                bad++;
                cr_add(r, id, "audit.path_glob", CR_FAIL,
                       "-F path=%s: audit takes no globs, the rule matches nothing", path);
            }
        }
        if (strncmp(l, "-a", 2) == 0 && !strstr(l, "always") && !strstr(l, "never")) {
            bad++;
            cr_add(r, id, "audit.syntax", CR_FAIL, "-a without an action (always/never): %.200s", l);
        }
    }
    free(copy);
    if (n_rules == 0) {
        cr_add(r, id, "audit.rules", CR_FAIL, "no audit rules %s", live ? "loaded" : "in the file");
        return;
    }
    for (size_t k = 0; required_keys[k]; k++) {
        char name[64];
        snprintf(name, sizeof name, "audit.key.%s", required_keys[k]);
        cr_add(r, id, name, found[k] ? CR_PASS : CR_FAIL, "%s", found[k] ? "rules present" : "no rule with this key");
    }
    if (!bad)
        cr_add(r, id, "audit.rules", CR_PASS, "%zu rules%s", n_rules, live ? " loaded" : "");
}
