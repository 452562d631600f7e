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
        if (pyb_hints_to_json(st, hints, &j))
            return NULL;
        rc = pvs_verify_hints(j, noerr ? NULL : &err);
        json_decref(j);
    }
    if (rc == 0)
        return Py_NewRef(hints);   /* the very same object */
    if (noerr)
        Py_RETURN_NONE;
    return pyb_raise(st, &err);
}

static PyObject *py_parse_volume_id(PyObject *module, PyObject *volid)
{
    modstate *st = get_state(module);
    const char *s;
    PyObject *keep = NULL;
    if (pyb_str_arg(st, volid, "volume ID", 0, &s, &keep)) {
        Py_XDECREF(keep);
        return NULL;
    }
    char *storeid, *volname;
    pvs_error err = PVS_ERROR_INIT;
    int rc = pvs_parse_volume_id(s, &storeid, &volname, &err);
    Py_XDECREF(keep);
    if (rc)
        return pyb_raise(st, &err);
    PyObject *a = pyb_text_or_none(storeid), *b = pyb_text_or_none(volname);
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
    cfg = pvs_config_read(call_ctx, p, &err);
    BLOCKING_END(st)
    Py_DECREF(fs);
    if (!cfg)
        return pyb_raise_in(&call_, st, &err);
    return pyb_finish(&call_, 0, &err, pyb_to_python_steal(cfg));
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
        text = pyb_str_bytes(texto, &len, &b);
        if (b && pyb_keep_ref(&keep, b))
            text = NULL;
        Py_XDECREF(b);
    } else {
        PyErr_Format(PyExc_TypeError, "text must be str or bytes, not %.100s", pyb_type_name(texto));
        text = NULL;
    }
    if (!text || (fno && pyb_str_arg(st, fno, "file name", 0, &filename, &keep))) {
        Py_XDECREF(keep);
        return NULL;
    }
    pvs_error err = PVS_ERROR_INIT;
    json_t *cfg;
    BLOCKING_BEGIN(st)
    cfg = pvs_config_parse(call_ctx, filename, text, (size_t)len, &err);
    BLOCKING_END(st)
    Py_XDECREF(keep);
    if (!cfg)
        return pyb_raise_in(&call_, st, &err);
    return pyb_finish(&call_, 0, &err, pyb_to_python_steal(cfg));
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
    const char **vols = pyb_volids_arg(st, volo, &n, &keep);
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
    if (pyb_str_arg(st, snapo, "snapshot name", 1, &snap, &keep) || !(cfg = pyb_cfg_to_json(st, cfgo, vols, n, 0))
        || (activate && pyb_hints_to_json(st, hintso, &hints)))
        goto out;
    pvs_error err = PVS_ERROR_INIT;
    int rc;
    BLOCKING_CALL(st, cfgo, hintso == Py_None ? NULL : hintso)
    rc = activate ? pvs_activate_volumes(call_ctx, cfg, vols, n, snap, hints, &err)
                  : pvs_deactivate_volumes(call_ctx, cfg, vols, n, snap, &err);
    BLOCKING_END(st)
    result = pyb_finish(&call_, rc, &err, Py_NewRef(Py_None));
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

/* The arguments of a row (a call or a method of pvestorage_api.def),
 * positional or by keyword, the first `required` of them required, into
 * v (borrowed; NULL for one not given): how many the row has, or -1 with
 * the TypeError raised. */
static int parse_row(const pvs_api_method *desc, PyObject *args, PyObject *kw, PyObject **v)
{
    char fmt[64];
    int n = 0, at = 0;
    for (; n < PVS_API_MAX_ARGS && desc->args[n]; n++)
        at += snprintf(fmt + at, sizeof fmt - (size_t)at, "%sO", n == desc->required ? "|" : "");
    snprintf(fmt + at, sizeof fmt - (size_t)at, ":%s", desc->name);
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, (char **)desc->args, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                                     &v[6], &v[7]))
        return -1;
    return n;
}

/* One argument of a call on one volume or storage, by its name (the
 * hints converted after the configuration, as the checks go). */
static int one_argument(modstate *st, const char *name, PyObject *v, pvs_one_args *a, PyObject **hintso,
                        PyObject **keep)
{
    if (strcmp(name, "volid") == 0)
        return pyb_str_arg(st, v, "volume ID", 0, &a->volid, keep);
    if (strcmp(name, "storeid") == 0)
        return pyb_str_arg(st, v, "storage ID", 0, &a->storeid, keep);
    if (strcmp(name, "snapname") == 0)
        return pyb_str_arg(st, v, "snapshot name", 1, &a->snapname, keep);
    if (strcmp(name, "hints") == 0)
        *hintso = v;
    return 0;
}

/* The call c on one volume or storage (pvestorage_api.def's PVS_API_ONE),
 * its arguments by the row, positional or by keyword. */
static PyObject *one_call(PyObject *module, PyObject *args, PyObject *kw, int c)
{
    const pvs_api_method *desc = &pvs_api_one_calls()[c];
    PyObject *v[PVS_API_MAX_ARGS] = { NULL }, *keep = NULL, *result = NULL, *hintso = NULL;
    int n = parse_row(desc, args, kw, v);
    if (n < 0)
        return NULL;
    modstate *st = get_state(module);
    pvs_one_args a = { 0 };
    json_t *cfg = NULL, *hints = NULL;
    for (int i = 1; i < n; i++)
        if (one_argument(st, desc->args[i], v[i] ? v[i] : Py_None, &a, &hintso, &keep))
            goto out;
    const char *id = a.volid ? a.volid : a.storeid;
    if (!(cfg = pyb_cfg_to_json(st, v[0], &id, 1, a.storeid != NULL)) || pyb_hints_to_json(st, hintso, &hints))
        goto out;
    a.hints = hints;
    pvs_error err = PVS_ERROR_INIT;
    char *text = NULL;
    int rc;
    BLOCKING_CALL(st, v[0], hintso && hintso != Py_None ? hintso : NULL)
    rc = pvs_one_call(call_ctx, c, cfg, &a, &text, &err);
    BLOCKING_END(st)
    result = pyb_finish(&call_, rc, &err, pyb_text_or_none(text));
    free(text);
out:
    json_decref(cfg);
    json_decref(hints);
    Py_XDECREF(keep);
    return result;
}

#define PVS_API_ONE(name, result, required, meaning, ...)                     \
    static PyObject *py_##name(PyObject *m, PyObject *a, PyObject *k) \
    {                                                                 \
        return one_call(m, a, k, PVS_ONE_##name);                     \
    }
#include "pvestorage_api.def"

/* The records of a reporting call, a list of dicts; after a failure the
 * call's exception carries them as .volumes. */
static PyObject *records_result(call_state *cs, int rc, pvs_error *err, json_t *report)
{
    PyObject *records = report ? pyb_to_python(report) : PyList_New(0);
    json_decref(report);
    PyObject *result = pyb_finish(cs, rc, err, records ? Py_NewRef(records) : NULL);
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
    if (map ? pyb_str_arg(st, volo, "volume ID", 0, &one, &keep) != 0 : !(vols = pyb_volids_arg(st, volo, &n, &keep)))
        goto out;
    if (pyb_str_arg(st, snapo, "snapshot name", 1, &snap, &keep) || !(cfg = pyb_cfg_to_json(st, cfgo, map ? &one : vols, n, 0))
        || pyb_hints_to_json(st, hintso, &hints))
        goto out;
    pvs_error err = PVS_ERROR_INIT;
    char *path = NULL;
    int rc, flags = dry ? PVS_DRY_RUN : 0;
    BLOCKING_CALL(st, cfgo, hintso == Py_None ? NULL : hintso)
    rc = map ? pvs_map_volume_report(call_ctx, cfg, one, snap, hints, flags, &path, &report, &err)
             : pvs_activate_volumes_report(call_ctx, cfg, vols, n, snap, hints, flags, &report, &err);
    BLOCKING_END(st)
    free(path);   /* each record has its path */
    result = records_result(&call_, rc, &err, report);
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
    json_t *cfg = pyb_data_to_json(st, cfgo, "cfg"), *out = NULL;
    if (!cfg)
        return NULL;
    pvs_error err = PVS_ERROR_INIT;
    int rc;
    BLOCKING_CALL(st, cfgo, NULL)
    rc = fn(call_ctx, cfg, arg, &out, &err);
    BLOCKING_END(st)
    json_decref(cfg);
    if (records)
        return records_result(&call_, rc, &err, out);
    return pyb_finish(&call_, rc, &err, rc ? NULL : pyb_to_python_steal(out));
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

static int status_fn(pvs_ctx *ctx, const json_t *cfg, const void *arg, json_t **out, pvs_error *err)
{
    (void)arg;
    return pvs_storage_status(ctx, cfg, out, err);
}

/* storage_status: every storage as pvesm status shows it, a list back */
static PyObject *py_storage_status(PyObject *module, PyObject *cfgo)
{
    return cfg_call(module, cfgo, status_fn, NULL, 0);
}

typedef struct list_args {
    const char *storeid;
    long long vmid;
} list_args;

static int list_fn(pvs_ctx *ctx, const json_t *cfg, const void *arg, json_t **out, pvs_error *err)
{
    const list_args *l = arg;
    return pvs_list_volumes(ctx, cfg, l->storeid, l->vmid, out, err);
}

/* list_volumes: a storage's volumes (pvesm list), a list back */
static PyObject *py_list_volumes(PyObject *module, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "cfg", "storeid", "vmid", NULL };
    PyObject *cfgo, *sido, *vmo = Py_None, *keep = NULL, *result = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:list_volumes", kwlist, &cfgo, &sido, &vmo))
        return NULL;
    modstate *st = get_state(module);
    list_args l = { NULL, -1 };
    if (vmo != Py_None && (!PyLong_Check(vmo) || (l.vmid = PyLong_AsLongLong(vmo)) < 0)) {
        if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            return pyb_raise_code(st, PVS_EINVAL, "vmid is not a guest ID", NULL);
        }
        return NULL;
    }
    if (!pyb_str_arg(st, sido, "storeid", 0, &l.storeid, &keep))
        result = cfg_call(module, cfgo, list_fn, &l, 0);
    Py_XDECREF(keep);
    return result;
}

static PyObject *py_storage_hints(PyObject *module, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "ostype", "may_deactivate", NULL };
    PyObject *osto = Py_None, *keep = NULL, *result = NULL;
    int may = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|Op:storage_hints", kwlist, &osto, &may))
        return NULL;
    const char *os;
    if (!pyb_str_arg(get_state(module), osto, "ostype", 1, &os, &keep))
        result = pyb_to_python_steal(pvs_storage_hints(os, may));
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
    if (pyb_str_arg(st, patho, "path", 0, &path, &keep) || !(cfg = pyb_data_to_json(st, cfgo, "cfg")))
        goto out;
    pvs_error err = PVS_ERROR_INIT;
    char *vtype = NULL, *volid = NULL;
    int rc;
    BLOCKING_CALL(st, cfgo, NULL)
    rc = pvs_path_to_volume_id(call_ctx, cfg, path, &vtype, &volid, &err);
    BLOCKING_END(st)
    result = pyb_finish(&call_, rc, &err, volid ? Py_BuildValue("(NN)", pyb_text_or_none(vtype), pyb_text_or_none(volid))
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
    if (!pyb_str_arg(st, vtypeo, "content type", 0, &vtype, &keep) && (scfg = pyb_data_to_json(st, scfgo, "scfg"))) {
        pvs_error err = PVS_ERROR_INIT;
        char *dir = pvs_get_subdir(scfg, vtype, &err);
        result = pyb_finish(&st->outside, dir ? 0 : err.code, &err, pyb_text_or_none(dir));
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
            return pyb_raise(st, &err);
        }
        PyObject *v = pyb_text_or_none(text);
        free(text);
        if (!v || PyDict_SetItemString(d, names[i], v))
            Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

static PyObject *py_dry_run(PyObject *module, PyObject *unused)
{
    (void)unused;
    PyObject *v = NULL;
    if (PyContextVar_Get(get_state(module)->dry_run, Py_False, &v) < 0)
        return NULL;
    return v;
}

static PyObject *py_api(PyObject *module, PyObject *unused)
{
    (void)module, (void)unused;
    json_t *api = pvs_api_description();
    return api ? pyb_to_python_steal(api) : PyErr_NoMemory();
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
        rc = !s || pyb_str_arg(st, key, "setting name", 0, &names[i], &keep)
             || pyb_str_arg(st, s, "setting value", 0, &values[i], &keep) || pyb_keep_ref(&keep, s);
        Py_XDECREF(s);
        i++;
    }
    pvs_error err = PVS_ERROR_INIT;
    if (!rc && pvs_ctx_configure(st->ctx, names, values, (size_t)n, &err))
        rc = -2;
    PyMem_Free(names);
    Py_XDECREF(keep);
    if (rc == -2)
        return pyb_raise(st, &err);
    if (rc)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *py_hints_json_schema(PyObject *module, PyObject *unused)
{
    (void)module, (void)unused;
    return pyb_to_python_steal(pvs_hints_json_schema());
}

/* ---- plugin objects ---- */

static PyObject *py_plugin(PyObject *module, PyObject *type)
{
    modstate *st = get_state(module);
    const char *t;
    PyObject *keep = NULL;
    if (pyb_str_arg(st, type, "storage type", 0, &t, &keep)) {
        Py_XDECREF(keep);
        return NULL;
    }
    pvs_error err = PVS_ERROR_INIT;
    const pvs_plugin *p = pvs_plugin_lookup(st->ctx, t, &err);
    Py_XDECREF(keep);
    if (!p)
        return pyb_raise(st, &err);
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
        return pyb_text_or_none(r->text);
    pvs_volname *v = &r->volname;
    const char *fields[7] = { v->vtype, v->name, v->vmid, v->basename, v->basevmid, v->isbase, v->format };
    PyObject *t = PyTuple_New(7);
    for (int i = 0; t && i < 7; i++) {
        PyObject *f = pyb_text_or_none(fields[i]);
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
        return pyb_str_arg(st, v, "storage ID", optional, &a->storeid, keep);
    if (strcmp(name, "volname") == 0)
        return pyb_str_arg(st, v, "volume name", optional, &a->volname, keep);
    if (strcmp(name, "snapname") == 0)
        return pyb_str_arg(st, v, "snapshot name", 1, &a->snapname, keep);
    if (strcmp(name, "scfg") == 0)
        return !(a->scfg = owned[0] = pyb_data_to_json(st, v, "scfg"));
    if (strcmp(name, "hints") == 0) {
        int rc = pyb_hints_to_json(st, v, &owned[1]);
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
    int n = parse_row(desc, args, kw, v);
    if (n < 0)
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
    rc = pvs_plugin_call(call_ctx, self->plugin, m, &a, &r, &err);
    BLOCKING_END(st)
    result = pyb_finish(&call_, rc, &err, rc ? NULL : method_value(desc, &r));
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
    { "storage_status", py_storage_status, METH_O,
      "storage_status(cfg, /)\n--\n\n"
      "Every storage of cfg as pvesm status shows it: a list of {'storage', 'type',\n"
      "'enabled', 'active', 'content', 'shared'} with 'total', 'used', 'avail' (bytes)\n"
      "where the plugin tells them (lvm, lvmthin ...), 'reason' when not active.  Reads only." },
    { "list_volumes", (PyCFunction)(void (*)(void))py_list_volumes, METH_VARARGS | METH_KEYWORDS,
      "list_volumes(cfg, storeid, vmid=None)\n--\n\n"
      "The volumes on a storage (pvesm list), sorted by volid: {'volid', 'content',\n"
      "'format', 'size', 'vmid', ...}; only guest vmid's when given.  Reads only." },
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
    { "deactivate_storage", (PyCFunction)(void (*)(void))py_deactivate_storage, METH_VARARGS | METH_KEYWORDS,
      "deactivate_storage(cfg, storeid)\n--\n\nDeactivate one storage (lvm: its volume group's volumes)." },
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
    { "dry_run", py_dry_run, METH_NOARGS,
      "dry_run()\n--\n\nFor a Python plugin's method: whether the call that runs it is a dry run.  Only a\n"
      "plugin that declares pvestorage_capabilities = ['dry_run'] (it then reads and changes\n"
      "nothing) is called in one; any other's methods are skipped (skipped-dry-run)." },
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
    if (!(st->dry_run = PyContextVar_New("pvestorage.dry_run", NULL)))
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
        pyb_raise(st, &err);
        return -1;
    }
    st->outside = (call_state){ .st = st, .immediate = 1 };
    pvs_ctx_set_warn(st->ctx, pyb_warn_sink, &st->outside);
    pvs_ctx_set_info(st->ctx, pyb_info_sink, &st->outside);

    /* shaped like Proxmox's: HINTS_FORMAT['properties'] is HINTS_PROPERTIES */
    PyObject *props = pyb_to_python_steal(pvs_hints_properties());
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
    Py_VISIT(st->dry_run);
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
    Py_CLEAR(st->dry_run);
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

/* Multi-phase init, all state in the module state (and per call in its
 * call_state): each interpreter has its own module, context and plugins,
 * and a plugin runs on the thread state of the call that reached it, so
 * an interpreter with its own GIL may load it. */
static PyModuleDef_Slot module_slots[] = {
    { Py_mod_exec, module_exec },
#ifdef Py_mod_multiple_interpreters
    { Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED },
#endif
#ifdef Py_mod_gil
    { Py_mod_gil, Py_MOD_GIL_USED },   /* registration and the warnings queue rely on it */
#endif
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
