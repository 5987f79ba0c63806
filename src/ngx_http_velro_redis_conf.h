
/*
 * velro: L2, the "velro_redis" directive and what it configures
 * (ngx_http_velro_redis_conf.c).
 */


#ifndef _NGX_HTTP_VELRO_REDIS_CONF_H_INCLUDED_
#define _NGX_HTTP_VELRO_REDIS_CONF_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


typedef struct {
    ngx_str_t                     addr;         /* as configured */
    ngx_str_t                     host;         /* resolved IP, or empty */
    in_port_t                     port;
    ngx_str_t                     path;         /* unix socket, or empty */
    ngx_str_t                     user;         /* an ACL user, or empty:
                                                   "default" */
    ngx_str_t                     password;
    ngx_int_t                     db;           /* -1: no SELECT */
    ngx_str_t                     prefix;       /* default "velro:" */
    ngx_msec_t                    connect_timeout;  /* default 1s */
    ngx_msec_t                    timeout;      /* default 200ms */
    ngx_flag_t                    scripts;      /* EVALSHA, default off */
} ngx_http_velro_redis_conf_t;


/* "velro_redis" directive; conf is the module's main conf */
char *ngx_http_velro_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_VELRO_REDIS_CONF_H_INCLUDED_ */
