"""Members of households: age, sex, labels, and what they hold at which bank."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from geogrid.demo import names as nm
from geogrid.demo._arrays import (
    Bools,
    Floats,
    Ints,
    Strs,
    days,
    has,
    rank_in_runs,
    stream,
)
from geogrid.demo.geography import Geography
from geogrid.demo.households import Households
from geogrid.demo.identity import id_numbers, person_names, person_phones, surnames
from geogrid.demo.planted import Planted
from geogrid.store.models import PRODUCTS

# household size 1-5 (mean 2.82) and the roles of its members
HOUSEHOLD_SIZE_SHARES = np.array([0.16, 0.30, 0.22, 0.20, 0.12])
HEAD, SPOUSE, CHILD, ELDER = 0, 1, 2, 3

LABELS = (
    nm.LABEL_MIGRANT,
    nm.LABEL_RETURNS_AT_SPRING_FESTIVAL,
    nm.LABEL_BUSINESS,
    nm.LABEL_FARMER,
    nm.LABEL_CIVIL_SERVANT,
    nm.LABEL_ELDERLY,
    nm.LABEL_STUDENT,
    nm.LABEL_NEWCOMER,
)


@dataclass
class People:
    """Members of households: the public frame and what later stages reuse.

    `household` indexes `Households`; `products` is each person's bit mask
    of `PRODUCTS`.
    """

    household: Ints
    frame: pd.DataFrame
    products: Ints


def build_people(
    seed: int, geo: Geography, hh: Households, planted: Planted, as_of: dt.date
) -> People:
    """Members of every household: names, ID numbers, status, products, balances."""
    rng = stream(seed, "persons")
    size = rng.choice(np.arange(1, 6), size=len(hh.village), p=HOUSEHOLD_SIZE_SHARES)
    household = np.repeat(np.arange(len(hh.village), dtype=np.int64), size)
    member = np.arange(len(household)) - np.repeat(np.cumsum(size) - size, size)
    role = np.select(
        [member == 0, member == 1, member == 4], [HEAD, SPOUSE, ELDER], CHILD
    )
    village = hh.village[household]
    community = geo.villages.is_community[village]

    # who they are
    hh_community = geo.villages.is_community[hh.village]
    age, female = _ages_and_genders(rng, hh_community, household, role)
    age_days = np.floor(age * 365.25 + rng.uniform(0, 365, len(age)))
    birth = days(as_of) - np.maximum(age_days, 1).astype(np.int64)
    id_number, birth = id_numbers(rng, birth, female)
    surname = _household_surnames(rng, geo, hh, household, role)
    younger = birth >= days(dt.date(1975, 1, 1))
    name = person_names(rng, surname, female, younger)
    phone = person_phones(rng, age)

    # what the bank knows about them
    labels = _labels(rng, age, community)
    customer = _customers(rng, geo, hh, household, role, planted)
    products = _products(rng, age, labels, customer)
    n_villages = len(geo.villages.name)
    balances = _balances(rng, village, n_villages, age, products, planted)

    frame = pd.DataFrame(
        {
            "household_no": hh.number[household],
            "name": name,
            "id_number": id_number,
            "phone": pd.Series(phone, dtype=object),
            "gender": np.where(female, "F", "M"),
            "birth_date": _dates(birth),
            "status": np.where(customer, "customer", "potential"),
            "products": _lists(products, PRODUCTS),
            "labels": _lists(labels, LABELS),
            **balances,
        }
    )
    return People(household, frame, products)


def _ages_and_genders(
    rng: np.random.Generator, hh_community: Bools, household: Ints, role: Ints
) -> tuple[Floats, Bools]:
    """Ages in years by role in the household (rural heads are older)."""
    n, n_households = len(household), len(hh_community)
    head_age = np.where(
        hh_community,
        rng.normal(46, 13, n_households),
        rng.normal(55, 14, n_households),
    )
    head_age = np.clip(head_age, 22, 90)[household]
    age = np.select(
        [role == HEAD, role == SPOUSE, role == ELDER],
        [head_age, head_age + rng.normal(-2, 3, n), head_age + rng.normal(27, 4, n)],
        head_age - rng.normal(28, 4, n),
    )

    head_female = (rng.random(n_households) < 0.18)[household]
    female = np.select(
        [role == HEAD, role == SPOUSE], [head_female, ~head_female], rng.random(n) < 0.5
    )
    return np.clip(age, 0.1, 99.5), female.astype(bool)


def _dates(days: Ints) -> npt.NDArray[np.object_]:
    """datetime.date objects for days since 1970-01-01."""
    return np.asarray(days.astype("datetime64[D]").astype(object), dtype=object)


def _household_surnames(
    rng: np.random.Generator,
    geo: Geography,
    hh: Households,
    household: Ints,
    role: Ints,
) -> Strs:
    """Surnames: villages have a main clan; children take the head's name."""
    villages = geo.villages
    clan = surnames(rng, len(villages.name))
    known = {s for s, _ in nm.SURNAMES}
    for v, name in enumerate(villages.name):
        if len(name) == 4 and name[1] == "家" and name[0] in known:
            clan[v] = name[0]
    clan_share = np.where(villages.is_community, 0.08, 0.45)

    n_households = len(hh.village)
    from_clan = rng.random(n_households) < clan_share[hh.village]
    head = np.where(from_clan, clan[hh.village], surnames(rng, n_households))
    own = surnames(rng, len(household))
    inherits = np.select(
        [role == HEAD, role == CHILD, role == ELDER],
        [True, rng.random(len(household)) < 0.92, rng.random(len(household)) < 0.6],
        False,
    )
    return np.asarray(np.where(inherits, head[household], own))


def _labels(rng: np.random.Generator, age: Floats, community: Bools) -> Ints:
    """Bit mask of `LABELS` an account manager would note for each person."""
    u = rng.random((8, len(age)))
    working = (age >= 18) & (age <= 55)
    migrant = ~community & working & (u[0] < 0.32)
    returns = migrant & (u[1] < 0.65)
    business = (age >= 25) & (age <= 65) & (u[2] < np.where(community, 0.12, 0.06))
    farmer = ~community & ~migrant & (age >= 30) & (age <= 75) & (u[3] < 0.22)
    official = ~migrant & (age >= 23) & (age <= 60)
    official &= u[4] < np.where(community, 0.06, 0.02)
    elderly = age >= 60
    student = ((age >= 6) & (age < 18)) | ((age >= 18) & (age < 23) & (u[6] < 0.5))
    newcomer = community & (age >= 20) & (age <= 45) & (u[7] < 0.12)
    flags = [migrant, returns, business, farmer, official, elderly, student, newcomer]
    return _bits(flags)


def _bits(flags: Sequence[Bools]) -> Ints:
    mask = np.zeros(len(flags[0]), dtype=np.int64)
    for bit, flag in enumerate(flags):
        mask |= flag.astype(np.int64) << bit
    return mask


def _customers(
    rng: np.random.Generator,
    geo: Geography,
    hh: Households,
    household: Ints,
    role: Ints,
    planted: Planted,
) -> Bools:
    """Customers: a quota of households per village, whose members mostly join.

    Blind-spot villages get 2-7% customer households and only the head is a
    customer there, so their penetration stays under 10% at any scale.
    """
    n_villages = len(geo.villages.name)
    rate = np.clip(rng.normal(0.62, 0.08, n_villages), 0.35, 0.8)
    rate[planted.high] = rng.uniform(0.85, 0.95, len(planted.high))
    rate[planted.blind_spot] = rng.uniform(0.02, 0.07, len(planted.blind_spot))

    order = np.lexsort((rng.random(len(hh.village)), hh.village))
    rank = np.empty(len(hh.village), dtype=np.int64)
    rank[order] = rank_in_runs(hh.village[order])
    quota = np.floor(rate * np.bincount(hh.village, minlength=n_villages))
    customer_household = rank < quota[hh.village]

    blind = np.zeros(n_villages, dtype=bool)
    blind[planted.blind_spot] = True
    joins = (rng.random(len(household)) < 0.75) & ~blind[hh.village[household]]
    return np.asarray(customer_household[household] & ((role == HEAD) | joins))


def _products(
    rng: np.random.Generator, age: Floats, labels: Ints, customer: Bools
) -> Ints:
    """Bit mask of `PRODUCTS` held by customers (at least one each)."""
    u = rng.random((6, len(age)))
    adult = age >= 18
    trader = has(labels, LABELS, nm.LABEL_BUSINESS)
    producer = trader | has(labels, LABELS, nm.LABEL_FARMER)
    mobile_share = np.select([age < 50, age < 65], [0.75, 0.45], 0.15)
    flags = [
        u[0] < 0.93,
        (age >= 22) & (age <= 65) & (u[1] < np.where(producer, 0.45, 0.12)),
        adult & (u[2] < mobile_share),
        trader & (u[3] < 0.6),
        adult & (u[4] < 0.3),
        (age >= 22) & (age <= 60) & (u[5] < 0.12),
    ]
    mask = _bits(flags)
    mask[mask == 0] = 1 << PRODUCTS.index("deposit")
    return np.where(customer, mask, 0)


def _balances(
    rng: np.random.Generator,
    village: Ints,
    n_villages: int,
    age: Floats,
    products: Ints,
    planted: Planted,
) -> dict[str, Floats]:
    """Deposits and loans at our bank and at others, in yuan (lognormal).

    In leakage villages most people keep larger deposits at other banks.
    """
    n = len(age)
    leaky_village = np.zeros(n_villages, dtype=bool)
    leaky_village[planted.leakage] = True
    leaky = leaky_village[village]

    own_scale = np.where(age >= 60, 1.5, 1.0) * np.where(leaky, 0.35, 1.0)
    deposit_own = rng.lognormal(np.log(40_000), 1.0, n) * own_scale
    loan_own = rng.lognormal(np.log(180_000), 0.7, n)
    holds_other = (age >= 16) & (rng.random(n) < np.where(leaky, 0.92, 0.5))
    deposit_other = rng.lognormal(np.log(25_000), 1.1, n) * np.where(leaky, 4.0, 1.0)
    owes_other = (age >= 22) & (rng.random(n) < np.where(leaky, 0.2, 0.07))
    loan_other = rng.lognormal(np.log(150_000), 0.8, n)

    return {
        "deposit_own": _yuan(has(products, PRODUCTS, "deposit"), deposit_own),
        "loan_own": _yuan(has(products, PRODUCTS, "loan"), loan_own),
        "deposit_other": _yuan(holds_other, deposit_other),
        "loan_other": _yuan(owes_other, loan_other),
    }


def _yuan(held: Bools, amount: Floats) -> Floats:
    """Amounts rounded to the fen where held, else zero."""
    return np.asarray(np.round(np.where(held, amount, 0.0), 2), dtype=np.float64)


def _lists(mask: Ints, vocabulary: Sequence[str]) -> pd.Series:
    """A column of fresh lists of the words whose bits are set."""
    unique, inverse = np.unique(mask, return_inverse=True)
    words = np.empty(len(unique), dtype=object)
    for k, m in enumerate(unique.tolist()):
        words[k] = [w for b, w in enumerate(vocabulary) if (m >> b) & 1]

    # millions of new lists would set off the cyclic collector again and again
    with _collector_paused():
        return pd.Series(list(map(list.copy, words[inverse])), dtype=object)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (it was on) for a bulk allocation."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
