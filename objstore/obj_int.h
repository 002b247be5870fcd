/* obj_int.h -- the storage engine's interface inside objstore/ (not for other modules).
 *
 * Layout under DATA_DIR/.tessera/ (DESIGN §4.2):
 *   meta/              LMDB env: "buckets" (name -> created LE64 + owner), "objects"
 *                      (bucket\0key -> meta), "uploads" (bucket\0key\0uploadid -> meta),
 *                      "parts" (uploadid + BE32 part number -> meta), "policies" (bucket ->
 *                      policy JSON), "completed" (uploads completed lately, multipart.c),
 *                      "bucket_conf" (bucket\0name -> a bucket configuration: "tagging", "cors",
 *                      "versioning", "acl", "pab", "ownership"), "versions"
 *                      (bucket\0key\0BE64(~vts) -> u32 key length + key + meta: noncurrent
 *                      versions and delete markers, see versions.c)
 *   objects/ab/cd/ID   data files, ID = 32 hex digits of a random 128-bit id
 *   tmp/               in-progress writes
 *   sse.key            the SSE-S3 master key when TESSERA_KMS_SECRET_KEY is not set (sse.c)
 *
 * Write protocol: bytes go to tmp/, are fsynced, renamed into objects/ (directory fsynced);
 * only then one short LMDB write transaction points the metadata at the new file and
 * records the replaced file, which is unlinked after the commit is durable. A crash at any
 * point leaves the old or the new object; obj_store_open() collects the leftovers.
 *
 * Threads: every function is thread-safe. Readers use LMDB read transactions (MVCC, never
 * blocked); the only serialisation is LMDB's single writer, held for the metadata commit
 * only, never across a data-file fsync. Object and part commits are grouped
 * (obj_int_group_commit): the writes of requests that arrive while a commit is syncing go
 * into the next transaction together, so that they share its syncs.
 */
#ifndef TS_OBJ_INT_H
#define TS_OBJ_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <lmdb.h>
#include <pthread.h>

#include "core/http.h"
#include "objstore/obj.h"
#include "sts/sigv4.h"

#define OBJ_MAX_KEY_LEN 1024             /* bytes of UTF-8 */
#define OBJ_MAX_BUCKET_LEN 63            /* every bucket name the store holds or looks up */
#define OBJ_MAX_OBJECT_SIZE (5ULL << 40) /* 5 TiB */
#define OBJ_MAX_PART_SIZE (5ULL << 30)   /* 5 GiB */
#define OBJ_MIN_PART_SIZE (5ULL << 20)   /* 5 MiB, all parts but the last */
#define OBJ_MAX_PARTS 10000
#define OBJ_MAX_XML_BODY (1u << 20)
#define OBJ_MAX_POLICY (20u << 10)
#define OBJ_SMALL_GET (64u << 10) /* served from a buffer, larger ones with sendfile */
#define OBJ_ID_LEN 32             /* hex digits */
#define OBJ_VID_LEN 32            /* a version id: 32 lower-case hex digits (or "null") */
#define OBJ_CK_B64_MAX 96         /* a base64 checksum, "-N" included, with its NUL */

/* Metadata of an object, of a multipart upload (id = upload id, mtime = initiated) or of a
 * part (id = data file). Owned strings; release with obj_meta_cleanup. */
struct obj_meta {
    uint64_t size;
    int64_t mtime;
    char id[OBJ_ID_LEN + 1];
    char etag[48]; /* hex MD5, or hex-N for multipart; no quotes */
    char *content_type;
    struct http_kv *hdrs; /* kept headers, lower-case names (x-amz-meta-*, cache-control...,
                             x-amz-checksum-<algo>) */
    size_t nhdrs;
    /* The object's tags (key, value) in the order set, checked by the S3 layer (s3_tagging.c).
     * They live in this record, so that each version of an object will carry its own. */
    struct http_kv *tags;
    size_t ntags;
    /* Versioning (versions.c): the version id ("" for a record written before the bucket was
     * ever versioned: the null version; "null"; or 32 hex digits), its sort key vts (write
     * time in ns, unique in the store; 0 in records without a version id) and whether the
     * version is a delete marker (no data: id is unused). */
    char vid[OBJ_VID_LEN + 1];
    uint64_t vts;
    bool dm;
    /* A multipart object's parts (obj_meta_part_get), in object order; none (nparts 0) for
     * other objects and for multipart objects completed before parts were kept. */
    uint8_t *parts;
    size_t nparts;
    uint8_t part_cklen; /* checksum bytes per part (0: the upload had no algorithm) */
    /* Its ACL (objstore/acl.h; 0: private) and its owner (the writer, s3_owner_of; NULL: the
     * bucket's owner), also in this record, for each version alike. */
    uint32_t acl;
    char *owner;
    /* Object lock (lock.c): the version's retention (mode, enum obj_lock_mode; retain-until in
     * Unix seconds, 0 without a mode) and legal hold (enum obj_legal_hold), in this record. */
    uint8_t lock_mode;
    int64_t lock_until;
    uint8_t legal_hold;
};
/* Bytes of one part of obj_meta.parts: u16 number, u64 size (little-endian), checksum. */
#define OBJ_PART_REC(cklen) (10 + (size_t)(cklen))

void obj_meta_cleanup(struct obj_meta *m);
/* Deep copy; returns TS_OK or TS_E_INTERNAL (dst zeroed). */
int obj_meta_copy(struct obj_meta *dst, const struct obj_meta *src);
/* Appends a kept header (copied). */
int obj_meta_add_hdr(struct obj_meta *m, const char *name, const char *value);
/* Removes every kept header name (any case). */
void obj_meta_del_hdr(struct obj_meta *m, const char *name);
/* The kept header's value, or NULL. */
const char *obj_meta_hdr(const struct obj_meta *m, const char *name);
/* Replaces m's tags with copies of v[0..n). TS_OK or TS_E_INTERNAL (m's tags unchanged). */
int obj_meta_set_tags(struct obj_meta *m, const struct http_kv *v, size_t n);
/* Makes room for n parts of cklen-byte checksums (zeroed), replacing m's: TS_OK or
 * TS_E_INTERNAL (m unchanged). */
int obj_meta_set_parts(struct obj_meta *m, size_t n, size_t cklen);
/* Part i (< nparts): its number, size and checksum (part_cklen bytes; ck NULL: zeros). */
void obj_meta_part_set(struct obj_meta *m, size_t i, unsigned number, uint64_t size,
                       const uint8_t *ck);
void obj_meta_part_get(const struct obj_meta *m, size_t i, unsigned *number, uint64_t *size,
                       const uint8_t **ck);
/* A tag set alone (bucket tags): the encoding of the tags of a meta record. */
void *obj_tags_encode(const struct http_kv *v, size_t n, size_t *len);
int obj_tags_decode(const void *p, size_t len, struct http_kv **v, size_t *n);
/* Binary encoding for LMDB values. encode returns a malloc'ed buffer (NULL on OOM). decode
 * returns TS_OK or TS_E_INTERNAL on a corrupt record. */
void *obj_meta_encode(const struct obj_meta *m, size_t *len);
int obj_meta_decode(const void *p, size_t len, struct obj_meta *m);

/* Per-bucket compiled policy cache entry (refcounted: a reader keeps it while evaluating). */
struct obj_pcache;

struct obj_store {
    /* Immutable after obj_store_open. */
    char *root, *objdir, *tmpdir;
    MDB_env *env;
    MDB_dbi db_buckets, db_objects, db_uploads, db_parts, db_policies, db_completed, db_bconf;
    MDB_dbi db_versions;   /* noncurrent versions and delete markers (versions.c) */
    struct pol_engine *pe; /* set by obj_route_init */
    char region[64];
    struct gw *gw; /* gateway mode (obj_gateway_route_init): the upstream; no LMDB then */
    /* Guarded by pcache_lock. */
    pthread_rwlock_t pcache_lock;
    struct obj_pcache *pcache[256];
    /* Reset read transactions kept for reuse (obj_int_rd_begin/end); guarded by rd_lock. */
    pthread_mutex_t rd_lock;
    MDB_txn *rd_pool[32];
    size_t rd_n;
    /* Group commit (obj_int_group_commit); guarded by gc_lock. */
    pthread_mutex_t gc_lock;
    pthread_cond_t gc_done;
    struct obj_gc_op *gc_head, **gc_tail;
    bool gc_busy; /* a leader is committing a batch */
    /* SSE-S3 (sse.c): the key-encryption key derived from the master key, and its name. */
    uint8_t sse_kek[32];
    char sse_key_name[64];
    bool sse_ready;
};

/* One metadata change for obj_int_group_commit: apply() runs inside a nested write
 * transaction and returns TS_OK to keep its changes (else they are rolled back alone). */
struct obj_gc_op {
    int (*apply)(struct obj_store *st, MDB_txn *txn, void *arg);
    void *arg;
    int rc;
    bool done;
    struct obj_gc_op *next;
};

/* Runs apply(st, txn, arg) in a write transaction shared with the other requests waiting
 * to commit, commits, and returns once that commit is durable: apply's result, or the
 * commit's error. The calling thread may be the one that commits the whole batch. */
int obj_int_group_commit(struct obj_store *st, int (*apply)(struct obj_store *, MDB_txn *, void *),
                         void *arg);

/* A read-only transaction, renewed from the pool when one is there (cheaper than
 * mdb_txn_begin: no allocation, no new reader slot). TS_OK or TS_E_INTERNAL. */
int obj_int_rd_begin(struct obj_store *st, MDB_txn **out);
/* Ends a transaction from obj_int_rd_begin (NULL is a no-op); cursors must be closed. */
void obj_int_rd_end(struct obj_store *st, MDB_txn *txn);

/* ---- data files ---- */

/* A data file being written: a temp file plus the MD5 of what went through it. */
struct obj_writer;

int obj_writer_new(struct obj_store *st, struct obj_writer **out);
/* Appends bytes (hashed). */
int obj_writer_write(struct obj_writer *w, const uint8_t *p, size_t n);
/* Appends the len plaintext bytes of rd from off; with hash the bytes are hashed too, else the
 * MD5 becomes invalid (copy_file_range fast path when neither side is encrypted). */
struct obj_reader;
int obj_writer_copy(struct obj_writer *w, struct obj_reader *rd, uint64_t off, uint64_t len,
                    bool hash);
/* The plaintext bytes written so far (the object's size; an encrypted file is larger). */
uint64_t obj_writer_size(const struct obj_writer *w);
/* fsyncs the temp file, renames it into objects/ and fsyncs the directory. Writes the MD5
 * (when valid) to md5 (may be NULL). */
int obj_writer_finish(struct obj_writer *w, uint8_t md5[16]);
const char *obj_writer_id(const struct obj_writer *w);
/* Removes the file unless it was committed (obj_writer_committed). NULL is a no-op. */
void obj_writer_free(struct obj_writer *w);
void obj_writer_committed(struct obj_writer *w);

/* Path of data file id into out (PATH_MAX). TS_E_INTERNAL (out not usable) when id is not
 * OBJ_ID_LEN hex digits or the path does not fit. */
int obj_data_path(const struct obj_store *st, const char *id, char *out, size_t outlen);
/* Unlinks data file id (errors ignored). */
void obj_data_unlink(const struct obj_store *st, const char *id);
/* Makes committed metadata durable (LMDB runs with MDB_NOMETASYNC; this syncs outside the
 * writer lock so that concurrent commits share the fsync). */
void obj_store_sync(struct obj_store *st);

/* ---- buckets ---- */

/* The owner of a bucket: the identity that created it (s3_owner_of: "root", or the ARN of
 * a static user, a role or a federated user). A record written before owners were kept has
 * none: it reads as owned by root (OBJ_OWNER_ROOT), which decides nothing but the
 * CreateBucket error and the ACL's Owner (authorization never looks at the owner). */
#define OBJ_OWNER_ROOT "root"
#define OBJ_MAX_OWNER_LEN 2048

struct obj_bucket_ent {
    char *name;
    char *owner;
    int64_t created;
};

/* fsyncs the directory path (a rename or create in it made durable): 0 or -1 (store.c). */
int obj_int_fsync_dir(const char *path);

/* ---- names (names.c): the one set of rules for every name that reaches the store ----
 * The S3 router applies them to the request's target and to its copy source before
 * authorization; the store's key builders apply them again. Each returns TS_OK or the S3
 * error to answer with. */

/* S3 naming rules; true when valid for CreateBucket (a reserved name is not). */
bool obj_bucket_name_valid(const char *name);
/* "tessera": the admin API's paths (/tessera/admin/v1/...) are signed like S3 requests, so no
 * bucket may have that name (path-style requests to it would reach the admin API). The other
 * paths the server answers itself (/login, /health/, /metrics, /minio/...) are unsigned and
 * leave signed requests to buckets of those names (http_req_aws_signed). */
bool obj_bucket_name_reserved(const char *name);
/* A name that may be looked up (any bucket the store can hold passes): 3..63 bytes of
 * [A-Za-z0-9._-]. TS_E_INVALID_BUCKET_NAME. */
int obj_check_bucket(const char *name);
/* 1..OBJ_MAX_KEY_LEN bytes of valid UTF-8: TS_E_INVALID_ARGUMENT (empty), TS_E_KEY_TOO_LONG,
 * TS_E_INVALID_URI (not UTF-8). */
int obj_check_key(const char *key);
/* OBJ_ID_LEN lower-case hex digits; anything else names no upload: TS_E_NO_SUCH_UPLOAD. */
int obj_check_upload_id(const char *id);
/* Decimal 1..OBJ_MAX_PARTS into *out (may be NULL); TS_E_INVALID_ARGUMENT. */
int obj_check_part_number(const char *v, unsigned *out);
/* The one rule for version ids (query, copy source, DeleteObjects, markers): NULL (no version
 * asked for), "null", or OBJ_VID_LEN lower-case hex digits (what versions.c makes);
 * TS_E_INVALID_ARGUMENT ("Invalid version id specified") otherwise. */
int obj_check_version_id(const char *v);
/* Creates bucket name owned by owner (1..OBJ_MAX_OWNER_LEN bytes, else TS_E_INVALID_ARGUMENT).
 * An existing bucket: TS_E_BUCKET_EXISTS when owner owns it (BucketAlreadyOwnedByYou), else
 * TS_E_BUCKET_TAKEN (BucketAlreadyExists). obj_bucket_create: owned by OBJ_OWNER_ROOT. */
int obj_bucket_create_owned(struct obj_store *st, const char *name, const char *owner);
int obj_bucket_create(struct obj_store *st, const char *name);
/* One bucket configuration (bucket_conf) by name. */
struct obj_bconf_ent {
    const char *name;
    const void *val;
    size_t len;
};
/* obj_bucket_create_owned with the configurations conf[0..n) (its ACL, ownership controls)
 * written in the bucket's creating transaction. */
int obj_bucket_create_with(struct obj_store *st, const char *name, const char *owner,
                           const struct obj_bconf_ent *conf, size_t n);
/* The owner of bucket name into *owner (malloc'ed): TS_OK or TS_E_NO_SUCH_BUCKET. */
int obj_bucket_owner(struct obj_store *st, const char *name, char **owner);
int obj_bucket_exists(struct obj_store *st, const char *name); /* TS_E_NO_SUCH_BUCKET */
/* Refused with TS_E_BUCKET_NOT_EMPTY when objects remain; pending uploads are aborted. */
int obj_bucket_delete(struct obj_store *st, const char *name);
/* Every bucket, sorted by name (byte order); TS_OK or TS_E_INTERNAL (nothing returned). */
int obj_bucket_list(struct obj_store *st, struct obj_bucket_ent **out, size_t *n);
void obj_bucket_list_free(struct obj_bucket_ent *v, size_t n);

/* ---- bucket policies ---- */

int obj_policy_put(struct obj_store *st, const char *bucket, const char *json, size_t len);
/* *json malloc'ed, NUL-terminated. TS_E_NO_SUCH_BUCKET_POLICY when none. */
int obj_policy_get(struct obj_store *st, const char *bucket, char **json, size_t *len);
int obj_policy_delete(struct obj_store *st, const char *bucket);
/* The compiled policy of bucket (NULL when none or bucket missing) in *doc, with a handle to
 * release with obj_policy_release once evaluation is done. A policy that cannot be read or
 * does not parse is an error (logged), never NULL: callers must deny (fail closed). */
int obj_policy_acquire(struct obj_store *st, const char *bucket, const struct pol_doc **doc,
                       struct obj_pcache **handle);
void obj_policy_release(struct obj_pcache *handle);
void obj_policy_cache_free(struct obj_store *st);

/* ---- bucket configurations (bucket_conf), removed with their bucket ---- */

/* The access configurations (s3_acl.c), which obj_access_acquire caches with the policy:
 * "acl" (u32 LE, acl.h), "pab" (one byte of OBJ_PAB_* bits), "ownership" (one byte,
 * enum obj_ownership). */
#define OBJ_PAB_BLOCK_ACLS 1u      /* BlockPublicAcls */
#define OBJ_PAB_IGNORE_ACLS 2u     /* IgnorePublicAcls */
#define OBJ_PAB_BLOCK_POLICY 4u    /* BlockPublicPolicy */
#define OBJ_PAB_RESTRICT_PUBLIC 8u /* RestrictPublicBuckets */
enum obj_ownership { OBJ_OWN_NONE, OBJ_OWN_ENFORCED, OBJ_OWN_PREFERRED, OBJ_OWN_WRITER };
/* What the authorizer asks of a bucket (struct pol_resource of policy/pol.h: its policy, its
 * public access block, its ACL source), cached with the compiled policy: TS_OK with *res
 * (NULL: the bucket does not exist) and a handle for obj_policy_release, or an error reading
 * any of it (callers deny). */
struct pol_resource;
int obj_access_acquire(struct obj_store *st, const char *bucket, const struct pol_resource **res,
                       struct obj_pcache **handle);
/* The bucket's public access block bits and ownership of a handle of obj_access_acquire. */
unsigned obj_access_pab(const struct obj_pcache *h);
enum obj_ownership obj_access_ownership(const struct obj_pcache *h);
uint32_t obj_access_acl(const struct obj_pcache *h); /* the bucket's ACL (acl.h; 0: private) */
/* The bucket's lifecycle rules (lc.h), parsed once and cached with its access configuration
 * (dropped on every configuration write and with the bucket): *lc NULL when it has none (or
 * does not exist), with a handle for obj_policy_release. */
struct lc_conf;
int obj_lc_acquire(struct obj_store *st, const char *bucket, const struct lc_conf **lc,
                   struct obj_pcache **handle);

/* Sets (val) or removes (val NULL) configuration name of bucket: TS_E_NO_SUCH_BUCKET. */
int obj_bconf_put(struct obj_store *st, const char *bucket, const char *name, const void *val,
                  size_t len);
/* *out malloc'ed (NULL, *len 0: the bucket has none). TS_E_NO_SUCH_BUCKET. */
int obj_bconf_get(struct obj_store *st, const char *bucket, const char *name, void **out,
                  size_t *len);

/* ---- objects ---- */

/* Points bucket/key at w's finished data file with metadata m (id, size and SSE headers
 * filled in from w; etag, mtime, content type and headers from m; the version id and vts set
 * in m by the bucket's versioning state). m is the record written (the caller cleans it up). A
 * replaced data file (unversioned, or the null version) is removed. */
int obj_object_commit(struct obj_store *st, const char *bucket, const char *key,
                      struct obj_writer *w, struct obj_meta *m);
/* ---- conditional writes (If-None-Match: *, If-Match) ----
 * The precondition of a write is checked against the current record of bucket/key inside the
 * one write transaction that records the new object (obj_int_precond_txn, called by the commit),
 * never by a read before it: of concurrent writes of one key with If-None-Match: *, exactly one
 * commits. "The current record" is the object's record; with versioning it must be the current
 * version, a delete marker counting as absent (and If-Match never matching one). */
struct obj_precond {
    bool if_none_match_any; /* If-None-Match: * -- no object may have the key */
    const char *if_match;   /* If-Match: the ETag (quotes optional) the object must have; NULL */
    bool seen;              /* set by obj_precond_early: the object was there and matched, so
                             * one gone at the commit was deleted meanwhile (409) */
};

/* p (NULL: none) against the current record cur (NULL: no object): TS_OK;
 * TS_E_PRECONDITION_FAILED (If-None-Match: * and an object, If-Match and another ETag);
 * TS_E_NO_SUCH_KEY (If-Match and no object); TS_E_CONDITIONAL_CONFLICT (If-Match, the object
 * seen by obj_precond_early deleted since). If-Match is checked first. */
int obj_precond_check(const struct obj_precond *p, const struct obj_meta *cur);
/* obj_precond_check against bucket/key's record in txn (the commit's): TS_OK, its errors, or
 * TS_E_NO_SUCH_BUCKET / TS_E_INTERNAL. */
int obj_int_precond_txn(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *key,
                        const struct obj_precond *p);
/* The cheap early check (before a body is read or parts are concatenated): obj_precond_check
 * against the committed record now; sets p->seen when If-Match matched. The commit checks again. */
int obj_precond_early(struct obj_store *st, const char *bucket, const char *key,
                      struct obj_precond *p);
/* obj_object_commit when pre (NULL: unconditional) holds in the commit's transaction; else its
 * error, nothing stored changes, and w's data file is removed by obj_writer_free. */
int obj_object_commit_if(struct obj_store *st, const char *bucket, const char *key,
                         struct obj_writer *w, struct obj_meta *m, const struct obj_precond *pre);
/* Metadata of bucket/key (TS_E_NO_SUCH_BUCKET / TS_E_NO_SUCH_KEY). */
int obj_object_head(struct obj_store *st, const char *bucket, const char *key,
                    struct obj_meta *out);
/* Metadata plus an open fd of the data (the right bytes even if replaced meanwhile). */
int obj_object_open(struct obj_store *st, const char *bucket, const char *key, struct obj_meta *out,
                    int *fd);
/* Replaces the tags of bucket/key, everything else of its record kept (a metadata-only
 * change, durable on return): TS_E_NO_SUCH_BUCKET / TS_E_NO_SUCH_KEY. */
int obj_object_tags_set(struct obj_store *st, const char *bucket, const char *key,
                        const struct http_kv *tags, size_t n);
/* Deletes bucket/key; TS_OK when it did not exist (TS_E_NO_SUCH_BUCKET when the bucket did
 * not). */
int obj_object_delete(struct obj_store *st, const char *bucket, const char *key);

/* ---- listing ---- */

struct obj_list_opts {
    const char *prefix;    /* NULL or "" for all */
    const char *delimiter; /* NULL or "" for none */
    const char *marker;    /* start strictly after this key (NULL: from the start) */
    size_t max;            /* entries (keys + common prefixes); 0 gives an empty page */
};

struct obj_list_ent {
    char *key; /* key, or common prefix when is_prefix */
    bool is_prefix;
    uint64_t size;
    int64_t mtime;
    char etag[48];
};

struct obj_list_res {
    struct obj_list_ent *v;
    size_t n;
    bool truncated; /* more entries follow; the next marker is v[n-1].key */
};

int obj_list(struct obj_store *st, const char *bucket, const struct obj_list_opts *o,
             struct obj_list_res *res);
void obj_list_res_cleanup(struct obj_list_res *res);

/* ---- multipart ---- */

struct obj_part_ref {
    unsigned number;
    char etag[48]; /* without quotes */
    /* The part's checksum the request names (base64 of the upload's algorithm; "" none). */
    char checksum[OBJ_CK_B64_MAX];
};

struct obj_upload_ent {
    char *key;
    char upload_id[OBJ_ID_LEN + 1];
    int64_t initiated;
};

struct obj_part_ent {
    unsigned number;
    uint64_t size;
    int64_t mtime;
    char etag[48];
    char checksum_algo[16];        /* "CRC32"...; "" when the part has no checksum */
    char checksum[OBJ_CK_B64_MAX]; /* base64 */
};

/* Creates an upload for bucket/key; m carries content type and kept headers. */
int obj_upload_create(struct obj_store *st, const char *bucket, const char *key,
                      const struct obj_meta *m, char upload_id[OBJ_ID_LEN + 1]);
/* TS_E_NO_SUCH_UPLOAD when the upload does not exist for bucket/key. out may be NULL. */
int obj_upload_get(struct obj_store *st, const char *bucket, const char *key, const char *upload_id,
                   struct obj_meta *out);
/* Records part number of the upload from w's finished file (etag = hex of md5). */
int obj_part_commit(struct obj_store *st, const char *bucket, const char *key,
                    const char *upload_id, unsigned number, struct obj_writer *w, const char *etag,
                    struct obj_meta *out);
/* Records part number as obj_part_commit does, with its checksum ck_b64 of algo (kept header
 * x-amz-checksum-<algo>; algo SIGV4_CK_NONE: none). */
int obj_part_commit_ck(struct obj_store *st, const char *bucket, const char *key,
                       const char *upload_id, unsigned number, struct obj_writer *w,
                       const char *etag, enum sigv4_cksum_algo algo, const char *ck_b64,
                       struct obj_meta *out);
/* Validates parts (TS_E_INVALID_PART_ORDER, TS_E_INVALID_PART, TS_E_ENTITY_TOO_SMALL),
 * concatenates them into the object, removes the upload. *out gets the object's meta. */
int obj_upload_complete(struct obj_store *st, const char *bucket, const char *key,
                        const char *upload_id, const struct obj_part_ref *parts, size_t n,
                        struct obj_meta *out);
/* obj_upload_complete when pre (NULL: unconditional) holds: checked early once the upload and
 * its parts are validated (before the concatenation), and again in the completion's transaction.
 * A refused completion leaves the upload as it was. */
int obj_upload_complete_if(struct obj_store *st, const char *bucket, const char *key,
                           const char *upload_id, const struct obj_part_ref *parts, size_t n,
                           const struct obj_precond *pre, struct obj_meta *out);
/* obj_upload_complete with the checksums: a part checksum named in parts[i].checksum must be
 * the part's (else TS_E_INVALID_PART; the caller checked that those the upload requires are
 * there); the object gets the upload's checksum (obj_ck_object) as its kept header, and want
 * (NULL: none), the object's checksum the client expects (base64; COMPOSITE with or without
 * "-N"), must equal it (else TS_E_BAD_DIGEST, nothing changed). The object keeps its parts'
 * numbers, sizes and checksums (obj_meta.parts). pre as obj_upload_complete_if. */
int obj_upload_complete_ck(struct obj_store *st, const char *bucket, const char *key,
                           const char *upload_id, const struct obj_part_ref *parts, size_t n,
                           const char *want, const struct obj_precond *pre, struct obj_meta *out);
int obj_upload_abort(struct obj_store *st, const char *bucket, const char *key,
                     const char *upload_id);
/* A completed upload answers a repeated CompleteMultipartUpload (a client retrying after a lost
 * answer) as the first one, for OBJ_COMPLETED_TTL seconds and while bucket/key is still the
 * object it made. The record is written in the completion's transaction; at most
 * OBJ_COMPLETED_MAX are kept (the oldest go first). */
#define OBJ_COMPLETED_TTL 3600
#define OBJ_COMPLETED_MAX 100000
/* TS_OK when upload_id was completed into bucket/key within OBJ_COMPLETED_TTL with the same
 * parts (numbers and ETags, in order) and bucket/key is still that object: *out gets its meta.
 * parts NULL: only whether such a record exists (out may be NULL). Else TS_E_NO_SUCH_UPLOAD
 * (or TS_E_INTERNAL). obj_upload_complete answers with it when the upload is gone. */
int obj_upload_completed(struct obj_store *st, const char *bucket, const char *key,
                         const char *upload_id, const struct obj_part_ref *parts, size_t n,
                         struct obj_meta *out);
/* Parts with number > marker, at most max; *truncated when more follow. */
int obj_parts_list(struct obj_store *st, const char *upload_id, unsigned marker, size_t max,
                   struct obj_part_ent **out, size_t *n, bool *truncated);
/* Uploads of bucket with key starting with prefix, after (key_marker, upload_id_marker). */
int obj_uploads_list(struct obj_store *st, const char *bucket, const char *prefix,
                     const char *key_marker, const char *upload_id_marker, size_t max,
                     struct obj_upload_ent **out, size_t *n, bool *truncated);
void obj_uploads_list_free(struct obj_upload_ent *v, size_t n);

/* ---- checksums of multipart uploads (checksum.c) ----
 * An upload keeps its algorithm and type as the kept headers OBJ_CK_ALGO_HDR ("CRC32"...) and
 * OBJ_CK_TYPE_HDR ("COMPOSITE" / "FULL_OBJECT"); a part and an object keep their checksum as
 * the kept header x-amz-checksum-<algo> (base64; an object's composite one ends in "-N"). */
#define OBJ_CK_ALGO_HDR "x-amz-checksum-algorithm"
#define OBJ_CK_TYPE_HDR "x-amz-checksum-type"

struct obj_ck_mode {
    enum sigv4_cksum_algo algo; /* SIGV4_CK_NONE: the upload has none */
    bool full;                  /* FULL_OBJECT, else COMPOSITE */
};
/* "x-amz-checksum-crc32"... for algo. */
void obj_ck_hdr_name(enum sigv4_cksum_algo algo, char out[32]);
/* The algorithm and type an upload's meta declares. */
void obj_ck_mode_of(const struct obj_meta *upload, struct obj_ck_mode *out);
/* A base64 checksum of algo (exactly its size) into out: TS_OK or TS_E_INVALID_ARGUMENT. */
int obj_ck_decode(enum sigv4_cksum_algo algo, const char *b64, uint8_t out[32]);
/* The checksum of algo that part or object m keeps, into out: false when it has none. */
bool obj_ck_of(const struct obj_meta *m, enum sigv4_cksum_algo algo, uint8_t out[32]);
/* The object's checksum from its parts (each with its checksum of mode->algo and its size), as
 * base64 (COMPOSITE: with "-N"): TS_OK, TS_E_INVALID_PART (a part has none), TS_E_INTERNAL. */
int obj_ck_object(const struct obj_ck_mode *mode, const struct obj_meta *parts, size_t n,
                  char out[OBJ_CK_B64_MAX]);

/* ---- the objects DB (store.c) ----
 * LMDB keys are limited to 511 bytes, keys to 1024: the LMDB key of bucket/key is
 * "bucket\0" + the key truncated to fit, and its value is a group of (full key, meta) entries
 * sorted by key. Byte order is kept: keys sharing a truncated prefix share a record. */

struct obj_iter {
    MDB_cursor *cur;
    const char *bucket;
    size_t blen;
    MDB_val k, v;
    const uint8_t *ep, *eend; /* next entry in the current group */
    bool started, done, pending;
    const char *pk; /* pending entry (first one at or after the seek point) */
    size_t pkl, pml;
    const uint8_t *pm;
};

/* Positions the iterator at the first key >= from (or > from when exclusive). */
int obj_iter_seek(struct obj_iter *it, MDB_txn *txn, struct obj_store *st, const char *bucket,
                  const char *from, size_t fromlen, bool exclusive);
/* Next entry: 1 with key/meta set, 0 at the end of the bucket, <0 on error. Key is not
 * NUL-terminated. */
int obj_iter_next(struct obj_iter *it, const char **key, size_t *klen, const uint8_t **meta,
                  size_t *mlen);
void obj_iter_close(struct obj_iter *it);

/* ---- SSE-S3: data files encrypted at rest (sse.c) ----
 * An encrypted data file is a sequence of chunks, each the AES-256-GCM encryption of
 * OBJ_SSE_CHUNK plaintext bytes (the last one fewer; none for an empty object) followed by its
 * 16-byte tag. Chunk i is sealed under the object's random data key with nonce = the object's
 * random IV XOR BE64(i) in its last 8 bytes, and "tessera-sse-v1" || BE64(i) || final (1 byte:
 * 1 for the last chunk) as additional data: chunks cannot be reordered, dropped or the file cut
 * without the authentication failing. The data key and IV are sealed (AES-256-GCM, random nonce)
 * under the key-encryption key HMAC-SHA256(master key, "tessera-sse-kek-v1") and kept, base64,
 * as the internal header OBJ_SSE_KEY_HDR of the object's (or part's) record, next to
 * OBJ_SSE_HDR: "AES256" (the header S3 echoes). An upload's record carries OBJ_SSE_HDR alone:
 * its parts, and the object it completes into, are encrypted. */
#define OBJ_SSE_CHUNK (64u << 10)
#define OBJ_SSE_TAG 16u
#define OBJ_SSE_ALGO "AES256"
#define OBJ_SSE_HDR "x-amz-server-side-encryption"
#define OBJ_SSE_KEY_HDR "x-tessera-sse-key" /* internal: never sent to a client */

/* Loads the master key: TESSERA_KMS_SECRET_KEY ("name:base64 of 32 bytes"), else
 * DATA_DIR/.tessera/sse.key (same form, created 0600 on first start). TS_OK, or TS_E_INTERNAL
 * after a message on stderr (malformed key, a key file others may read). */
int obj_sse_init(struct obj_store *st);
/* Makes w encrypt what it is given (before any byte): a new data key and IV. */
int obj_writer_encrypt(struct obj_writer *w);
bool obj_writer_encrypted(const struct obj_writer *w);
/* Sets m's SSE headers to what w's file is (removes them when w does not encrypt).
 * TS_OK or TS_E_INTERNAL. */
int obj_sse_meta_set(struct obj_meta *m, const struct obj_writer *w);
/* Whether the record m describes encrypted data (or, for an upload, parts to encrypt). */
bool obj_sse_meta_encrypted(const struct obj_meta *m);
/* Removes m's SSE headers (an upload's marker, or a source's key before it is copied). */
void obj_sse_meta_clear(struct obj_meta *m);

/* The plaintext of a data file: m's (its size and SSE headers), fd owned by the reader (closed
 * by obj_reader_free). TS_OK, or TS_E_INTERNAL (the sealed key does not open: logged). */
int obj_reader_new(struct obj_store *st, const struct obj_meta *m, int fd, struct obj_reader **out);
/* Reads n plaintext bytes at off into buf (off + n <= size). TS_OK or TS_E_INTERNAL (a short
 * file or a chunk that does not authenticate: logged). */
int obj_reader_read(struct obj_reader *rd, uint64_t off, void *buf, size_t n);
bool obj_reader_encrypted(const struct obj_reader *rd);
/* The data file's descriptor (plain files: their bytes are the object's). */
int obj_reader_fd(const struct obj_reader *rd);
/* Gives the descriptor to the caller (the reader no longer closes it). */
int obj_reader_take_fd(struct obj_reader *rd);
void obj_reader_free(struct obj_reader *rd); /* NULL is a no-op */

/* The encrypting side of a writer (store.c calls it): seals what it is given into fd, chunk by
 * chunk (the last one at finish). TS_OK, TS_E_STORAGE_FULL or TS_E_INTERNAL. */
struct obj_sse_enc;
int obj_sse_enc_new(struct obj_store *st, struct obj_sse_enc **out);
int obj_sse_enc_write(struct obj_sse_enc *e, int fd, const uint8_t *p, size_t n);
int obj_sse_enc_finish(struct obj_sse_enc *e, int fd);
const char *obj_sse_enc_sealed(const struct obj_sse_enc *e); /* base64 */
void obj_sse_enc_free(struct obj_sse_enc *e);
/* w's sealed data key (base64), NULL when w does not encrypt. */
const char *obj_writer_sealed_key(const struct obj_writer *w);
/* write(2) until done: TS_OK, TS_E_STORAGE_FULL (ENOSPC, EDQUOT) or TS_E_INTERNAL. */
int obj_int_write_all(int fd, const uint8_t *p, size_t n);

/* The chunk cipher itself (for tests): seals n <= OBJ_SSE_CHUNK bytes of chunk idx into out
 * (n + OBJ_SSE_TAG bytes), or opens such a sealed chunk (clen bytes, tag included) into out.
 * ctx: a context initialised with key (obj_sse_ctx_new). 0 or -1 (open: not authentic). */
void *obj_sse_ctx_new(const uint8_t key[32], bool encrypt);
void obj_sse_ctx_free(void *ctx);
int obj_sse_seal_chunk(void *ctx, const uint8_t iv[12], uint64_t idx, bool final, const uint8_t *in,
                       size_t n, uint8_t *out);
int obj_sse_open_chunk(void *ctx, const uint8_t iv[12], uint64_t idx, bool final, const uint8_t *in,
                       size_t clen, uint8_t *out);

/* ---- helpers shared by store.c and multipart.c ---- */

struct obj_idset {
    char (*v)[OBJ_ID_LEN];
    size_t n, cap;
};
int obj_idset_add(struct obj_idset *s, const char *id);
void obj_idset_unlink(struct obj_store *st, const struct obj_idset *ids);

/* Commits txn and makes it durable. */
int obj_int_commit(struct obj_store *st, MDB_txn *txn);
int obj_int_bucket_exists_txn(struct obj_store *st, MDB_txn *txn, const char *name);
/* Begins a write transaction in which bucket exists: TS_OK with *txn open, or the error
 * (TS_E_INTERNAL, or obj_int_bucket_exists_txn's) with nothing open. */
int obj_int_wr_bucket(struct obj_store *st, const char *bucket, MDB_txn **txn);
int obj_int_parts_delete_txn(struct obj_store *st, MDB_txn *txn, const char *upload_id,
                             struct obj_idset *ids);
/* Upload values: u32 bucket len, bucket, u32 key len, key, encoded meta. */
int obj_int_upload_split(const MDB_val *v, const char **b, size_t *bl, const char **k, size_t *kl,
                         const uint8_t **m, size_t *ml);
/* Sets bucket/key to the encoded meta in txn; old gets the replaced data id or "". */
int obj_int_object_put_txn(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *key,
                           const void *enc, size_t elen, char old[OBJ_ID_LEN + 1]);
void obj_int_pcache_invalidate(struct obj_store *st, const char *bucket);

/* ---- versioning (versions.c) ----
 * "objects" holds the current version of each key unless that is a delete marker, so that GET
 * of the current object stays one LMDB get and ListObjects walks current objects only.
 * "versions" holds every other version and every delete marker: LMDB key "bucket\0" + key +
 * "\0" + BE64(~vts) (a key too long for that: its first bytes + "\1" + BE64(~vts)), value u32
 * key length + key + meta. A bucket's versions are thus in list order (by key, newest first);
 * ListObjectVersions merges the two ordered walks. The bucket's versioning state is its
 * bucket_conf "versioning" ("Enabled" / "Suspended"; none: never versioned, and then every
 * write is the plain one of obj_int_object_put_txn). Invariant: objects has bucket/key iff
 * the newest version of key is not a delete marker, and it is newer than every entry of
 * versions for key. Data files of noncurrent versions are unlinked only when the version is
 * deleted (after the commit); referenced_ids counts them. */
enum obj_versioning { OBJ_VER_OFF, OBJ_VER_ENABLED, OBJ_VER_SUSPENDED };

int obj_versioning_get(struct obj_store *st, const char *bucket, enum obj_versioning *out);
/* ENABLED or SUSPENDED (a bucket never goes back to OFF): TS_E_NO_SUCH_BUCKET. */
int obj_versioning_set(struct obj_store *st, const char *bucket, enum obj_versioning v);
/* Makes m (id and size set) the new current version of bucket/key in txn, as the bucket's
 * state says (m->vid, m->vts set: "" when never versioned). *old: the data id of a version
 * it replaced (the null one), to unlink after the commit, or "". */
int obj_int_object_write_txn(struct obj_store *st, MDB_txn *txn, const char *bucket,
                             const char *key, struct obj_meta *m, char old[OBJ_ID_LEN + 1]);
/* Version vid (NULL: the current) of bucket/key into out. TS_E_NO_SUCH_KEY (vid NULL),
 * TS_E_NO_SUCH_VERSION, or TS_E_METHOD_NOT_ALLOWED when vid names a delete marker (out then
 * holds the marker: to be cleaned up). */
int obj_version_head(struct obj_store *st, const char *bucket, const char *key, const char *vid,
                     struct obj_meta *out);
/* obj_version_head plus an open fd of the data (as obj_object_open). */
int obj_version_open(struct obj_store *st, const char *bucket, const char *key, const char *vid,
                     struct obj_meta *out, int *fd);
/* Whether the current version of bucket/key is a delete marker: true with its id in vid. */
bool obj_version_current_dm(struct obj_store *st, const char *bucket, const char *key,
                            char vid[OBJ_VID_LEN + 1]);
struct obj_del_res {
    bool dm;                   /* a delete marker was made, or the version deleted was one */
    char vid[OBJ_VID_LEN + 1]; /* the version made or deleted ("": none) */
};
/* vid NULL: deletes the current version (a versioned bucket: makes a delete marker; a suspended
 * one: a null one, replacing the null version); else deletes version vid (TS_OK when it does
 * not exist), the next newest becoming current. TS_E_NO_SUCH_BUCKET. */
int obj_object_delete_version(struct obj_store *st, const char *bucket, const char *key,
                              const char *vid, struct obj_del_res *res);
/* Replaces the tags of version vid (NULL: the current) of bucket/key (errors of
 * obj_version_head). */
int obj_version_tags_set(struct obj_store *st, const char *bucket, const char *key, const char *vid,
                         const struct http_kv *tags, size_t n);
/* Replaces the ACL (acl.h) of version vid (NULL: the current) of bucket/key, as
 * obj_version_tags_set. */
int obj_version_acl_set(struct obj_store *st, const char *bucket, const char *key, const char *vid,
                        uint32_t acl);

struct obj_vlist_opts {
    const char *prefix, *delimiter; /* NULL or "" for none */
    const char *key_marker, *vid_marker;
    size_t max;
};
struct obj_vlist_ent {
    char *key; /* key, or common prefix when is_prefix */
    bool is_prefix, latest, dm;
    uint64_t size;
    int64_t mtime;
    char etag[48];
    char vid[OBJ_VID_LEN + 1]; /* "null" for the null version */
};
struct obj_vlist_res {
    struct obj_vlist_ent *v;
    size_t n;
    bool truncated; /* the next markers are v[n-1]'s key and version id */
};
int obj_versions_list(struct obj_store *st, const char *bucket, const struct obj_vlist_opts *o,
                      struct obj_vlist_res *res);
void obj_vlist_res_cleanup(struct obj_vlist_res *res);
/* In txn: 1 when bucket has a version or delete marker in versions, 0 when not, <0 on error. */
int obj_int_versions_any_txn(struct obj_store *st, MDB_txn *txn, const char *bucket);
/* Adds the data ids of every version in versions to s (delete markers have none). */
int obj_int_versions_ids(struct obj_store *st, MDB_txn *txn, struct obj_idset *s);
/* store.c for versions.c: the current record of bucket/key in txn (no bucket check): TS_OK,
 * TS_E_NO_SUCH_KEY, or an error; removes it (*old: its data id, "" when absent). */
int obj_int_object_get_txn(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *key,
                           struct obj_meta *out);
int obj_int_object_del_txn(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *key,
                           char old[OBJ_ID_LEN + 1]);
/* The raw bucket configuration name of bucket in txn into *v: 0, MDB_NOTFOUND or an error. */
int obj_int_bconf_get_txn(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *name,
                          MDB_val *v);

/* ---- lifecycle expiration (versions.c, for lc_run.c) ----
 * One expiration the lifecycle pass decided, carried out by the delete of
 * obj_object_delete_version (so every check of a delete applies: object lock refuses a
 * protected version there) in one short transaction, only while the version is still what the
 * pass read: CURRENT deletes the current version (a versioned bucket: adds a delete marker)
 * when it is still version vid written at mtime; NONCURRENT deletes version vid when it is not
 * the current one; MARKER deletes delete marker vid when it is the current version and, once
 * gone, key has no version left. */
enum obj_expire_kind { OBJ_EXPIRE_CURRENT, OBJ_EXPIRE_NONCURRENT, OBJ_EXPIRE_MARKER };
struct obj_expire {
    enum obj_expire_kind kind;
    const char *key;
    const char *vid; /* "null" for the null version (and every version of an unversioned bucket) */
    int64_t mtime;   /* CURRENT: the version's */
};
/* TS_OK (done), TS_E_PRECONDITION_FAILED (no longer what was evaluated: nothing changed), or
 * the delete's error (TS_E_NO_SUCH_BUCKET, a refusal of a protected version...). */
int obj_object_expire(struct obj_store *st, const char *bucket, const struct obj_expire *x,
                      struct obj_del_res *res);

/* ---- object lock (lock.c) ----
 * A version's retention and legal hold live in its meta record (obj_meta.lock_*, meta.c section
 * 4). The bucket's configuration is its bucket_conf "object-lock" (obj_lock_conf_encode): a
 * bucket that has one keeps versioning Enabled (obj_versioning_set refuses Suspended). The
 * protection rule (obj_lock_check_remove) is applied inside every write transaction that removes
 * a version (versions.c), reading the version's record in that transaction: a protected version
 * is removed by no path (DeleteObject, DeleteObjects, lifecycle, a suspended bucket's write of
 * the null version), and a record that does not decode denies. Bypassing a GOVERNANCE retention
 * is a flag (OBJ_DEL_BYPASS_GOVERNANCE) the S3 layer passes only once the caller was authorized
 * for s3:BypassGovernanceRetention. Times are the server's clock (enc_now). */
enum obj_lock_mode { OBJ_LOCK_NONE, OBJ_LOCK_GOVERNANCE, OBJ_LOCK_COMPLIANCE };
enum obj_legal_hold { OBJ_HOLD_NONE, OBJ_HOLD_OFF, OBJ_HOLD_ON };
#define OBJ_LOCK_CONF "object-lock"
#define OBJ_DEL_BYPASS_GOVERNANCE 1u
#define OBJ_LOCK_MAX_DAYS 36500u
#define OBJ_LOCK_MAX_YEARS 100u

struct obj_lock_conf {
    bool enabled;            /* ObjectLockEnabled: Enabled */
    enum obj_lock_mode mode; /* the default retention's mode (NONE: no default retention) */
    uint32_t days, years;    /* with a mode: exactly one of them, positive */
};
/* The value kept in bucket_conf (NUL-terminated text, at most 64 bytes with its NUL): "Enabled"
 * or "Enabled GOVERNANCE|COMPLIANCE <n> Days|Years". decode: TS_OK or TS_E_INTERNAL (anything
 * else, fail closed). */
size_t obj_lock_conf_encode(const struct obj_lock_conf *c, char out[64]);
int obj_lock_conf_decode(const void *p, size_t len, struct obj_lock_conf *out);
/* The bucket's configuration (enabled false: none): TS_E_NO_SUCH_BUCKET, TS_E_INTERNAL. */
int obj_lock_conf_get(struct obj_store *st, const char *bucket, struct obj_lock_conf *out);
int obj_int_lock_conf_txn(struct obj_store *st, MDB_txn *txn, const char *bucket,
                          struct obj_lock_conf *out);
/* Sets c (enabled) as the bucket's configuration, in one transaction with the check that its
 * versioning is Enabled: TS_E_INVALID_BUCKET_STATE otherwise, TS_E_NO_SUCH_BUCKET. */
int obj_lock_conf_put(struct obj_store *st, const char *bucket, const struct obj_lock_conf *c);
/* The rules, pure. May version m be removed at now (bypass: of a GOVERNANCE retention)? TS_OK,
 * or TS_E_ACCESS_DENIED: a legal hold ON, a COMPLIANCE retention not yet past, a GOVERNANCE one
 * not yet past without bypass. */
int obj_lock_check_remove(const struct obj_meta *m, int64_t now, bool bypass);
/* May the retention of m become (mode, until) (mode NONE: removed) at now? An expired retention
 * may become anything; an active COMPLIANCE one only COMPLIANCE with a date as late or later; an
 * active GOVERNANCE one GOVERNANCE as late or later, anything else with bypass. TS_OK or
 * TS_E_ACCESS_DENIED. */
int obj_lock_check_retention(const struct obj_meta *m, enum obj_lock_mode mode, int64_t until,
                             int64_t now, bool bypass);
/* The default retention of c given to m, written at now, when m has no retention. */
void obj_lock_default(const struct obj_lock_conf *c, struct obj_meta *m, int64_t now);
/* Sets the retention (mode NONE, until 0: removes it) of version vid (NULL: the current) of
 * bucket/key, obj_lock_check_retention applied in the write transaction (errors of
 * obj_version_head, TS_E_ACCESS_DENIED). */
int obj_version_retention_set(struct obj_store *st, const char *bucket, const char *key,
                              const char *vid, enum obj_lock_mode mode, int64_t until, bool bypass);
/* Sets the legal hold of version vid (NULL: the current) of bucket/key. */
int obj_version_legal_hold_set(struct obj_store *st, const char *bucket, const char *key,
                               const char *vid, enum obj_legal_hold hold);
/* obj_object_delete_version with flags (OBJ_DEL_BYPASS_GOVERNANCE): a version the lock protects
 * is TS_E_ACCESS_DENIED, nothing changed. obj_object_delete_version is this with flags 0. */
int obj_object_delete_version_flags(struct obj_store *st, const char *bucket, const char *key,
                                    const char *vid, unsigned flags, struct obj_del_res *res);
/* versions.c for lock.c: reads version vid (NULL: the current) of bucket/key, runs edit on it
 * (in txn, the write transaction) and writes it back, in that one transaction (edit's error:
 * nothing written; errors of obj_version_head). */
typedef int obj_version_edit_fn(struct obj_store *st, MDB_txn *txn, const char *bucket,
                                struct obj_meta *m, void *arg);
int obj_int_version_edit(struct obj_store *st, const char *bucket, const char *key, const char *vid,
                         obj_version_edit_fn *edit, void *arg);
/* store.c: puts the configurations conf[0..n) of bucket in txn. */
int obj_int_bconf_put_txn(struct obj_store *st, MDB_txn *txn, const char *bucket,
                          const struct obj_bconf_ent *conf, size_t n);

#endif
