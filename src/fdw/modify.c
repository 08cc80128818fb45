/*-------------------------------------------------------------------------
 *
 * modify.c
 *		  Writable foreign tables: INSERT, UPDATE and DELETE of a wix_admin
 *		  foreign table become the admin actions the SQL functions make,
 *		  through the same runner (actions/runtime.c).
 *
 * Design (issue 17).
 *
 * - The mapping is data.  The DML table of registry.c has one rule per
 *	 (resource, statement kind, standard column, value) and names the
 *	 action row it makes, with bindings that fill the action's parameters
 *	 from the row: its Wix id, a column, members of a jsonb object, or a
 *	 constant.  This
 *	 file has no code per table: it finds the rules, binds the arguments and
 *	 hands them to wix_action_run_dml(), which is run_call() with the
 *	 arguments read from datums.  So every rule of the functions holds for
 *	 DML: id checks, revisions and the one 409 retry, retries only when Wix
 *	 cannot have acted, the audit line and action_log row, deferral.
 *
 * - Columns.  A column of the table stands for a standard column of its
 *	 resource when it reads that column's Wix path on every endpoint that
 *	 has it, "^"s included (a standard table's columns, or a table of one's
 *	 own whose columns are named so or carry the same path options).  An
 *	 UPDATE may set only columns some rule names; the planner refuses others
 *	 (PlanForeignModify), naming what is allowed.  The value a column is
 *	 set to picks the rule (status 'APPROVED' or 'BLOCKED'), per row; a
 *	 rule with no value takes any value but NULL (inventory quantity).
 *	 Columns of two WIX_DML_EXCLUSIVE rules, whose changes Wix takes one at
 *	 a time (an inventory item's quantity and in_stock), are refused
 *	 together.
 *
 * - Row identity.  postgres_fdw adds a resjunk ctid; here
 *	 AddForeignUpdateTargets adds the table's id column as the resjunk
 *	 "wix_id", which the scan below fetches with the row.
 *
 * - The updated row.  A column an UPDATE rule binds is the column's value
 *	 in the row after the UPDATE: its new value when the statement sets it,
 *	 else the row's as read.  The new row of a foreign table's UPDATE holds
 *	 only the columns set, so every column an UPDATE rule binds is also a
 *	 resjunk "wix_row_<column>" (an inventory item's product_id and
 *	 variant_id; a booking's start_date when only end_date is set).  Rules
 *	 of the same action with the same bindings make one call per row: a
 *	 reschedule setting start_date and end_date is one request.  Several
 *	 columns can feed one jsonb object parameter (WIX_BIND_MEMBER), with
 *	 only the columns the statement sets: a product's name, visible, price,
 *	 sku and description are one wix_update_product() changes object (the
 *	 V3 revision: below).
 *
 * - Deferred mode.  With wix_admin.defer_actions on, the runner queues
 *	 each row's action ({action, args}) in the statement's transaction, as
 *	 a function call does: nothing is sent unless it commits.  RETURNING
 *	 has no answer to return then, and is an error.  The queue records the
 *	 table (via_table): at delivery the role's privilege on it stands for
 *	 EXECUTE on the function, as it did for the statement.
 *
 * - The user mapping is that of the role the executor checks the table's
 *	 privileges as, as for the scan: a view's owner through a view.
 *
 * - RETURNING.  The action's result entity is converted with the scan's
 *	 converters (convert.c) for the endpoint the site's catalog chooses.
 *	 A DELETE answers no entity: its RETURNING gives the row as read, which
 *	 the scan fetches whole as the resjunk "wix_whole_row".  Some actions
 *	 answer with another entity than the row: marking an order paid answers
 *	 its transactions, fulfilling it the new fulfillment.  Their rules carry
 *	 WIX_DML_ANSWER_NOT_ROW and the planner refuses RETURNING for an UPDATE
 *	 setting their column, rather than read the row again: a re-read would
 *	 be one more request per row, and Wix may update an order's
 *	 paymentStatus and fulfillmentStatus after answering (the re-read could
 *	 show the old status).  SELECT after the UPDATE reads what Wix shows.
 *
 * - Row triggers run as on local tables: a BEFORE ROW trigger's NEW is
 *	 the row bound (it may change a set column's value, and so the rule, or
 *	 skip the row); a change it makes to a column the statement does not
 *	 set is not sent, as such columns are bound as read.  AFTER ROW
 *	 triggers see the row as set (or as Wix answered, with RETURNING).
 *
 * - Failures.  In immediate mode each row goes to Wix as the statement
 *	 runs; when one fails, the error's DETAIL says how many rows Wix had
 *	 changed already (their audit lines are in the server log).
 *
 * - Bulk.  An action row may name its bulk call (Catalog V3's products:
 *	 create, update, delete; 100 a request).  An INSERT uses it through
 *	 the executor's batch insert (GetForeignModifyBatchSize), an UPDATE or
 *	 DELETE through direct modify: the ForeignScan reads the rows itself
 *	 (Wix filters what it can, the rest is checked as rows arrive) and
 *	 sends them a batch at a time.  Both only where no row must be answered
 *	 or seen alone: no RETURNING, no row trigger, not deferred (the queue
 *	 holds one action per row), and for direct modify a scan of the table
 *	 alone whose every row makes the same action.  The runner checks every
 *	 row of a batch before sending any (wix_action_run_dml_bulk); a row Wix
 *	 refuses in the bulk answer is sent again alone, which is safe as Wix
 *	 has not acted on it and gives Wix's error in full.  Catalog V1 has no
 *	 bulk calls: there each row goes alone.
 *
 * - Revisions.  An UPDATE fetches the row's revision column, when the
 *	 table has one, as the resjunk "wix_revision": a bulk update must send
 *	 each product's revision, and a single V3 product update sends it on
 *	 its first attempt instead of reading the product first (a 409 still
 *	 reads it and retries once).
 *
 *-------------------------------------------------------------------------
 */
#include "wix_fdw.h"
#include "wix_actions.h"
#include "wix_compat.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "executor/executor.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/inherit.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* Indexes of the fdw_private list of a foreign table's ModifyTable. */
enum WixModifyPrivate
{
	WixModifyResource,			/* String: the resource name */
	WixModifyColumns,			/* IntList: UPDATE: the attnums set */
	WixModifyReturning			/* Integer: the statement has RETURNING */
};

/* A member of a jsonb object argument: a column the statement sets. */
typedef struct ArgMember
{
	AttrNumber	attnum;
	const char *name;
	char		category;		/* the column type's TYPCATEGORY_ */
	FmgrInfo	output;
} ArgMember;

/* Where one argument of an action comes from. */
typedef struct ArgSource
{
	bool		bound;
	WixBindSource source;
	AttrNumber	attnum;			/* WIX_BIND_COLUMN: the table's column */
	AttrNumber	junk_attno;		/* ... an UPDATE does not set: its
								 * "wix_row_<column>" in the subplan */
	List	   *members;		/* WIX_BIND_MEMBER: ArgMember * */
	Datum		constant;		/* WIX_BIND_CONST, in the parameter's type */
	bool		via_text;		/* the column's type is not the parameter's */
	FmgrInfo	output;			/* ... so: the column type's output */
	FmgrInfo	input;			/* ... and the parameter type's input */
	Oid			ioparam;
} ArgSource;

/* One rule, ready to bind a row's arguments. */
typedef struct ModifyCall
{
	const WixDmlRule *rule;
	const WixActionDef *def;
	char	   *value;			/* UPDATE: rule->value as the column's type
								 * writes it */
	ArgSource	args[WIX_ACTION_MAX_PARAMS];
} ModifyCall;

/* An UPDATE's column: the rules its new value chooses from. */
typedef struct ModifyColumn
{
	AttrNumber	attnum;
	List	   *calls;			/* ModifyCall *, in rule order */
} ModifyColumn;

/* The state of one foreign table's INSERT, UPDATE or DELETE. */
typedef struct WixModifyState
{
	Relation	rel;
	const WixResource *resource;
	WixDmlKind	kind;
	WixDmlTarget target;		/* the table's server, the user mapping's
								 * role, wix_admin.defer_actions at the
								 * start */
	bool		returning;
	AttrNumber	id_attno;		/* junk "wix_id" of the subplan */
	AttrNumber	revision_attno; /* ... and "wix_revision", if any */
	AttrNumber	whole_row_attno;	/* ... "wix_whole_row": DELETE ...
									 * RETURNING */
	FmgrInfo	revision_output;	/* ... its type's output function */
	List	   *subplan_tlist;	/* UPDATE and DELETE: the subplan's */
	ModifyCall *call;			/* INSERT and DELETE: the rule's */
	List	   *columns;		/* UPDATE: ModifyColumn * */
	Bitmapset  *set_attnums;	/* UPDATE: the columns it sets */
	Bitmapset  *insert_attnums; /* INSERT: the columns its rule binds */
	int			changed;		/* rows Wix has changed so far */
	WixColumnConverter **converters;	/* RETURNING: by attnum - 1 */
	MemoryContext query_cxt;	/* the statement's: what lives to its end */
	MemoryContext row_cxt;		/* reset for every row */
} WixModifyState;

static const char *const kind_names[] = {"INSERT", "UPDATE", "DELETE"};

static WixDmlKind
dml_kind(CmdType operation)
{
	switch (operation)
	{
		case CMD_INSERT:
			return WIX_DML_INSERT;
		case CMD_UPDATE:
			return WIX_DML_UPDATE;
		case CMD_DELETE:
			return WIX_DML_DELETE;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("wix_admin foreign tables take INSERT, UPDATE and DELETE only")));
	}
	return WIX_DML_INSERT;		/* keep compiler quiet */
}

static const WixResource *
table_resource(Relation rel)
{
	char	   *name = wix_table_resource(RelationGetRelid(rel));
	const WixResource *resource = wix_find_resource(name);

	if (resource == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("unknown Wix resource \"%s\"", name)));
	return resource;
}

/*
 * standard_columns
 *		The standard column each column of the table stands for (by attnum
 *		- 1), or NULL: a column reads a standard column's field when its
 *		path is that column's on every endpoint of the resource that has it.
 */
static const char **
standard_columns(Relation rel, const WixResource *resource)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	WixColumnPlans *plans = wix_column_plans_build(RelationGetRelid(rel), resource);
	const char **result = palloc0(sizeof(char *) * tupdesc->natts);

	for (int a = 0; a < tupdesc->natts; a++)
	{
		if (TupleDescAttr(tupdesc, a)->attisdropped)
			continue;
		for (int e = 0; resource->endpoints[e] != NULL && result[a] == NULL; e++)
		{
			for (const WixColumnDef *def = resource->endpoints[e]->columns;
				 def->name != NULL && result[a] == NULL; def++)
			{
				bool		matches = true;
				bool		any = false;

				for (int i = 0; resource->endpoints[i] != NULL; i++)
				{
					bool		found;
					const char *path = wix_endpoint_column_path(resource->endpoints[i],
																def->name, &found);
					const WixColumn *column = &plans->plans[i].columns[a];

					if (path == NULL)
						continue;
					any = true;
					if (column->path == NULL || strcmp(column->path, path) != 0)
						matches = false;
				}
				if (matches && any)
					result[a] = def->name;
			}
		}
	}
	return result;
}

/* The table's column standing for a standard column, or 0. */
static AttrNumber
column_for(const char **standard, int natts, const char *name)
{
	for (int a = 0; a < natts; a++)
	{
		if (standard[a] != NULL && strcmp(standard[a], name) == 0)
			return a + 1;
	}
	return InvalidAttrNumber;
}

/* The rules of the resource for kind (and column, when not NULL). */
static List *
rules_for(const WixResource *resource, WixDmlKind kind, const char *column)
{
	int			count;
	const WixDmlRule *rules = wix_dml_rules(&count);
	List	   *result = NIL;

	for (int i = 0; i < count; i++)
	{
		if (strcmp(rules[i].resource, resource->name) == 0 &&
			rules[i].kind == kind &&
			(column == NULL || strcmp(rules[i].column, column) == 0))
			result = lappend(result, (void *) &rules[i]);
	}
	return result;
}

/* "archived (true), status (APPROVED or BLOCKED)": what an UPDATE may set. */
static char *
updatable_text(const WixResource *resource)
{
	StringInfoData buf;
	ListCell   *lc;
	const char *column = NULL;

	initStringInfo(&buf);
	foreach(lc, rules_for(resource, WIX_DML_UPDATE, NULL))
	{
		const WixDmlRule *rule = lfirst(lc);
		const char *value = rule->value ? rule->value : "any value but NULL";

		if (column != NULL && strcmp(column, rule->column) == 0)
			appendStringInfo(&buf, " or %s", value);
		else
			appendStringInfo(&buf, "%s%s (to %s", column ? "), " : "",
							 rule->column, value);
		column = rule->column;
	}
	if (column != NULL)
		appendStringInfoChar(&buf, ')');
	return buf.data;
}

/* "INSERT, UPDATE of status (to APPROVED or BLOCKED), DELETE" */
static char *
allowed_text(const WixResource *resource)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int kind = WIX_DML_INSERT; kind <= WIX_DML_DELETE; kind++)
	{
		if (rules_for(resource, kind, NULL) == NIL)
			continue;
		appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", kind_names[kind]);
		if (kind == WIX_DML_UPDATE)
			appendStringInfo(&buf, " of %s", updatable_text(resource));
	}
	return buf.len ? buf.data : "no INSERT, UPDATE or DELETE";
}

#define OTHER_CHANGES_HINT \
	"Other changes need an admin function (README \"Admin actions\") or wix_api()."

/* Refuse a statement kind the resource has no rule for. */
static void
check_kind(Relation rel, const WixResource *resource, WixDmlKind kind)
{
	if (rules_for(resource, kind, NULL) != NIL)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot %s foreign table \"%s\"",
					kind == WIX_DML_INSERT ? "insert into" :
					kind == WIX_DML_UPDATE ? "update" : "delete from",
					RelationGetRelationName(rel)),
			 errdetail("Wix resource \"%s\" allows %s.", resource->name,
					   allowed_text(resource)),
			 errhint(OTHER_CHANGES_HINT)));
}

/*
 * add_row_bindings
 *		The columns UPDATE rules bind, as the row was read: resjunk
 *		"wix_row_<column>", each once.
 */
static void
add_row_bindings(PlannerInfo *root, Index rtindex, Relation rel,
				 const WixResource *resource)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	const char **standard = standard_columns(rel, resource);
	Bitmapset  *added = NULL;
	ListCell   *lc;

	foreach(lc, rules_for(resource, WIX_DML_UPDATE, NULL))
	{
		const WixDmlRule *rule = lfirst(lc);

		for (const WixDmlBinding *bind = rule->bind; bind->param != NULL; bind++)
		{
			AttrNumber	attnum;
			Form_pg_attribute attr;

			if (bind->source != WIX_BIND_COLUMN)
				continue;
			attnum = column_for(standard, tupdesc->natts, bind->value);
			if (attnum == InvalidAttrNumber || bms_is_member(attnum, added))
				continue;
			added = bms_add_member(added, attnum);
			attr = TupleDescAttr(tupdesc, attnum - 1);
			add_row_identity_var(root, makeVar(rtindex, attnum, attr->atttypid,
											   attr->atttypmod, attr->attcollation, 0),
								 rtindex, psprintf("wix_row_%s", bind->value));
		}
	}
}

/*
 * wixAddForeignUpdateTargets
 *		The row's identity: its id column as the resjunk "wix_id"; what its
 *		actions bind; its revision; for DELETE ... RETURNING the whole row.
 */
void
wixAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
						   RangeTblEntry *target_rte, Relation target_relation)
{
	const WixResource *resource = table_resource(target_relation);
	TupleDesc	tupdesc = RelationGetDescr(target_relation);
	AttrNumber	id;
	Form_pg_attribute attr;

	check_kind(target_relation, resource, dml_kind(root->parse->commandType));
	id = column_for(standard_columns(target_relation, resource),
					tupdesc->natts, "id");
	if (id == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has no id column",
						RelationGetRelationName(target_relation)),
				 errdetail("An %s of a Wix table acts on each row by its Wix id.",
						   root->parse->commandType == CMD_UPDATE ? "UPDATE" : "DELETE"),
				 errhint("Add a column id text, or a column with OPTIONS (path 'id').")));
	attr = TupleDescAttr(tupdesc, id - 1);
	add_row_identity_var(root, makeVar(rtindex, id, attr->atttypid,
									   attr->atttypmod, attr->attcollation, 0),
						 rtindex, "wix_id");
	if (root->parse->commandType == CMD_DELETE && root->parse->returningList != NIL)
		add_row_identity_var(root, makeWholeRowVar(target_rte, rtindex, 0, false),
							 rtindex, "wix_whole_row");
	if (root->parse->commandType == CMD_UPDATE)
	{
		AttrNumber	revision = column_for(standard_columns(target_relation, resource),
										  tupdesc->natts, "revision");

		add_row_bindings(root, rtindex, target_relation, resource);
		if (revision != InvalidAttrNumber)
		{
			attr = TupleDescAttr(tupdesc, revision - 1);
			add_row_identity_var(root, makeVar(rtindex, revision, attr->atttypid,
											   attr->atttypmod, attr->attcollation, 0),
								 rtindex, "wix_revision");
		}
	}
}

/*
 * check_returning
 *		Refuse RETURNING for an UPDATE of attname (standard column column)
 *		when one of its rules makes an action that answers with another
 *		entity than the row.
 */
static void
check_returning(Relation rel, const WixResource *resource, const char *column,
				const char *attname)
{
	ListCell   *lc;

	foreach(lc, rules_for(resource, WIX_DML_UPDATE, column))
	{
		const WixDmlRule *rule = lfirst(lc);

		if ((rule->flags & WIX_DML_ANSWER_NOT_ROW) == 0)
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("UPDATE ... RETURNING is not supported when setting column \"%s\" of foreign table \"%s\"",
						attname, RelationGetRelationName(rel)),
				 errdetail("Setting %s%s%s makes %s(), which Wix answers with another entity than the %s row.",
						   column, rule->value ? " to " : "",
						   rule->value ? rule->value : "", rule->action,
						   resource->name),
				 errhint("SELECT the rows after the UPDATE, or call %s() for Wix's answer.",
						 rule->action)));
	}
}

/*
 * check_exclusive
 *		Refuse an UPDATE setting the columns of two WIX_DML_EXCLUSIVE rules:
 *		*first is such a rule of a column set before (attname *first_attname),
 *		or NULL.
 */
static void
check_exclusive(Relation rel, const WixResource *resource, const char *column,
				const char *attname, const WixDmlRule **first,
				const char **first_attname)
{
	ListCell   *lc;

	foreach(lc, rules_for(resource, WIX_DML_UPDATE, column))
	{
		const WixDmlRule *rule = lfirst(lc);

		if ((rule->flags & WIX_DML_EXCLUSIVE) == 0)
			continue;
		if (*first == NULL)
		{
			*first = rule;
			*first_attname = attname;
			return;
		}
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot set columns \"%s\" and \"%s\" of foreign table \"%s\" in one UPDATE",
						*first_attname, attname, RelationGetRelationName(rel)),
				 errdetail("Setting %s makes %s() and setting %s makes %s(); Wix takes one of these changes at a time, as each replaces what the other sets.",
						   (*first)->column, (*first)->action, column, rule->action),
				 errhint("Set one of the columns.")));
	}
}

/*
 * wixPlanForeignModify
 *		Check the statement against the DML table: its kind, and for an
 *		UPDATE every column it sets.  The values are checked per row.
 */
List *
wixPlanForeignModify(PlannerInfo *root, ModifyTable *plan,
					 Index resultRelation, int subplan_index)
{
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	Relation	rel = table_open(rte->relid, NoLock);
	const WixResource *resource = table_resource(rel);
	WixDmlKind	kind = dml_kind(plan->operation);
	List	   *attnums = NIL;

	check_kind(rel, resource, kind);
	if (kind == WIX_DML_UPDATE)
	{
		const char **standard = standard_columns(rel, resource);
		Bitmapset  *cols = get_rel_all_updated_cols(root,
													find_base_rel(root, resultRelation));
		int			col = -1;
		const WixDmlRule *exclusive = NULL;
		const char *exclusive_attname = NULL;

		while ((col = bms_next_member(cols, col)) >= 0)
		{
			AttrNumber	attnum = col + FirstLowInvalidHeapAttributeNumber;

			if (attnum <= InvalidAttrNumber)
				elog(ERROR, "system-column update is not supported");
			if (standard[attnum - 1] == NULL ||
				rules_for(resource, kind, standard[attnum - 1]) == NIL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot update column \"%s\" of foreign table \"%s\"",
								get_attname(rte->relid, attnum, false),
								RelationGetRelationName(rel)),
						 errdetail("An UPDATE of Wix resource \"%s\" can set %s.",
								   resource->name, updatable_text(resource)),
						 errhint(OTHER_CHANGES_HINT)));
			if (plan->returningLists != NIL)
				check_returning(rel, resource, standard[attnum - 1],
								get_attname(rte->relid, attnum, false));
			check_exclusive(rel, resource, standard[attnum - 1],
							get_attname(rte->relid, attnum, false),
							&exclusive, &exclusive_attname);
			attnums = lappend_int(attnums, attnum);
		}
	}
	table_close(rel, NoLock);
	return list_make3(makeString(pstrdup(resource->name)), attnums,
					  makeInteger(plan->returningLists != NIL));
}

/*
 * prepare_call
 *		A rule ready to bind rows: its action, and where each argument comes
 *		from (the row's id, a column converted to the parameter's type, or a
 *		constant).
 */
static ModifyCall *
prepare_call(WixModifyState *state, const char **standard,
			 const WixDmlRule *rule, AttrNumber set_attnum)
{
	TupleDesc	tupdesc = RelationGetDescr(state->rel);
	ModifyCall *call = palloc0(sizeof(ModifyCall));

	call->rule = rule;
	call->def = wix_find_action(rule->action);
	if (call->def == NULL)
		elog(ERROR, "wix_admin DML rule names unknown action %s", rule->action);
	if (set_attnum != InvalidAttrNumber && rule->value != NULL)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, set_attnum - 1);
		Oid			typinput;
		Oid			typoutput;
		Oid			ioparam;
		bool		varlena;

		getTypeInputInfo(attr->atttypid, &typinput, &ioparam);
		getTypeOutputInfo(attr->atttypid, &typoutput, &varlena);
		call->value = OidOutputFunctionCall(typoutput,
											OidInputFunctionCall(typinput,
																 (char *) rule->value,
																 ioparam,
																 attr->atttypmod));
	}
	for (const WixDmlBinding *bind = rule->bind; bind->param != NULL; bind++)
	{
		int			i = wix_action_param_index(call->def, bind->param);
		ArgSource  *arg;
		Oid			type;
		Oid			typinput;
		Oid			typoutput;
		bool		varlena;

		if (i < 0)
			elog(ERROR, "wix_admin action %s has no parameter \"%s\"",
				 rule->action, bind->param);
		arg = &call->args[i];
		arg->bound = true;
		arg->source = bind->source;
		type = wix_action_param_type(call->def, i);
		getTypeInputInfo(type, &typinput, &arg->ioparam);
		if (bind->source == WIX_BIND_CONST)
		{
			arg->constant = OidInputFunctionCall(typinput, (char *) bind->value,
												 arg->ioparam, -1);
			continue;
		}
		arg->attnum = column_for(standard, tupdesc->natts,
								 bind->source == WIX_BIND_ID ? "id" : bind->value);
		if (arg->attnum == InvalidAttrNumber)
			continue;			/* the table lacks it: always the default */
		if (bind->source == WIX_BIND_MEMBER)
		{
			ArgMember  *member = palloc(sizeof(ArgMember));
			bool		preferred;

			member->attnum = arg->attnum;
			member->name = bind->member;
			get_type_category_preferred(TupleDescAttr(tupdesc, arg->attnum - 1)->atttypid,
										&member->category, &preferred);
			getTypeOutputInfo(TupleDescAttr(tupdesc, arg->attnum - 1)->atttypid,
							  &typoutput, &varlena);
			fmgr_info(typoutput, &member->output);
			arg->members = lappend(arg->members, member);
			if (state->kind == WIX_DML_INSERT)
				state->insert_attnums = bms_add_member(state->insert_attnums,
													   arg->attnum);
			continue;
		}
		if (bind->source == WIX_BIND_COLUMN && state->kind == WIX_DML_UPDATE &&
			!bms_is_member(arg->attnum, state->set_attnums))
		{
			arg->junk_attno = ExecFindJunkAttributeInTlist(state->subplan_tlist,
														   psprintf("wix_row_%s", bind->value));
			if (!AttributeNumberIsValid(arg->junk_attno))
				elog(ERROR, "could not find junk wix_row_%s column", bind->value);
		}
		if (state->kind == WIX_DML_INSERT)
			state->insert_attnums = bms_add_member(state->insert_attnums,
												   arg->attnum);
		if (TupleDescAttr(tupdesc, arg->attnum - 1)->atttypid != type)
		{
			arg->via_text = true;
			getTypeOutputInfo(TupleDescAttr(tupdesc, arg->attnum - 1)->atttypid,
							  &typoutput, &varlena);
			fmgr_info(typoutput, &arg->output);
			fmgr_info(typinput, &arg->input);
		}
	}
	return call;
}

/*
 * init_modify
 *		The state of a statement's INSERT, UPDATE or DELETE of the table:
 *		for an UPDATE, the columns it sets (attnums); with returning, the
 *		rows Wix answers are returned; subplan_tlist has the row's junk
 *		columns (UPDATE and DELETE).  The calls use userid's user mapping,
 *		as a scan does: the role the executor checks permissions as.
 */
static WixModifyState *
init_modify(Relation rel, Oid userid, WixDmlKind kind, List *attnums,
			bool returning, List *subplan_tlist, EState *estate, int eflags)
{
	WixModifyState *state = palloc0(sizeof(WixModifyState));
	const char **standard;
	ListCell   *lc;

	state->query_cxt = CurrentMemoryContext;
	state->rel = rel;
	state->resource = table_resource(rel);
	state->kind = kind;
	state->returning = returning;
	state->target.table = RelationGetRelid(rel);
	state->target.server = GetForeignServer(GetForeignTable(RelationGetRelid(rel))->serverid)->servername;
	state->target.mapping_user = userid;
	standard = standard_columns(rel, state->resource);
	if (state->kind != WIX_DML_INSERT)
	{
		state->subplan_tlist = subplan_tlist;
		state->id_attno = ExecFindJunkAttributeInTlist(subplan_tlist, "wix_id");
		if (!AttributeNumberIsValid(state->id_attno))
			elog(ERROR, "could not find junk wix_id column");
		state->whole_row_attno = ExecFindJunkAttributeInTlist(subplan_tlist,
															  "wix_whole_row");
		state->revision_attno = ExecFindJunkAttributeInTlist(subplan_tlist,
															 "wix_revision");
		if (AttributeNumberIsValid(state->revision_attno))
		{
			Oid			typoutput;
			bool		varlena;

			getTypeOutputInfo(TupleDescAttr(RelationGetDescr(rel),
											column_for(standard, RelationGetDescr(rel)->natts,
													   "revision") - 1)->atttypid,
							  &typoutput, &varlena);
			fmgr_info(typoutput, &state->revision_output);
		}
	}

	if (state->kind == WIX_DML_UPDATE)
	{
		foreach(lc, attnums)
			state->set_attnums = bms_add_member(state->set_attnums, lfirst_int(lc));
		foreach(lc, attnums)
		{
			ModifyColumn *column = palloc0(sizeof(ModifyColumn));
			ListCell   *rc;

			column->attnum = lfirst_int(lc);
			foreach(rc, rules_for(state->resource, state->kind,
								  standard[column->attnum - 1]))
				column->calls = lappend(column->calls,
										prepare_call(state, standard, lfirst(rc),
													 column->attnum));
			state->columns = lappend(state->columns, column);
		}
	}
	else
		state->call = prepare_call(state, standard,
								   linitial(rules_for(state->resource, state->kind, NULL)),
								   InvalidAttrNumber);

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return state;

	state->target.defer = wix_defer_actions;
	if (state->target.defer && state->returning)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("RETURNING is not available when wix_admin.defer_actions is on"),
				 errdetail("A deferred change is sent to Wix after COMMIT; there is no answer from Wix to return yet."),
				 errhint("Leave out RETURNING, or SET wix_admin.defer_actions = off; a delivered action's answer is in wix_admin.actions.")));
	state->row_cxt = AllocSetContextCreate(estate->es_query_cxt,
										   "wix_admin modify row",
										   ALLOCSET_DEFAULT_SIZES);
	return state;
}

void
wixBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
					  List *fdw_private, int subplan_index, int eflags)
{
	WixDmlKind	kind = dml_kind(mtstate->operation);

	rinfo->ri_FdwState =
		init_modify(rinfo->ri_RelationDesc,
					wix_result_rel_user_id(rinfo, mtstate->ps.state), kind,
					list_nth(fdw_private, WixModifyColumns),
					intVal(list_nth(fdw_private, WixModifyReturning)),
					kind != WIX_DML_INSERT ? outerPlanState(mtstate)->plan->targetlist : NIL,
					mtstate->ps.state, eflags);
}

/*
 * wixBeginForeignInsert
 *		COPY FROM and rows routed to a partition that is a wix_admin table:
 *		an INSERT the planner has not seen (the executor has checked that
 *		the table takes INSERT: wixIsForeignRelUpdatable).
 */
void
wixBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	rinfo->ri_FdwState = init_modify(rinfo->ri_RelationDesc,
									 wix_result_rel_user_id(rinfo, mtstate->ps.state),
									 WIX_DML_INSERT, NIL,
									 rinfo->ri_returningList != NIL, NIL,
									 mtstate->ps.state, 0);
}

/*
 * member_object
 *		A jsonb object of the members whose columns the statement sets, or
 *		NULL when it sets none: booleans and numbers as JSON's, the rest as
 *		strings, a NULL as null.
 */
static Datum
member_object(WixModifyState *state, List *members, TupleTableSlot *slot,
			  bool *isnull)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, members)
	{
		ArgMember  *member = lfirst(lc);
		bool		null;
		Datum		value;
		char	   *text;

		if (state->kind == WIX_DML_UPDATE &&
			!bms_is_member(member->attnum, state->set_attnums))
			continue;
		value = slot_getattr(slot, member->attnum, &null);
		appendStringInfoString(&buf, buf.len ? ", " : "{");
		escape_json(&buf, member->name);
		appendStringInfoString(&buf, ": ");
		if (null)
		{
			appendStringInfoString(&buf, "null");
			continue;
		}
		text = OutputFunctionCall(&member->output, value);
		if (member->category == TYPCATEGORY_BOOLEAN)
			appendStringInfoString(&buf, strcmp(text, "t") == 0 ? "true" : "false");
		else if (member->category == TYPCATEGORY_NUMERIC &&
				 strspn(text, "+-0123456789.eE") == strlen(text))
			appendStringInfoString(&buf, text);
		else
			escape_json(&buf, text);
	}
	*isnull = buf.len == 0;
	if (*isnull)
		return (Datum) 0;
	appendStringInfoChar(&buf, '}');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
}

/* The value of one argument for the row, in the parameter's type. */
static void
bind_arg(WixModifyState *state, ArgSource *arg, TupleTableSlot *slot,
		 TupleTableSlot *planSlot, Datum id, Datum *value, bool *isnull)
{
	*isnull = true;
	if (!arg->bound)
		return;
	if (arg->source == WIX_BIND_MEMBER)
	{
		*value = member_object(state, arg->members, slot, isnull);
		return;
	}
	if (arg->source == WIX_BIND_CONST)
	{
		*value = arg->constant;
		*isnull = false;
		return;
	}
	if (arg->attnum == InvalidAttrNumber)
		return;
	if (arg->source == WIX_BIND_ID)
	{
		*value = id;
		*isnull = false;
	}
	else if (AttributeNumberIsValid(arg->junk_attno))
		*value = ExecGetJunkAttribute(planSlot, arg->junk_attno, isnull);
	else
		*value = slot_getattr(slot, arg->attnum, isnull);
	if (!*isnull && arg->via_text)
		*value = InputFunctionCall(&arg->input,
								   OutputFunctionCall(&arg->output, *value),
								   arg->ioparam, -1);
}

/*
 * rethrow_with_changed
 *		Re-throw the error being handled, its DETAIL saying how many rows
 *		of the statement Wix had changed (none: as it is).
 */
static void
rethrow_with_changed(WixModifyState *state, int changed, MemoryContext cxt)
{
	ErrorData  *edata;
	char	   *detail;

	if (state->target.defer || changed == 0)
		PG_RE_THROW();
	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	detail = changed == 1 ?
		pstrdup("Wix had already changed 1 row of this statement; that change stays made (see the wix_admin audit lines in the server log).") :
		psprintf("Wix had already changed %d rows of this statement; those changes stay made (see the wix_admin audit lines in the server log).",
				 changed);
	edata->detail = edata->detail ?
		psprintf("%s\n%s", edata->detail, detail) : detail;
	ReThrowError(edata);
}

/* The row's revision as read ("wix_revision"), as text, or NULL. */
static const char *
row_revision(WixModifyState *state, TupleTableSlot *planSlot)
{
	bool		isnull;
	Datum		revision;

	if (!AttributeNumberIsValid(state->revision_attno))
		return NULL;
	revision = ExecGetJunkAttribute(planSlot, state->revision_attno, &isnull);
	return isnull ? NULL : OutputFunctionCall(&state->revision_output, revision);
}

/*
 * run_call
 *		One action for the row.  When it fails after Wix has changed earlier
 *		rows of the statement, the error says how many.
 */
static Datum
run_call(WixModifyState *state, ModifyCall *call, TupleTableSlot *slot,
		 TupleTableSlot *planSlot, Datum id, bool *row_changed)
{
	Datum		values[WIX_ACTION_MAX_PARAMS];
	bool		nulls[WIX_ACTION_MAX_PARAMS];
	volatile Datum result = (Datum) 0;
	MemoryContext cxt = CurrentMemoryContext;

	for (int i = 0; i < wix_action_nparams(call->def); i++)
		bind_arg(state, &call->args[i], slot, planSlot, id, &values[i],
				 &nulls[i]);
	PG_TRY();
	{
		result = wix_action_run_dml(call->def, values, nulls,
									row_revision(state, planSlot),
									&state->target);
	}
	PG_CATCH();
	{
		rethrow_with_changed(state, state->changed + (*row_changed ? 1 : 0), cxt);
	}
	PG_END_TRY();
	*row_changed = true;
	return result;
}

/* Do two rules make the same call of a row: same action, same bindings? */
static bool
same_call(const WixDmlRule *a, const WixDmlRule *b)
{
	int			i;

	if (strcmp(a->action, b->action) != 0)
		return false;
	for (i = 0; a->bind[i].param != NULL; i++)
	{
		if (b->bind[i].param == NULL ||
			strcmp(a->bind[i].param, b->bind[i].param) != 0 ||
			a->bind[i].source != b->bind[i].source ||
			(a->bind[i].member == NULL) != (b->bind[i].member == NULL) ||
			(a->bind[i].member != NULL &&
			 strcmp(a->bind[i].member, b->bind[i].member) != 0) ||
			(a->bind[i].value == NULL) != (b->bind[i].value == NULL) ||
			(a->bind[i].value != NULL &&
			 strcmp(a->bind[i].value, b->bind[i].value) != 0))
			return false;
	}
	return b->bind[i].param == NULL;
}

/*
 * returned_row
 *		RETURNING: the row as Wix answered it, converted as a scan converts
 *		the resource's items, on the endpoint of the site's catalog.
 */
static TupleTableSlot *
returned_row(WixModifyState *state, TupleTableSlot *slot, Datum answer)
{
	TupleDesc	tupdesc = slot->tts_tupleDescriptor;
	Jsonb	   *jsonb = DatumGetJsonbP(answer);
	char	   *text = JsonbToCString(NULL, &jsonb->root, VARSIZE(jsonb));
	json_object *entity = wix_json_parse(text, strlen(text), "Wix's answer");

	(void) wix_json_hold(CurrentMemoryContext, entity);
	if (state->converters == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(state->query_cxt);
		WixCatalogVersion catalog = WIX_CATALOG_ANY;
		const WixColumnPlan *plan;

		if (wix_resource_needs_catalog(state->resource))
			catalog = wix_catalog_version(wix_get_connection(wix_user_mapping(GetUserId(),
																			  GetForeignTable(RelationGetRelid(state->rel))->serverid)));
		plan = wix_column_plan(wix_column_plans_build(RelationGetRelid(state->rel),
													  state->resource),
							   wix_resource_endpoint(state->resource, catalog));
		state->converters = palloc0(sizeof(WixColumnConverter *) * tupdesc->natts);
		for (int a = 0; a < tupdesc->natts; a++)
		{
			Form_pg_attribute attr = TupleDescAttr(tupdesc, a);
			const WixColumn *column = wix_plan_column(plan, a + 1);

			if (attr->attisdropped || column->path == NULL || column->up != 0)
				continue;
			state->converters[a] = palloc(sizeof(WixColumnConverter));
			wix_converter_init(state->converters[a], NameStr(attr->attname),
							   column->path, attr->atttypid, attr->atttypmod);
		}
		MemoryContextSwitchTo(oldcxt);
	}
	ExecClearTuple(slot);
	for (int a = 0; a < tupdesc->natts; a++)
	{
		WixColumnConverter *conv = state->converters[a];

		slot->tts_isnull[a] = true;
		if (conv != NULL)
			slot->tts_values[a] = wix_convert_value(conv,
													wix_converter_json_get(conv, entity),
													&slot->tts_isnull[a]);
	}
	return ExecStoreVirtualTuple(slot);
}

/* The row's Wix id, from the junk column. */
static Datum
row_id(WixModifyState *state, TupleTableSlot *planSlot)
{
	bool		isnull;
	Datum		id = ExecGetJunkAttribute(planSlot, state->id_attno, &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a row of foreign table \"%s\" has no id",
						RelationGetRelationName(state->rel))));
	return id;
}

/* Refuse an INSERT's row setting a column its rule does not bind. */
static void
check_insert_columns(WixModifyState *state, TupleTableSlot *slot)
{
	TupleDesc	tupdesc = slot->tts_tupleDescriptor;

	slot_getallattrs(slot);
	for (int a = 0; a < tupdesc->natts; a++)
	{
		if (TupleDescAttr(tupdesc, a)->attisdropped || slot->tts_isnull[a] ||
			bms_is_member(a + 1, state->insert_attnums))
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot set column \"%s\" in an INSERT into foreign table \"%s\"",
						NameStr(TupleDescAttr(tupdesc, a)->attname),
						RelationGetRelationName(state->rel)),
				 errdetail("An INSERT makes %s, which takes only the columns it binds; leave the others NULL.",
						   state->call->def->name),
				 errhint(OTHER_CHANGES_HINT)));
	}
}

TupleTableSlot *
wixExecForeignInsert(EState *estate, ResultRelInfo *rinfo,
					 TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	WixModifyState *state = rinfo->ri_FdwState;
	MemoryContext oldcxt;
	bool		row_changed = false;
	Datum		answer;

	MemoryContextReset(state->row_cxt);
	oldcxt = MemoryContextSwitchTo(state->row_cxt);
	check_insert_columns(state, slot);
	answer = run_call(state, state->call, slot, planSlot, (Datum) 0,
					  &row_changed);
	state->changed++;
	MemoryContextSwitchTo(oldcxt);
	if (state->returning)
		return returned_row(state, slot, answer);
	return slot;
}

/*
 * send_in_bulk
 *		A batch's rows in the action's bulk call; refused[r] (set by the
 *		caller) is cleared for the rows Wix made, the others the caller
 *		sends alone.  An error counts the rows of earlier requests.
 */
static void
send_in_bulk(WixModifyState *state, const WixActionDef *def, int n,
			 Datum **values, bool **nulls, const char **revisions,
			 bool *refused)
{
	int			made = -1;

	PG_TRY();
	{
		made = wix_action_run_dml_bulk(def, n, values, nulls, revisions,
									   &state->target, refused);
	}
	PG_CATCH();
	{
		rethrow_with_changed(state, state->changed, state->row_cxt);
	}
	PG_END_TRY();
	state->changed += Max(made, 0);
}

/*
 * wixGetForeignModifyBatchSize
 *		An INSERT goes to Wix in its action's bulk call, as many rows a
 *		request as Wix takes, unless a row must be answered or seen alone:
 *		RETURNING, a row trigger, a WITH CHECK OPTION, or deferral (each
 *		row is queued as its own action).  As postgres_fdw does.
 */
int
wixGetForeignModifyBatchSize(ResultRelInfo *rinfo)
{
	WixModifyState *state = rinfo->ri_FdwState;
	TriggerDesc *triggers = rinfo->ri_TrigDesc;

	if (state->kind != WIX_DML_INSERT || state->returning ||
		wix_defer_actions || rinfo->ri_WithCheckOptions != NIL ||
		(triggers != NULL &&
		 (triggers->trig_insert_before_row || triggers->trig_insert_after_row)))
		return 1;
	return wix_action_bulk_size(state->call->def);
}

/*
 * wixExecForeignBatchInsert
 *		The rows of a batch in one bulk request; the rows Wix refuses in it
 *		again alone, and every row alone where the site lacks the bulk call.
 *		COPY (16 on) passes no planSlots: an INSERT binds none.
 */
TupleTableSlot **
wixExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo,
						  TupleTableSlot **slots, TupleTableSlot **planSlots,
						  int *numSlots)
{
	WixModifyState *state = rinfo->ri_FdwState;
	const WixActionDef *def = state->call->def;
	int			nparams = wix_action_nparams(def);
	int			n = *numSlots;
	Datum	  **values;
	bool	  **nulls;
	bool	   *refused;
	MemoryContext oldcxt;

	MemoryContextReset(state->row_cxt);
	oldcxt = MemoryContextSwitchTo(state->row_cxt);
	values = palloc(sizeof(Datum *) * n);
	nulls = palloc(sizeof(bool *) * n);
	refused = palloc(sizeof(bool) * n);
	for (int r = 0; r < n; r++)
	{
		check_insert_columns(state, slots[r]);
		values[r] = palloc(sizeof(Datum) * nparams);
		nulls[r] = palloc(sizeof(bool) * nparams);
		refused[r] = true;		/* sent alone unless the bulk call makes it */
		for (int i = 0; i < nparams; i++)
			bind_arg(state, &state->call->args[i], slots[r], NULL, (Datum) 0,
					 &values[r][i], &nulls[r][i]);
	}
	send_in_bulk(state, def, n, values, nulls, NULL, refused);
	for (int r = 0; r < n; r++)
	{
		bool		row_changed = false;

		if (!refused[r])
			continue;
		(void) run_call(state, state->call, slots[r], NULL, (Datum) 0,
						&row_changed);
		state->changed++;
	}
	MemoryContextSwitchTo(oldcxt);
	return slots;
}

/*
 * choose_call
 *		The rule the new value of an UPDATE's column chooses, or an error
 *		naming the values the column takes.
 */
static ModifyCall *
choose_call(WixModifyState *state, ModifyColumn *column, TupleTableSlot *slot)
{
	Form_pg_attribute attr = TupleDescAttr(slot->tts_tupleDescriptor,
										   column->attnum - 1);
	bool		isnull;
	Datum		value = slot_getattr(slot, column->attnum, &isnull);
	char	   *text = NULL;
	ModifyCall *chosen = NULL;
	ListCell   *cc;

	if (!isnull)
	{
		Oid			typoutput;
		bool		varlena;

		getTypeOutputInfo(attr->atttypid, &typoutput, &varlena);
		text = OidOutputFunctionCall(typoutput, value);
	}
	foreach(cc, column->calls)
	{
		ModifyCall *call = lfirst(cc);

		if (text != NULL && (call->rule->value == NULL ||
							 strcmp(text, call->value) == 0))
			chosen = call;
	}
	if (chosen == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot set column \"%s\" of foreign table \"%s\" to %s",
						NameStr(attr->attname), RelationGetRelationName(state->rel),
						text ? quote_literal_cstr(text) : "NULL"),
				 errdetail("An UPDATE of Wix resource \"%s\" can set %s.",
						   state->resource->name, updatable_text(state->resource)),
				 errhint(OTHER_CHANGES_HINT)));
	return chosen;
}

TupleTableSlot *
wixExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
					 TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	WixModifyState *state = rinfo->ri_FdwState;
	MemoryContext oldcxt;
	Datum		id;
	Datum		answer = (Datum) 0;
	bool		row_changed = false;
	List	   *made = NIL;		/* the rules made for the row */
	ListCell   *lc;

	MemoryContextReset(state->row_cxt);
	oldcxt = MemoryContextSwitchTo(state->row_cxt);
	id = row_id(state, planSlot);
	foreach(lc, state->columns)
	{
		ModifyCall *chosen = choose_call(state, lfirst(lc), slot);
		bool		done = false;
		ListCell   *cc;

		foreach(cc, made)
			done = done || same_call(lfirst(cc), chosen->rule);
		if (done)
			continue;
		answer = run_call(state, chosen, slot, planSlot, id, &row_changed);
		made = lappend(made, (void *) chosen->rule);
	}
	state->changed++;
	MemoryContextSwitchTo(oldcxt);
	if (state->returning)
		return returned_row(state, slot, answer);
	return slot;
}

TupleTableSlot *
wixExecForeignDelete(EState *estate, ResultRelInfo *rinfo,
					 TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	WixModifyState *state = rinfo->ri_FdwState;
	MemoryContext oldcxt;
	bool		row_changed = false;

	MemoryContextReset(state->row_cxt);
	oldcxt = MemoryContextSwitchTo(state->row_cxt);
	(void) run_call(state, state->call, slot, planSlot,
					row_id(state, planSlot), &row_changed);
	state->changed++;
	MemoryContextSwitchTo(oldcxt);
	if (AttributeNumberIsValid(state->whole_row_attno))
	{
		bool		isnull;
		HeapTupleHeader row = DatumGetHeapTupleHeader(ExecGetJunkAttribute(planSlot,
																		   state->whole_row_attno,
																		   &isnull));
		HeapTupleData tuple;

		/* a copy the slot owns: a heap slot keeps the HeapTuple itself */
		tuple.t_len = HeapTupleHeaderGetDatumLength(row);
		tuple.t_data = row;
		tuple.t_tableOid = RelationGetRelid(state->rel);
		ItemPointerSetInvalid(&tuple.t_self);
		ExecForceStoreHeapTuple(heap_copytuple(&tuple), slot, true);
	}
	return slot;
}

void
wixEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	WixModifyState *state = rinfo->ri_FdwState;

	if (state != NULL && state->row_cxt != NULL)
		MemoryContextDelete(state->row_cxt);
}

/*
 * wixIsForeignRelUpdatable
 *		The statement kinds the table's resource has rules for.
 */
int
wixIsForeignRelUpdatable(Relation rel)
{
	const WixResource *resource = table_resource(rel);
	int			result = 0;

	if (rules_for(resource, WIX_DML_INSERT, NULL) != NIL)
		result |= (1 << CMD_INSERT);
	if (rules_for(resource, WIX_DML_UPDATE, NULL) != NIL)
		result |= (1 << CMD_UPDATE);
	if (rules_for(resource, WIX_DML_DELETE, NULL) != NIL)
		result |= (1 << CMD_DELETE);
	return result;
}

/* "wix_archive_order: PATCH /ecom/v1/orders/{order_id}" */
static char *
call_text(const ModifyCall *call)
{
	const WixActionDef *def = call->def;

	if (def->method == NULL)
		return psprintf("%s()", def->name);
	if (def->path_v1 != NULL)
		return psprintf("%s(): %s %s (Catalog V1: %s)", def->name, def->method,
						def->path, def->path_v1);
	return psprintf("%s(): %s %s", def->name, def->method, def->path);
}

/*
 * explain_calls
 *		With VERBOSE, the Wix calls of the statement: its action's bulk call
 *		when rows go in bulk (up to batch_size a request), then the call each
 *		row makes alone, per column set and value for an UPDATE.
 */
static void
explain_calls(WixModifyState *state, int batch_size, ExplainState *es)
{
	List	   *calls = NIL;
	const WixActionDef *bulk_def = NULL;
	ListCell   *lc;

	if (!es->verbose)
		return;
	if (state->call != NULL)
		bulk_def = state->call->def;
	else if (state->columns != NIL)
		bulk_def = ((ModifyCall *) linitial(((ModifyColumn *) linitial(state->columns))->calls))->def;
	if (batch_size > 1)
		calls = lappend(calls, psprintf("up to %d rows a request: %s(): POST %s%s",
										batch_size, bulk_def->name, bulk_def->bulk->path,
										bulk_def->bulk->catalog_v3_only ?
										" (Catalog V1: each row alone)" : ""));
	if (state->call != NULL)
		calls = lappend(calls, psprintf("each row: %s", call_text(state->call)));
	foreach(lc, state->columns)
	{
		ModifyColumn *column = lfirst(lc);
		ListCell   *cc;

		foreach(cc, column->calls)
		{
			ModifyCall *call = lfirst(cc);

			calls = lappend(calls, psprintf("%s = %s: %s",
											NameStr(TupleDescAttr(RelationGetDescr(state->rel),
																  column->attnum - 1)->attname),
											call->rule->value ? call->rule->value : "any",
											call_text(call)));
		}
	}
	ExplainPropertyList("Wix calls", calls, es);
}

void
wixExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						List *fdw_private, int subplan_index,
						ExplainState *es)
{
	explain_calls(rinfo->ri_FdwState, rinfo->ri_BatchSize, es);
}

/* ---------------------------------------------------------------- *
 * Direct modify: UPDATE and DELETE in bulk
 * ---------------------------------------------------------------- */

/* fdw_private of a direct modify: the scan's, then one List of these. */
enum WixDirectPrivate
{
	WixDirectKind,				/* Integer: the WixDmlKind */
	WixDirectColumns,			/* IntList: UPDATE: the attnums set, in the
								 * order of the scan's new values */
	WixDirectSetProcessed		/* Integer: count the rows (canSetTag) */
};

/* A direct modify's rows: read by the scan, sent 100 (or so) a request. */
typedef struct WixDirectState
{
	WixModifyState *modify;
	List	   *attnums;		/* UPDATE: the columns set */
	bool		set_processed;
	int			batch_size;		/* rows a request */
	TupleTableSlot **rows;		/* a batch: the scan's new values and
								 * junk columns */
	TupleTableSlot *new_row;	/* UPDATE: a row's new values, by attnum */
} WixDirectState;

/*
 * direct_action
 *		The one action every row of an UPDATE setting attnums (a DELETE:
 *		attnums NIL) makes, when it has a bulk call; else NULL.  An UPDATE
 *		qualifies when each column it sets has one rule, for any value, and
 *		all make the same call.
 */
static const WixDmlRule *
direct_action(Relation rel, const WixResource *resource, WixDmlKind kind,
			  List *attnums)
{
	const char **standard = standard_columns(rel, resource);
	const WixDmlRule *rule = NULL;
	ListCell   *lc;

	if (kind == WIX_DML_DELETE)
		rule = linitial(rules_for(resource, kind, NULL));
	foreach(lc, attnums)
	{
		const char *column = standard[lfirst_int(lc) - 1];
		List	   *rules = column ? rules_for(resource, kind, column) : NIL;
		const WixDmlRule *column_rule;

		if (list_length(rules) != 1)
			return NULL;
		column_rule = linitial(rules);
		if (column_rule->value != NULL ||
			(rule != NULL && !same_call(rule, column_rule)))
			return NULL;
		rule = column_rule;
	}
	return rule != NULL && wix_find_action(rule->action)->bulk != NULL ? rule : NULL;
}

/*
 * wixPlanDirectModify
 *		An UPDATE or DELETE whose rows all make one action with a bulk call
 *		(Catalog V3 products) is done by its scan: the ForeignScan reads
 *		the rows, Wix filtering what it can and the rest checked here, and
 *		sends them in bulk, 100 a request.  The planner asks only without
 *		row triggers; not with RETURNING (the rows would have to come out
 *		one by one), nor when the rows come from anything but a scan of
 *		the table alone.
 */
bool
wixPlanDirectModify(PlannerInfo *root, ModifyTable *plan,
					Index resultRelation, int subplan_index)
{
	Plan	   *subplan = outerPlan(plan);
	ForeignScan *fscan;
	Relation	rel;
	WixDmlKind	kind;
	List	   *attnums = NIL;
	const WixDmlRule *rule;

	if ((plan->operation != CMD_UPDATE && plan->operation != CMD_DELETE) ||
		plan->returningLists != NIL || subplan == NULL || !IsA(subplan, ForeignScan))
		return false;
	fscan = (ForeignScan *) subplan;
	if (fscan->scan.scanrelid != resultRelation)
		return false;
	kind = dml_kind(plan->operation);
	if (kind == WIX_DML_UPDATE)
		attnums = list_nth(plan->updateColnosLists, subplan_index);
	rel = table_open(planner_rt_fetch(resultRelation, root)->relid, NoLock);
	rule = direct_action(rel, table_resource(rel), kind, attnums);
	table_close(rel, NoLock);
	if (rule == NULL)
		return false;
	fscan->operation = plan->operation;
	fscan->resultRelation = resultRelation;
	fscan->fdw_private = lappend(list_copy(fscan->fdw_private),
								 list_make3(makeInteger(kind), list_copy(attnums),
											makeInteger(plan->canSetTag)));
	return true;
}

void
wixBeginDirectModify(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	List	   *direct_private = llast(fsplan->fdw_private);
	WixDirectState *direct = palloc0(sizeof(WixDirectState));
	Relation	rel = node->ss.ss_currentRelation;
	TupleDesc	row_desc = node->ss.ps.ps_ProjInfo ?
		node->ss.ps.ps_ResultTupleDesc : RelationGetDescr(rel);

	wixBeginForeignScan(node, eflags);
	direct->attnums = list_nth(direct_private, WixDirectColumns);
	direct->set_processed = intVal(list_nth(direct_private, WixDirectSetProcessed));
	direct->modify = init_modify(rel,
								 OidIsValid(wix_scan_check_as_user(node)) ?
								 wix_scan_check_as_user(node) : GetUserId(),
								 intVal(list_nth(direct_private, WixDirectKind)),
								 direct->attnums, false, fsplan->scan.plan.targetlist,
								 node->ss.ps.state, eflags);
	wix_scan_set_direct_modify(node, direct);
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	/* deferred: every row is queued as its own action */
	direct->batch_size = direct->modify->target.defer ? 1 :
		wix_action_bulk_size(wix_find_action(direct_action(rel, direct->modify->resource,
														   direct->modify->kind,
														   direct->attnums)->action));
	direct->rows = palloc(sizeof(TupleTableSlot *) * direct->batch_size);
	for (int r = 0; r < direct->batch_size; r++)
		direct->rows[r] = MakeSingleTupleTableSlot(row_desc, &TTSOpsMinimalTuple);
	direct->new_row = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);
}

/*
 * direct_row_call
 *		Row r's action, with new_row holding its new values (UPDATE): the
 *		rule its values choose, checked as an UPDATE row's are.
 */
static ModifyCall *
direct_row_call(WixDirectState *direct, TupleTableSlot *row)
{
	WixModifyState *state = direct->modify;
	TupleTableSlot *new_row = direct->new_row;
	ModifyCall *call = NULL;
	ListCell   *lc;
	int			position = 0;

	if (state->kind == WIX_DML_DELETE)
		return state->call;
	ExecClearTuple(new_row);
	memset(new_row->tts_isnull, true, sizeof(bool) * new_row->tts_tupleDescriptor->natts);
	foreach(lc, direct->attnums)
	{
		AttrNumber	attnum = lfirst_int(lc);

		new_row->tts_values[attnum - 1] = slot_getattr(row, ++position,
													   &new_row->tts_isnull[attnum - 1]);
	}
	ExecStoreVirtualTuple(new_row);
	foreach(lc, state->columns)
		call = choose_call(state, lfirst(lc), new_row);
	return call;				/* the same call for every column */
}

/*
 * send_direct_rows
 *		A batch of rows: in one bulk request, then the rows Wix refused in
 *		it (or that cannot go in bulk) alone; every row alone where the
 *		site lacks the bulk call, or deferred.
 */
static void
send_direct_rows(WixDirectState *direct, int n)
{
	WixModifyState *state = direct->modify;
	MemoryContext oldcxt = MemoryContextSwitchTo(state->row_cxt);
	ModifyCall *call = NULL;
	int			nparams;
	Datum	  **values = palloc(sizeof(Datum *) * n);
	bool	  **nulls = palloc(sizeof(bool *) * n);
	const char **revisions = palloc(sizeof(char *) * n);
	bool	   *refused = palloc(sizeof(bool) * n);

	for (int r = 0; r < n; r++)
	{
		TupleTableSlot *row = direct->rows[r];
		Datum		id = row_id(state, row);

		call = direct_row_call(direct, row);
		nparams = wix_action_nparams(call->def);
		values[r] = palloc(sizeof(Datum) * nparams);
		nulls[r] = palloc(sizeof(bool) * nparams);
		revisions[r] = row_revision(state, row);
		refused[r] = true;		/* sent alone unless the bulk call makes it */
		for (int i = 0; i < nparams; i++)
			bind_arg(state, &call->args[i], direct->new_row, row, id,
					 &values[r][i], &nulls[r][i]);
	}
	if (!state->target.defer)
		send_in_bulk(state, call->def, n, values, nulls, revisions, refused);
	for (int r = 0; r < n; r++)
	{
		bool		row_changed = false;

		if (!refused[r])
			continue;
		call = direct_row_call(direct, direct->rows[r]);
		(void) run_call(state, call, direct->new_row, direct->rows[r],
						row_id(state, direct->rows[r]), &row_changed);
		state->changed++;
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(state->row_cxt);
}

/*
 * wixIterateDirectModify
 *		Every row at once: the scan's rows that pass the conditions Wix
 *		could not check, a batch at a time.  Returns no row (no RETURNING).
 */
TupleTableSlot *
wixIterateDirectModify(ForeignScanState *node)
{
	WixDirectState *direct = wix_scan_direct_modify(node);
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	bool		more = true;
	int64		processed = 0;

	while (more)
	{
		int			n = 0;

		while (n < direct->batch_size)
		{
			TupleTableSlot *scanned = wixIterateForeignScan(node);

			if (TupIsNull(scanned))
			{
				more = false;
				break;
			}
			ResetExprContext(econtext);
			econtext->ecxt_scantuple = scanned;
			if (node->ss.ps.qual != NULL && !ExecQual(node->ss.ps.qual, econtext))
				continue;
			ExecCopySlot(direct->rows[n++], node->ss.ps.ps_ProjInfo ?
						 ExecProject(node->ss.ps.ps_ProjInfo) : scanned);
		}
		if (n > 0)
			send_direct_rows(direct, n);
		processed += n;
	}
	if (direct->set_processed)
		node->ss.ps.state->es_processed += processed;
	return ExecClearTuple(node->ss.ss_ScanTupleSlot);
}

void
wixEndDirectModify(ForeignScanState *node)
{
	WixDirectState *direct = node->fdw_state ? wix_scan_direct_modify(node) : NULL;

	if (direct != NULL && direct->modify->row_cxt != NULL)
		MemoryContextDelete(direct->modify->row_cxt);
	wixEndForeignScan(node);
}

/*
 * wixExplainDirectModify
 *		The scan, and with VERBOSE the Wix calls the rows make.
 */
void
wixExplainDirectModify(ForeignScanState *node, ExplainState *es)
{
	WixDirectState *direct = wix_scan_direct_modify(node);
	WixModifyState *state = direct->modify;
	const WixDmlRule *rule = direct_action(state->rel, state->resource,
										   state->kind, direct->attnums);

	wixExplainForeignScan(node, es);
	explain_calls(state, wix_action_bulk_size(wix_find_action(rule->action)), es);
}
