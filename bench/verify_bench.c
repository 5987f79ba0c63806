
/*
 * verify_bench: the cost of one cache-miss token verification through the
 * module's own code against the raw OpenSSL verification of the same
 * signing input and signature with the same key.
 *
 *   verify_bench JWKS_FILE TOKENS_FILE
 *
 * TOKENS_FILE has one "ALG TOKEN" per line (bench/run.sh mints them with
 * t/lib/Velro/Token.pm).  For each token:
 *
 *   module  velro_jwt_parse + velro_jwt_verify + velro_jwt_check_claims
 *           + velro_jwt_free, the key set loaded once from JWKS_FILE
 *   raw     EVP_DigestVerifyInit + EVP_DigestVerify on a reused
 *           EVP_MD_CTX (HMAC() + CRYPTO_memcmp for HS*); for ES* the
 *           JWS R || S is converted to DER once, outside the timed loop
 *
 * and, to show where the module's extra time goes, its pieces:
 *
 *   parse   velro_jwt_parse + velro_jwt_free alone (scan, base64url,
 *           two json_loadb() with JSON_REJECT_DUPLICATES, claim typing)
 *   b64     the three velro_base64url_decode() calls alone
 *   json    the two json_loadb() + json_decref() alone
 *   verify  velro_jwt_verify alone, on a token parsed once
 *   init    EVP_DigestVerifyInit alone (the per-call context set-up that
 *           raw also pays; "-" for HMAC)
 *
 * Every figure is microseconds of thread CPU time per operation (time
 * spent descheduled by other processes is not counted), the median of
 * batches of about 40 ms each (env VERIFY_BATCHES, default 11, and
 * VERIFY_BATCH_MS, default 40); module and raw batches alternate so that
 * drift hits both.  These are hot-cache figures: inside nginx, between
 * network syscalls, the same code runs slower (see bench/run.sh cpu/req).
 * Exit status 2 if any ratio is over the target (env VERIFY_TARGET,
 * default 1.25), 1 on errors.
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/opensslv.h>
#include <openssl/rsa.h>

#include "velro_jwk.h"
#include "velro_jwt.h"


#define MAX_TOKENS   32
#define MAX_BATCHES  101


typedef struct {
    char                 alg_name[16];
    char                *token;
    size_t               len;

    int                  alg;
    const velro_jwk_t   *key;
    const EVP_MD        *md;
    int                  pss;

    /* raw inputs, prepared outside the timed loops */
    const unsigned char *input;
    size_t               input_len;
    unsigned char       *sig;          /* DER for ES* */
    size_t               sig_len;
    unsigned char        mac[EVP_MAX_MD_SIZE];

    velro_jwt_t          parsed;       /* for "verify" alone */
    size_t               d1, d2;       /* dot offsets */

    EVP_MD_CTX          *ctx;
} case_t;


typedef int (*op_pt)(case_t *c);


static velro_keyset_t      *keyset;
static velro_jwt_policy_t   policy;
static time_t               now;
static volatile long        sink;


static double
now_sec(void)
{
    struct timespec  ts;

    /* CPU time: a descheduled thread is not charged for others' work */

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);

    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}


static char *
slurp(const char *path, size_t *len)
{
    FILE    *f;
    char    *buf;
    long     n;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "verify_bench: %s: %s\n", path, strerror(errno));
        exit(1);
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    buf = malloc((size_t) n + 1);
    if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n) {
        fprintf(stderr, "verify_bench: %s: read failed\n", path);
        exit(1);
    }

    buf[n] = '\0';
    fclose(f);

    *len = (size_t) n;
    return buf;
}


/* the operations timed */

static int
op_module(case_t *c)
{
    velro_jwt_t     jwt;
    velro_jwt_rc_e  rc;

    rc = velro_jwt_parse(&jwt, c->token, c->len, policy.max_len);

    if (rc == VELRO_JWT_OK) {
        rc = velro_jwt_verify(&jwt, &policy, keyset);
    }

    if (rc == VELRO_JWT_OK) {
        rc = velro_jwt_check_claims(&jwt, &policy, now);
    }

    velro_jwt_free(&jwt);

    return rc == VELRO_JWT_OK;
}


static int
op_raw(case_t *c)
{
    int            ok;
    unsigned int   len;
    EVP_PKEY_CTX  *pctx;
    unsigned char  mac[EVP_MAX_MD_SIZE];

    if (c->key->kty == VELRO_KTY_OCT) {
        if (HMAC(c->md, c->key->secret, (int) c->key->secret_len,
                 c->input, c->input_len, mac, &len) == NULL)
        {
            return 0;
        }

        return len == c->sig_len && CRYPTO_memcmp(mac, c->sig, len) == 0;
    }

    ok = 0;

    if (EVP_DigestVerifyInit(c->ctx, &pctx, c->md, NULL, c->key->pkey) != 1) {
        goto done;
    }

    if (c->pss
        && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
               != 1))
    {
        goto done;
    }

    ok = EVP_DigestVerify(c->ctx, c->sig, c->sig_len, c->input,
                          c->input_len) == 1;

done:

    EVP_MD_CTX_reset(c->ctx);

    return ok;
}


static int
op_parse(case_t *c)
{
    velro_jwt_t     jwt;
    velro_jwt_rc_e  rc;

    rc = velro_jwt_parse(&jwt, c->token, c->len, policy.max_len);
    velro_jwt_free(&jwt);

    return rc == VELRO_JWT_OK;
}


static int
op_b64(case_t *c)
{
    long           a, b, s;
    unsigned char  buf[4096];

    a = velro_base64url_decode(buf, c->token, c->d1);
    b = velro_base64url_decode(buf, c->token + c->d1 + 1, c->d2 - c->d1 - 1);
    s = velro_base64url_decode(buf, c->token + c->d2 + 1,
                               c->len - c->d2 - 1);

    sink += buf[0];

    return a > 0 && b > 0 && s > 0;
}


static unsigned char  json_h[4096], json_p[4096];
static size_t         json_hlen, json_plen;


static int
op_json(case_t *c)
{
    json_t  *h, *p;
    int      ok;

    (void) c;

    h = json_loadb((char *) json_h, json_hlen, JSON_REJECT_DUPLICATES, NULL);
    p = json_loadb((char *) json_p, json_plen, JSON_REJECT_DUPLICATES, NULL);

    ok = h != NULL && p != NULL;

    json_decref(h);
    json_decref(p);

    return ok;
}


static int
op_verify(case_t *c)
{
    return velro_jwt_verify(&c->parsed, &policy, keyset) == VELRO_JWT_OK;
}


static int
op_init(case_t *c)
{
    int  ok;

    ok = EVP_DigestVerifyInit(c->ctx, NULL, c->md, NULL, c->key->pkey) == 1;
    EVP_MD_CTX_reset(c->ctx);

    return ok;
}


/* iterations for a batch of about ms milliseconds */

static long
calibrate(op_pt op, case_t *c, double ms)
{
    long    n, i;
    double  t0, dt;

    for (n = 1; ; n *= 2) {
        t0 = now_sec();

        for (i = 0; i < n; i++) {
            sink += op(c);
        }

        dt = now_sec() - t0;

        if (dt > 0.005 || n >= (1L << 26)) {
            break;
        }
    }

    n = (long) ((double) n * (ms / 1000.0) / dt);

    return n < 1 ? 1 : n;
}


static double
batch(op_pt op, case_t *c, long n)
{
    long    i;
    double  t0;

    t0 = now_sec();

    for (i = 0; i < n; i++) {
        sink += op(c);
    }

    return (now_sec() - t0) * 1e6 / (double) n;
}


static int
cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


static double
median(double *v, int n)
{
    qsort(v, (size_t) n, sizeof(double), cmp_double);

    return (n % 2) ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}


/* the medians of interleaved batches of several operations */

static void
measure(case_t *c, op_pt *ops, double *out, int nops, int batches, double ms)
{
    int     i, b;
    long    n[8];
    double  t[8][MAX_BATCHES];

    for (i = 0; i < nops; i++) {
        (void) calibrate(ops[i], c, ms / 4);     /* warm up */
        n[i] = calibrate(ops[i], c, ms);
    }

    for (b = 0; b < batches; b++) {
        for (i = 0; i < nops; i++) {
            t[i][b] = batch(ops[i], c, n[i]);
        }
    }

    for (i = 0; i < nops; i++) {
        out[i] = median(t[i], batches);
    }
}


static int
prepare(case_t *c)
{
    size_t              i, half;
    long                n;
    BIGNUM             *r, *s;
    ECDSA_SIG          *esig;
    unsigned char      *p;
    const char         *dot;
    velro_jwt_rc_e      rc;

    rc = velro_jwt_parse(&c->parsed, c->token, c->len, policy.max_len);
    if (rc != VELRO_JWT_OK) {
        fprintf(stderr, "verify_bench: %s: parse: %s (%s)\n", c->alg_name,
                velro_jwt_reason(rc), c->parsed.error ? c->parsed.error : "-");
        return -1;
    }

    c->alg = c->parsed.alg;
    c->key = NULL;

    for (i = 0; i < keyset->nkeys; i++) {
        if (c->parsed.kid && keyset->keys[i].kid
            && strcmp(c->parsed.kid, keyset->keys[i].kid) == 0)
        {
            c->key = &keyset->keys[i];
            break;
        }
    }

    if (c->key == NULL) {
        fprintf(stderr, "verify_bench: %s: no key for kid \"%s\"\n",
                c->alg_name, c->parsed.kid ? c->parsed.kid : "");
        return -1;
    }

    switch (c->alg) {
    case VELRO_ALG_HS256: case VELRO_ALG_RS256: case VELRO_ALG_PS256:
    case VELRO_ALG_ES256:
        c->md = EVP_sha256();
        break;
    case VELRO_ALG_HS384: case VELRO_ALG_RS384: case VELRO_ALG_PS384:
    case VELRO_ALG_ES384:
        c->md = EVP_sha384();
        break;
    case VELRO_ALG_HS512: case VELRO_ALG_RS512: case VELRO_ALG_PS512:
        c->md = EVP_sha512();
        break;
    default:
        c->md = NULL;               /* EdDSA */
    }

    c->pss = (c->alg == VELRO_ALG_PS256 || c->alg == VELRO_ALG_PS384
              || c->alg == VELRO_ALG_PS512);

    c->input = (const unsigned char *) c->token;
    c->input_len = c->parsed.signing_len;

    if (c->alg == VELRO_ALG_ES256 || c->alg == VELRO_ALG_ES384) {
        half = c->parsed.sig_len / 2;
        esig = ECDSA_SIG_new();
        r = BN_bin2bn(c->parsed.sig, (int) half, NULL);
        s = BN_bin2bn(c->parsed.sig + half, (int) half, NULL);

        if (esig == NULL || r == NULL || s == NULL
            || ECDSA_SIG_set0(esig, r, s) != 1)
        {
            return -1;
        }

        n = i2d_ECDSA_SIG(esig, NULL);
        c->sig = malloc((size_t) n);
        p = c->sig;
        c->sig_len = (size_t) i2d_ECDSA_SIG(esig, &p);
        ECDSA_SIG_free(esig);

    } else {
        c->sig = malloc(c->parsed.sig_len);
        memcpy(c->sig, c->parsed.sig, c->parsed.sig_len);
        c->sig_len = c->parsed.sig_len;
    }

    c->ctx = EVP_MD_CTX_new();
    if (c->ctx == NULL) {
        return -1;
    }

    dot = memchr(c->token, '.', c->len);
    c->d1 = (size_t) (dot - c->token);
    dot = memchr(dot + 1, '.', c->len - c->d1 - 1);
    c->d2 = (size_t) (dot - c->token);

    /* every path must succeed before it is timed */

    if (!op_module(c)) {
        fprintf(stderr, "verify_bench: %s: the module does not verify it\n",
                c->alg_name);
        return -1;
    }

    if (!op_raw(c)) {
        fprintf(stderr, "verify_bench: %s: raw OpenSSL does not verify it\n",
                c->alg_name);
        ERR_print_errors_fp(stderr);
        return -1;
    }

    if (!op_verify(c) || !op_b64(c)) {
        fprintf(stderr, "verify_bench: %s: pieces fail\n", c->alg_name);
        return -1;
    }

    return 0;
}


int
main(int argc, char **argv)
{
    int          ntok, i, batches, over;
    char        *jwks, *tokens, *line, *save, *sp, err[256];
    size_t       len;
    double       ms, target, r[8];
    case_t       cases[MAX_TOKENS];
    const char  *e;

    if (argc != 3) {
        fprintf(stderr, "usage: verify_bench JWKS_FILE TOKENS_FILE\n");
        return 1;
    }

    e = getenv("VERIFY_BATCHES");
    batches = e ? atoi(e) : 11;
    if (batches < 1 || batches > MAX_BATCHES) {
        batches = 11;
    }

    e = getenv("VERIFY_BATCH_MS");
    ms = e ? atof(e) : 40;
    if (ms <= 0) {
        ms = 40;
    }

    e = getenv("VERIFY_TARGET");
    target = e ? atof(e) : 1.25;

    jwks = slurp(argv[1], &len);
    keyset = velro_keyset_new();

    if (keyset == NULL
        || velro_keyset_add_jwks(keyset, jwks, len, err, sizeof(err)) < 0)
    {
        fprintf(stderr, "verify_bench: %s: %s\n", argv[1],
                keyset ? err : "no memory");
        return 1;
    }

    memset(&policy, 0, sizeof(policy));
    policy.algs = (1u << VELRO_ALG_COUNT) - 1;
    policy.max_len = 8192;
    now = time(NULL);

    tokens = slurp(argv[2], &len);
    ntok = 0;

    for (line = strtok_r(tokens, "\n", &save); line && ntok < MAX_TOKENS;
         line = strtok_r(NULL, "\n", &save))
    {
        sp = strchr(line, ' ');
        if (sp == NULL || (size_t) (sp - line) >= sizeof(cases[0].alg_name)) {
            continue;
        }

        memset(&cases[ntok], 0, sizeof(case_t));
        memcpy(cases[ntok].alg_name, line, (size_t) (sp - line));
        cases[ntok].token = sp + 1;
        cases[ntok].len = strlen(sp + 1);

        while (cases[ntok].len
               && (cases[ntok].token[cases[ntok].len - 1] == '\r'
                   || cases[ntok].token[cases[ntok].len - 1] == ' '))
        {
            cases[ntok].len--;
        }

        if (prepare(&cases[ntok]) != 0) {
            return 1;
        }

        ntok++;
    }

    if (ntok == 0) {
        fprintf(stderr, "verify_bench: no tokens in %s\n", argv[2]);
        return 1;
    }

    printf("verify_bench: %s, jansson %s; %d batches of ~%.0f ms, "
           "median us/op\n\n", OpenSSL_version(OPENSSL_VERSION),
           JANSSON_VERSION, batches, ms);

    printf("%-6s %9s %9s %6s | %8s %7s %7s %8s %7s %7s\n",
           "alg", "module", "raw", "ratio",
           "parse", "b64", "json", "verify", "init", "claims");
    printf("%-6s %9s %9s %6s | %8s %7s %7s %8s %7s %7s\n",
           "", "us/op", "us/op", "", "+free", "", "", "alone", "", "");

    over = 0;

    for (i = 0; i < ntok; i++) {
        case_t  *c = &cases[i];
        op_pt    main_ops[2] = { op_module, op_raw };
        op_pt    piece_ops[4] = { op_parse, op_b64, op_json, op_verify };
        double   pieces[4], init_us, claims_us;
        long     n;
        char     init_s[16];

        /* the decoded header and payload for the json piece */

        json_hlen = (size_t) velro_base64url_decode(json_h, c->token, c->d1);
        json_plen = (size_t) velro_base64url_decode(json_p,
                                                    c->token + c->d1 + 1,
                                                    c->d2 - c->d1 - 1);

        measure(c, main_ops, r, 2, batches, ms);
        measure(c, piece_ops, pieces, 4, batches > 5 ? 5 : batches, ms / 2);

        if (c->key->kty == VELRO_KTY_OCT) {
            snprintf(init_s, sizeof(init_s), "-");

        } else {
            op_pt  iop[1] = { op_init };

            measure(c, iop, &init_us, 1, batches > 5 ? 5 : batches, ms / 2);
            snprintf(init_s, sizeof(init_s), "%.2f", init_us);
        }

        /* check_claims is cheap: a plain loop suffices */

        {
            double  t0 = now_sec();

            n = 200000;
            for (long k = 0; k < n; k++) {
                sink += velro_jwt_check_claims(&c->parsed, &policy, now);
            }

            claims_us = (now_sec() - t0) * 1e6 / (double) n;
        }

        printf("%-6s %9.2f %9.2f %6.2f | %8.2f %7.2f %7.2f %8.2f %7s %7.3f%s\n",
               c->alg_name, r[0], r[1], r[0] / r[1],
               pieces[0], pieces[1], pieces[2], pieces[3], init_s, claims_us,
               r[0] / r[1] > target ? "  OVER" : "");
        fflush(stdout);

        if (r[0] / r[1] > target) {
            over = 1;
        }
    }

    printf("\nratio = module / raw (target <= %.2f); module - raw = the "
           "module's overhead.\n", target);

    for (i = 0; i < ntok; i++) {
        velro_jwt_free(&cases[i].parsed);
        EVP_MD_CTX_free(cases[i].ctx);
        free(cases[i].sig);
    }

    velro_keyset_free(keyset);
    free(jwks);
    free(tokens);

    return over ? 2 : 0;
}
