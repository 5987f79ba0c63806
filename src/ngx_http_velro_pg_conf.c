
/*
 * velro: the configuration of the PostgreSQL adapter (ngx_http_velro_pg.c):
 * "velro_pg CONNINFO [pool=N] [connect_timeout=TIME] [timeout=TIME]
 * [prepare=on|off] [listen_conninfo=CONNINFO]", the conninfo checked by
 * libpq's own parser when the configuration is read, and the conf shared
 * with velro_pg_listen and velro_pg_log_poll (ngx_http_velro_pg_listen.c),
 * created by the first of them; and "velro_pg_replica CONNINFO [pool=N]
 * [connect_timeout=TIME] [timeout=TIME]", a conf of its own
 * (ngx_http_velro_pg_replica.c).
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_pg.h"


#define NGX_HTTP_VELRO_PG_POOL_MAX      1024
#define NGX_HTTP_VELRO_PG_REPLICA_POOL  8


static char *ngx_http_velro_pg_args(ngx_conf_t *cf,
    ngx_http_velro_pg_conf_t *pcf);
static char *ngx_http_velro_pg_option(ngx_conf_t *cf, ngx_str_t *value,
    ngx_http_velro_pg_conf_t *pcf);
static char *ngx_http_velro_pg_check_conninfo(ngx_conf_t *cf, u_char *s);


/* configuration */

/* created by the first of velro_pg and velro_pg_listen */

ngx_http_velro_pg_conf_t *
ngx_http_velro_pg_get_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_velro_main_conf_t  *vmcf = conf;

    ngx_http_velro_pg_conf_t  *pcf;

    if (vmcf->pg) {
        return vmcf->pg;
    }

    pcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_velro_pg_conf_t));
    if (pcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     pcf->conninfo = { 0, NULL };
     *     pcf->channel = { 0, NULL };
     *     pcf->channel_set = 0;
     */

    pcf->pool = 20;
    pcf->connect_timeout = 2000;
    pcf->timeout = 1000;
    pcf->poll = NGX_CONF_UNSET_MSEC;

    vmcf->pg = pcf;

    return pcf;
}


char *
ngx_http_velro_pg_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                      *rv;
    ngx_http_velro_pg_conf_t  *pcf;

    pcf = ngx_http_velro_pg_get_conf(cf, conf);
    if (pcf == NULL) {
        return NGX_CONF_ERROR;
    }

    if (pcf->conninfo.len) {
        return "is duplicate";
    }

    rv = ngx_http_velro_pg_args(cf, pcf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (!pcf->channel_set) {
        ngx_str_set(&pcf->channel, "velro_invalidate");
    }

    return NGX_CONF_OK;
}


/* the options of velro_pg but prepare= (velro_pg's) and listen_conninfo= */

char *
ngx_http_velro_pg_replica_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_velro_main_conf_t  *vmcf = conf;

    char                      *rv;
    ngx_http_velro_pg_conf_t  *pcf;

    if (vmcf->pg_replica) {
        return "is duplicate";
    }

    pcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_velro_pg_conf_t));
    if (pcf == NULL) {
        return NGX_CONF_ERROR;
    }

    pcf->pool = NGX_HTTP_VELRO_PG_REPLICA_POOL;
    pcf->connect_timeout = 2000;
    pcf->timeout = 1000;
    pcf->replica = 1;

    rv = ngx_http_velro_pg_args(cf, pcf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    vmcf->pg_replica = pcf;

    return NGX_CONF_OK;
}


/* CONNINFO and the options, of velro_pg or velro_pg_replica */

static char *
ngx_http_velro_pg_args(ngx_conf_t *cf, ngx_http_velro_pg_conf_t *pcf)
{
    ngx_str_t   *value;
    ngx_uint_t   i;

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "has an empty conninfo";
    }

    if (ngx_http_velro_pg_check_conninfo(cf, value[1].data) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    pcf->conninfo = value[1];

    for (i = 2; i < cf->args->nelts; i++) {

        if (pcf->replica
            && (ngx_strncmp(value[i].data, "prepare=", 8) == 0
                || ngx_strncmp(value[i].data, "listen_conninfo=", 16) == 0))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" (velro_pg's only)",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        if (ngx_http_velro_pg_option(cf, &value[i], pcf) != NGX_CONF_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* libpq parses conninfo and URIs; s is NUL-terminated (an argument) */

static char *
ngx_http_velro_pg_check_conninfo(ngx_conf_t *cf, u_char *s)
{
    char              *errmsg;
    size_t             len;
    PQconninfoOption  *opts;

    errmsg = NULL;
    opts = PQconninfoParse((char *) s, &errmsg);

    if (opts == NULL) {
        if (errmsg == NULL) {
            return NGX_CONF_ERROR;
        }

        len = ngx_strlen(errmsg);

        while (len && (errmsg[len - 1] == '\n' || errmsg[len - 1] == ' ')) {
            len--;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid PostgreSQL conninfo: %*s", len, errmsg);
        PQfreemem(errmsg);
        return NGX_CONF_ERROR;
    }

    PQconninfoFree(opts);

    return NGX_CONF_OK;
}


/*
 * one of velro_pg's key=value options: pool=, connect_timeout=, timeout=,
 * prepare=on|off, listen_conninfo=CONNINFO
 */

static char *
ngx_http_velro_pg_option(ngx_conf_t *cf, ngx_str_t *value,
    ngx_http_velro_pg_conf_t *pcf)
{
    size_t      skip;
    ngx_int_t   n;
    ngx_str_t   s;
    ngx_msec_t  ms, *slot;

    if (ngx_strncmp(value->data, "pool=", 5) == 0) {
        n = ngx_atoi(value->data + 5, value->len - 5);

        if (n == NGX_ERROR || n < 1 || n > NGX_HTTP_VELRO_PG_POOL_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid pool size \"%V\", 1 to %d",
                               value, NGX_HTTP_VELRO_PG_POOL_MAX);
            return NGX_CONF_ERROR;
        }

        pcf->pool = (ngx_uint_t) n;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "prepare=", 8) == 0) {

        if (ngx_strcmp(value->data + 8, "on") == 0) {
            pcf->noprepare = 0;

        } else if (ngx_strcmp(value->data + 8, "off") == 0) {
            pcf->noprepare = 1;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\", on or off", value);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "listen_conninfo=", 16) == 0) {

        if (value->len == 16) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "empty \"listen_conninfo=\"");
            return NGX_CONF_ERROR;
        }

        if (ngx_http_velro_pg_check_conninfo(cf, value->data + 16)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }

        pcf->listen_conninfo.data = value->data + 16;
        pcf->listen_conninfo.len = value->len - 16;

        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "connect_timeout=", 16) == 0) {
        slot = &pcf->connect_timeout;
        skip = 16;

    } else if (ngx_strncmp(value->data, "timeout=", 8) == 0) {
        slot = &pcf->timeout;
        skip = 8;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", value);
        return NGX_CONF_ERROR;
    }

    s.data = value->data + skip;
    s.len = value->len - skip;

    ms = ngx_parse_time(&s, 0);

    if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid time in \"%V\"", value);
        return NGX_CONF_ERROR;
    }

    *slot = ms;

    return NGX_CONF_OK;
}
