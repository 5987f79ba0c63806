
/*
 * velro unit tests: request batching (velro_batch.c): the top level, the
 * items (endpoint, method, headers, body, id), the dependency graph, the
 * error body and the assembly of the answer.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "velro_batch.h"
#include "util.h"


#define SELF      "/batch"
#define MAX       20

#define NELTS(a)  (sizeof(a) / sizeof((a)[0]))

/* a batch of one item with this endpoint (JSON string contents) */
#define EP(e)     "[{\"endpoint\":\"" e "\"}]"

/* a batch of one item: endpoint "/a" and more members */
#define ONE(m)    "[{\"endpoint\":\"/a\"," m "}]"


typedef struct {
    const char   *json;
    int           status;
    long          item;
    const char   *error;
} bad_case_t;


void test_batch(void);

static int parse(velro_batch_t *b, const char *json);
static void check_bad(const char *group, const bad_case_t *c, size_t n);
static char *repeat(const char *head, const char *unit, size_t n,
    const char *tail);
static char *headers_json(size_t n);
static char *nested(size_t n, const char *open, const char *close);
static int order_ok(const velro_batch_t *b);
static void response_is(const velro_batch_t *b,
    const velro_batch_result_t *r, const char *want, const char *name);
static void test_top(void);
static void test_endpoint_bad(void);
static void test_endpoint_good(void);
static void test_self(void);
static void test_method(void);
static void test_headers(void);
static void test_body(void);
static void test_depth(void);
static void test_id(void);
static void test_deps(void);
static void test_deps_good(void);
static void test_error_json(void);
static void test_response(void);
static void test_response_bodies(void);


static int
parse(velro_batch_t *b, const char *json)
{
    return velro_batch_parse(b, json, strlen(json), MAX, SELF,
                             sizeof(SELF) - 1);
}


static void
check_bad(const char *group, const bad_case_t *c, size_t n)
{
    int            rc;
    size_t         i;
    velro_batch_t  b;

    for (i = 0; i < n; i++) {
        rc = parse(&b, c[i].json);

        if (!is_int(rc, c[i].status, "%s: %s: status", group, c[i].json)
            || !is_int(b.error_item, c[i].item, "%s: %s: item", group,
                       c[i].json)
            || !is_str(b.error, c[i].error, "%s: %s: error", group,
                       c[i].json))
        {
            velro_batch_free(&b);
            continue;
        }

        ok(b.status == rc && b.items == NULL && b.nitems == 0,
           "%s: %s: nothing kept", group, c[i].json);

        velro_batch_free(&b);
    }
}


/* head, n times unit, tail; malloc()ed */

static char *
repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    char    *s, *p;
    size_t   hl, ul, tl, i;

    hl = strlen(head);
    ul = strlen(unit);
    tl = strlen(tail);

    s = malloc(hl + ul * n + tl + 1);
    if (s == NULL) {
        abort();
    }

    p = s;
    memcpy(p, head, hl);
    p += hl;

    for (i = 0; i < n; i++) {
        memcpy(p, unit, ul);
        p += ul;
    }

    memcpy(p, tail, tl);
    p[tl] = '\0';

    return s;
}


static void
test_top(void)
{
    int            rc;
    char          *s, *u;
    velro_batch_t  b;

    static const bad_case_t  cases[] = {
        { "", 400, -1, "invalid JSON" },
        { "[", 400, -1, "invalid JSON" },
        { "[{\"endpoint\":\"/a\"}] x", 400, -1, "invalid JSON" },
        { "[{\"endpoint\":\"/a\"},]", 400, -1, "invalid JSON" },
        { "\xef\xbb\xbf[{\"endpoint\":\"/a\"}]", 400, -1, "invalid JSON" },
        { "[{\"endpoint\":\"/\xff\"}]", 400, -1, "invalid JSON" },
        { "[{\"endpoint\":\"/a\",\"body\":123456789012345678901}]",
          400, -1, "invalid JSON" },
        { "{}", 400, -1, "batch must be an array" },
        { "{\"endpoint\":\"/a\"}", 400, -1, "batch must be an array" },
        { "\"/a\"", 400, -1, "batch must be an array" },
        { "null", 400, -1, "batch must be an array" },
        { "[]", 400, -1, "empty batch" },
        { "[{\"endpoint\":\"/a\",\"endpoint\":\"/b\"}]",
          400, -1, "duplicate key" },
        { "[{\"endpoint\":\"/a\",\"body\":{\"k\":1,\"k\":2}}]",
          400, -1, "duplicate key" },
        { "[1]", 400, 0, "item must be an object" },
        { "[null]", 400, 0, "item must be an object" },
        { "[[{\"endpoint\":\"/a\"}]]", 400, 0, "item must be an object" },
        { "[{\"endpoint\":\"/a\"},\"/b\"]", 400, 1, "item must be an object" },
        { "[{}]", 400, 0, "endpoint required" },
        { "[{\"endpoint\":null}]", 400, 0, "endpoint required" },
        { "[{\"method\":\"GET\"}]", 400, 0, "endpoint required" },
        { "[{\"endpoint\":1}]", 400, 0, "endpoint must be a string" },
        { "[{\"endpoint\":[\"/a\"]}]", 400, 0, "endpoint must be a string" },
        { ONE("\"x\":1"), 400, 0, "unknown member" },
        { ONE("\"Endpoint\":\"/b\""), 400, 0, "unknown member" },
        { ONE("\"dependsOn\":[]"), 400, 0, "unknown member" },
        { "[{\"endpoint\":\"/a\"},{\"endpoint\":\"/b\",\"extra\":null}]",
          400, 1, "unknown member" }
    };

    check_bad("top", cases, NELTS(cases));

    /* max items: 413 before the items are looked at */

    s = repeat("[", "{\"endpoint\":\"/a\"},", MAX, "{\"endpoint\":\"/a\"}]");
    rc = parse(&b, s);
    is_int(rc, 413, "top: 21 items with max 20: 413");
    is_str(b.error, "too many items", "top: 21 items: error");
    is_int(b.error_item, -1, "top: 21 items: no item index");
    velro_batch_free(&b);

    rc = velro_batch_parse(&b, s, strlen(s), 0, SELF, sizeof(SELF) - 1);
    is_int(rc, 413, "top: 21 items with max 0 (default 20): 413");
    velro_batch_free(&b);

    rc = velro_batch_parse(&b, s, strlen(s), 21, SELF, sizeof(SELF) - 1);
    is_int(rc, 0, "top: 21 items with max 21: ok");
    is_int(b.nitems, 21, "top: 21 items parsed");
    velro_batch_free(&b);
    free(s);

    s = repeat("[", "{\"endpoint\":\"/a\"},", MAX - 1,
               "{\"endpoint\":\"/a\"}]");
    rc = parse(&b, s);
    is_int(rc, 0, "top: 20 items with max 20: ok");
    is_int(b.nitems, 20, "top: 20 items parsed");
    velro_batch_free(&b);
    free(s);

    s = repeat("[", "1,", MAX, "1]");
    is_int(parse(&b, s), 413, "top: 21 garbage items: 413, not 400");
    velro_batch_free(&b);
    free(s);

    s = repeat("[", "{\"endpoint\":\"/a\"},", 2, "{\"endpoint\":\"/a\"}]");
    rc = velro_batch_parse(&b, s, strlen(s), 2, SELF, sizeof(SELF) - 1);
    free(s);
    is_int(rc, 413, "top: 3 items with max 2: 413");
    velro_batch_free(&b);

    /* a deeply nested input is bad JSON or too deep, never a crash */

    u = repeat("[{\"endpoint\":\"/a\",\"method\":\"POST\",\"body\":",
               "[", 3000, "");
    rc = parse(&b, u);
    is_int(rc, 400, "top: 3000 open brackets: 400");
    velro_batch_free(&b);
    free(u);

    /* the defaults */

    rc = parse(&b, "[{\"endpoint\":\"/a\"}]");
    is_int(rc, 0, "top: one item: ok");
    is_int(b.status, 0, "top: one item: status 0");
    is_int(b.error_item, -1, "top: one item: no error item");
    is_int(b.nitems, 1, "top: one item: nitems");
    ok(b.items[0].id == NULL, "top: default id NULL");
    is_int(b.items[0].method, VELRO_BATCH_GET, "top: default method GET");
    ok(b.items[0].headers == NULL && b.items[0].nheaders == 0,
       "top: default no headers");
    ok(b.items[0].body == NULL && b.items[0].body_len == 0,
       "top: default no body");
    ok(b.items[0].deps == NULL && b.items[0].ndeps == 0,
       "top: default no deps");
    ok(b.items[0].args == NULL && b.items[0].args_len == 0,
       "top: default no args");
    is_str(b.items[0].path, "/a", "top: path");
    is_int(b.items[0].path_len, 2, "top: path_len");
    velro_batch_free(&b);
    velro_batch_free(&b);
    ok(b.items == NULL && b.nitems == 0, "top: free twice is harmless");

    rc = parse(&b, "[{\"endpoint\":\"/a\",\"method\":null,\"headers\":null,"
                   "\"body\":null,\"id\":null,\"depends_on\":null}]");
    is_int(rc, 0, "top: every member null: ok");
    ok(b.items[0].id == NULL && b.items[0].method == VELRO_BATCH_GET
       && b.items[0].nheaders == 0 && b.items[0].body == NULL
       && b.items[0].ndeps == 0, "top: every member null: the defaults");
    velro_batch_free(&b);

    rc = parse(&b, " \n[ { \"endpoint\" : \"/a\" } ]\n");
    is_int(rc, 0, "top: whitespace around: ok");
    velro_batch_free(&b);
}


static void
test_endpoint_bad(void)
{
    char           *s;
    velro_batch_t   b;

    static const bad_case_t  cases[] = {
        { EP(""), 400, 0, "endpoint must start with /" },
        { EP("a/b"), 400, 0, "endpoint must start with /" },
        { EP("http://evil/x"), 400, 0, "endpoint must start with /" },
        { EP("HTTPS://evil/x"), 400, 0, "endpoint must start with /" },
        { EP("javascript:alert(1)"), 400, 0, "endpoint must start with /" },
        { EP(" /a"), 400, 0, "endpoint must start with /" },
        { EP("%2fa"), 400, 0, "endpoint must start with /" },
        { EP("//evil.com/x"), 400, 0, "endpoint must not start with //" },
        { EP("//"), 400, 0, "endpoint must not start with //" },
        { EP("/\\\\evil.com/x"), 400, 0, "endpoint must not start with //" },
        { EP("/a/http://evil/x"), 400, 0, "absolute URL in endpoint" },
        { EP("/../etc/passwd"), 400, 0, "dot segment in endpoint" },
        { EP("/a/../b"), 400, 0, "dot segment in endpoint" },
        { EP("/a/.."), 400, 0, "dot segment in endpoint" },
        { EP("/a/..?x=1"), 400, 0, "dot segment in endpoint" },
        { EP("/a/./b"), 400, 0, "dot segment in endpoint" },
        { EP("/."), 400, 0, "dot segment in endpoint" },
        { EP("/a/."), 400, 0, "dot segment in endpoint" },
        { EP("/a/%2e%2e/b"), 400, 0, "dot segment in endpoint" },
        { EP("/a/%2E%2E/b"), 400, 0, "dot segment in endpoint" },
        { EP("/a/.%2E/b"), 400, 0, "dot segment in endpoint" },
        { EP("/a/%2e./b"), 400, 0, "dot segment in endpoint" },
        { EP("/a/%2e/b"), 400, 0, "dot segment in endpoint" },
        { EP("/%2e%2e"), 400, 0, "dot segment in endpoint" },
        { EP("/a/..;/b"), 400, 0, "dot segment in endpoint" },
        { EP("/a/..;x=1/b"), 400, 0, "dot segment in endpoint" },
        { EP("/a/%2e%2e%3b/b"), 400, 0, "dot segment in endpoint" },
        { EP("/a/.;/b"), 400, 0, "dot segment in endpoint" },
        { EP("/a%2fb"), 400, 0, "encoded slash in endpoint" },
        { EP("/a%2F..%2Fb"), 400, 0, "encoded slash in endpoint" },
        { EP("/a/..%2f..%2fetc"), 400, 0, "encoded slash in endpoint" },
        { EP("/a%5cb"), 400, 0, "encoded slash in endpoint" },
        { EP("/a%5C..%5Cb"), 400, 0, "encoded slash in endpoint" },
        { EP("/a%252e%252e/b"), 400, 0, "encoded percent in endpoint path" },
        { EP("/a%25"), 400, 0, "encoded percent in endpoint path" },
        { EP("/a%"), 400, 0, "bad percent-encoding in endpoint" },
        { EP("/a%2"), 400, 0, "bad percent-encoding in endpoint" },
        { EP("/a%zz"), 400, 0, "bad percent-encoding in endpoint" },
        { EP("/a%u002e%u002e/b"), 400, 0, "bad percent-encoding in endpoint" },
        { EP("/a?x=%"), 400, 0, "bad percent-encoding in endpoint" },
        { EP("/a?x=%g0"), 400, 0, "bad percent-encoding in endpoint" },
        { EP("/x\\r\\nHost: y"), 400, 0, "invalid character in endpoint" },
        { EP("/x\\nHost:y"), 400, 0, "invalid character in endpoint" },
        { EP("/x\\r"), 400, 0, "invalid character in endpoint" },
        { EP("/x\\u0000y"), 400, 0, "invalid character in endpoint" },
        { EP("/x\\ty"), 400, 0, "invalid character in endpoint" },
        { EP("/x y"), 400, 0, "invalid character in endpoint" },
        { EP("/x\\u007f"), 400, 0, "invalid character in endpoint" },
        { EP("/x\\u0001"), 400, 0, "invalid character in endpoint" },
        { EP("/x#frag"), 400, 0, "invalid character in endpoint" },
        { EP("/x?a=1#frag"), 400, 0, "invalid character in endpoint" },
        { EP("/x\\\\..\\\\y"), 400, 0, "invalid character in endpoint" },
        { EP("/caf\\u00e9"), 400, 0, "invalid character in endpoint" },
        { EP("/caf\xc3\xa9"), 400, 0, "invalid character in endpoint" },
        { EP("/x%00"), 400, 0, "invalid character in endpoint" },
        { EP("/x%0d%0aHost:%20y"), 400, 0, "invalid character in endpoint" },
        { EP("/x?a=%0D%0ASet-Cookie:x"), 400, 0,
          "invalid character in endpoint" },
        { EP("/x?a=%00"), 400, 0, "invalid character in endpoint" },
        { EP("/x%7f"), 400, 0, "invalid character in endpoint" },
        { EP("/x?a=b c"), 400, 0, "invalid character in endpoint" },
        { EP("/a%c0%ae%c0%ae/b"), 400, 0, "invalid UTF-8 in endpoint" },
        { EP("/a%ff"), 400, 0, "invalid UTF-8 in endpoint" },
        { EP("/a%ed%a0%80"), 400, 0, "invalid UTF-8 in endpoint" },
        { "[{\"endpoint\":\"/a\"},{\"endpoint\":\"/../b\"}]",
          400, 1, "dot segment in endpoint" }
    };

    check_bad("endpoint", cases, NELTS(cases));

    /* the length: 2048 is fine, 2049 is not */

    s = repeat("[{\"endpoint\":\"/", "a", VELRO_BATCH_MAX_ENDPOINT - 1,
               "\"}]");
    is_int(parse(&b, s), 0, "endpoint: 2048 bytes: ok");
    is_int(b.items ? b.items[0].path_len : 0, VELRO_BATCH_MAX_ENDPOINT,
           "endpoint: 2048 bytes: path_len");
    velro_batch_free(&b);
    free(s);

    s = repeat("[{\"endpoint\":\"/", "a", VELRO_BATCH_MAX_ENDPOINT, "\"}]");
    is_int(parse(&b, s), 400, "endpoint: 2049 bytes: 400");
    is_str(b.error, "endpoint too long", "endpoint: 2049 bytes: error");
    velro_batch_free(&b);
    free(s);
}


static void
test_endpoint_good(void)
{
    size_t         i;
    velro_batch_t  b;

    static const struct {
        const char  *json;
        const char  *path;
        const char  *args;
    } cases[] = {
        { EP("/"), "/", NULL },
        { EP("/a/b"), "/a/b", NULL },
        { EP("/a/b?x=1&y=2"), "/a/b", "x=1&y=2" },
        { EP("/a?"), "/a", NULL },
        { EP("/a??"), "/a", "?" },
        { EP("/a?next=/b/../c"), "/a", "next=/b/../c" },
        { EP("/a?u=http://x/y"), "/a", "u=http://x/y" },
        { EP("/a?p=%2e%2e%2f%5c%25"), "/a", "p=%2e%2e%2f%5c%25" },
        { EP("/a/.../b"), "/a/.../b", NULL },
        { EP("/a/.b/b./..c/c..;x"), "/a/.b/b./..c/c..;x", NULL },
        { EP("/a/%2e%2e%2e"), "/a/%2e%2e%2e", NULL },
        { EP("/a//b/"), "/a//b/", NULL },
        { EP("/a%20b"), "/a%20b", NULL },
        { EP("/caf%C3%A9"), "/caf%C3%A9", NULL },
        { EP("/a:b@c!$&'()*+,;=~-_"), "/a:b@c!$&'()*+,;=~-_", NULL },
        { EP("/Batch"), "/Batch", NULL },
        { EP("/batchx"), "/batchx", NULL },
        { EP("/api/batch"), "/api/batch", NULL }
    };

    for (i = 0; i < NELTS(cases); i++) {
        if (!is_int(parse(&b, cases[i].json), 0, "endpoint: %s: ok",
                    cases[i].json))
        {
            diag("error: %s", b.error);
            continue;
        }

        is_str(b.items[0].path, cases[i].path, "endpoint: %s: path",
               cases[i].json);
        is_int(b.items[0].path_len, strlen(cases[i].path),
               "endpoint: %s: path_len", cases[i].json);

        if (cases[i].args) {
            is_str(b.items[0].args, cases[i].args, "endpoint: %s: args",
                   cases[i].json);
            is_int(b.items[0].args_len, strlen(cases[i].args),
                   "endpoint: %s: args_len", cases[i].json);

        } else {
            ok(b.items[0].args == NULL && b.items[0].args_len == 0,
               "endpoint: %s: no args", cases[i].json);
        }

        velro_batch_free(&b);
    }
}


static void
test_self(void)
{
    size_t         i;
    velro_batch_t  b;

    static const struct {
        const char  *self;
        const char  *endpoint;
        int          status;
        long         item;
    } cases[] = {
        { "/batch", "/batch", 400, 1 },
        { "/batch", "/batch/", 400, 1 },
        { "/batch", "/batch/x", 400, 1 },
        { "/batch", "/batch?x=1", 400, 1 },
        { "/batch", "/ba%74ch", 400, 1 },
        { "/batch", "/%62%61%74%63%68", 400, 1 },
        { "/batch", "/batch//", 400, 1 },
        { "/api/batch", "/api//batch", 400, 1 },
        { "/api/batch", "/api///batch/", 400, 1 },
        { "/api/batch", "/api/b%61tch?a", 400, 1 },
        { "/api/batch/", "/api/batch", 400, 1 },
        { "/api//batch", "/api/batch", 400, 1 },
        { "/", "/anything", 400, 0 },
        { "/batch", "/Batch", 0, -1 },
        { "/batch", "/BATCH", 0, -1 },
        { "/batch", "/batches", 0, -1 },
        { "/batch", "/a/batch", 0, -1 },
        { "/api/batch", "/api", 0, -1 },
        { "/api/batch", "/batch", 0, -1 }
    };

    for (i = 0; i < NELTS(cases); i++) {
        char  json[256];

        snprintf(json, sizeof(json), "[{\"endpoint\":\"/ok\"},"
                 "{\"endpoint\":\"%s\"}]", cases[i].endpoint);

        is_int(velro_batch_parse(&b, json, strlen(json), MAX, cases[i].self,
                                 strlen(cases[i].self)),
               cases[i].status, "self %s: %s", cases[i].self,
               cases[i].endpoint);

        if (cases[i].status) {
            is_str(b.error, "endpoint targets the batch",
                   "self %s: %s: error", cases[i].self, cases[i].endpoint);
            is_int(b.error_item, cases[i].item, "self %s: %s: item",
                   cases[i].self, cases[i].endpoint);
        }

        velro_batch_free(&b);
    }

    is_int(velro_batch_parse(&b, EP("/batch"), sizeof(EP("/batch")) - 1,
                             MAX, NULL, 0),
           0, "self: none given: anything goes");
    velro_batch_free(&b);
}


static void
test_method(void)
{
    size_t         i;
    velro_batch_t  b;

    static const struct {
        const char  *name;
        int          method;
    } good[] = {
        { "GET", VELRO_BATCH_GET },
        { "HEAD", VELRO_BATCH_HEAD },
        { "POST", VELRO_BATCH_POST },
        { "PUT", VELRO_BATCH_PUT },
        { "PATCH", VELRO_BATCH_PATCH },
        { "DELETE", VELRO_BATCH_DELETE },
        { "get", VELRO_BATCH_GET },
        { "Post", VELRO_BATCH_POST },
        { "dElEtE", VELRO_BATCH_DELETE }
    };

    static const bad_case_t  cases[] = {
        { ONE("\"method\":\"OPTIONS\""), 400, 0, "unsupported method" },
        { ONE("\"method\":\"TRACE\""), 400, 0, "unsupported method" },
        { ONE("\"method\":\"CONNECT\""), 400, 0, "unsupported method" },
        { ONE("\"method\":\"\""), 400, 0, "unsupported method" },
        { ONE("\"method\":\"GET \""), 400, 0, "unsupported method" },
        { ONE("\"method\":\"GETS\""), 400, 0, "unsupported method" },
        { ONE("\"method\":\"GE\""), 400, 0, "unsupported method" },
        { ONE("\"method\":\"GET\\u0000\""), 400, 0, "unsupported method" },
        { ONE("\"method\":\"GET\\r\\nX: y\""), 400, 0, "unsupported method" },
        { ONE("\"method\":1"), 400, 0, "method must be a string" },
        { ONE("\"method\":[\"GET\"]"), 400, 0, "method must be a string" }
    };

    for (i = 0; i < NELTS(good); i++) {
        char  json[128];

        snprintf(json, sizeof(json), ONE("\"method\":\"%s\""), good[i].name);

        if (is_int(parse(&b, json), 0, "method %s: ok", good[i].name)) {
            is_int(b.items[0].method, good[i].method, "method %s: value",
                   good[i].name);
        }

        velro_batch_free(&b);
    }

    check_bad("method", cases, NELTS(cases));

    for (i = 0; i <= VELRO_BATCH_DELETE; i++) {
        ok(strcasecmp(velro_batch_method_name((int) i), good[i].name) == 0,
           "method name %d", (int) i);
    }

    is_str(velro_batch_method_name(6), "", "method name 6: none");
    is_str(velro_batch_method_name(-1), "", "method name -1: none");
}


static void
test_headers(void)
{
    char           *s;
    size_t          i;
    velro_batch_t   b;

    static const char  *forbidden[] = {
        "Authorization", "authorization", "AUTHORIZATION", "Cookie",
        "cookie", "Host", "HOST", "Connection", "Keep-Alive",
        "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection",
        "TE", "te", "Trailer", "Transfer-Encoding", "transfer-encoding",
        "Upgrade", "Content-Length", "Expect", "X-Velro-User",
        "x-velro-", "X-VELRO-AUTHZ"
    };

    static const bad_case_t  cases[] = {
        { ONE("\"headers\":[]"), 400, 0, "headers must be an object" },
        { ONE("\"headers\":\"a: b\""), 400, 0, "headers must be an object" },
        { ONE("\"headers\":{\"X-A\":1}"), 400, 0,
          "header value must be a string" },
        { ONE("\"headers\":{\"X-A\":null}"), 400, 0,
          "header value must be a string" },
        { ONE("\"headers\":{\"X-A\":[\"b\"]}"), 400, 0,
          "header value must be a string" },
        { ONE("\"headers\":{\"\":\"x\"}"), 400, 0, "invalid header name" },
        { ONE("\"headers\":{\"Bad Name\":\"x\"}"), 400, 0,
          "invalid header name" },
        { ONE("\"headers\":{\"a:b\":\"x\"}"), 400, 0, "invalid header name" },
        { ONE("\"headers\":{\"X-A\\r\\nHost\":\"x\"}"), 400, 0,
          "invalid header name" },
        { ONE("\"headers\":{\"X-\\u00e9\":\"x\"}"), 400, 0,
          "invalid header name" },
        { ONE("\"headers\":{\"a(b)\":\"x\"}"), 400, 0, "invalid header name" },
        { ONE("\"headers\":{\"X-A\\u0000\":\"x\"}"), 400, -1,
          "invalid JSON" },
        { ONE("\"headers\":{\"X-A\":\"a\\r\\nHost: evil\"}"), 400, 0,
          "invalid header value" },
        { ONE("\"headers\":{\"X-A\":\"a\\nb\"}"), 400, 0,
          "invalid header value" },
        { ONE("\"headers\":{\"X-A\":\"a\\rb\"}"), 400, 0,
          "invalid header value" },
        { ONE("\"headers\":{\"X-A\":\"a\\u0000b\"}"), 400, 0,
          "invalid header value" },
        { ONE("\"headers\":{\"X-A\":\"\\u0001\"}"), 400, 0,
          "invalid header value" },
        { ONE("\"headers\":{\"X-A\":\"\\u007f\"}"), 400, 0,
          "invalid header value" },
        { ONE("\"headers\":{\"X-A\":\"1\",\"x-a\":\"2\"}"), 400, 0,
          "duplicate header" },
        { ONE("\"headers\":{\"X-A\":\"1\",\"X-A\":\"2\"}"), 400, -1,
          "duplicate key" }
    };

    for (i = 0; i < NELTS(forbidden); i++) {
        char  json[128];

        snprintf(json, sizeof(json), ONE("\"headers\":{\"%s\":\"x\"}"),
                 forbidden[i]);

        is_int(parse(&b, json), 400, "headers: %s: 400", forbidden[i]);
        is_str(b.error, "forbidden header", "headers: %s: error",
               forbidden[i]);
        velro_batch_free(&b);
    }

    check_bad("headers", cases, NELTS(cases));

    /* valid ones, kept in order as given */

    is_int(parse(&b, ONE("\"headers\":{\"X-Trace\":\"abc\","
                         "\"Accept\":\"application/json\","
                         "\"X-Tab\":\"a\\tb\",\"X-Empty\":\"\","
                         "\"X-Utf8\":\"caf\\u00e9\","
                         "\"Content-Type\":\"text/plain\","
                         "\"X-Velro\":\"ok\",\"!#$%&'*+-.^_`|~09\":\"t\"}")),
           0, "headers: valid ones: ok");

    if (b.nitems == 1 && b.items[0].nheaders == 8) {
        is_str(b.items[0].headers[0].name, "X-Trace", "headers: name 0");
        is_str(b.items[0].headers[0].value, "abc", "headers: value 0");
        is_str(b.items[0].headers[1].name, "Accept", "headers: name 1");
        is_str(b.items[0].headers[1].value, "application/json",
               "headers: value 1");
        is_str(b.items[0].headers[2].value, "a\tb", "headers: TAB kept");
        is_str(b.items[0].headers[3].value, "", "headers: empty value");
        is_str(b.items[0].headers[4].value, "caf\xc3\xa9",
               "headers: UTF-8 value");
        is_str(b.items[0].headers[7].name, "!#$%&'*+-.^_`|~09",
               "headers: every tchar");

    } else {
        ok(0, "headers: 8 headers");
    }

    velro_batch_free(&b);

    is_int(parse(&b, ONE("\"headers\":{}")), 0, "headers: {}: ok");
    ok(b.items != NULL && b.items[0].headers == NULL
       && b.items[0].nheaders == 0, "headers: {}: none");
    velro_batch_free(&b);

    /* counts and sizes */

    s = headers_json(VELRO_BATCH_MAX_HEADERS);
    is_int(parse(&b, s), 0, "headers: 32: ok");
    is_int(b.items ? b.items[0].nheaders : 0, VELRO_BATCH_MAX_HEADERS,
           "headers: 32 kept");
    velro_batch_free(&b);
    free(s);

    s = headers_json(VELRO_BATCH_MAX_HEADERS + 1);
    is_int(parse(&b, s), 400, "headers: 33: 400");
    is_str(b.error, "too many headers", "headers: 33: error");
    velro_batch_free(&b);
    free(s);

    s = repeat("[{\"endpoint\":\"/a\",\"headers\":{\"X-A\":\"", "v",
               VELRO_BATCH_MAX_HEADER_LEN, "\"}}]");
    is_int(parse(&b, s), 0, "headers: 8192-byte value: ok");
    velro_batch_free(&b);
    free(s);

    s = repeat("[{\"endpoint\":\"/a\",\"headers\":{\"X-A\":\"", "v",
               VELRO_BATCH_MAX_HEADER_LEN + 1, "\"}}]");
    is_int(parse(&b, s), 400, "headers: 8193-byte value: 400");
    is_str(b.error, "header too long", "headers: 8193-byte value: error");
    velro_batch_free(&b);
    free(s);

    s = repeat("[{\"endpoint\":\"/a\",\"headers\":{\"X", "a",
               VELRO_BATCH_MAX_HEADER_LEN, "\":\"v\"}}]");
    is_int(parse(&b, s), 400, "headers: 8193-byte name: 400");
    is_str(b.error, "header too long", "headers: 8193-byte name: error");
    velro_batch_free(&b);
    free(s);
}


/* one item with n headers X-0 .. X-(n-1); malloc()ed */

static char *
headers_json(size_t n)
{
    char    *s;
    size_t   i, len;

    s = malloc(64 + n * 32);
    if (s == NULL) {
        abort();
    }

    len = (size_t) sprintf(s, "[{\"endpoint\":\"/a\",\"headers\":{");

    for (i = 0; i < n; i++) {
        len += (size_t) sprintf(s + len, "%s\"X-%u\":\"%u\"", i ? "," : "",
                                (unsigned) i, (unsigned) i);
    }

    strcpy(s + len, "}}]");

    return s;
}


static void
test_body(void)
{
    size_t         i;
    velro_batch_t  b;

    static const struct {
        const char  *json;
        const char  *body;
    } good[] = {
        { ONE("\"method\":\"POST\",\"body\":{\"a\":1}"), "{\"a\":1}" },
        { ONE("\"method\":\"POST\",\"body\": { \"a\" : [ 1 , 2 ] ,\n"
              "\"b\" : { } }"), "{\"a\":[1,2],\"b\":{}}" },
        { ONE("\"method\":\"PUT\",\"body\":[]"), "[]" },
        { ONE("\"method\":\"PATCH\",\"body\":\"text\""), "\"text\"" },
        { ONE("\"method\":\"DELETE\",\"body\":1"), "1" },
        { ONE("\"method\":\"POST\",\"body\":false"), "false" },
        { ONE("\"method\":\"POST\",\"body\":[0.1,1.5,1.0,-0.0,1e300,2.5e-8,"
              "-7,9223372036854775807]"),
          "[0.1,1.5,1.0,-0.0,1e+300,2.5e-8,-7,9223372036854775807]" },
        { ONE("\"method\":\"POST\",\"body\":{\"s\":\"a\\\"b\\\\c\\n\\u0000"
              "\\u00e9\\ud83d\\ude00/\"}"),
          "{\"s\":\"a\\\"b\\\\c\\n\\u0000\xc3\xa9\xf0\x9f\x98\x80/\"}" },
        { ONE("\"method\":\"POST\",\"body\":{\"z\":1,\"a\":2,\"m\":3}"),
          "{\"z\":1,\"a\":2,\"m\":3}" }
    };

    static const bad_case_t  cases[] = {
        { ONE("\"body\":{}"), 400, 0, "body not allowed with GET or HEAD" },
        { ONE("\"method\":\"GET\",\"body\":\"x\""), 400, 0,
          "body not allowed with GET or HEAD" },
        { ONE("\"method\":\"head\",\"body\":0"), 400, 0,
          "body not allowed with GET or HEAD" },
        { ONE("\"method\":\"HEAD\",\"body\":false"), 400, 0,
          "body not allowed with GET or HEAD" }
    };

    for (i = 0; i < NELTS(good); i++) {
        if (!is_int(parse(&b, good[i].json), 0, "body %u: ok",
                    (unsigned) i))
        {
            diag("error: %s", b.error);
            continue;
        }

        is_str(b.items[0].body, good[i].body, "body %u: compact",
               (unsigned) i);
        is_int(b.items[0].body_len, strlen(good[i].body), "body %u: length",
               (unsigned) i);
        velro_batch_free(&b);
    }

    check_bad("body", cases, NELTS(cases));

    is_int(parse(&b, ONE("\"method\":\"GET\",\"body\":null")), 0,
           "body: null with GET: ok");
    ok(b.items && b.items[0].body == NULL, "body: null is no body");
    velro_batch_free(&b);

    is_int(parse(&b, ONE("\"method\":\"POST\",\"body\":\"\\u0000\"")), 0,
           "body: NUL in a string: ok");
    is_int(b.items ? b.items[0].body_len : 0, 8, "body: NUL escaped");
    velro_batch_free(&b);
}


static void
test_depth(void)
{
    char          *s;
    velro_batch_t  b;

    /* the item object is 1 deep: a body 31 deep is fine, 32 is not */

    s = nested(VELRO_BATCH_MAX_DEPTH - 1, "[", "]");
    is_int(parse(&b, s), 0, "depth: body 31 deep: ok");
    velro_batch_free(&b);
    free(s);

    s = nested(VELRO_BATCH_MAX_DEPTH, "[", "]");
    is_int(parse(&b, s), 400, "depth: body 32 deep: 400");
    is_str(b.error, "item too deep", "depth: body 32 deep: error");
    is_int(b.error_item, 0, "depth: body 32 deep: item");
    velro_batch_free(&b);
    free(s);

    s = nested(40, "[", "]");
    is_int(parse(&b, s), 400, "depth: body 40 deep: 400");
    is_str(b.error, "item too deep", "depth: body 40 deep: error");
    velro_batch_free(&b);
    free(s);

    s = nested(40, "{\"a\":", "}");
    is_int(parse(&b, s), 400, "depth: 40 nested objects: 400");
    is_str(b.error, "item too deep", "depth: 40 nested objects: error");
    velro_batch_free(&b);
    free(s);

    /* too deep is found before anything else in the item */

    s = nested(40, "[", "]");
    memcpy(strstr(s, "POST"), "GET ", 4);
    is_int(parse(&b, s), 400, "depth: deep body with GET: 400");
    velro_batch_free(&b);
    free(s);
}


/* a POST item whose body is n times open, 1, n times close; malloc()ed */

static char *
nested(size_t n, const char *open, const char *close)
{
    char    *s, *p;
    size_t   i, head, ol, cl;

    static const char  item[] = "[{\"endpoint\":\"/a\",\"method\":\"POST\","
                                "\"body\":";

    head = sizeof(item) - 1;
    ol = strlen(open);
    cl = strlen(close);

    s = malloc(head + n * (ol + cl) + 8);
    if (s == NULL) {
        abort();
    }

    memcpy(s, item, head);
    p = s + head;

    for (i = 0; i < n; i++) {
        memcpy(p, open, ol);
        p += ol;
    }

    *p++ = '1';

    for (i = 0; i < n; i++) {
        memcpy(p, close, cl);
        p += cl;
    }

    memcpy(p, "}]", 3);

    return s;
}


static void
test_id(void)
{
    char           *s;
    velro_batch_t   b;

    static const bad_case_t  cases[] = {
        { ONE("\"id\":1"), 400, 0, "id must be a string" },
        { ONE("\"id\":[\"a\"]"), 400, 0, "id must be a string" },
        { ONE("\"id\":\"\""), 400, 0, "invalid id" },
        { ONE("\"id\":\"a\\nb\""), 400, 0, "invalid id" },
        { ONE("\"id\":\"a\\u0000\""), 400, 0, "invalid id" },
        { ONE("\"id\":\"\\u001f\""), 400, 0, "invalid id" },
        { ONE("\"id\":\"\\u007f\""), 400, 0, "invalid id" },
        { "[{\"endpoint\":\"/a\",\"id\":\"x\"},{\"endpoint\":\"/b\"},"
          "{\"endpoint\":\"/c\",\"id\":\"x\"}]", 400, 2, "duplicate id" },
        { "[{\"endpoint\":\"/a\",\"id\":\"x\"},"
          "{\"endpoint\":\"/b\",\"id\":\"X\"},"
          "{\"endpoint\":\"/c\",\"id\":\"X\"}]", 400, 2, "duplicate id" }
    };

    check_bad("id", cases, NELTS(cases));

    s = repeat("[{\"endpoint\":\"/a\",\"id\":\"", "i", VELRO_BATCH_MAX_ID,
               "\"}]");
    is_int(parse(&b, s), 0, "id: 128 bytes: ok");
    is_int(b.items ? strlen(b.items[0].id) : 0, VELRO_BATCH_MAX_ID,
           "id: 128 bytes kept");
    velro_batch_free(&b);
    free(s);

    s = repeat("[{\"endpoint\":\"/a\",\"id\":\"", "i", VELRO_BATCH_MAX_ID + 1,
               "\"}]");
    is_int(parse(&b, s), 400, "id: 129 bytes: 400");
    is_str(b.error, "invalid id", "id: 129 bytes: error");
    velro_batch_free(&b);
    free(s);

    is_int(parse(&b, ONE("\"id\":\"caf\\u00e9 \\\"x\\\" 1\"")), 0,
           "id: UTF-8, quotes and spaces: ok");
    is_str(b.items ? b.items[0].id : "", "caf\xc3\xa9 \"x\" 1",
           "id: kept as given");
    velro_batch_free(&b);
}


static void
test_deps(void)
{
    static const bad_case_t  cases[] = {
        { ONE("\"depends_on\":\"a\""), 400, 0,
          "depends_on must be an array" },
        { ONE("\"depends_on\":{}"), 400, 0, "depends_on must be an array" },
        { "[{\"endpoint\":\"/a\",\"id\":\"a\"},"
          "{\"endpoint\":\"/b\",\"depends_on\":[1]}]", 400, 1,
          "dependency must be a string" },
        { "[{\"endpoint\":\"/a\",\"id\":\"a\"},"
          "{\"endpoint\":\"/b\",\"depends_on\":[\"a\",null]}]", 400, 1,
          "dependency must be a string" },
        { "[{\"endpoint\":\"/a\",\"id\":\"a\"},"
          "{\"endpoint\":\"/b\",\"depends_on\":[\"a\",\"a\",\"a\"]}]",
          400, 1, "too many dependencies" },
        { ONE("\"depends_on\":[\"zz\"]"), 400, 0, "unknown dependency" },
        { "[{\"endpoint\":\"/a\",\"id\":\"a\"},"
          "{\"endpoint\":\"/b\",\"depends_on\":[\"A\"]}]", 400, 1,
          "unknown dependency" },
        { "[{\"endpoint\":\"/a\",\"id\":\"a\"},"
          "{\"endpoint\":\"/b\",\"depends_on\":[\"a\\u0000\"]}]", 400, 1,
          "unknown dependency" },
        { "[{\"endpoint\":\"/a\",\"id\":\"a\"},"
          "{\"endpoint\":\"/b\",\"depends_on\":[\"\"]}]", 400, 1,
          "unknown dependency" },

        /* an unknown dependency is found after every item is checked */

        { "[{\"endpoint\":\"/a\",\"depends_on\":[\"zz\"]},"
          "{\"endpoint\":\"/../b\"}]", 400, 1, "dot segment in endpoint" },

        /* cycles */

        { ONE("\"id\":\"a\",\"depends_on\":[\"a\"]"), 400, 0,
          "dependency cycle" },
        { "[{\"endpoint\":\"/a\",\"id\":\"a\",\"depends_on\":[\"b\"]},"
          "{\"endpoint\":\"/b\",\"id\":\"b\",\"depends_on\":[\"a\"]}]",
          400, 0, "dependency cycle" },
        { "[{\"endpoint\":\"/x\",\"id\":\"x\"},"
          "{\"endpoint\":\"/c\",\"id\":\"c\",\"depends_on\":[\"x\",\"a\"]},"
          "{\"endpoint\":\"/a\",\"id\":\"a\",\"depends_on\":[\"b\"]},"
          "{\"endpoint\":\"/b\",\"id\":\"b\",\"depends_on\":[\"d\"]},"
          "{\"endpoint\":\"/d\",\"id\":\"d\",\"depends_on\":[\"a\"]}]",
          400, 2, "dependency cycle" },
        { "[{\"endpoint\":\"/a\",\"id\":\"a\"},"
          "{\"endpoint\":\"/b\",\"id\":\"b\",\"depends_on\":[\"a\",\"c\"]},"
          "{\"endpoint\":\"/c\",\"id\":\"c\",\"depends_on\":[\"b\"]}]",
          400, 1, "dependency cycle" },
        { "[{\"endpoint\":\"/a\",\"id\":\"a\",\"depends_on\":[\"c\"]},"
          "{\"endpoint\":\"/b\",\"id\":\"b\",\"depends_on\":[\"a\"]},"
          "{\"endpoint\":\"/c\",\"id\":\"c\",\"depends_on\":[\"b\"]}]",
          400, 0, "dependency cycle" },
        { "[{\"endpoint\":\"/a\",\"id\":\"a\"},"
          "{\"endpoint\":\"/b\",\"id\":\"b\",\"depends_on\":[\"b\",\"a\"]}]",
          400, 1, "dependency cycle" }
    };

    check_bad("deps", cases, NELTS(cases));
}


/* each item after its dependencies in velro_batch_order() */

static int
order_ok(const velro_batch_t *b)
{
    size_t   i, j, *order, *pos;
    int      rc;

    order = malloc(b->nitems * sizeof(size_t));
    pos = malloc(b->nitems * sizeof(size_t));

    if (order == NULL || pos == NULL) {
        abort();
    }

    for (i = 0; i < b->nitems; i++) {
        pos[i] = b->nitems;
    }

    rc = velro_batch_order(b, order) == 0;

    for (i = 0; rc && i < b->nitems; i++) {
        if (order[i] >= b->nitems || pos[order[i]] != b->nitems) {
            rc = 0;
            break;
        }

        pos[order[i]] = i;
    }

    for (i = 0; rc && i < b->nitems; i++) {
        for (j = 0; j < b->items[i].ndeps; j++) {
            if (pos[b->items[i].deps[j]] >= pos[i]) {
                rc = 0;
            }
        }
    }

    free(order);
    free(pos);

    return rc;
}


static void
test_deps_good(void)
{
    velro_batch_t  b;

    is_int(parse(&b, "[{\"endpoint\":\"/a\",\"id\":\"a\"},"
                     "{\"endpoint\":\"/b\",\"id\":\"b\","
                     "\"depends_on\":[\"a\"]},"
                     "{\"endpoint\":\"/c\",\"id\":\"c\","
                     "\"depends_on\":[\"b\",\"a\"]},"
                     "{\"endpoint\":\"/d\"}]"), 0, "deps: a chain: ok");

    if (b.nitems == 4) {
        is_int(b.items[0].ndeps, 0, "deps: a waits for nothing");
        ok(b.items[1].ndeps == 1 && b.items[1].deps[0] == 0,
           "deps: b waits for 0");
        ok(b.items[2].ndeps == 2 && b.items[2].deps[0] == 1
           && b.items[2].deps[1] == 0, "deps: c waits for 1 and 0");
        is_int(b.items[3].ndeps, 0, "deps: d waits for nothing");
        ok(order_ok(&b), "deps: a chain: order");

    } else {
        ok(0, "deps: a chain: 4 items");
    }

    velro_batch_free(&b);

    /* forward references, duplicates counted once, empty lists */

    is_int(parse(&b, "[{\"endpoint\":\"/a\",\"id\":\"a\","
                     "\"depends_on\":[\"c\",\"c\"]},"
                     "{\"endpoint\":\"/b\",\"depends_on\":[]},"
                     "{\"endpoint\":\"/c\",\"id\":\"c\","
                     "\"depends_on\":[\"z\"]},"
                     "{\"endpoint\":\"/z\",\"id\":\"z\"}]"), 0,
           "deps: forward references: ok");

    if (b.nitems == 4) {
        ok(b.items[0].ndeps == 1 && b.items[0].deps[0] == 2,
           "deps: a waits for 2, once");
        ok(b.items[1].ndeps == 0 && b.items[1].deps == NULL,
           "deps: [] is none");
        ok(b.items[2].ndeps == 1 && b.items[2].deps[0] == 3,
           "deps: c waits for 3");
        ok(order_ok(&b), "deps: forward references: order");

    } else {
        ok(0, "deps: forward references: 4 items");
    }

    velro_batch_free(&b);

    /* a diamond: everything waits for the first, the last for all */

    is_int(parse(&b, "[{\"endpoint\":\"/l\",\"id\":\"last\","
                     "\"depends_on\":[\"l\",\"r\",\"root\"]},"
                     "{\"endpoint\":\"/l\",\"id\":\"l\","
                     "\"depends_on\":[\"root\"]},"
                     "{\"endpoint\":\"/r\",\"id\":\"r\","
                     "\"depends_on\":[\"root\"]},"
                     "{\"endpoint\":\"/root\",\"id\":\"root\"}]"), 0,
           "deps: diamond: ok");
    ok(b.nitems == 4 && b.items[0].ndeps == 3 && order_ok(&b),
       "deps: diamond: order");
    velro_batch_free(&b);
}


static void
test_error_json(void)
{
    char           buf[256];
    size_t         n;
    velro_batch_t  b;

    parse(&b, "[{\"endpoint\":\"/a\"},{\"endpoint\":\"/a\",\"x\":1}]");
    n = velro_batch_error_json(&b, buf, sizeof(buf));
    is_str(buf, "{\"error\":\"unknown member\",\"item\":1}",
           "error json: with an item");
    is_int(n, strlen(buf), "error json: length");
    velro_batch_free(&b);

    parse(&b, "[]");
    n = velro_batch_error_json(&b, buf, sizeof(buf));
    is_str(buf, "{\"error\":\"empty batch\"}", "error json: no item");
    is_int(n, strlen(buf), "error json: no item: length");

    is_int(velro_batch_error_json(&b, buf, 10), 0,
           "error json: small buffer: 0");
    is_str(buf, "", "error json: small buffer: empty text");
    is_int(velro_batch_error_json(&b, buf, strlen("{\"error\":"
                                                  "\"empty batch\"}")), 0,
           "error json: no room for the NUL: 0");
    is_int(velro_batch_error_json(&b, buf, strlen("{\"error\":"
                                                  "\"empty batch\"}") + 1),
           strlen("{\"error\":\"empty batch\"}"),
           "error json: exact room: ok");
    velro_batch_free(&b);

    memset(&b, 0, sizeof(velro_batch_t));
    b.status = 400;
    b.error_item = 12;
    strcpy(b.error, "quote \" backslash \\ newline \n");
    velro_batch_error_json(&b, buf, sizeof(buf));
    is_str(buf, "{\"error\":\"quote \\\" backslash \\\\ newline \\n\","
                "\"item\":12}", "error json: escaped");
}


/* velro_batch_response() of b and r equals want, and jansson reads it */

static void
response_is(const velro_batch_t *b, const velro_batch_result_t *r,
    const char *want, const char *name)
{
    char          *out;
    size_t         len;
    json_t        *j;
    json_error_t   err;

    len = 0;
    out = velro_batch_response(b, r, &len);

    if (!ok(out != NULL, "%s: an answer", name)) {
        return;
    }

    is_int(len, strlen(out), "%s: length", name);
    is_str(out, want, "%s: text", name);

    j = json_loadb(out, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    ok(j != NULL && json_is_array(j) && json_array_size(j) == b->nitems,
       "%s: valid JSON array", name);

    if (j == NULL) {
        diag("jansson: %s", err.text);
    }

    json_decref(j);
    free(out);
}


static void
test_response(void)
{
    velro_batch_t          b;
    velro_batch_header_t   h[6];
    velro_batch_result_t   r[4];

    is_int(parse(&b, "[{\"endpoint\":\"/a\",\"id\":\"a\"},"
                     "{\"endpoint\":\"/b\"},"
                     "{\"endpoint\":\"/c\",\"id\":\"c\\\"q\","
                     "\"depends_on\":[\"a\"]},"
                     "{\"endpoint\":\"/d\",\"id\":\"d\"}]"), 0,
           "response: batch: ok");

    memset(r, 0, sizeof(r));

    h[0].name = "Content-Type";
    h[0].value = "application/json";
    h[1].name = "Set-Cookie";
    h[1].value = "a=1";
    h[2].name = "X-Bin";
    h[2].value = "\xff" "ok";
    h[3].name = "set-cookie";
    h[3].value = "b=2";
    h[4].name = "Bad Name";
    h[4].value = "x";
    h[5].name = "X-Quote";
    h[5].value = "say \"hi\"";

    r[0].status = 200;
    r[0].headers = h;
    r[0].nheaders = 6;
    r[0].body = "{ \"x\" : [1, 2.50, \"y\"], \"n\": null }\n";
    r[0].body_len = strlen(r[0].body);
    r[0].json = 1;

    r[1].status = 404;
    r[1].body = "not \"found\"\n\ttab";
    r[1].body_len = strlen(r[1].body);

    r[2].status = 424;
    r[2].error = "failed_dependency";

    r[3].status = 502;
    r[3].error = "response_too_large";
    r[3].body = "ignored";
    r[3].body_len = 7;
    r[3].json = 1;

    response_is(&b, r,
        "[{\"id\":\"a\",\"status\":200,\"headers\":{"
        "\"Content-Type\":\"application/json\","
        "\"Set-Cookie\":\"a=1, b=2\","
        "\"X-Bin\":\"\xef\xbf\xbdok\","
        "\"X-Quote\":\"say \\\"hi\\\"\"},"
        "\"body\":{\"x\":[1,2.5,\"y\"],\"n\":null}},"
        "{\"id\":null,\"status\":404,\"headers\":{},"
        "\"body\":\"not \\\"found\\\"\\n\\ttab\"},"
        "{\"id\":\"c\\\"q\",\"status\":424,\"headers\":{},"
        "\"body\":{\"error\":\"failed_dependency\"}},"
        "{\"id\":\"d\",\"status\":502,\"headers\":{},"
        "\"body\":{\"error\":\"response_too_large\"}}]",
        "response: mixed");

    velro_batch_free(&b);
}


static void
test_response_bodies(void)
{
    char                  *deep, *out;
    size_t                 i, len;
    velro_batch_t          b;
    velro_batch_result_t   r;

    static const struct {
        const char  *body;
        size_t       len;
        int          json;
        const char  *want;
    } cases[] = {
        { "{\"a\":1}", 7, 1, "{\"a\":1}" },
        { "{\"a\":1}", 7, 0, "\"{\\\"a\\\":1}\"" },
        { "[1,2", 4, 1, "\"[1,2\"" },
        { "{\"a\":1,\"a\":2}", 13, 1, "\"{\\\"a\\\":1,\\\"a\\\":2}\"" },
        { "\"str\"", 5, 1, "\"str\"" },
        { "42", 2, 1, "42" },
        { "true ", 5, 1, "true" },
        { "123456789012345678901", 21, 1, "\"123456789012345678901\"" },
        { "[0.1,1e2,-0]", 12, 1, "[0.1,100.0,0]" },
        { "[1e16,1e17,1.5e-5,1.5e-7,123456.789]", 36, 1,
          "[10000000000000000.0,100000000000000000.0,0.000015,1.5e-7,"
          "123456.789]" },
        { "[1e21,1e20,-1.7976931348623157e308,5e-324,0.1e-6]", 49, 1,
          "[1e+21,100000000000000000000.0,-1.7976931348623157e+308,5e-324,"
          "1e-7]" },
        { "{\"s\":\"\\u0000\"}", 14, 1, "{\"s\":\"\\u0000\"}" },
        { "", 0, 1, "\"\"" },
        { "", 0, 0, "\"\"" },
        { "plain text", 10, 0, "\"plain text\"" },
        { "a\xff" "b", 3, 0, "\"a\xef\xbf\xbd" "b\"" },
        { "a\xff" "b", 3, 1, "\"a\xef\xbf\xbd" "b\"" },
        { "\xc0\xaf", 2, 0, "\"\xef\xbf\xbd\xef\xbf\xbd\"" },
        { "\xe2\x82", 2, 0, "\"\xef\xbf\xbd\xef\xbf\xbd\"" },
        { "\xed\xa0\x80", 3, 0, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" },
        { "\xf4\x90\x80\x80", 4, 0,
          "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" },
        { "\xe2\x82\xac \xf0\x9f\x98\x80", 8, 0,
          "\"\xe2\x82\xac \xf0\x9f\x98\x80\"" },
        { "a\0b", 3, 0, "\"a\\u0000b\"" },
        { "\x01\x1f\x7f\b\f\r", 6, 0,
          "\"\\u0001\\u001f\x7f\\u0008\\u000c\\r\"" },
        { "<\\/>", 4, 0, "\"<\\\\/>\"" }
    };

    is_int(parse(&b, "[{\"endpoint\":\"/a\",\"id\":\"a\"}]"), 0,
           "response bodies: batch: ok");

    for (i = 0; i < NELTS(cases); i++) {
        char  want[256], name[64];

        memset(&r, 0, sizeof(r));
        r.status = 200;
        r.body = cases[i].body;
        r.body_len = cases[i].len;
        r.json = cases[i].json;

        snprintf(want, sizeof(want),
                 "[{\"id\":\"a\",\"status\":200,\"headers\":{},\"body\":%s}]",
                 cases[i].want);
        snprintf(name, sizeof(name), "response body %u", (unsigned) i);

        response_is(&b, &r, want, name);
    }

    /* NULL body */

    memset(&r, 0, sizeof(r));
    r.status = 204;
    response_is(&b, &r, "[{\"id\":\"a\",\"status\":204,\"headers\":{},"
                "\"body\":\"\"}]", "response body NULL");

    /* 64 deep goes as JSON, 65 as a string */

    deep = ut_nested(64, "");
    memset(&r, 0, sizeof(r));
    r.status = 200;
    r.body = deep;
    r.body_len = strlen(deep);
    r.json = 1;

    out = velro_batch_response(&b, &r, &len);
    ok(out && strstr(out, "\"body\":[[[[") != NULL,
       "response body 64 deep: JSON");
    free(out);
    free(deep);

    deep = ut_nested(65, "");
    r.body = deep;
    r.body_len = strlen(deep);

    out = velro_batch_response(&b, &r, &len);
    ok(out && strstr(out, "\"body\":\"[[[[") != NULL,
       "response body 65 deep: a string");
    free(out);

    /* 3000 deep: jansson refuses it, a string */

    free(deep);
    deep = ut_nested(3000, "");
    r.body = deep;
    r.body_len = strlen(deep);

    out = velro_batch_response(&b, &r, &len);
    ok(out && strstr(out, "\"body\":\"[[[[") != NULL,
       "response body 3000 deep: a string");
    free(out);

    free(deep);
    velro_batch_free(&b);
}


void
test_batch(void)
{
    diag("velro_batch.c");

    test_top();
    test_endpoint_bad();
    test_endpoint_good();
    test_self();
    test_method();
    test_headers();
    test_body();
    test_depth();
    test_id();
    test_deps();
    test_deps_good();
    test_error_json();
    test_response();
    test_response_bodies();
}
