/*
 * NAME
 *	conf - the configuration table shared by every tlsrptd program
 * DESCRIPTION
 *	See conf.h. Values live in a parallel array of strings (as written,
 *	after validation) and integers (parsed once).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "log.h"
#include "mem.h"

extern const struct conf_key conf_keys[];
extern const size_t conf_nkeys;

#define CONF_MAX_VALUE 4096
#define CONF_MAX_LINE 8192

struct conf_value {
	char *str;
	long long num;
};

static struct conf_value *conf_values;

const struct conf_key *
conf_table(size_t *n)
{
	*n = conf_nkeys;
	return conf_keys;
}

static long
conf_index(const char *key)
{
	for (size_t i = 0; i < conf_nkeys; i++)
		if (strcmp(conf_keys[i].name, key) == 0)
			return (long)i;
	return -1;
}

static void
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int
parse_bool(const char *v, long long *out)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int
conf_validate(const struct conf_key *k, const char *v, long long *num,
    char *err, size_t errlen)
{
	char *end;

	*num = 0;
	if (strlen(v) > CONF_MAX_VALUE) {
		errf(err, errlen, "%s: value longer than %d bytes", k->name,
		    CONF_MAX_VALUE);
		return -1;
	}
	for (const char *p = v; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7F) {
			errf(err, errlen, "%s: control character in value", k->name);
			return -1;
		}
	switch (k->type) {
	case CONF_STR:
		return 0;
	case CONF_BOOL:
		if (parse_bool(v, num) != 0) {
			errf(err, errlen, "%s: '%s' is not yes or no", k->name, v);
			return -1;
		}
		return 0;
	case CONF_INT:
	case CONF_MODE:
		errno = 0;
		*num = strtoll(v, &end, k->type == CONF_MODE ? 8 : 10);
		if (errno != 0 || end == v || *end != '\0') {
			errf(err, errlen, "%s: '%s' is not a%s number", k->name, v,
			    k->type == CONF_MODE ? "n octal" : "");
			return -1;
		}
		if (*num < k->min || *num > k->max) {
			if (k->type == CONF_MODE)
				errf(err, errlen, "%s: %s is outside %llo..%llo",
				    k->name, v, k->min, k->max);
			else
				errf(err, errlen, "%s: %s is outside %lld..%lld",
				    k->name, v, k->min, k->max);
			return -1;
		}
		return 0;
	}
	return -1;
}

int
conf_set_kv(const char *key, const char *value, char *err, size_t errlen)
{
	long idx = conf_index(key);
	long long num;

	if (idx < 0) {
		errf(err, errlen, "unknown key '%s'", key);
		return -1;
	}
	if (conf_values == NULL)
		conf_defaults();
	if (conf_validate(&conf_keys[idx], value, &num, err, errlen) != 0)
		return -1;
	free(conf_values[idx].str);
	conf_values[idx].str = xstrdup(value);
	conf_values[idx].num = num;
	return 0;
}

void
conf_defaults(void)
{
	char err[256];

	if (conf_values == NULL)
		conf_values = xcalloc(conf_nkeys, sizeof(*conf_values));
	for (size_t i = 0; i < conf_nkeys; i++)
		if (conf_set_kv(conf_keys[i].name, conf_keys[i].def, err,
		    sizeof(err)) != 0)
			fatalx("built-in default: %s", err);
}

/* '#' starts a comment unless it is inside double quotes. */
static char *
comment_start(char *line)
{
	int quoted = 0;

	for (char *p = line; *p != '\0'; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '#' && !quoted)
			return p;
	}
	return NULL;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Splits "key = value" in place; strips one pair of double quotes. */
static int
split_assignment(char *line, char **key, char **value)
{
	char *eq = strchr(line, '=');
	size_t vlen;

	if (eq == NULL)
		return -1;
	*eq = '\0';
	*key = trim(line);
	*value = trim(eq + 1);
	vlen = strlen(*value);
	if (vlen >= 2 && (*value)[0] == '"' && (*value)[vlen - 1] == '"') {
		(*value)[vlen - 1] = '\0';
		(*value)++;
	}
	return **key ? 0 : -1;
}

int
conf_set(const char *assignment, char *err, size_t errlen)
{
	char *copy = xstrdup(assignment), *key, *value;
	int rc;

	if (split_assignment(copy, &key, &value) != 0) {
		errf(err, errlen, "'%s' is not key=value", assignment);
		rc = -1;
	} else
		rc = conf_set_kv(key, value, err, errlen);
	free(copy);
	return rc;
}

int
conf_load_file(const char *path, char *err, size_t errlen)
{
	FILE *fp;
	char line[CONF_MAX_LINE], inner[512], *key, *value, *p;
	unsigned lineno = 0, *set_on;
	long idx;
	int rc = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* Line of each key's setting: a second one is a mistake, not an override. */
	set_on = xcalloc(conf_nkeys, sizeof(*set_on));
	errno = 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			errf(err, errlen, "%s:%u: line longer than %d bytes", path,
			    lineno, CONF_MAX_LINE - 2);
			rc = -1;
			break;
		}
		if ((p = comment_start(line)) != NULL)
			*p = '\0';
		p = trim(line);
		if (*p == '\0')
			continue;
		if (split_assignment(p, &key, &value) != 0) {
			errf(err, errlen, "%s:%u: expected 'key = value'", path,
			    lineno);
			rc = -1;
			break;
		}
		if ((idx = conf_index(key)) >= 0 && set_on[idx] != 0) {
			errf(err, errlen, "%s:%u: %s is already set on line %u",
			    path, lineno, key, set_on[idx]);
			rc = -1;
			break;
		}
		if (conf_set_kv(key, value, inner, sizeof(inner)) != 0) {
			errf(err, errlen, "%s:%u: %s", path, lineno, inner);
			rc = -1;
			break;
		}
		set_on[idx] = lineno;
	}
	if (rc == 0 && ferror(fp)) {
		errf(err, errlen, "%s: %s", path, errno ? strerror(errno) : "read error");
		rc = -1;
	}
	free(set_on);
	fclose(fp);
	return rc;
}

static long
conf_require(const char *key, enum conf_type type)
{
	long idx = conf_index(key);

	if (idx < 0)
		fatalx("internal error: no config key '%s'", key);
	if (conf_keys[idx].type != type &&
	    !(type == CONF_INT && conf_keys[idx].type == CONF_MODE))
		fatalx("internal error: config key '%s' read with wrong type", key);
	if (conf_values == NULL)
		conf_defaults();
	return idx;
}

const char *
conf_str(const char *key)
{
	return conf_values[conf_require(key, CONF_STR)].str;
}

long long
conf_int(const char *key)
{
	return conf_values[conf_require(key, CONF_INT)].num;
}

int
conf_bool(const char *key)
{
	return conf_values[conf_require(key, CONF_BOOL)].num != 0;
}

static void
print_value(FILE *fp, const struct conf_key *k, const char *v)
{
	if (k->type == CONF_STR && (*v == '\0' || *v == '"' ||
	    strpbrk(v, "# \t") != NULL))
		fprintf(fp, "%s = \"%s\"\n", k->name, v);
	else
		fprintf(fp, "%s = %s\n", k->name, v);
}

void
conf_print(FILE *fp)
{
	if (conf_values == NULL)
		conf_defaults();
	for (size_t i = 0; i < conf_nkeys; i++)
		print_value(fp, &conf_keys[i], conf_values[i].str);
}

void
conf_print_sample(FILE *fp)
{
	fprintf(fp, "# tlsrptd.conf - every key with its default value.\n"
	    "# Format: key = value; '#' starts a comment.\n");
	for (size_t i = 0; i < conf_nkeys; i++) {
		const struct conf_key *k = &conf_keys[i];

		fprintf(fp, "\n# %s\n", k->doc);
		if (k->type == CONF_INT)
			fprintf(fp, "# range %lld..%lld\n", k->min, k->max);
		fprintf(fp, "#");
		print_value(fp, k, k->def);
	}
}
