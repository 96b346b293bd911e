/*
 * NAME
 *	cli - the command line every tlsrptd program shares
 * DESCRIPTION
 *	See cli.h.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	/*
	 * Databases, WAL files and sockets we create hold other domains'
	 * mail traffic: never world-readable, whatever umask we inherit
	 * (the systemd units set the same; a start by hand may not).
	 */
	umask(027);
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

void
cli_drop_privileges(const char *user_key)
{
	const char *user = conf_str(user_key);
	struct passwd *pw;

	if (*user == '\0' || geteuid() != 0)
		return;
	if ((pw = getpwnam(user)) == NULL)
		fatalx("%s: no user '%s'", user_key, user);
	if (setgroups(1, &pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0)
		fatal("cannot switch to user %s", user);
	if (setuid(0) == 0)
		fatalx("still able to regain root after switching to %s", user);
}

int
cli_read_secret(const char *file_key, char *out, size_t outlen, char *err,
    size_t errlen)
{
	const char *file = conf_str(file_key);
	FILE *fp;

	out[0] = '\0';
	if (*file == '\0')
		return 0;
	if ((fp = fopen(file, "r")) == NULL) {
		snprintf(err, errlen, "%s %s: %s", file_key, file, strerror(errno));
		return -1;
	}
	if (fgets(out, (int)outlen, fp) == NULL)
		out[0] = '\0';
	fclose(fp);
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}
