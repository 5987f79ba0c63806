
/*
 * velro: a libpq connection on nginx's event loop, the lowest layer of
 * the PostgreSQL adapter (ngx_http_velro_pg.c): the connection parameters
 * (our defaults, the conninfo, and a multi-host list rotated so that an
 * attempt after a host that hung starts with the next one),
 * PQconnectPoll() driven by the socket's events, the socket as an nginx
 * connection (looked at after every poll, replaced when libpq replaces
 * it: another host of the list, an SSL or GSS fallback), level-triggered
 * interest, flushing, reading, and collecting a command's results without
 * ever waiting for more.  What a connection does with what arrives is its
 * handler's: connected, a command complete, input while idle
 * (notifications), a failure.
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


/* the connection parameters */

static char **ngx_http_velro_pg_split(const char *list, ngx_uint_t *n,
    ngx_pool_t *pool);
static char *ngx_http_velro_pg_rotate(char **entries, ngx_uint_t n,
    ngx_uint_t first, ngx_pool_t *pool);


ngx_int_t
ngx_http_velro_pg_params(ngx_http_velro_pg_params_t *pp, ngx_str_t *conninfo,
    ngx_pool_t *pool, ngx_log_t *log)
{
    char              **hosts, **addrs, **ports;
    ngx_uint_t          i, k, n, nhost, naddr, nport;
    const char        **kw, **val;
    PQconninfoOption   *opts, *o;

    /* checked when the configuration was read */

    opts = PQconninfoParse((char *) conninfo->data, NULL);
    if (opts == NULL) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "velro: postgres conninfo not parsed");
        return NGX_ERROR;
    }

    hosts = NULL;
    addrs = NULL;
    ports = NULL;
    nhost = 0;
    naddr = 0;
    nport = 0;

    for (o = opts; o->keyword; o++) {

        if (o->val == NULL || o->val[0] == '\0') {
            continue;
        }

        if (ngx_strcmp(o->keyword, "host") == 0) {
            hosts = ngx_http_velro_pg_split(o->val, &nhost, pool);

        } else if (ngx_strcmp(o->keyword, "hostaddr") == 0) {
            addrs = ngx_http_velro_pg_split(o->val, &naddr, pool);

        } else if (ngx_strcmp(o->keyword, "port") == 0) {
            ports = ngx_http_velro_pg_split(o->val, &nport, pool);

        } else {
            continue;
        }

        if ((hosts == NULL && nhost) || (addrs == NULL && naddr)
            || (ports == NULL && nport))
        {
            PQconninfoFree(opts);
            return NGX_ERROR;
        }
    }

    PQconninfoFree(opts);

    n = ngx_max(nhost, naddr);

    /* lists libpq would refuse are left to it, unrotated */

    if (n < 2 || (nhost && nhost != n) || (naddr && naddr != n)
        || (nport > 1 && nport != n))
    {
        n = 1;
    }

    pp->nhosts = n;
    pp->hosts = (nhost == n) ? hosts : NULL;
    pp->hostaddrs = (naddr == n) ? addrs : NULL;
    pp->ports = (nport == n && n > 1) ? ports : NULL;

    pp->keywords = ngx_pcalloc(pool, n * NGX_HTTP_VELRO_PG_NPARAMS
                                     * sizeof(char *));
    pp->values = ngx_pcalloc(pool, n * NGX_HTTP_VELRO_PG_NPARAMS
                                   * sizeof(char *));
    if (pp->keywords == NULL || pp->values == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        kw = &pp->keywords[i * NGX_HTTP_VELRO_PG_NPARAMS];
        val = &pp->values[i * NGX_HTTP_VELRO_PG_NPARAMS];

        /*
         * Our defaults come before "dbname", which expands the configured
         * conninfo: what it sets wins.  Keepalives find a dead server on a
         * quiet connection, a subscriber's above all.
         */

        kw[0] = "fallback_application_name";
        val[0] = "nginx-velro";
        kw[1] = "keepalives";
        val[1] = "1";
        kw[2] = "keepalives_idle";
        val[2] = "30";
        kw[3] = "keepalives_interval";
        val[3] = "10";
        kw[4] = "keepalives_count";
        val[4] = "3";
        kw[5] = "dbname";
        val[5] = (const char *) conninfo->data;

        k = 6;

        if (n > 1) {
            /* the same lists, from host i on: later keywords win */

            if (pp->hosts) {
                kw[k] = "host";
                val[k++] = ngx_http_velro_pg_rotate(pp->hosts, n, i, pool);
            }

            if (pp->hostaddrs) {
                kw[k] = "hostaddr";
                val[k++] = ngx_http_velro_pg_rotate(pp->hostaddrs, n, i, pool);
            }

            if (pp->ports) {
                kw[k] = "port";
                val[k++] = ngx_http_velro_pg_rotate(pp->ports, n, i, pool);
            }

            while (k > 6) {
                if (val[--k] == NULL) {
                    return NGX_ERROR;
                }
            }
        }

        /* NULL-terminated: pcalloc'ed */
    }

    return NGX_OK;
}


/* a libpq list: entries between commas, empty ones included */

static char **
ngx_http_velro_pg_split(const char *list, ngx_uint_t *n, ngx_pool_t *pool)
{
    char        **e;
    size_t        len;
    ngx_uint_t    i;
    const char   *p, *q;

    for (*n = 1, p = list; *p; p++) {
        if (*p == ',') {
            (*n)++;
        }
    }

    e = ngx_palloc(pool, *n * sizeof(char *));
    if (e == NULL) {
        return NULL;
    }

    for (i = 0, p = list; i < *n; i++) {
        q = p;

        while (*q && *q != ',') {
            q++;
        }

        len = q - p;

        e[i] = ngx_pnalloc(pool, len + 1);
        if (e[i] == NULL) {
            return NULL;
        }

        ngx_memcpy(e[i], p, len);
        e[i][len] = '\0';

        p = *q ? q + 1 : q;
    }

    return e;
}


static char *
ngx_http_velro_pg_rotate(char **entries, ngx_uint_t n, ngx_uint_t first,
    ngx_pool_t *pool)
{
    char        *s, *p;
    size_t       len;
    ngx_uint_t   i;

    len = 0;

    for (i = 0; i < n; i++) {
        len += ngx_strlen(entries[i]) + 1;
    }

    s = ngx_pnalloc(pool, len);
    if (s == NULL) {
        return NULL;
    }

    p = s;

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
        }

        p = (char *) ngx_cpystrn((u_char *) p,
                                 (u_char *) entries[(first + i) % n],
                                 len - (p - s));
    }

    *p = '\0';

    return s;
}


PGconn *
ngx_http_velro_pg_start(ngx_http_velro_pg_conn_t *pc)
{
    ngx_uint_t                   i;
    ngx_http_velro_pg_params_t  *pp;

    pp = pc->params;
    i = pc->first % pp->nhosts;

    return PQconnectStartParams(&pp->keywords[i * NGX_HTTP_VELRO_PG_NPARAMS],
                                &pp->values[i * NGX_HTTP_VELRO_PG_NPARAMS],
                                1);
}


/*
 * The connect timer ended an attempt while libpq was at PQhost():PQport()
 * (the host of the list it was trying, unanswered): the next attempt
 * starts with the host after that one, else with the next set.
 */

void
ngx_http_velro_pg_next_host(ngx_http_velro_pg_conn_t *pc)
{
    char                        *host, *port, *h;
    ngx_uint_t                   i, e, n;
    ngx_http_velro_pg_params_t  *pp;

    pp = pc->params;
    n = pp->nhosts;

    if (n < 2) {
        return;
    }

    host = pc->pg ? PQhost(pc->pg) : NULL;
    port = pc->pg ? PQport(pc->pg) : NULL;

    for (i = 0; host && i < n; i++) {
        e = (pc->first + i) % n;

        h = (pp->hosts && pp->hosts[e][0]) ? pp->hosts[e]
            : pp->hostaddrs ? pp->hostaddrs[e] : NULL;

        if (h == NULL || ngx_strcmp(h, host) != 0) {
            continue;
        }

        if (pp->ports && (port == NULL || ngx_strcmp(pp->ports[e], port) != 0))
        {
            continue;
        }

        pc->first = (e + 1) % n;

        ngx_log_error(NGX_LOG_WARN, pc->log, 0,
                      "velro: postgres connect to \"%s:%s\" timed out on "
                      "connection #%ui, the next attempt starts with host "
                      "%ui of %ui", host, port ? port : "", pc->id,
                      pc->first + 1, n);
        return;
    }

    pc->first = (pc->first + 1) % n;
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


/* "X/Y": the two halves in hex */

uint64_t
ngx_http_velro_pg_lsn(u_char *p, size_t len)
{
    u_char    *slash;
    ngx_int_t  hi, lo;

    slash = ngx_strlchr(p, p + len, '/');

    if (slash == NULL || slash == p || slash == p + len - 1) {
        return 0;
    }

    hi = ngx_hextoi(p, slash - p);
    lo = ngx_hextoi(slash + 1, p + len - slash - 1);

    if (hi == NGX_ERROR || lo == NGX_ERROR) {
        return 0;
    }

    return ((uint64_t) hi << 32) | (uint64_t) lo;
}
