
/*
 * velro: the metrics of velro_status as plain counters, their histogram
 * buckets, and their text forms (JSON, Prometheus exposition format 0.0.4,
 * Server-Timing).  Pure C, no nginx: ngx_http_velro_metrics.c keeps one
 * velro_metrics_t in shared memory and updates it atomically; this file
 * sees only snapshots.
 */


#ifndef _VELRO_METRICS_H_INCLUDED_
#define _VELRO_METRICS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "velro_jwt.h"


/*
 * A counter is a machine word: the shared memory copy is updated with
 * ngx_atomic_fetch_add(), whose ngx_atomic_uint_t has the size of a long
 * on every platform nginx supports (ngx_http_velro_metrics.c checks).
 */

typedef unsigned long  velro_counter_t;


/*
 * Decisions, the module's one set: ctx->decision, $velro_authz_decision,
 * velro_requests_total{decision} (NONE, not a decision, is counted
 * nowhere; its slot stays 0)
 */
#define VELRO_DECISION_NONE        0
#define VELRO_DECISION_ALLOW       1
#define VELRO_DECISION_DENY        2
#define VELRO_DECISION_ERROR       3
#define VELRO_NDECISIONS           4

/*
 * velro_jwt_total{result,reason}: the reasons of velro_jwt_reason()
 * (VELRO_JWT_OK is "valid", the only reason of result "valid"), then
 * those of answers given before or beside a verification.
 */
#define VELRO_JWT_MISSING          (VELRO_JWT_NREASONS)      /* 401 */
#define VELRO_JWT_BAD_REQUEST      (VELRO_JWT_NREASONS + 1)  /* 400 */
#define VELRO_JWT_UNAVAILABLE      (VELRO_JWT_NREASONS + 2)  /* 503 */
#define VELRO_METRICS_NREASONS     (VELRO_JWT_NREASONS + 3)

/*
 * Tiers, the module's one set: ctx->tier (the slowest that answered),
 * ctx->tiers[] (each entity's), $velro_authz_cache, velro_cache_hits_total
 * {tier} (L1 to L3), velro_cache_misses_total{tier} (L1, L2),
 * velro_authz_duration_seconds{tier} (NONE to L3; STALE is counted as
 * NONE)
 */
#define VELRO_TIER_NONE            0     /* decided without a lookup */
#define VELRO_TIER_L1              1
#define VELRO_TIER_L2              2
#define VELRO_TIER_L3              3
#define VELRO_TIER_STALE           4     /* expired L1 entries */
#define VELRO_NTIERS               4     /* the histograms' */

/* velro_breaker_state{backend}, velro_breaker_trips_total{backend} */
#define VELRO_BACKEND_REDIS        0
#define VELRO_BACKEND_DATABASE     1
#define VELRO_BACKEND_JWKS         2
#define VELRO_NBACKENDS            3

/* velro_stage_duration_seconds{stage} */
#define VELRO_STAGE_JWT            0
#define VELRO_STAGE_USER           1
#define VELRO_STAGE_AUTHZ          2
#define VELRO_STAGE_TOTAL          3
#define VELRO_NSTAGES              4

/* 50us .. 1s, then +Inf */
#define VELRO_HIST_NBOUNDS         15
#define VELRO_HIST_NBUCKETS        (VELRO_HIST_NBOUNDS + 1)


typedef struct {
    velro_counter_t    bucket[VELRO_HIST_NBUCKETS];  /* not cumulative */
    velro_counter_t    sum_us;
} velro_histogram_t;


typedef struct {
    velro_counter_t    requests[VELRO_NDECISIONS];
    velro_counter_t    jwt[VELRO_METRICS_NREASONS];
    velro_counter_t    jwt_cache_hits;
    velro_counter_t    hits[VELRO_TIER_L3 + 1];      /* l1 l2 l3 */
    velro_counter_t    misses[VELRO_TIER_L2 + 1];    /* l1 l2 */
    velro_counter_t    cache_entries;                /* gauges */
    velro_counter_t    cache_bytes;
    velro_counter_t    stale;
    velro_counter_t    invalidations;
    velro_counter_t    breaker_state[VELRO_NBACKENDS];   /* gauge */
    velro_counter_t    breaker_trips[VELRO_NBACKENDS];
    velro_counter_t    batch_items;
    velro_histogram_t  stage[VELRO_NSTAGES];
    velro_histogram_t  authz[VELRO_NTIERS];
} velro_metrics_t;


/* the upper bounds of the buckets, microseconds */
extern const uint64_t  velro_hist_bounds[VELRO_HIST_NBOUNDS];

/* the first bucket whose bound is not below us (the last: +Inf) */
size_t velro_hist_bucket(uint64_t us);

/* not atomic: for snapshots and tests */
void velro_hist_observe(velro_histogram_t *h, uint64_t us);
velro_counter_t velro_hist_count(const velro_histogram_t *h);

/* the reason label of velro_jwt_total, and its index for a name */
const char *velro_metrics_reason(size_t reason);

/* a monotonic clock, microseconds */
uint64_t velro_metrics_now(void);

/*
 * Text forms.  Like snprintf(): at most size bytes are written, and the
 * length the whole text needs is returned (no NUL is written).
 */
size_t velro_metrics_json(const velro_metrics_t *m, char *buf, size_t size);
size_t velro_metrics_prometheus(const velro_metrics_t *m, char *buf,
    size_t size);

/*
 * "jwt;dur=0.012, user;dur=0.003, authz;dur=0.004;desc=\"L1\",
 * total;dur=0.020": a duration of (uint64_t) -1 leaves its stage out, a
 * NULL tier its desc.
 */
size_t velro_metrics_server_timing(char *buf, size_t size, uint64_t jwt,
    uint64_t user, uint64_t authz, const char *tier, uint64_t total);


#define VELRO_METRICS_NONE  ((uint64_t) -1)


#endif /* _VELRO_METRICS_H_INCLUDED_ */
