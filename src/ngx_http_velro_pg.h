
/*
 * velro: L3, PostgreSQL through libpq's nonblocking API: a per-worker
 * pool of prepared connections opened at worker start, the velro_authz_pg
 * content handler answering the L3 contract, and the LISTEN connection
 * that carries invalidations.
 */


#ifndef _NGX_HTTP_VELRO_PG_H_INCLUDED_
#define _NGX_HTTP_VELRO_PG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


typedef struct {
    ngx_str_t                     conninfo;
    ngx_uint_t                    pool;         /* per worker, default 20 */
    ngx_msec_t                    connect_timeout;  /* default 2s */
    ngx_msec_t                    timeout;      /* query, default 1s */
    ngx_str_t                     channel;      /* velro_pg_listen, default
                                                   "velro_invalidate";
                                                   len 0: off */
    unsigned                      channel_set:1;  /* velro_pg_listen seen */
} ngx_http_velro_pg_conf_t;


/* a notification's payload, as sent by pg_notify() */
typedef void (*ngx_http_velro_pg_notify_pt)(ngx_str_t *payload);

/* the LISTEN connection (re)connected: notifications may have been lost */
typedef void (*ngx_http_velro_pg_listen_pt)(void);


/* "velro_pg" and "velro_pg_listen"; conf is the module's main conf */
char *ngx_http_velro_pg_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_velro_pg_listen_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* "velro_authz_pg": sets the location's content handler */
char *ngx_http_velro_authz_pg(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

ngx_int_t ngx_http_velro_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_velro_pg_conf_t *pcf, ngx_http_velro_pg_notify_pt notify,
    ngx_http_velro_pg_listen_pt listening);
void ngx_http_velro_pg_exit_process(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_VELRO_PG_H_INCLUDED_ */
