
/*
 * velro: the velro_authz_pg content handler, the L3 contract over HTTP.
 */


#ifndef _NGX_HTTP_VELRO_AUTHZ_PG_H_INCLUDED_
#define _NGX_HTTP_VELRO_AUTHZ_PG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* "velro_authz_pg": sets the location's content handler */
char *ngx_http_velro_authz_pg(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* the locations' subrequest_output_buffer_size default, once merged */
void ngx_http_velro_authz_pg_postconfiguration(ngx_conf_t *cf);


#endif /* _NGX_HTTP_VELRO_AUTHZ_PG_H_INCLUDED_ */
