/* filter.c -- the pure string work of the LDAP backend: RFC 4515 filter escaping, filter
 * templates (%s / %d), and DN normalisation for comparisons and policy attachments.
 * See ldap/tldap.h. @test tests/unit/ldap/test_filter.c
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/enc.h"
#include "ldap/tldap.h"

#define FILTER_MAX (64 * 1024)

static int add_escaped(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '*' || c == '(' || c == ')' || c == '\\') {
            char e[3] = {'\\', hex[c >> 4], hex[c & 15]};
            buf_add(b, e, 3);
        } else {
            buf_add(b, s, 1);
        }
    }
    return buf_failed(b) ? -1 : 0;
}

char *tldap_filter_escape(const char *s)
{
    struct buf b;
    buf_init(&b, FILTER_MAX);
    buf_adds(&b, "");
    if (add_escaped(&b, s) != 0)
        return NULL;
    return buf_take(&b, NULL);
}

char *tldap_filter_expand(const char *tmpl, const char *name, const char *dn)
{
    struct buf b;
    buf_init(&b, FILTER_MAX);
    buf_adds(&b, "");
    for (const char *p = tmpl; *p != '\0'; p++) {
        if (p[0] == '%' && p[1] == 's') {
            add_escaped(&b, name != NULL ? name : "");
            p++;
        } else if (p[0] == '%' && p[1] == 'd') {
            add_escaped(&b, dn != NULL ? dn : "");
            p++;
        } else {
            buf_add(&b, p, 1);
        }
    }
    if (buf_failed(&b))
        return NULL;
    return buf_take(&b, NULL);
}

bool tldap_filter_name_attr(const char *tmpl, char *out, size_t outlen)
{
    const char *p = strstr(tmpl, "=%s");
    const char *start;
    size_t n;

    while (p != NULL) {
        start = p;
        while (start > tmpl && start[-1] != '(' && start[-1] != '&' && start[-1] != '|' &&
               start[-1] != '!')
            start--;
        while (start < p && *start == ' ')
            start++;
        n = (size_t)(p - start);
        while (n > 0 && start[n - 1] == ' ')
            n--;
        if (n > 0 && n < outlen) {
            bool good = true;
            for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)start[i]) && start[i] != '-' && start[i] != '.' &&
                    start[i] != ';')
                    good = false;
            if (good) {
                memcpy(out, start, n);
                out[n] = '\0';
                return true;
            }
        }
        p = strstr(p + 3, "=%s");
    }
    return false;
}

/* ---- DN normalisation ---- */

static bool dn_special(unsigned char c)
{
    return c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' ||
           c == '=';
}

/* Writes the decoded, lower-cased value v[0..n) with canonical escapes. */
static void add_value(struct buf *b, const unsigned char *v, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = v[i];
        if (c < 0x80)
            c = (unsigned char)tolower(c);
        if (dn_special(c) || (i == 0 && (c == '#' || c == ' ')) || (i == n - 1 && c == ' ')) {
            char e[2] = {'\\', (char)c};
            buf_add(b, e, 2);
        } else if (c < 0x20 || c == 0x7f) {
            char e[3] = {'\\', hex[c >> 4], hex[c & 15]};
            buf_add(b, e, 3);
        } else {
            buf_add(b, &c, 1);
        }
    }
}

static void skip_spaces(const char **p)
{
    while (**p == ' ')
        (*p)++;
}

/* Reads the attribute type at *pp and writes it lower-cased, with its '='. */
static bool dn_type(const char **pp, struct buf *b)
{
    const char *p = *pp, *t = p;
    size_t tn;
    while (*p != '\0' && *p != '=' && *p != ',' && *p != '+')
        p++;
    if (*p != '=')
        return false;
    tn = (size_t)(p - t);
    while (tn > 0 && t[tn - 1] == ' ')
        tn--;
    if (tn == 0)
        return false;
    for (size_t i = 0; i < tn; i++) {
        char c = (char)tolower((unsigned char)t[i]);
        if (t[i] == ' ' || t[i] == '\\' || t[i] == '"')
            return false;
        buf_add(b, &c, 1);
    }
    buf_adds(b, "=");
    p++;
    skip_spaces(&p);
    *pp = p;
    return true;
}

/* Reads a legacy quoted value (RFC 1779) at *pp, opening quote included, into val. */
static bool dn_quoted(const char **pp, unsigned char *val, size_t *keep)
{
    const char *p = *pp + 1;
    size_t vn = 0;
    while (*p != '\0' && *p != '"') {
        if (*p == '\\') {
            p++;
            if (*p == '\0')
                return false;
        }
        val[vn++] = (unsigned char)*p++;
    }
    if (*p != '"')
        return false;
    p++;
    *keep = vn;
    skip_spaces(&p);
    *pp = p;
    return true;
}

/* Reads the value at *pp into val, decoding escapes; *keep gets its length without the
 * unescaped trailing spaces. */
static bool dn_value(const char **pp, unsigned char *val, size_t *keep)
{
    const char *p = *pp;
    size_t vn = 0;
    if (*p == '"')
        return dn_quoted(pp, val, keep);
    *keep = 0;
    while (*p != '\0' && *p != ',' && *p != '+' && *p != ';') {
        if (*p == '\\') {
            int h1, h2;
            p++;
            if (*p == '\0')
                return false;
            h1 = enc_hexval((unsigned char)p[0]);
            h2 = h1 >= 0 ? enc_hexval((unsigned char)p[1]) : -1;
            if (h1 >= 0 && h2 >= 0) {
                val[vn++] = (unsigned char)(h1 * 16 + h2);
                p += 2;
            } else {
                val[vn++] = (unsigned char)*p++;
            }
            *keep = vn; /* an escaped byte is significant, even a space */
        } else {
            val[vn++] = (unsigned char)*p;
            if (*p != ' ')
                *keep = vn;
            p++;
        }
    }
    *pp = p;
    return true;
}

char *tldap_dn_normalize(const char *dn)
{
    size_t len = strlen(dn);
    unsigned char *val = malloc(len + 1);
    const char *p = dn;
    struct buf b;

    if (val == NULL)
        return NULL;
    buf_init(&b, 4 * len + 16);
    buf_adds(&b, "");
    skip_spaces(&p);
    while (*p != '\0') {
        size_t keep = 0;
        if (!dn_type(&p, &b) || !dn_value(&p, val, &keep))
            goto bad;
        add_value(&b, val, keep);
        if (*p == ',' || *p == ';' || *p == '+') {
            buf_adds(&b, *p == '+' ? "+" : ",");
            p++;
            skip_spaces(&p);
            if (*p == '\0')
                goto bad;
        } else if (*p != '\0') {
            goto bad;
        }
    }
    free(val);
    if (buf_failed(&b))
        return NULL;
    return buf_take(&b, NULL);
bad:
    free(val);
    buf_free(&b);
    return NULL;
}
