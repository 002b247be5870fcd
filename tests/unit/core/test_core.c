/* Unit tests for core/: encodings, time, buffers, XML reader/writer, errors. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/xml.h"
#include "tests/harness/t.h"

static void test_enc(void)
{
    char hex[65];
    uint8_t bin[32], h[32];
    enc_hex((const uint8_t *)"\x00\xff\x10", 3, hex);
    is_str(hex, "00ff10", "hex");
    ok(enc_unhex("00ff10", 3, bin) == 0 && bin[1] == 0xff, "unhex");
    ok(enc_unhex("0g", 1, bin) == -1, "unhex rejects bad digit");

    enc_sha256("", 0, h);
    enc_hex(h, 32, hex);
    is_str(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256('')");
    enc_hmac_sha256("key", 3, "The quick brown fox jumps over the lazy dog", 43, h);
    enc_hex(h, 32, hex);
    is_str(hex, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8", "hmac");

    char *b = enc_b64((const uint8_t *)"hello", 5);
    is_str(b, "aGVsbG8=", "b64");
    uint8_t out[16];
    is_int(enc_unb64(b, strlen(b), out), 5, "unb64 length");
    ok(memcmp(out, "hello", 5) == 0, "unb64 bytes");
    free(b);
    is_int(enc_unb64("a", 1, out), -1, "unb64 bad length");
    is_int(enc_unb64("a*==", 4, out), -1, "unb64 bad char");

    /* base64url: no padding, URL alphabet, canonical only */
    const uint8_t raw[] = {0xfb, 0xff, 0xbf, 0x01};
    uint8_t *u = NULL;
    b = enc_b64url(raw, sizeof raw);
    is_str(b, "-_-_AQ", "b64url");
    is_int(enc_unb64url(b, strlen(b), &u), 4, "unb64url length");
    ok(u != NULL && memcmp(u, raw, 4) == 0, "unb64url bytes");
    free(u);
    free(b);
    is_int(enc_unb64url("-_-_AR", 6, &u), -1, "unb64url non-canonical trailing bits");
    ok(u == NULL, "unb64url no output on failure");
    is_int(enc_unb64url("-_-_AQ==", 8, &u), -1, "unb64url padding refused");
    is_int(enc_unb64url("+/+/AQ", 6, &u), -1, "unb64url standard alphabet refused");
    is_int(enc_unb64url("AAAAA", 5, &u), -1, "unb64url impossible length");
    is_int(enc_unb64url("", 0, &u), -1, "unb64url empty");
    b = enc_b64url((const uint8_t *)"", 0);
    is_str(b, "", "b64url of nothing");
    free(b);

    char dec[64];
    is_int(enc_url_decode("a%20b+c", 7, dec, true), 5, "url decode len");
    is_str(dec, "a b c", "url decode plus");
    enc_url_decode("a+b", 3, dec, false);
    is_str(dec, "a+b", "url decode keeps plus");
    is_int(enc_url_decode("%4", 2, dec, false), -1, "truncated escape");
    is_int(enc_url_decode("%zz", 3, dec, false), -1, "bad escape");
    is_int(enc_url_decode("ab%", 3, dec, false), -1, "trailing percent");
    memset(dec, 'x', 8);
    is_int(enc_url_decode("ab%zz", 5, dec, false), -1, "bad escape after text");
    is_str(dec, "ab", "output is a C string even after a bad escape");
    char *e = enc_uri_encode("a b/c~é", strlen("a b/c~é"), true);
    is_str(e, "a%20b/c~%C3%A9", "uri encode keep slash");
    free(e);
    e = enc_uri_encode("a/b", 3, false);
    is_str(e, "a%2Fb", "uri encode slash");
    free(e);

    char rnd[41];
    ok(enc_random_chars(rnd, 40, "AB", 2) == 0 && strlen(rnd) == 40 && strspn(rnd, "AB") == 40,
       "random chars");
    ok(enc_ct_equal("abc", 3, "abc", 3) && !enc_ct_equal("abc", 3, "abd", 3) &&
           !enc_ct_equal("abc", 3, "ab", 2),
       "ct equal");
    /* enc_secret_free: NULL is fine; a string is wiped and freed (ASan/valgrind see no leak). */
    enc_secret_free(NULL);
    char *secret = strdup("a secret");
    ok(secret != NULL, "secret allocated");
    enc_secret_free(secret);
}

static void test_time(void)
{
    char s[32];
    time_t t;
    enc_time_iso8601(0, s);
    is_str(s, "1970-01-01T00:00:00.000Z", "iso8601");
    enc_time_amz(1440938160, s);
    is_str(s, "20150830T123600Z", "amz");
    ok(enc_time_parse_amz("20150830T123600Z", &t) == 0 && t == 1440938160, "parse amz");
    ok(enc_time_parse_amz("20150830T123600", &t) == -1, "parse amz needs Z");
    enc_time_http(1440938160, s);
    is_str(s, "Sun, 30 Aug 2015 12:36:00 GMT", "http date");
    ok(enc_time_parse_http("Sun, 30 Aug 2015 12:36:00 GMT", &t) == 0 && t == 1440938160,
       "parse http date");
    /* The formatters compute the calendar themselves: compare with gmtime_r + strftime over
     * edges (leap days, centuries, before 1970, far future) and a sweep of instants. */
    static const time_t edges[] = {-1,         -86400,     -2208988800, 951782400,
                                   951868799,  951868800,  4107542400,  4107628800,
                                   2147483647, 2147483648, 253402300799};
    int bad = 0;
    for (size_t i = 0; i < sizeof edges / sizeof *edges + 20000; i++) {
        time_t v = i < sizeof edges / sizeof *edges
                       ? edges[i]
                       : (time_t)(i * 7919LL * 86400 / 7 + (long long)i * 4111 - 1000000000LL);
        struct tm tm;
        char want[64], got[32];
        gmtime_r(&v, &tm);
        strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
        enc_time_iso8601(v, got);
        if (strcmp(want, got) != 0 && bad++ < 3)
            fprintf(stderr, "time %lld: %s vs %s\n", (long long)v, want, got);
        strftime(want, sizeof want, "%Y%m%dT%H%M%SZ", &tm);
        enc_time_amz(v, got);
        if (strcmp(want, got) != 0 && bad++ < 3)
            fprintf(stderr, "time %lld: %s vs %s\n", (long long)v, want, got);
        strftime(want, sizeof want, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        enc_time_http(v, got);
        if (strcmp(want, got) != 0 && bad++ < 3)
            fprintf(stderr, "time %lld: %s vs %s\n", (long long)v, want, got);
    }
    is_int(bad, 0, "date formatting agrees with gmtime_r over edges and a sweep");
    ok(enc_time_parse_iso8601("2015-08-30T12:36:00Z", &t) == 0 && t == 1440938160, "parse iso");
    ok(enc_time_parse_iso8601("2015-08-30T14:36:00.123+02:00", &t) == 0 && t == 1440938160,
       "parse iso offset");
    ok(enc_time_parse_iso8601("2015-08-30", &t) == 0 && t == 1440892800, "parse date only");
    ok(enc_time_parse_iso8601("yesterday", &t) == -1, "parse garbage");
}

static void test_buf(void)
{
    struct buf b;
    buf_init(&b, 8);
    ok(buf_adds(&b, "1234") == 0, "add within limit");
    ok(buf_adds(&b, "56789") == -1, "add over limit fails");
    ok(buf_failed(&b), "failed flag");
    ok(buf_take(&b, NULL) == NULL, "take after failure");
    /* Formatting into the room already there, past it (grows), and past the limit. */
    buf_init(&b, 300);
    buf_adds(&b, "x");
    ok(buf_addf(&b, "%d-%s", 42, "ab") == 0, "addf fits");
    ok(buf_addf(&b, "%0280d", 7) == 0, "addf grows");
    ok(buf_len(&b) == 286 && strncmp(buf_str(&b), "x42-ab000", 9) == 0 && buf_str(&b)[285] == '7' &&
           buf_str(&b)[286] == '\0',
       "addf result");
    ok(buf_addf(&b, "%s", "0123456789abcdef") == -1 && buf_failed(&b), "addf over limit fails");
    buf_free(&b);
    buf_init(&b, 1024);
    ok(buf_addf(&b, "%s", "") == 0 && buf_len(&b) == 0 && buf_addf(&b, "a%c", 'b') == 0,
       "addf empty then small");
    is_str(buf_str(&b), "ab", "addf small result");
    buf_free(&b);
    buf_init(&b, 1024);
    buf_add_xml(&b, "<a&'\">");
    is_str(buf_str(&b), "&lt;a&amp;&apos;&quot;&gt;", "xml escape");
    buf_free(&b);
    buf_init(&b, 1024);
    buf_add_xml(&b, "/\xff\xfe\xc3\xa9\xc0\xaf\xed\xa0\x80\xf0\x9f\x98\x80<\xe2\x82");
    is_str(buf_str(&b),
           "/\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
           "\xef\xbf\xbd\xf0\x9f\x98\x80&lt;\xef\xbf\xbd\xef\xbf\xbd",
           "xml escape replaces invalid UTF-8");
    buf_free(&b);
    buf_init(&b, 1024);
    buf_add_json(&b, "a\"b\\c\n");
    is_str(buf_str(&b), "a\\\"b\\\\c\\u000a", "json escape");
    buf_free(&b);

    /* Issue 13 item 15: the writers never emit malformed output, whatever the input. XML 1.0
     * has no form for C0 controls but tab, LF, CR, nor for U+FFFE/U+FFFF. */
    buf_init(&b, 1024);
    buf_add_xml(&b, "a\x01"
                    "b\tc\nd\re\x1f\x7f\xef\xbf\xbe\xef\xbf\xbf\xef\xbf\xbdz");
    is_str(buf_str(&b),
           "a\xef\xbf\xbd"
           "b\tc\nd&#13;e\xef\xbf\xbd\x7f\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz",
           "xml: controls, U+FFFE, U+FFFF replaced; tab, LF kept; CR a reference");
    buf_free(&b);
    buf_init(&b, 1024);
    buf_add_xml(&b, "\xef\xbf\xbe<\xef\xbf");
    is_str(buf_str(&b), "\xef\xbf\xbd&lt;\xef\xbf\xbd\xef\xbf\xbd",
           "xml: U+FFFE then a cut sequence");
    buf_free(&b);
    buf_init(&b, 1024);
    {
        /* every byte value and every pair of them: the document always parses */
        char one[3] = {0};
        int bad = 0;
        for (int c1 = 1; c1 < 256; c1++)
            for (int c2 = 0; c2 < 256; c2++) {
                struct buf d;
                one[0] = (char)c1;
                one[1] = (char)c2;
                buf_init(&d, 1024);
                xml_open(&d, "R", NULL);
                xml_elem(&d, "K", one);
                xml_close(&d, "R");
                struct xml_node *n = xml_parse(buf_str(&d), buf_len(&d));
                bad += n == NULL;
                xml_free(n);
                buf_free(&d);
            }
        is_int(bad, 0, "xml: every 1- and 2-byte text gives a well-formed document");
    }
    buf_free(&b);
    buf_init(&b, 1024);
    buf_add_json(&b, "u\xff\xfe\xc3\xa9\xc0\xaf\x01\x1f\x7f\"\\\xe2\x82");
    is_str(buf_str(&b),
           "u\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\\u0001\\u001f\x7f\\\"\\\\"
           "\xef\xbf\xbd\xef\xbf\xbd",
           "json: invalid UTF-8 replaced, controls escaped");
    buf_free(&b);
    {
        char one[3] = {0};
        int bad = 0;
        for (int c1 = 1; c1 < 256; c1++)
            for (int c2 = 0; c2 < 256; c2++) {
                struct buf d;
                one[0] = (char)c1;
                one[1] = (char)c2;
                buf_init(&d, 1024);
                buf_adds(&d, "[\"");
                buf_add_json(&d, one);
                buf_adds(&d, "\"]");
                json_t *j = json_loadb(buf_str(&d), buf_len(&d), 0, NULL);
                bad += j == NULL;
                json_decref(j);
                buf_free(&d);
            }
        is_int(bad, 0, "json: every 1- and 2-byte text gives valid JSON");
    }
}

/* Header text: decode (buf_add_header_text) and encode (buf_add_rfc2047). */
static void header_text(const char *in, const char *want, const char *name)
{
    struct buf b;
    buf_init(&b, 256);
    buf_add_header_text(&b, in);
    is_str(buf_str(&b), want, name);
    buf_free(&b);
}

static void header_enc(const char *in, const char *want, const char *name)
{
    struct buf b;
    buf_init(&b, 256);
    buf_add_rfc2047(&b, in);
    is_str(buf_str(&b), want, name);
    buf_free(&b);
}

static void test_header_text(void)
{
    header_text("plain", "plain", "in: ASCII kept");
    header_text("caf\xc3\xa9", "caf\xc3\xa9", "in: UTF-8 kept");
    header_text("caf\xe9", "caf\xc3\xa9", "in: not UTF-8: ISO-8859-1");
    header_text("=?UTF-8?B?Y2Fmw6k=?=", "caf\xc3\xa9", "in: B word");
    header_text("=?utf-8?q?caf=C3=A9_x?=", "caf\xc3\xa9 x", "in: Q word, any case");
    header_text("=?UTF-8?Q?a?= \t=?US-ASCII?B?Yg==?=", "ab", "in: words, space between");
    header_text("=?UTF-8?B?"
                "?=",
                "", "in: empty word");
    header_text("=?UTF-8?B?Y2Fm?= tail", "=?UTF-8?B?Y2Fm?= tail", "in: text after a word");
    header_text("=?UTF-8?B?/w==?=", "=?UTF-8?B?/w==?=", "in: word of invalid UTF-8 kept");
    header_text("=?UTF-8?B?YQBi?=", "=?UTF-8?B?YQBi?=", "in: word with NUL kept");
    header_text("=?UTF-8?Q?a=4?=", "=?UTF-8?Q?a=4?=", "in: cut escape kept");
    header_text("=?KOI8-R?Q?a?=", "=?KOI8-R?Q?a?=", "in: other charset kept");
    header_text("=?UTF-8?X?a?=", "=?UTF-8?X?a?=", "in: other encoding kept");
    header_text("=?UTF-8", "=?UTF-8", "in: cut word kept");
    header_enc("a b\tc=?_", "a b\tc=?_", "out: printable ASCII as is");
    header_enc("caf\xc3\xa9 a=b?c_d", "caf\xe9 a=b?c_d", "out: up to U+00FF: ISO-8859-1");
    header_enc("\xc3\xbf\xc2\xa0x", "\xff\xa0x", "out: U+00FF, U+00A0: ISO-8859-1");
    header_enc("caf\xc3\xa9 \xe4\xb8\xad a=b?c_d",
               "=?UTF-8?Q?caf=C3=A9_=E4=B8=AD_a=3Db=3Fc=5Fd?=", "out: beyond U+00FF: Q");
    header_enc("\x04mymeta", "=?UTF-8?B?BG15bWV0YQ==?=", "out: control: B");
    header_enc("a\xc2\x85", "=?UTF-8?B?YcKF?=", "out: C1 control: B");
    header_enc("a\xff", "=?UTF-8?B?Yf8=?=", "out: not UTF-8: B");
    header_enc("", "", "out: empty");
}

static void test_xml(void)
{
    const char *doc = "<?xml version=\"1.0\"?><Delete xmlns=\"http://s3.amazonaws.com/doc/"
                      "2006-03-01/\"><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object>"
                      "<Object><Key>c</Key></Object></Delete>";
    struct xml_node *n = xml_parse(doc, strlen(doc));
    ok(n != NULL, "parse");
    if (n) {
        is_str(n->name, "Delete", "root name without namespace");
        is_str(xml_child_text(n, "Quiet"), "true", "child text");
        struct xml_node *o = xml_child(n, "Object");
        is_str(xml_child_text(o, "Key"), "a&b", "entity decoded");
        is_str(xml_child_text(o->next, "Key"), "c", "sibling");
        xml_free(n);
    }
    ok(xml_parse("<a><b></a>", 10) == NULL, "malformed");
    ok(xml_parse("", 0) == NULL, "empty");
    const char *bomb = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">]><a>&lol;</a>";
    ok(xml_parse(bomb, strlen(bomb)) == NULL, "DTD refused");
    struct buf deep;
    buf_init(&deep, 1 << 20);
    for (int i = 0; i < 40; i++)
        buf_adds(&deep, "<a>");
    for (int i = 0; i < 40; i++)
        buf_adds(&deep, "</a>");
    ok(xml_parse(buf_str(&deep), buf_len(&deep)) == NULL, "depth limit");
    buf_free(&deep);

    struct buf b;
    buf_init(&b, 4096);
    xml_open(&b, "R", "urn:x");
    xml_elem(&b, "K", "a<b");
    xml_elem(&b, "N", NULL);
    xml_elemf(&b, "C", "%d", 42);
    xml_close(&b, "R");
    is_str(buf_str(&b), "<R xmlns=\"urn:x\"><K>a&lt;b</K><C>42</C></R>", "writer");
    buf_free(&b);
}

static void test_err(void)
{
    is_str(ts_err_code(TS_E_NO_SUCH_KEY), "NoSuchKey", "code");
    is_int(ts_err_status(TS_E_NO_SUCH_KEY), 404, "status");
    is_str(ts_err_code(-5), "InternalError", "out of range");
    is_str(ts_err_code(TS_ERR_COUNT + 3), "InternalError", "out of range high");
}

int main(void)
{
    test_enc();
    test_time();
    test_buf();
    test_header_text();
    test_xml();
    test_err();
    return t_done();
}
