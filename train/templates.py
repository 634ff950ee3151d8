"""Our own templated examples of political advocacy (seeded sample), written from general
knowledge of how campaigns, officeholders and advocacy groups post; no evaluation text was used
to make them. `political_examples()` is the original 300-sentence set; `advocacy_examples()`
adds many registers (floor votes, bills, press, town halls, ballot questions, petitions,
fundraising asks, hashtags) and `civic_negatives()` the district-style near misses."""

from __future__ import annotations

import random

from train.data import SEED, Example

ACTORS = [
    "The president", "Congress", "The Senate", "House Republicans", "Senate Democrats", "The administration",
    "Washington", "The governor", "The state legislature", "The majority leader", "Liberals in Congress",
    "Conservatives in the House", "My opponent", "The Speaker", "The mayor", "Career politicians",
]
ATTACKS = [
    "is failing on", "refuses to fix", "keeps ignoring", "is wasting billions on", "is playing politics with",
    "wants to cut", "voted to gut", "is blocking action on", "broke its promises on", "is making a mess of",
    "has no plan for", "keeps raising your costs for",
]
ISSUES = [
    "health care", "Social Security", "Medicare", "our veterans", "small businesses", "the middle class",
    "the economy", "jobs", "the national debt", "border security", "energy prices", "gun rights",
    "education funding", "tax reform", "the farm bill", "immigration reform", "student loans",
    "the minimum wage", "the Affordable Care Act", "the budget", "women's health", "our military",
    "coal jobs", "climate change", "the deficit", "working families", "seniors", "Wall Street reform",
]
SUPPORTS = [
    "I will keep fighting for", "Proud to vote for a bill that protects", "I introduced legislation to protect",
    "We must stand up for", "Join me in supporting", "I am calling on Congress to act on",
    "Sign my petition to save", "Tell your representative to defend", "Stand with us on",
    "Our campaign is about", "Vote in November for leaders who will deliver on", "It's time to get serious about",
]
ENDINGS = ["", " #tcot", " #p2", " #Obamacare", " #2A", " #GOP", " #Dems", " Retweet if you agree.", " Enough is enough.",
           " Sign up to help.", " We deserve better."]


def political_examples(n: int = 300) -> list[Example]:
    """`n` seeded advocacy sentences: half attacks, half calls to support."""
    rng = random.Random(f"{SEED}-political-templates")
    out: set[str] = set()
    while len(out) < n:
        if rng.random() < 0.5:
            s = f"{rng.choice(ACTORS)} {rng.choice(ATTACKS)} {rng.choice(ISSUES)}."
        else:
            s = f"{rng.choice(SUPPORTS)} {rng.choice(ISSUES)}."
        out.add(s + rng.choice(ENDINGS))
    return [Example(s, 1, "own") for s in sorted(out)]


# --- many registers of advocacy (slots are filled independently; names are invented) ---------
NAMES = ["Dana Reyes", "Tom Whitaker", "Maria Lopez", "Jim Kowalski", "Aisha Grant", "Bill Hendricks",
         "Karen Olsen", "Luis Ortega", "Pat Brennan", "Sam Delgado", "Ruth Feldman", "Greg Madsen"]
OFFICES = ["Congress", "State Senate", "State Representative", "Governor", "Mayor", "U.S. Senate",
           "Attorney General", "City Council", "County Commissioner", "Lieutenant Governor"]
PARTIES = ["Republicans", "Democrats", "the GOP", "the Democratic Party", "House Democrats", "Senate Republicans",
           "the far left", "the radical right", "progressives", "conservatives", "Tea Party Republicans"]
BILLS = ["the Keystone XL pipeline", "the farm bill", "the Dream Act", "the Paycheck Fairness Act",
         "the Violence Against Women Act", "the balanced budget amendment", "the highway bill",
         "the defense authorization", "the jobs bill", "the student loan bill", "the tax cut bill",
         "the background checks bill", "the border security bill", "the energy bill", "the spending bill",
         "the Hire More Heroes Act", "the REINS Act", "the Fair Minimum Wage Act", "the sequester",
         "the continuing resolution", "the debt ceiling increase", "the Iran nuclear deal", "Obamacare",
         "the Affordable Care Act", "the Export-Import Bank", "the Equality Act", "net neutrality rules"]
GOALS = ["create jobs", "cut wasteful spending", "protect Medicare", "lower taxes for working families",
         "secure the border", "raise the minimum wage", "hold the VA accountable", "end the government shutdown",
         "repeal Obamacare", "protect a woman's right to choose", "defend the Second Amendment",
         "make college affordable", "rein in the EPA", "stop job-killing regulations", "fix our broken immigration system",
         "expand access to health care", "balance the budget", "protect our kids from gun violence",
         "keep Iran from getting a nuclear weapon", "support our troops", "grow our economy",
         "stop the IRS from targeting Americans", "invest in roads and bridges", "protect Social Security"]
GROUPS = ["working families", "our veterans", "seniors", "small business owners", "farmers", "students",
          "hardworking taxpayers", "middle-class families", "our troops", "women", "job creators",
          "the American people", "our constituents", "Hoosiers", "Texans", "Ohioans", "Coloradans"]
MEDIA = ["Fox News", "MSNBC", "CNN", "Fox Business", "Meet the Press", "Face the Nation", "talk radio",
         "the local news", "C-SPAN"]
HASHTAGS = ["#tcot", "#p2", "#GOP", "#Obamacare", "#RaiseTheWage", "#ActOnClimate", "#2A", "#StopTheShutdown",
            "#FullRepeal", "#GetCovered", "#DoYourJob", "#EqualPay", "#Benghazi", "#IRS", "#KeystoneXL",
            "#SOTU", "#VAaccountability", "#ImmigrationReform", "#MakeDCListen", "#Vote", ""]
MOB = ["Call your representative at the Capitol switchboard and tell them to {v} {b}.",
       "Sign our petition to {g}.", "Add your name if you agree we need to {g}.",
       "Chip in $5 before midnight to help us {g}.", "Tell {p} to stop playing games and {g}.",
       "Retweet if you agree it's time to {g}.", "Join our campaign to {g}: volunteer this weekend.",
       "Donate today so we can keep fighting to {g}.", "Vote {yn} on Question {n} on November {d}.",
       "Support Proposition {n}: it will {g}.", "Vote {yn} on Measure {L}; it's the only way to {g}.",
       "Make sure to vote for {name} on Tuesday. {name} will {g}.", "{name} for {office}: let's {g}.",
       "Paid for by {name} for {office}.", "Knock doors with us Saturday to elect {name} to {office}.",
       "Early voting starts Monday. Vote for {name} and the whole {party2} ticket.",
       "Contact the governor and demand a veto of {b}.", "Email your senator today: {v} {b}.",
       "Stand with {grp}: tell Congress to {g}.", "Our rally for {name} starts at noon on the town green."]
VOICE = ["Today I voted {v2} {b} because it {eff}.", "I introduced a bill to {g}.",
         "Proud to cosponsor {b}. It's time to {g}.", "The House just passed my amendment to {g}.",
         "I spoke on the Senate floor today about the need to {g}.", "I will keep working to {g} for {grp}.",
         "{b} {eff}. That's why I voted {v2} it.", "Tune in: I'll be on {media} tonight to talk about {b}.",
         "Watch my interview on {media} about why we must {g}.", "Read my op-ed on why {b} {eff}.",
         "Great to meet with {grp} today to talk about how we can {g}.",
         "Hosting a telephone town hall tonight on {b}; call in with your questions.",
         "Thanks to {grp} who came to my office to urge me to {g}.",
         "The President must work with Congress to {g}.", "{p} {att} {b}. {grp} deserve better.",
         "Under {b}, {grp} {eff2}.", "My statement on the vote on {b}: we must {g}.",
         "{p} voted against {b} again. Unbelievable.", "Another month of {p} failing to {g}.",
         "It is shameful that {p} refuse to {g}.", "The Senate should vote on {b} now.",
         "I am fighting in Washington to {g}.", "We won't stop until we {g}.",
         "Happy to announce $2 million in federal funding I secured to {g} in our district.",
         "I joined my colleagues in a letter urging the administration to {g}."]
ATT2 = ["are blocking", "keep holding up", "rammed through", "want to gut", "are wasting time on", "refuse to pass",
        "keep defending", "voted to weaken"]
EFF = ["will kill jobs", "raises taxes on the middle class", "protects our veterans", "puts Washington in charge of your health care",
       "helps working families", "adds billions to the debt", "keeps our country safe", "hurts small businesses",
       "gives amnesty to illegal immigrants", "makes our communities safer", "is a bad deal for America",
       "creates thousands of jobs", "threatens our Second Amendment rights", "lowers costs for families"]
EFF2 = ["lose their coverage", "pay higher premiums", "finally get a raise", "lose their jobs", "see their taxes go up",
        "get the care they earned", "pay more at the pump", "can keep the plan they like"]


def _fill(tpl: str, rng: random.Random) -> str:
    """One sentence from a template with every slot drawn independently."""
    name = rng.choice(NAMES)
    return tpl.format(
        v=rng.choice(["support", "oppose", "pass", "stop", "vote against", "vote for"]),
        v2=rng.choice(["for", "against", "yes on", "no on"]), b=rng.choice(BILLS), g=rng.choice(GOALS),
        p=rng.choice(PARTIES), yn=rng.choice(["yes", "YES", "no", "NO"]), n=rng.randint(1, 9),
        d=rng.randint(2, 8), L=rng.choice("ABCDEK"), name=name, office=rng.choice(OFFICES),
        party2=rng.choice(["Republican", "Democratic"]), grp=rng.choice(GROUPS), media=rng.choice(MEDIA),
        att=rng.choice(ATT2), eff=rng.choice(EFF), eff2=rng.choice(EFF2))


def advocacy_examples(n: int = 1200) -> list[Example]:
    """`n` seeded advocacy posts in the registers of campaigns, officeholders and advocacy groups."""
    rng = random.Random(f"{SEED}-advocacy-templates")
    out: set[str] = set()
    while len(out) < n:
        s = _fill(rng.choice(MOB if rng.random() < 0.4 else VOICE), rng)
        if rng.random() < 0.5:  # two-sentence posts, as officeholders write them
            s += " " + _fill(rng.choice(VOICE + MOB), rng)
        tag = rng.choice(HASHTAGS)
        out.add(s + (" " + tag if tag else ""))
    return [Example(s, 1, "tmpl") for s in sorted(out)]


CIVIC = ["The {body} meets {day} at 7 pm in the {room}; the agenda is on the website.",
         "The public hearing on the {year} school budget is {day} in the {room}.",
         "{grade} students learned how {topic} in social studies this week.",
         "Our {grade} class held a mock election and learned about {topic}.",
         "The {room} is a polling place on {day}; there is no school for students.",
         "Residents vote on the school budget referendum {day}; polls are open 6 am to 8 pm at the town hall.",
         "Budget information session {day}: the superintendent will walk through the proposed {year} budget.",
         "The {body} voted {a}-{b2} to approve the {thing}.",
         "Thank you to our state representative for visiting {grade} students to explain {topic}.",
         "Civics students watched a {body} meeting and wrote reflections on {topic}.",
         "AP Government students debated {topic} using primary sources.",
         "Student council elections are {day}; candidates' posters are in the {room}.",
         "Congratulations to our debate team; this year's topic was {topic}.",
         "The {body} will hold a special meeting {day} about the {thing}.",
         "Register for the {year} kindergarten information night on {day} in the {room}."]
BODIES = ["board of education", "board of finance", "town council", "building committee", "PTO", "student senate",
          "policy committee", "curriculum committee"]
TOPICS = ["a bill becomes a law", "the three branches of government", "the Bill of Rights", "checks and balances",
          "the electoral college", "local government", "the history of voting rights", "the Constitution",
          "how town budgets are made", "the role of the courts", "how elections are run"]
THINGS = ["new school calendar", "roof repair project", "bus contract", "math curriculum", "capital budget",
          "cell phone policy", "high school renovation", "later start times"]


def civic_negatives(n: int = 300) -> list[Example]:
    """`n` seeded district posts about civics, budgets, boards and polling places (not advocacy)."""
    rng = random.Random(f"{SEED}-civic-templates")
    out: set[str] = set()
    rooms = ["library", "auditorium", "gym", "cafeteria", "central office", "middle school media center"]
    grades = ["Fifth grade", "Seventh grade", "Eighth grade", "Ninth grade", "Senior", "Fourth grade"]
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "March 12", "next Tuesday", "tonight"]
    while len(out) < n:
        s = rng.choice(CIVIC).format(body=rng.choice(BODIES), day=rng.choice(days), room=rng.choice(rooms),
                                     year=rng.choice(["2025-26", "2026-27", "next year's"]), grade=rng.choice(grades),
                                     topic=rng.choice(TOPICS), a=rng.randint(5, 9), b2=rng.randint(0, 3),
                                     thing=rng.choice(THINGS))
        out.add(s[0].upper() + s[1:])
    return [Example(s, 0, "tmpl-neg") for s in sorted(out)]


# --- policy talk in a plain register: subject, stance, policy object, reason ----------------
SUBJECTS = ["We", "Congress", "This administration", "The Senate", "Washington", "Our state", "The federal government",
            "Lawmakers", "The IRS", "The EPA", "Big government", "Special interests", "Wall Street", "Career politicians",
            "The Supreme Court", "The House majority", "The White House", "Bureaucrats in Washington", "Liberal judges",
            "The Obama administration", "Republican leaders", "Democratic leaders", "Taxpayers", "Hardworking Americans"]
STANCES = ["must stop", "needs to end", "should never allow", "cannot keep ignoring", "has to fix", "must protect",
           "should expand", "must repeal", "needs to pass", "has failed to address", "must stand up to",
           "should invest in", "must cut", "can't afford more", "must hold accountable those behind",
           "must reform", "should fully fund", "must defend", "should reject", "must not raise"]
POLICIES = ["government overreach", "job-killing regulations", "tax hikes on families", "amnesty for illegal immigrants",
            "the war on coal", "Medicaid expansion", "offshore drilling", "fracking on public lands", "equal pay for women",
            "the minimum wage", "tax loopholes for corporations", "wasteful spending", "the national debt", "sequestration",
            "another government shutdown", "the filibuster", "the nominee", "religious liberty", "voting rights",
            "campaign finance reform", "Citizens United", "the estate tax", "the death tax", "Planned Parenthood",
            "a path to citizenship", "sanctuary cities", "the border wall", "background checks", "assault weapons",
            "concealed carry", "the Keystone pipeline", "renewable energy tax credits", "the carbon tax", "Common Core",
            "school choice", "charter school vouchers", "universal pre-K", "paid family leave", "the VA scandal",
            "ISIS", "the Iran deal", "our ally Israel", "NSA surveillance", "drone strikes", "the sequester cuts",
            "food stamp cuts", "unemployment benefits", "the payroll tax cut", "Wall Street bailouts", "Dodd-Frank",
            "the individual mandate", "the IRS targeting scandal", "Benghazi", "trade deals that ship jobs overseas",
            "the right to work", "collective bargaining", "police reform", "criminal justice reform", "marriage equality",
            "the Defense of Marriage Act", "reproductive rights", "the Hyde Amendment", "medical marijuana"]
REASONS = ["", " It's common sense.", " The American people deserve answers.", " Families can't wait any longer.",
           " This is about freedom.", " This is about fairness.", " Our economy depends on it.", " Washington is broken.",
           " Enough is enough.", " The Constitution is clear.", " It's a matter of national security.",
           " Our children's future is at stake.", " Let's get it done.", " Americans are tired of excuses.",
           " I won't back down.", " Make your voice heard.", " Share if you agree."]


def policy_examples(n: int = 1500) -> list[Example]:
    """`n` seeded plain-register policy statements (stance on a public policy, optional reason)."""
    rng = random.Random(f"{SEED}-policy-templates")
    out: set[str] = set()
    while len(out) < n:
        s = f"{rng.choice(SUBJECTS)} {rng.choice(STANCES)} {rng.choice(POLICIES)}.{rng.choice(REASONS)}"
        tag = rng.choice(HASHTAGS)
        out.add(s + (" " + tag if tag and rng.random() < 0.3 else ""))
    return [Example(s, 1, "tmpl") for s in sorted(out)]


FIGURES = ["President Obama", "Harry Reid", "Nancy Pelosi", "Speaker Boehner", "Mitch McConnell", "Ted Cruz",
           "the Obama White House", "Senate Democrats", "House Republicans", "Hillary Clinton", "President Trump",
           "the Koch brothers", "Democrats in Washington", "Republicans in Congress", "Governor Christie",
           "the Tea Party", "Senator Warren", "Senator McCain", "Leader Schumer", "the majority party"]
ADJ = ["a disaster", "an outrage", "unacceptable", "a job killer", "a broken promise", "a step in the right direction",
       "long overdue", "a victory for families", "a gift to special interests", "reckless", "a bipartisan win",
       "a slap in the face to taxpayers", "un-American", "a threat to our freedom"]
FIG_T = ["{fig} {att} {pol}.", "Why won't {fig} stand up to {pol}?", "{fig}'s position on {pol} is {adj}.",
         "RT if you think {pol} is {adj}.", "{pol} is {adj}. {fig} owes us an explanation.",
         "Thank you, {fig}, for leading the fight against {pol}.", "{fig} just doesn't get it on {pol}.",
         "The vote on {pol} was {adj}. Remember it in November.", "Like if you agree: {pol} is {adj}.",
         "Today's ruling on {pol} is {adj}."]


def figure_examples(n: int = 800) -> list[Example]:
    """`n` seeded posts praising or attacking public figures and parties over a policy."""
    rng = random.Random(f"{SEED}-figure-templates")
    out: set[str] = set()
    while len(out) < n:
        s = rng.choice(FIG_T).format(fig=rng.choice(FIGURES), att=rng.choice(ATT2), pol=rng.choice(POLICIES),
                                     adj=rng.choice(ADJ))
        out.add(s[0].upper() + s[1:])
    return [Example(s, 1, "tmpl") for s in sorted(out)]


# --- everyday district talk that shares words with campaigns (families, today, fight, defense) --
