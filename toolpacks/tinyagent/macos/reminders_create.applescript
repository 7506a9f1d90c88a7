-- tinyagent: create a reminder in Reminders.
-- Run as: osascript - ARG... This file is sent verbatim; data only ever arrives in argv.
--   1 name, 2 notes, 3 list name (empty: the default list),
--   4 priority as digits (0 none, 1 high, 5 medium, 9 low),
--   5 "1" if the reminder has a due date, else "0",
--   6 "1" if that due date is all-day (no time of day), else "0",
--   7-11 the due date as numbers: year, month, day, hour, minute (local time; ignored
--   when 5 is "0").
-- Dates are built from numbers, never from date "..." text, which depends on the locale.
-- Returns the name of the list the reminder went into.
-- Errors: number 4103 when the named list does not exist (message: every list's name,
-- one per line).
on run argv
	set theName to item 1 of argv
	set theNotes to item 2 of argv
	set listName to item 3 of argv
	set thePriority to (item 4 of argv) as integer
	set hasDue to (item 5 of argv) is "1"
	set allDay to (item 6 of argv) is "1"
	if hasDue then set dueDate to my makeDate(items 7 thru 11 of argv)

	if listName is "" then
		tell application "Reminders" to set theList to default list
	else
		tell application "Reminders" to set found to every list whose name is listName
		if (count of found) is 0 then
			tell application "Reminders" to set listNames to name of every list
			set AppleScript's text item delimiters to linefeed
			error (listNames as text) number 4103
		end if
		set theList to item 1 of found
	end if

	-- One make with every property: setting them after creation could fail half-way and
	-- leave a half-made reminder that a retry would duplicate.
	tell application "Reminders"
		set theProperties to {name:theName, priority:thePriority}
		if theNotes is not "" then set theProperties to theProperties & {body:theNotes}
		if hasDue and allDay then
			set theProperties to theProperties & {allday due date:dueDate}
		else if hasDue then
			set theProperties to theProperties & {due date:dueDate}
		end if
		make new reminder at end of reminders of theList with properties theProperties
		return name of theList
	end tell
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
