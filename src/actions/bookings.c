/*-------------------------------------------------------------------------
 *
 * bookings.c
 *		  What the booking actions need beyond their rows in the action table
 *		  (members-stores-bookings.md §5.3): reading a booking with its
 *		  revision, and rescheduling's checks and new slot.  Confirming,
 *		  declining and cancelling are rows.
 *
 *-------------------------------------------------------------------------
 */
#include "wix_actions.h"

#include "pgtime.h"
#include "utils/datetime.h"

/* The booking, read through the extended-bookings query filtered by id. */
json_object *
wix_read_booking(WixActionCall *call)
{
	const char *booking_id = wix_arg_text(call, "booking_id");
	json_object *body = wix_held(call, json_object_new_object());
	json_object *query = wix_jchild(body, "query");
	json_object *found;
	json_object *booking;

	wix_jset_string(wix_jchild(query, "filter"), "id", booking_id);
	wix_jset(wix_jchild(query, "cursorPaging"), "limit", json_object_new_int(1));
	found = wix_json_get_type(wix_action_read(call, "POST",
											  "/_api/bookings-reader/v2/extended-bookings/query",
											  body),
							  "extendedBookings", json_type_array);
	booking = found && json_object_array_length(found) > 0 ?
		wix_json_get_type(json_object_array_get_idx(found, 0), "booking", json_type_object) :
		NULL;
	if (booking == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
				 errmsg("booking %s not found", booking_id),
				 errhint("Check the id, and that the server's site_id and base_url point at the right site.")));
	return booking;
}

/* wix_reschedule_booking: finite dates, the end after the start. */
void
wix_check_reschedule(WixActionCall *call)
{
	TimestampTz start = DatumGetTimestampTz(wix_arg(call, "start_date")->datum);
	WixArg	   *end = wix_arg(call, "end_date");

	if (TIMESTAMP_NOT_FINITE(start) ||
		(!end->isnull && TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(end->datum))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("start_date and end_date must be finite")));
	if (!end->isnull && DatumGetTimestampTz(end->datum) <= start)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("end_date must be later than start_date")));
}

/* Wall-clock time in a time zone, without zone, as Wix slot dates are. */
static char *
iso_local(TimestampTz ts, pg_tz *zone)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tz;

	if (TIMESTAMP_NOT_FINITE(ts) ||
		timestamp2tm(ts, &tz, &tm, &fsec, NULL, zone) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d",
					tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static TimestampTz
parse_wix_timestamp(const char *text, const char *field)
{
	if (text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Wix booking has no %s", field)));
	return DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
												   CStringGetDatum(text),
												   ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)));
}

/* The new end: end_date, or the start plus the booking's current length. */
static TimestampTz
new_end(WixActionCall *call, json_object *booking, TimestampTz start)
{
	WixArg	   *end_arg = wix_arg(call, "end_date");
	TimestampTz end;

	if (!end_arg->isnull)
		return DatumGetTimestampTz(end_arg->datum);
	end = start +
		(parse_wix_timestamp(wix_json_get_string(booking, "endDate"), "endDate") -
		 parse_wix_timestamp(wix_json_get_string(booking, "startDate"), "startDate"));
	if (end <= start)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("end_date must be later than start_date")));
	return end;
}

/*
 * wix_reschedule_body
 *		The booking's slot with new dates: wall-clock times in the slot's
 *		time zone, as Wix writes them; without end_date the booking keeps its
 *		length.
 */
void
wix_reschedule_body(WixActionCall *call, json_object *body, json_object *booking)
{
	TimestampTz start = DatumGetTimestampTz(wix_arg(call, "start_date")->datum);
	json_object *slot = wix_json_get_type(wix_json_get(booking, "bookedEntity"),
										  "slot", json_type_object);
	json_object *new_slot;
	const char *zone_name;
	pg_tz	   *zone = NULL;
	TimestampTz end;

	if (slot == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("booking %s is not for a single slot and cannot be rescheduled",
						wix_arg_text(call, "booking_id")),
				 errdetail("Course bookings book a whole schedule.")));
	end = new_end(call, booking, start);
	zone_name = wix_json_get_string(slot, "timezone");
	if (zone_name != NULL)
		zone = pg_tzset(zone_name);

	new_slot = json_object_new_object();
	wix_jset(body, "slot", new_slot);
	{
		json_object_object_foreach(slot, key, value)
			wix_jset(new_slot, key, json_object_get(value));
	}
	wix_jset_string(new_slot, "startDate",
					zone ? iso_local(start, zone) : wix_iso_utc(start, false));
	wix_jset_string(new_slot, "endDate",
					zone ? iso_local(end, zone) : wix_iso_utc(end, false));
}
