/*
 * AWS Signature Version 4 (internal). One signer per client: it holds the
 * region and service and caches the derived signing key for the current
 * date, so a key is derived once a day rather than once a request.
 */
#ifndef ORC_AWS_SIGV4_H
#define ORC_AWS_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "orchestra/status.h"
#include "aws/buf.h"

/* A set of credentials; strings owned (orc__aws_creds_clear). */
typedef struct orc__aws_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token;      /* NULL when none */
	int64_t expiry_ms;        /* 0 = does not expire */
} orc__aws_creds;

void orc__aws_creds_clear(orc__aws_creds *c);
/* Deep copy; returns ORC_ENOMEM or ORC_OK. */
orc_status orc__aws_creds_copy(orc__aws_creds *dst, const orc__aws_creds *src);

typedef struct orc__aws_hdr {
	const char *name;
	const char *value;
} orc__aws_hdr;

/* A request to sign. Path and query are as they go on the wire. */
typedef struct orc__sigv4_req {
	const char *method;
	const char *path;
	const char *query;          /* without '?'; NULL or "" = none */
	const orc__aws_hdr *headers;
	size_t nheaders;
	const void *body;
	size_t body_len;
} orc__sigv4_req;

/* Remove dot segments and empty segments from the path (not for S3). */
#define ORC__SIGV4_NORMALIZE  0x1u
/* Add and sign x-amz-content-sha256 (header signing only). */
#define ORC__SIGV4_SIGN_BODY  0x2u
/* Add the session token after signing, unsigned (some services want it). */
#define ORC__SIGV4_OMIT_TOKEN 0x4u
/* Presign: the signature goes into the query string, not a header. */
#define ORC__SIGV4_QUERY      0x8u
/* Leave canonical_request and string_to_sign NULL (saves two copies). */
#define ORC__SIGV4_AUTH_ONLY  0x10u
/* The authorization points into the scratch instead of a copy: valid
 * until the scratch's next use, never freed by orc__sigv4_out_clear();
 * the caller wipes it (orc__sigv4_scratch_wipe) when done. */
#define ORC__SIGV4_AUTH_IN_SCRATCH 0x20u

/* Buffers a signer may keep between signatures, so that signing many
 * requests does not allocate them again each time. */
typedef struct orc__sigv4_scratch {
	orc__buf cr, sh, tmp, path, fin;
	orc__buf hv;        /* canonical header names and values */
	void *hkv;          /* their index (struct kv), hkv_cap entries */
	size_t hkv_cap;
	void *md, *mdctx;   /* EVP_MD *, EVP_MD_CTX *: SHA-256, reused */
} orc__sigv4_scratch;

void orc__sigv4_scratch_free(orc__sigv4_scratch *sc);
/* Overwrite the signature text the scratch holds. */
void orc__sigv4_scratch_wipe(orc__sigv4_scratch *sc);

typedef struct orc__sigv4_out {
	char *canonical_request;
	char *string_to_sign;
	char signature[65];
	char amz_date[17];          /* "20150830T123600Z" */
	char content_sha256[65];    /* hex SHA-256 of the body */
	char *authorization;        /* header mode: Authorization value */
	int auth_in_scratch;        /* authorization is the scratch's */
	char *query;                /* query mode: the full signed query */
} orc__sigv4_out;

void orc__sigv4_out_clear(orc__sigv4_out *out);

typedef struct orc__sigv4_signer {
	char region[64];
	char service[64];
	/* The cached key and what it was derived for. */
	char key_date[9];
	unsigned char key[32];
	unsigned char key_secret_hash[32];  /* SHA-256 of the secret, not it */
	int have_key;
	uint64_t derivations;               /* keys derived so far (tests) */
} orc__sigv4_signer;

orc_status orc__sigv4_signer_init(orc__sigv4_signer *s, const char *region,
				  const char *service, orc_error *err);

/*
 * Sign @p req at @p now_ms. @p expires_s is X-Amz-Expires for presigning.
 * On success fills @p out (clear it with orc__sigv4_out_clear()).
 */
orc_status orc__sigv4_sign(orc__sigv4_out *out, orc__sigv4_signer *s,
			   const orc__aws_creds *creds,
			   const orc__sigv4_req *req, int64_t now_ms,
			   uint32_t flags, int64_t expires_s, orc_error *err);
/* The same with buffers kept in @p sc (NULL: none kept). */
orc_status orc__sigv4_sign_with(orc__sigv4_out *out, orc__sigv4_signer *s,
				const orc__aws_creds *creds,
				const orc__sigv4_req *req, int64_t now_ms,
				uint32_t flags, int64_t expires_s,
				orc__sigv4_scratch *sc, orc_error *err);

/* Hex SHA-256 of @p n bytes into @p hex (65 bytes); 0 on failure. */
int orc__sha256_hex(char hex[65], const void *p, size_t n);

/* Percent-encode per SigV4 (unreserved kept); '/' kept when keep_slash. */
struct orc__buf;
void orc__aws_uri_encode(struct orc__buf *b, const char *s, size_t n,
			 int keep_slash);

#endif
