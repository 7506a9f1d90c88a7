-- tinyagent: show a note in Notes and return its plain text.
-- Run as: osascript - NAME FOLDER. This file is sent verbatim; data only ever arrives in argv.
--   NAME    the note's exact name (its first line)
--   FOLDER  the folder's name (empty: any folder)
-- Errors: number 4101 when there is no such note; 4103 when the folder does not exist
-- (message: every folder's name, one per line).
on run argv
	set theName to item 1 of argv
	set folderName to item 2 of argv
	if folderName is "" then
		tell application "Notes" to set found to every note whose name is theName
	else
		set theFolder to my findFolder(folderName)
		tell application "Notes" to set found to every note of theFolder whose name is theName
	end if
	if (count of found) is 0 then error "no such note" number 4101
	tell application "Notes"
		set theNote to item 1 of found
		show theNote
		activate
		return plaintext of theNote
	end tell
end run

-- The folder with this name; error 4103 listing every folder name (one per line) if none.
on findFolder(folderName)
	tell application "Notes" to set found to every folder whose name is folderName
	if (count of found) > 0 then return item 1 of found
	tell application "Notes" to set folderNames to name of every folder
	set AppleScript's text item delimiters to linefeed
	error (folderNames as text) number 4103
end findFolder
