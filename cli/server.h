/* server.h -- `tessera server`: the composition root that wires the modules into the router. */
#ifndef TS_CLI_SERVER_H
#define TS_CLI_SERVER_H

#define TESSERA_VERSION "0.1.0"

int server_main(int argc, char **argv);
/* `tessera gateway s3 ...` (argv[0] is "s3"): the same server with the upstream as the S3
 * backend (objstore/gw.h). */
int gateway_main(int argc, char **argv);

#endif
