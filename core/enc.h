/* enc.h -- small encoding, hashing, time and randomness helpers shared by every module.
 * All functions are thread-safe. */
#ifndef TS_ENC_H
#define TS_ENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/types.h>

/* Lower-case hex of n bytes into out, which must hold 2n+1 bytes (NUL-terminated). */
void enc_hex(const uint8_t *in, size_t n, char *out);
/* The value of hex digit c (either case), or -1. */
int enc_hexval(int c);
/* Decodes exactly 2n hex digits into n bytes. Returns 0, or -1 on a bad digit. */
int enc_unhex(const char *in, size_t n, uint8_t *out);

/* Standard base64 (with padding). The result is malloc'ed, NUL-terminated; NULL on OOM. */
char *enc_b64(const uint8_t *in, size_t n);
/* Decodes standard base64 (padding required). Returns the length written to out (which must
 * hold 3*ceil(n/4) bytes), or -1 on malformed input. */
long enc_unb64(const char *in, size_t n, uint8_t *out);

/* base64url without padding (RFC 4648 section 5, as JWTs and tokens use it). The result is
 * malloc'ed, NUL-terminated; NULL on OOM. */
char *enc_b64url(const uint8_t *in, size_t n);
/* Decodes strict, canonical base64url without padding (a bad character, an impossible length,
 * non-zero trailing bits or an empty input are refused, so that one value has exactly one
 * spelling) into *out (malloc'ed). Returns the length, or -1 (*out NULL). */
long enc_unb64url(const char *in, size_t n, uint8_t **out);

/* SHA-256, HMAC-SHA-256 and MD5 through algorithms fetched once and one reused context per
 * thread (freed when the thread exits). */
void enc_sha256(const void *in, size_t n, uint8_t out[32]);
void enc_hmac_sha256(const void *key, size_t klen, const void *in, size_t n, uint8_t out[32]);
void enc_md5(const void *in, size_t n, uint8_t out[16]);
/* The same algorithms for callers with their own EVP contexts (fetched on first use, shared,
 * never freed): pass these instead of EVP_sha256() & co., which look the algorithm up anew on
 * every call. */
const EVP_MD *enc_md_sha256(void);
const EVP_MD *enc_md_sha1(void);
const EVP_MD *enc_md_md5(void);
const EVP_CIPHER *enc_cipher_aes256gcm(void);

/* Constant-time comparison of two byte strings; true when equal (lengths must match too). */
bool enc_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Fills buf with n cryptographically random bytes. Returns 0, or -1 (never expected). */
int enc_random(void *buf, size_t n);
/* Wipes a secret string (password, token, key) with OPENSSL_cleanse and frees it; NULL is
 * fine. */
void enc_secret_free(char *s);
/* n random characters from alphabet (length alen) into out (n+1 bytes, NUL-terminated). */
int enc_random_chars(char *out, size_t n, const char *alphabet, size_t alen);

/* Percent-decodes s[0..n) into out (at least n+1 bytes). plus_is_space turns '+' into ' '
 * (form encoding). Returns the decoded length, or -1 on a bad escape (out is still a
 * NUL-terminated string then). */
long enc_url_decode(const char *s, size_t n, char *out, bool plus_is_space);
/* AWS URI-encoding (RFC 3986 unreserved kept, everything else %XX upper-case); '/' kept when
 * keep_slash. Returns a malloc'ed string, NULL on OOM. */
char *enc_uri_encode(const char *s, size_t n, bool keep_slash);

/* Time formats. out must hold at least 32 bytes. */
void enc_time_iso8601(time_t t, char *out); /* 2006-01-02T15:04:05.000Z */
void enc_time_amz(time_t t, char *out);     /* 20060102T150405Z */
void enc_time_http(time_t t, char *out);    /* Mon, 02 Jan 2006 15:04:05 GMT */
/* Parses 20060102T150405Z; returns 0 or -1. */
int enc_time_parse_amz(const char *s, time_t *out);
/* Parses an HTTP date (RFC 1123, RFC 850 or asctime) or ISO 8601; returns 0 or -1. */
int enc_time_parse_http(const char *s, time_t *out);
/* Parses ISO 8601 / RFC 3339 (2006-01-02T15:04:05Z, fractional seconds and offsets allowed,
 * or a date alone); returns 0 or -1. */
int enc_time_parse_iso8601(const char *s, time_t *out);

/* Current time: wall clock seconds. */
time_t enc_now(void);

#endif
