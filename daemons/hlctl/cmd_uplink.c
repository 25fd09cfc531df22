/* hlctl uplink status|flush: hl-uplink's connection to the HL API. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hlctl.h"
#include "uplink.pb-c.h"

#define UPLINK_DAEMON "hl-uplink"

/* server time against ours: the offset is printed beside it */
static void ago(char *out, size_t n, uint64_t us)
{
    hlctl_format_ago(out, n, us, false);
}

static void print_status(const Hl__UplinkStatus *s)
{
    char hb[48], next[32];
    ago(hb, sizeof hb, s->last_heartbeat_us);
    hlctl_format_duration(next, sizeof next, s->next_attempt_in_ms * 1000);
    hlctl_printf("uplink %s%s%s\n", hlb_pb_enum_word(&hl__uplink_state__descriptor, s->state),
                 *s->last_error ? ": " : "", s->last_error);
    hlctl_printf("  endpoint     %s\n", s->endpoint);
    hlctl_printf("  instance     %s (from %s%s%s)\n", *s->instance_id ? s->instance_id : "-",
                 *s->identity_source ? s->identity_source : "no source yet",
                 *s->region ? ", region " : "", s->region);
    hlctl_printf("  registered   %s\n", s->registered ? "yes" : "no");
    hlctl_printf("  heartbeat    %s (%" PRIu64 " sent)\n", hb, s->heartbeats);
    hlctl_printf("  next request in %s (back-off window %.1f s)\n", next,
                 (double)s->backoff_window_ms / 1000.0);
    hlctl_printf("  outbox       %" PRIu64 " events, %" PRIu64 " bytes, %" PRIu64
                 " dropped, %" PRIu64 " disk write errors\n",
                 s->outbox_depth, s->outbox_bytes, s->outbox_dropped, s->outbox_write_errors);
    hlctl_printf("  events       %" PRIu64 " delivered, %" PRIu64 " refused by the API\n",
                 s->events_sent, s->events_rejected);
    hlctl_printf("  requests     %" PRIu64 " (%" PRIu64 " failed), token re-reads %" PRIu64 "\n",
                 s->requests, s->failures, s->auth_rereads);
    hlctl_printf("  clock        server %+" PRId64 " ms from ours\n", s->clock_offset_ms);
}

int hlctl_cmd_uplink(hlctl_t *ctx, int argc, char **argv)
{
    const char *usage = "uplink status|flush\n"
                        "  status  the connection to the HL API: online or offline and why,\n"
                        "          registration, last heartbeat, the outbox, the next attempt\n"
                        "  flush   (admins) deliver the outbox now and end a back-off\n"
                        "  exit 0 online, 1 offline with events waiting or not registered yet,\n"
                        "  2 offline and events dropped, or hl-uplink does not answer";
    if (argc != 2 || (strcmp(argv[1], "status") != 0 && strcmp(argv[1], "flush") != 0))
        return hlctl_usage(usage);
    bool flush = strcmp(argv[1], "flush") == 0;
    Hl__Reply *reply;
    int rc = hlctl_call(ctx, UPLINK_DAEMON, flush ? "flush" : "uplink-status", NULL, &reply);
    if (rc != HLCTL_OK)
        return rc;
    Hl__UplinkStatus *s =
        (Hl__UplinkStatus *)hlb_reply_decode(reply, &hl__uplink_status__descriptor);
    if (!s) {
        hlctl_fprintf(stderr, "hlctl: %s answered with a %s, not an hl.UplinkStatus\n",
                      UPLINK_DAEMON, reply->type);
        hl__reply__free_unpacked(reply, NULL);
        return HLCTL_CRITICAL;
    }
    if (ctx->json)
        hlctl_print_json(reply);
    else
        print_status(s);
    int worst = HLCTL_OK;
    if (s->state != HL__UPLINK_STATE__UPLINK_ONLINE)
        worst = s->outbox_dropped ? HLCTL_CRITICAL : HLCTL_DEGRADED;
    protobuf_c_message_free_unpacked(&s->base, NULL);
    hl__reply__free_unpacked(reply, NULL);
    return worst;
}
