/* The optional compiled accelerator of asgiserver.http1: a complete request head in one pass,
 * and the field lines of a response head.
 *
 * The pure-Python parser (_parser.parse_request_line, _parser.parse_fields and the fast path of
 * ServerConnection._parse) is the reference behaviour. parse_head only handles the common case it
 * can decide completely: a whole head, origin-form target, HTTP/1.0 or 1.1, no CONNECT, at least
 * one field line, every byte valid. For anything else (incomplete, invalid, over a limit, unusual)
 * it returns None and the Python code gives the verdict and the exact error; so it never rejects
 * anything itself. encode_fields does the same for _writer.encode_fields: common input only, None
 * for the rest. tests/test_speedups.py compares each with its reference on the same inputs.
 * It imports nothing, so the package stays sans-IO.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* Field lines handled here; a head with more (only with a raised Limits.max_header_count) is
 * left to the Python path. */
#define MAX_FIELDS 128

/* Character classes (bits of char_class[byte]). */
enum {
    TCHAR = 1,  /* RFC 9110 §5.6.2 token characters */
    VCHAR = 2,  /* RFC 5234 B.1: 0x21-0x7E, the request-target's bytes (RFC 9112 §3.2) */
    FVCHAR = 4, /* RFC 9110 §5.5: HTAB / SP / VCHAR / obs-text, a field value's bytes */
};

/* 1 = TCHAR, 2 = VCHAR, 4 = FVCHAR, per byte; constant, so it is shared safely by every
 * interpreter (tests/test_speedups.py checks each class against the Python grammar). */
static const unsigned char char_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    4, 7, 6, 7, 7, 7, 7, 7, 6, 6, 7, 7, 6, 7, 7, 6, /* 0x20 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6, /* 0x30 */
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x40 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 7, 7, /* 0x50 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x60 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 7, 6, 7, 0, /* 0x70 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0x80 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0x90 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xa0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xb0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xc0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xd0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xe0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xf0 */
};

/* Lowercase field names created once per module: no allocation for them, and their hashes stay
 * cached for the set and dict lookups of ServerConnection and the ASGI layer. The received form
 * is reused too when it is the lowercase or the Capitalised-Words one. */
static const char *const COMMON_NAMES[] = {
    "host", "user-agent", "accept", "accept-encoding", "accept-language", "accept-charset",
    "connection", "content-length", "content-type", "cookie", "referer", "origin",
    "cache-control", "pragma", "upgrade-insecure-requests", "sec-fetch-dest", "sec-fetch-mode",
    "sec-fetch-site", "sec-fetch-user", "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform",
    "if-none-match", "if-modified-since", "authorization", "x-forwarded-for",
    "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "x-request-id", "dnt", "te",
    "transfer-encoding", "upgrade", "expect", "range", "priority", "keep-alive", "forwarded",
    "via", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
    "sec-websocket-protocol", "sec-gpc", "x-requested-with",
};
#define N_NAMES ((Py_ssize_t)(sizeof(COMMON_NAMES) / sizeof(COMMON_NAMES[0])))

static const struct {
    const char *name;
    Py_ssize_t length;
} METHODS[] = {
    {"GET", 3}, {"POST", 4}, {"HEAD", 4}, {"PUT", 3}, {"DELETE", 6}, {"OPTIONS", 7}, {"PATCH", 5},
};
#define N_METHODS ((Py_ssize_t)(sizeof(METHODS) / sizeof(METHODS[0])))

typedef struct {
    PyObject *lower[N_NAMES];   /* b"user-agent" */
    PyObject *title[N_NAMES];   /* b"User-Agent" */
    Py_ssize_t length[N_NAMES]; /* of both */
    PyObject *methods[N_METHODS];
    PyObject *http10; /* b"1.0" */
    PyObject *http11; /* b"1.1" */
} speedups_state;

static inline speedups_state *
get_state(PyObject *module)
{
    return (speedups_state *)PyModule_GetState(module);
}

static inline unsigned char
ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* The interned entry whose name equals buf[0:n] ignoring ASCII case, or -1. */
static Py_ssize_t
find_common(const speedups_state *st, const unsigned char *buf, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < N_NAMES; i++) {
        if (st->length[i] != n) {
            continue;
        }
        const unsigned char *name = (const unsigned char *)PyBytes_AS_STRING(st->lower[i]);
        Py_ssize_t j = 0;
        while (j < n && ascii_lower(buf[j]) == name[j]) {
            j++;
        }
        if (j == n) {
            return i;
        }
    }
    return -1;
}

/* New references to (lowercase, as received) forms of the field name buf[0:n]. */
static int
make_name(const speedups_state *st, const unsigned char *buf, Py_ssize_t n, PyObject **lower,
          PyObject **raw)
{
    Py_ssize_t i = find_common(st, buf, n);
    if (i >= 0) {
        *lower = Py_NewRef(st->lower[i]);
        if (memcmp(buf, PyBytes_AS_STRING(st->lower[i]), (size_t)n) == 0) {
            *raw = Py_NewRef(st->lower[i]);
        }
        else if (memcmp(buf, PyBytes_AS_STRING(st->title[i]), (size_t)n) == 0) {
            *raw = Py_NewRef(st->title[i]);
        }
        else {
            *raw = PyBytes_FromStringAndSize((const char *)buf, n);
            if (*raw == NULL) {
                Py_CLEAR(*lower);
                return -1;
            }
        }
        return 0;
    }
    *raw = PyBytes_FromStringAndSize((const char *)buf, n);
    if (*raw == NULL) {
        return -1;
    }
    Py_ssize_t j = 0;
    while (j < n && !(buf[j] >= 'A' && buf[j] <= 'Z')) {
        j++;
    }
    if (j == n) {
        *lower = Py_NewRef(*raw); /* already lowercase: one object serves as both */
        return 0;
    }
    *lower = PyBytes_FromStringAndSize(NULL, n);
    if (*lower == NULL) {
        Py_CLEAR(*raw);
        return -1;
    }
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(*lower);
    for (j = 0; j < n; j++) {
        out[j] = ascii_lower(buf[j]);
    }
    return 0;
}

/* A non-negative limit; one too large for Py_ssize_t is as good as none. Returns -1 with an
 * exception set for a non-int, -2 for a negative value. */
static Py_ssize_t
as_limit(PyObject *obj)
{
    int overflow = 0;
    long long value = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (value == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (overflow > 0) {
        return PY_SSIZE_T_MAX;
    }
    if (overflow < 0 || value < 0) {
        return -2;
    }
    if ((unsigned long long)value > (unsigned long long)PY_SSIZE_T_MAX) {
        return PY_SSIZE_T_MAX;
    }
    return (Py_ssize_t)value;
}

/* start + span, but at most end (without overflow: start <= end). */
static inline Py_ssize_t
bounded(Py_ssize_t start, Py_ssize_t span, Py_ssize_t end)
{
    return span >= end - start ? end : start + span;
}

typedef struct {
    Py_ssize_t name, colon, value, value_end; /* offsets into the buffer */
} field_line;

PyDoc_STRVAR(parse_head_doc,
"parse_head(data, pos, max_request_line_bytes, max_header_bytes, max_header_count, cache, /)\n"
"--\n"
"\n"
"The request head starting at data[pos] (exact bytes), if it is complete, valid and common:\n"
"(method, target, version, headers, lower_names, raw_names, end). Otherwise None, and the\n"
"Python parser decides. cache is the previous request's (raw_names, lower_names, ...): when the\n"
"names are the same, those two objects are returned.");

static PyObject *
parse_head(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_Format(PyExc_TypeError, "parse_head() takes 6 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *data = args[0];
    if (!PyBytes_CheckExact(data) || !PyLong_CheckExact(args[1])) {
        Py_RETURN_NONE;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    Py_ssize_t max_line = as_limit(args[2]);
    Py_ssize_t max_bytes = as_limit(args[3]);
    Py_ssize_t max_count = as_limit(args[4]);
    if (max_line == -1 || max_bytes == -1 || max_count == -1) {
        return NULL; /* not an int: a caller's bug, not input to defer */
    }
    if (max_line < 0 || max_bytes < 0 || max_count < 0) {
        Py_RETURN_NONE;
    }
    const unsigned char *buf = (const unsigned char *)PyBytes_AS_STRING(data);
    const Py_ssize_t n = PyBytes_GET_SIZE(data);
    if (pos < 0 || pos >= n) {
        Py_RETURN_NONE;
    }

    /* Request line (RFC 9112 §3): method SP request-target SP HTTP-version CRLF, the CRLF within
     * max_request_line_bytes + 2 of pos, as the reference's find() window. */
    const Py_ssize_t line_lim = bounded(pos, max_line, n); /* the latest place for its CR */
    Py_ssize_t p = pos;
    while (p < line_lim && (char_class[buf[p]] & TCHAR)) {
        p++;
    }
    const Py_ssize_t method_end = p;
    if (p == pos || p >= line_lim || buf[p] != ' ') {
        Py_RETURN_NONE;
    }
    const Py_ssize_t target = ++p;
    while (p < line_lim && (char_class[buf[p]] & VCHAR) && buf[p] != '#') {
        p++;
    }
    const Py_ssize_t target_end = p;
    if (p == target || p >= line_lim || buf[p] != ' ' || buf[target] != '/') {
        /* other request-target forms, and a fragment: the Python path checks them */
        Py_RETURN_NONE;
    }
    p++;
    /* "HTTP/1.0" or "HTTP/1.1", then CRLF (RFC 9112 §2.3); other versions go to Python. */
    if (n - p < 10 || memcmp(buf + p, "HTTP/1.", 7) != 0 || (buf[p + 7] != '0' && buf[p + 7] != '1')
        || buf[p + 8] != '\r' || buf[p + 9] != '\n') {
        Py_RETURN_NONE;
    }
    const Py_ssize_t le = p + 8; /* the request line's CR */
    if (le > line_lim) {
        Py_RETURN_NONE; /* longer than max_request_line_bytes: 414 from Python */
    }
    const int http11 = buf[p + 7] == '1';
    if (method_end - pos == 7 && memcmp(buf + pos, "CONNECT", 7) == 0) {
        Py_RETURN_NONE; /* RFC 9110 §9.3.6: rejected by the Python path */
    }

    /* Field lines (RFC 9112 §5, RFC 9110 §5.5), each "name:" OWS value OWS CRLF, then CRLF. The
     * whole section with the final empty line ends within max_header_bytes + 4 of le, as the
     * reference's find() window for CRLFCRLF. No byte here is CR or LF except in the CRLFs, so
     * the first CRLFCRLF after le is where this loop finds the empty line. */
    const Py_ssize_t section_stop = max_bytes >= n - le - 4 ? n : le + max_bytes + 4;
    /* section_stop: exclusive bound for every byte of the section, its final CRLFCRLF included. */
    field_line fields[MAX_FIELDS];
    Py_ssize_t count = 0;
    Py_ssize_t end = -1;
    p = le + 2;
    if (p + 1 < section_stop && buf[p] == '\r' && buf[p + 1] == '\n') {
        Py_RETURN_NONE; /* no fields: HTTP/1.0 only, left to Python */
    }
    while (end < 0) {
        if (count >= MAX_FIELDS || count >= max_count) {
            Py_RETURN_NONE; /* one more field than allowed: 431 from Python */
        }
        field_line *f = &fields[count++];
        f->name = p;
        while (p < section_stop && (char_class[buf[p]] & TCHAR)) {
            p++;
        }
        if (p == f->name || p >= section_stop || buf[p] != ':') {
            Py_RETURN_NONE; /* empty name, obs-fold, whitespace before ':', bad byte, or more */
        }
        f->colon = p++;
        while (p < section_stop && (buf[p] == ' ' || buf[p] == '\t')) {
            p++;
        }
        f->value = p;
        while (p < section_stop && (char_class[buf[p]] & FVCHAR)) {
            p++;
        }
        Py_ssize_t v = p;
        while (v > f->value && (buf[v - 1] == ' ' || buf[v - 1] == '\t')) {
            v--;
        }
        f->value_end = v;
        if (p + 1 >= section_stop || buf[p] != '\r' || buf[p + 1] != '\n') {
            Py_RETURN_NONE; /* a bare CR or LF, a CTL or DEL, or not here yet */
        }
        p += 2;
        if (p + 1 < section_stop && buf[p] == '\r' && buf[p + 1] == '\n') {
            end = p + 2;
        }
        else if (p + 1 >= section_stop) {
            Py_RETURN_NONE; /* incomplete, or the section is over max_header_bytes */
        }
    }

    speedups_state *st = get_state(module);
    PyObject *method = NULL, *target_obj = NULL, *headers = NULL, *lower = NULL, *raw = NULL;
    PyObject *end_obj = NULL, *result = NULL;

    const Py_ssize_t method_len = method_end - pos;
    for (Py_ssize_t i = 0; i < N_METHODS; i++) {
        if (METHODS[i].length == method_len
            && memcmp(buf + pos, METHODS[i].name, (size_t)method_len) == 0) {
            method = Py_NewRef(st->methods[i]);
            break;
        }
    }
    if (method == NULL) {
        method = PyBytes_FromStringAndSize((const char *)buf + pos, method_len);
        if (method == NULL) {
            goto error;
        }
    }
    target_obj = PyBytes_FromStringAndSize((const char *)buf + target, target_end - target);
    if (target_obj == NULL) {
        goto error;
    }

    /* The previous request's names, if these are the same: reuse both forms (the Python path
     * compares the tuples; ServerConnection tests the lowercase list's identity). */
    PyObject *cache = args[5];
    if (PyTuple_CheckExact(cache) && PyTuple_GET_SIZE(cache) >= 2
        && PyTuple_CheckExact(PyTuple_GET_ITEM(cache, 0))
        && PyList_CheckExact(PyTuple_GET_ITEM(cache, 1))
        && PyTuple_GET_SIZE(PyTuple_GET_ITEM(cache, 0)) == count
        && PyList_GET_SIZE(PyTuple_GET_ITEM(cache, 1)) == count) {
        PyObject *cached = PyTuple_GET_ITEM(cache, 0);
        Py_ssize_t i = 0;
        for (; i < count; i++) {
            PyObject *name = PyTuple_GET_ITEM(cached, i);
            Py_ssize_t len = fields[i].colon - fields[i].name;
            if (!PyBytes_CheckExact(name) || PyBytes_GET_SIZE(name) != len
                || memcmp(PyBytes_AS_STRING(name), buf + fields[i].name, (size_t)len) != 0) {
                break;
            }
        }
        if (i == count) {
            raw = Py_NewRef(cached);
            lower = Py_NewRef(PyTuple_GET_ITEM(cache, 1));
        }
    }
    if (raw == NULL) {
        raw = PyTuple_New(count);
        if (raw == NULL) {
            goto error;
        }
        lower = PyList_New(count);
        if (lower == NULL) {
            goto error;
        }
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *low, *name;
            if (make_name(st, buf + fields[i].name, fields[i].colon - fields[i].name, &low, &name)
                < 0) {
                goto error;
            }
            PyList_SET_ITEM(lower, i, low);
            PyTuple_SET_ITEM(raw, i, name);
        }
    }

    headers = PyList_New(count);
    if (headers == NULL) {
        goto error;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *value = PyBytes_FromStringAndSize((const char *)buf + fields[i].value,
                                                    fields[i].value_end - fields[i].value);
        if (value == NULL) {
            goto error;
        }
        PyObject *pair = PyTuple_New(2);
        if (pair == NULL) {
            Py_DECREF(value);
            goto error;
        }
        if (i >= PyList_GET_SIZE(lower)) { /* only if a finalizer shrank the cached list */
            Py_DECREF(pair);
            Py_DECREF(value);
            PyErr_SetString(PyExc_RuntimeError, "field names changed while parsing");
            goto error;
        }
        PyTuple_SET_ITEM(pair, 0, Py_NewRef(PyList_GET_ITEM(lower, i)));
        PyTuple_SET_ITEM(pair, 1, value);
        PyList_SET_ITEM(headers, i, pair);
    }
    end_obj = PyLong_FromSsize_t(end);
    if (end_obj == NULL) {
        goto error;
    }
    result = PyTuple_New(7);
    if (result == NULL) {
        goto error;
    }
    PyTuple_SET_ITEM(result, 0, method);
    PyTuple_SET_ITEM(result, 1, target_obj);
    PyTuple_SET_ITEM(result, 2, Py_NewRef(http11 ? st->http11 : st->http10));
    PyTuple_SET_ITEM(result, 3, headers);
    PyTuple_SET_ITEM(result, 4, lower);
    PyTuple_SET_ITEM(result, 5, raw);
    PyTuple_SET_ITEM(result, 6, end_obj);
    return result;

error:
    /* A list or tuple made by PyList_New/PyTuple_New holds NULLs until filled: DECREF skips them. */
    Py_XDECREF(method);
    Py_XDECREF(target_obj);
    Py_XDECREF(headers);
    Py_XDECREF(lower);
    Py_XDECREF(raw);
    Py_XDECREF(end_obj);
    return NULL;
}

/* ---------------------------------------------------------------- response fields */

/* Which framing field a name is, case-insensitively (RFC 9110 §5.1): 0 none, 1 Content-Length,
 * 2 Transfer-Encoding, 3 Connection; the order of _writer.CONTENT_LENGTH and the others. */
static int
framing_kind(const unsigned char *name, Py_ssize_t n)
{
    static const struct {
        const char *name;
        Py_ssize_t length;
    } framing[] = {{"content-length", 14}, {"transfer-encoding", 17}, {"connection", 10}};
    for (int k = 0; k < 3; k++) {
        if (framing[k].length != n) {
            continue;
        }
        Py_ssize_t j = 0;
        while (j < n && ascii_lower(name[j]) == (unsigned char)framing[k].name[j]) {
            j++;
        }
        if (j == n) {
            return k + 1;
        }
    }
    return 0;
}

/* The values of one framing field joined with "," (RFC 9110 §5.3), a new reference; None when
 * there are none. values holds borrowed references to count bytes objects. */
static PyObject *
joined(PyObject *const *values, Py_ssize_t count)
{
    if (count == 0) {
        Py_RETURN_NONE;
    }
    if (count == 1) {
        return Py_NewRef(values[0]);
    }
    Py_ssize_t size = count - 1;
    for (Py_ssize_t i = 0; i < count; i++) {
        size += PyBytes_GET_SIZE(values[i]);
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, size);
    if (out == NULL) {
        return NULL;
    }
    char *w = PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < count; i++) {
        if (i > 0) {
            *w++ = ',';
        }
        Py_ssize_t len = PyBytes_GET_SIZE(values[i]);
        memcpy(w, PyBytes_AS_STRING(values[i]), (size_t)len);
        w += len;
    }
    return out;
}

PyDoc_STRVAR(encode_fields_doc,
"encode_fields(headers, /)\n"
"--\n"
"\n"
"_writer.encode_fields for a list or tuple of (name, value) tuples of exact bytes, every name a\n"
"token and no CR, LF or NUL in a value: (block, content_length, transfer_encoding, connection).\n"
"Otherwise None, and the Python function decides (and raises).");

static PyObject *
encode_fields(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError, "encode_fields() takes 1 argument (%zd given)", nargs);
        return NULL;
    }
    PyObject *given = args[0];
    PyObject *fields; /* a tuple, immutable, so nothing can change under us while we allocate */
    if (PyTuple_CheckExact(given)) {
        fields = Py_NewRef(given);
    }
    else if (PyList_CheckExact(given)) {
        fields = PyList_AsTuple(given);
        if (fields == NULL) {
            return NULL;
        }
    }
    else {
        Py_RETURN_NONE;
    }
    const Py_ssize_t count = PyTuple_GET_SIZE(fields);
    if (count == 0 || count > MAX_FIELDS) {
        Py_DECREF(fields);
        Py_RETURN_NONE;
    }
    PyObject *block = NULL, *length = NULL, *coding = NULL, *connection = NULL;
    PyObject *framing[3][MAX_FIELDS]; /* borrowed: held by fields */
    Py_ssize_t framing_count[3] = {0, 0, 0};
    Py_ssize_t size = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *pair = PyTuple_GET_ITEM(fields, i);
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2) {
            goto defer;
        }
        PyObject *name = PyTuple_GET_ITEM(pair, 0);
        PyObject *value = PyTuple_GET_ITEM(pair, 1);
        if (!PyBytes_CheckExact(name) || !PyBytes_CheckExact(value)) {
            goto defer;
        }
        const unsigned char *n = (const unsigned char *)PyBytes_AS_STRING(name);
        const Py_ssize_t name_len = PyBytes_GET_SIZE(name);
        if (name_len == 0) {
            goto defer;
        }
        for (Py_ssize_t j = 0; j < name_len; j++) {
            if (!(char_class[n[j]] & TCHAR)) {
                goto defer; /* RFC 9110 §5.1: not a token */
            }
        }
        /* RFC 9110 §5.5: no CR, LF or NUL in a value (response splitting). */
        const char *v = PyBytes_AS_STRING(value);
        const size_t value_len = (size_t)PyBytes_GET_SIZE(value);
        if (memchr(v, '\r', value_len) || memchr(v, '\n', value_len) || memchr(v, '\0', value_len)) {
            goto defer;
        }
        int kind = framing_kind(n, name_len);
        if (kind) {
            framing[kind - 1][framing_count[kind - 1]++] = value;
        }
        /* name ": " value CRLF; no overflow: each part is an existing object's size. */
        size += name_len + PyBytes_GET_SIZE(value) + 4;
    }

    block = PyBytes_FromStringAndSize(NULL, size);
    if (block == NULL) {
        goto error;
    }
    char *w = PyBytes_AS_STRING(block);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *pair = PyTuple_GET_ITEM(fields, i);
        PyObject *name = PyTuple_GET_ITEM(pair, 0);
        PyObject *value = PyTuple_GET_ITEM(pair, 1);
        Py_ssize_t len = PyBytes_GET_SIZE(name);
        memcpy(w, PyBytes_AS_STRING(name), (size_t)len);
        w += len;
        *w++ = ':';
        *w++ = ' ';
        len = PyBytes_GET_SIZE(value);
        memcpy(w, PyBytes_AS_STRING(value), (size_t)len);
        w += len;
        *w++ = '\r';
        *w++ = '\n';
    }
    length = joined(framing[0], framing_count[0]);
    if (length == NULL) {
        goto error;
    }
    coding = joined(framing[1], framing_count[1]);
    if (coding == NULL) {
        goto error;
    }
    connection = joined(framing[2], framing_count[2]);
    if (connection == NULL) {
        goto error;
    }
    PyObject *result = PyTuple_New(4);
    if (result == NULL) {
        goto error;
    }
    PyTuple_SET_ITEM(result, 0, block);
    PyTuple_SET_ITEM(result, 1, length);
    PyTuple_SET_ITEM(result, 2, coding);
    PyTuple_SET_ITEM(result, 3, connection);
    Py_DECREF(fields);
    return result;

error:
    Py_XDECREF(block);
    Py_XDECREF(length);
    Py_XDECREF(coding);
    Py_XDECREF(connection);
    Py_DECREF(fields);
    return NULL;

defer:
    Py_DECREF(fields);
    Py_RETURN_NONE;
}

static int
speedups_exec(PyObject *module)
{
    speedups_state *st = get_state(module);
    for (Py_ssize_t i = 0; i < N_NAMES; i++) {
        const char *name = COMMON_NAMES[i];
        Py_ssize_t n = (Py_ssize_t)strlen(name);
        st->length[i] = n;
        st->lower[i] = PyBytes_FromStringAndSize(name, n);
        st->title[i] = PyBytes_FromStringAndSize(name, n);
        if (st->lower[i] == NULL || st->title[i] == NULL) {
            return -1;
        }
        char *title = PyBytes_AS_STRING(st->title[i]);
        for (Py_ssize_t j = 0; j < n; j++) {
            if ((j == 0 || title[j - 1] == '-') && title[j] >= 'a' && title[j] <= 'z') {
                title[j] = (char)(title[j] - ('a' - 'A'));
            }
        }
    }
    for (Py_ssize_t i = 0; i < N_METHODS; i++) {
        st->methods[i] = PyBytes_FromStringAndSize(METHODS[i].name, METHODS[i].length);
        if (st->methods[i] == NULL) {
            return -1;
        }
    }
    st->http10 = PyBytes_FromStringAndSize("1.0", 3);
    st->http11 = PyBytes_FromStringAndSize("1.1", 3);
    if (st->http10 == NULL || st->http11 == NULL) {
        return -1;
    }
    return 0;
}

static int
speedups_clear(PyObject *module)
{
    speedups_state *st = get_state(module);
    if (st == NULL) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < N_NAMES; i++) {
        Py_CLEAR(st->lower[i]);
        Py_CLEAR(st->title[i]);
    }
    for (Py_ssize_t i = 0; i < N_METHODS; i++) {
        Py_CLEAR(st->methods[i]);
    }
    Py_CLEAR(st->http10);
    Py_CLEAR(st->http11);
    return 0;
}

static void
speedups_free(void *module)
{
    (void)speedups_clear((PyObject *)module);
}

static PyMethodDef speedups_methods[] = {
    {"parse_head", (PyCFunction)(void (*)(void))parse_head, METH_FASTCALL, parse_head_doc},
    {"encode_fields", (PyCFunction)(void (*)(void))encode_fields, METH_FASTCALL, encode_fields_doc},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot speedups_slots[] = {
    {Py_mod_exec, (void *)speedups_exec},
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
    .m_name = "asgiserver.http1._speedups",
    .m_doc = "Compiled request-head parsing for asgiserver.http1 (optional; the Python parser is "
             "the reference).",
    .m_size = sizeof(speedups_state),
    .m_methods = speedups_methods,
    .m_slots = speedups_slots,
    .m_clear = speedups_clear,
    .m_free = speedups_free,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
