/* ptrmap.h - the bindings' map from a native container (a Perl referent, a
 * Python object) to its converted json_t, so that conversion is linear in
 * the number of distinct containers: a structure that shares a
 * sub-structure (x = [x0, x0], nested 23 times) is converted once per
 * container and the json_t is shared, and a container met again while it is
 * still being converted is a reference cycle.  Header-only: each binding
 * compiles its own copy; the core never sees native values. */
#ifndef PVS_PTRMAP_H
#define PVS_PTRMAP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define PTRMAP_INLINE 16

typedef struct ptrmap_entry {
    const void *key;
    json_t *value;        /* NULL while the container is being converted */
} ptrmap_entry;

typedef struct ptrmap {
    ptrmap_entry *v;      /* inline until it grows */
    size_t cap, n;
    ptrmap_entry inline_[PTRMAP_INLINE];
} ptrmap;

static inline void ptrmap_init(ptrmap *m)
{
    m->v = m->inline_;
    m->cap = PTRMAP_INLINE;
    m->n = 0;
    memset(m->inline_, 0, sizeof m->inline_);
}

static inline void ptrmap_free(ptrmap *m)
{
    if (m->v != m->inline_)
        free(m->v);
    m->v = m->inline_;
    m->cap = PTRMAP_INLINE;
    m->n = 0;
}

static inline size_t ptrmap_hash(const void *p, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 32) & (cap - 1);
}

static inline ptrmap_entry *ptrmap_slot(ptrmap_entry *v, size_t cap, const void *key)
{
    size_t i = ptrmap_hash(key, cap);
    while (v[i].key && v[i].key != key)
        i = (i + 1) & (cap - 1);
    return &v[i];
}

/* The entry of key, or NULL when it has none. */
static inline ptrmap_entry *ptrmap_find(ptrmap *m, const void *key)
{
    ptrmap_entry *e = ptrmap_slot(m->v, m->cap, key);
    return e->key ? e : NULL;
}

/* Add key (not yet present) as "being converted"; -1 when out of memory. */
static inline int ptrmap_add(ptrmap *m, const void *key)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap * 2;
        ptrmap_entry *v = calloc(cap, sizeof *v);
        if (!v)
            return -1;
        for (size_t i = 0; i < m->cap; i++)
            if (m->v[i].key)
                *ptrmap_slot(v, cap, m->v[i].key) = m->v[i];
        if (m->v != m->inline_)
            free(m->v);
        m->v = v;
        m->cap = cap;
    }
    ptrmap_slot(m->v, m->cap, key)->key = key;
    m->n++;
    return 0;
}

/* The container is converted: later meetings share value (borrowed; the
 * converted tree owns it). */
static inline void ptrmap_done(ptrmap *m, const void *key, json_t *value)
{
    ptrmap_entry *e = ptrmap_find(m, key);
    if (e)
        e->value = value;
}

#endif
