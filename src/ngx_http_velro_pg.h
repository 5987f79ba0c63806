
/*
 * velro: L3, PostgreSQL through libpq's nonblocking API: a per-worker
 * pool of prepared connections opened at worker start that runs the L3
 * queries (for velro_authz_pg, ngx_http_velro_authz_pg.c), and the
 * connections of subscribers that only LISTEN (the invalidation
 * subscriber, ngx_http_velro_pg_listen.c).
 */


#ifndef _NGX_HTTP_VELRO_PG_H_INCLUDED_
#define _NGX_HTTP_VELRO_PG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <libpq-fe.h>


typedef struct {
    ngx_str_t                     conninfo;
    ngx_str_t                     listen_conninfo;  /* subscribers'; len 0:
                                                       conninfo */
    ngx_uint_t                    pool;         /* per worker, default 20 */
    ngx_msec_t                    connect_timeout;  /* default 2s */
    ngx_msec_t                    timeout;      /* query, default 1s */
    ngx_str_t                     channel;      /* velro_pg_listen, default
                                                   "velro_invalidate";
                                                   len 0: off */
    ngx_msec_t                    poll;         /* velro_pg_log_poll,
                                                   default 50ms */
    unsigned                      channel_set:1;  /* velro_pg_listen seen */
    unsigned                      noprepare:1;  /* prepare=off: unnamed
                                                   statements (a pooler in
                                                   transaction mode) */
    unsigned                      replica:1;    /* velro_pg_replica's */
} ngx_http_velro_pg_conf_t;


typedef struct ngx_http_velro_pg_conn_s  ngx_http_velro_pg_conn_t;
typedef struct ngx_http_velro_pg_s  ngx_http_velro_pg_t;


/*
 * An L3 query.  The caller sets the question and wake's handler and data;
 * once the answer is in (status, and body or reason), wake is posted.
 */

typedef struct {
    /* the question */
    ngx_http_request_t           *request;
    const char                   *values[2];    /* user; resource, limit
                                                   or NULL */
    unsigned                      warm:1;       /* velro_l3_warm */
    unsigned                      access:1;     /* issue 3's form */

    /* a replica's (ngx_http_velro_pg_replica.c) */
    uint64_t                      lsn;          /* to have been replayed, set
                                                   by the caller */
    uint64_t                      replay;       /* the answer's replay LSN */
    ngx_event_handler_pt          handler;      /* the caller's wake */
    void                         *data;
    unsigned                      behind:1;     /* sent where the replay
                                                   known was below lsn */
    unsigned                      retried:1;
    unsigned                      resent:1;     /* its connection was lost:
                                                   sent once more */

    /* the answer */
    ngx_uint_t                    status;
    ngx_str_t                     body;         /* of a 200 */
    const char                   *reason;       /* of a 503 */
    ngx_event_t                   wake;         /* posted: answer now */

    /* the pool's */
    ngx_http_velro_pg_conn_t     *conn;         /* its query runs there */
    ngx_queue_t                   queue;        /* in the waiting FIFO */
    ngx_event_t                   timer;        /* wait for a connection */
    unsigned                      queued:1;
} ngx_http_velro_pg_req_t;


/*
 * A subscriber: a connection of its own, outside the pool, that sends sql
 * (a LISTEN, or NULL) once connected, then reads notifications and runs
 * its own commands one at a time (ngx_http_velro_pg_sub_send(), each with
 * the query timeout; result() gets its outcome).  A failed or lost
 * connection reconnects with the pool's backoff.
 */

typedef struct ngx_http_velro_pg_sub_s  ngx_http_velro_pg_sub_t;

struct ngx_http_velro_pg_sub_s {
    const char                   *sql;
    ngx_http_velro_pg_conn_t     *conn;         /* set by subscribe() */

    /* sql succeeded: notifications from now on */
    void                        (*ready)(ngx_http_velro_pg_sub_t *sub);
    void                        (*notify)(ngx_http_velro_pg_sub_t *sub,
                                          const char *channel,
                                          const char *payload);
    /* msg: libpq's, on one line; reconnecting follows */
    void                        (*failed)(ngx_http_velro_pg_sub_t *sub,
                                          ngx_uint_t was_up, u_char *msg,
                                          size_t len);
    /*
     * the command of ngx_http_velro_pg_sub_send() is over; res is freed
     * after the call; a failed command (res NULL or an error) is followed
     * by failed() and a reconnect when the connection went with it
     */
    void                        (*result)(ngx_http_velro_pg_sub_t *sub,
                                          PGresult *res);
};


/* "velro_pg"; conf is the module's main conf */
char *ngx_http_velro_pg_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/* "velro_pg_replica" */
char *ngx_http_velro_pg_replica_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
ngx_http_velro_pg_conf_t *ngx_http_velro_pg_get_conf(ngx_conf_t *cf,
    void *conf);

/*
 * NGX_OK: wake will be posted; NGX_DECLINED: PostgreSQL is down;
 * NGX_ABORT: no velro_pg in this worker
 */
ngx_int_t ngx_http_velro_pg_query(ngx_http_velro_pg_req_t *pr);
/*
 * on a pool of its own (velro_pg_replica's): NGX_DECLINED also when no
 * connection is idle, nothing waits there
 */
ngx_int_t ngx_http_velro_pg_pool_query(ngx_http_velro_pg_t *pool,
    ngx_http_velro_pg_req_t *pr);
/* the request goes away: nothing of pr is touched after this */
void ngx_http_velro_pg_cancel(ngx_http_velro_pg_req_t *pr);

/* NGX_DECLINED: no velro_pg in this worker */
ngx_int_t ngx_http_velro_pg_subscribe(ngx_cycle_t *cycle,
    ngx_http_velro_pg_sub_t *sub);
void ngx_http_velro_pg_unsubscribe(ngx_http_velro_pg_sub_t *sub);

/*
 * On a subscriber's connection, ready and with no command under way:
 * prepare (sql set) statement stmt, or run it with values (sql NULL).
 * NGX_OK: result() will be called; NGX_DECLINED: not now (down, or busy);
 * NGX_ERROR: the connection failed, reconnecting.
 */
ngx_int_t ngx_http_velro_pg_sub_send(ngx_http_velro_pg_sub_t *sub,
    const char *stmt, const char *sql, int nparams, const char **values);

ngx_int_t ngx_http_velro_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_velro_pg_conf_t *pcf);
void ngx_http_velro_pg_exit_process(ngx_cycle_t *cycle);

/* a pool, connecting: the worker's, or a replica's */
ngx_http_velro_pg_t *ngx_http_velro_pg_pool_create(ngx_cycle_t *cycle,
    ngx_http_velro_pg_conf_t *pcf);
void ngx_http_velro_pg_pool_destroy(ngx_http_velro_pg_t *pool);


#endif /* _NGX_HTTP_VELRO_PG_H_INCLUDED_ */
