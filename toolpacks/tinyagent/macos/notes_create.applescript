-- tinyagent: create a note in Notes.
-- Run as: osascript - BODY FOLDER. This file is sent verbatim; data only ever arrives in argv.
--   BODY    the note as HTML, its title as the first line (Notes names a note by its first line)
--   FOLDER  the folder's name (empty: the default folder of the default account)
-- Returns the name of the folder the note went into.
-- Errors: number 4103 when the folder does not exist (message: every folder's name, one per line).
on run argv
	set theBody to item 1 of argv
	set folderName to item 2 of argv
	if folderName is "" then
		tell application "Notes" to set theFolder to default folder of default account
	else
		set theFolder to my findFolder(folderName)
	end if
	tell application "Notes"
		make new note at theFolder with properties {body:theBody}
		return name of theFolder
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
