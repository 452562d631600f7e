/* pvestorage.c - the CPython extension: Python values <-> json_t, errors to
 * exceptions, warnings to warnings.warn.  Every rule lives in the core.
 *
 * Multi-phase initialisation; all state (exception types, the context, the
 * settings lock) lives in the module state. */
#include "binding.h"

#include <pthread.h>
#include <string.h>

#include "../common/ptrmap.h"


typedef struct {
    PyObject_HEAD
    const pvs_plugin *plugin;
    PyObject *module;   /* keeps the state (and its context) alive */
} PluginObject;

static modstate *get_state(PyObject *module)
{
    return (modstate *)PyModule_GetState(module);
}

/* ---- errors and warnings ---- */

/* Bytes from the core as str: undecodable bytes survive as surrogates
 * (surrogateescape), so they go back to the core as the same bytes. */
static PyObject *text(const char *s, size_t n)
{
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "surrogateescape");
}

static PyObject *text_or_none(const char *s)
{
    return s ? text(s, strlen(s)) : Py_NewRef(Py_None);
}

/* The core's message without its final newline (Python's str(exc) style). */
static PyObject *message_strn(const char *msg, size_t n)
{
    if (!msg)
        msg = "unknown error\n", n = strlen(msg);
    if (n && msg[n - 1] == '\n')
        n--;
    return text(msg, n);
}

static PyObject *message_str(const char *msg)
{
    if (!msg)
        msg = "unknown error\n";
    size_t n = strlen(msg);
    if (n && msg[n - 1] == '\n')
        n--;
    return text(msg, n);
}

/* An interruption (PVS_EINTR) by a Python exception is raised as that
 * exception -- the KeyboardInterrupt, the SystemExit -- with its
 * traceback, whatever else is pending (a warning turned error loses to
 * it); returns NULL. */
static PyObject *raise_interruption(pvs_error *err)
{
    PyObject *exc = pyb_plugin_exc;
    pyb_plugin_exc = NULL;
    PyErr_Clear();
    PyErr_Restore(Py_NewRef(Py_TYPE(exc)), exc, PyException_GetTraceback(exc));
    pvs_error_clear(err);
    return NULL;
}

/* Raise the exception for err (cleared afterwards); returns NULL. */
static PyObject *raise_error(modstate *st, pvs_error *err)
{
    if (err->code == PVS_EINTR && pyb_plugin_exc && pyb_plugin_exc != Py_None)
        return raise_interruption(err);   /* (a C plugin's has none: an Error with code EINTR) */
    if (err->code != PVS_EPLUGIN)
        Py_CLEAR(pyb_plugin_exc);
    if (PyErr_Occurred()) {   /* a warning filter raised first: that wins */
        pvs_error_clear(err);
        return NULL;
    }
    if (err->code == PVS_ENOMEM) {
        pvs_error_clear(err);
        return PyErr_NoMemory();
    }
    PyObject *type = err->code < 0 && -err->code < PYB_NCODES ? PYB_ERROR(st, err->code) : NULL;
    if (!type)
        type = st->Error;
    PyObject *msg = message_strn(err->message, pvs_error_length(err));
    PyObject *exc = msg ? PyObject_CallOneArg(type, msg) : NULL;
    Py_XDECREF(msg);
    if (exc) {
        PyObject *code = PyUnicode_FromString(pvs_strerror(err->code));
        PyObject *status = pvs_error_exit_status(err) >= 0 ? PyLong_FromLong(pvs_error_exit_status(err))
                                                           : Py_NewRef(Py_None);
        PyObject *stderr_text = text_or_none(err->stderr_text);
        if (code && status && stderr_text && PyObject_SetAttrString(exc, "code", code) == 0
            && PyObject_SetAttrString(exc, "exit_status", status) == 0
            && PyObject_SetAttrString(exc, "stderr", stderr_text) == 0) {
            if (err->code == PVS_EPLUGIN && pyb_plugin_exc) {   /* raise ... from the plugin's */
                PyException_SetCause(exc, pyb_plugin_exc);
                pyb_plugin_exc = NULL;
            }
            PyErr_SetObject(type, exc);
        }
        Py_XDECREF(code);
        Py_XDECREF(status);
        Py_XDECREF(stderr_text);
        Py_DECREF(exc);
    }
    pvs_error_clear(err);
    return NULL;
}

/* An error the binding finds itself (a cycle, a depth), raised as the
 * core's are: the class and .code of the code, the message (no "\n"). */
static PyObject *raise_code(modstate *st, int code, const char *message, const char *arg)
{
    pvs_error err = PVS_ERROR_INIT;
    pvs_error_set(&err, code, arg ? "%s %s\n" : "%s\n", arg ? arg : message, message);
    return raise_error(st, &err);
}

_Thread_local call_state *pyb_current_call;
_Thread_local PyObject *pyb_plugin_exc;

/* Emit one warning (GIL held): warnings.warn with a str object (any bytes
 * survive); after a filter turned one into an error, stay quiet. */
static void emit_warning(modstate *st, const char *message)
{
    if (PyErr_Occurred())
        return;
    PyObject *msg = message_str(message);
    if (msg) {
        PyErr_WarnFormat(st->StorageWarning, 1, "%U", msg);
        Py_DECREF(msg);
    }
}

/* An informational line (upstream prints it): logging, logger "pvestorage". */
static void emit_info(const char *message)
{
    if (PyErr_Occurred())
        return;
    PyObject *msg = message_str(message);
    PyObject *logging = msg ? PyImport_ImportModule("logging") : NULL;
    PyObject *logger = logging ? PyObject_CallMethod(logging, "getLogger", "s", "pvestorage") : NULL;
    PyObject *res = logger ? PyObject_CallMethod(logger, "info", "sO", "%s", msg) : NULL;
    Py_XDECREF(res);
    Py_XDECREF(logger);
    Py_XDECREF(logging);
    Py_XDECREF(msg);
}

/* Kept messages start with their kind: 'W' a warning, 'I' information. */
static void emit(modstate *st, const char *kept)
{
    if (kept[0] == 'I')
        emit_info(kept + 1);
    else
        emit_warning(st, kept + 1);
}

void pyb_flush_call(modstate *st, call_state *p)
{
    for (size_t i = 0; i < p->n; i++) {
        emit(st, p->v[i]);
        free(p->v[i]);
    }
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
}

/* The core's warning and info sinks: inside a call (GIL released), the
 * message is kept for afterwards, in order; anywhere else it goes out at
 * once. */
static void sink(modstate *st, char kind, const char *message)
{
    call_state *p = pyb_current_call;
    char *kept = malloc(strlen(message) + 2);
    if (!kept)
        return;   /* out of memory: the message is lost, the call goes on */
    kept[0] = kind;
    strcpy(kept + 1, message);
    if (!p) {
        PyGILState_STATE g = PyGILState_Ensure();
        emit(st, kept);
        PyGILState_Release(g);
        free(kept);
        return;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4;
        char **v = realloc(p->v, cap * sizeof *v);
        if (!v) {
            free(kept);
            return;
        }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = kept;
}

static void warn_sink(void *data, const char *message)
{
    sink(data, 'W', message);
}

static void info_sink(void *data, const char *message)
{
    sink(data, 'I', message);
}

/* ---- Python -> json ---- */

/* Linear in the distinct containers: shared sub-structures are converted
 * once (their json_t shared), and a container met while it is still being
 * converted is a cycle.  what names the argument in a TypeError. */
typedef struct conv {
    ptrmap seen;
    int depth;
    int cyclic;
    int too_deep;
    const char *what;
} conv;

static json_t *to_json(PyObject *o, conv *c);

static const char *type_name(PyObject *o)
{
    return Py_TYPE(o)->tp_name;
}

/* The bytes of a str: UTF-8, or (lone surrogates) what surrogateescape
 * stands for, else surrogatepass.  Returns a new bytes object in *keep
 * when it had to encode; NULL with an exception on failure. */
static const char *str_bytes(PyObject *o, Py_ssize_t *n, PyObject **keep)
{
    *keep = NULL;
    const char *s = PyUnicode_AsUTF8AndSize(o, n);
    if (s)
        return s;
    PyErr_Clear();
    PyObject *b = PyUnicode_AsEncodedString(o, "utf-8", "surrogateescape");
    if (!b) {
        PyErr_Clear();
        b = PyUnicode_AsEncodedString(o, "utf-8", "surrogatepass");
    }
    if (!b)
        return NULL;
    *keep = b;
    *n = PyBytes_GET_SIZE(b);
    return PyBytes_AS_STRING(b);
}

static json_t *str_to_json(PyObject *o)
{
    Py_ssize_t n;
    PyObject *keep;
    const char *s = str_bytes(o, &n, &keep);
    if (!s)
        return NULL;
    json_t *j = keep ? json_stringn_nocheck(s, (size_t)n) : json_stringn(s, (size_t)n);
    Py_XDECREF(keep);
    return j;
}

static json_t *float_to_json(double d)
{
    if (Py_IS_NAN(d))
        return json_string("NaN");
    if (Py_IS_INFINITY(d))
        return json_string(d < 0 ? "-Inf" : "Inf");
    return json_real(d);
}

static json_t *int_to_json(PyObject *o)
{
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (!overflow)
        return v == -1 && PyErr_Occurred() ? NULL : json_integer(v);
    double d = PyLong_AsDouble(o);
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        d = overflow > 0 ? Py_HUGE_VAL : -Py_HUGE_VAL;
    }
    return float_to_json(d);
}

/* A container: -1 (and *out) when it was converted before or is a cycle. */
static int enter(conv *c, PyObject *o, json_t **out)
{
    ptrmap_entry *e = ptrmap_find(&c->seen, o);
    if (e) {
        if (!e->value)
            c->cyclic = 1;
        *out = e->value ? json_incref(e->value) : json_null();
        return -1;
    }
    if (c->depth >= PVS_MAX_DEPTH) {
        c->too_deep = 1;
        *out = json_null();
        return -1;
    }
    if (ptrmap_add(&c->seen, o)) {
        *out = NULL;
        PyErr_NoMemory();
        return -1;
    }
    c->depth++;
    return 0;
}

static json_t *leave(conv *c, PyObject *o, json_t *j)
{
    c->depth--;
    ptrmap_done(&c->seen, o, j);
    return j;
}

/* JSON keys are strings: any other key is a TypeError naming it. */
static int key_error(conv *c, PyObject *key)
{
    PyErr_Format(PyExc_TypeError, "%s: keys must be str, not %.100s: %R", c->what, type_name(key), key);
    return -1;
}

static int dict_item(json_t *obj, PyObject *key, PyObject *value, conv *c)
{
    if (!PyUnicode_Check(key))
        return key_error(c, key);
    Py_ssize_t n;
    PyObject *keep;
    const char *k = str_bytes(key, &n, &keep);
    json_t *jv = k ? to_json(value, c) : NULL;
    int rc = !jv ? -1
             : keep ? json_object_setn_new_nocheck(obj, k, (size_t)n, jv)
                    : json_object_setn_new(obj, k, (size_t)n, jv);
    Py_XDECREF(keep);
    if (rc && jv && !PyErr_Occurred())
        PyErr_NoMemory();
    return rc;
}

static json_t *dict_to_json(PyObject *o, conv *c)
{
    json_t *obj;
    if (enter(c, o, &obj))
        return obj;
    obj = json_object();
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (obj && PyDict_Next(o, &pos, &key, &value)) {
        Py_INCREF(key);
        Py_INCREF(value);
        int rc = dict_item(obj, key, value, c);
        Py_DECREF(key);
        Py_DECREF(value);
        if (rc) {
            json_decref(obj);
            obj = NULL;
        }
        if (c->cyclic || c->too_deep)
            break;
    }
    return leave(c, o, obj);
}

static json_t *seq_to_json(PyObject *o, conv *c)
{
    json_t *a;
    if (enter(c, o, &a))
        return a;
    a = json_array();
    /* a list may change under a callback: index it afresh each time */
    for (Py_ssize_t i = 0; a && i < PySequence_Fast_GET_SIZE(o) && !c->cyclic && !c->too_deep; i++) {
        PyObject *item = Py_NewRef(PySequence_Fast_GET_ITEM(o, i));
        json_t *jv = to_json(item, c);
        Py_DECREF(item);
        if (!jv || json_array_append_new(a, jv)) {
            json_decref(a);
            a = NULL;
        }
    }
    return leave(c, o, a);
}

/* NULL only with a Python exception set. */
static json_t *to_json(PyObject *o, conv *c)
{
    json_t *j;
    if (o == Py_None)
        j = json_null();
    else if (PyBool_Check(o))
        j = json_boolean(o == Py_True);
    else if (PyLong_Check(o))
        j = int_to_json(o);
    else if (PyFloat_Check(o))
        j = float_to_json(PyFloat_AS_DOUBLE(o));
    else if (PyUnicode_Check(o))
        j = str_to_json(o);
    else if (PyDict_Check(o))
        j = dict_to_json(o, c);
    else if (PyList_Check(o) || PyTuple_Check(o))
        j = seq_to_json(o, c);
    else
        j = pvs_foreign_value(type_name(o));   /* reported by its type name */
    if (!j && !PyErr_Occurred())
        PyErr_NoMemory();
    return j;
}

static void conv_init(conv *c, const char *what)
{
    ptrmap_init(&c->seen);
    c->depth = c->cyclic = c->too_deep = 0;
    c->what = what;
}

static json_t *top_level_hints(PyObject *d)
{
    json_t *o = json_object();
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (o && PyDict_Next(d, &pos, &k, &v)) {
        conv c;
        conv_init(&c, "hints");
        json_t *j = PyDict_Check(v) || PyList_Check(v) || PyTuple_Check(v) ? pvs_foreign_value(type_name(v))
                                                                            : to_json(v, &c);
        ptrmap_free(&c.seen);
        Py_ssize_t n;
        PyObject *keep = NULL;
        const char *ks = PyUnicode_Check(k) ? str_bytes(k, &n, &keep) : NULL;
        if (!j || !ks || json_object_setn_new_nocheck(o, ks, (size_t)n, j)) {
            if (!ks)
                json_decref(j);
            Py_XDECREF(keep);
            json_decref(o);
            if (!PyErr_Occurred())
                PyErr_NoMemory();
            return NULL;
        }
        Py_XDECREF(keep);
    }
    return o;
}

/* Hints: *out NULL for None (absent); -1 with an exception on failure. */
static int hints_to_json(modstate *st, PyObject *o, json_t **out)
{
    *out = NULL;
    if (!o || o == Py_None)
        return 0;
    conv c;
    conv_init(&c, "hints");
    json_t *j = to_json(o, &c);
    if (j && c.cyclic && PyDict_Check(o)) {
        /* the top level, a container by its type: the core decides what a cycle means */
        json_decref(j);
        j = top_level_hints(o);
        if (!j)
            PyErr_Clear();   /* no top level to judge: the cycle is the answer */
        if (!(j = pvs_cyclic_hints(j)))
            PyErr_NoMemory();
    } else if (j && c.cyclic) {
        json_decref(j);
        j = pvs_cyclic_value();
        if (!j)
            PyErr_NoMemory();
    } else if (j && c.too_deep) {
        json_decref(j);
        j = NULL;
        raise_code(st, PVS_EHINTS, "hints are nested too deeply", NULL);
    }
    ptrmap_free(&c.seen);
    if (!j)
        return -1;
    *out = j;
    return 0;
}

/* A configuration or a storage section: a dict without cycles. */
static json_t *data_to_json(modstate *st, PyObject *o, const char *what)
{
    if (!PyDict_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a dict, not %.100s", what, type_name(o));
        return NULL;
    }
    conv c;
    conv_init(&c, what);
    json_t *j = to_json(o, &c);
    if (j && (c.cyclic || c.too_deep)) {
        json_decref(j);
        j = NULL;
        raise_code(st, PVS_EINVAL, c.cyclic ? "contains recursive cycles" : "is nested too deeply", what);
    }
    ptrmap_free(&c.seen);
    return j;
}

/* The part of a configuration that n volume IDs (or storage IDs) need:
 * {"ids": {STOREID: section, ...}}, converted section by section, so a
 * call costs the same whatever the size of the configuration. */
static json_t *cfg_to_json(modstate *st, PyObject *cfg, const char *const *ids, size_t n, int storeids)
{
    if (!PyDict_Check(cfg)) {
        PyErr_Format(PyExc_TypeError, "cfg must be a dict, not %.100s", type_name(cfg));
        return NULL;
    }
    json_t *ids_json = json_object();
    json_t *out = ids_json ? json_pack("{s:o}", "ids", ids_json) : NULL;
    if (!out)
        return (json_t *)PyErr_NoMemory();
    PyObject *ids_dict = PyDict_GetItemString(cfg, "ids");   /* borrowed */
    if (!ids_dict || !PyDict_Check(ids_dict))
        return out;   /* no storages: the core says which one does not exist */
    char **names;
    size_t nnames;
    if (pvs_config_sections_for(ids, n, storeids, &names, &nnames, NULL)) {
        json_decref(out);
        return (json_t *)PyErr_NoMemory();
    }
    Py_INCREF(ids_dict);
    conv c;
    conv_init(&c, "cfg");
    int rc = 0;
    for (size_t i = 0; i < nnames; i++) {
        PyObject *sec = rc ? NULL : PyDict_GetItemString(ids_dict, names[i]);
        if (sec) {
            Py_INCREF(sec);
            json_t *j = to_json(sec, &c);
            rc = !j || json_object_set_new(ids_json, names[i], j) ? -1 : 0;
            Py_DECREF(sec);
            if (!rc && (c.cyclic || c.too_deep)) {
                raise_code(st, PVS_EINVAL, c.cyclic ? "contains recursive cycles" : "is nested too deeply", "cfg");
                rc = -1;
            }
        }
        free(names[i]);
    }
    free(names);
    ptrmap_free(&c.seen);
    Py_DECREF(ids_dict);
    if (rc) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        json_decref(out);
        return NULL;
    }
    return out;
}

/* ---- json -> Python ---- */

static PyObject *to_python(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        PyObject *d = PyDict_New();
        const char *k;
        size_t klen;
        json_t *v;
        json_object_keylen_foreach((json_t *)j, k, klen, v) {
            PyObject *key = d ? PyUnicode_DecodeUTF8(k, (Py_ssize_t)klen, "surrogateescape") : NULL;
            PyObject *val = key ? to_python(v) : NULL;
            if (!val || PyDict_SetItem(d, key, val)) {
                Py_XDECREF(key);
                Py_XDECREF(val);
                Py_XDECREF(d);
                return NULL;
            }
            Py_DECREF(key);
            Py_DECREF(val);
        }
        return d;
    }
    case JSON_ARRAY: {
        PyObject *l = PyList_New((Py_ssize_t)json_array_size(j));
        for (size_t i = 0; l && i < json_array_size(j); i++) {
            PyObject *v = to_python(json_array_get(j, i));
            if (!v) {
                Py_DECREF(l);
                return NULL;
            }
            PyList_SET_ITEM(l, (Py_ssize_t)i, v);
        }
        return l;
    }
    case JSON_STRING:
        return PyUnicode_DecodeUTF8(json_string_value(j), (Py_ssize_t)json_string_length(j),
                                    "surrogateescape");
    case JSON_INTEGER:
        return PyLong_FromLongLong(json_integer_value(j));
    case JSON_REAL:
        return PyFloat_FromDouble(json_real_value(j));
    case JSON_TRUE:
        Py_RETURN_TRUE;
    case JSON_FALSE:
        Py_RETURN_FALSE;
    default:
        Py_RETURN_NONE;
    }
}

static PyObject *to_python_steal(json_t *j)
{
    if (!j)
        return PyErr_NoMemory();
    PyObject *o = to_python(j);
    json_decref(j);
    return o;
}

/* ---- string arguments ---- */

/* Hold o until the call ends: *keep is the call's list of such objects. */
static int keep_ref(PyObject **keep, PyObject *o)
{
    if (!*keep && !(*keep = PyList_New(0)))
        return -1;
    return PyList_Append(*keep, o);
}

/* The bytes of a str argument (UTF-8; surrogateescape'd bytes as the bytes
 * they stand for), NUL-checked; NULL for None when optional.  What had to
 * be encoded is held in *keep.  -1 with an exception on bad input. */
static int str_arg(modstate *st, PyObject *o, const char *what, int optional, const char **out,
                   PyObject **keep)
{
    *out = NULL;
    if (!o || o == Py_None) {
        if (optional)
            return 0;
        PyErr_Format(PyExc_TypeError, "%s must be a str, not None", what);
        return -1;
    }
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str, not %.100s", what, type_name(o));
        return -1;
    }
    Py_ssize_t n;
    PyObject *b;
    const char *s = str_bytes(o, &n, &b);
    if (!s)
        return -1;
    int kept = b ? keep_ref(keep, b) : 0;
    Py_XDECREF(b);
    if (kept)
        return -1;
    pvs_error err = PVS_ERROR_INIT;
    if (pvs_check_nul(what, s, (size_t)n, &err)) {
        raise_error(st, &err);
        return -1;
    }
    *out = s;
    return 0;
}

/* A list of volume IDs (strs) as a C array (PyMem_Free it); *keep holds
 * what the strings live in. */
static const char **volids_arg(modstate *st, PyObject *o, size_t *n, PyObject **keep)
{
    *n = 0;
    if (PyUnicode_Check(o)) {
        PyErr_SetString(PyExc_TypeError, "volids must be a list of volume IDs, not a str");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(o, "volids must be a list of volume IDs");
    if (!seq)
        return NULL;
    int kept = keep_ref(keep, seq);
    Py_DECREF(seq);
    if (kept)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    const char **v = PyMem_Calloc((size_t)count + 1, sizeof *v);
    if (!v)
        return (const char **)PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < count; i++)
        if (str_arg(st, PySequence_Fast_GET_ITEM(seq, i), "volume ID", 0, &v[i], keep)) {
            PyMem_Free(v);
            return NULL;
        }
    *n = (size_t)count;
    return v;
}

/* ---- blocking sections ---- */

/* The GIL is released around core calls, and no Python code runs until the
 * call is over: the warnings it makes are kept (per thread) and handed to
 * warnings.warn afterwards, in order.  So a warnings handler can never run
 * while the core holds anything (an image's map lock), and may call back
 * into this module freely. */
#define BLOCKING_CALL(st, cfgo, hintso)                      \
    {                                                       \
        call_state call_ = { NULL, 0, 0, (cfgo), (hintso), NULL }; \
        call_state *outer_ = pyb_current_call;              \
        pyb_current_call = &call_;                          \
        Py_BEGIN_ALLOW_THREADS
#define BLOCKING_BEGIN(st) BLOCKING_CALL(st, NULL, NULL)
#define BLOCKING_END(st)                                    \
        Py_END_ALLOW_THREADS                                \
        pyb_current_call = outer_;                          \
        Py_XDECREF(call_.cache);                            \
        pyb_flush_call((st), &call_);                       \
    }

/* Finish a call: a pending exception (a warning turned error) wins. */
static PyObject *finish(modstate *st, int rc, pvs_error *err, PyObject *result)
{
    if (!rc)
        Py_CLEAR(pyb_plugin_exc);   /* a plugin's exception the call got past */
    if (rc) {
        Py_XDECREF(result);
        return raise_error(st, err);
    }
    if (PyErr_Occurred()) {
        Py_XDECREF(result);
        return NULL;
    }
    return result;
}

/* ---- for foreign.c ---- */

PyObject *pyb_text(const char *s, size_t n)
{
    return text(s, n);
}

PyObject *pyb_to_python(const json_t *j)
{
    return to_python(j);
}

json_t *pyb_data_to_json(modstate *st, PyObject *o, const char *what)
{
    return data_to_json(st, o, what);
}

PyObject *pyb_raise(modstate *st, pvs_error *err)
{
    return raise_error(st, err);
}

PyObject *pyb_raise_code(modstate *st, int code, const char *message)
{
    return raise_code(st, code, message, NULL);
}

/* ---- module functions ---- */

static PyObject *py_is_hint_supported(PyObject *module, PyObject *name)
{
    (void)module;
    if (!PyUnicode_Check(name))
        Py_RETURN_FALSE;
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(name, &n);
    if (!s) {
        PyErr_Clear();
        Py_RETURN_FALSE;
    }
    return PyBool_FromLong((size_t)n == strlen(s) && pvs_is_hint_supported(s));
}

/* A scalar as the core's value; 0 when only the JSON path can tell. */
static int scalar_value(PyObject *v, pvs_value *out)
{
    memset(out, 0, sizeof *out);
    if (v == Py_None) {
        out->kind = PVS_V_NULL;
    } else if (PyBool_Check(v)) {
        out->kind = PVS_V_BOOL;
        out->b = v == Py_True;
    } else if (PyLong_CheckExact(v)) {
        int overflow;
        out->kind = PVS_V_INT;
        out->i = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow || (out->i == -1 && PyErr_Occurred()))
            return PyErr_Clear(), 0;
    } else if (PyFloat_CheckExact(v) && Py_IS_FINITE(PyFloat_AS_DOUBLE(v))) {
        out->kind = PVS_V_REAL;
        out->d = PyFloat_AS_DOUBLE(v);
    } else if (PyUnicode_CheckExact(v)) {
        Py_ssize_t n;
        out->kind = PVS_V_STRING;
        if (!(out->s = PyUnicode_AsUTF8AndSize(v, &n)))
            return PyErr_Clear(), 0;
        out->len = (size_t)n;
    } else {
        return 0;
    }
    return 1;
}

/* verify_hints' fast path: a small plain dict of str keys and scalar
 * values is judged item by item, without building JSON.  1 when it
 * applied (*rc set); 0 when the general path must decide. */
static int verify_fast(PyObject *hints, pvs_error *err, int *rc)
{
    if (!PyDict_CheckExact(hints) || PyDict_GET_SIZE(hints) > PVS_HINT_ITEMS_MAX)
        return 0;
    pvs_hint_item items[PVS_HINT_ITEMS_MAX];
    size_t n = 0;
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(hints, &pos, &k, &v)) {
        Py_ssize_t klen;
        if (!PyUnicode_CheckExact(k) || !(items[n].key = PyUnicode_AsUTF8AndSize(k, &klen)))
            return PyErr_Clear(), 0;
        items[n].keylen = (size_t)klen;
        if (!scalar_value(v, &items[n++].value))
            return 0;
    }
    *rc = pvs_verify_hint_items(items, n, err);
    return 1;
}

static PyObject *py_verify_hints(PyObject *module, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "hints", "noerr", NULL };
    PyObject *hints;
    int noerr = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p:verify_hints", kwlist, &hints, &noerr))
        return NULL;
    modstate *st = get_state(module);
    pvs_error err = PVS_ERROR_INIT;
    int rc;
    if (hints == Py_None)
        Py_RETURN_NONE;
    if (!verify_fast(hints, noerr ? NULL : &err, &rc)) {
        json_t *j;
        if (hints_to_json(st, hints, &j))
            return NULL;
        rc = pvs_verify_hints(j, noerr ? NULL : &err);
        json_decref(j);
    }
    if (rc == 0)
        return Py_NewRef(hints);   /* the very same object */
    if (noerr)
        Py_RETURN_NONE;
    return raise_error(st, &err);
}

static PyObject *py_parse_volume_id(PyObject *module, PyObject *volid)
{
    modstate *st = get_state(module);
    const char *s;
    PyObject *keep = NULL;
    if (str_arg(st, volid, "volume ID", 0, &s, &keep)) {
        Py_XDECREF(keep);
        return NULL;
    }
    char *storeid, *volname;
    pvs_error err = PVS_ERROR_INIT;
    int rc = pvs_parse_volume_id(s, &storeid, &volname, &err);
    Py_XDECREF(keep);
    if (rc)
        return raise_error(st, &err);
    PyObject *a = text_or_none(storeid), *b = text_or_none(volname);
    PyObject *r = a && b ? PyTuple_Pack(2, a, b) : NULL;
    Py_XDECREF(a);
    Py_XDECREF(b);
    free(storeid);
    free(volname);
    return r;
}

static PyObject *py_read_config(PyObject *module, PyObject *path)
{
    modstate *st = get_state(module);
    PyObject *fs = NULL;
    if (!PyUnicode_FSConverter(path, &fs))
        return NULL;
    const char *p = PyBytes_AS_STRING(fs);
    pvs_error err = PVS_ERROR_INIT;
    json_t *cfg;
    if (strlen(p) != (size_t)PyBytes_GET_SIZE(fs)) {
        Py_DECREF(fs);
        PyErr_SetString(PyExc_ValueError, "configuration path contains a NUL byte");
        return NULL;
    }
    BLOCKING_BEGIN(st)
    cfg = pvs_config_read(st->ctx, p, &err);
    BLOCKING_END(st)
    Py_DECREF(fs);
    if (!cfg)
        return raise_error(st, &err);
    return finish(st, 0, &err, to_python_steal(cfg));
}

static PyObject *py_parse_config(PyObject *module, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "text", "filename", NULL };
    PyObject *texto, *fno = NULL, *keep = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:parse_config", kwlist, &texto, &fno))
        return NULL;
    modstate *st = get_state(module);
    const char *text, *filename = "-";
    Py_ssize_t len;
    /* text: a str (surrogateescape'd bytes kept) or bytes */
    if (PyBytes_Check(texto)) {
        text = PyBytes_AS_STRING(texto);
        len = PyBytes_GET_SIZE(texto);
    } else if (PyUnicode_Check(texto)) {
        PyObject *b;
        text = str_bytes(texto, &len, &b);
        if (b && keep_ref(&keep, b))
            text = NULL;
        Py_XDECREF(b);
    } else {
        PyErr_Format(PyExc_TypeError, "text must be str or bytes, not %.100s", type_name(texto));
        text = NULL;
    }
    if (!text || (fno && str_arg(st, fno, "file name", 0, &filename, &keep))) {
        Py_XDECREF(keep);
        return NULL;
    }
    pvs_error err = PVS_ERROR_INIT;
    json_t *cfg;
    BLOCKING_BEGIN(st)
    cfg = pvs_config_parse(st->ctx, filename, text, (size_t)len, &err);
    BLOCKING_END(st)
    Py_XDECREF(keep);
    if (!cfg)
        return raise_error(st, &err);
    return finish(st, 0, &err, to_python_steal(cfg));
}

/* what a volume-list call converted, released with its result */
static PyObject *release_args(json_t *cfg, json_t *hints, const char **vols, PyObject *keep, PyObject *result)
{
    json_decref(cfg);
    json_decref(hints);
    PyMem_Free(vols);
    Py_XDECREF(keep);
    return result;
}

static PyObject *volumes_call(PyObject *module, PyObject *args, PyObject *kw, int activate)
{
    static char *kwlist_a[] = { "cfg", "volids", "snapname", "hints", NULL };
    static char *kwlist_d[] = { "cfg", "volids", "snapname", NULL };
    PyObject *cfgo, *volo, *snapo = Py_None, *hintso = Py_None;
    if (activate ? !PyArg_ParseTupleAndKeywords(args, kw, "OO|OO:activate_volumes", kwlist_a,
                                                &cfgo, &volo, &snapo, &hintso)
                 : !PyArg_ParseTupleAndKeywords(args, kw, "OO|O:deactivate_volumes", kwlist_d,
                                                &cfgo, &volo, &snapo))
        return NULL;
    modstate *st = get_state(module);
    size_t n;
    PyObject *keep = NULL;
    const char **vols = volids_arg(st, volo, &n, &keep);
    if (!vols) {
        Py_XDECREF(keep);
        return NULL;
    }
    PyObject *result = NULL;
    json_t *cfg = NULL, *hints = NULL;
    const char *snap;
    if (n == 0) {   /* nothing to do, not even the hints check (as upstream) */
        result = Py_NewRef(Py_None);
        goto out;
    }
    if (str_arg(st, snapo, "snapshot name", 1, &snap, &keep) || !(cfg = cfg_to_json(st, cfgo, vols, n, 0))
        || (activate && hints_to_json(st, hintso, &hints)))
        goto out;
    pvs_error err = PVS_ERROR_INIT;
    int rc;
    BLOCKING_CALL(st, cfgo, hintso == Py_None ? NULL : hintso)
    rc = activate ? pvs_activate_volumes(st->ctx, cfg, vols, n, snap, hints, &err)
                  : pvs_deactivate_volumes(st->ctx, cfg, vols, n, snap, &err);
    BLOCKING_END(st)
    result = finish(st, rc, &err, Py_NewRef(Py_None));
out:
    return release_args(cfg, hints, vols, keep, result);
}

static PyObject *py_activate_volumes(PyObject *m, PyObject *a, PyObject *k)
{
    return volumes_call(m, a, k, 1);
}

static PyObject *py_deactivate_volumes(PyObject *m, PyObject *a, PyObject *k)
{
    return volumes_call(m, a, k, 0);
}

enum { OP_MAP, OP_UNMAP, OP_PATH, OP_ACTIVATE_STORAGE };

static PyObject *volume_call(PyObject *module, PyObject *args, PyObject *kw, int op)
{
    static char *kw_map[] = { "cfg", "volid", "snapname", "hints", NULL };
    static char *kw_vol[] = { "cfg", "volid", "snapname", NULL };
    static char *kw_sto[] = { "cfg", "storeid", NULL };
    PyObject *cfgo, *ido, *snapo = Py_None, *hintso = Py_None;
    int ok;
    switch (op) {
    case OP_MAP:
        ok = PyArg_ParseTupleAndKeywords(args, kw, "OO|OO:map_volume", kw_map, &cfgo, &ido, &snapo, &hintso);
        break;
    case OP_UNMAP:
        ok = PyArg_ParseTupleAndKeywords(args, kw, "OO|O:unmap_volume", kw_vol, &cfgo, &ido, &snapo);
        break;
    case OP_PATH:
        ok = PyArg_ParseTupleAndKeywords(args, kw, "OO|O:path", kw_vol, &cfgo, &ido, &snapo);
        break;
    default:
        ok = PyArg_ParseTupleAndKeywords(args, kw, "OO:activate_storage", kw_sto, &cfgo, &ido);
        break;
    }
    if (!ok)
        return NULL;
    modstate *st = get_state(module);
    const char *id, *snap;
    json_t *cfg = NULL, *hints = NULL;
    PyObject *result = NULL, *keep = NULL;
    if (str_arg(st, ido, op == OP_ACTIVATE_STORAGE ? "storage ID" : "volume ID", 0, &id, &keep)
        || str_arg(st, snapo, "snapshot name", 1, &snap, &keep)
        || !(cfg = cfg_to_json(st, cfgo, &id, 1, op == OP_ACTIVATE_STORAGE))
        || (op == OP_MAP && hints_to_json(st, hintso, &hints)))
        goto out;
    pvs_error err = PVS_ERROR_INIT;
    char *path = NULL;
    int rc;
    BLOCKING_CALL(st, cfgo, op == OP_MAP && hintso != Py_None ? hintso : NULL)
    switch (op) {
    case OP_MAP: rc = pvs_map_volume(st->ctx, cfg, id, snap, hints, &path, &err); break;
    case OP_UNMAP: rc = pvs_unmap_volume(st->ctx, cfg, id, snap, &err); break;
    case OP_PATH: rc = pvs_path(st->ctx, cfg, id, snap, &path, &err); break;
    default: rc = pvs_activate_storage(st->ctx, cfg, id, &err); break;
    }
    BLOCKING_END(st)
    result = finish(st, rc, &err, text_or_none(path));
    free(path);
out:
    json_decref(cfg);
    json_decref(hints);
    Py_XDECREF(keep);
    return result;
}

static PyObject *py_map_volume(PyObject *m, PyObject *a, PyObject *k) { return volume_call(m, a, k, OP_MAP); }
static PyObject *py_unmap_volume(PyObject *m, PyObject *a, PyObject *k) { return volume_call(m, a, k, OP_UNMAP); }
static PyObject *py_path(PyObject *m, PyObject *a, PyObject *k) { return volume_call(m, a, k, OP_PATH); }
static PyObject *py_activate_storage(PyObject *m, PyObject *a, PyObject *k)
{
    return volume_call(m, a, k, OP_ACTIVATE_STORAGE);
}

static PyObject *py_get_identity(PyObject *module, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "cfg", "storeid", NULL };
    PyObject *cfgo, *ido, *keep = NULL, *result = NULL;
    char *type = NULL, *ident = NULL;
    pvs_error err = PVS_ERROR_INIT;
    json_t *cfg = NULL;
    const char *id;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:get_identity", kwlist, &cfgo, &ido))
        return NULL;
    modstate *st = get_state(module);
    if (str_arg(st, ido, "storage ID", 0, &id, &keep) || !(cfg = cfg_to_json(st, cfgo, &id, 1, 1)))
        goto out;
    int rc;
    BLOCKING_CALL(st, cfgo, NULL)
    rc = pvs_get_identity(st->ctx, cfg, id, &type, &ident, &err);
    BLOCKING_END(st)
    result = finish(st, rc, &err, text_or_none(ident));
    free(type);
    free(ident);
out:
    json_decref(cfg);
    Py_XDECREF(keep);
    return result;
}

/* The records of a reporting call, a list of dicts; after a failure the
 * call's exception carries them as .volumes. */
static PyObject *records_result(modstate *st, int rc, pvs_error *err, json_t *report)
{
    PyObject *records = report ? to_python(report) : PyList_New(0);
    json_decref(report);
    PyObject *result = finish(st, rc, err, records ? Py_NewRef(records) : NULL);
    if (!result && rc && records) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        PyErr_NormalizeException(&t, &v, &tb);
        if (v && PyObject_SetAttrString(v, "volumes", records) < 0)
            PyErr_Clear();
        PyErr_Restore(t, v, tb);
    }
    Py_XDECREF(records);
    return result;
}

/* activate_volumes_report / map_volume_report: what each volume got, or
 * (dry_run) would get */
static PyObject *report_call(PyObject *module, PyObject *args, PyObject *kw, int map)
{
    static char *kw_a[] = { "cfg", "volids", "snapname", "hints", "dry_run", NULL };
    static char *kw_m[] = { "cfg", "volid", "snapname", "hints", "dry_run", NULL };
    PyObject *cfgo, *volo, *snapo = Py_None, *hintso = Py_None, *keep = NULL, *result = NULL;
    int dry = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, map ? "OO|OO$p:map_volume_report" : "OO|OO$p:activate_volumes_report",
                                     map ? kw_m : kw_a, &cfgo, &volo, &snapo, &hintso, &dry))
        return NULL;
    modstate *st = get_state(module);
    size_t n = 1;
    const char *one = NULL, *snap = NULL, **vols = NULL;
    json_t *cfg = NULL, *hints = NULL, *report = NULL;
    if (map ? str_arg(st, volo, "volume ID", 0, &one, &keep) != 0 : !(vols = volids_arg(st, volo, &n, &keep)))
        goto out;
    if (str_arg(st, snapo, "snapshot name", 1, &snap, &keep) || !(cfg = cfg_to_json(st, cfgo, map ? &one : vols, n, 0))
        || hints_to_json(st, hintso, &hints))
        goto out;
    pvs_error err = PVS_ERROR_INIT;
    char *path = NULL;
    int rc, flags = dry ? PVS_DRY_RUN : 0;
    BLOCKING_CALL(st, cfgo, hintso == Py_None ? NULL : hintso)
    rc = map ? pvs_map_volume_report(st->ctx, cfg, one, snap, hints, flags, &path, &report, &err)
             : pvs_activate_volumes_report(st->ctx, cfg, vols, n, snap, hints, flags, &report, &err);
    BLOCKING_END(st)
    free(path);   /* each record has its path */
    result = records_result(st, rc, &err, report);
out:
    return release_args(cfg, hints, vols, keep, result);
}

static PyObject *py_activate_volumes_report(PyObject *m, PyObject *a, PyObject *k) { return report_call(m, a, k, 0); }
static PyObject *py_map_volume_report(PyObject *m, PyObject *a, PyObject *k) { return report_call(m, a, k, 1); }

/* a call on the whole configuration (the storages it needs are known only
 * inside it): fn's result back, as records (reporting calls) or as is */
typedef int (*cfg_fn)(pvs_ctx *ctx, const json_t *cfg, const void *arg, json_t **out, pvs_error *err);

static PyObject *cfg_call(PyObject *module, PyObject *cfgo, cfg_fn fn, const void *arg, int records)
{
    modstate *st = get_state(module);
    json_t *cfg = data_to_json(st, cfgo, "cfg"), *out = NULL;
    if (!cfg)
        return NULL;
    pvs_error err = PVS_ERROR_INIT;
    int rc;
    BLOCKING_CALL(st, cfgo, NULL)
    rc = fn(st->ctx, cfg, arg, &out, &err);
    BLOCKING_END(st)
    json_decref(cfg);
    if (records)
        return records_result(st, rc, &err, out);
    return finish(st, rc, &err, rc ? NULL : to_python_steal(out));
}

typedef struct guest_args {
    long long vmid;
    int may, flags;
} guest_args;

static int guest_fn(pvs_ctx *ctx, const json_t *cfg, const void *arg, json_t **out, pvs_error *err)
{
    const guest_args *g = arg;
    return pvs_activate_guest(ctx, cfg, g->vmid, g->may, g->flags, out, NULL, err);
}

/* activate_vm_volumes: the VM-start flow, the records back */
static PyObject *py_activate_vm_volumes(PyObject *module, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "cfg", "vmid", "may_deactivate", "dry_run", NULL };
    PyObject *cfgo;
    guest_args g = { 0, 0, 0 };
    int dry = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OL|p$p:activate_vm_volumes", kwlist, &cfgo, &g.vmid, &g.may, &dry))
        return NULL;
    g.flags = dry ? PVS_DRY_RUN : 0;
    return cfg_call(module, cfgo, guest_fn, &g, 1);
}

static int audit_fn(pvs_ctx *ctx, const json_t *cfg, const void *arg, json_t **out, pvs_error *err)
{
    (void)arg;
    return pvs_audit(ctx, cfg, out, err);
}

/* audit: every guest's krbd volumes against its hints, a dict back */
static PyObject *py_audit(PyObject *module, PyObject *cfgo)
{
    return cfg_call(module, cfgo, audit_fn, NULL, 0);
}

static PyObject *py_storage_hints(PyObject *module, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "ostype", "may_deactivate", NULL };
    PyObject *osto = Py_None, *keep = NULL, *result = NULL;
    int may = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|Op:storage_hints", kwlist, &osto, &may))
        return NULL;
    const char *os;
    if (!str_arg(get_state(module), osto, "ostype", 1, &os, &keep))
        result = to_python_steal(pvs_storage_hints(os, may));
    Py_XDECREF(keep);
    return result;
}

static PyObject *py_path_to_volume_id(PyObject *module, PyObject *args)
{
    PyObject *cfgo, *patho, *keep = NULL, *result = NULL;
    const char *path;
    if (!PyArg_ParseTuple(args, "OO:path_to_volume_id", &cfgo, &patho))
        return NULL;
    modstate *st = get_state(module);
    json_t *cfg = NULL;
    if (str_arg(st, patho, "path", 0, &path, &keep) || !(cfg = data_to_json(st, cfgo, "cfg")))
        goto out;
    pvs_error err = PVS_ERROR_INIT;
    char *vtype = NULL, *volid = NULL;
    int rc;
    BLOCKING_CALL(st, cfgo, NULL)
    rc = pvs_path_to_volume_id(st->ctx, cfg, path, &vtype, &volid, &err);
    BLOCKING_END(st)
    result = finish(st, rc, &err, volid ? Py_BuildValue("(NN)", text_or_none(vtype), text_or_none(volid))
                                        : Py_NewRef(Py_None));
    free(vtype);
    free(volid);
out:
    json_decref(cfg);
    Py_XDECREF(keep);
    return result;
}

static PyObject *py_get_subdir(PyObject *module, PyObject *args)
{
    PyObject *scfgo, *vtypeo, *keep = NULL, *result = NULL;
    const char *vtype;
    if (!PyArg_ParseTuple(args, "OO:get_subdir", &scfgo, &vtypeo))
        return NULL;
    modstate *st = get_state(module);
    json_t *scfg = NULL;
    if (!str_arg(st, vtypeo, "content type", 0, &vtype, &keep) && (scfg = data_to_json(st, scfgo, "scfg"))) {
        pvs_error err = PVS_ERROR_INIT;
        char *dir = pvs_get_subdir(scfg, vtype, &err);
        result = finish(st, dir ? 0 : err.code, &err, text_or_none(dir));
        free(dir);
    }
    json_decref(scfg);
    Py_XDECREF(keep);
    return result;
}

static PyObject *settings_dict(modstate *st)
{
    PyObject *d = PyDict_New();
    const char *const *names = pvs_ctx_setting_names();
    pvs_error err = PVS_ERROR_INIT;
    for (size_t i = 0; d && names[i]; i++) {
        char *text;
        if (pvs_ctx_get_setting(st->ctx, names[i], &text, &err)) {
            Py_CLEAR(d);
            return raise_error(st, &err);
        }
        PyObject *v = text_or_none(text);
        free(text);
        if (!v || PyDict_SetItemString(d, names[i], v))
            Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

static PyObject *py_api(PyObject *module, PyObject *unused)
{
    (void)module, (void)unused;
    json_t *api = pvs_api_description();
    return api ? to_python_steal(api) : PyErr_NoMemory();
}

static PyObject *py_settings(PyObject *module, PyObject *unused)
{
    (void)unused;
    return settings_dict(get_state(module));
}

static PyObject *py_configure(PyObject *module, PyObject *args, PyObject *kw)
{
    modstate *st = get_state(module);
    if (PyTuple_GET_SIZE(args)) {
        PyErr_SetString(PyExc_TypeError, "configure() takes keyword arguments only");
        return NULL;
    }
    if (!kw || !PyDict_GET_SIZE(kw))
        Py_RETURN_NONE;
    /* convert everything first; the core applies all or nothing */
    Py_ssize_t n = PyDict_GET_SIZE(kw), pos = 0, i = 0;
    const char **names = PyMem_Calloc((size_t)n * 2, sizeof *names), **values = names + n;
    PyObject *key, *value, *keep = NULL;
    int rc = names ? 0 : (PyErr_NoMemory(), -1);
    while (!rc && PyDict_Next(kw, &pos, &key, &value)) {
        PyObject *s = PyLong_Check(value) || PyFloat_Check(value) ? PyObject_Str(value) : Py_NewRef(value);
        rc = !s || str_arg(st, key, "setting name", 0, &names[i], &keep)
             || str_arg(st, s, "setting value", 0, &values[i], &keep) || keep_ref(&keep, s);
        Py_XDECREF(s);
        i++;
    }
    pvs_error err = PVS_ERROR_INIT;
    if (!rc && pvs_ctx_configure(st->ctx, names, values, (size_t)n, &err))
        rc = -2;
    PyMem_Free(names);
    Py_XDECREF(keep);
    if (rc == -2)
        return raise_error(st, &err);
    if (rc)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *py_hints_json_schema(PyObject *module, PyObject *unused)
{
    (void)module, (void)unused;
    return to_python_steal(pvs_hints_json_schema());
}

/* ---- plugin objects ---- */

static PyObject *py_plugin(PyObject *module, PyObject *type)
{
    modstate *st = get_state(module);
    const char *t;
    PyObject *keep = NULL;
    if (str_arg(st, type, "storage type", 0, &t, &keep)) {
        Py_XDECREF(keep);
        return NULL;
    }
    pvs_error err = PVS_ERROR_INIT;
    const pvs_plugin *p = pvs_plugin_lookup(st->ctx, t, &err);
    Py_XDECREF(keep);
    if (!p)
        return raise_error(st, &err);
    PluginObject *self = PyObject_GC_New(PluginObject, st->PluginType);
    if (!self)
        return NULL;
    self->plugin = p;
    self->module = Py_NewRef(module);
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static int plugin_traverse(PluginObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->module);
    return 0;
}

static int plugin_clear(PluginObject *self)
{
    Py_CLEAR(self->module);
    return 0;
}

static void plugin_dealloc(PluginObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    plugin_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *plugin_repr(PluginObject *self)
{
    return PyUnicode_FromFormat("<pvestorage plugin '%s' (API %d)>", self->plugin->type, self->plugin->api);
}

static PyObject *plugin_get_type(PluginObject *self, void *c)
{
    (void)c;
    return PyUnicode_FromString(self->plugin->type);
}

static PyObject *plugin_get_api(PluginObject *self, void *c)
{
    (void)c;
    return PyLong_FromLong(self->plugin->api);
}

/* A method's result as Python: the fields of a volume name as a 7-tuple
 * (absent ones None), a text or None. */
static PyObject *method_value(const pvs_api_method *desc, pvs_method_result *r)
{
    if (strcmp(desc->result, "volname") != 0)
        return text_or_none(r->text);
    pvs_volname *v = &r->volname;
    const char *fields[7] = { v->vtype, v->name, v->vmid, v->basename, v->basevmid, v->isbase, v->format };
    PyObject *t = PyTuple_New(7);
    for (int i = 0; t && i < 7; i++) {
        PyObject *f = text_or_none(fields[i]);
        if (!f)
            Py_CLEAR(t);
        else
            PyTuple_SET_ITEM(t, i, f);
    }
    return t;
}

/* One argument of a method, converted by its name (pvestorage_api.def):
 * the strings borrowed (kept alive by *keep), the JSON owned by owned. */
static int method_argument(modstate *st, const char *name, PyObject *v, int optional, pvs_method_args *a,
                           json_t **owned, PyObject **keep)
{
    if (strcmp(name, "storeid") == 0)
        return str_arg(st, v, "storage ID", optional, &a->storeid, keep);
    if (strcmp(name, "volname") == 0)
        return str_arg(st, v, "volume name", optional, &a->volname, keep);
    if (strcmp(name, "snapname") == 0)
        return str_arg(st, v, "snapshot name", 1, &a->snapname, keep);
    if (strcmp(name, "scfg") == 0)
        return !(a->scfg = owned[0] = data_to_json(st, v, "scfg"));
    if (strcmp(name, "hints") == 0) {
        int rc = hints_to_json(st, v, &owned[1]);
        a->hints = owned[1];
        return rc;
    }
    return 0;   /* cache: accepted for Proxmox's signature; the core keeps its own */
}

/* Plugin method m, its arguments as pvestorage_api.def lists them
 * (positional or by keyword, the first `required` of them required). */
static PyObject *plugin_method(PluginObject *self, PyObject *args, PyObject *kw, int m)
{
    const pvs_api_method *desc = &pvs_api_methods()[m];
    PyObject *v[PVS_API_MAX_ARGS] = { NULL }, *keep = NULL, *result = NULL;
    char fmt[64];
    int n = 0, at = 0;
    for (; n < PVS_API_MAX_ARGS && desc->args[n]; n++)
        at += snprintf(fmt + at, sizeof fmt - (size_t)at, "%sO", n == desc->required ? "|" : "");
    snprintf(fmt + at, sizeof fmt - (size_t)at, ":%s", desc->name);
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, (char **)desc->args, &v[0], &v[1], &v[2], &v[3], &v[4],
                                     &v[5], &v[6], &v[7]))
        return NULL;
    modstate *st = get_state(self->module);
    pvs_method_args a = { 0 };
    json_t *owned[2] = { NULL, NULL };
    for (int i = 0; i < n; i++)
        if (method_argument(st, desc->args[i], v[i] ? v[i] : Py_None, i >= desc->required, &a, owned, &keep))
            goto out;
    pvs_error err = PVS_ERROR_INIT;
    pvs_method_result r;
    int rc;
    BLOCKING_BEGIN(st)
    rc = pvs_plugin_call(st->ctx, self->plugin, m, &a, &r, &err);
    BLOCKING_END(st)
    result = finish(st, rc, &err, rc ? NULL : method_value(desc, &r));
    pvs_method_result_clear(&r);
out:
    json_decref(owned[0]);
    json_decref(owned[1]);
    Py_XDECREF(keep);
    return result;
}

#define PVS_API_METHOD(name, result, required, meaning, ...)                        \
    static PyObject *plugin_##name(PluginObject *s, PyObject *a, PyObject *k) \
    {                                                                           \
        return plugin_method(s, a, k, PVS_METHOD_##name);                       \
    }
#include "pvestorage_api.def"

static PyObject *(*const plugin_entries[])(PluginObject *, PyObject *, PyObject *) = {
#define PVS_API_METHOD(name, result, required, meaning, ...) plugin_##name,
#include "pvestorage_api.def"
};

/* The methods of the Plugin type, their docs ("name($self, a, b=None)" and
 * the meaning) from pvestorage_api.def; made once for every interpreter. */
static PyMethodDef plugin_methods[PVS_NMETHODS + 1];
static char plugin_docs[PVS_NMETHODS][256];
static pthread_once_t plugin_methods_once = PTHREAD_ONCE_INIT;

static void make_plugin_methods(void)
{
    const pvs_api_method *m = pvs_api_methods();
    for (int i = 0; i < PVS_NMETHODS; i++) {
        char *d = plugin_docs[i];
        size_t at = (size_t)snprintf(d, sizeof plugin_docs[i], "%s($self", m[i].name);
        for (int k = 0; k < PVS_API_MAX_ARGS && m[i].args[k] && at < sizeof plugin_docs[i]; k++)
            at += (size_t)snprintf(d + at, sizeof plugin_docs[i] - at, ", %s%s", m[i].args[k],
                                   k >= m[i].required ? "=None" : "");
        if (at < sizeof plugin_docs[i])
            snprintf(d + at, sizeof plugin_docs[i] - at, ")\n--\n\n%c%s, as Proxmox's %s.", Py_TOUPPER(m[i].meaning[0]),
                     m[i].meaning + 1, m[i].name);
        plugin_methods[i] = (PyMethodDef){ m[i].name, (PyCFunction)(void (*)(void))plugin_entries[i],
                                           METH_VARARGS | METH_KEYWORDS, d };
    }
}

static PyGetSetDef plugin_getset[] = {
    { "type", (getter)plugin_get_type, NULL, "the storage type", NULL },
    { "api", (getter)plugin_get_api, NULL, "the storage API version the plugin implements", NULL },
    { NULL, NULL, NULL, NULL, NULL },
};

static PyType_Slot plugin_slots[] = {
    { Py_tp_doc, "A storage plugin, as returned by pvestorage.plugin(type)." },
    { Py_tp_dealloc, plugin_dealloc },
    { Py_tp_traverse, plugin_traverse },
    { Py_tp_clear, plugin_clear },
    { Py_tp_repr, plugin_repr },
    { Py_tp_methods, plugin_methods },
    { Py_tp_getset, plugin_getset },
    { 0, NULL },
};

static PyType_Spec plugin_spec = {
    .name = "pvestorage.Plugin",
    .basicsize = sizeof(PluginObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE
             | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = plugin_slots,
};

/* ---- module ---- */

static PyMethodDef module_methods[] = {
    { "is_hint_supported", py_is_hint_supported, METH_O,
      "is_hint_supported(name, /)\n--\n\nTrue iff name is a defined hint (exact, case-sensitive)." },
    { "verify_hints", (PyCFunction)(void (*)(void))py_verify_hints, METH_VARARGS | METH_KEYWORDS,
      "verify_hints(hints, noerr=False)\n--\n\n"
      "Return hints itself when valid, None for None.  Invalid hints raise HintError\n"
      "with Proxmox's message, or return None with noerr." },
    { "parse_volume_id", py_parse_volume_id, METH_O,
      "parse_volume_id(volid, /)\n--\n\n(storeid, volname) of 'STOREID:VOLNAME'." },
    { "read_config", py_read_config, METH_O,
      "read_config(path, /)\n--\n\nParse a storage.cfg into {'ids': ..., 'order': ...};\n"
      "bad lines are warned (StorageWarning) and skipped." },
    { "parse_config", (PyCFunction)(void (*)(void))py_parse_config, METH_VARARGS | METH_KEYWORDS,
      "parse_config(text, filename='-')\n--\n\nParse storage.cfg text (str or bytes)." },
    { "activate_volumes", (PyCFunction)(void (*)(void))py_activate_volumes, METH_VARARGS | METH_KEYWORDS,
      "activate_volumes(cfg, volids, snapname=None, hints=None)\n--\n\n"
      "Verify hints, activate each storage once, then each volume with the hints." },
    { "activate_volumes_report", (PyCFunction)(void (*)(void))py_activate_volumes_report, METH_VARARGS | METH_KEYWORDS,
      "activate_volumes_report(cfg, volids, snapname=None, hints=None, *, dry_run=False)\n--\n\n"
      "activate_volumes, returning one dict per volume: volid, path, action, warnings\n"
      "(and for kernel RBD options_before, options_after, commands).  dry_run: every\n"
      "read, no change; the dicts are the plan.  A failure's exception has .volumes." },
    { "map_volume_report", (PyCFunction)(void (*)(void))py_map_volume_report, METH_VARARGS | METH_KEYWORDS,
      "map_volume_report(cfg, volid, snapname=None, hints=None, *, dry_run=False)\n--\n\n"
      "map_volume, returning the volume's record (a list of one dict), as\n"
      "activate_volumes_report does." },
    { "activate_vm_volumes", (PyCFunction)(void (*)(void))py_activate_vm_volumes, METH_VARARGS | METH_KEYWORDS,
      "activate_vm_volumes(cfg, vmid, may_deactivate=False, *, dry_run=False)\n--\n\n"
      "The VM-start flow: the guest's volumes from /etc/pve/qemu-server/VMID.conf\n"
      "(under the root setting) and the hints qemu-server computes from its ostype,\n"
      "activated as activate_volumes_report does; the records back." },
    { "audit", py_audit, METH_O,
      "audit(cfg, /)\n--\n\n"
      "Every guest under /etc/pve/qemu-server (the root setting) against its kernel\n"
      "RBD mappings: {'volumes': [...], 'guest_errors': [...], 'needs_action': N};\n"
      "a Windows guest's volume mapped without rxbounce is not in order, with the\n"
      "command that remaps it when the guest is not running.  Reads only." },
    { "deactivate_volumes", (PyCFunction)(void (*)(void))py_deactivate_volumes, METH_VARARGS | METH_KEYWORDS,
      "deactivate_volumes(cfg, volids, snapname=None)\n--\n\n"
      "Deactivate volumes, going on past failures (each warned), then raise DeactivationError." },
    { "map_volume", (PyCFunction)(void (*)(void))py_map_volume, METH_VARARGS | METH_KEYWORDS,
      "map_volume(cfg, volid, snapname=None, hints=None)\n--\n\nMap a volume; returns its path." },
    { "unmap_volume", (PyCFunction)(void (*)(void))py_unmap_volume, METH_VARARGS | METH_KEYWORDS,
      "unmap_volume(cfg, volid, snapname=None)\n--\n\nUnmap a volume." },
    { "path", (PyCFunction)(void (*)(void))py_path, METH_VARARGS | METH_KEYWORDS,
      "path(cfg, volid, snapname=None)\n--\n\nThe path of a volume." },
    { "activate_storage", (PyCFunction)(void (*)(void))py_activate_storage, METH_VARARGS | METH_KEYWORDS,
      "activate_storage(cfg, storeid)\n--\n\nActivate one storage." },
    { "get_identity", (PyCFunction)(void (*)(void))py_get_identity, METH_VARARGS | METH_KEYWORDS,
      "get_identity(cfg, storeid)\n--\n\n"
      "The identifier of the storage instance behind storeid (API 14), as its plugin's\n"
      "get_identity tells it, or None.  The storage must exist and be enabled; a plugin\n"
      "without get_identity raises PluginError, as upstream's base method dies." },
    { "storage_hints", (PyCFunction)(void (*)(void))py_storage_hints, METH_VARARGS | METH_KEYWORDS,
      "storage_hints(ostype=None, may_deactivate=False)\n--\n\nThe hints of a VM by qemu-server's rule "
      "(generate_storage_hints):\n{'guest-is-windows': 0|1, 'plugin-may-deactivate-volume': 0|1}; Windows\n"
      "is an ostype of wxp, w2k, w2k3, w2k8, wvista or winN; may_deactivate is true at VM start." },
    { "path_to_volume_id", py_path_to_volume_id, METH_VARARGS,
      "path_to_volume_id(cfg, path, /)\n--\n\nWhich volume a file is, as PVE::Storage::path_to_volume_id:\n"
      "(vtype, volid), or None when the path is no volume of a storage with a path." },
    { "get_subdir", py_get_subdir, METH_VARARGS,
      "get_subdir(scfg, vtype, /)\n--\n\nA content type's directory on a storage (content-dirs applied)." },
    { "configure", (PyCFunction)(void (*)(void))py_configure, METH_VARARGS | METH_KEYWORDS,
      "configure(**settings)\n--\n\n"
      "Set host settings: root, rbd_command, ceph_timeout, kernel_version.\n"
      "An unknown setting or a bad value raises and changes nothing." },
    { "settings", py_settings, METH_NOARGS, "settings()\n--\n\nThe current host settings." },
    { "_api", py_api, METH_NOARGS,
      "_api()\n--\n\nThe library's description (errors, settings, calls, values, methods) as data." },
    { "hints_json_schema", py_hints_json_schema, METH_NOARGS,
      "hints_json_schema()\n--\n\nThe hint format as a JSON Schema (draft 2020-12) document." },
    { "register_plugin", pyb_register_plugin, METH_O,
      "register_plugin(plugin, /)\n--\n\nRegister a storage plugin written in Python: a class (made once,\n"
      "without arguments) or an object with type, api, optional properties, options and\n"
      "plugindata, and any of Proxmox's plugin methods (parse_volname, path,\n"
      "activate_storage, activate_volume, deactivate_volume, map_volume, unmap_volume,\n"
      "get_identity),\n"
      "called with keyword arguments snapname=None, cache=None, hints=None.  Its type's\n"
      "volumes then go to it in every call; it replaces a built-in plugin of its type." },
    { "plugin", py_plugin, METH_O,
      "plugin(type, /)\n--\n\nThe storage plugin for a type, like Proxmox's Plugin->lookup;\n"
      "unknown types raise NotFoundError (a LookupError)." },
    { NULL, NULL, 0, NULL },
};

static PyObject *new_exc(PyObject *module, const char *name, PyObject *bases, const char *doc)
{
    char full[128];
    snprintf(full, sizeof full, "pvestorage.%s", name);
    PyObject *e = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
    if (e && PyModule_AddObjectRef(module, name, e) < 0)
        Py_CLEAR(e);
    return e;
}

static PyObject *sub_exc(PyObject *module, modstate *st, const char *name, PyObject *extra, const char *doc)
{
    PyObject *bases = extra ? PyTuple_Pack(2, st->Error, extra) : PyTuple_Pack(1, st->Error);
    if (!bases)
        return NULL;
    PyObject *e = new_exc(module, name, bases, doc);
    Py_DECREF(bases);
    return e;
}

/* The classes pvestorage_api.def names, each a subclass of Error (and of the
 * built-in it names), its doc the code's meaning; codes naming no class
 * raise Error itself. */
static int make_errors(PyObject *module, modstate *st)
{
    const pvs_api_error *e = pvs_api_errors();
    for (size_t i = 0; e[i].name; i++) {
        if (e[i].code == PVS_OK)
            continue;
        if (e[i].code > 0 || -e[i].code >= PYB_NCODES) {
            PyErr_Format(PyExc_SystemError, "error code %s out of range", e[i].name);
            return -1;
        }
        PyObject *base = NULL, *cls;
        if (e[i].python_base && !(base = PyDict_GetItemString(PyEval_GetBuiltins(), e[i].python_base))) {
            PyErr_Format(PyExc_SystemError, "no built-in exception %s", e[i].python_base);
            return -1;
        }
        if (e[i].python_class) {
            PyObject *doc = PyUnicode_FromFormat("%c%s.", Py_TOUPPER(e[i].meaning[0]), e[i].meaning + 1);
            const char *text = doc ? PyUnicode_AsUTF8(doc) : NULL;
            cls = text ? sub_exc(module, st, e[i].python_class, base, text) : NULL;
            Py_XDECREF(doc);
        } else {
            cls = Py_NewRef(st->Error);
        }
        if (!cls)
            return -1;
        PYB_ERROR(st, e[i].code) = cls;
    }
    return 0;
}

static int module_exec(PyObject *module)
{
    modstate *st = get_state(module);

    if (!(st->Error = new_exc(module, "Error", NULL,
                              "Base of pvestorage's errors; .code is the core's code (e.g. 'EHINTS').")))
        return -1;
    if (make_errors(module, st))
        return -1;
    st->StorageWarning = PyErr_NewExceptionWithDoc("pvestorage.StorageWarning",
                                                   "Warnings of the storage layer.", PyExc_UserWarning, NULL);
    if (!st->StorageWarning || PyModule_AddObjectRef(module, "StorageWarning", st->StorageWarning) < 0)
        return -1;
    pthread_once(&plugin_methods_once, make_plugin_methods);
    st->PluginType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &plugin_spec, NULL);
    if (!st->PluginType || PyModule_AddType(module, st->PluginType) < 0)
        return -1;

    pvs_error err = PVS_ERROR_INIT;
    st->ctx = pvs_ctx_new(&err);
    if (!st->ctx) {
        raise_error(st, &err);
        return -1;
    }
    pvs_ctx_set_warn(st->ctx, warn_sink, st);
    pvs_ctx_set_info(st->ctx, info_sink, st);

    /* shaped like Proxmox's: HINTS_FORMAT['properties'] is HINTS_PROPERTIES */
    PyObject *props = to_python_steal(pvs_hints_properties());
    PyObject *format = props ? Py_BuildValue("{s:s, s:i, s:O}", "type", "object",
                                             "additionalProperties", 0, "properties", props) : NULL;
    int bad = !format || PyModule_AddObjectRef(module, "HINTS_PROPERTIES", props) < 0
              || PyModule_AddObjectRef(module, "HINTS_FORMAT", format) < 0;
    Py_XDECREF(props);
    Py_XDECREF(format);
    if (bad)
        return -1;
    if (PyModule_AddIntConstant(module, "APIVER", PVS_APIVER) < 0
        || PyModule_AddIntConstant(module, "APIAGE", PVS_APIAGE) < 0
        || PyModule_AddStringConstant(module, "__version__", PVS_VERSION) < 0)
        return -1;
    return 0;
}

static int module_traverse(PyObject *module, visitproc visit, void *arg)
{
    modstate *st = get_state(module);
    Py_VISIT(st->Error);
    for (int i = 0; i < PYB_NCODES; i++)
        Py_VISIT(st->errors[i]);
    Py_VISIT(st->StorageWarning);
    Py_VISIT(st->PluginType);
    return 0;
}

static int module_clear(PyObject *module)
{
    modstate *st = get_state(module);
    Py_CLEAR(st->Error);
    for (int i = 0; i < PYB_NCODES; i++)
        Py_CLEAR(st->errors[i]);
    Py_CLEAR(st->StorageWarning);
    Py_CLEAR(st->PluginType);
    return 0;
}

static void module_free(void *module)
{
    modstate *st = get_state((PyObject *)module);
    module_clear((PyObject *)module);
    pvs_ctx_free(st->ctx);
    st->ctx = NULL;
    pyb_free_plugins(st);   /* after the context: it borrowed their tables */
}

static PyModuleDef_Slot module_slots[] = {
    { Py_mod_exec, module_exec },
    { 0, NULL },
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pvestorage._pvestorage",
    .m_doc = "Proxmox VE storage activation and mapping with hints (storage API 15), in C.\n\n"
             "The same operations as Perl's PVE::Storage, with native dicts: verify_hints,\n"
             "activate_volumes, map_volume, ... and plugin(type) for the plugins' methods.\n"
             "Errors raise pvestorage.Error subclasses; warnings use StorageWarning.",
    .m_size = sizeof(modstate),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__pvestorage(void)
{
    return PyModuleDef_Init(&module_def);
}
