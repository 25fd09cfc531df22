/* The HTTP endpoint on a real loopback socket: status codes, headers, HEAD,
 * and the snapshot hand-over: a client that stops reading keeps its own
 * (old) snapshot alive and intact while new ones are published. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "check.h"
#include "http.h"
#include "snapshot.h"

typedef struct {
    long code;
    char *body;
    size_t len;
    char ctype[128];
    char allow[64];
} resp_t;

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    resp_t *r = arg;
    char *b = realloc(r->body, r->len + sz * n + 1);
    if (!b)
        return 0;
    memcpy(b + r->len, p, sz * n);
    r->body = b;
    r->len += sz * n;
    b[r->len] = '\0';
    return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    resp_t *r = arg;
    size_t l = sz * n;
    if (l > 14 && strncasecmp(p, "Content-Type: ", 14) == 0)
        snprintf(r->ctype, sizeof r->ctype, "%.*s", (int)(l - 16), p + 14);
    if (l > 7 && strncasecmp(p, "Allow: ", 7) == 0)
        snprintf(r->allow, sizeof r->allow, "%.*s", (int)(l - 9), p + 7);
    return l;
}

static resp_t request(uint16_t port, const char *method, const char *path)
{
    resp_t r = {0};
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
    curl_easy_cleanup(c);
    return r;
}

static void publish(hlm_latest_t *l, const char *text, size_t len)
{
    char *t = malloc(len + 1);
    memcpy(t, text, len);
    t[len] = '\0';
    hlm_snapshot_t *s = hlm_snapshot_new(&t, len, 1);
    CHECK(s && t == NULL);
    hlm_latest_publish(l, &s);
    CHECK(s == NULL);
}

static void test_listen_parse(void)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char *err = NULL;
    CHECK(hlm_parse_listen("127.0.0.1:8081", &ss, &len, &err) == 0 && ss.ss_family == AF_INET &&
          ntohs(((struct sockaddr_in *)&ss)->sin_port) == 8081);
    CHECK(hlm_parse_listen("[::1]:0", &ss, &len, &err) == 0 && ss.ss_family == AF_INET6);
    CHECK(hlm_parse_listen(":8081", &ss, &len, &err) == 0 && ss.ss_family == AF_INET6);
    CHECK(hlm_parse_listen("localhost:1", &ss, &len, &err) == 0);
    const char *bad[] = {"8081", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "1.2.3.4:8x",
                         "[::1:80", "[zz]:80", "no-such-host.invalid:80", NULL};
    for (int i = 0; bad[i]; i++) {
        CHECK_MSG(hlm_parse_listen(bad[i], &ss, &len, &err) == -EINVAL && err, "%s", bad[i]);
        free(err);
        err = NULL;
    }
}

static void test_requests(void)
{
    hlm_latest_t *l = hlm_latest_new();
    char *err = NULL;
    hlm_http_opts_t o = {.listen = "127.0.0.1:0", .path = "/metrics"};
    hlm_http_t *h = hlm_http_new(&o, l, &err);
    CHECK_MSG(h, "%s", err ? err : "");
    if (!h)
        return;
    uint16_t port = hlm_http_port(h);
    CHECK(port != 0);
    resp_t r = request(port, "GET", "/metrics");
    CHECK(r.code == 503); /* nothing collected yet */
    free(r.body);
    publish(l, "# TYPE a gauge\na 1\n", 19);
    r = request(port, "GET", "/metrics");
    CHECK(r.code == 200 && r.len == 19 && strcmp(r.body, "# TYPE a gauge\na 1\n") == 0);
    CHECK_MSG(strcmp(r.ctype, "text/plain; version=0.0.4; charset=utf-8") == 0, "%s", r.ctype);
    free(r.body);
    r = request(port, "HEAD", "/metrics");
    CHECK(r.code == 200 && r.len == 0);
    free(r.body);
    r = request(port, "POST", "/metrics");
    CHECK(r.code == 405 && strcmp(r.allow, "GET, HEAD") == 0);
    free(r.body);
    r = request(port, "GET", "/metrics/x");
    CHECK(r.code == 404);
    free(r.body);
    r = request(port, "GET", "/");
    CHECK(r.code == 200 && r.body && strstr(r.body, "href=\"/metrics\""));
    free(r.body);
    hlm_http_stats_t st = hlm_http_stats(h);
    CHECK(st.scrapes == 2 && st.unavailable == 1 && st.bad_method == 1 && st.not_found == 1);

    /* the same port again: a clear error, not a crash */
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)port);
    hlm_http_opts_t o2 = {.listen = addr};
    hlm_http_t *h2 = hlm_http_new(&o2, l, &err);
    CHECK(!h2 && err && strstr(err, "cannot listen on"));
    free(err);
    hlm_http_destroy(&h);
    CHECK(h == NULL);
    hlm_latest_destroy(&l);
}

static void test_slow_client(void)
{
    hlm_latest_t *l = hlm_latest_new();
    char *err = NULL;
    hlm_http_opts_t o = {.listen = "127.0.0.1:0"};
    hlm_http_t *h = hlm_http_new(&o, l, &err);
    CHECK(h);
    if (!h)
        return;
    /* A big snapshot, so that the response cannot fit in socket buffers. */
    size_t big = 16u << 20;
    char *a = malloc(big);
    for (size_t i = 0; i < big; i++)
        a[i] = (char)('a' + i % 26);
    publish(l, a, big);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(hlm_http_port(h))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    const char req[] = "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    CHECK(write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1));
    /* Wait until the server has started answering (the response is then
     * bound to snapshot A), without reading more than the first bytes. */
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    CHECK(poll(&pfd, 1, 10000) == 1);

    /* The client is stalled; publishing goes on, and other scrapes are
     * served with the newest snapshot. */
    char text[64];
    for (int i = 0; i < 200; i++) {
        int n = snprintf(text, sizeof text, "# TYPE b gauge\nb %d\n", i);
        publish(l, text, (size_t)n);
    }
    resp_t r = request(hlm_http_port(h), "GET", "/metrics");
    CHECK(r.code == 200 && r.body && strcmp(r.body, "# TYPE b gauge\nb 199\n") == 0);
    free(r.body);

    /* Now the stalled client reads its whole response: snapshot A, intact. */
    char *got = malloc(big + 4096);
    size_t n = 0;
    for (;;) {
        ssize_t k = read(fd, got + n, big + 4096 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
        if (n == big + 4096)
            break;
    }
    close(fd);
    char *body = memmem(got, n, "\r\n\r\n", 4);
    CHECK(body != NULL);
    if (body) {
        body += 4;
        size_t blen = n - (size_t)(body - got);
        CHECK_MSG(blen == big, "body %zu bytes, want %zu", blen, big);
        CHECK(blen == big && memcmp(body, a, big) == 0);
    }
    free(got);
    free(a);
    hlm_http_destroy(&h);
    hlm_latest_destroy(&l);
}

static void test_stop_mid_response(void)
{
    /* Stopping the server while a response is half sent releases it. */
    hlm_latest_t *l = hlm_latest_new();
    hlm_http_opts_t o = {.listen = "127.0.0.1:0"};
    hlm_http_t *h = hlm_http_new(&o, l, NULL);
    size_t big = 8u << 20;
    char *a = calloc(1, big);
    memset(a, 'x', big);
    publish(l, a, big);
    free(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(hlm_http_port(h))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    const char req[] = "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";
    CHECK(write(fd, req, sizeof req - 1) > 0);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    CHECK(poll(&pfd, 1, 10000) == 1);
    hlm_http_destroy(&h);
    hlm_latest_destroy(&l); /* the last reference goes with the response */
    close(fd);
    CHECK(h == NULL && l == NULL);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    test_listen_parse();
    test_requests();
    test_slow_client();
    test_stop_mid_response();
    curl_global_cleanup();
    return check_done();
}
