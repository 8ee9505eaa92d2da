"""Static checks: the rule catalogue run over revision files, policy SQL and seeds, on parsed trees."""
