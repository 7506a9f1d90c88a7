-- tinyagent: show a note in Notes and return its plain text.
-- Run as: osascript - NAME FOLDER. This file is sent verbatim; data only ever arrives in argv.
--   NAME    the note's exact name (its first line)
--   FOLDER  the folder's name (empty: any folder); never the trash (Recently Deleted)
-- Errors: number 4101 when there is no such note; 4103 when the folder does not exist
-- (message: every folder's name, one per line).
on run argv
	set theName to item 1 of argv
	set folderName to item 2 of argv
	set theNote to my findNote(theName, my foldersNamed(folderName))
	if theNote is missing value then error "no such note" number 4101
	tell application "Notes"
		show theNote
		activate
		return plaintext of theNote
	end tell
end run

-- The folders to look in: those named FOLDER (empty: every folder), from liveFolders().
-- Error 4103 listing the live folders' names (one per line) when none has that name.
on foldersNamed(folderName)
	set theFolders to my liveFolders()
	if folderName is "" then return theFolders
	set found to {}
	set folderNames to {}
	repeat with aFolder in theFolders
		set theFolder to contents of aFolder
		tell application "Notes" to set aName to name of theFolder
		if aName is folderName then set end of found to theFolder
		set end of folderNames to aName
	end repeat
	if found is not {} then return found
	set AppleScript's text item delimiters to linefeed
	error (folderNames as text) number 4103
end foldersNamed

-- Every folder of every account, subfolders included, except each account's trash
-- ("Recently Deleted"): asked for every note, Notes includes the deleted ones.
on liveFolders()
	set trashTitles to my trashNames()
	set found to {}
	tell application "Notes" to set theAccounts to every account
	repeat with anAccount in theAccounts
		set theAccount to contents of anAccount
		tell application "Notes"
			set accountID to id of theAccount
			set defaultID to id of default folder of theAccount
			set topFolders to every folder of theAccount
		end tell
		repeat with aFolder in topFolders
			set theFolder to contents of aFolder
			-- the container is read into a variable first: Notes fails on "id of container of"
			tell application "Notes"
				set theContainer to container of theFolder
				set containerID to id of theContainer
				set folderID to id of theFolder
				set folderName to name of theFolder
			end tell
			if containerID is accountID then
				set isTrash to (folderID is not defaultID) and (trashTitles contains folderName)
				if not isTrash then set found to found & my withSubfolders(theFolder)
			end if
		end repeat
	end repeat
	return found
end liveFolders

-- Notes' dictionary marks no folder as the trash, and the trash's name follows the language.
-- It is known here as a top-level folder, not the account's default one, named as Notes
-- names its trash: in English, or in the person's language from Notes' own strings.
on trashNames()
	set theNames to {"Recently Deleted"}
	try
		set end of theNames to localized string "Recently Deleted" in bundle (POSIX file "/System/Library/PrivateFrameworks/NotesShared.framework")
	end try
	return theNames
end trashNames

-- A folder and, depth first, every folder inside it.
on withSubfolders(theFolder)
	set found to {theFolder}
	tell application "Notes" to set theSubfolders to every folder of theFolder
	repeat with aChild in theSubfolders
		set found to found & my withSubfolders(contents of aChild)
	end repeat
	return found
end withSubfolders

-- The first note named theName in theFolders, or missing value.
on findNote(theName, theFolders)
	repeat with aFolder in theFolders
		set theFolder to contents of aFolder
		tell application "Notes" to set found to every note of theFolder whose name is theName
		if found is not {} then return item 1 of found
	end repeat
	return missing value
end findNote
