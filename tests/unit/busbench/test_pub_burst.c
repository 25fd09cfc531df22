/* A publisher takes a burst as large as its queue bound whatever it sent
 * before. libzmq acknowledges a pipe's reads to the writer in steps of half
 * its HWM, so with SNDHWM equal to the bound, 1000 messages sent (and long
 * delivered) before a burst of 10000 made 1000 of the burst fail. Real
 * sockets: a PULL bound at bus/pub of a private runtime dir stands in for
 * the proxy and reads nothing during the burst. */
#include <czmq.h>
#include <errno.h>
#include <hlbus/hlbus.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"

/* Reads up to N messages (2 frames each), waiting up to 10 s for each. */
static int drain(zsock_t *pull, int n)
{
    int got = 0;
    zsock_set_rcvtimeo(pull, 10000);
    while (got < n) {
        zmsg_t *m = zmsg_recv(pull);
        if (!m)
            break;
        got += zmsg_size(m) == 2;
        zmsg_destroy(&m);
    }
    return got;
}

int main(void)
{
    char dir[] = "/tmp/hlburst.XXXXXX";
    if (!mkdtemp(dir))
        return 2;
    char *busdir = hlb_path(dir, "bus"), *ep = hlb_endpoint(dir, HLB_BUS_PUB);
    hlb_mkdir_p(busdir, 0755);
    zsock_t *pull = zsock_new(ZMQ_PULL);
    zsock_set_rcvhwm(pull, 100);
    CHECK(zsock_bind(pull, "%s", ep) == 0);
    hlb_pub_t *p = hlb_pub_new(dir, "burst");
    CHECK(p != NULL);
    if (!p)
        return 1;

    const int before = 1000, burst = 10000; /* the default bound */
    for (int i = 0; i < before; i++)
        CHECK(hlb_pub_send_raw(p, "t.before", "x", "abc", 3) == 0);
    CHECK(drain(pull, before) == before); /* delivered: the queue is empty */
    int refused = 0;
    for (int i = 0; i < burst; i++)
        refused += hlb_pub_send_raw(p, "t.burst", "x", "abc", 3) != 0;
    CHECK(refused == 0);
    CHECK(hlb_pub_dropped(p) == 0);
    CHECK(drain(pull, burst) == burst);
    if (refused)
        fprintf(stderr, "%d of a burst of %d refused after %d earlier messages\n", refused,
                burst, before);

    hlb_pub_destroy(&p);
    zsock_destroy(&pull);
    char *sock = hlb_path(dir, HLB_BUS_PUB);
    unlink(sock);
    rmdir(busdir);
    rmdir(dir);
    free(sock);
    free(busdir);
    free(ep);
    return check_done();
}
