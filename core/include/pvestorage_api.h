/*
 * pvestorage_api.h - the library's description (pvestorage_api.def) as
 * data, for bindings and tools that iterate it: the exception classes, the
 * settings and their options, the exports, the coverage tests.
 *
 * Included by pvestorage.h; not meant to be included alone.
 */
#ifndef PVESTORAGE_API_H
#define PVESTORAGE_API_H

/* One row of each section of pvestorage_api.def, its columns by name. */
typedef struct pvs_api_error {
    const char *name;           /* "EHINTS" ("OK" for 0) */
    const char *python_class, *python_base, *meaning;
    int code;
} pvs_api_error;

typedef struct pvs_api_setting {
    const char *name, *environment, *option, *metavar, *kind, *default_value, *meaning;
} pvs_api_setting;

typedef struct pvs_api_call {
    const char *name, *c, *perl, *python, *command, *meaning;
} pvs_api_call;

typedef struct pvs_api_value {
    const char *name, *perl, *python, *meaning;
} pvs_api_value;

#define PVS_API_MAX_ARGS 8

typedef struct pvs_api_method {
    const char *name, *result, *meaning;
    int required;                               /* how many of args are */
    const char *args[PVS_API_MAX_ARGS];         /* NULL-terminated */
} pvs_api_method;

typedef struct pvs_api_capability {
    const char *name, *meaning;
    unsigned bit;
} pvs_api_capability;

/* Each section, NULL-name terminated (static). */
const pvs_api_error *pvs_api_errors(void);
const pvs_api_setting *pvs_api_settings(void);
const pvs_api_call *pvs_api_calls(void);
const pvs_api_value *pvs_api_values(void);
const pvs_api_method *pvs_api_methods(void);
const pvs_api_capability *pvs_api_capabilities(void);
/* The storage-level calls on one volume or storage, their signatures as
 * methods' are (PVS_API_ONE). */
const pvs_api_method *pvs_api_one_calls(void);

/* 1 iff method m takes the argument named name. */
int pvs_api_method_takes(const pvs_api_method *m, const char *name);

/* The whole description as JSON (a new reference): { "errors", "settings",
 * "calls", "one_calls", "capabilities", "values", "methods" }, each an array of objects keyed by the
 * columns above, with "apiver" and "apiage".  What Perl's and Python's
 * _api(), the command's --api and the coverage tests read. */
json_t *pvs_api_description(void);

#endif
