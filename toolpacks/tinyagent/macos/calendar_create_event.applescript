-- tinyagent: create an event in Calendar.
-- Run as: osascript - ARG... This file is sent verbatim; data only ever arrives in argv.
--   1 title, 2 calendar name (empty: the first writable calendar), 3 location, 4 notes,
--   5-9 start as numbers: year, month, day, hour, minute (local time),
--   10-14 end as numbers: year, month, day, hour, minute,
--   15 the number N of invitees, then N email addresses (added as attendees).
-- Dates are built from numbers, never from date "..." text, which depends on the locale.
-- Returns the name of the calendar the event went into, then one line for each invitee the
-- event really holds as an attendee: that invitee's position (1 to N) in argv's list.
-- Errors: number 4103 when the named calendar does not exist (message: every calendar's
-- name, one per line); 4101 when no calendar is writable.
on run argv
	set theTitle to item 1 of argv
	set calendarName to item 2 of argv
	set theLocation to item 3 of argv
	set theNotes to item 4 of argv
	set startDate to my makeDate(items 5 thru 9 of argv)
	set endDate to my makeDate(items 10 thru 14 of argv)
	set invitees to item 1 of my takeList(argv, 15)

	tell application "Calendar"
		if calendarName is "" then
			set theCalendar to missing value
			repeat with aCalendar in (every calendar)
				if writable of aCalendar then
					set theCalendar to contents of aCalendar
					exit repeat
				end if
			end repeat
		else
			set found to every calendar whose name is calendarName
			if (count of found) > 0 then
				set theCalendar to item 1 of found
			else
				set theCalendar to missing value
				set calendarNames to name of every calendar
			end if
		end if
	end tell
	if theCalendar is missing value then
		if calendarName is "" then error "no writable calendar" number 4101
		set AppleScript's text item delimiters to linefeed
		error (calendarNames as text) number 4103
	end if

	tell application "Calendar"
		set newEvent to make new event at end of events of theCalendar with properties {summary:theTitle, start date:startDate, end date:endDate, location:theLocation, description:theNotes}
		set usedName to name of theCalendar
	end tell

	-- The dictionary makes an attendee's email read-only and scripting sends no invitations;
	-- on some macOS versions adding one fails. Each is tried alone, so a failure never
	-- undoes the event (a retry would duplicate it), and the event is read back to report
	-- only the attendees it really holds.
	repeat with anAddress in invitees
		try
			tell application "Calendar" to tell newEvent to make new attendee at end of attendees with properties {email:(contents of anAddress)}
		end try
	end repeat
	set held to {}
	try
		tell application "Calendar" to set held to email of every attendee of newEvent
	end try
	set theLines to {usedName}
	repeat with k from 1 to count of invitees
		if held contains (item k of invitees) then set end of theLines to k as text
	end repeat
	set AppleScript's text item delimiters to linefeed
	return theLines as text
end run

-- A date from {year, month, day, hour, minute} given as digit strings. The day is set to 1
-- first so that changing the month never overflows (31 January -> February).
on makeDate(parts)
	set theDate to current date
	set day of theDate to 1
	set year of theDate to (item 1 of parts) as integer
	set month of theDate to (item 2 of parts) as integer
	set day of theDate to (item 3 of parts) as integer
	set time of theDate to ((item 4 of parts) as integer) * hours + ((item 5 of parts) as integer) * minutes
	return theDate
end makeDate

-- A list stored in argv as a count followed by that many items, starting at index i.
-- Returns {the items, the index just after them}.
on takeList(argv, i)
	set n to (item i of argv) as integer
	set theItems to {}
	repeat with k from (i + 1) to (i + n)
		set end of theItems to item k of argv
	end repeat
	return {theItems, i + n + 1}
end takeList
