/* hl-git-askpass: git's GIT_ASKPASS helper for hl-git-sync. git runs it
 * with its prompt as the only argument; it prints the username for a
 * "Username" prompt and the token for any other (a password or
 * passphrase), the token read from the file HL_GIT_ASKPASS_FILE names (a
 * path, never the secret itself, is all that is in the environment). The
 * token is never in argv: hl-git-sync writes the file, 0600 and the
 * workspace owner's, for the length of one fetch or push. */
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
    const char *path = getenv("HL_GIT_ASKPASS_FILE");
    if (!path || !*path) {
        fprintf(stderr, "hl-git-askpass: no token configured (token_file or token_credential)\n");
        return 1;
    }
    FILE *f = fopen(path, "re");
    if (!f) {
        fprintf(stderr, "hl-git-askpass: cannot read the token file\n");
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    fclose(f);
    if (n <= 0) {
        free(line);
        fprintf(stderr, "hl-git-askpass: the token file is empty\n");
        return 1;
    }
    line[strcspn(line, "\r\n")] = '\0';
    printf("%s\n", line);
    memset(line, 0, (size_t)n);
    free(line);
    return 0;
}
