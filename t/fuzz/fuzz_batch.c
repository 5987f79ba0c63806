
/*
 * velro: libFuzzer target for request batching.
 *
 * The input is given to velro_batch_parse() (max 20 items, the batch at
 * "/batch").  A refusal must carry a status, a message and a JSON error
 * body.  What parses must keep every promise of velro_batch.h: endpoints
 * without dot segments, encoded slashes, control characters or a way to
 * the batch itself; known methods; headers items may set; bodies that are
 * compact JSON; ids unique; dependencies in range, not the item itself,
 * and in an order.  Then velro_batch_response() is given results made of
 * the input's bytes, and its answer must be a JSON array with every item
 * in place.  The input is also the body of a fixed one-item batch's
 * answer, as JSON and as text: a body that jansson reads must come back
 * equal (velro_json.c is its own parser: this checks it against
 * jansson), a text that is valid UTF-8 must come back as the same string.
 * Any mismatch aborts.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "velro_batch.h"
#include "velro_json.h"


#define FUZZ_SELF  "/batch"
#define FUZZ_MAX   20


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what, const uint8_t *data, size_t size);
static void fuzz_check_refusal(const velro_batch_t *b, const uint8_t *data,
    size_t size);
static void fuzz_check_path(const velro_batch_item_t *item,
    const uint8_t *data, size_t size);
static void fuzz_check_item(const velro_batch_t *b, size_t i,
    const uint8_t *data, size_t size);
static void fuzz_check_order(const velro_batch_t *b, const uint8_t *data,
    size_t size);
static json_t *fuzz_check_response(const velro_batch_t *b,
    const velro_batch_result_t *r, const uint8_t *data, size_t size);
static void fuzz_response(const velro_batch_t *b, const uint8_t *data,
    size_t size);
static void fuzz_body(const uint8_t *data, size_t size);
static int fuzz_utf8(const uint8_t *p, size_t n);
static int fuzz_compact(const char *s);
static int fuzz_depth(json_t *j);


static const char  *fuzz_forbidden[] = {
    "authorization", "cookie", "host", "connection", "keep-alive",
    "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
    "trailer", "transfer-encoding", "upgrade", "content-length", "expect"
};


static velro_batch_t  fuzz_one;
static int            fuzz_ready;


static void
fuzz_fail(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "fuzz_batch: %s; input: %.*s\n", what,
            (int) (size > 1024 ? 1024 : size), (const char *) data);
    abort();
}



static void
fuzz_check_refusal(const velro_batch_t *b, const uint8_t *data, size_t size)
{
    char     buf[256];
    size_t   n;
    json_t  *j;

    if (b->status != 400 && b->status != 413 && b->status != 500) {
        fuzz_fail("refusal: bad status", data, size);
    }

    if (b->error[0] == '\0' || b->items != NULL || b->nitems != 0) {
        fuzz_fail("refusal: no message or items kept", data, size);
    }

    if (b->error_item < -1 || b->error_item >= FUZZ_MAX) {
        fuzz_fail("refusal: item index out of range", data, size);
    }

    if (b->status == 413 && b->error_item != -1) {
        fuzz_fail("refusal: 413 names an item", data, size);
    }

    n = velro_batch_error_json(b, buf, sizeof(buf));

    if (n == 0 || n != strlen(buf)) {
        fuzz_fail("refusal: no error body", data, size);
    }

    j = json_loadb(buf, n, JSON_REJECT_DUPLICATES, NULL);

    if (j == NULL || !json_is_string(json_object_get(j, "error"))
        || strcmp(json_string_value(json_object_get(j, "error")), b->error)
           != 0
        || (b->error_item >= 0)
           != (json_object_get(j, "item") != NULL)
        || (b->error_item >= 0
            && json_integer_value(json_object_get(j, "item"))
               != b->error_item))
    {
        fuzz_fail("refusal: error body wrong", data, size);
    }

    json_decref(j);
}


/* the path, decoded here again, has no way out and no way to the batch */

static void
fuzz_check_path(const velro_batch_item_t *item, const uint8_t *data,
    size_t size)
{
    size_t          i, n, start;
    unsigned char   c, dec[VELRO_BATCH_MAX_ENDPOINT + 1];

    if (item->path == NULL || item->path_len == 0
        || item->path_len > VELRO_BATCH_MAX_ENDPOINT
        || strlen(item->path) != item->path_len || item->path[0] != '/'
        || (item->path_len > 1 && item->path[1] == '/'))
    {
        fuzz_fail("path: not a local path", data, size);
    }

    if (item->path_len + (item->args ? item->args_len + 1 : 0)
        > VELRO_BATCH_MAX_ENDPOINT)
    {
        fuzz_fail("endpoint: too long", data, size);
    }

    if (strstr(item->path, "://") != NULL) {
        fuzz_fail("path: absolute URL", data, size);
    }

    n = 0;

    for (i = 0; i < item->path_len; i++) {
        c = (unsigned char) item->path[i];

        if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '#' || c == '?') {
            fuzz_fail("path: bad character", data, size);
        }

        if (c == '%') {
            if (i + 2 >= item->path_len
                || velro_json_hexval(item->path[i + 1]) < 0
                || velro_json_hexval(item->path[i + 2]) < 0)
            {
                fuzz_fail("path: bad escape", data, size);
            }

            c = (unsigned char) (velro_json_hexval(item->path[i + 1]) << 4
                                 | velro_json_hexval(item->path[i + 2]));
            i += 2;

            if (c == '/' || c == '\\' || c == '%' || c < 0x20 || c == 0x7f) {
                fuzz_fail("path: encoded slash, percent or control", data,
                          size);
            }
        }

        dec[n++] = c;
    }

    dec[n] = '\0';

    if (!fuzz_utf8(dec, n)) {
        fuzz_fail("path: decodes to bad UTF-8", data, size);
    }

    /* no "." or ".." segment, also up to a ';' */

    for (start = 0; start < n; start = i) {
        start++;

        for (i = start; i < n && dec[i] != '/'; i++) {
            /* void */
        }

        if ((i - start >= 1 && dec[start] == '.'
             && (i - start == 1 || dec[start + 1] == ';'))
            || (i - start >= 2 && dec[start] == '.' && dec[start + 1] == '.'
                && (i - start == 2 || dec[start + 2] == ';')))
        {
            fuzz_fail("path: dot segment", data, size);
        }
    }

    /* not the batch: "/batch" with any slashes around */

    for (i = 0, start = 0; i < n; i++) {
        if (dec[i] == '/' && start > 0 && dec[start - 1] == '/') {
            continue;
        }

        dec[start++] = dec[i];
    }

    while (start > 0 && dec[start - 1] == '/') {
        start--;
    }

    if ((start == 6 && memcmp(dec, FUZZ_SELF, 6) == 0)
        || (start > 6 && memcmp(dec, FUZZ_SELF "/", 7) == 0))
    {
        fuzz_fail("path: the batch itself", data, size);
    }

    if (item->args) {
        if (item->args_len == 0 || strlen(item->args) != item->args_len) {
            fuzz_fail("args: length", data, size);
        }

        for (i = 0; i < item->args_len; i++) {
            c = (unsigned char) item->args[i];

            if (c <= 0x20 || c >= 0x7f || c == '#' || c == '\\') {
                fuzz_fail("args: bad character", data, size);
            }

            if (c == '%') {
                if (velro_json_hexval(item->args[i + 1]) < 0
                    || velro_json_hexval(item->args[i + 2]) < 0)
                {
                    fuzz_fail("args: bad escape", data, size);
                }

                c = (unsigned char)
                        (velro_json_hexval(item->args[i + 1]) << 4
                         | velro_json_hexval(item->args[i + 2]));

                if (c < 0x20 || c == 0x7f) {
                    fuzz_fail("args: encoded control", data, size);
                }
            }
        }

    } else if (item->args_len != 0) {
        fuzz_fail("args: length without args", data, size);
    }
}


static void
fuzz_check_item(const velro_batch_t *b, size_t i, const uint8_t *data,
    size_t size)
{
    size_t                        j, k, n;
    json_t                       *body;
    const char                   *s;
    const velro_batch_item_t     *item;
    const velro_batch_header_t   *h;

    item = &b->items[i];

    fuzz_check_path(item, data, size);

    if (item->method < VELRO_BATCH_GET || item->method > VELRO_BATCH_DELETE) {
        fuzz_fail("method: out of range", data, size);
    }

    /* headers */

    if (item->nheaders > VELRO_BATCH_MAX_HEADERS
        || (item->nheaders && item->headers == NULL))
    {
        fuzz_fail("headers: count", data, size);
    }

    for (j = 0; j < item->nheaders; j++) {
        h = &item->headers[j];

        n = strlen(h->name);

        if (n == 0 || n > VELRO_BATCH_MAX_HEADER_LEN
            || strlen(h->value) > VELRO_BATCH_MAX_HEADER_LEN)
        {
            fuzz_fail("headers: length", data, size);
        }

        for (s = h->name; *s; s++) {
            if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
                  || (*s >= '0' && *s <= '9')
                  || strchr("!#$%&'*+-.^_`|~", *s) != NULL))
            {
                fuzz_fail("headers: name not a token", data, size);
            }
        }

        for (k = 0; k < sizeof(fuzz_forbidden) / sizeof(fuzz_forbidden[0]);
             k++)
        {
            if (strcasecmp(h->name, fuzz_forbidden[k]) == 0) {
                fuzz_fail("headers: forbidden name", data, size);
            }
        }

        if (strncasecmp(h->name, "x-velro-", 8) == 0) {
            fuzz_fail("headers: reserved name", data, size);
        }

        for (s = h->value; *s; s++) {
            if ((*s > 0 && *s < 0x20 && *s != '\t') || *s == 0x7f) {
                fuzz_fail("headers: control in value", data, size);
            }
        }

        for (k = 0; k < j; k++) {
            if (strcasecmp(h->name, item->headers[k].name) == 0) {
                fuzz_fail("headers: duplicate name", data, size);
            }
        }
    }

    /* body */

    if (item->body) {
        if (item->method == VELRO_BATCH_GET
            || item->method == VELRO_BATCH_HEAD)
        {
            fuzz_fail("body: with GET or HEAD", data, size);
        }

        if (strlen(item->body) != item->body_len
            || !fuzz_compact(item->body))
        {
            fuzz_fail("body: not compact", data, size);
        }

        body = json_loadb(item->body, item->body_len,
                          JSON_DECODE_ANY | JSON_REJECT_DUPLICATES
                          | JSON_ALLOW_NUL, NULL);
        if (body == NULL) {
            fuzz_fail("body: not JSON", data, size);
        }

        json_decref(body);

    } else if (item->body_len != 0) {
        fuzz_fail("body: length without body", data, size);
    }

    /* id */

    if (item->id) {
        n = strlen(item->id);

        if (n == 0 || n > VELRO_BATCH_MAX_ID) {
            fuzz_fail("id: length", data, size);
        }

        for (s = item->id; *s; s++) {
            if ((*s > 0 && *s < 0x20) || *s == 0x7f) {
                fuzz_fail("id: control character", data, size);
            }
        }

        for (k = 0; k < i; k++) {
            if (b->items[k].id && strcmp(b->items[k].id, item->id) == 0) {
                fuzz_fail("id: duplicate", data, size);
            }
        }
    }

    /* dependencies */

    if (item->ndeps > b->nitems - 1 || (item->ndeps && item->deps == NULL)) {
        fuzz_fail("deps: count", data, size);
    }

    for (j = 0; j < item->ndeps; j++) {
        if (item->deps[j] >= b->nitems || item->deps[j] == i
            || b->items[item->deps[j]].id == NULL)
        {
            fuzz_fail("deps: index out of range, self or no id", data, size);
        }

        for (k = 0; k < j; k++) {
            if (item->deps[k] == item->deps[j]) {
                fuzz_fail("deps: duplicate", data, size);
            }
        }
    }
}


static void
fuzz_check_order(const velro_batch_t *b, const uint8_t *data, size_t size)
{
    size_t  i, j, order[FUZZ_MAX], pos[FUZZ_MAX];

    for (i = 0; i < b->nitems; i++) {
        pos[i] = FUZZ_MAX;
    }

    if (velro_batch_order(b, order) != 0) {
        fuzz_fail("order: none for an accepted batch", data, size);
    }

    for (i = 0; i < b->nitems; i++) {
        if (order[i] >= b->nitems || pos[order[i]] != FUZZ_MAX) {
            fuzz_fail("order: not a permutation", data, size);
        }

        pos[order[i]] = i;
    }

    for (i = 0; i < b->nitems; i++) {
        for (j = 0; j < b->items[i].ndeps; j++) {
            if (pos[b->items[i].deps[j]] >= pos[i]) {
                fuzz_fail("order: an item before its dependency", data,
                          size);
            }
        }
    }
}


/* the answer is a JSON array: ids and statuses in place */

static json_t *
fuzz_check_response(const velro_batch_t *b, const velro_batch_result_t *r,
    const uint8_t *data, size_t size)
{
    char          *out;
    size_t         i, len;
    json_t        *j, *e, *id;
    json_error_t   err;

    len = (size_t) -1;
    out = velro_batch_response(b, r, &len);

    if (out == NULL) {
        fuzz_fail("response: none", data, size);
    }

    if (len != strlen(out) || !fuzz_compact(out)) {
        fuzz_fail("response: length or not compact", data, size);
    }

    j = json_loadb(out, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);

    if (j == NULL) {
        fprintf(stderr, "fuzz_batch: %s: %.*s\n", err.text,
                (int) (len > 2048 ? 2048 : len), out);
        fuzz_fail("response: not JSON", data, size);
    }

    free(out);

    if (!json_is_array(j) || json_array_size(j) != b->nitems) {
        fuzz_fail("response: not an array of every item", data, size);
    }

    for (i = 0; i < b->nitems; i++) {
        e = json_array_get(j, i);
        id = json_object_get(e, "id");

        if (!json_is_object(e) || json_object_size(e) != 4
            || json_integer_value(json_object_get(e, "status"))
               != r[i].status
            || !json_is_object(json_object_get(e, "headers"))
            || json_object_get(e, "body") == NULL
            || (b->items[i].id == NULL && !json_is_null(id))
            || (b->items[i].id != NULL
                && (!json_is_string(id)
                    || strcmp(json_string_value(id), b->items[i].id) != 0)))
        {
            fuzz_fail("response: an item out of place", data, size);
        }

        if (r[i].error
            && (json_object_size(json_object_get(e, "body")) != 1
                || strcmp(json_string_value(json_object_get(
                              json_object_get(e, "body"), "error")),
                          r[i].error) != 0))
        {
            fuzz_fail("response: error entry", data, size);
        }
    }

    return j;
}


/* results made of the input: statuses, raw bodies and header bytes */

static void
fuzz_response(const velro_batch_t *b, const uint8_t *data, size_t size)
{
    size_t                  i, off, n;
    json_t                 *j;
    velro_batch_header_t    h[2];
    velro_batch_result_t    r[FUZZ_MAX];
    char                    name[32], value[32];

    static const char      *errors[] = {
        "failed_dependency", "response_too_large", "subrequest_failed"
    };

    n = size < 31 ? size : 31;
    memcpy(name, data, n);
    name[n] = '\0';
    memcpy(value, data + size - n, n);
    value[n] = '\0';

    h[0].name = name;
    h[0].value = value;
    h[1].name = "Content-Type";
    h[1].value = value;

    memset(r, 0, sizeof(r));

    for (i = 0; i < b->nitems; i++) {
        off = (i * 131) % (size + 1);

        r[i].status = 100 + (int) ((i * 37 + size) % 500);
        r[i].body = (const char *) data + off;
        r[i].body_len = size - off;
        r[i].json = (int) (i & 1) == 0;

        if (i % 3 == 1) {
            r[i].headers = h;
            r[i].nheaders = 2;

        } else {
            r[i].headers = b->items[i].headers;
            r[i].nheaders = b->items[i].nheaders;
        }

        if (i % 5 == 4) {
            r[i].status = 424;
            r[i].error = errors[i % 3];
        }
    }

    j = fuzz_check_response(b, r, data, size);
    json_decref(j);
}


/* the input as the body of one answer, as JSON and as text */

static void
fuzz_body(const uint8_t *data, size_t size)
{
    json_t                *j, *in, *body;
    velro_batch_result_t   r;

    memset(&r, 0, sizeof(r));
    r.status = 200;
    r.body = (const char *) data;
    r.body_len = size;

    /* as JSON: equal to what jansson reads, or the text */

    r.json = 1;
    j = fuzz_check_response(&fuzz_one, &r, data, size);
    body = json_object_get(json_array_get(j, 0), "body");

    in = json_loadb((const char *) data, size,
                    JSON_DECODE_ANY | JSON_REJECT_DUPLICATES
                    | JSON_ALLOW_NUL, NULL);

    /*
     * A raw NUL byte is never good JSON, but jansson skips one right after
     * a number or a literal; velro_json.c's parser refuses it, so such a
     * body goes as text (velro_batch.h)
     */

    if (in != NULL && memchr(data, '\0', size) != NULL) {
        json_decref(in);
        in = NULL;
    }

    if (in != NULL && fuzz_depth(in) <= 64) {
        if (!json_equal(in, body)) {
            fuzz_fail("body: JSON changed on the way", data, size);
        }

    } else if (!json_is_string(body)) {
        fuzz_fail("body: bad or deep JSON not a string", data, size);
    }

    json_decref(in);
    json_decref(j);

    /* as text: the same string when it is UTF-8 */

    r.json = 0;
    j = fuzz_check_response(&fuzz_one, &r, data, size);
    body = json_object_get(json_array_get(j, 0), "body");

    if (!json_is_string(body)) {
        fuzz_fail("body: text not a string", data, size);
    }

    if (fuzz_utf8(data, size)
        && (json_string_length(body) != size
            || memcmp(json_string_value(body), data, size) != 0))
    {
        fuzz_fail("body: UTF-8 text changed", data, size);
    }

    json_decref(j);
}


static int
fuzz_utf8(const uint8_t *p, size_t n)
{
    json_t  *j;
    char    *s;

    /* jansson checks UTF-8: a string of these bytes is accepted or not */

    s = malloc(n + 1);
    if (s == NULL) {
        abort();
    }

    memcpy(s, p, n);
    s[n] = '\0';

    j = json_stringn(s, n);
    free(s);

    if (j == NULL) {
        return 0;
    }

    json_decref(j);

    return 1;
}


/* JSON text without white space outside strings */

static int
fuzz_compact(const char *s)
{
    int  in;

    for (in = 0; *s; s++) {
        if (in) {
            if (*s == '\\') {
                s++;

                if (*s == '\0') {
                    return 0;
                }

            } else if (*s == '"') {
                in = 0;
            }

        } else if (*s == '"') {
            in = 1;

        } else if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
            return 0;
        }
    }

    return !in;
}


static int
fuzz_depth(json_t *j)
{
    int          d, max;
    size_t       i;
    json_t      *v;
    const char  *key;

    max = 0;

    if (json_is_array(j)) {
        json_array_foreach(j, i, v) {
            d = fuzz_depth(v);
            max = d > max ? d : max;
        }

        return max + 1;
    }

    if (json_is_object(j)) {
        json_object_foreach(j, key, v) {
            d = fuzz_depth(v);
            max = d > max ? d : max;
        }

        return max + 1;
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t          i;
    velro_batch_t   b;

    static const char  one[] = "[{\"endpoint\":\"/a\",\"id\":\"x\"}]";

    if (!fuzz_ready) {
        if (velro_batch_parse(&fuzz_one, one, sizeof(one) - 1, FUZZ_MAX,
                              FUZZ_SELF, sizeof(FUZZ_SELF) - 1)
            != 0)
        {
            fprintf(stderr, "fuzz_batch: the fixed batch does not parse\n");
            abort();
        }

        fuzz_ready = 1;
    }

    if (velro_batch_parse(&b, (const char *) data, size, FUZZ_MAX,
                          FUZZ_SELF, sizeof(FUZZ_SELF) - 1)
        != 0)
    {
        fuzz_check_refusal(&b, data, size);
        velro_batch_free(&b);

    } else {
        if (b.status != 0 || b.error_item != -1 || b.nitems == 0
            || b.nitems > FUZZ_MAX || b.items == NULL)
        {
            fuzz_fail("accepted: bad batch", data, size);
        }

        for (i = 0; i < b.nitems; i++) {
            fuzz_check_item(&b, i, data, size);
        }

        fuzz_check_order(&b, data, size);

        if (size > 0) {
            fuzz_response(&b, data, size);
        }

        velro_batch_free(&b);
    }

    fuzz_body(data, size);

    return 0;
}
