-- tinyagent: append to a note in Notes, creating the note if asked to.
-- Run as: osascript - NAME HTML FOLDER START. This file is sent verbatim; data only ever
-- arrives in argv.
--   NAME    the note's exact name (its first line)
--   HTML    what to append, as HTML
--   FOLDER  the folder's name (empty: any folder to find it, the default folder to create
--           it); never the trash (Recently Deleted)
--   START   the title line as HTML that a new note begins with when none has this name
--           (empty: do not create one, error 4101 instead)
-- Returns "appended" or "created".
-- Errors: number 4101 when there is no such note and START is empty; 4103 when the folder
-- does not exist (message: every folder's name, one per line); 4105 when the note has
-- attachments and 4106 when it is locked (password protected), and then nothing changes:
-- a note's body read and written back as HTML loses its images and other attachments.
on run argv
	set theName to item 1 of argv
	set theHTML to item 2 of argv
	set folderName to item 3 of argv
	set startHTML to item 4 of argv
	set theFolders to my foldersNamed(folderName)
	set theNote to my findNote(theName, theFolders)
	if theNote is not missing value then
		tell application "Notes"
			if password protected of theNote then error "locked" number 4106
			if (count of attachments of theNote) > 0 then error "attachments" number 4105
			set body of theNote to (body of theNote) & theHTML
		end tell
		return "appended"
	end if
	if startHTML is "" then error "no such note" number 4101
	if folderName is "" then
		tell application "Notes" to set theFolder to default folder of default account
	else
		set theFolder to item 1 of theFolders
	end if
	tell application "Notes" to make new note at theFolder with properties {body:startHTML & theHTML}
	return "created"
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
