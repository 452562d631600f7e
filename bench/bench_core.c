/* bench_core.c - ns/call of verify_hints and parse_volume_id.
 * Run: build/bench_core [iterations]   (figures go in closing notes, never in tests) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pvestorage.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double best_of(int rounds, long iters, int (*fn)(void *), void *arg)
{
    double best = 1e30;
    for (int r = 0; r < rounds; r++) {
        double t0 = now();
        for (long i = 0; i < iters; i++)
            fn(arg);
        double ns = (now() - t0) * 1e9 / iters;
        if (ns < best)
            best = ns;
    }
    return best;
}

static int verify(void *h)
{
    pvs_error err = PVS_ERROR_INIT;
    int rc = pvs_verify_hints(h, &err);
    pvs_error_clear(&err);
    return rc;
}

static int parse_id(void *volid)
{
    char *s, *v;
    int rc = pvs_parse_volume_id(volid, &s, &v, NULL);
    free(s);
    free(v);
    return rc;
}

/* An object of n unknown keys: every one an error, all sorted. */
static double errors_ms(size_t n)
{
    json_t *h = json_object();
    char key[32];
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%zu", (i * 7919) % n);
        json_object_set_new(h, key, json_true());
    }
    double t = best_of(3, 1, verify, h) / 1e6;
    json_decref(h);
    return t;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 2000000;
    json_t *valid = json_pack("{s:b, s:b}", "guest-is-windows", 1, "plugin-may-deactivate-volume", 1);
    json_t *unknown = json_pack("{s:b, s:b}", "guest-is-windows", 1, "no-such-hint", 1);
    printf("verify_hints, valid 2-key object:      %8.1f ns/call\n", best_of(5, iters, verify, valid));
    printf("verify_hints, with an unknown key:     %8.1f ns/call\n", best_of(5, iters / 4, verify, unknown));
    printf("parse_volume_id 'store:100/vm-100-disk-0.raw': %8.1f ns/call\n",
           best_of(5, iters, parse_id, "store:100/vm-100-disk-0.raw"));
    /* sorting the errors is n log n: ten times the keys cost about ten
     * times the time (a quadratic sort: a hundred times) */
    double small = errors_ms(10000), big = errors_ms(100000);
    printf("verify_hints, 10k / 100k unknown keys:  %.1f ms / %.1f ms (ratio %.1f; quadratic would be ~100)\n",
           small, big, big / small);
    json_decref(valid);
    json_decref(unknown);
    return 0;
}
