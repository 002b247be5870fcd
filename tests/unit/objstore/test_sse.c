/* test_sse.c -- the SSE-S3 chunk cipher (round trip, tamper, reorder, truncation, wrong final
 * flag) and an encrypted object through the store (writer, reader, ranges across chunks). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/enc.h"
#include "core/err.h"
#include "objstore/obj_int.h"
#include "tests/harness/t.h"

#define N 1000

static void chunk_cipher(void)
{
    uint8_t key[32], iv[12], in[N], ct[N + OBJ_SSE_TAG], out[N];
    enc_random(key, sizeof key);
    enc_random(iv, sizeof iv);
    enc_random(in, sizeof in);
    void *e = obj_sse_ctx_new(key, true), *d = obj_sse_ctx_new(key, false);
    ok(e != NULL && d != NULL, "contexts");
    is_int(obj_sse_seal_chunk(e, iv, 5, false, in, N, ct), 0, "seal");
    ok(memcmp(ct, in, 64) != 0, "ciphertext differs");
    is_int(obj_sse_open_chunk(d, iv, 5, false, ct, sizeof ct, out), 0, "open");
    is_mem(out, in, N, "round trip");
    /* Another index (reordered), another final flag (truncated/extended), a flipped bit in
     * the data or the tag, a short chunk: none opens. */
    is_int(obj_sse_open_chunk(d, iv, 6, false, ct, sizeof ct, out), -1, "reordered");
    is_int(obj_sse_open_chunk(d, iv, 5, true, ct, sizeof ct, out), -1, "final flag");
    ct[17] ^= 1;
    is_int(obj_sse_open_chunk(d, iv, 5, false, ct, sizeof ct, out), -1, "tampered data");
    ct[17] ^= 1;
    ct[N + 3] ^= 0x80;
    is_int(obj_sse_open_chunk(d, iv, 5, false, ct, sizeof ct, out), -1, "tampered tag");
    ct[N + 3] ^= 0x80;
    is_int(obj_sse_open_chunk(d, iv, 5, false, ct, sizeof ct - 1, out), -1, "cut");
    is_int(obj_sse_open_chunk(d, iv, 5, false, ct, OBJ_SSE_TAG - 1, out), -1, "too short");
    uint8_t iv2[12];
    memcpy(iv2, iv, 12);
    iv2[0] ^= 1;
    is_int(obj_sse_open_chunk(d, iv2, 5, false, ct, sizeof ct, out), -1, "other object's IV");
    is_int(obj_sse_open_chunk(d, iv, 5, false, ct, sizeof ct, out), 0, "still opens");
    /* Same plaintext, two chunk indexes: different ciphertexts (distinct nonces). */
    uint8_t ct2[N + OBJ_SSE_TAG];
    obj_sse_seal_chunk(e, iv, 6, false, in, N, ct2);
    ok(memcmp(ct, ct2, N) != 0, "nonce per chunk");
    obj_sse_ctx_free(e);
    obj_sse_ctx_free(d);
}

static void through_store(void)
{
    char dir[] = "/tmp/tessera-sse-XXXXXX";
    struct obj_store *st;
    struct obj_writer *w;
    struct obj_meta m = {0}, got;
    uint8_t md5[16];
    size_t size = 3 * OBJ_SSE_CHUNK + 77;
    uint8_t *data = malloc(size), *back = malloc(size);
    int fd;
    ok(mkdtemp(dir) != NULL, "tmp dir");
    is_int(obj_store_open(dir, &st), TS_OK, "open store");
    is_int(obj_bucket_create(st, "bkt"), TS_OK, "bucket");
    enc_random(data, size);
    is_int(obj_writer_new(st, &w), TS_OK, "writer");
    is_int(obj_writer_encrypt(w), TS_OK, "encrypt");
    for (size_t off = 0; off < size; off += 1000)
        obj_writer_write(w, data + off, size - off < 1000 ? size - off : 1000);
    is_int(obj_writer_finish(w, md5), TS_OK, "finish");
    is_int(obj_object_commit(st, "bkt", "k", w, &m), TS_OK, "commit");
    ok(obj_sse_meta_encrypted(&m), "the caller's record is the one written (its SSE headers)");
    obj_meta_cleanup(&m);
    obj_writer_free(w);
    is_int(obj_object_open(st, "bkt", "k", &got, &fd), TS_OK, "open object");
    ok(obj_sse_meta_encrypted(&got), "record says encrypted");
    ok(lseek(fd, 0, SEEK_END) == (off_t)(size + 4 * OBJ_SSE_TAG), "file is the chunks");
    struct obj_reader *rd;
    is_int(obj_reader_new(st, &got, fd, &rd), TS_OK, "reader");
    is_int(obj_reader_read(rd, 0, back, size), TS_OK, "read all");
    is_mem(back, data, size, "plaintext");
    is_int(obj_reader_read(rd, OBJ_SSE_CHUNK - 5, back, 10), TS_OK, "across a boundary");
    is_mem(back, data + OBJ_SSE_CHUNK - 5, 10, "range");
    is_int(obj_reader_read(rd, size - 3, back, 3), TS_OK, "tail");
    is_mem(back, data + size - 3, 3, "tail bytes");
    ok(obj_reader_read(rd, size - 3, back, 4) != TS_OK, "past the end refused");
    obj_reader_free(rd);
    obj_meta_cleanup(&got);
    obj_store_close(st);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ok(system(cmd) == 0, "cleanup");
    free(data);
    free(back);
}

int main(void)
{
    chunk_cipher();
    through_store();
    return t_done();
}
