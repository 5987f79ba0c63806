
/*
 * ngx_http_velro_module: L2, Redis through hiredis's async API driven by
 * nginx's event loop.
 *
 * One pipelined connection per worker, opened at worker start.  hiredis
 * 0.14 has no timeouts of its own: an nginx timer bounds the connect and
 * the AUTH / SELECT / PING handshake, every command has its own timer, and
 * a watchdog notices a server that stops answering fire-and-forget sends.
 * A timeout drops the connection: hiredis then answers every pending
 * command with a NULL reply.  A connection that was up is made again at
 * once (once a second at most); one that could not be made, after a
 * backoff (100ms doubling up to 5s, reset once a handshake succeeds).  The
 * handshake is queued with the connect, so commands are taken while
 * connecting too: they go after it, each under its own timer, as a request
 * waits for an upstream connect; a lost connection leaves no window in
 * which L2 is skipped, and a read the server dropped (not one that timed
 * out) is sent again once on the new connection (ngx_http_velro_authz_l2.c).
 *
 * The redis breaker (ngx_http_velro_breaker.c) counts each lost or failed
 * connection as one failure and each reply as a success.  While it is open
 * no reconnect is tried, and it is looked at every 250ms; once it is
 * half-open, one worker's reconnect or read is the trial, and the others
 * connect once it succeeded.
 *
 * hiredis frees its context itself on a read or write error; it is freed
 * here only from timers and posted events, never from inside a hiredis
 * callback.  The adapter's cleanup hook, called once whenever a context
 * goes away, is where the connection's state is reset.
 *
 * The "velro_redis" directive: ngx_http_velro_redis_conf.c; hiredis's
 * event hooks: ngx_http_velro_redis_event.c; scripts:
 * ngx_http_velro_redis_script.c.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_breaker.h"
#include "ngx_http_velro_redis_event.h"
#include "ngx_http_velro_redis_script.h"

#include <hiredis/async.h>


#define NGX_HTTP_VELRO_REDIS_IDLE        0
#define NGX_HTTP_VELRO_REDIS_CONNECTING  1
#define NGX_HTTP_VELRO_REDIS_HANDSHAKE   2
#define NGX_HTTP_VELRO_REDIS_READY       3

#define NGX_HTTP_VELRO_REDIS_BACKOFF     100
/* a write Redis refused is logged at most once this often */
#define NGX_HTTP_VELRO_REDIS_REFUSED_LOG  10000

/* a lost connection is made again at once, at most once this often */
#define NGX_HTTP_VELRO_REDIS_AGAIN       1000
/* while the breaker is open: how often it is looked at (shm, no network) */
#define NGX_HTTP_VELRO_REDIS_LOOK        250
#define NGX_HTTP_VELRO_REDIS_BACKOFF_MAX 5000

/* a command this long or shorter is formatted on the stack */
#define NGX_HTTP_VELRO_REDIS_INLINE      2048

/* commands kept for reuse per worker; more are freed */
#define NGX_HTTP_VELRO_REDIS_FREE_MAX    256


struct ngx_http_velro_redis_cmd_s {
    ngx_http_velro_redis_handler_pt   handler;  /* NULL: cancelled */
    void                             *data;
    ngx_event_t                       timer;
    ngx_uint_t                        generation;
    ngx_http_velro_redis_cmd_t       *next;     /* free list */
};


typedef struct {
    /* the configuration, copied: it outlives a cycle */
    ngx_str_t                     addr;
    char                         *host;         /* NUL-terminated, or NULL */
    int                           port;
    char                         *path;         /* NUL-terminated, or NULL */
    ngx_str_t                     user;         /* empty: AUTH password */
    ngx_str_t                     password;
    ngx_str_t                     db;           /* decimal, or empty */
    ngx_msec_t                    connect_timeout;
    ngx_msec_t                    timeout;
    u_char                       *mem;

    redisAsyncContext            *ac;
    ngx_uint_t                    phase;
    ngx_uint_t                    handshake;    /* replies still awaited */
    ngx_uint_t                    generation;   /* of the connection */
    ngx_msec_t                    backoff;
    ngx_msec_t                    again_at;     /* the last at once */

    ngx_event_t                   connect_timer;
    ngx_event_t                   reconnect;
    ngx_event_t                   watchdog;
    ngx_event_t                   drop;         /* posted */

    ngx_uint_t                    watch_reads;  /* read events seen */

    ngx_uint_t                    pending;      /* commands sent */
    ngx_http_velro_redis_cmd_t   *timedout;
    ngx_http_velro_redis_cmd_t   *free;
    ngx_uint_t                    nfree;

    u_char                        reason[128];  /* why the connection */
    size_t                        reason_len;   /* goes away */

    unsigned                      configured:1;
    unsigned                      ready:1;      /* the handshake is done */
    unsigned                      taking:1;     /* commands, from connect */
    unsigned                      now:1;        /* reconnect at once */
    unsigned                      again_done:1; /* again_at is set */
    unsigned                      timedout_drop:1;  /* we dropped it */
    unsigned                      down:1;       /* a failure was logged */
    unsigned                      exiting:1;
    unsigned                      scripts:1;    /* scripts=on */
} ngx_http_velro_redis_state_t;


static void ngx_http_velro_redis_connect(void);
static void ngx_http_velro_redis_connected(const redisAsyncContext *ac,
    int status);
static ngx_int_t ngx_http_velro_redis_handshake(void);
static void ngx_http_velro_redis_handshake_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_velro_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_velro_redis_finish(ngx_http_velro_redis_cmd_t *cmd,
    redisReply *reply);
static void ngx_http_velro_redis_down(ngx_uint_t phase, u_char *reason,
    size_t len);
static void ngx_http_velro_redis_set_reason(const char *fmt, ...);
static void ngx_http_velro_redis_fail(const char *reason);
static void ngx_http_velro_redis_sent(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_velro_redis_drop_now(void);
static void ngx_http_velro_redis_closed(void);
static void ngx_http_velro_redis_cleanup(void *data);

static void ngx_http_velro_redis_connect_timeout(ngx_event_t *ev);
static void ngx_http_velro_redis_cmd_timeout(ngx_event_t *ev);
static void ngx_http_velro_redis_watchdog_handler(ngx_event_t *ev);
static void ngx_http_velro_redis_reconnect_handler(ngx_event_t *ev);
static void ngx_http_velro_redis_drop_handler(ngx_event_t *ev);

static int ngx_http_velro_redis_queue(redisCallbackFn *fn, void *privdata,
    int argc, const char **argv, const size_t *argvlen);
static ngx_http_velro_redis_cmd_t *ngx_http_velro_redis_cmd_alloc(void);
static void ngx_http_velro_redis_cmd_free(ngx_http_velro_redis_cmd_t *cmd);


static ngx_http_velro_redis_state_t  ngx_http_velro_redis;

/* the timers' data: nginx's debug log reads it as a connection */
static ngx_connection_t  ngx_http_velro_redis_dumb;


ngx_int_t
ngx_http_velro_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_velro_redis_conf_t *rcf)
{
    u_char                        *p;
    size_t                         size;
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    if (rs->configured) {
        return NGX_OK;
    }

    ngx_memzero(rs, sizeof(ngx_http_velro_redis_state_t));

    size = rcf->addr.len + rcf->host.len + 1 + rcf->path.len + 1
           + rcf->user.len + rcf->password.len + NGX_INT_T_LEN;

    p = ngx_alloc(size, cycle->log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    rs->mem = p;

    rs->addr.data = p;
    rs->addr.len = rcf->addr.len;
    p = ngx_cpymem(p, rcf->addr.data, rcf->addr.len);

    if (rcf->path.len) {
        rs->path = (char *) p;
        p = ngx_cpymem(p, rcf->path.data, rcf->path.len);
        *p++ = '\0';

    } else {
        rs->host = (char *) p;
        p = ngx_cpymem(p, rcf->host.data, rcf->host.len);
        *p++ = '\0';
        rs->port = rcf->port;
    }

    rs->user.data = p;
    rs->user.len = rcf->user.len;
    p = ngx_cpymem(p, rcf->user.data, rcf->user.len);

    rs->password.data = p;
    rs->password.len = rcf->password.len;
    p = ngx_cpymem(p, rcf->password.data, rcf->password.len);

    if (rcf->db >= 0) {
        rs->db.data = p;
        rs->db.len = ngx_sprintf(p, "%i", rcf->db) - p;
    }

    rs->connect_timeout = rcf->connect_timeout;
    rs->timeout = rcf->timeout;
    rs->scripts = rcf->scripts ? 1 : 0;
    rs->backoff = NGX_HTTP_VELRO_REDIS_BACKOFF;

    ngx_http_velro_redis_dumb.fd = (ngx_socket_t) -1;

    rs->connect_timer.handler = ngx_http_velro_redis_connect_timeout;
    rs->connect_timer.data = &ngx_http_velro_redis_dumb;
    rs->connect_timer.log = cycle->log;
    rs->connect_timer.cancelable = 1;

    rs->reconnect.handler = ngx_http_velro_redis_reconnect_handler;
    rs->reconnect.data = &ngx_http_velro_redis_dumb;
    rs->reconnect.log = cycle->log;
    rs->reconnect.cancelable = 1;

    rs->watchdog.handler = ngx_http_velro_redis_watchdog_handler;
    rs->watchdog.data = &ngx_http_velro_redis_dumb;
    rs->watchdog.log = cycle->log;
    rs->watchdog.cancelable = 1;

    rs->drop.handler = ngx_http_velro_redis_drop_handler;
    rs->drop.data = &ngx_http_velro_redis_dumb;
    rs->drop.log = cycle->log;

    rs->configured = 1;

    ngx_http_velro_redis_connect();

    return NGX_OK;
}


void
ngx_http_velro_redis_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_velro_redis_cmd_t    *cmd;
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    if (!rs->configured) {
        return;
    }

    rs->exiting = 1;
    rs->ready = 0;
    rs->taking = 0;

    if (rs->reconnect.timer_set) {
        ngx_del_timer(&rs->reconnect);
    }

    if (rs->drop.posted) {
        ngx_delete_posted_event(&rs->drop);
    }

    /* pending commands are answered with NULL, their handlers not called */

    if (rs->ac) {
        redisAsyncFree(rs->ac);
    }

    while (rs->free) {
        cmd = rs->free;
        rs->free = cmd->next;
        ngx_free(cmd);
    }

    rs->nfree = 0;

    ngx_free(rs->mem);
    rs->mem = NULL;

    rs->configured = 0;
}


/* commands are taken: connected, or connecting (they wait for it) */

ngx_uint_t
ngx_http_velro_redis_up(void)
{
    return ngx_http_velro_redis.taking;
}


ngx_uint_t
ngx_http_velro_redis_connection(void)
{
    return ngx_http_velro_redis.ready ? ngx_http_velro_redis.generation : 0;
}


ngx_uint_t
ngx_http_velro_redis_ready(void)
{
    return ngx_http_velro_redis.ready
           && ngx_http_velro_breaker_state(NGX_HTTP_VELRO_BREAKER_REDIS)
              == VELRO_BREAKER_CLOSED;
}


ngx_uint_t
ngx_http_velro_redis_usable(ngx_log_t *log)
{
    return ngx_http_velro_redis.taking
           && ngx_http_velro_breaker_allow(NGX_HTTP_VELRO_BREAKER_REDIS, log)
              == NGX_OK;
}


ngx_uint_t
ngx_http_velro_redis_retryable(void)
{
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    return !rs->timedout_drop && !rs->exiting && !ngx_exiting;
}


ngx_uint_t
ngx_http_velro_redis_reconnect(void)
{
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    if (rs->now && rs->ac == NULL && rs->reconnect.timer_set) {
        ngx_del_timer(&rs->reconnect);
        ngx_http_velro_redis_reconnect_handler(&rs->reconnect);
    }

    return rs->taking;
}


ngx_http_velro_redis_cmd_t *
ngx_http_velro_redis_command(ngx_log_t *log,
    ngx_http_velro_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    ngx_http_velro_redis_cmd_t    *cmd;
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    if (!ngx_http_velro_redis_up() || argc < 1) {
        return NULL;
    }

    cmd = ngx_http_velro_redis_cmd_alloc();
    if (cmd == NULL) {
        return NULL;
    }

    cmd->handler = handler;
    cmd->data = data;
    cmd->generation = rs->generation;

    if (ngx_http_velro_redis_queue(ngx_http_velro_redis_reply, cmd,
                                   argc, argv, argvlen)
        != REDIS_OK)
    {
        ngx_http_velro_redis_cmd_free(cmd);

        /* out of memory: what was queued before may be incomplete */
        ngx_http_velro_redis_fail("command not queued");

        return NULL;
    }

    rs->pending++;

    ngx_add_timer(&cmd->timer, rs->timeout);

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, log, 0,
                   "velro: redis command %*s %*s, pending:%ui",
                   argvlen[0], argv[0],
                   argc > 1 ? argvlen[1] : 0, argc > 1 ? argv[1] : "",
                   rs->pending);

    return cmd;
}


void
ngx_http_velro_redis_cancel(ngx_http_velro_redis_cmd_t *cmd)
{
    /* the command stays queued; its reply, or NULL, is dropped */

    cmd->handler = NULL;
    cmd->data = NULL;
}


ngx_int_t
ngx_http_velro_redis_send(int argc, const char **argv, const size_t *argvlen)
{
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    if (!ngx_http_velro_redis_up() || argc < 1) {
        return NGX_DECLINED;
    }

    if (ngx_http_velro_redis_queue(ngx_http_velro_redis_sent, NULL, argc,
                                   argv, argvlen)
        != REDIS_OK)
    {
        /*
         * out of memory: the commands queued before this one, say a MULTI,
         * must not run without it, so the connection goes
         */

        ngx_http_velro_redis_fail("command not queued");

        return NGX_DECLINED;
    }

    if (!rs->watchdog.timer_set) {
        rs->watch_reads = ngx_http_velro_redis_event_reads();
        ngx_add_timer(&rs->watchdog, rs->timeout);
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "velro: redis send %*s %*s",
                   argvlen[0], argv[0],
                   argc > 1 ? argvlen[1] : 0, argc > 1 ? argv[1] : "");

    return NGX_OK;
}


/*
 * a write's reply: nothing waits for it, but one Redis refuses (an ACL
 * without SET or DEL, say, or a full server) is logged, once a period
 */

static void
ngx_http_velro_redis_sent(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply *reply = r;

    static ngx_msec_t  logged;

    if (reply == NULL || reply->type != REDIS_REPLY_ERROR
        || (logged && ngx_current_msec - logged
                      < NGX_HTTP_VELRO_REDIS_REFUSED_LOG))
    {
        return;
    }

    logged = ngx_current_msec;

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "velro: redis refused a write: %*s (more in the next "
                  "10 s not logged)", (size_t) ngx_min(reply->len, 256),
                  reply->str);
}


static void
ngx_http_velro_redis_connect(void)
{
    redisAsyncContext             *ac;
    ngx_connection_t              *c;
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    rs->reason_len = 0;
    rs->handshake = 0;
    rs->generation++;
    rs->now = 0;
    rs->timedout_drop = 0;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "velro: redis connecting to %V, generation:%ui",
                   &rs->addr, rs->generation);

    if (rs->path) {
        ac = redisAsyncConnectUnix(rs->path);

    } else {
        ac = redisAsyncConnect(rs->host, rs->port);
    }

    if (ac == NULL) {
        ngx_http_velro_redis_down(NGX_HTTP_VELRO_REDIS_CONNECTING,
                                  (u_char *) "out of memory",
                                  sizeof("out of memory") - 1);
        return;
    }

    if (ac->err) {
        ngx_http_velro_redis_down(NGX_HTTP_VELRO_REDIS_CONNECTING,
                                  (u_char *) ac->errstr,
                                  ngx_strlen(ac->errstr));
        redisAsyncFree(ac);
        return;
    }

    c = ngx_get_connection(ac->c.fd, ngx_cycle->log);

    if (c == NULL) {
        ngx_http_velro_redis_down(NGX_HTTP_VELRO_REDIS_CONNECTING,
                                  (u_char *) "no free connection",
                                  sizeof("no free connection") - 1);
        redisAsyncFree(ac);
        return;
    }

    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);

    ngx_http_velro_redis_event_attach(ac, c, ngx_http_velro_redis_fail,
                                      ngx_http_velro_redis_closed);

    ac->ev.cleanup = ngx_http_velro_redis_cleanup;

    rs->ac = ac;
    rs->phase = NGX_HTTP_VELRO_REDIS_CONNECTING;

    /* the first write event tells that the connect is done */

    (void) redisAsyncSetConnectCallback(ac, ngx_http_velro_redis_connected);

    ngx_add_timer(&rs->connect_timer, rs->connect_timeout);

    if (ngx_http_velro_redis_handshake() != NGX_OK) {
        /* the connect timer or the posted drop frees the context */
        ngx_http_velro_redis_fail("handshake not queued");
        return;
    }

    rs->taking = 1;
}


static void
ngx_http_velro_redis_connected(const redisAsyncContext *ac, int status)
{
    if (status != REDIS_OK) {
        /* hiredis frees the context now; the cleanup hook reports it */
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "velro: redis connected to %V, handshake",
                   &ngx_http_velro_redis.addr);

    ngx_http_velro_redis.phase = NGX_HTTP_VELRO_REDIS_HANDSHAKE;
}


/*
 * AUTH and SELECT go first, queued with the connect, so that every command
 * taken while connecting follows them; without them a PING proves that
 * the server answers.  The connection is ready once all have been answered.
 */

static ngx_int_t
ngx_http_velro_redis_handshake(void)
{
    int                            n;
    size_t                         argvlen[3];
    const char                    *argv[3];
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    if (rs->password.len) {
        /* "AUTH [user] password": an ACL user (Redis 6) when given */

        argv[0] = "AUTH";
        argvlen[0] = 4;
        n = 1;

        if (rs->user.len) {
            argv[n] = (const char *) rs->user.data;
            argvlen[n++] = rs->user.len;
        }

        argv[n] = (const char *) rs->password.data;
        argvlen[n++] = rs->password.len;

        if (redisAsyncCommandArgv(rs->ac,
                                  ngx_http_velro_redis_handshake_reply,
                                  "AUTH", n, argv, argvlen)
            != REDIS_OK)
        {
            return NGX_ERROR;
        }

        rs->handshake++;
    }

    if (rs->db.len) {
        argv[0] = "SELECT";
        argvlen[0] = 6;
        argv[1] = (const char *) rs->db.data;
        argvlen[1] = rs->db.len;

        if (redisAsyncCommandArgv(rs->ac,
                                  ngx_http_velro_redis_handshake_reply,
                                  "SELECT", 2, argv, argvlen)
            != REDIS_OK)
        {
            return NGX_ERROR;
        }

        rs->handshake++;
    }

    if (rs->handshake == 0) {
        argv[0] = "PING";
        argvlen[0] = 4;

        if (redisAsyncCommandArgv(rs->ac,
                                  ngx_http_velro_redis_handshake_reply,
                                  "PING", 1, argv, argvlen)
            != REDIS_OK)
        {
            return NGX_ERROR;
        }

        rs->handshake++;
    }

    return NGX_OK;
}


static void
ngx_http_velro_redis_handshake_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply *reply = r;
    char       *what = privdata;

    ngx_uint_t                     level;
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    if (reply == NULL || ac != rs->ac) {
        /* the context is going away */
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "velro: redis %s reply type:%d", what, reply->type);

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_http_velro_redis_set_reason("%s failed: %*s", what,
                                        reply->len, reply->str);
        ngx_http_velro_redis_fail(NULL);
        return;
    }

    if (rs->handshake == 0 || --rs->handshake > 0
        || rs->phase != NGX_HTTP_VELRO_REDIS_HANDSHAKE
        || rs->drop.posted)
    {
        return;
    }

    rs->phase = NGX_HTTP_VELRO_REDIS_READY;
    rs->ready = 1;
    rs->backoff = NGX_HTTP_VELRO_REDIS_BACKOFF;

    ngx_http_velro_breaker_result(NGX_HTTP_VELRO_BREAKER_REDIS, 1,
                                  ngx_cycle->log);

    if (rs->connect_timer.timer_set) {
        ngx_del_timer(&rs->connect_timer);
    }

    level = rs->down ? NGX_LOG_ERR : NGX_LOG_INFO;

    ngx_log_error(level, ngx_cycle->log, 0,
                  "velro: redis %V connected", &rs->addr);

    rs->down = 0;

    if (rs->scripts) {
        ngx_http_velro_redis_script_connected();
    }
}


static void
ngx_http_velro_redis_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    ngx_http_velro_redis_cmd_t *cmd = privdata;

    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    if (r == NULL) {
        /* the context is going away: nothing more is sent on it */
        rs->ready = 0;
        rs->taking = 0;
    }

    ngx_http_velro_redis_finish(cmd, r);
}


static void
ngx_http_velro_redis_finish(ngx_http_velro_redis_cmd_t *cmd,
    redisReply *reply)
{
    ngx_http_velro_redis_handler_pt   handler;
    ngx_http_velro_redis_state_t     *rs;

    rs = &ngx_http_velro_redis;

    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }

    if (rs->timedout == cmd) {
        rs->timedout = NULL;
    }

    if (rs->pending) {
        rs->pending--;
    }

#if (NGX_DEBUG)

    if (reply == NULL) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "velro: redis no reply, cancelled:%d, pending:%ui",
                       cmd->handler == NULL, rs->pending);

    } else {
        ngx_log_debug5(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "velro: redis reply type:%d len:%uz elements:%uz, "
                       "cancelled:%d, pending:%ui",
                       reply->type, reply->len, reply->elements,
                       cmd->handler == NULL, rs->pending);
    }

#endif

    if (reply && !rs->exiting) {
        ngx_http_velro_breaker_result(NGX_HTTP_VELRO_BREAKER_REDIS, 1,
                                      ngx_cycle->log);
    }

    handler = cmd->handler;
    cmd->handler = NULL;

    if (handler && !rs->exiting) {
        handler(cmd->data, reply);
    }

    ngx_http_velro_redis_cmd_free(cmd);
}


/* the context went away, or never came: log once, connect again */

static void
ngx_http_velro_redis_down(ngx_uint_t phase, u_char *reason, size_t len)
{
    ngx_uint_t                     level;
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    level = rs->down ? NGX_LOG_INFO : NGX_LOG_ERR;

    if (phase == NGX_HTTP_VELRO_REDIS_READY) {
        ngx_log_error(level, ngx_cycle->log, 0,
                      "velro: redis %V connection lost: %*s",
                      &rs->addr, len, reason);

    } else {
        ngx_log_error(level, ngx_cycle->log, 0,
                      "velro: redis %V connect failed: %*s",
                      &rs->addr, len, reason);
    }

    rs->down = 1;
    rs->ready = 0;
    rs->taking = 0;

    if (rs->exiting || ngx_exiting) {
        return;
    }

    ngx_http_velro_breaker_result(NGX_HTTP_VELRO_BREAKER_REDIS, 0,
                                  ngx_cycle->log);

    /*
     * a connection that was up is made again at once: no window without
     * L2; but once a second at most (a server that drops its clients as
     * soon as they are up gets the backoff, as a failed connect does)
     */

    if (phase == NGX_HTTP_VELRO_REDIS_READY
        && (!rs->again_done
            || ngx_current_msec - rs->again_at >= NGX_HTTP_VELRO_REDIS_AGAIN))
    {
        rs->now = 1;
        rs->again_done = 1;
        rs->again_at = ngx_current_msec;
        ngx_add_timer(&rs->reconnect, 0);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "velro: redis reconnect in %Mms", rs->backoff);

    ngx_add_timer(&rs->reconnect, rs->backoff);

    rs->backoff = ngx_min(rs->backoff * 2, NGX_HTTP_VELRO_REDIS_BACKOFF_MAX);
}


/* the first reason given for dropping the connection is the one logged */

static void
ngx_http_velro_redis_set_reason(const char *fmt, ...)
{
    u_char                        *p;
    va_list                        args;
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    if (rs->reason_len) {
        return;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(rs->reason, rs->reason + sizeof(rs->reason), fmt, args);
    va_end(args);

    rs->reason_len = p - rs->reason;
}


/* from hiredis's callbacks and hooks: the context is freed later */

static void
ngx_http_velro_redis_fail(const char *reason)
{
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    if (reason) {
        ngx_http_velro_redis_set_reason("%s", reason);
    }

    rs->ready = 0;
    rs->taking = 0;

    if (rs->ac && !rs->drop.posted) {
        ngx_post_event(&rs->drop, &ngx_posted_events);
    }
}


/* from timers and posted events only */

static void
ngx_http_velro_redis_drop_now(void)
{
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    rs->ready = 0;
    rs->taking = 0;

    if (rs->ac) {
        /* pending commands get NULL, then the cleanup hook runs */
        redisAsyncFree(rs->ac);
    }
}


/* the worker closes its connections (worker_shutdown_timeout) */

static void
ngx_http_velro_redis_closed(void)
{
    ngx_http_velro_redis_set_reason("closed by the worker");
    ngx_http_velro_redis_drop_now();
}


/*
 * hiredis is freeing the context, and closes the socket right after this
 * hook: every pending callback has already been called with NULL.
 */

static void
ngx_http_velro_redis_cleanup(void *data)
{
    ngx_connection_t *c = data;

    ngx_uint_t                     phase;
    redisAsyncContext             *ac;
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;
    ac = c->data;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }

    ngx_free_connection(c);

    c->fd = (ngx_socket_t) -1;

    if (ac != rs->ac) {
        return;
    }

    phase = rs->phase;

    rs->ac = NULL;
    rs->phase = NGX_HTTP_VELRO_REDIS_IDLE;
    rs->ready = 0;
    rs->taking = 0;
    rs->handshake = 0;
    rs->pending = 0;

    if (rs->connect_timer.timer_set) {
        ngx_del_timer(&rs->connect_timer);
    }

    if (rs->watchdog.timer_set) {
        ngx_del_timer(&rs->watchdog);
    }

    if (rs->drop.posted) {
        ngx_delete_posted_event(&rs->drop);
    }

    if (rs->exiting) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "velro: redis connection closed");
        return;
    }

    if (rs->reason_len == 0) {
        if (ac->c.err) {
            ngx_http_velro_redis_set_reason("%s", ac->c.errstr);

        } else {
            ngx_http_velro_redis_set_reason("connection closed");
        }
    }

    ngx_http_velro_redis_down(phase, rs->reason, rs->reason_len);
}


static void
ngx_http_velro_redis_connect_timeout(ngx_event_t *ev)
{
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    if (rs->phase == NGX_HTTP_VELRO_REDIS_CONNECTING) {
        ngx_http_velro_redis_set_reason("connect timed out after %Mms",
                                        rs->connect_timeout);

    } else {
        ngx_http_velro_redis_set_reason("handshake timed out after %Mms",
                                        rs->connect_timeout);
    }

    ngx_http_velro_redis_drop_now();
}


static void
ngx_http_velro_redis_cmd_timeout(ngx_event_t *ev)
{
    ngx_http_velro_redis_cmd_t    *cmd;
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    cmd = (ngx_http_velro_redis_cmd_t *)
              ((u_char *) ev - offsetof(ngx_http_velro_redis_cmd_t, timer));

    if (cmd->generation == rs->generation && rs->ac) {

        /* the server does not answer: whatever was sent is lost */

        ngx_http_velro_redis_set_reason("command timed out after %Mms",
                                        rs->timeout);

        rs->timedout = cmd;
        rs->timedout_drop = 1;

        ngx_http_velro_redis_drop_now();

        if (rs->timedout == NULL) {
            /* answered with NULL as the context went away */
            return;
        }

        rs->timedout = NULL;
    }

    /* hiredis lost the callback (out of memory): answer it here */

    ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                  "velro: redis command without a callback");

    ngx_http_velro_redis_finish(cmd, NULL);
}


/*
 * Sends have no callback and no timer of their own: when replies are
 * awaited and nothing was read for a whole timeout, the server is stuck.
 */

static void
ngx_http_velro_redis_watchdog_handler(ngx_event_t *ev)
{
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    if (rs->ac == NULL || rs->ac->replies.head == NULL) {
        return;
    }

    if (ngx_http_velro_redis_event_reads() != rs->watch_reads) {
        rs->watch_reads = ngx_http_velro_redis_event_reads();
        ngx_add_timer(&rs->watchdog, rs->timeout);
        return;
    }

    ngx_http_velro_redis_set_reason("no reply for %Mms", rs->timeout);

    rs->timedout_drop = 1;
    ngx_http_velro_redis_drop_now();
}


/* no connect while the breaker is open: look again soon */

static void
ngx_http_velro_redis_reconnect_handler(ngx_event_t *ev)
{
    ngx_msec_t                     wait;
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    if (ngx_exiting || rs->exiting || rs->ac) {
        return;
    }

    /*
     * while it is open, or half-open with another worker's trial under
     * way, the breaker is looked at often: once that trial succeeds, every
     * worker connects within NGX_HTTP_VELRO_REDIS_LOOK, not after its own
     * backoff
     */

    if (ngx_http_velro_breaker_allow(NGX_HTTP_VELRO_BREAKER_REDIS,
                                     ngx_cycle->log)
        != NGX_OK)
    {
        wait = (ngx_msec_t) ngx_http_velro_breaker_retry_after(
                                        NGX_HTTP_VELRO_BREAKER_REDIS) * 1000;
        wait = ngx_min(NGX_HTTP_VELRO_REDIS_LOOK, wait);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "velro: redis breaker open, no connect, "
                       "looking again in %Mms", wait);

        ngx_add_timer(&rs->reconnect, wait);
        return;
    }

    ngx_http_velro_redis_connect();
}


static void
ngx_http_velro_redis_drop_handler(ngx_event_t *ev)
{
    ngx_http_velro_redis_drop_now();
}


/*
 * The command in RESP, formatted here when short: hiredis's own formatting
 * (sdscatfmt(), an sds grown and freed per command) cost more than the
 * rest of queueing it.
 */

static int
ngx_http_velro_redis_queue(redisCallbackFn *fn, void *privdata, int argc,
    const char **argv, const size_t *argvlen)
{
    int      i;
    u_char  *p, *last;
    size_t   size;
    u_char   buf[NGX_HTTP_VELRO_REDIS_INLINE];

    size = sizeof("*\r\n") - 1 + NGX_INT_T_LEN;

    for (i = 0; i < argc; i++) {
        size += sizeof("$\r\n\r\n") - 1 + NGX_SIZE_T_LEN + argvlen[i];
    }

    if (size > NGX_HTTP_VELRO_REDIS_INLINE) {
        return redisAsyncCommandArgv(ngx_http_velro_redis.ac, fn, privdata,
                                     argc, argv, argvlen);
    }

    last = buf + sizeof(buf);

    p = ngx_slprintf(buf, last, "*%d\r\n", argc);

    for (i = 0; i < argc; i++) {
        p = ngx_slprintf(p, last, "$%uz\r\n", argvlen[i]);
        p = ngx_cpymem(p, argv[i], argvlen[i]);
        *p++ = '\r';
        *p++ = '\n';
    }

    return redisAsyncFormattedCommand(ngx_http_velro_redis.ac, fn, privdata,
                                      (char *) buf, p - buf);
}


static ngx_http_velro_redis_cmd_t *
ngx_http_velro_redis_cmd_alloc(void)
{
    ngx_http_velro_redis_cmd_t    *cmd;
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    cmd = rs->free;

    if (cmd) {
        rs->free = cmd->next;
        rs->nfree--;

    } else {
        cmd = ngx_alloc(sizeof(ngx_http_velro_redis_cmd_t), ngx_cycle->log);
        if (cmd == NULL) {
            return NULL;
        }
    }

    ngx_memzero(cmd, sizeof(ngx_http_velro_redis_cmd_t));

    cmd->timer.handler = ngx_http_velro_redis_cmd_timeout;
    cmd->timer.data = &ngx_http_velro_redis_dumb;
    cmd->timer.log = ngx_cycle->log;

    return cmd;
}


static void
ngx_http_velro_redis_cmd_free(ngx_http_velro_redis_cmd_t *cmd)
{
    ngx_http_velro_redis_state_t  *rs;

    rs = &ngx_http_velro_redis;

    if (rs->exiting || rs->nfree >= NGX_HTTP_VELRO_REDIS_FREE_MAX) {
        ngx_free(cmd);
        return;
    }

    cmd->next = rs->free;
    rs->free = cmd;
    rs->nfree++;
}
