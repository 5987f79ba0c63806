
/*
 * ngx_http_velro_module: L2, hiredis's event hooks on nginx's event loop.
 *
 * The hooks hiredis calls to watch its socket (add and delete read and
 * write interest) and the event handlers that call hiredis back.  Reads
 * are level-triggered; writes are posted events once connected (see
 * ngx_http_velro_redis_add_write()).  A hook that cannot change an event
 * reports it (the connection must go, later: hiredis is using it).
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_redis_event.h"

#include <hiredis/async.h>


/*
 * hiredis 0.14's reader takes a bulk string of any length: the bytes of a
 * reply not yet complete are bounded here, far above any L2 answer (256
 * memberships, the largest value, are about 13 KB)
 */
#define NGX_HTTP_VELRO_REDIS_REPLY_MAX  (1024 * 1024)


static void ngx_http_velro_redis_read_handler(ngx_event_t *rev);
static void ngx_http_velro_redis_write_handler(ngx_event_t *wev);
static void ngx_http_velro_redis_add_read(void *data);
static void ngx_http_velro_redis_del_read(void *data);
static void ngx_http_velro_redis_add_write(void *data);
static void ngx_http_velro_redis_del_write(void *data);


static ngx_http_velro_redis_event_fail_pt  ngx_http_velro_redis_event_fail;
static void (*ngx_http_velro_redis_event_closed)(void);

static ngx_uint_t  ngx_http_velro_redis_reads;      /* read events seen */
static ngx_uint_t  ngx_http_velro_redis_writing;    /* in the write handler */


void
ngx_http_velro_redis_event_attach(redisAsyncContext *ac, ngx_connection_t *c,
    ngx_http_velro_redis_event_fail_pt fail, void (*closed)(void))
{
    ngx_http_velro_redis_event_fail = fail;
    ngx_http_velro_redis_event_closed = closed;

    c->data = ac;

    c->read->handler = ngx_http_velro_redis_read_handler;
    c->write->handler = ngx_http_velro_redis_write_handler;
    c->read->log = c->log;
    c->write->log = c->log;

    ac->ev.addRead = ngx_http_velro_redis_add_read;
    ac->ev.delRead = ngx_http_velro_redis_del_read;
    ac->ev.addWrite = ngx_http_velro_redis_add_write;
    ac->ev.delWrite = ngx_http_velro_redis_del_write;
    ac->ev.data = c;
}


ngx_uint_t
ngx_http_velro_redis_event_reads(void)
{
    return ngx_http_velro_redis_reads;
}


static void
ngx_http_velro_redis_read_handler(ngx_event_t *rev)
{
    redisReader        *rd;
    ngx_connection_t   *c;
    redisAsyncContext  *ac;

    c = rev->data;

    if (c->close) {
        /* worker_shutdown_timeout */
        ngx_http_velro_redis_event_closed();
        return;
    }

    ngx_http_velro_redis_reads++;

    ac = c->data;
    rd = ac->c.reader;

    /* what earlier reads left is part of one reply: a lying server's */

    if (rd && rd->len - rd->pos > NGX_HTTP_VELRO_REDIS_REPLY_MAX) {
        ngx_http_velro_redis_event_fail("reply over 1 MB, refused");
        return;
    }

    redisAsyncHandleRead(ac);
}


static void
ngx_http_velro_redis_write_handler(ngx_event_t *wev)
{
    ngx_connection_t  *c;

    c = wev->data;

    ngx_http_velro_redis_writing = 1;

    redisAsyncHandleWrite(c->data);

    ngx_http_velro_redis_writing = 0;
}


/*
 * Level-triggered: redisAsyncHandleRead() reads once per call, and the
 * hooks must be idempotent.
 */

static void
ngx_http_velro_redis_add_read(void *data)
{
    ngx_connection_t *c = data;

    if (c->read->active) {
        return;
    }

    if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
        ngx_http_velro_redis_event_fail("read event not added");
    }
}


static void
ngx_http_velro_redis_del_read(void *data)
{
    ngx_connection_t *c = data;

    if (!c->read->active) {
        return;
    }

    if (ngx_del_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
        ngx_http_velro_redis_event_fail("read event not deleted");
    }
}


/*
 * A command queued on a connected context is written by a posted event,
 * at the end of this pass of the event loop, together with the others
 * queued in the pass: no epoll_ctl() and no wait for a write event.  The
 * write event itself is added only while connecting (hiredis learns from
 * it that the connect is done) and when a write left data behind.
 */

static void
ngx_http_velro_redis_add_write(void *data)
{
    ngx_connection_t *c = data;

    redisAsyncContext  *ac;

    if (c->write->active) {
        return;
    }

    ac = c->data;

    if ((ac->c.flags & REDIS_CONNECTED) && !ngx_http_velro_redis_writing) {
        if (!c->write->posted) {
            ngx_post_event(c->write, &ngx_posted_events);
        }

        return;
    }

    if (ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
        ngx_http_velro_redis_event_fail("write event not added");
    }
}


static void
ngx_http_velro_redis_del_write(void *data)
{
    ngx_connection_t *c = data;

    if (!c->write->active) {
        return;
    }

    if (ngx_del_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK) {
        ngx_http_velro_redis_event_fail("write event not deleted");
    }
}
