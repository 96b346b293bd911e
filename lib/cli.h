/*
 * NAME
 *	cli - the command line every tlsrptd program shares
 * SYNOPSIS
 *	struct cli cli;
 *	cli_init(&cli, "tlsrpt-collectd", argc);
 *	while ((ch = getopt(argc, argv, CLI_COMMON_OPTS "s")) != -1)
 *		if (!cli_option(&cli, ch, optarg)) switch (ch) { ... }
 *	cli_finish(&cli);	loads config, applies -o, handles -n and -V
 * DESCRIPTION
 *	-c FILE config file (default $TLSRPTD_CONF, else SYSCONFDIR/tlsrptd/
 *	tlsrptd.conf when it exists), -o key=value (repeatable, applied after
 *	the file), -f foreground with logs on stderr, -d debug logging,
 *	-n print the effective config and exit, -V version.
 *	Errors in the configuration exit with status 2 and one line.
 */
#ifndef TLSRPTD_CLI_H
#define TLSRPTD_CLI_H

#include <stddef.h>

#define CLI_COMMON_OPTS "c:o:fdnV"
#define CLI_MAX_OVERRIDES 64

#ifndef TLSRPTD_VERSION
#define TLSRPTD_VERSION "0.1.0"
#endif

struct cli {
	const char *prog;
	const char *config_file;
	const char *overrides[CLI_MAX_OVERRIDES];
	int n_overrides;
	int foreground;
	int debug;
	int print_config;
	int print_version;
	int config_error_exit;	/* exit status for config errors, 2 */
};

void cli_init(struct cli *cli, const char *prog, int argc);
int cli_option(struct cli *cli, int ch, const char *arg);
void cli_finish(struct cli *cli);
void cli_free(struct cli *cli);

/*
 * When running as root and the config key names a user, switch to it
 * for good (groups, gid, uid; verified). Errors are fatal and name the key.
 */
void cli_drop_privileges(const char *user_key);

/*
 * The first line of the file the config key names (a password), without
 * the line end; out is "" when the key is empty. -1 with err set when
 * the file cannot be read.
 */
int cli_read_secret(const char *file_key, char *out, size_t outlen,
    char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
