/* test_cluster.c -- the node list of `tessera admin cluster status` (cluster_node_json: up
 * within CLUSTER_UP_S, malformed records, self) and the token key a node seals with after a
 * rotation (STS_KEY_PUBLISH_S), with the key ids it reports (sts_key_ids). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/enc.h"
#include "core/err.h"
#include "sts/cluster.h"
#include "sts/sts_int.h"
#include "tests/harness/t.h"

static char dir_tmpl[] = "/tmp/ts_sts_cluster_XXXXXX";

static void node_json(void)
{
    const time_t now = 1700000000;
    char rec[256];
    json_t *n;

    snprintf(rec, sizeof rec,
             "{\"id\":\"ffffffffffffffff\",\"address\":\"http://a:9000\",\"updated\":%lld,"
             "\"key_ids\":[\"k1\"]}",
             (long long)(now - CLUSTER_UP_S));
    n = cluster_node_json("0123456789abcdef", rec, "0123456789abcdef", now);
    ok(n != NULL, "node");
    is_str(json_string_value(json_object_get(n, "id")), "0123456789abcdef",
           "the id is the key, never the record's");
    ok(json_is_true(json_object_get(n, "up")), "up at CLUSTER_UP_S");
    ok(json_is_true(json_object_get(n, "self")), "self");
    is_int(json_integer_value(json_object_get(n, "age_s")), CLUSTER_UP_S, "age");
    is_str(json_string_value(json_object_get(n, "address")), "http://a:9000", "fields kept");
    json_decref(n);

    snprintf(rec, sizeof rec, "{\"updated\":%lld}", (long long)(now - CLUSTER_UP_S - 1));
    n = cluster_node_json("b", rec, "a", now);
    ok(n != NULL && json_is_false(json_object_get(n, "up")), "down after CLUSTER_UP_S");
    ok(json_is_false(json_object_get(n, "self")), "not self");
    json_decref(n);

    snprintf(rec, sizeof rec, "{\"updated\":%lld}", (long long)(now + CLUSTER_UP_S + 5));
    n = cluster_node_json("c", rec, NULL, now);
    ok(n != NULL && json_is_false(json_object_get(n, "up")), "a record from the future is down");
    json_decref(n);

    static const char *const bad[] = {"", "[]", "{\"updated\":\"1\"}", "{", NULL};
    for (size_t i = 0; i < 5; i++) {
        n = cluster_node_json("d", bad[i], NULL, now);
        ok(n != NULL && json_is_false(json_object_get(n, "up")) &&
               json_object_get(n, "error") != NULL,
           "malformed record %zu", i);
        json_decref(n);
    }
}

/* The kid of a sealed token (bytes 1..8 of its base64url decoding). */
static void kid_of(const char *tok, char kid[STS_KID_LEN + 1])
{
    uint8_t *raw = NULL;
    long n = enc_unb64url(tok, strlen(tok), &raw);
    kid[0] = '\0';
    if (n > STS_KID_LEN) {
        memcpy(kid, raw + 1, STS_KID_LEN);
        kid[STS_KID_LEN] = '\0';
    }
    free(raw);
}

static void seal_one(struct sts_ctx *c, char kid[STS_KID_LEN + 1])
{
    struct sts_token t;
    char *tok = NULL, sec[41];
    time_t now = enc_now();

    memset(&t, 0, sizeof t);
    memcpy(t.access_key, "ABCDEFGHIJ0123456789", 21);
    t.issued = now;
    t.expires = now + 3600;
    t.parent = "alice";
    t.source = "static";
    is_int(sts_seal(c, &t, &tok, sec), TS_OK, "seal");
    kid_of(tok != NULL ? tok : "", kid);
    free(tok);
}

static void publish_delay(void)
{
    struct sts_config cfg = {.region = "us-east-1", .max_duration = 3600};
    struct iam_store *st = NULL;
    struct sts_ctx *c;
    char ids[8][STS_KID_LEN + 1], mint[STS_KID_LEN + 1], kid[32], sealed[STS_KID_LEN + 1];
    size_t n;

    if (iam_store_open(dir_tmpl, &st) != TS_OK || (c = sts_ctx_new(&cfg, st, NULL)) == NULL) {
        ok(0, "context");
        iam_store_close(st);
        return;
    }
    n = sts_key_ids(c, ids, 8, mint);
    is_int(n, 1, "one key");
    is_str(mint, ids[0], "a first key seals at once");
    seal_one(c, sealed);
    is_str(sealed, ids[0], "sealed with the first key");

    is_int(sts_rotate_key(c, kid), TS_OK, "rotate");
    n = sts_key_ids(c, ids, 8, mint);
    is_int(n, 2, "two keys");
    is_str(ids[1], kid, "the new key is listed (verifies) at once");
    is_str(mint, ids[0], "but does not seal before STS_KEY_PUBLISH_S");
    seal_one(c, sealed);
    is_str(sealed, ids[0], "sealed with the previous key");

    sleep(STS_KEY_PUBLISH_S + 1);
    n = sts_key_ids(c, ids, 8, mint);
    is_str(mint, kid, "the new key seals after STS_KEY_PUBLISH_S");
    seal_one(c, sealed);
    is_str(sealed, kid, "sealed with the new key");
    is_int(sts_key_ids(c, ids, 1, NULL), 1, "bounded by max");

    sts_ctx_free(c);
    iam_store_close(st);
}

int main(void)
{
    if (mkdtemp(dir_tmpl) == NULL)
        return 1;
    node_json();
    publish_delay();
    {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir_tmpl);
        (void)!system(cmd);
    }
    return t_done();
}
