
/* stub: replaced by the Redis adapter */

#include "ngx_http_velro_module.h"


char *
ngx_http_velro_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return "is not implemented yet";
}


ngx_int_t
ngx_http_velro_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_velro_redis_conf_t *rcf)
{
    return NGX_OK;
}


void
ngx_http_velro_redis_exit_process(ngx_cycle_t *cycle)
{
}


ngx_uint_t
ngx_http_velro_redis_ready(void)
{
    return 0;
}


ngx_http_velro_redis_cmd_t *
ngx_http_velro_redis_command(ngx_log_t *log,
    ngx_http_velro_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    return NULL;
}


void
ngx_http_velro_redis_cancel(ngx_http_velro_redis_cmd_t *cmd)
{
}


ngx_int_t
ngx_http_velro_redis_send(int argc, const char **argv, const size_t *argvlen)
{
    return NGX_DECLINED;
}
