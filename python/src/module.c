/* module.c — cnncam._native: the module, its errors and its array checks. */
#define CNNCAM_PY_MODULE_C
#include "native.h"

PyObject *cc_py_raise(cnncam_status st, const char *msg)
{
    PyObject *type = PyExc_RuntimeError;
    switch (st) {
    case CNNCAM_EINVAL:
    case CNNCAM_EFORMAT:
        type = PyExc_ValueError;
        break;
    case CNNCAM_EIO:
        type = PyExc_OSError;
        break;
    case CNNCAM_ENOMEM:
        type = PyExc_MemoryError;
        break;
    default:
        break;
    }
    PyErr_SetString(type, msg && *msg ? msg : cnncam_status_name(st));
    return NULL;
}

PyArrayObject *cc_py_array(PyObject *arr, int type, int rank, const char *what)
{
    if (!PyArray_Check(arr)) {
        PyErr_Format(PyExc_ValueError, "%s must be a numpy array, not %s", what, Py_TYPE(arr)->tp_name);
        return NULL;
    }
    PyArrayObject *a = (PyArrayObject *)arr;
    if (PyArray_TYPE(a) != type) {
        PyArray_Descr *want = PyArray_DescrFromType(type);
        PyErr_Format(PyExc_ValueError, "%s must be a %s array, not %s", what,
                     want ? want->typeobj->tp_name : "?", PyArray_DESCR(a)->typeobj->tp_name);
        Py_XDECREF(want);
        return NULL;
    }
    if (rank ? PyArray_NDIM(a) != rank : PyArray_NDIM(a) < 1 || PyArray_NDIM(a) > 4) {
        if (rank)
            PyErr_Format(PyExc_ValueError, "%s must have %d dimensions, not %d", what, rank, PyArray_NDIM(a));
        else
            PyErr_Format(PyExc_ValueError, "%s must have 1 to 4 dimensions, not %d", what, PyArray_NDIM(a));
        return NULL;
    }
    if (!PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISALIGNED(a) || PyArray_ISBYTESWAPPED(a)) {
        PyErr_Format(PyExc_ValueError, "%s must be C-contiguous, aligned and in native byte order "
                     "(numpy.ascontiguousarray makes such a copy)", what);
        return NULL;
    }
    for (int d = 0; d < PyArray_NDIM(a); d++)
        if (PyArray_DIM(a, d) < 1 || PyArray_DIM(a, d) > (1 << 30)) {
            PyErr_Format(PyExc_ValueError, "%s has a dimension of %zd", what, (Py_ssize_t)PyArray_DIM(a, d));
            return NULL;
        }
    Py_INCREF(a);
    return a;
}

static PyObject *py_methods(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    PyObject *list = PyList_New(0);
    for (int i = 0; list && cnncam_method_name(i); i++) {
        PyObject *t = Py_BuildValue("(ss)", cnncam_method_name(i), cnncam_method_summary(i));
        if (!t || PyList_Append(list, t)) {
            Py_XDECREF(t);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(t);
    }
    return list;
}

static PyObject *py_version(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    return PyUnicode_FromString(cnncam_version());
}

static PyObject *py_default_threads(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    return PyLong_FromLong(cnncam_default_threads());
}

static PyMethodDef module_methods[] = {
    {"methods", py_methods, METH_NOARGS, "[(name, summary)] of every explanation method"},
    {"version", py_version, METH_NOARGS, "the library's version (cnncam_version)"},
    {"default_threads", py_default_threads, METH_NOARGS, "cnncam_default_threads()"},
    {"read_image", (PyCFunction)(void (*)(void))cc_py_read_image, METH_VARARGS | METH_KEYWORDS,
     "read_image(path, channels, stored_orientation, max_pixels) -> uint8 H x W x channels"},
    {"write_image", (PyCFunction)(void (*)(void))cc_py_write_image, METH_VARARGS | METH_KEYWORDS,
     "write_image(path, rgb, quality): .png or .jpg by extension, atomically"},
    {"resize_crop", (PyCFunction)(void (*)(void))cc_py_resize_crop, METH_VARARGS | METH_KEYWORDS,
     "resize_crop(rgb, resize, crop_height, crop_width, interpolation) -> uint8"},
    {"overlay", (PyCFunction)(void (*)(void))cc_py_overlay, METH_VARARGS | METH_KEYWORDS,
     "overlay(rgb, map, mode, alpha) -> uint8 H x W x 3"},
    {"deprocess_image", (PyCFunction)(void (*)(void))cc_py_deprocess_image, METH_VARARGS | METH_KEYWORDS,
     "deprocess_image(gb, mask) -> uint8 H x W x C"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "cnncam._native",
    "The C library under the cnncam package (use cnncam, not this).", -1, module_methods,
    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__native(void)
{
    import_array();
    if (strcmp(cnncam_version(), CNNCAM_VERSION)) {
        PyErr_Format(PyExc_ImportError, "cnncam._native was built with cnncam.h %s but runs library %s",
                     CNNCAM_VERSION, cnncam_version());
        return NULL;
    }
    if (PyType_Ready(&ModelType) < 0)
        return NULL;
    PyObject *mod = PyModule_Create(&module_def);
    if (!mod)
        return NULL;
    Py_INCREF(&ModelType);
    if (PyModule_AddObject(mod, "Model", (PyObject *)&ModelType) < 0 ||
        PyModule_AddIntConstant(mod, "TOP_CLASS", CNNCAM_TOP_CLASS) < 0) {
        Py_DECREF(&ModelType);
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
