"""The app's SQLAlchemy models; `Base.metadata` is what Alembic compares the migrated schema against."""

from app.models.base import Base, auth_users

from app.models.progress import LessonObjective, ProficiencyLevel, StudentProgress
from app.models.school import Aircraft, Instructor, Lesson, LessonStatus, Student

__all__ = [
    "Aircraft",
    "Base",
    "Instructor",
    "Lesson",
    "LessonObjective",
    "LessonStatus",
    "ProficiencyLevel",
    "Student",
    "StudentProgress",
    "auth_users",
]
