"""Tables of the store: geography, the bank's organisation, households and work.

Every geometry is EPSG:4326 (CGCS2000 coincides with it to well under a metre)
and carries a GiST index.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SRID = 4326

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ADMIN_LEVELS = ("county", "town", "village")
ROLES = ("head_office", "branch_head", "account_manager", "planner")
POSTS = ("A", "B")
LIAISON_KINDS = ("village_cadre", "coop_member", "property_manager", "other")
PRODUCTS = ("deposit", "loan", "mobile_banking", "pos", "payment", "credit_card")
TARGET_METRICS = ("deposits", "loans", "mobile_banking", "pos", "payments")
GEOCODE_LEVELS = ("exact", "door", "group", "village", "town", "county")
VISIT_PURPOSES = ("profile", "marketing", "loan_survey", "post_loan_check", "service")
VISIT_OUTCOMES = ("signed", "interested", "follow_up", "not_interested", "not_home")


def _polygon() -> Any:
    return Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True)


def _point() -> Any:
    return Geometry("POINT", srid=SRID, spatial_index=True)


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


def _check_in(column: str, values: tuple[str, ...]) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_allowed")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# -- geography -------------------------------------------------------------------


class AdminUnit(Base):
    """A county, town (镇/乡/街道) or village (村/社区) with its 12-digit code."""

    __tablename__ = "admin_unit"
    __table_args__ = (_check_in("level", ADMIN_LEVELS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10), index=True)
    parent_code: Mapped[str | None] = mapped_column(String(12), index=True)
    kind: Mapped[str | None] = mapped_column(String(20))
    geom: Mapped[Any] = mapped_column(_polygon(), nullable=True)
    # provenance tag of the import that last wrote the row; not a foreign key,
    # whose per-row checks would slow bulk imports several-fold
    batch_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = _now()


class Road(Base):
    """A road segment used for travel distances."""

    __tablename__ = "road"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="local")
    speed_kph: Mapped[float] = mapped_column(Numeric(5, 1), default=30)
    geom: Mapped[Any] = mapped_column(
        Geometry("LINESTRING", srid=SRID, spatial_index=True)
    )


# -- organisation ----------------------------------------------------------------


class Branch(Base):
    """A branch (支行) of the bank; its jurisdiction is its first-level grid."""

    __tablename__ = "branch"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(String(200))
    geom: Mapped[Any] = mapped_column(_point(), nullable=True)


class Grid(Base):
    """A grid: level 1 is a branch jurisdiction, level 2 one manager's area."""

    __tablename__ = "grid"
    __table_args__ = (
        CheckConstraint("level IN (1, 2)", name="level_allowed"),
        CheckConstraint(
            "(level = 1 AND parent_id IS NULL) "
            "OR (level = 2 AND parent_id IS NOT NULL)",
            name="parent_matches_level",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[int] = mapped_column(SmallInteger)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    geom: Mapped[Any] = mapped_column(_polygon())
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = _now()
    updated_by: Mapped[str | None] = mapped_column(String(50))

    branch: Mapped[Branch] = relationship()
    posts: Mapped[list[GridPost]] = relationship(back_populates="grid")


class GridVersion(Base):
    """A previous (or the first) shape of a grid: who changed it, when and why."""

    __tablename__ = "grid_version"
    __table_args__ = (UniqueConstraint("grid_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    geom: Mapped[Any] = mapped_column(_polygon())
    operation: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str | None] = mapped_column(String(50))
    changed_at: Mapped[dt.datetime] = _now()
    changeset: Mapped[str | None] = mapped_column(String(36), index=True)


class GridVillage(Base):
    """Which grid a whole village belongs to (generation and village moves)."""

    __tablename__ = "grid_village"

    village_code: Mapped[str] = mapped_column(
        ForeignKey("admin_unit.code"), primary_key=True
    )
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)


class Staff(Base):
    """A user of geogrid: head office, branch head, account manager or planner."""

    __tablename__ = "staff"
    __table_args__ = (_check_in("role", ROLES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(20))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    phone: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class GridPost(Base):
    """An A or B post: an account manager who administers a grid."""

    __tablename__ = "grid_post"
    __table_args__ = (
        UniqueConstraint("grid_id", "post"),
        _check_in("post", POSTS),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    post: Mapped[str] = mapped_column(String(1))

    grid: Mapped[Grid] = relationship(back_populates="posts")
    staff: Mapped[Staff] = relationship()


class LiaisonOfficer(Base):
    """A liaison officer (not bank staff) attached to a grid."""

    __tablename__ = "liaison_officer"
    __table_args__ = (_check_in("kind", LIAISON_KINDS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(
        ForeignKey("grid.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(20))
    phone: Mapped[str | None] = mapped_column(String(20))
    village_code: Mapped[str | None] = mapped_column(String(12))
    note: Mapped[str | None] = mapped_column(Text)


class GridTarget(Base):
    """A yearly target of a grid for one metric."""

    __tablename__ = "grid_target"
    __table_args__ = (
        UniqueConstraint("grid_id", "year", "metric"),
        _check_in("metric", TARGET_METRICS),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(SmallInteger)
    metric: Mapped[str] = mapped_column(String(20))
    target: Mapped[Decimal] = mapped_column(Numeric(18, 2))


# -- households and people ------------------------------------------------------


def _count() -> Any:
    return mapped_column(SmallInteger, server_default="0")


class Household(Base):
    """A household, customer or not, with its location and geocoding precision."""

    __tablename__ = "household"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    household_no: Mapped[str] = mapped_column(String(40), unique=True)
    address: Mapped[str | None] = mapped_column(String(200))
    village_code: Mapped[str | None] = mapped_column(String(12), index=True)
    geom: Mapped[Any] = mapped_column(_point(), nullable=True)
    geocode_level: Mapped[str | None] = mapped_column(String(10))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    time_window: Mapped[str | None] = mapped_column(String(20))
    # provenance tag of the import that last wrote the row; not a foreign key,
    # whose per-row checks would slow bulk imports several-fold
    batch_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = _now()
    # figures of the household's people, kept by geogrid.store.summary
    members: Mapped[int] = _count()
    customers: Mapped[int] = _count()
    potential_members: Mapped[int] = _count()
    customers_without_mobile_banking: Mapped[int] = _count()
    customers_without_pos: Mapped[int] = _count()
    customers_without_payment: Mapped[int] = _count()
    deposit_other_total: Mapped[Decimal] = mapped_column(
        Numeric(18, 2), server_default="0"
    )


class Person(Base):
    """A member of a household: an existing or a potential customer."""

    __tablename__ = "person"
    __table_args__ = (
        CheckConstraint("status IN ('customer', 'potential')", name="status_allowed"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # not a foreign key: its per-row check (a row lock on the household) made
    # bulk imports three times slower; store checks find orphans instead
    household_id: Mapped[int] = mapped_column(BigInteger, index=True)
    name: Mapped[str] = mapped_column(String(50))
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    phone: Mapped[str | None] = mapped_column(String(11))
    gender: Mapped[str | None] = mapped_column(String(1))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="potential")
    products: Mapped[list[str]] = mapped_column(ARRAY(String(20)), default=list)
    labels: Mapped[list[str]] = mapped_column(ARRAY(String(30)), default=list)
    deposit_own: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)
    loan_own: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)
    deposit_other: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)
    loan_other: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)
    # provenance tag of the import that last wrote the row; not a foreign key,
    # whose per-row checks would slow bulk imports several-fold
    batch_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = _now()


class Visit(Base):
    """A visit: where and when, by whom, to whom, with the outcome."""

    __tablename__ = "visit"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("household.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    visited_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    geom: Mapped[Any] = mapped_column(_point(), nullable=True)
    purpose: Mapped[str | None] = mapped_column(String(50))
    outcome: Mapped[str | None] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(Text)
    # recorded in the viewer: the device's accuracy (metres) and when it was sent
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    recorded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Task(Base):
    """A piece of work for an account manager in a grid."""

    __tablename__ = "task"

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"))
    title: Mapped[str] = mapped_column(String(200))
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[dt.datetime] = _now()


# -- geocoding ----------------------------------------------------------------------


class GazetteerPlace(Base):
    """A named place below the village: a group (组), street, door plate or POI."""

    __tablename__ = "gazetteer_place"
    __table_args__ = (
        _check_in("kind", ("group", "street", "door", "poi")),
        UniqueConstraint("kind", "parent_code", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(100))
    parent_code: Mapped[str] = mapped_column(String(12), index=True)
    geom: Mapped[Any] = mapped_column(_point())


class GeocodeCorrection(Base):
    """A user's manual geocoding answer; it wins over the automatic result."""

    __tablename__ = "geocode_correction"

    id: Mapped[int] = mapped_column(primary_key=True)
    address_key: Mapped[str] = mapped_column(String(200), unique=True)
    geom: Mapped[Any] = mapped_column(_point())
    level: Mapped[str] = mapped_column(String(10))
    village_code: Mapped[str | None] = mapped_column(String(12))
    created_by: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[dt.datetime] = _now()


# -- imports and audit -----------------------------------------------------------


class ImportBatch(Base):
    """One import of one file: how many rows were stored and rejected."""

    __tablename__ = "import_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    crs: Mapped[str | None] = mapped_column(String(30))
    actor: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default="running")
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_stored: Mapped[int] = mapped_column(Integer, default=0)
    rows_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    repaired: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = _now()
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ImportReject(Base):
    """An input row that was not stored, with the rule it broke."""

    __tablename__ = "import_reject"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("import_batch.id", ondelete="CASCADE"), index=True
    )
    row_number: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)


class AuditLog(Base):
    """Who did what, when: grid edits, exports, logins."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = _now()
    actor: Mapped[str | None] = mapped_column(String(50))
    action: Mapped[str] = mapped_column(String(50))
    object_type: Mapped[str | None] = mapped_column(String(30))
    object_id: Mapped[str | None] = mapped_column(String(50))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
