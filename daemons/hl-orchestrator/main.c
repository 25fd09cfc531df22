/* hl-orchestrator: see orch.c. */
int orch_main(int argc, char **argv);

int main(int argc, char **argv)
{
    return orch_main(argc, argv);
}
