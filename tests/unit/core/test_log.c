/* Unit tests for core/log.c: every line is one valid JSON object, whatever the bytes given.
 *
 * Issue 13 item 15: an unauthenticated LDAPUsername with invalid UTF-8 was copied raw into
 * the JSON audit log, and the line no longer parsed as JSON. The escaping is done once, by the
 * writer, for events, keys, values and formatted messages alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "core/log.h"
#include "tests/harness/t.h"

/* Reads path and checks that each line parses as a JSON object; returns the line count or
 * -1. The last parsed line goes to *last (caller decrefs). */
static int check_lines(const char *path, json_t **last)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    int n = 0;

    *last = NULL;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        if (j == NULL || !json_is_object(j)) {
            fprintf(stderr, "not JSON (%s): %s", e.text, line);
            json_decref(j);
            fclose(f);
            return -1;
        }
        json_decref(*last);
        *last = j;
        n++;
    }
    fclose(f);
    return n;
}

static const char *const nasty[] = {
    "\xff\xfe",                   /* not UTF-8 */
    "al\xc3ice",                  /* a cut sequence */
    "\xc0\xaf",                   /* overlong '/' */
    "\xed\xa0\x80",               /* a surrogate */
    "\xf4\x90\x80\x80",           /* above U+10FFFF */
    "a\x01\x1b[31mred\x7f",       /* controls, an ANSI escape */
    "\"}\n{\"level\":\"forged\"", /* a line break and JSON syntax */
    "back\\slash",
    "\xe2\x82", /* truncated at the end */
};

static void test_audit_lines(void)
{
    char path[] = "/tmp/tessera-test-log-XXXXXX";
    int fd = mkstemp(path);
    json_t *last = NULL;
    size_t n = sizeof nasty / sizeof nasty[0];

    ok(fd >= 0, "mkstemp");
    if (fd < 0)
        return;
    close(fd);
    ok(log_audit_open(path) == 0, "audit open");
    for (size_t i = 0; i < n; i++)
        log_audit(NULL, "sts.deny", "denied", "action", "AssumeRoleWithLDAPIdentity", "user",
                  nasty[i], nasty[i], "value-under-a-nasty-key", NULL);
    struct log_actor nasty_who = {nasty[1], nasty[2], nasty[3], nasty[4]};
    log_audit(&nasty_who, nasty[0], nasty[5], "k", "v", NULL);
    struct log_actor who = {"AKIDEXAMPLE", "arn:aws:iam::000000000000:user/bob", "127.0.0.1",
                            "17F00D"};
    log_audit(&who, "ok", "ok", "user", "\xc3\xa9l\xc3\xa8ve \xf0\x9f\x98\x80", "#status", "200",
              "#neg", "-5", "#bad", "4x2", "#lead", "007", "#empty", "", NULL);
    log_audit_open(NULL);
    is_int(check_lines(path, &last), (int)n + 2, "every audit line is one JSON object");
    is_str(json_string_value(json_object_get(last, "user")), "\xc3\xa9l\xc3\xa8ve \xf0\x9f\x98\x80",
           "valid UTF-8 is kept as is");
    /* the fixed fields of every record, and numbers as JSON numbers */
    is_str(json_string_value(json_object_get(last, "result")), "ok", "result");
    is_str(json_string_value(json_object_get(last, "access_key")), "AKIDEXAMPLE", "access_key");
    is_str(json_string_value(json_object_get(last, "principal")),
           "arn:aws:iam::000000000000:user/bob", "principal");
    is_str(json_string_value(json_object_get(last, "source_ip")), "127.0.0.1", "source_ip");
    is_str(json_string_value(json_object_get(last, "request_id")), "17F00D", "request_id");
    ok(json_is_integer(json_object_get(last, "status")) &&
           json_integer_value(json_object_get(last, "status")) == 200,
       "a number is a JSON number");
    ok(json_integer_value(json_object_get(last, "neg")) == -5, "negative number");
    ok(json_is_null(json_object_get(last, "bad")) && json_is_null(json_object_get(last, "lead")) &&
           json_is_null(json_object_get(last, "empty")),
       "what is not a number is null, never raw text");
    json_decref(last);

    /* the first line's user: invalid bytes became U+FFFD; without an actor, its fields are
     * null */
    FILE *f = fopen(path, "r");
    char line[8192];
    if (f != NULL && fgets(line, sizeof line, f) != NULL) {
        json_t *j = json_loads(line, 0, NULL);
        ok(json_is_null(json_object_get(j, "principal")) &&
               json_is_null(json_object_get(j, "access_key")) &&
               json_is_null(json_object_get(j, "request_id")) &&
               json_is_null(json_object_get(j, "source_ip")),
           "no actor: null fields");
        is_str(json_string_value(json_object_get(j, "user")), "\xef\xbf\xbd\xef\xbf\xbd",
               "invalid UTF-8 becomes U+FFFD");
        json_decref(j);
    }
    if (f != NULL)
        fclose(f);
    unlink(path);
}

static void test_stderr_lines(void)
{
    char path[] = "/tmp/tessera-test-log-XXXXXX";
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);
    json_t *last = NULL;
    size_t n = sizeof nasty / sizeof nasty[0];

    ok(fd >= 0 && saved >= 0, "mkstemp, dup");
    if (fd < 0 || saved < 0)
        return;
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    for (size_t i = 0; i < n; i++) {
        log_kv(LOG_WARN, "ldap.auth", "user", nasty[i], nasty[i], "x", NULL);
        log_event(LOG_ERROR, nasty[i], "user %s said %s", nasty[i], nasty[(i + 1) % n]);
    }
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    is_int(check_lines(path, &last), 2 * (int)n, "every server log line is one JSON object");
    json_decref(last);
    unlink(path);
}

int main(void)
{
    test_audit_lines();
    test_stderr_lines();
    return t_done();
}
