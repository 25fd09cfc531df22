/* The host firewall (spec 6.2.2, Lynis FIRE-4540/FIRE-4590), from
 * `nft list ruleset`: our table is loaded, its input chain drops by default,
 * and nothing but SSH is accepted from anywhere: every other accepting rule
 * names a source. (Another table's accept cannot undo our drop: nftables
 * runs every base chain of a hook, and a drop in any one of them is final.) */
#include "checks.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE "table inet hl_freestyle {"

/* The body of "chain NAME {" inside TABLE_BODY, as a fresh string. */
static char *chain_body(const char *table_body, const char *name)
{
    char head[64];
    snprintf(head, sizeof head, "chain %s {", name);
    const char *p = strstr(table_body, head);
    if (!p)
        return NULL;
    p += strlen(head);
    int depth = 1;
    const char *e = p;
    for (; *e && depth; e++)
        depth += *e == '{' ? 1 : *e == '}' ? -1 : 0;
    return strndup(p, (size_t) (e - p - (depth == 0)));
}

static bool rule_is_safe_accept(const char *rule)
{
    static const char *const allowed[] = {
        "ct state established,related accept", "ct state related,established accept",
        "iif \"lo\" accept", "iifname \"lo\" accept", NULL,
    };
    for (const char *const *a = allowed; *a; a++)
        if (strncmp(rule, *a, strlen(*a)) == 0)
            return true;
    if (strncmp(rule, "ip protocol icmp", 16) == 0 || strncmp(rule, "ip6 nexthdr ipv6-icmp", 21) == 0 ||
        strncmp(rule, "icmp type", 9) == 0 || strncmp(rule, "icmpv6 type", 11) == 0)
        return true;
    if (strncmp(rule, "tcp dport 22 accept", 19) == 0 || strncmp(rule, "tcp dport ssh accept", 20) == 0)
        return true; /* SSH from anywhere: the spec's policy */
    return strstr(rule, "ip saddr ") || strstr(rule, "ip6 saddr ");
}

void check_nft_ruleset(cr_report_t *r, const char *ruleset)
{
    if (!ruleset || !strstr(ruleset, "table ")) {
        cr_add(r, "FIRE-4540", "firewall.ruleset", CR_FAIL, "no nftables ruleset is loaded");
        return;
    }
    const char *t = strstr(ruleset, TABLE);
    if (!t) {
        cr_add(r, "FIRE-4540", "firewall.table", CR_FAIL,
               "table inet hl_freestyle is not loaded (deploy/security/hl-freestyle.nft)");
        return;
    }
    cr_add(r, "FIRE-4540", "firewall.table", CR_PASS, "table inet hl_freestyle loaded");
    char *input = chain_body(t + strlen(TABLE), "input");
    if (!input) {
        cr_add(r, "FIRE-4590", "firewall.input", CR_FAIL, "no input chain in hl_freestyle");
        return;
    }
    if (!strstr(input, "hook input"))
        cr_add(r, "FIRE-4590", "firewall.input", CR_FAIL, "the input chain is not hooked to input");
    else if (!strstr(input, "policy drop;"))
        cr_add(r, "FIRE-4590", "firewall.input", CR_FAIL, "input policy is not drop");
    else
        cr_add(r, "FIRE-4590", "firewall.input", CR_PASS, "hook input, policy drop");
    size_t open = 0;
    char *save = NULL;
    for (char *l = strtok_r(input, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        while (isspace((unsigned char) *l))
            l++;
        if (!strstr(l, "accept") || strncmp(l, "type ", 5) == 0)
            continue;
        if (!rule_is_safe_accept(l)) {
            open++;
            cr_add(r, "FIRE-4590", "firewall.open_rule", CR_FAIL,
                   "accepts from anywhere: %.200s", l);
        }
    }
    if (!open)
        cr_add(r, "FIRE-4590", "firewall.open_rule", CR_PASS,
               "only SSH is open to any source; the rest names the private range");
    free(input);
}
