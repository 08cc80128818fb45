/*-------------------------------------------------------------------------
 *
 * server.c
 *		  Which Wix site an admin action acts on and with whose credentials:
 *		  the server argument, wix_admin.default_server or the database's
 *		  only wix_admin server; USAGE on it and the calling role's user
 *		  mapping (or the PUBLIC one).  When the call is deferred, this is
 *		  where it is queued instead of connected.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_actions.h"
#include "wix_compat.h"

#include "access/table.h"
#include "access/genam.h"
#include "access/xact.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

/* Is the wrapper wix_admin's (its handler is our C function)? */
static bool
is_wix_fdw(Oid fdwid)
{
	ForeignDataWrapper *fdw = GetForeignDataWrapper(fdwid);
	HeapTuple	tuple;
	bool		ours = false;

	if (!OidIsValid(fdw->fdwhandler))
		return false;
	tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(fdw->fdwhandler));
	if (!HeapTupleIsValid(tuple))
		return false;
	if (((Form_pg_proc) GETSTRUCT(tuple))->prolang == ClanguageId)
	{
		bool		isnull;
		Datum		src = SysCacheGetAttr(PROCOID, tuple, Anum_pg_proc_prosrc, &isnull);
		Datum		bin;

		if (!isnull && strcmp(TextDatumGetCString(src), "wix_admin_fdw_handler") == 0)
		{
			bin = SysCacheGetAttr(PROCOID, tuple, Anum_pg_proc_probin, &isnull);
			if (!isnull)
			{
				char	   *probin = TextDatumGetCString(bin);
				size_t		len = strlen(probin);

				/* "$libdir/wix_admin", or a path ending in that file */
				ours = len >= 9 && strcmp(probin + len - 9, "wix_admin") == 0 &&
					(len == 9 || probin[len - 10] == '/');
			}
		}
	}
	ReleaseSysCache(tuple);
	return ours;
}

static int
compare_names(const ListCell *a, const ListCell *b)
{
	return strcmp(lfirst(a), lfirst(b));
}

/* The names of every wix_admin server of the database. */
static List *
wix_server_names(void)
{
	Relation	rel = table_open(ForeignServerRelationId, AccessShareLock);
	SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tuple;
	List	   *names = NIL;

	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_foreign_server form = (Form_pg_foreign_server) GETSTRUCT(tuple);

		if (is_wix_fdw(form->srvfdw))
			names = lappend(names, pstrdup(NameStr(form->srvname)));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	list_sort(names, compare_names);
	return names;
}

static char *
join_names(List *names)
{
	StringInfoData buf;
	ListCell   *cell;

	initStringInfo(&buf);
	foreach(cell, names)
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "",
						 quote_identifier(lfirst(cell)));
	return buf.data;
}

/*
 * wix_choose_server
 *		The server named (name not NULL); else wix_admin.default_server; else
 *		the only wix_admin server of the database.
 */
ForeignServer *
wix_choose_server(const char *name)
{
	bool		from_guc = false;
	ForeignServer *server;

	if (name == NULL && wix_default_server != NULL && wix_default_server[0] != '\0')
	{
		name = wix_default_server;
		from_guc = true;
	}

	if (name == NULL)
	{
		List	   *names = wix_server_names();

		if (list_length(names) == 1)
			name = linitial(names);
		else if (names == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("there is no wix_admin server in this database"),
					 errhint("Create one with CREATE SERVER ... FOREIGN DATA WRAPPER wix_admin OPTIONS (site_id '...').")));
		else
			ereport(ERROR,
					(errcode(ERRCODE_AMBIGUOUS_PARAMETER),
					 errmsg("there are %d wix_admin servers in this database; choose one",
							list_length(names)),
					 errdetail("The servers are %s.", join_names(names)),
					 errhint("Pass server => '%s', or SET wix_admin.default_server = '%s'.",
							 (char *) linitial(names), (char *) linitial(names))));
	}

	server = GetForeignServerByName(name, true);
	if (server == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("server \"%s\" does not exist", name),
				 from_guc ? errdetail("It is named by wix_admin.default_server.") : 0,
				 errhint("The wix_admin servers are: %s.",
						 wix_server_names() != NIL ? join_names(wix_server_names()) : "(none)")));
	if (!is_wix_fdw(server->fdwid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" is not a wix_admin server", name),
				 errdetail("Its foreign data wrapper is \"%s\".",
						   GetForeignDataWrapper(server->fdwid)->fdwname)));
	return server;
}

/*
 * wix_connect_action
 *		Everything a call needs before its first request: the server, USAGE
 *		on it, the caller's user mapping, a transaction that can write the
 *		audit row.  Nothing has been sent to Wix when this fails.
 *
 *		A deferred call is queued instead (call->queued) and false is
 *		returned: the action returns at once.
 */
bool
wix_connect_action(WixActionCall *call)
{
	ForeignServer *server;
	AclResult	aclresult;
	Oid			userid = OidIsValid(call->mapping_user) ? call->mapping_user :
		GetUserId();
	Oid			owner;
	UserMapping *mapping;

	PreventCommandIfReadOnly(psprintf("%s()", call->def->name));
	PreventCommandIfParallelMode(psprintf("%s()", call->def->name));
	(void) wix_admin_table("action_log", &owner);

	server = wix_choose_server(call->server_arg);
	call->server_name = pstrdup(server->servername);

	/* DML needs only the table's privileges, as a scan does */
	if (!OidIsValid(call->via_table))
	{
		aclresult = object_aclcheck(ForeignServerRelationId, server->serverid,
									userid, ACL_USAGE);
		if (aclresult != ACLCHECK_OK)
			aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, server->servername);
	}

	mapping = wix_user_mapping(userid, server->serverid);
	if (call->defer && call->delivery == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(call->caller_cxt);

		call->queued = wix_queue_enqueue(call->def->name, wix_args_json(call),
										 call->server_name, call->target,
										 call->via_table);
		MemoryContextSwitchTo(oldcxt);
		return false;
	}
	call->conn = wix_get_connection(mapping);
	return true;
}
