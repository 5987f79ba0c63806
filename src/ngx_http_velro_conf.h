
/*
 * ngx_http_velro_module: the setters of the hub's directives (JWT,
 * authorization, the L1 cache), for its command table.
 */


#ifndef _NGX_HTTP_VELRO_CONF_H_INCLUDED_
#define _NGX_HTTP_VELRO_CONF_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* JWT: conf is the location's */
char *ngx_http_velro_jwt(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_velro_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_velro_key_request(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_velro_algorithms(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_velro_token(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* like ngx_conf_set_str_array_slot(), but every argument is a value */
char *ngx_http_velro_str_list(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* authorization: conf is the location's */
char *ngx_http_velro_authz_resource(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_velro_authz_action(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_velro_authz_deny_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* the L1 cache: conf is the main conf */
char *ngx_http_velro_cache_l1(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_velro_cache_ttl(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_VELRO_CONF_H_INCLUDED_ */
