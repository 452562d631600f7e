/* XS.xs - PVE::Storage::XS: Perl values <-> json_t, die/warn.  Nothing else:
 * every rule lives in the core. */
#define PERL_NO_GET_CONTEXT
#include "EXTERN.h"
#include "perl.h"
#include "XSUB.h"

/* built with -fvisibility=hidden (the core stays private): export the boot function */
#undef XS_EXTERNAL
#define XS_EXTERNAL(name) EXTERN_C __attribute__((visibility("default"))) XSPROTO(name)

#include <string.h>

#include "pvestorage.h"
#include "../common/ptrmap.h"


/* the XSUBs an ALIAS serves (ix), by name: no number crosses from a .pm */
enum { REPORT_ACTIVATE = 0, REPORT_MAP };

#define MY_CXT_KEY "PVE::Storage::XS::_guts" XS_VERSION
struct perl_plugin;

typedef struct {
    pvs_ctx *ctx;
    AV *warnings;       /* collected during a core call, emitted after it */
    /* the storage-level call under way, for the Perl plugins it reaches:
     * the caller's $cfg and $hints (handed on as they are) and upstream's
     * $cache of the call; NULL outside one */
    SV *call_cfg, *call_hints, *call_cache;
    SV *pending_die;    /* what a Perl plugin died with, to die with it again */
    int method_dry_run; /* dry_run() for the Perl plugin method running (its call's) */
    struct perl_plugin *plugins;   /* registered classes, freed with the context */
} my_cxt_t;
START_MY_CXT

/* ---- per-call resources, released however the call ends (die included) ---- */

typedef struct frame {
    json_t *v[4];
    char *str;
    pvs_error err;
} frame;

static void frame_cleanup(pTHX_ void *p)
{
    frame *f = p;
    for (int i = 0; i < 4; i++) {
        json_decref(f->v[i]);
        f->v[i] = NULL;
    }
    free(f->str);
    f->str = NULL;
    pvs_error_clear(&f->err);
}

/* Call between ENTER and LEAVE. */
static frame *frame_new(pTHX)
{
    frame *f;
    Newxz(f, 1, frame);
    f->err.exit_status = -1;
    SAVEFREEPV(f);
    SAVEDESTRUCTOR_X(frame_cleanup, f);
    return f;
}

static void collect_warning(void *data, const char *message)
{
    dTHX;
    my_cxt_t *cxt = data;
    av_push(cxt->warnings, newSVpv(message, 0));
}

/* informational lines go in the same queue (as references), so they keep
 * their order with the warnings; they are printed, as upstream prints them */
static void collect_info(void *data, const char *message)
{
    dTHX;
    my_cxt_t *cxt = data;
    av_push(cxt->warnings, newRV_noinc(newSVpv(message, 0)));
}

static SV *text_sv(pTHX_ const char *s, STRLEN n)
{
    SV *sv = newSVpvn(s, n);
    if (!is_ascii_string((const U8 *)s, n) && is_utf8_string((const U8 *)s, n))
        SvUTF8_on(sv);
    return sv;
}

/* The queued messages as _emit's arguments: a warning as text, an
 * informational line as a reference to it. */
static void push_queued(pTHX_ AV *pending)
{
    dSP;
    PUSHMARK(SP);
    SSize_t n = av_count(pending);
    EXTEND(SP, n);
    for (SSize_t i = 0; i < n; i++) {
        SV **m = av_fetch(pending, i, 0);
        SV *v = m && SvROK(*m) ? SvRV(*m) : m ? *m : NULL;
        STRLEN len = 0;
        const char *s = v ? SvPV(v, len) : "";
        SV *text = sv_2mortal(text_sv(aTHX_ s, len));
        PUSHs(m && SvROK(*m) ? sv_2mortal(newRV_inc(text)) : text);
    }
    PUTBACK;
}

/* Emit what the core said: warnings through Perl's warn (so
 * $SIG{__WARN__} sees them), information through print (the selected
 * handle).  A dying handler's die goes on from here. */
static void flush_warnings(pTHX_ my_cxt_t *cxt)
{
    if (av_count(cxt->warnings) == 0)
        return;
    AV *pending = cxt->warnings;
    cxt->warnings = newAV();
    sv_2mortal((SV *)pending);   /* freed even if a handler dies */
    push_queued(aTHX_ pending);
    call_pv("PVE::Storage::XS::_emit", G_DISCARD);
}

/* warnings first, then the core's message, exactly (it ends in "\n"); a
 * Perl plugin's die comes out as it went in (an exception object stays one) */
/* The die value: a PVE::Storage::XS::Error, which stringifies to the
 * message exactly (so $@ =~ /.../ and eq keep working) and also tells the
 * code, the exit status and the command's stderr, as Sys::Virt's errors. */
static SV *error_object(pTHX_ pvs_error *err)
{
    HV *hv = newHV();
    SV *msg = text_sv(aTHX_ err->message ? err->message : "unknown error\n",
                      err->message ? pvs_error_length(err) : 14);
    hv_stores(hv, "message", msg);
    hv_stores(hv, "code", newSVpv(pvs_strerror(err->code), 0));
    int status = pvs_error_exit_status(err);
    hv_stores(hv, "exit_status", status >= 0 ? newSViv(status) : newSV(0));
    hv_stores(hv, "stderr", err->stderr_text ? text_sv(aTHX_ err->stderr_text, strlen(err->stderr_text))
                                             : newSV(0));
    return sv_bless(newRV_noinc((SV *)hv), gv_stashpvs("PVE::Storage::XS::Error", GV_ADD));
}

static void die_with(pTHX_ my_cxt_t *cxt, pvs_error *err)
{
    SV *msg = err->code == PVS_EPLUGIN && cxt->pending_die
                  ? sv_2mortal(cxt->pending_die)
                  : sv_2mortal(error_object(aTHX_ err));
    if (err->code == PVS_EPLUGIN)
        cxt->pending_die = NULL;
    pvs_error_clear(err);
    flush_warnings(aTHX_ cxt);
    croak_sv(msg);
}

static SV *to_perl(pTHX_ const json_t *j);

/* die_with, the records of a reporting call in the error's ->volumes */
static void die_with_report(pTHX_ my_cxt_t *cxt, pvs_error *err, const json_t *report)
{
    if (err->code == PVS_EPLUGIN && cxt->pending_die)
        die_with(aTHX_ cxt, err);   /* the plugin's own die value, as it was */
    SV *obj = sv_2mortal(error_object(aTHX_ err));
    hv_stores((HV *)SvRV(obj), "volumes", report ? to_perl(aTHX_ report) : newRV_noinc((SV *)newAV()));
    pvs_error_clear(err);
    flush_warnings(aTHX_ cxt);
    croak_sv(obj);
}

/* An error the binding finds itself, with its code as the core's have. */
static void die_text(pTHX_ my_cxt_t *cxt, int code, const char *text)
{
    pvs_error err = PVS_ERROR_INIT;
    err.message = strdup(text);
    err.code = code;
    die_with(aTHX_ cxt, &err);
}

/* The options of a reporting call, FN's: undef or a hash; { dry_run => 1 }
 * gives PVS_DRY_RUN. */
static int report_flags(pTHX_ my_cxt_t *cxt, SV *opts, const char *fn)
{
    if (SvROK(opts) && SvTYPE(SvRV(opts)) == SVt_PVHV) {
        SV **d = hv_fetchs((HV *)SvRV(opts), "dry_run", 0);
        return d && SvTRUE(*d) ? PVS_DRY_RUN : 0;
    }
    if (SvOK(opts)) {
        char text[128];
        snprintf(text, sizeof text, "%s: options must be a hash reference\n", fn);
        die_text(aTHX_ cxt, PVS_EINVAL, text);
    }
    return 0;
}

/* ---- Perl -> json ----
 *
 * Promises kept here: a die anywhere (a tied FETCH, an overloaded
 * stringification) leaks nothing, because every container is attached to
 * its parent before it is filled and the root is owned by the call's frame
 * from the start; the caller's hash iterators are never touched (plain
 * hashes are read by walking their buckets into a mortal snapshot before
 * any Perl code can run); and conversion is linear in the distinct
 * containers (a shared sub-structure is converted once, its json_t shared). */

static const char *const bool_classes[] = {
    "JSON::PP::Boolean", "Types::Serialiser::Boolean", "JSON::XS::Boolean",
    "Cpanel::JSON::XS::Boolean", "boolean", "Mojo::JSON::_Bool", "JSON::Tiny::_Bool", NULL,
};

static int is_bool_object(pTHX_ SV *sv)
{
    if (!sv_isobject(sv))
        return 0;
    for (int i = 0; bool_classes[i]; i++)
        if (sv_derived_from(sv, bool_classes[i]))
            return 1;
    return 0;
}

typedef struct conv {
    ptrmap seen;        /* referent -> json_t (NULL while being converted) */
    int depth;
    int cyclic;         /* a reference cycle was found */
    int too_deep;
} conv;

static void conv_cleanup(pTHX_ void *p)
{
    ptrmap_free(&((conv *)p)->seen);
}

/* Call between ENTER and LEAVE: freed however the call ends. */
static conv *conv_new(pTHX)
{
    conv *c;
    Newxz(c, 1, conv);
    ptrmap_init(&c->seen);
    SAVEFREEPV(c);
    SAVEDESTRUCTOR_X(conv_cleanup, c);
    return c;
}

/* A hash's keys and values, taken before any Perl code runs: a mortal
 * [k, v, k, v, ...].  Plain hashes are walked bucket by bucket (their
 * each-iterator stays where the caller left it); a tied hash can only be
 * asked through FIRSTKEY/NEXTKEY. */
static AV *hash_snapshot(pTHX_ HV *hv)
{
    AV *av = (AV *)sv_2mortal((SV *)newAV());
    if (SvRMAGICAL(hv)) {
        hv_iterinit(hv);
        HE *he;
        while ((he = hv_iternext(hv))) {
            av_push(av, SvREFCNT_inc(hv_iterkeysv(he)));
            av_push(av, SvREFCNT_inc(hv_iterval(hv, he)));
        }
        return av;
    }
    HE **buckets = HvARRAY(hv);
    if (!buckets)
        return av;
    av_extend(av, (SSize_t)HvUSEDKEYS(hv) * 2);
    for (STRLEN i = 0; i <= HvMAX(hv); i++)
        for (HE *he = buckets[i]; he; he = HeNEXT(he)) {
            if (HeVAL(he) == &PL_sv_placeholder)   /* a restricted hash's deleted key */
                continue;
            av_push(av, newSVhek(HeKEY_hek(he)));
            av_push(av, SvREFCNT_inc(HeVAL(he)));
        }
    return av;
}

/* Bytes as JSON text: UTF-8 as it is, other bytes upgraded from Latin-1
 * on a copy (the caller's value stays as it is). */
static json_t *bytes_json(pTHX_ const char *s, STRLEN len, int utf8)
{
    if (utf8 || is_ascii_string((const U8 *)s, len))
        return json_stringn_nocheck(s, len);
    STRLEN ulen = len;
    U8 *u = bytes_to_utf8((const U8 *)s, &ulen);
    json_t *j = json_stringn_nocheck((const char *)u, ulen);
    Safefree(u);
    return j;
}

static json_t *scalar_to_json(pTHX_ SV *sv)
{
    if (!SvOK(sv))
        return json_null();
    /* a string, or a dualvar, is judged by its string form */
    if (SvPOKp(sv) || !(SvIOKp(sv) || SvNOKp(sv))) {
        STRLEN len;
        const char *s = SvPV_nomg(sv, len);
        return bytes_json(aTHX_ s, len, SvUTF8(sv));
    }
    if (SvIOKp(sv) && !SvNOKp(sv)) {
        if (SvIsUV(sv) && SvUVX(sv) > (UV)IV_MAX) {   /* as Perl prints it */
            char num[32];
            snprintf(num, sizeof num, "%" UVuf, SvUVX(sv));
            return json_string(num);
        }
        return json_integer((json_int_t)SvIVX(sv));
    }
    NV nv = SvNVX(sv);
    if (Perl_isnan(nv) || Perl_isinf(nv)) {
        /* JSON has no such number: take Perl's spelling */
        STRLEN len;
        SV *copy = sv_2mortal(newSVnv(nv));
        const char *s = SvPV(copy, len);
        return json_stringn(s, len);
    }
    return json_real(nv);
}

/* The json_t for sv (a new reference).  A plain hash or array comes back
 * empty, with *fill set to its referent: the caller attaches it, then
 * fills it, so it is owned before any Perl code runs for its contents. */
static json_t *value_json(pTHX_ SV *sv, conv *c, SV **fill)
{
    *fill = NULL;
    SvGETMAGIC(sv);
    if (!SvROK(sv))
        return scalar_to_json(aTHX_ sv);
    if (is_bool_object(aTHX_ sv))
        return json_boolean(SvTRUE(sv));
    SV *rv = SvRV(sv);
    if (sv_isobject(sv))
        return pvs_foreign_value(sv_reftype(rv, TRUE));
    if (SvTYPE(rv) != SVt_PVHV && SvTYPE(rv) != SVt_PVAV)
        return pvs_foreign_value(sv_reftype(rv, FALSE));
    ptrmap_entry *e = ptrmap_find(&c->seen, rv);
    if (e) {   /* converted before: share it; still being converted: a cycle */
        if (!e->value)
            c->cyclic = 1;
        return e->value ? json_incref(e->value) : json_null();
    }
    if (c->depth >= PVS_MAX_DEPTH) {
        c->too_deep = 1;
        return json_null();
    }
    if (ptrmap_add(&c->seen, rv))
        return NULL;
    *fill = rv;
    return SvTYPE(rv) == SVt_PVHV ? json_object() : json_array();
}

static int fill_json(pTHX_ json_t *j, SV *rv, conv *c);

/* Attach the value of sv to a container (key NULL: append to an array). */
static int put_value(pTHX_ json_t *into, SV *key, SV *sv, conv *c)
{
    SV *rv;
    json_t *jv = value_json(aTHX_ sv, c, &rv);
    int rc;
    if (!jv)
        return -1;
    if (key) {
        STRLEN klen;
        const char *k = SvPV(key, klen);
        json_t *kj = bytes_json(aTHX_ k, klen, SvUTF8(key));   /* the key's UTF-8 bytes */
        rc = !kj || json_object_setn_new_nocheck(into, json_string_value(kj), json_string_length(kj), jv);
        json_decref(kj);
    } else {
        rc = json_array_append_new(into, jv);
    }
    if (rc)
        return -1;
    return rv ? fill_json(aTHX_ jv, rv, c) : 0;
}

static int fill_json(pTHX_ json_t *j, SV *rv, conv *c)
{
    int rc = 0;
    c->depth++;
    if (SvTYPE(rv) == SVt_PVHV) {
        AV *kv = hash_snapshot(aTHX_ (HV *)rv);
        SSize_t n = av_count(kv);
        for (SSize_t i = 0; !rc && i + 1 < n && !c->cyclic && !c->too_deep; i += 2)
            rc = put_value(aTHX_ j, AvARRAY(kv)[i], AvARRAY(kv)[i + 1], c);
    } else {
        AV *av = (AV *)rv;
        for (SSize_t i = 0; !rc && i <= av_top_index(av) && !c->cyclic && !c->too_deep; i++) {
            SV **e = av_fetch(av, i, 0);
            rc = put_value(aTHX_ j, NULL, e ? *e : &PL_sv_undef, c);
        }
    }
    c->depth--;
    ptrmap_done(&c->seen, rv, j);
    return rc;
}

/* Convert sv into *slot (a frame slot: owned from the start). */
static int to_json_slot(pTHX_ SV *sv, conv *c, json_t **slot)
{
    SV *rv;
    *slot = value_json(aTHX_ sv, c, &rv);
    if (!*slot)
        return -1;
    return rv ? fill_json(aTHX_ *slot, rv, c) : 0;
}

/* Any cycle through references below sv, blessed ones included, as
 * Proxmox checks: a depth-first walk that visits each referent once. */
static void find_cycle(pTHX_ SV *sv, conv *c)
{
    SvGETMAGIC(sv);
    if (!SvROK(sv) || c->cyclic || c->too_deep)
        return;
    SV *rv = SvRV(sv);
    ptrmap_entry *e = ptrmap_find(&c->seen, rv);
    if (e) {
        if (!e->value)
            c->cyclic = 1;   /* on the current path */
        return;
    }
    if (c->depth >= PVS_MAX_DEPTH) {
        c->too_deep = 1;
        return;
    }
    if (ptrmap_add(&c->seen, rv)) {
        c->too_deep = 1;
        return;
    }
    c->depth++;
    if (SvTYPE(rv) == SVt_PVHV && !SvRMAGICAL(rv)) {
        AV *kv = hash_snapshot(aTHX_ (HV *)rv);
        for (SSize_t i = 1; i < (SSize_t)av_count(kv) && !c->cyclic; i += 2)
            find_cycle(aTHX_ AvARRAY(kv)[i], c);
    } else if (SvTYPE(rv) == SVt_PVAV && !SvRMAGICAL(rv)) {
        AV *av = (AV *)rv;
        for (SSize_t i = 0; i <= av_top_index(av) && !c->cyclic; i++) {
            SV **el = av_fetch(av, i, 0);
            if (el)
                find_cycle(aTHX_ *el, c);
        }
    } else if (SvTYPE(rv) < SVt_PVAV) {
        find_cycle(aTHX_ rv, c);
    }
    c->depth--;
    ptrmap_done(&c->seen, rv, json_true());   /* done: any non-NULL marks it */
}

/* Hints into *slot: NULL for undef; the cycle marker for a cyclic
 * structure (checked first, as Proxmox does); foreign markers for refs
 * JSON cannot hold. */
/* The top level of cyclic hints, a reference value by its type, for
 * pvs_cyclic_hints (upstream checks no cycles under a 'download' key). */
static json_t *top_level_hints(pTHX_ HV *hv)
{
    AV *kv = hash_snapshot(aTHX_ hv);
    json_t *o = json_object();
    for (SSize_t i = 0; o && i + 1 < (SSize_t)av_count(kv); i += 2) {
        SV *k = *av_fetch(kv, i, 0), *v = *av_fetch(kv, i + 1, 0);
        SvGETMAGIC(v);
        json_t *j = !SvROK(v) ? scalar_to_json(aTHX_ v)
                    : is_bool_object(aTHX_ v) ? json_boolean(SvTRUE(v))
                    : pvs_foreign_value(sv_reftype(SvRV(v), sv_isobject(v)));
        STRLEN klen;
        const char *ks = SvPVutf8(k, klen);
        if (!j || json_object_setn_new_nocheck(o, ks, klen, j)) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static void hints_to_json(pTHX_ my_cxt_t *cxt, SV *sv, json_t **slot)
{
    *slot = NULL;
    SvGETMAGIC(sv);
    if (!SvOK(sv))
        return;
    conv *c = conv_new(aTHX);
    find_cycle(aTHX_ sv, c);
    if (c->too_deep && !c->cyclic)
        die_text(aTHX_ cxt, PVS_EHINTS, "hints are nested too deeply\n");
    if (c->cyclic && SvROK(sv) && SvTYPE(SvRV(sv)) == SVt_PVHV && !sv_isobject(sv)) {
        json_t *top = top_level_hints(aTHX_ (HV *)SvRV(sv));
        *slot = top ? pvs_cyclic_hints(top) : NULL;   /* the core decides what a cycle means */
    } else if (c->cyclic) {
        *slot = pvs_cyclic_value();
    } else {
        ptrmap_free(&c->seen);
        ptrmap_init(&c->seen);
        if (to_json_slot(aTHX_ sv, c, slot))
            die_text(aTHX_ cxt, PVS_ENOMEM, "out of memory\n");
    }
    if (!*slot)
        die_text(aTHX_ cxt, PVS_ENOMEM, "out of memory\n");
}

static void not_a_hash(pTHX_ my_cxt_t *cxt, const char *what)
{
    char msg[128];
    snprintf(msg, sizeof msg, "%s is not a hash reference\n", what);
    die_text(aTHX_ cxt, PVS_EINVAL, msg);
}

/* A configuration or storage section into *slot: a hash, no cycles. */
static void data_to_json(pTHX_ my_cxt_t *cxt, SV *sv, const char *what, json_t **slot)
{
    SvGETMAGIC(sv);
    if (!SvROK(sv) || SvTYPE(SvRV(sv)) != SVt_PVHV)
        not_a_hash(aTHX_ cxt, what);
    conv *c = conv_new(aTHX);
    int rc = to_json_slot(aTHX_ sv, c, slot);
    if (c->cyclic || c->too_deep) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s %s\n", what,
                 c->cyclic ? "contains recursive cycles" : "is nested too deeply");
        die_text(aTHX_ cxt, PVS_EINVAL, msg);
    }
    if (rc)
        die_text(aTHX_ cxt, PVS_ENOMEM, "out of memory\n");
}

static void free_c(pTHX_ void *p)
{
    free(p);
}

/* The part of a configuration that n volume IDs (or storage IDs) need:
 * { ids => { STOREID => section, ... } }, converted section by section,
 * so a call costs the same whatever the size of the configuration. */
static void cfg_to_json(pTHX_ my_cxt_t *cxt, SV *cfg, const char *const *ids, size_t n, int storeids,
                        json_t **slot)
{
    SvGETMAGIC(cfg);
    if (!SvROK(cfg) || SvTYPE(SvRV(cfg)) != SVt_PVHV)
        not_a_hash(aTHX_ cxt, "storage configuration");
    json_t *ids_json = json_object();
    *slot = ids_json ? json_pack("{s:o}", "ids", ids_json) : NULL;
    if (!*slot)
        die_text(aTHX_ cxt, PVS_ENOMEM, "out of memory\n");
    SV **idsv = hv_fetchs((HV *)SvRV(cfg), "ids", 0);
    SV *ids_ref = idsv ? *idsv : &PL_sv_undef;
    SvGETMAGIC(ids_ref);
    if (!SvROK(ids_ref) || SvTYPE(SvRV(ids_ref)) != SVt_PVHV)
        return;   /* no storages: the core says which one does not exist */
    HV *ids_hv = (HV *)SvRV(ids_ref);
    conv *c = conv_new(aTHX);
    char **names;
    size_t nnames;
    if (pvs_config_sections_for(ids, n, storeids, &names, &nnames, NULL))
        die_text(aTHX_ cxt, PVS_ENOMEM, "out of memory\n");
    SAVEDESTRUCTOR_X(free_c, names);
    for (size_t i = 0; i < nnames; i++)
        SAVEDESTRUCTOR_X(free_c, names[i]);
    for (size_t i = 0; i < nnames; i++) {
        const char *storeid = names[i];
        SV **sec = hv_fetch(ids_hv, storeid, -(I32)strlen(storeid), 0);
        if (sec && put_value(aTHX_ ids_json, sv_2mortal(newSVpvn_utf8(storeid, strlen(storeid), 1)), *sec, c))
            die_text(aTHX_ cxt, PVS_ENOMEM, "out of memory\n");
        if (c->cyclic || c->too_deep)
            die_text(aTHX_ cxt, PVS_EINVAL, c->cyclic ? "storage configuration contains recursive cycles\n"
                                          : "storage configuration is nested too deeply\n");
    }
}

/* ---- json -> Perl ---- */

static SV *to_perl(pTHX_ const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        HV *hv = newHV();
        const char *k;
        size_t klen;
        json_t *v;
        json_object_keylen_foreach((json_t *)j, k, klen, v) {
            I32 len = (I32)klen;
            if (!is_ascii_string((const U8 *)k, klen))
                len = -len;   /* negative length: a UTF-8 key */
            hv_store(hv, k, len, to_perl(aTHX_ v), 0);
        }
        return newRV_noinc((SV *)hv);
    }
    case JSON_ARRAY: {
        AV *av = newAV();
        size_t i;
        json_t *v;
        json_array_foreach((json_t *)j, i, v)
            av_push(av, to_perl(aTHX_ v));
        return newRV_noinc((SV *)av);
    }
    case JSON_STRING:
        return text_sv(aTHX_ json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        return newSViv((IV)json_integer_value(j));
    case JSON_REAL:
        return newSVnv(json_real_value(j));
    case JSON_TRUE:
        return newSViv(1);
    case JSON_FALSE:
        return newSViv(0);
    default:
        return newSV(0);
    }
}

/* ---- strings from Perl ---- */

/* A string argument (UTF-8 bytes, NUL-checked); NULL for undef when optional. */
static const char *str_arg(pTHX_ my_cxt_t *cxt, SV *sv, const char *what, int optional)
{
    SvGETMAGIC(sv);
    if (!SvOK(sv)) {
        if (optional)
            return NULL;
        char msg[128];
        snprintf(msg, sizeof msg, "%s missing\n", what);
        die_text(aTHX_ cxt, PVS_EINVAL, msg);
    }
    STRLEN len;
    SV *copy = sv_2mortal(newSVsv_nomg(sv));
    const char *s = SvPVutf8(copy, len);
    pvs_error err = PVS_ERROR_INIT;
    if (pvs_check_nul(what, s, len, &err))
        die_with(aTHX_ cxt, &err);
    return s;
}

/* A list of volume IDs from an array reference. */
static const char **volids_arg(pTHX_ my_cxt_t *cxt, SV *sv, size_t *n)
{
    SvGETMAGIC(sv);
    *n = 0;
    if (!SvOK(sv))
        return NULL;
    if (!SvROK(sv) || SvTYPE(SvRV(sv)) != SVt_PVAV)
        die_text(aTHX_ cxt, PVS_EINVAL, "volume list is not an array reference\n");
    AV *av = (AV *)SvRV(sv);
    SSize_t count = av_top_index(av) + 1;
    const char **v;
    Newxz(v, count + 1, const char *);
    SAVEFREEPV(v);
    for (SSize_t i = 0; i < count; i++) {
        SV **e = av_fetch(av, i, 0);
        v[i] = str_arg(aTHX_ cxt, e ? *e : &PL_sv_undef, "volume ID", 0);
    }
    *n = (size_t)count;
    return v;
}

static const pvs_plugin *plugin_arg(pTHX_ my_cxt_t *cxt, const char *type)
{
    pvs_error err = PVS_ERROR_INIT;
    const pvs_plugin *p = pvs_plugin_lookup(cxt->ctx, type, &err);
    if (!p)
        die_with(aTHX_ cxt, &err);
    return p;
}

/* A scalar without magic as the core's value; 0 when only the JSON path
 * can tell (a reference, Latin-1 bytes that need upgrading). */
static int scalar_value(pTHX_ SV *sv, pvs_value *v)
{
    memset(v, 0, sizeof *v);
    if (SvGMAGICAL(sv) || SvROK(sv))
        return 0;
    if (!SvOK(sv)) {
        v->kind = PVS_V_NULL;
    } else if (SvPOKp(sv) || !(SvIOKp(sv) || SvNOKp(sv))) {
        STRLEN len;
        v->s = SvPV_nomg(sv, len);
        v->len = len;
        v->kind = PVS_V_STRING;
        if (!SvUTF8(sv) && !is_ascii_string((const U8 *)v->s, len))
            return 0;
    } else if (SvIOKp(sv) && !SvNOKp(sv)) {
        if (SvIsUV(sv) && SvUVX(sv) > (UV)IV_MAX) {
            v->kind = PVS_V_UINT;
            v->u = SvUVX(sv);
        } else {
            v->kind = PVS_V_INT;
            v->i = (json_int_t)SvIVX(sv);
        }
    } else {
        v->kind = PVS_V_REAL;
        v->d = SvNVX(sv);
    }
    return 1;
}

/* verify_hints' fast path: a small plain hash of plain scalars is judged
 * item by item, without JSON and without running Perl code.  1 when it
 * applied (*rc set); 0 when the general path must decide. */
static int verify_fast(pTHX_ SV *hints, pvs_error *err, int *rc)
{
    if (!SvROK(hints) || sv_isobject(hints))
        return 0;
    HV *hv = (HV *)SvRV(hints);
    if (SvTYPE(hv) != SVt_PVHV || SvMAGICAL(hv) || HvUSEDKEYS(hv) > PVS_HINT_ITEMS_MAX)
        return 0;
    pvs_hint_item items[PVS_HINT_ITEMS_MAX];
    size_t n = 0;
    HE **buckets = HvARRAY(hv);
    for (STRLEN i = 0; buckets && i <= HvMAX(hv); i++)
        for (HE *he = buckets[i]; he; he = HeNEXT(he)) {
            if (HeVAL(he) == &PL_sv_placeholder)
                continue;
            if (n == PVS_HINT_ITEMS_MAX || HeKLEN(he) == HEf_SVKEY
                || (!HeKUTF8(he) && !is_ascii_string((const U8 *)HeKEY(he), HeKLEN(he)))
                || !scalar_value(aTHX_ HeVAL(he), &items[n].value))
                return 0;
            items[n].key = HeKEY(he);
            items[n++].keylen = (size_t)HeKLEN(he);
        }
    *rc = pvs_verify_hint_items(items, n, err);
    return 1;
}

/* ---- plugins written in Perl ----
 *
 * A registered class is an ordinary pvs_plugin table, embedded first in a
 * perl_plugin that also holds the class; its trampolines call the class's
 * methods with upstream's arguments.  The core calls them on the caller's
 * thread, holding no lock, in the middle of a core call, so no Perl code
 * may run outside an eval here: a die would unwind through the core's C
 * frames (leaking what they hold, skipping their cleanup).  Every method,
 * the warning handlers before it, and the stringification of what comes
 * back (overloads, tied values) run inside the Perl-level evals of _try and
 * _text; what they die with becomes the core call's error (PVS_EPLUGIN). */

typedef struct perl_plugin {
    pvs_plugin table;         /* first: the core's `self` is this */
    SV *class_sv;             /* the class name */
    char *type, *name;
    pvs_schema *schema;
    json_t *decl[3];          /* properties, options, plugindata as declared: a new thread's copy is made from them */
    struct perl_plugin *next;
} perl_plugin;

/* A method call being made: what messages about it name. */
typedef struct site {
    const perl_plugin *pp;
    const char *method, *arg;
} site;

/* $invocant->$method(@args) (a function when invocant is NULL) through
 * _try: its count of results (at most max kept, mortal, in out), or -1
 * with *died (mortal) the value it died with. */
static int perl_try(pTHX_ SV *invocant, const char *method, SV **args, int nargs, SV **out, int max, SV **died)
{
    dSP;
    PUSHMARK(SP);
    EXTEND(SP, nargs + 2);
    PUSHs(invocant ? invocant : &PL_sv_undef);
    PUSHs(sv_2mortal(newSVpv(method, 0)));
    for (int i = 0; i < nargs; i++)
        PUSHs(args[i] ? args[i] : &PL_sv_undef);
    PUTBACK;
    /* G_EVAL too: a signal handler may die between _try's statements */
    int count = call_pv("PVE::Storage::XS::_try", G_LIST | G_EVAL);
    SPAGAIN;
    SV **first = SP - count + 1;
    int ok = count > 0 && SvTRUE_nomg(first[0]);   /* _try's own 1 or 0 */
    if (!ok)
        *died = count > 1 ? first[1] : sv_mortalcopy(ERRSV);
    for (int i = 1; ok && i < count && i <= max; i++)
        out[i - 1] = first[i];
    SP -= count;
    PUTBACK;
    return ok ? count - 1 : -1;
}

enum { TEXT_DIED = 0, TEXT_OK = 1, TEXT_NOT = 2 };

/* A value as text, as _text makes it (see there): the kind, *text (mortal;
 * NULL for undef) and, when it died, *what it is.  A plain scalar needs no
 * Perl code and is taken as it is. */
static int perl_text(pTHX_ SV *sv, const char *key, SV **text, SV **what)
{
    *text = *what = NULL;
    if (!key && !SvROK(sv) && !SvMAGICAL(sv)) {
        *text = SvOK(sv) ? sv : NULL;
        return TEXT_OK;
    }
    SV *args[] = { sv, key ? sv_2mortal(newSVpv(key, 0)) : NULL }, *out[3] = { NULL, NULL, NULL }, *died = NULL;
    int n = perl_try(aTHX_ NULL, "PVE::Storage::XS::_text", args, key ? 2 : 1, out, 3, &died);
    if (n < 2) {   /* _text itself did not finish */
        *text = n < 0 ? died : &PL_sv_undef;
        return TEXT_DIED;
    }
    *what = n > 2 ? out[2] : NULL;
    *text = SvOK(out[1]) ? out[1] : NULL;
    return (int)SvIV_nomg(out[0]);
}

/* The bytes of a plain text SV (UTF-8), or fallback. */
static const char *text_bytes(pTHX_ SV *sv, STRLEN *len, const char *fallback)
{
    if (!sv || SvROK(sv) || SvMAGICAL(sv) || !SvOK(sv)) {
        *len = strlen(fallback);
        return fallback;
    }
    return SvPVutf8(sv, *len);
}

/* What the stringification of a value died with, as text for a message:
 * the error's text, or what it is when it is no text itself. */
static SV *inner_text(pTHX_ SV *error)
{
    SV *text, *what;
    int kind = perl_text(aTHX_ error, NULL, &text, &what);
    STRLEN len;
    const char *s = text_bytes(aTHX_ kind != TEXT_DIED ? text : NULL, &len, "an error that cannot be made text either");
    if (len && s[len - 1] == '\n')
        len--;
    return sv_2mortal(newSVpvn(s, len));
}

/* The message of a value that is not text (kind TEXT_NOT: text says what it
 * is) or whose stringification died (TEXT_DIED: text is its error). */
static int not_text(pTHX_ const site *at, const char *verb, const char *as, int kind, SV *text, SV *what,
                    pvs_error *err)
{
    STRLEN wl, il = 0;
    const char *w = text_bytes(aTHX_ kind == TEXT_NOT ? text : what, &wl, "a value");
    const char *inner = kind == TEXT_DIED ? SvPV(inner_text(aTHX_ text), il) : "";
    pvs_plugin_fail(err, PVS_EPLUGIN, &at->pp->table, at->method, at->arg, "%s %.*s%s%s%.*s", verb, (int)wl, w, as,
                    kind == TEXT_DIED ? ", and making it text died: " : "", (int)il, inner);
    return -1;
}

/* What a Perl call died with, as the core call's error (its text as it
 * is, or what it is, named); kept to die with the same value once the
 * core call returns.  verb: how the site's method failed. */
static int perl_failed(pTHX_ my_cxt_t *cxt, const site *at, SV *died, const char *verb, pvs_error *err)
{
    SvREFCNT_dec(cxt->pending_die);
    cxt->pending_die = newSVsv(died);
    SV *text, *what;
    int kind = perl_text(aTHX_ died, NULL, &text, &what);
    if (kind == TEXT_OK && !text)
        return not_text(aTHX_ at, verb, "", TEXT_NOT, sv_2mortal(newSVpvs("undef")), NULL, err);
    if (kind != TEXT_OK)
        return not_text(aTHX_ at, verb, "", kind, text, what, err);
    STRLEN len;
    const char *m = SvPVutf8(text, len);
    pvs_error_set(err, PVS_EPLUGIN, "%.*s", (int)len, m);
    return -1;
}

/* Emit the core's warnings so far, in order before the plugin's own: a
 * dying handler stops the call before the method runs. */
static int flush_in_call(pTHX_ my_cxt_t *cxt, const site *at, pvs_error *err)
{
    if (av_count(cxt->warnings) == 0)
        return 0;
    AV *pending = cxt->warnings;
    cxt->warnings = newAV();
    sv_2mortal((SV *)pending);
    SSize_t n = av_count(pending);
    SV **args;
    Newxz(args, n + 1, SV *);
    SAVEFREEPV(args);
    for (SSize_t i = 0; i < n; i++) {
        SV **m = av_fetch(pending, i, 0);
        args[i] = m ? *m : &PL_sv_undef;   /* our own plain strings, or references to them */
    }
    SV *died = NULL;
    if (perl_try(aTHX_ NULL, "PVE::Storage::XS::_emit", args, (int)n, NULL, 0, &died) < 0)
        return perl_failed(aTHX_ cxt, at, died, "was not called: a warning handler died with", err);
    return 0;
}

/* One method call at `at`: at most max results, mortal, in out; their
 * count, or -1 with the plugin's die in err.  Call between ENTER/SAVETMPS
 * and FREETMPS/LEAVE. */
static int invoke(pTHX_ my_cxt_t *cxt, const site *at, SV **args, int nargs, SV **out, int max, pvs_error *err)
{
    SvREFCNT_dec(cxt->pending_die);   /* only this call's die is rethrown */
    cxt->pending_die = NULL;
    if (flush_in_call(aTHX_ cxt, at, err))
        return -1;
    SV *died = NULL;
    int count = perl_try(aTHX_ at->pp->class_sv, at->method, args, nargs, out, max, &died);
    return count < 0 ? perl_failed(aTHX_ cxt, at, died, "died with", err) : count;
}

static SV *str_or_undef(pTHX_ const char *s)
{
    return s ? sv_2mortal(text_sv(aTHX_ s, strlen(s))) : &PL_sv_undef;
}

/* The section as the caller handed it over (the very hash upstream passes
 * on), or a conversion of the core's when there is no caller's $cfg; a
 * tied $cfg is not read here (its FETCH would run outside an eval). */
static SV *section_sv(pTHX_ my_cxt_t *cxt, const char *storeid, const json_t *scfg)
{
    HV *cfg = cxt->call_cfg ? (HV *)SvRV(cxt->call_cfg) : NULL;
    if (cfg && storeid && !SvRMAGICAL(cfg)) {
        SV **ids = hv_fetchs(cfg, "ids", 0);
        HV *ids_hv = ids && SvROK(*ids) && SvTYPE(SvRV(*ids)) == SVt_PVHV ? (HV *)SvRV(*ids) : NULL;
        SV **sec = ids_hv && !SvRMAGICAL(ids_hv) ? hv_fetch(ids_hv, storeid, -(I32)strlen(storeid), 0) : NULL;
        if (sec && SvROK(*sec))
            return *sec;
    }
    return scfg ? sv_2mortal(to_perl(aTHX_ scfg)) : &PL_sv_undef;
}

static SV *hints_sv(pTHX_ my_cxt_t *cxt, const json_t *hints)
{
    if (!hints)
        return &PL_sv_undef;
    return cxt->call_hints ? cxt->call_hints : sv_2mortal(to_perl(aTHX_ hints));
}

static SV *cache_sv(pTHX_ my_cxt_t *cxt)
{
    return cxt->call_cache ? cxt->call_cache : sv_2mortal(newRV_noinc((SV *)newHV()));
}

/* A result that must be text (sv, or sv->{key}), for the core: *out
 * malloc()ed, or NULL for none (the core says what is missing); 0, or -1
 * with the error.  A reference is not stringified ("returned a HASH
 * reference as its path"); an object's "" overload runs under eval. */
static int result_text(pTHX_ const site *at, SV *sv, const char *key, const char *field, char **out,
                       pvs_error *err)
{
    *out = NULL;
    if (!sv || !SvOK(sv))
        return 0;
    char as[64];
    snprintf(as, sizeof as, " as its %s", field);
    SV *text, *what;
    int kind = perl_text(aTHX_ sv, key, &text, &what);
    if (kind != TEXT_OK)
        return not_text(aTHX_ at, "returned", as, kind, text, what, err);
    if (!text)
        return 0;
    STRLEN len;
    const char *s = SvPVutf8(text, len);
    if (strlen(s) != len) {
        pvs_plugin_fail(err, PVS_EPLUGIN, &at->pp->table, at->method, at->arg, "returned a %s with a NUL byte", field);
        return -1;
    }
    if (!(*out = strdup(s))) {
        pvs_error_set(err, PVS_ENOMEM, "out of memory\n");
        return -1;
    }
    return 0;
}

#define PLP(self) ((const perl_plugin *)(self))

/* the code a failed method returns (err may be NULL: a caller that only
 * asks whether a name parses) */
static int failed_code(const pvs_error *err)
{
    return err && err->code ? err->code : PVS_EPLUGIN;
}


/* An argument by its name in pvestorage_api.def, as upstream passes it:
 * the caller's own $scfg, $cache and $hints where there are. */
static SV *argument_sv(pTHX_ my_cxt_t *cxt, const char *name, const pvs_method_args *a)
{
    if (strcmp(name, "scfg") == 0)
        return section_sv(aTHX_ cxt, a->storeid, a->scfg);
    if (strcmp(name, "cache") == 0)
        return cache_sv(aTHX_ cxt);
    if (strcmp(name, "hints") == 0)
        return hints_sv(aTHX_ cxt, a->hints);
    const char *s = strcmp(name, "storeid") == 0 ? a->storeid
                    : strcmp(name, "volname") == 0 ? a->volname : a->snapname;
    return str_or_undef(aTHX_ s);
}

/* What a plugin says it did (its own action in a reporting call): a hash
 * with "action"; anything else (undef, as upstream's) says nothing. */
static int action_text(pTHX_ const site *at, SV *res, char **action, pvs_error *err)
{
    if (!res || !SvROK(res) || SvTYPE(SvRV(res)) != SVt_PVHV || sv_isobject(res))
        return 0;
    return result_text(aTHX_ at, res, "action", "action", action, err);
}

/* The n values a method returned, by its result kind; -1 on a bad one. */
static int take_result(pTHX_ const site *at, const pvs_api_method *desc, SV **out, int n, pvs_method_result *r,
                       pvs_error *err)
{
    if (strcmp(desc->result, "volname") == 0) {
        static const char *const names[7] = { "vtype", "name", "vmid", "basename", "basevmid", "isBase", "format" };
        pvs_volname *v = &r->volname;
        char **fields[7] = { &v->vtype, &v->name, &v->vmid, &v->basename, &v->basevmid, &v->isbase, &v->format };
        for (int i = 0; i < 7 && i < n; i++)
            if (result_text(aTHX_ at, out[i], NULL, names[i], fields[i], err))
                return -1;
        return 0;   /* what it returned: the core judges it */
    }
    if (strcmp(desc->result, "action") == 0)
        return n > 0 ? action_text(aTHX_ at, out[0], &r->text, err) : 0;
    if (strcmp(desc->result, "none") == 0)
        return 0;
    return result_text(aTHX_ at, n > 0 ? out[0] : NULL, NULL, desc->result, &r->text, err);   /* path, identity */
}

/* The one entry of a Perl plugin (pvs_plugin_set_foreign): the class's
 * method m called with upstream's arguments under eval, its result taken. */
static int pl_method(pvs_ctx *ctx, const pvs_plugin *self, int m, const pvs_method_args *a, pvs_method_result *r,
                     pvs_error *err)
{
    dTHX;
    dMY_CXT;
    const pvs_api_method *desc = &pvs_api_methods()[m];
    int max = strcmp(desc->result, "volname") == 0 ? 7 : strcmp(desc->result, "none") == 0 ? 0 : 1;
    ENTER;
    SAVETMPS;
    SAVEINT(MY_CXT.method_dry_run);
    MY_CXT.method_dry_run = ctx && pvs_dry_run(ctx);
    SV *args[PVS_API_MAX_ARGS], *out[7] = { NULL };
    int nargs = 0;
    while (nargs < PVS_API_MAX_ARGS && desc->args[nargs]) {
        args[nargs] = argument_sv(aTHX_ &MY_CXT, desc->args[nargs], a);
        nargs++;
    }
    const site at = { PLP(self), desc->name, pvs_api_method_takes(desc, "volname") ? a->volname : a->storeid };
    int rc = invoke(aTHX_ &MY_CXT, &at, args, nargs, out, max, err);
    if (rc >= 0 && take_result(aTHX_ &at, desc, out, rc, r, err))
        rc = -1;
    if (rc < 0)
        pvs_method_result_clear(r);
    FREETMPS;
    LEAVE;
    return rc < 0 ? failed_code(err) : 0;
}

static void free_perl_plugin(pTHX_ perl_plugin *pp)
{
    if (!pp)
        return;
    SvREFCNT_dec(pp->class_sv);
    free(pp->type);
    free(pp->name);
    pvs_schema_free(pp->schema);
    for (int i = 0; i < 3; i++)
        json_decref(pp->decl[i]);
    free(pp);
}

/* Holds a table being built: freed on the scope's exit unless taken. */
typedef struct guard {
    perl_plugin *pp;
} guard;

static void guard_cleanup(pTHX_ void *p)
{
    guard *g = p;
    free_perl_plugin(aTHX_ g->pp);
    g->pp = NULL;
}

static guard *guard_new(pTHX)
{
    guard *g;
    Newxz(g, 1, guard);
    SAVEFREEPV(g);
    SAVEDESTRUCTOR_X(guard_cleanup, g);
    return g;
}

/* $class->can($method), under eval: a die in it is the registration's
 * error (no core call is under way: dying here unwinds only Perl). */
static int class_can(pTHX_ my_cxt_t *cxt, SV *class_sv, const char *method)
{
    SV *args[] = { sv_2mortal(newSVpv(method, 0)) }, *out[1] = { NULL }, *died = NULL;
    int n = perl_try(aTHX_ class_sv, "can", args, 1, out, 1, &died);
    if (n < 0) {
        SV *e = sv_mortalcopy(died);
        flush_warnings(aTHX_ cxt);
        croak_sv(e);
    }
    return n > 0 && (SvROK(out[0]) || SvTRUE_nomg(out[0]));   /* a code reference: no overload asked */
}

/* $class->method() under eval, its (first) value; NULL when the class
 * cannot do it.  A die is the registration's error. */
static SV *class_value(pTHX_ my_cxt_t *cxt, SV *class_sv, const char *method)
{
    if (!class_can(aTHX_ cxt, class_sv, method))
        return NULL;
    SV *out[1] = { NULL }, *died = NULL;
    int n = perl_try(aTHX_ class_sv, method, NULL, 0, out, 1, &died);
    if (n < 0) {
        SV *e = sv_mortalcopy(died);
        flush_warnings(aTHX_ cxt);
        croak_sv(e);
    }
    return n > 0 ? out[0] : &PL_sv_undef;
}

/* a class's declaration (a hash reference) as JSON, or NULL without one;
 * a copy is kept for the tables of new threads */
static json_t *declared(pTHX_ my_cxt_t *cxt, perl_plugin *pp, const char *method, frame *f, int slot)
{
    SV *v = class_value(aTHX_ cxt, pp->class_sv, method);
    if (!v || !SvOK(v))
        return NULL;
    char what[64];
    snprintf(what, sizeof what, "%s()", method);
    data_to_json(aTHX_ cxt, v, what, &f->v[slot]);
    if (!(pp->decl[slot] = json_deep_copy(f->v[slot])))
        die_text(aTHX_ cxt, PVS_ENOMEM, "out of memory\n");
    return f->v[slot];
}

static void set_methods(pTHX_ my_cxt_t *cxt, perl_plugin *pp)
{
    const pvs_api_method *m = pvs_api_methods();
    unsigned has = 0;
    for (int i = 0; m[i].name; i++)
        if (class_can(aTHX_ cxt, pp->class_sv, m[i].name))
            has |= 1u << i;
    pvs_plugin_set_foreign(&pp->table, pl_method, has);
}

/* What the class says it can do (pvestorage_capabilities: a list of
 * names), as the core's bits; a bad declaration dies as registration's
 * error. */
static unsigned class_capabilities(pTHX_ my_cxt_t *cxt, perl_plugin *pp, frame *f)
{
    SV *v = class_value(aTHX_ cxt, pp->class_sv, "pvestorage_capabilities");
    unsigned bits = 0;
    if (v && SvOK(v)) {   /* a list of names; anything else is the core's to refuse */
        AV *av = SvROK(v) && SvTYPE(SvRV(v)) == SVt_PVAV ? (AV *)SvRV(v) : NULL;
        f->v[3] = av ? json_array() : json_string("not a list");
        for (SSize_t i = 0; av && f->v[3] && i < (SSize_t)av_count(av); i++) {
            SV **e = av_fetch(av, i, 0);
            const char *name = e && SvOK(*e) && !SvROK(*e) ? SvPVutf8_nolen(*e) : NULL;
            json_array_append_new(f->v[3], name ? json_string(name) : json_null());
        }
        if (!f->v[3])
            die_text(aTHX_ cxt, PVS_ENOMEM, "out of memory\n");
    }
    if (pvs_capabilities_from_json(f->v[3], &bits, &f->err))
        die_with(aTHX_ cxt, &f->err);
    return bits;
}

/* A class's answer as a C string (malloc()ed), under eval; a reference
 * dies naming what it is, as a registration's error. */
static char *class_string(pTHX_ my_cxt_t *cxt, perl_plugin *pp, const char *method, frame *f)
{
    SV *v = class_value(aTHX_ cxt, pp->class_sv, method);
    const site at = { pp, method, NULL };
    char *s = NULL;
    if (v && result_text(aTHX_ &at, v, NULL, method, &s, &f->err))
        die_with(aTHX_ cxt, &f->err);
    return s ? s : strdup("");
}

/* A table for class (held by g): its type and API version, and the schema
 * it declares, or for a class serving a type this library already
 * describes, that description.  A class PVE::Storage serves a type with
 * (upstream loaded and accepted it) is not checked again: upstream's API
 * may be newer than this library's. */
static perl_plugin *perl_plugin_new(pTHX_ my_cxt_t *cxt, SV *class_sv, const pvs_plugin *known,
                                    int upstream, guard *g, frame *f)
{
    perl_plugin *pp = g->pp = calloc(1, sizeof *pp);
    if (!pp)
        die_text(aTHX_ cxt, PVS_ENOMEM, "out of memory\n");
    pp->class_sv = newSVsv(class_sv);
    pp->name = strdup(SvPVutf8_nolen(class_sv));
    pvs_plugin *t = &pp->table;
    t->size = PVS_PLUGIN_SIZE;
    t->name = pp->name;
    if (!pp->name)
        die_text(aTHX_ cxt, PVS_ENOMEM, "out of memory\n");
    if (known) {   /* PVE::Storage's own class for a type described here */
        memcpy(t, known, known->size < sizeof *t ? known->size : sizeof *t);
        t->size = PVS_PLUGIN_SIZE;
        t->name = pp->name;
        t->api = PVS_APIVER;
        t->activate_volumes = NULL;
        t->state_free = NULL;
        t->audit_volume = NULL;   /* the C plugin's own, not the class's */
    } else {
        if (!upstream && !class_can(aTHX_ cxt, class_sv, "api"))
            die_text(aTHX_ cxt, PVS_EAPI, "does not provide an api() method\n");
        t->type = pp->type = class_string(aTHX_ cxt, pp, "type", f);
        char *api = upstream ? NULL : class_string(aTHX_ cxt, pp, "api", f);
        t->api = upstream ? PVS_APIVER : atoi(api ? api : "0");
        free(api);
        json_t *props = declared(aTHX_ cxt, pp, "properties", f, 0);
        json_t *opts = declared(aTHX_ cxt, pp, "options", f, 1);
        json_t *data = declared(aTHX_ cxt, pp, "plugindata", f, 2);
        if (!(pp->schema = pvs_schema_from_json(props, opts, data, &f->err)))
            die_with(aTHX_ cxt, &f->err);
        pvs_schema_apply(pp->schema, t);
    }
    set_methods(aTHX_ cxt, pp);
    t->capabilities = class_capabilities(aTHX_ cxt, pp, f);   /* the class's own, none by default */
    return pp;
}

/* Register pp; on success the context owns it from now on. */
static int enter_plugin(pTHX_ my_cxt_t *cxt, perl_plugin *pp, pvs_error *err)
{
    if (pvs_register_plugin(cxt->ctx, &pp->table, err))
        return -1;
    pp->next = cxt->plugins;
    cxt->plugins = pp;
    return 0;
}

/* PVE::Storage::Plugin->lookup(TYPE), under eval: the class upstream
 * serves the type with, or NULL when it has none (lookup dies for it). */
static SV *upstream_class(pTHX_ const char *type)
{
    SV *args[] = { sv_2mortal(text_sv(aTHX_ type, strlen(type))) }, *out[1] = { NULL }, *died = NULL;
    int n = perl_try(aTHX_ sv_2mortal(newSVpvs("PVE::Storage::Plugin")), "lookup", args, 1, out, 1, &died);
    return n > 0 && SvOK(out[0]) && !SvROK(out[0]) ? out[0] : NULL;
}

/* With PVE::Storage loaded, a type this library cannot serve goes to the
 * class PVE::Storage::Plugin->lookup(TYPE) names, as upstream would call. */
static void serve_by_upstream(pTHX_ my_cxt_t *cxt, const json_t *cfg)
{
    if (!hv_exists(GvHVn(PL_incgv), "PVE/Storage.pm", 14))
        return;
    const char *id;
    json_t *scfg;
    json_object_foreach(json_object_get(cfg, "ids"), id, scfg) {
        const char *type = json_string_value(json_object_get(scfg, "type"));
        const pvs_plugin *known = type ? pvs_plugin_lookup(cxt->ctx, type, NULL) : NULL;
        if (!type || (known && pvs_plugin_implemented(known)))
            continue;
        ENTER;
        SAVETMPS;
        SV *class_sv = upstream_class(aTHX_ type);
        if (class_sv) {
            frame *f = frame_new(aTHX);
            guard *g = guard_new(aTHX);
            perl_plugin *pp = perl_plugin_new(aTHX_ cxt, class_sv, known, 1, g, f);
            free(pp->type);
            pp->table.type = pp->type = strdup(type);
            if (!pp->type)
                die_text(aTHX_ cxt, PVS_ENOMEM, "out of memory\n");
            if (enter_plugin(aTHX_ cxt, pp, &f->err) != 0) {
                char *why = f->err.message;
                f->err.message = NULL;
                pvs_error_set(&f->err, f->err.code, "cannot serve storage type '%s' with %s: %s", type,
                              pp->name, why ? why : "unknown error\n");
                free(why);
                die_with(aTHX_ cxt, &f->err);
            }
            g->pp = NULL;   /* the context's now */
        }
        FREETMPS;
        LEAVE;
    }
}

/* The storage-level call under way, for the Perl plugins it reaches: the
 * caller's own $cfg and $hints, and one $cache for the call (upstream's). */
static void begin_call(pTHX_ my_cxt_t *cxt, SV *cfg, SV *hints, const json_t *cfg_json)
{
    SAVEVPTR(cxt->call_cfg);
    SAVEVPTR(cxt->call_hints);
    SAVEVPTR(cxt->call_cache);
    cxt->call_cfg = SvROK(cfg) && SvTYPE(SvRV(cfg)) == SVt_PVHV ? cfg : NULL;
    cxt->call_hints = hints && SvOK(hints) ? hints : NULL;
    cxt->call_cache = sv_2mortal(newRV_noinc((SV *)newHV()));
    serve_by_upstream(aTHX_ cxt, cfg_json);
}

/* ---- interpreters and threads ----
 *
 * Each interpreter has its own state: a context, its registered classes,
 * its queue of warnings.  perl_clone copies the parent's atexit list into a
 * new thread's interpreter, so free_cxt frees only the state of the
 * interpreter it runs in.  A new thread starts where its parent was: the
 * parent's settings, and its registered classes (by name: the thread has
 * its own copy of each package), registered again in the thread's own
 * context, in the same order, without running any Perl code. */

static void free_cxt(pTHX_ void *p)
{
    dMY_CXT;
    if (p != &MY_CXT)   /* the parent's entry, copied by perl_clone */
        return;
    my_cxt_t *cxt = p;
    pvs_ctx_free(cxt->ctx);
    cxt->ctx = NULL;
    while (cxt->plugins) {   /* after the context: it borrowed their tables */
        struct perl_plugin *next = cxt->plugins->next;
        free_perl_plugin(aTHX_ cxt->plugins);
        cxt->plugins = next;
    }
    SvREFCNT_dec(cxt->pending_die);
    cxt->pending_die = NULL;
    SvREFCNT_dec((SV *)cxt->warnings);
    cxt->warnings = NULL;
}

static void init_cxt(pTHX_ my_cxt_t *cxt)
{
    pvs_error err = PVS_ERROR_INIT;
    cxt->warnings = newAV();
    cxt->call_cfg = cxt->call_hints = cxt->call_cache = cxt->pending_die = NULL;
    cxt->plugins = NULL;
    cxt->ctx = pvs_ctx_new(&err);
    if (!cxt->ctx)
        croak("PVE::Storage::XS: %s", err.message ? err.message : "cannot create a context\n");
    pvs_ctx_set_warn(cxt->ctx, collect_warning, cxt);
    pvs_ctx_set_info(cxt->ctx, collect_info, cxt);
    call_atexit(free_cxt, cxt);
}

/* The thread's copy of a parent's table: the same methods and schema,
 * strings and SVs of its own.  NULL when memory runs out. */
static perl_plugin *perl_plugin_copy(pTHX_ const perl_plugin *from)
{
    perl_plugin *pp = calloc(1, sizeof *pp);
    if (!pp)
        return NULL;
    pp->table = from->table;
    pp->name = strdup(from->name);
    pp->type = from->type ? strdup(from->type) : NULL;
    int ok = pp->name && (pp->type || !from->type);
    for (int i = 0; i < 3; i++)
        ok = ok && (!from->decl[i] || (pp->decl[i] = json_deep_copy(from->decl[i])));
    if (ok && from->schema)   /* a declared schema: rebuilt from the declarations */
        ok = (pp->schema = pvs_schema_from_json(pp->decl[0], pp->decl[1], pp->decl[2], NULL)) != NULL;
    if (!ok) {
        free_perl_plugin(aTHX_ pp);
        return NULL;
    }
    if (pp->schema)
        pvs_schema_apply(pp->schema, &pp->table);
    pp->table.name = pp->name;
    if (pp->type)
        pp->table.type = pp->type;
    pp->class_sv = newSVpvn_flags(pp->name, strlen(pp->name), is_ascii_string((const U8 *)pp->name, strlen(pp->name))
                                                                 ? 0 : SVf_UTF8);
    return pp;
}

/* A new thread's state from its parent's (parent: the parent's my_cxt_t,
 * read while the parent waits in threads->create). */
/* the parent's classes into the new context, oldest first as they were
 * registered (the list holds the newest first); those that cannot be
 * carried over (memory) are named in lost */
static void inherit_plugins(pTHX_ my_cxt_t *cxt, const perl_plugin *from, SV *lost)
{
    if (!from)
        return;
    inherit_plugins(aTHX_ cxt, from->next, lost);
    perl_plugin *pp = perl_plugin_copy(aTHX_ from);
    if (!pp)
        sv_catpvf(lost, " %s", from->name);
    else if (enter_plugin(aTHX_ cxt, pp, NULL))
        free_perl_plugin(aTHX_ pp);   /* (it registered there; it can here) */
}

static void inherit_cxt(pTHX_ my_cxt_t *cxt, const my_cxt_t *parent)
{
    const char *const *names = pvs_ctx_setting_names();
    size_t n = 0;
    while (names[n])
        n++;
    char **values = calloc(n ? n : 1, sizeof *values);
    int settings = values != NULL;
    for (size_t i = 0; settings && i < n; i++)
        settings = !pvs_ctx_get_setting(parent->ctx, names[i], &values[i], NULL);
    if (settings)   /* valid values: they are in force there */
        pvs_ctx_configure(cxt->ctx, names, (const char *const *)values, n, NULL);
    for (size_t i = 0; values && i < n; i++)
        free(values[i]);
    free(values);
    SV *lost = sv_2mortal(newSVpvs(""));
    inherit_plugins(aTHX_ cxt, parent->plugins, lost);
    av_clear(cxt->warnings);   /* an older API's warning was given in the parent */
    if (!settings || SvCUR(lost))   /* said at the thread's first call */
        av_push(cxt->warnings, newSVpvf("PVE::Storage::XS: out of memory: the new thread lacks%s%s\n",
                                        settings ? "" : " the parent's settings", SvPV_nolen(lost)));
}

/* A plugin method's number from its name (Plugin.pm names it). */
static int method_number(pTHX_ my_cxt_t *cxt, const char *name)
{
    const pvs_api_method *m = pvs_api_methods();
    for (int i = 0; m[i].name; i++)
        if (strcmp(m[i].name, name) == 0)
            return i;
    char text[128];
    snprintf(text, sizeof text, "no plugin method '%.60s'\n", name);
    die_text(aTHX_ cxt, PVS_EINVAL, text);
    return -1;
}

/* One argument of a method, converted by its name (pvestorage_api.def);
 * the section and the hints are owned by the call's frame. */
static void method_argument(pTHX_ my_cxt_t *cxt, const char *name, SV *v, int optional, pvs_method_args *a,
                            frame *f)
{
    if (strcmp(name, "storeid") == 0)
        a->storeid = str_arg(aTHX_ cxt, v, "storage ID", optional);
    else if (strcmp(name, "volname") == 0)
        a->volname = str_arg(aTHX_ cxt, v, "volume name", optional);
    else if (strcmp(name, "snapname") == 0)
        a->snapname = str_arg(aTHX_ cxt, v, "snapshot name", 1);
    else if (strcmp(name, "scfg") == 0)
        data_to_json(aTHX_ cxt, v, "storage section", &f->v[0]), a->scfg = f->v[0];
    else if (strcmp(name, "hints") == 0)
        hints_to_json(aTHX_ cxt, v, &f->v[1]), a->hints = f->v[1];
    /* cache: accepted for upstream's signature; the core keeps its own */
}

/* A method's result as Perl values (mortal): the 7 fields of a volume
 * name, a text (undef for none), or for the others 1. */
static int method_values(pTHX_ const pvs_api_method *desc, const pvs_method_result *r, SV **out)
{
    if (strcmp(desc->result, "volname") == 0) {
        const pvs_volname *v = &r->volname;
        const char *fields[7] = { v->vtype, v->name, v->vmid, v->basename, v->basevmid, v->isbase, v->format };
        for (int i = 0; i < 7; i++)
            out[i] = fields[i] ? sv_2mortal(text_sv(aTHX_ fields[i], strlen(fields[i]))) : &PL_sv_undef;
        return 7;
    }
    if (strcmp(desc->result, "path") == 0 || strcmp(desc->result, "identity") == 0)
        out[0] = r->text ? sv_2mortal(text_sv(aTHX_ r->text, strlen(r->text))) : &PL_sv_undef;
    else
        out[0] = sv_2mortal(newSViv(1));
    return 1;
}

/* One argument of a call on one volume or storage, by its name; the
 * hints' SV is kept (converted after the configuration, as the checks go). */
static void one_argument(pTHX_ my_cxt_t *cxt, const char *name, SV *v, pvs_one_args *a, SV **hints)
{
    if (strcmp(name, "volid") == 0)
        a->volid = str_arg(aTHX_ cxt, v, "volume ID", 0);
    else if (strcmp(name, "storeid") == 0)
        a->storeid = str_arg(aTHX_ cxt, v, "storage ID", 0);
    else if (strcmp(name, "snapname") == 0)
        a->snapname = str_arg(aTHX_ cxt, v, "snapshot name", 1);
    else if (strcmp(name, "hints") == 0)
        *hints = v;
}

/* list_volumes($cfg, $storeid, $vmid): the volumes into f->v[2]; a vmid is
 * a guest ID (digits), undef for every guest */
static int list_call(pTHX_ my_cxt_t *cxt, frame *f, SV *storeid, SV *vmid)
{
    const char *sid = str_arg(aTHX_ cxt, storeid, "storage ID", 0);
    const char *v = str_arg(aTHX_ cxt, vmid, "guest ID", 1);
    long long id = -1;
    if (v) {
        char *end = NULL;
        id = *v >= '0' && *v <= '9' ? strtoll(v, &end, 10) : -1;
        if (id < 0 || *end || id > 999999999)
            die_text(aTHX_ cxt, PVS_EINVAL, "guest ID is not a number\n");
    }
    return pvs_list_volumes(cxt->ctx, f->v[0], sid, id, &f->v[2], &f->err);
}

MODULE = PVE::Storage::XS    PACKAGE = PVE::Storage::XS

PROTOTYPES: DISABLE

BOOT:
{
    MY_CXT_INIT;
    init_cxt(aTHX_ &MY_CXT);
}

void
CLONE(...)
  CODE:
    MY_CXT_CLONE;
    my_cxt_t parent = MY_CXT;   /* the parent's state, as MY_CXT_CLONE copied it */
    init_cxt(aTHX_ &MY_CXT);
    inherit_cxt(aTHX_ &MY_CXT, &parent);

IV
_APIVER()
  CODE:
    RETVAL = PVS_APIVER;
  OUTPUT:
    RETVAL

IV
_APIAGE()
  CODE:
    RETVAL = PVS_APIAGE;
  OUTPUT:
    RETVAL

SV *
_api()
  CODE:
    dMY_CXT;
    json_t *api = pvs_api_description();
    if (!api)
        die_text(aTHX_ &MY_CXT, PVS_ENOMEM, "out of memory\n");
    RETVAL = to_perl(aTHX_ api);
    json_decref(api);
  OUTPUT:
    RETVAL

bool
dry_run()
  CODE:
    /* for a Perl plugin's method: whether the call that runs it is a dry run */
    dMY_CXT;
    RETVAL = MY_CXT.method_dry_run;
  OUTPUT:
    RETVAL

SV *
_hints_properties()
  CODE:
    json_t *j = pvs_hints_properties();
    RETVAL = to_perl(aTHX_ j);
    json_decref(j);
  OUTPUT:
    RETVAL

SV *
_hints_format()
  CODE:
    json_t *j = pvs_hints_format();
    RETVAL = to_perl(aTHX_ j);
    json_decref(j);
  OUTPUT:
    RETVAL

SV *
hints_json_schema()
  CODE:
    json_t *j = pvs_hints_json_schema();
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    RETVAL = text_sv(aTHX_ s, strlen(s));
    free(s);
    json_decref(j);
  OUTPUT:
    RETVAL

SV *
storage_hints(ostype = &PL_sv_undef, may_deactivate = &PL_sv_undef)
    SV *ostype
    SV *may_deactivate
  CODE:
    /* qemu-server's generate_storage_hints, from the guest's ostype */
    dMY_CXT;
    ENTER;
    const char *os = str_arg(aTHX_ &MY_CXT, ostype, "ostype", 1);
    json_t *h = pvs_storage_hints(os, SvTRUE(may_deactivate));
    if (!h)
        die_text(aTHX_ &MY_CXT, PVS_ENOMEM, "out of memory\n");
    RETVAL = to_perl(aTHX_ h);
    json_decref(h);
    LEAVE;
  OUTPUT:
    RETVAL

SV *
is_hint_supported(name)
    SV *name
  CODE:
    SvGETMAGIC(name);
    STRLEN len = 0;
    const char *s = SvOK(name) ? SvPV_nomg(name, len) : NULL;
    RETVAL = s && strlen(s) == len && pvs_is_hint_supported(s) ? &PL_sv_yes : &PL_sv_no;
  OUTPUT:
    RETVAL

void
verify_hints(hints, noerr = &PL_sv_undef)
    SV *hints
    SV *noerr
  PPCODE:
    /* the very same reference when valid; "return" (undef / empty list) when
     * absent, or invalid with noerr */
    dMY_CXT;
    int quiet = SvTRUE(noerr), rc;
    pvs_error err = PVS_ERROR_INIT;
    SvGETMAGIC(hints);
    if (!SvOK(hints)) {
        rc = 1;
    } else if (!verify_fast(aTHX_ hints, quiet ? NULL : &err, &rc)) {
        ENTER;
        frame *f = frame_new(aTHX);
        hints_to_json(aTHX_ &MY_CXT, hints, &f->v[0]);
        rc = pvs_verify_hints(f->v[0], quiet ? NULL : &f->err);
        err = f->err;   /* taken out of the frame, which is about to go */
        f->err = (pvs_error)PVS_ERROR_INIT;
        LEAVE;
    }
    if (rc && err.code)
        die_with(aTHX_ &MY_CXT, &err);
    if (!rc)
        XPUSHs(hints);
    else if (GIMME_V != G_LIST)
        XPUSHs(&PL_sv_undef);

void
parse_volume_id(volid, noerr = &PL_sv_undef)
    SV *volid
    SV *noerr
  PPCODE:
    dMY_CXT;
    ENTER;
    frame *f = frame_new(aTHX);
    char *storeid = NULL, *volname = NULL;
    SvGETMAGIC(volid);
    STRLEN len = 0;
    const char *s = SvOK(volid) ? SvPVutf8(sv_2mortal(newSVsv_nomg(volid)), len) : "";
    int rc = pvs_check_nul("volume ID", s, len, &f->err);
    if (!rc)
        rc = pvs_parse_volume_id(s, &storeid, &volname, &f->err);
    if (rc) {
        if (!SvTRUE(noerr))
            die_with(aTHX_ &MY_CXT, &f->err);
        LEAVE;
        if (GIMME_V == G_LIST)
            XSRETURN_EMPTY;
        XSRETURN_UNDEF;
    }
    SV *sid = sv_2mortal(text_sv(aTHX_ storeid, strlen(storeid)));
    SV *vn = sv_2mortal(text_sv(aTHX_ volname, strlen(volname)));
    free(storeid);
    free(volname);
    LEAVE;
    XPUSHs(sid);
    if (GIMME_V == G_LIST)
        XPUSHs(vn);

SV *
read_config(path)
    SV *path
  CODE:
    dMY_CXT;
    ENTER;
    frame *f = frame_new(aTHX);
    const char *p = str_arg(aTHX_ &MY_CXT, path, "configuration path", 0);
    f->v[0] = pvs_config_read(MY_CXT.ctx, p, &f->err);
    if (!f->v[0])
        die_with(aTHX_ &MY_CXT, &f->err);
    RETVAL = to_perl(aTHX_ f->v[0]);
    flush_warnings(aTHX_ &MY_CXT);
    LEAVE;
  OUTPUT:
    RETVAL

SV *
parse_config(text, filename = &PL_sv_undef)
    SV *text
    SV *filename
  CODE:
    dMY_CXT;
    ENTER;
    frame *f = frame_new(aTHX);
    STRLEN len;
    const char *t = SvPVutf8(sv_2mortal(newSVsv(text)), len);
    const char *fn = str_arg(aTHX_ &MY_CXT, filename, "file name", 1);
    f->v[0] = pvs_config_parse(MY_CXT.ctx, fn ? fn : "-", t, len, &f->err);
    if (!f->v[0])
        die_with(aTHX_ &MY_CXT, &f->err);
    RETVAL = to_perl(aTHX_ f->v[0]);
    flush_warnings(aTHX_ &MY_CXT);
    LEAVE;
  OUTPUT:
    RETVAL

void
configure(...)
  CODE:
    dMY_CXT;
    ENTER;
    if (items % 2)
        die_text(aTHX_ &MY_CXT, PVS_EINVAL, "configure: settings come as NAME => VALUE pairs\n");
    /* converted first; the core applies them all or none */
    size_t n = (size_t)items / 2;
    const char **names;
    Newxz(names, n * 2 + 1, const char *);
    SAVEFREEPV(names);
    for (size_t i = 0; i < n; i++) {
        names[i] = str_arg(aTHX_ &MY_CXT, ST(2 * i), "setting name", 0);
        names[n + i] = str_arg(aTHX_ &MY_CXT, ST(2 * i + 1), "setting value", 0);
    }
    pvs_error err = PVS_ERROR_INIT;
    if (pvs_ctx_configure(MY_CXT.ctx, names, names + n, n, &err))
        die_with(aTHX_ &MY_CXT, &err);
    LEAVE;

SV *
settings()
  CODE:
    dMY_CXT;
    HV *hv = (HV *)sv_2mortal((SV *)newHV());
    const char *const *names = pvs_ctx_setting_names();
    pvs_error err = PVS_ERROR_INIT;
    for (size_t i = 0; names[i]; i++) {
        char *v;
        if (pvs_ctx_get_setting(MY_CXT.ctx, names[i], &v, &err))
            die_with(aTHX_ &MY_CXT, &err);
        hv_store(hv, names[i], strlen(names[i]), newSVpv(v, 0), 0);
        free(v);
    }
    RETVAL = newRV_inc((SV *)hv);
  OUTPUT:
    RETVAL

void
activate_volumes(cfg, vollist, snapname = &PL_sv_undef, hints = &PL_sv_undef)
    SV *cfg
    SV *vollist
    SV *snapname
    SV *hints
  CODE:
    dMY_CXT;
    ENTER;
    frame *f = frame_new(aTHX);
    size_t n;
    const char **vols = volids_arg(aTHX_ &MY_CXT, vollist, &n);
    if (n > 0) {   /* an empty list does nothing, as upstream */
        const char *snap = str_arg(aTHX_ &MY_CXT, snapname, "snapshot name", 1);
        cfg_to_json(aTHX_ &MY_CXT, cfg, vols, n, 0, &f->v[0]);
        hints_to_json(aTHX_ &MY_CXT, hints, &f->v[1]);
        begin_call(aTHX_ &MY_CXT, cfg, hints, f->v[0]);
        if (pvs_activate_volumes(MY_CXT.ctx, f->v[0], vols, n, snap, f->v[1], &f->err))
            die_with(aTHX_ &MY_CXT, &f->err);
    }
    flush_warnings(aTHX_ &MY_CXT);
    LEAVE;

SV *
activate_volumes_report(cfg, vols, snapname = &PL_sv_undef, hints = &PL_sv_undef, opts = &PL_sv_undef, ...)
    SV *cfg
    SV *vols
    SV *snapname
    SV *hints
    SV *opts
  ALIAS:
    map_volume_report = REPORT_MAP
  CODE:
    /* the records, an array of hashes; after a failure the error's ->volumes */
    dMY_CXT;
    ENTER;
    frame *f = frame_new(aTHX);
    int map = ix == REPORT_MAP;
    int flags = report_flags(aTHX_ &MY_CXT, opts, map ? "map_volume_report" : "activate_volumes_report");
    size_t n = 1;
    const char *one = NULL, **ids = &one;
    if (map)
        one = str_arg(aTHX_ &MY_CXT, vols, "volume ID", 0);
    else
        ids = volids_arg(aTHX_ &MY_CXT, vols, &n);
    const char *snap = str_arg(aTHX_ &MY_CXT, snapname, "snapshot name", 1);
    cfg_to_json(aTHX_ &MY_CXT, cfg, ids, n, 0, &f->v[0]);
    hints_to_json(aTHX_ &MY_CXT, hints, &f->v[1]);
    begin_call(aTHX_ &MY_CXT, cfg, hints, f->v[0]);
    int rc = map ? pvs_map_volume_report(MY_CXT.ctx, f->v[0], one, snap, f->v[1], flags, &f->str, &f->v[2], &f->err)
                 : pvs_activate_volumes_report(MY_CXT.ctx, f->v[0], ids, n, snap, f->v[1], flags, &f->v[2], &f->err);
    if (rc)
        die_with_report(aTHX_ &MY_CXT, &f->err, f->v[2]);
    RETVAL = to_perl(aTHX_ f->v[2]);
    flush_warnings(aTHX_ &MY_CXT);
    LEAVE;
  OUTPUT:
    RETVAL

SV *
activate_vm_volumes(cfg, vmid, may_deactivate = 0, opts = &PL_sv_undef)
    SV *cfg
    IV vmid
    int may_deactivate
    SV *opts
  CODE:
    /* the VM-start flow: qemu-server's volumes and hints, the records back */
    dMY_CXT;
    ENTER;
    frame *f = frame_new(aTHX);
    int flags = report_flags(aTHX_ &MY_CXT, opts, "activate_vm_volumes");
    /* the guest's storages are known only once its configuration is read: all of them */
    data_to_json(aTHX_ &MY_CXT, cfg, "storage configuration", &f->v[0]);
    begin_call(aTHX_ &MY_CXT, cfg, NULL, f->v[0]);
    if (pvs_activate_guest(MY_CXT.ctx, f->v[0], (long long)vmid, may_deactivate, flags, &f->v[2],
                           NULL, &f->err))
        die_with_report(aTHX_ &MY_CXT, &f->err, f->v[2]);
    RETVAL = to_perl(aTHX_ f->v[2]);
    flush_warnings(aTHX_ &MY_CXT);
    LEAVE;
  OUTPUT:
    RETVAL

SV *
audit(cfg)
    SV *cfg
  CODE:
    /* every guest's krbd volumes against its hints: a hash back */
    dMY_CXT;
    ENTER;
    frame *f = frame_new(aTHX);
    data_to_json(aTHX_ &MY_CXT, cfg, "storage configuration", &f->v[0]);
    begin_call(aTHX_ &MY_CXT, cfg, NULL, f->v[0]);
    if (pvs_audit(MY_CXT.ctx, f->v[0], &f->v[2], &f->err))
        die_with(aTHX_ &MY_CXT, &f->err);
    RETVAL = to_perl(aTHX_ f->v[2]);
    flush_warnings(aTHX_ &MY_CXT);
    LEAVE;
  OUTPUT:
    RETVAL

SV *
storage_status(cfg, ...)
    SV *cfg
  ALIAS:
    list_volumes = 1
  CODE:
    /* every storage as pvesm status shows it (an array back); or
     * list_volumes($cfg, $storeid, $vmid): a storage's volumes */
    dMY_CXT;
    ENTER;
    frame *f = frame_new(aTHX);
    data_to_json(aTHX_ &MY_CXT, cfg, "storage configuration", &f->v[0]);
    begin_call(aTHX_ &MY_CXT, cfg, NULL, f->v[0]);
    int rc = ix ? list_call(aTHX_ &MY_CXT, f, items > 1 ? ST(1) : &PL_sv_undef, items > 2 ? ST(2) : &PL_sv_undef)
                : pvs_storage_status(MY_CXT.ctx, f->v[0], &f->v[2], &f->err);
    if (rc)
        die_with(aTHX_ &MY_CXT, &f->err);
    RETVAL = to_perl(aTHX_ f->v[2]);
    flush_warnings(aTHX_ &MY_CXT);
    LEAVE;
  OUTPUT:
    RETVAL

void
deactivate_volumes(cfg, vollist, snapname = &PL_sv_undef)
    SV *cfg
    SV *vollist
    SV *snapname
  CODE:
    dMY_CXT;
    ENTER;
    frame *f = frame_new(aTHX);
    size_t n;
    const char **vols = volids_arg(aTHX_ &MY_CXT, vollist, &n);
    if (n > 0) {
        const char *snap = str_arg(aTHX_ &MY_CXT, snapname, "snapshot name", 1);
        cfg_to_json(aTHX_ &MY_CXT, cfg, vols, n, 0, &f->v[0]);
        begin_call(aTHX_ &MY_CXT, cfg, NULL, f->v[0]);
        if (pvs_deactivate_volumes(MY_CXT.ctx, f->v[0], vols, n, snap, &f->err))
            die_with(aTHX_ &MY_CXT, &f->err);
    }
    flush_warnings(aTHX_ &MY_CXT);
    LEAVE;

SV *
map_volume(cfg, ...)
    SV *cfg
  ALIAS:
    unmap_volume = PVS_ONE_unmap_volume
    activate_storage = PVS_ONE_activate_storage
    deactivate_storage = PVS_ONE_deactivate_storage
    get_identity = PVS_ONE_get_identity
  CODE:
    /* the calls on one volume or storage (pvestorage_api.def), their
     * arguments by the row; extra ones are taken and ignored, as
     * upstream's (its $cache) */
    dMY_CXT;
    ENTER;
    frame *f = frame_new(aTHX);
    const pvs_api_method *desc = &pvs_api_one_calls()[ix];
    pvs_one_args a = { 0 };
    SV *hints = NULL;
    for (int i = 1; i < PVS_API_MAX_ARGS && desc->args[i]; i++)
        one_argument(aTHX_ &MY_CXT, desc->args[i], i < items ? ST(i) : &PL_sv_undef, &a, &hints);
    const char *id = a.volid ? a.volid : a.storeid;
    cfg_to_json(aTHX_ &MY_CXT, cfg, &id, 1, a.storeid != NULL, &f->v[0]);
    begin_call(aTHX_ &MY_CXT, cfg, hints, f->v[0]);
    if (hints) {
        hints_to_json(aTHX_ &MY_CXT, hints, &f->v[1]);
        a.hints = f->v[1];
    }
    if (pvs_one_call(MY_CXT.ctx, ix, f->v[0], &a, &f->str, &f->err))
        die_with(aTHX_ &MY_CXT, &f->err);
    RETVAL = f->str ? text_sv(aTHX_ f->str, strlen(f->str))
             : strcmp(desc->result, "none") == 0 ? newSViv(1) : newSV(0);
    flush_warnings(aTHX_ &MY_CXT);
    LEAVE;
  OUTPUT:
    RETVAL

void
_path_info(cfg, volid, snapname = &PL_sv_undef)
    SV *cfg
    SV *volid
    SV *snapname
  PPCODE:
    /* PVE::Storage::path in list context: ($path, $owner, $vtype) */
    dMY_CXT;
    ENTER;
    frame *f = frame_new(aTHX);
    const char *id = str_arg(aTHX_ &MY_CXT, volid, "volume ID", 0);
    const char *snap = str_arg(aTHX_ &MY_CXT, snapname, "snapshot name", 1);
    cfg_to_json(aTHX_ &MY_CXT, cfg, &id, 1, 0, &f->v[0]);
    begin_call(aTHX_ &MY_CXT, cfg, NULL, f->v[0]);
    char *owner = NULL, *vtype = NULL;
    if (pvs_path_info(MY_CXT.ctx, f->v[0], id, snap, &f->str, &owner, &vtype, &f->err))
        die_with(aTHX_ &MY_CXT, &f->err);
    SV *out[3] = { sv_2mortal(text_sv(aTHX_ f->str, strlen(f->str))),
                   owner ? sv_2mortal(text_sv(aTHX_ owner, strlen(owner))) : &PL_sv_undef,
                   vtype ? sv_2mortal(text_sv(aTHX_ vtype, strlen(vtype))) : &PL_sv_undef };
    free(owner);
    free(vtype);
    flush_warnings(aTHX_ &MY_CXT);
    LEAVE;
    EXTEND(SP, 3);
    for (int i = 0; i < 3; i++)
        PUSHs(out[i]);

void
path_to_volume_id(cfg, path)
    SV *cfg
    SV *path
  PPCODE:
    /* ($vtype, $volid), or ('') when the path is no volume, as upstream */
    dMY_CXT;
    ENTER;
    frame *f = frame_new(aTHX);
    const char *p = str_arg(aTHX_ &MY_CXT, path, "path", 0);
    data_to_json(aTHX_ &MY_CXT, cfg, "storage configuration", &f->v[0]);
    begin_call(aTHX_ &MY_CXT, cfg, NULL, f->v[0]);
    char *vtype = NULL, *volid = NULL;
    if (pvs_path_to_volume_id(MY_CXT.ctx, f->v[0], p, &vtype, &volid, &f->err))
        die_with(aTHX_ &MY_CXT, &f->err);
    SV *out[2] = { sv_2mortal(vtype ? text_sv(aTHX_ vtype, strlen(vtype)) : newSVpvs("")),
                   volid ? sv_2mortal(text_sv(aTHX_ volid, strlen(volid))) : NULL };
    free(vtype);
    free(volid);
    flush_warnings(aTHX_ &MY_CXT);
    LEAVE;
    XPUSHs(out[0]);
    if (out[1])
        XPUSHs(out[1]);

SV *
_get_subdir(scfg, vtype)
    SV *scfg
    SV *vtype
  CODE:
    dMY_CXT;
    ENTER;
    frame *f = frame_new(aTHX);
    data_to_json(aTHX_ &MY_CXT, scfg, "storage section", &f->v[0]);
    const char *vt = str_arg(aTHX_ &MY_CXT, vtype, "content type", 0);
    if (!(f->str = pvs_get_subdir(f->v[0], vt, &f->err)))
        die_with(aTHX_ &MY_CXT, &f->err);
    RETVAL = text_sv(aTHX_ f->str, strlen(f->str));
    LEAVE;
  OUTPUT:
    RETVAL

void
_plugin_call(type, method, ...)
    const char *type
    const char *method
  PPCODE:
    /* a method of the C plugin for type, by name, its arguments in
     * upstream's order (pvestorage_api.def): what Plugin.pm's methods call */
    dMY_CXT;
    ENTER;
    frame *f = frame_new(aTHX);
    const pvs_plugin *p = plugin_arg(aTHX_ &MY_CXT, type);
    int m = method_number(aTHX_ &MY_CXT, method);
    const pvs_api_method *desc = &pvs_api_methods()[m];
    pvs_method_args a = { 0 };
    for (int i = 0; i < PVS_API_MAX_ARGS && desc->args[i]; i++)
        method_argument(aTHX_ &MY_CXT, desc->args[i], 2 + i < items ? ST(2 + i) : &PL_sv_undef, i >= desc->required,
                        &a, f);
    pvs_method_result r;
    if (pvs_plugin_call(MY_CXT.ctx, p, m, &a, &r, &f->err)) {
        pvs_method_result_clear(&r);
        die_with(aTHX_ &MY_CXT, &f->err);
    }
    SV *out[7];
    int n = method_values(aTHX_ desc, &r, out);
    pvs_method_result_clear(&r);
    flush_warnings(aTHX_ &MY_CXT);
    LEAVE;
    EXTEND(SP, n);
    for (int i = 0; i < n; i++)
        PUSHs(out[i]);

void
register_plugin(class)
    SV *class
  CODE:
    dMY_CXT;
    ENTER;
    frame *f = frame_new(aTHX);
    str_arg(aTHX_ &MY_CXT, class, "plugin class", 0);
    if (SvROK(class))   /* a class, as upstream's plugins: a new thread has its own copy of it */
        die_text(aTHX_ &MY_CXT, PVS_EINVAL, "plugin class must be a class name, not a reference\n");
    guard *g = guard_new(aTHX);
    perl_plugin *pp = perl_plugin_new(aTHX_ &MY_CXT, class, NULL, 0, g, f);
    if (enter_plugin(aTHX_ &MY_CXT, pp, &f->err))
        die_with(aTHX_ &MY_CXT, &f->err);
    g->pp = NULL;   /* the context's now */
    flush_warnings(aTHX_ &MY_CXT);
    LEAVE;

IV
_plugin_api(type)
    const char *type
  CODE:
    dMY_CXT;
    RETVAL = plugin_arg(aTHX_ &MY_CXT, type)->api;
  OUTPUT:
    RETVAL
