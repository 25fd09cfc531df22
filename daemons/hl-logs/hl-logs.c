/* hl-logs: configure, start, stop and the pipeline from the sources to the
 * sinks (hl-logs.h).
 *
 * One batch of journal entries at a time: each becomes a JSON line for its
 * file and a record in the spool; then the files are written, the spool is
 * fdatasync'd, and only then is the journal cursor saved. A SIGKILL at any
 * point therefore loses nothing: what the cursor covers is on disk, and
 * what it does not is read again (the same entries, with the same record
 * ids, so a collector can tell a second copy). */
#include "hl-logs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hlbus/json.h>

#include "lg_analyze.h"

#include "logs.pb-c.h"

#define TICK_MS 1000
#define COMPRESS_SLICE (1 << 20)
#define DROP_LOG_EVERY_US 10000000

/* --- the saved state: cursor and per-source sequence numbers ------------- */

static void state_path(const lg_daemon_t *L, char *out, size_t size, const char *leaf)
{
    snprintf(out, size, "%s/%s", L->conf.state_dir, leaf);
}

static lg_seq_t *seq_of(lg_daemon_t *L, const char *name)
{
    for (size_t i = 0; i < L->n_seqs; i++)
        if (strcmp(L->seqs[i].name, name) == 0)
            return &L->seqs[i];
    if (L->n_seqs == L->cap_seqs) {
        size_t nc = L->cap_seqs ? L->cap_seqs * 2 : 16;
        lg_seq_t *n = realloc(L->seqs, nc * sizeof *n);
        if (!n)
            return NULL;
        L->seqs = n;
        L->cap_seqs = nc;
    }
    lg_seq_t *s = &L->seqs[L->n_seqs++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->seq = 0;
    return s;
}

/* cursor on the first line, then "seq N NAME" lines */
static char *load_state(lg_daemon_t *L)
{
    char path[4200];
    state_path(L, path, sizeof path, "cursor");
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *line = NULL, *cursor = NULL;
    size_t cap = 0;
    ssize_t n;
    bool first = true;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = 0;
        if (first) {
            cursor = strdup(line);
            first = false;
            continue;
        }
        unsigned long long v;
        char name[72];
        if (sscanf(line, "seq %llu %71s", &v, name) == 2) {
            lg_seq_t *s = seq_of(L, name);
            if (s)
                s->seq = v;
        }
    }
    free(line);
    fclose(f);
    return cursor;
}

static void save_state(lg_daemon_t *L, const char *cursor)
{
    char path[4200], tmp[4200];
    state_path(L, path, sizeof path, "cursor");
    state_path(L, tmp, sizeof tmp, ".cursor.tmp");
    FILE *f = fopen(tmp, "we");
    if (!f) {
        hlb_warn("cannot save the journal cursor in %s: %s", tmp, strerror(errno));
        return;
    }
    fprintf(f, "%s\n", cursor);
    for (size_t i = 0; i < L->n_seqs; i++)
        fprintf(f, "seq %" PRIu64 " %s\n", L->seqs[i].seq, L->seqs[i].name);
    if (fclose(f) == 0)
        rename(tmp, path); /* the spool it covers was fdatasync'd before */
}

/* --- bus events ------------------------------------------------------------ */

static void publish_sink(lg_daemon_t *L, const char *sink, bool up, const char *detail)
{
    Hl__LogsSink m = HL__LOGS_SINK__INIT;
    m.sink = (char *)sink;
    m.up = up;
    m.detail = (char *)(detail ? detail : "");
    m.pending_bytes = L->spool ? lg_spool_stats(L->spool)->bytes : 0;
    char topic[64];
    snprintf(topic, sizeof topic, "logs.sink.%s", sink);
    hlb_pub_send(hlb_daemon_pub(L->d), topic, &m.base);
}

static void publish_dropped(lg_daemon_t *L, const char *sink, uint64_t count, uint64_t total,
                            const char *reason)
{
    Hl__LogsDropped m = HL__LOGS_DROPPED__INIT;
    m.sink = (char *)sink;
    m.count = count;
    m.total = total;
    m.reason = (char *)reason;
    hlb_pub_send(hlb_daemon_pub(L->d), "logs.dropped", &m.base);
}

/* Drops are never silent: an event for every change, a log line at most
 * every ten seconds. */
static void report_drops(lg_daemon_t *L)
{
    uint64_t now = hlb_mono_us();
    if (L->spool) {
        uint64_t dropped = lg_spool_stats(L->spool)->dropped;
        if (dropped != L->dropped_reported) {
            publish_dropped(L, "spool", dropped - L->dropped_reported, dropped,
                            "spool_max_bytes reached while the collector is away");
            if (now - L->last_drop_log_us >= DROP_LOG_EVERY_US) {
                hlb_warn("forward spool full (%" PRIu64 " bytes): %" PRIu64
                         " records dropped for the collector so far (the files have them)",
                         lg_spool_stats(L->spool)->bytes, dropped);
                L->last_drop_log_us = now;
            }
            L->dropped_reported = dropped;
        }
    }
    const lg_files_stats_t *fst = lg_files_stats(L->files);
    if (fst->lines_lost != L->lost_reported) {
        publish_dropped(L, "files", fst->lines_lost - L->lost_reported, fst->lines_lost,
                        strerror(fst->last_errno));
        L->lost_reported = fst->lines_lost;
    }
}

/* --- the pipeline ------------------------------------------------------------ */

static void take(lg_daemon_t *L, lg_record_t *r)
{
    char fname[80];
    if (L->conf.layout == LG_LAYOUT_COMBINED)
        snprintf(fname, sizeof fname, "%s", L->conf.combined_name);
    else if (r->unit.n)
        lg_files_safe_name(r->unit.p, r->unit.n, fname, sizeof fname);
    else
        lg_files_safe_name(r->name.p, r->name.n, fname, sizeof fname);
    char sname[80];
    if (r->unit.n)
        lg_files_safe_name(r->unit.p, r->unit.n, sname, sizeof sname);
    else
        lg_files_safe_name(r->name.p, r->name.n, sname, sizeof sname);
    lg_seq_t *s = seq_of(L, sname);
    r->seq = s ? ++s->seq : 0;
    hlb_buf_reset(&L->line);
    if (lg_record_json(r, L->conf.record_max, &L->line))
        L->truncated++;
    lg_files_add(L->files, fname, L->line.data, L->line.len);
    if (L->spool) {
        lg_spool_rec_t sr = {.id = r->id,
                             .id_len = strlen(r->id),
                             .ts_us = r->ts_us,
                             .priority = (uint64_t)r->priority,
                             .name = r->name.p,
                             .name_len = r->name.n > 255 ? 255 : r->name.n,
                             .pid = r->pid > 0 ? (uint64_t)r->pid : 0,
                             .line = L->line.data,
                             .line_len = L->line.len - 1};
        lg_spool_append(L->spool, &sr); /* a refusal is counted there */
    }
    L->records++;
    L->dirty = true;
}

/* Files written, spool synced: what was taken is safe. */
static int commit(lg_daemon_t *L)
{
    if (!L->dirty)
        return 0;
    int frc = lg_files_flush(L->files);
    if (frc < 0 && !L->files_down) {
        L->files_down = true;
        hlb_err("cannot write to %s: %s (lines are counted as lost until it works again)",
                L->conf.dir, strerror(-frc));
        publish_sink(L, "files", false, strerror(-frc));
    } else if (frc == 0 && L->files_down) {
        L->files_down = false;
        hlb_info("writing to %s again", L->conf.dir);
        publish_sink(L, "files", true, L->conf.dir);
    }
    if (L->spool) {
        int rc = lg_spool_commit(L->spool);
        if (rc < 0) {
            hlb_err("cannot write the forward spool: %s; the journal position is kept",
                    strerror(-rc));
            return rc; /* the cursor stays: the entries are read again */
        }
    }
    L->dirty = false;
    report_drops(L);
    if (L->forward)
        lg_forward_kick(L->forward);
    return 0;
}

static void pump(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    (void)t;
    lg_daemon_t *L = arg;
    if (!L->journal)
        return;
    lg_record_t r;
    int64_t n = 0;
    int rc = 0;
    while (n < L->conf.batch && (rc = lg_journal_next(L->journal, &r)) == 1) {
        L->journal_records++;
        take(L, &r);
        n++;
    }
    if (rc < 0)
        hlb_warn("reading the journal: %s", strerror(-rc));
    if (n) {
        /* the cursor is copied: commit() may not touch the journal, but be safe */
        char *cursor = strdup(lg_journal_cursor(L->journal));
        L->dirty = true;
        if (commit(L) == 0 && cursor)
            save_state(L, cursor);
        free(cursor);
    } else {
        commit(L); /* bus records */
    }
    if (n >= L->conf.batch)
        hlb_timer_after_ms(io, &L->pump, 0); /* more: after the loop's other work */
}

static void on_journal(hlb_reactor_t *io, int fd, uint32_t events, void *arg)
{
    (void)fd;
    (void)events;
    lg_daemon_t *L = arg;
    lg_journal_process(L->journal);
    if (!hlb_timer_pending(&L->pump))
        hlb_timer_after_ms(io, &L->pump, 0);
}

static void on_log_event(hlb_daemon_t *d, const hlb_event_t *ev, void *arg)
{
    lg_daemon_t *L = arg;
    (void)d;
    if (!ev->env || strcmp(ev->env->source, "hl-logs") == 0)
        return; /* our own lines come from the journal (or stderr), never in a loop */
    const Hl__Log *m = hlb_event_as(ev, &hl__log__descriptor);
    if (!m)
        return;
    if (m->in_journal) {
        L->bus_duplicates++; /* the journal path has it, with a cursor */
        return;
    }
    lg_record_t r = {0};
    r.ts_us = ev->env->ts_us;
    int p = lg_priority_parse(m->level, strlen(m->level));
    r.priority = p < 0 ? 6 : p;
    r.name = (lg_text_t){ev->env->source, strlen(ev->env->source)};
    r.message = (lg_text_t){m->message, strlen(m->message)};
    r.origin = (lg_text_t){"bus", 3};
    r.unit = (lg_text_t){"", 0};
    r.boot_id = (lg_text_t){"", 0};
    r.pid = ev->env->sender_pid;
    hlb_buf_t fields = {0};
    if (m->fields_msgpack.len && hlb_json_msgpack(&fields, m->fields_msgpack.data,
                                                  m->fields_msgpack.len) == 0)
        r.fields = (lg_text_t){fields.data, fields.len};
    char key[300];
    int kl = snprintf(key, sizeof key, "bus:%s:%" PRIu64 ":%" PRIu64 ":%s", ev->env->source,
                      ev->env->epoch, ev->env->seq, ev->topic);
    lg_record_set_id(&r, key, (size_t)kl < sizeof key ? (size_t)kl : sizeof key - 1);
    L->bus_records++;
    take(L, &r);
    hlb_buf_free(&fields);
    if (!hlb_timer_pending(&L->pump))
        hlb_timer_after_ms(hlb_daemon_reactor(L->d), &L->pump, 0);
}

static void on_forward_state(lg_forward_t *fw, bool up, const char *why, void *arg)
{
    (void)fw;
    lg_daemon_t *L = arg;
    if (up)
        hlb_info("collector %s:%d connected", L->conf.forward.host, (int)L->conf.forward.port);
    else
        hlb_warn("collector %s:%d: %s; records wait in the spool", L->conf.forward.host,
                 (int)L->conf.forward.port, why);
    publish_sink(L, "forward", up, up ? L->conf.forward.host : why);
}

static void compress_step(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    lg_daemon_t *L = arg;
    if (lg_files_compress_step(L->files, COMPRESS_SLICE))
        hlb_timer_after_ms(io, t, 0);
}

static void tick(hlb_reactor_t *io, hlb_timer_t *t, void *arg)
{
    lg_daemon_t *L = arg;
    /* a wake-up the journal's inotify did not give (it coalesces) */
    if (L->journal && !hlb_timer_pending(&L->pump)) {
        lg_journal_process(L->journal);
        hlb_timer_after_ms(io, &L->pump, 0);
    }
    if (!hlb_timer_pending(&L->compress))
        hlb_timer_after_ms(io, &L->compress, 0);
    report_drops(L);
    const lg_forward_stats_t *fs = L->forward ? lg_forward_stats(L->forward) : NULL;
    /* the spool's size for the metrics, every ten seconds */
    if (fs && ++L->ticks % 10 == 0)
        publish_sink(L, "forward", fs->up, fs->up ? L->conf.forward.host : fs->last_error);
    hlb_daemon_status(L->d, "%" PRIu64 " records; files %s; forward %s%s%s", L->records,
                      L->files_down ? "failing" : "ok",
                      !fs ? "off" : fs->up ? "up" : "down",
                      fs && !fs->up && fs->last_error[0] ? ": " : "",
                      fs && !fs->up ? fs->last_error : "");
    hlb_timer_after_ms(io, t, TICK_MS);
}

/* --- configure, start, stop ---------------------------------------------- */

static lg_files_conf_t files_conf(const lg_conf_t *c)
{
    return (lg_files_conf_t){.dir = c->dir,
                             .max_bytes = c->max_bytes,
                             .backup_count = (int)c->backup_count,
                             .compress = c->compress,
                             .disk_cap = c->disk_cap};
}

static bool forward_same(const lg_forward_conf_t *a, const lg_forward_conf_t *b)
{
    return strcmp(a->host, b->host) == 0 && a->port == b->port && a->transport == b->transport &&
           strcmp(a->ca_file, b->ca_file) == 0 && strcmp(a->server_name, b->server_name) == 0 &&
           a->verify == b->verify && a->backoff_min_ms == b->backoff_min_ms &&
           a->backoff_max_ms == b->backoff_max_ms && a->confirm_ms == b->confirm_ms &&
           a->connect_timeout_ms == b->connect_timeout_ms;
}

static int start_forward(lg_daemon_t *L)
{
    if (!L->conf.forward.host[0] || !L->spool)
        return 0;
    L->forward = lg_forward_new(hlb_daemon_reactor(L->d), L->spool, &L->conf.forward, L->tls,
                                L->hostname, on_forward_state, L);
    if (!L->forward) {
        hlb_err("cannot set up forwarding to %s:%d (TLS context or CA file %s)",
                L->conf.forward.host, (int)L->conf.forward.port,
                L->conf.forward.ca_file[0] ? L->conf.forward.ca_file : "(system store)");
        return -EINVAL;
    }
    publish_sink(L, "forward", false, "connecting");
    return 0;
}

int lg_daemon_configure(hlb_daemon_t *d, const hlb_conf_t *conf, const hlb_conf_t *section,
                        bool check_only, hlb_diag_t *diag, void *arg)
{
    (void)conf;
    lg_daemon_t *L = arg;
    lg_conf_t c;
    int rc = lg_conf_parse(section, &c, diag);
    /* the TLS policy of the forwarder, checked with the rest: a bad one
     * fails --check-config and a reload like a bad key */
    hlb_tlspolicy_t *tls = hlb_tlspolicy_load(NULL, diag);
    if (rc < 0 || !tls || check_only) {
        rc = rc < 0 || !tls ? -EINVAL : 0;
        hlb_tlspolicy_destroy(&tls);
        lg_conf_free(&c);
        return rc;
    }
    if (hlb_tlspolicy_warning(tls) && c.forward.host[0] && c.forward.transport == LG_TRANSPORT_TLS)
        hlb_warn("%s", hlb_tlspolicy_warning(tls));
    bool tls_changed = !hlb_tlspolicy_equal(L->tls, tls);
    hlb_tlspolicy_destroy(&L->tls);
    L->tls = tls;
    if (L->configured) {
        char **restart = NULL;
        hlb_conf_schema_restart_keys(&lg_conf_table, "hl-logs", &L->conf, &c, &restart);
        for (size_t i = 0; restart && restart[i]; i++) {
            hlb_daemon_restart_needed(d, restart[i]);
            free(restart[i]);
        }
        free(restart);
        bool fwd_changed = !forward_same(&L->conf.forward, &c.forward) ||
                           (tls_changed && c.forward.transport == LG_TRANSPORT_TLS);
        /* restart-only values stay as they run */
        c.forward.spool_max_bytes = L->conf.forward.spool_max_bytes;
        c.forward.chunk_bytes = L->conf.forward.chunk_bytes;
        lg_conf_t old = L->conf;
        L->conf = c;
        /* the paths and the unit list are restart settings: keep them */
        char *keep[] = {old.dir, old.state_dir, old.journal_dir, old.combined_name};
        char **slot[] = {&L->conf.dir, &L->conf.state_dir, &L->conf.journal_dir,
                         &L->conf.combined_name};
        for (size_t i = 0; i < 4; i++) {
            char *t = *slot[i];
            *slot[i] = keep[i];
            if (i == 0)
                old.dir = t;
            else if (i == 1)
                old.state_dir = t;
            else if (i == 2)
                old.journal_dir = t;
            else
                old.combined_name = t;
        }
        char **tu = L->conf.units;
        L->conf.units = old.units;
        old.units = tu;
        L->conf.layout = old.layout;
        L->conf.bus = old.bus;
        if (L->files) {
            lg_files_conf_t fc = files_conf(&L->conf);
            lg_files_set_conf(L->files, &fc);
        }
        if (fwd_changed && L->spool) {
            lg_forward_destroy(&L->forward);
            start_forward(L);
        }
        lg_conf_free(&old);
        return 0;
    }
    L->conf = c;
    L->configured = true;
    return 0;
}

int lg_daemon_start(hlb_daemon_t *d, void *arg)
{
    lg_daemon_t *L = arg;
    L->d = d;
    if (gethostname(L->hostname, sizeof L->hostname - 1) < 0 || !L->hostname[0])
        snprintf(L->hostname, sizeof L->hostname, "-");
    if (mkdir(L->conf.dir, 0750) < 0 && errno != EEXIST) {
        hlb_err("cannot create %s: %s", L->conf.dir, strerror(errno));
        return -1;
    }
    if (mkdir(L->conf.state_dir, 0750) < 0 && errno != EEXIST) {
        hlb_err("cannot create %s: %s", L->conf.state_dir, strerror(errno));
        return -1;
    }
    lg_files_conf_t fc = files_conf(&L->conf);
    if (!(L->files = lg_files_new(&fc))) {
        hlb_err("out of memory");
        return -1;
    }
    if (L->conf.forward.host[0]) {
        char spool_dir[4200];
        state_path(L, spool_dir, sizeof spool_dir, "spool");
        int rc = lg_spool_open(&L->spool, spool_dir, L->conf.forward.spool_max_bytes,
                               L->conf.forward.chunk_bytes);
        if (rc < 0) {
            hlb_err("cannot open the forward spool %s: %s", spool_dir, strerror(-rc));
            return -1;
        }
        if (start_forward(L) < 0)
            return -1;
    }
    hlb_reactor_t *io = hlb_daemon_reactor(d);
    hlb_timer_init(&L->pump, pump, L);
    hlb_timer_init(&L->tick, tick, L);
    hlb_timer_init(&L->compress, compress_step, L);
    int rc = lg_journal_open(&L->journal, L->conf.journal_dir, L->conf.units);
    if (rc < 0) {
        hlb_err("cannot open the journal%s%s: %s", L->conf.journal_dir[0] ? " in " : "",
                L->conf.journal_dir, strerror(-rc));
        return -1;
    }
    char *cursor = load_state(L);
    rc = lg_journal_seek(L->journal, cursor, &L->cursor_found);
    if (rc < 0) {
        hlb_warn("the saved journal cursor does not seek (%s): reading from the start",
                 strerror(-rc));
        lg_journal_seek(L->journal, NULL, &L->cursor_found);
    } else if (cursor && !L->cursor_found) {
        hlb_warn("the saved journal entry is gone (vacuumed?): reading from the next one there is");
    }
    free(cursor);
    int jfd = lg_journal_fd(L->journal);
    if (jfd >= 0)
        hlb_reactor_watch(io, jfd, EPOLLIN, on_journal, L);
    if (L->conf.bus) {
        static const char *const prefixes[] = {"log.", NULL};
        L->sub = hlb_daemon_subscribe(d, prefixes, on_log_event, L);
    }
    publish_sink(L, "files", true, L->conf.dir);
    hlb_timer_after_ms(io, &L->pump, 0);
    hlb_timer_after_ms(io, &L->tick, TICK_MS);
    hlb_daemon_status(d, "following the journal into %s", L->conf.dir);
    return 0;
}

void lg_daemon_stop(hlb_daemon_t *d, void *arg)
{
    (void)d;
    lg_daemon_t *L = arg;
    hlb_reactor_t *io = hlb_daemon_reactor(d);
    hlb_timer_stop(io, &L->pump);
    hlb_timer_stop(io, &L->tick);
    hlb_timer_stop(io, &L->compress);
    if (L->journal) {
        int jfd = lg_journal_fd(L->journal);
        if (jfd >= 0)
            hlb_reactor_unwatch(io, jfd);
    }
    commit(L);
    lg_forward_destroy(&L->forward);
    hlb_tlspolicy_destroy(&L->tls);
    lg_spool_close(&L->spool);
    lg_files_destroy(&L->files);
    lg_journal_close(&L->journal);
    hlb_buf_free(&L->line);
    free(L->seqs);
    L->seqs = NULL;
    L->n_seqs = L->cap_seqs = 0;
    lg_conf_free(&L->conf);
    L->configured = false;
}

/* The orchestrator's pre-shutdown hook: everything the journal has for us
 * now goes to the files and the spool, both flushed (the spool fdatasync'd)
 * and the cursor saved, then the ack. Records still waiting for the
 * collector stay in the spool for the next boot: the ack does not wait for
 * a collector that may be away. */
void lg_daemon_prepare_shutdown(hlb_daemon_t *d, uint64_t deadline_us, void *arg)
{
    lg_daemon_t *L = arg;
    uint64_t before = L->records;
    bool complete = true;
    if (L->journal) {
        lg_journal_process(L->journal);
        lg_record_t r;
        int rc;
        while ((rc = lg_journal_next(L->journal, &r)) == 1) {
            L->journal_records++;
            take(L, &r);
            if ((L->records - before) % 2048 == 0 && hlb_now_us() >= deadline_us) {
                complete = false; /* the rest is read at the next start */
                break;
            }
        }
        char *cursor = strdup(lg_journal_cursor(L->journal));
        L->dirty = true;
        int crc = commit(L);
        if (crc == 0 && cursor && *cursor)
            save_state(L, cursor);
        free(cursor);
        if (crc < 0) {
            hlb_daemon_shutdown_ack(d, false, "the forward spool could not be written");
            return;
        }
    } else {
        commit(L);
    }
    char detail[200];
    snprintf(detail, sizeof detail, "%" PRIu64 " records flushed%s; %" PRIu64
             " spool bytes wait for the collector",
             L->records - before, complete ? "" : " (deadline: the rest at the next start)",
             L->spool ? lg_spool_stats(L->spool)->bytes : 0);
    hlb_info("shutdown: %s", detail);
    hlb_daemon_shutdown_ack(d, true, detail);
}

/* --- methods ------------------------------------------------------------- */

static void m_stats(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    (void)req;
    lg_daemon_t *L = arg;
    Hl__LogsStats s = HL__LOGS_STATS__INIT;
    s.records = L->records;
    s.journal_records = L->journal_records;
    s.bus_records = L->bus_records;
    s.bus_duplicates = L->bus_duplicates;
    s.truncated = L->truncated;
    s.journal_cursor_found = L->cursor_found;
    if (L->files) {
        const lg_files_stats_t *f = lg_files_stats(L->files);
        s.file_lines = f->lines;
        s.file_bytes = f->bytes;
        s.file_rotations = f->rotations;
        s.file_write_errors = f->write_errors;
        s.file_lines_lost = f->lines_lost;
        s.files_compressed = f->compressed;
        s.files_removed_for_cap = f->removed_for_cap;
    }
    if (L->spool) {
        const lg_spool_stats_t *sp = lg_spool_stats(L->spool);
        s.spool_appended = sp->appended;
        s.spool_dropped = sp->dropped;
        s.spool_bytes = sp->bytes;
        s.spool_quarantined_chunks = sp->quarantined_chunks;
    }
    if (L->forward) {
        const lg_forward_stats_t *fw = lg_forward_stats(L->forward);
        s.forward_sent = fw->sent;
        s.forward_resent = fw->resent;
        s.forward_connects = fw->connects;
        s.forward_resets = fw->resets;
        s.forward_up = fw->up;
        s.forward_error = (char *)fw->last_error;
    } else {
        s.forward_error = (char *)"";
    }
    hlb_reply_msg(reply, &s.base);
}

/* The arguments every reading method takes: service, level, since. */
static int read_filter(hlb_request_t *req, hlb_reply_t *reply, lg_filter_t *f, char **service)
{
    *service = NULL;
    f->service = NULL;
    f->max_priority = -1;
    f->since_us = 0;
    if (!req->map)
        return 0;
    *service = hlb_mpview_str(req->map, "service");
    f->service = *service;
    char *level = hlb_mpview_str(req->map, "level");
    if (level) {
        f->max_priority = lg_priority_parse(level, strlen(level));
        if (f->max_priority < 0) {
            hlb_reply_error(reply, EINVAL, "level '%s': one of debug, info, warning, error, critical",
                            level);
            free(level);
            return -EINVAL;
        }
        free(level);
    }
    char *since = hlb_mpview_str(req->map, "since");
    int64_t since_int;
    if (!since && hlb_mpview_int(req->map, "since", &since_int) == 0 && since_int > 0)
        f->since_us = (uint64_t)since_int * 1000000u;
    if (since) {
        if (lg_parse_since(since, hlb_now_us(), &f->since_us) < 0) {
            hlb_reply_error(reply, EINVAL,
                            "since '%s': a duration back from now (30m, 1h, 2d), a time "
                            "(2026-12-07T10:00:00Z) or seconds since the epoch", since);
            free(since);
            return -EINVAL;
        }
        free(since);
    }
    if (f->service && (strchr(f->service, '/') || f->service[0] == '.')) {
        hlb_reply_error(reply, EINVAL, "service '%s' is not a service name", f->service);
        return -EINVAL;
    }
    return 0;
}

/* The scan runs in the loop: bounded, so a query cannot hold it long. */
#define SCAN_BUDGET (256u << 20)
#define QUERY_MAX 10000

typedef struct {
    lg_filter_t f;
    char **lines; /* a ring of the last LIMIT matches */
    size_t limit, n, head;
    lg_analysis_t *a;
} scan_t;

static void on_query_line(const char *line, size_t n, void *arg)
{
    scan_t *s = arg;
    lg_line_t l;
    if (!lg_line_parse(line, n, &l) || !lg_filter_match(&s->f, &l))
        return;
    if (s->a) {
        lg_analysis_add(s->a, &l);
        return;
    }
    char *copy = strndup(line, n);
    if (!copy)
        return;
    size_t slot = (s->head + s->n) % s->limit;
    if (s->n == s->limit) {
        free(s->lines[s->head]);
        s->lines[s->head] = copy;
        s->head = (s->head + 1) % s->limit;
    } else {
        s->lines[slot] = copy;
        s->n++;
    }
}

static void m_query(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    lg_daemon_t *L = arg;
    scan_t s = {0};
    char *service;
    if (read_filter(req, reply, &s.f, &service) < 0) {
        free(service);
        return;
    }
    int64_t limit = 100;
    bool current = false;
    if (req->map) {
        hlb_mpview_int(req->map, "limit", &limit);
        hlb_mpview_bool(req->map, "current", &current);
    }
    s.limit = limit < 1 ? 1 : limit > QUERY_MAX ? QUERY_MAX : (size_t)limit;
    s.lines = calloc(s.limit, sizeof *s.lines);
    if (!s.lines) {
        free(service);
        hlb_reply_error(reply, ENOMEM, "out of memory");
        return;
    }
    bool truncated;
    uint64_t scanned = lg_scan_dir(L->conf.dir, L->conf.layout == LG_LAYOUT_COMBINED ? NULL : s.f.service,
                                   SCAN_BUDGET, current, &truncated, on_query_line, &s);
    Hl__LogsLines m = HL__LOGS_LINES__INIT;
    char **ordered = calloc(s.n ? s.n : 1, sizeof *ordered);
    for (size_t i = 0; ordered && i < s.n; i++)
        ordered[i] = s.lines[(s.head + i) % s.limit];
    m.n_lines = ordered ? s.n : 0;
    m.lines = ordered;
    m.scanned_bytes = scanned;
    m.truncated = truncated;
    hlb_reply_msg(reply, &m.base);
    for (size_t i = 0; i < s.limit; i++)
        free(s.lines[i]);
    free(s.lines);
    free(ordered);
    free(service);
}

static void m_analyze(hlb_request_t *req, hlb_reply_t *reply, void *arg)
{
    lg_daemon_t *L = arg;
    scan_t s = {0};
    char *service;
    if (read_filter(req, reply, &s.f, &service) < 0) {
        free(service);
        return;
    }
    if (!req->map || !hlb_mpview_has(req->map, "since"))
        s.f.since_us = hlb_now_us() - 3600ull * 1000000u; /* the spec's default period: 1h */
    s.a = lg_analysis_new();
    if (!s.a) {
        free(service);
        hlb_reply_error(reply, ENOMEM, "out of memory");
        return;
    }
    bool truncated;
    uint64_t scanned = lg_scan_dir(L->conf.dir, L->conf.layout == LG_LAYOUT_COMBINED ? NULL : s.f.service,
                                   SCAN_BUDGET, false, &truncated, on_query_line, &s);
    Hl__LogsAnalysis m = HL__LOGS_ANALYSIS__INIT;
    m.records = lg_analysis_records(s.a);
    m.errors = lg_analysis_errors(s.a);
    m.warnings = lg_analysis_warnings(s.a);
    m.scanned_bytes = scanned;
    m.truncated = truncated;
    m.since_us = s.f.since_us;
    const lg_error_row_t *er;
    size_t ne = lg_analysis_top_errors(s.a, 10, &er);
    Hl__LogsAnalysis__Error *e = calloc(ne ? ne : 1, sizeof *e);
    Hl__LogsAnalysis__Error **ep = calloc(ne ? ne : 1, sizeof *ep);
    const lg_duration_row_t *dr;
    size_t nd = lg_analysis_durations(s.a, &dr);
    Hl__LogsAnalysis__Duration *du = calloc(nd ? nd : 1, sizeof *du);
    Hl__LogsAnalysis__Duration **dp = calloc(nd ? nd : 1, sizeof *dp);
    const lg_health_row_t *hr;
    size_t nh = lg_analysis_health(s.a, &hr);
    Hl__LogsAnalysis__Health *he = calloc(nh ? nh : 1, sizeof *he);
    Hl__LogsAnalysis__Health **hp = calloc(nh ? nh : 1, sizeof *hp);
    if (e && ep && du && dp && he && hp) {
        for (size_t i = 0; i < ne; i++) {
            hl__logs_analysis__error__init(&e[i]);
            e[i].pattern = er[i].pattern;
            e[i].count = er[i].count;
            e[i].example = er[i].example ? er[i].example : (char *)"";
            e[i].service = er[i].service ? er[i].service : (char *)"";
            ep[i] = &e[i];
        }
        for (size_t i = 0; i < nd; i++) {
            hl__logs_analysis__duration__init(&du[i]);
            du[i].field = dr[i].field;
            du[i].count = dr[i].count;
            du[i].mean = dr[i].mean;
            du[i].p50 = dr[i].p50;
            du[i].p95 = dr[i].p95;
            du[i].p99 = dr[i].p99;
            du[i].max = dr[i].max;
            dp[i] = &du[i];
        }
        for (size_t i = 0; i < nh; i++) {
            hl__logs_analysis__health__init(&he[i]);
            he[i].service = hr[i].service;
            he[i].last = hr[i].last ? hr[i].last : (char *)"";
            he[i].checks = hr[i].checks;
            he[i].healthy = hr[i].healthy;
            he[i].degraded = hr[i].degraded;
            he[i].unhealthy = hr[i].unhealthy;
            he[i].other = hr[i].other;
            hp[i] = &he[i];
        }
        m.n_top_errors = ne;
        m.top_errors = ep;
        m.n_durations = nd;
        m.durations = dp;
        m.n_health = nh;
        m.health = hp;
        hlb_reply_msg(reply, &m.base);
    } else {
        hlb_reply_error(reply, ENOMEM, "out of memory");
    }
    free(e), free(ep), free(du), free(dp), free(he), free(hp);
    lg_analysis_free(&s.a);
    free(service);
}

const hlb_method_t lg_methods[] = {
    {"stats", m_stats, 0, "records taken, written, spooled, forwarded, dropped"},
    {"query", m_query, 0, "log lines: service=S level=L since=1h|TIME limit=N [current=true]"},
    {"analyze", m_analyze, 0, "top errors, durations (p50/p95/p99), health: service=S since=1h"},
    {NULL, NULL, 0, NULL},
};
