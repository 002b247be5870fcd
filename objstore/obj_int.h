/* obj_int.h -- the storage engine's interface inside objstore/ (not for other modules).
 *
 * Layout under DATA_DIR/.tessera/ (DESIGN §4.2):
 *   meta/              LMDB env: "buckets" (name -> created LE64 + owner), "objects"
 *                      (bucket\0key -> meta), "uploads" (bucket\0key\0uploadid -> meta),
 *                      "parts" (uploadid + BE32 part number -> meta), "policies" (bucket ->
 *                      policy JSON), "completed" (uploads completed lately, multipart.c),
 *                      "bucket_conf" (bucket\0name -> a bucket configuration: "tagging", "cors",
 *                      "acl", "pab", "ownership")
 *   objects/ab/cd/ID   data files, ID = 32 hex digits of a random 128-bit id
 *   tmp/               in-progress writes
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
    /* Its ACL (objstore/acl.h; 0: private) and its owner (the writer, s3_owner_of; NULL: the
     * bucket's owner), also in this record, for each version alike. */
    uint32_t acl;
    char *owner;
};

void obj_meta_cleanup(struct obj_meta *m);
/* Deep copy; returns TS_OK or TS_E_INTERNAL (dst zeroed). */
int obj_meta_copy(struct obj_meta *dst, const struct obj_meta *src);
/* Appends a kept header (copied). */
int obj_meta_add_hdr(struct obj_meta *m, const char *name, const char *value);
/* The kept header's value, or NULL. */
const char *obj_meta_hdr(const struct obj_meta *m, const char *name);
/* Replaces m's tags with copies of v[0..n). TS_OK or TS_E_INTERNAL (m's tags unchanged). */
int obj_meta_set_tags(struct obj_meta *m, const struct http_kv *v, size_t n);
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
/* Appends len bytes of fd from off; with hash the bytes are hashed too, else the MD5 becomes
 * invalid (copy_file_range fast path). */
int obj_writer_copy_fd(struct obj_writer *w, int fd, uint64_t off, uint64_t len, bool hash);
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

/* ---- names (names.c): the one set of rules for every name that reaches the store ----
 * The S3 router applies them to the request's target and to its copy source before
 * authorization; the store's key builders apply them again. Each returns TS_OK or the S3
 * error to answer with. */

/* S3 naming rules; true when valid for CreateBucket. */
bool obj_bucket_name_valid(const char *name);
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
/* NULL (no version asked for) or "null" (the only version of an object here);
 * TS_E_INVALID_ARGUMENT otherwise. */
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

/* Sets (val) or removes (val NULL) configuration name of bucket: TS_E_NO_SUCH_BUCKET. */
int obj_bconf_put(struct obj_store *st, const char *bucket, const char *name, const void *val,
                  size_t len);
/* *out malloc'ed (NULL, *len 0: the bucket has none). TS_E_NO_SUCH_BUCKET. */
int obj_bconf_get(struct obj_store *st, const char *bucket, const char *name, void **out,
                  size_t *len);

/* ---- objects ---- */

/* Points bucket/key at w's finished data file with metadata m (id, size filled in from w;
 * etag, mtime, content type and headers from m). The replaced data file is removed. */
int obj_object_commit(struct obj_store *st, const char *bucket, const char *key,
                      struct obj_writer *w, const struct obj_meta *m);
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
/* Replaces the ACL of bucket/key (acl.h), everything else of its record kept, as
 * obj_object_tags_set. */
int obj_object_acl_set(struct obj_store *st, const char *bucket, const char *key, uint32_t acl);
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
/* Validates parts (TS_E_INVALID_PART_ORDER, TS_E_INVALID_PART, TS_E_ENTITY_TOO_SMALL),
 * concatenates them into the object, removes the upload. *out gets the object's meta. */
int obj_upload_complete(struct obj_store *st, const char *bucket, const char *key,
                        const char *upload_id, const struct obj_part_ref *parts, size_t n,
                        struct obj_meta *out);
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

#endif
