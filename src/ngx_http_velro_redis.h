
/*
 * velro: L2, Redis through hiredis's async API driven by nginx's event
 * loop.  One pipelined connection per worker; every command has a timeout.
 */


#ifndef _NGX_HTTP_VELRO_REDIS_H_INCLUDED_
#define _NGX_HTTP_VELRO_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>

#include "ngx_http_velro_redis_conf.h"


typedef struct ngx_http_velro_redis_cmd_s  ngx_http_velro_redis_cmd_t;

/*
 * Called exactly once per command unless the command was cancelled first.
 * reply is NULL on a timeout, a lost connection, or no connection at all;
 * a Redis error reply arrives as a reply of type REDIS_REPLY_ERROR.  The
 * reply is freed by hiredis after the handler returns.
 */
typedef void (*ngx_http_velro_redis_handler_pt)(void *data,
    redisReply *reply);


ngx_int_t ngx_http_velro_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_velro_redis_conf_t *rcf);
void ngx_http_velro_redis_exit_process(ngx_cycle_t *cycle);

/*
 * commands are taken: connected, or connecting (they are sent after the
 * handshake, AUTH and SELECT or a PING, each under its own timer)
 */
ngx_uint_t ngx_http_velro_redis_up(void);

/*
 * from a handler given a NULL reply: the connection went away for another
 * reason than a timeout of ours (the server closed or reset it), so a read
 * may be sent again, once, on the next one
 */
ngx_uint_t ngx_http_velro_redis_retryable(void);

/*
 * outside hiredis's callbacks: a connection that was up and was just lost
 * is made again now rather than from the next timer pass; returns up()
 */
ngx_uint_t ngx_http_velro_redis_reconnect(void);

/*
 * the ready connection's number (connections are numbered from 1 per
 * worker), or 0 when none is ready
 */
ngx_uint_t ngx_http_velro_redis_connection(void);

/* the handshake done, and the redis breaker closed: cache writes go */
ngx_uint_t ngx_http_velro_redis_ready(void);

/*
 * up, and the redis breaker lets a read through: closed, or this read is
 * the half-open trial (then it must be sent)
 */
ngx_uint_t ngx_http_velro_redis_usable(ngx_log_t *log);

/*
 * Sends one command (argv form).  Returns NULL when no connection is ready
 * or memory is short: the caller treats that as a miss at once, and the
 * handler is never called.  Otherwise the handler is called later, from
 * the event loop, never from inside this function.
 */
ngx_http_velro_redis_cmd_t *ngx_http_velro_redis_command(ngx_log_t *log,
    ngx_http_velro_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen);

/*
 * The caller went away: its handler will not be called.  The handle is
 * invalid once the handler has run.
 */
void ngx_http_velro_redis_cancel(ngx_http_velro_redis_cmd_t *cmd);

/* fire and forget: NGX_OK when queued, NGX_DECLINED when not connected */
ngx_int_t ngx_http_velro_redis_send(int argc, const char **argv,
    const size_t *argvlen);


#endif /* _NGX_HTTP_VELRO_REDIS_H_INCLUDED_ */
