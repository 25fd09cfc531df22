/* hl-orchestrator: see orch.c. */
#include "orch.h"

int main(int argc, char **argv)
{
    return orch_main(argc, argv);
}
