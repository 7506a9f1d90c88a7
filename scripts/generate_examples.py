#!/usr/bin/env python3
"""Generate the solved queries behind ToolRAG and the planner's example bank.

Deterministic for a given ``--seed``: each scenario (a plan shape over the 16 tools of
toolpacks/tinyagent/pack.yaml) has many hand-written phrasings; slots are filled from
entity pools and the plan is built from the same slot values, in DESIGN.md's plan
format. Whole phrasings (templates) are held out per tool family for the test set, so
test wording is never seen in training. Standard library only.

    python scripts/generate_examples.py            # rewrites both files
    python scripts/generate_examples.py --seed 7 --train /tmp/t.jsonl --test /tmp/x.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TRAIN = ROOT / "toolpacks" / "tinyagent" / "examples.jsonl"
DEFAULT_TEST = ROOT / "datasets" / "test.jsonl"
DEFAULT_SEED = 20240917
HOLDOUT_SHARE = 0.15
PER_TEMPLATE = 17  # queries drawn per single-request training template
PER_TEST_TEMPLATE = 11  # fewer for held-out templates keeps the test set near 1,000
COMBOS = 1700  # multi-request queries ("text Omar ... and remind me ...")

# --------------------------------------------------------------------------- pools

NAMES = [
    "Omar", "Sarah Lin", "Dr. Amara Okafor", "Nguyen Van An", "María José García", "Priya",
    "Priya Nair", "Kenji Watanabe", "Kenji", "Fatima", "Fatima Al-Sayed", "Liam O'Brien",
    "Chloé Dubois", "Mateo", "Mateo Rossi", "Aisha Bello", "Wei Zhang", "Zhang Wei",
    "Olga Ivanova", "Lars", "Lars Eriksson", "Sven", "Noah", "Emma", "Emma Schmidt",
    "Jamal Washington", "Ana Sousa", "João Pereira", "Tariq", "Yuki Tanaka", "Hana Kim",
    "Kim Min-jun", "Ravi Shankar", "Ravi", "Deepa", "Mohammed", "Mohammed Hassan",
    "Ngozi Adeyemi", "Kwame Mensah", "Kwame", "Siobhan", "Siobhan Murphy", "Björn",
    "Ingrid Larsen", "Alejandro", "Alejandro Torres", "Lucía Fernández", "Pierre",
    "Giulia Bianchi", "Giulia", "Dmitri", "Tomasz Kowalski", "Agnieszka", "Elif Yılmaz",
    "Mehmet", "Leila Haddad", "Leila", "Ahmed", "Nadia", "Rania Khoury", "Carlos", "Ben",
    "Ben Carter", "Mom", "Dad", "Grandma", "Uncle Raj", "Aunt Linda", "Prof. Helen Marsh",
    "Dr. Patel", "Dr. Kowalczyk", "Mr. Thompson", "Ms. Rivera", "Jess", "Jessica Alvarez",
    "Tom", "Tom Becker", "Lena", "Lena Müller", "Anika", "Arjun Mehta", "Sanjay",
    "Mei Chen", "Chen Jie", "Li Na", "Thabo", "Zanele Dlamini", "Amir", "Shira Cohen",
    "David Levi", "Isabella", "Sofia Costa", "Marco", "Hiroshi", "Sakura", "Oluwaseun",
    "Chidi", "Tendai", "Camila Rojas", "Diego", "Valentina", "Astrid", "Freya", "Finn",
    "Patrick", "Grace Ho", "Jin", "Hyun-woo Park", "Parisa", "Reza", "Daniela",
    "Sam", "Alex", "Jordan Lee", "Taylor", "Chris", "Nora", "Ivan Petrov", "Ewa",
    "Aroha", "Mere Ngata", "Kai", "Malia", "Pham Thi Lan", "Tran Minh", "Anh",
    "Rosa Martínez", "Hugo", "Élodie", "Ines", "Youssef", "Salma", "Kofi", "Abebe",
    "Selam Tesfaye", "Bongani", "Laila", "Hamid Karimi", "Andrea", "Nikos", "Eleni Papadopoulos",
    "my sister", "my manager",
]

PHONES = [
    "+1 415 555 0132", "(212) 555-0187", "555-0142", "+44 20 7946 0958", "07700 900123",
    "+49 30 901820", "+33 1 70 18 99 00", "+81 3-1234-5678", "+61 2 9374 4000", "617-555-0199",
    "+91 98765 43210", "+234 803 123 4567", "415.555.0110", "+1 (646) 555-0144",
]
EMAILS = [
    "priya.nair@example.com", "jo@acme.io", "team@startup.dev", "kenji.w@example.jp",
    "omar.h@example.org", "hr@company.com", "support@vendor.net", "maria.garcia@example.es",
    "lars@example.se", "ops-team@example.com", "finance@example.co.uk", "a.okafor@hospital.org",
    "wei.zhang@example.cn", "sam+news@example.com", "billing@example.com",
]

SMS_MESSAGES = [
    "I'm running late", "I'm late", "I'll be there in 10 minutes", "I'm outside",
    "dinner is at 7", "can you pick up the kids today", "happy birthday!", "call me when you're free",
    "the meeting moved to 4pm", "I left my keys at your place", "running 15 min behind",
    "don't forget the tickets", "I'm on my way", "we need more coffee", "thanks for today",
    "can we push lunch to 1", "the package arrived", "see you at the station", "good luck tomorrow",
    "are we still on for tonight", "I'll call you after the meeting", "traffic is terrible, start without me",
    "parking is on level 3", "bring an umbrella", "the door code is 4512", "I got the job!",
    "let's meet at the usual place", "can you send me the address", "I'm stuck in a meeting",
    "the flight landed", "grab milk on your way home", "sorry I missed your call",
]
EMAIL_TOPICS = [
    "the Q3 numbers", "the budget review", "Friday's offsite", "lunch next week", "the hiring plan",
    "the invoice", "the contract renewal", "the launch date", "the design mockups", "the team dinner",
    "the project timeline", "the board meeting", "my vacation days", "the lease", "the conference trip",
    "the quarterly report", "tomorrow's demo", "the new onboarding flow", "the parent-teacher meeting",
    "the bug in checkout", "the grant proposal", "the wedding plans", "the marketing brief",
    "the server migration", "the reading list", "the school fundraiser", "the job offer",
]
EMAIL_BODIES = [
    "the meeting moved to Thursday", "I'll send the numbers tonight", "can we talk tomorrow",
    "thanks for your help last week", "please review it before Monday", "I'm out of office until the 20th",
    "the deadline is Friday", "let's push it a week", "I agree with the plan", "can you confirm the time",
    "everything looks good to me", "I have a few questions", "we need a decision by Wednesday",
    "I'll be ten minutes late", "the draft is ready for comments", "let me know what you think",
    "the client approved it", "we're over budget by 5%", "I can't make it this week",
    "please add me to the thread", "the room is booked", "could you send the slides",
]
REPLY_BODIES = EMAIL_BODIES + [
    "thanks, I'll take a look", "sounds good", "yes, Tuesday works", "I'm in",
    "got it, thanks", "no problem, I'll handle it", "can we do next week instead",
]
FORWARD_NOTES = [
    "FYI", "see below", "can you handle this", "thoughts?", "please take a look",
    "this is the one I mentioned", "for your records", "can you reply to them",
]

EVENT_TITLES = [
    "dentist appointment", "team standup", "1:1 with Priya", "Q3 review", "lunch with Marco",
    "doctor's appointment", "yoga class", "project kickoff", "budget meeting", "coffee with Lena",
    "parent-teacher conference", "haircut", "design review", "sprint planning", "dinner with the Nguyens",
    "flight to Lisbon", "piano lesson", "interview with Hana Kim", "board meeting", "review",
    "car service", "book club", "offsite planning", "gym", "call with the bank", "vet appointment",
    "Diwali dinner", "Eid lunch", "farewell drinks for Tom", "quarterly planning", "demo day",
]
DATETIMES = [
    "tomorrow at 3pm", "tomorrow at 9am", "today at 5pm", "tonight at 8", "next Tuesday at 9",
    "next Tuesday at 9am", "Friday at 10am", "Dec 12 at 6pm", "Dec 12 6pm", "in 2 hours",
    "in 30 minutes", "Friday morning", "tomorrow morning", "Monday afternoon", "2026-03-14 10:00",
    "2026-03-14T10:00", "March 3 at noon", "Saturday at 11", "next Wednesday at 2pm",
    "the 15th at 4pm", "tomorrow 9am", "noon tomorrow", "9:30 tomorrow", "Thursday at 3",
    "Thursday at 3pm", "Monday at 8:30am", "this evening", "Sunday at 7pm", "Jan 5 at 10:30",
    "next Friday at 1pm", "tomorrow afternoon", "Wednesday at 4:15pm", "in an hour",
    "2026-11-22 15:00", "May 1st at 9", "tomorrow at noon", "Tuesday evening",
]
DATES = [
    "tomorrow", "Friday", "next Monday", "Dec 12", "March 3", "2026-04-01", "the 20th",
    "Saturday", "next Thursday", "this Sunday", "June 9", "today",
]
# (what the person says, start, end): the plan copies the two ends, no arithmetic.
RANGES = [
    ("Friday from 2 to 4pm", "Friday 2pm", "Friday 4pm"),
    ("tomorrow from 10 to 11:30", "tomorrow 10am", "tomorrow 11:30am"),
    ("from 9am to 5pm on Monday", "Monday 9am", "Monday 5pm"),
    ("Dec 12 from 6pm to 9pm", "Dec 12 6pm", "Dec 12 9pm"),
    ("next Tuesday 1-2pm", "next Tuesday 1pm", "next Tuesday 2pm"),
    ("Thursday 3pm to 4:30pm", "Thursday 3pm", "Thursday 4:30pm"),
    ("from 2026-03-14 09:00 to 2026-03-14 12:00", "2026-03-14 09:00", "2026-03-14 12:00"),
    ("tonight from 7 to 10", "tonight 7pm", "tonight 10pm"),
    ("Saturday 11am until 2pm", "Saturday 11am", "Saturday 2pm"),
    ("Wednesday from noon to 1", "Wednesday 12pm", "Wednesday 1pm"),
]
LOCATIONS = [
    "Blue Bottle on Market St", "the office", "Room 4B", "Café Central", "the Hilton lobby",
    "Conference Room A", "Dr. Okafor's clinic", "the community center", "Joe's Pizza",
    "221B Baker Street", "Shibuya Sky", "the library", "Building 2, floor 3", "Lincoln Park",
    "Starbucks on 5th Ave", "the gym", "Terminal 2", "Mama Ngozi's Kitchen", "Pho 88",
]
PLACES = [
    "Golden Gate Park", "the nearest pharmacy", "Shibuya Station", "1600 Amphitheatre Parkway",
    "the Louvre", "Heathrow Terminal 5", "Central Park", "the Eiffel Tower", "Union Square",
    "the closest gas station", "Alexanderplatz", "Marina Bay Sands", "Table Mountain",
    "the airport", "Ferry Building", "Sagrada Família", "Hagia Sophia", "the train station",
    "350 Fifth Avenue, New York", "Tsukiji Outer Market", "Lagos Island", "the zoo",
    "Karlsplatz", "a coffee shop near me", "Dolores Park", "Stanford University",
    "the Tate Modern", "Kings Cross", "Hauptbahnhof", "Plaza Mayor, Madrid", "Chinatown",
    "Mount Royal", "Bondi Beach", "the nearest hospital", "IKEA", "the mall",
]
START_PLACES = [
    "home", "work", "the office", "my hotel", "Union Square", "the airport", "Kings Cross",
    "Central Station", "the university", "Shinjuku", "Mission District",
]
# (what the person says, transport)
TRANSPORT = [
    ("by car", "d"), ("driving", "d"), ("", "d"), ("by transit", "r"), ("on public transport", "r"),
    ("by train", "r"), ("by bus", "r"), ("on foot", "w"), ("walking", "w"),
]

FILES = [
    "Q3 deck", "budget_2026.xlsx", "lease agreement.pdf", "resume", "CV_final.docx", "tax return 2025",
    "pitch deck", "project proposal.pdf", "invoice_0042.pdf", "meeting notes.txt", "travel itinerary",
    "contract draft", "photo_id.jpg", "onboarding checklist", "roadmap.key", "insurance policy.pdf",
    "floor plan", "research paper", "thesis_v3.pdf", "quarterly report", "expense report.xlsx",
    "wedding guest list", "recipe book.pdf", "offer letter", "sales forecast.csv", "design spec",
]
PDFS = [
    "lease agreement.pdf", "project proposal.pdf", "invoice_0042.pdf", "insurance policy.pdf",
    "thesis_v3.pdf", "recipe book.pdf", "research paper", "quarterly report", "annual report 2025.pdf",
    "user manual", "whitepaper.pdf", "meeting minutes", "board packet.pdf", "contract draft",
    "court filing.pdf", "syllabus", "safety guidelines.pdf", "TinyAgent paper", "employee handbook",
    "grant application.pdf",
]
NOTE_TITLES = [
    "grocery list", "Ideas", "Meeting notes", "Trip to Lisbon", "Books to read", "Packing list",
    "Standup notes", "Gift ideas", "Recipes to try", "Journal", "Project Phoenix", "Weekly goals",
    "Movie recommendations", "Garden plan", "Questions for Dr. Patel", "Wedding to-dos", "Passwords hint",
    "Podcast ideas", "Home repairs", "Q3 retro", "Interview notes", "Birthday plans",
]
NOTE_CONTENT = [
    "eggs, bread and oat milk", "call the bank about the card", "try the new ramen place",
    "ask about the visa timeline", "read Dune next", "buy a new charger", "the wifi password is on the router",
    "pick up dry cleaning", "book the hotel in Porto", "follow up with legal", "idea: weekly newsletter",
    "Kenji recommended Kyoto in November", "replace the kitchen bulb", "budget is 2k", "renew the domain",
    "check flights for Eid", "take vitamins", "schedule the car inspection",
]
FOLDERS = ["Work", "Personal", "Recipes", "Travel", "Family", "School", "Ideas"]

TASKS = [
    "buy milk", "call the plumber", "renew my passport", "pay rent", "water the plants",
    "submit the expense report", "pick up the dry cleaning", "book a dentist appointment",
    "call Mom", "take out the trash", "send the invoice", "buy a birthday gift for Aisha",
    "back up the laptop", "feed the cat", "cancel the gym membership", "pick up Leila from school",
    "file taxes", "charge the car", "return the library books", "order contact lenses",
    "check in for the flight", "prepare slides for Monday", "email the landlord",
    "pay the electricity bill", "book train tickets", "stretch", "take my meds",
]
LISTS = ["Groceries", "Work", "Errands", "Personal", "Shopping", "Home", "Family"]
# (what the person says, priority)
PRIORITIES = [
    ("urgent", 1), ("high priority", 1), ("important", 1), ("medium priority", 5),
    ("low priority", 9), ("low-priority", 9), ("high-priority", 1),
]
CALENDARS = ["Work", "Family", "Personal", "Home", "School"]

ZOOM_TOPICS = [
    "design review", "weekly sync", "interview with Kenji", "project kickoff", "budget check-in",
    "1:1", "book club", "team retro", "client demo", "office hours", "family catch-up",
    "onboarding session", "pitch practice", "study group", "quarterly planning", "vendor call",
]
# (what the person says, minutes)
DURATIONS = [
    ("30 minute", 30), ("half-hour", 30), ("45-minute", 45), ("hour-long", 60), ("1 hour", 60),
    ("90 min", 90), ("2 hour", 120), ("15 minute", 15), ("20-min", 20),
]
DEFAULT_ZOOM_MINUTES = 60  # what a Zoom meeting lasts when the person does not say


# --------------------------------------------------------------------------- plan model


@dataclass(frozen=True)
class Call:
    """One tool call; ``§k`` inside a string stands for the result of call k of the same
    request (0-based) and becomes ``$N`` when the request is numbered into a plan."""

    tool: str
    args: tuple


_LOCAL_REF = re.compile(r"§(\d+)")


def ref(k: int) -> str:
    return f"§{k}"


def _literal(value: object, offset: int) -> str:
    if isinstance(value, bool) or isinstance(value, int):
        return repr(value)
    if isinstance(value, str):
        text = _LOCAL_REF.sub(lambda m: f"${offset + int(m.group(1)) + 1}", value)
        return json.dumps(text, ensure_ascii=False)  # a valid Python string literal too
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v, offset) for v in value) + "]"
    raise TypeError(f"unsupported argument {value!r}")


def render_plan(parts: list[list[Call]]) -> str:
    """Number the calls of one or more independent requests into one plan."""
    lines: list[str] = []
    for calls in parts:
        offset = len(lines)
        for call in calls:
            args = ", ".join(_literal(a, offset) for a in call.args)
            lines.append(f"{len(lines) + 1}. {call.tool}({args})")
    lines.append(f"{len(lines) + 1}. join()")
    return "\n".join(lines)


# --------------------------------------------------------------------------- slot helpers


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def strip_article(text: str) -> str:
    for article in ("the ", "my "):
        if text.startswith(article):
            return text[len(article):]
    return text


def subject_of(topic: str) -> str:
    """Email subject from the topic as said: "the Q3 numbers" -> "Q3 numbers"."""
    return cap(strip_article(topic))


def file_said(r: random.Random, name: str) -> str:
    """How a person refers to a file: bare when it has an extension, else "the/my X"."""
    if "." in name:
        return name
    return r.choice(["the ", "the ", "my "]) + name


def here_is(file_name: str) -> str:
    return f"Here is {file_name}" if "." in file_name else f"Here is the {file_name}"


def two_names(r: random.Random) -> tuple[str, str]:
    a, b = r.sample(NAMES, 2)
    return a, b


# --------------------------------------------------------------------------- scenarios

Sampler = Callable[[random.Random], dict]
Builder = Callable[[dict], list[Call]]


@dataclass(frozen=True)
class Scenario:
    sid: str
    family: str
    sample: Sampler
    build: Builder
    phrasings: tuple[str, ...]  # whole requests
    clauses: tuple[str, ...] = ()  # bare lowercase imperatives that can be joined with "and"


SCENARIOS: list[Scenario] = []


def scenario(sid: str, family: str, sample: Sampler, build: Builder, phrasings: list[str], clauses: list[str] = ()):
    SCENARIOS.append(Scenario(sid, family, sample, build, tuple(phrasings), tuple(clauses)))


def s_name(r):
    return {"name": r.choice(NAMES)}


def s_two(r):
    a, b = two_names(r)
    return {"name": a, "name2": b}


# ---- contacts
scenario("contacts.phone", "contacts", s_name, lambda s: [Call("get_phone_number", (s["name"],))], [
    "What's {name}'s phone number?", "what is {name}'s number", "Find {name}'s phone number.",
    "Can you look up {name}'s number for me?", "{name} phone number", "number for {name}?",
    "I need {name}'s cell number", "Could you please get me the phone number of {name}?",
    "pull up {name}'s mobile", "do I have a number for {name}",
    "give me {name}'s phone", "Look up the phone number for {name}, please.",
], [
    "find {name}'s phone number", "look up {name}'s number",
])
scenario("contacts.email", "contacts", s_name, lambda s: [Call("get_email_address", (s["name"],))], [
    "What's {name}'s email address?", "what is {name}s email", "Find the email address for {name}.",
    "Could you look up {name}'s email?", "{name} email", "email address of {name} pls",
    "I need {name}'s email address", "Do you have an email for {name}?",
    "Please get me {name}'s work email.", "whats the email for {name}",
    "Look up {name}'s address in my contacts - the email one.",
], [
    "look up {name}'s email address", "find {name}'s email",
])
scenario("contacts.both", "contacts", s_name, lambda s: [
    Call("get_phone_number", (s["name"],)), Call("get_email_address", (s["name"],))], [
    "Get me {name}'s phone number and email.", "what's {name}'s number and email address?",
    "{name}: phone + email", "I need both the email and the cell number for {name}",
    "look up {name}'s contact info, phone and email", "Could you find {name}'s email and phone number please?",
])
scenario("contacts.two_emails", "contacts", s_two, lambda s: [
    Call("get_email_address", (s["name"],)), Call("get_email_address", (s["name2"],))], [
    "What are the email addresses of {name} and {name2}?", "find emails for {name} and {name2}",
    "I need {name}'s and {name2}'s email addresses", "emails of {name} & {name2}?",
])
scenario("contacts.two_phones", "contacts", s_two, lambda s: [
    Call("get_phone_number", (s["name"],)), Call("get_phone_number", (s["name2"],))], [
    "Get the phone numbers of {name} and {name2}.", "numbers for {name} and {name2} pls",
    "what are {name} and {name2}'s phone numbers",
])
scenario("contacts.save_number", "contacts", lambda r: {"name": r.choice(NAMES), "note": r.choice(NOTE_TITLES)},
         lambda s: [Call("get_phone_number", (s["name"],)), Call("append_note_content", (s["note"], ref(0), ""))], [
    "Look up {name}'s number and add it to my {note} note.", "put {name}'s phone number in the {note} note",
    "Find {name}'s phone number and append it to the note called {note}",
])

# ---- sms
def s_sms(r):
    return {"name": r.choice(NAMES), "msg": r.choice(SMS_MESSAGES)}


scenario("sms.name", "sms", s_sms, lambda s: [
    Call("get_phone_number", (s["name"],)), Call("send_sms", ([ref(0)], s["msg"]))], [
    "Text {name} that {msg}.", "text {name} {msg}", "Send {name} a message saying {msg}.",
    "Can you text {name} and tell them {msg}?", "Please send a text to {name}: {msg}",
    "msg {name} {msg}", "Could you let {name} know by text that {msg}?", "sms {name} - {msg}",
    "Tell {name} '{msg}' over text", "{msg} - send that to {name} as a text",
    "I need to text {name}, say {msg}", "shoot {name} a text: {msg}", "hey text {name} saying {msg}",
    "iMessage {name}: {msg}", "Would you message {name} that {msg}?", "txt {name} {msg}",
    "let {name} know {msg}, text them", "Write a text to {name} that says {msg}",
], [
    "text {name} that {msg}", "send {name} a text saying {msg}", "message {name} that {msg}",
    "tell {name} by text that {msg}",
])
scenario("sms.literal", "sms", lambda r: {"phone": r.choice(PHONES), "msg": r.choice(SMS_MESSAGES)},
         lambda s: [Call("send_sms", ([s["phone"]], s["msg"]))], [
    "Text {phone} that {msg}", "send a text to {phone}: {msg}", "sms {phone} {msg}",
    "Can you message {phone} saying {msg}?", "text this number {phone} - {msg}",
    "Please send '{msg}' to {phone}", "{msg} -> text it to {phone}",
], [
    "text {phone} that {msg}",
])
scenario("sms.two", "sms", lambda r: {**s_two(r), "msg": r.choice(SMS_MESSAGES)}, lambda s: [
    Call("get_phone_number", (s["name"],)), Call("get_phone_number", (s["name2"],)),
    Call("send_sms", ([ref(0), ref(1)], s["msg"]))], [
    "Text {name} and {name2} that {msg}.", "group text {name} and {name2}: {msg}",
    "send {name} and {name2} a message saying {msg}", "Can you let {name} and {name2} know by text that {msg}?",
    "msg {name} + {name2} {msg}",
], [
    "text {name} and {name2} that {msg}",
])
scenario("sms.place", "sms", lambda r: {"name": r.choice(NAMES), "place": r.choice(PLACES)}, lambda s: [
    Call("maps_open_location", (s["place"],)), Call("get_phone_number", (s["name"],)),
    Call("send_sms", ([ref(1)], ref(0)))], [
    "Text {name} the map link for {place}.", "send {name} where {place} is on the map",
    "Find {place} in Maps and text the link to {name}", "can you share the location of {place} with {name} by text",
])

# ---- mail: compose / reply / forward
def s_mail(r):
    return {"name": r.choice(NAMES), "topic": r.choice(EMAIL_TOPICS), "body": r.choice(EMAIL_BODIES)}


scenario("mail.topic_body", "mail", s_mail, lambda s: [
    Call("get_email_address", (s["name"],)),
    Call("compose_new_email", ([ref(0)], [], subject_of(s["topic"]), s["body"], []))], [
    "Email {name} about {topic} and say {body}.", "email {name} re {topic}: {body}",
    "Write an email to {name} about {topic} saying {body}", "Can you draft an email to {name} about {topic}? Tell them {body}.",
    "Please send {name} an email regarding {topic} - {body}", "new mail to {name}, subject {topic}, {body}",
    "draft a mail for {name} on {topic}, body: {body}", "{body} - email that to {name} about {topic}",
], [
    "email {name} about {topic} saying {body}", "write {name} an email about {topic} saying {body}",
])
scenario("mail.topic", "mail", s_mail, lambda s: [
    Call("get_email_address", (s["name"],)),
    Call("compose_new_email", ([ref(0)], [], subject_of(s["topic"]), "", []))], [
    "Email {name} about {topic}.", "start an email to {name} about {topic}",
    "Could you open a new email to {name} regarding {topic}?", "mail {name} re: {topic}",
    "i need to email {name} about {topic}",
], [
    "email {name} about {topic}", "start an email to {name} about {topic}",
])
scenario("mail.body", "mail", s_mail, lambda s: [
    Call("get_email_address", (s["name"],)),
    Call("compose_new_email", ([ref(0)], [], "", s["body"], []))], [
    "Email {name} that {body}.", "send an email to {name} saying {body}", "email {name}: {body}",
    "Could you write {name} an email telling them {body}?", "drop {name} a quick email that {body}",
], [
    "email {name} that {body}",
])
scenario("mail.literal", "mail", lambda r: {"email": r.choice(EMAILS), "topic": r.choice(EMAIL_TOPICS),
                                            "body": r.choice(EMAIL_BODIES)}, lambda s: [
    Call("compose_new_email", ([s["email"]], [], subject_of(s["topic"]), s["body"], []))], [
    "Email {email} about {topic} saying {body}", "send a mail to {email} re {topic}: {body}",
    "Draft an email to {email} about {topic}. Say {body}.", "compose email to {email}, subject {topic}, message {body}",
], [
    "email {email} about {topic} saying {body}",
])
scenario("mail.cc", "mail", lambda r: {**s_two(r), "topic": r.choice(EMAIL_TOPICS)}, lambda s: [
    Call("get_email_address", (s["name"],)), Call("get_email_address", (s["name2"],)),
    Call("compose_new_email", ([ref(0)], [ref(1)], subject_of(s["topic"]), "", []))], [
    "Email {name} about {topic} and cc {name2}.", "new email to {name}, cc {name2}, about {topic}",
    "Can you write to {name} about {topic} with {name2} on cc?", "mail {name} re {topic}, copy {name2}",
], [
    "email {name} about {topic} and cc {name2}",
])
scenario("mail.two", "mail", lambda r: {**s_two(r), "body": r.choice(EMAIL_BODIES)}, lambda s: [
    Call("get_email_address", (s["name"],)), Call("get_email_address", (s["name2"],)),
    Call("compose_new_email", ([ref(0), ref(1)], [], "", s["body"], []))], [
    "Email {name} and {name2} that {body}.", "send one email to both {name} and {name2}: {body}",
    "could you email {name} & {name2} saying {body}",
])
def s_attach(r):
    f = r.choice(FILES)
    return {"name": r.choice(NAMES), "file_name": f, "file": file_said(r, f)}


scenario("mail.attach", "mail", s_attach, lambda s: [
    Call("get_email_address", (s["name"],)), Call("open_and_get_file_path", (s["file_name"],)),
    Call("compose_new_email", ([ref(0)], [], s["file_name"], here_is(s["file_name"]), [ref(1)]))], [
    "Email {name} {file}.", "Send {file} to {name} by email.", "email {file} to {name}",
    "Can you attach {file} to an email for {name}?", "mail {name} {file} pls",
    "Please send {name} an email with {file} attached.", "{name} needs {file}, email it to them",
    "shoot {name} an email with {file}", "Could you find {file} and email it to {name}?",
], [
    "email {name} {file}", "send {file} to {name}", "email {file} to {name}",
])
scenario("mail.attach_literal", "mail", lambda r: {**s_attach(r), "email": r.choice(EMAILS)}, lambda s: [
    Call("open_and_get_file_path", (s["file_name"],)),
    Call("compose_new_email", ([s["email"]], [], s["file_name"], here_is(s["file_name"]), [ref(0)]))], [
    "Email {file} to {email}.", "send {email} {file}", "attach {file} and mail it to {email}",
])
def s_attach2(r):
    a, b = r.sample(FILES, 2)
    return {"name": r.choice(NAMES), "file_name": a, "file": file_said(r, a), "file_name2": b, "file2": file_said(r, b)}


scenario("mail.attach2", "mail", s_attach2, lambda s: [
    Call("get_email_address", (s["name"],)), Call("open_and_get_file_path", (s["file_name"],)),
    Call("open_and_get_file_path", (s["file_name2"],)),
    Call("compose_new_email", ([ref(0)], [], "", "", [ref(1), ref(2)]))], [
    "Email {name} {file} and {file2}.", "send {file} and {file2} to {name}",
    "Can you attach {file} and {file2} to an email for {name}?", "mail {name} both {file} + {file2}",
], [
    "email {name} {file} and {file2}",
])
scenario("mail.reply", "mail", lambda r: {"body": r.choice(REPLY_BODIES)}, lambda s: [
    Call("reply_to_email", ([], s["body"], []))], [
    "Reply to this email saying {body}.", "reply: {body}", "Can you reply {body}?",
    "respond to the email with {body}", "Please answer this mail and say {body}",
    "write back saying {body}", "reply to the last email - {body}", "hit reply and say {body}",
    "{body} - reply with that", "answer the latest email: {body}",
], [
    "reply to the email saying {body}", "reply {body}", "write back that {body}",
])
scenario("mail.reply_attach", "mail", lambda r: {**s_attach(r), "body": r.choice(REPLY_BODIES)}, lambda s: [
    Call("open_and_get_file_path", (s["file_name"],)), Call("reply_to_email", ([], s["body"], [ref(0)]))], [
    "Reply with {file} attached and say {body}.", "reply to this email, attach {file}, {body}",
    "Can you answer the email with {file} and say {body}?", "write back {body} and attach {file}",
], [
    "reply with {file} attached saying {body}",
])
scenario("mail.reply_cc", "mail", lambda r: {"name": r.choice(NAMES), "body": r.choice(REPLY_BODIES)}, lambda s: [
    Call("get_email_address", (s["name"],)), Call("reply_to_email", ([ref(0)], s["body"], []))], [
    "Reply to this email and cc {name}: {body}", "reply {body}, cc {name}",
    "Could you respond saying {body} and copy {name}?", "answer the email cc'ing {name} - {body}",
], [
    "reply saying {body} and cc {name}",
])
scenario("mail.forward", "mail", s_name, lambda s: [
    Call("get_email_address", (s["name"],)), Call("forward_email", ([ref(0)], [], "", []))], [
    "Forward this email to {name}.", "fwd to {name}", "Can you forward the last email to {name}?",
    "send this mail on to {name}", "please forward it to {name}", "forward the latest email to {name}",
    "pass this email along to {name}", "{name} should see this email, forward it",
], [
    "forward this email to {name}", "forward the email to {name}",
])
scenario("mail.forward_note", "mail", lambda r: {"name": r.choice(NAMES), "fnote": r.choice(FORWARD_NOTES)},
         lambda s: [Call("get_email_address", (s["name"],)), Call("forward_email", ([ref(0)], [], s["fnote"], []))], [
    "Forward this to {name} with the note '{fnote}'.", "fwd to {name}: {fnote}",
    "forward the email to {name} and write {fnote}", "Can you forward this email to {name} saying {fnote}?",
], [
    "forward this to {name} saying {fnote}",
])
scenario("mail.forward_literal", "mail", lambda r: {"email": r.choice(EMAILS), "fnote": r.choice(FORWARD_NOTES)},
         lambda s: [Call("forward_email", ([s["email"]], [], s["fnote"], []))], [
    "Forward this email to {email} with '{fnote}'", "fwd to {email} - {fnote}",
])
scenario("mail.forward_cc", "mail", lambda r: s_two(r), lambda s: [
    Call("get_email_address", (s["name"],)), Call("get_email_address", (s["name2"],)),
    Call("forward_email", ([ref(0)], [ref(1)], "", []))], [
    "Forward this email to {name} and cc {name2}.", "fwd to {name}, cc {name2}",
    "forward the email to {name} with {name2} in copy",
])

# ---- calendar
def s_event(r):
    return {"title": r.choice(EVENT_TITLES), "when": r.choice(DATETIMES)}


def event(title, start, end="", location="", invitees=(), notes="", calendar=""):
    return Call("create_calendar_event", (title, start, end, location, list(invitees), notes, calendar))


scenario("cal.basic", "calendar", s_event, lambda s: [event(s["title"], s["when"])], [
    "Add {title} to my calendar {when}.", "put {title} on the calendar {when}", "schedule {title} {when}",
    "Can you create an event called {title} {when}?", "{title} {when}", "new event: {title}, {when}",
    "Please block {when} for {title}.", "cal: {title} {when}", "I have {title} {when}, add it",
    "Could you put {title} in my calendar for {when}?", "book {when} for {title}",
    "{when} - {title}. add to calendar", "make a calendar entry for {title} {when}",
    "remember on my calendar that I have {title} {when}",
], [
    "add {title} to my calendar {when}", "put {title} on my calendar {when}", "schedule {title} {when}",
    "block {when} for {title}",
])
scenario("cal.allday", "calendar", lambda r: {"title": r.choice(EVENT_TITLES), "day": r.choice(DATES)},
         lambda s: [event(s["title"], s["day"])], [
    "Block out {day} for {title}.", "put {title} on my calendar for {day}", "{title} on {day}, add it to the calendar",
], [
    "block out {day} for {title}",
])
scenario("cal.loc", "calendar", lambda r: {**s_event(r), "loc": r.choice(LOCATIONS)},
         lambda s: [event(s["title"], s["when"], location=s["loc"])], [
    "Schedule {title} at {loc} {when}.", "add {title} {when} at {loc}", "put {title} in my calendar, {when}, location {loc}",
    "Can you create an event for {title} {when} at {loc}?", "{title} @ {loc} {when}",
    "i have {title} at {loc} {when}, put it in the cal",
], [
    "schedule {title} at {loc} {when}", "add {title} at {loc} {when} to my calendar",
])
scenario("cal.range", "calendar", lambda r: dict(zip(("title", "range", "start", "end"),
                                                     (r.choice(EVENT_TITLES), *r.choice(RANGES)))),
         lambda s: [event(s["title"], s["start"], s["end"])], [
    "Add {title} to my calendar {range}.", "block {range} for {title}", "schedule {title} {range}",
    "Can you put {title} on my calendar {range}?", "{title} {range} - calendar pls",
], [
    "block {range} for {title}",
])
scenario("cal.calendar", "calendar", lambda r: {**s_event(r), "cal": r.choice(CALENDARS)},
         lambda s: [event(s["title"], s["when"], calendar=s["cal"])], [
    "Add {title} {when} to my {cal} calendar.", "put {title} on the {cal} calendar {when}",
    "in my {cal} calendar: {title} {when}", "Could you schedule {title} {when} in the {cal} calendar?",
], [
    "add {title} {when} to the {cal} calendar",
])
scenario("cal.notes", "calendar", lambda r: {**s_event(r), "enote": r.choice(NOTE_CONTENT)},
         lambda s: [event(s["title"], s["when"], notes=s["enote"])], [
    "Schedule {title} {when} with the note: {enote}", "add {title} {when}, notes: {enote}",
    "Create an event {title} {when} and put '{enote}' in the notes",
])
scenario("cal.invite", "calendar", lambda r: {**s_event(r), "name": r.choice(NAMES)}, lambda s: [
    Call("get_email_address", (s["name"],)), event(s["title"], s["when"], invitees=[ref(0)])], [
    "Schedule {title} with {name} {when}.", "invite {name} to {title} {when}",
    "Set up a meeting with {name} {when} called {title}", "Can you put {title} on my calendar {when} and invite {name}?",
    "{title} w/ {name} {when}", "add {title} {when}, invite {name}", "book {title} with {name} for {when}",
    "Please send {name} a calendar invite for {title} {when}.", "{when}: {title} with {name}, send an invite",
], [
    "invite {name} to {title} {when}", "schedule {title} with {name} {when}",
    "put {title} with {name} on my calendar {when}",
])
scenario("cal.invite2", "calendar", lambda r: {**s_event(r), **s_two(r)}, lambda s: [
    Call("get_email_address", (s["name"],)), Call("get_email_address", (s["name2"],)),
    event(s["title"], s["when"], invitees=[ref(0), ref(1)])], [
    "Schedule {title} with {name} and {name2} {when}.", "invite {name} and {name2} to {title} {when}",
    "Can you set up {title} {when} with {name} & {name2}?", "{title} {when} w/ {name}, {name2}",
], [
    "invite {name} and {name2} to {title} {when}",
])
scenario("cal.invite_loc", "calendar", lambda r: {**s_event(r), "name": r.choice(NAMES), "loc": r.choice(LOCATIONS)},
         lambda s: [Call("get_email_address", (s["name"],)),
                    event(s["title"], s["when"], location=s["loc"], invitees=[ref(0)])], [
    "Schedule {title} with {name} at {loc} {when}.", "invite {name} to {title} at {loc} {when}",
    "meet {name} at {loc} {when} for {title} - put it on the calendar and invite them",
], [
    "invite {name} to {title} at {loc} {when}",
])
scenario("cal.directions", "calendar", lambda r: {**s_event(r), "loc": r.choice(PLACES)}, lambda s: [
    event(s["title"], s["when"], location=s["loc"]), Call("maps_show_directions", ("", s["loc"], "d"))], [
    "Add {title} at {loc} {when} and show me how to get there.", "put {title} at {loc} on my calendar {when}, and directions pls",
    "Schedule {title} {when} at {loc} and open directions to it",
])
scenario("cal.invite_text", "calendar", lambda r: {**s_event(r), "name": r.choice(NAMES), "msg": r.choice(SMS_MESSAGES)},
         lambda s: [Call("get_email_address", (s["name"],)), event(s["title"], s["when"], invitees=[ref(0)]),
                    Call("get_phone_number", (s["name"],)), Call("send_sms", ([ref(2)], s["msg"]))], [
    "Invite {name} to {title} {when} and text them that {msg}.",
    "schedule {title} with {name} {when}, then text {name} {msg}",
    "Could you put {title} with {name} on the calendar for {when} and message them '{msg}'?",
])
scenario("cal.invite_literal", "calendar", lambda r: {**s_event(r), "email": r.choice(EMAILS)},
         lambda s: [event(s["title"], s["when"], invitees=[s["email"]])], [
    "Schedule {title} {when} and invite {email}.", "invite {email} to {title} {when}",
])

# ---- notes
def s_note(r):
    return {"note": r.choice(NOTE_TITLES), "content": r.choice(NOTE_CONTENT), "folder": r.choice(FOLDERS)}


scenario("notes.create", "notes", s_note, lambda s: [Call("create_note", (s["note"], s["content"], ""))], [
    "Create a note called {note} with {content}.", "new note {note}: {content}", "make a note titled {note} saying {content}",
    "Can you jot down '{content}' in a new note called {note}?", "note: {note} - {content}",
    "Please write a note named {note} that says {content}.", "start a note {note}, {content}",
    "{content} - put that in a new note called {note}", "Could you save a note {note} with the text {content}?",
], [
    "create a note called {note} with {content}", "make a note {note} saying {content}",
    "write a new note {note}: {content}",
])
scenario("notes.create_folder", "notes", s_note, lambda s: [Call("create_note", (s["note"], s["content"], s["folder"]))], [
    "Create a note called {note} in my {folder} folder with {content}.", "new note in {folder}: {note} - {content}",
    "make a {folder} note named {note} saying {content}", "Could you add a note {note} to the {folder} folder: {content}?",
], [
    "create a note {note} in {folder} with {content}",
])
scenario("notes.open", "notes", s_note, lambda s: [Call("open_note", (s["note"], ""))], [
    "Open my {note} note.", "show me the {note} note", "what's in my {note} note?",
    "Can you open the note called {note}?", "pull up the {note} note", "read me my {note} note",
    "open note {note}", "Please display the {note} note.",
], [
    "open my {note} note", "show me the {note} note",
])
scenario("notes.open_folder", "notes", s_note, lambda s: [Call("open_note", (s["note"], s["folder"]))], [
    "Open the {note} note in {folder}.", "show {note} from my {folder} folder",
    "what does the {note} note in {folder} say",
])
scenario("notes.append", "notes", s_note, lambda s: [Call("append_note_content", (s["note"], s["content"], ""))], [
    "Add {content} to my {note} note.", "append '{content}' to {note}", "put {content} in the {note} note",
    "Can you add {content} to the note called {note}?", "{note} note: add {content}",
    "Please update my {note} note with {content}.", "stick {content} at the end of {note}",
    "add to {note}: {content}", "{content} - add it to my {note} note",
], [
    "add {content} to my {note} note", "append {content} to the {note} note",
])
scenario("notes.append_folder", "notes", s_note, lambda s: [
    Call("append_note_content", (s["note"], s["content"], s["folder"]))], [
    "Add {content} to the {note} note in {folder}.", "append {content} to {note} in my {folder} folder",
    "in the {folder} folder, add {content} to {note}",
])
scenario("notes.share", "notes", lambda r: {**s_note(r), "name": r.choice(NAMES)}, lambda s: [
    Call("open_note", (s["note"], "")), Call("get_email_address", (s["name"],)),
    Call("compose_new_email", ([ref(1)], [], s["note"], ref(0), []))], [
    "Email my {note} note to {name}.", "send {name} the {note} note by email",
    "Can you share the {note} note with {name} over email?", "open {note} and email it to {name}",
], [
    "email my {note} note to {name}",
])
scenario("notes.text", "notes", lambda r: {**s_note(r), "name": r.choice(NAMES)}, lambda s: [
    Call("open_note", (s["note"], "")), Call("get_phone_number", (s["name"],)),
    Call("send_sms", ([ref(1)], ref(0)))], [
    "Text my {note} note to {name}.", "send {name} the {note} note as a text",
])

# ---- reminders
def reminder(name, due="", notes="", list_name="", priority=0, all_day=False):
    return Call("create_reminder", (name, due, notes, list_name, priority, all_day))


def s_rem(r):
    p = r.choice(PRIORITIES)
    return {"task": r.choice(TASKS), "when": r.choice(DATETIMES), "day": r.choice(DATES),
            "list": r.choice(LISTS), "prio": p[0], "prio_n": p[1], "rnote": r.choice(NOTE_CONTENT),
            "a_prio": ("an " if p[0][0] in "aeiou" else "a ") + p[0]}


scenario("rem.basic", "reminders", s_rem, lambda s: [reminder(s["task"], s["when"])], [
    "Remind me to {task} {when}.", "remind me {when} to {task}", "Set a reminder to {task} {when}",
    "Can you remind me to {task} {when}?", "{task} {when} - remind me", "reminder: {task}, {when}",
    "Please create a reminder for {when} to {task}.", "don't let me forget to {task} {when}",
    "i need to {task} {when}, remind me", "ping me {when} to {task}", "rmd me to {task} {when}",
    "Could you add a reminder to {task} for {when}?", "{when} I have to {task}. reminder pls",
    "make sure I {task} {when}",
], [
    "remind me to {task} {when}", "set a reminder to {task} {when}", "remind me {when} to {task}",
    "add a reminder to {task} {when}",
])
scenario("rem.nodue", "reminders", s_rem, lambda s: [reminder(s["task"])], [
    "Remind me to {task}.", "add a reminder: {task}", "new reminder {task}", "Can you add '{task}' to my reminders?",
    "put {task} on my to-do list", "todo: {task}",
], [
    "remind me to {task}", "add {task} to my reminders",
])
scenario("rem.day", "reminders", s_rem, lambda s: [reminder(s["task"], s["day"], all_day=True)], [
    "Remind me to {task} on {day}.", "all-day reminder {day}: {task}", "add a reminder for {day} to {task}",
    "{day}: {task}, as a reminder for the whole day", "Could you set a reminder on {day} to {task}?",
], [
    "remind me to {task} on {day}",
])
scenario("rem.priority", "reminders", s_rem, lambda s: [reminder(s["task"], s["when"], priority=s["prio_n"])], [
    "Remind me to {task} {when}, {prio}.", "{prio} reminder: {task} {when}", "set {a_prio} reminder to {task} {when}",
    "Can you add a reminder to {task} {when}? It's {prio}.", "remind me {when} to {task} - mark it {prio}",
], [
    "set {a_prio} reminder to {task} {when}",
])
scenario("rem.priority_nodue", "reminders", s_rem, lambda s: [reminder(s["task"], priority=s["prio_n"])], [
    "Add {a_prio} reminder to {task}.", "{prio}: {task}. reminder", "remind me to {task}, it's {prio}",
])
scenario("rem.list", "reminders", s_rem, lambda s: [reminder(s["task"], s["when"], list_name=s["list"])], [
    "Add '{task}' to my {list} list for {when}.", "remind me to {task} {when} in the {list} list",
    "put {task} on the {list} reminders list, due {when}", "Can you add a reminder in {list} to {task} {when}?",
], [
    "add {task} to my {list} list for {when}",
])
scenario("rem.list_nodue", "reminders", s_rem, lambda s: [reminder(s["task"], list_name=s["list"])], [
    "Add {task} to my {list} list.", "put {task} on {list}", "{list} list: {task}",
    "Could you add {task} to the {list} reminders?",
], [
    "add {task} to the {list} list",
])
scenario("rem.notes", "reminders", s_rem, lambda s: [reminder(s["task"], s["when"], notes=s["rnote"])], [
    "Remind me to {task} {when} with the note {rnote}.", "reminder {task} {when}, note: {rnote}",
    "set a reminder to {task} {when} and add a note that says {rnote}",
])
scenario("rem.full", "reminders", s_rem, lambda s: [
    reminder(s["task"], s["when"], list_name=s["list"], priority=s["prio_n"])], [
    "Add {a_prio} reminder to {task} {when} in my {list} list.", "{list} list, {prio}: {task} {when}",
])

# ---- maps
def s_dir(r):
    t = r.choice(TRANSPORT)
    return {"place": r.choice(PLACES), "start": r.choice(START_PLACES), "by": t[0], "mode": t[1]}


def s_route(r):
    """Directions slots; "{by}" carries its leading space and is empty when transport is unsaid."""
    s = s_dir(r)
    s["by"] = f" {s['by']}" if s["by"] else ""
    return s


scenario("maps.open", "maps", s_dir, lambda s: [Call("maps_open_location", (s["place"],))], [
    "Show me {place} on the map.", "where is {place}?", "open {place} in Maps", "Can you find {place} on a map?",
    "map {place}", "pull up {place} in maps", "Where's {place} located?", "Please show {place} in Apple Maps.",
    "look up {place} on maps", "find {place} on maps", "i wanna see where {place} is", "locate {place}",
], [
    "show me {place} on the map", "open {place} in Maps", "find {place} on the map",
])
scenario("maps.dir", "maps", s_route, lambda s: [Call("maps_show_directions", ("", s["place"], s["mode"]))], [
    "Directions to {place}{by}.", "how do I get to {place}{by}?", "Get me directions to {place}{by}",
    "Can you show me the way to {place}{by}?", "navigate to {place}{by}", "route to {place}{by}",
    "Take me to {place}{by}.", "what's the best way to {place}{by}", "Please give me directions to {place}{by}.",
    "directions {place}{by} pls", "how far is {place}{by}? show the route",
], [
    "get directions to {place}{by}", "show me how to get to {place}{by}", "navigate to {place}{by}",
])
scenario("maps.walk", "maps", s_dir, lambda s: [Call("maps_show_directions", ("", s["place"], "w"))], [
    "How do I walk to {place}?", "walking directions to {place}", "can I walk to {place}? show me the way",
], [
    "show walking directions to {place}",
])
scenario("maps.transit", "maps", s_dir, lambda s: [Call("maps_show_directions", ("", s["place"], "r"))], [
    "How do I get to {place} by public transport?", "transit directions to {place}",
    "which train or bus goes to {place}",
], [
    "get transit directions to {place}",
])
scenario("maps.from_to", "maps", s_route, lambda s: [
    Call("maps_show_directions", (s["start"], s["place"], s["mode"]))], [
    "Directions from {start} to {place}{by}.", "how do I get from {start} to {place}{by}?",
    "route {start} -> {place}{by}", "Can you show me the way from {start} to {place}{by}?",
    "from {start} to {place}{by}, directions please", "Get me from {start} to {place}{by}",
], [
    "get directions from {start} to {place}{by}",
])
scenario("maps.open_and_dir", "maps", s_route, lambda s: [
    Call("maps_open_location", (s["place"],)), Call("maps_show_directions", ("", s["place"], s["mode"]))], [
    "Show me {place} on the map and give me directions there{by}.", "where is {place} and how do I get there{by}?",
])

# ---- files / pdf
def s_file(r):
    f = r.choice(FILES)
    p = r.choice(PDFS)
    return {"file_name": f, "file": file_said(r, f), "pdf_name": p, "pdf": file_said(r, p),
            "note": r.choice(NOTE_TITLES), "name": r.choice(NAMES), "folder": r.choice(FOLDERS)}


def summary_title(pdf_name: str) -> str:
    return f"Summary of {pdf_name}"


scenario("files.open", "files", s_file, lambda s: [Call("open_and_get_file_path", (s["file_name"],))], [
    "Open {file}.", "find {file}", "Where is {file}?", "Can you open {file} for me?", "pull up {file}",
    "open up {file} please", "where did I save {file}", "locate {file} on my computer",
    "Please find and open {file}.", "get me the path to {file}", "show {file}",
], [
    "open {file}", "find {file}",
])
scenario("files.summarize", "files", s_file, lambda s: [
    Call("open_and_get_file_path", (s["pdf_name"],)), Call("summarize_pdf", (ref(0),))], [
    "Summarize {pdf}.", "give me a summary of {pdf}", "what's {pdf} about?", "Can you summarise {pdf} for me?",
    "tl;dr of {pdf}", "tldr {pdf}", "Please read {pdf} and sum it up.", "key points of {pdf}?",
    "I don't have time to read {pdf}, summarize it", "quick summary of {pdf} pls",
    "what does {pdf} say", "Could you boil {pdf} down to a few sentences?",
], [
    "summarize {pdf}", "give me a summary of {pdf}",
])
scenario("files.summary_note", "files", s_file, lambda s: [
    Call("open_and_get_file_path", (s["pdf_name"],)), Call("summarize_pdf", (ref(0),)),
    Call("create_note", (summary_title(s["pdf_name"]), ref(1), ""))], [
    "Summarize {pdf} and save it as a note.", "make a note with a summary of {pdf}",
    "Can you summarise {pdf} into a new note?", "tldr {pdf} -> notes", "put a summary of {pdf} in my notes",
    "Please create a note summarizing {pdf}.",
], [
    "summarize {pdf} into a note", "save a summary of {pdf} as a note",
])
scenario("files.summary_note_folder", "files", s_file, lambda s: [
    Call("open_and_get_file_path", (s["pdf_name"],)), Call("summarize_pdf", (ref(0),)),
    Call("create_note", (summary_title(s["pdf_name"]), ref(1), s["folder"]))], [
    "Summarize {pdf} into a note in my {folder} folder.", "save a summary of {pdf} to Notes, folder {folder}",
])
scenario("files.summary_append", "files", s_file, lambda s: [
    Call("open_and_get_file_path", (s["pdf_name"],)), Call("summarize_pdf", (ref(0),)),
    Call("append_note_content", (s["note"], ref(1), ""))], [
    "Summarize {pdf} and add it to my {note} note.", "append a summary of {pdf} to {note}",
    "Can you add the gist of {pdf} to the {note} note?",
], [
    "add a summary of {pdf} to my {note} note",
])
scenario("files.summary_email", "files", s_file, lambda s: [
    Call("get_email_address", (s["name"],)), Call("open_and_get_file_path", (s["pdf_name"],)),
    Call("summarize_pdf", (ref(1),)),
    Call("compose_new_email", ([ref(0)], [], summary_title(s["pdf_name"]), ref(2), []))], [
    "Summarize {pdf} and email the summary to {name}.", "send {name} a summary of {pdf}",
    "Can you email {name} the key points of {pdf}?", "tldr {pdf} and mail it to {name}",
], [
    "email {name} a summary of {pdf}",
])
scenario("files.summary_email_attach", "files", s_file, lambda s: [
    Call("get_email_address", (s["name"],)), Call("open_and_get_file_path", (s["pdf_name"],)),
    Call("summarize_pdf", (ref(1),)),
    Call("compose_new_email", ([ref(0)], [], s["pdf_name"], ref(2), [ref(1)]))], [
    "Send {pdf} to {name} with a short summary in the email.", "email {name} {pdf} attached, with a summary in the body",
    "Could you attach {pdf} in an email to {name} and summarize it in the message?",
])
scenario("files.summary_text", "files", s_file, lambda s: [
    Call("open_and_get_file_path", (s["pdf_name"],)), Call("summarize_pdf", (ref(0),)),
    Call("get_phone_number", (s["name"],)), Call("send_sms", ([ref(2)], ref(1)))], [
    "Summarize {pdf} and text the summary to {name}.", "text {name} the gist of {pdf}",
])
scenario("files.two_summaries", "files", lambda r: dict(zip(("a", "b"), r.sample(PDFS, 2))), lambda s: [
    Call("open_and_get_file_path", (s["a"],)), Call("summarize_pdf", (ref(0),)),
    Call("open_and_get_file_path", (s["b"],)), Call("summarize_pdf", (ref(2),))], [
    "Summarize {a} and {b}.", "give me summaries of both {a} and {b}",
])

# ---- zoom
def s_zoom(r):
    d = r.choice(DURATIONS)
    a, b = two_names(r)
    return {"zt": r.choice(ZOOM_TOPICS), "when": r.choice(DATETIMES), "dur": d[0], "mins": d[1],
            "name": a, "name2": b, "email": r.choice(EMAILS)}


def zoom(topic, when, mins=DEFAULT_ZOOM_MINUTES, invitees=()):
    return Call("get_zoom_meeting_link", (topic, when, mins, list(invitees)))


scenario("zoom.basic", "zoom", s_zoom, lambda s: [zoom(s["zt"], s["when"])], [
    "Create a Zoom meeting for the {zt} {when}.", "zoom link for {zt} {when}", "set up a zoom {when} for the {zt}",
    "Can you make a Zoom call for {zt} {when}?", "I need a zoom link for the {zt} {when}",
    "new zoom: {zt}, {when}", "Please schedule a Zoom meeting called {zt} for {when}.",
    "gimme a zoom for {zt} {when}", "{zt} on zoom {when}, get me a link",
], [
    "create a zoom meeting for the {zt} {when}", "set up a zoom for {zt} {when}",
])
scenario("zoom.duration", "zoom", s_zoom, lambda s: [zoom(s["zt"], s["when"], s["mins"])], [
    "Create a {dur} Zoom for the {zt} {when}.", "{dur} zoom {when} - {zt}", "set up a {dur} zoom meeting for {zt} {when}",
    "Can you get me a Zoom link for a {dur} {zt} {when}?",
], [
    "set up a {dur} zoom for the {zt} {when}",
])
scenario("zoom.now", "zoom", s_zoom, lambda s: [zoom(s["zt"], "")], [
    "Start a Zoom meeting for {zt}.", "zoom link for {zt} pls", "I need a quick zoom for the {zt}",
], [
    "get a zoom link for the {zt}",
])
scenario("zoom.invite", "zoom", s_zoom, lambda s: [
    Call("get_email_address", (s["name"],)), zoom(s["zt"], s["when"], invitees=[ref(0)])], [
    "Set up a Zoom with {name} {when} for the {zt}.", "zoom call with {name} {when} about {zt}",
    "Create a Zoom meeting for {zt} {when} and invite {name}.", "can you get a zoom going with {name} {when}? topic {zt}",
    "zoom w/ {name} {when}, {zt}", "Please invite {name} to a Zoom for the {zt} {when}.",
], [
    "set up a zoom with {name} {when} for the {zt}", "invite {name} to a zoom about {zt} {when}",
])
scenario("zoom.invite_duration", "zoom", s_zoom, lambda s: [
    Call("get_email_address", (s["name"],)), zoom(s["zt"], s["when"], s["mins"], [ref(0)])], [
    "Set up a {dur} Zoom with {name} {when} for {zt}.", "{dur} zoom with {name} {when} re {zt}",
])
scenario("zoom.invite2", "zoom", s_zoom, lambda s: [
    Call("get_email_address", (s["name"],)), Call("get_email_address", (s["name2"],)),
    zoom(s["zt"], s["when"], invitees=[ref(0), ref(1)])], [
    "Set up a Zoom with {name} and {name2} {when} for the {zt}.", "zoom {when} with {name} + {name2}, {zt}",
    "Can you invite {name} and {name2} to a Zoom about {zt} {when}?",
])
scenario("zoom.invite_literal", "zoom", s_zoom, lambda s: [zoom(s["zt"], s["when"], invitees=[s["email"]])], [
    "Create a Zoom for {zt} {when} and invite {email}.", "zoom with {email} {when}, topic {zt}",
])
scenario("zoom.calendar", "zoom", s_zoom, lambda s: [
    zoom(s["zt"], s["when"]), event(s["zt"], s["when"], location=ref(0))], [
    "Set up a Zoom for the {zt} {when} and put it on my calendar.", "zoom for {zt} {when} + calendar event",
    "Create a Zoom meeting for {zt} {when} and add it to my calendar with the link.",
    "Can you schedule the {zt} {when} on Zoom and block my calendar?", "calendar the {zt} {when} with a zoom link",
], [
    "set up a zoom for the {zt} {when} and put it on my calendar",
])
scenario("zoom.invite_calendar", "zoom", s_zoom, lambda s: [
    Call("get_email_address", (s["name"],)), zoom(s["zt"], s["when"], invitees=[ref(0)]),
    event(s["zt"], s["when"], location=ref(1), invitees=[ref(0)])], [
    "Schedule a Zoom {zt} with {name} {when} and put it on the calendar.",
    "zoom with {name} {when} for {zt}, and add a calendar invite",
    "Set up the {zt} with {name} {when} on Zoom and send a calendar invite with the link.",
    "Can you book a zoom {zt} with {name} {when}, calendar included?",
], [
    "schedule a zoom {zt} with {name} {when} and put it on my calendar",
])
scenario("zoom.text", "zoom", s_zoom, lambda s: [
    zoom(s["zt"], s["when"]), Call("get_phone_number", (s["name"],)), Call("send_sms", ([ref(1)], ref(0)))], [
    "Make a Zoom for {zt} {when} and text the link to {name}.", "zoom {when} for {zt}, text {name} the link",
    "Can you create a Zoom for the {zt} {when} and send {name} the link by text?",
    "send {name} a zoom link for {zt} {when} over sms",
], [
    "create a zoom for the {zt} {when} and text {name} the link",
])
scenario("zoom.email", "zoom", s_zoom, lambda s: [
    Call("get_email_address", (s["name"],)), zoom(s["zt"], s["when"], invitees=[ref(0)]),
    Call("compose_new_email", ([ref(0)], [], s["zt"], ref(1), []))], [
    "Set up a Zoom for the {zt} {when} and email {name} the link.", "email {name} a zoom link for {zt} {when}",
    "Create a Zoom with {name} for {zt} {when} and send them the link by email.",
], [
    "email {name} a zoom link for the {zt} {when}",
])
scenario("zoom.text_literal", "zoom", lambda r: {**s_zoom(r), "phone": r.choice(PHONES)}, lambda s: [
    zoom(s["zt"], s["when"]), Call("send_sms", ([s["phone"]], ref(0)))], [
    "Make a Zoom for {zt} {when} and text the link to {phone}.", "zoom for {zt} {when}, sms the link to {phone}",
])

FAMILIES = ["contacts", "sms", "mail", "calendar", "notes", "reminders", "maps", "files", "zoom"]

# --------------------------------------------------------------------------- templates and split


@dataclass(frozen=True)
class Template:
    tid: str
    family: str
    scenario: Scenario
    text: str
    clause: bool


def templates() -> list[Template]:
    out: list[Template] = []
    for sc in SCENARIOS:
        out += [Template(f"{sc.sid}.{i:02d}", sc.family, sc, t, False) for i, t in enumerate(sc.phrasings)]
        out += [Template(f"{sc.sid}.c{i:02d}", sc.family, sc, t, True) for i, t in enumerate(sc.clauses)]
    return out


def held_out(all_templates: list[Template], rng: random.Random) -> set[str]:
    """About HOLDOUT_SHARE of each family's phrasings, and of its clauses, go only to test."""
    out: set[str] = set()
    for family in FAMILIES:
        for clause in (False, True):
            ids = sorted(t.tid for t in all_templates if t.family == family and t.clause == clause)
            k = round(len(ids) * HOLDOUT_SHARE)
            out.update(rng.sample(ids, k))
    return out


# --------------------------------------------------------------------------- assembling queries

COMBO_JOINERS = [" and ", ", and ", " and also ", ", then ", ". also ", "; ", " & ", ". and ", " plus ", ", also "]
COMBO_OPENERS = ["", "", "", "can you ", "please ", "hey, ", "could you ", "pls ", "i need you to ", "ok so "]
COMBO_CLOSERS = ["", "", "", ".", "?", " please", " thanks", " pls", "!", " thx"]


TYPO_SHARE = 0.06  # queries with one slip of the finger in the template's own words
HURRIED_SHARE = 0.35  # of all-lowercase templates: the entities are typed lowercase too
_WORD = re.compile(r"(?<![{\w])([a-z]{4,})(?![\w}])")


def typo(text: str, rng: random.Random) -> str:
    """One typing slip (dropped, doubled or swapped letter) in a word outside the slots."""
    words = list(_WORD.finditer(text))
    if not words:
        return text
    m = rng.choice(words)
    w, i = m.group(1), rng.randrange(1, len(m.group(1)) - 1)
    kind = rng.randrange(3)
    slip = w[:i] + w[i + 1:] if kind == 0 else w[:i] + w[i] + w[i:] if kind == 1 else w[:i] + w[i + 1] + w[i] + w[i + 2:]
    return text[: m.start(1)] + slip + text[m.end(1):]


def fill(t: Template, rng: random.Random) -> tuple[str, list[Call]]:
    slots = t.scenario.sample(rng)
    text = t.text
    if re.sub(r"{\w+}", "", text) == re.sub(r"{\w+}", "", text).lower() and rng.random() < HURRIED_SHARE:
        # typed in a hurry: "text omar im late"; the plan keeps the names as typed
        slots = {k: v.lower() if isinstance(v, str) else v for k, v in slots.items()}
    if rng.random() < TYPO_SHARE:
        text = typo(text, rng)
    return text.format(**slots), t.scenario.build(slots)


def close(query: str, ending: str) -> str:
    """Add an ending, without doubling the punctuation a slot value already ends with."""
    if ending[:1] in ".?!" and query[-1:] in ".?!":
        return query
    return query + ending


def combo(parts: list[Template], rng: random.Random) -> tuple[str, list[list[Call]]]:
    texts, plans = [], []
    for t in parts:
        text, calls = fill(t, rng)
        texts.append(text)
        plans.append(calls)
    query = texts[0]
    for text in texts[1:]:
        query += rng.choice(COMBO_JOINERS) + text
    opener = rng.choice(COMBO_OPENERS)
    closer = rng.choice(COMBO_CLOSERS) if opener not in ("can you ", "could you ") else rng.choice(["?", "", " please?"])
    query = close(opener + query, closer)
    if rng.random() < 0.5:
        query = cap(query)
    return query, plans


def record(query: str, plans: list[list[Call]], template: str) -> dict:
    return {"query": query, "plan": render_plan(plans), "template": template}


def generate(seed: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    all_t = templates()
    test_ids = held_out(all_t, rng)
    seen: set[str] = set()
    train: list[dict] = []
    test: list[dict] = []

    def add(query: str, plans: list[list[Call]], template: str, is_test: bool) -> bool:
        key = " ".join(query.lower().split())
        if key in seen:
            return False
        seen.add(key)
        (test if is_test else train).append(record(query, plans, template))
        return True

    for t in all_t:
        made = 0
        want = PER_TEST_TEMPLATE if t.tid in test_ids else PER_TEMPLATE
        for _ in range(want * 6):
            if made == want:
                break
            query, calls = fill(t, rng)
            if t.clause and rng.random() < 0.5:  # a bare clause asked on its own, dressed up
                opener = rng.choice(["", "", "please ", "can you "])
                query = close(cap(opener + query), "?" if opener == "can you " else rng.choice(["", "."]))
            made += add(query, [calls], t.tid, t.tid in test_ids)

    clauses = [t for t in all_t if t.clause]
    pools = {False: [t for t in clauses if t.tid not in test_ids], True: [t for t in clauses if t.tid in test_ids]}
    for is_test, pool in ((False, pools[False]), (True, pools[True])):
        target = COMBOS if not is_test else round(COMBOS * HOLDOUT_SHARE / (1 - HOLDOUT_SHARE))
        made = attempts = 0
        while made < target and attempts < target * 20:
            attempts += 1
            n = 2 if rng.random() < 0.7 else 3
            parts = rng.sample(pool, n)
            if len({p.family for p in parts}) < n:
                continue
            query, plans = combo(parts, rng)
            if sum(len(p) for p in plans) > 5:
                continue
            made += add(query, plans, "+".join(p.tid for p in parts), is_test)

    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--train", type=Path, default=DEFAULT_TRAIN, help="training part (the pack's example bank)")
    ap.add_argument("--test", type=Path, default=DEFAULT_TEST, help="held-out templates")
    ap.add_argument("--stats", action="store_true", help="print counts per family and tools per plan")
    args = ap.parse_args(argv)
    train, test = generate(args.seed)
    write_jsonl(args.train, train)
    write_jsonl(args.test, test)
    print(f"wrote {len(train)} training examples to {args.train} and {len(test)} test examples to {args.test}")
    if args.stats:
        print_stats(train, test)


def print_stats(train: list[dict], test: list[dict]) -> None:
    all_t = templates()
    for family in FAMILIES:
        n = sum(t.family == family for t in all_t)
        print(f"  {family:10s} {n:3d} templates")
    for name, rows in (("train", train), ("test", test)):
        calls: dict[int, int] = {}
        tools: dict[int, int] = {}
        for row in rows:
            names = re.findall(r"^\d+\. (\w+)\(", row["plan"], re.MULTILINE)
            names.remove("join")
            calls[len(names)] = calls.get(len(names), 0) + 1
            tools[len(set(names))] = tools.get(len(set(names)), 0) + 1
        print(f"  {name}: calls per plan " + ", ".join(f"{k}: {v}" for k, v in sorted(calls.items())))
        print(f"  {name}: distinct tools per plan " + ", ".join(f"{k}: {v}" for k, v in sorted(tools.items())))


if __name__ == "__main__":
    main()
