/* Connect/disconnect cycles against a running hl-stdio, for leak checks:
 *
 *   stdio_cycles N RAW_SOCKET ATTACH_SOCKET
 *
 * Each cycle is one of: a raw client that waits for its replay and leaves;
 * one that writes a byte and leaves; one that hangs up at once; an attach
 * client that waits for its start frame; one that leaves mid-hello; one that
 * sends garbage. Prints the cycles done; exits non-zero on the first client
 * that did not get what it should have. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int dial(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return -1;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads until at least N bytes came, with a 10 s deadline. */
static ssize_t read_at_least(int fd, char *buf, size_t cap, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10000) <= 0)
            return -1;
        ssize_t r = read(fd, buf + got, cap - got);
        if (r <= 0)
            return got ? (ssize_t)got : -1;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s N RAW_SOCKET ATTACH_SOCKET\n", argv[0]);
        return 64;
    }
    long n = strtol(argv[1], NULL, 10);
    const char *raw = argv[2], *att = argv[3];
    char buf[65536];
    for (long i = 0; i < n; i++) {
        int fd = dial(i % 6 < 3 ? raw : att);
        if (fd < 0) {
            fprintf(stderr, "cycle %ld: connect: %s\n", i, strerror(errno));
            return 1;
        }
        switch (i % 6) {
        case 0: /* the scrollback (the test wrote something first) */
            if (read_at_least(fd, buf, sizeof buf, 1) < 1) {
                fprintf(stderr, "cycle %ld: no replay\n", i);
                return 1;
            }
            break;
        case 1:
            if (write(fd, "", 0) < 0 || write(fd, "c", 1) != 1) {
                fprintf(stderr, "cycle %ld: write: %s\n", i, strerror(errno));
                return 1;
            }
            break;
        case 2: /* hang up at once */
            break;
        case 3: {
            const char *h = "hl-stdio/1 attach main from=now\n";
            if (write(fd, h, strlen(h)) != (ssize_t)strlen(h) ||
                read_at_least(fd, buf, sizeof buf, 16) < 16 || buf[0] != 'S') {
                fprintf(stderr, "cycle %ld: no start frame\n", i);
                return 1;
            }
            break;
        }
        case 4:
            if (write(fd, "hl-stdio/1 att", 14) != 14)
                return 1;
            break;
        default: {
            if (write(fd, "\x01\x02garbage\n", 10) != 10 ||
                read_at_least(fd, buf, sizeof buf, 16) < 16 || buf[0] != 'E') {
                fprintf(stderr, "cycle %ld: garbage was not refused\n", i);
                return 1;
            }
            break;
        }
        }
        close(fd);
    }
    printf("%ld cycles\n", n);
    return 0;
}
