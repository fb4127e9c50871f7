/* core/numpy_sum.c — numpy's float32 summation order; see numpy_sum.h. */
#include "core/numpy_sum.h"

enum { PAIRWISE_BLOCK = 128 };

float cc_numpy_pairwise_sum(const float *a, size_t n)
{
    if (n < 8) {
        float res = 0;
        for (size_t i = 0; i < n; i++)
            res += a[i];
        return res;
    }
    if (n <= PAIRWISE_BLOCK) {
        float r[8];
        size_t i;
        for (int j = 0; j < 8; j++)
            r[j] = a[j];
        for (i = 8; i < n - n % 8; i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += a[i + j];
        float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return cc_numpy_pairwise_sum(a, n2) + cc_numpy_pairwise_sum(a + n2, n - n2);
}

float cc_numpy_sum(const float *a, size_t n)
{
    float total = 0;
    for (size_t start = 0; start < n; start += CC_NUMPY_BUFFER) {
        const size_t len = n - start < CC_NUMPY_BUFFER ? n - start : CC_NUMPY_BUFFER;
        total += cc_numpy_pairwise_sum(a + start, len);
    }
    return total;
}
