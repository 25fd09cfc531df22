/* The replay build of a fuzz target: what runs in every ctest, without
 * libFuzzer (gcc, ASan). It feeds the target's LLVMFuzzerTestOneInput the
 * seeds it is given (files, or directories of them, recursively), a number
 * of mutations of each, then random inputs and the target's built-in ones.
 * One driver for every target, so that they differ only in what their
 * inputs are made of, said in a fuzz_replay_t. FUZZ_REPLAY_LAST=FILE in the
 * environment keeps the input being run in FILE (the one a crash left). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fuzz_replay {
    const char *name;         /* the target, in messages */
    size_t max_len;           /* a seed is cut to this many bytes (0: 4096) */
    int mutations;            /* mutated copies of each seed */
    int max_edits;            /* each copy has 1..max_edits edits (0: 4) */
    const char *alphabet;     /* bytes the inputs are made of (NULL: any byte) */
    size_t alphabet_len;      /* 0: strlen(alphabet) (set it when a NUL is one) */
    bool extend_from_alphabet; /* bytes appended by an edit come from it too */
    int random_inputs;        /* after the seeds: inputs of random bytes ... */
    size_t random_min, random_max; /* ... of random_min + [0, random_max) bytes */
    bool random_from_alphabet;
    /* a target whose input starts with a mode byte: each input runs once
     * per mode 0..modes-1 behind that byte (and, with mode_flag, once more
     * per mode with the flag or'ed in); 0: inputs run as they are */
    unsigned modes;
    uint8_t mode_flag;
    /* the target's built-in inputs, after everything else: how many it ran */
    size_t (*builtin)(void);
    const char *verdict;      /* what a run that ends says (default "no crash") */
} fuzz_replay_t;

/* main() of a replay build: 0 when anything ran, 2 when nothing did (no
 * seed found), 1 when a seed given cannot be read. */
int fuzz_replay_main(int argc, char **argv, const fuzz_replay_t *how);
