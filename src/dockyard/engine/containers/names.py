"""Generated container names: `adjective_surname`, unique among existing containers."""
from __future__ import annotations

import random
import re

from ...errors import InvalidParameter

_ADJECTIVES = """
able agile amazing ample artful astute awake bold brave bright brisk busy calm candid caring
charming cheerful clever cool cosmic crisp curious daring dazzling dreamy eager earnest elated
elegant epic fervent festive fluent focused friendly funny gallant gentle gifted glad golden
graceful happy hardy hearty honest hopeful humble jolly jovial keen kind lively loyal lucid
lucky merry mighty modest neat nimble noble patient peaceful plucky polite proud quick quiet
radiant rapid relaxed serene sharp shiny silent sleepy smart snappy sober spry steady stoic
sturdy sunny swift tender tidy tranquil trusty upbeat vibrant vigilant warm wise witty zealous
""".split()

_SURNAMES = """
agnesi archimedes babbage bardeen bell bohr boole borg brahe cannon carson cerf chandrasekhar
curie darwin diffie dijkstra einstein euclid euler faraday fermat fermi feynman franklin galileo
gauss goodall hamilton hawking heisenberg hertz hodgkin hopper hypatia jackson johnson joliot
kepler knuth lamarr lamport leakey lovelace lumiere mayer mccarthy meitner mendel minsky morse
newton nobel noether pasteur pascal perlman planck poincare ritchie rubin sammet shannon
shockley sinoussi stallman swanson tesla thompson torvalds turing volhard wiles williams wozniak
wright yalow yonath
""".split()

_NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


def generate(taken: set[str]) -> str:
    for attempt in range(100):
        name = f"{random.choice(_ADJECTIVES)}_{random.choice(_SURNAMES)}"
        if attempt >= 10:
            name += str(random.randint(0, 99))
        if name not in taken:
            return name
    raise RuntimeError("could not generate a unique container name")


def validate(name: str) -> str:
    """Return the name without its leading slash, or raise Docker's error."""
    if not _NAME_RE.match(name):
        raise InvalidParameter(f"Invalid container name ({name}), only "
                               "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name.lstrip("/")
