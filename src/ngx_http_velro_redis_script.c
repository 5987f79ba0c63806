
/*
 * ngx_http_velro_module: L2, Lua scripts run with EVALSHA.
 *
 * A script is registered once per worker; each connection loads it with
 * SCRIPT LOAD right after its handshake, so an EVALSHA sent later on that
 * connection, pipelined behind the load, finds it.  A NOSCRIPT reply
 * (SCRIPT FLUSH, a server restarted behind a proxy) loads it again; a
 * refused load or run (scripts disallowed by an ACL, a Cluster refusing
 * keys a script did not declare, a Lua error) stops its use on that
 * connection, and callers go back to plain commands.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_redis_script.h"

#include <openssl/evp.h>


#define NGX_HTTP_VELRO_REDIS_SCRIPTS  4


static void ngx_http_velro_redis_script_load(ngx_http_velro_redis_script_t *s);
static void ngx_http_velro_redis_script_loaded(void *data, redisReply *reply);


static ngx_http_velro_redis_script_t
    *ngx_http_velro_redis_scripts[NGX_HTTP_VELRO_REDIS_SCRIPTS];
static ngx_uint_t  ngx_http_velro_redis_nscripts;


ngx_int_t
ngx_http_velro_redis_script_add(ngx_http_velro_redis_script_t *s,
    ngx_log_t *log)
{
    u_char        md[EVP_MAX_MD_SIZE];
    ngx_uint_t    i;
    unsigned int  len;

    for (i = 0; i < ngx_http_velro_redis_nscripts; i++) {
        if (ngx_http_velro_redis_scripts[i] == s) {
            return NGX_OK;
        }
    }

    if (ngx_http_velro_redis_nscripts == NGX_HTTP_VELRO_REDIS_SCRIPTS) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "velro: too many redis scripts");
        return NGX_ERROR;
    }

    if (EVP_Digest(s->text.data, s->text.len, md, &len, EVP_sha1(), NULL)
        != 1
        || len * 2 != NGX_HTTP_VELRO_REDIS_SHA1_LEN)
    {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "velro: SHA1 of a redis script failed");
        return NGX_ERROR;
    }

    (void) ngx_hex_dump(s->sha1, md, len);

    s->loaded = 0;
    s->refused = 0;

    ngx_http_velro_redis_scripts[ngx_http_velro_redis_nscripts++] = s;

    /* a connection already up loads it now */

    if (ngx_http_velro_redis_up()) {
        ngx_http_velro_redis_script_load(s);
    }

    return NGX_OK;
}


void
ngx_http_velro_redis_script_connected(void)
{
    ngx_uint_t  i;

    for (i = 0; i < ngx_http_velro_redis_nscripts; i++) {
        ngx_http_velro_redis_script_load(ngx_http_velro_redis_scripts[i]);
    }
}


ngx_uint_t
ngx_http_velro_redis_script_usable(ngx_http_velro_redis_script_t *s)
{
    ngx_uint_t  conn;

    conn = ngx_http_velro_redis_connection();

    return conn && s->loaded == conn && s->refused != conn;
}


ngx_uint_t
ngx_http_velro_redis_script_error(ngx_http_velro_redis_script_t *s,
    redisReply *reply, ngx_log_t *log)
{
    ngx_uint_t  conn;

    conn = ngx_http_velro_redis_connection();

    if (reply->len >= 8 && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "velro: redis script %*s not loaded, loading it",
                      (size_t) 8, s->sha1);

        if (s->refused != conn) {
            ngx_http_velro_redis_script_load(s);
            return ngx_http_velro_redis_script_usable(s);
        }

        return 0;
    }

    if (s->refused != conn) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "velro: redis script %*s refused, not used on this "
                      "connection: %*s", (size_t) 8, s->sha1,
                      ngx_min(reply->len, 256), reply->str);
    }

    s->refused = conn;

    return 0;
}


static void
ngx_http_velro_redis_script_load(ngx_http_velro_redis_script_t *s)
{
    size_t       argvlen[3];
    const char  *argv[3];

    argv[0] = "SCRIPT";
    argvlen[0] = 6;
    argv[1] = "LOAD";
    argvlen[1] = 4;
    argv[2] = (const char *) s->text.data;
    argvlen[2] = s->text.len;

    if (ngx_http_velro_redis_command(ngx_cycle->log,
                                     ngx_http_velro_redis_script_loaded,
                                     s, 3, argv, argvlen)
        == NULL)
    {
        return;
    }

    s->loaded = ngx_http_velro_redis_connection();
}


static void
ngx_http_velro_redis_script_loaded(void *data, redisReply *reply)
{
    ngx_http_velro_redis_script_t *s = data;

    if (reply == NULL) {
        /* the connection went, or the load timed out (which drops it) */
        return;
    }

    if (reply->type == REDIS_REPLY_STRING
        && reply->len == NGX_HTTP_VELRO_REDIS_SHA1_LEN
        && ngx_strncasecmp((u_char *) reply->str, s->sha1,
                           NGX_HTTP_VELRO_REDIS_SHA1_LEN)
           == 0)
    {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "velro: redis script %*s loaded",
                       (size_t) NGX_HTTP_VELRO_REDIS_SHA1_LEN, s->sha1);
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "velro: redis SCRIPT LOAD refused, plain commands "
                      "are used: %*s", ngx_min(reply->len, 256), reply->str);

    } else {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "velro: redis SCRIPT LOAD answered an unexpected "
                      "reply, plain commands are used");
    }

    s->refused = ngx_http_velro_redis_connection();
}
