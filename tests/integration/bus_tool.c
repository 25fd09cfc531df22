/* A test peer for the bus: publishes bursts, paced streams and garbage.
 *
 *   bus_tool pub DIR TOPIC COUNT [--size B] [--interval-us U] [--hwm N] [--hold]
 *       publishes COUNT messages and exits at once (the library's linger
 *       delivers what was queued); prints "sent S dropped D". With --hold it
 *       then waits for a line on stdin and publishes one final message.
 *   bus_tool garbage DIR      sends malformed messages to bus/pub and bus/sub,
 *       then one valid "test.after" message.
 */
#include <hlbus/hlbus.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int cmd_pub(int argc, char **argv)
{
    if (argc < 5)
        return 64;
    const char *dir = argv[2], *topic = argv[3];
    int64_t count, size = 16, interval = 0, hwm = 10000;
    bool hold = false;
    if (hlb_parse_int(argv[4], &count) < 0)
        return 64;
    for (int i = 5; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            hlb_parse_int(argv[++i], &size);
        else if (strcmp(argv[i], "--interval-us") == 0 && i + 1 < argc)
            hlb_parse_int(argv[++i], &interval);
        else if (strcmp(argv[i], "--hwm") == 0 && i + 1 < argc)
            hlb_parse_int(argv[++i], &hwm);
        else if (strcmp(argv[i], "--hold") == 0)
            hold = true;
        else
            return 64;
    }
    hlb_pub_t *p = hlb_pub_new(dir, "bus_tool");
    if (!p)
        return 2;
    hlb_pub_set_hwm(p, (int)hwm);
    char *body = calloc(1, (size_t)size);
    uint64_t next = hlb_mono_us();
    for (int64_t i = 0; i < count; i++) {
        if (interval > 0) { /* paced: a stream, not a burst */
            next += (uint64_t)interval;
            uint64_t now = hlb_mono_us();
            if (next > now)
                zclock_sleep((int)((next - now) / 1000));
        }
        hlb_pub_send_raw(p, topic, "", body, (size_t)size);
    }
    printf("sent %llu dropped %llu\n", (unsigned long long)hlb_pub_sent(p),
           (unsigned long long)hlb_pub_dropped(p));
    fflush(stdout);
    if (hold) {
        char line[16];
        if (fgets(line, sizeof line, stdin))
            hlb_pub_send_raw(p, topic, "", "final", 5);
    }
    free(body);
    hlb_pub_destroy(&p);
    return 0;
}

static void send_frames(zsock_t *s, int n, const char *const *frames, const size_t *lens)
{
    for (int i = 0; i < n; i++)
        zmq_send(zsock_resolve(s), frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0);
}

static void raw_unix(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        char junk[65536];
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (char)(i * 7919 + 13);
        if (write(fd, junk, sizeof junk) < 0) { /* the peer may hang up first: fine */
        }
    }
    close(fd);
}

static int cmd_garbage(int argc, char **argv)
{
    if (argc < 3)
        return 64;
    const char *dir = argv[2];
    char *pub_ep = hlb_endpoint(dir, HLB_BUS_PUB), *sub_ep = hlb_endpoint(dir, HLB_BUS_SUB);
    zsock_t *push = zsock_new(ZMQ_PUSH);
    zsock_set_linger(push, 2000);
    zsock_connect(push, "%s", pub_ep);

    Hl__Envelope e = HL__ENVELOPE__INIT;
    e.source = "garbage";
    e.seq = 1;
    size_t elen;
    uint8_t *env = hlb_body_encode(&e.base, &elen);
    Hl__Envelope nosrc = HL__ENVELOPE__INIT;
    nosrc.seq = 1;
    size_t nlen;
    uint8_t *noenv = hlb_body_encode(&nosrc.base, &nlen);
    char big_topic[400];
    memset(big_topic, 'a', sizeof big_topic);

    const char *one[] = {"test.one"};
    size_t one_l[] = {8};
    send_frames(push, 1, one, one_l); /* a lone frame */
    const char *three[] = {"test.three", (char *)env, "x"};
    size_t three_l[] = {10, elen, 1};
    send_frames(push, 3, three, three_l); /* three frames */
    const char *space[] = {"test bad", (char *)env};
    size_t space_l[] = {8, elen};
    send_frames(push, 2, space, space_l); /* a topic with a space */
    const char *longt[] = {big_topic, (char *)env};
    size_t longt_l[] = {sizeof big_topic, elen};
    send_frames(push, 2, longt, longt_l); /* a topic too long */
    const char *junk[] = {"test.junk", "\x0a\xff\xff\xff\xff\x0f"};
    size_t junk_l[] = {9, 6};
    send_frames(push, 2, junk, junk_l); /* an envelope that does not decode */
    const char *ns[] = {"test.nosource", (char *)noenv};
    size_t ns_l[] = {13, nlen};
    send_frames(push, 2, ns, ns_l); /* an envelope without a source */
    const char *empty[] = {"", (char *)env};
    size_t empty_l[] = {0, elen};
    send_frames(push, 2, empty, empty_l); /* an empty topic */

    /* on the subscriber side, a message that is no subscription */
    zsock_t *xsub = zsock_new(ZMQ_XSUB);
    zsock_set_linger(xsub, 2000);
    zsock_connect(xsub, "%s", sub_ep);
    zmq_send(zsock_resolve(xsub), "\x05nonsense", 9, 0);

    /* an oversized frame: the proxy drops the connection that sent it */
    zsock_t *push2 = zsock_new(ZMQ_PUSH);
    zsock_set_linger(push2, 500);
    zsock_connect(push2, "%s", pub_ep);
    size_t huge = 2 * 1024 * 1024;
    char *hbuf = calloc(1, huge);
    const char *hf[] = {"test.huge", hbuf};
    size_t hf_l[] = {9, huge};
    send_frames(push2, 2, hf, hf_l);

    /* and bytes that are not ZMTP at all, straight onto the sockets */
    char *p1 = hlb_path(dir, HLB_BUS_PUB), *p2 = hlb_path(dir, HLB_BUS_SUB),
         *p3 = hlb_path(dir, "ctl/hl-bus");
    raw_unix(p1);
    raw_unix(p2);
    raw_unix(p3);

    /* finally one good message, through the library */
    hlb_pub_t *p = hlb_pub_new(dir, "bus_tool");
    hlb_pub_send_raw(p, "test.after", "", "ok", 2);
    hlb_pub_destroy(&p);
    zsock_destroy(&push);
    zsock_destroy(&push2);
    zsock_destroy(&xsub);
    free(hbuf);
    free(env);
    free(noenv);
    free(pub_ep);
    free(sub_ep);
    free(p1);
    free(p2);
    free(p3);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "pub") == 0)
        return cmd_pub(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "garbage") == 0)
        return cmd_garbage(argc, argv);
    fprintf(stderr, "usage: bus_tool pub DIR TOPIC COUNT [--size B] [--interval-us U] [--hwm N] [--hold]\n"
                    "       bus_tool garbage DIR\n");
    return 64;
}
