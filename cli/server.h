/* server.h -- `tessera server`: the composition root that wires the modules into the router. */
#ifndef TS_CLI_SERVER_H
#define TS_CLI_SERVER_H

int server_main(int argc, char **argv);

#endif
