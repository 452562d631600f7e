/* volid.c - "STOREID:VOLNAME" volume IDs (SPEC §4). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* [a-z][a-z0-9\-_.]*[a-z0-9], case-insensitive */
static int valid_storeid(const char *s, size_t n)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    if (n < 2)
        return 0;
    if (!strchr(alnum, s[0]) || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (size_t i = 1; i < n - 1; i++)
        if (!s[i] || (!strchr(alnum, s[i]) && !strchr("-_.", s[i])))
            return 0;
    return s[n - 1] && strchr(alnum, s[n - 1]) != NULL;
}

int pvs_storeid_valid(const char *s)
{
    return s && valid_storeid(s, strlen(s));
}

int pvs_parse_volume_id(const char *volid, char **storeid, char **volname, pvs_error *err)
{
    if (storeid)
        *storeid = NULL;
    if (volname)
        *volname = NULL;
    if (!volid)
        return pvs_fail(err, PVS_EINVAL, "unable to parse volume ID '%s'\n", "");
    const char *colon = strchr(volid, ':');
    /* the volume name is one line (Perl's .+ stops at a newline) */
    if (!colon || !valid_storeid(volid, (size_t)(colon - volid)) || !colon[1]
        || strchr(colon + 1, '\n'))
        return pvs_fail(err, PVS_EINVAL, "unable to parse volume ID '%s'\n", volid);
    char *s = storeid ? strndup(volid, (size_t)(colon - volid)) : NULL;
    char *v = volname ? strdup(colon + 1) : NULL;
    if ((storeid && !s) || (volname && !v)) {
        free(s);
        free(v);
        return pvs_oom(err);
    }
    if (storeid)
        *storeid = s;
    if (volname)
        *volname = v;
    return 0;
}

/* Add storeid (taken) to the list unless it is there. */
static int add_section(char ***out, size_t *nout, char *storeid)
{
    for (size_t i = 0; i < *nout; i++)
        if (strcmp((*out)[i], storeid) == 0) {
            free(storeid);
            return 0;
        }
    char **grown = realloc(*out, (*nout + 1) * sizeof *grown);
    if (!grown) {
        free(storeid);
        return -1;
    }
    *out = grown;
    (*out)[(*nout)++] = storeid;
    return 0;
}

int pvs_config_sections_for(const char *const *ids, size_t n, int storeids, char ***out, size_t *nout,
                            pvs_error *err)
{
    *out = NULL;
    *nout = 0;
    for (size_t i = 0; i < n; i++) {
        char *storeid = NULL;
        if (storeids ? !(storeid = ids[i] ? strdup(ids[i]) : NULL) && ids[i]
                     : pvs_parse_volume_id(ids[i], &storeid, NULL, NULL) == PVS_ENOMEM)
            goto oom;
        if (storeid && add_section(out, nout, storeid))
            goto oom;
    }
    return 0;
oom:
    for (size_t i = 0; i < *nout; i++)
        free((*out)[i]);
    free(*out);
    *out = NULL;
    *nout = 0;
    return pvs_oom(err);
}
