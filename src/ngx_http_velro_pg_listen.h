
/*
 * velro: the invalidation subscriber, LISTEN on the velro_pg_listen channel.
 */


#ifndef _NGX_HTTP_VELRO_PG_LISTEN_H_INCLUDED_
#define _NGX_HTTP_VELRO_PG_LISTEN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_velro_pg.h"


/* a notification's payload, as sent by pg_notify() */
typedef void (*ngx_http_velro_pg_notify_pt)(ngx_str_t *payload);

/* the LISTEN connection (re)connected: notifications may have been lost */
typedef void (*ngx_http_velro_pg_listen_pt)(void);


/* "velro_pg_listen"; conf is the module's main conf */
char *ngx_http_velro_pg_listen_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

ngx_int_t ngx_http_velro_pg_listen_init_process(ngx_cycle_t *cycle,
    ngx_http_velro_pg_conf_t *pcf, ngx_http_velro_pg_notify_pt notify,
    ngx_http_velro_pg_listen_pt listening);
void ngx_http_velro_pg_listen_exit_process(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_VELRO_PG_LISTEN_H_INCLUDED_ */
