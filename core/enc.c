/* enc.c -- encoding, hashing, time and randomness helpers (OpenSSL does the hard parts). */
#include "core/enc.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

void enc_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int enc_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int enc_unhex(const char *in, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = enc_hexval((unsigned char)in[2 * i]), lo;
        if (hi < 0)
            return -1;
        lo = enc_hexval((unsigned char)in[2 * i + 1]);
        if (lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

char *enc_b64(const uint8_t *in, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out == NULL)
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    return out;
}

long enc_unb64(const char *in, size_t n, uint8_t *out)
{
    if (n % 4 != 0)
        return -1;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (!(isalnum(c) || c == '+' || c == '/' || (c == '=' && i >= n - 2)))
            return -1;
    }
    int len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    if (len < 0)
        return -1;
    if (in[n - 1] == '=')
        len--;
    if (in[n - 2] == '=')
        len--;
    return len;
}

char *enc_b64url(const uint8_t *in, size_t n)
{
    char *out = enc_b64(in, n);
    size_t len = out != NULL ? strlen(out) : 0;

    while (len > 0 && out[len - 1] == '=')
        out[--len] = '\0';
    for (size_t i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return out;
}

long enc_unb64url(const char *in, size_t n, uint8_t **out)
{
    size_t pad = (4 - n % 4) % 4, i;
    char *tmp = NULL, *again = NULL;
    long len = -1;

    *out = NULL;
    if (n == 0 || n % 4 == 1 || (tmp = malloc(n + pad + 1)) == NULL ||
        (*out = malloc((n + pad) / 4 * 3 + 1)) == NULL)
        goto done;
    for (i = 0; i < n; i++) {
        char ch = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
        if (!isalnum((unsigned char)ch) && ch != '+' && ch != '/')
            goto done;
        tmp[i] = ch;
    }
    memset(tmp + n, '=', pad);
    len = enc_unb64(tmp, n + pad, *out);
    /* canonical only: re-encoding gives the input back (no stray trailing bits) */
    if (len >= 0 && ((again = enc_b64url(*out, (size_t)len)) == NULL || strlen(again) != n ||
                     memcmp(again, in, n) != 0))
        len = -1;
done:
    free(tmp);
    free(again);
    if (len < 0) {
        free(*out);
        *out = NULL;
    }
    return len;
}

/* ---- algorithms fetched once ----
 * OpenSSL 3 looks an algorithm up in its provider store (under a lock, with reference counts)
 * each time EVP_sha256() & co. or a one-shot call such as HMAC() is used; fetching once and
 * keeping one digest and one MAC context per thread takes that off every request. */

static struct enc_algos {
    EVP_MD *sha256, *sha1, *md5;
    EVP_CIPHER *aes256gcm;
    EVP_MAC *hmac;
    pthread_key_t tls;
} algo;
static pthread_once_t algo_once = PTHREAD_ONCE_INIT;

struct enc_thread {
    EVP_MD_CTX *md;
    EVP_MAC_CTX *hmac; /* HMAC with SHA-256 set; re-keyed for every use */
    uint8_t rnd[512];  /* random bytes not handed out yet: rnd[0..rnd_left) */
    size_t rnd_left;
};

static void thread_free(void *p)
{
    struct enc_thread *t = p;
    OPENSSL_cleanse(t->rnd, sizeof t->rnd);
    EVP_MD_CTX_free(t->md);
    EVP_MAC_CTX_free(t->hmac);
    free(t);
}

static void algo_fetch(void)
{
    algo.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    algo.sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    algo.md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    algo.aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    algo.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!algo.sha256 || !algo.sha1 || !algo.md5 || !algo.aes256gcm || !algo.hmac ||
        pthread_key_create(&algo.tls, thread_free) != 0)
        abort(); /* the default provider is part of libcrypto: never expected */
}

/* The algorithms, fetched at the first call. */
static const struct enc_algos *algos(void)
{
    pthread_once(&algo_once, algo_fetch);
    return &algo;
}

const EVP_MD *enc_md_sha256(void)
{
    return algos()->sha256;
}

const EVP_MD *enc_md_sha1(void)
{
    return algos()->sha1;
}

const EVP_MD *enc_md_md5(void)
{
    return algos()->md5;
}

const EVP_CIPHER *enc_cipher_aes256gcm(void)
{
    return algos()->aes256gcm;
}

static struct enc_thread *thread_ctx(void)
{
    struct enc_thread *t = pthread_getspecific(algos()->tls);
    if (t != NULL)
        return t;
    OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                      OSSL_PARAM_construct_end()};
    t = calloc(1, sizeof *t);
    if (t == NULL || (t->md = EVP_MD_CTX_new()) == NULL ||
        (t->hmac = EVP_MAC_CTX_new(algo.hmac)) == NULL || !EVP_MAC_CTX_set_params(t->hmac, p) ||
        pthread_setspecific(algo.tls, t) != 0)
        abort(); /* out of memory at a thread's first hash */
    return t;
}

/* The digest of in with the thread's context (out holds EVP_MD_get_size(alg) bytes). */
static void digest(const EVP_MD *alg, const void *in, size_t n, uint8_t *out)
{
    EVP_MD_CTX *md = thread_ctx()->md;
    unsigned int len = 0;
    if (EVP_DigestInit_ex(md, alg, NULL) != 1 || EVP_DigestUpdate(md, in, n) != 1 ||
        EVP_DigestFinal_ex(md, out, &len) != 1)
        abort();
}

void enc_sha256(const void *in, size_t n, uint8_t out[32])
{
    digest(algos()->sha256, in, n, out);
}

void enc_hmac_sha256(const void *key, size_t klen, const void *in, size_t n, uint8_t out[32])
{
    EVP_MAC_CTX *mac = thread_ctx()->hmac;
    size_t len = 0;
    if (EVP_MAC_init(mac, key, klen, NULL) != 1 || EVP_MAC_update(mac, in, n) != 1 ||
        EVP_MAC_final(mac, out, &len, 32) != 1)
        abort();
}

void enc_md5(const void *in, size_t n, uint8_t out[16])
{
    digest(algos()->md5, in, n, out);
}

bool enc_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return false;
    return CRYPTO_memcmp(a, b, alen) == 0;
}

void enc_secret_free(char *s)
{
    if (s != NULL) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

int enc_random(void *buf, size_t n)
{
    /* Small requests come from a per-thread buffer filled by one RAND_bytes call: each call
     * costs about a microsecond of fixed overhead (DRBG lookup, fork check), and a request
     * makes several (ids, keys, nonces). Bytes handed out are wiped from the buffer. */
    if (n > 128)
        return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
    struct enc_thread *t = thread_ctx();
    if (t->rnd_left < n) {
        if (RAND_bytes(t->rnd, sizeof t->rnd) != 1)
            return -1;
        t->rnd_left = sizeof t->rnd;
    }
    t->rnd_left -= n;
    memcpy(buf, t->rnd + t->rnd_left, n);
    OPENSSL_cleanse(t->rnd + t->rnd_left, n);
    return 0;
}

int enc_random_chars(char *out, size_t n, const char *alphabet, size_t alen)
{
    /* Rejection sampling keeps the distribution uniform. */
    size_t limit = 256 - (256 % alen), i = 0;
    uint8_t rnd[64];
    while (i < n) {
        if (enc_random(rnd, sizeof rnd) != 0)
            return -1;
        for (size_t j = 0; j < sizeof rnd && i < n; j++)
            if (rnd[j] < limit)
                out[i++] = alphabet[rnd[j] % alen];
    }
    out[n] = '\0';
    return 0;
}

long enc_url_decode(const char *s, size_t n, char *out, bool plus_is_space)
{
    size_t o = 0;
    bool bad = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= n || (hi = enc_hexval((unsigned char)s[i + 1])) < 0 ||
                (lo = enc_hexval((unsigned char)s[i + 2])) < 0) {
                bad = true;
                break;
            }
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (s[i] == '+' && plus_is_space) {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0'; /* also after a bad escape: out is always a C string */
    return bad ? -1 : (long)o;
}

char *enc_uri_encode(const char *s, size_t n, bool keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    char *out = malloc(3 * n + 1), *p = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
            (c == '/' && keep_slash)) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = digits[c >> 4];
            *p++ = digits[c & 15];
        }
    }
    *p = '\0';
    return out;
}

/* UTC fields of t without gmtime_r, which takes glibc's time-zone lock: every listed object
 * formats a date (days to civil date after H. Hinnant's days_from_civil inverse). */
struct utc {
    long long year;
    unsigned mon, day, hour, min, sec, wday; /* mon 1-12, wday 0 = Sunday */
};

static void utc_of(time_t t, struct utc *u)
{
    long long days = (long long)t / 86400, rem = (long long)t % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    u->hour = (unsigned)(rem / 3600);
    u->min = (unsigned)(rem / 60 % 60);
    u->sec = (unsigned)(rem % 60);
    u->wday = (unsigned)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
    long long z = days + 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    u->day = doy - (153 * mp + 2) / 5 + 1;
    u->mon = mp < 10 ? mp + 3 : mp - 9;
    u->year = (long long)yoe + era * 400 + (u->mon <= 2);
}

static char *put_num(char *p, unsigned long long v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + width;
}

/* Years outside 0..9999 (not reachable from a time_t the server produces) fall back to
 * snprintf for an honest rendering. */
void enc_time_iso8601(time_t t, char *out)
{
    struct utc u;
    utc_of(t, &u);
    if (u.year < 0 || u.year > 9999) {
        char tmp[128];
        snprintf(tmp, sizeof tmp, "%lld-%02u-%02uT%02u:%02u:%02u.000Z", u.year, u.mon, u.day,
                 u.hour, u.min, u.sec);
        snprintf(out, 32, "%.31s", tmp);
        return;
    }
    char *p = put_num(out, (unsigned long long)u.year, 4);
    *p++ = '-';
    p = put_num(p, u.mon, 2);
    *p++ = '-';
    p = put_num(p, u.day, 2);
    *p++ = 'T';
    p = put_num(p, u.hour, 2);
    *p++ = ':';
    p = put_num(p, u.min, 2);
    *p++ = ':';
    p = put_num(p, u.sec, 2);
    memcpy(p, ".000Z", 6);
}

void enc_time_amz(time_t t, char *out)
{
    struct utc u;
    char tmp[128];
    utc_of(t, &u);
    snprintf(tmp, sizeof tmp, "%04lld%02u%02uT%02u%02u%02uZ", u.year, u.mon, u.day, u.hour, u.min,
             u.sec);
    snprintf(out, 32, "%.31s", tmp);
}

void enc_time_http(time_t t, char *out)
{
    static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct utc u;
    char tmp[128];
    utc_of(t, &u);
    snprintf(tmp, sizeof tmp, "%s, %02u %s %04lld %02u:%02u:%02u GMT", days[u.wday], u.day,
             months[u.mon - 1], u.year, u.hour, u.min, u.sec);
    snprintf(out, 32, "%.31s", tmp);
}

int enc_time_parse_amz(const char *s, time_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (strlen(s) != 16)
        return -1;
    const char *end = strptime(s, "%Y%m%dT%H%M%SZ", &tm);
    if (end == NULL || *end != '\0')
        return -1;
    *out = timegm(&tm);
    return 0;
}

int enc_time_parse_http(const char *s, time_t *out)
{
    static const char *fmts[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                 "%a %b %e %H:%M:%S %Y"};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *end = strptime(s, fmts[i], &tm);
        if (end != NULL && *end == '\0') {
            *out = timegm(&tm);
            return 0;
        }
    }
    return enc_time_parse_iso8601(s, out);
}

int enc_time_parse_iso8601(const char *s, time_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(s, "%Y-%m-%d", &tm);
    if (p == NULL)
        return -1;
    long off = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p = strptime(p + 1, "%H:%M:%S", &tm);
        if (p == NULL)
            return -1;
        if (*p == '.') {
            p++;
            if (!isdigit((unsigned char)*p))
                return -1;
            while (isdigit((unsigned char)*p))
                p++;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1, hh, mm;
            if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
                return -1;
            off = sign * (hh * 3600L + mm * 60L);
            p += 6;
        }
    }
    if (*p != '\0')
        return -1;
    *out = timegm(&tm) - off;
    return 0;
}

time_t enc_now(void)
{
    return time(NULL);
}
