/* The optional compiled accelerator of asgiserver.ws: masking (RFC 6455 §5.3) and the plainest
 * whole messages (scan_messages).
 *
 * _frames.unmask_python and _frames.scan_messages_python are the reference behaviour; this module
 * only does the same things faster (tests/test_unmask.py and tests/test_scan.py compare them on the
 * same inputs). The package works without it: the build skips it when there is no compiler, and
 * _frames falls back to the pure functions. It imports nothing, so the package stays sans-IO.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* dst = src XOR the repeated 4-byte mask, from mask phase 0. */
static void
xor_mask(unsigned char *dst, const unsigned char *src, Py_ssize_t n, const unsigned char *mask)
{
    /* The mask twice over, as one 64-bit word: the same bytes in memory on any byte order, so
     * XORing 8 bytes at a time keeps mask phase 0 at every multiple of 8. memcpy keeps the
     * loads and stores legal at any alignment; compilers turn them into plain moves. */
    unsigned char key[8];
    memcpy(key, mask, 4);
    memcpy(key + 4, mask, 4);
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
}

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
    xor_mask(dst, src, n, (const unsigned char *)mask.buf);
done:
    PyBuffer_Release(&mask);
    PyBuffer_Release(&data);
    return result;
}


PyDoc_STRVAR(scan_messages_doc,
"scan_messages(buf, pos, max_length, events, text_type, bytes_type, /)\n"
"--\n"
"\n"
"Take the whole, plain text and binary client frames from buf[pos:]; return where they stop.\n"
"The same as _frames.scan_messages_python (the reference), which says what is taken.");

/* An event of `type` (a slotted dataclass of one field) without running its __init__: allocated
 * as object.__new__ does, and its field set as object.__setattr__ does (the generic setter finds
 * the slot's descriptor, past the frozen class's own __setattr__). The events have no
 * __post_init__, so this is the same object the call would make. */
static PyObject *
new_event(PyTypeObject *type, PyObject *field, PyObject *value)
{
    PyObject *event = type->tp_alloc(type, 0);
    if (event == NULL) {
        return NULL;
    }
    if (PyObject_GenericSetAttr(event, field, value) < 0) {
        Py_DECREF(event);
        return NULL;
    }
    return event;
}

static PyObject *
scan_messages(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_Format(PyExc_TypeError, "scan_messages() takes 6 arguments (%zd given)", nargs);
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t max_length = PyLong_AsSsize_t(args[2]);
    if (max_length == -1 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *events = args[3];
    if (!PyList_Check(events) || !PyType_Check(args[4]) || !PyType_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError, "scan_messages() needs a list and two event types");
        return NULL;
    }
    if (pos < 0) {
        PyErr_SetString(PyExc_ValueError, "negative position");
        return NULL;
    }
    PyTypeObject *text_type = (PyTypeObject *)args[4];
    PyTypeObject *bytes_type = (PyTypeObject *)args[5];
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    PyObject *text_field = PyUnicode_InternFromString("text");
    PyObject *data_field = PyUnicode_InternFromString("data");
    PyObject *result = NULL;
    if (text_field == NULL || data_field == NULL) {
        goto done;
    }
    const unsigned char *buf = (const unsigned char *)view.buf;
    Py_ssize_t n = view.len;
    unsigned char small[256]; /* a text payload is unmasked here, or on the heap if larger */
    while (n - pos >= 6) {
        const unsigned char b0 = buf[pos], b1 = buf[pos + 1];
        if ((b0 != 0x81 && b0 != 0x82) || b1 < 0x80) {
            break;
        }
        Py_ssize_t length = b1 & 0x7F, start;
        if (length < 126) {
            start = pos + 6;
        }
        else if (length == 126) {
            if (n - pos < 8) {
                break;
            }
            length = ((Py_ssize_t)buf[pos + 2] << 8) | buf[pos + 3];
            if (length < 126) { /* not minimal (RFC 6455 §5.2): the general parser fails it */
                break;
            }
            start = pos + 8;
        }
        else {
            break;
        }
        if (length > max_length || length > n - start) {
            break;
        }
        const unsigned char *mask = buf + start - 4;
        PyObject *event;
        if (b0 == 0x82) {
            PyObject *payload = PyBytes_FromStringAndSize(NULL, length);
            if (payload == NULL) {
                goto done;
            }
            xor_mask((unsigned char *)PyBytes_AS_STRING(payload), buf + start, length, mask);
            event = new_event(bytes_type, data_field, payload);
            Py_DECREF(payload);
        }
        else {
            unsigned char *plain = length <= (Py_ssize_t)sizeof(small) ? small : PyMem_Malloc(length);
            if (plain == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            xor_mask(plain, buf + start, length, mask);
            PyObject *text = PyUnicode_DecodeUTF8((const char *)plain, length, NULL);
            if (plain != small) {
                PyMem_Free(plain);
            }
            if (text == NULL) {
                if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                    PyErr_Clear(); /* left to the general parser, which fails it with 1007 */
                    break;
                }
                goto done;
            }
            event = new_event(text_type, text_field, text);
            Py_DECREF(text);
        }
        if (event == NULL) {
            goto done;
        }
        int appended = PyList_Append(events, event);
        Py_DECREF(event);
        if (appended < 0) {
            goto done;
        }
        pos = start + length;
    }
    result = PyLong_FromSsize_t(pos);
done:
    Py_XDECREF(text_field);
    Py_XDECREF(data_field);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"unmask", (PyCFunction)(void (*)(void))unmask, METH_FASTCALL, unmask_doc},
    {"scan_messages", (PyCFunction)(void (*)(void))scan_messages, METH_FASTCALL,
     scan_messages_doc},
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
    .m_doc = "Compiled masking and message scanning for asgiserver.ws (optional; _frames holds the"
             " reference functions).",
    .m_size = 0,
    .m_methods = speedups_methods,
    .m_slots = speedups_slots,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
