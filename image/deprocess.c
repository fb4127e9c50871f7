/* image/deprocess.c — deprocess_image in numpy's float32 arithmetic
 * (image/deprocess.h). */
#include "deprocess.h"

#include "core/numpy_sum.h"

#include <math.h>

/* The values deprocess_image sees: gb, or mask * gb; minus `shift` and
 * squared when square is set (np.std's second pass). */
typedef struct {
    const float *gb, *mask;
    int channels;
    int square;
    float shift;
} values;

static float value_at(const values *v, size_t i)
{
    float x = v->mask ? v->mask[i / (size_t)v->channels] * v->gb[i] : v->gb[i];
    if (v->square) {
        x = x - v->shift;
        x = x * x;
    }
    return x;
}

/* np.add.reduce over n values as numpy runs it: buffer by buffer
 * (cc_numpy_sum, for values formed on the fly). */
static float numpy_sum(const values *v, size_t n)
{
    float buf[CC_NUMPY_BUFFER], total = 0;
    for (size_t start = 0; start < n; start += CC_NUMPY_BUFFER) {
        const size_t len = n - start < CC_NUMPY_BUFFER ? n - start : CC_NUMPY_BUFFER;
        for (size_t k = 0; k < len; k++)
            buf[k] = value_at(v, start + k);
        total += cc_numpy_pairwise_sum(buf, len);
    }
    return total;
}

void cc_deprocess(unsigned char *out, const float *gb, const float *mask, size_t pixels, int channels)
{
    const size_t n = pixels * (size_t)channels;
    values v = {gb, mask, channels, 0, 0};
    const float sum = numpy_sum(&v, n);
    const float mean = (float)((double)sum / (double)n);  /* np.mean: a scalar divided in double */
    v.square = 1;
    v.shift = sum / (float)n;  /* np.std's mean: true_divide on a float32 array */
    const float var = (float)((double)numpy_sum(&v, n) / (double)n);
    const float denom = (float)((double)sqrtf(var) + 1e-5);
    v.square = 0;
    for (size_t i = 0; i < n; i++) {
        float y = value_at(&v, i) - mean;
        y = y / denom;
        y = y * 0.1f;
        y = y + 0.5f;
        y = y < 0 ? 0 : y > 1 ? 1 : y;
        y = y * 255.0f;
        out[i] = y == y ? (unsigned char)y : 0;  /* NaN (a NaN gradient): 0, as numpy's cast gives on x86 */
    }
}
