"""Identity words: names of groups of people, which the text models may never count as evidence."""

from __future__ import annotations

# Identity words (singular and plural) that the conduct model may never count as evidence; slurs
# are not here (the rule layer's slur lexicon handles them) and demeaning words next to a group
# ("... are animals") still count.
IDENTITY_TERMS = frozenset("""
gay gays lesbian lesbians bisexual bisexuals bi queer queers homosexual homosexuals lgbt lgbtq
lgbtq+ lgbtqia pride trans transgender transgenders nonbinary non-binary intersex straight
black blacks white whites asian asians latino latinos latina latinas latinx hispanic hispanics
african africans american americans arab arabs mexican mexicans chinese indian indians native
somali haitian puerto rican ricans korean japanese jamaican nigerian immigrant immigrants
refugee refugees migrant migrants muslim muslims islam islamic jewish jew jews judaism christian
christians catholic catholics hindu hindus sikh sikhs buddhist buddhists atheist atheists
mormon mormons deaf blind autistic autism disabled disability disabilities wheelchair
women woman girls girl men man boys boy female females male males
""".split())
