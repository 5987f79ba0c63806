
/*
 * velro unit tests: histogram buckets and the text forms of the metrics
 * (velro_metrics.c).
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "velro_metrics.h"
#include "util.h"


static char *render(size_t (*fmt)(const velro_metrics_t *, char *, size_t),
    const velro_metrics_t *m);
static void test_buckets(void);
static void test_json(void);
static void test_prometheus(void);
static void test_truncation(void);
static void test_server_timing(void);
static void test_clock(void);


static char *
render(size_t (*fmt)(const velro_metrics_t *, char *, size_t),
    const velro_metrics_t *m)
{
    char    *buf;
    size_t   len;

    len = fmt(m, NULL, 0);

    buf = malloc(len + 1);
    if (buf == NULL) {
        return NULL;
    }

    if (fmt(m, buf, len + 1) != len) {
        free(buf);
        return NULL;
    }

    buf[len] = '\0';

    return buf;
}


static void
test_buckets(void)
{
    velro_histogram_t  h;

    is_int(velro_hist_bucket(0), 0, "0us: first bucket");
    is_int(velro_hist_bucket(50), 0, "50us: le 0.00005 (bounds inclusive)");
    is_int(velro_hist_bucket(51), 1, "51us: le 0.0001");
    is_int(velro_hist_bucket(75000), 10, "75ms: le 0.075");
    is_int(velro_hist_bucket(75001), 11, "75.001ms: le 0.1");
    is_int(velro_hist_bucket(1000000), 14, "1s: le 1");
    is_int(velro_hist_bucket(1000001), VELRO_HIST_NBOUNDS, "over 1s: +Inf");
    is_int(velro_hist_bucket(UINT64_MAX), VELRO_HIST_NBOUNDS, "max: +Inf");

    memset(&h, 0, sizeof(h));
    velro_hist_observe(&h, 10);
    velro_hist_observe(&h, 80000);
    velro_hist_observe(&h, 5000000);

    is_int(velro_hist_count(&h), 3, "count: every observation");
    is_int(h.sum_us, 5080010, "sum in microseconds");
    is_int(h.bucket[0], 1, "10us in the first bucket");
    is_int(h.bucket[11], 1, "80ms in le 0.1");
    is_int(h.bucket[VELRO_HIST_NBOUNDS], 1, "5s in +Inf");
}


static void
test_json(void)
{
    char             *s;
    velro_metrics_t   m;

    memset(&m, 0, sizeof(m));

    m.requests[VELRO_DECISION_ALLOW] = 3;
    m.requests[VELRO_DECISION_DENY] = 2;
    m.jwt[VELRO_JWT_OK] = 3;
    m.jwt[VELRO_JWT_EXPIRED] = 2;
    m.jwt[VELRO_JWT_MISSING] = 1;
    m.hits[VELRO_TIER_L2] = 7;
    m.cache_entries = 12;
    m.breaker_state[VELRO_BACKEND_DATABASE] = 1;
    velro_hist_observe(&m.stage[VELRO_STAGE_TOTAL], 60);
    velro_hist_observe(&m.stage[VELRO_STAGE_TOTAL], 1500000);

    s = render(velro_metrics_json, &m);
    ok(s != NULL, "json rendered, length as announced");

    if (s == NULL) {
        return;
    }

    ok(strncmp(s, "{\"velro_requests_total\":{\"decision\":"
                  "{\"allow\":3,\"deny\":2,\"error\":0}}", 61) == 0,
       "json: requests by decision first");
    ok(strstr(s, "\"velro_jwt_total\":{\"result\":{\"valid\":{\"reason\":"
                 "{\"valid\":3}},\"invalid\":{\"reason\":{\"malformed\":0,")
       != NULL, "json: jwt by result, then reason");
    ok(strstr(s, "\"expired\":2") != NULL, "json: expired");
    ok(strstr(s, "\"missing\":1,\"bad_request\":0,\"unavailable\":0}")
       != NULL, "json: the module's own reasons last");
    ok(strstr(s, "\"velro_cache_hits_total\":{\"tier\":"
                 "{\"l1\":0,\"l2\":7,\"l3\":0}}") != NULL, "json: hits");
    ok(strstr(s, "\"velro_cache_misses_total\":{\"tier\":"
                 "{\"l1\":0,\"l2\":0}}") != NULL, "json: misses, l1 l2");
    ok(strstr(s, "\"velro_cache_entries\":12") != NULL, "json: gauge");
    ok(strstr(s, "\"velro_breaker_state\":{\"backend\":"
                 "{\"redis\":0,\"database\":1,\"jwks\":0}}") != NULL,
       "json: breaker state");
    ok(strstr(s, "\"total\":{\"le\":{\"0.00005\":0,\"0.0001\":1,")
       != NULL, "json: buckets cumulative");
    ok(strstr(s, "\"1\":1,\"+Inf\":2},\"sum\":1.500060,\"count\":2}")
       != NULL, "json: +Inf, sum in seconds, count");
    ok(s[strlen(s) - 1] == '\n' && s[strlen(s) - 2] == '}',
       "json: one object and a newline");

    free(s);
}


static void
test_prometheus(void)
{
    char             *s, *line, *save;
    size_t            samples, typed;
    velro_metrics_t   m;

    memset(&m, 0, sizeof(m));

    m.requests[VELRO_DECISION_ERROR] = 4;
    m.jwt[VELRO_JWT_SIGNATURE] = 5;
    m.breaker_trips[VELRO_BACKEND_REDIS] = 2;
    velro_hist_observe(&m.authz[VELRO_TIER_L3], 2000);

    s = render(velro_metrics_prometheus, &m);
    ok(s != NULL, "prometheus rendered, length as announced");

    if (s == NULL) {
        return;
    }

    ok(strstr(s, "# TYPE velro_requests_total counter\n"
                 "velro_requests_total{decision=\"allow\"} 0\n") != NULL,
       "prometheus: TYPE before the samples");
    ok(strstr(s, "velro_requests_total{decision=\"error\"} 4\n") != NULL,
       "prometheus: error decisions");
    ok(strstr(s, "velro_jwt_total{result=\"valid\",reason=\"valid\"} 0\n")
       != NULL, "prometheus: valid tokens");
    ok(strstr(s, "velro_jwt_total{result=\"invalid\",reason=\"signature\"}"
                 " 5\n") != NULL, "prometheus: two labels");
    ok(strstr(s, "velro_breaker_trips_total{backend=\"redis\"} 2\n")
       != NULL, "prometheus: trips");
    ok(strstr(s, "# TYPE velro_stage_duration_seconds histogram\n")
       != NULL, "prometheus: histogram type");
    ok(strstr(s, "velro_authz_duration_seconds_bucket{tier=\"l3\","
                 "le=\"0.001\"} 0\n"
                 "velro_authz_duration_seconds_bucket{tier=\"l3\","
                 "le=\"0.0025\"} 1\n") != NULL,
       "prometheus: cumulative buckets");
    ok(strstr(s, "velro_authz_duration_seconds_bucket{tier=\"l3\","
                 "le=\"+Inf\"} 1\n"
                 "velro_authz_duration_seconds_sum{tier=\"l3\"} 0.002000\n"
                 "velro_authz_duration_seconds_count{tier=\"l3\"} 1\n")
       != NULL, "prometheus: +Inf, _sum, _count");

    /* every line: a comment, or "name[{labels}] value" */

    samples = 0;
    typed = 0;

    for (line = strtok_r(s, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
    {
        if (strncmp(line, "# TYPE ", 7) == 0) {
            typed++;
            continue;
        }

        if (line[0] == '#') {
            continue;
        }

        if (strncmp(line, "velro_", 6) == 0 && strchr(line, ' ') != NULL) {
            samples++;
        }
    }

    is_int(typed, 14, "prometheus: 14 families");

    /* requests, jwt, jwt cache, hits, misses, 5 plain, breaker x 2 */

    is_int(samples, 3 + VELRO_METRICS_NREASONS + 1 + 3 + 2 + 5 + 3 + 3
                    + (VELRO_NSTAGES + VELRO_NTIERS)
                      * (VELRO_HIST_NBUCKETS + 2),
           "prometheus: every sample");

    free(s);
}


static void
test_truncation(void)
{
    char             buf[64];
    size_t           len, full;
    velro_metrics_t  m;

    memset(&m, 0, sizeof(m));
    memset(buf, 'x', sizeof(buf));

    full = velro_metrics_json(&m, NULL, 0);
    len = velro_metrics_json(&m, buf, 40);

    is_int(len, full, "truncated: the full length is returned");
    ok(buf[40] == 'x', "truncated: nothing written past size");
}


static void
test_server_timing(void)
{
    char    buf[256];
    size_t  len;

    len = velro_metrics_server_timing(buf, sizeof(buf), 12, 3000, 4567,
                                      "L1", 1234567);
    buf[len < sizeof(buf) ? len : sizeof(buf) - 1] = '\0';

    is_str(buf, "jwt;dur=0.012, user;dur=3.000, authz;dur=4.567;desc=\"L1\","
                " total;dur=1234.567", "server timing: all stages");

    len = velro_metrics_server_timing(buf, sizeof(buf), 500,
                                      VELRO_METRICS_NONE, VELRO_METRICS_NONE,
                                      NULL, 501);
    buf[len < sizeof(buf) ? len : sizeof(buf) - 1] = '\0';

    is_str(buf, "jwt;dur=0.500, total;dur=0.501",
           "server timing: JWT only");
}


static void
test_clock(void)
{
    uint64_t  a, b;

    a = velro_metrics_now();
    b = velro_metrics_now();

    ok(a > 0 && b >= a, "clock: monotonic, microseconds");
}


void
test_metrics(void)
{
    test_buckets();
    test_json();
    test_prometheus();
    test_truncation();
    test_server_timing();
    test_clock();
}
