/* buf.c -- bounded growable buffer. */
#include "core/buf.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/enc.h"

void buf_init(struct buf *b, size_t max)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->max = max;
    b->failed = 0;
}

void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static int buf_fail(struct buf *b)
{
    buf_free(b);
    b->failed = 1;
    return -1;
}

static int buf_reserve(struct buf *b, size_t n)
{
    if (b->failed)
        return -1;
    if (n > b->max || b->len + n + 1 > b->max + 1)
        return buf_fail(b);
    if (b->len + n + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL)
        return buf_fail(b);
    b->p = p;
    b->cap = cap;
    return 0;
}

int buf_add(struct buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return -1;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int buf_adds(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

int buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    if (b->failed)
        return -1;
    /* One formatting pass when the text fits the room already there (the usual case);
     * else a second one after growing. */
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    va_copy(ap2, ap);
    int n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        if (room)
            b->p[b->len] = '\0';
        return -1;
    }
    if ((size_t)n < room) {
        if (b->len + (size_t)n > b->max) {
            b->p[b->len] = '\0';
            return buf_fail(b);
        }
        b->len += (size_t)n;
        return 0;
    }
    if (buf_reserve(b, (size_t)n) != 0)
        return -1;
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF), or 0. */
static size_t utf8_seq_len(const unsigned char *s)
{
    unsigned c = s[0], cp;
    size_t n;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        n = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
        n = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
        n = 4, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* Bytes buf_add_xml must look at: the end, every C0 control but tab and LF, " & ' < >, and
 * every non-ASCII byte. */
/* clang-format off */
#define ONES16 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
static const unsigned char xml_special[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, /* 0x00: all but tab, LF */
    ONES16,                                         /* 0x10 */
    0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20: " & ' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, /* 0x30: < > */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x50 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x60 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x70 */
    ONES16, ONES16, ONES16, ONES16, ONES16, ONES16, ONES16, ONES16, /* 0x80-0xff */
};
/* Bytes buf_add_json must look at: the end, C0 controls, " \ and every non-ASCII byte. */
static const unsigned char json_special[256] = {
    ONES16, ONES16,                                 /* 0x00-0x1f */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20: " */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x30 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 0x50: \ */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x60 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x70 */
    ONES16, ONES16, ONES16, ONES16, ONES16, ONES16, ONES16, ONES16, /* 0x80-0xff */
};
/* clang-format on */
#undef ONES16

#define REPLACEMENT_CHAR "\xef\xbf\xbd" /* U+FFFD */

/* Writes s with each byte that special marks (NUL ends s) passed to esc: esc returns the text
 * written instead of its *skip bytes (1 unless it says otherwise), or NULL to keep *skip bytes
 * as they are (a valid UTF-8 sequence). Runs of ordinary bytes cost one table lookup each. */
typedef const char *esc_fn(const char *s, size_t *skip, char tmp[8]);

static int buf_add_escaped(struct buf *b, const char *s, const unsigned char special[256],
                           esc_fn *esc)
{
    const char *start = s;
    char tmp[8];
    for (;;) {
        while (!special[(unsigned char)*s])
            s++;
        if (*s == '\0')
            break;
        size_t skip = 1;
        const char *rep = esc(s, &skip, tmp);
        if (rep != NULL) {
            if (buf_add(b, start, (size_t)(s - start)) != 0 || buf_adds(b, rep) != 0)
                return -1;
            start = s + skip;
        }
        s += skip;
    }
    return buf_add(b, start, (size_t)(s - start));
}

static const char *xml_esc(const char *s, size_t *skip, char tmp[8])
{
    (void)tmp;
    if ((unsigned char)*s >= 0x80) {
        const unsigned char *u = (const unsigned char *)s;
        size_t n = utf8_seq_len(u);
        if (n == 3 && u[0] == 0xef && u[1] == 0xbf && u[2] >= 0xbe) {
            *skip = 3; /* U+FFFE, U+FFFF: not XML characters */
        } else if (n) {
            *skip = n;
            return NULL;
        }
        return REPLACEMENT_CHAR;
    }
    switch (*s) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&apos;";
    case '\r':
        return "&#13;";
    default: /* a C0 control */
        return REPLACEMENT_CHAR;
    }
}

/* Escapes s for XML text so that the document stays well-formed XML 1.0 whatever s holds.
 * XML 1.0 has no representation at all (not even a character reference) for the C0 controls
 * other than tab, LF and CR, nor for U+FFFE and U+FFFF: those become U+FFFD, as do bytes that
 * are not well-formed UTF-8 (a client's invalid key or bucket name echoed in an error). CR is
 * written &#13; (a literal one would come back as LF). Valid UTF-8 without those characters
 * round-trips exactly through any XML parser. */
int buf_add_xml(struct buf *b, const char *s)
{
    return buf_add_escaped(b, s, xml_special, xml_esc);
}

static const char *json_esc(const char *s, size_t *skip, char tmp[8])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = (unsigned char)*s;
    if (c >= 0x80) {
        size_t n = utf8_seq_len((const unsigned char *)s);
        *skip = n ? n : 1;
        return n ? NULL : REPLACEMENT_CHAR;
    }
    if (c == '"' || c == '\\') {
        tmp[0] = '\\';
        tmp[1] = (char)c;
        tmp[2] = '\0';
    } else {
        memcpy(tmp, "\\u00", 4);
        tmp[4] = hex[c >> 4];
        tmp[5] = hex[c & 15];
        tmp[6] = '\0';
    }
    return tmp;
}

/* Escapes s as the inside of a JSON string (RFC 8259) so that the text is valid JSON whatever
 * s holds: " and \ are escaped, C0 controls written \u00XX, and bytes that are not
 * well-formed UTF-8 (a client's raw bytes in a log line) become U+FFFD. ASCII text is
 * scanned with one table lookup per byte (every request's access log line comes here). */
int buf_add_json(struct buf *b, const char *s)
{
    return buf_add_escaped(b, s, json_special, json_esc);
}

const char *buf_str(const struct buf *b)
{
    return b->p ? b->p : "";
}

size_t buf_len(const struct buf *b)
{
    return b->len;
}

char *buf_take(struct buf *b, size_t *len)
{
    if (b->failed)
        return NULL;
    char *p = b->p ? b->p : strdup("");
    if (len)
        *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

int buf_failed(const struct buf *b)
{
    return b->failed;
}

/* ---- header text (RFC 2047) ---- */

/* Appends the text of the encoded-word at *sp (=?charset?B|Q?text?=) and moves *sp past it;
 * false when there is none there or it is not one tessera decodes. */
static bool rfc2047_word(struct buf *b, const char **sp)
{
    const char *s = *sp;
    if (strncmp(s, "=?", 2) != 0)
        return false;
    const char *cs = s + 2, *q = strchr(cs, '?');
    if (q == NULL || q[1] == 0 || q[2] != '?')
        return false;
    size_t cl = (size_t)(q - cs);
    if (!((cl == 5 && strncasecmp(cs, "utf-8", 5) == 0) ||
          (cl == 8 && strncasecmp(cs, "us-ascii", 8) == 0)))
        return false;
    char kind = q[1];
    const char *t = q + 3, *end = strstr(t, "?=");
    if (end == NULL)
        return false;
    size_t n = (size_t)(end - t);
    if (kind == 'B' || kind == 'b') {
        uint8_t *raw = malloc(3 * (n / 4) + 3);
        long dl = raw ? enc_unb64(t, n, raw) : -1;
        bool ok = dl >= 0 && buf_add(b, raw, (size_t)dl) == 0;
        free(raw);
        if (!ok)
            return false;
    } else if (kind == 'Q' || kind == 'q') {
        for (size_t i = 0; i < n; i++) {
            char c = t[i];
            if (c == '=' && i + 2 < n && enc_hexval(t[i + 1]) >= 0 && enc_hexval(t[i + 2]) >= 0) {
                c = (char)(enc_hexval(t[i + 1]) << 4 | enc_hexval(t[i + 2]));
                i += 2;
            } else if (c == '_') {
                c = ' ';
            } else if (c == '=' || c == '?' || c == ' ') {
                return false;
            }
            if (buf_add(b, &c, 1) != 0)
                return false;
        }
    } else {
        return false;
    }
    *sp = end + 2;
    return true;
}

static bool utf8_valid(const char *s, bool *controls)
{
    *controls = false;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_seq_len(p);
        if (n == 0)
            return false;
        if ((n == 1 && ((*p < 0x20 && *p != '\t') || *p == 0x7f)) ||
            (n == 2 && p[0] == 0xc2 && p[1] < 0xa0))
            *controls = true; /* C0 but tab, DEL, C1 */
        p += n;
    }
    return true;
}

int buf_add_header_text(struct buf *b, const char *s)
{
    size_t start = b->len;
    bool controls;
    if (strncmp(s, "=?", 2) == 0) {
        const char *p = s;
        while (rfc2047_word(b, &p)) {
            p += strspn(p, " \t");
            if (*p == 0 && !b->failed && !memchr(buf_str(b) + start, 0, b->len - start) &&
                utf8_valid(buf_str(b) + start, &controls))
                return 0;
        }
        if (b->failed)
            return -1;
        b->len = start; /* not a value of encoded-words: taken as it is */
        if (b->p)
            b->p[start] = 0;
    }
    if (utf8_valid(s, &controls))
        return buf_adds(b, s);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char u[2] = {(char)(0xc0 | *p >> 6), (char)(0x80 | (*p & 0x3f))};
        if (*p < 0x80 ? buf_add(b, p, 1) : buf_add(b, u, 2))
            return -1;
    }
    return 0;
}

/* s (valid UTF-8) as ISO-8859-1 bytes when every character is printable (tab allowed) and at
 * most U+00FF: true, appended; else false, b unchanged. */
static bool add_latin1(struct buf *b, const char *s)
{
    size_t start = b->len;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p++;
        bool two = (c == 0xc2 || c == 0xc3) && (*p & 0xc0) == 0x80;
        if (two)
            c = (c & 0x03) << 6 | (*p++ & 0x3f);
        unsigned char o = (unsigned char)c;
        if (!(c == '\t' || (c >= 0x20 && c < 0x7f) || (two && c >= 0xa0)) || buf_add(b, &o, 1)) {
            b->len = start;
            if (b->p)
                b->p[start] = 0;
            return false;
        }
    }
    return true;
}

int buf_add_rfc2047(struct buf *b, const char *s)
{
    bool controls = false;
    if (*s == 0)
        return 0;
    if (utf8_valid(s, &controls) && !controls && add_latin1(b, s))
        return 0;
    if (!utf8_valid(s, &controls) || controls) {
        char *b64 = enc_b64((const uint8_t *)s, strlen(s));
        int rc = b64 ? buf_addf(b, "=?UTF-8?B?%s?=", b64) : -1;
        free(b64);
        return rc;
    }
    buf_adds(b, "=?UTF-8?Q?");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == ' ')
            buf_add(b, "_", 1);
        else if (*p > 0x20 && *p < 0x7f && *p != '=' && *p != '?' && *p != '_')
            buf_add(b, p, 1);
        else
            buf_addf(b, "=%02X", *p);
    }
    return buf_adds(b, "?=");
}
