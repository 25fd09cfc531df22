/* What hl-backup prints: text for people, --json for tools (hlctl backup
 * passes --json through). */
#pragma once
#include <stdbool.h>
#include <stdio.h>

#include "bk_ops.h"
#include "bk_store.h"

void bk_print_result(FILE *f, const bk_result_t *r, bool json);
void bk_print_list(FILE *f, const char *dir, const bk_list_t *l, const char *latest, bool json);
