/* sd_notify never blocks the daemon's loop: when whoever owns NOTIFY_SOCKET
 * stops reading (a real unix datagram socket whose queue fills up), the
 * daemon goes on answering, counts the notifications it could not send,
 * reports the count in its status, and speaks again once the reader is back. */
#include <errno.h>
#include <hlbus/hlbus.h>

#include "check.h"
#include "proc.h"

#define SAYS 200 /* many times what a datagram queue holds (max_dgram_qlen 10) */

static Hl__DaemonStatus *status_of(const char *dir)
{
    hlb_call_opts_t o = {.timeout_ms = 2000, .retries = 0};
    Hl__Reply *r = NULL;
    if (hlb_call(dir, "notify-test", "status", NULL, &o, &r) < 0 || r->status) {
        if (r)
            hl__reply__free_unpacked(r, NULL);
        return NULL;
    }
    Hl__DaemonStatus *st =
        (Hl__DaemonStatus *)hlb_reply_decode(r, &hl__daemon_status__descriptor);
    hl__reply__free_unpacked(r, NULL);
    return st;
}

/* Fills the datagram queue of P's notify socket from a socket of our own,
 * so that whatever the daemon sends next finds it full. */
static int fill_queue(proc_t *p)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, p->notify_path);
    int n = 0;
    while (sendto(fd, "X=1", 3, MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof sa) == 3)
        n++;
    close(fd);
    return n;
}

/* READY=1 that finds the queue full is not lost: it is sent once the
 * reader drains the queue, and the daemon answers in the meantime. */
static void test_ready_waits_for_the_reader(const char *dir)
{
    char *argv[] = {NOTIFY_DAEMON_BIN, "--runtime-dir", (char *)dir, "--config", "/dev/null", NULL};
    proc_t p;
    /* Filling takes microseconds, the daemon's start milliseconds: its
     * READY=1 almost always finds the queue full (if it raced in first,
     * the drain below sees it). */
    CHECK(proc_start(&p, dir, argv) == 0);
    int filled = fill_queue(&p);
    CHECK_MSG(filled > 0, "filled %d", filled);
    /* the daemon comes up and answers while its READY=1 waits */
    hlb_call_opts_t o = {.timeout_ms = 1000, .retries = 0};
    Hl__Reply *r = NULL;
    long long deadline = proc_now_ms() + 5000;
    while (proc_now_ms() < deadline) {
        if (hlb_call(dir, "notify-test", "ping", NULL, &o, &r) == 0)
            break;
        if (r)
            hl__reply__free_unpacked(r, NULL);
        r = NULL;
    }
    CHECK_MSG(r && r->status == 0, "no ping answer while the notify queue is full");
    if (r)
        hl__reply__free_unpacked(r, NULL);
    CHECK(hlb_call(dir, "notify-test", "say", NULL, &o, &r) == 0 && r && r->status == 0);
    if (r)
        hl__reply__free_unpacked(r, NULL);
    Hl__DaemonStatus *st = status_of(dir);
    CHECK(st && st->notify_dropped >= 1); /* at least that STATUS= */
    if (st)
        hl__daemon_status__free_unpacked(st, NULL);
    /* drain ours, then READY=1 must come by itself */
    char buf[4096];
    int seen_ready = 0;
    for (int i = 0; i < filled + 4; i++) {
        ssize_t n = recv(p.notify_fd, buf, sizeof buf - 1, MSG_DONTWAIT);
        if (n <= 0)
            break;
        buf[n] = 0;
        seen_ready += strstr(buf, "READY=1") != NULL;
    }
    /* (the daemon's READY=1 may have raced in before the queue was full) */
    CHECK_MSG(seen_ready || proc_wait_notify(&p, "READY=1", 3000),
              "READY=1 never came after the queue drained");
    int ws = proc_stop(&p, SIGTERM);
    CHECK_MSG(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "exit status 0x%x", ws);
}

int main(void)
{
    char dir[] = "/tmp/hl-notify-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char *argv[] = {NOTIFY_DAEMON_BIN, "--runtime-dir", dir, "--config", "/dev/null", NULL};
    proc_t p;
    CHECK(proc_start(&p, dir, argv) == 0);
    CHECK(proc_wait_notify(&p, "READY=1", 5000));

    /* From here on nobody reads the socket. */
    hlb_call_opts_t o = {.timeout_ms = 3000, .retries = 0};
    int answered = 0, first_failure = 0;
    for (int i = 0; i < SAYS; i++) {
        Hl__Reply *r = NULL;
        int rc = hlb_call(dir, "notify-test", "say", NULL, &o, &r);
        if (rc == 0 && r && r->status == 0) {
            answered++;
        } else if (!first_failure) {
            first_failure = i + 1;
            fprintf(stderr, "call %d: %s\n", i + 1, rc < 0 ? strerror(-rc) : "error reply");
        }
        if (r)
            hl__reply__free_unpacked(r, NULL);
        if (rc == -ETIMEDOUT)
            break; /* the loop is blocked: further calls would only wait too */
    }
    CHECK_MSG(answered == SAYS, "the daemon answered %d of %d calls (first failure: call %d)",
              answered, SAYS, first_failure);

    Hl__DaemonStatus *st = status_of(dir);
    CHECK_MSG(st != NULL, "status unanswered");
    if (st) {
        /* the queue holds a few; the rest could not be sent and were counted */
        CHECK_MSG(st->notify_dropped >= SAYS / 2 && st->notify_dropped <= SAYS,
                  "notify_dropped %llu", (unsigned long long)st->notify_dropped);
        hl__daemon_status__free_unpacked(st, NULL);
    }

    /* The reader comes back: it drains what was queued, then sees new news. */
    char buf[4096];
    int queued = 0;
    while (recv(p.notify_fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        queued++;
    CHECK_MSG(queued > 0 && queued < SAYS, "%d datagrams were queued", queued);
    Hl__Reply *r = NULL;
    CHECK(hlb_call(dir, "notify-test", "say", NULL, &o, &r) == 0 && r && r->status == 0);
    if (r)
        hl__reply__free_unpacked(r, NULL);
    char want[32];
    snprintf(want, sizeof want, "STATUS=said %d", answered + 1);
    CHECK_MSG(proc_wait_notify(&p, want, 3000), "no %s after the reader came back", want);

    int ws = proc_stop(&p, SIGTERM);
    CHECK_MSG(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "exit status 0x%x", ws);
    printf("%d calls answered with the reader gone; %d datagrams queued, the rest counted\n",
           answered, queued);

    test_ready_waits_for_the_reader(dir);

    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done();
}
