/* main.c -- the tessera command: dispatches to `server`, `gateway`, `admin`, `login` and
 * `config`. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/admin.h"
#include "cli/login.h"
#include "cli/server.h"
#include "core/cfg.h"

static const char server_usage[] =
    "usage: tessera server [--address HOST:PORT] [--certs DIR] DATA_DIR\n"
    "  Serves S3, STS and the admin API on HOST:PORT (default 127.0.0.1:9000); TLS with the\n"
    "  certificate and key in DIR (public.crt, private.key). docs/CONFIG.md lists the\n"
    "  environment variables.\n";

static const char gateway_usage[] =
    "usage: tessera gateway s3 [--address HOST:PORT] [--certs DIR] [--state-dir DIR] "
    "[UPSTREAM_URL]\n"
    "  Serves S3, STS and the admin API in front of the S3 server at UPSTREAM_URL (default\n"
    "  https://s3.amazonaws.com): every request is authenticated and authorized by tessera,\n"
    "  then signed with the upstream's keys (TESSERA_ROOT_USER/TESSERA_ROOT_PASSWORD, or\n"
    "  MINIO_ACCESS_KEY/MINIO_SECRET_KEY) and forwarded. The IAM store lives in etcd when\n"
    "  configured, else under DIR (default $HOME/.tessera/gateway). docs/GATEWAY.md.\n";

static void usage(FILE *f)
{
    fputs("usage: tessera server [--address HOST:PORT] [--certs DIR] DATA_DIR\n"
          "       tessera gateway s3 [--address HOST:PORT] [--certs DIR] [--state-dir DIR] "
          "[UPSTREAM_URL]\n"
          "       tessera admin [--endpoint URL] [--access-key AK] [--secret-key SK] "
          "[--data-dir DIR] [--json] COMMAND...\n"
          "             COMMAND: user add|set-secret|remove|enable|disable|info|list\n"
          "                      group add|remove|list|info\n"
          "                      policy create|remove|info|list|attach|detach\n"
          "                      sts revoke|rotate-key\n"
          "                      role create|trust|info|remove|list|policy\n"
          "                      cluster status\n"
          "                      svcacct add|list|info|edit|remove|enable|disable\n"
          "       tessera login ldap [--endpoint URL] --user NAME [OPTIONS]\n"
          "       tessera login oidc [--endpoint URL] --provider NAME|ISSUER_URL [OPTIONS]\n"
          "       tessera config list\n"
          "       tessera version\n"
          "       tessera help\n"
          "Every command takes --help (e.g. `tessera admin user add --help`).\n",
          f);
}

/* Whether args hold --help or -h before any "--". */
static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "server") == 0) {
        if (wants_help(argc - 1, argv + 1)) {
            fputs(server_usage, stdout);
            return 0;
        }
        return server_main(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "gateway") == 0) {
        if (wants_help(argc - 1, argv + 1)) {
            fputs(gateway_usage, stdout);
            return 0;
        }
        if (argc < 3 || strcmp(argv[2], "s3") != 0) {
            fputs(gateway_usage, stderr);
            return 2;
        }
        return gateway_main(argc - 2, argv + 2);
    }
    if (strcmp(argv[1], "admin") == 0)
        return admin_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "login") == 0)
        return login_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "config") == 0) {
        if (wants_help(argc - 1, argv + 1)) {
            fputs(
                "usage: tessera config list\n"
                "  Prints the table of environment variables the server reads (docs/CONFIG.md).\n",
                stdout);
            return 0;
        }
        if (argc == 3 && strcmp(argv[2], "list") == 0) {
            cfg_list(stdout); /* the table of environment variables, as docs/CONFIG.md shows it */
            return 0;
        }
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("tessera %s\n", TESSERA_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "tessera: unknown command %s\n", argv[1]);
    usage(stderr);
    return 2;
}
