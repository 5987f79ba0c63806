
/*
 * velro: request batching, pure C: the order in which a batch's items may
 * run, each after the items it depends on, and the cycles that prevent one.
 */


#include <stdlib.h>

#include "velro_batch.h"


static int velro_batch_sort(const velro_batch_t *b, size_t *out,
    size_t *count);


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
 * Items not ordered each wait for some item not ordered: following those
 * from any of them comes back to an item on a cycle.
 */

long
velro_batch_cycle(const velro_batch_t *b)
{
    long                        rc;
    size_t                      i, j, k, n, min, count, *order;
    unsigned char              *done, *seen;
    const velro_batch_item_t   *item;

    n = b->nitems;

    order = malloc(n * sizeof(size_t));
    done = calloc(n, 1);
    seen = calloc(n, 1);

    if (order == NULL || done == NULL || seen == NULL
        || velro_batch_sort(b, order, &count) != 0)
    {
        rc = -2;
        goto done;
    }

    rc = -1;

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

    rc = (long) min;

done:

    free(order);
    free(done);
    free(seen);

    return rc;
}
