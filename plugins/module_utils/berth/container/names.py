"""Container IDs and names: 64-hex IDs, Docker's name rules and ``adjective_surname`` names."""
from __future__ import annotations

import os
import random
import re

from ..errors import InvalidArgument

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
ID_PATTERN = re.compile(r"^[0-9a-f]{64}$")

_ADJECTIVES = (
    "admiring", "agitated", "amazing", "angry", "awesome", "beautiful", "blissful", "bold",
    "brave", "busy", "charming", "clever", "compassionate", "competent", "condescending",
    "confident", "cool", "cranky", "crazy", "dazzling", "determined", "distracted", "dreamy",
    "eager", "ecstatic", "elastic", "elated", "elegant", "eloquent", "epic", "exciting",
    "fervent", "festive", "flamboyant", "focused", "friendly", "frosty", "funny", "gallant",
    "gifted", "goofy", "gracious", "great", "happy", "hardcore", "heuristic", "hopeful",
    "hungry", "infallible", "inspiring", "intelligent", "interesting", "jolly", "jovial",
    "keen", "kind", "laughing", "loving", "lucid", "magical", "modest", "musing", "mystifying",
    "naughty", "nervous", "nice", "nifty", "nostalgic", "objective", "optimistic", "peaceful",
    "pedantic", "pensive", "practical", "priceless", "quirky", "quizzical", "recursing",
    "relaxed", "reverent", "romantic", "sad", "serene", "sharp", "silly", "sleepy", "stoic",
    "strange", "stupefied", "suspicious", "sweet", "tender", "thirsty", "trusting", "unruffled",
    "upbeat", "vibrant", "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial",
    "youthful", "zealous", "zen",
)
_SURNAMES = (
    "agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "aryabhata",
    "austin", "babbage", "banach", "bardeen", "bartik", "bassi", "bell", "benz", "bhabha",
    "black", "blackwell", "bohr", "booth", "borg", "bose", "boyd", "brahmagupta", "brattain",
    "brown", "carson", "cerf", "chandrasekhar", "chatelet", "chebyshev", "clarke", "colden",
    "cori", "cray", "curie", "darwin", "davinci", "diffie", "dijkstra", "dirac", "driscoll",
    "dubinsky", "easley", "edison", "einstein", "elion", "engelbart", "euclid", "euler",
    "fermat", "fermi", "feynman", "franklin", "galileo", "gates", "goldberg", "goldstine",
    "goldwasser", "golick", "goodall", "gould", "hamilton", "hawking", "heisenberg", "hermann",
    "hodgkin", "hofstadter", "hopper", "hugle", "hypatia", "jackson", "jang", "jennings",
    "jepsen", "johnson", "joliot", "jones", "kalam", "kare", "keldysh", "keller", "kepler",
    "khorana", "kilby", "kirch", "knuth", "kowalevski", "lalande", "lamarr", "lamport",
    "leakey", "leavitt", "lewin", "lichterman", "liskov", "lovelace", "lumiere", "mahavira",
    "mayer", "mccarthy", "mcclintock", "mclean", "meitner", "mendel", "merkle", "mestorf",
    "mirzakhani", "morse", "murdock", "napier", "newton", "nightingale", "nobel", "noether",
    "northcutt", "noyce", "panini", "pare", "pasteur", "payne", "perlman", "pike", "poincare",
    "poitras", "ptolemy", "raman", "ramanujan", "ride", "ritchie", "robinson", "roentgen",
    "rosalind", "saha", "sammet", "shamir", "shannon", "shaw", "shirley", "shockley", "sinoussi",
    "snyder", "spence", "stonebraker", "sutherland", "swanson", "swartz", "swirles", "tesla",
    "thompson", "torvalds", "turing", "varahamihira", "visvesvaraya", "volhard", "wescoff",
    "wiles", "williams", "wilson", "wing", "wozniak", "wright", "yalow", "yonath",
)


def new_id() -> str:
    """64 hex digits whose 12-digit short form is not all decimal (it could read as a number)."""
    while True:
        cid = os.urandom(32).hex()
        if not cid[:12].isdigit():
            return cid


def random_name(attempt: int = 0) -> str:
    while True:
        name = f"{random.choice(_ADJECTIVES)}_{random.choice(_SURNAMES)}"
        if name != "boring_wozniak":  # Steve Wozniak is not boring (Docker's rule)
            break
    return f"{name}{random.randint(0, 9)}" if attempt else name


def check_name(name: str) -> str:
    """A user-given name without its leading ``/``; Docker's character rules."""
    bare = name[1:] if name.startswith("/") else name
    if not NAME_PATTERN.match(bare):
        raise InvalidArgument(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] "
                              "are allowed")
    return bare
