"""The declarative base, its naming convention, and Supabase's auth.users (declared only to resolve foreign keys)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

# Constraint names are spelled out in the migrations too; the convention keeps models and migrations in step.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


# Supabase owns auth.users; the app never migrates it (env.py excludes the auth schema from autogenerate).
auth_users = sa.Table(
    "users",
    Base.metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("email", sa.Text()),
    schema="auth",
)
