"""Demonstration data drawn from the configuration: ``generator`` draws plausible records of any entity and the
workflow steps they take; ``bulk`` writes large amounts of them as the record service would, fast."""
