/* Issue #12: "hlctl failures and hlctl bus stats print bus-supplied
 * strings raw (terminal escape sequences reach an admin's terminal)". Any
 * local user publishes with a source name full of escape sequences; what
 * hlctl bus stats prints has no control byte left, the name shown escaped. */
#include "sec.h"

static proc_t bus_proc;

static const char evil[] = "x\x1b]0;owned\x07\x1b[2J\x9b" "31m";

static int attacker(void *arg)
{
    zsock_t *raw = zsock_new(ZMQ_PUSH);
    char ep[300];
    snprintf(ep, sizeof ep, "ipc://%s/bus/pub", sec_dir);
    if (!raw || zsock_connect(raw, "%s", ep) < 0)
        return 3;
    Hl__Envelope e = HL__ENVELOPE__INIT;
    e.source = (char *)evil;
    e.epoch = 1;
    e.seq = 1;
    uint8_t buf[256];
    size_t n = hl__envelope__pack(&e, buf);
    zmq_send(zsock_resolve(raw), "test.escape", 11, ZMQ_SNDMORE);
    zmq_send(zsock_resolve(raw), buf, n, 0);
    zsock_set_linger(raw, 2000);
    zsock_destroy(&raw);
    return 0;
}

int main(void)
{
    if (geteuid() != 0) {
        printf("SKIP: needs root to publish as another uid\n");
        return 77;
    }
    sec_setup();
    sec_start_bus(&bus_proc, 0, NULL);
    const char *const pre[] = {"test.", NULL};
    hlb_sub_t *s = hlb_sub_new(sec_dir, pre);
    hlb_sub_subscribe(s, "daemon.hl-bus");
    CHECK(sec_sub_synced(s));
    CHECK(sec_as_nobody(attacker, NULL) == 0);
    hlb_event_t ev;
    bool seen = false;
    while (!seen && hlb_sub_recv(s, &ev, 3000) == 1)
        seen = strcmp(ev.topic, "test.escape") == 0;
    CHECK_MSG(seen, "the message with the hostile source went through the bus");

    char out[16384];
    char *const argv[] = {sec_hlctl_bin(), "--runtime-dir", sec_dir, "bus", "stats", NULL};
    int rc = proc_run(argv, out, sizeof out);
    CHECK(rc == 0 || rc == 1);
    size_t ctl = 0;
    for (const unsigned char *p = (const unsigned char *)out; *p; p++)
        ctl += (*p < 0x20 && *p != '\n') || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0) ||
               *p == 0x9b;
    printf("%zu control bytes in hlctl bus stats\n", ctl);
    CHECK_MSG(ctl == 0, "hlctl bus stats printed %zu control bytes", ctl);
    CHECK_MSG(strstr(out, "x\\x1b]0;owned\\x07") != NULL, "the source shown escaped:\n%s", out);
    hlb_sub_destroy(&s);
    return sec_finish(&bus_proc);
}
