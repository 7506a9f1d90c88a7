-- tinyagent: open a visible reply to the message selected in Mail. It is never sent.
-- Run as: osascript - ARG... This file is sent verbatim; data only ever arrives in argv.
--   1 body (put above the quoted message; empty: leave the reply as Mail made it),
--   then two lists, each a count N followed by N items: the cc (email addresses),
--   the attachments (POSIX paths of existing files).
-- Returns the reply's subject.
-- Errors: number 4104 when no message is selected in Mail.
on run argv
	set theBody to item 1 of argv
	set {ccList, i} to my takeList(argv, 2)
	set attachmentFiles to my filesOf(item 1 of my takeList(argv, i))
	tell application "Mail" to set theSelection to selection
	if theSelection is missing value or theSelection is {} then error "no message selected" number 4104
	tell application "Mail"
		set replyMessage to reply (item 1 of theSelection) with opening window
		if theBody is not "" then set content of replyMessage to theBody & linefeed & linefeed & (content of replyMessage)
		my addTo(replyMessage, {}, ccList, attachmentFiles)
		activate
		return subject of replyMessage
	end tell
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
