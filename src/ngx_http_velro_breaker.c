
/*
 * ngx_http_velro_module: circuit breakers for Redis, the database (L3)
 * and JWKS fetches, one per backend, shared by all workers.
 *
 * Each breaker is one word in the "velro_breakers" shared memory zone,
 * moved from state to state by compare-and-set (velro_breaker.c computes
 * the next word): no mutex, and only the worker whose compare-and-set
 * makes a transition logs it and gets the half-open trial.  The zone is
 * added whenever the module is in http{}, with the same name, size and
 * tag every time, so a reload keeps the breakers' states.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_breaker.h"


#define NGX_HTTP_VELRO_BREAKER_ZONE_SIZE  (8 * ngx_pagesize)


#if (NGX_PTR_SIZE < 8)
#error "velro: the breakers need 64-bit atomics (ngx_atomic_t)"
#endif


typedef struct {
    ngx_atomic_t                  word[NGX_HTTP_VELRO_BREAKERS];
} ngx_http_velro_breaker_shm_t;


static void ngx_http_velro_breaker_log(ngx_uint_t backend, int transition,
    uint64_t word, ngx_log_t *log);
static void ngx_http_velro_breaker_changed(ngx_uint_t backend,
    ngx_uint_t state, ngx_uint_t tripped);


static ngx_str_t  ngx_http_velro_breaker_names[] = {
    ngx_string("redis"),
    ngx_string("database"),
    ngx_string("jwks")
};


/* defaults: failures, recovery in msec */
static ngx_uint_t  ngx_http_velro_breaker_defaults[][2] = {
    { 3, 30000 },
    { 5, 60000 },
    { 3, 30000 }
};


static ngx_http_velro_breaker_shm_t  *ngx_http_velro_breaker_shm;
static velro_breaker_conf_t  ngx_http_velro_breaker_conf[
                                                    NGX_HTTP_VELRO_BREAKERS];


/* velro_breaker redis|database|jwks [failures=N] [recovery=TIME] */

char *
ngx_http_velro_breaker_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_velro_main_conf_t  *vmcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value, s;
    ngx_msec_t   ms;
    ngx_uint_t   i, b;

    value = cf->args->elts;

    for (b = 0; b < NGX_HTTP_VELRO_BREAKERS; b++) {
        if (value[1].len == ngx_http_velro_breaker_names[b].len
            && ngx_strncmp(value[1].data, ngx_http_velro_breaker_names[b].data,
                           value[1].len)
               == 0)
        {
            break;
        }
    }

    if (b == NGX_HTTP_VELRO_BREAKERS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown breaker \"%V\": redis, database "
                           "or jwks", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (vmcf->breaker_failures[b] != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    vmcf->breaker_failures[b] = ngx_http_velro_breaker_defaults[b][0];
    vmcf->breaker_recovery[b] = ngx_http_velro_breaker_defaults[b][1];

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "failures=", 9) == 0) {
            n = ngx_atoi(value[i].data + 9, value[i].len - 9);

            if (n < 1 || n > VELRO_BREAKER_FAILURES_MAX) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": 1 to %d",
                                   &value[i], VELRO_BREAKER_FAILURES_MAX);
                return NGX_CONF_ERROR;
            }

            vmcf->breaker_failures[b] = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "recovery=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            ms = ngx_parse_time(&s, 0);

            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0
                || ms > 86400 * 1000)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": a time from 1ms "
                                   "to 1d", &value[i]);
                return NGX_CONF_ERROR;
            }

            vmcf->breaker_recovery[b] = ms;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* from init main conf: defaults, and the zone */

ngx_int_t
ngx_http_velro_breaker_init_conf(ngx_conf_t *cf,
    ngx_http_velro_main_conf_t *vmcf)
{
    ngx_uint_t       b;
    ngx_shm_zone_t  *zone;

    for (b = 0; b < NGX_HTTP_VELRO_BREAKERS; b++) {
        if (vmcf->breaker_failures[b] == NGX_CONF_UNSET_UINT) {
            vmcf->breaker_failures[b] = ngx_http_velro_breaker_defaults[b][0];
            vmcf->breaker_recovery[b] = ngx_http_velro_breaker_defaults[b][1];
        }
    }

    zone = ngx_http_velro_shm_zone(cf, "velro_breakers",
                                   NGX_HTTP_VELRO_BREAKER_ZONE_SIZE,
                                   sizeof(ngx_http_velro_breaker_shm_t));
    if (zone == NULL) {
        return NGX_ERROR;
    }

    vmcf->breaker_zone = zone;

    return NGX_OK;
}


void
ngx_http_velro_breaker_init_process(ngx_cycle_t *cycle,
    ngx_http_velro_main_conf_t *vmcf)
{
    ngx_uint_t  b;

    for (b = 0; b < NGX_HTTP_VELRO_BREAKERS; b++) {
        ngx_http_velro_breaker_conf[b].failures =
                                        (uint32_t) vmcf->breaker_failures[b];
        ngx_http_velro_breaker_conf[b].recovery = vmcf->breaker_recovery[b];
    }

    ngx_http_velro_breaker_shm = vmcf->breaker_zone
                                 ? vmcf->breaker_zone->data : NULL;
}


/*
 * May a call to the backend be made now?  NGX_OK: yes, the breaker is
 * closed, or this call is the half-open trial; NGX_DECLINED: the breaker
 * is open, or half-open with its trial under way.
 */

ngx_int_t
ngx_http_velro_breaker_allow(ngx_uint_t backend, ngx_log_t *log)
{
    int                            rc, transition;
    uint64_t                       old, next;
    ngx_atomic_t                  *w;
    ngx_http_velro_breaker_shm_t  *sh;

    sh = ngx_http_velro_breaker_shm;

    if (sh == NULL) {
        return NGX_OK;
    }

    w = &sh->word[backend];

    for ( ;; ) {
        old = *w;

        if ((old & 3) == VELRO_BREAKER_CLOSED) {
            /* the hot path: a read, nothing written */
            return NGX_OK;
        }

        rc = velro_breaker_allow(old, &ngx_http_velro_breaker_conf[backend],
                                 ngx_current_msec, &next, &transition);

        if (rc == VELRO_BREAKER_PASS) {
            return NGX_OK;
        }

        if (rc == VELRO_BREAKER_REJECT) {
            return NGX_DECLINED;
        }

        /* the trial: only the worker whose compare-and-set wins gets it */

        if (ngx_atomic_cmp_set(w, (ngx_atomic_uint_t) old,
                               (ngx_atomic_uint_t) next))
        {
            ngx_http_velro_breaker_log(backend, transition, next, log);

            if (transition == VELRO_BREAKER_SAME) {
                ngx_log_error(NGX_LOG_NOTICE, log, 0,
                              "velro: breaker %V half-open: the trial "
                              "did not report, another trial",
                              &ngx_http_velro_breaker_names[backend]);
            }

            return NGX_OK;
        }
    }
}


/* a call to the backend ended: ok, or failed (an error or a timeout) */

void
ngx_http_velro_breaker_result(ngx_uint_t backend, ngx_uint_t ok,
    ngx_log_t *log)
{
    int                            transition;
    uint64_t                       old, next;
    ngx_atomic_t                  *w;
    ngx_http_velro_breaker_shm_t  *sh;

    sh = ngx_http_velro_breaker_shm;

    if (sh == NULL) {
        return;
    }

    w = &sh->word[backend];

    for ( ;; ) {
        old = *w;

        if (ok && old == 0) {
            /* closed with no failures: the hot path writes nothing */
            return;
        }

        next = velro_breaker_result(old,
                                    &ngx_http_velro_breaker_conf[backend],
                                    ngx_current_msec, ok ? 1 : 0,
                                    &transition);

        if (next == old) {
            return;
        }

        if (ngx_atomic_cmp_set(w, (ngx_atomic_uint_t) old,
                               (ngx_atomic_uint_t) next))
        {
            break;
        }
    }

    ngx_http_velro_breaker_log(backend, transition, next, log);
}


static void
ngx_http_velro_breaker_log(ngx_uint_t backend, int transition,
    uint64_t word, ngx_log_t *log)
{
    ngx_str_t  *name;
    ngx_msec_t  wait;

    name = &ngx_http_velro_breaker_names[backend];
    wait = (ngx_msec_t) velro_breaker_wait(word, ngx_current_msec);

    switch (transition) {

    case VELRO_BREAKER_OPENED:
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "velro: breaker %V open after %ui consecutive "
                      "failures, trial in %Mms", name,
                      (ngx_uint_t) ngx_http_velro_breaker_conf[backend]
                                                                  .failures,
                      wait);
        ngx_http_velro_breaker_changed(backend, VELRO_BREAKER_OPEN, 1);
        break;

    case VELRO_BREAKER_REOPENED:
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "velro: breaker %V open again: the trial failed, "
                      "next trial in %Mms", name, wait);
        ngx_http_velro_breaker_changed(backend, VELRO_BREAKER_OPEN, 0);
        break;

    case VELRO_BREAKER_TRIALED:
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "velro: breaker %V half-open: one trial request",
                      name);
        ngx_http_velro_breaker_changed(backend, VELRO_BREAKER_HALF_OPEN, 0);
        break;

    case VELRO_BREAKER_CLOSED_NOW:
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "velro: breaker %V closed", name);
        ngx_http_velro_breaker_changed(backend, VELRO_BREAKER_CLOSED, 0);
        break;

    default: /* VELRO_BREAKER_SAME */
        break;
    }
}


/* VELRO_BREAKER_CLOSED, _OPEN or _HALF_OPEN */

ngx_uint_t
ngx_http_velro_breaker_state(ngx_uint_t backend)
{
    velro_breaker_t  b;

    if (ngx_http_velro_breaker_shm == NULL) {
        return VELRO_BREAKER_CLOSED;
    }

    velro_breaker_unpack(ngx_http_velro_breaker_shm->word[backend], &b);

    return b.state;
}


/* for Retry-After: seconds until a trial may run, at least 1 */

time_t
ngx_http_velro_breaker_retry_after(ngx_uint_t backend)
{
    uint64_t  ms;

    if (ngx_http_velro_breaker_shm == NULL) {
        return 1;
    }

    ms = velro_breaker_wait(ngx_http_velro_breaker_shm->word[backend],
                            ngx_current_msec);

    return (time_t) ngx_max((ms + 999) / 1000, 1);
}


/*
 * A breaker changed state (tripped: closed -> open): the metrics gauge
 * and velro_breaker_trips_total
 */

static void
ngx_http_velro_breaker_changed(ngx_uint_t backend, ngx_uint_t state,
    ngx_uint_t tripped)
{
    ngx_http_velro_metrics_breaker(backend, state, tripped);
}


/* an authorization answered from stale L1 entries: velro_stale_total */

void
ngx_http_velro_breaker_stale(void)
{
    ngx_http_velro_metrics_stale();
}
