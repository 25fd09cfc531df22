/* Peer credentials and group membership. */
#include "cred.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

bool stdio_cred_in_group(uid_t uid, gid_t gid, gid_t want)
{
    if (gid == want)
        return true;
    /* The supplementary groups come from the user database by name. */
    size_t blen = 1024;
    char *buf = NULL;
    struct passwd pw, *res = NULL;
    for (;;) {
        char *nb = realloc(buf, blen);
        if (!nb) {
            free(buf);
            return false;
        }
        buf = nb;
        int rc = getpwuid_r(uid, &pw, buf, blen, &res);
        if (rc == ERANGE && blen < (1u << 20)) {
            blen *= 2;
            continue;
        }
        break;
    }
    bool member = false;
    if (res) {
        int n = 32;
        gid_t *groups = NULL;
        for (int tries = 0; tries < 8; tries++) {
            gid_t *ng = realloc(groups, (size_t)n * sizeof *groups);
            if (!ng)
                break;
            groups = ng;
            int want_n = n;
            if (getgrouplist(pw.pw_name, gid, groups, &want_n) >= 0) {
                for (int i = 0; i < want_n; i++)
                    if (groups[i] == want)
                        member = true;
                break;
            }
            n = want_n > n ? want_n : n * 2;
        }
        free(groups);
    }
    free(buf);
    return member;
}

int stdio_cred_peer(int fd, uid_t *uid, gid_t *gid, pid_t *pid)
{
    struct ucred uc;
    socklen_t len = sizeof uc;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
        return -errno;
    *uid = uc.uid;
    *gid = uc.gid;
    *pid = uc.pid;
    return 0;
}

void stdio_cred_comm(pid_t pid, char *out, size_t outlen)
{
    out[0] = 0;
    if (pid <= 0 || outlen < 2)
        return;
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/comm", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    size_t j = 0;
    for (ssize_t i = 0; i < n && j + 1 < outlen; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n')
            break;
        out[j++] = (c >= 0x20 && c < 0x7f && c != ' ') ? (char)c : '?';
    }
    out[j] = 0;
}
