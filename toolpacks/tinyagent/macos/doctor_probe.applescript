-- tinyagent doctor: send one harmless, read-only Apple event to an app, so that macOS
-- either answers, refuses (-1743: automation not allowed) or asks the person for access.
-- Run as: osascript - APP. This file is sent verbatim; data only ever arrives in argv.
--   APP  one of Contacts, Calendar, Reminders, Notes, Mail (compared, never run)
-- Returns a count (people, calendars, lists, notes, accounts).
-- Errors: number 4101 for an app this probe does not know.
on run argv
	set appName to item 1 of argv
	if appName is "Contacts" then
		tell application "Contacts" to set n to count of people
	else if appName is "Calendar" then
		tell application "Calendar" to set n to count of calendars
	else if appName is "Reminders" then
		tell application "Reminders" to set n to count of lists
	else if appName is "Notes" then
		tell application "Notes" to set n to count of notes
	else if appName is "Mail" then
		tell application "Mail" to set n to count of accounts
	else
		error "unknown app" number 4101
	end if
	return n as text
end run
