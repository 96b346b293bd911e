/*
 * NAME
 *	conf - the configuration table shared by every tlsrptd program
 * SYNOPSIS
 *	conf_defaults();
 *	if (conf_load_file("tlsrptd.conf", err, sizeof(err)) != 0) ...
 *	if (conf_set("flush_interval_ms=500", err, sizeof(err)) != 0) ...
 *	path = conf_str("database");
 *	ms = conf_int("flush_interval_ms");
 *	conf_print(stdout);
 * DESCRIPTION
 *	One table (name, type, default, bounds, documentation), as Unbound
 *	does it: parsing, validation, -n printing and the sample config all
 *	come from the same rows, so they cannot drift apart.
 *
 *	The file format is "key = value" per line; '#' starts a comment;
 *	a value may be enclosed in double quotes. Unknown keys and values
 *	out of bounds are errors naming file and line.
 */
#ifndef TLSRPTD_CONF_H
#define TLSRPTD_CONF_H

#include <stdio.h>

enum conf_type {
	CONF_STR,
	CONF_INT,		/* decimal, within [min, max] */
	CONF_BOOL,		/* yes/no, true/false, on/off, 1/0 */
	CONF_MODE,		/* octal file mode, within [min, max] */
};

struct conf_key {
	const char *name;
	enum conf_type type;
	const char *def;
	long long min, max;
	const char *doc;
};

void conf_defaults(void);
int conf_load_file(const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));
int conf_set(const char *assignment, char *err, size_t errlen)
    __attribute__((warn_unused_result));
int conf_set_kv(const char *key, const char *value, char *err, size_t errlen)
    __attribute__((warn_unused_result));

const char *conf_str(const char *key);
long long conf_int(const char *key);
int conf_bool(const char *key);

void conf_print(FILE *fp);
void conf_print_sample(FILE *fp);
const struct conf_key *conf_table(size_t *n);

#endif
