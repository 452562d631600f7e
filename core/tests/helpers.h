/* helpers.h - shared by the C tests: cmocka, warning capture, temp trees. */
#ifndef PVS_TEST_HELPERS_H
#define PVS_TEST_HELPERS_H

#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pvestorage.h"

#include <jansson.h>

/* A JSON file of the test data ($PVS_TEST_DATA/NAME; ctest sets it). */
static inline json_t *load_data(const char *name)
{
    const char *data = getenv("PVS_TEST_DATA");
    if (!data)
        fail_msg("PVS_TEST_DATA is not set: run this test through ctest");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", data, name);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        fail_msg("%s: %s", path, je.text);
    return j;
}

/* Warnings a test collected, joined in order. */
typedef struct warnings {
    char buf[16384];
    int count;
} warnings;

static inline void collect_warning(void *data, const char *msg)
{
    warnings *w = data;
    strncat(w->buf, msg, sizeof w->buf - strlen(w->buf) - 1);
    w->count++;
}

static inline pvs_ctx *test_ctx(warnings *w)
{
    pvs_error err = PVS_ERROR_INIT;
    pvs_ctx *ctx = pvs_ctx_new(&err);
    assert_non_null(ctx);
    if (w) {
        memset(w, 0, sizeof *w);
        pvs_ctx_set_warn(ctx, collect_warning, w);
    }
    return ctx;
}

static inline char *make_tempdir(void)
{
    char tmpl[] = "/tmp/pvs-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static inline void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static inline void mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    mkdir(buf, 0755);
}

static inline int is_directory(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static inline void remove_tree(const char *dir)
{
    char cmd[4200];
    /* test scratch only: a temp dir this test made */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* BASE/REL with TEXT, its directories made first */
/* read fd to its end into buf (NUL-terminated, at most size - 1 bytes), and close it */
static inline void read_to_end(int fd, char *buf, size_t size)
{
    size_t got = 0;
    ssize_t n;
    while (got + 1 < size && (n = read(fd, buf + got, size - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    close(fd);
}

static inline void put_file(const char *base, const char *rel, const char *text)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    mkdirs(p);
    *slash = '/';
    write_file(p, text);
}

#endif
