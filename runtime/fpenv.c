/* runtime/fpenv.c — flush-to-zero for the duration of a run (fpenv.h). */
#include "runtime/fpenv.h"

unsigned cc_fpenv_enter(void)
{
    const unsigned saved = cc_fpenv_get();
#ifdef CC_FPENV_X86
    cc_fpenv_set(saved | CC_MXCSR_FTZ | CC_MXCSR_DAZ);
#endif
    return saved;
}

void cc_fpenv_leave(unsigned saved)
{
    cc_fpenv_set(saved);
}
