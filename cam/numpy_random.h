/* cam/numpy_random.h — numpy's legacy RandomState: the stream that
 * np.random.seed(s) / np.random.RandomState(s) and then
 * np.random.uniform(low, high, n) produce (numpy 1.24; RandomCAM's channel
 * weights, CAM_METHODS.md 2.12), bit for bit.
 *
 *   seed      MT19937 seeded as numpy's _legacy_seeding does for an integer
 *             0 <= s < 2^32: mt19937_seed (numpy/random/src/mt19937/mt19937.c),
 *             Knuth's recurrence key[i] = 1812433253 (key[i-1] ^ key[i-1] >> 30)
 *             + i, i.e. the reference init_genrand (an array seed would go
 *             through init_by_array instead; numpy does that only for arrays)
 *   sample    random_sample: a = next() >> 5, b = next() >> 6,
 *             (a 2^26 + b) / 2^53, a double in [0, 1) with 53 random bits
 *   uniform   low + (high - low) * sample, one sample per value, in order
 *
 * The state belongs to the caller; nothing here is global. */
#ifndef CC_NUMPY_RANDOM_H
#define CC_NUMPY_RANDOM_H

#include <stddef.h>
#include <stdint.h>

enum { CC_MT19937_N = 624 };

typedef struct {
    uint32_t key[CC_MT19937_N];
    int pos;                    /* next word of key; CC_MT19937_N: regenerate first */
} cc_numpy_random;

void cc_numpy_random_seed(cc_numpy_random *rs, uint32_t seed);

/* np.random.random_sample(): [0, 1). */
double cc_numpy_random_sample(cc_numpy_random *rs);

/* np.random.uniform(low, high, n) into out. */
void cc_numpy_random_uniform(cc_numpy_random *rs, double low, double high, double *out, size_t n);

#endif
