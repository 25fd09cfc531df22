/* hlctl sub, pub, bus stats. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hlctl.h"

static void print_event(const hlb_event_t *ev)
{
    hlb_buf_t b = {0};
    const Hl__Envelope *e = ev->env;
    hlb_buf_puts(&b, "{\"topic\":");
    hlb_json_str(&b, ev->topic, strlen(ev->topic));
    hlb_buf_puts(&b, ",\"source\":");
    hlb_json_str(&b, e->source, strlen(e->source));
    hlb_buf_printf(&b, ",\"epoch\":%" PRIu64 ",\"seq\":%" PRIu64 ",\"ts\":%" PRIu64 ",\"type\":",
                   e->epoch, e->seq, e->ts_us);
    hlb_json_str(&b, e->type, strlen(e->type));
    hlb_buf_puts(&b, ",\"body\":");
    hlb_json_body(&b, e->type, e->body.data, e->body.len);
    if (ev->replay)
        hlb_buf_puts(&b, ",\"replay\":true");
    hlb_buf_puts(&b, "}\n");
    fwrite(b.data, 1, b.len, stdout);
    hlb_buf_free(&b);
}

int hlctl_cmd_sub(hlctl_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"count", required_argument, NULL, 'n'},
        {"wait", required_argument, NULL, 'w'},
        {"stats", no_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    int64_t count = -1, wait_ms = -1;
    bool stats = false;
    int opt;
    const char *usage = "sub [--count N] [--wait MS] [--stats] [PREFIX...]\n"
                        "  prints one JSON object per event: topic, source, epoch, seq, ts, type, body\n"
                        "  --count N  exit after N events;  --wait MS  exit after MS without one\n"
                        "  --stats    at exit, print received/gaps/duplicates/malformed to stderr";
    while ((opt = getopt_long(argc, argv, "n:w:", opts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            if (hlb_parse_int(optarg, &count) < 0 || count < 1)
                return hlctl_usage(usage);
            break;
        case 'w':
            if (hlb_parse_int(optarg, &wait_ms) < 0 || wait_ms < 0)
                return hlctl_usage(usage);
            break;
        case 's': stats = true; break;
        default: return hlctl_usage(usage);
        }
    }
    for (int i = optind; i < argc; i++)
        if (!hlb_topic_valid(argv[i], strlen(argv[i]))) {
            hlctl_fprintf(stderr, "hlctl: '%s' is not a topic prefix\n", argv[i]);
            return HLCTL_USAGE;
        }
    /* argv is NULL-terminated, so its tail is a prefix list */
    hlb_sub_t *s = hlb_sub_new(ctx->runtime_dir, (const char *const *)argv + optind);
    if (!s) {
        hlctl_fprintf(stderr, "hlctl: cannot subscribe on %s/%s\n", ctx->runtime_dir, HLB_BUS_SUB);
        return HLCTL_CRITICAL;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int64_t seen = 0;
    int rc = HLCTL_OK;
    while (!hlctl_interrupted && (count < 0 || seen < count)) {
        hlb_event_t ev;
        int r = hlb_sub_recv(s, &ev, wait_ms < 0 ? -1 : (int)wait_ms);
        if (r == -EAGAIN) {
            if (count > 0 && seen < count)
                rc = HLCTL_DEGRADED; /* fewer events than asked for */
            break;
        }
        if (r < 0)
            break;
        if (r == 1) {
            print_event(&ev);
            seen++;
        }
        if (ferror(stdout)) /* the reader went away */
            break;
    }
    if (stats) {
        hlb_sub_stats_t st = hlb_sub_stats(s);
        hlctl_fprintf(stderr,
                "received %" PRIu64 " gaps %" PRIu64 " duplicates %" PRIu64 " malformed %" PRIu64 "\n",
                st.received, st.gaps, st.duplicates, st.malformed);
    }
    hlb_sub_destroy(&s);
    return rc;
}

/* The body type for WORDS on the family FAM: its one type, or on a family
 * with two (recovery.) the first whose fields hold every key. */
static const ProtobufCMessageDescriptor *pick_type(const hlb_topic_family_t *fam, int n,
                                                   char *const *words)
{
    for (const hlb_topic_family_t *f = fam; f->prefix && !strcmp(f->prefix, fam->prefix); f++)
        if (hlb_kv_fits(f->type, n, words))
            return f->type;
    return NULL;
}

/* A typed topic's body from KEY=VALUE words, or NULL with the reason said. */
static ProtobufCMessage *typed_body(const char *topic, const hlb_topic_family_t *fam, int n,
                                    char *const *words)
{
    if (n == 1 && !strchr(words[0], '=')) {
        hlctl_fprintf(stderr, "hlctl: %s carries an %s: give its fields as KEY=VALUE\n", topic,
                fam->type->name);
        return NULL;
    }
    const ProtobufCMessageDescriptor *desc = pick_type(fam, n, words);
    bool two = fam[1].prefix && !strcmp(fam[1].prefix, fam->prefix);
    if (!desc && two) {
        hlctl_fprintf(stderr, "hlctl: %s carries one of", topic);
        for (const hlb_topic_family_t *f = fam; f->prefix && !strcmp(f->prefix, fam->prefix); f++)
            hlctl_fprintf(stderr, "%s %s", f == fam ? "" : ",", f->type->name);
        hlctl_fprintf(stderr, "; no one of them has all of these fields\n");
        return NULL;
    }
    hlb_buf_t err = {0};
    ProtobufCMessage *m = hlb_kv_message(desc ? desc : fam->type, n, words, &err);
    if (!m)
        hlctl_fprintf(stderr, "hlctl: %s: %s\n", topic, err.data ? err.data : "cannot build the body");
    hlb_buf_free(&err);
    return m;
}

int hlctl_cmd_pub(hlctl_t *ctx, int argc, char **argv)
{
    const char *usage = "pub TOPIC KEY=VALUE... | pub TOPIC MESSAGE\n"
                        "  On a topic of the bus contract (health., service., lifecycle.state, ...,\n"
                        "  see the README) the words build its typed body: KEY is a field (or\n"
                        "  a.b for a sub-message's), VALUE is read by the field's type (enums by\n"
                        "  their word: healthy, ready, firing, ...). Other topics get a free-form\n"
                        "  map; a MESSAGE without '=' is sent there as {\"text\": MESSAGE}.";
    if (argc < 3)
        return hlctl_usage(usage);
    const char *topic = argv[1];
    if (!hlb_topic_valid(topic, strlen(topic))) {
        hlctl_fprintf(stderr, "hlctl: '%s' is not a topic (printable, no spaces, at most %d bytes)\n",
                topic, HLB_MAX_TOPIC);
        return HLCTL_USAGE;
    }
    const hlb_topic_family_t *fam = hlb_topic_family(topic);
    hlb_map_t *m = NULL;
    ProtobufCMessage *typed = NULL;
    if (fam) {
        if (!(typed = typed_body(topic, fam, argc - 2, argv + 2)))
            return HLCTL_USAGE;
    } else if (argc == 3 && !strchr(argv[2], '=')) {
        m = hlb_map_new();
        hlb_map_str(m, "text", argv[2]);
    } else if (!(m = hlctl_kv_map(argc - 2, argv + 2))) {
        return HLCTL_USAGE;
    }
    /* A one-shot publisher must not queue into the void: say at once when
     * the proxy is not there or not ours to talk to. */
    char *path = hlb_path(ctx->runtime_dir, HLB_BUS_PUB);
    int probe = hlb_socket_probe(path);
    int rc = 0;
    if (probe < 0) {
        hlctl_fprintf(stderr, "hlctl: cannot publish on %s: %s\n", path,
                probe == -ECONNREFUSED ? "hl-bus is not running" : strerror(-probe));
        free(path);
        rc = HLCTL_CRITICAL;
        goto out;
    }
    free(path);
    hlb_pub_t *p = hlb_pub_new(ctx->runtime_dir, "hlctl");
    rc = !p ? -errno : typed ? hlb_pub_send(p, topic, typed) : hlb_pub_send_map(p, topic, m);
    if (p)
        hlb_pub_set_linger(p, ctx->call.timeout_ms);
    hlb_pub_destroy(&p); /* waits until the message has reached the proxy */
    if (rc < 0) {
        hlctl_fprintf(stderr, "hlctl: cannot publish: %s\n", strerror(-rc));
        rc = HLCTL_CRITICAL;
    } else {
        rc = HLCTL_OK;
    }
out:
    hlb_map_destroy(&m);
    if (typed)
        protobuf_c_message_free_unpacked(typed, NULL);
    return rc;
}

int hlctl_cmd_bus(hlctl_t *ctx, int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "stats") != 0)
        return hlctl_usage("bus stats");
    Hl__Reply *r;
    int rc = hlctl_call(ctx, "hl-bus", "stats", NULL, &r);
    if (rc != HLCTL_OK)
        return rc;
    if (ctx->json) {
        hlctl_print_json(r);
        hl__reply__free_unpacked(r, NULL);
        return HLCTL_OK;
    }
    Hl__BusStats *st = (Hl__BusStats *)hlb_reply_decode(r, &hl__bus_stats__descriptor);
    hl__reply__free_unpacked(r, NULL);
    if (!st) {
        hlctl_fprintf(stderr, "hlctl: hl-bus answered something that is not an hl.BusStats\n");
        return HLCTL_CRITICAL;
    }
    char up[32];
    hlctl_format_duration(up, sizeof up, hlb_now_us() - st->started_us);
    hlctl_printf("messages %" PRIu64 "  bytes %" PRIu64 "  malformed %" PRIu64 "  subscriptions %" PRIu64
           "  cached topics %" PRIu64 "  replays %" PRIu64 "  up %s\n",
           st->messages, st->bytes, st->malformed, st->subscriptions, st->lvc_topics,
           st->lvc_replays, up);
    /* what hl-bus refused: the topic ACL, connections, subscriptions */
    hlctl_printf("denied %" PRIu64 "  refused connections: per uid %" PRIu64 "  reserve %" PRIu64
                 "  out of fds %" PRIu64 "  refused subscriptions %" PRIu64
                 "  stale subscriptions %" PRIu64 "\n\n",
                 st->denied, st->connections_refused_per_uid, st->connections_refused_reserve,
                 st->connections_refused_emfile, st->subscriptions_refused,
                 st->subscriptions_stale);
    hlctl_printf("%-24s %12s %14s\n", "PREFIX", "MESSAGES", "BYTES");
    for (size_t i = 0; i < st->n_prefixes; i++)
        hlctl_printf("%-24s %12" PRIu64 " %14" PRIu64 "\n", st->prefixes[i]->prefix,
               st->prefixes[i]->messages, st->prefixes[i]->bytes);
    hlctl_printf("\n%-24s %12s %12s %10s\n", "SOURCE", "MESSAGES", "SENT", "GAPS");
    uint64_t gaps = 0;
    for (size_t i = 0; i < st->n_sources; i++) {
        hlctl_printf("%-24s %12" PRIu64 " %12" PRIu64 " %10" PRIu64 "\n", st->sources[i]->source,
               st->sources[i]->messages, st->sources[i]->last_seq, st->sources[i]->gaps);
        gaps += st->sources[i]->gaps;
    }
    protobuf_c_message_free_unpacked(&st->base, NULL);
    return gaps ? HLCTL_DEGRADED : HLCTL_OK;
}
