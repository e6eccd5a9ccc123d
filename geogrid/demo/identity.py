"""Who people are on paper: names, GB 11643 ID numbers and mobile numbers."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from geogrid.demo import names as nm
from geogrid.demo._arrays import Bools, Floats, Ints, Strs, digits, rank_in_runs
from geogrid.demo.geography import COUNTY_PREFIX
from geogrid.validate import ID_CHECK_CHARS, ID_WEIGHTS


def id_numbers(
    rng: np.random.Generator, birth: Ints, female: Bools
) -> tuple[Strs, Ints]:
    """Unique GB 11643 ID numbers: region, birth date, sequence, check character.

    The sequence is odd for men and even for women. When more than 500 people
    of one sex share a birth day, the extra ones are born a few days earlier.
    """
    birth = birth.copy()
    male = (~female).astype(np.int64)
    for _ in range(1000):
        key = birth * 2 + male
        order = np.lexsort((rng.random(len(key)), key))
        rank = np.empty(len(key), dtype=np.int64)
        rank[order] = rank_in_runs(key[order])
        crowded = rank >= 500
        if not crowded.any():
            break
        birth[crowded] -= rng.integers(1, 30, int(crowded.sum()))

    # a different stride through 0-499 for every (day, sex)
    slot = (key * 7919 + rank * 37) % 500
    sequence = 2 * slot + male
    days = birth.astype("datetime64[D]")
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    ymd = year * 10_000 + month * 100 + day
    first17 = digits(int(COUNTY_PREFIX) * 10**11 + ymd * 1000 + sequence, 17)
    return np.strings.add(first17, _id_check_chars(first17)), birth


def _id_check_chars(first17: Strs) -> Strs:
    """GB 11643 check characters, by the weights and table of `geogrid.validate`.

    Same rule as `validate.id_check_chars`, computed straight from the digits:
    for millions of numbers the round trip through a pandas Series there costs
    seconds.
    """
    digits = first17.view(np.uint32).reshape(-1, 17).astype(np.int64) - ord("0")
    return np.asarray(ID_CHECK_CHARS[(digits @ ID_WEIGHTS) % 11])


def surnames(rng: np.random.Generator, n: int) -> Strs:
    surnames = np.array([s for s, _ in nm.SURNAMES])
    weights = np.array([w for _, w in nm.SURNAMES])
    return np.asarray(surnames[rng.choice(len(surnames), n, p=weights / weights.sum())])


def person_names(
    rng: np.random.Generator, surname: Strs, female: Bools, younger: Bools
) -> Strs:
    """Surname and one or two given-name characters fitting sex and generation."""
    n = len(surname)
    pools = {
        (False, False): nm.GIVEN_OLDER_MALE,
        (True, False): nm.GIVEN_OLDER_FEMALE,
        (False, True): nm.GIVEN_YOUNGER_MALE,
        (True, True): nm.GIVEN_YOUNGER_FEMALE,
    }
    first = np.empty(n, dtype="U1")
    second = np.empty(n, dtype="U1")
    for (is_female, is_younger), pool in pools.items():
        rows = np.flatnonzero((female == is_female) & (younger == is_younger))
        chars = np.array(list(pool))
        first[rows] = chars[rng.integers(0, len(chars), len(rows))]
        second[rows] = chars[rng.integers(0, len(chars), len(rows))]
    two_chars = rng.random(n) < np.where(younger, 0.8, 0.6)
    second = np.where(two_chars & (second != first), second, "")
    return np.strings.add(np.strings.add(surname.astype(str), first), second)


def mobile_numbers(rng: np.random.Generator, n: int) -> Strs:
    """Distinct 11-digit mobile numbers with real carrier prefixes."""
    prefixes = np.array([int(p) for p in nm.MOBILE_PREFIXES], dtype=np.int64)

    def draw(k: int) -> Ints:
        prefix = prefixes[rng.integers(0, len(prefixes), k)]
        return np.asarray(prefix * 10**8 + rng.integers(0, 10**8, k))

    numbers = draw(n)
    while True:
        _, first = np.unique(numbers, return_index=True)
        repeated = np.ones(n, dtype=bool)
        repeated[first] = False
        if not repeated.any():
            return digits(numbers, 11)
        numbers[repeated] = draw(int(repeated.sum()))


def person_phones(rng: np.random.Generator, age: Floats) -> npt.NDArray[np.object_]:
    """Mobile numbers; none for children, often none for the very old."""
    phone = mobile_numbers(rng, len(age)).astype(object)
    missing_share = np.select([age < 14, age >= 75], [1.0, 0.4], 0.04)
    phone[rng.random(len(age)) < missing_share] = None
    return np.asarray(phone, dtype=object)
