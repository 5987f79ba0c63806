
/*
 * velro: request batching, pure C.
 */


#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "velro_batch.h"


#define VELRO_BATCH_RESPONSE_DEPTH  64      /* deeper JSON goes as a string */


typedef struct {
    char          *data;
    size_t         len;
    size_t         size;
    int            failed;
} velro_buf_t;


/*
 * JSON, read into a tree allocated from a velro_pool_t: what jansson
 * (json_loadb() with JSON_DECODE_ANY, JSON_REJECT_DUPLICATES and
 * JSON_ALLOW_NUL) accepts, and only that, with the same values, at a
 * fraction of the cost (one allocation per few KB instead of several per
 * value).
 */

#define VELRO_JSON_NULL        0
#define VELRO_JSON_FALSE       1
#define VELRO_JSON_TRUE        2
#define VELRO_JSON_INTEGER     3
#define VELRO_JSON_REAL        4
#define VELRO_JSON_STRING      5
#define VELRO_JSON_ARRAY       6
#define VELRO_JSON_OBJECT      7

#define VELRO_JSON_MAX_DEPTH   2048    /* jansson's JSON_PARSER_MAX_DEPTH */
#define VELRO_JSON_LINEAR_KEYS 16      /* more members: a hash for dups */


typedef struct velro_json_s  velro_json_t;

struct velro_json_s {
    int                type;
    int                depth;   /* containers nested, 0 for a scalar */
    size_t             len;     /* string bytes; elements or members */
    char              *key;     /* its name, in an object */
    size_t             klen;
    velro_json_t      *next;

    union {
        char          *str;     /* NUL-terminated, may hold NUL */
        velro_json_t  *child;   /* first element or member */
        long long      integer;
        double         real;
    } u;
};


typedef struct velro_pool_block_s  velro_pool_block_t;

struct velro_pool_block_s {
    velro_pool_block_t  *next;
    void                *align;
};


typedef struct {
    char                *pos;
    char                *end;
    velro_pool_block_t  *blocks;
    size_t               size;      /* of the next block */
} velro_pool_t;


typedef struct {
    const unsigned char  *p;
    const unsigned char  *end;
    velro_pool_t         *pool;
    int                   depth;    /* values open, counted as jansson does */
    int                   dup;      /* the error is a duplicate key */
} velro_json_parser_t;


/* the items' ids: open addressing, item index + 1 (0 is a free slot) */

typedef struct {
    size_t               *slots;
    size_t                mask;
} velro_batch_ids_t;




static int velro_batch_fail(velro_batch_t *b, int status, long item,
    const char *error);
static int velro_batch_fail_item(velro_batch_t *b, size_t i,
    const char *err);
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
static int velro_is_token(const char *s, size_t len);
static const char *velro_batch_id(velro_batch_item_t *item,
    velro_json_t *j);
static int velro_batch_deps(velro_batch_t *b, size_t i, velro_json_t *arr,
    velro_batch_ids_t *ids);
static size_t velro_batch_id_find(const velro_batch_t *b,
    const velro_batch_ids_t *ids, const char *s, size_t len);
static int velro_batch_cycle(velro_batch_t *b);
static int velro_batch_sort(const velro_batch_t *b, size_t *out,
    size_t *count);
static int velro_hexval(unsigned char c);
static size_t velro_utf8_len(const unsigned char *p, size_t n);
static char *velro_strndup(const char *s, size_t len);
static int velro_str(velro_json_t *j, const char **s, size_t *len);

static void velro_buf_add(velro_buf_t *buf, const void *p, size_t n);
static void velro_buf_str(velro_buf_t *buf, const char *s);
static void velro_json_string(velro_buf_t *buf, const char *s, size_t len);
static void velro_json_chars(velro_buf_t *buf, const char *s, size_t len);
static void velro_json_emit(velro_buf_t *buf, velro_json_t *j);

static void *velro_palloc(velro_pool_t *pool, size_t n);
static void velro_pool_free(velro_pool_t *pool);
static velro_json_t *velro_json_parse(velro_pool_t *pool, const char *buf,
    size_t len, int *dup);
static velro_json_t *velro_json_value(velro_json_parser_t *ps);
static int velro_json_object(velro_json_parser_t *ps, velro_json_t *v);
static int velro_json_array(velro_json_parser_t *ps, velro_json_t *v);
static int velro_json_str(velro_json_parser_t *ps, char **s, size_t *len);
static int velro_json_number(velro_json_parser_t *ps, velro_json_t *v);
static void velro_json_ws(velro_json_parser_t *ps);
static int velro_json_hex4(const unsigned char *p, unsigned *v);
static uint32_t velro_json_hash(const char *s, size_t len);
static velro_json_t *velro_json_get(velro_json_t *o, const char *key);
static void velro_json_real(velro_buf_t *buf, double d);
static void velro_batch_result(velro_buf_t *buf, const velro_batch_item_t *item,
    const velro_batch_result_t *r);


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


int
velro_batch_parse(velro_batch_t *b, const char *buf, size_t len,
    size_t max_items, const char *self, size_t self_len)
{
    int                 rc, dup;
    char               *snorm;
    size_t              i, n, size, slen;
    velro_json_t       *root, *v, **deps;
    velro_pool_t        pool;
    velro_batch_ids_t   ids;

    memset(b, 0, sizeof(velro_batch_t));
    b->error_item = -1;

    if (max_items == 0) {
        max_items = VELRO_BATCH_DEFAULT_MAX;
    }

    memset(&pool, 0, sizeof(velro_pool_t));
    pool.size = 4096;

    while (pool.size < len * 4 && pool.size < 64 * 1024) {
        pool.size *= 2;
    }

    root = velro_json_parse(&pool, buf, len, &dup);

    if (root == NULL) {
        velro_pool_free(&pool);

        return velro_batch_fail(b, 400, -1,
                                dup ? "duplicate key" : "invalid JSON");
    }

    if (root->type != VELRO_JSON_ARRAY) {
        velro_pool_free(&pool);
        return velro_batch_fail(b, 400, -1, "batch must be an array");
    }

    n = root->len;

    if (n == 0) {
        velro_pool_free(&pool);
        return velro_batch_fail(b, 400, -1, "empty batch");
    }

    if (n > max_items) {
        velro_pool_free(&pool);
        return velro_batch_fail(b, 413, -1, "too many items");
    }

    for (size = 16; size < 2 * n; size *= 2) {
        /* void */
    }

    ids.slots = velro_palloc(&pool, size * sizeof(size_t));
    ids.mask = size - 1;
    deps = velro_palloc(&pool, n * sizeof(velro_json_t *));
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
        snorm = velro_palloc(&pool, self_len + 1);
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
            rc = velro_batch_cycle(b);
            break;
        }
    }

done:

    velro_pool_free(&pool);

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


/* the string value and length of j; 0 if j is not a string */

static int
velro_str(velro_json_t *j, const char **s, size_t *len)
{
    if (j == NULL || j->type != VELRO_JSON_STRING) {
        return 0;
    }

    *s = j->u.str;
    *len = j->len;

    return 1;
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
    velro_buf_t          buf;
    velro_json_t        *v, *d;
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

    if (!velro_str(v, &s, &len)) {
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

        memset(&buf, 0, sizeof(velro_buf_t));
        velro_json_emit(&buf, v);
        velro_buf_add(&buf, "", 1);

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


static int
velro_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/*
 * The length of the valid UTF-8 sequence at p (1 to 4), or 0.  Overlong
 * forms, surrogates and code points above U+10FFFF are invalid.
 */

static size_t
velro_utf8_len(const unsigned char *p, size_t n)
{
    size_t         need, i;
    unsigned char  c, lo, hi;

    c = p[0];

    if (c < 0x80) {
        return 1;
    }

    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;

    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;

        if (c == 0xe0) {
            lo = 0xa0;

        } else if (c == 0xed) {
            hi = 0x9f;
        }

    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;

        if (c == 0xf0) {
            lo = 0x90;

        } else if (c == 0xf4) {
            hi = 0x8f;
        }

    } else {
        return 0;
    }

    if (n < need + 1) {
        return 0;
    }

    if (p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (i = 2; i <= need; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }

    return need + 1;
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
            || (hi = velro_hexval((unsigned char) s[i + 1])) < 0
            || (lo = velro_hexval((unsigned char) s[i + 2])) < 0)
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
        u = velro_utf8_len((unsigned char *) &norm[i], nlen - i);

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
                c = (unsigned char) (velro_hexval((unsigned char) s[i + 1])
                                     << 4
                                     | velro_hexval((unsigned char) s[i + 2]));
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
            && (hi = velro_hexval((unsigned char) s[i + 1])) >= 0
            && (lo = velro_hexval((unsigned char) s[i + 2])) >= 0)
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

    if (!velro_str(j, &s, &len)) {
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

static int
velro_is_token(const char *s, size_t len)
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

    if (!velro_is_token(s, len)) {
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

        if (!velro_str(v, &s, &len)) {
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

    if (!velro_str(j, &s, &len)) {
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


int
velro_batch_order(const velro_batch_t *b, size_t *out)
{
    size_t  n;

    if (velro_batch_sort(b, out, &n) != 0 || n != b->nitems) {
        return -1;
    }

    return 0;
}


/*
 * Kahn's sort: out[0 .. *count) are the items that can run, each after
 * its dependencies; fewer than b->nitems when there is a cycle.  Returns
 * 0, or -1 when out of memory.
 */

static int
velro_batch_sort(const velro_batch_t *b, size_t *out, size_t *count)
{
    size_t   i, j, k, n, head, tail, *pending, *start, *users, *fill;

    n = b->nitems;

    pending = calloc(n + 1, sizeof(size_t));
    start = calloc(n + 1, sizeof(size_t));
    fill = calloc(n + 1, sizeof(size_t));
    users = NULL;

    if (pending == NULL || start == NULL || fill == NULL) {
        goto failed;
    }

    /* who waits for whom: users[start[d] .. start[d + 1]) wait for d */

    for (i = 0; i < n; i++) {
        pending[i] = b->items[i].ndeps;

        for (j = 0; j < b->items[i].ndeps; j++) {
            if (b->items[i].deps[j] >= n) {
                goto failed;
            }

            start[b->items[i].deps[j] + 1]++;
        }
    }

    for (i = 0; i < n; i++) {
        start[i + 1] += start[i];
    }

    users = malloc((start[n] + 1) * sizeof(size_t));
    if (users == NULL) {
        goto failed;
    }

    for (i = 0; i < n; i++) {
        for (j = 0; j < b->items[i].ndeps; j++) {
            k = b->items[i].deps[j];
            users[start[k] + fill[k]++] = i;
        }
    }

    head = 0;
    tail = 0;

    for (i = 0; i < n; i++) {
        if (pending[i] == 0) {
            out[tail++] = i;
        }
    }

    while (head < tail) {
        k = out[head++];

        for (j = start[k]; j < start[k + 1]; j++) {
            if (--pending[users[j]] == 0) {
                out[tail++] = users[j];
            }
        }
    }

    free(pending);
    free(start);
    free(fill);
    free(users);

    *count = tail;

    return 0;

failed:

    free(pending);
    free(start);
    free(fill);
    free(users);

    return -1;
}


/*
 * A cycle: 400 naming the lowest item index on one.  Items not ordered
 * each wait for some item not ordered: following those from any of them
 * comes back to an item on a cycle.
 */

static int
velro_batch_cycle(velro_batch_t *b)
{
    int                  rc;
    size_t               i, j, k, n, min, count, *order;
    unsigned char       *done, *seen;
    velro_batch_item_t  *item;

    n = b->nitems;

    order = malloc(n * sizeof(size_t));
    done = calloc(n, 1);
    seen = calloc(n, 1);

    if (order == NULL || done == NULL || seen == NULL
        || velro_batch_sort(b, order, &count) != 0)
    {
        rc = velro_batch_fail(b, 500, -1, "out of memory");
        goto done;
    }

    rc = 0;

    if (count == n) {
        goto done;
    }

    for (i = 0; i < count; i++) {
        done[order[i]] = 1;
    }

    for (k = 0; done[k]; k++) {
        /* void */
    }

    while (!seen[k]) {
        seen[k] = 1;
        item = &b->items[k];

        for (j = 0; j < item->ndeps && done[item->deps[j]]; j++) {
            /* void */
        }

        k = item->deps[j];
    }

    /* k is on a cycle: go round it for the lowest index */

    min = k;
    i = k;

    do {
        item = &b->items[i];

        for (j = 0; j < item->ndeps && done[item->deps[j]]; j++) {
            /* void */
        }

        i = item->deps[j];

        if (i < min) {
            min = i;
        }

    } while (i != k);

    rc = velro_batch_fail(b, 400, (long) min, "dependency cycle");

done:

    free(order);
    free(done);
    free(seen);

    return rc;
}


/* output */

static void
velro_buf_add(velro_buf_t *buf, const void *p, size_t n)
{
    char    *data;
    size_t   size;

    if (buf->failed) {
        return;
    }

    if (buf->size - buf->len < n) {
        size = buf->size ? buf->size : 256;

        while (size - buf->len < n) {
            if (size > ((size_t) -1) / 2) {
                buf->failed = 1;
                return;
            }

            size *= 2;
        }

        data = realloc(buf->data, size);
        if (data == NULL) {
            buf->failed = 1;
            return;
        }

        buf->data = data;
        buf->size = size;
    }

    memcpy(buf->data + buf->len, p, n);
    buf->len += n;
}


static void
velro_buf_str(velro_buf_t *buf, const char *s)
{
    velro_buf_add(buf, s, strlen(s));
}


static void
velro_json_string(velro_buf_t *buf, const char *s, size_t len)
{
    velro_buf_add(buf, "\"", 1);
    velro_json_chars(buf, s, len);
    velro_buf_add(buf, "\"", 1);
}


/* the inside of a JSON string; each byte of invalid UTF-8 is U+FFFD */

static void
velro_json_chars(velro_buf_t *buf, const char *s, size_t len)
{
    char                  esc[8];
    size_t                i, u, run;
    unsigned char         c;
    const unsigned char  *p;

    static const char     hex[] = "0123456789abcdef";

    p = (const unsigned char *) s;

    i = 0;

    while (i < len) {

        /* a run of bytes that go as they are */

        for (run = i; run < len; run += u) {
            c = p[run];

            if (c < 0x80) {
                if (c < 0x20 || c == '"' || c == '\\') {
                    break;
                }

                u = 1;
                continue;
            }

            u = velro_utf8_len(&p[run], len - run);
            if (u == 0) {
                break;
            }
        }

        velro_buf_add(buf, &p[i], run - i);
        i = run;

        if (i == len) {
            break;
        }

        c = p[i];

        switch (c) {

        case '"':
            velro_buf_add(buf, "\\\"", 2);
            break;

        case '\\':
            velro_buf_add(buf, "\\\\", 2);
            break;

        case '\n':
            velro_buf_add(buf, "\\n", 2);
            break;

        case '\r':
            velro_buf_add(buf, "\\r", 2);
            break;

        case '\t':
            velro_buf_add(buf, "\\t", 2);
            break;

        default:

            if (c < 0x20) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 0xf];
                velro_buf_add(buf, esc, 6);

            } else {
                velro_buf_add(buf, "\xef\xbf\xbd", 3);
            }
        }

        i++;
    }
}


/*
 * The fewest significant digits that read back as d, written as
 * JavaScript does: fixed notation for exponents -6 to 20 (".0" added when
 * there is no fraction, so that a real stays a real), else 1.5e-7 style.
 */

static void
velro_json_real(velro_buf_t *buf, double d)
{
    int     p, x, n, dec;
    char    tmp[400], *e, *q;

    for (p = 1; p < 17; p++) {
        snprintf(tmp, sizeof(tmp), "%.*e", p - 1, d);

        if (strtod(tmp, NULL) == d) {
            break;
        }
    }

    n = snprintf(tmp, sizeof(tmp), "%.*e", p - 1, d);

    e = strchr(tmp, 'e');

    if (n <= 0 || (size_t) n >= sizeof(tmp) || e == NULL) {
        buf->failed = 1;
        return;
    }

    x = atoi(e + 1);

    if (x >= -6 && x < 21) {
        dec = p - 1 - x;
        n = snprintf(tmp, sizeof(tmp), "%.*f", dec > 0 ? dec : 0, d);

        if (n <= 0 || (size_t) n >= sizeof(tmp) - 2) {
            buf->failed = 1;
            return;
        }

        if (strchr(tmp, '.') == NULL) {
            memcpy(tmp + n, ".0", 3);
        }

        velro_buf_str(buf, tmp);
        return;
    }

    /* "1.5e-07" is "1.5e-7" */

    q = e + 2;

    while (*q == '0' && q[1] != '\0') {
        q++;
    }

    memmove(e + 2, q, strlen(q) + 1);

    velro_buf_str(buf, tmp);
}


/* compact JSON */

static void
velro_json_emit(velro_buf_t *buf, velro_json_t *j)
{
    char           tmp[32];
    velro_json_t  *v;

    switch (j->type) {

    case VELRO_JSON_OBJECT:
        velro_buf_add(buf, "{", 1);

        for (v = j->u.child; v; v = v->next) {
            if (v != j->u.child) {
                velro_buf_add(buf, ",", 1);
            }

            velro_json_string(buf, v->key, v->klen);
            velro_buf_add(buf, ":", 1);
            velro_json_emit(buf, v);
        }

        velro_buf_add(buf, "}", 1);
        break;

    case VELRO_JSON_ARRAY:
        velro_buf_add(buf, "[", 1);

        for (v = j->u.child; v; v = v->next) {
            if (v != j->u.child) {
                velro_buf_add(buf, ",", 1);
            }

            velro_json_emit(buf, v);
        }

        velro_buf_add(buf, "]", 1);
        break;

    case VELRO_JSON_STRING:
        velro_json_string(buf, j->u.str, j->len);
        break;

    case VELRO_JSON_INTEGER:
        snprintf(tmp, sizeof(tmp), "%lld", j->u.integer);
        velro_buf_str(buf, tmp);
        break;

    case VELRO_JSON_REAL:
        velro_json_real(buf, j->u.real);
        break;

    case VELRO_JSON_TRUE:
        velro_buf_add(buf, "true", 4);
        break;

    case VELRO_JSON_FALSE:
        velro_buf_add(buf, "false", 5);
        break;

    default:
        velro_buf_add(buf, "null", 4);
    }
}


size_t
velro_batch_error_json(const velro_batch_t *b, char *buf, size_t size)
{
    char         tmp[32];
    size_t       n;
    velro_buf_t  out;

    memset(&out, 0, sizeof(velro_buf_t));

    velro_buf_str(&out, "{\"error\":");
    velro_json_string(&out, b->error, strnlen(b->error, sizeof(b->error)));

    if (b->error_item >= 0) {
        snprintf(tmp, sizeof(tmp), ",\"item\":%ld", b->error_item);
        velro_buf_str(&out, tmp);
    }

    velro_buf_add(&out, "}", 1);

    if (out.failed || out.len >= size) {
        free(out.data);

        if (size) {
            buf[0] = '\0';
        }

        return 0;
    }

    memcpy(buf, out.data, out.len);
    buf[out.len] = '\0';
    n = out.len;

    free(out.data);

    return n;
}


static void
velro_batch_result(velro_buf_t *buf, const velro_batch_item_t *item,
    const velro_batch_result_t *r)
{
    char           tmp[32];
    size_t         i, j, n;
    const char    *name, *value;
    velro_pool_t   pool;
    velro_json_t  *body;

    velro_buf_str(buf, "{\"id\":");

    if (item->id) {
        velro_json_string(buf, item->id, strlen(item->id));

    } else {
        velro_buf_add(buf, "null", 4);
    }

    /* the status, without snprintf(): it is 100 to 999 but for bugs */

    if (r->status >= 100 && r->status <= 999) {
        memcpy(tmp, ",\"status\":", 10);
        tmp[10] = (char) ('0' + r->status / 100);
        tmp[11] = (char) ('0' + r->status / 10 % 10);
        tmp[12] = (char) ('0' + r->status % 10);
        velro_buf_add(buf, tmp, 13);

    } else {
        snprintf(tmp, sizeof(tmp), ",\"status\":%d", r->status);
        velro_buf_str(buf, tmp);
    }

    /*
     * headers: names that are tokens, a repeated name once, its values
     * joined with ", "
     */

    velro_buf_str(buf, ",\"headers\":{");
    n = 0;

    for (i = 0; i < r->nheaders; i++) {
        name = r->headers[i].name;

        if (name == NULL || !velro_is_token(name, strlen(name))) {
            continue;
        }

        for (j = 0; j < i; j++) {
            if (r->headers[j].name
                && strcasecmp(name, r->headers[j].name) == 0)
            {
                break;
            }
        }

        if (j < i) {
            continue;
        }

        if (n++) {
            velro_buf_add(buf, ",", 1);
        }

        velro_json_string(buf, name, strlen(name));
        velro_buf_add(buf, ":", 1);

        /* the value: the JSON string of the joined values */

        velro_buf_add(buf, "\"", 1);

        for (j = i; j < r->nheaders; j++) {
            if (j > i
                && (r->headers[j].name == NULL
                    || strcasecmp(name, r->headers[j].name) != 0))
            {
                continue;
            }

            if (j > i) {
                velro_buf_add(buf, ", ", 2);
            }

            value = r->headers[j].value ? r->headers[j].value : "";
            velro_json_chars(buf, value, strlen(value));
        }

        velro_buf_add(buf, "\"", 1);
    }

    velro_buf_str(buf, "},\"body\":");

    if (r->error) {
        velro_buf_str(buf, "{\"error\":");
        velro_json_string(buf, r->error, strlen(r->error));
        velro_buf_add(buf, "}", 1);

    } else if (r->json && r->body_len > 0) {
        memset(&pool, 0, sizeof(velro_pool_t));
        pool.size = 4096;

        while (pool.size < r->body_len * 4 && pool.size < 64 * 1024) {
            pool.size *= 2;
        }

        body = velro_json_parse(&pool, r->body, r->body_len, NULL);

        if (body == NULL || body->depth > VELRO_BATCH_RESPONSE_DEPTH) {
            velro_json_string(buf, r->body, r->body_len);

        } else {
            velro_json_emit(buf, body);
        }

        velro_pool_free(&pool);

    } else {
        velro_json_string(buf, r->body ? r->body : "",
                          r->body ? r->body_len : 0);
    }

    velro_buf_add(buf, "}", 1);
}


char *
velro_batch_response(const velro_batch_t *b,
    const velro_batch_result_t *results, size_t *len)
{
    size_t       i, j, size;
    velro_buf_t  buf;

    memset(&buf, 0, sizeof(velro_buf_t));

    /* room for what is most likely, at once */

    size = 64;

    for (i = 0; i < b->nitems; i++) {
        size += 128 + results[i].body_len;

        if (b->items[i].id) {
            size += strlen(b->items[i].id);
        }

        for (j = 0; j < results[i].nheaders; j++) {
            if (results[i].headers[j].name && results[i].headers[j].value) {
                size += 8 + strlen(results[i].headers[j].name)
                        + strlen(results[i].headers[j].value);
            }
        }
    }

    buf.data = malloc(size);
    if (buf.data == NULL) {
        return NULL;
    }

    buf.size = size;

    velro_buf_add(&buf, "[", 1);

    for (i = 0; i < b->nitems; i++) {
        if (i) {
            velro_buf_add(&buf, ",", 1);
        }

        velro_batch_result(&buf, &b->items[i], &results[i]);
    }

    velro_buf_add(&buf, "]", 1);
    velro_buf_add(&buf, "", 1);                /* a terminating NUL */

    if (buf.failed) {
        free(buf.data);
        return NULL;
    }

    *len = buf.len - 1;

    return buf.data;
}
static void *
velro_palloc(velro_pool_t *pool, size_t n)
{
    char                *p;
    size_t               size;
    velro_pool_block_t  *blk;

    if (n > ((size_t) -1) / 2) {
        return NULL;
    }

    n = (n + 15) & ~((size_t) 15);

    if ((size_t) (pool->end - pool->pos) < n) {
        size = pool->size ? pool->size : 4096;

        if (size < 64 * 1024) {
            pool->size = size * 2;
        }

        if (size < n + sizeof(velro_pool_block_t)) {
            size = n + sizeof(velro_pool_block_t);
        }

        blk = malloc(size);
        if (blk == NULL) {
            return NULL;
        }

        blk->next = pool->blocks;
        pool->blocks = blk;
        pool->pos = (char *) blk + sizeof(velro_pool_block_t);
        pool->end = (char *) blk + size;
    }

    p = pool->pos;
    pool->pos += n;

    return p;
}


static void
velro_pool_free(velro_pool_t *pool)
{
    velro_pool_block_t  *blk, *next;

    for (blk = pool->blocks; blk; blk = next) {
        next = blk->next;
        free(blk);
    }

    memset(pool, 0, sizeof(velro_pool_t));
}


static void
velro_json_ws(velro_json_parser_t *ps)
{
    while (ps->p < ps->end
           && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n'
               || *ps->p == '\r'))
    {
        ps->p++;
    }
}


static int
velro_json_hex4(const unsigned char *p, unsigned *v)
{
    int       i, h;
    unsigned  n;

    n = 0;

    for (i = 0; i < 4; i++) {
        h = velro_hexval(p[i]);
        if (h < 0) {
            return -1;
        }

        n = n * 16 + (unsigned) h;
    }

    *v = n;

    return 0;
}


/* a string, ps->p at its opening quote; 0 or -1 */

static int
velro_json_str(velro_json_parser_t *ps, char **s, size_t *len)
{
    char                 *out, *o;
    size_t                u;
    unsigned              cp, lo;
    const unsigned char  *p, *end, *start;

    p = ps->p + 1;
    end = ps->end;
    start = p;

    /* the raw text: its end, control characters, escapes, UTF-8 */

    while (p < end && *p != '"') {

        if (*p < 0x20) {
            return -1;
        }

        if (*p == '\\') {
            if (end - p < 2) {
                return -1;
            }

            if (p[1] == 'u') {
                if (end - p < 6 || velro_json_hex4(p + 2, &cp) != 0) {
                    return -1;
                }

                p += 6;
                continue;
            }

            if (strchr("\"\\/bfnrt", p[1]) == NULL || p[1] == '\0') {
                return -1;
            }

            p += 2;
            continue;
        }

        u = velro_utf8_len(p, end - p);
        if (u == 0) {
            return -1;
        }

        p += u;
    }

    if (p == end) {
        return -1;
    }

    ps->p = p + 1;

    /* decoded, never longer than the text */

    out = velro_palloc(ps->pool, (p - start) + 1);
    if (out == NULL) {
        return -1;
    }

    end = p;
    o = out;

    for (p = start; p < end; /* void */ ) {

        if (*p != '\\') {
            *o++ = (char) *p++;
            continue;
        }

        if (p[1] != 'u') {

            switch (p[1]) {

            case 'b':
                *o++ = '\b';
                break;

            case 'f':
                *o++ = '\f';
                break;

            case 'n':
                *o++ = '\n';
                break;

            case 'r':
                *o++ = '\r';
                break;

            case 't':
                *o++ = '\t';
                break;

            default:                            /* '"', '\\', '/' */
                *o++ = (char) p[1];
            }

            p += 2;
            continue;
        }

        (void) velro_json_hex4(p + 2, &cp);
        p += 6;

        if (cp >= 0xdc00 && cp <= 0xdfff) {
            return -1;
        }

        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u'
                || velro_json_hex4(p + 2, &lo) != 0
                || lo < 0xdc00 || lo > 0xdfff)
            {
                return -1;
            }

            p += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }

        if (cp < 0x80) {
            *o++ = (char) cp;

        } else if (cp < 0x800) {
            *o++ = (char) (0xc0 | (cp >> 6));
            *o++ = (char) (0x80 | (cp & 0x3f));

        } else if (cp < 0x10000) {
            *o++ = (char) (0xe0 | (cp >> 12));
            *o++ = (char) (0x80 | ((cp >> 6) & 0x3f));
            *o++ = (char) (0x80 | (cp & 0x3f));

        } else {
            *o++ = (char) (0xf0 | (cp >> 18));
            *o++ = (char) (0x80 | ((cp >> 12) & 0x3f));
            *o++ = (char) (0x80 | ((cp >> 6) & 0x3f));
            *o++ = (char) (0x80 | (cp & 0x3f));
        }
    }

    *o = '\0';

    *s = out;
    *len = o - out;

    return 0;
}


/* a number, as jansson reads it: strtoll() or strtod() of its text */

static int
velro_json_number(velro_json_parser_t *ps, velro_json_t *v)
{
    char                  tmp[64], *text;
    size_t                n;
    const unsigned char  *p, *end, *start;

    p = ps->p;
    end = ps->end;
    start = p;

    if (*p == '-') {
        p++;
    }

    if (p < end && *p == '0') {
        p++;

        if (p < end && *p >= '0' && *p <= '9') {
            return -1;
        }

    } else if (p < end && *p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }

    } else {
        return -1;
    }

    v->type = VELRO_JSON_INTEGER;

    if (p < end && *p == '.') {
        v->type = VELRO_JSON_REAL;
        p++;

        if (p == end || *p < '0' || *p > '9') {
            return -1;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        v->type = VELRO_JSON_REAL;
        p++;

        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }

        if (p == end || *p < '0' || *p > '9') {
            return -1;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    n = p - start;

    if (n < sizeof(tmp)) {
        text = tmp;

    } else {
        text = velro_palloc(ps->pool, n + 1);
        if (text == NULL) {
            return -1;
        }
    }

    memcpy(text, start, n);
    text[n] = '\0';

    errno = 0;

    if (v->type == VELRO_JSON_INTEGER) {
        v->u.integer = strtoll(text, NULL, 10);

        if (errno == ERANGE) {
            return -1;
        }

    } else {
        v->u.real = strtod(text, NULL);

        if ((v->u.real == HUGE_VAL || v->u.real == -HUGE_VAL)
            && errno == ERANGE)
        {
            return -1;
        }
    }

    ps->p = p;

    return 0;
}


static uint32_t
velro_json_hash(const char *s, size_t len)
{
    size_t    i;
    uint32_t  h;

    h = 2166136261u;

    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char) s[i]) * 16777619u;
    }

    return h;
}


/*
 * An object's members, ps->p after its '{'.  A key is checked against
 * the earlier ones as it comes (as jansson does, so a duplicate is found
 * before a later syntax error): one by one while few, then in a hash.
 */

static int
velro_json_object(velro_json_parser_t *ps, velro_json_t *v)
{
    char           *key;
    size_t          klen, i, size, mask;
    uint32_t        h;
    velro_json_t   *child, **last, **table, *m;

    last = &v->u.child;
    table = NULL;
    size = 0;

    velro_json_ws(ps);

    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return 0;
    }

    for ( ;; ) {
        velro_json_ws(ps);

        if (ps->p == ps->end || *ps->p != '"') {
            return -1;
        }

        if (velro_json_str(ps, &key, &klen) != 0) {
            return -1;
        }

        if (memchr(key, '\0', klen) != NULL) {
            return -1;
        }

        if (table == NULL) {
            for (m = v->u.child; m; m = m->next) {
                if (m->klen == klen && memcmp(m->key, key, klen) == 0) {
                    ps->dup = 1;
                    return -1;
                }
            }

        } else {
            mask = size - 1;

            for (i = velro_json_hash(key, klen) & mask; table[i];
                 i = (i + 1) & mask)
            {
                if (table[i]->klen == klen
                    && memcmp(table[i]->key, key, klen) == 0)
                {
                    ps->dup = 1;
                    return -1;
                }
            }
        }

        velro_json_ws(ps);

        if (ps->p == ps->end || *ps->p != ':') {
            return -1;
        }

        ps->p++;

        child = velro_json_value(ps);
        if (child == NULL) {
            return -1;
        }

        child->key = key;
        child->klen = klen;

        *last = child;
        last = &child->next;
        v->len++;

        if (child->depth + 1 > v->depth) {
            v->depth = child->depth + 1;
        }

        /* the hash: made, grown to stay at most half full, or added to */

        if (v->len < VELRO_JSON_LINEAR_KEYS) {
            /* void */

        } else if (v->len * 2 > size) {
            size = size ? size * 2 : 4 * VELRO_JSON_LINEAR_KEYS;

            table = velro_palloc(ps->pool, size * sizeof(velro_json_t *));
            if (table == NULL) {
                return -1;
            }

            memset(table, 0, size * sizeof(velro_json_t *));
            mask = size - 1;

            for (m = v->u.child; m; m = m->next) {
                h = velro_json_hash(m->key, m->klen);

                for (i = h & mask; table[i]; i = (i + 1) & mask) {
                    /* void */
                }

                table[i] = m;
            }

        } else {
            mask = size - 1;
            h = velro_json_hash(key, klen);

            for (i = h & mask; table[i]; i = (i + 1) & mask) {
                /* void */
            }

            table[i] = child;
        }

        velro_json_ws(ps);

        if (ps->p == ps->end) {
            return -1;
        }

        if (*ps->p == ',') {
            ps->p++;
            continue;
        }

        if (*ps->p == '}') {
            ps->p++;
            return 0;
        }

        return -1;
    }
}


static int
velro_json_array(velro_json_parser_t *ps, velro_json_t *v)
{
    velro_json_t  *child, **last;

    last = &v->u.child;

    velro_json_ws(ps);

    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return 0;
    }

    for ( ;; ) {
        child = velro_json_value(ps);
        if (child == NULL) {
            return -1;
        }

        *last = child;
        last = &child->next;
        v->len++;

        if (child->depth + 1 > v->depth) {
            v->depth = child->depth + 1;
        }

        velro_json_ws(ps);

        if (ps->p == ps->end) {
            return -1;
        }

        if (*ps->p == ',') {
            ps->p++;
            continue;
        }

        if (*ps->p == ']') {
            ps->p++;
            return 0;
        }

        return -1;
    }
}


static velro_json_t *
velro_json_value(velro_json_parser_t *ps)
{
    int            rc;
    size_t         n;
    velro_json_t  *v;

    velro_json_ws(ps);

    if (ps->p == ps->end || ++ps->depth > VELRO_JSON_MAX_DEPTH) {
        return NULL;
    }

    v = velro_palloc(ps->pool, sizeof(velro_json_t));
    if (v == NULL) {
        return NULL;
    }

    memset(v, 0, sizeof(velro_json_t));

    n = ps->end - ps->p;

    switch (*ps->p) {

    case '{':
        ps->p++;
        v->type = VELRO_JSON_OBJECT;
        v->depth = 1;
        rc = velro_json_object(ps, v);
        break;

    case '[':
        ps->p++;
        v->type = VELRO_JSON_ARRAY;
        v->depth = 1;
        rc = velro_json_array(ps, v);
        break;

    case '"':
        v->type = VELRO_JSON_STRING;
        rc = velro_json_str(ps, &v->u.str, &v->len);
        break;

    case 't':
        v->type = VELRO_JSON_TRUE;
        rc = -1;

        if (n >= 4 && memcmp(ps->p, "true", 4) == 0) {
            ps->p += 4;
            rc = 0;
        }
        break;

    case 'f':
        v->type = VELRO_JSON_FALSE;
        rc = -1;

        if (n >= 5 && memcmp(ps->p, "false", 5) == 0) {
            ps->p += 5;
            rc = 0;
        }
        break;

    case 'n':
        v->type = VELRO_JSON_NULL;
        rc = -1;

        if (n >= 4 && memcmp(ps->p, "null", 4) == 0) {
            ps->p += 4;
            rc = 0;
        }
        break;

    default:
        rc = velro_json_number(ps, v);
    }

    ps->depth--;

    return (rc == 0) ? v : NULL;
}


/*
 * The value that is all of buf, or NULL: bad JSON, or out of memory
 * (*dup is set when the first error met is a duplicate object key).
 */

static velro_json_t *
velro_json_parse(velro_pool_t *pool, const char *buf, size_t len, int *dup)
{
    velro_json_t         *v;
    velro_json_parser_t   ps;

    ps.p = (const unsigned char *) buf;
    ps.end = ps.p + len;
    ps.pool = pool;
    ps.depth = 0;
    ps.dup = 0;

    v = velro_json_value(&ps);

    if (v != NULL) {
        velro_json_ws(&ps);

        if (ps.p != ps.end) {
            v = NULL;
        }
    }

    if (dup) {
        *dup = ps.dup;
    }

    return v;
}


/* an object's member, or NULL */

static velro_json_t *
velro_json_get(velro_json_t *o, const char *key)
{
    size_t         len;
    velro_json_t  *m;

    len = strlen(key);

    for (m = o->u.child; m; m = m->next) {
        if (m->klen == len && memcmp(m->key, key, len) == 0) {
            return m;
        }
    }

    return NULL;
}
