-- tinyagent: append to a note in Notes, creating the note if asked to.
-- Run as: osascript - NAME HTML FOLDER START. This file is sent verbatim; data only ever
-- arrives in argv.
--   NAME    the note's exact name (its first line)
--   HTML    what to append, as HTML
--   FOLDER  the folder's name (empty: any folder to find it, the default folder to create it)
--   START   the title line as HTML that a new note begins with when none has this name
--           (empty: do not create one, error 4101 instead)
-- Returns "appended" or "created".
-- Errors: number 4101 when there is no such note and START is empty; 4103 when the folder
-- does not exist (message: every folder's name, one per line).
on run argv
	set theName to item 1 of argv
	set theHTML to item 2 of argv
	set folderName to item 3 of argv
	set startHTML to item 4 of argv
	if folderName is "" then
		tell application "Notes" to set found to every note whose name is theName
		tell application "Notes" to set theFolder to default folder of default account
	else
		set theFolder to my findFolder(folderName)
		tell application "Notes" to set found to every note of theFolder whose name is theName
	end if
	if (count of found) > 0 then
		tell application "Notes"
			set theNote to item 1 of found
			set body of theNote to (body of theNote) & theHTML
		end tell
		return "appended"
	end if
	if startHTML is "" then error "no such note" number 4101
	tell application "Notes" to make new note at theFolder with properties {body:startHTML & theHTML}
	return "created"
end run

-- The folder with this name; error 4103 listing every folder name (one per line) if none.
on findFolder(folderName)
	tell application "Notes" to set found to every folder whose name is folderName
	if (count of found) > 0 then return item 1 of found
	tell application "Notes" to set folderNames to name of every folder
	set AppleScript's text item delimiters to linefeed
	error (folderNames as text) number 4103
end findFolder
