
/*
 * ngx_http_velro_module: L2, the "velro_redis" directive.
 *
 * The address is resolved here, at configuration time, so that hiredis
 * never resolves a name at run time; the connection itself is
 * ngx_http_velro_redis.c's.
 */


#include "ngx_http_velro_module.h"


#define NGX_HTTP_VELRO_REDIS_PORT        6379


char *
ngx_http_velro_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_velro_main_conf_t *vmcf = conf;

    u_char                       *p;
    size_t                        len;
    ngx_int_t                     n;
    ngx_str_t                    *value, s;
    ngx_url_t                     u;
    ngx_uint_t                    i;
    ngx_http_velro_redis_conf_t  *rcf;

    if (vmcf->redis) {
        return "is duplicate";
    }

    rcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_velro_redis_conf_t));
    if (rcf == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    rcf->addr = value[1];
    rcf->db = -1;
    ngx_str_set(&rcf->prefix, "velro:");
    rcf->connect_timeout = 1000;
    rcf->timeout = 200;
    rcf->scripts = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "password=", 9) == 0) {
            rcf->password.len = value[i].len - 9;
            rcf->password.data = value[i].data + 9;

            if (rcf->password.len == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "user=", 5) == 0) {
            rcf->user.len = value[i].len - 5;
            rcf->user.data = value[i].data + 5;

            if (rcf->user.len == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            n = ngx_atoi(value[i].data + 3, value[i].len - 3);

            if (n == NGX_ERROR) {
                goto invalid;
            }

            rcf->db = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "prefix=", 7) == 0) {
            rcf->prefix.len = value[i].len - 7;
            rcf->prefix.data = value[i].data + 7;
            continue;
        }

        if (ngx_strncmp(value[i].data, "connect_timeout=", 16) == 0) {
            s.len = value[i].len - 16;
            s.data = value[i].data + 16;

            rcf->connect_timeout = ngx_parse_time(&s, 0);

            if (rcf->connect_timeout == (ngx_msec_t) NGX_ERROR
                || rcf->connect_timeout == 0)
            {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.len = value[i].len - 8;
            s.data = value[i].data + 8;

            rcf->timeout = ngx_parse_time(&s, 0);

            if (rcf->timeout == (ngx_msec_t) NGX_ERROR || rcf->timeout == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "scripts=", 8) == 0) {

            if (ngx_strcmp(value[i].data + 8, "on") == 0) {
                rcf->scripts = 1;

            } else if (ngx_strcmp(value[i].data + 8, "off") == 0) {
                rcf->scripts = 0;

            } else {
                goto invalid;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    /* Redis 6's "AUTH user password": an ACL user needs its password */

    if (rcf->user.len && rcf->password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"user=\" needs \"password=\"");
        return NGX_CONF_ERROR;
    }

    /* resolved here, so hiredis never resolves a name at run time */

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = value[1];
    u.default_port = NGX_HTTP_VELRO_REDIS_PORT;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in \"%V\" of the \"%V\" directive",
                               u.err, &u.url, &cmd->name);
        }

        return NGX_CONF_ERROR;
    }

    if (u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no address for \"%V\" of the \"%V\" directive",
                           &u.url, &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (u.family == AF_UNIX) {
        p = ngx_pnalloc(cf->pool, u.host.len + 1);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        (void) ngx_cpystrn(p, u.host.data, u.host.len + 1);

        rcf->path.len = u.host.len;
        rcf->path.data = p;

    } else {
        p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, p,
                            NGX_SOCKADDR_STRLEN, 0);
        p[len] = '\0';

        rcf->host.len = len;
        rcf->host.data = p;
        rcf->port = ngx_inet_get_port(u.addrs[0].sockaddr);
    }

    vmcf->redis = rcf;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}
