-- tinyagent: open Mail's own reply to the message selected in Mail (else the newest one in
-- the inbox) in a visible window. It is never sent: the person sends it.
-- Run as: osascript - ARG... This file is sent verbatim; data only ever arrives in argv.
--   1 the text of the reply (empty: none), then two lists, each a count N followed by N
--   items: the cc (email addresses), the attachments (POSIX paths of existing files).
-- The text goes on the clipboard, never into the reply: with the window open Mail ignores
-- writes to a reply's content, and without one a write replaces Mail's quote of the
-- original (public reports, e.g. radar 19348912), so a written text could be lost while
-- the tool said it worked. The person pastes it; the answer says so.
-- Returns three lines: "selected" or "newest", the original's sender, the reply's subject.
-- Errors: number 4104 when nothing is selected and the inbox has nothing from the last week.
on run argv
	set theText to item 1 of argv
	set {ccList, i} to my takeList(argv, 2)
	set attachmentFiles to my filesOf(item 1 of my takeList(argv, i))
	set {theOriginal, how} to my original()
	tell application "Mail"
		set replyMessage to reply theOriginal with opening window
		my addTo(replyMessage, {}, ccList, attachmentFiles)
		activate
		set theSender to sender of theOriginal
		set theSubject to subject of replyMessage
	end tell
	if theText is not "" then set the clipboard to theText
	return how & linefeed & theSender & linefeed & theSubject
end run

-- {the message to act on, how it was chosen}: the first one selected in Mail, else the
-- newest in the inbox. Only the last week is searched: an inbox can hold tens of thousands.
on original()
	set cutoff to (current date) - 7 * days
	tell application "Mail"
		set theSelection to selection
		if theSelection is not missing value and theSelection is not {} then return {item 1 of theSelection, "selected"}
		set recent to every message of inbox whose date received > cutoff
		if recent is {} then error "no message selected, none in the inbox this week" number 4104
		set newest to item 1 of recent
		set newestDate to date received of newest
		repeat with aMessage in recent
			set receivedDate to date received of aMessage
			if receivedDate > newestDate then
				set newest to contents of aMessage
				set newestDate to receivedDate
			end if
		end repeat
	end tell
	return {newest, "newest"}
end original

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
