
/*
 * ngx_http_velro_module: $velro_user_id, $velro_jwt_claim_NAME,
 * $velro_jwt_header_NAME and velro_jwt_claim_set variables; the
 * authorization variables; and the refresh of a complex value's
 * variables in a subrequest.
 *
 * The token variables verify the token on first use, so they work in
 * phases before access too: "limit_req_zone $velro_user_id" limits per
 * user.  A value exists only for a token that verified under the current
 * location's policy.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_variables.h"
#include "ngx_http_velro_jwt.h"


static ngx_int_t ngx_http_velro_variable_user_id(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_velro_variable_cache(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_velro_variable_claim(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_velro_variable_header(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_velro_variable_claim_path(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_velro_variable_authz(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_http_velro_ctx_t *ngx_http_velro_variable_ctx(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_velro_variable_prefixed(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_str_t *name, size_t prefix,
    ngx_uint_t header);
static ngx_int_t ngx_http_velro_json_value(ngx_http_request_t *r,
    json_t *json, ngx_http_variable_value_t *v);


static ngx_http_get_variable_pt  ngx_http_velro_capture_handler;


static ngx_http_variable_t  ngx_http_velro_vars[] = {

    { ngx_string("velro_user_id"), NULL,
      ngx_http_velro_variable_user_id, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("velro_jwt_cache"), NULL,
      ngx_http_velro_variable_cache, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("velro_role"), NULL,
      ngx_http_velro_variable_authz, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("velro_authz_decision"), NULL,
      ngx_http_velro_variable_authz, 1,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("velro_authz_cache"), NULL,
      ngx_http_velro_variable_authz, 2,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("velro_authz_project"), NULL,
      ngx_http_velro_variable_authz, 3,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("velro_authz_tiers"), NULL,
      ngx_http_velro_variable_authz, 4,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("velro_jwt_claim_"), NULL,
      ngx_http_velro_variable_claim, 0,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("velro_jwt_header_"), NULL,
      ngx_http_velro_variable_header, 0,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_velro_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_velro_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/* velro_jwt_claim_set $var NAME [NAME ...]: a claim nested in objects */

char *
ngx_http_velro_claim_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t            *value, *path, name;
    ngx_uint_t            i;
    ngx_array_t          *a;
    ngx_http_variable_t  *v;

    value = cf->args->elts;

    if (value[1].len < 2 || value[1].data[0] != '$') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid variable name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data + 1;
    name.len = value[1].len - 1;

    v = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
    if (v == NULL) {
        return NGX_CONF_ERROR;
    }

    if (v->get_handler) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "variable \"%V\" is already defined", &value[1]);
        return NGX_CONF_ERROR;
    }

    a = ngx_array_create(cf->pool, cf->args->nelts - 2, sizeof(ngx_str_t));
    if (a == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {
        path = ngx_array_push(a);
        if (path == NULL) {
            return NGX_CONF_ERROR;
        }

        /* configuration words are NUL-terminated */
        *path = value[i];
    }

    v->get_handler = ngx_http_velro_variable_claim_path;
    v->data = (uintptr_t) a;

    return NGX_CONF_OK;
}


static ngx_http_velro_ctx_t *
ngx_http_velro_variable_ctx(ngx_http_request_t *r)
{
    ngx_http_velro_ctx_t       *ctx;
    ngx_http_velro_loc_conf_t  *vlcf;

    vlcf = ngx_http_get_module_loc_conf(r, ngx_http_velro_module);

    if (vlcf->keys == NULL && vlcf->remote == NULL) {
        return NULL;
    }

    ctx = ngx_http_velro_get_ctx(r);
    if (ctx == NULL || ctx->internal || ctx->waiting) {
        return NULL;
    }

    if (ngx_http_velro_jwt_authenticate(r, vlcf, ctx, 0) != NGX_OK) {
        return NULL;
    }

    return ctx;
}


static ngx_int_t
ngx_http_velro_variable_user_id(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_velro_ctx_t  *ctx;

    ctx = ngx_http_velro_variable_ctx(r);

    if (ctx == NULL || ctx->sub.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = ctx->sub.data;
    v->len = ctx->sub.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* "L1" for a token found in the L1 cache, "miss" for one verified now */

static ngx_int_t
ngx_http_velro_variable_cache(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_velro_ctx_t  *ctx;

    ctx = ngx_http_velro_variable_ctx(r);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ctx->from_l1) {
        v->data = (u_char *) "L1";
        v->len = 2;

    } else {
        v->data = (u_char *) "miss";
        v->len = 4;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_velro_variable_claim(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    return ngx_http_velro_variable_prefixed(r, v, (ngx_str_t *) data,
                                            sizeof("velro_jwt_claim_") - 1,
                                            0);
}


static ngx_int_t
ngx_http_velro_variable_header(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    return ngx_http_velro_variable_prefixed(r, v, (ngx_str_t *) data,
                                            sizeof("velro_jwt_header_") - 1,
                                            1);
}


static ngx_int_t
ngx_http_velro_variable_prefixed(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_str_t *name, size_t prefix,
    ngx_uint_t header)
{
    u_char                *key;
    json_t                *obj;
    ngx_http_velro_ctx_t  *ctx;

    ctx = ngx_http_velro_variable_ctx(r);

    if (ctx == NULL || ngx_http_velro_jwt_decode(r, ctx) != NGX_OK) {
        v->not_found = 1;
        return NGX_OK;
    }

    obj = header ? ctx->header : ctx->claims;

    key = ngx_pnalloc(r->pool, name->len - prefix + 1);
    if (key == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(key, name->data + prefix, name->len - prefix);
    key[name->len - prefix] = '\0';

    return ngx_http_velro_json_value(r, json_object_get(obj, (char *) key),
                                     v);
}


static ngx_int_t
ngx_http_velro_variable_claim_path(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_array_t  *path = (ngx_array_t *) data;

    json_t                *json;
    ngx_int_t              n;
    ngx_str_t             *name;
    ngx_uint_t             i;
    ngx_http_velro_ctx_t  *ctx;

    ctx = ngx_http_velro_variable_ctx(r);

    if (ctx == NULL || ngx_http_velro_jwt_decode(r, ctx) != NGX_OK) {
        v->not_found = 1;
        return NGX_OK;
    }

    json = ctx->claims;
    name = path->elts;

    for (i = 0; json && i < path->nelts; i++) {

        if (json_is_array(json)) {
            n = ngx_atoi(name[i].data, name[i].len);
            json = (n == NGX_ERROR) ? NULL : json_array_get(json, n);

        } else {
            json = json_object_get(json, (char *) name[i].data);
        }
    }

    return ngx_http_velro_json_value(r, json, v);
}


/*
 * Strings as they are, numbers and booleans as text, objects and arrays
 * as compact JSON.  A string with control characters has no value: it
 * could split a header it is put in.
 */

static ngx_int_t
ngx_http_velro_json_value(ngx_http_request_t *r, json_t *json,
    ngx_http_variable_value_t *v)
{
    char        *s;
    size_t       i, len;
    const char  *str;

    if (json == NULL || json_is_null(json)) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (json_is_string(json)) {
        str = json_string_value(json);
        len = json_string_length(json);

        for (i = 0; i < len; i++) {
            if ((u_char) str[i] < 0x20 || str[i] == 0x7f) {
                v->not_found = 1;
                return NGX_OK;
            }
        }

        v->data = ngx_pnalloc(r->pool, len);
        if (v->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(v->data, str, len);

    } else {
        s = json_dumps(json, JSON_ENCODE_ANY|JSON_COMPACT);
        if (s == NULL) {
            return NGX_ERROR;
        }

        len = ngx_strlen(s);

        v->data = ngx_pnalloc(r->pool, len);
        if (v->data == NULL) {
            free(s);
            return NGX_ERROR;
        }

        ngx_memcpy(v->data, s, len);
        free(s);
    }

    v->len = len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * $velro_role, $velro_authz_decision, $velro_authz_cache,
 * $velro_authz_project and $velro_authz_tiers (the tier each entity came
 * from: "user=L1 roles=L2 generation=L3 project=- pair=-", "-" for one
 * not needed): what authorization decided for this request; they never
 * start a lookup themselves.
 */

static ngx_int_t
ngx_http_velro_variable_authz(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                *p;
    const char            *s;
    ngx_http_velro_ctx_t  *ctx;

    static const char  *decisions[] = { "", "allow", "deny", "error" };
    static const char  *tiers[] = { "-", "L1", "L2", "L3", "stale" };

    ctx = ngx_http_get_module_ctx(r, ngx_http_velro_module);

    if (ctx == NULL || ctx->internal) {
        ctx = NULL;
    }

    s = "";

    switch (data) {

    case 0:
        if (ctx && ctx->decision != VELRO_DECISION_NONE
            && ctx->has_access)
        {
            s = velro_role_name(ctx->access.role);
        }

        break;

    case 1:
        if (ctx) {
            s = decisions[ctx->decision];
        }

        break;

    case 2:
        s = tiers[ctx ? ctx->tier : 0];
        break;

    case 4:
        if (ctx == NULL) {
            break;
        }

        p = ngx_pnalloc(r->pool, sizeof("user= roles= generation= project= "
                                        "pair=") - 1 + 5 * 5);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;
        v->len = ngx_sprintf(p, "user=%s roles=%s generation=%s project=%s "
                             "pair=%s",
                             tiers[ctx->tiers[NGX_HTTP_VELRO_ENTITY_USER]],
                             tiers[ctx->tiers[NGX_HTTP_VELRO_ENTITY_ROLES]],
                             tiers[ctx->tiers[
                                       NGX_HTTP_VELRO_ENTITY_GENERATION]],
                             tiers[ctx->tiers[NGX_HTTP_VELRO_ENTITY_PROJECT]],
                             tiers[ctx->tiers[NGX_HTTP_VELRO_ENTITY_PAIR]])
                 - p;
        v->valid = 1;
        v->no_cacheable = 0;
        v->not_found = 0;

        return NGX_OK;

    default:
        if (ctx && ctx->decision != VELRO_DECISION_NONE
            && ctx->has_access && ctx->access.has_project)
        {
            p = ngx_pnalloc(r->pool, VELRO_UUID_LEN);
            if (p == NULL) {
                return NGX_ERROR;
            }

            velro_uuid_format(ctx->access.project, p);

            v->len = VELRO_UUID_LEN;
            v->valid = 1;
            v->no_cacheable = 0;
            v->not_found = 0;
            v->data = p;

            return NGX_OK;
        }
    }

    v->len = ngx_strlen(s);
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = (u_char *) s;

    return NGX_OK;
}


/*
 * A subrequest shares its parent's variable values: a value cached for
 * another request (say a map of $uri, by an SSI include or a batch item
 * before this one) would name the wrong resource.  What a handler computes
 * is computed again for this request; regex captures are set by its own
 * location match and stay.
 */

void
ngx_http_velro_variables_refresh(ngx_http_request_t *r,
    ngx_http_complex_value_t *cv)
{
    ngx_uint_t                 *index;
    ngx_http_variable_t        *v;
    ngx_http_core_main_conf_t  *cmcf;

    if (r == r->main || cv->flushes == NULL) {
        return;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);
    v = cmcf->variables.elts;

    for (index = cv->flushes; *index != (ngx_uint_t) -1; index++) {

        /*
         * Regex captures get their value from this request's own location
         * match: their handler only says "not found".
         */

        if (v[*index].get_handler
            && v[*index].get_handler != ngx_http_velro_capture_handler)
        {
            r->variables[*index].valid = 0;
            r->variables[*index].not_found = 0;
        }
    }
}


/*
 * The handler nginx gives a regex's named capture (its value comes from
 * the match, the handler only says "not found"): learned from a capture of
 * our own, since nginx does not export it.
 */

ngx_int_t
ngx_http_velro_variables_probe_captures(ngx_conf_t *cf)
{
#if (NGX_PCRE)
    u_char                errstr[NGX_MAX_CONF_ERRSTR];
    ngx_str_t             name;
    ngx_regex_compile_t   rc;
    ngx_http_variable_t  *v;

    ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

    ngx_str_set(&rc.pattern, "(?<velro_capture_probe>)");
    rc.pool = cf->pool;
    rc.err.len = NGX_MAX_CONF_ERRSTR;
    rc.err.data = errstr;

    if (ngx_http_regex_compile(cf, &rc) == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&name, "velro_capture_probe");

    v = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_CHANGEABLE);
    if (v == NULL) {
        return NGX_ERROR;
    }

    ngx_http_velro_capture_handler = v->get_handler;
#endif

    return NGX_OK;
}
