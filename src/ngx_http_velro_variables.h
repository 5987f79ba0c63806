
/*
 * velro: the module's variables ($velro_user_id, $velro_jwt_claim_NAME,
 * $velro_jwt_header_NAME, velro_jwt_claim_set, $velro_role,
 * $velro_authz_decision, $velro_authz_cache, $velro_authz_project,
 * $velro_authz_tiers), and the refresh of a complex value's variables in
 * a subrequest.
 */


#ifndef _NGX_HTTP_VELRO_VARIABLES_H_INCLUDED_
#define _NGX_HTTP_VELRO_VARIABLES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_velro_add_variables(ngx_conf_t *cf);
char *ngx_http_velro_claim_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* preconfiguration: learns the handler of regex captures */
ngx_int_t ngx_http_velro_variables_probe_captures(ngx_conf_t *cf);

/* the variables of cv computed again for this (sub)request */
void ngx_http_velro_variables_refresh(ngx_http_request_t *r,
    ngx_http_complex_value_t *cv);

#endif /* _NGX_HTTP_VELRO_VARIABLES_H_INCLUDED_ */
