/* tools/cli.h — what the cnncam subcommands share. */
#ifndef CC_CLI_H
#define CC_CLI_H

#include <stdio.h>

/* Exit codes, as --help documents them. */
enum { EXIT_OK = 0, EXIT_USAGE = 1, EXIT_INPUT = 2, EXIT_INTERNAL = 3 };

int cmd_info(int argc, char **argv);
int cmd_cam(int argc, char **argv, int predict_only);
int cmd_convert(int argc, char **argv);

/* Parses "S" or "HxW" (1 to 16384 each). */
int cli_parse_size(const char *s, int *h, int *w);

/* The thread count of a run without --threads: CNNCAM_NUM_THREADS if set
 * (1 to 256), else every CPU the process may use (cnncam_default_threads).
 * 0 with a message in err when the variable holds anything else. */
int cli_default_threads(char *err, size_t len);

/* Writes s as a JSON string literal. */
void cli_json_string(FILE *f, const char *s);

#endif
