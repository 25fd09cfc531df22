/* See hlbus/fdguard.h for why accept() is interposed here. */
#include "hlbus/fdguard.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_LIMIT 16384 /* descriptors we raise to and track */

typedef struct {
    uid_t uid;
    ino_t ino; /* 0: free; a socket's inode is unique while it is open */
} conn_t;

static struct {
    pthread_mutex_t lock;
    bool armed;
    int per_uid, reserve;
    rlim_t limit;
    int spare; /* held open to be freed when accept() hits EMFILE */
    conn_t *conns; /* by fd, below limit */
    hlb_fdguard_stats_t st;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER, .spare = -1};

int hlb_fdguard_arm(int per_uid, int reserve)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > MAX_LIMIT ? MAX_LIMIT : rl.rlim_max;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want;
        setrlimit(RLIMIT_NOFILE, &rl); /* best effort: the old limit still works */
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t limit = rl.rlim_cur > MAX_LIMIT ? MAX_LIMIT : rl.rlim_cur;
    pthread_mutex_lock(&g.lock);
    if (!g.conns) {
        g.conns = calloc(MAX_LIMIT, sizeof *g.conns);
        if (!g.conns) {
            pthread_mutex_unlock(&g.lock);
            return -ENOMEM;
        }
    }
    if (g.spare < 0)
        g.spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    g.limit = limit;
    g.per_uid = per_uid;
    /* never more than half the table: a tiny limit still takes connections */
    g.reserve = reserve < 0 ? 0 : reserve > (int)limit / 2 ? (int)limit / 2 : reserve;
    g.st.limit = limit;
    g.armed = true;
    pthread_mutex_unlock(&g.lock);
    return 0;
}

hlb_fdguard_stats_t hlb_fdguard_stats(void)
{
    pthread_mutex_lock(&g.lock);
    hlb_fdguard_stats_t st = g.st;
    st.live = 0;
    for (rlim_t i = 0; g.conns && i < g.limit; i++)
        if (g.conns[i].ino) {
            struct stat sb;
            if (fstat((int)i, &sb) == 0 && S_ISSOCK(sb.st_mode) && sb.st_ino == g.conns[i].ino)
                st.live++;
            else
                g.conns[i].ino = 0;
        }
    pthread_mutex_unlock(&g.lock);
    return st;
}

/* Live connections of UID; entries whose fd was closed (or reused for
 * something else) are forgotten on the way. Called with the lock held. */
static int live_of(uid_t uid)
{
    int n = 0;
    for (rlim_t i = 0; i < g.limit; i++) {
        conn_t *c = &g.conns[i];
        if (!c->ino || c->uid != uid)
            continue;
        struct stat sb;
        if (fstat((int)i, &sb) == 0 && S_ISSOCK(sb.st_mode) && sb.st_ino == c->ino)
            n++;
        else
            c->ino = 0;
    }
    return n;
}

/* accept() failed with EMFILE/ENFILE: the connection is still queued and
 * the listener would wake again at once. Take it with the spare and drop it. */
static void shed_one(int lfd)
{
    if (g.spare >= 0) {
        close(g.spare);
        g.spare = -1;
    }
    int s = (int)syscall(SYS_accept4, lfd, NULL, NULL, SOCK_CLOEXEC);
    if (s >= 0)
        close(s);
    g.spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static int guarded(int lfd, struct sockaddr *addr, socklen_t *len, int flags)
{
    int s = (int)syscall(SYS_accept4, lfd, addr, len, flags);
    if (!g.armed)
        return s;
    int e = errno;
    pthread_mutex_lock(&g.lock);
    if (s < 0) {
        if (e == EMFILE || e == ENFILE) {
            shed_one(lfd);
            g.st.refused_emfile++;
            e = ECONNABORTED;
        }
        pthread_mutex_unlock(&g.lock);
        errno = e;
        return -1;
    }
    bool refuse = false;
    if ((rlim_t)s >= g.limit - (rlim_t)g.reserve) {
        g.st.refused_reserve++;
        refuse = true;
    }
    struct ucred cred;
    socklen_t cl = sizeof cred;
    struct stat sb;
    bool unix_peer = getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0 && cred.pid > 0;
    if (!refuse && unix_peer && g.per_uid > 0 && cred.uid != 0 && cred.uid != geteuid() &&
        live_of(cred.uid) >= g.per_uid) {
        g.st.refused_per_uid++;
        refuse = true;
    }
    if (refuse) {
        pthread_mutex_unlock(&g.lock);
        close(s);
        errno = ECONNABORTED;
        return -1;
    }
    if (unix_peer && (rlim_t)s < g.limit && fstat(s, &sb) == 0) {
        g.conns[s].uid = cred.uid;
        g.conns[s].ino = sb.st_ino;
    }
    pthread_mutex_unlock(&g.lock);
    return s;
}

int accept4(int lfd, struct sockaddr *addr, socklen_t *len, int flags)
{
    return guarded(lfd, addr, len, flags);
}

int accept(int lfd, struct sockaddr *addr, socklen_t *len)
{
    return guarded(lfd, addr, len, 0);
}
