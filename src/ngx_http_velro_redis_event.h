
/*
 * velro: L2, hiredis's event hooks on nginx's event loop
 * (ngx_http_velro_redis_event.c).
 */


#ifndef _NGX_HTTP_VELRO_REDIS_EVENT_H_INCLUDED_
#define _NGX_HTTP_VELRO_REDIS_EVENT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <hiredis/async.h>


/* an event could not be changed: the connection must go (not freed now) */
typedef void (*ngx_http_velro_redis_event_fail_pt)(const char *reason);


/*
 * c (the context's socket) calls hiredis back on its events, and hiredis's
 * hooks change them; closed is called when the worker closes c
 * (worker_shutdown_timeout)
 */
void ngx_http_velro_redis_event_attach(redisAsyncContext *ac,
    ngx_connection_t *c, ngx_http_velro_redis_event_fail_pt fail,
    void (*closed)(void));

/* read events handled so far (the watchdog's sign of life) */
ngx_uint_t ngx_http_velro_redis_event_reads(void);


#endif /* _NGX_HTTP_VELRO_REDIS_EVENT_H_INCLUDED_ */
