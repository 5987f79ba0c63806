
/*
 * velro: the velro_authz_pg content handler, the L3 contract over HTTP
 * (INTERFACE.md, "L3 contract"); the queries run on the pool of
 * ngx_http_velro_pg.c.  Two forms of GET:
 *
 *   ?user=UUID[&resource=UUID]       SELECT velro_l3_entities($1, $2)
 *   ?user=UUID&warm=1[&limit=N]      SELECT velro_l3_warm_entities($1, $2)
 *
 * ("velro_authz_pg access": issue 3's form, velro_l3_lookup and velro_l3_warm,
 * unprepared)
 *
 * the warm form (cache warming on login) with N in 1..1000, default 100,
 * and no "resource".  Either answer is PostgreSQL's json text, verbatim;
 * an error is a JSON object {"error", "error_description"}.
 *
 * The request never runs from inside the pool's connection code: its
 * answer comes as a posted event (ngx_http_velro_authz_pg_wake()).
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_authz_pg.h"
#include "ngx_http_velro_invalidate.h"
#include "ngx_http_velro_pg_replica.h"


#define NGX_HTTP_VELRO_AUTHZ_PG_WARM_LIMIT  100
#define NGX_HTTP_VELRO_AUTHZ_PG_WARM_MAX    1000

#define NGX_HTTP_VELRO_UUID_LEN             36


/*
 * The subrequest_output_buffer_size a velro_authz_pg location gets unless
 * it sets one: the warm answer of velro_warm_limit 1000 (about 370 KB)
 * must fit in memory.
 */
#define NGX_HTTP_VELRO_AUTHZ_PG_OUTPUT_SIZE  (512 * 1024)


typedef struct {
    ngx_http_velro_pg_req_t       pg;
    u_char                        user[NGX_HTTP_VELRO_UUID_LEN + 1];
    u_char                        resource[NGX_HTTP_VELRO_UUID_LEN + 1];
    u_char                        limit[NGX_INT_T_LEN + 1];
} ngx_http_velro_authz_pg_req_t;


static ngx_int_t ngx_http_velro_authz_pg_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_velro_authz_pg_access_handler(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_velro_authz_pg_lookup(ngx_http_request_t *r,
    ngx_uint_t access);
static ngx_int_t ngx_http_velro_authz_pg_uuid(ngx_str_t *s);
static void ngx_http_velro_authz_pg_cleanup(void *data);
static void ngx_http_velro_authz_pg_wake(ngx_event_t *ev);
static ngx_int_t ngx_http_velro_authz_pg_respond(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *body);
static ngx_int_t ngx_http_velro_authz_pg_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *error, const char *description);


char *
ngx_http_velro_authz_pg(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t    *clcf, **loc;
    ngx_http_velro_main_conf_t  *vmcf;

    ngx_str_t  *value;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_velro_authz_pg_handler
        || clcf->handler == ngx_http_velro_authz_pg_access_handler)
    {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* "access": the answer of issue 3's L3 contract, an "access" row */

    if (cf->args->nelts == 1
        || ngx_strcmp(value[1].data, "entities") == 0)
    {
        clcf->handler = ngx_http_velro_authz_pg_handler;

    } else if (ngx_strcmp(value[1].data, "access") == 0) {
        clcf->handler = ngx_http_velro_authz_pg_access_handler;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\", it must be \"entities\" "
                           "or \"access\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    /* checked once the http{} block is read: "velro_pg" may come later */

    vmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_velro_module);
    vmcf->authz_pg = 1;

    /* for the subrequest_output_buffer_size default, once merged */

    if (vmcf->authz_pg_locs.elts == NULL
        && ngx_array_init(&vmcf->authz_pg_locs, cf->pool, 4,
                          sizeof(ngx_http_core_loc_conf_t *))
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    loc = ngx_array_push(&vmcf->authz_pg_locs);
    if (loc == NULL) {
        return NGX_CONF_ERROR;
    }

    *loc = clcf;

    return NGX_CONF_OK;
}


/*
 * A velro_authz_pg location answers subrequests read into memory, the warm
 * form's up to a few hundred KB: unless the location set
 * subrequest_output_buffer_size (merged by now: the default is one page),
 * it gets NGX_HTTP_VELRO_AUTHZ_PG_OUTPUT_SIZE.
 */

void
ngx_http_velro_authz_pg_postconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t                    i;
    ngx_http_core_loc_conf_t    **loc;
    ngx_http_velro_main_conf_t   *vmcf;

    vmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_velro_module);
    loc = vmcf->authz_pg_locs.elts;

    for (i = 0; i < vmcf->authz_pg_locs.nelts; i++) {
        if (loc[i]->subrequest_output_buffer_size == (size_t) ngx_pagesize) {
            loc[i]->subrequest_output_buffer_size =
                                          NGX_HTTP_VELRO_AUTHZ_PG_OUTPUT_SIZE;
        }
    }
}


/* the content handler: the L3 contract, and its warm form */

static ngx_int_t
ngx_http_velro_authz_pg_handler(ngx_http_request_t *r)
{
    return ngx_http_velro_authz_pg_lookup(r, 0);
}


static ngx_int_t
ngx_http_velro_authz_pg_access_handler(ngx_http_request_t *r)
{
    return ngx_http_velro_authz_pg_lookup(r, 1);
}


static ngx_int_t
ngx_http_velro_authz_pg_lookup(ngx_http_request_t *r, ngx_uint_t access)
{
    ngx_int_t                       rc, limit;
    ngx_str_t                       user, resource, arg;
    ngx_uint_t                      warm;
    ngx_table_elt_t                *h;
    ngx_http_cleanup_t             *cln;
    ngx_http_velro_pg_req_t        *pr;
    ngx_http_velro_authz_pg_req_t  *ar;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif
        ngx_str_set(&h->key, "Allow");
        ngx_str_set(&h->value, "GET, HEAD");

        return ngx_http_velro_authz_pg_error(r, NGX_HTTP_NOT_ALLOWED,
                                             "method_not_allowed",
                                             "only GET and HEAD are allowed");
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_arg(r, (u_char *) "user", 4, &user) != NGX_OK
        || ngx_http_velro_authz_pg_uuid(&user) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "velro: L3 request without a valid \"user\" UUID");

        return ngx_http_velro_authz_pg_error(r, NGX_HTTP_BAD_REQUEST,
                                             "invalid_request",
                                             "user must be a UUID");
    }

    warm = (ngx_http_arg(r, (u_char *) "warm", 4, &arg) == NGX_OK);
    limit = NGX_HTTP_VELRO_AUTHZ_PG_WARM_LIMIT;

    if (ngx_http_arg(r, (u_char *) "resource", 8, &resource) != NGX_OK) {
        resource.data = NULL;
        resource.len = 0;
    }

    if (warm) {
        if (resource.data) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "velro: L3 warm request with a \"resource\"");

            return ngx_http_velro_authz_pg_error(r, NGX_HTTP_BAD_REQUEST,
                                                 "invalid_request",
                                                 "warm takes no resource");
        }

        if (arg.len != 1 || arg.data[0] != '1') {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "velro: L3 request with an invalid \"warm\"");

            return ngx_http_velro_authz_pg_error(r, NGX_HTTP_BAD_REQUEST,
                                                 "invalid_request",
                                                 "warm must be 1");
        }

        if (ngx_http_arg(r, (u_char *) "limit", 5, &arg) == NGX_OK) {
            limit = ngx_atoi(arg.data, arg.len);

            if (limit < 1 || limit > NGX_HTTP_VELRO_AUTHZ_PG_WARM_MAX) {
                ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                              "velro: L3 warm request with an invalid "
                              "\"limit\"");

                return ngx_http_velro_authz_pg_error(r, NGX_HTTP_BAD_REQUEST,
                                                     "invalid_request",
                                                     "limit must be 1 to 1000");
            }
        }

    } else if (ngx_http_arg(r, (u_char *) "limit", 5, &arg) == NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "velro: L3 request with a \"limit\" but no \"warm\"");

        return ngx_http_velro_authz_pg_error(r, NGX_HTTP_BAD_REQUEST,
                                             "invalid_request",
                                             "limit needs warm=1");
    }

    if (resource.len && ngx_http_velro_authz_pg_uuid(&resource) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "velro: L3 request with an invalid \"resource\" UUID");

        return ngx_http_velro_authz_pg_error(r, NGX_HTTP_BAD_REQUEST,
                                             "invalid_request",
                                             "resource must be a UUID");
    }

    ar = ngx_pcalloc(r->pool, sizeof(ngx_http_velro_authz_pg_req_t));
    if (ar == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pr = &ar->pg;

    pr->request = r;
    pr->access = access;

    ngx_memcpy(ar->user, user.data, NGX_HTTP_VELRO_UUID_LEN);
    pr->values[0] = (const char *) ar->user;

    if (warm) {
        pr->warm = 1;
        *ngx_sprintf(ar->limit, "%i", limit) = '\0';
        pr->values[1] = (const char *) ar->limit;

    } else if (resource.len) {
        ngx_memcpy(ar->resource, resource.data, NGX_HTTP_VELRO_UUID_LEN);
        pr->values[1] = (const char *) ar->resource;
    }

    pr->wake.handler = ngx_http_velro_authz_pg_wake;
    pr->wake.data = pr;
    pr->wake.log = r->connection->log;

    /* runs when the request is terminated or freed, whatever happens */

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_velro_authz_pg_cleanup;
    cln->data = pr;

    /* with velro_pg_replica: what a standby must have replayed */
    pr->lsn = ngx_http_velro_invalidate_lsn();

    rc = ngx_http_velro_pg_replica_query(pr);

    if (rc == NGX_ABORT) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "velro: L3 lookup failed: \"velro_authz_pg\" "
                      "without \"velro_pg\"");

        return ngx_http_velro_authz_pg_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                             "temporarily_unavailable",
                                             "no PostgreSQL is configured");
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "velro: L3 lookup failed: no PostgreSQL connection");

        return ngx_http_velro_authz_pg_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                             "temporarily_unavailable",
                                             "no PostgreSQL connection");
    }

    /* a client that goes away while we wait: noticed, and cleaned up */

    if (r == r->main && r->read_event_handler == ngx_http_block_reading) {
        r->read_event_handler = ngx_http_test_reading;
    }

    r->main->count++;

    return NGX_DONE;
}


/* canonical form only: 8-4-4-4-12 hex digits, either case */

static ngx_int_t
ngx_http_velro_authz_pg_uuid(ngx_str_t *s)
{
    u_char      ch;
    ngx_uint_t  i;

    if (s->len != NGX_HTTP_VELRO_UUID_LEN) {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_VELRO_UUID_LEN; i++) {
        ch = s->data[i];

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (ch != '-') {
                return NGX_ERROR;
            }

            continue;
        }

        if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')
            || (ch >= 'A' && ch <= 'F'))
        {
            continue;
        }

        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_velro_authz_pg_cleanup(void *data)
{
    ngx_http_velro_pg_req_t  *pr = data;

    ngx_http_velro_pg_cancel(pr);
}


static void
ngx_http_velro_authz_pg_wake(ngx_event_t *ev)
{
    ngx_http_velro_pg_req_t  *pr = ev->data;

    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = pr->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    if (pr->status == NGX_HTTP_OK) {
        rc = ngx_http_velro_authz_pg_respond(r, NGX_HTTP_OK, &pr->body);

    } else {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "velro: L3 lookup failed: %s", pr->reason);

        rc = ngx_http_velro_authz_pg_error(r, pr->status,
                                           "temporarily_unavailable",
                                           pr->reason);
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_velro_authz_pg_respond(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = body->len;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = sizeof("application/json") - 1;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = body->len ? 1 : 0;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_velro_authz_pg_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *error, const char *description)
{
    size_t     len;
    ngx_str_t  body;

    /* both are our own strings: nothing to escape */

    len = sizeof("{\"error\":\"\",\"error_description\":\"\"}") - 1
          + ngx_strlen(error) + ngx_strlen(description);

    body.data = ngx_pnalloc(r->pool, len);
    if (body.data == NULL) {
        return NGX_ERROR;
    }

    body.len = ngx_sprintf(body.data,
                           "{\"error\":\"%s\",\"error_description\":\"%s\"}",
                           error, description)
               - body.data;

    return ngx_http_velro_authz_pg_respond(r, status, &body);
}

