
/*
 * velro: request batching, pure C: the answer, an array of the items'
 * responses in request order, and the JSON error body of a refused batch.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "velro_batch.h"
#include "velro_json.h"


#define VELRO_BATCH_RESPONSE_DEPTH  64      /* deeper JSON goes as a string */


static void velro_batch_result(velro_json_buf_t *buf,
    const velro_batch_item_t *item, const velro_batch_result_t *r);


size_t
velro_batch_error_json(const velro_batch_t *b, char *buf, size_t size)
{
    char              tmp[32];
    size_t            n;
    velro_json_buf_t  out;

    memset(&out, 0, sizeof(velro_json_buf_t));

    velro_json_buf_str(&out, "{\"error\":");
    velro_json_write_string(&out, b->error,
                            strnlen(b->error, sizeof(b->error)));

    if (b->error_item >= 0) {
        snprintf(tmp, sizeof(tmp), ",\"item\":%ld", b->error_item);
        velro_json_buf_str(&out, tmp);
    }

    velro_json_buf_add(&out, "}", 1);

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
velro_batch_result(velro_json_buf_t *buf, const velro_batch_item_t *item,
    const velro_batch_result_t *r)
{
    char               tmp[32];
    size_t             i, j, n;
    const char        *name, *value;
    velro_json_t      *body;
    velro_json_pool_t  pool;

    velro_json_buf_str(buf, "{\"id\":");

    if (item->id) {
        velro_json_write_string(buf, item->id, strlen(item->id));

    } else {
        velro_json_buf_add(buf, "null", 4);
    }

    /* the status, without snprintf(): it is 100 to 999 but for bugs */

    if (r->status >= 100 && r->status <= 999) {
        memcpy(tmp, ",\"status\":", 10);
        tmp[10] = (char) ('0' + r->status / 100);
        tmp[11] = (char) ('0' + r->status / 10 % 10);
        tmp[12] = (char) ('0' + r->status % 10);
        velro_json_buf_add(buf, tmp, 13);

    } else {
        snprintf(tmp, sizeof(tmp), ",\"status\":%d", r->status);
        velro_json_buf_str(buf, tmp);
    }

    /*
     * headers: names that are tokens, a repeated name once, its values
     * joined with ", "
     */

    velro_json_buf_str(buf, ",\"headers\":{");
    n = 0;

    for (i = 0; i < r->nheaders; i++) {
        name = r->headers[i].name;

        if (name == NULL || !velro_batch_is_token(name, strlen(name))) {
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
            velro_json_buf_add(buf, ",", 1);
        }

        velro_json_write_string(buf, name, strlen(name));
        velro_json_buf_add(buf, ":", 1);

        /* the value: the JSON string of the joined values */

        velro_json_buf_add(buf, "\"", 1);

        for (j = i; j < r->nheaders; j++) {
            if (j > i
                && (r->headers[j].name == NULL
                    || strcasecmp(name, r->headers[j].name) != 0))
            {
                continue;
            }

            if (j > i) {
                velro_json_buf_add(buf, ", ", 2);
            }

            value = r->headers[j].value ? r->headers[j].value : "";
            velro_json_write_chars(buf, value, strlen(value));
        }

        velro_json_buf_add(buf, "\"", 1);
    }

    velro_json_buf_str(buf, "},\"body\":");

    if (r->error) {
        velro_json_buf_str(buf, "{\"error\":");
        velro_json_write_string(buf, r->error, strlen(r->error));
        velro_json_buf_add(buf, "}", 1);

    } else if (r->json && r->body_len > 0) {
        velro_json_pool_init(&pool, r->body_len, 0);

        body = velro_json_parse(&pool, r->body, r->body_len,
                                VELRO_BATCH_RESPONSE_DEPTH, NULL);

        if (body == NULL) {
            velro_json_write_string(buf, r->body, r->body_len);

        } else {
            velro_json_write(buf, body);
        }

        velro_json_pool_free(&pool);

    } else {
        velro_json_write_string(buf, r->body ? r->body : "",
                          r->body ? r->body_len : 0);
    }

    velro_json_buf_add(buf, "}", 1);
}


char *
velro_batch_response(const velro_batch_t *b,
    const velro_batch_result_t *results, size_t *len)
{
    size_t            i, j, size;
    velro_json_buf_t  buf;

    memset(&buf, 0, sizeof(velro_json_buf_t));

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

    velro_json_buf_add(&buf, "[", 1);

    for (i = 0; i < b->nitems; i++) {
        if (i) {
            velro_json_buf_add(&buf, ",", 1);
        }

        velro_batch_result(&buf, &b->items[i], &results[i]);
    }

    velro_json_buf_add(&buf, "]", 1);
    velro_json_buf_add(&buf, "", 1);                /* a terminating NUL */

    if (buf.failed) {
        free(buf.data);
        return NULL;
    }

    *len = buf.len - 1;

    return buf.data;
}
