
/*
 * velro: L3 lookups from a standby ("velro_pg_replica"): a second pool of
 * ngx_http_velro_pg.c's, answers only from a standby known to have
 * replayed every change notified so far, the primary's pool otherwise.
 */


#ifndef _NGX_HTTP_VELRO_PG_REPLICA_H_INCLUDED_
#define _NGX_HTTP_VELRO_PG_REPLICA_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_velro_pg.h"


/* as ngx_http_velro_pg_query(), which it is without a replica */
ngx_int_t ngx_http_velro_pg_replica_query(ngx_http_velro_pg_req_t *pr);

ngx_int_t ngx_http_velro_pg_replica_init_process(ngx_cycle_t *cycle,
    ngx_http_velro_pg_conf_t *pcf);
void ngx_http_velro_pg_replica_exit_process(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_VELRO_PG_REPLICA_H_INCLUDED_ */
