/* Envelope and topic checks, the registry, and the proxy's helper classes. */
#include <hlbus/hlbus.h>
#include <string.h>

#include "check.h"
#include "lvc.h"
#include "topicstats.h"

static void each_prefix(const char *prefix, uint64_t messages, uint64_t bytes, void *arg)
{
    hlb_buf_t *b = arg;
    hlb_buf_printf(b, "%s=%llu/%llu ", prefix, (unsigned long long)messages,
                   (unsigned long long)bytes);
}

static void each_lvc(const char *topic, zmq_msg_t *env, void *arg)
{
    hlb_buf_t *b = arg;
    hlb_buf_printf(b, "%s:%.*s ", topic, (int)zmq_msg_size(env), (char *)zmq_msg_data(env));
}

static void store(lvc_t *c, const char *topic, const char *val)
{
    zmq_msg_t m;
    zmq_msg_init_size(&m, strlen(val));
    memcpy(zmq_msg_data(&m), val, strlen(val));
    lvc_store(c, topic, strlen(topic), &m);
    zmq_msg_close(&m);
}

int main(void)
{
    CHECK(hlb_topic_valid("health.x", 8));
    CHECK(!hlb_topic_valid("", 0));
    CHECK(!hlb_topic_valid("a b", 3));
    CHECK(!hlb_topic_valid("a\nb", 3));
    char big[300];
    memset(big, 'a', sizeof big);
    CHECK(!hlb_topic_valid(big, sizeof big));
    CHECK(hlb_type_lookup("hl.Envelope") == &hl__envelope__descriptor);
    CHECK(hlb_type_lookup("hl.BusStats.Prefix") != NULL);
    CHECK(hlb_type_lookup("nope") == NULL);

    Hl__Envelope e = HL__ENVELOPE__INIT;
    e.source = "x";
    e.seq = 1;
    size_t len;
    uint8_t *p = hlb_body_encode(&e.base, &len);
    Hl__Envelope *d = hlb_envelope_decode(p, len);
    CHECK(d && strcmp(d->source, "x") == 0);
    hl__envelope__free_unpacked(d, NULL);
    free(p);
    e.source = ""; /* no source: refused */
    p = hlb_body_encode(&e.base, &len);
    CHECK(hlb_envelope_decode(p, len) == NULL);
    free(p);
    e.source = "x";
    e.seq = 0; /* sequence numbers start at 1 */
    p = hlb_body_encode(&e.base, &len);
    CHECK(hlb_envelope_decode(p, len) == NULL);
    free(p);
    CHECK(hlb_envelope_decode("\x0a\xff\xff\xff\x0f", 5) == NULL); /* length past the end */
    CHECK(hlb_body_decode("hl.Log", "\x0a\x05" "ab", 4) == NULL);

    topicstats_t *ts = topicstats_new(1);
    topicstats_count(ts, "health.a", 8, 10);
    topicstats_count(ts, "health.b", 8, 5);
    topicstats_count(ts, "log.x.info", 10, 1);
    topicstats_count(ts, "nodot", 5, 2);
    hlb_buf_t b = {0};
    topicstats_each(ts, each_prefix, &b);
    CHECK_MSG(strcmp(b.data, "health.=2/15 log.=1/1 nodot=1/2 ") == 0, "%s", b.data);
    topicstats_destroy(&ts);
    hlb_buf_free(&b);

    const char *const prefixes[] = {"health.", "service.", NULL};
    lvc_t *c = lvc_new(prefixes);
    CHECK(lvc_is_state_topic(c, "health.a", 8));
    CHECK(!lvc_is_state_topic(c, "log.a", 5));
    store(c, "health.a", "1");
    store(c, "service.b", "2");
    store(c, "health.a", "3"); /* replaces, and moves to the end */
    lvc_replay(c, "", 0, each_lvc, &b);
    CHECK_MSG(strcmp(b.data, "service.b:2 health.a:3 ") == 0, "%s", b.data);
    hlb_buf_reset(&b);
    CHECK(lvc_replay(c, "health.", 7, each_lvc, &b) == 1);
    CHECK(lvc_replay(c, "health.az", 9, each_lvc, &b) == 0);
    CHECK(lvc_size(c) == 2);
    lvc_destroy(&c);
    hlb_buf_free(&b);
    return check_done();
}
