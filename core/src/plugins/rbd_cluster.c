/* rbd_cluster.c - librados: one cached connection per storage, the cluster
 * FSID, and the bounded jobs every cluster step runs in.
 *
 * librados has no per-call deadline (its timeouts are fixed per connection),
 * so each cluster step runs on a thread of its own while the caller waits
 * until the call's deadline.  A step that overruns is left to finish by
 * itself (librados' own op timeouts end it) and frees what it holds; the
 * caller gets PVS_ETIMEDOUT at the deadline, and the connection the step
 * used is dropped from the cache.  Worker threads never call the warning
 * sink (it may be Perl's warn): they hand warnings back to the caller. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rbd.h"

/* The plugin's state in a context: the connection cache, guarded by its own
 * lock (the context only keeps the slot). */
typedef struct rbd_state {
    pthread_mutex_t lock;
    pid_t pid;            /* the process the connections belong to */
    rbd_conn **v;
    size_t n, cap;
} rbd_state;

void *rbd_state_new(void)
{
    rbd_state *s = calloc(1, sizeof *s);
    if (s) {
        pthread_mutex_init(&s->lock, NULL);
        s->pid = getpid();
    }
    return s;
}

void rbd_conn_put(rbd_conn *c)
{
    if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        rados_shutdown(c->cluster);
        free(c->key);
        free(c);
    }
}

/* A forked child's copy of its parent's connections: their threads are not
 * in this process, so they can be neither used nor shut down; forget them.
 * The lock is made anew too: a parent's thread may have held it at fork. */
static void forget_parent(rbd_state *s)
{
    pthread_mutex_init(&s->lock, NULL);
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i]->key);
        free(s->v[i]);
    }
    s->n = 0;
    s->pid = getpid();
}

void rbd_state_free(void *p)
{
    rbd_state *s = p;
    if (!s)
        return;
    if (s->pid != getpid())
        forget_parent(s);
    for (size_t i = 0; i < s->n; i++)
        rbd_conn_put(s->v[i]);
    free(s->v);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* The cache the options carry, checked for a fork since it was last used. */
static rbd_state *state_of(const rbd_opts *o)
{
    rbd_state *s = o->cache;
    if (s && s->pid != getpid())   /* only the child itself sees its own pid differ */
        forget_parent(s);
    return s;
}

const char *rbd_strerr(int rc, char *buf, size_t size)
{
    snprintf(buf, size, "(%d) %s", -rc, strerror(-rc));
    return buf;
}

/* ---- bounded jobs ---- */

void rbd_job_init(rbd_job *j, void (*run)(rbd_job *), void (*release)(rbd_job *))
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&j->m, NULL);
    j->refs = 1;
    j->done = 0;
    j->run = run;
    j->release = release;
}

static void job_release(rbd_job *j)
{
    pthread_mutex_destroy(&j->m);
    pthread_cond_destroy(&j->cv);
    j->release(j);
}

void rbd_job_put(rbd_job *j)
{
    pthread_mutex_lock(&j->m);
    int last = --j->refs == 0;
    pthread_mutex_unlock(&j->m);
    if (last)
        job_release(j);
}

/* The worker drops its reference in the same step that says it is done: a
 * waiter that saw `done` is then the last holder and releases the job (and
 * the connection it holds) on its own thread, so nothing of the job runs
 * after the call returns -- not even a rados_shutdown racing the process's
 * exit. Only a job the waiter gave up on releases itself here. */
static void *job_thread(void *p)
{
    rbd_job *j = p;
    j->run(j);
    pthread_mutex_lock(&j->m);
    j->done = 1;
    int last = --j->refs == 0;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->m);
    if (last)
        job_release(j);
    return NULL;
}

int rbd_job_wait(pvs_ctx *ctx, rbd_job *j)
{
    pthread_attr_t a;
    pthread_t t;
    sigset_t all, old;
    sigfillset(&all);
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    j->refs++;   /* the worker's; nobody else sees j yet */
    /* no signal of the host (Perl, Python) is ever handled on a worker */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&t, &a, job_thread, j);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&a);
    if (rc != 0) {   /* no thread to be had: do it here, unbounded, rather than fail */
        j->refs--;
        j->run(j);
        return 0;
    }
    long long deadline = pvs_now_ms() + pvs_call_left_ms(ctx);
    struct timespec ts = { (time_t)(deadline / 1000), (long)(deadline % 1000) * 1000000 };
    pthread_mutex_lock(&j->m);
    while (!j->done && pthread_cond_timedwait(&j->cv, &j->m, &ts) == 0)
        ;
    int done = j->done;
    pthread_mutex_unlock(&j->m);
    return done ? 0 : PVS_ETIMEDOUT;
}

/* ---- connections ---- */

typedef struct connect_job {
    rbd_job j;
    char *name, *conf, *mon_host, *keyring, *auth, *storeid;
    char mount_timeout[32];   /* seconds: less than the call has left */
    char op_timeout[16];      /* whole seconds, as librados takes them */
    rados_t cluster;      /* the result, taken by the caller */
    int connected;
    pvs_error err;
} connect_job;

static void connect_release(rbd_job *j)
{
    connect_job *c = (connect_job *)j;
    if (c->connected)
        rados_shutdown(c->cluster);   /* ready too late: nobody wants it */
    free(c->name);
    free(c->conf);
    free(c->mon_host);
    free(c->keyring);
    free(c->auth);
    free(c->storeid);
    pvs_error_clear(&c->err);
    free(c);
}

static int conf_set(rados_t c, const char *k, const char *v)
{
    return v ? rados_conf_set(c, k, v) : 0;
}

/* Settings first: nothing from the default search path, no log on stderr
 * (librados would write there before the first conf_set), timeouts. */
static int configure_handle(rados_t h, const connect_job *c)
{
    int rc;
    if ((rc = rados_conf_set(h, "log_to_stderr", "false")) < 0
        || (rc = rados_conf_set(h, "err_to_stderr", "false")) < 0
        || (rc = rados_conf_set(h, "log_file", "")) < 0
        || (c->conf && (rc = rados_conf_read_file(h, c->conf)) < 0))
        return rc;
    if ((rc = conf_set(h, "mon_host", c->mon_host)) < 0 || (rc = conf_set(h, "keyring", c->keyring)) < 0
        || (rc = rados_conf_set(h, "auth_client_required", c->auth)) < 0
        || (rc = rados_conf_set(h, "client_mount_timeout", c->mount_timeout)) < 0
        || (rc = rados_conf_set(h, "rados_mon_op_timeout", c->op_timeout)) < 0
        || (rc = rados_conf_set(h, "rados_osd_op_timeout", c->op_timeout)) < 0
        || (rc = rados_conf_set(h, "log_to_stderr", "false")) < 0
        || (rc = rados_conf_set(h, "err_to_stderr", "false")) < 0
        || (rc = rados_conf_set(h, "log_file", "")) < 0
        /* no client cache: we only read metadata, and opening is cheaper without it */
        || (rc = rados_conf_set(h, "rbd_cache", "false")) < 0)
        return rc;
    return 0;
}

/* One monitor of a monhost list: [v1:|v2:]HOST[:PORT] or [v1:|v2:][IPV6][:PORT].
 * librados prints what it cannot parse or resolve straight to the
 * process's stdout and stderr, so it only gets addresses it will take:
 * 0, or -1 (bad syntax) / -2 (a name that does not resolve, *gai set). */
static int check_monitor(const char *tok, int *gai)
{
    char host[256];
    const char *p = tok;
    if (!strncmp(p, "v1:", 3) || !strncmp(p, "v2:", 3))
        p += 3;
    const char *port = NULL;
    size_t n;
    if (*p == '[') {
        const char *end = strchr(p, ']');
        if (!end)
            return -1;
        n = (size_t)(end - p - 1);
        p++;
        port = end[1] == ':' ? end + 2 : end[1] ? "x" : NULL;
    } else {
        const char *colon = strchr(p, ':');
        int one_colon = colon && !strchr(colon + 1, ':');
        n = one_colon ? (size_t)(colon - p) : strlen(p);
        port = one_colon ? colon + 1 : NULL;
    }
    if (n == 0 || n >= sizeof host || (port && (!*port || strspn(port, "0123456789") != strlen(port))))
        return -1;
    memcpy(host, p, n);
    host[n] = '\0';
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1)
        return 0;
    if (strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != n)
        return -1;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
    *gai = getaddrinfo(host, NULL, &hints, &res);
    if (res)
        freeaddrinfo(res);
    return *gai ? -2 : 0;
}

static int check_monitors(connect_job *c)
{
    char *list = c->mon_host ? strdup(c->mon_host) : NULL, *save = NULL;
    if (c->mon_host && !list)
        return pvs_oom(&c->err);
    int rc = 0;
    for (char *tok = list ? strtok_r(list, ",", &save) : NULL; tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        int gai = 0;
        int bad = check_monitor(tok, &gai);
        if (bad == -1)
            rc = pvs_fail(&c->err, PVS_EINVAL, "rbd error: invalid monitor address '%s' in monhost of storage '%s'\n",
                          tok, c->storeid);
        else if (bad == -2)
            rc = pvs_fail(&c->err, PVS_ECLUSTER, "rbd error: cannot resolve monitor host '%s' of storage '%s': %s\n",
                          tok, c->storeid, gai_strerror(gai));
    }
    free(list);
    return rc;
}

static void connect_run(rbd_job *j)
{
    connect_job *c = (connect_job *)j;
    char eb[128];
    rados_t h;
    if (check_monitors(c))
        return;
    int rc = rados_create2(&h, "ceph", c->name, 0);
    if (rc < 0) {
        pvs_fail(&c->err, PVS_ECLUSTER, "rbd error: cannot create a cluster handle for storage '%s': %s\n",
                 c->storeid, rbd_strerr(rc, eb, sizeof eb));
        return;
    }
    if ((rc = configure_handle(h, c)) < 0) {
        pvs_fail(&c->err, PVS_ECLUSTER, "rbd error: bad connection settings for storage '%s': %s\n",
                 c->storeid, rbd_strerr(rc, eb, sizeof eb));
    } else if ((rc = rados_connect(h)) < 0) {
        pvs_fail(&c->err, rc == -ETIMEDOUT ? PVS_ETIMEDOUT : PVS_ECLUSTER,
                 "rbd error: cannot connect to the cluster of storage '%s': %s\n", c->storeid,
                 rbd_strerr(rc, eb, sizeof eb));
    } else {
        c->cluster = h;
        c->connected = 1;
        return;
    }
    rados_shutdown(h);
}

int rbd_timeout_error(pvs_ctx *ctx, const char *what, const char *storeid, pvs_error *err)
{
    return pvs_fail(err, PVS_ETIMEDOUT, "rbd error: %s for storage '%s' did not finish within "
                                        "ceph_timeout (%d s)\n", what, storeid, ctx->set->ceph_timeout);
}

static int connect_cluster(pvs_ctx *ctx, const char *storeid, const rbd_opts *o, rados_t *out,
                           pvs_error *err)
{
    long long left = pvs_call_left_ms(ctx);
    if (left <= 0)
        return rbd_timeout_error(ctx, "connecting to the cluster", storeid, err);
    connect_job *c = calloc(1, sizeof *c);
    if (!c)
        return pvs_oom(err);
    rbd_job_init(&c->j, connect_run, connect_release);
    c->err.exit_status = -1;
    /* librados' own timeout ends the connect first, with its own message;
     * the call's deadline is the backstop */
    long long mount_s = (left - 500) / 1000;   /* librados takes whole seconds */
    snprintf(c->mount_timeout, sizeof c->mount_timeout, "%lld", mount_s > 0 ? mount_s : 1);
    snprintf(c->op_timeout, sizeof c->op_timeout, "%d", ctx->set->ceph_timeout);
    c->name = pvs_asprintf("client.%s", o->user);
    c->conf = pvs_strdup(o->conf);
    c->mon_host = pvs_strdup(o->mon_host);
    c->keyring = pvs_strdup(o->keyring);
    c->auth = pvs_strdup(o->auth);
    c->storeid = pvs_strdup(storeid);
    int rc;
    if (!c->name || !c->auth || !c->storeid || (o->conf && !c->conf) || (o->mon_host && !c->mon_host)
        || (o->keyring && !c->keyring))
        rc = pvs_oom(err);
    else if ((rc = rbd_job_wait(ctx, &c->j)))
        rc = rbd_timeout_error(ctx, "connecting to the cluster", storeid, err);
    else if (!c->connected)
        rc = c->err.code, pvs_error_move(err, &c->err);
    else
        *out = c->cluster, c->connected = 0;
    rbd_job_put(&c->j);
    return rc;
}

/* The cached connection (a new reference) whose key is key, or NULL.
 * Called with s->lock held. */
static rbd_conn *cache_find(rbd_state *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i]->key, key) == 0) {
            __atomic_add_fetch(&s->v[i]->refs, 1, __ATOMIC_ACQ_REL);
            return s->v[i];
        }
    return NULL;
}

/* Add a connection (the cache's reference is c's first one).  s->lock held. */
static int cache_add(rbd_state *s, rbd_conn *c)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        rbd_conn **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = c;
    return 0;
}

void rbd_conn_drop(const rbd_opts *o, rbd_conn *c)
{
    rbd_state *s = state_of(o);
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == c) {
            s->v[i] = s->v[--s->n];
            rbd_conn_put(c);   /* the cache's reference */
            break;
        }
    pthread_mutex_unlock(&s->lock);
}

static char *conn_key(const char *storeid, const rbd_opts *o)
{
    return pvs_asprintf("%s\n%s\n%s\n%s\n%s\n%s", storeid, o->conf ? o->conf : "",
                        o->mon_host ? o->mon_host : "", o->keyring ? o->keyring : "", o->auth, o->user);
}

int rbd_conn_get(pvs_ctx *ctx, const char *storeid, const rbd_opts *o, rbd_conn **out, pvs_error *err)
{
    rbd_state *s = state_of(o);
    char *key = s ? conn_key(storeid, o) : NULL;
    if (!key)
        return pvs_oom(err);
    pthread_mutex_lock(&s->lock);
    rbd_conn *c = cache_find(s, key);
    pthread_mutex_unlock(&s->lock);
    if (c) {
        free(key);
        *out = c;
        return 0;
    }
    /* connect without the lock: other storages need not wait for this one */
    rados_t h = NULL;
    int rc = connect_cluster(ctx, storeid, o, &h, err);
    if (rc) {
        free(key);
        return rc;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        rados_shutdown(h);
        free(key);
        return pvs_oom(err);
    }
    c->key = key;
    c->cluster = h;
    c->refs = 2;   /* the cache's and the caller's */
    pthread_mutex_lock(&s->lock);
    rbd_conn *other = cache_find(s, key);   /* another thread was faster */
    int added = !other && cache_add(s, c) == 0;
    pthread_mutex_unlock(&s->lock);
    if (!added) {
        c->refs = 1;
        rbd_conn_put(c);
        if (!other)
            return pvs_oom(err);
        c = other;
    }
    *out = c;
    return 0;
}

/* the fsid of one line of [global], or NULL */
static char *line_fsid(char *p)
{
    if (strncmp(p, "fsid", 4) != 0)
        return NULL;
    p += 4;
    p += strspn(p, " \t");
    if (*p != '=')
        return NULL;
    p++;
    p += strspn(p, " \t");
    return strndup(p, strcspn(p, " \t"));
}

/* [global] fsid of a ceph.conf (a regular file: a FIFO cannot block) */
static char *conf_fsid(const char *path)
{
    size_t len;
    char *text = path ? pvs_read_regular_file(path, &len, NULL) : NULL, *fsid = NULL;
    int global = 0;
    for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line && !fsid;
         line = strtok_r(NULL, "\n", &save)) {
        char *p = line + strspn(line, " \t");
        p[strcspn(p, "\r#;")] = '\0';
        if (*p == '[')
            global = strncmp(p, "[global]", 8) == 0;
        else if (global)
            fsid = line_fsid(p);
    }
    free(text);
    return fsid;
}

static int valid_fsid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
            return 0;
    }
    return 1;
}

static int fsid_from_cluster(pvs_ctx *ctx, const char *storeid, const rbd_opts *o, char *buf,
                             size_t size, pvs_error *err)
{
    rbd_conn *c;
    int rc = rbd_conn_get(ctx, storeid, o, &c, err);
    if (rc)
        return rc;
    rc = rados_cluster_fsid(c->cluster, buf, size);   /* known since the connect: no I/O */
    rbd_conn_put(c);
    if (rc < 0) {
        char eb[128];
        return pvs_fail(err, PVS_ECLUSTER, "rbd error: cannot get the cluster fsid of storage '%s': %s\n",
                        storeid, rbd_strerr(rc, eb, sizeof eb));
    }
    return 0;
}

int rbd_cluster_fsid(pvs_ctx *ctx, const char *storeid, const json_t *scfg, const rbd_opts *o,
                     char fsid[37], pvs_error *err)
{
    const char *given = pvs_scfg_str(scfg, "fsid");
    char *found = NULL;
    char buf[64];
    if (!given && !o->mon_host) {
        /* a managed cluster: its ceph.conf says, or nothing does (upstream
         * does not ask the cluster then) */
        given = found = conf_fsid(o->conf);
        if (!given)
            return pvs_fail(err, PVS_EINVAL, "cluster fsid has invalid format\n");
    }
    if (!given) {
        int rc = fsid_from_cluster(ctx, storeid, o, buf, sizeof buf, err);
        if (rc)
            return rc;
        given = buf;
    }
    int ok = valid_fsid(given);
    if (ok) {   /* as written: upstream's /i match keeps the case */
        memcpy(fsid, given, 36);
        fsid[36] = '\0';
    }
    free(found);
    return ok ? 0 : pvs_fail(err, PVS_EINVAL, "cluster fsid has invalid format\n");
}
