/* See peeruid.h. One SOCK_DIAG_BY_FAMILY request for the exact 4-tuple of
 * the peer's socket (its source is our destination and the other way
 * round), answered with an inet_diag_msg that carries the owner's uid. */
#include "peeruid.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* An IPv4 peer of a dual-stack listener appears as ::ffff:a.b.c.d; its own
 * socket is in the IPv4 table. */
static void unmap_v4(struct sockaddr_storage *ss)
{
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
        return;
    struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = s6->sin6_port};
    memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
    memset(ss, 0, sizeof *ss);
    memcpy(ss, &s4, sizeof s4);
}

/* Address and port of SS into a diag id's fields. */
static void to_diag(const struct sockaddr_storage *ss, __be16 *port, __be32 addr[4])
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        *port = s4->sin_port;
        addr[0] = s4->sin_addr.s_addr;
    } else {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        *port = s6->sin6_port;
        memcpy(addr, &s6->sin6_addr, 16);
    }
}

int hlm_tcp_peer_uid(int fd, uid_t *uid)
{
    struct sockaddr_storage local = {0}, peer = {0};
    socklen_t ll = sizeof local, pl = sizeof peer;
    if (getsockname(fd, (struct sockaddr *)&local, &ll) < 0 ||
        getpeername(fd, (struct sockaddr *)&peer, &pl) < 0)
        return -errno;
    unmap_v4(&local);
    unmap_v4(&peer);
    if (local.ss_family != peer.ss_family ||
        (peer.ss_family != AF_INET && peer.ss_family != AF_INET6))
        return -EAFNOSUPPORT;

    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 req;
    } msg = {
        .nlh = {.nlmsg_len = sizeof msg, .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                .nlmsg_flags = NLM_F_REQUEST},
        .req = {.sdiag_family = (__u8)peer.ss_family, .sdiag_protocol = IPPROTO_TCP,
                .idiag_states = ~0U},
    };
    /* The peer's socket: its source is the peer, its destination us. */
    to_diag(&peer, &msg.req.id.idiag_sport, msg.req.id.idiag_src);
    to_diag(&local, &msg.req.id.idiag_dport, msg.req.id.idiag_dst);
    msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0)
        return -errno;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    int rc = -EIO;
    if (sendto(nl, &msg, sizeof msg, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        rc = -errno;
        goto out;
    }
    /* One message answers: the socket, or an error (ENOENT: not local). */
    union {
        struct nlmsghdr h;
        char buf[8192];
    } reply;
    ssize_t n = recv(nl, &reply, sizeof reply, 0);
    if (n < 0) {
        rc = -errno;
        goto out;
    }
    for (struct nlmsghdr *h = &reply.h; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_ERROR) {
            const struct nlmsgerr *e = NLMSG_DATA(h);
            rc = e->error ? e->error : -ENOENT;
            break;
        }
        if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
            h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
            const struct inet_diag_msg *m = NLMSG_DATA(h);
            *uid = (uid_t)m->idiag_uid;
            rc = 0;
            break;
        }
    }
out:
    close(nl);
    return rc;
}
