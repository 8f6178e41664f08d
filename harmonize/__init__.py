"""From a country's submission (national codes, local currency, local names) to the harmonized tables."""
