/* api/api_probabilities.c — cnncam_probabilities (include/cnncam.h): each
 * class's probability from the model's output values, as its metadata
 * 'output' says what they are. In double: the CLI prints them with 9 digits. */
#include "api/api_internal.h"

#include <math.h>
#include <string.h>

cnncam_status cnncam_probabilities(const cnncam_model *m, const float *outputs, int n, double *p, char *err,
                                   size_t errlen)
{
    if (!m || !outputs || !p)
        return cc_api_report(err, errlen, CNNCAM_EINVAL, "cnncam_probabilities: the model, outputs and p are needed");
    if (n < 1)
        return cc_api_report(err, errlen, CNNCAM_EINVAL,
                             "cnncam_probabilities: n is the number of outputs, at least 1");
    const char *output = cc_model_output(m->file);
    const int sigmoid = !strcmp(output, "sigmoid"), as_is = !strcmp(output, "probabilities"),
              log_p = !strcmp(output, "log_probabilities");
    if (sigmoid || as_is || log_p) {
        for (int i = 0; i < n; i++)
            p[i] = sigmoid ? 1 / (1 + exp(-(double)outputs[i])) : log_p ? exp((double)outputs[i]) : outputs[i];
        return CNNCAM_OK;
    }
    double mx = outputs[0], sum = 0;  /* softmax, shifted by the largest so exp cannot overflow */
    for (int i = 1; i < n; i++)
        mx = outputs[i] > mx ? outputs[i] : mx;
    for (int i = 0; i < n; i++)
        sum += (p[i] = exp((double)outputs[i] - mx));
    for (int i = 0; i < n; i++)
        p[i] /= sum;
    return CNNCAM_OK;
}
