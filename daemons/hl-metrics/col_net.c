/* Network devices: counters from <procfs>/net/dev (node_exporter's
 * "netdev") and properties from <sysfs>/class/net (its "netclass"). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
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

/* A device's properties. operstate and carrier are read every run; the rest
 * (addresses, duplex, alias, MTU, speed, queue length) rarely change and are
 * re-read every NETCLASS_REFRESH runs: a device has nine attribute files,
 * and a VM with containers has many devices. */
#define NETCLASS_REFRESH 12

typedef struct {
    char *name;
    char *address, *broadcast, *duplex, *ifalias, *operstate;
    bool has_carrier, has_mtu, has_speed, has_txq;
    int64_t carrier, mtu, speed, txq;
    uint64_t refreshed; /* the run of the last full read */
    uint64_t seen;      /* the last run the device existed in */
} netclass_t;

struct hlm_netcache {
    netclass_t *v;
    size_t n, cap;
};

static void nc_free(netclass_t *nc)
{
    free(nc->name);
    free(nc->address);
    free(nc->broadcast);
    free(nc->duplex);
    free(nc->ifalias);
    free(nc->operstate);
}

void hlm_col_netclass_free(hlm_collect_t *c)
{
    if (!c->netcache)
        return;
    for (size_t i = 0; i < c->netcache->n; i++)
        nc_free(&c->netcache->v[i]);
    free(c->netcache->v);
    free(c->netcache);
    c->netcache = NULL;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const netclass_t *)a)->name, ((const netclass_t *)b)->name);
}

/* An attribute as text ("" when unreadable, as node_exporter's labels). */
static char *attr_str(hlm_collect_t *c, int dir, const char *attr)
{
    char *s = strdup(hlm_read_line_at(&c->attr, dir, attr) == 0 ? c->attr.data : "");
    if (!s)
        abort();
    return s;
}

static bool attr_int(hlm_collect_t *c, int dir, const char *attr, int64_t *out)
{
    return hlm_read_line_at(&c->attr, dir, attr) == 0 && hlm_parse_i64(c->attr.data, out) == 0;
}

static netclass_t *nc_find(struct hlm_netcache *nc, const char *name)
{
    for (size_t i = 0; i < nc->n; i++)
        if (strcmp(nc->v[i].name, name) == 0)
            return &nc->v[i];
    if (nc->n == nc->cap) {
        nc->cap = nc->cap ? nc->cap * 2 : 8;
        netclass_t *p = realloc(nc->v, nc->cap * sizeof *p);
        if (!p)
            abort();
        nc->v = p;
    }
    netclass_t *d = &nc->v[nc->n++];
    memset(d, 0, sizeof *d);
    if (!(d->name = strdup(name)))
        abort();
    return d;
}

static void nc_read(hlm_collect_t *c, netclass_t *d, int dfd)
{
    free(d->operstate);
    d->operstate = attr_str(c, dfd, "operstate");
    d->has_carrier = attr_int(c, dfd, "carrier", &d->carrier);
    if (d->refreshed && c->run - d->refreshed < NETCLASS_REFRESH)
        return;
    d->refreshed = c->run;
    free(d->address);
    free(d->broadcast);
    free(d->duplex);
    free(d->ifalias);
    d->address = attr_str(c, dfd, "address");
    d->broadcast = attr_str(c, dfd, "broadcast");
    d->duplex = attr_str(c, dfd, "duplex");
    d->ifalias = attr_str(c, dfd, "ifalias");
    d->has_mtu = attr_int(c, dfd, "mtu", &d->mtu);
    /* -1 (unknown speed) is left out rather than exported as a negative rate. */
    d->has_speed = attr_int(c, dfd, "speed", &d->speed) && d->speed >= 0;
    d->has_txq = attr_int(c, dfd, "tx_queue_len", &d->txq);
}

int hlm_col_netclass(hlm_collect_t *c, hlm_expo_t *e)
{
    hlm_buf_t base = {0};
    hlm_join(&base, c->sysfs, "class/net");
    DIR *d = opendir(base.data);
    if (!d) {
        int rc = -errno;
        hlm_col_error(c, rc, "%s: %s", base.data, strerror(-rc));
        hlm_buf_free(&base);
        return rc;
    }
    if (!c->netcache && !(c->netcache = calloc(1, sizeof *c->netcache)))
        abort();
    struct hlm_netcache *cache = c->netcache;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || hlm_col_match(&c->re_net, c->has_net, de->d_name))
            continue;
        /* One directory descriptor per device: its attributes are then opened
         * without walking the path (and its symlink) again each time. */
        int dfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
            continue; /* bonding_masters and other plain files */
        netclass_t *dev = nc_find(cache, de->d_name);
        nc_read(c, dev, dfd);
        dev->seen = c->run;
        close(dfd);
    }
    closedir(d);
    /* Devices that went away leave the cache. */
    size_t w = 0;
    for (size_t i = 0; i < cache->n; i++) {
        if (cache->v[i].seen == c->run)
            cache->v[w++] = cache->v[i];
        else
            nc_free(&cache->v[i]);
    }
    cache->n = w;
    if (cache->n)
        qsort(cache->v, cache->n, sizeof *cache->v, cmp_name);
    netclass_t *devs = cache->v;
    size_t n = cache->n;
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
    hlm_buf_free(&base);
    return 0;
}
