/*-------------------------------------------------------------------------
 *
 * shared.c
 *		  What the backends and background workers of a cluster share about
 *		  Wix when the library is loaded by shared_preload_libraries: one
 *		  rate-limit token bucket per Wix site, and one OAuth access token per
 *		  user mapping.  Without preloading (or when a table is full) each
 *		  connection keeps its own bucket and token, as connection.c always
 *		  did.
 *
 * A site is the server's base_url with its site_id (or account_id): Wix
 * counts requests per site, whichever server, database or credentials reach
 * it, so every server on the same site shares one bucket (a server OID would
 * not do: two servers, in one database or two, may name the same site).  A
 * token is keyed by database and user mapping OID and carries a fingerprint
 * of the credentials and base_url it was issued for, so that after ALTER USER
 * MAPPING or ALTER SERVER it is no longer handed out.  A token lives only
 * here and in the memory of the backends using it; it is wiped when replaced
 * or rejected.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_client.h"

#include "wix_compat.h"

#include <math.h>

#include "miscadmin.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

/* Requests the rate limiter lets through at once after a quiet spell. */
#define RATE_BURST				10

#define MAX_SHARED_SITES		256
#define MAX_SHARED_TOKENS		128
/* Longer site keys are cut: two such sites would share one bucket. */
#define SITE_KEY_LEN			512
/* A longer token is not shared: each backend fetches its own. */
#define MAX_SHARED_TOKEN_LEN	4096

typedef struct SiteBucket
{
	char		site[SITE_KEY_LEN]; /* hash key: see wix_site_key */
	WixRateBucket bucket;
} SiteBucket;

typedef struct SharedToken
{
	WixTokenOwner owner;		/* hash key: database and user mapping */
	uint64		credentials;	/* fingerprint of what the token was issued for */
	uint64		generation;		/* which token this is; 0: none yet */
	int			fetcher;		/* pid of the backend fetching one, or 0 */
	TimestampTz renew_at;
	char		token[MAX_SHARED_TOKEN_LEN];	/* "": none */
} SharedToken;

typedef struct SharedClientState
{
	ConditionVariable token_fetched;	/* a fetch finished or failed */
	uint64		last_generation;
} SharedClientState;

static SharedClientState *client_state = NULL;
static HTAB *site_buckets = NULL;	/* NULL: not preloaded */
static HTAB *shared_tokens = NULL;
static LWLock *client_lock = NULL;	/* guards all three */
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
client_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(SharedClientState)) +
						   hash_estimate_size(MAX_SHARED_SITES, sizeof(SiteBucket)) +
						   hash_estimate_size(MAX_SHARED_TOKENS, sizeof(SharedToken)));
	RequestNamedLWLockTranche("wix_admin client", 1);
}

static void
client_shmem_startup(void)
{
	HASHCTL		ctl;
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	client_state = ShmemInitStruct("wix_admin client", sizeof(SharedClientState),
								   &found);
	if (!found)
	{
		ConditionVariableInit(&client_state->token_fetched);
		client_state->last_generation = 0;
	}
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = SITE_KEY_LEN;
	ctl.entrysize = sizeof(SiteBucket);
	site_buckets = ShmemInitHash("wix_admin site rate buckets", MAX_SHARED_SITES,
								 MAX_SHARED_SITES, &ctl, HASH_ELEM | HASH_STRINGS);
	ctl.keysize = sizeof(WixTokenOwner);
	ctl.entrysize = sizeof(SharedToken);
	shared_tokens = ShmemInitHash("wix_admin access tokens", MAX_SHARED_TOKENS,
								  MAX_SHARED_TOKENS, &ctl, HASH_ELEM | HASH_BLOBS);
	client_lock = &(GetNamedLWLockTranche("wix_admin client"))->lock;
	LWLockRelease(AddinShmemInitLock);
}

/*
 * wix_client_shared_init
 *		From _PG_init: when loaded by shared_preload_libraries, ask for the
 *		shared buckets and tokens.
 */
void
wix_client_shared_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = client_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = client_shmem_startup;
}

/*
 * wix_site_key
 *		The key of a server's site in the table of buckets, palloc'd.
 */
char *
wix_site_key(const WixServerOptions *server)
{
	return server->site_id != NULL ?
		psprintf("%s site %s", server->base_url, server->site_id) :
		psprintf("%s account %s", server->base_url, server->account_id);
}

/*
 * bucket_reserve
 *		Take one request from the bucket, which holds up to the burst
 *		(RATE_BURST, at most half the limit) and refills at the rest of the
 *		limit spread over the minute, so that any 60 seconds see at most
 *		requests_per_minute requests.  The bucket may go below zero: each
 *		caller reserves its own slot.  Returns how long (ms) the caller must
 *		wait before sending.
 */
static long
bucket_reserve(WixRateBucket *bucket, int per_minute)
{
	double		burst = Min(RATE_BURST, Max(1, per_minute / 2));
	double		per_second = (per_minute - burst) / 60.0;
	TimestampTz now = GetCurrentTimestamp();

	if (per_second <= 0)
		per_second = per_minute / 60.0;
	if (bucket->at == 0)
		bucket->tokens = burst;
	else
		bucket->tokens = Min(burst, bucket->tokens +
							 (now - bucket->at) / 1000000.0 * per_second);
	bucket->at = now;
	bucket->tokens -= 1;
	return bucket->tokens >= 0 ? 0 :
		(long) ceil(-bucket->tokens / per_second * 1000.0);
}

/*
 * wix_rate_reserve
 *		Reserve one request to site at per_minute requests a minute: from the
 *		site's shared bucket, else from own (the connection's).  Returns the
 *		wait in ms before the request may be sent.
 */
long
wix_rate_reserve(WixRateBucket *own, const char *site, int per_minute)
{
	SiteBucket *entry;
	bool		found;
	long		wait;

	if (site_buckets == NULL)
		return bucket_reserve(own, per_minute);
	LWLockAcquire(client_lock, LW_EXCLUSIVE);
	entry = hash_search(site_buckets, site, HASH_ENTER_NULL, &found);
	if (entry == NULL)
	{
		LWLockRelease(client_lock);
		return bucket_reserve(own, per_minute);
	}
	if (!found)
		entry->bucket.at = 0;
	wait = bucket_reserve(&entry->bucket, per_minute);
	LWLockRelease(client_lock);
	return wait;
}

/*
 * token_entry
 *		The shared entry of owner, made if missing; when the table is full an
 *		entry holding an expired token, or none, makes room.  NULL when there
 *		is no room.  Locked.
 */
static SharedToken *
token_entry(const WixTokenOwner *owner)
{
	SharedToken *entry;
	bool		found;

	entry = hash_search(shared_tokens, owner, HASH_FIND, NULL);
	if (entry != NULL)
		return entry;
	if (hash_get_num_entries(shared_tokens) >= MAX_SHARED_TOKENS)
	{
		HASH_SEQ_STATUS scan;
		SharedToken *unused = NULL;
		TimestampTz now = GetCurrentTimestamp();

		hash_seq_init(&scan, shared_tokens);
		while ((entry = hash_seq_search(&scan)) != NULL)
		{
			if (entry->fetcher == 0 && now >= entry->renew_at)
			{
				unused = entry;
				hash_seq_term(&scan);
				break;
			}
		}
		if (unused == NULL)
			return NULL;
		explicit_bzero(unused->token, sizeof(unused->token));
		(void) hash_search(shared_tokens, &unused->owner, HASH_REMOVE, NULL);
	}
	entry = hash_search(shared_tokens, owner, HASH_ENTER_NULL, &found);
	if (entry != NULL)
	{
		entry->credentials = 0;
		entry->generation = 0;
		entry->fetcher = 0;
		entry->renew_at = 0;
		entry->token[0] = '\0';
	}
	return entry;
}

/*
 * wix_shared_token_get
 *		The shared token of owner, issued for credentials and not due for
 *		renewal: WIX_TOKEN_FOUND with a copy in *token (allocated in cxt),
 *		its renewal time and generation.  When there is none and nobody is
 *		fetching one, WIX_TOKEN_FETCH_IT: the caller fetches it and hands it
 *		over with wix_shared_token_put, or gives up with
 *		wix_shared_token_abandon.  While another backend fetches, waits
 *		(cancellably) for it.  WIX_TOKEN_NOT_SHARED when nothing is shared.
 */
WixSharedTokenState
wix_shared_token_get(const WixTokenOwner *owner, uint64 credentials,
					 MemoryContext cxt, char **token, TimestampTz *renew_at,
					 uint64 *generation)
{
	WixSharedTokenState state;

	if (shared_tokens == NULL)
		return WIX_TOKEN_NOT_SHARED;
	for (;;)
	{
		SharedToken *entry;
		bool		another_fetches = false;

		LWLockAcquire(client_lock, LW_EXCLUSIVE);
		entry = token_entry(owner);
		if (entry == NULL)
			state = WIX_TOKEN_NOT_SHARED;
		else if (entry->token[0] != '\0' && entry->credentials == credentials &&
				 GetCurrentTimestamp() < entry->renew_at)
		{
			state = WIX_TOKEN_FOUND;
			*token = MemoryContextStrdup(cxt, entry->token);
			*renew_at = entry->renew_at;
			*generation = entry->generation;
		}
		else if (entry->fetcher == 0)
		{
			state = WIX_TOKEN_FETCH_IT;
			entry->fetcher = MyProcPid;
		}
		else
			another_fetches = true;
		LWLockRelease(client_lock);
		if (!another_fetches)
			break;
		ConditionVariableSleep(&client_state->token_fetched,
							   wix_wait_event_info(WIX_WAIT_REQUEST));
	}
	ConditionVariableCancelSleep();
	return state;
}

/*
 * wix_shared_token_put
 *		The fetcher hands over the token it fetched for credentials; returns
 *		its generation, 0 when it is not shared (too long).  Wakes the
 *		backends waiting for it.
 */
uint64
wix_shared_token_put(const WixTokenOwner *owner, uint64 credentials,
					 const char *token, TimestampTz renew_at)
{
	SharedToken *entry;
	uint64		generation = 0;

	LWLockAcquire(client_lock, LW_EXCLUSIVE);
	entry = hash_search(shared_tokens, owner, HASH_FIND, NULL);
	if (entry != NULL && entry->fetcher == MyProcPid)
	{
		explicit_bzero(entry->token, sizeof(entry->token));
		if (strlen(token) < sizeof(entry->token))
		{
			strlcpy(entry->token, token, sizeof(entry->token));
			entry->credentials = credentials;
			entry->renew_at = renew_at;
			entry->generation = generation = ++client_state->last_generation;
		}
		entry->fetcher = 0;
	}
	LWLockRelease(client_lock);
	ConditionVariableBroadcast(&client_state->token_fetched);
	return generation;
}

/*
 * wix_shared_token_abandon
 *		The fetch failed (an error, or the backend exits: an on-exit callback
 *		with arg pointing to the WixTokenOwner): let another backend try.
 */
void
wix_shared_token_abandon(int code, Datum arg)
{
	const WixTokenOwner *owner = (const WixTokenOwner *) DatumGetPointer(arg);
	SharedToken *entry;

	LWLockAcquire(client_lock, LW_EXCLUSIVE);
	entry = hash_search(shared_tokens, owner, HASH_FIND, NULL);
	if (entry != NULL && entry->fetcher == MyProcPid)
		entry->fetcher = 0;
	LWLockRelease(client_lock);
	ConditionVariableBroadcast(&client_state->token_fetched);
}

/*
 * wix_shared_token_rejected
 *		Wix refused the token of that generation (expired early or revoked):
 *		wipe it, unless it was replaced already, so that the next backend to
 *		need one fetches a new one.
 */
void
wix_shared_token_rejected(const WixTokenOwner *owner, uint64 generation)
{
	SharedToken *entry;

	if (shared_tokens == NULL || generation == 0)
		return;
	LWLockAcquire(client_lock, LW_EXCLUSIVE);
	entry = hash_search(shared_tokens, owner, HASH_FIND, NULL);
	if (entry != NULL && entry->generation == generation)
		explicit_bzero(entry->token, sizeof(entry->token));
	LWLockRelease(client_lock);
}
