-- tinyagent: the names of everyone in Contacts, one per line (for fuzzy matching in Python).
-- Run as: osascript - (no arguments). This file is sent verbatim; data only ever arrives in argv.
on run argv
	tell application "Contacts" to set theNames to name of every person
	set found to {}
	repeat with aName in theNames
		if contents of aName is not missing value then set end of found to contents of aName
	end repeat
	set AppleScript's text item delimiters to linefeed
	set theText to found as text
	set AppleScript's text item delimiters to ""
	return theText
end run
