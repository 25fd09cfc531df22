/* The version of the bus contract (proto/hlbus.proto's ContractVersion):
 * what every daemon reports in DaemonStatus.contract, and what hlctl
 * contract prints beside the topic table. */
#pragma once
#include <stdint.h>

/* The highest value of hl.ContractVersion: read from the generated
 * descriptor, so that adding a value to the .proto is the whole bump. */
uint32_t hlb_contract_version(void);
