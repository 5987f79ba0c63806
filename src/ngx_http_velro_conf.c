
/*
 * ngx_http_velro_module: the setters of the hub's directives that no
 * ngx_conf_set_*_slot() covers: JWT (velro_jwt, velro_jwt_key_file,
 * velro_jwt_key_request, velro_jwt_algorithms, velro_jwt_token, the lists
 * of velro_jwt_audience and velro_jwt_require), authorization
 * (velro_authz_resource, velro_authz_action, velro_authz_deny_status) and
 * the L1 cache (velro_cache_l1, velro_cache_ttl).  The command table,
 * the confs and their merging stay in ngx_http_velro_module.c.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_conf.h"
#include "ngx_http_velro_jwks.h"


static ngx_http_complex_value_t *ngx_http_velro_conf_complex_value(
    ngx_conf_t *cf, ngx_str_t *value);


static ngx_str_t  ngx_http_velro_ttl_types[NGX_HTTP_VELRO_NTYPES] = {
    ngx_string("auth"),
    ngx_string("ownership"),
    ngx_string("team_access"),
    ngx_string("project_vis"),
    ngx_string("gen_media")
};


/* JWT */

char *
ngx_http_velro_jwt(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_velro_loc_conf_t  *vlcf = conf;

    size_t      i;
    ngx_str_t  *value;

    if (vlcf->jwt != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        vlcf->jwt = NGX_HTTP_VELRO_JWT_OFF;
        return NGX_CONF_OK;
    }

    vlcf->jwt = NGX_HTTP_VELRO_JWT_ON;

    if (ngx_strcmp(value[1].data, "on") == 0) {
        ngx_str_set(&vlcf->realm, "velro");
        return NGX_CONF_OK;
    }

    /* the realm goes into a quoted-string: keep it plain */

    for (i = 0; i < value[1].len; i++) {
        if (value[1].data[i] < 0x20 || value[1].data[i] == '"'
            || value[1].data[i] == '\\' || value[1].data[i] == 0x7f)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid realm \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    vlcf->realm = value[1];

    return NGX_CONF_OK;
}


char *
ngx_http_velro_key_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_velro_loc_conf_t  *vlcf = conf;

    ngx_str_t  *value, *path;

    value = cf->args->elts;

    if (vlcf->key_files == NULL) {
        vlcf->key_files = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
        if (vlcf->key_files == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    path = ngx_array_push(vlcf->key_files);
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    *path = value[1];

    if (ngx_conf_full_name(cf->cycle, path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_velro_key_request(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_velro_loc_conf_t  *vlcf = conf;

    ngx_str_t                     *value;
    ngx_http_velro_jwks_remote_t  *remote;

    if (vlcf->remote != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        vlcf->remote = NULL;
        return NGX_CONF_OK;
    }

    if (value[1].len == 0 || value[1].data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is not a local URI", &value[1]);
        return NGX_CONF_ERROR;
    }

    remote = ngx_http_velro_jwks_remote(cf, &value[1]);
    if (remote == NULL) {
        return NGX_CONF_ERROR;
    }

    vlcf->remote = remote;

    return NGX_CONF_OK;
}


char *
ngx_http_velro_algorithms(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_velro_loc_conf_t  *vlcf = conf;

    int         alg;
    ngx_str_t  *value;
    ngx_uint_t  i;

    if (vlcf->algs != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    vlcf->algs = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strcasecmp(value[i].data, (u_char *) "none") == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "algorithm \"none\" is never accepted");
            return NGX_CONF_ERROR;
        }

        alg = velro_alg_parse((char *) value[i].data, value[i].len);

        if (alg < 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown algorithm \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        vlcf->algs |= 1u << alg;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_velro_token(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_velro_loc_conf_t  *vlcf = conf;

    ngx_str_t  *value;

    if (vlcf->token != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        vlcf->token = NULL;
        return NGX_CONF_OK;
    }

    vlcf->token = ngx_http_velro_conf_complex_value(cf, &value[1]);
    if (vlcf->token == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* like ngx_conf_set_str_array_slot(), but every argument is a value */

char *
ngx_http_velro_str_list(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t     *value, *s;
    ngx_uint_t     i;
    ngx_array_t  **a;

    a = (ngx_array_t **) (p + cmd->offset);

    if (*a == NGX_CONF_UNSET_PTR) {
        *a = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (*a == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        s = ngx_array_push(*a);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    return NGX_CONF_OK;
}


/* authorization */

char *
ngx_http_velro_authz_resource(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_velro_loc_conf_t  *vlcf = conf;

    ngx_str_t  *value;

    if (vlcf->resource != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    vlcf->resource = ngx_http_velro_conf_complex_value(cf, &value[1]);
    if (vlcf->resource == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_velro_authz_action(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_velro_loc_conf_t  *vlcf = conf;

    ngx_str_t  *value;

    if (vlcf->action != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "read") == 0) {
        vlcf->action = VELRO_ACTION_READ;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value[1].data, "write") == 0) {
        vlcf->action = VELRO_ACTION_WRITE;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value[1].data, "delete") == 0) {
        vlcf->action = VELRO_ACTION_DELETE;
        return NGX_CONF_OK;
    }

    if (ngx_http_script_variables_count(&value[1]) == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid action \"%V\": read, write, delete, "
                           "or a value with variables", &value[1]);
        return NGX_CONF_ERROR;
    }

    vlcf->action_value = ngx_http_velro_conf_complex_value(cf, &value[1]);
    if (vlcf->action_value == NULL) {
        return NGX_CONF_ERROR;
    }

    vlcf->action = NGX_HTTP_VELRO_ACTION_VALUE;

    return NGX_CONF_OK;
}


char *
ngx_http_velro_authz_deny_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_velro_loc_conf_t  *vlcf = conf;

    ngx_str_t  *value;

    if (vlcf->deny_status != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "403") == 0) {
        vlcf->deny_status = NGX_HTTP_FORBIDDEN;

    } else if (ngx_strcmp(value[1].data, "404") == 0) {
        vlcf->deny_status = NGX_HTTP_NOT_FOUND;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid status \"%V\": 403 or 404", &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* the L1 cache */

char *
ngx_http_velro_cache_l1(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_velro_main_conf_t  *vmcf = conf;

    ssize_t     size;
    ngx_str_t  *value, s;

    if (vmcf->l1_size != NGX_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strncmp(value[1].data, "size=", 5) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\", expected size=",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    s.data = value[1].data + 5;
    s.len = value[1].len - 5;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR || size < 64 * 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid size \"%V\", 64k at least", &s);
        return NGX_CONF_ERROR;
    }

    vmcf->l1_size = (size_t) size;

    return NGX_CONF_OK;
}


char *
ngx_http_velro_cache_ttl(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_velro_main_conf_t  *vmcf = conf;

    time_t      t, *slot;
    ngx_str_t  *value, s;
    ngx_uint_t  i, type;

    value = cf->args->elts;

    for (type = 0; type < NGX_HTTP_VELRO_NTYPES; type++) {
        if (ngx_strcmp(value[1].data, ngx_http_velro_ttl_types[type].data)
            == 0)
        {
            break;
        }
    }

    if (type == NGX_HTTP_VELRO_NTYPES) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown cache type \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "l1=", 3) == 0) {
            slot = &vmcf->ttl_l1[type];

        } else if (ngx_strncmp(value[i].data, "l2=", 3) == 0) {
            slot = &vmcf->ttl_l2[type];

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        s.data = value[i].data + 3;
        s.len = value[i].len - 3;

        t = ngx_parse_time(&s, 1);
        if (t == (time_t) NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid time \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        *slot = t;
    }

    return NGX_CONF_OK;
}


/* a complex value of the configuration's pool, NULL on errors */

static ngx_http_complex_value_t *
ngx_http_velro_conf_complex_value(ngx_conf_t *cf, ngx_str_t *value)
{
    ngx_http_complex_value_t          *cv;
    ngx_http_compile_complex_value_t   ccv;

    cv = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (cv == NULL) {
        return NULL;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = value;
    ccv.complex_value = cv;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NULL;
    }

    return cv;
}
