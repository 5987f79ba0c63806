
/*
 * velro: invalidations.
 *
 * One subscriber per nginx instance.  The "velro_invalidation" zone holds
 * an election (a lock, the owner's pid, its heartbeat), the follower's
 * cursor, and a ring of the recent changes (kind, id, seq) with the count
 * of changes published (head) and an epoch of L1 flushes.  Every worker
 * has a timer (NGX_HTTP_VELRO_INVALIDATE_TICK) that applies what was
 * published since its last look, and looks again before every lookup
 * (ngx_http_velro_invalidate_check(): one read of head when nothing
 * changed).  The timer also elects: a worker that finds no owner, or the
 * owner's heartbeat stale (its worker exited or was killed), takes over
 * and runs the follower (ngx_http_velro_pg_listen.c) from the cursor in
 * the zone.  A reload keeps the zone, hence the cursor; a binary upgrade
 * starts a new one (a new master: its workers' L1 are empty anyway).
 *
 * Applying a change drops exactly the entity it names from the worker's
 * L1 (ngx_http_velro_cache_invalidate(): O(1), no index, no flush):
 *
 *   user        auth:{id}          status, tokens_valid_after
 *   member      team_access:{id}   the user's memberships
 *   generation  ownership:{id}     creator, project, status
 *   project     project_vis:{id}   team, visibility
 *   team        nothing: a team goes only by deletion, whose cascades
 *               send "member" for each member and "project" for each of
 *               its projects
 *
 * and the L2 key of that entity is deleted once per instance, by the
 * subscriber, which keeps its own cursor in the ring (l2): a DEL that
 * could not be sent (Redis down, its breaker open) or failed is sent
 * again when Redis is back.  A worker that wrote that key within the last
 * seconds deletes it too (its value may have been read before the change
 * committed, and written after the subscriber's DEL).
 *
 * A worker that fell more than the ring behind, or finds a new epoch (the
 * log no longer reached back to the cursor), flushes its L1: the only
 * flushes.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_cache.h"
#include "ngx_http_velro_invalidate.h"
#include "ngx_http_velro_pg_listen.h"


#define NGX_HTTP_VELRO_INVALIDATE_RING   32768      /* changes */
#define NGX_HTTP_VELRO_INVALIDATE_TICK   10         /* ms */
#define NGX_HTTP_VELRO_INVALIDATE_STALE  1000       /* ms */
#define NGX_HTTP_VELRO_INVALIDATE_GONE   100        /* ms, and no pid */
#define NGX_HTTP_VELRO_INVALIDATE_RETRY  1000       /* ms, a DEL failed */
#define NGX_HTTP_VELRO_INVALIDATE_FLIGHT 1024       /* DELs under way */

#define NGX_HTTP_VELRO_INVALIDATE_ZONE_SIZE                                   \
    (2 * 1024 * 1024)


typedef struct {
    int64_t                       seq;
    u_char                        kind;         /* VELRO_INVALIDATE_x */
    u_char                        id[16];
} ngx_http_velro_invalidate_change_t;


typedef struct {
    ngx_shmtx_sh_t                lock;         /* the election */
    ngx_atomic_t                  owner;        /* pid, 0: none */
    ngx_atomic_t                  heartbeat;    /* ngx_current_msec */
    ngx_atomic_t                  head;         /* changes published */
    ngx_atomic_t                  epoch;        /* L1 flushes */
    ngx_atomic_t                  seq;          /* newest seq published */
    ngx_atomic_t                  l2;           /* next change to DEL */
    int64_t                       l2_seq;       /* the last DEL's seq */
    int64_t                       lost_from;    /* DELs the ring lost: */
    int64_t                       lost_until;   /* (from, until] */
    ngx_http_velro_pg_cursor_t    cursor;       /* the owner's */
    ngx_http_velro_invalidate_change_t
                                  ring[NGX_HTTP_VELRO_INVALIDATE_RING];
} ngx_http_velro_invalidate_shm_t;


static void ngx_http_velro_invalidate_tick(ngx_event_t *ev);
static void ngx_http_velro_invalidate_elect(void);
static void ngx_http_velro_invalidate_resign(const char *why);
static void ngx_http_velro_invalidate_apply(void);
static void ngx_http_velro_invalidate_one(
    ngx_http_velro_invalidate_change_t *ch);
static ngx_int_t ngx_http_velro_invalidate_entity(ngx_uint_t kind);
static void ngx_http_velro_invalidate_publish(ngx_uint_t kind, u_char *id,
    int64_t seq);
static void ngx_http_velro_invalidate_lost(void);
static void ngx_http_velro_invalidate_batch(void);
static void ngx_http_velro_invalidate_l2(void);
static void ngx_http_velro_invalidate_l2_done(void *data, redisReply *reply);
static void ngx_http_velro_invalidate_l2_replayed(ngx_uint_t kind, u_char *id,
    int64_t seq);
static ngx_int_t ngx_http_velro_invalidate_del(ngx_int_t entity, u_char *id,
    void *data);


static ngx_http_velro_invalidate_shm_t  *ngx_http_velro_invalidate_sh;

static ngx_shmtx_t              ngx_http_velro_invalidate_mutex;
static ngx_event_t              ngx_http_velro_invalidate_timer;
static ngx_atomic_uint_t        ngx_http_velro_invalidate_head;
static ngx_atomic_uint_t        ngx_http_velro_invalidate_epoch;
static ngx_http_velro_pg_conf_t  *ngx_http_velro_invalidate_pg;
static ngx_cycle_t             *ngx_http_velro_invalidate_cycle;
static ngx_uint_t               ngx_http_velro_invalidate_redis;  /* has L2 */
static ngx_uint_t               ngx_http_velro_invalidate_owner;  /* we are */
static ngx_uint_t               ngx_http_velro_invalidate_l2_waiting;
static ngx_uint_t               ngx_http_velro_invalidate_l2_flight;
static ngx_uint_t               ngx_http_velro_invalidate_l2_failing;
static ngx_msec_t               ngx_http_velro_invalidate_l2_retry;


/* configuration */

ngx_int_t
ngx_http_velro_invalidate_init_conf(ngx_conf_t *cf,
    ngx_http_velro_main_conf_t *vmcf)
{
    ngx_shm_zone_t  *zone;

    zone = ngx_http_velro_shm_zone(cf, "velro_invalidation",
                                   NGX_HTTP_VELRO_INVALIDATE_ZONE_SIZE,
                                   sizeof(ngx_http_velro_invalidate_shm_t));
    if (zone == NULL) {
        return NGX_ERROR;
    }

    vmcf->invalidation_zone = zone;

    return NGX_OK;
}


/* every worker: apply, elect, and as the owner beat and send the DELs */

static void
ngx_http_velro_invalidate_tick(ngx_event_t *ev)
{
    ngx_http_velro_invalidate_shm_t  *sh;

    sh = ngx_http_velro_invalidate_sh;

    ngx_http_velro_invalidate_apply();

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        /* the next worker takes over at once */
        ngx_http_velro_invalidate_resign("this worker is exiting");

    } else {
        ngx_http_velro_invalidate_elect();
    }

    if (ngx_http_velro_invalidate_owner) {
        sh->heartbeat = ngx_current_msec;
        ngx_http_velro_invalidate_l2();
    }

    ngx_add_timer(ev, NGX_HTTP_VELRO_INVALIDATE_TICK);
}


static void
ngx_http_velro_invalidate_elect(void)
{
    ngx_pid_t                         owner;
    ngx_int_t                         rc;
    ngx_msec_t                        beat;
    ngx_msec_int_t                    age;
    ngx_uint_t                        won;
    ngx_http_velro_invalidate_shm_t  *sh;

    sh = ngx_http_velro_invalidate_sh;

    owner = (ngx_pid_t) sh->owner;

    if (ngx_http_velro_invalidate_owner) {
        if (owner == ngx_pid) {
            return;
        }

        /* taken over: this worker's heartbeat was stale */

        ngx_http_velro_invalidate_owner = 0;
        ngx_http_velro_pg_listen_stop();

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "velro: invalidation subscriber taken over by "
                      "worker %P", owner);
        return;
    }

    beat = (ngx_msec_t) sh->heartbeat;
    age = (ngx_msec_int_t) (ngx_current_msec - beat);

    if (owner != 0
        && age < NGX_HTTP_VELRO_INVALIDATE_STALE
        && (age < NGX_HTTP_VELRO_INVALIDATE_GONE
            || kill(owner, 0) == 0 || ngx_errno != NGX_ESRCH))
    {
        return;
    }

    if (!ngx_shmtx_trylock(&ngx_http_velro_invalidate_mutex)) {
        return;
    }

    won = 0;

    if ((ngx_pid_t) sh->owner == owner && (ngx_msec_t) sh->heartbeat == beat)
    {
        sh->owner = (ngx_atomic_uint_t) ngx_pid;
        sh->heartbeat = ngx_current_msec;
        won = 1;
    }

    ngx_shmtx_unlock(&ngx_http_velro_invalidate_mutex);

    if (!won) {
        return;
    }

    ngx_http_velro_invalidate_owner = 1;

    if (owner) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "velro: invalidation subscriber taken over from "
                      "worker %P, following from seq %L", owner,
                      sh->cursor.seq);

    } else {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "velro: invalidation subscriber in this worker");
    }

    rc = ngx_http_velro_pg_listen_start(ngx_http_velro_invalidate_cycle,
                                        ngx_http_velro_invalidate_pg,
                                        &sh->cursor,
                                        ngx_http_velro_invalidate_publish,
                                        ngx_http_velro_invalidate_lost,
                                        ngx_http_velro_invalidate_batch);

    if (rc != NGX_OK) {
        ngx_http_velro_invalidate_resign("the follower did not start");
    }
}


static void
ngx_http_velro_invalidate_resign(const char *why)
{
    ngx_http_velro_invalidate_shm_t  *sh;

    sh = ngx_http_velro_invalidate_sh;

    if (!ngx_http_velro_invalidate_owner) {
        return;
    }

    ngx_http_velro_invalidate_owner = 0;
    ngx_http_velro_pg_listen_stop();

    (void) ngx_atomic_cmp_set(&sh->owner, (ngx_atomic_uint_t) ngx_pid, 0);

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "velro: invalidation subscriber released: %s", why);
}


/* every worker: the changes published since its last look */

void
ngx_http_velro_invalidate_check(void)
{
    if (ngx_http_velro_invalidate_sh
        && (ngx_http_velro_invalidate_sh->head
            != ngx_http_velro_invalidate_head
            || ngx_http_velro_invalidate_sh->epoch
               != ngx_http_velro_invalidate_epoch))
    {
        ngx_http_velro_invalidate_apply();
    }
}


static void
ngx_http_velro_invalidate_apply(void)
{
    ngx_atomic_uint_t                    head, i, epoch;
    ngx_http_velro_invalidate_shm_t     *sh;
    ngx_http_velro_invalidate_change_t   ch;

    sh = ngx_http_velro_invalidate_sh;

    epoch = sh->epoch;

    if (epoch != ngx_http_velro_invalidate_epoch) {
        ngx_http_velro_invalidate_epoch = epoch;
        ngx_http_velro_cache_flush();

        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "velro: invalidations were missed, L1 flushed");
    }

    head = sh->head;

    if (head == ngx_http_velro_invalidate_head) {
        return;
    }

    ngx_memory_barrier();

    for (i = ngx_http_velro_invalidate_head; i != head; i++) {

        if (head - i > NGX_HTTP_VELRO_INVALIDATE_RING) {
            goto behind;
        }

        ch = sh->ring[i % NGX_HTTP_VELRO_INVALIDATE_RING];

        ngx_memory_barrier();

        /* the slot may have been written again meanwhile */

        if (sh->head - i >= NGX_HTTP_VELRO_INVALIDATE_RING) {
            goto behind;
        }

        ngx_http_velro_invalidate_one(&ch);
    }

    ngx_http_velro_invalidate_head = head;

    return;

behind:

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "velro: this worker fell more than %d invalidations "
                  "behind, L1 flushed", NGX_HTTP_VELRO_INVALIDATE_RING);

    ngx_http_velro_cache_flush();

    ngx_http_velro_invalidate_head = sh->head;
}


static ngx_int_t
ngx_http_velro_invalidate_entity(ngx_uint_t kind)
{
    switch (kind) {

    case VELRO_INVALIDATE_USER:
        return NGX_HTTP_VELRO_ENTITY_USER;

    case VELRO_INVALIDATE_MEMBER:
        return NGX_HTTP_VELRO_ENTITY_ROLES;

    case VELRO_INVALIDATE_GENERATION:
        return NGX_HTTP_VELRO_ENTITY_GENERATION;

    case VELRO_INVALIDATE_PROJECT:
        return NGX_HTTP_VELRO_ENTITY_PROJECT;

    default: /* VELRO_INVALIDATE_TEAM */
        return NGX_ERROR;
    }
}


static void
ngx_http_velro_invalidate_one(ngx_http_velro_invalidate_change_t *ch)
{
    u_char       key[NGX_HTTP_VELRO_L2_KEY_MAX];
    size_t       argvlen[2];
    ngx_int_t    entity;
    ngx_uint_t   wrote;
    const char  *argv[2];
#if (NGX_DEBUG)
    u_char       uuid[37];
    static const char *kinds[] = { "user", "team", "project", "generation",
                                   "member" };
#endif

    ngx_http_velro_metrics_invalidation();

#if (NGX_DEBUG)
    velro_uuid_format(ch->id, uuid);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "velro: invalidation \"{\"kind\":\"%s\",\"id\":\"%*s\"}\" "
                   "seq=%L", ch->kind < 5 ? kinds[ch->kind] : "?",
                   (size_t) 36, uuid, ch->seq);
#endif

    entity = ngx_http_velro_invalidate_entity(ch->kind);

    if (entity == NGX_ERROR) {
        return;
    }

    wrote = ngx_http_velro_cache_invalidate((ngx_uint_t) entity, ch->id);

    /* the subscriber sends the instance's DEL; a recent writer too */

    if (!wrote || !ngx_http_velro_redis_up()) {
        return;
    }

    argv[0] = "DEL";
    argvlen[0] = 3;
    argv[1] = (char *) key;
    argvlen[1] = ngx_http_velro_l2_key(key, entity, ch->id);

    (void) ngx_http_velro_redis_send(2, argv, argvlen);
}


/* the subscriber: its follower's callbacks */

static void
ngx_http_velro_invalidate_publish(ngx_uint_t kind, u_char *id, int64_t seq)
{
    ngx_atomic_uint_t                    head;
    ngx_http_velro_invalidate_shm_t     *sh;
    ngx_http_velro_invalidate_change_t  *ch;

    sh = ngx_http_velro_invalidate_sh;

    if ((ngx_pid_t) sh->owner != ngx_pid) {
        return;                         /* taken over, stopping */
    }

    head = sh->head;

    ch = &sh->ring[head % NGX_HTTP_VELRO_INVALIDATE_RING];

    ch->seq = seq;
    ch->kind = (u_char) kind;
    ngx_memcpy(ch->id, id, 16);

    ngx_memory_barrier();

    sh->head = head + 1;

    if (sh->l2_seq == 0) {
        sh->l2_seq = seq - 1;           /* L2 had what came before */
    }

    if ((int64_t) sh->seq < seq) {
        sh->seq = (ngx_atomic_uint_t) seq;
    }
}


static void
ngx_http_velro_invalidate_lost(void)
{
    (void) ngx_atomic_fetch_add(&ngx_http_velro_invalidate_sh->epoch, 1);
}


uint64_t
ngx_http_velro_invalidate_lsn(void)
{
    if (ngx_http_velro_invalidate_sh == NULL) {
        return 0;
    }

    return *(volatile uint64_t *) &ngx_http_velro_invalidate_sh->cursor.lsn;
}


/* a batch is in: this worker applies it now, and the DELs go */

static void
ngx_http_velro_invalidate_batch(void)
{
    ngx_http_velro_invalidate_apply();
    ngx_http_velro_invalidate_l2();
}


/*
 * The subscriber's DELs, from its L2 cursor in the ring to its head: what
 * Redis missed while it was down is sent when it is back; what the ring no
 * longer holds (Redis missed more than the ring) is read from the log
 * again (ngx_http_velro_pg_listen_replay()).
 */

static void
ngx_http_velro_invalidate_l2(void)
{
    ngx_int_t                            entity;
    ngx_atomic_uint_t                    l2, head;
    ngx_http_velro_invalidate_shm_t     *sh;
    ngx_http_velro_invalidate_change_t  *ch;

    sh = ngx_http_velro_invalidate_sh;

    head = sh->head;
    l2 = sh->l2;

    if (!ngx_http_velro_invalidate_redis) {
        sh->l2 = head;
        return;
    }

    /* after a failed DEL, the next ones wait a little: no storm */

    if (ngx_http_velro_invalidate_l2_failing
        && (ngx_msec_int_t) (ngx_current_msec
                             - ngx_http_velro_invalidate_l2_retry) < 0)
    {
        return;
    }

    if (head - l2 > NGX_HTTP_VELRO_INVALIDATE_RING) {
        l2 = head - NGX_HTTP_VELRO_INVALIDATE_RING;
        ch = &sh->ring[l2 % NGX_HTTP_VELRO_INVALIDATE_RING];

        /* the log has them: (the last DEL sent, the oldest in the ring) */

        if (sh->lost_until == 0) {
            sh->lost_from = sh->l2_seq;

            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "velro: Redis missed more than %d invalidations, "
                          "the L2 deletions after seq %L are read from the "
                          "log again when it is back",
                          NGX_HTTP_VELRO_INVALIDATE_RING, sh->lost_from);
        }

        if (sh->lost_until < ch->seq - 1) {
            sh->lost_until = ch->seq - 1;
        }

        sh->l2 = l2;
    }

    for ( /* void */ ; l2 != head; l2++) {
        ch = &sh->ring[l2 % NGX_HTTP_VELRO_INVALIDATE_RING];

        entity = ngx_http_velro_invalidate_entity(ch->kind);

        if (entity == NGX_ERROR) {
            continue;
        }

        if (ngx_http_velro_invalidate_l2_flight
            >= NGX_HTTP_VELRO_INVALIDATE_FLIGHT)
        {
            break;                      /* the next tick sends more */
        }

        /* closed, or this DEL is the half-open trial */

        if (!ngx_http_velro_redis_usable(ngx_cycle->log)) {

            if (!ngx_http_velro_invalidate_l2_waiting) {
                ngx_http_velro_invalidate_l2_waiting = 1;

                ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                              "velro: Redis is down, L2 deletions from seq "
                              "%L are sent when it is back", ch->seq);
            }

            break;
        }

        /* data: the ring index + 1; NULL is a replay's */

        if (ngx_http_velro_invalidate_del(entity, ch->id,
                                          (void *) (uintptr_t) (l2 + 1))
            != NGX_OK)
        {
            break;
        }

        ngx_http_velro_invalidate_l2_flight++;

        if (ngx_http_velro_invalidate_l2_waiting) {
            ngx_http_velro_invalidate_l2_waiting = 0;

            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "velro: Redis is back, L2 deletions from seq %L "
                          "sent", ch->seq);
        }

        if (sh->l2_seq < ch->seq) {
            sh->l2_seq = ch->seq;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "velro: L2 DEL seq=%L", ch->seq);
    }

    sh->l2 = l2;

    if (l2 != head || !ngx_http_velro_redis_ready()) {
        return;
    }

    if (ngx_http_velro_invalidate_l2_waiting) {
        /* back, with nothing of the ring left to send */

        ngx_http_velro_invalidate_l2_waiting = 0;

        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "velro: Redis is back, L2 deletions from seq %L sent",
                      sh->l2_seq);
    }

    /* the ring's DELs all answered: Redis takes them, the log's now */

    if (sh->lost_until
        && ngx_http_velro_invalidate_l2_flight == 0
        && !ngx_http_velro_invalidate_l2_failing)
    {
        ngx_http_velro_pg_listen_replay(sh->lost_from, sh->lost_until,
                                        ngx_http_velro_invalidate_l2_replayed);
        sh->lost_from = 0;
        sh->lost_until = 0;
    }
}


static ngx_int_t
ngx_http_velro_invalidate_del(ngx_int_t entity, u_char *id, void *data)
{
    u_char       key[NGX_HTTP_VELRO_L2_KEY_MAX];
    size_t       argvlen[2];
    const char  *argv[2];

    argv[0] = "DEL";
    argvlen[0] = 3;
    argv[1] = (char *) key;
    argvlen[1] = ngx_http_velro_l2_key(key, entity, id);

    if (ngx_http_velro_redis_command(ngx_cycle->log,
                                     ngx_http_velro_invalidate_l2_done, data,
                                     2, argv, argvlen)
        == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a change of the log read again: its DEL, once more */

static void
ngx_http_velro_invalidate_l2_replayed(ngx_uint_t kind, u_char *id,
    int64_t seq)
{
    ngx_int_t  entity;

    entity = ngx_http_velro_invalidate_entity(kind);

    if (entity == NGX_ERROR || !ngx_http_velro_redis_ready()) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "velro: L2 DEL seq=%L (replay)", seq);

    (void) ngx_http_velro_invalidate_del(entity, id, NULL);
}


/* a DEL lost on the way, or refused: sent again, from there on, later */

static void
ngx_http_velro_invalidate_l2_done(void *data, redisReply *reply)
{
    ngx_atomic_uint_t                 l2;
    ngx_http_velro_invalidate_shm_t  *sh;

    sh = ngx_http_velro_invalidate_sh;

    if (data == NULL) {                 /* a replay's: best effort */
        return;
    }

    if (ngx_http_velro_invalidate_l2_flight) {
        ngx_http_velro_invalidate_l2_flight--;
    }

    if (sh == NULL || !ngx_http_velro_invalidate_owner) {
        return;
    }

    if (reply && reply->type != REDIS_REPLY_ERROR) {

        if (ngx_http_velro_invalidate_l2_failing
            && (ngx_msec_int_t) (ngx_current_msec
                                 - ngx_http_velro_invalidate_l2_retry) >= 0)
        {
            ngx_http_velro_invalidate_l2_failing = 0;
        }

        return;
    }

    if (!ngx_http_velro_invalidate_l2_failing) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "velro: an L2 deletion failed%s%*s, sent again "
                      "in %d ms", reply ? ": " : "",
                      (size_t) (reply ? reply->len : 0),
                      reply ? reply->str : "",
                      NGX_HTTP_VELRO_INVALIDATE_RETRY);
    }

    ngx_http_velro_invalidate_l2_failing = 1;
    ngx_http_velro_invalidate_l2_retry = ngx_current_msec
                                         + NGX_HTTP_VELRO_INVALIDATE_RETRY;

    l2 = (ngx_atomic_uint_t) (uintptr_t) data - 1;

    if ((ngx_atomic_int_t) (sh->l2 - l2) > 0) {
        sh->l2 = l2;
    }
}


/* the worker */

ngx_int_t
ngx_http_velro_invalidate_init_process(ngx_cycle_t *cycle,
    ngx_http_velro_main_conf_t *vmcf)
{
    ngx_event_t                      *ev;
    ngx_http_velro_invalidate_shm_t  *sh;

    if (ngx_process == NGX_PROCESS_HELPER || vmcf->invalidation_zone == NULL
        || ngx_http_velro_invalidate_sh)
    {
        return NGX_OK;
    }

    sh = vmcf->invalidation_zone->data;

    /* trylock only: no semaphore (every worker creates its handle) */

    ngx_http_velro_invalidate_mutex.spin = (ngx_uint_t) -1;

    if (ngx_shmtx_create(&ngx_http_velro_invalidate_mutex, &sh->lock, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_velro_invalidate_sh = sh;
    ngx_http_velro_invalidate_pg = vmcf->pg;
    ngx_http_velro_invalidate_cycle = cycle;
    ngx_http_velro_invalidate_redis = (vmcf->redis != NULL);

    /* a new worker's L1 is empty: it starts at the head */

    ngx_http_velro_invalidate_head = sh->head;
    ngx_http_velro_invalidate_epoch = sh->epoch;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cycle->log, 0,
                   "velro: invalidations at seq=%uA", sh->seq);

    ev = &ngx_http_velro_invalidate_timer;

    ev->handler = ngx_http_velro_invalidate_tick;
    ev->data = sh;
    ev->log = cycle->log;
    ev->cancelable = 1;

    ngx_add_timer(ev, 1);

    return NGX_OK;
}


void
ngx_http_velro_invalidate_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_http_velro_invalidate_sh == NULL) {
        return;
    }

    ngx_http_velro_invalidate_resign("this worker exits");

    if (ngx_http_velro_invalidate_timer.timer_set) {
        ngx_del_timer(&ngx_http_velro_invalidate_timer);
    }

    ngx_http_velro_invalidate_sh = NULL;
}
