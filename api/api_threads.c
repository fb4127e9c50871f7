/* api/api_threads.c — the thread count a new context starts with
 * (cnncam_default_threads, include/cnncam.h). */
#include "cnncam.h"
#include "runtime/parallel.h"

#include <errno.h>
#include <stdlib.h>

int cnncam_default_threads(void)
{
    const char *s = getenv("CNNCAM_NUM_THREADS");
    if (s && *s) {
        char *end;
        errno = 0;
        const long n = strtol(s, &end, 10);
        if (!*end && !errno && n >= 1 && n <= CC_MAX_THREADS)
            return (int)n;
    }
    return cc_parallel_cpus();  /* unset or invalid: every CPU the process may use */
}
