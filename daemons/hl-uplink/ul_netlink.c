/* rtnetlink change notifications: see ul_netlink.h. */
#include "ul_netlink.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct ul_netlink {
    hlb_reactor_t *io;
    int fd;
    ul_netlink_fn *fn;
    void *arg;
    unsigned long changes;
};

static void on_readable(hlb_reactor_t *io, int fd, uint32_t events, void *arg)
{
    (void)io;
    (void)events;
    ul_netlink_t *n = arg;
    char buf[8192] __attribute__((aligned(__alignof__(struct nlmsghdr))));
    unsigned long seen = 0;
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOBUFS) { /* we fell behind: something surely changed */
                seen++;
                continue;
            }
            break;
        }
        if (r == 0)
            break;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)r);
             h = NLMSG_NEXT(h, r)) {
            switch (h->nlmsg_type) {
            case RTM_NEWLINK:
            case RTM_DELLINK:
            case RTM_NEWADDR:
            case RTM_DELADDR:
            case RTM_NEWROUTE:
            case RTM_DELROUTE:
                seen++;
                break;
            default:
                break;
            }
        }
    }
    if (seen) {
        n->changes += seen;
        n->fn(n->arg);
    }
}

ul_netlink_t *ul_netlink_new(hlb_reactor_t *io, ul_netlink_fn *fn, void *arg)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return NULL;
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
                             .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
                                          RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE};
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    ul_netlink_t *n = calloc(1, sizeof *n);
    if (!n) {
        close(fd);
        return NULL;
    }
    n->io = io;
    n->fd = fd;
    n->fn = fn;
    n->arg = arg;
    if (hlb_reactor_watch(io, fd, EPOLLIN, on_readable, n) < 0) {
        int e = errno;
        close(fd);
        free(n);
        errno = e;
        return NULL;
    }
    return n;
}

void ul_netlink_destroy(ul_netlink_t **n_p)
{
    if (!n_p || !*n_p)
        return;
    ul_netlink_t *n = *n_p;
    hlb_reactor_unwatch(n->io, n->fd);
    close(n->fd);
    free(n);
    *n_p = NULL;
}

unsigned long ul_netlink_changes(const ul_netlink_t *n) { return n->changes; }
