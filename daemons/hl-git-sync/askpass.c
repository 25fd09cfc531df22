/* hl-git-askpass: git's GIT_ASKPASS helper for hl-git-sync. git runs it
 * with its prompt as the only argument; it prints the username for a
 * "Username" prompt and the token for any other (a password or
 * passphrase). hl-git-sync reads the token from its file or credential
 * before every fetch and push and puts it in the environment of that one
 * git command (HL_GIT_TOKEN), which git passes on to its helper: never in
 * argv, a file of ours, a log, or any other process's environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *prompt = argc > 1 ? argv[1] : "";
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "--version"))) {
        printf("hl-git-askpass: git's askpass helper for hl-git-sync (not for people)\n");
        return 0;
    }
    if (!strncmp(prompt, "Username", 8)) {
        const char *u = getenv("HL_GIT_USERNAME");
        printf("%s\n", u && *u ? u : "x-access-token");
        return 0;
    }
    const char *t = getenv("HL_GIT_TOKEN");
    if (!t || !*t) {
        fprintf(stderr, "hl-git-askpass: no token configured (token_file or token_credential)\n");
        return 1;
    }
    printf("%s\n", t);
    return 0;
}
