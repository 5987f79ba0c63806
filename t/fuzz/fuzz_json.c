
/*
 * velro: libFuzzer target for the JSON parser and writer (velro_json.c,
 * velro_json_write.c).
 *
 * The input is parsed, and checked against jansson (json_loadb() with
 * JSON_DECODE_ANY, JSON_REJECT_DUPLICATES and JSON_ALLOW_NUL): the same
 * texts are accepted (inputs holding a NUL byte aside: velro_json.h), a
 * duplicate key is reported as such, and the tree written back compact is
 * a text jansson reads as the same value; read again it is written the
 * same, every member is found by its name, and the parse succeeds with
 * exactly the depth and the memory it took and fails with less.  The
 * input is also the inside of a string: velro_json_unescape() agrees
 * with jansson, and what velro_json_write_string() makes of the result,
 * and of the raw input, reads back.  Any mismatch aborts.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "velro_json.h"


#define FUZZ_FLAGS  (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what, const uint8_t *data, size_t size);
static char *fuzz_write(const velro_json_t *j, size_t *len);
static int fuzz_compact(const char *s, size_t len);
static void fuzz_members(const velro_json_t *j, const uint8_t *data,
    size_t size);
static void fuzz_limits(const velro_json_t *j, size_t total,
    const uint8_t *data, size_t size);
static void fuzz_tree(const uint8_t *data, size_t size);
static void fuzz_string(const uint8_t *data, size_t size);


static void
fuzz_fail(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "fuzz_json: %s; input: %.*s\n", what,
            (int) (size > 1024 ? 1024 : size), (const char *) data);
    abort();
}


/* the tree written compact, malloc()ed */

static char *
fuzz_write(const velro_json_t *j, size_t *len)
{
    velro_json_buf_t  buf;

    memset(&buf, 0, sizeof(velro_json_buf_t));

    velro_json_write(&buf, j);

    if (buf.failed) {
        fprintf(stderr, "fuzz_json: the writer failed\n");
        abort();
    }

    *len = buf.len;

    return buf.data;
}


/* no white space outside strings, no raw NUL */

static int
fuzz_compact(const char *s, size_t len)
{
    int     in;
    size_t  i;

    for (in = 0, i = 0; i < len; i++) {
        if (s[i] == '\0') {
            return 0;
        }

        if (in) {
            if (s[i] == '\\') {
                i++;

            } else if (s[i] == '"') {
                in = 0;
            }

        } else if (s[i] == '"') {
            in = 1;

        } else if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n'
                   || s[i] == '\r')
        {
            return 0;
        }
    }

    return !in;
}


/* every member is found by its name; containers count what they hold */

static void
fuzz_members(const velro_json_t *j, const uint8_t *data, size_t size)
{
    int            depth;
    size_t         n;
    velro_json_t  *m;

    if (j->type != VELRO_JSON_OBJECT && j->type != VELRO_JSON_ARRAY) {
        if (j->depth != 0) {
            fuzz_fail("a scalar with a depth", data, size);
        }

        return;
    }

    n = 0;
    depth = 0;

    for (m = j->u.child; m; m = m->next) {
        n++;

        if (j->type == VELRO_JSON_OBJECT
            && velro_json_getn(j, m->key, m->klen) != m)
        {
            fuzz_fail("a member not found by its name", data, size);
        }

        if (m->depth > depth) {
            depth = m->depth;
        }

        fuzz_members(m, data, size);
    }

    if (n != j->len || j->depth != depth + 1) {
        fuzz_fail("a container's count or depth", data, size);
    }
}


/* the parse needs its depth and its memory, no more */

static void
fuzz_limits(const velro_json_t *j, size_t total, const uint8_t *data,
    size_t size)
{
    int                 error;
    velro_json_t       *v;
    velro_json_pool_t   pool;

    if (j->depth > 0) {
        velro_json_pool_init(&pool, size, 0);
        v = velro_json_parse(&pool, (const char *) data, size, j->depth,
                             &error);

        if (v == NULL) {
            fuzz_fail("refused with its own depth", data, size);
        }

        velro_json_pool_free(&pool);

        if (j->depth > 1) {
            velro_json_pool_init(&pool, size, 0);
            v = velro_json_parse(&pool, (const char *) data, size,
                                 j->depth - 1, &error);

            if (v != NULL || error != VELRO_JSON_EDEPTH) {
                fuzz_fail("accepted one level less deep", data, size);
            }

            velro_json_pool_free(&pool);
        }
    }

    velro_json_pool_init(&pool, size, total);
    v = velro_json_parse(&pool, (const char *) data, size, 0, &error);

    if (v == NULL || pool.total != total) {
        fuzz_fail("refused with the memory it took", data, size);
    }

    velro_json_pool_free(&pool);

    velro_json_pool_init(&pool, size, total - 1);
    v = velro_json_parse(&pool, (const char *) data, size, 0, &error);

    if (v != NULL || error != VELRO_JSON_ENOMEM) {
        fuzz_fail("accepted with less memory", data, size);
    }

    velro_json_pool_free(&pool);
}


static void
fuzz_tree(const uint8_t *data, size_t size)
{
    int                 error, nul;
    char               *out, *again;
    size_t              len, len2;
    json_t             *in, *back;
    json_error_t        jerr;
    velro_json_t       *j, *j2;
    velro_json_pool_t   pool, pool2;

    velro_json_pool_init(&pool, size, 0);
    j = velro_json_parse(&pool, (const char *) data, size, 0, &error);

    nul = memchr(data, '\0', size) != NULL;
    in = json_loadb((const char *) data, size, FUZZ_FLAGS, &jerr);

    if (j == NULL) {
        if (error == VELRO_JSON_OK || error == VELRO_JSON_ENOMEM) {
            fuzz_fail("refused without a reason", data, size);
        }

        if (in != NULL && !nul) {
            fuzz_fail("refused what jansson reads", data, size);
        }

        if (error == VELRO_JSON_EDUP && in == NULL
            && strstr(jerr.text, "duplicate") == NULL)
        {
            fprintf(stderr, "fuzz_json: jansson: %s\n", jerr.text);
            fuzz_fail("a duplicate key jansson does not see", data, size);
        }

        json_decref(in);
        velro_json_pool_free(&pool);
        return;
    }

    if (in == NULL) {
        fprintf(stderr, "fuzz_json: jansson: %s\n", jerr.text);
        fuzz_fail("accepted what jansson refuses", data, size);
    }

    fuzz_members(j, data, size);

    /* written back: compact, the same value for jansson */

    out = fuzz_write(j, &len);

    if (!fuzz_compact(out, len)) {
        fuzz_fail("written back not compact", data, size);
    }

    back = json_loadb(out, len, FUZZ_FLAGS, &jerr);

    if (back == NULL || !json_equal(in, back)) {
        fprintf(stderr, "fuzz_json: written back: %.*s\n",
                (int) (len > 2048 ? 2048 : len), out);
        fuzz_fail("written back not the same value", data, size);
    }

    /* read again, written the same */

    velro_json_pool_init(&pool2, len, 0);
    j2 = velro_json_parse(&pool2, out, len, 0, &error);

    if (j2 == NULL) {
        fuzz_fail("written back not read again", data, size);
    }

    again = fuzz_write(j2, &len2);

    if (len2 != len || memcmp(out, again, len) != 0) {
        fuzz_fail("written twice not the same", data, size);
    }

    free(again);
    velro_json_pool_free(&pool2);
    free(out);
    json_decref(back);
    json_decref(in);

    fuzz_limits(j, pool.total, data, size);

    velro_json_pool_free(&pool);
}


/* the input as the inside of a string */

static void
fuzz_string(const uint8_t *data, size_t size)
{
    int                rc, error;
    char              *quoted, *out;
    size_t             len;
    json_t            *s;
    velro_json_t      *j;
    velro_json_buf_t   buf;
    velro_json_pool_t  pool;

    out = malloc(size + 1);
    quoted = malloc(size + 2);

    if (out == NULL || quoted == NULL) {
        abort();
    }

    rc = velro_json_unescape((const char *) data, size, out, &len);

    quoted[0] = '"';
    memcpy(quoted + 1, data, size);
    quoted[size + 1] = '"';

    s = json_loadb(quoted, size + 2, FUZZ_FLAGS, NULL);

    if (memchr(data, '\0', size) != NULL) {
        if (rc == 0) {
            fuzz_fail("unescaped a raw NUL", data, size);
        }

    } else if ((rc == 0) != (s != NULL && json_is_string(s))) {
        fuzz_fail("unescape: jansson disagrees", data, size);

    } else if (rc == 0
               && (json_string_length(s) != len
                   || memcmp(json_string_value(s), out, len) != 0
                   || out[len] != '\0'))
    {
        fuzz_fail("unescape: not jansson's value", data, size);
    }

    json_decref(s);

    /* written as a string and read back: the value, or U+FFFD for bad
       UTF-8 */

    memset(&buf, 0, sizeof(velro_json_buf_t));

    if (rc == 0) {
        velro_json_write_string(&buf, out, len);

    } else {
        velro_json_write_string(&buf, (const char *) data, size);
    }

    if (buf.failed) {
        abort();
    }

    velro_json_pool_init(&pool, buf.len, 0);
    j = velro_json_parse(&pool, buf.data, buf.len, 0, &error);

    if (j == NULL || j->type != VELRO_JSON_STRING) {
        fuzz_fail("a written string does not read back", data, size);
    }

    if (rc == 0 && (j->len != len || memcmp(j->u.str, out, len) != 0)) {
        fuzz_fail("a written string reads back changed", data, size);
    }

    velro_json_pool_free(&pool);
    free(buf.data);
    free(quoted);
    free(out);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_tree(data, size);
    fuzz_string(data, size);

    return 0;
}
