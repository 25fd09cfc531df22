/* hlctl contract: what a monitoring tool needs to speak the bus (the contract
 * version, where the .proto files are installed, every topic family with its
 * owner and body type), printed from libhlbus's own table so that it cannot
 * drift from what the daemons do. --markdown prints the table docs/contract.md
 * embeds (tests/monitoring/check_contract_doc.sh compares the two). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "hlctl.h"

#ifndef HL_PROTODIR
#define HL_PROTODIR "/usr/share/hl-freestyle/proto"
#endif

static const char *owner_text(const hlb_topic_family_t *f)
{
    return strcmp(f->owner, HLB_OWNER_SELF) == 0 ? "the daemon named in the topic" : f->owner;
}

static void print_markdown(void)
{
    printf("| topic | body type | published by | state (cached, replayed) |\n");
    printf("|---|---|---|---|\n");
    for (const hlb_topic_family_t *f = hlb_topic_families(); f->prefix; f++)
        printf("| `%s%s` | `%s` | %s | %s |\n", f->prefix, f->suffix, f->type->name,
               owner_text(f), f->state ? "yes" : "no");
}

static void print_json(void)
{
    hlb_buf_t b = {0};
    hlb_buf_printf(&b, "{\"contract\":%u,\"proto_dir\":", hlb_contract_version());
    hlb_json_str(&b, HL_PROTODIR, strlen(HL_PROTODIR));
    hlb_buf_puts(&b, ",\"topics\":[");
    for (const hlb_topic_family_t *f = hlb_topic_families(); f->prefix; f++) {
        hlb_buf_puts(&b, f == hlb_topic_families() ? "{\"prefix\":" : ",{\"prefix\":");
        hlb_json_str(&b, f->prefix, strlen(f->prefix));
        hlb_buf_puts(&b, ",\"suffix\":");
        hlb_json_str(&b, f->suffix, strlen(f->suffix));
        hlb_buf_puts(&b, ",\"type\":");
        hlb_json_str(&b, f->type->name, strlen(f->type->name));
        hlb_buf_puts(&b, ",\"owner\":");
        hlb_json_str(&b, f->owner, strlen(f->owner));
        hlb_buf_printf(&b, ",\"state\":%s}", f->state ? "true" : "false");
    }
    hlb_buf_puts(&b, "]}\n");
    fwrite(b.data, 1, b.len, stdout);
    hlb_buf_free(&b);
}

int hlctl_cmd_contract(hlctl_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"markdown", no_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    bool markdown = false;
    int c;
    while ((c = getopt_long(argc, argv, "+m", opts, NULL)) != -1) {
        if (c != 'm')
            return hlctl_usage("contract [--markdown]");
        markdown = true;
    }
    if (optind != argc)
        return hlctl_usage("contract [--markdown]");
    if (markdown) {
        print_markdown();
    } else if (ctx->json) {
        print_json();
    } else {
        printf("bus contract %u\nproto files: %s\n\n", hlb_contract_version(), HL_PROTODIR);
        for (const hlb_topic_family_t *f = hlb_topic_families(); f->prefix; f++)
            printf("  %-28s %-22s %s%s\n", f->prefix, f->type->name,
                   strcmp(f->owner, HLB_OWNER_SELF) == 0 ? "(self)" : f->owner,
                   f->state ? ", state" : "");
    }
    return HLCTL_OK;
}
