"""The PostgreSQL harness: a server (named by URL or throwaway), scratch databases, cached templates, Supabase emulation."""

from orchestrator.pg.address import ServerAddress
from orchestrator.pg.scratch import (
    SCRATCH_PREFIX,
    TEMPLATE_PREFIX,
    ScratchDatabase,
    drop_templates,
    ensure_template,
    evict_templates,
    owned_databases,
    private_template,
    sweep_stale,
    template_name,
)
from orchestrator.pg.server import PostgresServer, open_server
from orchestrator.pg.supabase import SUPABASE_EMULATION_VERSION, apply_supabase_emulation

__all__ = [
    "SCRATCH_PREFIX",
    "SUPABASE_EMULATION_VERSION",
    "TEMPLATE_PREFIX",
    "PostgresServer",
    "ScratchDatabase",
    "ServerAddress",
    "apply_supabase_emulation",
    "drop_templates",
    "ensure_template",
    "private_template",
    "evict_templates",
    "open_server",
    "owned_databases",
    "sweep_stale",
    "template_name",
]
