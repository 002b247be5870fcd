/* main.c -- the tessera command: dispatches to `server`, `admin`, `login` and `config`. */
#include <stdio.h>
#include <string.h>

#include "cli/admin.h"
#include "cli/login.h"
#include "cli/server.h"
#include "core/cfg.h"

#define TESSERA_VERSION "0.1.0"

static void usage(FILE *f)
{
    fprintf(f, "usage: tessera server [--address HOST:PORT] [--certs DIR] DATA_DIR\n"
               "       tessera admin [--endpoint URL] [--access-key AK] [--secret-key SK] "
               "[--json] COMMAND...\n"
               "       tessera config list\n"
               "       tessera version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "server") == 0)
        return server_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "admin") == 0)
        return admin_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "login") == 0)
        return login_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "config") == 0) {
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
