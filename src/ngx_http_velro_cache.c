
/*
 * velro: the entities of a decision in L1 and L2.
 *
 * L1 keys are a kind byte and the entity's id (two ids for a pair), built
 * by ngx_http_velro_l1_key() only; values are the pure structs
 * (velro_user_t, the memberships, velro_generation_t up to its media URL,
 * velro_project_t).  L2 keys are INTERFACE.md's entity keys, values the
 * entity's JSON (velro_entity.h).
 *
 * An invalidation deletes the entity's L1 entry at once; it also raises
 * this worker's sequence number and records it for the entity (a tag), so
 * that the answer of a lookup started before it, still in flight, is
 * used by its request but kept nowhere; the tag also holds the wall clock
 * of the notice, and an L2 value stamped (when its lookup started) before
 * it is not used (worker 0 deletes the key, and its DEL may land after
 * this worker's read).  Pair entries cannot be found
 * from an entity, so they keep the sequence number they were looked up
 * at and are checked against the tags of their user's memberships, their
 * generation and its project when read.  Tags live as long as the
 * longest L1 entry (stale ones included); when the tag table is full, a
 * floor takes the place of the lost tags: nothing looked up before it is
 * kept or, for pairs and L2 values, read.
 */


#include "ngx_http_velro_module.h"
#include "ngx_http_velro_cache.h"


/* negative entries (unknown, refused, no access) live at most this long */
#define NGX_HTTP_VELRO_NEGATIVE_TTL   30

#define NGX_HTTP_VELRO_TAGS_SIZE      (4 * 1024 * 1024)

/*
 * L2 writes this worker made lately: a notice for one of them arriving
 * within this time deletes the key again, from this worker too (the
 * value may have been read before the change committed).
 */
#define NGX_HTTP_VELRO_WRITES_SIZE    (1024 * 1024)
#define NGX_HTTP_VELRO_WRITE_WINDOW   5000

#define NGX_HTTP_VELRO_TAG            't'
#define NGX_HTTP_VELRO_WRITE          'w'


typedef struct {
    uint8_t                       exists;
    uint8_t                       more;
    uint16_t                      n;
} ngx_http_velro_roles_head_t;


typedef struct {
    uint64_t                      seq;
    velro_access_t                access;
} ngx_http_velro_pair_entry_t;


/* a tag: the sequence number and the wall clock of an invalidation */

typedef struct {
    uint64_t                      seq;
    uint64_t                      msec;
} ngx_http_velro_tag_t;


static ngx_int_t ngx_http_velro_l1_find(ngx_uint_t kind, const u_char *id,
    const u_char *id2, ngx_msec_t stale, ngx_msec_t *age, u_char **value,
    size_t *len);
static ngx_int_t ngx_http_velro_l1_get_fixed(ngx_uint_t kind,
    const u_char *id, void *out, size_t size, ngx_msec_t stale,
    ngx_msec_t *age);
static void ngx_http_velro_l1_put(ngx_uint_t kind, ngx_uint_t type,
    ngx_uint_t negative, const u_char *id, const u_char *id2,
    const void *value, size_t len);
static void ngx_http_velro_l2_put(const ngx_http_velro_mark_t *mark,
    ngx_uint_t kind, ngx_uint_t type, ngx_uint_t negative, const u_char *id,
    const u_char *value, size_t len);
static uint64_t ngx_http_velro_cache_now(void);
static time_t ngx_http_velro_cache_ttl(time_t *ttls, ngx_uint_t type,
    ngx_uint_t negative);
static ngx_uint_t ngx_http_velro_cache_fresh(ngx_uint_t kind,
    const u_char *id, uint64_t seq);


static ngx_str_t          ngx_http_velro_l2_names[] = {
    ngx_string("auth:"), ngx_string("team_access:"),
    ngx_string("ownership:"), ngx_string("project_vis:")
};

static ngx_http_velro_main_conf_t  *ngx_http_velro_cache_conf;
static uint64_t            ngx_http_velro_cache_sequence;
static uint64_t            ngx_http_velro_cache_floor;
static uint64_t            ngx_http_velro_cache_floor_msec;
static velro_cache_t      *ngx_http_velro_cache_tags;
static velro_cache_t      *ngx_http_velro_cache_writes;
static ngx_msec_t          ngx_http_velro_cache_tag_ttl;


ngx_int_t
ngx_http_velro_cache_init_process(ngx_cycle_t *cycle)
{
    time_t                       max;
    uint64_t                     seed;
    ngx_uint_t                   i;
    ngx_http_velro_main_conf_t  *vmcf;

    vmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_velro_module);
    ngx_http_velro_cache_conf = vmcf;

    /*
     * A tag outlives the entries it invalidates, stale L1 ones included,
     * and the L2 values it makes this worker ignore (should the DEL have
     * been lost)
     */

    max = 0;

    for (i = 0; i < NGX_HTTP_VELRO_NTYPES; i++) {
        max = ngx_max(max, vmcf->ttl_l1[i]);
        max = ngx_max(max, vmcf->ttl_l2[i]);
    }

    ngx_http_velro_cache_tag_ttl = (ngx_msec_t) (max + 60) * 1000
                                   + vmcf->stale_max;

    seed = ((uint64_t) ngx_random() << 32) ^ (uint64_t) ngx_random();

    ngx_http_velro_cache_tags = velro_cache_new(NGX_HTTP_VELRO_TAGS_SIZE,
                                                seed);
    ngx_http_velro_cache_writes = velro_cache_new(NGX_HTTP_VELRO_WRITES_SIZE,
                                                  seed ^ 0x9e3779b97f4a7c15);

    if (ngx_http_velro_cache_tags == NULL
        || ngx_http_velro_cache_writes == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_velro_cache_exit_process(ngx_cycle_t *cycle)
{
    velro_cache_free(ngx_http_velro_cache_tags);
    ngx_http_velro_cache_tags = NULL;

    velro_cache_free(ngx_http_velro_cache_writes);
    ngx_http_velro_cache_writes = NULL;
}


static uint64_t
ngx_http_velro_cache_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}


void
ngx_http_velro_cache_mark(ngx_http_velro_mark_t *mark)
{
    mark->seq = ngx_http_velro_cache_sequence;
    mark->msec = ngx_http_velro_cache_now();
}


size_t
ngx_http_velro_l1_key(u_char *key, ngx_uint_t kind, const u_char *id,
    const u_char *id2)
{
    key[0] = (u_char) ('U' + kind);
    ngx_memcpy(key + 1, id, 16);

    if (id2 == NULL) {
        return 1 + 16;
    }

    ngx_memcpy(key + 1 + 16, id2, 16);

    return 1 + 16 + 16;
}


size_t
ngx_http_velro_l2_key(u_char *buf, ngx_uint_t kind, const u_char *id)
{
    u_char  *p;

    p = ngx_cpymem(buf, ngx_http_velro_cache_conf->redis->prefix.data,
                   ngx_http_velro_cache_conf->redis->prefix.len);
    p = ngx_cpymem(p, ngx_http_velro_l2_names[kind].data,
                   ngx_http_velro_l2_names[kind].len);

    velro_uuid_format(id, p);

    return p + VELRO_UUID_LEN - buf;
}


static ngx_int_t
ngx_http_velro_l1_find(ngx_uint_t kind, const u_char *id, const u_char *id2,
    ngx_msec_t stale, ngx_msec_t *age, u_char **value, size_t *len)
{
    u_char                key[NGX_HTTP_VELRO_L1_KEY_MAX];
    size_t                klen;
    velro_cache_t        *l1;
    velro_cache_entry_t  *e;

    l1 = ngx_http_velro_l1();

    if (l1 == NULL) {
        return NGX_DECLINED;
    }

    klen = ngx_http_velro_l1_key(key, kind, id, id2);

    if (stale) {
        e = velro_cache_get_stale(l1, key, klen, ngx_current_msec, stale);

    } else {
        e = velro_cache_get(l1, key, klen, ngx_current_msec);
    }

    if (e == NULL) {
        return NGX_DECLINED;
    }

    if (stale && age && e->expires <= ngx_current_msec) {
        *age = ngx_max(*age, ngx_current_msec - (ngx_msec_t) e->expires);
    }

    *value = velro_cache_value(e);
    *len = e->vlen;

    return NGX_OK;
}


/* an entity of a fixed size */

static ngx_int_t
ngx_http_velro_l1_get_fixed(ngx_uint_t kind, const u_char *id, void *out,
    size_t size, ngx_msec_t stale, ngx_msec_t *age)
{
    u_char  *v;
    size_t   len;

    if (ngx_http_velro_l1_find(kind, id, NULL, stale, age, &v, &len)
        != NGX_OK
        || len != size)
    {
        return NGX_DECLINED;
    }

    ngx_memcpy(out, v, size);

    return NGX_OK;
}


ngx_int_t
ngx_http_velro_l1_get_user(const u_char *id, velro_user_t *u,
    ngx_msec_t stale, ngx_msec_t *age)
{
    return ngx_http_velro_l1_get_fixed(NGX_HTTP_VELRO_ENTITY_USER, id, u,
                                       sizeof(velro_user_t), stale, age);
}


ngx_int_t
ngx_http_velro_l1_get_roles(const u_char *id, velro_roles_t *roles,
    ngx_msec_t stale, ngx_msec_t *age)
{
    u_char                       *v;
    size_t                        len;
    ngx_http_velro_roles_head_t   h;

    if (ngx_http_velro_l1_find(NGX_HTTP_VELRO_ENTITY_ROLES, id, NULL, stale,
                               age, &v, &len)
        != NGX_OK
        || len < sizeof(h))
    {
        return NGX_DECLINED;
    }

    ngx_memcpy(&h, v, sizeof(h));

    if (h.n > VELRO_TEAMS_MAX
        || len != sizeof(h) + h.n * sizeof(velro_team_role_t))
    {
        return NGX_DECLINED;
    }

    roles->exists = h.exists;
    roles->more = h.more;
    roles->n = h.n;
    ngx_memcpy(roles->teams, v + sizeof(h), h.n * sizeof(velro_team_role_t));

    return NGX_OK;
}


ngx_int_t
ngx_http_velro_l1_get_generation(const u_char *id, velro_generation_t *g,
    ngx_msec_t stale, ngx_msec_t *age)
{
    u_char  *v;
    size_t   len, head;

    head = offsetof(velro_generation_t, media_url);

    if (ngx_http_velro_l1_find(NGX_HTTP_VELRO_ENTITY_GENERATION, id, NULL,
                               stale, age, &v, &len)
        != NGX_OK
        || len < head || len > sizeof(velro_generation_t))
    {
        return NGX_DECLINED;
    }

    ngx_memcpy(g, v, len);

    return NGX_OK;
}


ngx_int_t
ngx_http_velro_l1_get_project(const u_char *id, velro_project_t *p,
    ngx_msec_t stale, ngx_msec_t *age)
{
    return ngx_http_velro_l1_get_fixed(NGX_HTTP_VELRO_ENTITY_PROJECT, id, p,
                                       sizeof(velro_project_t), stale, age);
}


ngx_int_t
ngx_http_velro_l1_get_pair(const u_char *user, const u_char *gen,
    velro_access_t *a, ngx_msec_t stale, ngx_msec_t *age)
{
    u_char                       *v, key[NGX_HTTP_VELRO_L1_KEY_MAX];
    size_t                        len;
    ngx_msec_t                    was;
    ngx_http_velro_pair_entry_t   pe;

    was = *age;

    if (ngx_http_velro_l1_find(NGX_HTTP_VELRO_ENTITY_PAIR, user, gen, stale,
                               age, &v, &len)
        != NGX_OK
        || len != sizeof(pe))
    {
        return NGX_DECLINED;
    }

    ngx_memcpy(&pe, v, sizeof(pe));

    if (!ngx_http_velro_cache_fresh(NGX_HTTP_VELRO_ENTITY_ROLES, user, pe.seq)
        || !ngx_http_velro_cache_fresh(NGX_HTTP_VELRO_ENTITY_GENERATION, gen,
                                       pe.seq)
        || (pe.access.has_project
            && !ngx_http_velro_cache_fresh(NGX_HTTP_VELRO_ENTITY_PROJECT,
                                           pe.access.project, pe.seq)))
    {
        *age = was;

        (void) velro_cache_delete(ngx_http_velro_l1(), key,
                                  ngx_http_velro_l1_key(key,
                                                  NGX_HTTP_VELRO_ENTITY_PAIR,
                                                  user, gen));
        return NGX_DECLINED;
    }

    *a = pe.access;

    return NGX_OK;
}


/*
 * What a tier keeps an entry for (ttls: the conf's ttl_l1 or ttl_l2): the
 * type's TTL, and for a negative entry at most NGX_HTTP_VELRO_NEGATIVE_TTL.
 */

static time_t
ngx_http_velro_cache_ttl(time_t *ttls, ngx_uint_t type, ngx_uint_t negative)
{
    time_t  ttl;

    ttl = ttls[type];

    if (negative) {
        ttl = ngx_min(ttl, NGX_HTTP_VELRO_NEGATIVE_TTL);
    }

    return ttl;
}


static void
ngx_http_velro_l1_put(ngx_uint_t kind, ngx_uint_t type, ngx_uint_t negative,
    const u_char *id, const u_char *id2, const void *value, size_t len)
{
    u_char          key[NGX_HTTP_VELRO_L1_KEY_MAX];
    time_t          ttl;
    velro_cache_t  *l1;

    l1 = ngx_http_velro_l1();

    if (l1 == NULL) {
        return;
    }

    ttl = ngx_http_velro_cache_ttl(ngx_http_velro_cache_conf->ttl_l1, type,
                                   negative);
    if (ttl == 0) {
        return;
    }

    (void) velro_cache_put(l1, type, key,
                           ngx_http_velro_l1_key(key, kind, id, id2),
                           value, len,
                           ngx_current_msec + (ngx_msec_t) ttl * 1000);
}


static void
ngx_http_velro_l2_put(const ngx_http_velro_mark_t *mark, ngx_uint_t kind,
    ngx_uint_t type, ngx_uint_t negative, const u_char *id,
    const u_char *value, size_t len)
{
    u_char                       key[NGX_HTTP_VELRO_L2_KEY_MAX];
    u_char                       ttl[NGX_TIME_T_LEN];
    u_char                      *v, *p;
    time_t                       t;
    size_t                       argvlen[5];
    const char                  *argv[5];
    ngx_http_velro_main_conf_t  *vmcf;

    vmcf = ngx_http_velro_cache_conf;

    if (vmcf->redis == NULL || len == 0 || !ngx_http_velro_redis_ready()) {
        return;
    }

    t = ngx_http_velro_cache_ttl(vmcf->ttl_l2, type, negative);

    if (t == 0) {
        return;
    }

    /* the value stamped with when its lookup started */

    v = ngx_alloc(NGX_INT64_LEN + 1 + len, ngx_cycle->log);
    if (v == NULL) {
        return;
    }

    p = ngx_sprintf(v, "%uL ", mark->msec);
    p = ngx_cpymem(p, value, len);

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (char *) key;
    argvlen[1] = ngx_http_velro_l2_key(key, kind, id);
    argv[2] = (char *) v;
    argvlen[2] = p - v;
    argv[3] = "EX";
    argvlen[3] = 2;
    argv[4] = (char *) ttl;
    argvlen[4] = ngx_sprintf(ttl, "%T", t) - ttl;

    if (ngx_http_velro_redis_send(5, argv, argvlen) != NGX_OK) {
        ngx_free(v);
        return;
    }

    ngx_free(v);

    /* remembered for a notice that may follow (see the file's comment) */

    key[0] = NGX_HTTP_VELRO_WRITE;
    key[1] = (u_char) kind;
    ngx_memcpy(key + 2, id, 16);

    (void) velro_cache_put(ngx_http_velro_cache_writes, 0, key, 18, "", 0,
                           ngx_current_msec + NGX_HTTP_VELRO_WRITE_WINDOW);
}


void
ngx_http_velro_cache_put_user(const ngx_http_velro_mark_t *mark,
    const u_char *id, const velro_user_t *u, ngx_uint_t l2)
{
    u_char      text[VELRO_USER_JSON_MAX];
    ngx_uint_t  negative;

    if (!ngx_http_velro_cache_fresh(NGX_HTTP_VELRO_ENTITY_USER, id, mark->seq)) {
        return;
    }

    negative = !u->exists || !u->active;

    ngx_http_velro_l1_put(NGX_HTTP_VELRO_ENTITY_USER, NGX_HTTP_VELRO_AUTH,
                          negative, id, NULL, u, sizeof(velro_user_t));

    if (l2) {
        ngx_http_velro_l2_put(mark, NGX_HTTP_VELRO_ENTITY_USER,
                              NGX_HTTP_VELRO_AUTH, negative, id, text,
                              velro_user_json(u, id, (char *) text));
    }
}


void
ngx_http_velro_cache_put_roles(const ngx_http_velro_mark_t *mark,
    const u_char *id, const velro_roles_t *roles, ngx_uint_t l2)
{
    u_char                       *value;
    size_t                        len;
    ngx_http_velro_roles_head_t   h;
    u_char                        buf[sizeof(h) + VELRO_TEAMS_MAX
                                      * sizeof(velro_team_role_t)];

    if (roles->n > VELRO_TEAMS_MAX
        || !ngx_http_velro_cache_fresh(NGX_HTTP_VELRO_ENTITY_ROLES, id,
                                       mark->seq))
    {
        return;
    }

    h.exists = roles->exists;
    h.more = roles->more;
    h.n = roles->n;

    ngx_memcpy(buf, &h, sizeof(h));
    ngx_memcpy(buf + sizeof(h), roles->teams,
               roles->n * sizeof(velro_team_role_t));

    ngx_http_velro_l1_put(NGX_HTTP_VELRO_ENTITY_ROLES,
                          NGX_HTTP_VELRO_TEAM_ACCESS, !roles->exists, id,
                          NULL, buf,
                          sizeof(h) + roles->n * sizeof(velro_team_role_t));

    if (!l2) {
        return;
    }

    len = VELRO_ROLES_JSON_MAX(roles->n);

    value = ngx_alloc(len, ngx_cycle->log);
    if (value == NULL) {
        return;
    }

    ngx_http_velro_l2_put(mark, NGX_HTTP_VELRO_ENTITY_ROLES,
                          NGX_HTTP_VELRO_TEAM_ACCESS, !roles->exists, id,
                          value,
                          velro_roles_json(roles, id, (char *) value, len));

    ngx_free(value);
}


void
ngx_http_velro_cache_put_generation(const ngx_http_velro_mark_t *mark,
    const u_char *id, const velro_generation_t *g, ngx_uint_t l2)
{
    u_char  *value;

    if (!ngx_http_velro_cache_fresh(NGX_HTTP_VELRO_ENTITY_GENERATION, id,
                                    mark->seq))
    {
        return;
    }

    ngx_http_velro_l1_put(NGX_HTTP_VELRO_ENTITY_GENERATION,
                          NGX_HTTP_VELRO_OWNERSHIP, !g->exists, id, NULL, g,
                          velro_generation_size(g));

    if (!l2) {
        return;
    }

    value = ngx_alloc(VELRO_GENERATION_JSON_MAX, ngx_cycle->log);
    if (value == NULL) {
        return;
    }

    ngx_http_velro_l2_put(mark, NGX_HTTP_VELRO_ENTITY_GENERATION,
                          NGX_HTTP_VELRO_OWNERSHIP, !g->exists, id, value,
                          velro_generation_json(g, id, (char *) value,
                                                VELRO_GENERATION_JSON_MAX));
    ngx_free(value);
}


void
ngx_http_velro_cache_put_project(const ngx_http_velro_mark_t *mark,
    const u_char *id, const velro_project_t *p, ngx_uint_t l2)
{
    u_char  text[VELRO_PROJECT_JSON_MAX];

    if (!ngx_http_velro_cache_fresh(NGX_HTTP_VELRO_ENTITY_PROJECT, id,
                                    mark->seq)) {
        return;
    }

    ngx_http_velro_l1_put(NGX_HTTP_VELRO_ENTITY_PROJECT,
                          NGX_HTTP_VELRO_PROJECT_VIS, !p->valid, id, NULL, p,
                          sizeof(velro_project_t));

    if (l2) {
        ngx_http_velro_l2_put(mark, NGX_HTTP_VELRO_ENTITY_PROJECT,
                              NGX_HTTP_VELRO_PROJECT_VIS, !p->valid, id, text,
                              velro_project_json(p, (char *) text));
    }
}


void
ngx_http_velro_cache_put_pair(const ngx_http_velro_mark_t *mark,
    const u_char *user, const u_char *gen, const velro_access_t *a)
{
    ngx_http_velro_pair_entry_t  pe;

    if (!ngx_http_velro_cache_fresh(NGX_HTTP_VELRO_ENTITY_ROLES, user,
                                    mark->seq)
        || !ngx_http_velro_cache_fresh(NGX_HTTP_VELRO_ENTITY_GENERATION, gen,
                                       mark->seq)
        || (a->has_project
            && !ngx_http_velro_cache_fresh(NGX_HTTP_VELRO_ENTITY_PROJECT,
                                           a->project, mark->seq)))
    {
        return;
    }

    ngx_memzero(&pe, sizeof(pe));
    pe.seq = mark->seq;
    pe.access = *a;

    ngx_http_velro_l1_put(NGX_HTTP_VELRO_ENTITY_PAIR,
                          a->role == VELRO_ROLE_OWNER
                          ? NGX_HTTP_VELRO_OWNERSHIP
                          : NGX_HTTP_VELRO_TEAM_ACCESS,
                          !a->exists
                          || (a->role == VELRO_ROLE_NONE && !a->public_access),
                          user, gen, &pe, sizeof(pe));
}


/* invalidations */

static ngx_uint_t
ngx_http_velro_cache_fresh(ngx_uint_t kind, const u_char *id, uint64_t seq)
{
    u_char                key[17];
    uint64_t              tseq;
    velro_cache_entry_t  *e;

    if (seq == ngx_http_velro_cache_sequence) {
        return 1;
    }

    if (seq < ngx_http_velro_cache_floor
        || ngx_http_velro_cache_tags == NULL)
    {
        return 0;
    }

    key[0] = (u_char) (NGX_HTTP_VELRO_TAG + kind);
    ngx_memcpy(key + 1, id, 16);

    e = velro_cache_get(ngx_http_velro_cache_tags, key, 17, ngx_current_msec);

    if (e == NULL) {
        return 1;
    }

    ngx_memcpy(&tseq, velro_cache_value(e), sizeof(uint64_t));

    return tseq <= seq;
}


ngx_uint_t
ngx_http_velro_cache_l2_fresh(ngx_uint_t kind, const u_char *id,
    uint64_t stamp)
{
    u_char                 key[17];
    velro_cache_entry_t   *e;
    ngx_http_velro_tag_t   tag;

    if (ngx_http_velro_cache_floor_msec
        && stamp <= ngx_http_velro_cache_floor_msec)
    {
        return 0;                       /* a tag may have been lost */
    }

    if (ngx_http_velro_cache_tags == NULL) {
        return 1;
    }

    key[0] = (u_char) (NGX_HTTP_VELRO_TAG + kind);
    ngx_memcpy(key + 1, id, 16);

    e = velro_cache_get(ngx_http_velro_cache_tags, key, 17, ngx_current_msec);

    if (e == NULL || e->vlen != sizeof(tag)) {
        return 1;
    }

    ngx_memcpy(&tag, velro_cache_value(e), sizeof(tag));

    return tag.msec < stamp;
}


ngx_uint_t
ngx_http_velro_cache_invalidate(ngx_uint_t kind, const u_char *id)
{
    u_char                 key[NGX_HTTP_VELRO_L1_KEY_MAX];
    uint64_t               evictions;
    velro_cache_t         *tags;
    ngx_http_velro_tag_t   tag;

    ngx_http_velro_cache_sequence++;

    if (ngx_http_velro_l1()) {
        (void) velro_cache_delete(ngx_http_velro_l1(), key,
                                  ngx_http_velro_l1_key(key, kind, id, NULL));
    }

    tags = ngx_http_velro_cache_tags;

    if (tags) {
        key[0] = (u_char) (NGX_HTTP_VELRO_TAG + kind);
        ngx_memcpy(key + 1, id, 16);

        evictions = tags->evictions;

        tag.seq = ngx_http_velro_cache_sequence;
        tag.msec = ngx_http_velro_cache_now();

        if (velro_cache_put(tags, 0, key, 17, &tag, sizeof(tag),
                            ngx_current_msec + ngx_http_velro_cache_tag_ttl)
               != 0
            || tags->evictions != evictions)
        {
            /* a tag lost: what was looked up before now is not kept */

            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "velro: too many invalidations to track, "
                          "answers under way are not kept");

            ngx_http_velro_cache_floor = ngx_http_velro_cache_sequence;
            ngx_http_velro_cache_floor_msec = tag.msec;
        }
    }

    key[0] = NGX_HTTP_VELRO_WRITE;
    key[1] = (u_char) kind;
    ngx_memcpy(key + 2, id, 16);

    return ngx_http_velro_cache_writes
           && velro_cache_get(ngx_http_velro_cache_writes, key, 18,
                              ngx_current_msec)
              != NULL;
}


void
ngx_http_velro_cache_flush(void)
{
    ngx_http_velro_cache_sequence++;

    /* answers under way are not kept, L2's entries so far not used */

    ngx_http_velro_cache_floor = ngx_http_velro_cache_sequence;
    ngx_http_velro_cache_floor_msec = ngx_http_velro_cache_now();

    if (ngx_http_velro_cache_tags) {
        velro_cache_flush(ngx_http_velro_cache_tags);
    }

    if (ngx_http_velro_l1()) {
        velro_cache_flush(ngx_http_velro_l1());
    }
}
