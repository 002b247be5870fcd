/* fuzz_ldap.c -- ldap/filter.c: RFC 4515 escaping, filter template expansion, DN
 * normalisation. Besides memory safety it checks the property that matters for injection:
 * an escaped value never contains '*', '(', ')' or an unescaped '\', and expanding a
 * template adds no parenthesis to it. Input: "name\0template\0dn". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ldap/tldap.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_parens(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '(' || *s == ')';
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *f[3];
    char attr[64];

    fz_fields(data, size, 0, f, 3);
    char *esc = tldap_filter_escape(f[0]);
    if (esc == NULL && 3 * strlen(f[0]) <= 64 * 1024) /* NULL only past the filter limit */
        abort();
    for (const char *p = esc ? esc : ""; *p; p++) {
        if (*p == '*' || *p == '(' || *p == ')')
            abort();
        if (*p == '\\') { /* always a two-hex-digit escape */
            if (!strchr("0123456789abcdefABCDEF", p[1]) || p[1] == '\0' ||
                !strchr("0123456789abcdefABCDEF", p[2]) || p[2] == '\0')
                abort();
        }
    }
    char *exp = tldap_filter_expand(f[1], f[0], f[2]);
    if (exp == NULL) {
        /* Refused only when the expansion would pass the 64 KiB filter limit (fail closed;
         * the first crash the fuzzer found was this harness expecting otherwise). */
        size_t ns = 0, nd = 0, tl = strlen(f[1]);
        for (const char *p = f[1]; (p = strchr(p, '%')) != NULL; p++) {
            ns += p[1] == 's';
            nd += p[1] == 'd';
        }
        if (tl + 3 * (ns * strlen(f[0]) + nd * strlen(f[2])) <= 64 * 1024)
            abort();
    } else if (count_parens(exp) != count_parens(f[1])) {
        /* The only parentheses are the template's own: values cannot open or close one. */
        abort();
    }
    char *dn = tldap_dn_normalize(f[2]);
    if (dn != NULL) {
        /* Normalising is idempotent. */
        char *dn2 = tldap_dn_normalize(dn);
        if (dn2 == NULL || strcmp(dn, dn2) != 0)
            abort();
        free(dn2);
    }
    (void)tldap_filter_name_attr(f[1], attr, sizeof attr);
    free(esc);
    free(exp);
    free(dn);
    fz_free_fields(f, 3);
    return 0;
}
