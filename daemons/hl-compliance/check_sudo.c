/* Privilege (spec 6.1.2, Lynis AUTH-9252): what a user may run as root.
 * Read from `sudo -l -U USER` (what sudo itself resolved: groups, aliases,
 * every file) or from a sudoers file's text (the validators' mutation test).
 *
 * Findings: a rule granting ALL; a wildcard in a command (in sudoers `*`
 * matches spaces too, so `systemctl stop hl-*` also allows
 * `systemctl stop hl-x ssh.service`); a command without arguments, which
 * sudo lets run with any arguments; !authenticate / NOPASSWD on ALL. */
#include "checks.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hlbus/strv.h>

typedef struct alias {
    char *name;
    char *cmds; /* the right-hand side, comma-separated */
} alias_t;

/* Lines with backslash continuations joined, comments dropped. */
static char **logical_lines(const char *text)
{
    char **out = NULL;
    char *buf = strdup(text ? text : "");
    char *acc = NULL;
    for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(l);
        bool cont = n && l[n - 1] == '\\';
        if (cont)
            l[n - 1] = ' ';
        char *joined = NULL;
        if (asprintf(&joined, "%s%s", acc ? acc : "", l) < 0)
            break;
        free(acc);
        acc = joined;
        if (cont)
            continue;
        char *hash = acc[0] == '#' ? acc : NULL; /* "#include" is a directive, kept */
        if (!hash || strncmp(acc, "#include", 8) == 0)
            hlb_strv_push(&out, acc);
        free(acc);
        acc = NULL;
    }
    if (acc)
        hlb_strv_push(&out, acc);
    free(acc);
    free(buf);
    return out;
}

static char *trim(char *s)
{
    while (isspace((unsigned char) *s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char) s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* The command part of one rule: after the runas "(...)" and the tags. */
static const char *commands_of(const char *rule, char *tags, size_t tags_len)
{
    const char *p = rule;
    tags[0] = '\0';
    while (*p) {
        while (isspace((unsigned char) *p))
            p++;
        if (*p == '(') {
            const char *e = strchr(p, ')');
            if (!e)
                return p;
            p = e + 1;
            continue;
        }
        /* TAG: words in capitals followed by a colon */
        const char *q = p;
        while (isupper((unsigned char) *q) || *q == '_')
            q++;
        if (q > p && *q == ':') {
            snprintf(tags + strlen(tags), tags_len - strlen(tags), "%.*s ", (int) (q - p), p);
            p = q + 1;
            continue;
        }
        return p;
    }
    return p;
}

static void check_command(cr_report_t *r, const char *user, const char *cmd, const char *tags,
                          const alias_t *aliases, size_t n_aliases, int depth, size_t *n_rules)
{
    for (size_t i = 0; i < n_aliases && depth < 4; i++) {
        if (strcmp(aliases[i].name, cmd) == 0) {
            char *copy = strdup(aliases[i].cmds);
            for (char *s2 = NULL, *c = strtok_r(copy, ",", &s2); c; c = strtok_r(NULL, ",", &s2))
                check_command(r, user, trim(c), tags, aliases, n_aliases, depth + 1, n_rules);
            free(copy);
            return;
        }
    }
    (*n_rules)++;
    char name[96];
    snprintf(name, sizeof name, "sudo.%s.rule%zu", user, *n_rules);
    bool nopasswd = strstr(tags, "NOPASSWD") != NULL;
    if (strcmp(cmd, "ALL") == 0 || strcmp(cmd, "!ALL") == 0) {
        cr_add(r, "AUTH-9252", name, CR_FAIL, "%s may run ALL as root%s", user,
               nopasswd ? " without a password (NOPASSWD: ALL)" : "");
        return;
    }
    if (strpbrk(cmd, "*?[")) {
        cr_add(r, "AUTH-9252", name, CR_FAIL,
               "wildcard in '%s': sudo's * matches spaces and further arguments", cmd);
        return;
    }
    if (cmd[0] != '/' && strncmp(cmd, "sudoedit", 8) != 0) {
        cr_add(r, "AUTH-9252", name, CR_FAIL, "'%s' is not an absolute path", cmd);
        return;
    }
    if (!strchr(cmd, ' ')) {
        cr_add(r, "AUTH-9252", name, CR_FAIL,
               "'%s' without arguments: sudo allows it with any arguments (use \"\" for none)", cmd);
        return;
    }
    cr_add(r, "AUTH-9252", name, CR_PASS, "%s%s", nopasswd ? "NOPASSWD: " : "", cmd);
}

void check_sudo_rules(cr_report_t *r, const char *user, const char *text)
{
    char **lines = logical_lines(text);
    alias_t aliases[64];
    size_t n_aliases = 0, n_rules = 0;
    bool listing = false; /* `sudo -l` output rather than a sudoers file */
    for (char **l = lines; l && *l; l++)
        if (strstr(*l, "may run the following commands"))
            listing = true;
    for (char **l = lines; l && *l && !listing; l++) {
        char *s = trim(*l);
        if (strncmp(s, "Cmnd_Alias", 10) != 0 || n_aliases == 64)
            continue;
        char *eq = strchr(s, '=');
        if (!eq)
            continue;
        *eq = '\0';
        aliases[n_aliases].name = strdup(trim(s + 10));
        aliases[n_aliases].cmds = strdup(trim(eq + 1));
        n_aliases++;
    }
    bool in_user_list = false;
    for (char **l = lines; l && *l; l++) {
        char *line = *l;
        const char *rest = NULL;
        if (listing) {
            if (strstr(line, "may run the following commands")) {
                in_user_list = true;
                continue;
            }
            if (!in_user_list || !isspace((unsigned char) line[0]))
                continue;
            rest = trim(line);
        } else {
            char *s = trim(line);
            char who[64];
            if (!*s || sscanf(s, "%63s", who) != 1)
                continue;
            if (strcmp(who, user) != 0 && strcmp(who, "ALL") != 0)
                continue; /* groups: only `sudo -l` resolves them */
            char *eq = strchr(s, '=');
            if (!eq)
                continue;
            rest = eq + 1;
        }
        char tags[128];
        const char *cmds = commands_of(rest, tags, sizeof tags);
        char *copy = strdup(cmds);
        for (char *s2 = NULL, *c = strtok_r(copy, ",", &s2); c; c = strtok_r(NULL, ",", &s2)) {
            char *cmd = trim(c);
            /* a later tag inside the list ("NOPASSWD: /a, PASSWD: /b") */
            char t2[128];
            const char *bare = commands_of(cmd, t2, sizeof t2);
            char all_tags[256];
            snprintf(all_tags, sizeof all_tags, "%s%s", tags, t2);
            if (*bare)
                check_command(r, user, bare, all_tags, aliases, n_aliases, 0, &n_rules);
        }
        free(copy);
    }
    if (n_rules == 0) {
        char name[96];
        snprintf(name, sizeof name, "sudo.%s", user);
        cr_add(r, "AUTH-9252", name, CR_PASS, "%s has no sudo rules", user);
    }
    for (size_t i = 0; i < n_aliases; i++) {
        free(aliases[i].name);
        free(aliases[i].cmds);
    }
    hlb_strv_free(lines);
}
