"""Reports for people: the daily newsletter, backtest reports, and number formatting."""
