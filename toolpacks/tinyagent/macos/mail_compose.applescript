-- tinyagent: open a new, visible email draft in Mail. It is never sent: the person sends it.
-- Run as: osascript - ARG... This file is sent verbatim; data only ever arrives in argv.
--   1 subject, 2 body, then three lists, each a count N followed by N items:
--   the recipients (email addresses), the cc (email addresses), the attachments (POSIX
--   paths of existing files).
on run argv
	set theSubject to item 1 of argv
	set theBody to item 2 of argv
	set {toList, i} to my takeList(argv, 3)
	set {ccList, i} to my takeList(argv, i)
	set attachmentFiles to my filesOf(item 1 of my takeList(argv, i))
	tell application "Mail"
		-- the trailing line gives attachments a paragraph to follow
		set newMessage to make new outgoing message with properties {subject:theSubject, content:theBody & linefeed, visible:true}
		my addTo(newMessage, toList, ccList, attachmentFiles)
		activate
	end tell
	return theSubject
end run

-- Adds recipients, cc and attachments to an outgoing message.
on addTo(theMessage, toList, ccList, attachmentFiles)
	tell application "Mail"
		tell theMessage
			repeat with anAddress in toList
				make new to recipient at end of to recipients with properties {address:(contents of anAddress)}
			end repeat
			repeat with anAddress in ccList
				make new cc recipient at end of cc recipients with properties {address:(contents of anAddress)}
			end repeat
			repeat with aFile in attachmentFiles
				tell content to make new attachment with properties {file name:(contents of aFile)} at after the last paragraph
			end repeat
		end tell
	end tell
end addTo

-- POSIX paths as aliases, made outside any tell block so no app reinterprets them.
on filesOf(thePaths)
	set theFiles to {}
	repeat with aPath in thePaths
		set end of theFiles to (POSIX file (contents of aPath)) as alias
	end repeat
	return theFiles
end filesOf

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
