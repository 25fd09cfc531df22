/* The bus contract's version, from the enum that defines it (contract.h). */
#include "hlbus/contract.h"

#include "hlbus.pb-c.h"

uint32_t hlb_contract_version(void)
{
    const ProtobufCEnumDescriptor *e = &hl__contract_version__descriptor;
    uint32_t v = 0;
    for (unsigned i = 0; i < e->n_values; i++)
        if (e->values[i].value > 0 && (uint32_t)e->values[i].value > v)
            v = (uint32_t)e->values[i].value;
    return v;
}
