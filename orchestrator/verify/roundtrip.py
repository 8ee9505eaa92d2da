"""The up/down/up sequence, written once: upgrade, downgrade, upgrade again, each state fingerprinted and compared.

The live check runs it over the feature as a whole (verify/live.py), the stairway over each revision on its own
(verify/stairway.py). Both follow the same order and stop at the same places; each says what it saw in its own
findings, through the `RoundTripSide` it passes in.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from orchestrator.verify.fingerprint import SchemaDifference, SchemaFingerprint


class Phase(StrEnum):
    UPGRADE = "upgrade"
    FINGERPRINT = "fingerprint"  # the upgraded state, taken and looked at
    DOWNGRADE = "downgrade"
    REUPGRADE = "re-upgrade"


@dataclass
class RoundTrip:
    """What one round trip saw. `failed`: the phase whose commands failed (the trip stopped there)."""

    before: SchemaFingerprint | None = None
    after: SchemaFingerprint | None = None  # after the upgrade
    undone: SchemaFingerprint | None = None  # after the downgrade
    redone: SchemaFingerprint | None = None  # after the upgrade again
    trace: list[SchemaDifference] = field(default_factory=list)  # what the downgrade left: undone against before
    drift: list[SchemaDifference] = field(default_factory=list)  # what the re-upgrade changed: redone against after
    failed: Phase | None = None


class RoundTripSide(Protocol):
    """One caller's side of the trip: how to run a phase and fingerprint, and what to say about each state."""

    def phase(self, phase: Phase) -> contextlib.AbstractContextManager[object]:
        """Wraps each phase (the live check records it as a step of its report)."""
        ...

    def run(self, phase: Phase, trip: RoundTrip) -> bool:
        """Run the phase's commands (UPGRADE, DOWNGRADE or REUPGRADE); report a failure itself and return False."""
        ...

    def fingerprint(self) -> SchemaFingerprint: ...

    def upgraded(self, trip: RoundTrip) -> None:
        """trip.after is taken (inside the FINGERPRINT phase)."""

    def downgraded(self, trip: RoundTrip) -> None:
        """trip.undone and trip.trace are taken (inside the DOWNGRADE phase): report the trace, if any."""

    def reupgraded(self, trip: RoundTrip) -> None:
        """trip.redone and trip.drift are taken (inside the REUPGRADE phase): report the drift, if any."""


def round_trip(side: RoundTripSide, before: SchemaFingerprint | None = None) -> RoundTrip:
    """Upgrade, fingerprint, downgrade and compare with `before`, upgrade again and compare with the upgraded
    state. `before`: the state the upgrade starts from (None: fingerprinted inside the UPGRADE phase)."""
    trip = RoundTrip(before=before)
    with side.phase(Phase.UPGRADE):
        if trip.before is None:
            trip.before = side.fingerprint()
        ok = side.run(Phase.UPGRADE, trip)
    if not ok:
        trip.failed = Phase.UPGRADE
        return trip
    with side.phase(Phase.FINGERPRINT):
        trip.after = side.fingerprint()
        side.upgraded(trip)
    with side.phase(Phase.DOWNGRADE):
        ok = side.run(Phase.DOWNGRADE, trip)
        if ok:
            trip.undone = side.fingerprint()
            trip.trace = trip.undone.diff(trip.before)
            side.downgraded(trip)
    if not ok:
        trip.failed = Phase.DOWNGRADE
        return trip
    with side.phase(Phase.REUPGRADE):
        ok = side.run(Phase.REUPGRADE, trip)
        if ok:
            trip.redone = side.fingerprint()
            trip.drift = trip.redone.diff(trip.after)
            side.reupgraded(trip)
    if not ok:
        trip.failed = Phase.REUPGRADE
    return trip
