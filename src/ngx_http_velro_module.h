
/*
 * ngx_http_velro_module: authentication, authorization and batching at
 * the gateway.  Types shared by the module's nginx-facing files.
 */


#ifndef _NGX_HTTP_VELRO_MODULE_H_INCLUDED_
#define _NGX_HTTP_VELRO_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "velro_authz.h"
#include "velro_breaker.h"
#include "velro_cache.h"
#include "velro_jwk.h"
#include "velro_jwt.h"
#include "ngx_http_velro_redis.h"
#include "ngx_http_velro_pg.h"
#include "ngx_http_velro_metrics.h"


/* L1 entry types; velro_cache_ttl TYPE */
#define NGX_HTTP_VELRO_AUTH         0
#define NGX_HTTP_VELRO_OWNERSHIP    1
#define NGX_HTTP_VELRO_TEAM_ACCESS  2
#define NGX_HTTP_VELRO_PROJECT_VIS  3
#define NGX_HTTP_VELRO_GEN_MEDIA    4
#define NGX_HTTP_VELRO_NTYPES       5


#define NGX_HTTP_VELRO_JWT_OFF      0
#define NGX_HTTP_VELRO_JWT_ON       1

#define NGX_HTTP_VELRO_AUTHZ_OFF      0
#define NGX_HTTP_VELRO_AUTHZ_ON       1
#define NGX_HTTP_VELRO_AUTHZ_MONITOR  2

/* velro_authz_action: fixed, or from the method */
#define NGX_HTTP_VELRO_ACTION_METHOD  3
#define NGX_HTTP_VELRO_ACTION_VALUE   4

/* $velro_authz_cache: the slowest tier that answered */
#define NGX_HTTP_VELRO_TIER_NONE    0
#define NGX_HTTP_VELRO_TIER_L1      1
#define NGX_HTTP_VELRO_TIER_L2      2
#define NGX_HTTP_VELRO_TIER_L3      3
#define NGX_HTTP_VELRO_TIER_STALE   4

/* circuit breakers: velro_breaker BACKEND */
#define NGX_HTTP_VELRO_BREAKER_REDIS     0
#define NGX_HTTP_VELRO_BREAKER_DATABASE  1
#define NGX_HTTP_VELRO_BREAKER_JWKS      2
#define NGX_HTTP_VELRO_BREAKERS          3

/* $velro_authz_decision */
#define NGX_HTTP_VELRO_DECISION_NONE   0
#define NGX_HTTP_VELRO_DECISION_ALLOW  1
#define NGX_HTTP_VELRO_DECISION_DENY   2
#define NGX_HTTP_VELRO_DECISION_ERROR  3


typedef struct {
    size_t                        l1_size;
    time_t                        ttl_l1[NGX_HTTP_VELRO_NTYPES];
    time_t                        ttl_l2[NGX_HTTP_VELRO_NTYPES];

    ngx_http_velro_redis_conf_t  *redis;        /* NULL: no L2 */
    ngx_http_velro_pg_conf_t     *pg;           /* NULL: no velro_pg */
    ngx_uint_t                    authz_pg;     /* velro_authz_pg used */
    ngx_array_t                   authz_pg_locs;  /* their core loc confs */

    ngx_shm_zone_t               *metrics;      /* "velro_metrics" */
    ngx_uint_t                    breaker_failures[NGX_HTTP_VELRO_BREAKERS];
    ngx_msec_t                    breaker_recovery[NGX_HTTP_VELRO_BREAKERS];
    ngx_shm_zone_t               *breaker_zone;
    ngx_msec_t                    stale_max;    /* of all velro_authz_stale */
} ngx_http_velro_main_conf_t;


/*
 * The subrequest_output_buffer_size a velro_authz_pg location gets unless
 * it sets one: the warm answer of velro_warm_limit 1000 (about 370 KB)
 * must fit in memory.
 */
#define NGX_HTTP_VELRO_PG_OUTPUT_SIZE  (512 * 1024)


/* a JWKS fetched through a subrequest, one state per worker */

typedef struct {
    ngx_str_t                     uri;
    ngx_str_t                     args;
    velro_keyset_t               *keys;
    uint64_t                      generation;
    ngx_msec_t                    fetched;      /* when keys arrived */
    ngx_msec_t                    attempted;    /* when a fetch started */
    ngx_queue_t                   waiters;
    void                         *owner;        /* ctx of the fetcher */
    unsigned                      fetching:1;
    unsigned                      attempted_once:1;
} ngx_http_velro_jwks_remote_t;


typedef struct {
    ngx_uint_t                    jwt;          /* off, on */
    ngx_str_t                     realm;

    ngx_array_t                  *key_files;    /* ngx_str_t, resolved */
    velro_keyset_t               *keys;
    u_char                        keys_digest[32];

    ngx_http_velro_jwks_remote_t *remote;
    ngx_msec_t                    key_cache;

    ngx_uint_t                    algs;
    ngx_str_t                     issuer;
    ngx_array_t                  *audiences;    /* ngx_str_t */
    ngx_array_t                  *required;     /* ngx_str_t */
    time_t                        leeway;
    size_t                        max_size;
    ngx_http_complex_value_t     *token;

    velro_jwt_policy_t           *policy;
    u_char                        fingerprint[32];

    ngx_uint_t                    authz;        /* off, on, monitor */
    ngx_http_complex_value_t     *resource;
    ngx_uint_t                    action;       /* velro_action_e, or
                                                   NGX_HTTP_VELRO_ACTION_x */
    ngx_http_complex_value_t     *action_value;
    ngx_str_t                     fallback;
    ngx_uint_t                    deny_status;
    ngx_msec_t                    stale;        /* velro_authz_stale */

    ngx_flag_t                    warm_on_login;
    ngx_uint_t                    warm_limit;

    ngx_uint_t                    batch_max;    /* 0: not a batch location */
    size_t                        batch_max_response;

    ngx_flag_t                    server_timing;
} ngx_http_velro_loc_conf_t;


typedef struct ngx_http_velro_inflight_s  ngx_http_velro_inflight_t;
typedef struct ngx_http_velro_batch_ctx_s  ngx_http_velro_batch_ctx_t;


typedef struct {
    ngx_http_velro_loc_conf_t    *vlcf;         /* conf of the last check */
    ngx_int_t                     status;       /* NGX_OK, NGX_DECLINED,
                                                   NGX_HTTP_... */
    velro_jwt_rc_e                reason;
    const char                   *detail;

    ngx_str_t                     token;
    ngx_str_t                     sub;
    int64_t                       exp;
    int64_t                       iat;          /* INT64_MIN if absent */

    json_t                       *header;       /* decoded on demand */
    json_t                       *claims;

    ngx_queue_t                   queue;        /* JWKS waiters */
    ngx_event_t                   wake;
    ngx_http_velro_jwks_remote_t *remote;

    /* authorization */
    ngx_uint_t                    authz_state;
    u_char                        user_id[16];
    u_char                        resource_id[16];
    u_char                        token_hash[32];   /* hex */
    velro_user_t                  user;
    velro_access_t                access;
    ngx_uint_t                    action;
    uint64_t                      seq;          /* invalidations seen when
                                                   the lookup started */
    ngx_uint_t                    tier;
    ngx_uint_t                    decision;
    ngx_int_t                     authz_status;
    time_t                        retry_after;  /* 503: 0 for the default */
    const char                   *user_desc;    /* 401 invalid_token */
    ngx_http_velro_redis_cmd_t   *redis_cmd;
    ngx_http_velro_inflight_t    *inflight;
    ngx_queue_t                   inflight_link;

    ngx_http_velro_batch_ctx_t   *batch;        /* a batch request's items */

    u_char                       *warm_buf;     /* a login answer's body */
    size_t                        warm_len;

    ngx_http_velro_timing_t       timing;       /* metrics, Server-Timing */

    unsigned                      has_user:1;
    unsigned                      has_access:1;
    unsigned                      has_resource:1;
    unsigned                      has_token_hash:1;
    unsigned                      inflight_leader:1;
    unsigned                      inflight_waiting:1;
    unsigned                      backend_failed:1;  /* L3 failed or its
                                                        breaker is open */

    unsigned                      warm_capture:1;
    unsigned                      warm_started:1;

    unsigned                      from_l1:1;    /* token found in L1 */
    unsigned                      checked:1;
    unsigned                      internal:1;   /* our own subrequest */
    unsigned                      waiting:1;
    unsigned                      fetched:1;    /* JWKS fetch done */
    unsigned                      decoded:1;
} ngx_http_velro_ctx_t;


ngx_http_velro_ctx_t *ngx_http_velro_get_ctx(ngx_http_request_t *r);
void ngx_http_velro_wake(ngx_event_t *ev);
ngx_http_request_t *ngx_http_velro_subrequest(ngx_http_request_t *r,
    ngx_str_t *uri, ngx_str_t *args, ngx_http_post_subrequest_pt handler,
    void *data);

ngx_int_t ngx_http_velro_add_variables(ngx_conf_t *cf);
char *ngx_http_velro_claim_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

velro_cache_t *ngx_http_velro_l1(void);

ngx_int_t ngx_http_velro_authz_check(ngx_http_request_t *r,
    ngx_http_velro_loc_conf_t *vlcf, ngx_http_velro_ctx_t *ctx);
void ngx_http_velro_authz_cleanup(ngx_http_velro_ctx_t *ctx);
ngx_int_t ngx_http_velro_authz_init_process(ngx_cycle_t *cycle);
void ngx_http_velro_authz_exit_process(ngx_cycle_t *cycle);
char *ngx_http_velro_authz_merge(ngx_conf_t *cf,
    ngx_http_velro_loc_conf_t *prev, ngx_http_velro_loc_conf_t *conf);
void ngx_http_velro_authz_invalidate(ngx_str_t *payload);

uint64_t ngx_http_velro_authz_sequence(void);
void ngx_http_velro_authz_projects(ngx_http_velro_main_conf_t *vmcf,
    const velro_project_t *projects, size_t n, ngx_uint_t l2);
ngx_int_t ngx_http_velro_authz_warm_store(ngx_http_velro_main_conf_t *vmcf,
    ngx_pool_t *pool, ngx_http_velro_ctx_t *ctx, velro_warm_row_t *rows,
    size_t n, velro_project_t *projects, size_t np);
ngx_int_t ngx_http_velro_warm_header(ngx_http_request_t *r);
ngx_int_t ngx_http_velro_warm_body(ngx_http_request_t *r, ngx_chain_t *in);
void ngx_http_velro_authz_flush(void);
ngx_int_t ngx_http_velro_authz_probe_captures(ngx_conf_t *cf);

void ngx_http_velro_metrics_jwt(ngx_http_velro_ctx_t *ctx, ngx_int_t rc);
void ngx_http_velro_metrics_authz(ngx_http_request_t *r,
    ngx_http_velro_ctx_t *ctx, ngx_int_t rc);
void ngx_http_velro_metrics_done(ngx_http_request_t *r,
    ngx_http_velro_ctx_t *ctx, ngx_uint_t decision);


extern ngx_module_t  ngx_http_velro_module;


#endif /* _NGX_HTTP_VELRO_MODULE_H_INCLUDED_ */
