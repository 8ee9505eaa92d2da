"""The flight school itself: students, instructors, aircraft and the lessons that tie them together."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class LessonStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


lesson_status = sa.Enum(
    LessonStatus,
    name="lesson_status",
    values_callable=lambda members: [m.value for m in members],
)


class Instructor(Base):
    __tablename__ = "instructors"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid(), primary_key=True, server_default=sa.text("gen_random_uuid()"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid(), sa.ForeignKey("auth.users.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    full_name: Mapped[str] = mapped_column(sa.Text(), nullable=False)
    email: Mapped[str] = mapped_column(sa.Text(), nullable=False)  # PII
    phone: Mapped[str | None] = mapped_column(sa.Text())  # PII
    cfi_certificate_number: Mapped[str] = mapped_column(sa.Text(), nullable=False, unique=True)
    certificate_expires_on: Mapped[date | None] = mapped_column(sa.Date())
    is_cfii: Mapped[bool] = mapped_column(sa.Boolean(), nullable=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


class Student(Base):
    __tablename__ = "students"
    __table_args__ = (
        sa.CheckConstraint(
            "certificate_goal IN ('private', 'instrument', 'commercial', 'cfi')", name="certificate_goal_known"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid(), primary_key=True, server_default=sa.text("gen_random_uuid()"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid(), sa.ForeignKey("auth.users.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    full_name: Mapped[str] = mapped_column(sa.Text(), nullable=False)
    email: Mapped[str] = mapped_column(sa.Text(), nullable=False)  # PII
    phone: Mapped[str | None] = mapped_column(sa.Text())  # PII
    certificate_goal: Mapped[str] = mapped_column(sa.Text(), nullable=False, server_default="private")
    primary_instructor_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.Uuid(), sa.ForeignKey("instructors.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


class Aircraft(Base):
    __tablename__ = "aircraft"
    __table_args__ = (sa.CheckConstraint("hobbs_hours >= 0", name="hobbs_hours_not_negative"),)

    id: Mapped[int] = mapped_column(sa.BigInteger(), sa.Identity(always=True), primary_key=True)
    tail_number: Mapped[str] = mapped_column(sa.Text(), nullable=False, unique=True)
    make: Mapped[str] = mapped_column(sa.Text(), nullable=False)
    model: Mapped[str] = mapped_column(sa.Text(), nullable=False)
    hobbs_hours: Mapped[Decimal] = mapped_column(sa.Numeric(8, 1), nullable=False, server_default="0")
    is_airworthy: Mapped[bool] = mapped_column(sa.Boolean(), nullable=False, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


class Lesson(Base):
    __tablename__ = "lessons"
    __table_args__ = (
        # An instructor teaches one lesson at a time; also the natural key the seeds upsert on.
        sa.UniqueConstraint("instructor_id", "scheduled_at"),
        sa.CheckConstraint("duration_minutes > 0", name="duration_positive"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger(), sa.Identity(always=True), primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid(), sa.ForeignKey("students.id", ondelete="CASCADE"), nullable=False
    )
    instructor_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid(), sa.ForeignKey("instructors.id", ondelete="RESTRICT"), nullable=False
    )
    # Ground lessons use no aircraft.
    aircraft_id: Mapped[int | None] = mapped_column(
        sa.BigInteger(), sa.ForeignKey("aircraft.id", ondelete="RESTRICT"), index=True
    )
    scheduled_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    duration_minutes: Mapped[int] = mapped_column(sa.Integer(), nullable=False)
    status: Mapped[LessonStatus] = mapped_column(lesson_status, nullable=False, server_default="scheduled")
    notes: Mapped[str | None] = mapped_column(sa.Text())
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )
