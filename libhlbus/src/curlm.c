/* libcurl's multi handle on the reactor: see hlbus/curlm.h. */
#include <hlbus/curlm.h>

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

struct hlb_curlm {
    hlb_reactor_t *io;
    CURLM *multi;
    hlb_timer_t timer; /* curl's own timeout (CURLMOPT_TIMERFUNCTION) */
    int running;
    hlb_curlm_done_fn *done;
    void *arg;
};

/* Reports every transfer that has ended. The handle is removed before the
 * callback, which may add it again (the next attempt) or free it. */
static void report_done(hlb_curlm_t *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode result = msg->data.result;
        curl_multi_remove_handle(m->multi, easy);
        m->done(easy, result, m->arg);
    }
}

static void drive(hlb_curlm_t *m, curl_socket_t fd, int mask)
{
    curl_multi_socket_action(m->multi, fd, mask, &m->running);
    report_done(m);
}

static void on_socket_event(hlb_reactor_t *io, int fd, uint32_t events, void *arg)
{
    (void)io;
    int mask = 0;
    if (events & EPOLLIN)
        mask |= CURL_CSELECT_IN;
    if (events & EPOLLOUT)
        mask |= CURL_CSELECT_OUT;
    if (events & (EPOLLERR | EPOLLHUP))
        mask |= CURL_CSELECT_ERR;
    drive(arg, fd, mask);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    hlb_curlm_t *m = userp;
    if (what == CURL_POLL_REMOVE) {
        hlb_reactor_unwatch(m->io, s);
        return 0;
    }
    uint32_t ev = 0;
    if (what & CURL_POLL_IN)
        ev |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        ev |= EPOLLOUT;
    /* a failed watch leaves the transfer to its timeout, which curl enforces */
    (void)hlb_reactor_watch(m->io, s, ev, on_socket_event, m);
    return 0;
}

static void on_timeout(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    (void)io;
    (void)t;
    drive(arg, CURL_SOCKET_TIMEOUT, 0);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    hlb_curlm_t *m = userp;
    if (timeout_ms < 0)
        hlb_timer_stop(m->io, &m->timer);
    else
        hlb_timer_after_ms(m->io, &m->timer, timeout_ms); /* 0: as soon as the loop turns */
    return 0;
}

hlb_curlm_t *hlb_curlm_new(hlb_reactor_t *io, hlb_curlm_done_fn *done, void *arg)
{
    static bool global_done;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return NULL;
        global_done = true;
    }
    hlb_curlm_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->io = io;
    m->done = done;
    m->arg = arg;
    m->multi = curl_multi_init();
    if (!m->multi) {
        free(m);
        return NULL;
    }
    hlb_timer_init(&m->timer, on_timeout, m);
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
    return m;
}

void hlb_curlm_destroy(hlb_curlm_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hlb_curlm_t *m = *self_p;
    hlb_timer_stop(m->io, &m->timer);
    /* closes cached connections, calling socket_cb(REMOVE) for what is watched */
    curl_multi_cleanup(m->multi);
    free(m);
    *self_p = NULL;
}

CURLM *hlb_curlm_multi(hlb_curlm_t *m) { return m->multi; }

int hlb_curlm_add(hlb_curlm_t *m, CURL *easy, bool run_now)
{
    /* curl_multi_add_handle asks for a timeout of 0 (timer_cb): without
     * run_now the transfer's first step is that timer's, from the loop */
    if (curl_multi_add_handle(m->multi, easy) != CURLM_OK)
        return -EIO;
    if (run_now)
        drive(m, CURL_SOCKET_TIMEOUT, 0);
    return 0;
}

void hlb_curlm_remove(hlb_curlm_t *m, CURL *easy) { curl_multi_remove_handle(m->multi, easy); }
