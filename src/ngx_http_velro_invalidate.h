
/*
 * velro: invalidations: one subscriber per nginx instance, elected through
 * the "velro_invalidation" zone, follows the durable log
 * (ngx_http_velro_pg_listen.c) and hands each change to every worker
 * through a ring in that zone.
 */


#ifndef _NGX_HTTP_VELRO_INVALIDATE_H_INCLUDED_
#define _NGX_HTTP_VELRO_INVALIDATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_velro_module.h"


/* from init main conf, with velro_pg: the zone */
ngx_int_t ngx_http_velro_invalidate_init_conf(ngx_conf_t *cf,
    ngx_http_velro_main_conf_t *vmcf);

ngx_int_t ngx_http_velro_invalidate_init_process(ngx_cycle_t *cycle,
    ngx_http_velro_main_conf_t *vmcf);
void ngx_http_velro_invalidate_exit_process(ngx_cycle_t *cycle);

/* before a lookup: the changes published since the last, applied now */
void ngx_http_velro_invalidate_check(void);

/*
 * the primary's WAL position that a standby must have replayed to answer
 * a lookup (every change published is before it); 0: none published
 */
uint64_t ngx_http_velro_invalidate_lsn(void);


#endif /* _NGX_HTTP_VELRO_INVALIDATE_H_INCLUDED_ */
