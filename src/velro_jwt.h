
/*
 * velro: JSON Web Token (RFC 7519) parsing and verification.
 *
 * Pure logic: OpenSSL 3 and jansson only, no nginx.  Unit tests and
 * fuzzers link this file directly.
 */


#ifndef _VELRO_JWT_H_INCLUDED_
#define _VELRO_JWT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "velro_jwk.h"


#define VELRO_JWT_MAX_AUDIENCES  16
#define VELRO_JWT_MAX_REQUIRED   16


typedef enum {
    VELRO_JWT_OK = 0,
    VELRO_JWT_MALFORMED,
    VELRO_JWT_TOO_LARGE,
    VELRO_JWT_ALG,
    VELRO_JWT_KID,
    VELRO_JWT_SIGNATURE,
    VELRO_JWT_CRIT,
    VELRO_JWT_EXPIRED,
    VELRO_JWT_NBF,
    VELRO_JWT_IAT,
    VELRO_JWT_ISS,
    VELRO_JWT_AUD,
    VELRO_JWT_CLAIM,
    VELRO_JWT_NOMEM,
    VELRO_JWT_NREASONS
} velro_jwt_rc_e;


/* what a location requires of a token */

typedef struct {
    unsigned          algs;          /* bit (1 << VELRO_ALG_x) per allowed */
    const char       *issuer;        /* NULL: any */
    const char       *audiences[VELRO_JWT_MAX_AUDIENCES];
    size_t            naudiences;    /* 0: any */
    const char       *required[VELRO_JWT_MAX_REQUIRED];
    size_t            nrequired;
    long              leeway;        /* seconds */
    size_t            max_len;       /* bytes of the compact token */
} velro_jwt_policy_t;


typedef struct {
    json_t           *header;
    json_t           *claims;

    const char       *token;         /* not owned */
    size_t            len;
    size_t            signing_len;   /* "header.payload" */

    unsigned char    *sig;           /* decoded signature, malloc()ed */
    size_t            sig_len;

    int               alg;           /* VELRO_ALG_x */
    const char       *kid;           /* in header, NULL if absent */
    const char       *sub;           /* in claims, NULL if absent */

    int64_t           exp;
    int64_t           nbf;           /* INT64_MIN if absent */
    int64_t           iat;           /* INT64_MIN if absent */

    const char       *error;         /* static detail for the log */
} velro_jwt_t;


/*
 * velro_jwt_parse() splits and decodes a compact JWS without trusting it:
 * strict base64url, JSON objects without duplicate names, a known "alg"
 * other than "none", no "crit", typed registered claims.  On any result
 * velro_jwt_free() must be called.
 */
velro_jwt_rc_e velro_jwt_parse(velro_jwt_t *jwt, const char *token,
    size_t len, size_t max_len);

/*
 * velro_jwt_verify() checks the algorithm against the allow-list, selects
 * keys by "kid" and type, and verifies the signature.
 */
velro_jwt_rc_e velro_jwt_verify(velro_jwt_t *jwt,
    const velro_jwt_policy_t *policy, const velro_keyset_t *keys);

/* velro_jwt_check_claims(): exp (required), nbf, iat, iss, aud, required */
velro_jwt_rc_e velro_jwt_check_claims(velro_jwt_t *jwt,
    const velro_jwt_policy_t *policy, time_t now);

void velro_jwt_free(velro_jwt_t *jwt);

/* releases the per-process cache of parsed headers */
void velro_jwt_cleanup(void);

/* the digest of a VELRO_ALG_* (HMAC, RSA, ECDSA); NULL for EdDSA */
const EVP_MD *velro_alg_md(int alg);

/* short metric label: "malformed", "expired", ... */
const char *velro_jwt_reason(velro_jwt_rc_e rc);

/* human text for error_description: no quotes or backslashes */
const char *velro_jwt_description(velro_jwt_rc_e rc);

/*
 * Strict base64url without padding.  Returns the decoded length, or -1.
 * dst must hold (len / 4) * 3 + 2 bytes.
 */
long velro_base64url_decode(unsigned char *dst, const char *src, size_t len);

/* decode one segment ("header" 0 or "payload" 1) of a token to JSON */
json_t *velro_jwt_decode_segment(const char *token, size_t len,
    int segment);

#endif /* _VELRO_JWT_H_INCLUDED_ */
