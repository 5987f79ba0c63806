
/* authz: in progress */

#include "ngx_http_velro_module.h"


void
ngx_http_velro_authz_invalidate(ngx_str_t *payload)
{
    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "velro: invalidation \"%V\"", payload);
}


void
ngx_http_velro_authz_flush(void)
{
    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "velro: L1 flushed, the LISTEN connection was re-established");
}
