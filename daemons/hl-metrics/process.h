/* The exporter's own process_* metrics (client_golang's standard names):
 * CPU, memory, file descriptors and start time of this process. */
#pragma once
#include "expo.h"

/* Writes the process_* families for the calling process. Reads the real
 * /proc/self (never a fixture tree: it describes this process). */
int hlm_process_metrics(hlm_expo_t *e);
