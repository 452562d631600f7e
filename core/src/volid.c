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
