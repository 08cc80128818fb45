/*-------------------------------------------------------------------------
 *
 * sizes.c
 *		  Remembered table sizes: how many rows, and how many Wix requests,
 *		  the last scan that read a resource to the end saw, per server, user
 *		  mapping and resource.  The planner uses them when a table has
 *		  neither a "rows" option nor ANALYZE statistics.
 *
 * Loaded by shared_preload_libraries, the sizes live in shared memory, so
 * every backend of the cluster sees what one of them read (until the server
 * restarts); otherwise each backend remembers what it read itself.  A scan
 * records a size only when nothing narrowed it: no condition sent to Wix, no
 * pushed LIMIT or OFFSET, and it read the last page.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_fdw.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

/* Sizes remembered at most; the oldest is replaced when it is full. */
#define MAX_REMEMBERED_SIZES 1024

typedef struct SizeKey
{
	Oid			serverid;
	Oid			umid;			/* the user mapping the scan used */
	char		resource[NAMEDATALEN];
} SizeKey;

typedef struct SizeEntry
{
	SizeKey		key;
	double		rows;
	double		requests;
	TimestampTz recorded;
} SizeEntry;

static HTAB *sizes = NULL;
static LWLock *sizes_lock = NULL;	/* NULL: a backend-local table */
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
sizes_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(hash_estimate_size(MAX_REMEMBERED_SIZES, sizeof(SizeEntry)));
	RequestNamedLWLockTranche("wix_admin sizes", 1);
}

static void
sizes_shmem_startup(void)
{
	HASHCTL		ctl;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(SizeKey);
	ctl.entrysize = sizeof(SizeEntry);
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	sizes = ShmemInitHash("wix_admin sizes", MAX_REMEMBERED_SIZES,
						  MAX_REMEMBERED_SIZES, &ctl, HASH_ELEM | HASH_BLOBS);
	sizes_lock = &(GetNamedLWLockTranche("wix_admin sizes"))->lock;
	LWLockRelease(AddinShmemInitLock);
}

/*
 * wix_sizes_init
 *		From _PG_init: when loaded by shared_preload_libraries, ask for the
 *		shared table.
 */
void
wix_sizes_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = sizes_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = sizes_shmem_startup;
}

/* The table of sizes: shared, or this backend's own, made at first use. */
static HTAB *
sizes_table(void)
{
	if (sizes == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(SizeKey);
		ctl.entrysize = sizeof(SizeEntry);
		ctl.hcxt = TopMemoryContext;
		sizes = hash_create("wix_admin sizes", 64, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	return sizes;
}

static void
make_key(SizeKey *key, Oid serverid, Oid umid, const char *resource)
{
	memset(key, 0, sizeof(*key));
	key->serverid = serverid;
	key->umid = umid;
	strlcpy(key->resource, resource, NAMEDATALEN);
}

/* Make room for one more entry by dropping the oldest.  Locked. */
static void
drop_oldest(HTAB *table)
{
	HASH_SEQ_STATUS status;
	SizeEntry  *entry;
	SizeEntry  *oldest = NULL;

	hash_seq_init(&status, table);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (oldest == NULL || entry->recorded < oldest->recorded)
			oldest = entry;
	}
	if (oldest != NULL)
		(void) hash_search(table, &oldest->key, HASH_REMOVE, NULL);
}

/*
 * wix_size_remember
 *		A scan read the resource to the end: it holds rows rows, and reading
 *		them took requests requests.
 */
void
wix_size_remember(Oid serverid, Oid umid, const char *resource,
				  double rows, double requests)
{
	HTAB	   *table = sizes_table();
	SizeKey		key;
	SizeEntry  *entry;
	bool		found;

	make_key(&key, serverid, umid, resource);
	if (sizes_lock)
		LWLockAcquire(sizes_lock, LW_EXCLUSIVE);
	entry = hash_search(table, &key, HASH_FIND, NULL);
	if (entry == NULL && hash_get_num_entries(table) >= MAX_REMEMBERED_SIZES)
		drop_oldest(table);
	entry = hash_search(table, &key, HASH_ENTER_NULL, &found);
	if (entry != NULL)
	{
		entry->rows = rows;
		entry->requests = requests;
		entry->recorded = GetCurrentTimestamp();
	}
	if (sizes_lock)
		LWLockRelease(sizes_lock);
}

/*
 * wix_size_recall
 *		The size last remembered for the resource; false when there is none.
 */
bool
wix_size_recall(Oid serverid, Oid umid, const char *resource,
				double *rows, double *requests)
{
	SizeKey		key;
	SizeEntry  *entry;

	make_key(&key, serverid, umid, resource);
	if (sizes_lock)
		LWLockAcquire(sizes_lock, LW_SHARED);
	entry = hash_search(sizes_table(), &key, HASH_FIND, NULL);
	if (entry != NULL)
	{
		*rows = entry->rows;
		*requests = entry->requests;
	}
	if (sizes_lock)
		LWLockRelease(sizes_lock);
	return entry != NULL;
}
