/* One libcurl multi handle driven by the daemon's reactor (hlbus/reactor.h):
 * curl says which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to call
 * it back (CURLMOPT_TIMERFUNCTION); both live on the loop, so nothing blocks.
 * The daemon owns its easy handles and their options (hl-health's probes keep
 * one per check, hl-uplink makes one per request); this file owns only the
 * plumbing between curl and the loop, which both used to carry a copy of.
 * In library hlcurlm (libcurl), apart from hlbus: only daemons that speak
 * HTTP link it. */
#pragma once
#include <stdbool.h>

#include <curl/curl.h>

#include <hlbus/reactor.h>

typedef struct hlb_curlm hlb_curlm_t;

/* A transfer ended (RESULT: CURLE_OK or why not). EASY has been removed from
 * the multi handle already, so the callback may add it (or another) again,
 * or clean it up. Called from the loop, or from hlb_curlm_add(..., true). */
typedef void(hlb_curlm_done_fn)(CURL *easy, CURLcode result, void *arg);

/* curl_global_init on first use. NULL when curl cannot be set up. */
hlb_curlm_t *hlb_curlm_new(hlb_reactor_t *io, hlb_curlm_done_fn *done, void *arg);
/* Closes cached connections; remove the easy handles first. */
void hlb_curlm_destroy(hlb_curlm_t **self_p);
/* For curl_multi_setopt (CURLMOPT_MAXCONNECTS, ...). */
CURLM *hlb_curlm_multi(hlb_curlm_t *m);
/* Starts EASY's transfer. RUN_NOW: curl is driven once inside this call, so
 * the request leaves in this loop turn (hl-health's probes, for their
 * latency); transfers that end meanwhile (others') are reported from inside
 * it. Otherwise the first step runs from the loop, and the done callback is
 * never called from inside this call (hl-uplink's requests, whose callers
 * start the next request from the callback). -EIO if curl refused it. */
int hlb_curlm_add(hlb_curlm_t *m, CURL *easy, bool run_now);
/* Ends EASY's transfer without a callback; harmless when it is not running. */
void hlb_curlm_remove(hlb_curlm_t *m, CURL *easy);
