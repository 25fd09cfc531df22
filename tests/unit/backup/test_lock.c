/* The lock: one holder at a time, the holder named to whoever finds it
 * taken; a holder killed with SIGKILL frees it at once, and the next one
 * knows whose it reclaimed. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bk_lock.h"
#include "bk_walk.h"
#include "check.h"

static char dir[64];

static void test_busy_and_reclaim(void)
{
    int ready[2], go[2];
    REQUIRE(pipe(ready) == 0 && pipe(go) == 0);
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        bk_lock_t l;
        char c = bk_lock_take(dir, &l, NULL) == 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1)
            _exit(2);
        /* holds the lock until killed: never releases it */
        if (read(go[0], &c, 1) < 0)
            _exit(3);
        pause();
        _exit(0);
    }
    char c = 0;
    CHECK(read(ready[0], &c, 1) == 1 && c == 'y');
    bk_lock_t l;
    bk_owner_t holder;
    CHECK(bk_lock_take(dir, &l, &holder) == -EBUSY);
    CHECK_MSG(holder.pid == child, "holder %d, child %d", (int) holder.pid, (int) child);
    CHECK(bk_owner_alive(&holder));
    char who[160];
    CHECK(strstr(bk_owner_str(&holder, who, sizeof who), "pid ") != NULL);
    kill(child, SIGKILL);
    int st;
    waitpid(child, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    /* at once: no stale-lock wait, and whose it was is known */
    CHECK(bk_lock_take(dir, &l, &holder) == 0);
    CHECK(l.reclaimed && l.prev.pid == child && !bk_owner_alive(&l.prev));
    bk_lock_release(&l);
    /* a clean release leaves no record: the next one reclaims nothing */
    CHECK(bk_lock_take(dir, &l, NULL) == 0 && !l.reclaimed);
    bk_lock_release(&l);
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    close(go[1]);
}

static void test_owner(void)
{
    bk_owner_t me;
    bk_owner_self(&me);
    CHECK(me.pid == getpid() && me.start_ticks > 0 && bk_owner_alive(&me));
    bk_owner_t other = me;
    other.start_ticks++; /* the same pid reused by another process */
    CHECK(!bk_owner_alive(&other));
    other = me;
    memcpy(other.boot_id, "00000000-0000-0000-0000-000000000000", 37); /* another boot */
    CHECK(!bk_owner_alive(&other));
    /* a record left by a holder of another boot: taken, and reclaimed */
    char p[128];
    snprintf(p, sizeof p, "%s/.hl-backup.lock", dir);
    FILE *f = fopen(p, "we");
    REQUIRE(f != NULL);
    fprintf(f, "boot_id 00000000-0000-0000-0000-000000000000 pid 1 start_ticks 5 since_us 7\n");
    fclose(f);
    bk_lock_t l;
    CHECK(bk_lock_take(dir, &l, NULL) == 0 && l.reclaimed && l.prev.pid == 1 && l.prev.since_us == 7);
    bk_lock_release(&l);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/unit-bklock-XXXXXX");
    if (!mkdtemp(dir))
        return 2;
    TEST(test_busy_and_reclaim);
    TEST(test_owner);
    bk_remove_tree(dir);
    return check_done();
}
