/* buf.h -- a bounded growable byte buffer (after curl's dynbuf). Every buffer gets its size
 * limit at init; an append that fails (limit or OOM) frees the buffer and returns an error,
 * so callers check once at the end. Members are private: use the functions. */
#ifndef TS_BUF_H
#define TS_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *p;
    size_t len, cap, max;
    int failed;
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
/* Appends; returns 0, or -1 when the limit was hit or memory ran out (buffer freed). */
int buf_add(struct buf *b, const void *p, size_t n);
int buf_adds(struct buf *b, const char *s);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap);
/* Appends s as XML text, escaping & < > " ' and CR. The result is always well-formed XML 1.0:
 * invalid UTF-8, C0 controls other than tab and LF, U+FFFE and U+FFFF become U+FFFD. */
int buf_add_xml(struct buf *b, const char *s);
/* Appends s as the inside of a JSON string (no quotes); always valid JSON: invalid UTF-8
 * becomes U+FFFD, C0 controls \u00XX. */
int buf_add_json(struct buf *b, const char *s);
/* Header text (user metadata), the one codec between its wire form and the UTF-8 kept.
 * buf_add_header_text appends header value s as UTF-8 text, as S3 reads it: a value made of
 * RFC 2047 encoded-words (=?UTF-8?B?...?= or ?Q?, charset UTF-8 or US-ASCII, white space
 * between them) is decoded; bytes that are not UTF-8 are read as ISO-8859-1; anything else is
 * kept. buf_add_rfc2047 appends text s as a header value as S3 answers it: s in ISO-8859-1
 * bytes when every character is printable and at most U+00FF (what a client that sent those
 * bytes reads back as sent), else =?UTF-8?Q?...?=, or =?UTF-8?B?...?= when s has control
 * characters or is not UTF-8. Both return as buf_add. */
int buf_add_header_text(struct buf *b, const char *s);
int buf_add_rfc2047(struct buf *b, const char *s);
/* The content (NUL-terminated; "" when empty) and its length. Borrowed. */
const char *buf_str(const struct buf *b);
size_t buf_len(const struct buf *b);
/* Takes the content out (malloc'ed, NUL-terminated); the buffer is reset. NULL after a
 * failure. */
char *buf_take(struct buf *b, size_t *len);
/* Whether any append failed. */
int buf_failed(const struct buf *b);

#endif
