
/*
 * velro: invalidations, from the LISTEN connection of every worker (the
 * NOTIFY payloads of sql/schema.sql's triggers).
 */


#ifndef _NGX_HTTP_VELRO_INVALIDATE_H_INCLUDED_
#define _NGX_HTTP_VELRO_INVALIDATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* a notice: {"kind":"user|member|team|project|generation","id":"UUID"} */
void ngx_http_velro_invalidate(ngx_str_t *payload);

/* the LISTEN connection is (again) up: notices may have been lost */
void ngx_http_velro_invalidate_listening(void);

#endif /* _NGX_HTTP_VELRO_INVALIDATE_H_INCLUDED_ */
