/* The textfile collector on real files in a temporary directory: a good
 * file served whole (types, help, escaped labels), and each kind of bad
 * file served not at all but named by hl_textfile_scrape_error; a family
 * another collector wrote is refused; no directory, no collector. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "collect.h"
#include "expo.h"

static char dir[] = "/tmp/hl-textfile-XXXXXX";

static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

static char *run(unsigned disabled)
{
    const char *dirs[] = {dir, NULL};
    hlm_collect_opts_t o = {.textfile_dirs = dirs, .disabled = disabled};
    char *err = NULL;
    hlm_collect_t *c = hlm_collect_new(&o, &err);
    CHECK(c != NULL);
    hlm_expo_t *e = hlm_expo_new();
    /* as if another collector had written node_load1 already */
    hlm_family(e, "node_load1", HLM_GAUGE, "1m load average.");
    hlm_sample0(e, 0.5);
    hlm_collect_run(c, e);
    size_t len;
    char *t = hlm_expo_steal(e, &len);
    hlm_expo_destroy(&e);
    hlm_collect_destroy(&c);
    return t;
}

#define HAS(t, s) CHECK_MSG(strstr((t), (s)) != NULL, "missing: %s\n--- in ---\n%s", (s), (t))
#define HASNT(t, s) CHECK_MSG(strstr((t), (s)) == NULL, "unexpected: %s\n--- in ---\n%s", (s), (t))

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    unsigned others = ~(1u << HLM_COL_TEXTFILE);
    put("good.prom",
        "# HELP hl_compliance_check_status A compliance check: 0 pass.\n"
        "# TYPE hl_compliance_check_status gauge\n"
        "hl_compliance_check_status{check=\"ssh.Port\",id=\"SSH-7408\"} 0\n"
        "hl_compliance_check_status{check=\"a \\\"quoted\\\" one\",id=\"X\"} 2\n"
        "# a plain comment\n"
        "\n"
        "hl_untyped_thing 7 1700000000000\n");
    put("garbage.prom", "hl_ok 1\nthis is not a sample\n");
    put("clash.prom", "node_load1 99\n");
    put("split.prom", "hl_a 1\nhl_b 2\nhl_a 3\n");
    put("histogram.prom", "# TYPE hl_h histogram\nhl_h_bucket{le=\"1\"} 1\n");
    put("ignored.txt", "not a prom file\n");
    char *t = run(others);
    HAS(t, "# TYPE hl_compliance_check_status gauge\n");
    HAS(t, "# HELP hl_compliance_check_status A compliance check: 0 pass.\n");
    HAS(t, "hl_compliance_check_status{check=\"ssh.Port\",id=\"SSH-7408\"} 0\n");
    HAS(t, "hl_compliance_check_status{check=\"a \\\"quoted\\\" one\",id=\"X\"} 2\n");
    HAS(t, "hl_untyped_thing 7\n");
    /* the bad files: nothing of theirs, each named */
    HASNT(t, "hl_ok ");
    HASNT(t, "node_load1 99");
    HAS(t, "node_load1 0.5");
    HASNT(t, "hl_a ");
    HASNT(t, "hl_h");
    char want[512];
    const char *bad[] = {"garbage", "clash", "split", "histogram"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(want, sizeof want, "hl_textfile_scrape_error{file=\"%s/%s.prom\"} 1\n", dir, bad[i]);
        HAS(t, want);
    }
    snprintf(want, sizeof want, "hl_textfile_scrape_error{file=\"%s/good.prom\"} 0\n", dir);
    HAS(t, want);
    snprintf(want, sizeof want, "hl_textfile_mtime_seconds{file=\"%s/good.prom\"} ", dir);
    HAS(t, want);
    HASNT(t, "ignored.txt");
    HAS(t, "node_scrape_collector_success{collector=\"textfile\"} 1\n");
    free(t);

    /* without directories the collector does not run at all */
    hlm_collect_opts_t o = {.disabled = others};
    hlm_collect_t *c = hlm_collect_new(&o, NULL);
    hlm_expo_t *e = hlm_expo_new();
    hlm_collect_run(c, e);
    size_t len;
    t = hlm_expo_steal(e, &len);
    HASNT(t, "textfile");
    free(t);
    hlm_expo_destroy(&e);
    hlm_collect_destroy(&c);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_done();
}
