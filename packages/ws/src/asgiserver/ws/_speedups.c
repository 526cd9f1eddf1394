/* The optional compiled accelerator of asgiserver.ws: masking (RFC 6455 §5.3).
 *
 * _frames.unmask_python is the reference behaviour; this module only does the same thing faster
 * (tests/test_unmask.py compares the two on the same inputs). The package works without it: the
 * build skips it when there is no compiler, and _frames falls back to the pure function.
 * It imports nothing, so the package stays sans-IO.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

PyDoc_STRVAR(unmask_doc,
"unmask(data, mask, /)\n"
"--\n"
"\n"
"XOR data (any contiguous buffer) with the repeated 4-byte mask (RFC 6455 §5.3); return bytes.\n"
"An empty mask returns the data unchanged (a client receives unmasked frames).");

static PyObject *
unmask(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data, mask;
    PyObject *result = NULL;

    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "unmask() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &mask, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    if (mask.len != 4 && mask.len != 0) {
        PyErr_SetString(PyExc_ValueError, "the mask must be 4 bytes (or empty)");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, data.len);
    if (result == NULL) {
        goto done;
    }
    const unsigned char *src = (const unsigned char *)data.buf;
    unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(result);
    Py_ssize_t n = data.len;
    if (mask.len == 0) {
        memcpy(dst, src, (size_t)n);
        goto done;
    }
    /* The mask twice over, as one 64-bit word: the same bytes in memory on any byte order, so
     * XORing 8 bytes at a time keeps mask phase 0 at every multiple of 8. memcpy keeps the
     * loads and stores legal at any alignment; compilers turn them into plain moves. */
    unsigned char key[8];
    memcpy(key, mask.buf, 4);
    memcpy(key + 4, mask.buf, 4);
    uint64_t key64;
    memcpy(&key64, key, 8);
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t word;
        memcpy(&word, src + i, 8);
        word ^= key64;
        memcpy(dst + i, &word, 8);
    }
    for (; i < n; i++) {
        dst[i] = src[i] ^ key[i & 3];
    }
done:
    PyBuffer_Release(&mask);
    PyBuffer_Release(&data);
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"unmask", (PyCFunction)(void (*)(void))unmask, METH_FASTCALL, unmask_doc},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot speedups_slots[] = {
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#if PY_VERSION_HEX >= 0x030D0000
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "asgiserver.ws._speedups",
    .m_doc = "Compiled masking for asgiserver.ws (optional; _frames.unmask_python is the reference).",
    .m_size = 0,
    .m_methods = speedups_methods,
    .m_slots = speedups_slots,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
