/* libhlbus: the hl-freestyle bus library. */
#pragma once
#include "acall.h"
#include "buf.h"
#include "clock.h"
#include "client.h"
#include "codec.h"
#include "conf.h"
#include "confschema.h"
#include "daemon.h"
#include "escape.h"
#include "fdguard.h"
#include "json.h"
#include "log.h"
#include "map.h"
#include "notify.h"
#include "msgpack_check.h"
#include "paths.h"
#include "pub.h"
#include "seqtrack.h"
#include "server.h"
#include "str.h"
#include "strv.h"
#include "sub.h"
#include "topics.h"

#ifndef HL_VERSION
#define HL_VERSION "0.0.0"
#endif
