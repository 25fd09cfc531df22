/* Metrics derived from bus events, kept between renders:
 *
 *   health.<service>   hl_service_health{service} (1 healthy, 0.5 degraded,
 *                      0 unhealthy; absent while unknown),
 *                      hl_service_health_state{service,state} (one-hot),
 *                      hl_check_up / hl_check_duration_seconds{service,check}
 *                      when the event lists its checks
 *   service.<service>  hl_service_active, hl_service_restarts
 *   failure.<type>     hl_failures_total{type,service}
 *   recovery.<service> hl_recoveries_total{service,action,outcome} (hl-orchestrator's
 *                      outcomes), hl_recovery_last_duration_seconds{service},
 *                      hl_recovery_steps_total{service,step,action} (hl-failure's
 *                      policy steps), hl_recovery_time_seconds{service}
 *   alert.<target>     hl_alerts_total{alert,severity} (raised),
 *                      hl_alert_active{alert,reason,severity}
 *   daemon.<name>      hl_daemon_info{daemon,state,version},
 *                      hl_daemon_start_time_seconds, hl_daemon_published_total,
 *                      hl_daemon_dropped_total, hl_daemon_gaps_total,
 *                      hl_daemon_notify_dropped_total
 *   logs.sink.<sink>   hl_logs_sink_up{sink}, hl_logs_spool_bytes; logs.dropped:
 *                      hl_logs_dropped_total{sink}
 *   uplink.<link>      hl_uplink_up{link} (1 online and registered), hl_uplink_registered,
 *                      hl_uplink_outbox_events, hl_uplink_outbox_bytes,
 *                      hl_uplink_outbox_dropped_total, hl_uplink_requests_total,
 *                      hl_uplink_failures_total, hl_uplink_events_sent_total,
 *                      hl_uplink_events_rejected_total, hl_uplink_last_heartbeat_seconds,
 *                      hl_uplink_clock_offset_seconds
 *   backup.latest      hl_backup_latest_timestamp_seconds (the achieved RPO is
 *                      time() minus it), hl_backup_latest_bytes, hl_backup_latest_files;
 *                      backup.created/failed: hl_backup_runs_total{kind,outcome},
 *                      hl_backup_last_duration_seconds{kind}
 *   git.<repo>         hl_git_synced{repo}, hl_git_paused, hl_git_cloned,
 *                      hl_git_ahead_commits, hl_git_behind_commits, hl_git_dirty_files,
 *                      hl_git_syncs_total, hl_git_failures_total, hl_git_updates_total,
 *                      hl_git_conflicts_total, hl_git_last_sync_timestamp_seconds,
 *                      hl_git_last_duration_seconds
 *   (every event)      hl_metrics_bus_events_total{prefix}
 *   hl-bus "stats"     hl_bus_up, hl_bus_messages_total{prefix},
 *                      hl_bus_bytes_total{prefix}, hl_bus_malformed_total,
 *                      hl_bus_lvc_topics, hl_bus_lvc_replays_total,
 *                      hl_bus_subscriptions, hl_bus_source_messages_total{source},
 *                      hl_bus_source_gaps_total{source}
 *
 * Bodies are typed (libhlbus topics.h): hl-health's hl.ServiceHealth (with
 * its checks), hl-orchestrator's hl.ServiceState and hl.RecoveryOutcome,
 * hl-failure's hl.Failure, hl.RecoveryStep and hl.Alert, hl-logs' hl.LogsSink
 * and hl.LogsDropped, hl-uplink's hl.UplinkStatus, hl-backup's hl.BackupEvent,
 * hl-git-sync's hl.GitStatus,
 * and every daemon's hl.DaemonStatus. Anything else on those topics (a free-form map, another
 * type) is refused and counted as rejected; nothing is read by field name.
 * hl-failure's "reasserted" failures are not counted again.
 * Counters count live events only, never last-value-cache replays. The
 * number of series is capped; series past the cap are dropped and counted. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>
#include "expo.h"
#include "hlbus.pb-c.h"

typedef struct hlm_busm hlm_busm_t;

hlm_busm_t *hlm_busm_new(size_t max_series);
void hlm_busm_destroy(hlm_busm_t **self_p);
/* One event. MSG is the decoded body when its type is registered, else
 * NULL; TYPE, BODY and LEN are the raw body (for msgpack). */
void hlm_busm_event(hlm_busm_t *b, const char *topic, const char *source, const char *type,
                    const ProtobufCMessage *msg, const void *body, size_t len, bool replay);
/* The hl-bus "stats" reply, or NULL when hl-bus did not answer. */
void hlm_busm_bus_stats(hlm_busm_t *b, const Hl__BusStats *st);
/* Writes every family (sorted by name, series sorted by labels). Families
 * already present in E are skipped (and counted as conflicts). */
void hlm_busm_render(hlm_busm_t *b, hlm_expo_t *e);
/* Changes the cap (a reload); series already kept stay. */
void hlm_busm_set_max(hlm_busm_t *b, size_t max_series);
size_t hlm_busm_series(const hlm_busm_t *b);
uint64_t hlm_busm_dropped(const hlm_busm_t *b);
uint64_t hlm_busm_rejected(const hlm_busm_t *b); /* events with a body of the wrong type */
