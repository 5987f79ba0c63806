
/*
 * velro: a libpq connection on nginx's event loop (ngx_http_velro_pg_conn.c),
 * for the PostgreSQL adapter's pool and subscribers (ngx_http_velro_pg.c).
 */


#ifndef _NGX_HTTP_VELRO_PG_CONN_H_INCLUDED_
#define _NGX_HTTP_VELRO_PG_CONN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <libpq-fe.h>

#include "ngx_http_velro_pg.h"


/*
 * The states: DOWN -> CONNECTING -> PREPARING -> PREPARING_WARM
 * (LISTEN_SENT for a subscriber's) -> IDLE <-> BUSY (LISTENING).  In
 * PREPARING, PREPARING_WARM, LISTEN_SENT and BUSY a command is under way:
 * what arrives are its results; in IDLE and LISTENING, input.
 */
#define NGX_HTTP_VELRO_PG_DOWN          0
#define NGX_HTTP_VELRO_PG_CONNECTING    1
#define NGX_HTTP_VELRO_PG_PREPARING     2
#define NGX_HTTP_VELRO_PG_PREPARING_WARM  3
#define NGX_HTTP_VELRO_PG_LISTEN_SENT   4
#define NGX_HTTP_VELRO_PG_IDLE          5
#define NGX_HTTP_VELRO_PG_BUSY          6
#define NGX_HTTP_VELRO_PG_LISTENING     7


/*
 * What PQconnectStartParams() gets: our defaults, then the conninfo
 * (expanded from "dbname"), then for a conninfo of several hosts its
 * host, hostaddr and port lists again, rotated: set i starts with the
 * conninfo's host i.  libpq tries a list in order, and a host that hangs
 * (no answer, not a refusal) holds it until our connect timer ends the
 * whole attempt: the next one then starts with the host after it.
 */

#define NGX_HTTP_VELRO_PG_NPARAMS  10

typedef struct {
    ngx_uint_t                    nhosts;       /* sets; 1: no rotation */
    const char                  **keywords;     /* nhosts sets of NPARAMS */
    const char                  **values;
    char                        **hosts;        /* the entries, NULL: none */
    char                        **hostaddrs;
    char                        **ports;        /* NULL: one or none */
} ngx_http_velro_pg_params_t;


typedef struct {
    /* PQconnectPoll() said PGRES_POLLING_OK */
    void  (*connected)(ngx_http_velro_pg_conn_t *pc);
    /* the command under way is over: pc->res has its result */
    void  (*complete)(ngx_http_velro_pg_conn_t *pc);
    /* input with no command under way: notifications */
    void  (*input)(ngx_http_velro_pg_conn_t *pc);
    /* err NULL: PQerrorMessage() */
    void  (*fail)(ngx_http_velro_pg_conn_t *pc, const char *err,
                  ngx_uint_t timedout);
} ngx_http_velro_pg_handler_t;


struct ngx_http_velro_pg_conn_s {
    PGconn                       *pg;
    ngx_connection_t             *c;            /* wraps PQsocket() */
    ngx_file_uniq_t               uniq;         /* the socket c was made for */
    ngx_http_velro_pg_handler_t  *handler;
    ngx_http_velro_pg_params_t   *params;
    ngx_uint_t                    first;        /* params set: first host */
    ngx_log_t                    *log;
    ngx_http_velro_pg_t          *pool;
    ngx_http_velro_pg_sub_t      *sub;          /* NULL: in the pool */
    ngx_http_velro_pg_req_t      *req;          /* NULL: none, or gone */
    PGresult                     *res;          /* of the command under way */
    ngx_event_t                   timer;        /* backoff, connect, query */
    ngx_queue_t                   queue;        /* in pool->idle */
    ngx_msec_t                    backoff;
    ngx_uint_t                    state;
    ngx_uint_t                    id;
    uint64_t                      replay;       /* a replica's: LSN replayed
                                                   as of its last answer */

    unsigned                      idle:1;       /* in pool->idle */
    unsigned                      up:1;         /* counted in pool->nup */
    unsigned                      flushing:1;   /* PQflush() returned 1 */
    unsigned                      warm:1;       /* velro_l3_warm prepared */
};


/* a pool (ngx_http_velro_pg.c, made by ngx_http_velro_pg_pool.c) */

struct ngx_http_velro_pg_s {
    ngx_http_velro_pg_conf_t     *conf;
    ngx_log_t                    *log;

    ngx_http_velro_pg_conn_t     *conns;
    ngx_uint_t                    nconns;
    ngx_uint_t                    nsubs;        /* subscribers so far */
    ngx_uint_t                    nup;          /* IDLE or BUSY */

    ngx_queue_t                   idle;         /* connections */
    ngx_queue_t                   waiting;      /* requests, FIFO */

    ngx_http_velro_pg_params_t    params;
    ngx_http_velro_pg_params_t    listen_params;  /* subscribers' */

    ngx_msec_t                    kicked;       /* a connection tried
                                                   for a lookup, down */

    unsigned                      down:1;       /* fail fast */
    unsigned                      failing:1;    /* a failure was logged */
    unsigned                      warm_failing:1;  /* velro_l3_warm not
                                                      prepared, logged */
};


/* velro_pg's, in this worker */
extern ngx_http_velro_pg_t  *ngx_http_velro_pg_state;


/* ngx_http_velro_pg.c's, for the pools */
void ngx_http_velro_pg_conn_init(ngx_http_velro_pg_conn_t *pc,
    ngx_http_velro_pg_t *pool, ngx_http_velro_pg_params_t *params,
    ngx_uint_t id, ngx_log_t *log);
void ngx_http_velro_pg_connect(ngx_http_velro_pg_conn_t *pc);
void ngx_http_velro_pg_close(ngx_http_velro_pg_conn_t *pc);

ngx_int_t ngx_http_velro_pg_params(ngx_http_velro_pg_params_t *pp,
    ngx_str_t *conninfo, ngx_pool_t *pool, ngx_log_t *log);
/* PQconnectStartParams() with pc->params, from pc->first on */
PGconn *ngx_http_velro_pg_start(ngx_http_velro_pg_conn_t *pc);
/* the connect timer ended an attempt: the next starts after its host */
void ngx_http_velro_pg_next_host(ngx_http_velro_pg_conn_t *pc);

/* pc->c for PQsocket(), a new one if libpq replaced the socket */
ngx_int_t ngx_http_velro_pg_socket(ngx_http_velro_pg_conn_t *pc);
void ngx_http_velro_pg_free_socket(ngx_http_velro_pg_conn_t *pc);
ngx_int_t ngx_http_velro_pg_want(ngx_http_velro_pg_conn_t *pc,
    ngx_uint_t read, ngx_uint_t write);
ngx_int_t ngx_http_velro_pg_flush(ngx_http_velro_pg_conn_t *pc);

/* "X/Y", the text of a pg_lsn; 0: not one */
uint64_t ngx_http_velro_pg_lsn(u_char *p, size_t len);

/* libpq's messages on one line, without the trailing newline */
size_t ngx_http_velro_pg_message(const char *msg, u_char *buf, size_t size);
/* a PQnoticeProcessor, arg the connection */
void ngx_http_velro_pg_notice(void *arg, const char *message);


#endif /* _NGX_HTTP_VELRO_PG_CONN_H_INCLUDED_ */
