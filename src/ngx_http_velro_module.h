
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
#include "ngx_http_velro_cache.h"
#include "ngx_http_velro_warm.h"        /* for batch.c's filters, until it
                                           includes it itself */


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

/* decisions and tiers: VELRO_DECISION_x, VELRO_TIER_x (velro_metrics.h) */

/* circuit breakers: velro_breaker BACKEND */
#define NGX_HTTP_VELRO_BREAKER_REDIS     0
#define NGX_HTTP_VELRO_BREAKER_DATABASE  1
#define NGX_HTTP_VELRO_BREAKER_JWKS      2
#define NGX_HTTP_VELRO_BREAKERS          3

typedef struct {
    size_t                        l1_size;
    time_t                        ttl_l1[NGX_HTTP_VELRO_NTYPES];
    time_t                        ttl_l2[NGX_HTTP_VELRO_NTYPES];

    ngx_http_velro_redis_conf_t  *redis;        /* NULL: no L2 */
    ngx_http_velro_pg_conf_t     *pg;           /* NULL: no velro_pg */
    ngx_http_velro_pg_conf_t     *pg_replica;   /* NULL: none */
    ngx_uint_t                    authz_pg;     /* velro_authz_pg used */
    ngx_array_t                   authz_pg_locs;  /* their core loc confs */

    ngx_shm_zone_t               *metrics;      /* "velro_metrics" */
    ngx_uint_t                    breaker_failures[NGX_HTTP_VELRO_BREAKERS];
    ngx_msec_t                    breaker_recovery[NGX_HTTP_VELRO_BREAKERS];
    ngx_shm_zone_t               *breaker_zone;
    ngx_shm_zone_t               *invalidation_zone;  /* with velro_pg */
    ngx_msec_t                    stale_max;    /* of all velro_authz_stale */
} ngx_http_velro_main_conf_t;


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


/* a request's state, by stage */

typedef struct {
    /* jwt: the token and its check */
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

    /* jwt: waiting for a JWKS fetch */
    ngx_queue_t                   queue;        /* JWKS waiters */
    ngx_event_t                   wake;         /* also authz's wake-up */
    ngx_http_velro_jwks_remote_t *remote;

    /* authz: the question */
    ngx_uint_t                    authz_state;
    u_char                        user_id[16];
    u_char                        resource_id[16];
    ngx_uint_t                    action;
    ngx_http_velro_mark_t         mark;         /* when the lookup started */

    /* authz: the entities known so far (ngx_http_velro_authz_needs()) */
    velro_user_t                  user;
    velro_roles_t                 roles;        /* teams: in teams */
    velro_team_role_t            *teams;        /* VELRO_TEAMS_MAX */
    velro_generation_t           *gen;
    velro_project_t               project;
    velro_access_t                access;       /* the row decided from */
    u_char                        tiers[NGX_HTTP_VELRO_ENTITIES + 1];
                                                /* VELRO_TIER_x of each
                                                   entity, pair last */

    /* authz: the tiers asked */
    ngx_uint_t                    l2_tried;     /* entity bits */
    u_char                        l2_asked[NGX_HTTP_VELRO_ENTITIES];
    ngx_uint_t                    l2_nasked;
    ngx_http_velro_redis_cmd_t   *redis_cmd;
    ngx_http_velro_inflight_t    *inflight;
    ngx_queue_t                   inflight_link;

    /* authz: the outcome */
    ngx_uint_t                    tier;         /* the slowest that answered */
    ngx_uint_t                    decision;
    ngx_int_t                     authz_status;
    time_t                        retry_after;  /* 503: 0 for the default */
    const char                   *user_desc;    /* 401 invalid_token */

    /* batch */
    ngx_http_velro_batch_ctx_t   *batch;        /* a batch request's items */

    /* warm: a login answer's body */
    u_char                       *warm_buf;
    size_t                        warm_len;

    /* timing: metrics, Server-Timing */
    ngx_http_velro_timing_t       timing;

    /* authz */
    unsigned                      has_user:1;
    unsigned                      has_roles:1;
    unsigned                      has_gen:1;
    unsigned                      has_project:1;
    unsigned                      has_access:1;
    unsigned                      has_resource:1;
    unsigned                      inflight_leader:1;
    unsigned                      inflight_waiting:1;
    unsigned                      backend_failed:1;  /* L3 failed or its
                                                        breaker is open */
    unsigned                      l2_script:1;  /* the L2 read in flight is
                                                   the script */
    unsigned                      l2_script_again:1;  /* sent again once */
    unsigned                      l2_no_script:1;     /* plain MGET now */
    unsigned                      l2_retry:1;   /* the connection was lost:
                                                   the read goes again */
    unsigned                      l2_retried:1;       /* once */

    /* warm */
    unsigned                      warm_capture:1;
    unsigned                      warm_started:1;

    /* jwt */
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
ngx_shm_zone_t *ngx_http_velro_shm_zone(ngx_conf_t *cf, char *name,
    size_t zone_size, size_t size);


velro_cache_t *ngx_http_velro_l1(void);

void ngx_http_velro_metrics_jwt(ngx_http_velro_ctx_t *ctx, ngx_int_t rc);
void ngx_http_velro_metrics_authz(ngx_http_request_t *r,
    ngx_http_velro_ctx_t *ctx, ngx_int_t rc);
void ngx_http_velro_metrics_done(ngx_http_request_t *r,
    ngx_http_velro_ctx_t *ctx, ngx_uint_t decision);


extern ngx_module_t  ngx_http_velro_module;


#endif /* _NGX_HTTP_VELRO_MODULE_H_INCLUDED_ */
