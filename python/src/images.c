/* images.c — image files, the resize/crop recipe, overlays and guided
 * pictures: cnncam's image functions on numpy arrays. */
#include "native.h"

#include <string.h>

/* A new uint8 array of dims, filled from bytes (NULL with the exception set). */
static PyObject *bytes_array(int nd, npy_intp *dims, const unsigned char *bytes)
{
    PyArrayObject *a = (PyArrayObject *)PyArray_SimpleNew(nd, dims, NPY_UINT8);
    if (a)
        memcpy(PyArray_DATA(a), bytes, (size_t)PyArray_NBYTES(a));
    return (PyObject *)a;
}

PyObject *cc_py_read_image(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *names[] = {"path", "channels", "stored_orientation", "max_pixels", NULL};
    PyObject *path_obj;
    int channels = 3, stored = 0;
    Py_ssize_t max_pixels = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|ipn", names, PyUnicode_FSConverter, &path_obj, &channels,
                                     &stored, &max_pixels))
        return NULL;
    if (max_pixels < 0 || (channels != 1 && channels != 3 && channels != 4)) {
        Py_DECREF(path_obj);
        return PyErr_Format(PyExc_ValueError, max_pixels < 0 ? "max_pixels must be positive, not %zd"
                            : "channels must be 1, 3 or 4, not %zd", max_pixels < 0 ? max_pixels : channels);
    }
    unsigned char *px = NULL;
    int W = 0, H = 0;
    char err[1024] = "";
    cnncam_status st;
    const char *path = PyBytes_AS_STRING(path_obj);
    Py_BEGIN_ALLOW_THREADS
    st = cnncam_image_read_pixels(path, (size_t)max_pixels, channels, stored ? CNNCAM_IMAGE_STORED_ORIENTATION : 0,
                                  &px, &W, &H, err, sizeof err);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_obj);
    if (st)
        /* A file that is not a valid image is a bad file, not a bad argument:
         * OSError for every failure to read one (the message says which). */
        return cc_py_raise(st == CNNCAM_ENOMEM ? st : CNNCAM_EIO, err);
    npy_intp dims[3] = {H, W, channels};
    PyObject *a = bytes_array(3, dims, px);
    cnncam_image_free(px);
    return a;
}

/* rgb: uint8 H x W x 3, checked. */
static PyArrayObject *rgb_of(PyObject *obj, const char *what)
{
    PyArrayObject *a = cc_py_array(obj, NPY_UINT8, 3, what);
    if (a && PyArray_DIM(a, 2) != 3) {
        PyErr_Format(PyExc_ValueError, "%s must be H x W x 3 (RGB), not %zd channels", what,
                     (Py_ssize_t)PyArray_DIM(a, 2));
        Py_CLEAR(a);
    }
    return a;
}

PyObject *cc_py_write_image(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *names[] = {"path", "rgb", "quality", NULL};
    PyObject *path_obj, *obj;
    int quality = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&O|i", names, PyUnicode_FSConverter, &path_obj, &obj, &quality))
        return NULL;
    PyArrayObject *a = rgb_of(obj, "the image");
    if (!a) {
        Py_DECREF(path_obj);
        return NULL;
    }
    char err[1024] = "";
    cnncam_status st;
    const char *path = PyBytes_AS_STRING(path_obj);
    Py_BEGIN_ALLOW_THREADS
    st = cnncam_image_write_quality(path, PyArray_DATA(a), (int)PyArray_DIM(a, 1), (int)PyArray_DIM(a, 0),
                                    quality, err, sizeof err);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_obj);
    Py_DECREF(a);
    if (st)
        return cc_py_raise(st, err);
    Py_RETURN_NONE;
}

PyObject *cc_py_resize_crop(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *names[] = {"rgb", "resize", "crop_height", "crop_width", "interpolation", NULL};
    PyObject *obj;
    int resize = 0, ch = 0, cw = 0;
    const char *interp = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|iiiz", names, &obj, &resize, &ch, &cw, &interp))
        return NULL;
    PyArrayObject *a = rgb_of(obj, "the image");
    if (!a)
        return NULL;
    unsigned char *out = NULL;
    int W = 0, H = 0;
    char err[512] = "";
    cnncam_status st;
    Py_BEGIN_ALLOW_THREADS
    st = cnncam_resize_crop(PyArray_DATA(a), (int)PyArray_DIM(a, 1), (int)PyArray_DIM(a, 0), resize, cw, ch, interp,
                            &out, &W, &H, err, sizeof err);
    Py_END_ALLOW_THREADS
    Py_DECREF(a);
    if (st)
        return cc_py_raise(st, err);
    npy_intp dims[3] = {H, W, 3};
    PyObject *r = bytes_array(3, dims, out);
    cnncam_image_free(out);
    return r;
}

/* map: float32 H x W matching the image's H x W. */
static PyArrayObject *map_of(PyObject *obj, int H, int W, const char *what)
{
    PyArrayObject *m = cc_py_array(obj, NPY_FLOAT32, 2, what);
    if (m && (PyArray_DIM(m, 0) != H || PyArray_DIM(m, 1) != W)) {
        PyErr_Format(PyExc_ValueError, "%s is %zd x %zd; the image is %d x %d", what, (Py_ssize_t)PyArray_DIM(m, 0),
                     (Py_ssize_t)PyArray_DIM(m, 1), H, W);
        Py_CLEAR(m);
    }
    return m;
}

PyObject *cc_py_overlay(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *names[] = {"rgb", "map", "mode", "alpha", NULL};
    PyObject *img, *map;
    int mode = CNNCAM_OVERLAY_REFERENCE;
    float alpha = 0.5f;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|if", names, &img, &map, &mode, &alpha))
        return NULL;
    PyArrayObject *a = rgb_of(img, "the image");
    if (!a)
        return NULL;
    const int H = (int)PyArray_DIM(a, 0), W = (int)PyArray_DIM(a, 1);
    PyArrayObject *m = map_of(map, H, W, "the map");
    PyArrayObject *out = m ? (PyArrayObject *)PyArray_SimpleNew(3, PyArray_DIMS(a), NPY_UINT8) : NULL;
    cnncam_status st = CNNCAM_EINVAL;
    if (out) {
        Py_BEGIN_ALLOW_THREADS
        st = cnncam_overlay(PyArray_DATA(a), W, H, PyArray_DATA(m), (cnncam_overlay_mode)mode, alpha,
                            PyArray_DATA(out));
        Py_END_ALLOW_THREADS
        if (st) {
            Py_CLEAR(out);
            cc_py_raise(st, "overlay: alpha must be in [0, 1] and the mode 'reference' or 'clean'");
        }
    }
    Py_DECREF(a);
    Py_XDECREF(m);
    return (PyObject *)out;
}

PyObject *cc_py_deprocess_image(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *names[] = {"gb", "mask", NULL};
    PyObject *gb_obj, *mask_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", names, &gb_obj, &mask_obj))
        return NULL;
    PyArrayObject *gb = cc_py_array(gb_obj, NPY_FLOAT32, 3, "the guided gradient");
    if (!gb)
        return NULL;
    const int H = (int)PyArray_DIM(gb, 0), W = (int)PyArray_DIM(gb, 1), C = (int)PyArray_DIM(gb, 2);
    PyArrayObject *mask = mask_obj == Py_None ? NULL : map_of(mask_obj, H, W, "the mask");
    PyArrayObject *out = NULL;
    if (mask || mask_obj == Py_None) {
        out = (PyArrayObject *)PyArray_SimpleNew(3, PyArray_DIMS(gb), NPY_UINT8);
        char err[512] = "";
        cnncam_status st = out ? CNNCAM_OK : CNNCAM_ENOMEM;
        if (out) {
            Py_BEGIN_ALLOW_THREADS
            st = cnncam_deprocess_image(PyArray_DATA(gb), mask ? PyArray_DATA(mask) : NULL, W, H, C,
                                        PyArray_DATA(out), err, sizeof err);
            Py_END_ALLOW_THREADS
        }
        if (st) {
            Py_CLEAR(out);
            cc_py_raise(st, err);
        }
    }
    Py_DECREF(gb);
    Py_XDECREF(mask);
    return (PyObject *)out;
}
