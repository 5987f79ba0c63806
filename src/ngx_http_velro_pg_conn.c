
/*
 * velro: a libpq connection on nginx's event loop, the lowest layer of
 * the PostgreSQL adapter (ngx_http_velro_pg.c): PQconnectPoll() driven by
 * the socket's events, the socket as an nginx connection (replaced when
 * libpq replaces it), level-triggered interest, flushing, reading, and
 * collecting a command's results without ever waiting for more.  What a
 * connection does with what arrives is its handler's: connected, a
 * command complete, input while idle (notifications), a failure.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_pg_conn.h"


static void ngx_http_velro_pg_poll(ngx_http_velro_pg_conn_t *pc);
static void ngx_http_velro_pg_event_handler(ngx_event_t *ev);
static void ngx_http_velro_pg_read(ngx_http_velro_pg_conn_t *pc);
static void ngx_http_velro_pg_results(ngx_http_velro_pg_conn_t *pc);


static void
ngx_http_velro_pg_poll(ngx_http_velro_pg_conn_t *pc)
{
    PostgresPollingStatusType  st;

    st = PQconnectPoll(pc->pg);

    if (st == PGRES_POLLING_FAILED) {
        pc->handler->fail(pc, NULL, 0);
        return;
    }

    /* another host or an SSL fallback may have replaced the socket */

    if (ngx_http_velro_pg_socket(pc) != NGX_OK) {
        pc->handler->fail(pc, NULL, 0);
        return;
    }

    switch (st) {

    case PGRES_POLLING_OK:
        pc->handler->connected(pc);
        return;

    case PGRES_POLLING_READING:
        if (ngx_http_velro_pg_want(pc, 1, 0) != NGX_OK) {
            pc->handler->fail(pc, NULL, 0);
        }

        return;

    default: /* PGRES_POLLING_WRITING */
        if (ngx_http_velro_pg_want(pc, 0, 1) != NGX_OK) {
            pc->handler->fail(pc, NULL, 0);
        }

        return;
    }
}


/*
 * Makes pc->c the nginx connection of PQsocket().  The descriptor's number
 * alone does not say whether libpq replaced the socket (the new one often
 * gets the old number), its inode does.  A replaced socket was closed by
 * libpq, which took it out of epoll: the old connection's events are only
 * marked inactive (NGX_CLOSE_EVENT).
 */

ngx_int_t
ngx_http_velro_pg_socket(ngx_http_velro_pg_conn_t *pc)
{
    int                s;
    ngx_connection_t  *c;
    ngx_file_info_t    fi;

    s = PQsocket(pc->pg);

    if (s == -1) {
        return NGX_ERROR;
    }

    if (ngx_fd_info(s, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, pc->log, ngx_errno,
                      "velro: postgres: fstat(%d) failed", s);
        return NGX_ERROR;
    }

    if (pc->c) {
        if (pc->c->fd == (ngx_socket_t) s && pc->uniq == ngx_file_uniq(&fi)) {
            return NGX_OK;
        }

        ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pc->log, 0,
                       "velro: postgres socket changed: %d -> %d",
                       pc->c->fd, s);

        ngx_http_velro_pg_free_socket(pc);
    }

    c = ngx_get_connection((ngx_socket_t) s, pc->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = pc;

    c->read->handler = ngx_http_velro_pg_event_handler;
    c->write->handler = ngx_http_velro_pg_event_handler;
    c->read->log = c->log;
    c->write->log = c->log;

    pc->c = c;
    pc->uniq = ngx_file_uniq(&fi);

    return NGX_OK;
}


/* forgets the nginx connection; the socket is libpq's to close */

void
ngx_http_velro_pg_free_socket(ngx_http_velro_pg_conn_t *pc)
{
    ngx_connection_t  *c;

    c = pc->c;

    if (c->read->active || c->read->disabled) {
        ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->write->active || c->write->disabled) {
        ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    ngx_free_connection(c);

    c->fd = (ngx_socket_t) -1;

    pc->c = NULL;
}


/* level-triggered interest in exactly these directions */

ngx_int_t
ngx_http_velro_pg_want(ngx_http_velro_pg_conn_t *pc, ngx_uint_t read,
    ngx_uint_t write)
{
    ngx_connection_t  *c;

    c = pc->c;

    if (read && !c->read->active) {
        if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (!read && c->read->active) {
        if (ngx_del_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (write && !c->write->active) {
        if (ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (!write && c->write->active) {
        if (ngx_del_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* once connected, a connection always reads; it writes while libpq must */

ngx_int_t
ngx_http_velro_pg_flush(ngx_http_velro_pg_conn_t *pc)
{
    int  rc;

    rc = PQflush(pc->pg);

    if (rc < 0) {
        return NGX_ERROR;
    }

    pc->flushing = (rc == 1);

    return ngx_http_velro_pg_want(pc, 1, pc->flushing);
}


static void
ngx_http_velro_pg_event_handler(ngx_event_t *ev)
{
    ngx_connection_t          *c;
    ngx_http_velro_pg_conn_t  *pc;

    c = ev->data;
    pc = c->data;

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, ev->log, 0,
                   "velro: postgres #%ui %s event, state %ui",
                   pc->id, ev->write ? "write" : "read", pc->state);

    switch (pc->state) {

    case NGX_HTTP_VELRO_PG_CONNECTING:
        ngx_http_velro_pg_poll(pc);
        return;

    case NGX_HTTP_VELRO_PG_DOWN:
        return;

    default:
        if (ev->write) {
            if (ngx_http_velro_pg_flush(pc) != NGX_OK) {
                pc->handler->fail(pc, NULL, 0);
            }

            return;
        }

        ngx_http_velro_pg_read(pc);
        return;
    }
}


static void
ngx_http_velro_pg_read(ngx_http_velro_pg_conn_t *pc)
{
    if (!PQconsumeInput(pc->pg)) {
        pc->handler->fail(pc, NULL, 0);
        return;
    }

    if (pc->flushing && ngx_http_velro_pg_flush(pc) != NGX_OK) {
        pc->handler->fail(pc, NULL, 0);
        return;
    }

    switch (pc->state) {

    case NGX_HTTP_VELRO_PG_PREPARING:
    case NGX_HTTP_VELRO_PG_PREPARING_WARM:
    case NGX_HTTP_VELRO_PG_LISTEN_SENT:
    case NGX_HTTP_VELRO_PG_BUSY:
        ngx_http_velro_pg_results(pc);
        return;

    default: /* NGX_HTTP_VELRO_PG_IDLE, NGX_HTTP_VELRO_PG_LISTENING */
        pc->handler->input(pc);
        break;
    }

    if (PQstatus(pc->pg) == CONNECTION_BAD) {
        pc->handler->fail(pc, NULL, 0);
    }
}


/* collects the results that arrived, never waiting for more */

static void
ngx_http_velro_pg_results(ngx_http_velro_pg_conn_t *pc)
{
    PGresult  *res;

    for ( ;; ) {

        if (PQisBusy(pc->pg)) {
            if (PQstatus(pc->pg) == CONNECTION_BAD) {
                pc->handler->fail(pc, NULL, 0);
            }

            return;
        }

        res = PQgetResult(pc->pg);

        if (res == NULL) {
            pc->handler->complete(pc);
            return;
        }

        /* the first error wins, else the first result */

        if (pc->res == NULL
            || (PQresultStatus(pc->res) != PGRES_FATAL_ERROR
                && PQresultStatus(res) == PGRES_FATAL_ERROR))
        {
            if (pc->res) {
                PQclear(pc->res);
            }

            pc->res = res;

        } else {
            PQclear(res);
        }
    }
}


/* libpq's messages on one line, without the trailing newline */

size_t
ngx_http_velro_pg_message(const char *msg, u_char *buf, size_t size)
{
    size_t  n;

    for (n = 0; *msg && n < size; msg++) {

        if (*msg == '\n' || *msg == '\r' || *msg == '\t') {
            if (n && buf[n - 1] != ' ') {
                buf[n++] = ' ';
            }

            continue;
        }

        buf[n++] = (u_char) *msg;
    }

    while (n && buf[n - 1] == ' ') {
        n--;
    }

    return n;
}


void
ngx_http_velro_pg_notice(void *arg, const char *message)
{
    ngx_http_velro_pg_conn_t  *pc = arg;

    size_t  len;
    u_char  msg[512];

    len = ngx_http_velro_pg_message(message, msg, sizeof(msg));

    ngx_log_error(NGX_LOG_NOTICE, pc->log, 0,
                  "velro: postgres: %*s", len, msg);
}
