
/*
 * velro unit tests: JSON (velro_json.c, velro_json_write.c): what the
 * parser refuses and why, duplicate keys found as they come (in few
 * members or in many), values as jansson reads them, the bounds on depth
 * and memory, lookups, string unescaping, and the writer (escaping,
 * U+FFFD, reals).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "velro_json.h"
#include "util.h"


#define NELTS(a)  (sizeof(a) / sizeof((a)[0]))


void test_json(void);

static velro_json_t *parse(velro_json_pool_t *pool, const char *text,
    int max_depth, int *error);
static velro_json_t *parsen(velro_json_pool_t *pool, const char *text,
    size_t len, int max_depth, int *error);
static char *written(const velro_json_t *j);
static char *members(size_t n, const char *extra);
static void test_bad(void);
static void test_duplicates(void);
static void test_values(void);
static void test_depth(void);
static void test_memory(void);
static void test_lookups(void);
static void test_unescape(void);
static void test_writer(void);


static velro_json_t *
parse(velro_json_pool_t *pool, const char *text, int max_depth, int *error)
{
    return parsen(pool, text, strlen(text), max_depth, error);
}


static velro_json_t *
parsen(velro_json_pool_t *pool, const char *text, size_t len, int max_depth,
    int *error)
{
    velro_json_pool_init(pool, len, 0);

    return velro_json_parse(pool, text, len, max_depth, error);
}


/* the tree written compact, malloc()ed and NUL-terminated */

static char *
written(const velro_json_t *j)
{
    velro_json_buf_t  buf;

    memset(&buf, 0, sizeof(velro_json_buf_t));

    velro_json_write(&buf, j);
    velro_json_buf_add(&buf, "", 1);

    if (buf.failed) {
        abort();
    }

    return buf.data;
}


/* {"k0":0,...,"kN-1":N-1 then extra}, malloc()ed */

static char *
members(size_t n, const char *extra)
{
    char    *s;
    size_t   i;

    s = malloc(n * 20 + strlen(extra) + 4);
    if (s == NULL) {
        abort();
    }

    strcpy(s, "{");

    for (i = 0; i < n; i++) {
        sprintf(s + strlen(s), "%s\"k%zu\":%zu", i ? "," : "", i, i);
    }

    strcat(s, extra);
    strcat(s, "}");

    return s;
}


static void
test_bad(void)
{
    int                 error;
    size_t              i;
    velro_json_t       *j;
    velro_json_pool_t   pool;

    static const struct {
        const char  *text;
        int          error;
    } cases[] = {
        { "", VELRO_JSON_EINVAL },
        { " ", VELRO_JSON_EINVAL },
        { "[", VELRO_JSON_EINVAL },
        { "[1,]", VELRO_JSON_EINVAL },
        { "{\"a\":1,}", VELRO_JSON_EINVAL },
        { "{\"a\":1", VELRO_JSON_EINVAL },
        { "[1] x", VELRO_JSON_EINVAL },
        { "[1]\xff", VELRO_JSON_EINVAL },
        { "\xef\xbb\xbf[1]", VELRO_JSON_EINVAL },
        { "{\"a\" \"b\":1}", VELRO_JSON_EINVAL },
        { "{\"a\" 1}", VELRO_JSON_EINVAL },
        { "{'a':1}", VELRO_JSON_EINVAL },
        { "{a:1}", VELRO_JSON_EINVAL },
        { "\"\\ud800\"", VELRO_JSON_EINVAL },
        { "\"\\udc00\"", VELRO_JSON_EINVAL },
        { "\"\\ud800\\u0041\"", VELRO_JSON_EINVAL },
        { "\"\\u12\"", VELRO_JSON_EINVAL },
        { "\"\\u12g4\"", VELRO_JSON_EINVAL },
        { "\"\\x\"", VELRO_JSON_EINVAL },
        { "\"\\", VELRO_JSON_EINVAL },
        { "\"a\x01\"", VELRO_JSON_EINVAL },
        { "\"a\tb\"", VELRO_JSON_EINVAL },
        { "\"\xc3\x28\"", VELRO_JSON_EINVAL },
        { "\"\xed\xa0\x80\"", VELRO_JSON_EINVAL },
        { "\"\xc0\xaf\"", VELRO_JSON_EINVAL },
        { "\"abc", VELRO_JSON_EINVAL },
        { "{\"a\\u0000\":1}", VELRO_JSON_EINVAL },
        { "[01]", VELRO_JSON_EINVAL },
        { "[1.]", VELRO_JSON_EINVAL },
        { "[-]", VELRO_JSON_EINVAL },
        { "[1e]", VELRO_JSON_EINVAL },
        { "[1e+]", VELRO_JSON_EINVAL },
        { "[+1]", VELRO_JSON_EINVAL },
        { "[.5]", VELRO_JSON_EINVAL },
        { "[tru]", VELRO_JSON_EINVAL },
        { "[truex]", VELRO_JSON_EINVAL },
        { "[nul]", VELRO_JSON_EINVAL },
        { "[fals]", VELRO_JSON_EINVAL },
        { "[True]", VELRO_JSON_EINVAL },
        { "9223372036854775808", VELRO_JSON_EINVAL },
        { "-9223372036854775809", VELRO_JSON_EINVAL },
        { "1e999", VELRO_JSON_EINVAL },
        { "{\"a\":1,\"a\":", VELRO_JSON_EDUP },
        { "{\"a\":1,\"b\":2,\"a\":3} x", VELRO_JSON_EDUP },
        { "[{\"a\":{\"b\":1,\"b\":2}}]", VELRO_JSON_EDUP },
        { "{\"a\":1,\"a\" x", VELRO_JSON_EDUP },
        { "{\"a\":[1,], \"a\":1}", VELRO_JSON_EINVAL }
    };

    for (i = 0; i < NELTS(cases); i++) {
        error = -1;
        j = parse(&pool, cases[i].text, 0, &error);

        ok(j == NULL, "bad %u: refused", (unsigned) i);
        is_int(error, cases[i].error, "bad %u: error", (unsigned) i);

        velro_json_pool_free(&pool);
    }

    /* a NUL after a number or a literal: jansson skips it, this does not */

    j = parsen(&pool, "[6\0]", 4, 0, &error);
    ok(j == NULL && error == VELRO_JSON_EINVAL, "bad: a NUL after a number");
    velro_json_pool_free(&pool);

    j = parsen(&pool, "true\0", 5, 0, &error);
    ok(j == NULL && error == VELRO_JSON_EINVAL, "bad: a NUL after true");
    velro_json_pool_free(&pool);

    /* no error pointer: still refused */

    velro_json_pool_init(&pool, 1, 0);
    ok(velro_json_parse(&pool, "[", 1, 0, NULL) == NULL, "bad: no *error");
    velro_json_pool_free(&pool);
}


/* in many members the duplicate is looked for in a hash */

static void
test_duplicates(void)
{
    int                 error;
    char               *s, extra[32], *out;
    size_t              i;
    velro_json_t       *j;
    velro_json_pool_t   pool;

    s = members(40, "");
    j = parse(&pool, s, 0, &error);

    if (ok(j != NULL, "40 members")) {
        is_int(j->len, 40, "40 members: all kept");
        out = written(j);
        is_str(out, s, "40 members: in order");
        free(out);
    }

    velro_json_pool_free(&pool);
    free(s);

    for (i = 0; i < 40; i += 3) {
        snprintf(extra, sizeof(extra), ",\"k%zu\":0", i);
        s = members(40, extra);

        j = parse(&pool, s, 0, &error);
        ok(j == NULL && error == VELRO_JSON_EDUP,
           "41 members, k%zu twice: a duplicate", i);

        velro_json_pool_free(&pool);
        free(s);

        /* found before a later syntax error */

        snprintf(extra, sizeof(extra), ",\"k%zu\":0,", i);
        s = members(40, extra);

        j = parse(&pool, s, 0, &error);
        is_int(error, VELRO_JSON_EDUP,
               "41 members, k%zu twice, then bad: a duplicate", i);

        velro_json_pool_free(&pool);
        free(s);
    }

    /* the same key in two objects is no duplicate */

    s = "[{\"a\":1},{\"a\":2},{\"b\":{\"a\":3}}]";
    j = parse(&pool, s, 0, &error);
    ok(j != NULL, "the same key in other objects");
    velro_json_pool_free(&pool);
}


/* values as jansson reads them, written back compact */

static void
test_values(void)
{
    int                 error;
    char               *out;
    size_t              i;
    velro_json_t       *j, *v;
    velro_json_pool_t   pool;

    static const struct {
        const char  *text;
        const char  *want;
    } cases[] = {
        { " { \"s\" : \"\\ud83d\\ude00\\b\\f\\n\\r\\t\\/\\\"\\\\\\u00e9\" ,"
          " \"n\" : [ -0.0 , -0 , 1E2 , 9223372036854775807 ,"
          " -9223372036854775808 , 2.5e-1 , true , false , null , { } ,"
          " [ ] ] } ",
          "{\"s\":\"\xf0\x9f\x98\x80\\u0008\\u000c\\n\\r\\t/\\\"\\\\"
          "\xc3\xa9\",\"n\":[-0.0,0,100.0,9223372036854775807,"
          "-9223372036854775808,0.25,true,false,null,{},[]]}" },
        { "\"\\u0000\"", "\"\\u0000\"" },
        { "\"\\u20ac \xe2\x82\xac\"", "\"\xe2\x82\xac \xe2\x82\xac\"" },
        { "42", "42" },
        { "true ", "true" },
        { "\n\r\tnull", "null" },
        { "[0.1,1e2,-0]", "[0.1,100.0,0]" },
        { "[1e16,1e17,1.5e-5,1.5e-7,123456.789]",
          "[10000000000000000.0,100000000000000000.0,0.000015,1.5e-7,"
          "123456.789]" },
        { "[1e21,1e20,-1.7976931348623157e308,5e-324,0.1e-6,1e300]",
          "[1e+21,100000000000000000000.0,-1.7976931348623157e+308,5e-324,"
          "1e-7,1e+300]" },
        { "{\"z\":1,\"a\":2,\"m\":3}", "{\"z\":1,\"a\":2,\"m\":3}" },
        { "[[[[]]],{\"a\":{}}]", "[[[[]]],{\"a\":{}}]" }
    };

    for (i = 0; i < NELTS(cases); i++) {
        j = parse(&pool, cases[i].text, 0, &error);

        if (ok(j != NULL, "value %u: read", (unsigned) i)) {
            out = written(j);
            is_str(out, cases[i].want, "value %u: written back",
                   (unsigned) i);
            free(out);
        }

        velro_json_pool_free(&pool);
    }

    /* the tree: types, counts, depths, keys */

    j = parse(&pool, "{\"a\":[1,2.5,\"x\\u0000y\"],\"b\":{\"c\":null}}",
              0, &error);

    if (ok(j != NULL && error == VELRO_JSON_OK, "tree: read")) {
        ok(j->type == VELRO_JSON_OBJECT && j->len == 2 && j->depth == 2,
           "tree: an object of 2, 2 deep");

        v = j->u.child;
        ok(v->type == VELRO_JSON_ARRAY && v->len == 3 && v->depth == 1
           && v->klen == 1 && strcmp(v->key, "a") == 0,
           "tree: \"a\", an array of 3");

        v = v->u.child;
        ok(v->type == VELRO_JSON_INTEGER && v->u.integer == 1
           && v->key == NULL && v->depth == 0, "tree: a[0] is 1");

        v = v->next;
        ok(v->type == VELRO_JSON_REAL && v->u.real == 2.5, "tree: a[1]");

        v = v->next;
        ok(v->type == VELRO_JSON_STRING && v->len == 3
           && memcmp(v->u.str, "x\0y", 4) == 0 && v->next == NULL,
           "tree: a[2] holds a NUL, is NUL-terminated");
    }

    velro_json_pool_free(&pool);
}


static void
test_depth(void)
{
    int                 error;
    char               *s;
    velro_json_t       *j;
    velro_json_pool_t   pool;

    /* jansson's bound: 2048 values open, a scalar included */

    s = ut_nested(VELRO_JSON_MAX_DEPTH - 1, "1");
    j = parse(&pool, s, 0, &error);
    ok(j != NULL && j->depth == VELRO_JSON_MAX_DEPTH - 1,
       "depth: 1 in 2047 arrays");
    velro_json_pool_free(&pool);
    free(s);

    s = ut_nested(VELRO_JSON_MAX_DEPTH, "1");
    j = parse(&pool, s, 0, &error);
    ok(j == NULL && error == VELRO_JSON_EDEPTH, "depth: 1 in 2048 arrays");
    velro_json_pool_free(&pool);
    free(s);

    s = ut_nested(100000, "1");
    j = parse(&pool, s, 0, &error);
    ok(j == NULL && error == VELRO_JSON_EDEPTH, "depth: 100000 arrays");
    velro_json_pool_free(&pool);
    free(s);

    /* max_depth: the containers nested */

    s = ut_nested(64, "1");
    j = parse(&pool, s, 64, &error);
    ok(j != NULL && j->depth == 64, "max_depth 64: 64 arrays");
    velro_json_pool_free(&pool);

    j = parse(&pool, s, 63, &error);
    ok(j == NULL && error == VELRO_JSON_EDEPTH, "max_depth 63: 64 arrays");
    velro_json_pool_free(&pool);
    free(s);

    j = parse(&pool, "{\"a\":{\"b\":[]}}", 2, &error);
    ok(j == NULL && error == VELRO_JSON_EDEPTH, "max_depth 2: 3 deep");
    velro_json_pool_free(&pool);

    j = parse(&pool, "\"scalar\"", 1, &error);
    ok(j != NULL, "max_depth 1: a scalar");
    velro_json_pool_free(&pool);

    /* a bad text is bad even when too deep later */

    j = parse(&pool, "[x,[[[[]]]]]", 2, &error);
    ok(j == NULL && error == VELRO_JSON_EINVAL, "max_depth: bad first");
    velro_json_pool_free(&pool);
}


static void
test_memory(void)
{
    int                 error;
    char               *s;
    size_t              total;
    velro_json_t       *j;
    velro_json_pool_t   pool;

    s = members(2000, "");

    j = parse(&pool, s, 0, &error);
    total = pool.total;
    ok(j != NULL && total > 64 * 1024, "memory: 2000 members take %zu",
       total);
    velro_json_pool_free(&pool);

    velro_json_pool_init(&pool, strlen(s), total);
    j = velro_json_parse(&pool, s, strlen(s), 0, &error);
    ok(j != NULL, "memory: read within what it takes");
    velro_json_pool_free(&pool);

    velro_json_pool_init(&pool, strlen(s), total - 1);
    j = velro_json_parse(&pool, s, strlen(s), 0, &error);
    ok(j == NULL && error == VELRO_JSON_ENOMEM,
       "memory: a byte less: out of memory");
    ok(pool.total <= total - 1, "memory: the bound held");
    velro_json_pool_free(&pool);

    velro_json_pool_init(&pool, strlen(s), 100);
    j = velro_json_parse(&pool, s, strlen(s), 0, &error);
    ok(j == NULL && error == VELRO_JSON_ENOMEM && pool.total == 0,
       "memory: less than a block: nothing taken");
    velro_json_pool_free(&pool);

    free(s);

    /* the pool serves other allocations too, aligned */

    velro_json_pool_init(&pool, 0, 0);
    s = velro_json_alloc(&pool, 3);
    ok(s != NULL && ((size_t) s & 15) == 0
       && ((size_t) velro_json_alloc(&pool, 1) & 15) == 0,
       "memory: allocations aligned");
    ok(velro_json_alloc(&pool, 100000) != NULL, "memory: a large one");
    ok(velro_json_alloc(&pool, (size_t) -1) == NULL, "memory: too large");
    velro_json_pool_free(&pool);
    ok(pool.blocks == NULL && pool.total == 0, "memory: freed");
}


static void
test_lookups(void)
{
    int                 error;
    size_t              len;
    const char         *s;
    velro_json_t       *j, *v;
    velro_json_pool_t   pool;

    j = parse(&pool, "{\"status\":\"active\",\"id\":null,\"n\":1,"
              "\"st\":\"x\"}", 0, &error);

    if (!ok(j != NULL, "lookups: read")) {
        velro_json_pool_free(&pool);
        return;
    }

    v = velro_json_get(j, "status");
    ok(velro_json_string(v, &s, &len) && len == 6
       && strcmp(s, "active") == 0, "lookups: a string by name");

    v = velro_json_get(j, "id");
    ok(v != NULL && v->type == VELRO_JSON_NULL, "lookups: null is there");
    ok(!velro_json_string(v, &s, &len), "lookups: null is no string");

    ok(velro_json_get(j, "missing") == NULL, "lookups: a missing name");
    ok(velro_json_get(j, "stat") == NULL, "lookups: a prefix is not a name");
    ok(velro_json_getn(j, "status", 2) == velro_json_get(j, "st"),
       "lookups: getn takes a length");
    ok(velro_json_get(velro_json_get(j, "n"), "x") == NULL,
       "lookups: in a number: NULL");
    ok(velro_json_get(NULL, "x") == NULL, "lookups: in NULL: NULL");
    ok(!velro_json_string(NULL, &s, &len), "lookups: string of NULL");

    velro_json_pool_free(&pool);

    j = parse(&pool, "[\"a\"]", 0, &error);
    ok(j != NULL && velro_json_get(j, "a") == NULL,
       "lookups: in an array: NULL");
    velro_json_pool_free(&pool);
}


static void
test_unescape(void)
{
    char    out[64];
    size_t  i, len;

    static const struct {
        const char  *in;
        const char  *out;
        size_t       out_len;
    } good[] = {
        { "", "", 0 },
        { "plain", "plain", 5 },
        { "a\\\"b\\\\c\\/d", "a\"b\\c/d", 7 },
        { "\\b\\f\\n\\r\\t", "\b\f\n\r\t", 5 },
        { "\\u0041\\u00e9\\u20AC", "A\xc3\xa9\xe2\x82\xac", 6 },
        { "\\ud83d\\ude00!", "\xf0\x9f\x98\x80!", 5 },
        { "x\\u0000y", "x\0y", 3 },
        { "\xc3\xa9\xf0\x9f\x98\x80\x7f", "\xc3\xa9\xf0\x9f\x98\x80\x7f", 7 }
    };

    static const char  *bad[] = {
        "\"", "a\"b", "\\", "\\x", "\\u", "\\u123", "\\u123x", "\\ud800",
        "\\ud800x", "\\ud800\\u0041", "\\udfff", "\x01", "\n", "\xff",
        "\xc3", "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80"
    };

    for (i = 0; i < NELTS(good); i++) {
        memset(out, 'z', sizeof(out));

        if (is_int(velro_json_unescape(good[i].in, strlen(good[i].in), out,
                                       &len),
                   0, "unescape %u: ok", (unsigned) i))
        {
            ok(len == good[i].out_len
               && memcmp(out, good[i].out, len) == 0 && out[len] == '\0',
               "unescape %u: the value, NUL-terminated", (unsigned) i);
        }
    }

    for (i = 0; i < NELTS(bad); i++) {
        is_int(velro_json_unescape(bad[i], strlen(bad[i]), out, &len), -1,
               "unescape bad %u: refused", (unsigned) i);
    }

    /* a length, not a NUL, ends the text */

    ok(velro_json_unescape("ab\\n", 2, out, &len) == 0 && len == 2,
       "unescape: the length given");
}


static void
test_writer(void)
{
    size_t             i;
    velro_json_buf_t   buf;

    static const struct {
        const char  *in;
        size_t       len;
        const char  *out;
    } strings[] = {
        { "", 0, "\"\"" },
        { "plain text", 10, "\"plain text\"" },
        { "a\"b\\c/d", 7, "\"a\\\"b\\\\c/d\"" },
        { "\n\r\t", 3, "\"\\n\\r\\t\"" },
        { "\x01\x1f\x7f\b\f", 5, "\"\\u0001\\u001f\x7f\\u0008\\u000c\"" },
        { "a\0b", 3, "\"a\\u0000b\"" },
        { "\xe2\x82\xac \xf0\x9f\x98\x80", 8,
          "\"\xe2\x82\xac \xf0\x9f\x98\x80\"" },
        { "a\xff" "b", 3, "\"a\xef\xbf\xbd" "b\"" },
        { "\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"" },
        { "\xe2\x82", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"" },
        { "\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" },
        { "\xf4\x90\x80\x80", 4,
          "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" }
    };

    static const struct {
        double       d;
        const char  *out;
    } reals[] = {
        { 0.1, "0.1" }, { 1.5, "1.5" }, { 1.0, "1.0" }, { -0.0, "-0.0" },
        { 100.0, "100.0" }, { 1e16, "10000000000000000.0" },
        { 1e20, "100000000000000000000.0" }, { 1e21, "1e+21" },
        { 1.5e-5, "0.000015" }, { 1.5e-7, "1.5e-7" }, { 1e-7, "1e-7" },
        { 123456.789, "123456.789" }, { 5e-324, "5e-324" },
        { -1.7976931348623157e308, "-1.7976931348623157e+308" }
    };

    for (i = 0; i < NELTS(strings); i++) {
        memset(&buf, 0, sizeof(velro_json_buf_t));
        velro_json_write_string(&buf, strings[i].in, strings[i].len);
        velro_json_buf_add(&buf, "", 1);

        ok(!buf.failed, "string %u: written", (unsigned) i);
        is_str(buf.data, strings[i].out, "string %u", (unsigned) i);
        free(buf.data);
    }

    for (i = 0; i < NELTS(reals); i++) {
        memset(&buf, 0, sizeof(velro_json_buf_t));
        velro_json_write_real(&buf, reals[i].d);
        velro_json_buf_add(&buf, "", 1);

        is_str(buf.data, reals[i].out, "real %s", reals[i].out);
        free(buf.data);
    }

    memset(&buf, 0, sizeof(velro_json_buf_t));
    velro_json_write_integer(&buf, -9223372036854775807LL - 1);
    velro_json_buf_str(&buf, ",");
    velro_json_write_integer(&buf, 0);
    velro_json_buf_add(&buf, "", 1);
    is_str(buf.data, "-9223372036854775808,0", "integers");
    free(buf.data);

    /* the buffer grows from nothing, and from a given size */

    memset(&buf, 0, sizeof(velro_json_buf_t));

    for (i = 0; i < 1000; i++) {
        velro_json_buf_str(&buf, "0123456789");
    }

    ok(!buf.failed && buf.len == 10000 && buf.size >= 10000
       && memcmp(buf.data + 9990, "0123456789", 10) == 0,
       "buffer: 10000 bytes in");
    free(buf.data);

    buf.data = malloc(4);
    buf.size = 4;
    buf.len = 0;
    buf.failed = 0;

    if (buf.data == NULL) {
        abort();
    }

    velro_json_buf_str(&buf, "abcdefgh");
    ok(!buf.failed && buf.len == 8 && memcmp(buf.data, "abcdefgh", 8) == 0,
       "buffer: grown from 4 bytes");

    /* failed: nothing more is added */

    buf.failed = 1;
    velro_json_buf_str(&buf, "ij");
    ok(buf.len == 8, "buffer: nothing added once failed");
    free(buf.data);
}


void
test_json(void)
{
    diag("velro_json.c");

    test_bad();
    test_duplicates();
    test_values();
    test_depth();
    test_memory();
    test_lookups();
    test_unescape();
    test_writer();
}
