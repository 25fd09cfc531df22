/* Keeps "too many open files" away from libzmq's accept.
 *
 * libzmq aborts the whole process when accept() on an ipc listener fails
 * with EMFILE (ipc_listener.cpp:325 in 4.3.4 asserts on every errno but a
 * few), so any local user able to connect 1,000 times to bus/sub or a ctl
 * socket used to kill the daemon. libzmq offers no accept hook, so this
 * module interposes accept()/accept4() for the process (definitions in the
 * executable win over libc's for libzmq's calls) and, once armed:
 *
 *   - refuses a connection whose fd would eat into a RESERVE of descriptors
 *     kept free for the daemon itself (files, pipes, new sockets);
 *   - refuses a peer uid (SO_PEERCRED) that already holds PER_UID live
 *     connections to this process; root and our own uid are exempt (dev
 *     setups run every daemon as one user);
 *   - if accept() still hits EMFILE/ENFILE, frees a spare descriptor, takes
 *     the waiting connection and closes it, so the listener neither aborts
 *     nor spins.
 *
 * A refused connection is closed at once and libzmq sees ECONNABORTED,
 * which it treats as a connection that went away. Counted for the stats. */
#pragma once
#include <stdint.h>

typedef struct hlb_fdguard_stats {
    uint64_t refused_per_uid;  /* over the per-uid cap */
    uint64_t refused_reserve;  /* would have used the reserve */
    uint64_t refused_emfile;   /* accept() hit EMFILE/ENFILE anyway */
    uint64_t live;             /* connections accepted and still open (tracked) */
    uint64_t limit;            /* RLIMIT_NOFILE in force */
} hlb_fdguard_stats_t;

/* Raises the soft RLIMIT_NOFILE towards the hard one (at most 16384) and
 * arms the guard. Safe to call again (a reload) with new numbers;
 * PER_UID <= 0 means no per-uid cap. Returns 0 or -errno. */
int hlb_fdguard_arm(int per_uid, int reserve);
hlb_fdguard_stats_t hlb_fdguard_stats(void);

/* What hlb_daemon_main arms every daemon with. A daemon opens two bus
 * connections and a few ctl calls; 64 per uid leaves room for tools. */
#define HLB_FDGUARD_PER_UID 64
#define HLB_FDGUARD_RESERVE 64
