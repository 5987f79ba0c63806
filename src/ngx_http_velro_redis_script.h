
/*
 * velro: L2, Lua scripts run with EVALSHA (ngx_http_velro_redis_script.c).
 */


#ifndef _NGX_HTTP_VELRO_REDIS_SCRIPT_H_INCLUDED_
#define _NGX_HTTP_VELRO_REDIS_SCRIPT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <hiredis/hiredis.h>


#define NGX_HTTP_VELRO_REDIS_SHA1_LEN  40


typedef struct {
    ngx_str_t                     text;         /* the Lua source */
    u_char                        sha1[NGX_HTTP_VELRO_REDIS_SHA1_LEN];

    /* connections (ngx_http_velro_redis_connection()), or 0 */
    ngx_uint_t                    loaded;       /* SCRIPT LOAD sent on */
    ngx_uint_t                    refused;      /* SCRIPT LOAD or EVALSHA
                                                   refused on */
} ngx_http_velro_redis_script_t;


/*
 * Registers a script (static storage, text set): its SHA1 is computed, and
 * every connection made from now on loads it (SCRIPT LOAD) as soon as its
 * handshake is done, unless "velro_redis ... scripts=off".
 */
ngx_int_t ngx_http_velro_redis_script_add(ngx_http_velro_redis_script_t *s,
    ngx_log_t *log);

/* called by the connection once it is ready: SCRIPT LOAD of each script */
void ngx_http_velro_redis_script_connected(void);

/*
 * The script may be sent (EVALSHA) on this connection: loaded on it (or
 * the load is under way: it is pipelined before anything sent now) and
 * neither the load nor a run was refused.
 */
ngx_uint_t ngx_http_velro_redis_script_usable(
    ngx_http_velro_redis_script_t *s);

/*
 * An EVALSHA of the script got an error reply.  NOSCRIPT (SCRIPT FLUSH, a
 * restarted server): the script is loaded again and 1 is returned, the
 * caller may send it again at once.  Anything else (scripts disallowed, a
 * Cluster refusing an undeclared key, a Lua error): the script is not used
 * again on this connection, and 0 is returned.
 */
ngx_uint_t ngx_http_velro_redis_script_error(ngx_http_velro_redis_script_t *s,
    redisReply *reply, ngx_log_t *log);


#endif /* _NGX_HTTP_VELRO_REDIS_SCRIPT_H_INCLUDED_ */
