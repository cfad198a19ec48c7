"""Compare people's identities the way a reviewer reads them, not byte by byte.

An approver written ``alice@finance.example`` with a Cyrillic ``a`` (U+0430) is, to every human
reading the register, the owner ``alice@finance.example``. :func:`fold` gives the
"skeleton" both share: Unicode NFKC, case folding, invisible characters dropped, and
the look-alikes of Latin letters replaced by them. The table below is the subset of
Unicode TR39 ``confusables.txt`` (Cyrillic, Greek, Armenian, fullwidth forms are already
folded by NFKC) that maps single characters to ASCII letters and digits, plus the
multi-letter ``rn`` → ``m``. Folding more than needed can only refuse a real approver,
never accept a disguised owner, which is the safe direction.
"""

from __future__ import annotations

import unicodedata

#: Look-alike -> Latin (TR39 confusables.txt, prototype characters in ASCII).
_CONFUSABLES = {
    "\u0430": "a",  # cyrillic small letter a
    "\u0432": "b",  # cyrillic small letter ve
    "\u0441": "c",  # cyrillic small letter es
    "\u0501": "d",  # cyrillic small letter komi de
    "\u0435": "e",  # cyrillic small letter ie
    "\u0451": "e",  # cyrillic small letter io
    "\u04bb": "h",  # cyrillic small letter shha
    "\u0456": "i",  # cyrillic small letter byelorussian-ukrainian i
    "\u0457": "i",  # cyrillic small letter yi
    "\u0458": "j",  # cyrillic small letter je
    "\u043a": "k",  # cyrillic small letter ka
    "\u04cf": "l",  # cyrillic small letter palochka
    "\u043c": "m",  # cyrillic small letter em
    "\u043d": "h",  # cyrillic small letter en
    "\u043e": "o",  # cyrillic small letter o
    "\u0440": "p",  # cyrillic small letter er
    "\u051b": "q",  # cyrillic small letter qa
    "\u0433": "r",  # cyrillic small letter ghe
    "\u0455": "s",  # cyrillic small letter dze
    "\u0442": "t",  # cyrillic small letter te
    "\u0446": "u",  # cyrillic small letter tse
    "\u0475": "v",  # cyrillic small letter izhitsa
    "\u051d": "w",  # cyrillic small letter we
    "\u0445": "x",  # cyrillic small letter ha
    "\u0443": "y",  # cyrillic small letter u
    "\u04af": "y",  # cyrillic small letter straight u
    "\u0437": "3",  # cyrillic small letter ze
    "\u0473": "o",  # cyrillic small letter fita
    "\u044c": "b",  # cyrillic small letter soft sign
    "\u03b1": "a",  # greek small letter alpha
    "\u03b2": "b",  # greek small letter beta
    "\u03f2": "c",  # greek lunate sigma symbol
    "\u03b5": "e",  # greek small letter epsilon
    "\u03b7": "n",  # greek small letter eta
    "\u03b9": "i",  # greek small letter iota
    "\u03ba": "k",  # greek small letter kappa
    "\u03bd": "v",  # greek small letter nu
    "\u03bf": "o",  # greek small letter omicron
    "\u03c1": "p",  # greek small letter rho
    "\u03c4": "t",  # greek small letter tau
    "\u03c5": "u",  # greek small letter upsilon
    "\u03c7": "x",  # greek small letter chi
    "\u03b3": "y",  # greek small letter gamma
    "\u03c9": "w",  # greek small letter omega
    "\u03f3": "j",  # greek letter yot
    "\u0585": "o",  # armenian small letter oh
    "\u057d": "u",  # armenian small letter seh
    "\u0581": "g",  # armenian small letter co
    "\u0570": "h",  # armenian small letter ho
    "\u0578": "n",  # armenian small letter vo
    "\u0261": "g",  # latin small letter script g
    "\u0131": "i",  # latin small letter dotless i
    "\u0237": "j",  # latin small letter dotless j
    "\u2113": "l",  # script small l
    "\u0269": "i",  # latin small letter iota
    "\u028b": "u",  # latin small letter v with hook
    "0": "o",
    "1": "l",
    "|": "l",
}
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)
_TABLE = str.maketrans(_CONFUSABLES)


def fold(identity: str) -> str:
    """The skeleton of an identity: equal skeletons look alike to a human."""
    text = unicodedata.normalize("NFKC", identity).translate(_INVISIBLE).casefold().strip()
    # Combining marks (a + U+0301) read as their base letter.
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return text.translate(_TABLE).replace("rn", "m")
