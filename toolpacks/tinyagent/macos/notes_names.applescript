-- tinyagent: the names of the notes in a folder (or in every folder), one per line,
-- for fuzzy matching in Python.
-- Run as: osascript - FOLDER. This file is sent verbatim; data only ever arrives in argv.
--   FOLDER  the folder's name (empty: every note)
-- Errors: number 4103 when the folder does not exist (message: every folder's name, one per line).
on run argv
	set folderName to item 1 of argv
	if folderName is "" then
		tell application "Notes" to set theNames to name of every note
	else
		set theFolder to my findFolder(folderName)
		tell application "Notes" to set theNames to name of every note of theFolder
	end if
	set AppleScript's text item delimiters to linefeed
	set theText to theNames as text
	set AppleScript's text item delimiters to ""
	return theText
end run

-- The folder with this name; error 4103 listing every folder name (one per line) if none.
on findFolder(folderName)
	tell application "Notes" to set found to every folder whose name is folderName
	if (count of found) > 0 then return item 1 of found
	tell application "Notes" to set folderNames to name of every folder
	set AppleScript's text item delimiters to linefeed
	error (folderNames as text) number 4103
end findFolder
