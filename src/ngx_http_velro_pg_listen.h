
/*
 * velro: the invalidation follower: velro_invalidation_log by cursor on a
 * connection of its own, with LISTEN on the velro_pg_listen channel as a
 * doorbell (ngx_http_velro_pg_listen.c).  One per nginx instance: the
 * worker elected by ngx_http_velro_invalidate.c runs it.
 */


#ifndef _NGX_HTTP_VELRO_PG_LISTEN_H_INCLUDED_
#define _NGX_HTTP_VELRO_PG_LISTEN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_velro_pg.h"


#define NGX_HTTP_VELRO_PG_HOLES        256


/*
 * The cursor, kept by the caller (in shared memory: a worker that takes
 * over continues from it).  seq: the newest seq seen; hole[]: the seqs
 * below it not seen yet (a transaction that took its seq earlier and had
 * not committed), re-read until seen or older than the hole's bound.
 */

typedef struct {
    int64_t                       seq;
    ngx_msec_t                    hole_msec[NGX_HTTP_VELRO_PG_HOLES];
    int64_t                       hole[NGX_HTTP_VELRO_PG_HOLES];
    ngx_uint_t                    nholes;
    ngx_uint_t                    valid;        /* seq known */
    uint64_t                      lsn;          /* the primary's WAL insert
                                                   position at the newest
                                                   read of rows: >= their
                                                   commits */
} ngx_http_velro_pg_cursor_t;


/* a change of the log: kind VELRO_INVALIDATE_x, id 16 bytes */
typedef void (*ngx_http_velro_pg_change_pt)(ngx_uint_t kind, u_char *id,
    int64_t seq);

/* changes were missed: the log no longer reaches back to the cursor */
typedef void (*ngx_http_velro_pg_lost_pt)(void);

/* a batch of changes is in (after its change() calls) */
typedef void (*ngx_http_velro_pg_batch_pt)(void);


/* "velro_pg_listen", "velro_pg_log_poll"; conf is the module's main conf */
char *ngx_http_velro_pg_listen_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_velro_pg_log_poll_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

/* the elected worker: follow from *cursor; NGX_DECLINED: no velro_pg */
ngx_int_t ngx_http_velro_pg_listen_start(ngx_cycle_t *cycle,
    ngx_http_velro_pg_conf_t *pcf, ngx_http_velro_pg_cursor_t *cursor,
    ngx_http_velro_pg_change_pt change, ngx_http_velro_pg_lost_pt lost,
    ngx_http_velro_pg_batch_pt batch);
void ngx_http_velro_pg_listen_stop(void);

/* the changes (from, until] read again from the log, handed to del */
void ngx_http_velro_pg_listen_replay(int64_t from, int64_t until,
    ngx_http_velro_pg_change_pt del);


#endif /* _NGX_HTTP_VELRO_PG_LISTEN_H_INCLUDED_ */
