/* foreign.c - storage plugins written in Python.
 *
 * A registered class is an ordinary pvs_plugin table, embedded first in a
 * py_plugin that holds the Python object; its trampolines call the
 * object's methods with Proxmox's arguments (snapname, cache and hints as
 * keywords).  The core calls them on the caller's thread, with the GIL
 * released: each trampoline takes the GIL for the Python it runs and gives
 * it back.  An exception becomes the core call's error (PVS_EPLUGIN), and
 * the call then raises PluginError from it. */
#include "binding.h"

#include <stdlib.h>
#include <string.h>

typedef struct py_plugin {
    pvs_plugin table;         /* first: the core's `self` is this */
    PyObject *obj;
    modstate *st;             /* the module's: the plugin goes with it */
    char *type, *name;
    pvs_schema *schema;
    struct py_plugin *next;
} py_plugin;

#define PPY(self) ((const py_plugin *)(self))

/* ---- Python -> core ---- */

/* str as the core's bytes (surrogates back to the bytes they stand for) */
static char *utf8_copy(PyObject *o)
{
    PyObject *b = PyUnicode_Check(o) ? PyUnicode_AsEncodedString(o, "utf-8", "surrogateescape") : NULL;
    char *s = NULL;
    if (b && strlen(PyBytes_AS_STRING(b)) == (size_t)PyBytes_GET_SIZE(b))
        s = strdup(PyBytes_AS_STRING(b));
    Py_XDECREF(b);
    PyErr_Clear();
    return s;
}

/* A method call being made: what messages about it name. */
typedef struct site {
    const py_plugin *pp;
    const char *method, *arg;
    call_state *cs;           /* the module's call it runs in, or NULL */
} site;

/* str(value) as the core's bytes, or NULL (GIL held; any exception of
 * its own is cleared: it does not replace the one being reported). */
static char *str_of(PyObject *value)
{
    PyObject *s = value ? PyObject_Str(value) : NULL;
    char *text = s ? utf8_copy(s) : NULL;
    Py_XDECREF(s);
    PyErr_Clear();
    return text;
}

/* The message of a raised Exception (GIL held): its str(), or its class
 * when that is empty (raise RuntimeError()); a __str__ that raises is
 * named instead, and does not replace the exception. */
static void exception_message(const site *at, PyObject *value, const char *tname, pvs_error *err)
{
    PyObject *s = PyObject_Str(value);
    if (!s) {
        PyObject *stype, *svalue, *stb;
        PyErr_Fetch(&stype, &svalue, &stb);
        PyErr_NormalizeException(&stype, &svalue, &stb);
        char *inner = str_of(svalue);
        pvs_plugin_fail(err, PVS_EPLUGIN, &at->pp->table, at->method, at->arg,
                        "raised %s, and making it text raised %s%s%s", tname,
                        stype ? ((PyTypeObject *)stype)->tp_name : "an exception", inner && *inner ? ": " : "",
                        inner ? inner : "");
        free(inner);
        Py_XDECREF(stype);
        Py_XDECREF(svalue);
        Py_XDECREF(stb);
        return;
    }
    char *msg = utf8_copy(s);
    Py_DECREF(s);
    pvs_error_set(err, PVS_EPLUGIN, "%s\n", msg && *msg ? msg : tname);
    free(msg);
}

/* The exception being raised (GIL held), as the call's error; kept to be
 * chained (PVS_EPLUGIN, an Exception: the plugin failed) or raised again
 * as itself (PVS_EINTR: a BaseException that is no Exception --
 * KeyboardInterrupt, SystemExit, ... -- or whatever a signal handler
 * raised, interrupted: the call stops, and no volume failed). */
static int python_failed(const site *at, int interrupted, pvs_error *err)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value && tb)
        PyException_SetTraceback(value, tb);
    const char *tname = type ? ((PyTypeObject *)type)->tp_name : "an exception";
    int stop = interrupted || (value && !PyErr_GivenExceptionMatches(value, PyExc_Exception));
    if (stop)
        pvs_plugin_fail(err, PVS_EINTR, &at->pp->table, at->method, at->arg, "%s: %s, the call stops",
                        interrupted ? "was not called" : "was interrupted", tname);
    else if (value)
        exception_message(at, value, tname, err);
    else
        pvs_error_set(err, PVS_EPLUGIN, "unknown error\n");
    PyErr_Clear();
    if (at->cs)   /* kept for the call's error to be raised from */
        Py_XSETREF(at->cs->plugin_exc, value ? value : Py_NewRef(Py_None));
    else
        Py_XDECREF(value);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return err && err->code ? err->code : stop ? PVS_EINTR : PVS_EPLUGIN;
}

/* A result that is not what the method returns, named by its type. */
static int bad_result(const site *at, PyObject *value, const char *as, pvs_error *err)
{
    return pvs_plugin_fail(err, PVS_EPLUGIN, &at->pp->table, at->method, at->arg, "returned a value of type %s%s",
                           Py_TYPE(value)->tp_name, as);
}

/* A result that must be text: a str, None (absent: the core says what is
 * missing), or an int where ints=1 (a vmid); 0, or the error. */
static int result_text(const site *at, PyObject *value, int ints, const char *field, char **out, pvs_error *err)
{
    char as[64];
    snprintf(as, sizeof as, " as its %s", field);
    *out = NULL;
    if (!value || value == Py_None)
        return 0;
    if (ints && PyLong_CheckExact(value))   /* (an exact int: its str() is its digits) */
        return (*out = str_of(value)) ? 0 : pvs_error_set(err, PVS_ENOMEM, "out of memory\n");
    if (!PyUnicode_Check(value))
        return bad_result(at, value, as, err);
    if (!(*out = utf8_copy(value)))
        return pvs_plugin_fail(err, PVS_EPLUGIN, &at->pp->table, at->method, at->arg,
                               "returned a %s with a NUL byte", field);   /* the Perl binding's words */
    return 0;
}

/* ---- core -> Python ---- */

static PyObject *str_obj(const char *s)
{
    return s ? pyb_text(s, strlen(s)) : Py_NewRef(Py_None);
}

/* The section as the caller handed it over, or the core's converted. */
static PyObject *section_obj(call_state *cs, const char *storeid, const json_t *scfg)
{
    PyObject *ids = cs && cs->cfg && PyDict_Check(cs->cfg) ? PyDict_GetItemString(cs->cfg, "ids") : NULL;
    PyObject *key = ids && PyDict_Check(ids) && storeid ? str_obj(storeid) : NULL;
    PyObject *sec = key ? PyDict_GetItemWithError(ids, key) : NULL;
    Py_XDECREF(key);
    PyErr_Clear();
    if (sec)
        return Py_NewRef(sec);
    return scfg ? pyb_to_python(scfg) : Py_NewRef(Py_None);
}

static PyObject *hints_obj(call_state *cs, const json_t *hints)
{
    if (!hints)
        return Py_NewRef(Py_None);
    return cs && cs->hints ? Py_NewRef(cs->hints) : pyb_to_python(hints);
}

static PyObject *cache_obj(call_state *cs)
{
    if (!cs)
        return PyDict_New();
    if (!cs->cache)
        cs->cache = PyDict_New();
    return cs->cache ? Py_NewRef(cs->cache) : NULL;
}

/* ---- the call ---- */

typedef struct kwarg {
    const char *name;
    PyObject *value;   /* a new reference, or NULL after a failed conversion */
} kwarg;

/* obj.method(*pos, **kw), taking the references in pos and kw; the result
 * (new) or NULL with the exception as err.  GIL held. */
static PyObject *invoke(const site *at, PyObject **pos, int npos, kwarg *kw, int nkw, pvs_error *err)
{
    if (at->cs)
        Py_CLEAR(at->cs->plugin_exc);   /* only this call's exception is chained */
    PyObject *args = PyTuple_New(npos), *kwargs = PyDict_New(), *fn = NULL, *res = NULL;
    int ok = args && kwargs;
    for (int i = 0; i < npos; i++) {
        ok = ok && pos[i];
        if (args && pos[i])
            PyTuple_SET_ITEM(args, i, pos[i]);   /* stolen */
        else
            Py_XDECREF(pos[i]);
    }
    for (int i = 0; i < nkw; i++) {
        ok = ok && kw[i].value && PyDict_SetItemString(kwargs, kw[i].name, kw[i].value) == 0;
        Py_XDECREF(kw[i].value);
    }
    if (ok && (fn = PyObject_GetAttrString(at->pp->obj, at->method)))
        res = PyObject_Call(fn, args, kwargs);
    Py_XDECREF(fn);
    Py_XDECREF(args);
    Py_XDECREF(kwargs);
    if (!res) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        python_failed(at, 0, err);
    }
    return res;
}

/* Take the GIL; a signal that came while the core ran without it (Ctrl-C:
 * KeyboardInterrupt) stops the call here, before the plugin's code; then
 * emit the core's warnings so far (before the plugin's own).  0, or the
 * error when a signal handler or a warnings filter raised. */
static int enter_python(const site *at, PyGILState_STATE *g, pvs_error *err)
{
    if (at->cs && at->cs->tstate)
        PyEval_RestoreThread(at->cs->tstate);   /* the caller's own thread state, in its interpreter */
    else
        *g = PyGILState_Ensure();
    if (PyErr_CheckSignals() < 0)
        return python_failed(at, 1, err);
    if (at->cs && at->cs->n)
        pyb_flush_call(at->cs);
    return PyErr_Occurred() ? python_failed(at, 0, err) : 0;
}

/* An argument by its name in pvestorage_api.def (GIL held): a new
 * reference, NULL when out of memory; *keyword: it goes as name=... */
/* Give the GIL back as enter_python took it. */
static void leave_python(const site *at, PyGILState_STATE g)
{
    if (at->cs && at->cs->tstate)
        at->cs->tstate = PyEval_SaveThread();
    else
        PyGILState_Release(g);
}

static PyObject *argument(call_state *cs, const char *name, const pvs_method_args *a, int *keyword)
{
    *keyword = strcmp(name, "snapname") == 0 || strcmp(name, "cache") == 0 || strcmp(name, "hints") == 0;
    if (strcmp(name, "storeid") == 0)
        return str_obj(a->storeid);
    if (strcmp(name, "scfg") == 0)
        return section_obj(cs, a->storeid, a->scfg);
    if (strcmp(name, "volname") == 0)
        return str_obj(a->volname);
    if (strcmp(name, "snapname") == 0)
        return str_obj(a->snapname);
    if (strcmp(name, "cache") == 0)
        return cache_obj(cs);
    if (strcmp(name, "hints") == 0)
        return hints_obj(cs, a->hints);
    return PyErr_Format(PyExc_SystemError, "no argument %s", name);
}

/* A path result: a str, or the first item of (path, vmid, vtype), as
 * upstream's path returns in list context; None or nothing: no path. */
static int path_result(const site *at, PyObject *res, pvs_method_result *r, pvs_error *err)
{
    PyObject *p = res;
    if (PyTuple_Check(res) || PyList_Check(res))
        p = PySequence_Size(res) > 0 ? PySequence_GetItem(res, 0) : NULL;
    int rc = result_text(at, p, 0, "path", &r->text, err);
    if (p != res)
        Py_XDECREF(p);
    PyErr_Clear();
    return rc;
}

/* (vtype, name, vmid, basename, basevmid, isbase, format): str or None,
 * a vmid also an int; () or None is nothing.  The core judges the result. */
static int volname_result(const site *at, PyObject *res, pvs_method_result *r, pvs_error *err)
{
    static const char *const names[7] = { "vtype", "name", "vmid", "basename", "basevmid", "isbase", "format" };
    pvs_volname *v = &r->volname;
    if (res != Py_None && !PyTuple_Check(res) && !PyList_Check(res))
        return bad_result(at, res, ", not a tuple", err);
    char **fields[7] = { &v->vtype, &v->name, &v->vmid, &v->basename, &v->basevmid, &v->isbase, &v->format };
    Py_ssize_t n = res == Py_None ? 0 : PySequence_Fast_GET_SIZE(res);
    int rc = 0;
    for (Py_ssize_t i = 0; !rc && i < 7 && i < n; i++)
        rc = result_text(at, PySequence_Fast_GET_ITEM(res, i), i == 2 || i == 4, names[i], fields[i], err);
    if (rc)
        pvs_volname_clear(v);
    return rc;
}

/* What a plugin says it did (its own action in a reporting call): a str,
 * or a dict with "action"; anything else (None, as upstream's) says nothing. */
static int action_result(const site *at, PyObject *res, pvs_method_result *r, pvs_error *err)
{
    PyObject *a = PyDict_Check(res) ? PyDict_GetItemString(res, "action") : res;   /* borrowed */
    PyErr_Clear();
    if (!PyDict_Check(res) && !PyUnicode_Check(res))
        return 0;
    return result_text(at, a, 0, "action", &r->text, err);
}

/* An identity: a str, or None for none. */
static int identity_result(const site *at, PyObject *res, pvs_method_result *r, pvs_error *err)
{
    return result_text(at, res, 0, "identity", &r->text, err);
}

/* The result of method m, by its kind in pvestorage_api.def. */
static int take_result(const site *at, const pvs_api_method *m, PyObject *res, pvs_method_result *r,
                       pvs_error *err)
{
    if (strcmp(m->result, "path") == 0)
        return path_result(at, res, r, err);
    if (strcmp(m->result, "volname") == 0)
        return volname_result(at, res, r, err);
    if (strcmp(m->result, "action") == 0)
        return action_result(at, res, r, err);
    if (strcmp(m->result, "identity") == 0)
        return identity_result(at, res, r, err);
    return 0;
}

/* Method m's arguments in Proxmox's order: the named ones (snapname,
 * cache, hints) as keywords, the others positional.  -1 when one could not
 * be made (the references taken so far are in pos and kw). */
static int arguments(call_state *cs, const pvs_api_method *m, const pvs_method_args *a, PyObject **pos, int *npos,
                     kwarg *kw, int *nkw)
{
    *npos = *nkw = 0;
    for (int i = 0; i < PVS_API_MAX_ARGS && m->args[i]; i++) {
        int keyword;
        PyObject *v = argument(cs, m->args[i], a, &keyword);
        if (keyword)
            kw[(*nkw)++] = (kwarg){ m->args[i], v };
        else
            pos[(*npos)++] = v;
        if (!v)
            return -1;
    }
    return 0;
}

/* The one entry of a Python plugin (pvs_plugin_set_foreign): method m
 * called with Proxmox's arguments, under the GIL, its result taken. */
static int py_method(pvs_ctx *ctx, const pvs_plugin *self, int m, const pvs_method_args *a, pvs_method_result *r,
                     pvs_error *err)
{
    const pvs_api_method *desc = &pvs_api_methods()[m];
    call_state *cs = pvs_call_data(ctx);
    if (cs && cs->st != PPY(self)->st)
        cs = NULL;   /* (a call of another module instance: never this plugin's) */
    PyGILState_STATE g = PyGILState_UNLOCKED;
    const site at = { PPY(self), desc->name, pvs_api_method_takes(desc, "volname") ? a->volname : a->storeid, cs };
    int rc = enter_python(&at, &g, err);
    PyObject *var = PPY(self)->st->dry_run, *token = NULL;
    if (!rc && !(token = PyContextVar_Set(var, ctx && pvs_dry_run(ctx) ? Py_True : Py_False)))
        rc = python_failed(&at, 0, err);
    if (!rc) {
        PyObject *pos[PVS_API_MAX_ARGS];
        kwarg kw[PVS_API_MAX_ARGS];
        int npos, nkw;
        arguments(cs, desc, a, pos, &npos, kw, &nkw);   /* a NULL among them fails the call as out of memory */
        PyObject *res = invoke(&at, pos, npos, kw, nkw, err);
        rc = !res ? (err && err->code ? err->code : PVS_EPLUGIN) : take_result(&at, desc, res, r, err);
        Py_XDECREF(res);
    }
    if (token && PyContextVar_Reset(var, token) < 0)
        PyErr_Clear();
    Py_XDECREF(token);
    leave_python(&at, g);
    return rc;
}

/* ---- registration ---- */

static void free_plugin(py_plugin *pp)
{
    if (!pp)
        return;
    Py_XDECREF(pp->obj);
    free(pp->type);
    free(pp->name);
    pvs_schema_free(pp->schema);
    free(pp);
}

void pyb_free_plugins(modstate *st)
{
    while (st->plugins) {
        py_plugin *next = st->plugins->next;
        free_plugin(st->plugins);
        st->plugins = next;
    }
}

/* obj.name, called when callable; NULL without an exception when absent */
static PyObject *declared(PyObject *obj, const char *name)
{
    PyObject *v = PyObject_GetAttrString(obj, name);
    if (!v) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError))
            PyErr_Clear();
        return NULL;
    }
    if (PyCallable_Check(v))
        Py_SETREF(v, PyObject_CallNoArgs(v));
    return v;
}

/* properties, options or plugindata as JSON: NULL when absent or None */
static int declared_json(modstate *st, PyObject *obj, const char *name, json_t **out)
{
    PyObject *v = declared(obj, name);
    *out = NULL;
    if (!v)
        return PyErr_Occurred() ? -1 : 0;
    if (v != Py_None && !(*out = pyb_data_to_json(st, v, name)))
        return Py_DECREF(v), -1;
    Py_DECREF(v);
    return 0;
}

/* What the plugin says it can do (pvestorage_capabilities: names), as the
 * core's bits; -1 with the exception raised for a bad declaration. */
static int capabilities(modstate *st, py_plugin *pp)
{
    PyObject *v = declared(pp->obj, "pvestorage_capabilities");
    if (!v && PyErr_Occurred())
        return -1;
    json_t *names = NULL;
    pvs_error err = PVS_ERROR_INIT;
    if (v && v != Py_None) {   /* a list of names; anything else is the core's to refuse */
        int seq = PyList_Check(v) || PyTuple_Check(v);
        names = seq ? json_array() : json_string("not a list");
        for (Py_ssize_t i = 0; seq && names && i < PySequence_Fast_GET_SIZE(v); i++) {
            PyObject *e = PySequence_Fast_GET_ITEM(v, i);
            const char *name = PyUnicode_Check(e) ? PyUnicode_AsUTF8(e) : NULL;
            PyErr_Clear();
            json_array_append_new(names, name ? json_string(name) : json_null());
        }
    }
    Py_XDECREF(v);
    int rc = pvs_capabilities_from_json(names, &pp->table.capabilities, &err);
    json_decref(names);
    if (rc)
        pyb_raise(st, &err);
    return rc ? -1 : 0;
}

static char *class_name(PyObject *plugin, PyObject *obj)
{
    PyObject *cls = PyType_Check(plugin) ? plugin : (PyObject *)Py_TYPE(obj);
    PyObject *mod = PyObject_GetAttrString(cls, "__module__");
    PyObject *qual = PyObject_GetAttrString(cls, "__qualname__");
    PyObject *full = mod && qual ? PyUnicode_FromFormat("%S.%S", mod, qual) : NULL;
    char *s = full ? utf8_copy(full) : NULL;
    Py_XDECREF(mod);
    Py_XDECREF(qual);
    Py_XDECREF(full);
    PyErr_Clear();
    return s ? s : strdup("plugin");
}

/* type and api: the class's identity; 0 or -1 with an exception */
static int identity(modstate *st, py_plugin *pp)
{
    PyObject *type = declared(pp->obj, "type");
    if (type && PyUnicode_Check(type))
        pp->type = utf8_copy(type);
    Py_XDECREF(type);
    if (!pp->type || !*pp->type) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "%s: type must be a non-empty str", pp->name);
        return -1;
    }
    PyObject *api = declared(pp->obj, "api");
    if (!api && !PyErr_Occurred())
        pyb_raise_code(st, PVS_EAPI, "does not provide an api() method", NULL);
    if (api && !PyLong_Check(api))
        PyErr_Format(PyExc_TypeError, "%s: api must be an int", pp->name);
    pp->table.api = api && PyLong_Check(api) ? (int)PyLong_AsLong(api) : 0;
    Py_XDECREF(api);
    return PyErr_Occurred() ? -1 : 0;
}

static int schema(modstate *st, py_plugin *pp)
{
    json_t *props = NULL, *opts = NULL, *data = NULL;
    pvs_error err = PVS_ERROR_INIT;
    int rc = declared_json(st, pp->obj, "properties", &props) || declared_json(st, pp->obj, "options", &opts)
             || declared_json(st, pp->obj, "plugindata", &data) ? -1 : 0;
    if (!rc && !(pp->schema = pvs_schema_from_json(props, opts, data, &err)))
        rc = (PyErr_NoMemory(), -1);
    if (!rc)
        pvs_schema_apply(pp->schema, &pp->table);
    json_decref(props);
    json_decref(opts);
    json_decref(data);
    pvs_error_clear(&err);
    return rc;
}

/* The methods the object has, as the core's table slots. */
static void methods(py_plugin *pp)
{
    const pvs_api_method *m = pvs_api_methods();
    unsigned has = 0;
    for (int i = 0; m[i].name; i++)
        if (PyObject_HasAttrString(pp->obj, m[i].name))
            has |= 1u << i;
    pvs_plugin_set_foreign(&pp->table, py_method, has);
}

PyObject *pyb_register_plugin(PyObject *module, PyObject *plugin)
{
    modstate *st = PyModule_GetState(module);
    py_plugin *pp = calloc(1, sizeof *pp);
    if (!pp)
        return PyErr_NoMemory();
    pp->st = st;
    pp->obj = PyType_Check(plugin) ? PyObject_CallNoArgs(plugin) : Py_NewRef(plugin);
    pp->name = pp->obj ? class_name(plugin, pp->obj) : NULL;
    pp->table.size = PVS_PLUGIN_SIZE;
    if (!pp->obj || !pp->name || identity(st, pp) || schema(st, pp)) {
        free_plugin(pp);
        return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    pp->table.type = pp->type;
    pp->table.name = pp->name;
    methods(pp);
    if (capabilities(st, pp)) {
        free_plugin(pp);
        return NULL;
    }
    pvs_error err = PVS_ERROR_INIT;
    if (pvs_register_plugin(st->ctx, &pp->table, &err)) {
        free_plugin(pp);
        return pyb_raise(st, &err);
    }
    pp->next = st->plugins;
    st->plugins = pp;
    if (PyErr_Occurred())   /* the older-API warning, turned into an error by a filter */
        return NULL;
    Py_RETURN_NONE;
}
