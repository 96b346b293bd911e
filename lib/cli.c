/*
 * NAME
 *	cli - the command line every tlsrptd program shares
 * DESCRIPTION
 *	See cli.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "log.h"
#include "mem.h"

#ifndef TLSRPTD_SYSCONFDIR
#define TLSRPTD_SYSCONFDIR "/etc"
#endif

void
cli_init(struct cli *cli, const char *prog, int argc)
{
	cli->prog = prog;
	cli->config_file = NULL;
	(void)argc;
	cli->n_overrides = 0;
	cli->foreground = 0;
	cli->debug = 0;
	cli->print_config = 0;
	cli->print_version = 0;
	cli->config_error_exit = 2;
	conf_defaults();
}

int
cli_option(struct cli *cli, int ch, const char *arg)
{
	switch (ch) {
	case 'c':
		cli->config_file = arg;
		return 1;
	case 'o':
		if (cli->n_overrides == CLI_MAX_OVERRIDES) {
			fprintf(stderr, "%s: more than %d -o options\n", cli->prog,
			    CLI_MAX_OVERRIDES);
			exit(2);
		}
		cli->overrides[cli->n_overrides++] = arg;
		return 1;
	case 'f':
		cli->foreground = 1;
		return 1;
	case 'd':
		cli->debug = 1;
		return 1;
	case 'n':
		cli->print_config = 1;
		return 1;
	case 'V':
		cli->print_version = 1;
		return 1;
	}
	return 0;
}

void
cli_finish(struct cli *cli)
{
	char err[512];
	const char *file = cli->config_file;
	int required = file != NULL;

	if (cli->print_version) {
		printf("%s %s\n", cli->prog, TLSRPTD_VERSION);
		exit(0);
	}
	if (file == NULL && (file = getenv("TLSRPTD_CONF")) != NULL && *file)
		required = 1;
	if (file == NULL || *file == '\0')
		file = TLSRPTD_SYSCONFDIR "/tlsrptd/tlsrptd.conf";
	if (required || access(file, F_OK) == 0) {
		if (conf_load_file(file, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s: %s\n", cli->prog, err);
			exit(cli->config_error_exit);
		}
	}
	for (int i = 0; i < cli->n_overrides; i++) {
		if (conf_set(cli->overrides[i], err, sizeof(err)) != 0) {
			fprintf(stderr, "%s: -o %s\n", cli->prog, err);
			exit(cli->config_error_exit);
		}
	}
	if (cli->debug || conf_bool("log_debug"))
		log_set_debug(1);
	if (cli->print_config) {
		conf_print(stdout);
		exit(0);
	}
}

void
cli_free(struct cli *cli)
{
	cli->n_overrides = 0;
}
