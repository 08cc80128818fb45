/*-------------------------------------------------------------------------
 *
 * deparse.c
 *		  WHERE conditions and ORDER BY keys into Wix query-language filters
 *		  and sorts.
 *
 * At plan time, wix_is_pushable_cond decides whether Wix can evaluate a
 * condition on every endpoint the table might use, and whether Wix's answer
 * is exact.  A condition Wix evaluates only approximately (case-insensitive
 * $startsWith, $ne matching absent fields, float comparisons...) is still
 * sent, because its answer is always a superset of the right rows, and is
 * rechecked locally; so is a condition on an array field ($hasSome selects
 * the items having a matching element, not the rows).  At scan start,
 * wix_deparse_filter builds the filter JSON from the conditions with
 * parameter values resolved, encoding each value for its field's wire type;
 * for an endpoint taking flat query-string parameters, the parameters.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_fdw.h"

#include "access/stratnum.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

/* What a leaf condition asks of Wix. */
typedef enum WixLeafOp
{
	LEAF_EQ,
	LEAF_NE,
	LEAF_LT,
	LEAF_LE,
	LEAF_GT,
	LEAF_GE,
	LEAF_IN,
	LEAF_NIN,
	LEAF_IS_NULL,
	LEAF_IS_NOT_NULL,
	LEAF_STARTS,				/* LIKE / ILIKE 'prefix%' */
	LEAF_IS_TRUE,				/* a bare boolean column */
	LEAF_IS_FALSE				/* NOT of one */
} WixLeafOp;

/* A condition on one column, taken apart. */
typedef struct WixLeaf
{
	WixLeafOp	op;
	Var		   *column;
	Expr	   *value;			/* the other operand, NULL if none */
	char	   *prefix;			/* LEAF_STARTS */
} WixLeaf;

static const char *const leaf_wix_ops[] = {
	"$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$nin",
	NULL, NULL, "$startsWith", "$eq", "$eq"
};

static Expr *
strip_relabel(Expr *expr)
{
	while (expr != NULL && IsA(expr, RelabelType))
		expr = ((RelabelType *) expr)->arg;
	return expr;
}

/* Is expr a plain column of the scanned relation? */
static Var *
column_of(Expr *expr, Index relid)
{
	expr = strip_relabel(expr);
	if (expr != NULL && IsA(expr, Var) &&
		((Var *) expr)->varno == relid &&
		((Var *) expr)->varlevelsup == 0 &&
		((Var *) expr)->varattno > 0)
		return (Var *) expr;
	return NULL;
}

/*
 * A value Wix can be sent: evaluated once at scan start, so it may hold
 * constants, parameters, stable functions and outer-relation columns (a
 * parameterized scan), but no column of this relation and nothing volatile.
 */
static bool
is_value_expr(PlannerInfo *root, Expr *expr, Index relid)
{
	Relids		varnos;

	if (expr == NULL)
		return false;
	if (IsA(expr, Const) || IsA(expr, Param) || root == NULL)
		return true;			/* at run time, checked when planned */
	varnos = pull_varnos(root, (Node *) expr);
	return !bms_is_member(relid, varnos) &&
		!contain_volatile_functions((Node *) expr) &&
		!contain_subplans((Node *) expr) &&
		!contain_agg_clause((Node *) expr) &&
		!contain_window_function((Node *) expr);
}

/* Turn a LIKE pattern 'literal%' into its literal prefix, or NULL. */
static char *
like_prefix(const char *pattern)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const char *p = pattern; *p; p++)
	{
		if (*p == '\\')
		{
			if (p[1] == '\0')
				return NULL;
			appendStringInfoChar(&buf, *++p);
		}
		else if (*p == '%')
			return (p[1] == '\0' && buf.len > 0) ? buf.data : NULL;
		else if (*p == '_')
			return NULL;
		else
			appendStringInfoChar(&buf, *p);
	}
	return NULL;					/* no trailing %: not a prefix match */
}

static bool
leaf_from_opexpr(OpExpr *op, Index relid, PlannerInfo *root, WixLeaf *leaf)
{
	char	   *opname;
	Expr	   *left,
			   *right;
	bool		commuted = false;

	if (list_length(op->args) != 2 || op->opno >= FirstNormalObjectId)
		return false;
	left = linitial(op->args);
	right = lsecond(op->args);
	leaf->column = column_of(left, relid);
	leaf->value = right;
	if (leaf->column == NULL)
	{
		leaf->column = column_of(right, relid);
		leaf->value = left;
		commuted = true;
	}
	if (leaf->column == NULL || !is_value_expr(root, leaf->value, relid))
		return false;

	opname = get_opname(op->opno);
	if (opname == NULL)
		return false;
	if (strcmp(opname, "=") == 0)
		leaf->op = LEAF_EQ;
	else if (strcmp(opname, "<>") == 0)
		leaf->op = LEAF_NE;
	else if (strcmp(opname, "<") == 0)
		leaf->op = commuted ? LEAF_GT : LEAF_LT;
	else if (strcmp(opname, "<=") == 0)
		leaf->op = commuted ? LEAF_GE : LEAF_LE;
	else if (strcmp(opname, ">") == 0)
		leaf->op = commuted ? LEAF_LT : LEAF_GT;
	else if (strcmp(opname, ">=") == 0)
		leaf->op = commuted ? LEAF_LE : LEAF_GE;
	else if ((strcmp(opname, "~~") == 0 || strcmp(opname, "~~*") == 0) &&
			 !commuted && IsA(leaf->value, Const) &&
			 !((Const *) leaf->value)->constisnull &&
			 ((Const *) leaf->value)->consttype == TEXTOID)
	{
		leaf->prefix = like_prefix(TextDatumGetCString(((Const *) leaf->value)->constvalue));
		if (leaf->prefix == NULL)
			return false;
		leaf->op = LEAF_STARTS;
		leaf->value = NULL;
	}
	else
		return false;
	return true;
}

/*
 * condition_leaf
 *		Take a condition apart into a WixLeaf, if it is a comparison of a
 *		column with a value in a form Wix knows.
 */
static bool
condition_leaf(Expr *expr, Index relid, PlannerInfo *root, WixLeaf *leaf)
{
	memset(leaf, 0, sizeof(*leaf));
	switch (nodeTag(expr))
	{
		case T_OpExpr:
			return leaf_from_opexpr((OpExpr *) expr, relid, root, leaf);
		case T_ScalarArrayOpExpr:
			{
				ScalarArrayOpExpr *saop = (ScalarArrayOpExpr *) expr;
				char	   *opname;

				if (list_length(saop->args) != 2 || saop->opno >= FirstNormalObjectId)
					return false;
				leaf->column = column_of(linitial(saop->args), relid);
				leaf->value = lsecond(saop->args);
				if (leaf->column == NULL || !is_value_expr(root, leaf->value, relid))
					return false;
				opname = get_opname(saop->opno);
				if (opname != NULL && saop->useOr && strcmp(opname, "=") == 0)
					leaf->op = LEAF_IN;
				else if (opname != NULL && !saop->useOr && strcmp(opname, "<>") == 0)
					leaf->op = LEAF_NIN;
				else
					return false;
				return true;
			}
		case T_NullTest:
			{
				NullTest   *nt = (NullTest *) expr;

				if (nt->argisrow)
					return false;
				leaf->column = column_of(nt->arg, relid);
				leaf->op = nt->nulltesttype == IS_NULL ? LEAF_IS_NULL : LEAF_IS_NOT_NULL;
				return leaf->column != NULL;
			}
		case T_Var:
			leaf->column = column_of(expr, relid);
			leaf->op = LEAF_IS_TRUE;
			return leaf->column != NULL && leaf->column->vartype == BOOLOID;
		case T_BoolExpr:
			/* NOT boolean_column, which is how "= false" is planned */
			if (((BoolExpr *) expr)->boolop != NOT_EXPR)
				return false;
			leaf->column = column_of(linitial(((BoolExpr *) expr)->args), relid);
			leaf->op = LEAF_IS_FALSE;
			return leaf->column != NULL && leaf->column->vartype == BOOLOID;
		default:
			return false;
	}
}

/* Can a column of this type hold values of this wire type exactly? */
static bool
type_fits_wire(Oid type, WixWireType wire)
{
	switch (wire)
	{
		case WIX_WIRE_STRING:
		case WIX_WIRE_ENUM:
			return type == TEXTOID || type == VARCHAROID;
		case WIX_WIRE_DATE:
			return type == TIMESTAMPTZOID;
		case WIX_WIRE_INT:
			return type == INT2OID || type == INT4OID || type == INT8OID;
		case WIX_WIRE_NUMBER:
			return type == INT2OID || type == INT4OID || type == INT8OID ||
				type == NUMERICOID || type == FLOAT4OID || type == FLOAT8OID;
		case WIX_WIRE_DECIMAL:
			return type == INT2OID || type == INT4OID || type == INT8OID ||
				type == NUMERICOID;
		case WIX_WIRE_BOOL:
			return type == BOOLOID;
	}
	return false;
}

/* Does a constant timestamptz (or array of them) have sub-millisecond parts? */
static bool
has_submillisecond(Expr *value)
{
	Const	   *c = (Const *) value;

	if (!IsA(value, Const) || c->constisnull)
		return !IsA(value, Const);	/* unknown until run time */
	if (c->consttype == TIMESTAMPTZOID)
		return DatumGetTimestampTz(c->constvalue) % 1000 != 0;
	if (c->consttype == TIMESTAMPTZARRAYOID)
	{
		ArrayType  *array = DatumGetArrayTypeP(c->constvalue);
		Datum	   *values;
		bool	   *nulls;
		int			n;

		deconstruct_array(array, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
						  &values, &nulls, &n);
		for (int i = 0; i < n; i++)
		{
			if (!nulls[i] && DatumGetTimestampTz(values[i]) % 1000 != 0)
				return true;
		}
	}
	return false;
}

/* The distinct non-null elements of a text array, as C strings. */
static List *
text_array_values(Datum value)
{
	ArrayType  *array = DatumGetArrayTypeP(value);
	Datum	   *values;
	bool	   *nulls;
	int			n;
	List	   *result = NIL;

	deconstruct_array(array, ARR_ELEMTYPE(array), -1, false, TYPALIGN_INT,
					  &values, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		char	   *str;
		ListCell   *lc;
		bool		seen = false;

		if (nulls[i])
			continue;
		str = TextDatumGetCString(values[i]);
		foreach(lc, result)
			seen = seen || strcmp(lfirst(lc), str) == 0;
		if (!seen)
			result = lappend(result, str);
	}
	return result;
}

/*
 * text_sendable
 *		May a text value be sent for the field?  Wix rejects a value outside
 *		the field's list of values; and an empty flat query-string parameter
 *		would read as none.
 */
static bool
text_sendable(const WixFieldDef *field, bool flat, const char *text)
{
	if (field->type != WIX_WIRE_STRING && field->type != WIX_WIRE_ENUM)
		return true;
	if (flat && text[0] == '\0')
		return false;
	if (field->values == NULL)
		return true;
	for (const char *const *value = field->values; *value != NULL; value++)
	{
		if (strcmp(*value, text) == 0)
			return true;
	}
	return false;
}

/* Is every value of a constant (an array for IN) sendable?  NULLs are. */
static bool
const_sendable(WixLeaf *leaf, const WixFieldDef *field, bool flat)
{
	Const	   *c = (Const *) leaf->value;
	ListCell   *lc;

	if (c->constisnull || (field->type != WIX_WIRE_STRING &&
						   field->type != WIX_WIRE_ENUM))
		return true;
	if (leaf->op != LEAF_IN && leaf->op != LEAF_NIN)
		return text_sendable(field, flat, TextDatumGetCString(c->constvalue));
	foreach(lc, text_array_values(c->constvalue))
	{
		if (!text_sendable(field, flat, lfirst(lc)))
			return false;
	}
	return true;
}

/*
 * leaf_pushable
 *		Can this endpoint evaluate the leaf, and exactly?
 */
static bool
leaf_pushable(WixLeaf *leaf, const WixColumnPlan *plan, bool *exact)
{
	const WixFieldDef *field = wix_plan_column(plan, leaf->column->varattno)->field;
	Oid			coltype = leaf->column->vartype;
	Oid			valtype = InvalidOid;
	bool		flat = wix_endpoint_in_query_string(plan->endpoint);
	int			needed;

	if (field == NULL || !type_fits_wire(coltype, field->type))
		return false;
	/* flat parameters are lists of values, an array field takes $hasSome */
	if ((flat || (field->ops & WIX_OP_HAS_SOME)) &&
		leaf->op != LEAF_EQ && leaf->op != LEAF_IN)
		return false;
	if (leaf->value != NULL)
	{
		valtype = exprType((Node *) leaf->value);
		if (leaf->op == LEAF_IN || leaf->op == LEAF_NIN)
			valtype = get_element_type(valtype);
		if (!type_fits_wire(valtype, field->type))
			return false;
		/* a value known only at run time is left out if Wix would refuse it */
		if (flat || field->values != NULL)
		{
			if (!IsA(leaf->value, Const))
				*exact = false;
			else if (!const_sendable(leaf, field, flat))
				return false;
		}
	}
	if (field->ops & WIX_OP_HAS_SOME)
	{
		*exact = false;			/* the item's other elements need not match */
		return true;
	}

	switch (leaf->op)
	{
		case LEAF_EQ:
		case LEAF_IS_TRUE:
		case LEAF_IS_FALSE:
			needed = WIX_OP_EQ;
			break;
		case LEAF_NE:
			needed = WIX_OP_NE;
			*exact = false;		/* $ne also matches absent fields */
			break;
		case LEAF_LT:
		case LEAF_LE:
		case LEAF_GT:
		case LEAF_GE:
			/* Wix's string order is not the collation's */
			if (field->type == WIX_WIRE_STRING || field->type == WIX_WIRE_ENUM ||
				field->type == WIX_WIRE_BOOL)
				return false;
			needed = WIX_OP_RANGE;
			break;
		case LEAF_IN:
			needed = WIX_OP_IN;
			break;
		case LEAF_NIN:
			needed = WIX_OP_NIN;
			*exact = false;
			break;
		case LEAF_IS_NULL:
		case LEAF_IS_NOT_NULL:
			needed = WIX_OP_EXISTS;
			*exact = false;		/* a JSON null is NULL here, present there */
			break;
		case LEAF_STARTS:
			if (field->type != WIX_WIRE_STRING)
				return false;
			needed = WIX_OP_STARTS;
			*exact = false;		/* $startsWith ignores case */
			break;
		default:
			return false;
	}
	if ((field->ops & needed) != needed)
		return false;
	/*
	 * a call without a filter takes it as a path parameter or ids only; a
	 * batch call's parent query takes it
	 */
	if (!wix_endpoint_is_query(plan->endpoint->batch ?
							   plan->endpoint->batch->parent : plan->endpoint))
		*exact = false;

	/* only strings, enums and integers compare exactly; dates at ms */
	if (field->type == WIX_WIRE_NUMBER || field->type == WIX_WIRE_DECIMAL ||
		field->type == WIX_WIRE_BOOL)
		*exact = false;
	if (field->type == WIX_WIRE_DATE && leaf->value != NULL &&
		has_submillisecond(leaf->value))
		*exact = false;
	return true;
}

/* Walk a condition tree; see wix_is_pushable_cond. */
static bool
cond_pushable(Expr *expr, WixRelInfo *info, PlannerInfo *root, Index relid,
			  bool *exact)
{
	WixLeaf		leaf;

	if (IsA(expr, BoolExpr) && !condition_leaf(expr, relid, root, &leaf))
	{
		BoolExpr   *b = (BoolExpr *) expr;
		ListCell   *lc;

		/* flat parameters are ANDed, with no OR or NOT */
		for (int i = 0; info->endpoints[i] != NULL; i++)
		{
			if (wix_endpoint_in_query_string(info->endpoints[i]))
				return false;
		}
		if (b->boolop == NOT_EXPR)
		{
			bool		child_exact = true;

			/* NOT of an approximate answer would lose rows */
			if (!cond_pushable(linitial(b->args), info, root, relid, &child_exact) ||
				!child_exact)
				return false;
			*exact = false;		/* NULLs: NOT keeps them there, not here */
			return true;
		}
		foreach(lc, b->args)
		{
			if (!cond_pushable(lfirst(lc), info, root, relid, exact))
				return false;
		}
		return true;
	}

	if (!condition_leaf(expr, relid, root, &leaf))
		return false;
	for (int i = 0; info->endpoints[i] != NULL; i++)
	{
		if (!leaf_pushable(&leaf, info->plans[i], exact))
			return false;
	}
	return true;
}

/*
 * wix_is_pushable_cond
 *		Can every candidate endpoint of the table evaluate the condition?
 *		*exact is cleared when Wix's answer may be a superset of the rows
 *		PostgreSQL would keep, so that the caller rechecks it locally.
 */
bool
wix_is_pushable_cond(PlannerInfo *root, RelOptInfo *baserel, WixRelInfo *info,
					 Expr *expr, bool *exact)
{
	*exact = true;
	return cond_pushable(expr, info, root, baserel->relid, exact);
}

/* Collect the non-constant values a condition needs (see GetForeignPlan). */
static void
collect_values(Expr *expr, Index relid, PlannerInfo *root, List **values)
{
	WixLeaf		leaf;

	if (IsA(expr, BoolExpr) && !condition_leaf(expr, relid, root, &leaf))
	{
		ListCell   *lc;

		foreach(lc, ((BoolExpr *) expr)->args)
			collect_values(lfirst(lc), relid, root, values);
		return;
	}
	if (condition_leaf(expr, relid, root, &leaf) && leaf.value != NULL &&
		!IsA(leaf.value, Const))
		*values = list_append_unique(*values, leaf.value);
}

/*
 * wix_collect_param_values
 *		The value expressions of pushed conditions that are not constants:
 *		the executor evaluates them (fdw_exprs) when the scan starts.
 */
List *
wix_collect_param_values(PlannerInfo *root, Index relid, List *conds)
{
	List	   *values = NIL;
	ListCell   *lc;

	foreach(lc, conds)
		collect_values(lfirst(lc), relid, root, &values);
	return values;
}

/*
 * wix_pathkey_sort
 *		Can Wix sort by this pathkey?  Sets the column and direction.
 *		Only date and integer fields are sent (Wix's string and enum orders
 *		are not PostgreSQL's), and only when Wix puts absent values where
 *		PostgreSQL puts NULLs, or the field is never absent: Wix sorts absent
 *		values first in ascending order.
 */
bool
wix_pathkey_sort(PathKey *pathkey, RelOptInfo *baserel, WixRelInfo *info,
				 AttrNumber *attnum, bool *descending)
{
	EquivalenceClass *ec = pathkey->pk_eclass;
	ListCell   *lc;

	if (ec->ec_has_volatile)
		return false;
	if (!wix_pathkey_direction(pathkey, descending))
		return false;

	foreach(lc, ec->ec_members)
	{
		EquivalenceMember *em = lfirst(lc);
		Var		   *var = column_of(em->em_expr, baserel->relid);
		bool		ok = (var != NULL && !em->em_is_child);
		Oid			opclass;

		if (!ok)
			continue;
		/* the type's default ordering, nothing else */
		opclass = GetDefaultOpClass(var->vartype, BTREE_AM_OID);
		if (!OidIsValid(opclass) || get_opclass_family(opclass) != pathkey->pk_opfamily)
			continue;
		for (int i = 0; ok && info->endpoints[i] != NULL; i++)
		{
			const WixFieldDef *field = wix_plan_column(info->plans[i],
													   var->varattno)->field;
			bool		wix_nulls_first = !*descending;

			ok = field != NULL && (field->ops & WIX_SORTABLE) &&
				(field->type == WIX_WIRE_DATE || field->type == WIX_WIRE_INT) &&
				type_fits_wire(var->vartype, field->type) &&
				((field->ops & WIX_ALWAYS_SET) ||
				 pathkey->pk_nulls_first == wix_nulls_first);
		}
		if (ok)
		{
			*attnum = var->varattno;
			return true;
		}
	}
	return false;
}

/*
 * Run-time deparsing
 */

/* A deparsed condition: always true, never true, or a filter. */
typedef struct Deparsed
{
	enum
	{
		DEPARSED_TRUE,
		DEPARSED_FALSE,
		DEPARSED_JSON
	}			kind;
	json_object *json;
} Deparsed;

static Deparsed
deparsed(int kind, json_object *json)
{
	Deparsed	d;

	d.kind = kind;
	d.json = json;
	return d;
}


/*
 * encode_value
 *		One value as the field's wire type wants it.  NULL when a date has a
 *		sub-millisecond part: no Wix date equals it, and the caller decides.
 */
static json_object *
encode_value(Datum value, Oid type, const WixFieldDef *field)
{
	switch (field->type)
	{
		case WIX_WIRE_STRING:
		case WIX_WIRE_ENUM:
			return json_object_new_string(TextDatumGetCString(value));
		case WIX_WIRE_BOOL:
			return json_object_new_boolean(DatumGetBool(value));
		case WIX_WIRE_DATE:
			if (DatumGetTimestampTz(value) % 1000 != 0)
				return NULL;
			return json_object_new_string(wix_iso_utc(DatumGetTimestampTz(value), false));
		default:
			{
				Oid			output;
				bool		varlena;
				char	   *text;

				getTypeOutputInfo(type, &output, &varlena);
				text = OidOutputFunctionCall(output, value);
				if (field->type == WIX_WIRE_DECIMAL)
					return json_object_new_string(text);
				if (field->type == WIX_WIRE_INT)
					return json_object_new_int64(strtoll(text, NULL, 10));
				if (strcmp(text, "NaN") == 0 || strstr(text, "Infinity") != NULL)
					return NULL;
				return json_object_new_double_s(strtod(text, NULL), text);
			}
	}
}

/* The value of a leaf's operand: a constant or an evaluated parameter. */
static bool
leaf_value(WixLeaf *leaf, WixDeparseContext *ctx, Datum *value, Oid *type)
{
	*type = exprType((Node *) leaf->value);
	if (IsA(leaf->value, Const))
	{
		*value = ((Const *) leaf->value)->constvalue;
		return !((Const *) leaf->value)->constisnull;
	}
	for (int i = 0; i < list_length(ctx->param_exprs); i++)
	{
		if (equal(list_nth(ctx->param_exprs, i), leaf->value))
		{
			*value = ctx->param_values[i];
			return !ctx->param_nulls[i];
		}
	}
	elog(ERROR, "wix_admin: value of a pushed condition not found");
	return false;
}

/* {"field": {"$op": value}} */
static json_object *
field_condition(const char *name, const char *op, json_object *value)
{
	json_object *inner = json_object_new_object();
	json_object *outer = json_object_new_object();

	json_object_object_add(inner, op, value);
	json_object_object_add(outer, name, inner);
	return outer;
}

/*
 * deparse_list
 *		IN / NOT IN of an array value: the elements Wix can be sent, as op.
 *		A condition with an element Wix would refuse is left out (planning
 *		made sure that it is rechecked).
 */
static Deparsed
deparse_list(WixLeaf *leaf, const char *name, const char *op,
			 const WixFieldDef *field, bool flat, Datum value)
{
	ArrayType  *array = DatumGetArrayTypeP(value);
	Oid			elemtype = ARR_ELEMTYPE(array);
	int16		elemlen;
	bool		elembyval;
	char		elemalign;
	Datum	   *values;
	bool	   *nulls;
	int			n;
	json_object *list = json_object_new_array();

	get_typlenbyvalalign(elemtype, &elemlen, &elembyval, &elemalign);
	deconstruct_array(array, elemtype, elemlen, elembyval, elemalign,
					  &values, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		json_object *encoded = nulls[i] ? NULL :
			encode_value(values[i], elemtype, field);

		if (encoded != NULL &&
			!text_sendable(field, flat, json_object_get_string(encoded)))
		{
			json_object_put(encoded);
			json_object_put(list);
			return deparsed(DEPARSED_TRUE, NULL);
		}
		if (encoded != NULL)
		{
			json_object_array_add(list, encoded);
			continue;
		}
		if (leaf->op == LEAF_NIN)
		{
			/*
			 * x <> ALL (..., NULL) is never true; and no Wix date equals one
			 * between milliseconds, so that NOT IN cannot be sent exactly
			 */
			json_object_put(list);
			return deparsed(nulls[i] ? DEPARSED_FALSE : DEPARSED_TRUE, NULL);
		}
	}
	if (json_object_array_length(list) == 0)
	{
		json_object_put(list);
		return deparsed(leaf->op == LEAF_IN ? DEPARSED_FALSE : DEPARSED_TRUE, NULL);
	}
	return deparsed(DEPARSED_JSON, field_condition(name, op, list));
}

/*
 * deparse_unencodable
 *		A comparison with a value Wix cannot be sent: a date between two
 *		milliseconds (widened to the whole millisecond, rechecked here) or a
 *		NaN (left to the recheck).
 */
static Deparsed
deparse_unencodable(WixLeaf *leaf, const char *name, const WixFieldDef *field,
					Datum value)
{
	TimestampTz ts;
	int			below;

	if (field->type != WIX_WIRE_DATE)
		return deparsed(DEPARSED_TRUE, NULL);
	ts = DatumGetTimestampTz(value);
	below = ((ts % 1000) + 1000) % 1000;
	switch (leaf->op)
	{
		case LEAF_GT:
		case LEAF_GE:
			return deparsed(DEPARSED_JSON,
							field_condition(name, "$gte",
											json_object_new_string(wix_iso_utc(ts - below, false))));
		case LEAF_LT:
		case LEAF_LE:
			return deparsed(DEPARSED_JSON,
							field_condition(name, "$lte",
											json_object_new_string(wix_iso_utc(ts + 1000 - below, false))));
		case LEAF_EQ:
			return deparsed(DEPARSED_FALSE, NULL);
		default:
			return deparsed(DEPARSED_TRUE, NULL);
	}
}

static Deparsed
deparse_leaf(WixLeaf *leaf, WixDeparseContext *ctx)
{
	const WixFieldDef *field = wix_plan_column(ctx->columns,
											   leaf->column->varattno)->field;
	const char *name = field->filter_path ? field->filter_path : field->path;
	bool		array_field = (field->ops & WIX_OP_HAS_SOME) != 0;
	const char *op = array_field ? "$hasSome" : leaf_wix_ops[leaf->op];
	bool		flat = wix_endpoint_in_query_string(ctx->endpoint);
	Datum		value;
	Oid			type;
	json_object *encoded;

	switch (leaf->op)
	{
		case LEAF_IS_NULL:
		case LEAF_IS_NOT_NULL:
			return deparsed(DEPARSED_JSON,
							field_condition(name, "$exists",
											json_object_new_boolean(leaf->op == LEAF_IS_NOT_NULL)));
		case LEAF_IS_TRUE:
		case LEAF_IS_FALSE:
			return deparsed(DEPARSED_JSON,
							field_condition(name, "$eq",
											json_object_new_boolean(leaf->op == LEAF_IS_TRUE)));
		case LEAF_STARTS:
			return deparsed(DEPARSED_JSON,
							field_condition(name, "$startsWith",
											json_object_new_string(leaf->prefix)));
		default:
			break;
	}

	/* planning: a value not known yet leaves the condition out (a superset) */
	if (ctx->plan_time && !IsA(leaf->value, Const))
		return deparsed(DEPARSED_TRUE, NULL);
	if (ctx->explain_only && !IsA(leaf->value, Const))
	{
		/* values are known only when the scan runs */
		const char *shown = IsA(leaf->value, Param) &&
			((Param *) leaf->value)->paramkind == PARAM_EXTERN ?
			psprintf("$%d", ((Param *) leaf->value)->paramid) : "(value at run time)";

		return deparsed(DEPARSED_JSON,
						field_condition(name, op, json_object_new_string(shown)));
	}

	/* a comparison with NULL is never true */
	if (!leaf_value(leaf, ctx, &value, &type))
		return deparsed(DEPARSED_FALSE, NULL);

	if (leaf->op == LEAF_IN || leaf->op == LEAF_NIN)
		return deparse_list(leaf, name, op, field, flat, value);
	encoded = encode_value(value, type, field);
	if (encoded == NULL)
		return deparse_unencodable(leaf, name, field, value);
	if (!text_sendable(field, flat, json_object_get_string(encoded)))
	{
		/* left out, and rechecked (see leaf_pushable) */
		json_object_put(encoded);
		return deparsed(DEPARSED_TRUE, NULL);
	}
	if (array_field)
	{
		json_object *list = json_object_new_array();

		json_object_array_add(list, encoded);
		encoded = list;
	}
	return deparsed(DEPARSED_JSON, field_condition(name, op, encoded));
}

static Deparsed deparse_cond(Expr *expr, WixDeparseContext *ctx);

/* AND / OR of deparsed children, folding constants. */
static Deparsed
deparse_junction(List *args, bool is_and, WixDeparseContext *ctx)
{
	json_object *parts = json_object_new_array();
	ListCell   *lc;
	Deparsed	result;

	foreach(lc, args)
	{
		Deparsed	d = deparse_cond(lfirst(lc), ctx);

		if (d.kind == DEPARSED_JSON)
			json_object_array_add(parts, d.json);
		else if ((d.kind == DEPARSED_FALSE) == is_and)
		{
			/* AND with false, OR with true: decided */
			json_object_put(parts);
			return deparsed(d.kind, NULL);
		}
	}
	if (json_object_array_length(parts) == 0)
		result = deparsed(is_and ? DEPARSED_TRUE : DEPARSED_FALSE, NULL);
	else if (json_object_array_length(parts) == 1)
		result = deparsed(DEPARSED_JSON,
						  json_object_get(json_object_array_get_idx(parts, 0)));
	else
	{
		json_object *obj = json_object_new_object();

		json_object_object_add(obj, is_and ? "$and" : "$or", json_object_get(parts));
		result = deparsed(DEPARSED_JSON, obj);
	}
	json_object_put(parts);
	return result;
}

static Deparsed
deparse_cond(Expr *expr, WixDeparseContext *ctx)
{
	WixLeaf		leaf;

	if (IsA(expr, BoolExpr) && !condition_leaf(expr, ctx->relid_index, NULL, &leaf))
	{
		BoolExpr   *b = (BoolExpr *) expr;

		if (b->boolop == NOT_EXPR)
		{
			Deparsed	d = deparse_cond(linitial(b->args), ctx);
			json_object *obj;

			/* NOT of a left-out condition is not a superset */
			if (ctx->plan_time && d.kind == DEPARSED_TRUE)
				return deparsed(DEPARSED_TRUE, NULL);
			if (d.kind != DEPARSED_JSON)
				return deparsed(d.kind == DEPARSED_TRUE ? DEPARSED_FALSE : DEPARSED_TRUE, NULL);
			obj = json_object_new_object();
			json_object_object_add(obj, "$not", d.json);
			return deparsed(DEPARSED_JSON, obj);
		}
		return deparse_junction(b->args, b->boolop == AND_EXPR, ctx);
	}
	if (!condition_leaf(expr, ctx->relid_index, NULL, &leaf))
		elog(ERROR, "wix_admin: cannot deparse a pushed condition");
	return deparse_leaf(&leaf, ctx);
}

/* Append the elements of a JSON array to another. */
static void
append_values(json_object *to, json_object *from)
{
	for (size_t i = 0; i < json_object_array_length(from); i++)
		json_object_array_add(to, json_object_get(json_object_array_get_idx(from, i)));
}

/* The values of a deparsed "= x" or "IN (...)", as a new array. */
static json_object *
condition_values(json_object *condition)
{
	json_object *values = json_object_new_array();

	/* {"$eq": x} or {"$in": [...]} */
	json_object_object_foreach(condition, op, operand)
	{
		(void) op;
		if (json_object_is_type(operand, json_type_array))
			append_values(values, operand);
		else
			json_object_array_add(values, json_object_get(operand));
	}
	return values;
}

/*
 * merge_values
 *		The values of one parameter given by two conditions, as a new array:
 *		those both allow, the values being alternatives.  At EXPLAIN time,
 *		values not known yet are placeholders: both lists are shown.
 */
static json_object *
merge_values(json_object *before, json_object *values, bool explain_only)
{
	json_object *merged = json_object_new_array();

	if (explain_only)
	{
		append_values(merged, before);
		append_values(merged, values);
		return merged;
	}
	for (size_t i = 0; i < json_object_array_length(values); i++)
	{
		json_object *value = json_object_array_get_idx(values, i);

		for (size_t j = 0; j < json_object_array_length(before); j++)
		{
			if (strcmp(json_object_get_string(json_object_array_get_idx(before, j)),
					   json_object_get_string(value)) == 0)
			{
				json_object_array_add(merged, json_object_get(value));
				break;
			}
		}
	}
	return merged;
}

/*
 * deparse_parameters
 *		The pushed conditions of an endpoint filtered by flat query-string
 *		parameters, each "= x" or "IN (...)" (planning made sure), as those
 *		parameters: {"orderStatuses": ["ACTIVE", "PAUSED"], ...}, or NULL
 *		when no condition is sent.
 */
static json_object *
deparse_parameters(List *conds, WixDeparseContext *ctx, bool *never_true)
{
	json_object *params = json_object_new_object();
	ListCell   *lc;

	foreach(lc, conds)
	{
		Deparsed	d = deparse_cond(lfirst(lc), ctx);

		*never_true |= (d.kind == DEPARSED_FALSE);
		if (d.kind != DEPARSED_JSON)
			continue;
		{
			json_object_object_foreach(d.json, name, condition)
			{
				json_object *values = condition_values(condition);
				json_object *before;

				if (json_object_object_get_ex(params, name, &before))
				{
					json_object *merged = merge_values(before, values,
													   ctx->explain_only);

					json_object_put(values);
					values = merged;
					*never_true |= (json_object_array_length(values) == 0);
				}
				json_object_object_add(params, name, values);
			}
		}
		json_object_put(d.json);
	}
	if (*never_true || json_object_object_length(params) == 0)
	{
		json_object_put(params);
		return NULL;
	}
	return params;
}

/*
 * wix_deparse_filter
 *		The filter for the pushed conditions (ANDed), or NULL when there is
 *		none: for an endpoint paged in the query string, its flat parameters.
 *		*never_true is set when no row can match: the scan then sends no
 *		request at all.
 */
json_object *
wix_deparse_filter(List *conds, WixDeparseContext *ctx, bool *never_true)
{
	Deparsed	d;

	*never_true = false;
	if (conds == NIL)
		return NULL;
	if (wix_endpoint_in_query_string(ctx->endpoint))
		return deparse_parameters(conds, ctx, never_true);
	d = deparse_junction(conds, true, ctx);
	*never_true = (d.kind == DEPARSED_FALSE);
	return d.kind == DEPARSED_JSON ? d.json : NULL;
}

/*
 * wix_deparse_sort
 *		[{"fieldName": ..., "order": "ASC"|"DESC"}, ...] for a list of
 *		(attnum, descending) pairs, or NULL when the list is empty.
 */
json_object *
wix_deparse_sort(List *sort_keys, WixDeparseContext *ctx)
{
	json_object *sort;
	ListCell   *lc;

	if (sort_keys == NIL)
		return NULL;
	sort = json_object_new_array();
	for (lc = list_head(sort_keys); lc != NULL; lc = lnext(sort_keys, lc))
	{
		AttrNumber	attnum = lfirst_int(lc);
		bool		descending;
		const WixFieldDef *field = wix_plan_column(ctx->columns, attnum)->field;
		json_object *key = json_object_new_object();

		lc = lnext(sort_keys, lc);
		descending = lfirst_int(lc) != 0;
		json_object_object_add(key, "fieldName",
							   json_object_new_string(field->filter_path ?
													  field->filter_path : field->path));
		json_object_object_add(key, "order",
							   json_object_new_string(descending ? "DESC" : "ASC"));
		json_object_array_add(sort, key);
	}
	return sort;
}

/*
 * wix_remote_count
 *		How many items match a filter, from the endpoint's count call or the
 *		total of a one-item query; -1 when the endpoint tells neither.
 */
double
wix_remote_count(WixConnection *conn, const WixEndpoint *endpoint,
				 json_object *filter)
{
	WixJsonHolder *answer;
	json_object *count;
	char	   *total_path;
	char	   *segments[8];
	int			n = 0;

	if (endpoint->count_path != NULL)
	{
		json_object *body = json_object_new_object();

		if (filter != NULL)
			json_object_object_add(body, "filter", json_object_get(filter));
		(void) wix_json_hold(CurrentMemoryContext, body);
		answer = wix_request(conn, "POST", endpoint->count_path, body, NULL);
		count = wix_json_path_get(answer->obj, (char *[]) {"count"}, 1);
	}
	else if (endpoint->total_path != NULL)
	{
		WixPager	pager;

		wix_pager_init(&pager, endpoint, 1);
		pager.filter = filter;
		answer = wix_request(conn, "POST", endpoint->query_path,
							 wix_pager_next_body(&pager), NULL);
		total_path = pstrdup(endpoint->total_path);
		for (char *part = strtok(total_path, "."); part != NULL && n < 8;
			 part = strtok(NULL, "."))
			segments[n++] = part;
		count = wix_json_path_get(answer->obj, segments, n);
	}
	else
		return -1;

	if (count == NULL ||
		!(json_object_is_type(count, json_type_int) ||
		  json_object_is_type(count, json_type_string)))
		return -1;
	return (double) json_object_get_int64(count);
}

/*
 * wix_id_lookup
 *		Are the pushed conditions exactly "column = value" on the field the
 *		endpoint's Get call takes in its path?  Sets *id to the value (NULL
 *		at EXPLAIN time, when it may not be known).  Not for a batch call
 *		that needs its parent items, which only the parent query gives.
 */
bool
wix_id_lookup(List *conds, WixDeparseContext *ctx, char **id)
{
	WixLeaf		leaf;
	const WixFieldDef *field;
	Datum		value;
	Oid			type;

	*id = NULL;
	if (ctx->endpoint->get_path == NULL || ctx->batch_parents ||
		list_length(conds) != 1 ||
		!condition_leaf(linitial(conds), ctx->relid_index, NULL, &leaf) ||
		leaf.op != LEAF_EQ)
		return false;
	field = wix_plan_column(ctx->columns, leaf.column->varattno)->field;
	if (field == NULL ||
		strcmp(field->path, strVal(linitial(wix_path_params(ctx->endpoint->get_path)))) != 0)
		return false;
	if (ctx->explain_only && !IsA(leaf.value, Const))
		return true;
	if (leaf_value(&leaf, ctx, &value, &type))
		*id = TextDatumGetCString(value);
	return true;
}

/*
 * wix_key_values
 *		The values a pushed top-level "column = value" condition (or, when
 *		in_list, "column IN (...)") gives the column whose field is
 *		field_path: for path parameters and batch ids.  False when there is
 *		no such condition.  *values is NIL when no row can match (a NULL
 *		value), and also when the value is not known yet (EXPLAIN, planning).
 */
bool
wix_key_values(List *conds, WixDeparseContext *ctx, const char *field_path,
			   bool in_list, List **values)
{
	ListCell   *lc;

	*values = NIL;
	foreach(lc, conds)
	{
		WixLeaf		leaf;
		const WixFieldDef *field;
		Datum		value;
		Oid			type;

		if (!condition_leaf(lfirst(lc), ctx->relid_index, NULL, &leaf) ||
			!(leaf.op == LEAF_EQ || (in_list && leaf.op == LEAF_IN)))
			continue;
		field = wix_plan_column(ctx->columns, leaf.column->varattno)->field;
		if (field == NULL || strcmp(field->path, field_path) != 0)
			continue;
		if ((ctx->explain_only || ctx->plan_time) && !IsA(leaf.value, Const))
			return true;
		if (!leaf_value(&leaf, ctx, &value, &type))
			return true;
		*values = leaf.op == LEAF_EQ ?
			list_make1(TextDatumGetCString(value)) : text_array_values(value);
		return true;
	}
	return false;
}

/*
 * wix_enum_selectivity
 *		The share of rows a condition keeps when it compares an enum field
 *		(status, type...) with constants and the table has no statistics:
 *		PostgreSQL's default guess for "= value" is 1 row in 200, right for
 *		ids but far too low for a field with a handful of values, and a guess
 *		that low makes a join look cheap as one look-up per row.  An enum is
 *		taken to have WIX_ENUM_VALUES values, equally common.  -1 when the
 *		condition is not such a comparison.
 */
double
wix_enum_selectivity(PlannerInfo *root, RelOptInfo *baserel, WixRelInfo *info,
					 Expr *expr)
{
	WixLeaf		leaf;
	const WixFieldDef *field;
	double		share;

	if (!condition_leaf(expr, baserel->relid, root, &leaf) ||
		leaf.value == NULL || !IsA(leaf.value, Const) ||
		((Const *) leaf.value)->constisnull)
		return -1;
	field = wix_plan_column(info->plans[0], leaf.column->varattno)->field;
	if (field == NULL || field->type != WIX_WIRE_ENUM)
		return -1;
	share = 1.0 / WIX_ENUM_VALUES;
	switch (leaf.op)
	{
		case LEAF_EQ:
			return share;
		case LEAF_NE:
			return 1.0 - share;
		case LEAF_IN:
		case LEAF_NIN:
			{
				ArrayType  *values = DatumGetArrayTypeP(((Const *) leaf.value)->constvalue);
				double		in = Min(1.0, share * ArrayGetNItems(ARR_NDIM(values),
																 ARR_DIMS(values)));

				return leaf.op == LEAF_IN ? in : 1.0 - in;
			}
		default:
			return -1;
	}
}
