-- tinyagent: the email address or phone number of the person with exactly this name.
-- Run as: osascript - KIND NAME. This file is sent verbatim; data only ever arrives in argv.
--   KIND  "email" or "phone"
--   NAME  the person's full name (Contacts compares it without regard to case)
-- Returns the first email address; for phones the first mobile or iPhone number, else the first.
-- Errors: number 4101 when no person has this name, 4102 when they have no value of this kind.
on run argv
	set theKind to item 1 of argv
	set theName to item 2 of argv
	tell application "Contacts"
		set found to every person whose name is theName
		if (count of found) is 0 then error "no such person" number 4101
		repeat with aPerson in found
			if theKind is "email" then
				set theValues to value of every email of aPerson
				if (count of theValues) > 0 then return item 1 of theValues
			else
				set thePhones to every phone of aPerson
				repeat with aPhone in thePhones
					if label of aPhone is in {"mobile", "iPhone"} then return value of aPhone
				end repeat
				if (count of thePhones) > 0 then return value of item 1 of thePhones
			end if
		end repeat
	end tell
	error "no value of this kind" number 4102
end run
