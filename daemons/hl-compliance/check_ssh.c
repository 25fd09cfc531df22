/* SSH (spec 6.1.1, Lynis SSH-7408): the effective configuration from
 * `sshd -T`, which has every drop-in applied: a text check of sshd_config
 * passes while sshd_config.d/50-cloud-init.conf turns passwords back on. */
#include "checks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The value of KEY (lower-case, as sshd -T prints it), or NULL. */
static char *effective(const char *text, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = text; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t) (eol - p) : strlen(p);
        if (len > kl && strncasecmp(p, key, kl) == 0 && p[kl] == ' ')
            return strndup(p + kl + 1, len - kl - 1);
        p = eol ? eol + 1 : NULL;
    }
    return NULL;
}

/* Expected values: one of the '|'-separated words, case-insensitive. */
static const struct {
    const char *key, *want, *id;
} expected[] = {
    {"permitrootlogin", "no", "SSH-7408"},
    {"passwordauthentication", "no", "SSH-7408"},
    {"kbdinteractiveauthentication", "no", "SSH-7408"},
    {"permitemptypasswords", "no", "SSH-7408"},
    {"pubkeyauthentication", "yes", "SSH-7408"},
    {"maxauthtries", "1|2|3", "SSH-7408"},
    {"maxsessions", "1|2", "SSH-7408"},
    {"clientaliveinterval", "300", "SSH-7408"},
    {"clientalivecountmax", "0|1|2", "SSH-7408"},
    {"allowtcpforwarding", "no", "SSH-7408"},
    {"allowagentforwarding", "no", "SSH-7408"},
    {"x11forwarding", "no", "SSH-7408"},
    {"permittunnel", "no", "SSH-7408"},
    {"gatewayports", "no", "SSH-7408"},
    {"compression", "no|delayed", "SSH-7408"},
    {"tcpkeepalive", "no", "SSH-7408"},
    {"loglevel", "verbose", "SSH-7408"},
    {"permituserenvironment", "no", "SSH-7408"},
    {"ignorerhosts", "yes", "SSH-7408"},
    {"strictmodes", "yes", "SSH-7408"},
    {"usedns", "no", "SSH-7408"},
    {"printlastlog", "yes", "SSH-7408"},
    {"fingerprinthash", "sha256", "SSH-7408"},
    {"allowusers", "hluser", "HL-SSH"},
    {"usepam", "yes", "HL-SSH"},
};

static bool one_of(const char *value, const char *wants)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", wants);
    for (char *save = NULL, *w = strtok_r(buf, "|", &save); w; w = strtok_r(NULL, "|", &save))
        if (strcasecmp(value, w) == 0)
            return true;
    return false;
}

/* Algorithms that are broken or weak, by substring of their names. */
static const struct {
    const char *key, *const bad[6];
} weak[] = {
    {"ciphers", {"-cbc", "arcfour", "3des", "blowfish", "cast128", NULL}},
    {"macs", {"hmac-md5", "hmac-sha1", "umac-64", "-96", NULL}},
    {"kexalgorithms", {"group1-sha1", "group14-sha1", "group-exchange-sha1", NULL}},
    {"hostkeyalgorithms", {"ssh-dss", "ssh-rsa,", NULL}},
};

static void check_algorithms(cr_report_t *r, const char *text, size_t i)
{
    char name[64];
    snprintf(name, sizeof name, "ssh.%s", weak[i].key);
    char *v = effective(text, weak[i].key);
    if (!v) {
        cr_add(r, "SSH-7408", name, CR_WARN, "not in sshd -T output");
        return;
    }
    /* ssh-rsa (SHA-1 signatures) only as a whole list entry */
    char padded[4096];
    snprintf(padded, sizeof padded, "%s,", v);
    for (const char *const *b = weak[i].bad; *b; b++) {
        if (strstr(padded, *b)) {
            cr_add(r, "SSH-7408", name, CR_FAIL, "weak algorithm allowed (%.*s): %s",
                   (int) strcspn(*b, ","), *b, v);
            free(v);
            return;
        }
    }
    cr_add(r, "SSH-7408", name, CR_PASS, "%s", v);
    free(v);
}

void check_sshd_effective(cr_report_t *r, const char *text)
{
    char name[64];
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++) {
        snprintf(name, sizeof name, "ssh.%s", expected[i].key);
        char *v = effective(text, expected[i].key);
        if (!v)
            cr_add(r, expected[i].id, name, CR_FAIL, "not set (expected %s)", expected[i].want);
        else if (!one_of(v, expected[i].want))
            cr_add(r, expected[i].id, name, CR_FAIL, "%s (expected %s)", v, expected[i].want);
        else
            cr_add(r, expected[i].id, name, CR_PASS, "%s", v);
        free(v);
    }
    for (size_t i = 0; i < sizeof weak / sizeof *weak; i++)
        check_algorithms(r, text, i);
    /* Port: the spec's 22 is kept (the security group and the firewall open
     * it); Lynis suggests another port, which hides nothing from a scan. */
    char *port = effective(text, "port");
    cr_add(r, "SSH-7408", "ssh.port", port ? CR_PASS : CR_FAIL, "%s%s", port ? port : "not set",
           port && strcmp(port, "22") == 0 ? " (the spec's port; not moved for obscurity)" : "");
    free(port);
}
