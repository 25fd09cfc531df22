/* The harness itself (tests/common/check.h): a passing check counts, a
 * failing one counts and prints where, what and both values, REQUIRE ends
 * the run, check_skip exits 77. The failing cases run in a child whose
 * stderr is read back, so this test fails if a message loses a value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* Runs FN in a child with stderr to a pipe; returns what it wrote and its
 * exit status. */
static char *in_child(void (*fn)(void), int *status)
{
    int p[2];
    REQUIRE(pipe(p) == 0);
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        if (!freopen("/dev/null", "w", stdout))
            _exit(2);
        fn();
        exit(check_done());
    }
    close(p[1]);
    static char buf[8192];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(p[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    close(p[0]);
    REQUIRE(waitpid(pid, status, 0) == pid);
    return buf;
}

static void failing(void)
{
    long seven = 7;
    const char *abc = "abc", *none = NULL;
    int x = 1;
    CHECK_EQ(seven, 8);
    CHECK_EQ_U((size_t)-1, 0u);
    CHECK_STR(abc, "abd");
    CHECK_STR(none, "x");
    CHECK_NULL(abc);
    CHECK(x == 2);
    CHECK_MSG(x == 3, "x is %d", x);
}

static void passing(void)
{
    const char *none = NULL;
    CHECK_EQ(-1, -1);
    CHECK_EQ_U(18446744073709551615u, (size_t)-1);
    CHECK_STR("a", "a");
    CHECK_STR(none, NULL);
    CHECK_NULL(none);
    CHECK(1);
}

static void required(void)
{
    REQUIRE(0 == 1);
    CHECK(!"not reached");
}

static void skipped(void) { check_skip("nothing to test here"); }

int main(void)
{
    int st;
    char *err = in_child(failing, &st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CHECK_MSG(strstr(err, "CHECK_EQ failed: seven == 8 (7 != 8)"), "%s", err);
    CHECK_MSG(strstr(err, "(18446744073709551615 != 0)"), "%s", err);
    CHECK_MSG(strstr(err, "CHECK_STR failed: abc == \"abd\" (\"abc\" != \"abd\")"), "%s", err);
    CHECK_MSG(strstr(err, "(NULL != \"x\")"), "%s", err);
    CHECK_MSG(strstr(err, "CHECK_NULL failed: abc"), "%s", err);
    CHECK_MSG(strstr(err, "test_check.c:"), "%s", err);
    CHECK_MSG(strstr(err, "CHECK failed: x == 3: x is 1"), "%s", err);

    err = in_child(passing, &st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_STR(err, "");

    err = in_child(required, &st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CHECK_MSG(strstr(err, "REQUIRE failed: 0 == 1"), "%s", err);
    CHECK_MSG(!strstr(err, "not reached"), "%s", err);

    err = in_child(skipped, &st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == CHECK_SKIP);
    CHECK_MSG(strstr(err, "SKIPPED: nothing to test here"), "%s", err);
    return check_done();
}
