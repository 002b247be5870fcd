/* server.h -- `tessera server`: the composition root that wires the modules into the router. */
#ifndef TS_CLI_SERVER_H
#define TS_CLI_SERVER_H

#define TESSERA_VERSION "0.1.0"

int server_main(int argc, char **argv);

#endif
