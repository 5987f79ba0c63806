
/*
 * velro: histogram buckets and the text forms of the metrics.
 */


#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "velro_metrics.h"


typedef struct {
    char          *pos;
    char          *end;
    size_t         len;
} velro_out_t;


static void velro_out(velro_out_t *o, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void velro_out_seconds(velro_out_t *o, velro_counter_t us);
static void velro_json_labels(velro_out_t *o, const char *label,
    const char *const *names, const velro_counter_t *v, size_t n);
static void velro_json_hist(velro_out_t *o, const velro_histogram_t *h);
static void velro_prom_head(velro_out_t *o, const char *name,
    const char *type, const char *help);
static void velro_prom_labels(velro_out_t *o, const char *name,
    const char *label, const char *const *names, const velro_counter_t *v,
    size_t n);
static void velro_prom_hist(velro_out_t *o, const char *name,
    const char *label, const char *value, const velro_histogram_t *h);


const uint64_t  velro_hist_bounds[VELRO_HIST_NBOUNDS] = {
    50, 100, 250, 500,
    1000, 2500, 5000, 10000, 25000, 50000, 75000, 100000, 250000, 500000,
    1000000
};


/* the same bounds as le labels, seconds */

static const char  *velro_hist_le[VELRO_HIST_NBUCKETS] = {
    "0.00005", "0.0001", "0.00025", "0.0005",
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.075", "0.1",
    "0.25", "0.5", "1", "+Inf"
};


static const char  *velro_decisions[VELRO_NDECISIONS] = {
    "", "allow", "deny", "error"
};

static const char  *velro_tiers[VELRO_NTIERS] = {
    "none", "l1", "l2", "l3"
};

/* the order of the tiers in the output */
static const size_t  velro_tier_order[VELRO_NTIERS] = {
    VELRO_TIER_L1, VELRO_TIER_L2, VELRO_TIER_L3, VELRO_TIER_NONE
};

static const char  *velro_backends[VELRO_NBACKENDS] = {
    "redis", "database", "jwks"
};

static const char  *velro_stages[VELRO_NSTAGES] = {
    "jwt", "user", "authz", "total"
};

static const char  *velro_extra_reasons[3] = {
    "missing", "bad_request", "unavailable"
};


size_t
velro_hist_bucket(uint64_t us)
{
    size_t  i;

    for (i = 0; i < VELRO_HIST_NBOUNDS; i++) {
        if (us <= velro_hist_bounds[i]) {
            return i;
        }
    }

    return VELRO_HIST_NBOUNDS;
}


void
velro_hist_observe(velro_histogram_t *h, uint64_t us)
{
    h->bucket[velro_hist_bucket(us)]++;
    h->sum_us += (velro_counter_t) us;
}


velro_counter_t
velro_hist_count(const velro_histogram_t *h)
{
    size_t           i;
    velro_counter_t  n;

    n = 0;

    for (i = 0; i < VELRO_HIST_NBUCKETS; i++) {
        n += h->bucket[i];
    }

    return n;
}


const char *
velro_metrics_reason(size_t reason)
{
    if (reason < VELRO_JWT_NREASONS) {
        return velro_jwt_reason((velro_jwt_rc_e) reason);
    }

    if (reason < VELRO_METRICS_NREASONS) {
        return velro_extra_reasons[reason - VELRO_JWT_NREASONS];
    }

    return "internal";
}


uint64_t
velro_metrics_now(void)
{
    struct timespec  ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return 0;
    }

    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


static void
velro_out(velro_out_t *o, const char *fmt, ...)
{
    int      n;
    size_t   room;
    va_list  args;
    char     tmp[1];

    room = (o->pos != NULL) ? (size_t) (o->end - o->pos) : 0;

    va_start(args, fmt);

    if (room > 0) {
        n = vsnprintf(o->pos, room, fmt, args);

    } else {
        n = vsnprintf(tmp, sizeof(tmp), fmt, args);
    }

    va_end(args);

    if (n < 0) {
        return;
    }

    /* vsnprintf() wrote a NUL where the text did not fit: keep within */

    if ((size_t) n < room) {
        o->pos += n;

    } else {
        o->pos = o->end;
    }

    o->len += (size_t) n;
}


static void
velro_out_seconds(velro_out_t *o, velro_counter_t us)
{
    velro_out(o, "%lu.%06lu", us / 1000000, us % 1000000);
}


/* JSON */

static void
velro_json_labels(velro_out_t *o, const char *label,
    const char *const *names, const velro_counter_t *v, size_t n)
{
    size_t  i;

    velro_out(o, "{\"%s\":{", label);

    for (i = 0; i < n; i++) {
        velro_out(o, "%s\"%s\":%lu", i ? "," : "", names[i], v[i]);
    }

    velro_out(o, "}}");
}


static void
velro_json_hist(velro_out_t *o, const velro_histogram_t *h)
{
    size_t           i;
    velro_counter_t  n;

    n = 0;

    velro_out(o, "{\"le\":{");

    for (i = 0; i < VELRO_HIST_NBUCKETS; i++) {
        n += h->bucket[i];
        velro_out(o, "%s\"%s\":%lu", i ? "," : "", velro_hist_le[i], n);
    }

    velro_out(o, "},\"sum\":");
    velro_out_seconds(o, h->sum_us);
    velro_out(o, ",\"count\":%lu}", n);
}


size_t
velro_metrics_json(const velro_metrics_t *m, char *buf, size_t size)
{
    size_t       i;
    velro_out_t  o;

    o.pos = buf;
    o.end = (buf != NULL) ? buf + size : NULL;
    o.len = 0;

    velro_out(&o, "{\"velro_requests_total\":");
    velro_json_labels(&o, "decision", velro_decisions + VELRO_DECISION_ALLOW,
                      m->requests + VELRO_DECISION_ALLOW,
                      VELRO_NDECISIONS - VELRO_DECISION_ALLOW);

    velro_out(&o, ",\n\"velro_jwt_total\":{\"result\":{"
                  "\"valid\":{\"reason\":{\"%s\":%lu}},"
                  "\"invalid\":{\"reason\":{",
              velro_metrics_reason(VELRO_JWT_OK), m->jwt[VELRO_JWT_OK]);

    for (i = 1; i < VELRO_METRICS_NREASONS; i++) {
        velro_out(&o, "%s\"%s\":%lu", i > 1 ? "," : "",
                  velro_metrics_reason(i), m->jwt[i]);
    }

    velro_out(&o, "}}}},\n\"velro_jwt_cache_hits_total\":%lu",
              m->jwt_cache_hits);

    velro_out(&o, ",\n\"velro_cache_hits_total\":");
    velro_json_labels(&o, "tier", velro_tiers + VELRO_TIER_L1,
                      m->hits + VELRO_TIER_L1, 3);

    velro_out(&o, ",\n\"velro_cache_misses_total\":");
    velro_json_labels(&o, "tier", velro_tiers + VELRO_TIER_L1,
                      m->misses + VELRO_TIER_L1, 2);

    velro_out(&o, ",\n\"velro_cache_entries\":%lu"
                  ",\n\"velro_cache_bytes\":%lu"
                  ",\n\"velro_stale_total\":%lu"
                  ",\n\"velro_invalidations_total\":%lu"
                  ",\n\"velro_batch_items_total\":%lu",
              m->cache_entries, m->cache_bytes, m->stale, m->invalidations,
              m->batch_items);

    velro_out(&o, ",\n\"velro_breaker_state\":");
    velro_json_labels(&o, "backend", velro_backends, m->breaker_state,
                      VELRO_NBACKENDS);

    velro_out(&o, ",\n\"velro_breaker_trips_total\":");
    velro_json_labels(&o, "backend", velro_backends, m->breaker_trips,
                      VELRO_NBACKENDS);

    velro_out(&o, ",\n\"velro_stage_duration_seconds\":{\"stage\":{");

    for (i = 0; i < VELRO_NSTAGES; i++) {
        velro_out(&o, "%s\n\"%s\":", i ? "," : "", velro_stages[i]);
        velro_json_hist(&o, &m->stage[i]);
    }

    velro_out(&o, "}},\n\"velro_authz_duration_seconds\":{\"tier\":{");

    for (i = 0; i < VELRO_NTIERS; i++) {
        velro_out(&o, "%s\n\"%s\":", i ? "," : "",
                  velro_tiers[velro_tier_order[i]]);
        velro_json_hist(&o, &m->authz[velro_tier_order[i]]);
    }

    velro_out(&o, "}}}\n");

    return o.len;
}


/* Prometheus text exposition format 0.0.4 */

static void
velro_prom_head(velro_out_t *o, const char *name, const char *type,
    const char *help)
{
    velro_out(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}


static void
velro_prom_labels(velro_out_t *o, const char *name, const char *label,
    const char *const *names, const velro_counter_t *v, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        velro_out(o, "%s{%s=\"%s\"} %lu\n", name, label, names[i], v[i]);
    }
}


static void
velro_prom_hist(velro_out_t *o, const char *name, const char *label,
    const char *value, const velro_histogram_t *h)
{
    size_t           i;
    velro_counter_t  n;

    n = 0;

    for (i = 0; i < VELRO_HIST_NBUCKETS; i++) {
        n += h->bucket[i];
        velro_out(o, "%s_bucket{%s=\"%s\",le=\"%s\"} %lu\n",
                  name, label, value, velro_hist_le[i], n);
    }

    velro_out(o, "%s_sum{%s=\"%s\"} ", name, label, value);
    velro_out_seconds(o, h->sum_us);
    velro_out(o, "\n%s_count{%s=\"%s\"} %lu\n", name, label, value, n);
}


size_t
velro_metrics_prometheus(const velro_metrics_t *m, char *buf, size_t size)
{
    size_t       i;
    velro_out_t  o;

    o.pos = buf;
    o.end = (buf != NULL) ? buf + size : NULL;
    o.len = 0;

    velro_prom_head(&o, "velro_requests_total", "counter",
                    "Access decisions made, by outcome.");
    velro_prom_labels(&o, "velro_requests_total", "decision",
                      velro_decisions + VELRO_DECISION_ALLOW,
                      m->requests + VELRO_DECISION_ALLOW,
                      VELRO_NDECISIONS - VELRO_DECISION_ALLOW);

    velro_prom_head(&o, "velro_jwt_total", "counter",
                    "Bearer token checks, by result and reason.");

    for (i = 0; i < VELRO_METRICS_NREASONS; i++) {
        velro_out(&o, "velro_jwt_total{result=\"%s\",reason=\"%s\"} %lu\n",
                  i == VELRO_JWT_OK ? "valid" : "invalid",
                  velro_metrics_reason(i), m->jwt[i]);
    }

    velro_prom_head(&o, "velro_jwt_cache_hits_total", "counter",
                    "Valid tokens found in the L1 token cache.");
    velro_out(&o, "velro_jwt_cache_hits_total %lu\n", m->jwt_cache_hits);

    velro_prom_head(&o, "velro_cache_hits_total", "counter",
                    "Authorization lookups a cache tier completed.");
    velro_prom_labels(&o, "velro_cache_hits_total", "tier",
                      velro_tiers + VELRO_TIER_L1, m->hits + VELRO_TIER_L1, 3);

    velro_prom_head(&o, "velro_cache_misses_total", "counter",
                    "Authorization lookups a cache tier could not "
                    "complete.");
    velro_prom_labels(&o, "velro_cache_misses_total", "tier",
                      velro_tiers + VELRO_TIER_L1, m->misses + VELRO_TIER_L1,
                      2);

    velro_prom_head(&o, "velro_cache_entries", "gauge",
                    "L1 entries, all workers.");
    velro_out(&o, "velro_cache_entries %lu\n", m->cache_entries);

    velro_prom_head(&o, "velro_cache_bytes", "gauge",
                    "L1 bytes in use, all workers.");
    velro_out(&o, "velro_cache_bytes %lu\n", m->cache_bytes);

    velro_prom_head(&o, "velro_stale_total", "counter",
                    "Decisions made from expired entries (backend down).");
    velro_out(&o, "velro_stale_total %lu\n", m->stale);

    velro_prom_head(&o, "velro_invalidations_total", "counter",
                    "Invalidation notices received.");
    velro_out(&o, "velro_invalidations_total %lu\n", m->invalidations);

    velro_prom_head(&o, "velro_batch_items_total", "counter",
                    "Items of batch requests started.");
    velro_out(&o, "velro_batch_items_total %lu\n", m->batch_items);

    velro_prom_head(&o, "velro_breaker_state", "gauge",
                    "Circuit breaker state: 0 closed, 1 open, 2 half-open.");
    velro_prom_labels(&o, "velro_breaker_state", "backend", velro_backends,
                      m->breaker_state, VELRO_NBACKENDS);

    velro_prom_head(&o, "velro_breaker_trips_total", "counter",
                    "Circuit breaker trips to open.");
    velro_prom_labels(&o, "velro_breaker_trips_total", "backend",
                      velro_backends, m->breaker_trips, VELRO_NBACKENDS);

    velro_prom_head(&o, "velro_stage_duration_seconds", "histogram",
                    "Time spent per stage of a checked request.");

    for (i = 0; i < VELRO_NSTAGES; i++) {
        velro_prom_hist(&o, "velro_stage_duration_seconds", "stage",
                        velro_stages[i], &m->stage[i]);
    }

    velro_prom_head(&o, "velro_authz_duration_seconds", "histogram",
                    "Authorization time (user and access), by the slowest "
                    "tier that answered.");

    for (i = 0; i < VELRO_NTIERS; i++) {
        velro_prom_hist(&o, "velro_authz_duration_seconds", "tier",
                        velro_tiers[velro_tier_order[i]],
                        &m->authz[velro_tier_order[i]]);
    }

    return o.len;
}


/* Server-Timing: durations in milliseconds */

size_t
velro_metrics_server_timing(char *buf, size_t size, uint64_t jwt,
    uint64_t user, uint64_t authz, const char *tier, uint64_t total)
{
    size_t       i;
    uint64_t     dur[4];
    velro_out_t  o;

    o.pos = buf;
    o.end = (buf != NULL) ? buf + size : NULL;
    o.len = 0;

    dur[0] = jwt;
    dur[1] = user;
    dur[2] = authz;
    dur[3] = total;

    for (i = 0; i < 4; i++) {
        if (dur[i] == VELRO_METRICS_NONE) {
            continue;
        }

        velro_out(&o, "%s%s;dur=%lu.%03lu", o.len ? ", " : "",
                  velro_stages[i], (unsigned long) (dur[i] / 1000),
                  (unsigned long) (dur[i] % 1000));

        if (i == VELRO_STAGE_AUTHZ && tier) {
            velro_out(&o, ";desc=\"%s\"", tier);
        }
    }

    return o.len;
}
