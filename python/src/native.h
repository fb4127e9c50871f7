/* native.h — what the files of the cnncam._native extension share.
 *
 * The extension is a thin layer over include/cnncam.h: arrays in and out with
 * NumPy's C API, the GIL released during every run, cnncam's statuses turned
 * into Python exceptions carrying cnncam's message. Argument juggling (paths,
 * lists of images, keyword defaults) lives in python/cnncam/, in Python. */
#ifndef CNNCAM_PY_NATIVE_H
#define CNNCAM_PY_NATIVE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL cnncam_native_ARRAY_API
#ifndef CNNCAM_PY_MODULE_C
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#include "cnncam.h"

/* A loaded model and its pool of contexts: each call takes one (creating it
 * the first time), so several Python threads run at once, each on its own
 * context, while a context's memory plan survives from call to call. */
typedef struct {
    PyObject_HEAD
    cnncam_model *model;     /* NULL once closed */
    PyThread_type_lock lock; /* guards the pool and busy */
    cnncam_ctx **pool;       /* idle contexts */
    int npool, cap;
    int busy;                /* contexts checked out by running calls */
} ModelObject;

extern PyTypeObject ModelType;

/* Sets the Python exception for status st with message msg (ValueError for
 * CNNCAM_EINVAL and CNNCAM_EFORMAT, OSError for CNNCAM_EIO, MemoryError,
 * RuntimeError for CNNCAM_ESTATE and anything else); returns NULL. */
PyObject *cc_py_raise(cnncam_status st, const char *msg);

/* arr as a C-contiguous, aligned array of type `type` and rank `rank` (0: any
 * rank from 1 to 4), or NULL with a ValueError naming `what`: nothing is
 * copied, a non-contiguous or wrongly typed array is refused, so the caller
 * knows the library reads their memory as it is. A new reference. */
PyArrayObject *cc_py_array(PyObject *arr, int type, int rank, const char *what);

/* Checks a context out of m's pool (a new one if none is idle): NULL with
 * the exception set when m is closed or memory runs out. */
cnncam_ctx *cc_py_take_ctx(ModelObject *m);
/* Puts it back. */
void cc_py_give_ctx(ModelObject *m, cnncam_ctx *ctx);
/* NULL with a ValueError when m is closed, else m->model. */
cnncam_model *cc_py_model(ModelObject *m);

/* Module-level functions of images.c and their method table entries. */
PyObject *cc_py_read_image(PyObject *self, PyObject *args, PyObject *kw);
PyObject *cc_py_write_image(PyObject *self, PyObject *args, PyObject *kw);
PyObject *cc_py_resize_crop(PyObject *self, PyObject *args, PyObject *kw);
PyObject *cc_py_overlay(PyObject *self, PyObject *args, PyObject *kw);
PyObject *cc_py_deprocess_image(PyObject *self, PyObject *args, PyObject *kw);

/* The run methods of run.c, on a Model. */
PyObject *cc_py_forward(ModelObject *self, PyObject *args, PyObject *kw);
PyObject *cc_py_explain(ModelObject *self, PyObject *args, PyObject *kw);
PyObject *cc_py_guided(ModelObject *self, PyObject *args, PyObject *kw);

#endif
