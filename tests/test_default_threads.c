/* tests/test_default_threads.c — the thread count a context starts with
 * (cnncam_default_threads, cnncam_ctx_threads in include/cnncam.h).
 *
 * Without CNNCAM_NUM_THREADS it is the number of CPUs in the process's
 * affinity mask, as sched_getaffinity reports it here (and 1 once the mask
 * is narrowed to one CPU, as `taskset -c 0` does); CNNCAM_NUM_THREADS=3
 * gives 3 whatever the CPUs; an invalid value ("abc", "0", "257", "", "2x")
 * falls back to the CPU count. A new context takes the default of the
 * moment it is created; an existing one keeps its own. */
#define _GNU_SOURCE  /* sched_getaffinity, CPU_COUNT */
#include "cnncam.h"
#include "testutil.h"
#include "weights/model.h"
#include "weights/writer.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The smallest model: input -> flatten -> linear 3 -> 2 (a context needs one). */
static cnncam_model *tiny_model(void)
{
    static const float w[6] = {1, 0, 0, 0, 1, 0};
    cc_model_writer *wr = cc_writer_create();
    cc_writer_meta_int(wr, "classes", 2);
    cc_writer_tensor(wr, "fc.weight", CC_DTYPE_F32, cc_shape2(2, 3), w);
    const double one[] = {1};
    const cc_writer_attr flat_attrs[] = {{"start_dim", one, 1}};
    const cc_writer_param fc_p[] = {{"weight", "fc.weight"}};
    int x = cc_writer_input(wr, "input");
    int flat = cc_writer_node(wr, "flatten", "flatten", &x, 1, NULL, 0, flat_attrs, 1);
    cc_writer_output(wr, cc_writer_node(wr, "fc", "linear", &flat, 1, fc_p, 1, NULL, 0));
    char path[64], err[256];
    snprintf(path, sizeof path, "/tmp/cnncam-test-threads-%d.ccm", (int)getpid());
    cc_error e;
    cnncam_model *m = NULL;
    if (cc_writer_to_file(wr, path, &e) || cnncam_model_load(path, &m, err, sizeof err)) {
        fprintf(stderr, "cannot write or load the test model\n");
        exit(3);
    }
    cc_writer_free(wr);
    unlink(path);
    return m;
}

int main(void)
{
    cpu_set_t mask;
    tu_check(sched_getaffinity(0, sizeof mask, &mask) == 0, "sched_getaffinity");
    const int cpus = CPU_COUNT(&mask) > 256 ? 256 : CPU_COUNT(&mask);
    cnncam_model *m = tiny_model();

    unsetenv("CNNCAM_NUM_THREADS");
    tu_check(cnncam_default_threads() == cpus, "default %d threads, the affinity mask holds %d CPUs",
             cnncam_default_threads(), cpus);
    cnncam_ctx *a = cnncam_ctx_create(m);
    tu_check(cnncam_ctx_threads(a) == cpus, "a new context has %d threads, want %d", cnncam_ctx_threads(a), cpus);

    setenv("CNNCAM_NUM_THREADS", "3", 1);
    tu_check(cnncam_default_threads() == 3, "CNNCAM_NUM_THREADS=3 gives %d", cnncam_default_threads());
    cnncam_ctx *b = cnncam_ctx_create(m);
    tu_check(cnncam_ctx_threads(b) == 3 && cnncam_ctx_threads(a) == cpus,
             "contexts made before and after CNNCAM_NUM_THREADS=3: %d and %d", cnncam_ctx_threads(a),
             cnncam_ctx_threads(b));
    tu_check(cnncam_ctx_set_threads(b, 5) == CNNCAM_OK && cnncam_ctx_threads(b) == 5, "set 5: %d",
             cnncam_ctx_threads(b));
    static const char *const invalid[] = {"abc", "0", "257", "", "2x", "-1"};
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
        setenv("CNNCAM_NUM_THREADS", invalid[i], 1);
        tu_check(cnncam_default_threads() == cpus, "CNNCAM_NUM_THREADS='%s' gives %d, want the CPU count %d",
                 invalid[i], cnncam_default_threads(), cpus);
    }
    unsetenv("CNNCAM_NUM_THREADS");

    cpu_set_t one;
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &mask)) {
            CPU_SET(c, &one);
            break;
        }
    tu_check(sched_setaffinity(0, sizeof one, &one) == 0, "narrowing the mask to one CPU");
    tu_check(cnncam_default_threads() == 1, "on one CPU the default is %d threads", cnncam_default_threads());
    sched_setaffinity(0, sizeof mask, &mask);

    cnncam_ctx_free(a);
    cnncam_ctx_free(b);
    cnncam_model_free(m);
    printf("default threads: %d (the affinity mask), 1 on one CPU, CNNCAM_NUM_THREADS=3 gives 3, invalid values "
           "the CPU count\n", cpus);
    return tu_finish("default_threads");
}
