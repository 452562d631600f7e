/* node_case.h - what a case of data/node_cases.json puts under a test
 * root besides the tools (test_node.c; t/16-node.t and
 * python-tests/test_node.py do the same): ROOT/usr/bin/iscsiadm and
 * iscsi-ls (unless "absent"), its "dirs", "files" (path: text), "links"
 * (path: destination), "aged" files (touched an hour ago), and the
 * answering portal 127.0.0.1:13260 that the golden file's run had too. */
#ifndef PVS_TESTS_NODE_CASE_H
#define PVS_TESTS_NODE_CASE_H

#include <netinet/in.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <time.h>
#include <utime.h>

#include "helpers.h"

#define NODE_CASE_PORT 13260

static void node_case_parent(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(path, '/') - path), path);
    mkdirs(dir);
}

static int node_case_absent(const json_t *c, const char *path)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(c, "absent"), i, a)
        if (!strcmp(json_string_value(a), path))
            return 1;
    return 0;
}

static void node_case_files(const char *root, const json_t *c)
{
    char p[4096];
    static const char *const bins[] = { "/usr/bin/iscsiadm", "/usr/bin/iscsi-ls", NULL };
    for (int i = 0; bins[i]; i++) {
        snprintf(p, sizeof p, "%s%s", root, bins[i]);
        node_case_parent(p);
        if (!node_case_absent(c, bins[i]))
            assert_int_equal(symlink(getenv("PVS_FAKE_NODE"), p), 0);
    }
    size_t i;
    const char *k;
    json_t *v;
    json_array_foreach(json_object_get(c, "dirs"), i, v) {
        snprintf(p, sizeof p, "%s%s", root, json_string_value(v));
        mkdirs(p);
    }
    json_object_foreach(json_object_get(c, "files"), k, v) {
        snprintf(p, sizeof p, "%s%s", root, k);
        node_case_parent(p);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs(json_string_value(v), f);
        fclose(f);
    }
    json_object_foreach(json_object_get(c, "links"), k, v) {
        snprintf(p, sizeof p, "%s%s", root, k);
        node_case_parent(p);
        assert_int_equal(symlink(json_string_value(v), p), 0);
    }
    json_array_foreach(json_object_get(c, "aged"), i, v) {
        snprintf(p, sizeof p, "%s%s", root, json_string_value(v));
        struct utimbuf t = { time(NULL) - 3600, time(NULL) - 3600 };
        assert_int_equal(utime(p, &t), 0);
    }
}

/* a child answering on the listening portal (another test's listener on
 * it serves as well): it waits for the client to close first, so no
 * TIME_WAIT holds the port afterwards; -1 when none could start */
static pid_t node_case_listen(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(NODE_CASE_PORT),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 64)) {
        close(fd);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        char buf[64];
        for (int c; (c = accept(fd, NULL, NULL)) >= 0; close(c))
            while (read(c, buf, sizeof buf) > 0)
                ;
        _exit(0);
    }
    close(fd);
    return pid;
}

static void node_case_unlisten(pid_t pid)
{
    if (pid > 0 && kill(pid, SIGKILL) == 0)
        waitpid(pid, NULL, 0);
}

#endif
