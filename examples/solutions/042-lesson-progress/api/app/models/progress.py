"""Lesson progress (feature 042): the objective catalogue and where each student stands on each objective."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from app.models.base import Base
from sqlalchemy.orm import Mapped, mapped_column


class ProficiencyLevel(enum.StrEnum):
    INTRODUCED = "introduced"
    PRACTICED = "practiced"
    PROFICIENT = "proficient"
    CHECKRIDE_READY = "checkride_ready"


proficiency_level = sa.Enum(
    ProficiencyLevel,
    name="proficiency_level",
    values_callable=lambda members: [m.value for m in members],
)


class LessonObjective(Base):
    """A maneuver or ACS task of the syllabus; a public catalogue."""

    __tablename__ = "lesson_objectives"
    __table_args__ = (
        sa.CheckConstraint("certificate IN ('private', 'instrument', 'commercial', 'cfi')", name="certificate_known"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger(), sa.Identity(always=True), primary_key=True)
    code: Mapped[str] = mapped_column(sa.Text(), nullable=False, unique=True)
    title: Mapped[str] = mapped_column(sa.Text(), nullable=False)
    area_of_operation: Mapped[str] = mapped_column(sa.Text(), nullable=False)
    certificate: Mapped[str] = mapped_column(sa.Text(), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.Text())
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


class StudentProgress(Base):
    """One student's level on one objective; read by the student, written by their instructors."""

    __tablename__ = "student_progress"
    __table_args__ = (sa.UniqueConstraint("student_id", "objective_id"),)

    id: Mapped[int] = mapped_column(sa.BigInteger(), sa.Identity(always=True), primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid(), sa.ForeignKey("students.id", ondelete="CASCADE"), nullable=False
    )
    objective_id: Mapped[int] = mapped_column(
        sa.BigInteger(), sa.ForeignKey("lesson_objectives.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    proficiency: Mapped[ProficiencyLevel] = mapped_column(
        proficiency_level, nullable=False, server_default="introduced"
    )
    last_evaluated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )
    evaluated_by: Mapped[uuid.UUID | None] = mapped_column(
        sa.Uuid(), sa.ForeignKey("instructors.id", ondelete="SET NULL"), index=True
    )
    instructor_notes: Mapped[str | None] = mapped_column(sa.Text())  # PII
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )
