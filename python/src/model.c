/* model.c — cnncam._native.Model: a loaded model, what it says about itself,
 * and its pool of contexts. */
#include "native.h"

#include <stdlib.h>
#include <string.h>

cnncam_model *cc_py_model(ModelObject *m)
{
    if (!m->model)
        PyErr_SetString(PyExc_ValueError, "the model is closed");
    return m->model;
}

cnncam_ctx *cc_py_take_ctx(ModelObject *m)
{
    cnncam_ctx *ctx = NULL;
    PyThread_acquire_lock(m->lock, WAIT_LOCK);
    if (!m->model) {
        PyThread_release_lock(m->lock);
        PyErr_SetString(PyExc_ValueError, "the model is closed");
        return NULL;
    }
    if (m->npool)
        ctx = m->pool[--m->npool];
    else
        ctx = cnncam_ctx_create(m->model);
    if (ctx)
        m->busy++;
    PyThread_release_lock(m->lock);
    if (!ctx)
        PyErr_NoMemory();
    return ctx;
}

void cc_py_give_ctx(ModelObject *m, cnncam_ctx *ctx)
{
    PyThread_acquire_lock(m->lock, WAIT_LOCK);
    m->busy--;
    if (m->npool == m->cap) {
        int cap = m->cap ? 2 * m->cap : 4;
        cnncam_ctx **pool = realloc(m->pool, (size_t)cap * sizeof *pool);
        if (pool)
            m->pool = pool, m->cap = cap;
    }
    if (m->npool < m->cap)
        m->pool[m->npool++] = ctx;
    else
        cnncam_ctx_free(ctx);   /* out of memory for the pool: the next call makes another */
    PyThread_release_lock(m->lock);
}

static void free_pool(ModelObject *m)
{
    for (int i = 0; i < m->npool; i++)
        cnncam_ctx_free(m->pool[i]);
    free(m->pool);
    m->pool = NULL;
    m->npool = m->cap = 0;
}

static int model_init(ModelObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"path", NULL};
    PyObject *path_obj;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&", names, PyUnicode_FSConverter, &path_obj))
        return -1;
    if (self->model) {
        Py_DECREF(path_obj);
        PyErr_SetString(PyExc_RuntimeError, "Model.__init__ called twice");
        return -1;
    }
    if (!self->lock && !(self->lock = PyThread_allocate_lock())) {
        Py_DECREF(path_obj);
        PyErr_NoMemory();
        return -1;
    }
    char err[1024] = "";
    cnncam_status st;
    const char *path = PyBytes_AS_STRING(path_obj);
    Py_BEGIN_ALLOW_THREADS
    st = cnncam_model_load(path, &self->model, err, sizeof err);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_obj);
    if (st) {
        cc_py_raise(st, err);
        return -1;
    }
    return 0;
}

static void model_dealloc(ModelObject *self)
{
    free_pool(self);
    cnncam_model_free(self->model);
    if (self->lock)
        PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *model_close(ModelObject *self, PyObject *unused)
{
    (void)unused;
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    int busy = self->busy;
    if (!busy) {
        free_pool(self);
        cnncam_model_free(self->model);
        self->model = NULL;
    }
    PyThread_release_lock(self->lock);
    if (busy)
        return PyErr_Format(PyExc_RuntimeError, "the model cannot be closed while %d call%s on other threads "
                            "use%s it", busy, busy == 1 ? "" : "s", busy == 1 ? "s" : "");
    Py_RETURN_NONE;
}

static PyObject *float_tuple(const float *v, int n)
{
    PyObject *t = PyTuple_New(n);
    for (int i = 0; t && i < n; i++) {
        PyObject *f = PyFloat_FromDouble(v[i]);
        if (!f) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, f);
    }
    return t;
}

/* dict[key] = value, taking the reference to value; -1 on failure. */
static int put(PyObject *dict, const char *key, PyObject *value)
{
    if (!value)
        return -1;
    int r = PyDict_SetItemString(dict, key, value);
    Py_DECREF(value);
    return r;
}

static PyObject *string_list(const cnncam_model *m, int n, const char *(*name)(const cnncam_model *, int))
{
    PyObject *list = PyList_New(0);
    for (int i = 0; list && i < n; i++) {
        const char *s = name(m, i);
        PyObject *u = PyUnicode_FromString(s ? s : "");
        if (!u || PyList_Append(list, u))
            Py_CLEAR(list);
        Py_XDECREF(u);
    }
    return list;
}

/* Every name cnncam_ctx_set_layers takes: the module-path aliases first (what
 * people type), then the node names they alias or that have none. */
static PyObject *layer_names(const cnncam_model *m)
{
    PyObject *list = string_list(m, cnncam_model_alias_count(m), cnncam_model_alias_name);
    for (int i = 0; list && i < cnncam_model_node_count(m); i++) {
        if (i == cnncam_model_output_node(m))
            continue;   /* the logits are no layer to explain */
        PyObject *u = PyUnicode_FromString(cnncam_model_node_name(m, i));
        int have = u ? PySequence_Contains(list, u) : -1;
        if (have < 0 || (!have && PyList_Append(list, u)))
            Py_CLEAR(list);
        Py_XDECREF(u);
    }
    return list;
}

static PyObject *model_info(ModelObject *self, PyObject *unused)
{
    (void)unused;
    const cnncam_model *m = cc_py_model(self);
    if (!m)
        return NULL;
    int C = cnncam_model_channels(m), h = 0, w = 0, resize = 0, crop = 0;
    float mean[CNNCAM_MAX_CHANNELS], std[CNNCAM_MAX_CHANNELS];
    cnncam_model_channel_normalization(m, mean, std);
    const char *interpolation = NULL;
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    int bad = put(d, "classes", string_list(m, cnncam_model_classes(m), cnncam_model_label)) ||
              put(d, "layers", layer_names(m)) ||
              put(d, "default_layer", PyUnicode_FromString(cnncam_model_default_layer(m))) ||
              put(d, "channels", PyLong_FromLong(C)) ||
              put(d, "mean", float_tuple(mean, C)) || put(d, "std", float_tuple(std, C)) ||
              put(d, "output", PyUnicode_FromString(cnncam_model_output(m))) ||
              put(d, "multi_label", PyBool_FromLong(cnncam_model_multi_label(m))) ||
              put(d, "input_size", cnncam_model_input_size(m, &h, &w) ? Py_BuildValue("(ii)", h, w)
                                                                     : (Py_INCREF(Py_None), Py_None)) ||
              put(d, "eval_recipe", cnncam_model_eval_recipe(m, &resize, &crop, &interpolation)
                                        ? Py_BuildValue("{s:i,s:i,s:s}", "resize", resize, "crop", crop,
                                                        "interpolation", interpolation ? interpolation : "bilinear")
                                        : (Py_INCREF(Py_None), Py_None));
    if (bad)
        Py_CLEAR(d);
    return d;
}

/* The open model and a str argument, or NULL with the exception set. */
static const char *model_and_name(ModelObject *self, PyObject *arg, const cnncam_model **m)
{
    *m = cc_py_model(self);
    return *m ? PyUnicode_AsUTF8(arg) : NULL;
}

static PyObject *model_class_index(ModelObject *self, PyObject *arg)
{
    const cnncam_model *m;
    const char *name = model_and_name(self, arg, &m);
    if (!name)
        return NULL;
    int index;
    char err[512];
    cnncam_status st = cnncam_model_class_index(m, name, &index, err, sizeof err);
    return st ? cc_py_raise(st, err) : PyLong_FromLong(index);
}

/* layer_layout(name) -> (layout, shape): the node's node.layout entry (None
 * for a file without the key) and its output shape for one image at the
 * model's fixed size (224 x 224 when it has none). */
static PyObject *model_layer_layout(ModelObject *self, PyObject *arg)
{
    const cnncam_model *m;
    const char *name = model_and_name(self, arg, &m);
    if (!name)
        return NULL;
    const int node = cnncam_model_find_node(m, name);
    if (node < 0)
        return PyErr_Format(PyExc_ValueError, "the model has no layer '%s'", name);
    int h = 224, w = 224;
    cnncam_model_input_size(m, &h, &w);
    const int n = cnncam_model_node_count(m);
    cnncam_shape *shapes = PyMem_Malloc((size_t)n * sizeof *shapes);
    if (!shapes)
        return PyErr_NoMemory();
    char err[512];
    cnncam_status st = cnncam_model_node_shapes(m, h, w, shapes, err, sizeof err);
    PyObject *shape = st ? NULL : PyTuple_New(shapes[node].rank);
    for (int d = 0; shape && d < shapes[node].rank; d++)
        PyTuple_SET_ITEM(shape, d, PyLong_FromLong(shapes[node].dims[d]));
    PyMem_Free(shapes);
    if (st)
        return cc_py_raise(st, err);
    if (!shape)
        return NULL;
    const char *layout = cnncam_model_node_layout(m, node);
    return Py_BuildValue("(zN)", layout, shape);
}

/* preprocess(pixels): uint8 H x W x channels -> float32 C x H x W, normalised. */
static PyObject *model_preprocess(ModelObject *self, PyObject *arg)
{
    const cnncam_model *m = cc_py_model(self);
    if (!m)
        return NULL;
    PyArrayObject *px = cc_py_array(arg, NPY_UINT8, 3, "the image");
    if (!px)
        return NULL;
    int H = (int)PyArray_DIM(px, 0), W = (int)PyArray_DIM(px, 1), c = (int)PyArray_DIM(px, 2);
    npy_intp dims[3] = {cnncam_model_channels(m), H, W};
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(3, dims, NPY_FLOAT32);
    cnncam_status st = CNNCAM_ENOMEM;
    if (out) {
        Py_BEGIN_ALLOW_THREADS
        st = cnncam_preprocess_pixels(m, PyArray_DATA(px), c, W, H, PyArray_DATA(out));
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(px);
    if (st) {
        Py_XDECREF(out);
        if (st == CNNCAM_ENOMEM)
            return PyErr_NoMemory();
        return PyErr_Format(PyExc_ValueError, "an image of %d channel%s cannot be converted to the model's %d",
                            c, c == 1 ? "" : "s", cnncam_model_channels(m));
    }
    return (PyObject *)out;
}

/* probabilities(outputs): float32 N x classes -> float64, as cnncam_model_output says. */
static PyObject *model_probabilities(ModelObject *self, PyObject *arg)
{
    const cnncam_model *m = cc_py_model(self);
    if (!m)
        return NULL;
    PyArrayObject *z = cc_py_array(arg, NPY_FLOAT32, 2, "the outputs");
    if (!z)
        return NULL;
    int N = (int)PyArray_DIM(z, 0), K = (int)PyArray_DIM(z, 1);
    PyArrayObject *p = (PyArrayObject *)PyArray_SimpleNew(2, PyArray_DIMS(z), NPY_FLOAT64);
    char err[256] = "";
    cnncam_status st = p ? CNNCAM_OK : CNNCAM_ENOMEM;
    for (int i = 0; !st && i < N; i++)
        st = cnncam_probabilities(m, (const float *)PyArray_DATA(z) + (size_t)i * K, K,
                                  (double *)PyArray_DATA(p) + (size_t)i * K, err, sizeof err);
    Py_DECREF(z);
    if (st) {
        Py_XDECREF(p);
        return cc_py_raise(st, err);
    }
    return (PyObject *)p;
}

static PyObject *model_meta(ModelObject *self, PyObject *unused)
{
    (void)unused;
    const cnncam_model *m = cc_py_model(self);
    if (!m)
        return NULL;
    PyObject *d = PyDict_New();
    for (int i = 0; d; i++) {
        const char *key = cnncam_model_meta_key(m, i);
        if (!key)
            break;
        const char *type = cnncam_model_meta_type(m, key);
        PyObject *v = NULL;
        long long iv;
        double fv;
        const char *const *ss;
        const double *fs;
        int n;
        if (cnncam_model_meta_string(m, key))
            v = PyUnicode_FromString(cnncam_model_meta_string(m, key));
        else if (cnncam_model_meta_int(m, key, &iv))
            v = PyLong_FromLongLong(iv);
        else if (cnncam_model_meta_float(m, key, &fv))
            v = PyFloat_FromDouble(fv);
        else if (cnncam_model_meta_strings(m, key, &ss, &n)) {
            v = PyList_New(n);
            for (int j = 0; v && j < n; j++) {
                PyObject *u = PyUnicode_FromString(ss[j]);
                if (!u)
                    Py_CLEAR(v);
                else
                    PyList_SET_ITEM(v, j, u);
            }
        } else if (cnncam_model_meta_floats(m, key, &fs, &n)) {
            v = PyList_New(n);
            for (int j = 0; v && j < n; j++) {
                PyObject *f = PyFloat_FromDouble(fs[j]);
                if (!f)
                    Py_CLEAR(v);
                else
                    PyList_SET_ITEM(v, j, f);
            }
        } else
            v = PyUnicode_FromString(type ? type : "?");
        if (put(d, key, v))
            Py_CLEAR(d);
    }
    return d;
}

static PyObject *model_closed(ModelObject *self, void *unused)
{
    (void)unused;
    return PyBool_FromLong(self->model == NULL);
}

static PyMethodDef model_methods[] = {
    {"close", (PyCFunction)model_close, METH_NOARGS, "frees the model (not while calls run)"},
    {"info", (PyCFunction)model_info, METH_NOARGS, "a dict: classes, layers, default_layer, ..."},
    {"metadata", (PyCFunction)model_meta, METH_NOARGS, "the file's metadata as a dict"},
    {"class_index", (PyCFunction)model_class_index, METH_O, "class_index(name or index text) -> int"},
    {"layer_layout", (PyCFunction)model_layer_layout, METH_O,
     "layer_layout(name) -> (node.layout entry or None, output shape for one image)"},
    {"preprocess", (PyCFunction)model_preprocess, METH_O, "uint8 H x W x c -> float32 C x H x W"},
    {"probabilities", (PyCFunction)model_probabilities, METH_O, "float32 N x K outputs -> float64"},
    {"forward", (PyCFunction)(void (*)(void))cc_py_forward, METH_VARARGS | METH_KEYWORDS,
     "forward(x, threads) -> float32 N x K outputs"},
    {"explain", (PyCFunction)(void (*)(void))cc_py_explain, METH_VARARGS | METH_KEYWORDS,
     "explain(x, classes, layers, threads, options, intermediates, progress)"},
    {"guided", (PyCFunction)(void (*)(void))cc_py_guided, METH_VARARGS | METH_KEYWORDS,
     "guided(x, classes, extended, threads) -> float32 N x H x W x C"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef model_getset[] = {
    {"closed", (getter)model_closed, NULL, "True once closed", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cnncam._native.Model",
    .tp_basicsize = sizeof(ModelObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A loaded .ccm model (use cnncam.Model)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)model_init,
    .tp_dealloc = (destructor)model_dealloc,
    .tp_methods = model_methods,
    .tp_getset = model_getset,
};
