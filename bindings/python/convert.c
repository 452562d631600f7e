/* convert.c - what the extension's files share, lowest floor: Python
 * values <-> json_t, string arguments, core errors raised as exceptions,
 * the core's warnings and informational lines kept during a call and
 * emitted after it.  Calls nothing of the module or of foreign.c. */
#include "binding.h"

#include <string.h>

#include "../common/ptrmap.h"

/* ---- errors and warnings ---- */

/* Bytes from the core as str: undecodable bytes survive as surrogates
 * (surrogateescape), so they go back to the core as the same bytes. */
PyObject *pyb_text(const char *s, size_t n)
{
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "surrogateescape");
}

PyObject *pyb_text_or_none(const char *s)
{
    return s ? pyb_text(s, strlen(s)) : Py_NewRef(Py_None);
}

/* The core's message without its final newline (Python's str(exc) style). */
static PyObject *message_strn(const char *msg, size_t n)
{
    if (!msg)
        msg = "unknown error\n", n = strlen(msg);
    if (n && msg[n - 1] == '\n')
        n--;
    return pyb_text(msg, n);
}

static PyObject *message_str(const char *msg)
{
    if (!msg)
        msg = "unknown error\n";
    size_t n = strlen(msg);
    if (n && msg[n - 1] == '\n')
        n--;
    return pyb_text(msg, n);
}

/* An interruption (PVS_EINTR) by a Python exception is raised as that
 * exception -- the KeyboardInterrupt, the SystemExit -- with its
 * traceback, whatever else is pending (a warning turned error loses to
 * it); returns NULL. */
static PyObject *raise_interruption(call_state *cs, pvs_error *err)
{
    PyObject *exc = cs->plugin_exc;
    cs->plugin_exc = NULL;
    PyErr_Clear();
    PyErr_Restore(Py_NewRef(Py_TYPE(exc)), exc, PyException_GetTraceback(exc));
    pvs_error_clear(err);
    return NULL;
}

/* The exception for err, its attributes set (NULL when one could not be made). */
static PyObject *error_object(PyObject *type, pvs_error *err)
{
    PyObject *msg = message_strn(err->message, pvs_error_length(err));
    PyObject *exc = msg ? PyObject_CallOneArg(type, msg) : NULL;
    Py_XDECREF(msg);
    if (!exc)
        return NULL;
    PyObject *code = PyUnicode_FromString(pvs_strerror(err->code));
    int status = pvs_error_exit_status(err);
    PyObject *status_obj = status >= 0 ? PyLong_FromLong(status) : Py_NewRef(Py_None);
    PyObject *stderr_text = pyb_text_or_none(err->stderr_text);
    if (!code || !status_obj || !stderr_text || PyObject_SetAttrString(exc, "code", code)
        || PyObject_SetAttrString(exc, "exit_status", status_obj) || PyObject_SetAttrString(exc, "stderr", stderr_text))
        Py_CLEAR(exc);
    Py_XDECREF(code);
    Py_XDECREF(status_obj);
    Py_XDECREF(stderr_text);
    return exc;
}

PyObject *pyb_raise_in(call_state *cs, modstate *st, pvs_error *err)
{
    if (cs && err->code == PVS_EINTR && cs->plugin_exc && cs->plugin_exc != Py_None)
        return raise_interruption(cs, err);   /* (a C plugin's has none: an Error with code EINTR) */
    PyObject *cause = cs ? cs->plugin_exc : NULL;   /* taken */
    if (cs)
        cs->plugin_exc = NULL;
    if (err->code != PVS_EPLUGIN)
        Py_CLEAR(cause);
    if (PyErr_Occurred() || err->code == PVS_ENOMEM) {   /* a warning filter raised first: that wins */
        Py_XDECREF(cause);
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        pvs_error_clear(err);
        return NULL;
    }
    PyObject *type = err->code < 0 && -err->code < PYB_NCODES ? PYB_ERROR(st, err->code) : NULL;
    if (!type)
        type = st->Error;
    PyObject *exc = error_object(type, err);
    if (exc) {
        if (cause && cause != Py_None) {   /* raise ... from the plugin's */
            PyException_SetCause(exc, cause);
            cause = NULL;
        }
        PyErr_SetObject(type, exc);
        Py_DECREF(exc);
    }
    Py_XDECREF(cause);
    pvs_error_clear(err);
    return NULL;
}

/* An error the binding finds itself (a cycle, a depth), raised as the
 * core's are: the class and .code of the code, the message (no "\n"). */
PyObject *pyb_raise_code(modstate *st, int code, const char *message, const char *arg)
{
    pvs_error err = PVS_ERROR_INIT;
    pvs_error_set(&err, code, arg ? "%s %s\n" : "%s\n", arg ? arg : message, message);
    return pyb_raise(st, &err);
}

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

void pyb_flush_call(call_state *p)
{
    for (size_t i = 0; i < p->n; i++) {
        emit(p->st, p->v[i]);
        free(p->v[i]);
    }
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
}

/* The core's warning and info sinks: inside a call (GIL released), the
 * message is kept for afterwards, in order; anywhere else it goes out at
 * once. */
static void sink(call_state *p, char kind, const char *message)
{
    char *kept = malloc(strlen(message) + 2);
    if (!kept)
        return;   /* out of memory: the message is lost, the call goes on */
    kept[0] = kind;
    strcpy(kept + 1, message);
    if (p->immediate) {
        PyGILState_STATE g = PyGILState_Ensure();
        emit(p->st, kept);
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

void pyb_warn_sink(void *data, const char *message)
{
    sink(data, 'W', message);
}

void pyb_info_sink(void *data, const char *message)
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

const char *pyb_type_name(PyObject *o)
{
    return Py_TYPE(o)->tp_name;
}

/* The bytes of a str: UTF-8, or (lone surrogates) what surrogateescape
 * stands for, else surrogatepass.  Returns a new bytes object in *keep
 * when it had to encode; NULL with an exception on failure. */
const char *pyb_str_bytes(PyObject *o, Py_ssize_t *n, PyObject **keep)
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
    const char *s = pyb_str_bytes(o, &n, &keep);
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
    PyErr_Format(PyExc_TypeError, "%s: keys must be str, not %.100s: %R", c->what, pyb_type_name(key), key);
    return -1;
}

static int dict_item(json_t *obj, PyObject *key, PyObject *value, conv *c)
{
    if (!PyUnicode_Check(key))
        return key_error(c, key);
    Py_ssize_t n;
    PyObject *keep;
    const char *k = pyb_str_bytes(key, &n, &keep);
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
        j = pvs_foreign_value(pyb_type_name(o));   /* reported by its type name */
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
        json_t *j = PyDict_Check(v) || PyList_Check(v) || PyTuple_Check(v) ? pvs_foreign_value(pyb_type_name(v))
                                                                            : to_json(v, &c);
        ptrmap_free(&c.seen);
        Py_ssize_t n;
        PyObject *keep = NULL;
        const char *ks = PyUnicode_Check(k) ? pyb_str_bytes(k, &n, &keep) : NULL;
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
int pyb_hints_to_json(modstate *st, PyObject *o, json_t **out)
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
        pyb_raise_code(st, PVS_EHINTS, "hints are nested too deeply", NULL);
    }
    ptrmap_free(&c.seen);
    if (!j)
        return -1;
    *out = j;
    return 0;
}

/* A configuration or a storage section: a dict without cycles. */
json_t *pyb_data_to_json(modstate *st, PyObject *o, const char *what)
{
    if (!PyDict_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a dict, not %.100s", what, pyb_type_name(o));
        return NULL;
    }
    conv c;
    conv_init(&c, what);
    json_t *j = to_json(o, &c);
    if (j && (c.cyclic || c.too_deep)) {
        json_decref(j);
        j = NULL;
        pyb_raise_code(st, PVS_EINVAL, c.cyclic ? "contains recursive cycles" : "is nested too deeply", what);
    }
    ptrmap_free(&c.seen);
    return j;
}

/* The part of a configuration that n volume IDs (or storage IDs) need:
 * {"ids": {STOREID: section, ...}}, converted section by section, so a
 * call costs the same whatever the size of the configuration. */
json_t *pyb_cfg_to_json(modstate *st, PyObject *cfg, const char *const *ids, size_t n, int storeids)
{
    if (!PyDict_Check(cfg)) {
        PyErr_Format(PyExc_TypeError, "cfg must be a dict, not %.100s", pyb_type_name(cfg));
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
                pyb_raise_code(st, PVS_EINVAL, c.cyclic ? "contains recursive cycles" : "is nested too deeply", "cfg");
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

PyObject *pyb_to_python(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        PyObject *d = PyDict_New();
        const char *k;
        size_t klen;
        json_t *v;
        json_object_keylen_foreach((json_t *)j, k, klen, v) {
            PyObject *key = d ? PyUnicode_DecodeUTF8(k, (Py_ssize_t)klen, "surrogateescape") : NULL;
            PyObject *val = key ? pyb_to_python(v) : NULL;
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
            PyObject *v = pyb_to_python(json_array_get(j, i));
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

PyObject *pyb_to_python_steal(json_t *j)
{
    if (!j)
        return PyErr_NoMemory();
    PyObject *o = pyb_to_python(j);
    json_decref(j);
    return o;
}

/* ---- string arguments ---- */

/* Hold o until the call ends: *keep is the call's list of such objects. */
int pyb_keep_ref(PyObject **keep, PyObject *o)
{
    if (!*keep && !(*keep = PyList_New(0)))
        return -1;
    return PyList_Append(*keep, o);
}

/* The bytes of a str argument (UTF-8; surrogateescape'd bytes as the bytes
 * they stand for), NUL-checked; NULL for None when optional.  What had to
 * be encoded is held in *keep.  -1 with an exception on bad input. */
int pyb_str_arg(modstate *st, PyObject *o, const char *what, int optional, const char **out,
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
        PyErr_Format(PyExc_TypeError, "%s must be a str, not %.100s", what, pyb_type_name(o));
        return -1;
    }
    Py_ssize_t n;
    PyObject *b;
    const char *s = pyb_str_bytes(o, &n, &b);
    if (!s)
        return -1;
    int kept = b ? pyb_keep_ref(keep, b) : 0;
    Py_XDECREF(b);
    if (kept)
        return -1;
    pvs_error err = PVS_ERROR_INIT;
    if (pvs_check_nul(what, s, (size_t)n, &err)) {
        pyb_raise(st, &err);
        return -1;
    }
    *out = s;
    return 0;
}

/* A list of volume IDs (strs) as a C array (PyMem_Free it); *keep holds
 * what the strings live in. */
const char **pyb_volids_arg(modstate *st, PyObject *o, size_t *n, PyObject **keep)
{
    *n = 0;
    if (PyUnicode_Check(o)) {
        PyErr_SetString(PyExc_TypeError, "volids must be a list of volume IDs, not a str");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(o, "volids must be a list of volume IDs");
    if (!seq)
        return NULL;
    int kept = pyb_keep_ref(keep, seq);
    Py_DECREF(seq);
    if (kept)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    const char **v = PyMem_Calloc((size_t)count + 1, sizeof *v);
    if (!v)
        return (const char **)PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < count; i++)
        if (pyb_str_arg(st, PySequence_Fast_GET_ITEM(seq, i), "volume ID", 0, &v[i], keep)) {
            PyMem_Free(v);
            return NULL;
        }
    *n = (size_t)count;
    return v;
}

/* Finish a call: a pending exception (a warning turned error) wins. */
PyObject *pyb_finish(call_state *cs, int rc, pvs_error *err, PyObject *result)
{
    if (!rc)
        Py_CLEAR(cs->plugin_exc);   /* a plugin's exception the call got past */
    if (rc) {
        Py_XDECREF(result);
        return pyb_raise_in(cs, cs->st, err);
    }
    if (PyErr_Occurred()) {
        Py_XDECREF(result);
        return NULL;
    }
    return result;
}

