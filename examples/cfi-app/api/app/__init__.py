"""The CFI app's API package: a flight-training school's students, instructors, aircraft and lessons."""
