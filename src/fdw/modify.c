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
 *	 sku and description are one wix_update_product() changes object, whose
 *	 V3 revision the runner reads (and re-reads once on a 409).  The row's revision as scanned is
 *	 not sent: a revision in changes turns the runner's retry off, and a
 *	 DML statement should behave as the function does.  (Sending it, as
 *	 optimistic concurrency against changes since the scan, would need the
 *	 runner to take a first-attempt revision.)
 *
 * - Deferred mode.  With wix_admin.defer_actions on, the runner queues
 *	 each row's action ({action, args}) in the statement's transaction, as
 *	 a function call does: nothing is sent unless it commits.  RETURNING
 *	 has no answer to return then, and is an error.
 *
 * - RETURNING.  The action's result entity is converted with the scan's
 *	 converters (convert.c) for the endpoint the site's catalog chooses.
 *	 A DELETE answers no entity: its RETURNING is refused for now (it is to
 *	 return the row as read, through a resjunk whole-row Var).  Some actions
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
 *-------------------------------------------------------------------------
 */
#include "wix_fdw.h"
#include "wix_actions.h"

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
	char	   *server;			/* the table's server */
	bool		defer;			/* wix_admin.defer_actions at the start */
	bool		returning;
	AttrNumber	id_attno;		/* junk "wix_id" of the subplan */
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
 *		The row's identity: its id column as the resjunk "wix_id".
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
	if (root->parse->commandType == CMD_UPDATE)
		add_row_bindings(root, rtindex, target_relation, resource);
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
	if (kind == WIX_DML_DELETE && plan->returningLists != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("DELETE ... RETURNING is not supported on foreign table \"%s\"",
						RelationGetRelationName(rel)),
				 errdetail("Wix answers a deletion with no entity to return."),
				 errhint("SELECT the rows before deleting them.")));
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

void
wixBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
					  List *fdw_private, int subplan_index, int eflags)
{
	WixModifyState *state = palloc0(sizeof(WixModifyState));
	Relation	rel = rinfo->ri_RelationDesc;
	const char **standard;
	List	   *attnums = list_nth(fdw_private, WixModifyColumns);
	ListCell   *lc;

	rinfo->ri_FdwState = state;
	state->query_cxt = CurrentMemoryContext;
	state->rel = rel;
	state->resource = table_resource(rel);
	state->kind = dml_kind(mtstate->operation);
	state->returning = intVal(list_nth(fdw_private, WixModifyReturning));
	state->server = GetForeignServer(GetForeignTable(RelationGetRelid(rel))->serverid)->servername;
	standard = standard_columns(rel, state->resource);
	if (state->kind != WIX_DML_INSERT)
	{
		state->subplan_tlist = outerPlanState(mtstate)->plan->targetlist;
		state->id_attno = ExecFindJunkAttributeInTlist(state->subplan_tlist, "wix_id");
		if (!AttributeNumberIsValid(state->id_attno))
			elog(ERROR, "could not find junk wix_id column");
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
		return;

	state->defer = wix_defer_actions;
	if (state->defer && state->returning)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("RETURNING is not available when wix_admin.defer_actions is on"),
				 errdetail("A deferred change is sent to Wix after COMMIT; there is no answer from Wix to return yet."),
				 errhint("Leave out RETURNING, or SET wix_admin.defer_actions = off; a delivered action's answer is in wix_admin.actions.")));
	state->row_cxt = AllocSetContextCreate(mtstate->ps.state->es_query_cxt,
										   "wix_admin modify row",
										   ALLOCSET_DEFAULT_SIZES);
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
		result = wix_action_run_dml(call->def, values, nulls, state->server,
									state->defer);
	}
	PG_CATCH();
	{
		int			changed = state->changed + (*row_changed ? 1 : 0);
		ErrorData  *edata;
		char	   *detail;

		if (state->defer || changed == 0)
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

TupleTableSlot *
wixExecForeignInsert(EState *estate, ResultRelInfo *rinfo,
					 TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	WixModifyState *state = rinfo->ri_FdwState;
	TupleDesc	tupdesc = slot->tts_tupleDescriptor;
	MemoryContext oldcxt;
	bool		row_changed = false;
	Datum		answer;

	MemoryContextReset(state->row_cxt);
	oldcxt = MemoryContextSwitchTo(state->row_cxt);
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
	answer = run_call(state, state->call, slot, planSlot, (Datum) 0,
					  &row_changed);
	state->changed++;
	MemoryContextSwitchTo(oldcxt);
	if (state->returning)
		return returned_row(state, slot, answer);
	return slot;
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
		ModifyColumn *column = lfirst(lc);
		Form_pg_attribute attr = TupleDescAttr(slot->tts_tupleDescriptor,
											   column->attnum - 1);
		bool		isnull;
		Datum		value = slot_getattr(slot, column->attnum, &isnull);
		char	   *text = NULL;
		ModifyCall *chosen = NULL;
		bool		done = false;
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
		{
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot set column \"%s\" of foreign table \"%s\" to %s",
							NameStr(attr->attname), RelationGetRelationName(state->rel),
							text ? quote_literal_cstr(text) : "NULL"),
					 errdetail("An UPDATE of Wix resource \"%s\" can set %s.",
							   state->resource->name, updatable_text(state->resource)),
					 errhint(OTHER_CHANGES_HINT)));
		}
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
 * wixExplainForeignModify
 *		With VERBOSE, the Wix call each row makes: per column set and value
 *		for an UPDATE.
 */
void
wixExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						List *fdw_private, int subplan_index,
						ExplainState *es)
{
	WixModifyState *state = rinfo->ri_FdwState;
	List	   *calls = NIL;
	ListCell   *lc;

	if (!es->verbose)
		return;
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
