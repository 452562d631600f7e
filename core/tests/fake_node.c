/* fake-node - a node's own tools (vgs, lvs, lvchange, vgscan, vgchange,
 * zpool, zfs, iscsiadm, udevadm ...) answering from a test case, for
 * tests on machines where LVM, ZFS and iSCSI cannot run (the real ones run
 * in the test guest).  One binary, installed under a test root by each
 * tool's name (ROOT/sbin/lvs ...), the same for the C, Perl and Python
 * tests and for the golden files of upstream's behaviour
 * (scripts/upstream-node-golden.sh).
 *
 * Environment:
 *   FAKE_NODE_CASE  a JSON file { "responses": [ RULE ... ] }; the first
 *                   rule that matches the invocation answers it:
 *                   { "cmd": NAME (the tool's base name), "has": [ARG ...]
 *                     (each among the arguments; optional), "out": TEXT,
 *                     "err": TEXT, "exit": N (default 0) }
 *                   no rule: exit 0 and print nothing
 *   FAKE_NODE_LOG   append each argv (argv[0] as the caller gave it) as a
 *                   JSON array line */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void log_argv(int argc, char **argv)
{
    const char *log = getenv("FAKE_NODE_LOG");
    if (!log || !*log)
        return;
    json_t *a = json_array();
    for (int i = 0; i < argc; i++)
        json_array_append_new(a, json_stringn(argv[i], strlen(argv[i])));
    char *s = json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII);
    FILE *f = fopen(log, "a");
    if (f && s)
        fprintf(f, "%s\n", s);
    if (f)
        fclose(f);
    free(s);
    json_decref(a);
}

static int has_all(const json_t *has, int argc, char **argv)
{
    size_t i;
    json_t *want;
    json_array_foreach(has, i, want) {
        int found = 0;
        for (int k = 1; k < argc && !found; k++)
            found = json_is_string(want) && strcmp(argv[k], json_string_value(want)) == 0;
        if (!found)
            return 0;
    }
    return 1;
}

static const json_t *rule_for(const json_t *rules, const char *name, int argc, char **argv)
{
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r) {
        const char *cmd = json_string_value(json_object_get(r, "cmd"));
        if (cmd && strcmp(cmd, name) == 0 && has_all(json_object_get(r, "has"), argc, argv))
            return r;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    log_argv(argc, argv);
    const char *slash = strrchr(argv[0], '/'), *name = slash ? slash + 1 : argv[0];
    const char *path = getenv("FAKE_NODE_CASE");
    json_error_t je;
    json_t *c = path && *path ? json_load_file(path, 0, &je) : NULL;
    if (path && *path && !c) {
        fprintf(stderr, "fake-node: %s: %s\n", path, je.text);
        return 99;
    }
    const json_t *r = rule_for(json_object_get(c, "responses"), name, argc, argv);
    const char *out = json_string_value(json_object_get(r, "out"));
    const char *err = json_string_value(json_object_get(r, "err"));
    int code = (int)json_integer_value(json_object_get(r, "exit"));
    if (out)
        fputs(out, stdout);
    if (err)
        fputs(err, stderr);
    json_decref(c);
    return code;
}
