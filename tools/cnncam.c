/* tools/cnncam.c — the command-line tool. */
#include <stdio.h>
#include <string.h>

#define CNNCAM_VERSION "0.1.0-dev"

static const char usage[] =
    "usage: cnncam [--help] [--version]\n"
    "\n"
    "cnncam computes Grad-CAM heatmaps for CNNs without Python.\n"
    "This development build contains the engine core (layers, tape, backward);\n"
    "model loading and the cam/predict/info commands are not built yet.\n"
    "\n"
    "exit codes: 0 ok, 1 usage error\n";

int main(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "--version")) {
        printf("cnncam %s\n", CNNCAM_VERSION);
        return 0;
    }
    fputs(usage, stderr);
    return 1;
}
