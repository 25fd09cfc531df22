/* libcurl's multi handle on the reactor (hlbus/curlm.h), against a real HTTP
 * server on loopback (a thread here): an answer from the loop and never from
 * inside hlb_curlm_add without run_now; a refused connection; the done
 * callback adding the same handle again (the next attempt); curl's timeout
 * through the reactor's timer; a transfer removed mid-way never reported. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hlbus/curlm.h>

#include "check.h"

/* ---- the server: answers "ok" unless told to hang ---- */

static int listen_fd;
static atomic_bool hang;

static void *serve(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(listen_fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[4096];
        /* one request per connection is enough here */
        ssize_t n = read(c, buf, sizeof buf);
        if (n > 0 && !atomic_load(&hang)) {
            static const char ans[] =
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
            (void)!write(c, ans, sizeof ans - 1);
        } else if (n > 0) {
            sleep(2); /* the client gives up first */
        }
        close(c);
    }
}

static int bound_port(int fd)
{
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    return ntohs(a.sin_port);
}

static int loopback_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    return fd;
}

/* ---- the loop ---- */

typedef struct {
    int done;
    CURLcode last;
    long status;
    char body[64];
    size_t body_len;
    bool in_add;       /* set around hlb_curlm_add */
    bool called_in_add;
    int again;         /* the done callback adds the handle this many times more */
    hlb_curlm_t *m;
} state_t;

static state_t st;

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
    (void)arg;
    size_t len = size * n;
    if (st.body_len + len < sizeof st.body) {
        memcpy(st.body + st.body_len, p, len);
        st.body_len += len;
    }
    return len;
}

static void on_done(CURL *easy, CURLcode result, void *arg)
{
    CHECK(arg == &st);
    if (st.in_add)
        st.called_in_add = true;
    st.done++;
    st.last = result;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &st.status);
    if (st.again > 0) {
        st.again--;
        st.body_len = 0;
        CHECK(hlb_curlm_add(st.m, easy, false) == 0); /* removed already: may go again */
    }
}

static int stop_when_done(zloop_t *loop, int id, void *arg)
{
    (void)loop;
    (void)id;
    int *want = arg;
    return st.done >= *want ? -1 : 0;
}

/* Runs the loop until WANT transfers ended or TIMEOUT_MS passed. */
static void run(zloop_t *loop, int want, int timeout_ms)
{
    int t1 = zloop_timer(loop, 5, 0, stop_when_done, &want);
    int t2 = zloop_timer(loop, (size_t)timeout_ms, 1, stop_when_done, &(int){0});
    zloop_start(loop);
    zloop_timer_end(loop, t1);
    zloop_timer_end(loop, t2);
}

static CURL *easy_for(int port, long timeout_ms)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    return e;
}

static int add(CURL *e, bool run_now)
{
    st.in_add = true;
    int rc = hlb_curlm_add(st.m, e, run_now);
    st.in_add = false;
    return rc;
}

int main(void)
{
    listen_fd = loopback_socket();
    CHECK(listen(listen_fd, 16) == 0);
    int port = bound_port(listen_fd);
    pthread_t srv;
    CHECK(pthread_create(&srv, NULL, serve, NULL) == 0);

    zloop_t *loop = zloop_new();
    hlb_reactor_t *io = hlb_reactor_new(loop);
    st.m = hlb_curlm_new(io, on_done, &st);
    CHECK(st.m != NULL);

    /* an answer, from the loop */
    CURL *e = easy_for(port, 5000);
    CHECK(add(e, false) == 0);
    CHECK(st.done == 0);
    run(loop, 1, 5000);
    CHECK(st.done == 1 && st.last == CURLE_OK && st.status == 200);
    CHECK(st.body_len == 2 && memcmp(st.body, "ok", 2) == 0);
    CHECK(!st.called_in_add);

    /* the callback adds the same handle again, twice: three answers */
    st = (state_t){.m = st.m, .again = 2};
    CHECK(add(e, false) == 0);
    run(loop, 3, 5000);
    CHECK(st.done == 3 && st.last == CURLE_OK && st.status == 200);
    curl_easy_cleanup(e);

    /* refused: nothing listens on a port bound and closed */
    int dead = loopback_socket();
    int dead_port = bound_port(dead);
    close(dead);
    st = (state_t){.m = st.m};
    e = easy_for(dead_port, 5000);
    CHECK(add(e, true) == 0); /* run now: may be reported from inside */
    run(loop, 1, 5000);
    CHECK(st.done == 1 && st.last == CURLE_COULDNT_CONNECT && st.status == 0);
    curl_easy_cleanup(e);

    /* curl's own timeout, through the reactor's timer */
    atomic_store(&hang, true);
    st = (state_t){.m = st.m};
    e = easy_for(port, 200);
    CHECK(add(e, false) == 0);
    run(loop, 1, 5000);
    CHECK(st.done == 1 && st.last == CURLE_OPERATION_TIMEDOUT);

    /* removed mid-way: never reported */
    st = (state_t){.m = st.m};
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 300L);
    CHECK(add(e, false) == 0);
    run(loop, 1, 100);
    hlb_curlm_remove(st.m, e);
    hlb_curlm_remove(st.m, e); /* twice: harmless */
    run(loop, 1, 600);
    CHECK(st.done == 0);
    curl_easy_cleanup(e);

    hlb_curlm_destroy(&st.m);
    CHECK(st.m == NULL);
    hlb_curlm_destroy(&st.m);
    hlb_reactor_destroy(&io);
    zloop_destroy(&loop);
    shutdown(listen_fd, SHUT_RDWR);
    close(listen_fd);
    pthread_join(srv, NULL);
    return check_done();
}
