/* bench_ldapbind -- slapd's raw simple-bind rate: THREADS threads, each with its own
 * connection, bind as DN with PASSWORD in a loop for SECONDS; prints binds per second.
 *
 *   bench_ldapbind URL DN PASSWORD THREADS SECONDS
 */
#define LDAP_DEPRECATED 0
#include <ldap.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *url, *dn, *pw;
static double secs;
static atomic_ulong total;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
    (void)arg;
    LDAP *ld;
    int v3 = LDAP_VERSION3;
    if (ldap_initialize(&ld, url) != LDAP_SUCCESS)
        exit(1);
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
    struct berval cred = {strlen(pw), (char *)pw};
    double end = now() + secs;
    unsigned long n = 0;
    while (now() < end) {
        int rc = ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
        if (rc != LDAP_SUCCESS) {
            fprintf(stderr, "bind: %s\n", ldap_err2string(rc));
            exit(1);
        }
        n++;
    }
    ldap_unbind_ext_s(ld, NULL, NULL);
    atomic_fetch_add(&total, n);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench_ldapbind URL DN PASSWORD THREADS SECONDS\n");
        return 2;
    }
    url = argv[1], dn = argv[2], pw = argv[3];
    int threads = atoi(argv[4]);
    secs = atof(argv[5]);
    pthread_t t[256];
    double t0 = now();
    for (long i = 0; i < threads && i < 256; i++)
        pthread_create(&t[i], NULL, run, NULL);
    for (int i = 0; i < threads && i < 256; i++)
        pthread_join(t[i], NULL);
    printf("%.1f\n", (double)atomic_load(&total) / (now() - t0));
    return 0;
}
