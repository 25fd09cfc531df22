/* Network devices: counters from <procfs>/net/dev (node_exporter's
 * "netdev") and properties from <sysfs>/class/net (its "netclass"). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "collect_int.h"

enum { NDEV_FIELDS = 16 };

typedef struct {
    char *name;
    double v[NDEV_FIELDS];
} netdev_t;

int hlm_col_netdev(hlm_collect_t *c, hlm_expo_t *e)
{
    int rc = hlm_col_read_proc(c, "net/dev");
    if (rc < 0)
        return hlm_col_error(c, rc, "%s: %s", c->path.data, strerror(-rc));
    /* /proc/net/dev column order, and each column's position in node_exporter's
     * (sorted) family order. */
    static const char *const col_names[NDEV_FIELDS] = {
        "receive_bytes",  "receive_packets", "receive_errs",       "receive_drop",
        "receive_fifo",   "receive_frame",   "receive_compressed", "receive_multicast",
        "transmit_bytes", "transmit_packets", "transmit_errs",     "transmit_drop",
        "transmit_fifo",  "transmit_colls",  "transmit_carrier",   "transmit_compressed"};
    static const int sorted[NDEV_FIELDS] = {0, 6, 3, 2, 4, 5, 7, 1, 8, 14, 13, 15, 11, 10, 12, 9};
    netdev_t *devs = NULL;
    size_t n = 0, cap = 0;
    int bad = 0;
    char *cur = c->file.data, *line;
    while (hlm_next_line(&cur, &line)) {
        char *colon = strchr(line, ':');
        if (!colon || strchr(line, '|'))
            continue; /* the two header lines */
        *colon = '\0';
        char *name = line + strspn(line, " ");
        char *f[NDEV_FIELDS + 1];
        netdev_t d = {0};
        bool ok = *name && hlm_split(colon + 1, f, NDEV_FIELDS + 1) == NDEV_FIELDS;
        for (int i = 0; ok && i < NDEV_FIELDS; i++) {
            uint64_t u;
            ok = hlm_parse_u64(f[i], &u) == 0;
            d.v[i] = (double)u;
        }
        if (!ok) {
            bad++;
            continue;
        }
        if (hlm_col_match(&c->re_net, c->has_net, name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            netdev_t *p = realloc(devs, cap * sizeof *p);
            if (!p)
                abort();
            devs = p;
        }
        d.name = strdup(name);
        if (!d.name)
            abort();
        devs[n++] = d;
    }
    hlm_buf_t name = {0}, help = {0};
    for (int k = 0; k < NDEV_FIELDS; k++) {
        int col = sorted[k];
        hlm_buf_reset(&name);
        hlm_buf_printf(&name, "node_network_%s_total", col_names[col]);
        hlm_buf_reset(&help);
        hlm_buf_printf(&help, "Network device statistic %s.", col_names[col]);
        hlm_family(e, name.data, HLM_COUNTER, help.data);
        for (size_t i = 0; i < n; i++)
            hlm_sample(e, HLM_KV("device", devs[i].name), devs[i].v[col]);
    }
    hlm_buf_free(&name);
    hlm_buf_free(&help);
    for (size_t i = 0; i < n; i++)
        free(devs[i].name);
    free(devs);
    if (bad)
        return hlm_col_error(c, -EINVAL, "%s: %d malformed line(s)", c->path.data, bad);
    return 0;
}

typedef struct {
    char *name;
    char *address, *broadcast, *duplex, *ifalias, *operstate;
    bool has_carrier, has_mtu, has_speed, has_txq;
    int64_t carrier, mtu, speed, txq;
} netclass_t;

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const netclass_t *)a)->name, ((const netclass_t *)b)->name);
}

/* An attribute of DEV as text ("" when unreadable, as node_exporter's
 * labels). */
static char *attr_str(hlm_collect_t *c, const char *dir, const char *attr)
{
    hlm_join(&c->path, dir, attr);
    char *s = strdup(hlm_read_line(&c->attr, c->path.data) == 0 ? c->attr.data : "");
    if (!s)
        abort();
    return s;
}

static bool attr_int(hlm_collect_t *c, const char *dir, const char *attr, int64_t *out)
{
    hlm_join(&c->path, dir, attr);
    return hlm_read_line(&c->attr, c->path.data) == 0 && hlm_parse_i64(c->attr.data, out) == 0;
}

int hlm_col_netclass(hlm_collect_t *c, hlm_expo_t *e)
{
    hlm_buf_t base = {0}, dir = {0};
    hlm_join(&base, c->sysfs, "class/net");
    DIR *d = opendir(base.data);
    if (!d) {
        int rc = -errno;
        hlm_col_error(c, rc, "%s: %s", base.data, strerror(-rc));
        hlm_buf_free(&base);
        return rc;
    }
    netclass_t *devs = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || hlm_col_match(&c->re_net, c->has_net, de->d_name))
            continue;
        struct stat st;
        hlm_join(&dir, base.data, de->d_name);
        if (stat(dir.data, &st) < 0 || !S_ISDIR(st.st_mode))
            continue; /* bonding_masters and other plain files */
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            netclass_t *p = realloc(devs, cap * sizeof *p);
            if (!p)
                abort();
            devs = p;
        }
        netclass_t *nc = &devs[n++];
        memset(nc, 0, sizeof *nc);
        nc->name = strdup(de->d_name);
        if (!nc->name)
            abort();
        nc->address = attr_str(c, dir.data, "address");
        nc->broadcast = attr_str(c, dir.data, "broadcast");
        nc->duplex = attr_str(c, dir.data, "duplex");
        nc->ifalias = attr_str(c, dir.data, "ifalias");
        nc->operstate = attr_str(c, dir.data, "operstate");
        nc->has_carrier = attr_int(c, dir.data, "carrier", &nc->carrier);
        nc->has_mtu = attr_int(c, dir.data, "mtu", &nc->mtu);
        /* -1 (unknown speed) is left out rather than exported as a negative
         * rate. */
        nc->has_speed = attr_int(c, dir.data, "speed", &nc->speed) && nc->speed >= 0;
        nc->has_txq = attr_int(c, dir.data, "tx_queue_len", &nc->txq);
    }
    closedir(d);
    if (n)
        qsort(devs, n, sizeof *devs, cmp_name);
    hlm_family(e, "node_network_carrier", HLM_GAUGE, "Network device property: carrier");
    for (size_t i = 0; i < n; i++)
        if (devs[i].has_carrier)
            hlm_sample(e, HLM_KV("device", devs[i].name), (double)devs[i].carrier);
    hlm_family(e, "node_network_info", HLM_GAUGE,
               "Non-numeric data from /sys/class/net/<iface>, value is always 1.");
    for (size_t i = 0; i < n; i++)
        hlm_sample(e,
                   HLM_KV("address", devs[i].address, "broadcast", devs[i].broadcast, "device",
                          devs[i].name, "duplex", devs[i].duplex, "ifalias", devs[i].ifalias,
                          "operstate", devs[i].operstate),
                   1);
    hlm_family(e, "node_network_mtu_bytes", HLM_GAUGE, "Network device property: mtu_bytes");
    for (size_t i = 0; i < n; i++)
        if (devs[i].has_mtu)
            hlm_sample(e, HLM_KV("device", devs[i].name), (double)devs[i].mtu);
    hlm_family(e, "node_network_speed_bytes", HLM_GAUGE, "Network device property: speed_bytes");
    for (size_t i = 0; i < n; i++)
        if (devs[i].has_speed)
            hlm_sample(e, HLM_KV("device", devs[i].name), (double)devs[i].speed * 125000.0);
    hlm_family(e, "node_network_transmit_queue_length", HLM_GAUGE,
               "Network device property: transmit_queue_length");
    for (size_t i = 0; i < n; i++)
        if (devs[i].has_txq)
            hlm_sample(e, HLM_KV("device", devs[i].name), (double)devs[i].txq);
    hlm_family(e, "node_network_up", HLM_GAUGE, "Value is 1 if operstate is 'up', 0 otherwise.");
    for (size_t i = 0; i < n; i++)
        hlm_sample(e, HLM_KV("device", devs[i].name), strcmp(devs[i].operstate, "up") == 0);
    for (size_t i = 0; i < n; i++) {
        free(devs[i].name);
        free(devs[i].address);
        free(devs[i].broadcast);
        free(devs[i].duplex);
        free(devs[i].ifalias);
        free(devs[i].operstate);
    }
    free(devs);
    hlm_buf_free(&base);
    hlm_buf_free(&dir);
    return 0;
}
