/* binding.h - what the extension's files share: the module state, the
 * state of one core call, the conversions and errors (convert.c, the lowest
 * floor), and the foreign plugins' entry points (foreign.c).  pvestorage.c
 * (the module) uses both; foreign.c uses convert.c; convert.c uses neither. */
#ifndef PVS_PY_BINDING_H
#define PVS_PY_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pvestorage.h"

struct py_plugin;

/* room for every code of pvestorage_api.def (0 .. -PYB_NCODES+1) */
#define PYB_NCODES 32

typedef struct modstate modstate;

/* One core call made by the module (the GIL released): its warnings, kept
 * to be emitted in order afterwards, what the Python plugins it reaches
 * get -- the caller's own cfg and hints objects and one cache dict -- and
 * the exception a plugin raised, chained to the error the call raises.
 * The core hands it back to the sinks and the plugins (pvs_call_open's
 * data): no thread-local state.  The module's own one (immediate) takes
 * what comes outside any call and emits it at once. */
typedef struct call_state {
    modstate *st;
    int immediate;
    char **v;
    size_t n, cap;
    PyObject *cfg, *hints;   /* borrowed from the caller's arguments, or NULL */
    PyObject *cache;         /* made on first use */
    PyObject *plugin_exc;    /* owned, or NULL */
    PyThreadState *tstate;   /* the caller's, saved while the core runs: a plugin runs on it */
} call_state;

struct modstate {
    /* pvestorage.Error, and by -code the class pvestorage_api.def names for it
     * (pvestorage.Error itself where it names none) */
    PyObject *Error, *errors[PYB_NCODES], *StorageWarning;
    PyTypeObject *PluginType;
    /* the core takes a settings snapshot per call: no lock here, so no
     * lock is ever held while Python code (a warnings handler) runs */
    pvs_ctx *ctx;
    call_state outside;          /* the sinks' data outside a call */
    PyObject *dry_run;           /* a ContextVar: dry_run() for the plugin method running */
    struct py_plugin *plugins;   /* registered classes, freed after the context */
};

/* The exception class of a core error code. */
#define PYB_ERROR(st, code) ((st)->errors[-(code)])

/* ---- convert.c ---- */

PyObject *pyb_text(const char *s, size_t n);
PyObject *pyb_text_or_none(const char *s);
const char *pyb_type_name(PyObject *o);
const char *pyb_str_bytes(PyObject *o, Py_ssize_t *n, PyObject **keep);
PyObject *pyb_to_python(const json_t *j);
PyObject *pyb_to_python_steal(json_t *j);
json_t *pyb_data_to_json(modstate *st, PyObject *o, const char *what);
int pyb_hints_to_json(modstate *st, PyObject *o, json_t **out);
json_t *pyb_cfg_to_json(modstate *st, PyObject *cfg, const char *const *ids, size_t n, int storeids);
int pyb_keep_ref(PyObject **keep, PyObject *o);
int pyb_str_arg(modstate *st, PyObject *o, const char *what, int optional, const char **out, PyObject **keep);
const char **pyb_volids_arg(modstate *st, PyObject *o, size_t *n, PyObject **keep);
/* Raise the exception for a core error (cleared), chained to the plugin's
 * exception a call kept (cs may be NULL); returns NULL. */
PyObject *pyb_raise_in(call_state *cs, modstate *st, pvs_error *err);
#define pyb_raise(st, err) pyb_raise_in(NULL, (st), (err))
/* An error the binding finds, raised with code as the core's are. */
PyObject *pyb_raise_code(modstate *st, int code, const char *message, const char *arg);
/* The end of a call: its error raised, or result (a pending exception --
 * a warning turned error -- wins). */
PyObject *pyb_finish(call_state *cs, int rc, pvs_error *err, PyObject *result);
/* Emit the warnings a call kept so far (GIL held). */
void pyb_flush_call(call_state *cs);
/* The core's sinks; data is a call_state. */
void pyb_warn_sink(void *data, const char *message);
void pyb_info_sink(void *data, const char *message);

/* A core call: the GIL released around it, its call opened with a
 * call_state (st's context itself when memory runs out: its messages then
 * go out at once).  Inside, the call's context is call_ctx; after
 * BLOCKING_END the state is call_, for pyb_finish(&call_, ...).  So a
 * warnings handler never runs while the core holds anything (an image's
 * map lock), and may call back into this module freely. */
#define BLOCKING_CALL(st, cfgo, hintso)                                              \
    call_state call_ = { (st), 0, NULL, 0, 0, (cfgo), (hintso), NULL, NULL, NULL }; \
    pvs_ctx *call_ctx = pvs_call_open((st)->ctx, &call_);                           \
    if (!call_ctx)                                                                   \
        call_ctx = (st)->ctx;                                                        \
    call_.tstate = PyEval_SaveThread();
#define BLOCKING_BEGIN(st) BLOCKING_CALL(st, NULL, NULL)
#define BLOCKING_END(st)                 \
    PyEval_RestoreThread(call_.tstate);  \
    if (call_ctx != (st)->ctx)           \
        pvs_call_close(call_ctx);        \
    Py_CLEAR(call_.cache);               \
    pyb_flush_call(&call_);

/* ---- foreign.c ---- */

PyObject *pyb_register_plugin(PyObject *module, PyObject *plugin);
void pyb_free_plugins(modstate *st);

#endif
