/*
 * NAME
 *	store - the schema migrations built into the programs
 * DESCRIPTION
 *	See store.h.
 */
#include <string.h>

#include "store.h"

int
store_schema_version(const char *set)
{
	int v = 0;

	for (const struct store_migration *m = store_migrations; m->set; m++)
		if (strcmp(m->set, set) == 0 && m->version > v)
			v = m->version;
	return v;
}

const struct store_migration *
store_migration_find(const char *set, int version)
{
	for (const struct store_migration *m = store_migrations; m->set; m++)
		if (strcmp(m->set, set) == 0 && m->version == version)
			return m;
	return NULL;
}
