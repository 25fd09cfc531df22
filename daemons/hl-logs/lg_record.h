/* One log record, whichever path it came by (journal or bus), and its JSON
 * line: the spec's fields (asctime, name, levelname, message), the
 * structured fields, unit, pid, boot id, a per-source sequence number and
 * the record id (stable across re-reads, so a collector can drop a record
 * sent twice). Text fields are raw bytes here; the encoder escapes control
 * characters and invalid UTF-8, so any input gives one valid JSON line. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hlbus/buf.h>

typedef struct lg_text {
    const char *p;
    size_t n;
} lg_text_t;

typedef struct lg_record {
    uint64_t ts_us;     /* wall clock of the line */
    int priority;       /* syslog 0-7 */
    lg_text_t name;     /* SYSLOG_IDENTIFIER, or the publishing daemon */
    lg_text_t message;
    lg_text_t unit;     /* _SYSTEMD_UNIT; may be empty */
    lg_text_t boot_id;  /* may be empty */
    lg_text_t fields;   /* a JSON object or empty; checked before use */
    lg_text_t origin;   /* "journal" or "bus" */
    int64_t pid;        /* 0: unknown */
    uint64_t seq;       /* per source (name), set by the pipeline */
    char id[33];        /* record id, hex */
} lg_record_t;

/* Python logging's level names from a syslog priority. */
const char *lg_levelname(int priority);
/* A priority from "error", "warning", "info", "debug", ... or -1. */
int lg_priority_parse(const char *s, size_t n);

/* The record id: a 128-bit FNV-1a of KEY (a journal cursor, or the bus's
 * source/epoch/seq), as 32 hex digits into R->id. */
void lg_record_set_id(lg_record_t *r, const void *key, size_t len);

/* Whether S is one JSON object (depth-limited, strict). Journal fields
 * written by other programs are checked before they are spliced in. */
bool lg_json_object_valid(const char *s, size_t n);

/* Appends R as one JSON line (with '\n') to OUT. A message that would make
 * the line longer than MAX_BYTES is cut at a UTF-8 boundary and ends with
 * the marker "...[truncated N bytes]" (and "truncated":true). Returns true
 * when it truncated. */
bool lg_record_json(const lg_record_t *r, size_t max_bytes, hlb_buf_t *out);

/* Appends S as a JSON string literal (quotes included). */
void lg_json_escape(hlb_buf_t *out, const char *s, size_t n);
