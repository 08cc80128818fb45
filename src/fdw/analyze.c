/*-------------------------------------------------------------------------
 *
 * analyze.c
 *		  ANALYZE of a wix_admin foreign table: one full read of the table
 *		  through its ordinary scan, sampled as PostgreSQL's own ANALYZE
 *		  samples a heap (Vitter's reservoir over the stream of rows).
 *
 * The read is "SELECT <every column> FROM ONLY <the table>", run by SPI into
 * a DestReceiver that samples each row as it arrives: nothing is pushed to
 * Wix, the rows stream, and memory holds only the sample.  It costs exactly
 * the requests of that SELECT, and it runs as the table's owner (ANALYZE
 * switches to the owner), so with the owner's user mapping.
 *
 * Progress: in pg_stat_progress_analyze a "block" of a wix_admin table is a
 * row.  sample_blks_scanned counts the rows read so far; sample_blks_total
 * is the rows expected (the last ANALYZE's count, else the table's "rows"
 * option), never less than the rows read.  A long read also sends a NOTICE
 * every ANALYZE_NOTICE_INTERVAL_MS.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_fdw.h"

#include <math.h>

#include "access/htup_details.h"
#include "commands/progress.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/sampling.h"
#include "utils/timestamp.h"

/* How often a long read says how far it got. */
#define ANALYZE_NOTICE_INTERVAL_MS	10000

/* The DestReceiver that samples the rows of the read. */
typedef struct SampleReceiver
{
	DestReceiver pub;			/* first: the executor calls through it */
	Relation	rel;
	const char *table_name;		/* schema-qualified, for messages */
	MemoryContext sample_cxt;	/* ANALYZE's context: holds the sample */
	HeapTuple  *rows;			/* the sample, targrows at most */
	int			targrows;
	int			numrows;		/* rows in the sample so far */
	double		rows_read;
	double		rows_expected;	/* before the read; -1 when unknown */
	double		rowstoskip;		/* reservoir: rows to pass over; -1: draw */
	ReservoirStateData rstate;
	Datum	   *values;			/* a row by attnum - 1 of the relation */
	bool	   *nulls;
	TimestampTz last_notice;
} SampleReceiver;

/*
 * needs_path_condition
 *		Is one of the resource's endpoints read only with a "column = value"
 *		condition filling a "{field}" of its path?  Such a table has no full
 *		read to sample.
 */
static bool
needs_path_condition(const WixResource *resource)
{
	for (int i = 0; resource->endpoints[i] != NULL; i++)
	{
		if (wix_path_params(resource->endpoints[i]->query_path) != NIL)
			return true;
	}
	return false;
}

/*
 * expected_rows
 *		The rows a full read is expected to give: as many as the last ANALYZE
 *		read, else the table's "rows" option, else -1 (unknown).
 */
static double
expected_rows(Relation rel)
{
	double		rows_option;
	bool		use_remote_estimate = false;

	if (rel->rd_rel->reltuples >= 0)
		return rel->rd_rel->reltuples;
	wix_table_estimate_options(RelationGetRelid(rel), &rows_option,
							   &use_remote_estimate);
	return rows_option;
}

/* The query of the read: every column, in attnum order, no condition. */
static char *
read_query(Relation rel)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	StringInfoData sql;
	bool		first = true;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);

		if (attr->attisdropped)
			continue;
		if (!first)
			appendStringInfoString(&sql, ", ");
		appendStringInfoString(&sql, quote_identifier(NameStr(attr->attname)));
		first = false;
	}
	appendStringInfo(&sql, " FROM ONLY %s",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)));
	return sql.data;
}

/* The row in the slot as a tuple of the relation, in the sample's context. */
static HeapTuple
sample_tuple(SampleReceiver *receiver, TupleTableSlot *slot)
{
	TupleDesc	tupdesc = RelationGetDescr(receiver->rel);
	MemoryContext oldcxt;
	HeapTuple	tuple;
	int			column = 0;

	slot_getallattrs(slot);
	for (int i = 0; i < tupdesc->natts; i++)
	{
		if (TupleDescAttr(tupdesc, i)->attisdropped)
		{
			receiver->values[i] = (Datum) 0;
			receiver->nulls[i] = true;
			continue;
		}
		receiver->values[i] = slot->tts_values[column];
		receiver->nulls[i] = slot->tts_isnull[column];
		column++;
	}
	oldcxt = MemoryContextSwitchTo(receiver->sample_cxt);
	tuple = heap_form_tuple(tupdesc, receiver->values, receiver->nulls);
	MemoryContextSwitchTo(oldcxt);
	return tuple;
}

/*
 * report_progress
 *		The rows read so far in pg_stat_progress_analyze, and in a NOTICE
 *		every ANALYZE_NOTICE_INTERVAL_MS.
 */
static void
report_progress(SampleReceiver *receiver)
{
	const int	index[] = {
		PROGRESS_ANALYZE_BLOCKS_TOTAL,
		PROGRESS_ANALYZE_BLOCKS_DONE
	};
	int64		values[2];
	TimestampTz now;

	values[0] = (int64) Max(receiver->rows_expected, receiver->rows_read);
	values[1] = (int64) receiver->rows_read;
	pgstat_progress_update_multi_param(2, index, values);

	now = GetCurrentTimestamp();
	if (TimestampDifferenceExceeds(receiver->last_notice, now,
								   ANALYZE_NOTICE_INTERVAL_MS))
	{
		ereport(NOTICE,
				(errmsg("ANALYZE of %s: %.0f rows read from Wix so far",
						receiver->table_name, receiver->rows_read)));
		receiver->last_notice = now;
	}
}

/*
 * sample_row
 *		receiveSlot: every row counts, the first targrows fill the sample,
 *		later ones replace a random member of it at the intervals Vitter's
 *		algorithm draws, exactly as acquire_sample_rows in analyze.c does.
 */
static bool
sample_row(TupleTableSlot *slot, DestReceiver *self)
{
	SampleReceiver *receiver = (SampleReceiver *) self;

	CHECK_FOR_INTERRUPTS();
	if (receiver->numrows < receiver->targrows)
		receiver->rows[receiver->numrows++] = sample_tuple(receiver, slot);
	else
	{
		if (receiver->rowstoskip < 0)
			receiver->rowstoskip = reservoir_get_next_S(&receiver->rstate,
														receiver->rows_read,
														receiver->targrows);
		if (receiver->rowstoskip <= 0)
		{
			int			k = (int) (receiver->targrows *
								   sampler_random_fract(&receiver->rstate.randstate));

			Assert(k >= 0 && k < receiver->targrows);
			heap_freetuple(receiver->rows[k]);
			receiver->rows[k] = sample_tuple(receiver, slot);
		}
		receiver->rowstoskip -= 1;
	}
	receiver->rows_read += 1;
	report_progress(receiver);
	return true;
}

/* The receiver needs no set-up or clean-up: the sample outlives the read. */
static void
sample_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
sample_shutdown(DestReceiver *self)
{
}

/*
 * acquire_sample_rows
 *		AcquireSampleRowsFunc: read the whole table and return the sample in
 *		rows (in the order read while it is not full); *totalrows is every row
 *		read.  Wix has no dead rows.
 */
static int
acquire_sample_rows(Relation rel, int elevel, HeapTuple *rows, int targrows,
					double *totalrows, double *totaldeadrows)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	SampleReceiver receiver;
	SPIExecuteOptions options;
	char	   *sql = read_query(rel);

	memset(&receiver, 0, sizeof(receiver));
	receiver.pub.receiveSlot = sample_row;
	receiver.pub.rStartup = sample_startup;
	receiver.pub.rShutdown = sample_shutdown;
	receiver.pub.rDestroy = sample_shutdown;
	receiver.pub.mydest = DestNone; /* SPI keeps no rows */
	receiver.rel = rel;
	receiver.table_name = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
													 RelationGetRelationName(rel));
	receiver.sample_cxt = CurrentMemoryContext;
	receiver.rows = rows;
	receiver.targrows = targrows;
	receiver.rows_expected = expected_rows(rel);
	receiver.rowstoskip = -1;
	reservoir_init_selection_state(&receiver.rstate, targrows);
	receiver.values = palloc(sizeof(Datum) * tupdesc->natts);
	receiver.nulls = palloc(sizeof(bool) * tupdesc->natts);
	receiver.last_notice = GetCurrentTimestamp();

	memset(&options, 0, sizeof(options));
	options.dest = (DestReceiver *) &receiver;
	SPI_connect();
	if (SPI_execute_extended(sql, &options) < 0)
		elog(ERROR, "wix_admin: the ANALYZE read of %s failed", receiver.table_name);
	SPI_finish();

	*totalrows = receiver.rows_read;
	*totaldeadrows = 0;
	ereport(elevel,
			(errmsg("\"%s\": read %.0f rows from Wix, %d rows in sample",
					RelationGetRelationName(rel), receiver.rows_read,
					receiver.numrows)));
	return receiver.numrows;
}

/*
 * wixAnalyzeForeignTable
 *		Every table Wix can list is analyzable.  *totalpages, which becomes
 *		pg_class.relpages, estimates the pages (requests) of a full read: at
 *		least 1, since an inheritance parent's ANALYZE samples its children
 *		in proportion to it.  A table read only with a
 *		condition is skipped, with PostgreSQL's own warning.  An unknown
 *		resource is left to the read, which reports it as a SELECT would.
 */
bool
wixAnalyzeForeignTable(Relation rel, AcquireSampleRowsFunc *func,
					   BlockNumber *totalpages)
{
	const WixResource *resource = wix_find_resource(wix_table_resource(RelationGetRelid(rel)));
	double		rows = expected_rows(rel);

	if (resource != NULL && needs_path_condition(resource))
		return false;
	*func = acquire_sample_rows;
	*totalpages = 1;
	if (resource != NULL && rows > 0)
		*totalpages = (BlockNumber) Max(1.0, ceil(rows / resource->endpoints[0]->max_page_size));
	return true;
}
