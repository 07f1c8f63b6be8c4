"""The pure core: events, money, periods, the fold into facts, territories, quotas,
attainment, leaderboards, KPIs and simulation. No I/O, no clock, no randomness."""
