/* mounts.c - the node's mount table as upstream reads it
 * (PVE::ProcFSTools::parse_proc_mounts): /proc/mounts under the root
 * setting, read once per call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void pvs_unescape_mount(char *s)
{
    char *o = s;
    for (char *i = s; *i; i++) {
        if (i[0] == '\\' && i[1] >= '0' && i[1] <= '3' && i[2] >= '0' && i[2] <= '7' && i[3] >= '0'
            && i[3] <= '7') {
            *o++ = (char)((i[1] - '0') * 64 + (i[2] - '0') * 8 + (i[3] - '0'));
            i += 3;
        } else {
            *o++ = *i;
        }
    }
    *o = '\0';
}

/* one line: [source, target, fstype], the first two unescaped */
static json_t *mount_entry(char *line)
{
    char *save, *f[3];
    for (int i = 0; i < 3; i++)
        if (!(f[i] = strtok_r(i ? NULL : line, " \t\n", &save)))
            return NULL;
    pvs_unescape_mount(f[0]);
    pvs_unescape_mount(f[1]);
    return json_pack("[s, s, s]", f[0], f[1], f[2]);
}

json_t *pvs_call_mounts(pvs_ctx *call)
{
    json_t *cache = pvs_call_cache(call), *m = cache ? json_object_get(cache, "mounts") : NULL;
    if (m || !cache)
        return m;
    char *path = pvs_host_path(call, "/proc/mounts");
    FILE *f = path ? fopen(path, "re") : NULL;
    free(path);
    if (!(m = json_array()) || json_object_set_new(cache, "mounts", m)) {
        if (f)
            fclose(f);
        return NULL;
    }
    char *line = NULL;
    size_t size = 0;
    while (f && getline(&line, &size, f) > 0) {
        json_t *e = mount_entry(line);
        if (e)
            json_array_append_new(m, e);
    }
    free(line);
    if (f)
        fclose(f);
    return m;
}
