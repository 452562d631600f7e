/* schema.c - values of storage sections: the scfg accessors every plugin
 * uses, and the content types' default sub directories.  Below the plugin
 * layer and the configuration parser. */
#include <string.h>

#include "internal.h"

/* content type -> default sub directory (SPEC §5 dir) */
static const char *const vtype_subdirs[][2] = {
    { "images", "images" },       { "rootdir", "private" },
    { "iso", "template/iso" },    { "vztmpl", "template/cache" },
    { "backup", "dump" },         { "snippets", "snippets" },
    { "import", "import" },
};

const char *pvs_vtype_subdir(const char *vtype)
{
    for (size_t i = 0; i < sizeof vtype_subdirs / sizeof vtype_subdirs[0]; i++)
        if (strcmp(vtype_subdirs[i][0], vtype) == 0)
            return vtype_subdirs[i][1];
    return NULL;
}

const char *pvs_scfg_str(const json_t *scfg, const char *key)
{
    return json_string_value(json_object_get(scfg, key));
}

int pvs_scfg_bool(const json_t *scfg, const char *key, int dflt)
{
    json_t *v = json_object_get(scfg, key);
    if (json_is_integer(v))
        return json_integer_value(v) != 0;
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_string(v))
        return strcmp(json_string_value(v), "0") != 0 && json_string_value(v)[0];
    return dflt;
}

