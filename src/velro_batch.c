
/*
 * velro: request batching, pure C: a batch read and checked (its items'
 * endpoints, methods, headers, bodies and ids) and the order its items
 * may run in (the dependency graph).  The answer is velro_batch_response.c.
 */


#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "velro_batch.h"
#include "velro_json.h"


/* the items' ids: open addressing, item index + 1 (0 is a free slot) */

typedef struct {
    size_t               *slots;
    size_t                mask;
} velro_batch_ids_t;


static int velro_batch_fail(velro_batch_t *b, int status, long item,
    const char *error);
static int velro_batch_fail_item(velro_batch_t *b, size_t i,
    const char *err);
static int velro_batch_acyclic(velro_batch_t *b);
static int velro_batch_item(velro_batch_t *b, size_t i, velro_json_t *o,
    velro_batch_ids_t *ids, velro_json_t **deps, const char *self,
    size_t self_len);
static const char *velro_batch_endpoint(velro_batch_item_t *item,
    const char *s, size_t len, const char *self, size_t self_len);
static size_t velro_batch_normalize(const char *s, size_t len, char *out);
static const char *velro_batch_method(velro_json_t *j,
    int *method);
static const char *velro_batch_headers(velro_batch_item_t *item,
    velro_json_t *o);
static const char *velro_batch_header_name(const char *s, size_t len);
static const char *velro_batch_id(velro_batch_item_t *item,
    velro_json_t *j);
static int velro_batch_deps(velro_batch_t *b, size_t i, velro_json_t *arr,
    velro_batch_ids_t *ids);
static size_t velro_batch_id_find(const velro_batch_t *b,
    const velro_batch_ids_t *ids, const char *s, size_t len);
static char *velro_strndup(const char *s, size_t len);


static const char  *velro_batch_methods[] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"
};


static const char  *velro_batch_forbidden[] = {
    "authorization", "cookie", "host", "connection", "keep-alive",
    "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
    "trailer", "transfer-encoding", "upgrade", "content-length", "expect"
};


static const char  *velro_batch_members[] = {
    "endpoint", "method", "headers", "body", "id", "depends_on"
};


#define velro_nelts(a)  (sizeof(a) / sizeof((a)[0]))


static int
velro_batch_fail(velro_batch_t *b, int status, long item, const char *error)
{
    size_t  n;

    b->status = status;
    b->error_item = item;

    n = strlen(error);

    if (n >= sizeof(b->error)) {
        n = sizeof(b->error) - 1;
    }

    memcpy(b->error, error, n);
    b->error[n] = '\0';

    return status;
}


/* the checks return an error text; "!text" is an internal error */

static int
velro_batch_fail_item(velro_batch_t *b, size_t i, const char *err)
{
    if (err[0] == '!') {
        return velro_batch_fail(b, 500, (long) i, err + 1);
    }

    return velro_batch_fail(b, 400, (long) i, err);
}


/* a dependency cycle is a 400 naming the lowest item index on it */

static int
velro_batch_acyclic(velro_batch_t *b)
{
    long  item;

    item = velro_batch_cycle(b);

    if (item == -1) {
        return 0;
    }

    if (item < -1) {
        return velro_batch_fail(b, 500, -1, "out of memory");
    }

    return velro_batch_fail(b, 400, item, "dependency cycle");
}


int
velro_batch_parse(velro_batch_t *b, const char *buf, size_t len,
    size_t max_items, const char *self, size_t self_len)
{
    int                 rc, error;
    char               *snorm;
    size_t              i, n, size, slen;
    velro_json_t       *root, *v, **deps;
    velro_json_pool_t   pool;
    velro_batch_ids_t   ids;

    memset(b, 0, sizeof(velro_batch_t));
    b->error_item = -1;

    if (max_items == 0) {
        max_items = VELRO_BATCH_DEFAULT_MAX;
    }

    velro_json_pool_init(&pool, len, 0);

    root = velro_json_parse(&pool, buf, len, 0, &error);

    if (root == NULL) {
        velro_json_pool_free(&pool);

        if (error == VELRO_JSON_ENOMEM) {
            return velro_batch_fail(b, 500, -1, "out of memory");
        }

        return velro_batch_fail(b, 400, -1, error == VELRO_JSON_EDUP
                                            ? "duplicate key"
                                            : "invalid JSON");
    }

    if (root->type != VELRO_JSON_ARRAY) {
        velro_json_pool_free(&pool);
        return velro_batch_fail(b, 400, -1, "batch must be an array");
    }

    n = root->len;

    if (n == 0) {
        velro_json_pool_free(&pool);
        return velro_batch_fail(b, 400, -1, "empty batch");
    }

    if (n > max_items) {
        velro_json_pool_free(&pool);
        return velro_batch_fail(b, 413, -1, "too many items");
    }

    for (size = 16; size < 2 * n; size *= 2) {
        /* void */
    }

    ids.slots = velro_json_alloc(&pool, size * sizeof(size_t));
    ids.mask = size - 1;
    deps = velro_json_alloc(&pool, n * sizeof(velro_json_t *));
    b->items = calloc(n, sizeof(velro_batch_item_t));

    if (ids.slots == NULL || deps == NULL || b->items == NULL) {
        rc = velro_batch_fail(b, 500, -1, "out of memory");
        goto done;
    }

    memset(ids.slots, 0, size * sizeof(size_t));
    memset(deps, 0, n * sizeof(velro_json_t *));

    /* the batch's own path, normalized once for all items */

    snorm = NULL;
    slen = 0;

    if (self != NULL && self_len > 0) {
        snorm = velro_json_alloc(&pool, self_len + 1);
        if (snorm == NULL) {
            rc = velro_batch_fail(b, 500, -1, "out of memory");
            goto done;
        }

        slen = velro_batch_normalize(self, self_len, snorm);
    }

    b->nitems = n;

    for (i = 0, v = root->u.child; i < n; i++, v = v->next) {
        rc = velro_batch_item(b, i, v, &ids, &deps[i], snorm, slen);
        if (rc != 0) {
            goto done;
        }
    }

    rc = 0;

    for (i = 0; i < n; i++) {
        if (deps[i] == NULL) {
            continue;
        }

        rc = velro_batch_deps(b, i, deps[i], &ids);
        if (rc != 0) {
            goto done;
        }
    }

    for (i = 0; i < n; i++) {
        if (b->items[i].ndeps) {
            rc = velro_batch_acyclic(b);
            break;
        }
    }

done:

    velro_json_pool_free(&pool);

    if (rc != 0) {
        velro_batch_free(b);
    }

    return rc;
}


void
velro_batch_free(velro_batch_t *b)
{
    size_t               i, j;
    velro_batch_item_t  *item;

    if (b->items == NULL) {
        b->nitems = 0;
        return;
    }

    for (i = 0; i < b->nitems; i++) {
        item = &b->items[i];

        for (j = 0; j < item->nheaders; j++) {
            free(item->headers[j].name);
            free(item->headers[j].value);
        }

        free(item->headers);
        free(item->id);
        free(item->path);
        free(item->args);
        free(item->body);
        free(item->deps);
    }

    free(b->items);
    b->items = NULL;
    b->nitems = 0;
}




static char *
velro_strndup(const char *s, size_t len)
{
    char  *p;

    p = malloc(len + 1);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, s, len);
    p[len] = '\0';

    return p;
}


static int
velro_batch_item(velro_batch_t *b, size_t i, velro_json_t *o,
    velro_batch_ids_t *ids, velro_json_t **deps, const char *self,
    size_t self_len)
{
    int                  known;
    size_t               j, k, len;
    const char          *s, *err;
    velro_json_t        *v, *d;
    velro_json_buf_t     buf;
    velro_batch_item_t  *item;

    item = &b->items[i];

    if (o->type != VELRO_JSON_OBJECT) {
        return velro_batch_fail(b, 400, (long) i, "item must be an object");
    }

    if (o->depth > VELRO_BATCH_MAX_DEPTH) {
        return velro_batch_fail(b, 400, (long) i, "item too deep");
    }

    for (v = o->u.child; v; v = v->next) {
        known = 0;

        for (j = 0; j < velro_nelts(velro_batch_members); j++) {
            if (v->klen == strlen(velro_batch_members[j])
                && memcmp(v->key, velro_batch_members[j], v->klen) == 0)
            {
                known = 1;
                break;
            }
        }

        if (!known) {
            return velro_batch_fail(b, 400, (long) i, "unknown member");
        }
    }

    /* endpoint */

    v = velro_json_get(o, "endpoint");

    if (v == NULL || v->type == VELRO_JSON_NULL) {
        return velro_batch_fail(b, 400, (long) i, "endpoint required");
    }

    if (!velro_json_string(v, &s, &len)) {
        return velro_batch_fail(b, 400, (long) i,
                                "endpoint must be a string");
    }

    err = velro_batch_endpoint(item, s, len, self, self_len);
    if (err) {
        return velro_batch_fail_item(b, i, err);
    }

    /* method */

    err = velro_batch_method(velro_json_get(o, "method"), &item->method);
    if (err) {
        return velro_batch_fail(b, 400, (long) i, err);
    }

    /* headers */

    err = velro_batch_headers(item, velro_json_get(o, "headers"));
    if (err) {
        return velro_batch_fail_item(b, i, err);
    }

    /* body */

    v = velro_json_get(o, "body");

    if (v != NULL && v->type != VELRO_JSON_NULL) {

        if (item->method == VELRO_BATCH_GET
            || item->method == VELRO_BATCH_HEAD)
        {
            return velro_batch_fail(b, 400, (long) i,
                                    "body not allowed with GET or HEAD");
        }

        memset(&buf, 0, sizeof(velro_json_buf_t));
        velro_json_write(&buf, v);
        velro_json_buf_add(&buf, "", 1);

        if (buf.failed) {
            free(buf.data);
            return velro_batch_fail(b, 500, (long) i, "out of memory");
        }

        item->body = buf.data;
        item->body_len = buf.len - 1;
    }

    /* id */

    err = velro_batch_id(item, velro_json_get(o, "id"));
    if (err) {
        return velro_batch_fail_item(b, i, err);
    }

    if (item->id) {
        len = strlen(item->id);

        if (velro_batch_id_find(b, ids, item->id, len) != (size_t) -1) {
            return velro_batch_fail(b, 400, (long) i, "duplicate id");
        }

        for (k = velro_json_hash(item->id, len) & ids->mask;
             ids->slots[k];
             k = (k + 1) & ids->mask)
        {
            /* void */
        }

        ids->slots[k] = i + 1;
    }

    /* depends_on: resolved once every id is known */

    v = velro_json_get(o, "depends_on");

    if (v != NULL && v->type != VELRO_JSON_NULL) {

        if (v->type != VELRO_JSON_ARRAY) {
            return velro_batch_fail(b, 400, (long) i,
                                    "depends_on must be an array");
        }

        if (v->len > b->nitems) {
            return velro_batch_fail(b, 400, (long) i,
                                    "too many dependencies");
        }

        for (d = v->u.child; d; d = d->next) {
            if (d->type != VELRO_JSON_STRING) {
                return velro_batch_fail(b, 400, (long) i,
                                        "dependency must be a string");
            }
        }

        *deps = v;
    }

    return 0;
}






/*
 * The endpoint: "/path[?args]".  Returns an error text, or NULL with
 * item->path and item->args set; "!..." is an internal error.  self is
 * the batch's own path, normalized, or NULL.
 */

static const char *
velro_batch_endpoint(velro_batch_item_t *item, const char *s, size_t len,
    const char *self, size_t self_len)
{
    int             hi, lo;
    size_t          i, q, start, end, n, nlen, u;
    unsigned char   c, d, seg[3];
    char            norm[VELRO_BATCH_MAX_ENDPOINT + 1];

    if (len == 0 || s[0] != '/') {
        return "endpoint must start with /";
    }

    if (len > VELRO_BATCH_MAX_ENDPOINT) {
        return "endpoint too long";
    }

    if (len > 1 && (s[1] == '/' || s[1] == '\\')) {
        return "endpoint must not start with //";
    }

    q = len;

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '#') {
            return "invalid character in endpoint";
        }

        if (c == '?' && q == len) {
            q = i;
        }
    }

    /* the path: percent-encoding, no encoded '/' or '\' or '%' */

    for (i = 0; i < len; i++) {
        if (s[i] != '%') {
            continue;
        }

        if (i + 2 >= len
            || (hi = velro_json_hexval((unsigned char) s[i + 1])) < 0
            || (lo = velro_json_hexval((unsigned char) s[i + 2])) < 0)
        {
            return "bad percent-encoding in endpoint";
        }

        d = (unsigned char) (hi << 4 | lo);

        if (d < 0x20 || d == 0x7f) {
            return "invalid character in endpoint";
        }

        if (i < q) {
            if (d == '/' || d == '\\') {
                return "encoded slash in endpoint";
            }

            if (d == '%') {
                return "encoded percent in endpoint path";
            }
        }

        i += 2;
    }

    for (i = 0; i + 3 <= q; i++) {
        if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
            return "absolute URL in endpoint";
        }
    }

    /* the decoded path: valid UTF-8, no "." or ".." segment */

    nlen = velro_batch_normalize(s, q, norm);

    for (i = 0; i < nlen; i += u) {
        u = velro_json_utf8_len((unsigned char *) &norm[i], nlen - i);

        if (u == 0) {
            return "invalid UTF-8 in endpoint";
        }
    }

    start = 0;

    while (start < q) {

        /* a segment of the raw path, decoded, up to a ';' */

        start++;

        for (end = start; end < q && s[end] != '/'; end++) {
            /* void */
        }

        n = 0;

        for (i = start; i < end && n < 3; i++) {
            c = (unsigned char) s[i];

            if (c == '%') {
                c = (unsigned char)
                        (velro_json_hexval((unsigned char) s[i + 1]) << 4
                         | velro_json_hexval((unsigned char) s[i + 2]));
                i += 2;
            }

            if (c == ';') {
                break;
            }

            seg[n++] = c;
        }

        if ((n == 1 && seg[0] == '.')
            || (n == 2 && seg[0] == '.' && seg[1] == '.'))
        {
            return "dot segment in endpoint";
        }

        start = end;
    }

    /* the batch itself (self normalized by the caller) */

    if (self != NULL
        && ((nlen == self_len && memcmp(norm, self, nlen) == 0)
            || (nlen > self_len && memcmp(norm, self, self_len) == 0
                && (norm[self_len] == '/' || self_len == 0))))
    {
        return "endpoint targets the batch";
    }

    item->path = velro_strndup(s, q);
    if (item->path == NULL) {
        return "!out of memory";
    }

    item->path_len = q;

    if (q + 1 < len) {
        item->args = velro_strndup(s + q + 1, len - q - 1);
        if (item->args == NULL) {
            return "!out of memory";
        }

        item->args_len = len - q - 1;
    }

    return NULL;
}


/*
 * A path as nginx sees it for location matching: percent-decoded (a bad
 * escape is copied as is), runs of '/' merged, no trailing '/' (except
 * that "/" is ""); out has len + 1 bytes.
 */

static size_t
velro_batch_normalize(const char *s, size_t len, char *out)
{
    int             hi, lo;
    size_t          i, n;
    unsigned char   c;

    n = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c == '%' && i + 2 < len
            && (hi = velro_json_hexval((unsigned char) s[i + 1])) >= 0
            && (lo = velro_json_hexval((unsigned char) s[i + 2])) >= 0)
        {
            c = (unsigned char) (hi << 4 | lo);
            i += 2;
        }

        if (c == '/' && n > 0 && out[n - 1] == '/') {
            continue;
        }

        out[n++] = (char) c;
    }

    while (n > 0 && out[n - 1] == '/') {
        n--;
    }

    out[n] = '\0';

    return n;
}


static const char *
velro_batch_method(velro_json_t *j, int *method)
{
    size_t       i, len;
    const char  *s;

    *method = VELRO_BATCH_GET;

    if (j == NULL || j->type == VELRO_JSON_NULL) {
        return NULL;
    }

    if (!velro_json_string(j, &s, &len)) {
        return "method must be a string";
    }

    for (i = 0; i < velro_nelts(velro_batch_methods); i++) {
        if (len == strlen(velro_batch_methods[i])
            && strncasecmp(s, velro_batch_methods[i], len) == 0)
        {
            *method = (int) i;
            return NULL;
        }
    }

    return "unsupported method";
}


const char *
velro_batch_method_name(int method)
{
    if (method < 0 || (size_t) method >= velro_nelts(velro_batch_methods)) {
        return "";
    }

    return velro_batch_methods[method];
}


/* an RFC 7230 token */

int
velro_batch_is_token(const char *s, size_t len)
{
    size_t          i;
    unsigned char   c;

    if (len == 0) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9'))
        {
            continue;
        }

        if (c == 0 || strchr("!#$%&'*+-.^_`|~", c) == NULL) {
            return 0;
        }
    }

    return 1;
}


/* a token that items may set, or an error */

static const char *
velro_batch_header_name(const char *s, size_t len)
{
    size_t  i, n;

    if (len > VELRO_BATCH_MAX_HEADER_LEN) {
        return "header too long";
    }

    if (!velro_batch_is_token(s, len)) {
        return "invalid header name";
    }

    for (i = 0; i < velro_nelts(velro_batch_forbidden); i++) {
        n = strlen(velro_batch_forbidden[i]);

        if (len == n && strncasecmp(s, velro_batch_forbidden[i], n) == 0) {
            return "forbidden header";
        }
    }

    if (len >= 8 && strncasecmp(s, "x-velro-", 8) == 0) {
        return "forbidden header";
    }

    return NULL;
}


static const char *
velro_batch_headers(velro_batch_item_t *item, velro_json_t *o)
{
    size_t                 i, n, klen, len;
    const char            *key, *s, *err;
    velro_json_t          *v;
    unsigned char          c;
    velro_batch_header_t  *h;

    if (o == NULL || o->type == VELRO_JSON_NULL) {
        return NULL;
    }

    if (o->type != VELRO_JSON_OBJECT) {
        return "headers must be an object";
    }

    n = o->len;

    if (n > VELRO_BATCH_MAX_HEADERS) {
        return "too many headers";
    }

    if (n == 0) {
        return NULL;
    }

    item->headers = calloc(n, sizeof(velro_batch_header_t));
    if (item->headers == NULL) {
        return "!out of memory";
    }

    for (v = o->u.child; v; v = v->next) {
        key = v->key;
        klen = v->klen;

        err = velro_batch_header_name(key, klen);
        if (err) {
            return err;
        }

        if (!velro_json_string(v, &s, &len)) {
            return "header value must be a string";
        }

        if (len > VELRO_BATCH_MAX_HEADER_LEN) {
            return "header too long";
        }

        for (i = 0; i < len; i++) {
            c = (unsigned char) s[i];

            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                return "invalid header value";
            }
        }

        for (i = 0; i < item->nheaders; i++) {
            if (strlen(item->headers[i].name) == klen
                && strncasecmp(item->headers[i].name, key, klen) == 0)
            {
                return "duplicate header";
            }
        }

        h = &item->headers[item->nheaders];

        h->name = velro_strndup(key, klen);
        h->value = velro_strndup(s, len);

        if (h->name == NULL || h->value == NULL) {
            free(h->name);
            free(h->value);
            h->name = NULL;
            h->value = NULL;
            return "!out of memory";
        }

        item->nheaders++;
    }

    return NULL;
}


static const char *
velro_batch_id(velro_batch_item_t *item, velro_json_t *j)
{
    size_t          i, len;
    const char     *s;
    unsigned char   c;

    if (j == NULL || j->type == VELRO_JSON_NULL) {
        return NULL;
    }

    if (!velro_json_string(j, &s, &len)) {
        return "id must be a string";
    }

    if (len == 0 || len > VELRO_BATCH_MAX_ID) {
        return "invalid id";
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c < 0x20 || c == 0x7f) {
            return "invalid id";
        }
    }

    item->id = velro_strndup(s, len);
    if (item->id == NULL) {
        return "!out of memory";
    }

    return NULL;
}


static int
velro_batch_deps(velro_batch_t *b, size_t i, velro_json_t *arr,
    velro_batch_ids_t *ids)
{
    size_t               k, n, len, dep;
    const char          *s;
    velro_json_t        *v;
    velro_batch_item_t  *item;

    item = &b->items[i];
    n = arr->len;

    if (n == 0) {
        return 0;
    }

    item->deps = malloc(n * sizeof(size_t));
    if (item->deps == NULL) {
        return velro_batch_fail(b, 500, (long) i, "out of memory");
    }

    for (v = arr->u.child; v; v = v->next) {
        /* each a string: velro_batch_item() saw to that */

        s = v->u.str;
        len = v->len;

        dep = velro_batch_id_find(b, ids, s, len);
        if (dep == (size_t) -1) {
            return velro_batch_fail(b, 400, (long) i, "unknown dependency");
        }

        if (dep == i) {
            return velro_batch_fail(b, 400, (long) i, "dependency cycle");
        }

        for (k = 0; k < item->ndeps; k++) {
            if (item->deps[k] == dep) {
                break;
            }
        }

        if (k == item->ndeps) {
            item->deps[item->ndeps++] = dep;
        }
    }

    return 0;
}


/* the item whose id is s, or (size_t) -1 */

static size_t
velro_batch_id_find(const velro_batch_t *b, const velro_batch_ids_t *ids,
    const char *s, size_t len)
{
    size_t       k, idx;
    const char  *id;

    for (k = velro_json_hash(s, len) & ids->mask;
         ids->slots[k];
         k = (k + 1) & ids->mask)
    {
        idx = ids->slots[k] - 1;
        id = b->items[idx].id;

        if (strlen(id) == len && memcmp(id, s, len) == 0) {
            return idx;
        }
    }

    return (size_t) -1;
}
