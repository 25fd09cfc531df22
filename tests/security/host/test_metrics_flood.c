/* /metrics under a connection flood by another local user (issue #12 item
 * 3: "64 idle connections block /metrics"). A child process, as user
 * nobody, opens many idle connections to a real hl-metrics HTTP endpoint on
 * loopback and keeps them; the parent, as root (another user, as Prometheus
 * is), must still be answered. On the code before the per-user cap the
 * flood took every slot (64) and the scrape timed out.
 *
 * Needs root (to be two users at once): otherwise a visible skip (77). */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"
#include "http.h"
#include "snapshot.h"

#define FLOOD 200 /* more than the endpoint's whole connection limit */

static size_t discard(char *p, size_t sz, size_t n, void *arg)
{
    (void)p;
    *(size_t *)arg += sz * n;
    return sz * n;
}

/* One scrape; its HTTP status, 0 when it did not complete within 5 s. */
static long scrape(uint16_t port)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", (unsigned)port);
    CURL *c = curl_easy_init();
    size_t got = 0;
    long code = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return got ? code : 0;
}

/* The flooder, as UID: FLOOD idle connections, then waits for the parent
 * (on READY_FD it writes how many connected; it exits when the parent
 * closes GO_FD). */
static void flood(uid_t uid, gid_t gid, uint16_t port, int ready_fd, int go_fd)
{
    if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
        _exit(3);
    int fds[FLOOD], n = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < FLOOD; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        fds[n++] = fd;
    }
    /* Let the server accept (and shut down) what it will. */
    usleep(300000);
    int still_open = 0;
    for (int i = 0; i < n; i++) {
        struct pollfd p = {.fd = fds[i], .events = POLLIN};
        char b;
        if (poll(&p, 1, 0) == 0 || (p.revents & POLLIN && recv(fds[i], &b, 1, MSG_PEEK) > 0))
            still_open++;
    }
    int report[2] = {n, still_open};
    if (write(ready_fd, report, sizeof report) != sizeof report)
        _exit(4);
    char b;
    while (read(go_fd, &b, 1) > 0)
        ;
    _exit(0);
}

int main(void)
{
    if (geteuid() != 0) {
        printf("SKIP: needs root (a flooding user and a scraping user)\n");
        return 77;
    }
    struct passwd *pw = getpwnam("nobody");
    CHECK(pw);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    signal(SIGPIPE, SIG_IGN);

    hlm_latest_t *l = hlm_latest_new();
    char *text = strdup("# TYPE up gauge\nup 1\n");
    hlm_snapshot_t *s = hlm_snapshot_new(&text, strlen(text), 1);
    hlm_latest_publish(l, &s);
    char *err = NULL;
    /* The daemon's defaults (128 connections, 8 per user, 10 s idle). */
    hlm_http_opts_t o = {.listen = "127.0.0.1:0"};
    hlm_http_t *h = hlm_http_new(&o, l, &err);
    CHECK_MSG(h, "hlm_http_new: %s", err ? err : "?");
    uint16_t port = hlm_http_port(h);
    CHECK((scrape(port)) == (200L));

    int ready[2], go[2];
    CHECK(pipe(ready) == 0 && pipe(go) == 0);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        close(ready[0]);
        close(go[1]);
        flood(pw->pw_uid, pw->pw_gid, port, ready[1], go[0]);
    }
    close(ready[1]);
    close(go[0]);
    int report[2] = {0, 0};
    CHECK((read(ready[0], report, sizeof report)) == ((ssize_t)sizeof report));
    printf("flooder (uid %u): %d connections made, %d still open\n", (unsigned)pw->pw_uid,
           report[0], report[1]);
    CHECK(report[0] > 64); /* the flood exceeded what used to block /metrics */

    /* Root scrapes while nobody's connections are held. */
    for (int i = 0; i < 5; i++)
        CHECK((scrape(port)) == (200L));
    hlm_http_stats_t st = hlm_http_stats(h);
    printf("refused (per-user cap): %llu, scrapes: %llu\n", (unsigned long long)st.refused_user,
           (unsigned long long)st.scrapes);
    CHECK(st.refused_user >= (uint64_t)(report[0] - 8));

    close(go[1]);
    int status;
    CHECK((waitpid(child, &status, 0)) == (child));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    hlm_http_destroy(&h);
    hlm_latest_destroy(&l);
    curl_global_cleanup();
    return check_done();
}
