/* fuzz_router.c -- the whole request path, from raw bytes on a socket: libmicrohttpd's parser,
 * core/http (URI decoding, query parsing, routing, limits, body filters), the authn hook
 * (SigV4/SigV2 header and query parsing; a fuzzed signature never verifies, so requests stay
 * anonymous or fail authentication), the STS route and the S3 router (bucket/key split and
 * validation, operation lookup, authorization) and the handlers behind it: bucket "pub" has a
 * public read-write bucket policy (objects and listings, not the policy itself), so anonymous
 * PUT/GET/LIST/DELETE/multipart/copy requests reach the object store; "priv" has none
 * (AccessDenied paths). The world also keeps an object pub/src (1 KiB) as a copy source and
 * a pending multipart upload of pub/mpu: an input names that upload with the placeholder
 * UPLOAD_PLACEHOLDER (32 'u', not an upload id by itself), which is replaced with its real,
 * random id before the input is sent, so that UploadPart and UploadPartCopy (copy source,
 * copy-source-range, part numbers) reach the store. Both are put back before an input when
 * an earlier one removed them.
 *
 * Each input is sent as-is on a fresh loopback connection to an in-process server (one
 * thread), the write side is shut down and the answer read until EOF or a short silence (an
 * incomplete request waits for its body), then the connection is reset. Oracles: the sanitizers,
 * an answer that, when present, starts like an HTTP/1.x status line, and a probe every 256
 * inputs that the server still lists "pub". The data directory lives in /dev/shm (or TMPDIR)
 * and the whole server is rebuilt on a fresh one when it grows past 256 MiB. */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/http.h"
#include "core/log.h"
#include "idp/iam.h"
#include "objstore/obj.h"
#include "objstore/obj_int.h"
#include "policy/pol.h"
#include "sts/sts.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Object and listing operations only: with s3:* an input could delete this very policy (or the
 * bucket) and the liveness probe would see AccessDenied. */
static const char pub_policy[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\","
    "\"Action\":[\"s3:GetObject\",\"s3:PutObject\",\"s3:DeleteObject\",\"s3:ListBucket\","
    "\"s3:ListBucketMultipartUploads\",\"s3:ListMultipartUploadParts\","
    "\"s3:AbortMultipartUpload\",\"s3:GetBucketLocation\"],"
    "\"Resource\":[\"arn:aws:s3:::pub\",\"arn:aws:s3:::pub/*\"]}]}";

#define UPLOAD_PLACEHOLDER "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu"

static struct world {
    char dir[256];
    char upload[OBJ_ID_LEN + 1]; /* the standing upload of pub/mpu */
    struct iam_store *iam;
    struct pol_engine *pe;
    struct sts_ctx *sts;
    struct obj_store *obj;
    struct http_server *srv;
    struct http_route sts_route, s3_route;
    unsigned port;
    unsigned long inputs;
    unsigned long probe_every; /* FUZZ_ROUTER_PROBE_EVERY, default 256 */
    bool show;                 /* FUZZ_ROUTER_SHOW: print each answer's status line */
} w;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static uint64_t used_bytes;
static int du_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)path, (void)flag, (void)ftw;
    used_bytes += (uint64_t)sb->st_blocks * 512;
    return 0;
}

static void world_stop(void)
{
    http_server_free(w.srv);
    obj_store_close(w.obj);
    sts_ctx_free(w.sts);
    pol_engine_free(w.pe);
    iam_store_close(w.iam);
    w.srv = NULL, w.obj = NULL, w.sts = NULL, w.pe = NULL, w.iam = NULL;
    if (w.dir[0])
        nftw(w.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    w.dir[0] = '\0';
}

static void die(const char *what)
{
    fprintf(stderr, "fuzz_router: %s\n", what);
    abort();
}

/* Puts back pub/src and the standing upload of pub/mpu when an input removed them. */
static void world_refresh(void)
{
    struct obj_meta m = {0};
    if (obj_object_head(w.obj, "pub", "src", &m) == TS_OK) {
        obj_meta_cleanup(&m);
    } else {
        struct obj_writer *wr;
        uint8_t data[1024], md5[16];
        for (size_t i = 0; i < sizeof data; i++)
            data[i] = (uint8_t)i;
        if (obj_writer_new(w.obj, &wr) != TS_OK)
            die("writer");
        if (obj_writer_write(wr, data, sizeof data) != TS_OK || obj_writer_finish(wr, md5) != TS_OK)
            die("write pub/src");
        enc_hex(md5, 16, m.etag);
        m.mtime = 1;
        if (obj_object_commit(w.obj, "pub", "src", wr, &m) != TS_OK)
            die("commit pub/src");
        obj_writer_free(wr);
    }
    if (obj_upload_get(w.obj, "pub", "mpu", w.upload, NULL) != TS_OK) {
        struct obj_meta um = {0};
        if (obj_upload_create(w.obj, "pub", "mpu", &um, w.upload) != TS_OK)
            die("upload pub/mpu");
    }
}

static void world_start(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    char iamdir[300];
    snprintf(w.dir, sizeof w.dir, "%s/fuzz-router-XXXXXX", base ? base : "/tmp");
    if (mkdtemp(w.dir) == NULL)
        die("mkdtemp");
    snprintf(iamdir, sizeof iamdir, "%s/iam", w.dir);
    if (mkdir(iamdir, 0700) != 0 || iam_store_open(iamdir, &w.iam) != TS_OK ||
        (w.pe = pol_engine_new(w.iam)) == NULL)
        die("iam");
    struct sts_config sc = {.region = "us-east-1",
                            .root_user = "fuzzroot",
                            .root_secret = "fuzzroot-secret",
                            .data_dir = w.dir,
                            .max_duration = 3600};
    if ((w.sts = sts_ctx_new(&sc, w.iam, w.pe)) == NULL || obj_store_open(w.dir, &w.obj) != TS_OK)
        die("sts/obj");
    if (obj_bucket_create(w.obj, "pub") != TS_OK || obj_bucket_create(w.obj, "priv") != TS_OK ||
        obj_policy_put(w.obj, "pub", pub_policy, sizeof pub_policy - 1) != TS_OK)
        die("buckets");
    struct http_config hc = {.address = "127.0.0.1:0", .threads = 1, .connection_timeout = 2};
    if ((w.srv = http_server_new(&hc)) == NULL)
        die("server");
    sts_route_init(&w.sts_route, w.sts);
    obj_route_init(&w.s3_route, w.obj, w.pe);
    http_server_add_route(w.srv, &w.sts_route);
    http_server_add_route(w.srv, &w.s3_route);
    http_server_set_authn(w.srv, sts_authenticate, sts_authenticate_finish, w.sts);
    if (http_server_start(w.srv) != 0)
        die("start");
    w.port = http_server_port(w.srv);
    w.upload[0] = '\0';
    world_refresh();
}

/* Sends req, shuts down the write side, reads the answer (at most cap bytes kept) until EOF or
 * a silence of wait_ms, and resets the connection. Returns the number of bytes kept. */
static size_t exchange(const uint8_t *req, size_t n, char *ans, size_t cap, int wait_ms)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)w.port)};
    struct timeval tv = {.tv_sec = 1};
    size_t got = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        die("socket");
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    for (int attempt = 0; connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0; attempt++) {
        /* Refused or timed out: the server stopped accepting, which is a finding. */
        fprintf(stderr, "fuzz_router: connect: %s (attempt %d)\n", strerror(errno), attempt);
        if (attempt == 4)
            die("the server no longer accepts connections");
        close(fd);
        usleep(200 * 1000);
        if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
            die("socket");
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    for (size_t off = 0; off < n;) {
        ssize_t k = send(fd, req + off, n - off, MSG_NOSIGNAL);
        if (k <= 0)
            break; /* the server may refuse early (limits) and close */
        off += (size_t)k;
    }
    shutdown(fd, SHUT_WR);
    for (;;) {
        char tmp[4096];
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, wait_ms) != 1)
            break;
        ssize_t k = recv(fd, tmp, sizeof tmp, 0);
        if (k <= 0)
            break;
        size_t keep = got + (size_t)k <= cap ? (size_t)k : cap - got;
        memcpy(ans + got, tmp, keep);
        got += keep;
    }
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    return got;
}

static void probe(void)
{
    static const char req[] = "GET /pub?list-type=2&max-keys=1 HTTP/1.1\r\nHost: x\r\n"
                              "Connection: close\r\n\r\n";
    char ans[64];
    size_t n = 0;
    /* Patient: a loaded machine can starve this (niced) process for seconds. */
    for (int attempt = 0; attempt < 5; attempt++) {
        n = exchange((const uint8_t *)req, sizeof req - 1, ans, sizeof ans - 1, 2000);
        ans[n] = '\0';
        if (strncmp(ans, "HTTP/1.1 200 ", 13) == 0)
            return;
    }
    fprintf(stderr, "fuzz_router: the server stopped answering: \"%s\"\n", ans);
    abort();
}

static void at_exit(void)
{
    world_stop();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_ERROR); /* no access log line per input */
    const char *pe = getenv("FUZZ_ROUTER_PROBE_EVERY");
    w.probe_every = pe && atol(pe) > 0 ? (unsigned long)atol(pe) : 256;
    w.show = getenv("FUZZ_ROUTER_SHOW") != NULL;
    world_start();
    atexit(at_exit);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char ans[256];
    const size_t pl = sizeof UPLOAD_PLACEHOLDER - 1;
    uint8_t *req = NULL;
    world_refresh();
    if (memmem(data, size, UPLOAD_PLACEHOLDER, pl) != NULL) {
        if ((req = malloc(size)) == NULL)
            die("malloc");
        memcpy(req, data, size);
        uint8_t *p = memmem(req, size, UPLOAD_PLACEHOLDER, pl);
        while (p != NULL) {
            memcpy(p, w.upload, pl);
            p += pl;
            p = memmem(p, size - (size_t)(p - req), UPLOAD_PLACEHOLDER, pl);
        }
        data = req;
    }
    size_t n = exchange(data, size, ans, w.show ? sizeof ans - 1 : 16, 15);
    free(req);
    if (w.show) {
        ans[n] = '\0';
        fprintf(stderr, "fuzz_router: %.*s\n", (int)strcspn(ans, "\r\n"), ans);
    }
    /* Whatever came back is an HTTP/1.x answer (libmicrohttpd's or ours), never stray bytes. */
    if (n >= 9 && memcmp(ans, "HTTP/1.", 7) != 0) {
        fprintf(stderr, "fuzz_router: answer does not start with a status line\n");
        abort();
    }
    if (++w.inputs % w.probe_every == 0) {
        probe();
        used_bytes = 0;
        nftw(w.dir, du_entry, 16, FTW_PHYS);
        if (used_bytes > (256u << 20)) {
            world_stop();
            world_start();
        }
    }
    return 0;
}
