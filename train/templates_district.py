"""Our own templated district-style examples (seeded samples): everyday school messages
(`everyday_negatives`), "label: link" district posts (`link_posts`) and counter-speech that talks
about harm without doing it (`counter_speech_examples`). Written from general knowledge of how
schools post; no evaluation text was used to make them."""

from __future__ import annotations

import random

from train.data import SEED, Example

EVERYDAY = ["Thank you to all the families who came out {when} for {event}.",
            "Our {team} fought hard {when}; the defense was a brick wall in the second half.",
            "Huge win for our {team} {when}! Proud of the effort on offense and defense.",
            "We support every student's success, in the classroom and on the field.",
            "I'm against the new {rule} and I think most {people} agree with me.",
            "I agree with the {people}: the {rule} should be changed.",
            "Families, please fill out the survey about the {rule} by {day}.",
            "Today our {grade} students {act}.", "The {team} needs your support at {event} {when}!",
            "Join us {when} for {event}; all families are welcome.",
            "Shout out to the {people} for {act2} {when}.",
            "Sorry families, the {thing2} is late again {when}; we are working on it.",
            "Tell your friends: {event} is {when} and admission is free for students.",
            "It's time to get ready for {event}! Sign up to volunteer at the welcome table.",
            "Our community came together {when} to {act2}.",
            "The art club painted a mural on the cafeteria wall {when}.",
            "Students climbed the rock wall in gym class {when}.",
            "Proud of our {people} for {act2}.", "Please vote for our school in the {contest} by {day}!",
            "We stand with our {people} as they {act2}.", "Help us fight hunger: bring canned food to {event}."]
EVENTS = ["the spring concert", "open house", "family math night", "the science fair", "homecoming",
          "the fall festival", "the talent show", "senior night", "the 5K fun run", "the winter carnival"]
TEAMS = ["girls basketball team", "boys soccer team", "varsity football team", "field hockey team", "wrestlers",
         "JV volleyball team", "swim team", "robotics team"]
RULES = ["dress code", "homework policy", "bell schedule", "phone policy", "parking rules", "lunch schedule"]
PEOPLE = ["teachers", "students", "parents", "coaches", "bus drivers", "custodians", "seniors", "nurses"]
ACTS = ["planted a garden", "visited the state museum", "wrote letters to veterans", "built bridges out of straws",
        "read to kindergarten buddies", "cleaned up the town park"]
ACTS2 = ["keeping our buildings safe", "raising money for the food pantry", "a great season", "organizing the food drive",
         "cheering so loud", "prepare for final exams", "staying late to help"]


def everyday_negatives(n: int = 600) -> list[Example]:
    """`n` seeded district and personal posts that use campaign-like words in everyday senses."""
    rng = random.Random(f"{SEED}-everyday-templates")
    out: set[str] = set()
    when = ["today", "tonight", "this weekend", "on Friday", "last night", "this morning"]
    while len(out) < n:
        s = rng.choice(EVERYDAY).format(
            when=rng.choice(when), event=rng.choice(EVENTS), team=rng.choice(TEAMS), rule=rng.choice(RULES),
            people=rng.choice(PEOPLE), day=rng.choice(["Friday", "Monday", "the end of the month"]),
            grade=rng.choice(["first grade", "third grade", "sixth grade", "high school"]), act=rng.choice(ACTS),
            act2=rng.choice(ACTS2), thing2=rng.choice(["bus", "lunch delivery", "field repair", "new Wi-Fi"]),
            contest=rng.choice(["state library grant contest", "green school award", "best playground poll"]))
        out.add(s[0].upper() + s[1:])
    return [Example(s, 0, "tmpl-neg") for s in sorted(out)]


# Everyday posts that are mostly a link: a label and an address (class pages, schedules, photos,
# sign-up forms, a teacher's portfolio). Without them, spam's "check this out <link>" taught the
# model that every link post is an ad.
LINK_LABELS = [
    "Photos from today", "Full schedule", "Game recap", "Lab demo videos", "Math help videos", "Portfolio",
    "Sketchbook", "Results and stats", "Event details", "Closing details", "Budget documents", "Slides from tonight",
    "Practice plan", "Homework help", "Reading list for the summer", "Field trip forms", "Lunch menu",
    "Bus routes", "Class notes", "Study guide for Friday", "Highlights", "Concert program", "Meeting minutes",
    "Science fair rules", "Supply list", "Permission slip", "Parent night slides", "Rubric for the essay",
    "Weather updates", "Our robotics build log", "Art show pictures", "Library hours", "Running log",
    "Coding club projects", "Yearbook deadlines", "Tryout information", "Volunteer sign-up", "Band camp packet",
    "Spelling words", "Recipe from the culinary class", "Map of the course", "Livestream of the game",
    "Newsletter", "Graduation details", "Award list", "Notes from the board meeting", "Garden club pictures",
    "Kindergarten registration", "Updated calendar", "Snow day packet", "Play rehearsal schedule",
    "Our class blog", "Podcast episode from the journalism class", "Debate topics", "Vocabulary list",
    "College essay tips", "Scholarship information", "Poetry from our students", "Track times", "Morning announcements",
]
LINK_FORMS = ["{label}: {url}", "{label} {url}", "{label} here: {url}", "{label} 👉 {url}", "{url} - {label}",
              "{label}! {url}", "{label} are up: {url}", "{label} is posted {url}"]
LINK_HOSTS = ["https://www.ctreg14.org/{p}", "https://sites.google.com/view/{p}", "https://www.youtube.com/@{p}",
              "https://www.instagram.com/{p}", "https://x.com/{p}", "https://docs.google.com/document/d/{p}",
              "https://www.facebook.com/{p}", "https://{p}.blogspot.com", "https://linktr.ee/{p}",
              "https://www.tiktok.com/@{p}", "https://drive.google.com/file/d/{p}", "www.{p}.org"]


def link_posts(held_out: bool = False, n: int = 400) -> list[Example]:
    """`n` seeded "label: link" posts. Calibration uses the odd labels (`held_out=True`); the even
    ones were training rows in variant C (docs/models.md) and are kept to reproduce it."""
    rng = random.Random(f"{SEED}-link-posts-{held_out}")
    labels = LINK_LABELS[int(held_out)::2]
    out: set[str] = set()
    while len(out) < n:
        path = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(4, 12)))
        url = rng.choice(LINK_HOSTS).format(p=path)
        out.add(rng.choice(LINK_FORMS).format(label=rng.choice(labels), url=url))
    return [Example(s, 0, "tmpl-neg") for s in sorted(out)]


# Posts that talk about harm without doing it: anti-bullying notes, support for targeted
# groups, outrage at an incident, history and literature lessons. The encoder read their harm
# words ("bullied", "cruel", "hateful") as abuse. Written for training only; the evaluation set
# (tests/data/counter_speech.jsonl) was written separately, before these, and shares no sentence.
CS_FEEL = ["It makes me sad", "It's not okay", "We're upset", "It hurts to hear", "It is unacceptable",
           "It worries me", "I'm tired of hearing", "It's painful", "It should never happen", "We are troubled",
           "Too often", "It still happens", "Parents told us", "Our students told us", "Staff have noticed"]
CS_WHO = ["kids", "students", "our students", "young people", "teenagers", "classmates", "new students",
          "younger kids", "our athletes", "some families", "our staff", "a few of our students"]
CS_GWHO = ["kids", "students", "teenagers", "classmates", "families", "athletes", "staff members", "neighbors"]
CS_GROUP = ["gay", "trans", "Black", "Muslim", "Jewish", "immigrant", "disabled", "Asian", "Latino", "refugee",
            "autistic", "deaf", "LGBTQ", "Hispanic", "Native", "Sikh", "Hindu", "Arab", "Christian", "nonbinary"]
CS_HARM = {  # the harm, and its past participle for "No one deserves to be ..."
    "are bullied": "bullied", "get picked on": "picked on", "are called names": "called names",
    "get teased": "teased", "are mocked": "mocked", "are left out": "left out", "are threatened": "threatened",
    "get harassed online": "harassed", "are insulted": "insulted", "face cruel comments": "insulted",
    "are targeted by hate": "targeted", "get shoved in the hallway": "shoved", "are laughed at": "laughed at",
    "receive nasty messages": "harassed", "are made fun of": "made fun of"}
CS_WHERE = ["at school", "online", "on the bus", "in the cafeteria", "at recess", "in group chats",
            "at games", "in the locker room", "on social media", "after school", ""]
CS_ABSTRACT = ["Bullying", "Cyberbullying", "Name-calling", "Harassment", "Hate speech", "Racist jokes",
               "Sexist comments", "Homophobic language", "Threatening messages", "Cruel comments", "Body shaming",
               "Online harassment", "Hazing", "Mocking someone's disability", "Ethnic slurs"]
CS_NEVER = ["is never acceptable {where}", "has no place {where}", "hurts real people", "is not a joke",
            "will be taken seriously {where}", "is something we address right away", "is against our code of conduct",
            "leaves lasting scars", "is everyone's business to stop", "can be reported anonymously"]
CS_ACT = ["bullying", "harassing", "threatening", "insulting", "mocking", "teasing", "excluding"]
CS_HELP = ["tell a trusted adult", "talk to your school counselor", "report it to the main office",
           "reach out to a teacher", "use the anonymous reporting form", "call the helpline", "let us know right away"]
CS_LESSON = ["Our history class studied how {g} Americans faced discrimination and violence.",
             "The novel shows how cruelly {g} characters were treated, and students wrote about it.",
             "Students researched hate crimes against {g} communities and how people fought back.",
             "Today's lesson covered how propaganda turned neighbors against {g} families.",
             "The guest speaker described being harassed as a {g} teenager and how she got through it.",
             "We read first-hand accounts of {g} workers who were beaten and cheated of their wages.",
             "Students discussed the slurs once used against {g} people and why they hurt."]
CS_FORMS = ["{feel} that {who} {harm} {where}.", "{feel} that {g} {gwho} {harm} {where}.",
            "{abstract} {never}.", "If someone is {act} you, {help}.", "{g} {gwho} {harm} {where}, and that has to stop.",
            "No one deserves to be {harm_pp} {where}.", "We stand with our {g} families against hate and harassment.",
            "{abstract} aimed at {g} students {never}.", "{lesson}"]


def counter_speech_examples(n: int = 600) -> list[Example]:
    """`n` seeded posts that talk about bullying, hate or violence without doing it (conduct 0)."""
    rng = random.Random(f"{SEED}-counter-speech-templates")
    out: set[str] = set()
    while len(out) < n:
        harm = rng.choice(list(CS_HARM))
        where = rng.choice(CS_WHERE)
        g = rng.choice(CS_GROUP)
        s = rng.choice(CS_FORMS).format(
            feel=rng.choice(CS_FEEL), who=rng.choice(CS_WHO), gwho=rng.choice(CS_GWHO), g=g, harm=harm, harm_pp=CS_HARM[harm], where=where,
            abstract=rng.choice(CS_ABSTRACT), never=rng.choice(CS_NEVER).format(where=where or "here"),
            act=rng.choice(CS_ACT), help=rng.choice(CS_HELP), lesson=rng.choice(CS_LESSON).format(g=g))
        s = " ".join(s.split()).replace(" .", ".").replace(" ,", ",")
        out.add(s[0].upper() + s[1:])
    return [Example(s, 0, "tmpl-counter") for s in sorted(out)]


COUNTER_QUIET = 400  # the first posts the generator makes: the calibration's quiet set, never trained on


def counter_speech_split(n: int) -> tuple[list[Example], list[Example]]:
    """Up to `n` templated counter-speech posts to train on, and the COUNTER_QUIET that
    `train.judgment_calibrate` holds out as conduct's quiet set. The generator is seeded and
    adds posts in a fixed order, so its first COUNTER_QUIET posts are the quiet set at any `n`."""
    quiet = counter_speech_examples(COUNTER_QUIET)
    held = {e.text for e in quiet}
    train = [e for e in counter_speech_examples(COUNTER_QUIET + n) if e.text not in held] if n else []
    return train, quiet
