/* api/api_status.c — the library's own answers (include/cnncam.h: its
 * version, status names, the CPUs it may use) and the error rule's helper for
 * functions without a context. */
#include "api/api_internal.h"
#include "runtime/parallel.h"

#include <stdio.h>

cnncam_status cc_api_report(char *err, size_t errlen, cnncam_status st, const char *msg)
{
    if (st && err && errlen)
        snprintf(err, errlen, "%s", msg);
    return st;
}

const char *cnncam_version(void)
{
    return CNNCAM_VERSION;  /* as this library was compiled */
}

const char *cnncam_status_name(cnncam_status st)
{
    switch (st) {
    case CNNCAM_OK: return "CNNCAM_OK";
    case CNNCAM_EINVAL: return "CNNCAM_EINVAL";
    case CNNCAM_EFORMAT: return "CNNCAM_EFORMAT";
    case CNNCAM_ENOMEM: return "CNNCAM_ENOMEM";
    case CNNCAM_EIO: return "CNNCAM_EIO";
    case CNNCAM_ESTATE: return "CNNCAM_ESTATE";
    }
    return "CNNCAM_UNKNOWN";
}

int cnncam_cpu_count(void)
{
    return cc_parallel_cpus();
}
