/* run.c — forward, explanation and guided backpropagation on a Model, each on
 * a context of the model's pool, with the GIL released while the library
 * computes. */
#include "native.h"

#include <string.h>

/* The options dict python/cnncam/__init__.py builds, into o. Strings point
 * into the dict's values (alive while the dict is); -1 with a ValueError for
 * an unknown key or a value of the wrong type. */
static int read_options(PyObject *dict, cnncam_cam_options *o)
{
    cnncam_cam_options_init(o);
    if (dict == Py_None)
        return 0;
    if (!PyDict_Check(dict)) {
        PyErr_SetString(PyExc_TypeError, "options must be a dict");
        return -1;
    }
    PyObject *key, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(dict, &pos, &key, &v)) {
        const char *k = PyUnicode_AsUTF8(key);
        if (!k)
            return -1;
        if (v == Py_None)
            continue;   /* the library's default */
        if (!strcmp(k, "method") || !strcmp(k, "kpca_kernel")) {
            const char *s = PyUnicode_AsUTF8(v);
            if (!s)
                return -1;
            *(!strcmp(k, "method") ? &o->method : &o->kpca_kernel) = s;
        } else if (!strcmp(k, "ablation_ratio") || !strcmp(k, "kpca_gamma") || !strcmp(k, "finer_alpha")) {
            double d = PyFloat_AsDouble(v);
            if (d == -1.0 && PyErr_Occurred())
                return -1;
            *(!strcmp(k, "ablation_ratio") ? &o->ablation_ratio : !strcmp(k, "kpca_gamma") ? &o->kpca_gamma
                                                                                          : &o->finer_alpha) = d;
        } else if (!strcmp(k, "seed")) {
            long long s = PyLong_AsLongLong(v);
            if (s == -1 && PyErr_Occurred())
                return -1;
            o->seed = s;
        } else {
            int *field = !strcmp(k, "target") ? (int *)&o->target : !strcmp(k, "aug_smooth") ? &o->aug_smooth
                       : !strcmp(k, "eigen_smooth") ? &o->eigen_smooth : !strcmp(k, "batch_size") ? &o->batch_size
                       : !strcmp(k, "eigen_sign") ? &o->eigen_sign : !strcmp(k, "guided") ? &o->guided
                       : !strcmp(k, "guided_extended") ? &o->guided_extended : NULL;
            if (!field) {
                PyErr_Format(PyExc_ValueError, "unknown explanation option '%s'", k);
                return -1;
            }
            long n = PyLong_AsLong(v);
            if (n == -1 && PyErr_Occurred())
                return -1;
            if (n < -2147483647L || n > 2147483647L) {
                PyErr_Format(PyExc_ValueError, "%s = %ld is out of range", k, n);
                return -1;
            }
            *field = (int)n;
        }
    }
    return 0;
}

/* Sets ctx's threads (0: the library's default) and layers (NULL or None:
 * the model's recommended one); the number of layers, or -1 with the
 * exception set. */
static int set_threads_layers(cnncam_ctx *ctx, const cnncam_model *m, int threads, PyObject *layers)
{
    if (cnncam_ctx_set_threads(ctx, threads > 0 ? threads : cnncam_default_threads())) {
        cc_py_raise(CNNCAM_EINVAL, cnncam_ctx_error(ctx));
        return -1;
    }
    const char *names[CNNCAM_MAX_LAYERS] = {cnncam_model_default_layer(m)};
    int n = 1;
    PyObject *seq = NULL;   /* holds the names' strings until set_layers has copied them */
    if (layers && layers != Py_None) {
        if (!(seq = PySequence_Fast(layers, "layers must be a sequence of names")))
            return -1;
        n = (int)PySequence_Fast_GET_SIZE(seq);
        if (n < 1 || n > CNNCAM_MAX_LAYERS) {
            Py_DECREF(seq);
            PyErr_Format(PyExc_ValueError, "between 1 and %d layers can be explained at once, not %d",
                         CNNCAM_MAX_LAYERS, n);
            return -1;
        }
        for (int i = 0; i < n; i++)
            if (!(names[i] = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i)))) {
                Py_DECREF(seq);
                return -1;
            }
    }
    cnncam_status st = cnncam_ctx_set_layers(ctx, names, n);
    Py_XDECREF(seq);
    if (st) {
        cc_py_raise(st, cnncam_ctx_error(ctx));
        return -1;
    }
    return n;
}

/* x as the batch the library takes: float32 N x C x H x W of the model's C. */
static PyArrayObject *batch_of(const cnncam_model *m, PyObject *x)
{
    PyArrayObject *a = cc_py_array(x, NPY_FLOAT32, 4, "the input batch");
    if (a && PyArray_DIM(a, 1) != cnncam_model_channels(m)) {
        PyErr_Format(PyExc_ValueError, "the input batch has %zd channels; the model takes %d",
                     (Py_ssize_t)PyArray_DIM(a, 1), cnncam_model_channels(m));
        Py_CLEAR(a);
    }
    return a;
}

/* Copies the forward's outputs into a new float32 N x K array. */
static PyArrayObject *outputs_of(const cnncam_ctx *ctx, const cnncam_model *m, int N)
{
    npy_intp dims[2] = {N, cnncam_model_classes(m)};
    PyArrayObject *z = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    for (int i = 0; z && i < N; i++)
        memcpy((float *)PyArray_DATA(z) + (size_t)i * dims[1], cnncam_logits(ctx, i), (size_t)dims[1] * sizeof(float));
    return z;
}

PyObject *cc_py_forward(ModelObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"x", "threads", NULL};
    PyObject *x;
    int threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|i", names, &x, &threads))
        return NULL;
    const cnncam_model *m = cc_py_model(self);
    PyArrayObject *a = m ? batch_of(m, x) : NULL;
    if (!a)
        return NULL;
    cnncam_ctx *ctx = cc_py_take_ctx(self);
    PyObject *result = NULL;
    cnncam_cam_options o;
    cnncam_cam_options_init(&o);
    if (ctx && set_threads_layers(ctx, m, threads, NULL) > 0) {
        cnncam_status st = cnncam_ctx_set_cam_options(ctx, &o);
        if (!st) {
            Py_BEGIN_ALLOW_THREADS
            st = cnncam_forward(ctx, PyArray_DATA(a), (int)PyArray_DIM(a, 0), (int)PyArray_DIM(a, 2),
                                (int)PyArray_DIM(a, 3));
            Py_END_ALLOW_THREADS
        }
        result = st ? cc_py_raise(st, cnncam_ctx_error(ctx)) : (PyObject *)outputs_of(ctx, m, (int)PyArray_DIM(a, 0));
    }
    if (ctx)
        cc_py_give_ctx(self, ctx);
    Py_DECREF(a);
    return result;
}

/* A Python callable as a cnncam_progress_fn: called on the thread that runs
 * the method (which released the GIL); its first exception is kept and
 * raised when the run returns. */
typedef struct {
    PyObject *fn;
    PyObject *type, *value, *tb;
} progress_cb;

static void progress_trampoline(void *user, int done, int total)
{
    progress_cb *p = user;
    PyGILState_STATE g = PyGILState_Ensure();
    if (!p->type) {
        PyObject *r = PyObject_CallFunction(p->fn, "ii", done, total);
        if (r)
            Py_DECREF(r);
        else
            PyErr_Fetch(&p->type, &p->value, &p->tb);
    }
    PyGILState_Release(g);
}

/* For each chosen layer: a dict of activations, gradients, weights and raw
 * map, batch first (None where the method has none). */
static PyObject *copy_rows(const cnncam_ctx *ctx, const float *(*get)(const cnncam_ctx *, int, int), int l, int N,
                           int nd, npy_intp *dims, size_t row)
{
    if (!get(ctx, l, 0))
        Py_RETURN_NONE;
    PyArrayObject *a = (PyArrayObject *)PyArray_SimpleNew(nd, dims, NPY_FLOAT32);
    for (int i = 0; a && i < N; i++)
        memcpy((float *)PyArray_DATA(a) + (size_t)i * row, get(ctx, l, i), row * sizeof(float));
    return (PyObject *)a;
}

static PyObject *intermediates_of(const cnncam_ctx *ctx, int nlayers, int N)
{
    PyObject *list = PyList_New(nlayers);
    for (int l = 0; list && l < nlayers; l++) {
        int C, h, w;
        if (cnncam_layer_shape(ctx, l, &C, &h, &w)) {
            Py_CLEAR(list);
            return cc_py_raise(CNNCAM_ESTATE, "no layer results after the run");
        }
        npy_intp act[4] = {N, C, h, w}, wts[2] = {N, C}, raw[3] = {N, h, w};
        size_t hw = (size_t)h * w;
        PyObject *d = Py_BuildValue("{s:N,s:N,s:N,s:N}",
                                    "activations", copy_rows(ctx, cnncam_activation, l, N, 4, act, C * hw),
                                    "gradients", copy_rows(ctx, cnncam_gradient, l, N, 4, act, C * hw),
                                    "weights", copy_rows(ctx, cnncam_channel_weights, l, N, 2, wts, (size_t)C),
                                    "raw", copy_rows(ctx, cnncam_raw_map, l, N, 3, raw, hw));
        if (!d)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, l, d);
    }
    return list;
}

/* classes: None (every image's top class, chosen after the forward) or an
 * int32 array of N (-1: CNNCAM_TOP_CLASS, each of the method's forwards
 * taking its own best, as the reference's targets=None). */
static PyArrayObject *classes_of(PyObject *classes, int N)
{
    npy_intp dims[1] = {N};
    if (classes == Py_None) {
        PyArrayObject *c = (PyArrayObject *)PyArray_SimpleNew(1, dims, NPY_INT32);
        for (int i = 0; c && i < N; i++)
            ((int *)PyArray_DATA(c))[i] = CNNCAM_TOP_CLASS;
        return c;
    }
    PyArrayObject *c = cc_py_array(classes, NPY_INT32, 1, "classes");
    if (c && PyArray_DIM(c, 0) != N) {
        PyErr_Format(PyExc_ValueError, "%zd classes for %d images", (Py_ssize_t)PyArray_DIM(c, 0), N);
        Py_CLEAR(c);
    }
    return c;
}

PyObject *cc_py_explain(ModelObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"x", "classes", "layers", "threads", "options", "intermediates", "progress", NULL};
    PyObject *x, *classes = Py_None, *layers = Py_None, *options = Py_None, *progress = Py_None;
    int threads = 0, want_layers = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOiOpO", names, &x, &classes, &layers, &threads, &options,
                                     &want_layers, &progress))
        return NULL;
    if (progress != Py_None && !PyCallable_Check(progress))
        return PyErr_Format(PyExc_TypeError, "progress must be callable");
    const cnncam_model *m = cc_py_model(self);
    PyArrayObject *a = m ? batch_of(m, x) : NULL;
    if (!a)
        return NULL;
    const int N = (int)PyArray_DIM(a, 0), H = (int)PyArray_DIM(a, 2), W = (int)PyArray_DIM(a, 3);
    PyArrayObject *cls = classes_of(classes, N);
    npy_intp mdims[3] = {N, H, W}, cdims[1] = {N};
    PyArrayObject *maps = cls ? (PyArrayObject *)PyArray_SimpleNew(3, mdims, NPY_FLOAT32) : NULL;
    PyArrayObject *used = maps ? (PyArrayObject *)PyArray_SimpleNew(1, cdims, NPY_INT64) : NULL;
    cnncam_ctx *ctx = used ? cc_py_take_ctx(self) : NULL;
    PyObject *result = NULL;
    cnncam_cam_options o;
    progress_cb cb = {progress, NULL, NULL, NULL};
    int nlayers = 0;
    if (ctx && !read_options(options, &o) && (nlayers = set_threads_layers(ctx, m, threads, layers)) > 0) {
        if (progress != Py_None)
            o.progress = progress_trampoline, o.progress_user = &cb;
        cnncam_status st = cnncam_ctx_set_cam_options(ctx, &o);
        const int *want = PyArray_DATA(cls);
        long long *got = PyArray_DATA(used);
        if (!st) {
            Py_BEGIN_ALLOW_THREADS
            st = cnncam_forward(ctx, PyArray_DATA(a), N, H, W);
            for (int i = 0; !st && i < N; i++)
                got[i] = want[i] == CNNCAM_TOP_CLASS ? cnncam_top_class(ctx, i) : want[i];
            if (!st && classes == Py_None)  /* the class of the image as given, also for every augmentation */
                for (int i = 0; i < N; i++)
                    ((int *)PyArray_DATA(cls))[i] = (int)got[i];
            if (!st)
                st = cnncam_cam(ctx, want, PyArray_DATA(maps));
            Py_END_ALLOW_THREADS
        }
        if (cb.type)
            PyErr_Restore(cb.type, cb.value, cb.tb);
        else if (st)
            cc_py_raise(st, cnncam_ctx_error(ctx));
        else {
            PyObject *z = (PyObject *)outputs_of(ctx, m, N);
            PyObject *inter = z && want_layers ? intermediates_of(ctx, nlayers, N)
                                               : (Py_INCREF(Py_None), Py_None);
            if (z && inter)
                result = Py_BuildValue("(OOOO)", maps, used, z, inter);
            Py_XDECREF(z);
            Py_XDECREF(inter);
        }
    }
    if (ctx)
        cc_py_give_ctx(self, ctx);
    Py_DECREF(a);
    Py_XDECREF(cls);
    Py_XDECREF(maps);
    Py_XDECREF(used);
    return result;
}

PyObject *cc_py_guided(ModelObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"x", "classes", "extended", "threads", NULL};
    PyObject *x, *classes = Py_None;
    int extended = 0, threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|Opi", names, &x, &classes, &extended, &threads))
        return NULL;
    const cnncam_model *m = cc_py_model(self);
    PyArrayObject *a = m ? batch_of(m, x) : NULL;
    if (!a)
        return NULL;
    const int N = (int)PyArray_DIM(a, 0), C = (int)PyArray_DIM(a, 1), H = (int)PyArray_DIM(a, 2),
              W = (int)PyArray_DIM(a, 3);
    PyArrayObject *cls = classes_of(classes, N);
    npy_intp dims[4] = {N, H, W, C};
    PyArrayObject *out = cls ? (PyArrayObject *)PyArray_SimpleNew(4, dims, NPY_FLOAT32) : NULL;
    cnncam_ctx *ctx = out ? cc_py_take_ctx(self) : NULL;
    PyObject *result = NULL;
    cnncam_cam_options o;
    cnncam_cam_options_init(&o);
    o.guided = 1, o.guided_extended = extended;
    if (ctx && set_threads_layers(ctx, m, threads, NULL) > 0) {
        cnncam_status st = cnncam_ctx_set_cam_options(ctx, &o);
        const int *want = PyArray_DATA(cls);
        if (!st) {
            Py_BEGIN_ALLOW_THREADS
            st = cnncam_forward(ctx, PyArray_DATA(a), N, H, W);
            for (int i = 0; !st && i < N; i++)
                st = cnncam_guided_backprop(ctx, i, want[i], (float *)PyArray_DATA(out) + (size_t)i * H * W * C);
            Py_END_ALLOW_THREADS
        }
        if (st)
            cc_py_raise(st, cnncam_ctx_error(ctx));
        else
            result = (PyObject *)out, Py_INCREF(out);
    }
    if (ctx)
        cc_py_give_ctx(self, ctx);
    Py_DECREF(a);
    Py_XDECREF(cls);
    Py_XDECREF(out);
    return result;
}
