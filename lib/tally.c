/*
 * NAME
 *	tally - the collector's in-memory pre-aggregation table
 * DESCRIPTION
 *	See tally.h. A key is the concatenation of its fields, each encoded
 *	as a 4-byte length, the bytes and a NUL (so fields can be read back
 *	as C strings in place); lists are a 4-byte count and their strings.
 *	The encoding is unambiguous, so byte equality is key equality.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "mem.h"
#include "tally.h"

#define CHUNK_BYTES (1024 * 1024)
#define NO_POLICY UINT32_MAX

struct tally_chunk {
	struct tally_chunk *next;
	size_t size, used;
	unsigned char data[];
};

static const char *const stat_names[STAT__COUNT] = {
	[STAT_RECEIVED] = "received",
	[STAT_ACCEPTED] = "accepted",
	[STAT_SESSIONS] = "sessions",
	[STAT_REJECTED] = "rejected",
	[STAT_REJECTED_BASE + EV_ERR_EMPTY] = "rejected_empty",
	[STAT_REJECTED_BASE + EV_ERR_SYNTAX] = "rejected_syntax",
	[STAT_REJECTED_BASE + EV_ERR_DEPTH] = "rejected_depth",
	[STAT_REJECTED_BASE + EV_ERR_NOT_OBJECT] = "rejected_not_object",
	[STAT_REJECTED_BASE + EV_ERR_TYPE] = "rejected_wrong_type",
	[STAT_REJECTED_BASE + EV_ERR_RANGE] = "rejected_bad_number",
	[STAT_REJECTED_BASE + EV_ERR_MISSING] = "rejected_missing_member",
	[STAT_REJECTED_BASE + EV_ERR_DOMAIN] = "rejected_bad_domain",
	[STAT_REJECTED_BASE + EV_ERR_DUPLICATE] = "rejected_duplicate_member",
	[STAT_REJECTED_BASE + EV_ERR_LIMIT] = "rejected_over_limit",
	[STAT_REJECTED_BASE + EV_ERR_NO_POLICIES] = "rejected_no_policies",
	[STAT_REJECTED_BASE + EV_ERR_OVERSIZE] = "rejected_oversize",
	[STAT_DROPPED_POLICIES] = "dropped_policies",
	[STAT_DROPPED_FAILURES] = "dropped_failure_details",
	[STAT_REPAIRED_UTF8] = "repaired_utf8_strings",
	[STAT_UNKNOWN_VERSION] = "unknown_version",
	[STAT_UNKNOWN_POLICY_TYPE] = "unknown_policy_type",
	[STAT_UNKNOWN_RESULT_CODE] = "unknown_result_code",
	[STAT_T_MISMATCH] = "t_mismatch",
	[STAT_DROPPED_TABLE_FULL] = "dropped_table_full",
	[STAT_QUEUE_FULL] = "batches_at_queue_limit",
	[STAT_FLUSHED_KEYS] = "flushed_keys",
	[STAT_FLUSH_ERRORS] = "flush_errors",
};

const char *
tally_stat_name(int stat)
{
	if (stat < 0 || stat >= STAT__COUNT)
		return NULL;
	return stat_names[stat];
}

static void *
map_pages(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fatal("mmap %zu bytes", size);
	return p;
}

struct tally *
tally_new(size_t max_keys, size_t max_key_bytes, uint64_t seed)
{
	struct tally *t = xcalloc(1, sizeof(*t));
	size_t slots = 1024;

	/* Load factor at most 2/3 keeps linear probing short. */
	while (slots < max_keys + max_keys / 2)
		slots *= 2;
	t->slot_mask = slots - 1;
	t->slots = map_pages(slots * sizeof(*t->slots));
	t->entries = map_pages(max_keys * sizeof(*t->entries));
	t->max_keys = max_keys;
	t->seed = seed;
	t->scratch_cap = max_key_bytes + 1024;
	t->scratch = xmalloc(t->scratch_cap);
	return t;
}

static void
free_chunks(struct tally *t, int keep_first)
{
	struct tally_chunk *c = t->chunks, *next;

	/* Chunks are pushed at the head; the oldest (first) is at the tail. */
	while (c != NULL) {
		next = c->next;
		if (keep_first && next == NULL && c->size == CHUNK_BYTES) {
			c->used = 0;
			t->chunks = c;
			return;
		}
		munmap(c, c->size);
		c = next;
	}
	t->chunks = NULL;
}

void
tally_reset(struct tally *t)
{
	memset(t->slots, 0, (t->slot_mask + 1) * sizeof(*t->slots));
	t->nentries = 0;
	t->nsessions = 0;
	memset(t->stats, 0, sizeof(t->stats));
	free_chunks(t, 1);
}

void
tally_free(struct tally *t)
{
	if (t == NULL)
		return;
	free_chunks(t, 0);
	munmap(t->slots, (t->slot_mask + 1) * sizeof(*t->slots));
	munmap(t->entries, t->max_keys * sizeof(*t->entries));
	free(t->scratch);
	free(t);
}

size_t
tally_nkeys(const struct tally *t)
{
	return t->nentries;
}

uint64_t
tally_nsessions(const struct tally *t)
{
	return t->nsessions;
}

int
tally_is_empty(const struct tally *t)
{
	for (int i = 0; i < STAT__COUNT; i++)
		if (t->stats[i] != 0)
			return 0;
	return t->nentries == 0;
}

struct tally_entry *
tally_entry(const struct tally *t, size_t i)
{
	return i < t->nentries ? t->entries[i] : NULL;
}

int
tally_entry_is_policy(const struct tally_entry *e)
{
	return e->policy == NO_POLICY;
}

static uint64_t
hash_bytes(const unsigned char *p, size_t n, uint64_t seed)
{
	const uint64_t m = 0x9E3779B97F4A7C15ULL;
	uint64_t h = seed ^ (n * m), w;

	while (n >= 8) {
		memcpy(&w, p, 8);
		h = (h ^ (w * m)) * 0xBF58476D1CE4E5B9ULL;
		h ^= h >> 29;
		p += 8;
		n -= 8;
	}
	w = 0;
	memcpy(&w, p, n);
	h = (h ^ (w * m)) * 0x94D049BB133111EBULL;
	h ^= h >> 31;
	h *= m;
	return h ^ (h >> 32);
}

static unsigned char *
slab_alloc(struct tally *t, size_t n)
{
	struct tally_chunk *c = t->chunks;

	n = (n + 7) & ~(size_t)7;
	if (c == NULL || c->size - sizeof(*c) - c->used < n) {
		size_t size = CHUNK_BYTES;
		if (n + sizeof(*c) > size)
			size = (n + sizeof(*c) + 4095) & ~(size_t)4095;
		c = map_pages(size);
		c->size = size;
		c->used = 0;
		c->next = t->chunks;
		t->chunks = c;
	}
	c->used += n;
	return c->data + c->used - n;
}

/* The entry for the key in scratch[0..len), or NULL; *slot: where it goes. */
static struct tally_entry *
find(const struct tally *t, size_t len, uint32_t policy, uint64_t *hash,
    size_t *slot)
{
	uint64_t h = hash_bytes(t->scratch, len, t->seed) ^ policy;
	size_t i = (size_t)h & t->slot_mask;
	struct tally_entry *e;

	while (t->slots[i] != 0) {
		e = t->entries[t->slots[i] - 1];
		if (e->hash == h && e->keylen == len && e->policy == policy &&
		    memcmp(e->key, t->scratch, len) == 0)
			return e;
		i = (i + 1) & t->slot_mask;
	}
	*hash = h;
	*slot = i;
	return NULL;
}

/* Finds the key in scratch[0..len); inserts it when absent. */
static struct tally_entry *
lookup(struct tally *t, size_t len, uint32_t policy, int *created)
{
	struct tally_entry *e;
	uint64_t h;
	size_t i;

	if ((e = find(t, len, policy, &h, &i)) != NULL) {
		*created = 0;
		return e;
	}
	e = (struct tally_entry *)slab_alloc(t, sizeof(*e) + len);
	e->hash = h;
	e->count_a = e->count_b = 0;
	e->db_id = 0;
	e->policy = policy;
	e->keylen = (uint32_t)len;
	e->index = (uint32_t)t->nentries;
	memcpy(e->key, t->scratch, len);
	t->entries[t->nentries++] = e;
	t->slots[i] = (uint32_t)t->nentries;
	*created = 1;
	return e;
}

static size_t
put_u32(unsigned char *o, uint32_t v)
{
	memcpy(o, &v, 4);
	return 4;
}

static size_t
put_str(unsigned char *o, const char *p, uint32_t len)
{
	memcpy(o, &len, 4);
	memcpy(o + 4, p, len);
	o[4 + len] = '\0';
	return 5 + (size_t)len;
}

static size_t
put_list(unsigned char *o, const struct ev_str *v, uint32_t n)
{
	size_t off = put_u32(o, n);

	for (uint32_t i = 0; i < n; i++)
		off += put_str(o + off, v[i].p, v[i].len);
	return off;
}

static size_t
policy_key(unsigned char *o, const char *day, const struct event *ev,
    const struct ev_policy *p)
{
	size_t off = 0;

	off += put_str(o + off, day, (uint32_t)strlen(day));
	off += put_str(o + off, ev->domain.p, ev->domain.len);
	off += put_str(o + off, ev->record.p, ev->record.len);
	off += put_u32(o + off, (uint32_t)p->type);
	off += put_str(o + off, p->domain.p, p->domain.len);
	off += put_list(o + off, p->strings, p->nstrings);
	off += put_list(o + off, p->mx_hosts, p->nmx_hosts);
	return off;
}

static size_t
failure_key(unsigned char *o, const struct ev_failure *f)
{
	size_t off = put_u32(o, (uint32_t)f->code);

	off += put_str(o + off, f->sending_ip.p, f->sending_ip.len);
	off += put_str(o + off, f->mx_hostname.p, f->mx_hostname.len);
	off += put_str(o + off, f->mx_helo.p, f->mx_helo.len);
	off += put_str(o + off, f->receiving_ip.p, f->receiving_ip.len);
	off += put_str(o + off, f->additional_info.p, f->additional_info.len);
	off += put_str(o + off, f->reason.p, f->reason.len);
	return off;
}

/* Keys ev would add that are not in the table (at most: repeats count twice). */
static size_t
count_new(struct tally *t, const char *day, const struct event *ev)
{
	size_t n = 0, slot;
	uint64_t h;

	for (uint32_t i = 0; i < ev->npolicies; i++) {
		const struct ev_policy *p = &ev->policies[i];
		struct tally_entry *pe;

		pe = find(t, policy_key(t->scratch, day, ev, p), NO_POLICY, &h, &slot);
		if (pe == NULL) {
			n += 1 + p->nfailures;
			continue;
		}
		for (uint32_t j = 0; j < p->nfailures; j++)
			if (find(t, failure_key(t->scratch, &p->failures[j]),
			    pe->index, &h, &slot) == NULL)
				n++;
	}
	return n;
}

int
tally_add(struct tally *t, const char *day, const struct event *ev)
{
	size_t need = 0;

	for (uint32_t i = 0; i < ev->npolicies; i++)
		need += 1 + ev->policies[i].nfailures;
	/* The exact count only near the cap: it costs a second lookup. */
	if (t->nentries + need > t->max_keys &&
	    t->nentries + count_new(t, day, ev) > t->max_keys)
		return -1;
	for (uint32_t i = 0; i < ev->npolicies; i++) {
		const struct ev_policy *p = &ev->policies[i];
		struct tally_entry *pe, *fe;
		uint32_t pidx;
		int created;
		size_t len;

		len = policy_key(t->scratch, day, ev, p);
		pe = lookup(t, len, NO_POLICY, &created);
		if (p->failed)
			pe->count_b++;
		else
			pe->count_a++;
		t->nsessions++;
		pidx = pe->index;
		for (uint32_t j = 0; j < p->nfailures; j++) {
			len = failure_key(t->scratch, &p->failures[j]);
			fe = lookup(t, len, pidx, &created);
			fe->count_a++;
		}
	}
	return 0;
}

static const unsigned char *
get_str(const unsigned char *pos, struct tally_str *out)
{
	memcpy(&out->len, pos, 4);
	out->p = (const char *)pos + 4;
	return pos + 5 + out->len;
}

static const unsigned char *
get_u32(const unsigned char *pos, uint32_t *v)
{
	memcpy(v, pos, 4);
	return pos + 4;
}

const unsigned char *
tally_list_get(const unsigned char *pos, struct tally_str *out)
{
	return get_str(pos, out);
}

static const unsigned char *
skip_list(const unsigned char *pos, uint32_t *n)
{
	struct tally_str s;

	pos = get_u32(pos, n);
	for (uint32_t i = 0; i < *n; i++)
		pos = get_str(pos, &s);
	return pos;
}

void
tally_policy_key(const struct tally_entry *e, struct tally_policy_key *k)
{
	const unsigned char *pos = e->key;
	uint32_t type;

	pos = get_str(pos, &k->day);
	pos = get_str(pos, &k->report_domain);
	pos = get_str(pos, &k->record);
	pos = get_u32(pos, &type);
	k->type = (long)type;
	pos = get_str(pos, &k->policy_domain);
	k->strings = pos + 4;
	pos = skip_list(pos, &k->nstrings);
	k->mx = pos + 4;
	(void)skip_list(pos, &k->nmx);
}

void
tally_failure_key(const struct tally_entry *e, struct tally_failure_key *k)
{
	const unsigned char *pos = e->key;
	uint32_t code;

	pos = get_u32(pos, &code);
	k->code = (long)code;
	pos = get_str(pos, &k->sending_ip);
	pos = get_str(pos, &k->mx_hostname);
	pos = get_str(pos, &k->mx_helo);
	pos = get_str(pos, &k->receiving_ip);
	pos = get_str(pos, &k->additional_info);
	(void)get_str(pos, &k->reason);
}
