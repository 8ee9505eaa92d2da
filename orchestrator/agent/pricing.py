"""What a turn costs: a price table per model (US dollars per million tokens), shipped as data, overridable."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.agent.protocols import Usage
from orchestrator.errors import InputError

_SHIPPED = Path(__file__).with_name("prices.toml")
_KEYS = ("input", "output", "cache_write", "cache_read")


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_write: float
    cache_read: float


class PriceTable:
    """Prices by model id; an id not listed takes its family's (sonnet, opus, haiku) price, else none (0)."""

    def __init__(self, prices: dict[str, Price]) -> None:
        self.prices = prices

    @classmethod
    def load(cls, overrides: dict[str, Any] | None = None, source: str = "[tool.delegate.prices]") -> PriceTable:
        table: dict[str, Any] = tomllib.loads(_SHIPPED.read_text(encoding="utf-8"))["models"]
        for model, value in (overrides or {}).items():
            if not isinstance(value, dict) or not set(value) <= set(_KEYS):
                raise InputError(
                    f"{source}: {model!r} must be a table of {', '.join(_KEYS)} (dollars per million tokens)",
                    'for example prices."claude-sonnet-5-5" = { input = 3.0, output = 15.0 }',
                )
            table[model] = {**table.get(model, table.get(family(model) or "", {})), **value}
        prices: dict[str, Price] = {}
        for model, value in table.items():
            try:
                prices[model] = Price(**{k: float(value.get(k, 0.0)) for k in _KEYS})
            except (TypeError, ValueError):
                raise InputError(f"{source}: the prices of {model!r} must be numbers") from None
        return cls(prices)

    def price(self, model: str) -> Price | None:
        return self.prices.get(model) or self.prices.get(family(model) or "")

    def cost(self, model: str, usage: Usage) -> float:
        price = self.price(model)
        if price is None:
            return 0.0
        return (
            usage.input_tokens * price.input
            + usage.output_tokens * price.output
            + usage.cache_creation_input_tokens * price.cache_write
            + usage.cache_read_input_tokens * price.cache_read
        ) / 1_000_000


def family(model: str) -> str | None:
    for name in ("sonnet", "opus", "haiku"):
        if name in model:
            return name
    return None
