/* Issue #12: "hlctl attach overflows its buffer (cmd_stdio.c: reads up to
 * 4,096 bytes when fewer are free, overwriting out_len and neighbours) once
 * the relay stops reading". A stand-in relay takes the hello and then stops
 * reading while stdin keeps coming in 1,000-byte pieces (so the free space
 * is not a multiple of 4,096 when the queue fills); then it reads it all.
 * Every byte must arrive, in order, and hlctl must end normally. Under ASan
 * the old code is a global-buffer-overflow. */
#include "sec.h"

#define TOTAL 2000000
#define PIECE 1000

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i % 251);
}

static void writer(int fd)
{
    unsigned char buf[PIECE];
    for (size_t off = 0; off < TOTAL; off += PIECE) {
        for (size_t i = 0; i < PIECE; i++)
            buf[i] = pattern(off + i);
        size_t done = 0;
        while (done < PIECE) {
            ssize_t w = write(fd, buf + done, PIECE - done);
            if (w <= 0)
                _exit(1);
            done += (size_t)w;
        }
        usleep(20); /* pieces, not one stream: reads see 1,000 bytes each */
    }
    _exit(0);
}

int main(void)
{
    sec_setup();
    signal(SIGPIPE, SIG_IGN);
    char path[100];
    snprintf(path, sizeof path, "%s/attach.sock", sec_dir);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    CHECK(l >= 0 && bind(l, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(l, 4) == 0);

    int in[2];
    CHECK(pipe(in) == 0);
    pid_t w = fork();
    if (w == 0) {
        close(in[0]);
        writer(in[1]);
    }
    close(in[1]);
    pid_t h = fork();
    if (h == 0) {
        dup2(in[0], 0);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        execl(sec_hlctl_bin(), sec_hlctl_bin(), "attach", "--socket", path, "--quiet", "main", (char *)NULL);
        _exit(127);
    }
    close(in[0]);

    int c = accept(l, NULL, NULL);
    CHECK(c >= 0);
    /* the hello line; "framed-input" (a read-write attach since #16) puts
     * each piece of input in a frame: a 16-byte header (type, 3 zero
     * bytes, 32-bit big-endian length, 64-bit offset), then the bytes */
    char ch, hello_line[1025];
    int hello = 0;
    while (hello < 1024 && read(c, &ch, 1) == 1 && ch != '\n')
        hello_line[hello++] = ch;
    hello_line[hello] = '\0';
    CHECK_MSG(hello > 0 && hello < 1024, "hello of %d bytes", hello);
    bool framed = strstr(hello_line, " framed-input") != NULL;
    /* stop reading: hlctl's queue fills while stdin keeps coming */
    usleep(1500 * 1000);
    int st;
    CHECK_MSG(waitpid(h, &st, WNOHANG) == 0, "hlctl ended while the relay was not reading");

    /* now read it all: every byte, in order */
    size_t got = 0, bad = 0;
    unsigned char buf[65536];
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n;
    unsigned char hdr[16];
    size_t hdr_have = 0, payload_left = 0;
    bool payload_is_data = false;
    while (got < TOTAL && (n = read(c, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (framed && payload_left == 0) {
                hdr[hdr_have++] = buf[i];
                if (hdr_have == sizeof hdr) {
                    hdr_have = 0;
                    payload_left = (size_t)hdr[4] << 24 | (size_t)hdr[5] << 16 |
                                   (size_t)hdr[6] << 8 | hdr[7];
                    payload_is_data = hdr[0] == 'D';
                    if (hdr[1] || hdr[2] || hdr[3] || payload_left > 65536) {
                        bad++; /* not a frame header: the framing is off */
                        payload_left = 0;
                    }
                }
                continue;
            }
            if (framed) {
                payload_left--;
                if (!payload_is_data)
                    continue; /* a size frame (W) */
            }
            bad += buf[i] != pattern(got);
            got++;
        }
    }
    printf("relay got %zu of %d bytes, %zu out of place\n", got, TOTAL, bad);
    CHECK_MSG(got == TOTAL, "%zu of %d bytes arrived", got, TOTAL);
    CHECK(bad == 0);
    close(c); /* the relay goes: hlctl ends, with an exit code */
    int ws;
    waitpid(w, &ws, 0);
    CHECK(waitpid(h, &st, 0) == h);
    CHECK_MSG(WIFEXITED(st), "hlctl died of signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    printf("hlctl exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    close(l);
    return sec_finish(NULL);
}
