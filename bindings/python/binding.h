/* binding.h - what the extension's two files share: the module state, the
 * state of a core call under way on a thread, and the conversions. */
#ifndef PVS_PY_BINDING_H
#define PVS_PY_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pvestorage.h"

struct py_plugin;

/* room for every code of pvestorage_api.def (0 .. -PYB_NCODES+1) */
#define PYB_NCODES 32

typedef struct {
    /* pvestorage.Error, and by -code the class pvestorage_api.def names for it
     * (pvestorage.Error itself where it names none) */
    PyObject *Error, *errors[PYB_NCODES], *StorageWarning;
    PyTypeObject *PluginType;
    /* the core takes a settings snapshot per call: no lock here, so no
     * lock is ever held while Python code (a warnings handler) runs */
    pvs_ctx *ctx;
    struct py_plugin *plugins;   /* registered classes, freed after the context */
} modstate;

/* A core call under way on this thread (the GIL released): its warnings,
 * kept to be emitted in order, and what Python plugins it reaches get -
 * the caller's own cfg and hints objects and one cache dict for the call. */
typedef struct call_state {
    char **v;
    size_t n, cap;
    PyObject *cfg, *hints;   /* borrowed from the caller's arguments, or NULL */
    PyObject *cache;         /* made on first use */
} call_state;

extern _Thread_local call_state *pyb_current_call;
/* The exception a Python plugin raised in this thread's last failed call:
 * chained to the error the call raises. */
extern _Thread_local PyObject *pyb_plugin_exc;

PyObject *pyb_text(const char *s, size_t n);
PyObject *pyb_to_python(const json_t *j);
json_t *pyb_data_to_json(modstate *st, PyObject *o, const char *what);
/* Raise the exception for a core error (cleared); returns NULL. */
PyObject *pyb_raise(modstate *st, pvs_error *err);
/* An error the binding finds, raised with code as the core's are. */
PyObject *pyb_raise_code(modstate *st, int code, const char *message);
/* The exception class of a core error code. */
#define PYB_ERROR(st, code) ((st)->errors[-(code)])
/* Emit the warnings a call kept so far (GIL held). */
void pyb_flush_call(modstate *st, call_state *cs);

/* foreign.c */
PyObject *pyb_register_plugin(PyObject *module, PyObject *plugin);
void pyb_free_plugins(modstate *st);

#endif
