
/*
 * velro: the invalidation subscriber: a connection of its own (a
 * subscriber of ngx_http_velro_pg.c's) that LISTENs on the velro_pg_listen
 * channel and hands each notification's payload to the module
 * (ngx_http_velro_invalidate()), and says when it (re)started listening,
 * notifications sent before then being lost
 * (ngx_http_velro_invalidate_listening()).
 *
 * One subscriber per worker, on velro_pg's conninfo.  Its state is all in
 * ngx_http_velro_pg_listen_t, so that more of them (one per host) are
 * more of these.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_pg_listen.h"


typedef struct {
    ngx_http_velro_pg_sub_t       sub;          /* first */
    ngx_str_t                     channel;
    ngx_log_t                    *log;
    ngx_http_velro_pg_notify_pt   notify;
    ngx_http_velro_pg_listen_pt   listening;

    unsigned                      failing:1;    /* a failure was logged */
} ngx_http_velro_pg_listen_t;


static void ngx_http_velro_pg_listen_ready(ngx_http_velro_pg_sub_t *sub);
static void ngx_http_velro_pg_listen_notify(ngx_http_velro_pg_sub_t *sub,
    const char *channel, const char *payload);
static void ngx_http_velro_pg_listen_failed(ngx_http_velro_pg_sub_t *sub,
    ngx_uint_t was_up, u_char *msg, size_t len);


static ngx_http_velro_pg_listen_t  *ngx_http_velro_pg_listen_state;


char *
ngx_http_velro_pg_listen_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    u_char                     ch;
    ngx_str_t                 *value;
    ngx_uint_t                 i;
    ngx_http_velro_pg_conf_t  *pcf;

    pcf = ngx_http_velro_pg_get_conf(cf, conf);
    if (pcf == NULL) {
        return NGX_CONF_ERROR;
    }

    if (pcf->channel_set) {
        return "is duplicate";
    }

    value = cf->args->elts;

    pcf->channel_set = 1;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ngx_str_set(&pcf->channel, "");
        return NGX_CONF_OK;
    }

    /* an identifier: it goes into LISTEN "CHANNEL" as is */

    if (value[1].len == 0 || value[1].len > 63) {
        goto invalid;
    }

    for (i = 0; i < value[1].len; i++) {
        ch = value[1].data[i];

        if (ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (i > 0 && ch >= '0' && ch <= '9'))
        {
            continue;
        }

        goto invalid;
    }

    pcf->channel = value[1];

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid channel \"%V\": an identifier "
                       "([A-Za-z_][A-Za-z0-9_]*, 63 characters at most) "
                       "or \"off\"", &value[1]);
    return NGX_CONF_ERROR;
}


/* LISTEN succeeded: whatever was sent before is lost, say so */

static void
ngx_http_velro_pg_listen_ready(ngx_http_velro_pg_sub_t *sub)
{
    ngx_http_velro_pg_listen_t  *ls = (ngx_http_velro_pg_listen_t *) sub;

    if (ls->failing) {
        ls->failing = 0;

        ngx_log_error(NGX_LOG_ERR, ls->log, 0,
                      "velro: postgres LISTEN \"%V\" re-established",
                      &ls->channel);

    } else {
        ngx_log_error(NGX_LOG_INFO, ls->log, 0,
                      "velro: postgres LISTEN \"%V\"", &ls->channel);
    }

    if (ls->listening) {
        ls->listening();
    }
}


static void
ngx_http_velro_pg_listen_notify(ngx_http_velro_pg_sub_t *sub,
    const char *channel, const char *payload)
{
    ngx_http_velro_pg_listen_t  *ls = (ngx_http_velro_pg_listen_t *) sub;

    ngx_str_t  s;

    if (ngx_strlen(channel) != ls->channel.len
        || ngx_strncmp(channel, ls->channel.data, ls->channel.len) != 0)
    {
        return;
    }

    s.data = (u_char *) payload;
    s.len = ngx_strlen(payload);

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ls->log, 0,
                   "velro: postgres notification \"%V\"", &s);

    if (ls->notify) {
        ls->notify(&s);
    }
}


/* the transitions are logged, the retries are not */

static void
ngx_http_velro_pg_listen_failed(ngx_http_velro_pg_sub_t *sub,
    ngx_uint_t was_up, u_char *msg, size_t len)
{
    ngx_http_velro_pg_listen_t  *ls = (ngx_http_velro_pg_listen_t *) sub;

    if (was_up || !ls->failing) {
        ngx_log_error(NGX_LOG_ERR, ls->log, 0,
                      "velro: postgres LISTEN connection %s: %*s, "
                      "reconnecting", was_up ? "lost" : "failed",
                      len, msg);
        ls->failing = 1;
    }
}


/* the worker: after ngx_http_velro_pg_init_process() */

ngx_int_t
ngx_http_velro_pg_listen_init_process(ngx_cycle_t *cycle,
    ngx_http_velro_pg_conf_t *pcf, ngx_http_velro_pg_notify_pt notify,
    ngx_http_velro_pg_listen_pt listening)
{
    u_char                      *p;
    ngx_int_t                    rc;
    ngx_http_velro_pg_listen_t  *ls;

    if (ngx_process == NGX_PROCESS_HELPER || ngx_http_velro_pg_listen_state
        || pcf->channel.len == 0)
    {
        return NGX_OK;
    }

    ls = ngx_calloc(sizeof(ngx_http_velro_pg_listen_t)
                    + sizeof("LISTEN \"\"") + pcf->channel.len, cycle->log);
    if (ls == NULL) {
        return NGX_ERROR;
    }

    p = (u_char *) (ls + 1);

    ls->sub.sql = (const char *) p;
    ls->sub.ready = ngx_http_velro_pg_listen_ready;
    ls->sub.notify = ngx_http_velro_pg_listen_notify;
    ls->sub.failed = ngx_http_velro_pg_listen_failed;

    p = ngx_sprintf(p, "LISTEN \"%V\"", &pcf->channel);
    *p = '\0';

    ls->channel = pcf->channel;
    ls->log = cycle->log;
    ls->notify = notify;
    ls->listening = listening;

    ngx_http_velro_pg_listen_state = ls;

    rc = ngx_http_velro_pg_subscribe(cycle, &ls->sub);

    if (rc != NGX_OK) {
        ngx_http_velro_pg_listen_state = NULL;
        ngx_free(ls);

        /* NGX_DECLINED: no velro_pg, as the pool has said */

        return (rc == NGX_DECLINED) ? NGX_OK : NGX_ERROR;
    }

    return NGX_OK;
}


/* before ngx_http_velro_pg_exit_process() */

void
ngx_http_velro_pg_listen_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_velro_pg_listen_t  *ls;

    ls = ngx_http_velro_pg_listen_state;

    if (ls == NULL) {
        return;
    }

    ngx_http_velro_pg_unsubscribe(&ls->sub);
    ngx_free(ls);

    ngx_http_velro_pg_listen_state = NULL;
}
