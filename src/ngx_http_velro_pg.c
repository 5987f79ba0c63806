
/* stub: replaced by the PostgreSQL pool */

#include "ngx_http_velro_module.h"


char *
ngx_http_velro_pg_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return "is not implemented yet";
}


char *
ngx_http_velro_pg_listen_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    return "is not implemented yet";
}


char *
ngx_http_velro_authz_pg(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return "is not implemented yet";
}


ngx_int_t
ngx_http_velro_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_velro_pg_conf_t *pcf, ngx_http_velro_pg_notify_pt notify,
    ngx_http_velro_pg_listen_pt listening)
{
    return NGX_OK;
}


void
ngx_http_velro_pg_exit_process(ngx_cycle_t *cycle)
{
}
